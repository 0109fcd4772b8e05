//! Keys: each bound to one algorithm and found by its `kid`.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{Map, Value, json};

use crate::error::Error;

/// What a verifying key checks signatures with.
#[derive(Clone)]
pub(crate) enum Verifier {
    /// Through jsonwebtoken's crypto provider.
    Jwt(DecodingKey, Algorithm),
    /// ES512 (P-521), which jsonwebtoken does not implement: aws-lc-rs directly, with the
    /// uncompressed point `04 || x || y`.
    P521(Vec<u8>),
}

/// A public (or, for HMAC, shared) key that verifies signatures of exactly one algorithm.
///
/// Built from a JWK with [`VerifyingKey::from_jwk`]: the JWK must name its algorithm (`alg`, RFC
/// 8725 §3.1), must not be restricted to encryption (`use` other than `sig`, or `key_ops`
/// without `verify`), and its key type and curve must fit the algorithm.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(crate) kid: Option<String>,
    /// The registered `alg` name this key verifies, compared exactly with the header's.
    pub(crate) alg: &'static str,
    pub(crate) verifier: Verifier,
    /// The public JWK, for JWKS documents; `None` for shared (HMAC) keys.
    pub(crate) public_jwk: Option<Value>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn text<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, Error> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Config(format!("JWK member {name:?} is missing")))
}

fn b64(value: &str) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|e| Error::Config(format!("JWK member is not base64url: {e}")))
}

impl VerifyingKey {
    /// A key from a JSON Web Key (RFC 7517).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `alg` is missing or unsupported, the key is meant for encryption,
    /// or the key material does not fit the algorithm.
    pub fn from_jwk(jwk: &Value) -> Result<Self, Error> {
        let jwk = jwk
            .as_object()
            .ok_or_else(|| Error::Config("a JWK must be a JSON object".into()))?;
        check_usage(jwk)?;
        let alg_name = text(jwk, "alg")?;
        let kty = text(jwk, "kty")?;
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        // RFC 7520 writes the P-521 key's algorithm as "ES521"; the registered name is ES512.
        if matches!(alg_name, "ES512" | "ES521") {
            return p521(jwk, kid);
        }
        let alg: Algorithm = alg_name
            .parse()
            .map_err(|_| Error::Config(format!("unsupported JWK algorithm {alg_name:?}")))?;
        let (decoding, public) = decoding_key(jwk, alg, alg_name, kty)?;
        Ok(Self {
            kid,
            alg: alg_str(alg),
            verifier: Verifier::Jwt(decoding, alg),
            public_jwk: public,
        })
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header `alg` this key verifies.
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// Whether `signature` over `message` is valid under this key.
    pub(crate) fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        match &self.verifier {
            Verifier::Jwt(key, alg) => {
                jsonwebtoken::crypto::verify(signature_b64, message, key, *alg).unwrap_or(false)
            }
            Verifier::P521(point) => {
                let Ok(signature) =
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature_b64)
                else {
                    return false;
                };
                aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED,
                    point,
                )
                .verify(message, &signature)
                .is_ok()
            }
        }
    }
}

/// Refuses keys restricted to encryption (`use` other than `sig`, `key_ops` without `verify`).
fn check_usage(jwk: &Map<String, Value>) -> Result<(), Error> {
    if let Some(usage) = jwk.get("use")
        && usage != "sig"
    {
        return Err(Error::Config(format!("JWK use {usage} is not \"sig\"")));
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !verify {
            return Err(Error::Config(
                "JWK key_ops does not allow \"verify\"".into(),
            ));
        }
    }
    Ok(())
}

/// An ES512 key (P-521), verified with aws-lc-rs.
fn p521(jwk: &Map<String, Value>, kid: Option<String>) -> Result<VerifyingKey, Error> {
    if text(jwk, "kty")? != "EC" || text(jwk, "crv")? != "P-521" {
        return Err(Error::Config("ES512 needs an EC key on P-521".into()));
    }
    let (x, y) = (b64(text(jwk, "x")?)?, b64(text(jwk, "y")?)?);
    if x.len() != 66 || y.len() != 66 {
        return Err(Error::Config("P-521 coordinates must be 66 bytes".into()));
    }
    let mut point = vec![0x04];
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(VerifyingKey {
        kid,
        alg: "ES512",
        verifier: Verifier::P521(point),
        public_jwk: Some(public_members(jwk, "ES512")),
    })
}

/// The jsonwebtoken key for a JWK whose type and curve fit `alg`, with its public members.
fn decoding_key(
    jwk: &Map<String, Value>,
    alg: Algorithm,
    alg_name: &str,
    kty: &str,
) -> Result<(DecodingKey, Option<Value>), Error> {
    Ok(match (alg, kty) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, "oct") => {
            let secret = b64(text(jwk, "k")?)?;
            // RFC 7518 §3.2: a key at least as long as the hash output.
            let min = match alg {
                Algorithm::HS384 => 48,
                Algorithm::HS512 => 64,
                _ => 32,
            };
            if secret.len() < min {
                return Err(Error::Config(format!(
                    "{alg_name} keys must have at least {} bits",
                    min * 8
                )));
            }
            (DecodingKey::from_secret(&secret), None)
        }
        (
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
            "RSA",
        ) => {
            let modulus = b64(text(jwk, "n")?)?;
            if modulus.len() < 256 {
                return Err(Error::Config(
                    "RSA keys must have at least 2048 bits".into(),
                ));
            }
            if has_roca_fingerprint(&modulus) {
                return Err(Error::Config(
                    "RSA key has the ROCA fingerprint (CVE-2017-15361): its private key can \
                         be computed; replace it"
                        .into(),
                ));
            }
            (
                DecodingKey::from_rsa_components(text(jwk, "n")?, text(jwk, "e")?)
                    .map_err(|e| Error::Config(e.to_string()))?,
                Some(public_members(jwk, alg_name)),
            )
        }
        (Algorithm::ES256 | Algorithm::ES384, "EC") => {
            let expected = if alg == Algorithm::ES256 {
                "P-256"
            } else {
                "P-384"
            };
            if text(jwk, "crv")? != expected {
                return Err(Error::Config(format!("{alg_name} needs curve {expected}")));
            }
            (
                DecodingKey::from_ec_components(text(jwk, "x")?, text(jwk, "y")?)
                    .map_err(|e| Error::Config(e.to_string()))?,
                Some(public_members(jwk, alg_name)),
            )
        }
        (Algorithm::EdDSA, "OKP") => {
            if text(jwk, "crv")? != "Ed25519" {
                return Err(Error::Config("EdDSA keys must be Ed25519".into()));
            }
            (
                DecodingKey::from_ed_components(text(jwk, "x")?)
                    .map_err(|e| Error::Config(e.to_string()))?,
                Some(public_members(jwk, alg_name)),
            )
        }
        _ => {
            return Err(Error::Config(format!(
                "JWK key type {kty:?} does not fit algorithm {alg_name}"
            )));
        }
    })
}

/// Whether an RSA modulus has the fingerprint of keys from the flawed Infineon generator (ROCA,
/// CVE-2017-15361): their primes have the form `k·M + (65537^a mod M)`, so for each small prime
/// `p` dividing `M`, `N mod p` lies in the subgroup generated by 65537 modulo `p`. A random
/// modulus passes all these tests with negligible probability. (The test of Nemec et al.; no
/// crate offers it, and it is a few lines.)
fn has_roca_fingerprint(modulus: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = modulus
            .iter()
            .fold(0u32, |acc, &byte| (acc * 256 + u32::from(byte)) % p);
        let generator = 65_537 % p;
        let mut power = 1u32;
        for _ in 0..p {
            if power == residue {
                return true;
            }
            power = power * generator % p;
        }
        false
    })
}

/// The registered name of an algorithm.
pub(crate) fn alg_str(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        // A future jsonwebtoken algorithm: refused by `VerifyingKey::from_jwk`.
        _ => "unsupported",
    }
}

/// The public members of a JWK (never `d`, `p`, `q`, `dp`, `dq`, `qi`, `k`), with `alg` and
/// `use` set, for a JWKS document.
fn public_members(jwk: &Map<String, Value>, alg: &str) -> Value {
    let mut public = Map::new();
    for name in ["kty", "kid", "crv", "x", "y", "n", "e"] {
        if let Some(v) = jwk.get(name) {
            public.insert(name.to_owned(), v.clone());
        }
    }
    public.insert("alg".into(), json!(alg));
    public.insert("use".into(), json!("sig"));
    Value::Object(public)
}

/// How a signing key signs.
#[derive(Clone)]
pub(crate) enum Signer {
    /// Through jsonwebtoken (EdDSA, HMAC).
    Jwt(EncodingKey, Algorithm),
    /// ES256 through aws-lc-rs (fixed-size `r || s`, the JWS encoding).
    Es256(std::sync::Arc<aws_lc_rs::signature::EcdsaKeyPair>),
    /// RS256 through aws-lc-rs (PKCS#8 keys, whatever their origin).
    Rs256(std::sync::Arc<aws_lc_rs::rsa::KeyPair>),
}

/// The key that signs new tokens, with its public half.
#[derive(Clone)]
pub struct SigningKey {
    pub(crate) kid: String,
    pub(crate) alg: &'static str,
    pub(crate) signer: Signer,
    pub(crate) public: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh Ed25519 key (the default algorithm, `EdDSA`).
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if the system random source fails.
    pub fn generate_ed25519(kid: impl Into<String>) -> Result<Self, Error> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| Error::Internal("Ed25519 key generation failed".into()))?;
        Self::ed25519_from_pkcs8(kid, pkcs8.as_ref())
    }

    /// An Ed25519 key from its PKCS#8 DER encoding.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the bytes are not an Ed25519 PKCS#8 key.
    pub fn ed25519_from_pkcs8(kid: impl Into<String>, pkcs8_der: &[u8]) -> Result<Self, Error> {
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(pkcs8_der)
            .map_err(|e| Error::Config(format!("not an Ed25519 PKCS#8 key: {e}")))?;
        let kid = kid.into();
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let public = VerifyingKey::from_jwk(&json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "kid": kid, "use": "sig"
        }))?;
        Ok(Self {
            kid,
            alg: "EdDSA",
            signer: Signer::Jwt(EncodingKey::from_ed_der(pkcs8_der), Algorithm::EdDSA),
            public,
        })
    }

    /// A fresh ES256 key (ECDSA on P-256).
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if the system random source fails.
    pub fn generate_es256(kid: impl Into<String>) -> Result<Self, Error> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .map_err(|_| Error::Internal("ES256 key generation failed".into()))?;
        Self::es256_from_pkcs8(kid, pkcs8.as_ref())
    }

    /// An ES256 key from its PKCS#8 DER encoding.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the bytes are not a P-256 PKCS#8 key.
    pub fn es256_from_pkcs8(kid: impl Into<String>, pkcs8_der: &[u8]) -> Result<Self, Error> {
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8_der,
        )
        .map_err(|e| Error::Config(format!("not a P-256 PKCS#8 key: {e}")))?;
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return Err(Error::Config("unexpected P-256 public key encoding".into()));
        }
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let kid = kid.into();
        let public = VerifyingKey::from_jwk(&json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": kid, "use": "sig",
            "x": engine.encode(&point[1..33]), "y": engine.encode(&point[33..]),
        }))?;
        Ok(Self {
            kid,
            alg: "ES256",
            signer: Signer::Es256(std::sync::Arc::new(pair)),
            public,
        })
    }

    /// A fresh RS256 key (RSA, 2048 bits).
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if key generation fails.
    pub fn generate_rs256(kid: impl Into<String>) -> Result<Self, Error> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| Error::Internal("RS256 key generation failed".into()))?;
        Self::rs256(kid.into(), pair)
    }

    /// An RS256 key from its PKCS#8 DER encoding (at least 2048 bits).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the bytes are not an RSA PKCS#8 key or the key is too short.
    pub fn rs256_from_pkcs8(kid: impl Into<String>, pkcs8_der: &[u8]) -> Result<Self, Error> {
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8_der)
            .map_err(|e| Error::Config(format!("not an RSA PKCS#8 key: {e}")))?;
        Self::rs256(kid.into(), pair)
    }

    fn rs256(kid: String, pair: aws_lc_rs::rsa::KeyPair) -> Result<Self, Error> {
        use aws_lc_rs::signature::KeyPair as _;
        let components: aws_lc_rs::rsa::PublicKeyComponents<Vec<u8>> = pair.public_key().into();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let public = VerifyingKey::from_jwk(&json!({
            "kty": "RSA", "alg": "RS256", "kid": kid, "use": "sig",
            "n": engine.encode(&components.n), "e": engine.encode(&components.e),
        }))?;
        Ok(Self {
            kid,
            alg: "RS256",
            signer: Signer::Rs256(std::sync::Arc::new(pair)),
            public,
        })
    }

    /// A private key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`), the format
    /// `openssl genpkey -algorithm ed25519` writes; the algorithm follows from the key: Ed25519
    /// (EdDSA), P-256 (ES256) or RSA (RS256).
    ///
    /// ```
    /// use mortar_auth::token::SigningKey;
    ///
    /// // openssl genpkey -algorithm ed25519
    /// let pem = "-----BEGIN PRIVATE KEY-----
    /// MC4CAQAwBQYDK2VwBCIEIEEG4+t7pEIYNIzt3Jgl9S9wE1oe0UEACPu8zmSaBPYT
    /// -----END PRIVATE KEY-----";
    /// let key = SigningKey::from_pkcs8_pem("2026-11", pem).unwrap();
    /// assert_eq!((key.kid(), key.alg()), ("2026-11", "EdDSA"));
    /// assert!(SigningKey::from_pkcs8_pem("k", "not a key").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the text is not a PKCS#8 PEM private key of one of these kinds
    /// (the message never includes key material).
    pub fn from_pkcs8_pem(kid: impl Into<String>, pem: &str) -> Result<Self, Error> {
        let doc = pem::parse(pem.trim()).map_err(|_| Error::Config("not a PEM document".into()))?;
        if doc.tag() != "PRIVATE KEY" {
            return Err(Error::Config(format!(
                "expected a PKCS#8 \"PRIVATE KEY\", found \"{}\"",
                doc.tag()
            )));
        }
        let der = doc.contents();
        let kid = kid.into();
        Self::ed25519_from_pkcs8(kid.clone(), der)
            .or_else(|_| Self::es256_from_pkcs8(kid.clone(), der))
            .or_else(|_| Self::rs256_from_pkcs8(kid, der))
            .map_err(|_| Error::Config("the PKCS#8 key is not an Ed25519, P-256 or RSA key".into()))
    }

    /// An HMAC key (HS256/384/512) shared between issuer and verifier; at least 256 bits.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the secret is shorter than 32 bytes or `alg` is not HMAC.
    pub fn hmac(kid: impl Into<String>, alg: Algorithm, secret: &[u8]) -> Result<Self, Error> {
        let kid = kid.into();
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let public = VerifyingKey::from_jwk(&json!({
            "kty": "oct", "k": k, "alg": alg_str(alg), "kid": kid
        }))?;
        Ok(Self {
            kid,
            alg: alg_str(alg),
            signer: Signer::Jwt(EncodingKey::from_secret(secret), alg),
            public,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS algorithm (`"EdDSA"`, `"ES256"`, `"RS256"`, `"HS256"`…).
    pub fn alg(&self) -> &'static str {
        self.alg
    }
}

/// The keys a service signs and verifies with: one signing key and any number of verifying keys
/// (for rotation), looked up only by `kid`.
///
/// ```
/// use mortar_auth::token::{KeyRing, SigningKey};
///
/// let ring = KeyRing::new(SigningKey::generate_ed25519("2025-11").unwrap());
/// let jwks = ring.jwks();
/// assert_eq!(jwks["keys"][0]["kid"], "2025-11");
/// assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
/// assert!(jwks["keys"][0].get("d").is_none(), "never the private key");
/// ```
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    pub(crate) signing: Option<SigningKey>,
    pub(crate) verifying: HashMap<String, VerifyingKey>,
    /// A key without `kid`, allowed only when it is the ring's only key.
    pub(crate) anonymous: Option<VerifyingKey>,
}

impl KeyRing {
    /// A ring that signs with `key` (and verifies its signatures).
    pub fn new(key: SigningKey) -> Self {
        let mut ring = Self::default();
        ring.verifying.insert(key.kid.clone(), key.public.clone());
        ring.signing = Some(key);
        ring
    }

    /// A ring that only verifies (a service that accepts tokens another one issues).
    pub fn verify_only() -> Self {
        Self::default()
    }

    /// Adds a verifying key (e.g. the previous signing key during rotation).
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when a key with the same `kid` is already present (a duplicate `kid`
    /// would make verification ambiguous), or a second key without `kid` is added;
    /// [`Error::Config`] when shared (HMAC) and public keys would be mixed.
    pub fn add(&mut self, key: VerifyingKey) -> Result<(), Error> {
        // A ring mixing shared secrets with public keys invites key confusion (RFC 8725 §2.1).
        let shared = key.public_jwk.is_none();
        if self
            .verifying
            .values()
            .chain(self.anonymous.as_ref())
            .any(|k| k.public_jwk.is_none() != shared)
        {
            return Err(Error::Config(
                "a key ring holds either shared (HMAC) keys or public keys, not both".into(),
            ));
        }
        match &key.kid {
            Some(kid) if self.verifying.contains_key(kid) => Err(Error::Conflict("kid")),
            Some(kid) => {
                self.verifying.insert(kid.clone(), key);
                Ok(())
            }
            None if self.anonymous.is_some() => Err(Error::Conflict("kid")),
            None => {
                self.anonymous = Some(key);
                Ok(())
            }
        }
    }

    /// Signs `payload` as a compact JWS with header `{"alg", "kid", "typ"}`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the ring has no signing key; [`Error::Internal`] when signing
    /// fails.
    pub fn sign(&self, typ: &str, payload: &[u8]) -> Result<String, Error> {
        let key = self
            .signing
            .as_ref()
            .ok_or_else(|| Error::Config("this key ring has no signing key".into()))?;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = json!({ "alg": key.alg, "kid": key.kid, "typ": typ });
        let mut token = engine.encode(header.to_string());
        token.push('.');
        token.push_str(&engine.encode(payload));
        let signature = match &key.signer {
            Signer::Jwt(encoding, alg) => {
                jsonwebtoken::crypto::sign(token.as_bytes(), encoding, *alg)
                    .map_err(Error::internal)?
            }
            Signer::Es256(pair) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let signature = pair
                    .sign(&rng, token.as_bytes())
                    .map_err(|_| Error::Internal("ES256 signing failed".into()))?;
                engine.encode(signature.as_ref())
            }
            Signer::Rs256(pair) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    token.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| Error::Internal("RS256 signing failed".into()))?;
                engine.encode(signature)
            }
        };
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }

    /// The key for a token's `kid` (or, without one, the ring's only key).
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&VerifyingKey> {
        match kid {
            Some(kid) => self.verifying.get(kid),
            None if self.verifying.is_empty() => self.anonymous.as_ref(),
            None if self.verifying.len() == 1 && self.anonymous.is_none() => {
                self.verifying.values().next()
            }
            None => None,
        }
    }

    /// The JWKS document (RFC 7517 §5) of the public keys; shared HMAC keys are never listed.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .verifying
            .values()
            .chain(self.anonymous.as_ref())
            .filter_map(|k| k.public_jwk.clone())
            .collect();
        json!({ "keys": keys })
    }
}
