//! [`Sealer`]: secrets encrypted at rest with AES-256-GCM under an application key, with key
//! rotation — TOTP seeds (`mfa`), SSO client secrets and OAuth flow cookies (`oauth`).

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretSlice};

use crate::error::Error;

/// Encrypts small secrets (TOTP seeds, client secrets) for storage: AES-256-GCM with a random 96-bit nonce per
/// secret, authenticated with the caller's context (the user id, so a sealed secret copied to
/// another account does not open there).
///
/// A sealed secret reads `{key id}.{base64url(nonce ‖ ciphertext ‖ tag)}`. Keys are named: new
/// secrets are sealed with the current key, and the older keys given with
/// [`Sealer::old_key`] still open what they sealed — rotate by adding a new current key, keeping
/// the old one until [`Sealer::needs_reseal`] finds nothing left under it.
///
/// ```
/// use mortar_auth::seal::Sealer;
/// use secrecy::ExposeSecret as _;
///
/// let old = Sealer::new("k1", &[1; 32]).unwrap();
/// let sealed = old.seal(b"seed", b"user-1").unwrap();
///
/// let sealer = Sealer::new("k2", &[2; 32]).unwrap().old_key("k1", &[1; 32]).unwrap();
/// assert_eq!(sealer.open(&sealed, b"user-1").unwrap().expose_secret(), b"seed");
/// assert!(sealer.open(&sealed, b"user-2").is_err(), "bound to its user");
/// assert!(sealer.needs_reseal(&sealed));
/// ```
#[derive(Clone)]
pub struct Sealer {
    /// The current key first.
    keys: Vec<(String, std::sync::Arc<LessSafeKey>)>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Sealer")
            .field("key_ids", &ids)
            .finish_non_exhaustive()
    }
}

fn key(id: &str, bytes: &[u8]) -> Result<(String, std::sync::Arc<LessSafeKey>), Error> {
    if id.is_empty() || id.contains('.') {
        return Err(Error::Config(format!(
            "sealing key id {id:?}: empty or containing '.'"
        )));
    }
    let unbound = UnboundKey::new(&AES_256_GCM, bytes)
        .map_err(|_| Error::Config(format!("sealing key {id:?}: must be 32 bytes")))?;
    Ok((
        id.to_owned(),
        std::sync::Arc::new(LessSafeKey::new(unbound)),
    ))
}

impl Sealer {
    /// A sealer whose current key is `bytes` (32 bytes), named `id` (no `.`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a key that is not 32 bytes or a bad id.
    pub fn new(id: &str, bytes: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            keys: vec![key(id, bytes)?],
        })
    }

    /// Also opens secrets sealed with this older key.
    ///
    /// # Errors
    ///
    /// As [`Sealer::new`].
    pub fn old_key(mut self, id: &str, bytes: &[u8]) -> Result<Self, Error> {
        self.keys.push(key(id, bytes)?);
        Ok(self)
    }

    /// Seals `plaintext`, bound to `context`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when the system's random source fails.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String, Error> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Internal("the random source failed".into()))?;
        let mut data = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut data,
        )
        .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{id}.{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Opens a sealed secret bound to `context`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when the key is unknown, or the secret was altered or sealed for
    /// another context.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<SecretSlice<u8>, Error> {
        let failed = || Error::Internal("a sealed secret does not open".into());
        let (id, body) = sealed.split_once('.').ok_or_else(failed)?;
        let (_, key) = self.keys.iter().find(|(k, _)| k == id).ok_or_else(failed)?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| failed())?;
        if raw.len() < NONCE_LEN {
            return Err(failed());
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
        let mut data = rest.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(context), &mut data)
            .map_err(|_| failed())?;
        let secret = SecretSlice::from(plain.to_vec());
        zeroize_vec(&mut data);
        Ok(secret)
    }

    /// Whether `sealed` is under an older key (re-seal it with the current one).
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed
            .split_once('.')
            .is_none_or(|(id, _)| id != self.keys[0].0)
    }

    /// Opens `sealed` and seals it again under the current key.
    ///
    /// # Errors
    ///
    /// As [`Sealer::open`] and [`Sealer::seal`].
    pub fn reseal(&self, sealed: &str, context: &[u8]) -> Result<String, Error> {
        let plain = self.open(sealed, context)?;
        self.seal(plain.expose_secret(), context)
    }
}

/// Overwrites a buffer that held plaintext.
fn zeroize_vec(data: &mut [u8]) {
    for b in data.iter_mut() {
        // Volatile-free but not optimized away: the buffer is read below.
        *b = 0;
    }
    std::hint::black_box(&*data);
}
