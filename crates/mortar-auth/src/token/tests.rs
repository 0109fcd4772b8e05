use base64::Engine as _;
use serde_json::json;

use super::*;

fn ring() -> KeyRing {
    KeyRing::new(SigningKey::generate_ed25519("k1").unwrap())
}

#[test]
fn sign_and_verify_round_trip() {
    let ring = ring();
    let token = ring.sign("at+jwt", br#"{"sub":"u1"}"#).unwrap();
    let jws = verify_jws(&ring, &token).unwrap();
    assert_eq!(jws.payload, br#"{"sub":"u1"}"#);
    assert_eq!(jws.kid.as_deref(), Some("k1"));
    assert_eq!(jws.header["typ"], "at+jwt");
    assert_eq!(jws.header["alg"], "EdDSA");
}

#[test]
fn tokens_from_another_key_or_ring_fail() {
    let a = ring();
    let b = KeyRing::new(SigningKey::generate_ed25519("k1").unwrap());
    let token = a.sign("at+jwt", b"{}").unwrap();
    assert_eq!(verify_jws(&b, &token).unwrap_err(), JwsError::BadSignature);
    let c = KeyRing::new(SigningKey::generate_ed25519("k2").unwrap());
    assert_eq!(verify_jws(&c, &token).unwrap_err(), JwsError::UnknownKey);
}

#[test]
fn alg_none_and_header_tricks_are_refused() {
    let ring = ring();
    let enc = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let payload = enc(&json!({"sub": "u1"}));
    for alg in ["none", "None", "NONE"] {
        let token = format!("{}.{payload}.c2ln", enc(&json!({"alg": alg, "kid": "k1"})));
        assert_eq!(verify_jws(&ring, &token).unwrap_err(), JwsError::AlgNone);
    }
    let token = format!("{}.{payload}.", enc(&json!({"alg": "none"})));
    assert!(verify_jws(&ring, &token).is_err());
    let crit = format!(
        "{}.{payload}.c2ln",
        enc(&json!({"alg": "EdDSA", "kid": "k1", "crit": ["exp"]}))
    );
    assert_eq!(
        verify_jws(&ring, &crit).unwrap_err(),
        JwsError::UnsupportedHeader
    );
    let hs = format!(
        "{}.{payload}.c2ln",
        enc(&json!({"alg": "HS256", "kid": "k1"}))
    );
    assert_eq!(
        verify_jws(&ring, &hs).unwrap_err(),
        JwsError::AlgorithmMismatch
    );
    // Duplicate members: serde_json would keep the last `alg` silently.
    let dup = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"alg":"EdDSA","kid":"k1","alg":"none"}"#);
    assert_eq!(
        verify_jws(&ring, &format!("{dup}.{payload}.c2ln")).unwrap_err(),
        JwsError::DuplicateHeaderMember
    );
    for malformed in ["", "a", "a.b", "a.b.c.d", "{\"payload\":\"x\"}", "..."] {
        assert!(verify_jws(&ring, malformed).is_err(), "{malformed}");
    }
}

#[test]
fn embedded_keys_in_the_header_are_ignored() {
    let ring = ring();
    let attacker = KeyRing::new(SigningKey::generate_ed25519("k1").unwrap());
    let forged = attacker.sign("at+jwt", b"{}").unwrap();
    // Whatever jwk/jku the attacker puts in the header, only our ring's key is used.
    assert_eq!(
        verify_jws(&ring, &forged).unwrap_err(),
        JwsError::BadSignature
    );
}

#[test]
fn rings_refuse_duplicate_kids_and_mixed_key_kinds() {
    let mut ring = ring();
    let other = SigningKey::generate_ed25519("k1").unwrap();
    assert!(matches!(
        ring.add(other.public.clone()),
        Err(crate::Error::Conflict("kid"))
    ));
    let hmac = SigningKey::hmac("h1", jsonwebtoken::Algorithm::HS256, &[7; 32]).unwrap();
    assert!(
        ring.add(hmac.public.clone()).is_err(),
        "shared and public keys do not mix"
    );
    assert!(SigningKey::hmac("h2", jsonwebtoken::Algorithm::HS512, &[7; 32]).is_err());

    let jwks = ring.jwks();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let hmac_ring = KeyRing::new(hmac);
    assert_eq!(
        hmac_ring.jwks()["keys"].as_array().unwrap().len(),
        0,
        "secrets are never published"
    );
}

#[test]
fn rotation_verifies_old_and_new() {
    let old = SigningKey::generate_ed25519("2024").unwrap();
    let old_ring = KeyRing::new(old.clone());
    let old_token = old_ring.sign("at+jwt", b"{}").unwrap();
    let mut new_ring = KeyRing::new(SigningKey::generate_ed25519("2025").unwrap());
    new_ring.add(old.public.clone()).unwrap();
    assert!(verify_jws(&new_ring, &old_token).is_ok());
    assert!(verify_jws(&new_ring, &new_ring.sign("at+jwt", b"{}").unwrap()).is_ok());
    assert_eq!(new_ring.jwks()["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn debug_output_holds_no_key_material() {
    let key = SigningKey::hmac(
        "h1",
        jsonwebtoken::Algorithm::HS256,
        b"0123456789abcdef0123456789abcdef",
    )
    .unwrap();
    let debug = format!("{key:?} {:?}", KeyRing::new(key.clone()));
    assert!(!debug.contains("0123456789"), "{debug}");
}

#[test]
fn every_signing_algorithm_round_trips() {
    for key in [
        SigningKey::generate_ed25519("ed").unwrap(),
        SigningKey::generate_es256("es").unwrap(),
        SigningKey::generate_rs256("rs").unwrap(),
        SigningKey::hmac("hs", jsonwebtoken::Algorithm::HS256, &[9; 32]).unwrap(),
    ] {
        let alg = key.alg;
        let ring = KeyRing::new(key);
        let token = ring.sign("at+jwt", b"{}").unwrap();
        let jws = verify_jws(&ring, &token).unwrap();
        assert_eq!(jws.header["alg"], alg);
        // Another key of the same algorithm and kid does not verify it.
        let other = match alg {
            "EdDSA" => SigningKey::generate_ed25519("x"),
            "ES256" => SigningKey::generate_es256("x"),
            "RS256" => SigningKey::generate_rs256("x"),
            _ => SigningKey::hmac("x", jsonwebtoken::Algorithm::HS256, &[8; 32]),
        }
        .unwrap();
        let mut other_ring = KeyRing::verify_only();
        let mut public = other.public.clone();
        public.kid.clone_from(&jws.kid);
        other_ring.add(public).unwrap();
        assert_eq!(
            verify_jws(&other_ring, &token).unwrap_err(),
            JwsError::BadSignature,
            "{alg}"
        );
        // The JWKS publishes public keys only.
        let published = ring.jwks();
        for private in ["d", "p", "q", "k"] {
            assert!(
                published["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|k| k.get(private).is_none()),
                "{alg}"
            );
        }
    }
}
