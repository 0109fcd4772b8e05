//! Stored password hash formats: what we write (Argon2id PHC strings) and what we accept from
//! other systems (bcrypt, scrypt and PBKDF2 in PHC or MCF form, and Django's formats).
//!
//! Parsing and verifying are done by the `RustCrypto` crates; this module only recognises the
//! format and, for Django's `pbkdf2_*` strings (which are not PHC), recomputes PBKDF2 itself with
//! the `pbkdf2` crate and compares in constant time.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use password_hash::PasswordVerifier as _;
use password_hash::phc::PasswordHash;
use subtle::ConstantTimeEq as _;

use super::Peppers;

/// A stored hash, recognised.
#[derive(Debug)]
pub(crate) enum Stored<'a> {
    /// A PHC string of Argon2 (`argon2id`, `argon2i`, `argon2d`).
    Argon2(PasswordHash),
    /// A PHC string of scrypt.
    Scrypt(PasswordHash),
    /// A PHC string of PBKDF2 (`pbkdf2`, `pbkdf2-sha256`, `pbkdf2-sha512`).
    Pbkdf2(PasswordHash),
    /// bcrypt in modular crypt format (`$2a$`, `$2b$`, `$2x$`, `$2y$`).
    Bcrypt(&'a str),
    /// Django's `bcrypt_sha256$<bcrypt>`: bcrypt over the hex SHA-256 of the password.
    DjangoBcryptSha256(&'a str),
    /// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (and `pbkdf2_sha1`).
    DjangoPbkdf2 {
        sha1: bool,
        iterations: u32,
        salt: &'a str,
        hash: Vec<u8>,
    },
}

impl<'a> Stored<'a> {
    /// Recognises a stored hash; `None` when the format is unknown or malformed.
    pub(crate) fn parse(stored: &'a str) -> Option<Self> {
        if let Some(rest) = stored.strip_prefix("bcrypt_sha256$") {
            return Some(Self::DjangoBcryptSha256(rest));
        }
        // Django stores bcrypt as `bcrypt$<bcrypt hash>` and Argon2 as `argon2<PHC string>`.
        let stored = stored.strip_prefix("bcrypt$").unwrap_or(stored);
        let stored = stored
            .strip_prefix("argon2$argon2")
            .map_or(stored, |_| &stored[6..]);
        for prefix in ["$2a$", "$2b$", "$2x$", "$2y$"] {
            if stored.starts_with(prefix) {
                return Some(Self::Bcrypt(stored));
            }
        }
        for (prefix, sha1) in [("pbkdf2_sha256$", false), ("pbkdf2_sha1$", true)] {
            if let Some(rest) = stored.strip_prefix(prefix) {
                let mut parts = rest.splitn(3, '$');
                let iterations = parts.next()?.parse().ok()?;
                let salt = parts.next()?;
                let hash = base64::engine::general_purpose::STANDARD
                    .decode(parts.next()?)
                    .ok()?;
                return Some(Self::DjangoPbkdf2 {
                    sha1,
                    iterations,
                    salt,
                    hash,
                });
            }
        }
        let mut phc = PasswordHash::new(stored).ok()?;
        match phc.algorithm.as_str() {
            "argon2id" | "argon2i" | "argon2d" => {
                // The reference implementation writes no `v=` for version 0x10 (its encoder
                // omits it), but the argon2 crate reads a missing version as its default, 0x13,
                // and such hashes would never verify. A missing version means 0x10.
                if phc.version.is_none() {
                    phc.version = Some(0x10);
                }
                Some(Self::Argon2(phc))
            }
            "scrypt" => Some(Self::Scrypt(phc)),
            "pbkdf2" | "pbkdf2-sha256" | "pbkdf2-sha512" => Some(Self::Pbkdf2(phc)),
            _ => None,
        }
    }

    /// Whether `password` matches. Never panics; a hash whose parameters the library rejects
    /// (e.g. an impossible cost) does not match.
    pub(crate) fn verify(&self, password: &[u8], peppers: &Peppers) -> bool {
        match self {
            Self::Argon2(phc) => {
                let key_id = phc.params.get_str("keyid");
                let secret = match key_id {
                    // Our own hashes name their pepper; an unknown id cannot verify.
                    Some(id) => match peppers.get(id) {
                        Some(secret) => Some(secret),
                        None => return false,
                    },
                    None => None,
                };
                let argon = match secret {
                    Some(secret) => {
                        match Argon2::new_with_secret(
                            secret,
                            Algorithm::Argon2id,
                            Version::V0x13,
                            Params::default(),
                        ) {
                            Ok(argon) => argon,
                            Err(_) => return false,
                        }
                    }
                    None => Argon2::default(),
                };
                argon.verify_password(password, phc).is_ok()
            }
            Self::Scrypt(phc) => scrypt::Scrypt::new().verify_password(password, phc).is_ok(),
            Self::Pbkdf2(phc) => pbkdf2::Pbkdf2::default()
                .verify_password(password, phc)
                .is_ok(),
            Self::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Self::DjangoBcryptSha256(hash) => {
                let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(password));
                bcrypt::verify(digest, hash).unwrap_or(false)
            }
            Self::DjangoPbkdf2 {
                sha1,
                iterations,
                salt,
                hash,
            } => {
                if hash.is_empty() || *iterations == 0 {
                    return false;
                }
                let mut computed = vec![0u8; hash.len()];
                if *sha1 {
                    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
                        password,
                        salt.as_bytes(),
                        *iterations,
                        &mut computed,
                    );
                } else {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                        password,
                        salt.as_bytes(),
                        *iterations,
                        &mut computed,
                    );
                }
                computed.ct_eq(hash).into()
            }
        }
    }

    /// Whether this is an Argon2id hash with at least the given parameters and, when a pepper is
    /// configured, made with the current one: nothing to upgrade.
    pub(crate) fn is_current(&self, params: &Params, current_key: Option<&str>) -> bool {
        let Self::Argon2(phc) = self else {
            return false;
        };
        let decimal = |name: &str| phc.params.get_decimal(name).unwrap_or(0);
        phc.algorithm.as_str() == "argon2id"
            && phc.version == Some(0x13)
            && decimal("m") >= params.m_cost()
            && decimal("t") >= params.t_cost()
            && decimal("p") >= params.p_cost()
            && phc.params.get_str("keyid") == current_key
    }
}

#[cfg(test)]
mod tests {
    use sha2::Digest as _;

    use super::*;

    fn no_pepper() -> Peppers {
        Peppers::default()
    }

    #[test]
    fn recognises_formats() {
        assert!(matches!(
            Stored::parse("$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie"),
            Some(Stored::Bcrypt(_))
        ));
        assert!(matches!(
            Stored::parse("pbkdf2_sha256$1000$salt$AAAA"),
            Some(Stored::DjangoPbkdf2 { sha1: false, .. })
        ));
        assert!(matches!(
            Stored::parse(
                "argon2$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            ),
            Some(Stored::Argon2(_))
        ));
        for junk in [
            "",
            "plaintext",
            "$md5$x",
            "pbkdf2_sha256$x$y$z",
            "$argon2id$garbage",
        ] {
            assert!(Stored::parse(junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn bcrypt_and_django_bcrypt() {
        let hash = bcrypt::hash("hunter22", 4).unwrap();
        let stored = Stored::parse(&hash).unwrap();
        assert!(stored.verify(b"hunter22", &no_pepper()));
        assert!(!stored.verify(b"hunter23", &no_pepper()));
        assert!(!stored.is_current(&Params::default(), None));

        let inner =
            bcrypt::hash(hex::encode(sha2::Sha256::digest("pässword".as_bytes())), 4).unwrap();
        let django = format!("bcrypt_sha256${inner}");
        assert!(
            Stored::parse(&django)
                .unwrap()
                .verify("pässword".as_bytes(), &no_pepper())
        );
    }

    #[test]
    fn django_pbkdf2_sha256() {
        // Generated with Django 5: make_password("correct horse", salt="seasalt",
        // hasher="pbkdf2_sha256") at 1000 iterations (recomputed here with the same inputs).
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"correct horse", b"seasalt", 1000, &mut out);
        let encoded = format!(
            "pbkdf2_sha256$1000$seasalt${}",
            base64::engine::general_purpose::STANDARD.encode(out)
        );
        let stored = Stored::parse(&encoded).unwrap();
        assert!(stored.verify(b"correct horse", &no_pepper()));
        assert!(!stored.verify(b"correct horsf", &no_pepper()));
    }
}
