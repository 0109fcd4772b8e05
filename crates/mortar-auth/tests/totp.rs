//! Second factors (feature `totp`): the RFC 6238 / 4226 vectors, enrollment, replay, skew,
//! recovery codes, lockout, sealed secrets and key rotation, the login challenge, a reset that
//! does not skip the second factor, step-up — and the factor store's conformance suite.
#![cfg(feature = "totp")]
#![allow(clippy::too_many_lines, reason = "journeys, step by step")]

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mortar_auth::Error;
use mortar_auth::account::{Accounts, Client, LoginOutcome, Registration};
use mortar_auth::attempts::MemoryAttemptLimiter;
use mortar_auth::code::{CodeMessage, MemoryCodeStore, Purpose, sender_fn};
use mortar_auth::mfa::{
    FactorStore, MemoryFactorStore, Proof, Sealer, SecondFactors, TotpAlgorithm, TotpFactor,
    TotpSettings, totp_code,
};
use mortar_auth::password::{PasswordConfig, Passwords};
use mortar_auth::user::{MemoryUserStore, UserId};
use mortar_core::{AuthMethod, ManualClock, Principal};
use secrecy::ExposeSecret as _;

#[test]
fn rfc6238_and_rfc4226_vectors() {
    let data = |name: &str| -> serde_json::Value {
        let path = format!("{}/tests/data/otp/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let totp = data("rfc6238_appendix_b.json");
    let rows = totp["vectors"].as_array().unwrap();
    assert_eq!(rows.len(), 18);
    for row in rows {
        let algorithm = TotpAlgorithm::parse(row["algorithm"].as_str().unwrap()).unwrap();
        let code = totp_code(
            algorithm,
            u32::try_from(row["digits"].as_u64().unwrap()).unwrap(),
            row["step"].as_u64().unwrap(),
            row["seed_ascii"].as_str().unwrap().as_bytes(),
            row["unix_time"].as_u64().unwrap(),
        )
        .unwrap();
        assert_eq!(code, row["totp"].as_str().unwrap(), "{row}");
    }
    // HOTP is TOTP with a step of one second and the counter as the time.
    let hotp = data("rfc4226_appendix_d.json");
    let rows = hotp["vectors"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for row in rows {
        let code = totp_code(
            TotpAlgorithm::Sha1,
            u32::try_from(row["digits"].as_u64().unwrap()).unwrap(),
            1,
            row["secret_ascii"].as_str().unwrap().as_bytes(),
            row["counter"].as_u64().unwrap(),
        )
        .unwrap();
        assert_eq!(code, row["hotp"].as_str().unwrap(), "{row}");
    }
    assert!(totp_code(TotpAlgorithm::Sha1, 5, 30, b"x", 0).is_err());
}

/// A clock on a step boundary, so tests move whole steps.
fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_hours(500_000))
}

fn factors(store: Arc<dyn FactorStore>, clock: &ManualClock) -> SecondFactors {
    SecondFactors::new(
        store,
        Sealer::new("k1", &[7; 32]).unwrap(),
        TotpSettings::new("Acme"),
    )
    .clock(clock.clone())
    .limiter(Arc::new(
        MemoryAttemptLimiter::new()
            .free_failures(5)
            .clock(clock.clone()),
    ))
}

fn is_invalid(result: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(result, Err(Error::InvalidCode))
}

#[tokio::test]
async fn enrollment_confirmation_replay_and_skew() {
    let clock = clock();
    let store = Arc::new(MemoryFactorStore::new());
    let f = factors(store.clone(), &clock);
    let user = UserId::new();

    let enrollment = f.enroll_totp(user, "ann@example.com").await.unwrap();
    assert!(
        enrollment
            .uri()
            .starts_with("otpauth://totp/Acme:ann%40example.com?"),
        "{}",
        enrollment.uri()
    );
    assert!(enrollment.uri().contains("issuer=Acme"));
    assert!(enrollment.uri().contains(enrollment.secret_base32()));
    assert_eq!(enrollment.secret_base32().len(), 32, "160 bits in base32");
    assert!(enrollment.qr_png().starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(format!("{enrollment:?}"), "TotpEnrollment([REDACTED])");

    // Stored sealed: the secret appears nowhere in the stored factor.
    let stored = store.totp(user).await.unwrap().unwrap();
    assert!(!stored.active);
    assert!(stored.sealed_secret.starts_with("k1."));
    assert!(!stored.sealed_secret.contains(enrollment.secret_base32()));
    assert!(!format!("{stored:?}").contains(&stored.sealed_secret));

    // Pending: not yet a factor, and not usable to log in.
    assert!(!f.has_totp(user).await.unwrap());
    let code = f.current_code(user).await.unwrap();
    assert!(is_invalid(
        &f.verify(user, &Proof::totp(code.clone())).await
    ));
    assert!(is_invalid(&f.confirm_totp(user, "000000").await));
    let recovery = f.confirm_totp(user, &code).await.unwrap();
    assert_eq!(recovery.codes().len(), 10);
    assert!(f.has_totp(user).await.unwrap());
    assert!(
        matches!(
            f.enroll_totp(user, "ann@example.com").await,
            Err(Error::Conflict(_))
        ),
        "an active factor is not replaced by a new enrollment"
    );

    // The confirming code is spent; the same code is refused again (replay).
    assert!(is_invalid(
        &f.verify(user, &Proof::totp(code.clone())).await
    ));
    // The next step's code works, once.
    clock.advance(Duration::from_secs(30));
    let next = f.current_code(user).await.unwrap();
    assert_eq!(
        f.verify(user, &Proof::totp(next.clone())).await.unwrap(),
        AuthMethod::Totp
    );
    assert!(is_invalid(&f.verify(user, &Proof::totp(next)).await));

    // ±1 step: a code from the previous step is taken when no later one was used; the one
    // before that never.
    clock.advance(Duration::from_mins(1));
    let secret_factor = store.totp(user).await.unwrap().unwrap();
    let at = |offset: i64| {
        let now = clock
            .now_for_tests()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        now.checked_add_signed(offset).unwrap()
    };
    let code_at = |t: u64| {
        let sealer = Sealer::new("k1", &[7; 32]).unwrap();
        let secret = sealer
            .open(&secret_factor.sealed_secret, user.as_uuid().as_bytes())
            .unwrap();
        totp_code(TotpAlgorithm::Sha1, 6, 30, secret.expose_secret(), t).unwrap()
    };
    assert!(is_invalid(
        &f.verify(user, &Proof::totp(code_at(at(-60)))).await
    ));
    f.verify(user, &Proof::totp(code_at(at(-30))))
        .await
        .unwrap();
    // …and after it, the current step's code; then no earlier one.
    f.verify(user, &Proof::totp(code_at(at(0)))).await.unwrap();
    assert!(is_invalid(
        &f.verify(user, &Proof::totp(code_at(at(-30)))).await
    ));
    // A clock running behind the user's phone: the next step's code is taken.
    f.verify(user, &Proof::totp(code_at(at(30)))).await.unwrap();
    assert!(is_invalid(
        &f.verify(user, &Proof::totp(code_at(at(0)))).await
    ));
}

#[tokio::test]
async fn recovery_codes_are_single_use_and_regenerated_as_a_set() {
    let clock = clock();
    let f = factors(Arc::new(MemoryFactorStore::new()), &clock);
    let user = UserId::new();
    f.enroll_totp(user, "bo@example.com").await.unwrap();
    let code = f.current_code(user).await.unwrap();
    let set = f.confirm_totp(user, &code).await.unwrap();
    let codes: Vec<String> = set.codes().iter().map(|c| (*c).to_owned()).collect();
    assert!(!format!("{set:?}").contains(&codes[0]));
    for c in &codes {
        assert_eq!(c.len(), 19, "xxxx-xxxx-xxxx-xxxx: {c}");
    }
    let unique: std::collections::HashSet<&String> = codes.iter().collect();
    assert_eq!(unique.len(), 10);

    assert_eq!(
        f.verify(user, &Proof::recovery_code(codes[0].clone()))
            .await
            .unwrap(),
        AuthMethod::RecoveryCode
    );
    assert!(is_invalid(
        &f.verify(user, &Proof::recovery_code(codes[0].clone()))
            .await
    ));
    // Typed loosely: lower case, no dashes, spaces.
    let loose = codes[1].to_lowercase().replace('-', " ");
    f.verify(user, &Proof::recovery_code(loose)).await.unwrap();
    assert_eq!(f.recovery_codes_left(user).await.unwrap(), 8);
    // Another user's code does not work here.
    let other = UserId::new();
    assert!(is_invalid(
        &f.verify(other, &Proof::recovery_code(codes[2].clone()))
            .await
    ));

    let fresh = f.regenerate_recovery_codes(user).await.unwrap();
    assert_eq!(f.recovery_codes_left(user).await.unwrap(), 10);
    assert!(is_invalid(
        &f.verify(user, &Proof::recovery_code(codes[2].clone()))
            .await
    ));
    f.verify(user, &Proof::recovery_code(fresh.codes()[0]))
        .await
        .unwrap();

    assert!(f.disable(user).await.unwrap());
    assert!(!f.has_totp(user).await.unwrap());
    assert_eq!(f.recovery_codes_left(user).await.unwrap(), 0);
}

#[tokio::test]
async fn failures_lock_the_second_factor() {
    let clock = clock();
    let f = factors(Arc::new(MemoryFactorStore::new()), &clock);
    let user = UserId::new();
    f.enroll_totp(user, "cy@example.com").await.unwrap();
    let code = f.current_code(user).await.unwrap();
    f.confirm_totp(user, &code).await.unwrap();
    clock.advance(Duration::from_secs(30));
    for _ in 0..6 {
        let _ = f.verify(user, &Proof::totp("123456")).await;
    }
    let right = f.current_code(user).await.unwrap();
    assert!(
        matches!(
            f.verify(user, &Proof::totp(right.clone())).await,
            Err(Error::InvalidCredentials)
        ),
        "locked: even the right code is refused"
    );
    clock.advance(Duration::from_hours(2));
    let right = f.current_code(user).await.unwrap();
    f.verify(user, &Proof::totp(right)).await.unwrap();
}

#[tokio::test]
async fn sealing_keys_rotate() {
    let clock = clock();
    let store = Arc::new(MemoryFactorStore::new());
    let old = factors(store.clone(), &clock);
    let user = UserId::new();
    old.enroll_totp(user, "di@example.com").await.unwrap();
    let code = old.current_code(user).await.unwrap();
    old.confirm_totp(user, &code).await.unwrap();
    assert!(
        store
            .totp(user)
            .await
            .unwrap()
            .unwrap()
            .sealed_secret
            .starts_with("k1.")
    );

    let rotated = SecondFactors::new(
        store.clone(),
        Sealer::new("k2", &[9; 32])
            .unwrap()
            .old_key("k1", &[7; 32])
            .unwrap(),
        TotpSettings::new("Acme"),
    )
    .clock(clock.clone());
    clock.advance(Duration::from_secs(30));
    let code = rotated.current_code(user).await.unwrap();
    rotated.verify(user, &Proof::totp(code)).await.unwrap();
    let resealed = store.totp(user).await.unwrap().unwrap().sealed_secret;
    assert!(
        resealed.starts_with("k2."),
        "re-sealed under the new key at use"
    );

    // A sealed secret moved to another user does not open there.
    let sealer = Sealer::new("k2", &[9; 32]).unwrap();
    assert!(sealer.open(&resealed, user.as_uuid().as_bytes()).is_ok());
    assert!(
        sealer
            .open(&resealed, UserId::new().as_uuid().as_bytes())
            .is_err()
    );
    assert!(Sealer::new("k", &[1; 16]).is_err(), "AES-256 keys only");
    assert!(!format!("{sealer:?}").contains("9, 9"));
}

fn client() -> Client {
    Client {
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("tests/1.0".into()),
        request_id: None,
    }
}

#[tokio::test]
async fn login_challenge_reset_and_step_up() {
    const PASSWORD: &str = "correct horse battery staple";
    let clock = clock();
    let f = factors(Arc::new(MemoryFactorStore::new()), &clock);
    let resets = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sent = resets.clone();
    let accounts = Accounts::builder(
        Arc::new(MemoryUserStore::new()),
        Arc::new(MemoryCodeStore::new()),
    )
    .passwords(
        Passwords::with_weak_config(PasswordConfig::default().cost(256, 1, 1).allow_weak_cost())
            .unwrap(),
    )
    .clock(clock.clone())
    .second_factor(f.clone())
    .sender(sender_fn(move |m: CodeMessage| {
        let sent = sent.clone();
        async move {
            if m.purpose == Purpose::ResetPassword {
                sent.lock()
                    .unwrap()
                    .push(m.secret.expose_secret().to_owned());
            }
            Ok(())
        }
    }))
    .build();
    let registered = accounts
        .register(Registration::new("eve@example.com", PASSWORD), &client())
        .await
        .unwrap();
    let mortar_auth::account::Registered::Created(user) = registered else {
        panic!("not created");
    };

    // Without a factor, the password alone logs in.
    let outcome = accounts
        .login("eve@example.com", PASSWORD, &client())
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::Authenticated { .. }));

    f.enroll_totp(user.id, "eve@example.com").await.unwrap();
    let code = f.current_code(user.id).await.unwrap();
    let recovery = f.confirm_totp(user.id, &code).await.unwrap();
    clock.advance(Duration::from_secs(30));

    let challenge = |outcome: LoginOutcome| match outcome {
        LoginOutcome::SecondFactorRequired { challenge, .. } => {
            challenge.expose_secret().to_owned()
        }
        other => panic!("{other:?}"),
    };
    let c = challenge(
        accounts
            .login("eve@example.com", PASSWORD, &client())
            .await
            .unwrap(),
    );
    // A wrong code: refused, the challenge still stands.
    assert!(is_invalid(
        &accounts
            .complete_login(&c, &Proof::totp("000000"), &client())
            .await
    ));
    let code = f.current_code(user.id).await.unwrap();
    let LoginOutcome::Authenticated { principal, .. } = accounts
        .complete_login(&c, &Proof::totp(code.clone()), &client())
        .await
        .unwrap()
    else {
        panic!("not authenticated");
    };
    assert_eq!(principal.subject(), user.id.to_string());
    assert_eq!(principal.authentication().amr(), ["pwd", "otp", "mfa"]);
    assert!(principal.authentication().second_factor());
    // The challenge is spent, and so is the code.
    assert!(is_invalid(
        &accounts
            .complete_login(&c, &Proof::totp(code), &client())
            .await
    ));
    assert!(is_invalid(
        &accounts
            .complete_login("made-up", &Proof::totp("123456"), &client())
            .await
    ));

    // A recovery code completes a login too, once.
    let c = challenge(
        accounts
            .login("eve@example.com", PASSWORD, &client())
            .await
            .unwrap(),
    );
    let rc = recovery.codes()[0].to_owned();
    let LoginOutcome::Authenticated { principal, .. } = accounts
        .complete_login(&c, &Proof::recovery_code(rc.clone()), &client())
        .await
        .unwrap()
    else {
        panic!("not authenticated");
    };
    assert_eq!(principal.authentication().amr(), ["pwd", "kba", "mfa"]);
    let c = challenge(
        accounts
            .login("eve@example.com", PASSWORD, &client())
            .await
            .unwrap(),
    );
    assert!(is_invalid(
        &accounts
            .complete_login(&c, &Proof::recovery_code(rc), &client())
            .await
    ));

    // A password reset does not skip the second factor: the new password still meets the
    // challenge.
    accounts
        .request_password_reset("eve@example.com", &client())
        .await
        .unwrap();
    let token = resets.lock().unwrap().last().cloned().unwrap();
    accounts
        .reset_password(&token, "another long passphrase here", &client())
        .await
        .unwrap();
    let outcome = accounts
        .login("eve@example.com", "another long passphrase here", &client())
        .await
        .unwrap();
    assert!(matches!(outcome, LoginOutcome::SecondFactorRequired { .. }));

    // Step-up: a password-only principal proves the factor again before a sensitive action.
    clock.advance(Duration::from_secs(30));
    let plain = Principal::user(user.id.to_string())
        .method(AuthMethod::Password)
        .build();
    let code = f.current_code(user.id).await.unwrap();
    let stepped = f.step_up(&plain, &Proof::totp(code)).await.unwrap();
    assert_eq!(stepped.authentication().amr(), ["pwd", "otp", "mfa"]);
    assert_eq!(stepped.authentication().at(), Some(clock.now_for_tests()));
    assert!(matches!(
        f.step_up(&plain, &Proof::totp("123456")).await,
        Err(Error::InvalidCode)
    ));
    assert_eq!(
        format!("{:?}", Proof::totp("654321")),
        "Proof::Totp([REDACTED])"
    );
}

/// The contract every factor store keeps.
async fn factor_store_conformance(store: &dyn FactorStore) {
    let user = UserId::new();
    let now = SystemTime::UNIX_EPOCH + Duration::from_hours(500_000);
    assert!(store.totp(user).await.unwrap().is_none());
    let pending = TotpFactor {
        sealed_secret: "k1.first".into(),
        algorithm: TotpAlgorithm::Sha256,
        digits: 8,
        step: 30,
        active: false,
        last_step: None,
        created_at: now,
    };
    assert!(store.put_pending_totp(user, pending.clone()).await.unwrap());
    let replaced = TotpFactor {
        sealed_secret: "k1.second".into(),
        ..pending.clone()
    };
    assert!(
        store
            .put_pending_totp(user, replaced.clone())
            .await
            .unwrap()
    );
    let got = store.totp(user).await.unwrap().unwrap();
    assert_eq!(got.sealed_secret, "k1.second");
    assert_eq!(got.algorithm, TotpAlgorithm::Sha256);
    assert_eq!((got.digits, got.step, got.active), (8, 30, false));
    // Pending: only an activating use.
    assert!(!store.use_totp_step(user, 10, false).await.unwrap());
    assert!(store.use_totp_step(user, 10, true).await.unwrap());
    assert!(
        !store.use_totp_step(user, 11, true).await.unwrap(),
        "active now"
    );
    let got = store.totp(user).await.unwrap().unwrap();
    assert!(got.active);
    assert_eq!(got.last_step, Some(10));
    // Active: steps only move forward.
    assert!(!store.use_totp_step(user, 10, false).await.unwrap());
    assert!(!store.use_totp_step(user, 9, false).await.unwrap());
    assert!(store.use_totp_step(user, 12, false).await.unwrap());
    assert!(!store.use_totp_step(user, 12, false).await.unwrap());
    // An active factor is not replaced by an enrollment.
    assert!(!store.put_pending_totp(user, pending).await.unwrap());
    // Resealing compares the old value.
    assert!(
        !store
            .reseal_totp(user, "k1.first", "k2.x".into())
            .await
            .unwrap()
    );
    assert!(
        store
            .reseal_totp(user, "k1.second", "k2.x".into())
            .await
            .unwrap()
    );
    assert_eq!(
        store.totp(user).await.unwrap().unwrap().sealed_secret,
        "k2.x"
    );
    // Concurrent uses of one step: exactly one wins.
    let results =
        futures_util::future::join_all((0..8).map(|_| store.use_totp_step(user, 20, false))).await;
    assert_eq!(
        results.into_iter().filter(|r| *r.as_ref().unwrap()).count(),
        1
    );

    // Recovery codes.
    let other = UserId::new();
    store
        .set_recovery_codes(user, vec!["h1".into(), "h2".into(), "h3".into()], now)
        .await
        .unwrap();
    assert_eq!(store.recovery_codes_left(user).await.unwrap(), 3);
    assert_eq!(store.recovery_codes_left(other).await.unwrap(), 0);
    assert!(!store.use_recovery_code(other, "h1", now).await.unwrap());
    let results =
        futures_util::future::join_all((0..8).map(|_| store.use_recovery_code(user, "h1", now)))
            .await;
    assert_eq!(
        results.into_iter().filter(|r| *r.as_ref().unwrap()).count(),
        1
    );
    assert!(!store.use_recovery_code(user, "nope", now).await.unwrap());
    assert_eq!(store.recovery_codes_left(user).await.unwrap(), 2);
    store
        .set_recovery_codes(user, vec!["h9".into()], now)
        .await
        .unwrap();
    assert!(!store.use_recovery_code(user, "h2", now).await.unwrap());
    assert_eq!(store.recovery_codes_left(user).await.unwrap(), 1);

    assert!(store.delete_totp(user).await.unwrap());
    assert!(!store.delete_totp(user).await.unwrap());
    assert!(store.totp(user).await.unwrap().is_none());
}

#[tokio::test]
async fn memory_factor_store() {
    factor_store_conformance(&MemoryFactorStore::new()).await;
}

trait NowForTests {
    fn now_for_tests(&self) -> SystemTime;
}

impl NowForTests for ManualClock {
    fn now_for_tests(&self) -> SystemTime {
        mortar_core::Clock::now(self)
    }
}

#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    factor_store_conformance(&mortar_auth::sql::SeaOrmFactorStore::new(conn)).await;
}

sql_suites!(super::run_sql);
