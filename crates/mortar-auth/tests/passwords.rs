//! `Passwords` end to end: upgrades on login, pepper rotation, legacy formats, dummy
//! verification, and secrets kept out of `Debug`.

use mortar_auth::password::{PasswordConfig, Passwords, Verification};
use password_hash::{CustomizedPasswordHasher as _, PasswordHasher as _};

const PEPPER_2024: &[u8] = b"pepper-of-2024-kept-in-the-vault";
const PEPPER_2025: &[u8] = b"pepper-of-2025-kept-in-the-vault";

fn upgraded(v: Verification) -> String {
    match v {
        Verification::Valid {
            upgraded: Some(hash),
        } => hash,
        other => panic!("expected an upgrade, got {other:?}"),
    }
}

#[tokio::test]
async fn weaker_argon2_parameters_are_upgraded_on_login() {
    let weak =
        Passwords::with_weak_config(PasswordConfig::default().cost(1024, 1, 1).allow_weak_cost())
            .unwrap();
    let stored = weak.hash("a fine passphrase").await.unwrap();
    assert!(stored.contains("m=1024,t=1,p=1"));

    let current = Passwords::new();
    assert!(current.needs_rehash(&stored));
    let new = upgraded(current.verify("a fine passphrase", &stored).await.unwrap());
    assert!(!current.needs_rehash(&new));
    assert_eq!(
        current.verify("a fine passphrase", &new).await.unwrap(),
        Verification::Valid { upgraded: None }
    );
}

#[tokio::test]
async fn weak_cost_must_be_asked_for_by_name() {
    let err = Passwords::with_config(PasswordConfig::default().cost(1024, 1, 1)).unwrap_err();
    assert!(err.to_string().contains("OWASP"), "{err}");
}

#[tokio::test]
async fn peppers_rotate() {
    let old =
        Passwords::with_config(PasswordConfig::default().pepper("2024", PEPPER_2024.to_vec()))
            .unwrap();
    let stored = old.hash("a fine passphrase").await.unwrap();
    assert!(
        stored.contains("keyid="),
        "the hash names its pepper: {stored}"
    );

    // Without the pepper the hash cannot verify: a stolen database alone is not enough.
    let unpeppered = Passwords::new();
    assert_eq!(
        unpeppered
            .verify("a fine passphrase", &stored)
            .await
            .unwrap(),
        Verification::Invalid
    );

    // After rotation the old pepper still verifies, and the hash moves to the new one.
    let rotated = Passwords::with_config(
        PasswordConfig::default()
            .pepper("2025", PEPPER_2025.to_vec())
            .old_pepper("2024", PEPPER_2024.to_vec()),
    )
    .unwrap();
    assert!(rotated.needs_rehash(&stored));
    let new = upgraded(rotated.verify("a fine passphrase", &stored).await.unwrap());
    assert_eq!(
        rotated.verify("a fine passphrase", &new).await.unwrap(),
        Verification::Valid { upgraded: None }
    );
    assert_eq!(
        old.verify("a fine passphrase", &new).await.unwrap(),
        Verification::Invalid,
        "the 2024 configuration does not know the 2025 pepper"
    );
    // An unpeppered hash imported earlier still verifies under a peppered configuration.
    let plain = unpeppered.hash("another passphrase").await.unwrap();
    let new = upgraded(rotated.verify("another passphrase", &plain).await.unwrap());
    assert!(new.contains("keyid="));
}

#[tokio::test]
async fn pepper_ids_are_validated() {
    let too_long = PasswordConfig::default().pepper("123456789", PEPPER_2025.to_vec());
    assert!(Passwords::with_config(too_long).is_err());
    let empty = PasswordConfig::default().pepper("", PEPPER_2025.to_vec());
    assert!(Passwords::with_config(empty).is_err());
}

#[tokio::test]
async fn legacy_formats_verify_and_upgrade() {
    let passwords = Passwords::new();
    let password = "imported from elsewhere";

    let bcrypt = bcrypt::hash(password, 4).unwrap();
    let scrypt = scrypt::Scrypt::new()
        .hash_password_with_params(
            password.as_bytes(),
            b"saltsaltsaltsalt",
            scrypt::Params::new(10, 8, 1).unwrap(),
        )
        .unwrap()
        .to_string();
    let pbkdf2 = pbkdf2::Pbkdf2::default()
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string();
    // Laravel writes bcrypt as $2y$.
    let laravel = bcrypt.replacen("$2b$", "$2y$", 1);

    for stored in [&bcrypt, &scrypt, &pbkdf2, &laravel] {
        assert!(passwords.needs_rehash(stored));
        let new = upgraded(passwords.verify(password, stored).await.unwrap());
        assert!(new.starts_with("$argon2id$"), "{stored} -> {new}");
        assert_eq!(
            passwords.verify("not it", stored).await.unwrap(),
            Verification::Invalid,
            "{stored}"
        );
    }
}

#[tokio::test]
async fn corrupt_or_unknown_hashes_never_match() {
    let passwords = Passwords::new();
    for stored in [
        "",
        "plaintext-password",
        "$argon2id$v=19$m=19456,t=2,p=1$bm90IGEgc2FsdA$",
        "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$AAAA",
        "$2b$99$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva",
        "pbkdf2_sha256$0$salt$AAAA",
        "$md5$rounds=1$salt$x",
    ] {
        assert!(passwords.needs_rehash(stored), "{stored}");
        assert_eq!(
            passwords
                .verify("plaintext-password", stored)
                .await
                .unwrap(),
            Verification::Invalid,
            "{stored}"
        );
    }
    let huge = "x".repeat(5000);
    let stored = passwords.hash("short enough").await.unwrap();
    assert_eq!(
        passwords.verify(&huge, &stored).await.unwrap(),
        Verification::Invalid
    );
    assert!(passwords.hash(&huge).await.is_err());
}

#[tokio::test]
async fn dummy_verification_for_unknown_accounts() {
    let passwords = Passwords::new();
    passwords.verify_dummy("whatever").await.unwrap();
    passwords.verify_dummy("whatever again").await.unwrap();
}

#[tokio::test]
async fn secrets_never_reach_debug_output() {
    let config = PasswordConfig::default()
        .pepper("2025", PEPPER_2025.to_vec())
        .old_pepper("2024", PEPPER_2024.to_vec());
    let config_debug = format!("{config:?}");
    let passwords = Passwords::with_config(config).unwrap();
    let stored = passwords.hash("a fine passphrase").await.unwrap();
    let verdict = passwords
        .verify("a fine passphrase", &stored)
        .await
        .unwrap();
    for debug in [
        config_debug,
        format!("{passwords:?}"),
        format!("{verdict:?}"),
    ] {
        assert!(!debug.contains("vault"), "{debug}");
        assert!(!debug.contains("passphrase"), "{debug}");
        assert!(!debug.contains(&stored), "{debug}");
    }
}
