//! Conformance: the Argon2 vectors in tests/data/argon2 (see SOURCE and LICENSE there).
//!
//! - every PHC string produced by the reference implementation's test.c verifies through
//!   `Passwords::verify`, and changing one bit of the hash, or of the password, makes it fail;
//! - the RFC 9106 §5 known answers (Argon2d, Argon2i, Argon2id with secret and associated data)
//!   come out exactly from the argon2 crate configured the way `Passwords` configures it for a
//!   pepper (the secret input);
//! - our own hashes are Argon2id v19 at OWASP's parameters.

use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use base64::Engine as _;
use mortar_auth::password::{Passwords, Verification};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/argon2");

#[derive(serde::Deserialize)]
struct PhcVector {
    #[serde(rename = "type")]
    kind: String,
    password: String,
    encoded: String,
    m_kib: u32,
    t: u32,
    p: u32,
    version: u32,
}

impl PhcVector {
    /// Whether the vector is at least as strong as our policy (Argon2id v19, m >= 19456 KiB,
    /// t >= 2, p >= 1), so verifying it must not ask for a rehash.
    fn is_current(&self) -> bool {
        self.kind == "argon2id"
            && self.version == 19
            && self.m_kib >= 19_456
            && self.t >= 2
            && self.p >= 1
    }
}

/// The PHC string with one bit of its hash output flipped.
fn flip_hash_bit(encoded: &str) -> String {
    let (head, hash) = encoded.rsplit_once('$').unwrap();
    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut bytes = engine.decode(hash).unwrap();
    bytes[0] ^= 0x01;
    format!("{head}${}", engine.encode(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reference_phc_string_verifies_and_one_changed_bit_fails() {
    let json =
        std::fs::read_to_string(format!("{DATA}/phc_winner_argon2_test_c_vectors.json")).unwrap();
    let vectors: Vec<PhcVector> = serde_json::from_str(&json).unwrap();
    assert_eq!(vectors.len(), 26, "the whole suite is present");
    let passwords = Passwords::new();
    let mut big_memory = 0;
    let mut upgrades = 0;
    for v in &vectors {
        if v.m_kib >= 262_144 {
            big_memory += 1;
        }
        let verdict = passwords.verify(&v.password, &v.encoded).await.unwrap();
        // Anything weaker than our policy comes back upgraded; the rest verifies as it is.
        match verdict {
            Verification::Valid {
                upgraded: Some(new),
            } if !v.is_current() => {
                assert!(new.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{new}");
                upgrades += 1;
            }
            Verification::Valid { upgraded: None } if v.is_current() => {}
            other => panic!("{} ({}): {other:?}", v.encoded, v.kind),
        }
        let tampered = flip_hash_bit(&v.encoded);
        assert_eq!(
            passwords.verify(&v.password, &tampered).await.unwrap(),
            Verification::Invalid,
            "{tampered}"
        );
        let mut wrong = v.password.clone().into_bytes();
        wrong[0] ^= 0x01;
        let wrong = String::from_utf8(wrong).unwrap();
        assert_eq!(
            passwords.verify(&wrong, &v.encoded).await.unwrap(),
            Verification::Invalid
        );
    }
    assert!(big_memory >= 4, "the 256 MiB and 1 GiB vectors ran too");
    assert_eq!(
        upgrades, 21,
        "Argon2i, v16 and low-memory hashes are upgraded; 5 are already current"
    );
}

/// One known answer of RFC 9106 §5, read from the reference implementation's KAT file.
struct Kat {
    memory_kib: u32,
    iterations: u32,
    lanes: u32,
    tag_len: usize,
    password: Vec<u8>,
    salt: Vec<u8>,
    secret: Vec<u8>,
    ad: Vec<u8>,
    tag: Vec<u8>,
}

fn hex_bytes(line: &str) -> Vec<u8> {
    let (_, bytes) = line.split_once(':').unwrap();
    bytes
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn number_before(text: &str, unit: &str) -> u32 {
    let end = text.find(unit).unwrap();
    let start = text[..end].trim_end().rfind(' ').map_or(0, |i| i + 1);
    text[start..end].trim().parse().unwrap()
}

fn read_kat(file: &str) -> Kat {
    let text = std::fs::read_to_string(format!("{DATA}/{file}")).unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{file}: no {prefix} line"))
            .to_owned()
    };
    let header = line("Memory:");
    Kat {
        memory_kib: number_before(&header, "KiB"),
        iterations: number_before(&header[header.find("Iterations").unwrap()..], ","),
        lanes: number_before(&header, "lanes"),
        tag_len: number_before(&header, "bytes") as usize,
        password: hex_bytes(&line("Password[")),
        salt: hex_bytes(&line("Salt[")),
        secret: hex_bytes(&line("Secret[")),
        ad: hex_bytes(&line("Associated data[")),
        tag: hex_bytes(&line("Tag:")),
    }
}

#[test]
fn rfc9106_known_answers_with_secret_and_associated_data() {
    for (file, algorithm) in [
        ("kat_argon2d.txt", Algorithm::Argon2d),
        ("kat_argon2i.txt", Algorithm::Argon2i),
        ("kat_argon2id.txt", Algorithm::Argon2id),
    ] {
        let kat = read_kat(file);
        assert_eq!(
            (kat.memory_kib, kat.iterations, kat.lanes, kat.tag_len),
            (32, 3, 4, 32)
        );
        let params = ParamsBuilder::new()
            .m_cost(kat.memory_kib)
            .t_cost(kat.iterations)
            .p_cost(kat.lanes)
            .output_len(kat.tag_len)
            .data(AssociatedData::new(&kat.ad).unwrap())
            .build()
            .unwrap();
        let argon =
            Argon2::new_with_secret(&kat.secret, algorithm, Version::V0x13, params).unwrap();
        let mut out = vec![0u8; kat.tag_len];
        argon
            .hash_password_into(&kat.password, &kat.salt, &mut out)
            .unwrap();
        assert_eq!(out, kat.tag, "{file}");
    }
}

#[tokio::test]
async fn our_hashes_are_argon2id_at_owasp_parameters() {
    let passwords = Passwords::new();
    let hash = passwords.hash("Tr0ub4dor&3-zebra").await.unwrap();
    let phc = password_hash::phc::PasswordHash::new(&hash).unwrap();
    assert_eq!(phc.algorithm.as_str(), "argon2id");
    assert_eq!(phc.version, Some(19));
    assert_eq!(phc.params.get_decimal("m"), Some(19_456));
    assert_eq!(phc.params.get_decimal("t"), Some(2));
    assert_eq!(phc.params.get_decimal("p"), Some(1));
    assert_eq!(phc.salt.unwrap().as_ref().len(), 16, "128-bit random salt");
    assert!(!passwords.needs_rehash(&hash));
    assert_ne!(
        hash,
        passwords.hash("Tr0ub4dor&3-zebra").await.unwrap(),
        "salted"
    );
}
