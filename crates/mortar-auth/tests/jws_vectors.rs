//! Conformance: C2SP Wycheproof `json_web_signature` (401 cases) and `json_web_key` (26 cases),
//! in tests/data/wycheproof with SOURCE and LICENSE.
//!
//! Each group's key (or key set) is loaded into a verify-only `KeyRing`, exactly as an
//! application would load a JWKS; a key the ring refuses (encryption-only `use`/`key_ops`,
//! mixed shared and public keys, duplicate `kid`) leaves no ring, so nothing verifies. Every
//! case must then agree with its expected result.

use mortar_auth::token::{KeyRing, VerifyingKey, verify_jws};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/wycheproof");

/// Cases where we deliberately differ from the file's label, each for a stated reason. Any other
/// disagreement fails the test.
const EXPECTED_DISAGREEMENTS: [(u64, &str); 6] = [
    // RFC 7520 Figure 20 signs with PS384 under the key that the group binds to PS256. RFC 8725
    // §3.1 (and our design) binds each key to exactly one algorithm, so this is refused.
    (346, "one key, one algorithm"),
    (350, "one key, one algorithm"),
    // These four share one MAC. 367 and 370 are the correctly encoded, correctly MACed token,
    // labelled invalid; 372 and 373 insert `?` into the base64url, labelled valid. RFC 7515 §5.2
    // requires decoding "following the restriction that no line breaks, whitespace, or other
    // additional characters have been used", so we accept the first two and refuse the others.
    (367, "canonical base64url with a valid MAC"),
    (370, "canonical base64url with a valid MAC"),
    (372, "RFC 7515 §5.2 forbids characters outside base64url"),
    (373, "RFC 7515 §5.2 forbids characters outside base64url"),
];

fn ring_for(keys: &Value) -> Option<KeyRing> {
    let list: Vec<&Value> = match keys.get("keys").and_then(Value::as_array) {
        Some(set) => set.iter().collect(),
        None => vec![keys],
    };
    let mut ring = KeyRing::verify_only();
    for jwk in list {
        ring.add(VerifyingKey::from_jwk(jwk).ok()?).ok()?;
    }
    Some(ring)
}

/// Runs a Wycheproof JOSE file; returns (cases, accepted) after asserting full agreement.
fn run(file: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(format!("{DATA}/{file}")).unwrap();
    let suite: Value = serde_json::from_str(&text).unwrap();
    let mut cases = 0;
    let mut accepted = 0;
    let mut disagreements = Vec::new();
    for group in suite["testGroups"].as_array().unwrap() {
        // Verification only ever uses public material; groups with only a private key (HMAC)
        // use it as the shared key.
        let keys = group.get("public").unwrap_or(&group["private"]);
        let ring = ring_for(keys);
        for case in group["tests"].as_array().unwrap() {
            cases += 1;
            let token = case["jws"].as_str().unwrap_or_default();
            let ok = ring.as_ref().is_some_and(|r| verify_jws(r, token).is_ok());
            accepted += usize::from(ok);
            let expected = case["result"] == "valid";
            let id = case["tcId"].as_u64().unwrap();
            let excused = file == "json_web_signature_test.json"
                && EXPECTED_DISAGREEMENTS.iter().any(|(tc, _)| *tc == id);
            if excused {
                assert_ne!(
                    ok, expected,
                    "tc{id} is listed as a disagreement but agrees now"
                );
                continue;
            }
            if ok != expected {
                disagreements.push(format!(
                    "{} tc{} {}: expected {}, got {}",
                    group["comment"],
                    case["tcId"],
                    case["comment"],
                    case["result"],
                    if ok { "accepted" } else { "rejected" }
                ));
            }
        }
    }
    assert_eq!(
        cases,
        usize::try_from(suite["numberOfTests"].as_u64().unwrap()).unwrap(),
        "every case ran"
    );
    assert!(
        disagreements.is_empty(),
        "{file}:\n{}",
        disagreements.join("\n")
    );
    (cases, accepted)
}

#[test]
fn wycheproof_json_web_signature() {
    let (cases, accepted) = run("json_web_signature_test.json");
    assert_eq!(cases, 401);
    assert!(accepted > 0);
}

#[test]
fn wycheproof_json_web_key() {
    let (cases, _) = run("json_web_key_test.json");
    assert_eq!(cases, 26);
}

/// RFC 7520 (JOSE cookbook) §4.1–4.4, the compact-serialization examples: RS256, PS384, ES512
/// (P-521) and HS256. Each key is bound to its example's algorithm, as an application binds the
/// keys it trusts. §4.5 (detached payload) and §4.6–4.8 (JSON serialization) are not compact JWS,
/// which is all Mortar's token verifier accepts.
#[test]
fn jose_cookbook_compact_examples_verify() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/jose-cookbook/jws");
    let mut verified = 0;
    for file in [
        "4_1.rsa_v15_signature.json",
        "4_2.rsa-pss_signature.json",
        "4_3.ecdsa_signature.json",
        "4_4.hmac-sha2_integrity_protection.json",
    ] {
        let example: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{file}")).unwrap())
                .unwrap();
        let mut key = example["input"]["key"].clone();
        key["alg"] = example["input"]["alg"].clone();
        let mut ring = KeyRing::verify_only();
        ring.add(VerifyingKey::from_jwk(&key).unwrap()).unwrap();
        let compact = example["output"]["compact"].as_str().unwrap();
        let jws = verify_jws(&ring, compact).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            String::from_utf8(jws.payload).unwrap(),
            example["input"]["payload"].as_str().unwrap(),
            "{file}"
        );
        // A changed signature fails.
        let (head, signature) = compact.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{head}.{flipped}{}", &signature[1..]);
        assert!(verify_jws(&ring, &tampered).is_err(), "{file}");
        verified += 1;
    }
    assert_eq!(verified, 4);
}
