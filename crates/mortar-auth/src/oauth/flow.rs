//! The flow value: what the callback must match, sealed for the browser to hold.

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FederationError};
use crate::seal::Sealer;
use crate::user::UserId;

/// The sealing context: a flow value opens only as a flow value.
const CONTEXT: &[u8] = b"mortar-auth/oauth-flow/v1";

/// A started sign-in, sealed (AES-256-GCM) into the flow cookie, so the server keeps no state
/// between the redirect and the callback and nothing in it can be read or changed by the
/// browser.
#[derive(Serialize, Deserialize)]
pub(super) struct FlowState {
    #[serde(rename = "p")]
    pub provider: String,
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The PKCE verifier: 256 random bits that never leave the server unsealed.
    #[serde(rename = "v")]
    pub verifier: String,
    /// Unix seconds.
    #[serde(rename = "x")]
    pub expires_at: u64,
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub link: Option<UserId>,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

impl FlowState {
    pub(super) fn seal(&self, sealer: &Sealer) -> Result<SecretString, Error> {
        let json = serde_json::to_vec(self).map_err(Error::internal)?;
        Ok(SecretString::from(sealer.seal(&json, CONTEXT)?))
    }

    /// Opens a flow value; anything that does not open (tampered, another key, garbage) is a
    /// mismatch.
    pub(super) fn open(sealer: &Sealer, value: &str) -> Result<Self, Error> {
        let mismatch = || Error::Federation(FederationError::FlowMismatch);
        let json = sealer.open(value, CONTEXT).map_err(|_| mismatch())?;
        serde_json::from_slice(json.expose_secret()).map_err(|_| mismatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_refuses_tampering() {
        let key = Sealer::new("k", &[3; 32]).unwrap();
        let flow = FlowState {
            provider: "google".into(),
            state: "st".into(),
            nonce: Some("n".into()),
            verifier: "v".repeat(43),
            expires_at: 10,
            link: None,
            return_to: Some("/home".into()),
        };
        let value = flow.seal(&key).unwrap();
        let opened = FlowState::open(&key, value.expose_secret()).unwrap();
        assert_eq!(
            (opened.provider.as_str(), opened.state.as_str()),
            ("google", "st")
        );
        assert!(!value.expose_secret().contains("google"), "not readable");

        let mut tampered = value.expose_secret().to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(FlowState::open(&key, &tampered).is_err());
        let other = Sealer::new("k", &[4; 32]).unwrap();
        assert!(FlowState::open(&other, value.expose_secret()).is_err());
        // A value sealed for another purpose does not open as a flow.
        let totp = key.seal(b"{}", b"user-1").unwrap();
        assert!(FlowState::open(&key, &totp).is_err());
    }
}
