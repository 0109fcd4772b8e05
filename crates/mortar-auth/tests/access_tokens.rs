//! Access tokens end to end: issue, verify, every rejection reason, revocation through the
//! cache, and the RFC 7515 / RFC 8037 examples.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mortar_auth::Error;
use mortar_auth::token::{
    AccessTokens, JwsError, KeyRing, MemoryRevocations, Revocations, SigningKey, TokenError,
    Validation, VerifyingKey, validate, verify_jws,
};
use mortar_core::{AuthMethod, Clock as _, ManualClock, Principal, Problem};
use serde_json::{Value, json};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";

fn principal() -> Principal {
    Principal::user("user-1")
        .tenant("acme")
        .roles(["admin", "billing"])
        .scopes(["invoices:read", "invoices:write"])
        .method(AuthMethod::Password)
        .method(AuthMethod::Totp)
        .second_factor(true)
        .session_id("sess-1")
        .build()
}

struct Setup {
    tokens: AccessTokens,
    ring: KeyRing,
    clock: ManualClock,
    revocations: Arc<MemoryRevocations>,
}

fn setup() -> Setup {
    let ring = KeyRing::new(SigningKey::generate_ed25519("k1").unwrap());
    let clock = ManualClock::default();
    let revocations = Arc::new(MemoryRevocations::new());
    let tokens = AccessTokens::builder(ring.clone(), ISS, AUD)
        .clock(clock.clone())
        .revocations(revocations.clone())
        .build();
    Setup {
        tokens,
        ring,
        clock,
        revocations,
    }
}

fn reason(err: Error) -> TokenError {
    match err {
        Error::InvalidToken(reason) => reason,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn round_trip_keeps_the_principal() {
    let s = setup();
    let issued = s.tokens.issue(&principal()).unwrap();
    assert_eq!(issued.expires_at(), s.clock.now() + Duration::from_mins(15));
    let back = s.tokens.verify(issued.token()).await.unwrap();
    assert_eq!(back.subject(), "user-1");
    assert_eq!(back.tenant(), Some("acme"));
    assert!(back.has_role("admin") && back.has_role("billing"));
    assert!(back.has_scope("invoices:write"));
    assert_eq!(back.session_id(), Some("sess-1"));
    assert_eq!(
        back.authentication().methods(),
        [AuthMethod::Password, AuthMethod::Totp]
    );
    assert!(back.authentication().second_factor());

    let jws = verify_jws(&s.ring, issued.token()).unwrap();
    assert_eq!(jws.header["typ"], "at+jwt");
    assert_eq!(jws.header["alg"], "EdDSA");
    let claims: Value = serde_json::from_slice(&jws.payload).unwrap();
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["scope"], "invoices:read invoices:write");
    assert_eq!(claims["aud"], AUD);
    assert!(
        !format!("{issued:?}").contains(issued.token()),
        "Debug hides the token"
    );
}

#[tokio::test]
async fn expiry_with_leeway_also_through_the_cache() {
    let s = setup();
    let issued = s.tokens.issue(&principal()).unwrap();
    s.tokens.verify(issued.token()).await.unwrap(); // now cached
    s.clock
        .advance(Duration::from_mins(15) + Duration::from_secs(29));
    s.tokens.verify(issued.token()).await.unwrap();
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(
        reason(s.tokens.verify(issued.token()).await.unwrap_err()),
        TokenError::Expired
    );

    // Uncached, the same.
    let fresh = setup();
    let issued = fresh.tokens.issue(&principal()).unwrap();
    fresh.clock.advance(Duration::from_mins(16));
    assert_eq!(
        reason(fresh.tokens.verify(issued.token()).await.unwrap_err()),
        TokenError::Expired
    );
}

#[tokio::test]
async fn tokens_from_the_future_are_refused() {
    let s = setup();
    let ahead = ManualClock::new(s.clock.now() + Duration::from_mins(5));
    let early = AccessTokens::builder(s.ring.clone(), ISS, AUD)
        .clock(ahead)
        .build();
    let token = early.issue(&principal()).unwrap();
    assert_eq!(
        reason(s.tokens.verify(token.token()).await.unwrap_err()),
        TokenError::NotYetValid
    );
    let slightly = ManualClock::new(s.clock.now() + Duration::from_secs(20));
    let skewed = AccessTokens::builder(s.ring.clone(), ISS, AUD)
        .clock(slightly)
        .build();
    s.tokens
        .verify(skewed.issue(&principal()).unwrap().token())
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_issuer_audience_type_and_missing_claims() {
    let s = setup();
    let issued = s.tokens.issue(&principal()).unwrap();
    let other_aud = AccessTokens::builder(s.ring.clone(), ISS, "https://other.example.com")
        .clock(s.clock.clone())
        .build();
    assert_eq!(
        reason(other_aud.verify(issued.token()).await.unwrap_err()),
        TokenError::WrongAudience
    );
    let other_iss = AccessTokens::builder(s.ring.clone(), "https://evil.example.com", AUD)
        .clock(s.clock.clone())
        .build();
    assert_eq!(
        reason(other_iss.verify(issued.token()).await.unwrap_err()),
        TokenError::WrongIssuer
    );

    let now = s.clock.unix_seconds();
    let claims =
        json!({"iss": ISS, "sub": "u", "aud": AUD, "exp": now + 60, "iat": now, "jti": "j1"});
    // Same key, same claims, another `typ` (an ID token, a plain JWT): refused.
    for typ in ["JWT", "id_token+jwt", "refresh+jwt"] {
        let token = s.ring.sign(typ, claims.to_string().as_bytes()).unwrap();
        assert_eq!(
            reason(s.tokens.verify(&token).await.unwrap_err()),
            TokenError::WrongType,
            "{typ}"
        );
    }
    let token = s
        .ring
        .sign("application/at+jwt", claims.to_string().as_bytes())
        .unwrap();
    s.tokens.verify(&token).await.unwrap();

    for missing in ["jti", "sub", "iat", "aud"] {
        let mut c = claims.clone();
        c.as_object_mut().unwrap().remove(missing);
        let token = s.ring.sign("at+jwt", c.to_string().as_bytes()).unwrap();
        let err = reason(s.tokens.verify(&token).await.unwrap_err());
        assert!(
            matches!(err, TokenError::MissingClaim(_)),
            "{missing}: {err:?}"
        );
    }
    let mut c = claims.clone();
    c["exp"] = json!("tomorrow");
    let token = s.ring.sign("at+jwt", c.to_string().as_bytes()).unwrap();
    assert_eq!(
        reason(s.tokens.verify(&token).await.unwrap_err()),
        TokenError::MalformedClaims
    );
    // Opaque tokens (refresh tokens, reset links) are not JWS at all.
    assert_eq!(
        reason(
            s.tokens
                .verify("Vb7lQv2gq0Jx0m9gS0yq3rWbq6H3c1m8zAq2hN4rKpE")
                .await
                .unwrap_err()
        ),
        TokenError::Jws(JwsError::Malformed)
    );
}

#[tokio::test]
// One short name per token keeps the revocation steps readable.
#[allow(clippy::many_single_char_names)]
async fn revocation_is_checked_on_every_verification() {
    let s = setup();
    let a = s.tokens.issue(&principal()).unwrap();
    s.tokens.verify(a.token()).await.unwrap(); // cached
    s.revocations
        .revoke_token(a.jti(), a.expires_at())
        .await
        .unwrap();
    assert_eq!(
        reason(s.tokens.verify(a.token()).await.unwrap_err()),
        TokenError::Revoked
    );

    let b = s.tokens.issue(&principal()).unwrap();
    s.tokens.verify(b.token()).await.unwrap();
    s.revocations
        .revoke_session("sess-1", b.expires_at())
        .await
        .unwrap();
    assert_eq!(
        reason(s.tokens.verify(b.token()).await.unwrap_err()),
        TokenError::Revoked
    );

    let other = Principal::user("user-2")
        .method(AuthMethod::Password)
        .build();
    let c = s.tokens.issue(&other).unwrap();
    s.clock.advance(Duration::from_secs(2));
    s.revocations
        .revoke_subject_before("user-2", s.clock.now())
        .await
        .unwrap();
    assert_eq!(
        reason(s.tokens.verify(c.token()).await.unwrap_err()),
        TokenError::Revoked
    );
    s.clock.advance(Duration::from_secs(1));
    let d = s.tokens.issue(&other).unwrap();
    s.tokens.verify(d.token()).await.unwrap(); // issued after the cut-off
}

/// The cache is keyed by the signature's digest and holds the signed part: a token pairing a
/// cached token's signature with other claims, or its claims with another signature, is no
/// hit and fails verification; every byte of the token counts.
#[tokio::test]
async fn the_cache_answers_only_the_very_token_it_verified() {
    let s = setup();
    let a = s.tokens.issue(&principal()).unwrap();
    let b = s
        .tokens
        .issue(
            &Principal::user("user-2")
                .method(AuthMethod::Password)
                .build(),
        )
        .unwrap();
    s.tokens.verify(a.token()).await.unwrap(); // cached
    s.tokens.verify(b.token()).await.unwrap(); // cached
    let (a_signed, a_sig) = a.token().rsplit_once('.').unwrap();
    let (b_signed, b_sig) = b.token().rsplit_once('.').unwrap();
    for forged in [
        format!("{b_signed}.{a_sig}"),
        format!("{a_signed}.{b_sig}"),
        // The signed part one character longer, the signature the cached one.
        format!("{a_signed}A.{a_sig}"),
        // No signature segment at all.
        a_signed.to_owned(),
    ] {
        let err = s.tokens.verify(&forged).await.unwrap_err();
        assert!(matches!(err, Error::InvalidToken(_)), "{forged}: {err:?}");
    }
    // The genuine tokens still answer, each with its own principal.
    assert_eq!(
        s.tokens.verify(a.token()).await.unwrap().subject(),
        "user-1"
    );
    assert_eq!(
        s.tokens.verify(b.token()).await.unwrap().subject(),
        "user-2"
    );
}

/// `iat` counts whole seconds; the cut-off of a "sign out everywhere" still tells a token issued
/// 300 ms before it from one issued 300 ms after it in the same second (a user resetting their
/// password and logging straight back in is not refused).
#[tokio::test]
async fn a_cutoff_separates_tokens_issued_in_the_same_second() {
    let s = setup();
    let user = Principal::user("user-3")
        .method(AuthMethod::Password)
        .build();
    let into = s
        .clock
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    // 100 ms into the next second.
    s.clock
        .advance(Duration::from_millis(u64::from(1100 - into)));
    let before = s.tokens.issue(&user).unwrap();
    assert_eq!(before.jti().len(), 32);
    assert!(before.jti().bytes().all(|b| b.is_ascii_hexdigit()));
    s.clock.advance(Duration::from_millis(300));
    s.revocations
        .revoke_subject_before("user-3", s.clock.now())
        .await
        .unwrap();
    s.clock.advance(Duration::from_millis(300));
    let after = s.tokens.issue(&user).unwrap();
    assert_ne!(before.jti(), after.jti());
    assert_eq!(
        reason(s.tokens.verify(before.token()).await.unwrap_err()),
        TokenError::Revoked
    );
    s.tokens.verify(after.token()).await.unwrap();
}

#[tokio::test]
async fn a_rotated_out_key_no_longer_verifies() {
    let s = setup();
    let issued = s.tokens.issue(&principal()).unwrap();
    let new_ring = KeyRing::new(SigningKey::generate_ed25519("k2").unwrap());
    let rotated = AccessTokens::builder(new_ring, ISS, AUD)
        .clock(s.clock.clone())
        .build();
    assert_eq!(
        reason(rotated.verify(issued.token()).await.unwrap_err()),
        TokenError::Jws(JwsError::UnknownKey)
    );
}

#[test]
fn invalid_token_problem_follows_rfc_6750() {
    let problem = Problem::from(Error::InvalidToken(TokenError::Expired));
    assert_eq!(problem.status(), 401);
    assert_eq!(
        problem.headers()[http::header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    // Every reason gets the same document: the client learns nothing about why.
    for other in [
        TokenError::Revoked,
        TokenError::WrongAudience,
        TokenError::Jws(JwsError::BadSignature),
    ] {
        assert_eq!(
            Problem::from(Error::InvalidToken(other)).to_json(),
            problem.to_json()
        );
    }
}

fn rfc_examples() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rfc-examples/jose.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn rfc7515_a1_hs256_needs_an_injected_clock() {
    let example = &rfc_examples()["rfc7515_appendix_a1_hs256"];
    let mut jwk = example["jwk"].clone();
    jwk["alg"] = json!("HS256");
    let mut ring = KeyRing::verify_only();
    ring.add(VerifyingKey::from_jwk(&jwk).unwrap()).unwrap();
    let token = example["jws"].as_str().unwrap();
    let rules = Validation {
        typ: Some("JWT".into()),
        issuer: Some("joe".into()),
        ..Validation::default()
    };
    let before_exp = UNIX_EPOCH + Duration::from_secs(1_300_819_379);
    let (_, claims, extra) = validate(&ring, token, &rules, before_exp).unwrap();
    assert_eq!(claims.iss.as_deref(), Some("joe"));
    assert_eq!(extra["http://example.com/is_root"], true);
    assert_eq!(
        validate(&ring, token, &rules, SystemTime::now()).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn rfc7515_a5_unsecured_is_refused() {
    let example = &rfc_examples()["rfc7515_appendix_a5_unsecured"];
    let ring = KeyRing::new(SigningKey::generate_ed25519("k").unwrap());
    assert_eq!(
        verify_jws(&ring, example["jws"].as_str().unwrap()).unwrap_err(),
        JwsError::AlgNone
    );
}

#[test]
fn rfc8037_a4_ed25519_verifies() {
    let example = &rfc_examples()["rfc8037_appendix_a_ed25519"];
    let private = &example["jwk_private"];
    let public = json!({"kty": "OKP", "crv": "Ed25519", "x": private["x"], "alg": "EdDSA"});
    let mut ring = KeyRing::verify_only();
    ring.add(VerifyingKey::from_jwk(&public).unwrap()).unwrap();
    let jws = verify_jws(&ring, example["jws"].as_str().unwrap()).unwrap();
    assert_eq!(
        jws.payload,
        example["payload_utf8"].as_str().unwrap().as_bytes()
    );
}
