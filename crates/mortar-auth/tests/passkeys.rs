//! Passkeys (feature `webauthn`) with webauthn-authenticator-rs's software authenticator:
//! registration, passwordless login, a second factor after the password, single-use
//! ceremonies, the wrong origin or user refused, options for unknown addresses, and the passkey
//! store's conformance suite on every backend.
#![cfg(feature = "webauthn")]
#![allow(clippy::too_many_lines, reason = "journeys, step by step")]

#[macro_use]
mod common;

use common::amr;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mortar_auth::Error;
use mortar_auth::account::{Accounts, AnyFactor, Client, LoginOutcome, Proof, Registration};
use mortar_auth::code::MemoryCodeStore;
use mortar_auth::passkey::{MemoryPasskeyStore, PasskeyCredential, PasskeyStore, Passkeys};
use mortar_auth::password::{PasswordConfig, Passwords};
use mortar_auth::seal::Sealer;
use mortar_auth::user::{MemoryUserStore, NewUser, User, UserId, UserStore as _};
use secrecy::ExposeSecret as _;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const ORIGIN: &str = "https://app.example.com";
const PASSWORD: &str = "correct horse battery staple";

struct Setup {
    accounts: Accounts,
    passkeys: Passkeys,
    users: Arc<MemoryUserStore>,
}

fn setup_with(store: Arc<dyn PasskeyStore>) -> Setup {
    let users = Arc::new(MemoryUserStore::new());
    let codes = Arc::new(MemoryCodeStore::new());
    let passkeys = Passkeys::new(
        "example.com",
        ORIGIN,
        users.clone(),
        store,
        codes.clone(),
        Sealer::new("k", &[4; 32]).unwrap(),
    )
    .unwrap();
    let accounts = Accounts::builder(users.clone(), codes)
        .passwords(
            Passwords::with_weak_config(
                PasswordConfig::default().cost(256, 1, 1).allow_weak_cost(),
            )
            .unwrap(),
        )
        .second_factor(AnyFactor::new().with(passkeys.clone()))
        .sender(mortar_auth::code::sender_fn(|_| async { Ok(()) }))
        .build();
    Setup {
        accounts,
        passkeys,
        users,
    }
}

fn setup() -> Setup {
    setup_with(Arc::new(MemoryPasskeyStore::new()))
}

fn origin() -> url::Url {
    url::Url::parse(ORIGIN).unwrap()
}

fn client() -> Client {
    Client::default()
}

/// Registers a passkey of `authenticator` for `user`.
async fn register(
    s: &Setup,
    authenticator: &mut SoftPasskey,
    user: &User,
    name: &str,
) -> PasskeyCredential {
    let started = s.passkeys.start_registration(user).await.unwrap();
    let response = authenticator
        .do_registration(origin(), started.options)
        .unwrap();
    s.passkeys
        .finish_registration(
            user.id,
            started.ceremony.expose_secret(),
            &response,
            name,
            &client(),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn register_then_log_in_without_a_password() {
    let s = setup();
    let user = s
        .users
        .create(NewUser::new("pat@example.com"), SystemTime::now())
        .await
        .unwrap();
    let mut authenticator = SoftPasskey::new(true);
    let credential = register(&s, &mut authenticator, &user, "  Laptop  ").await;
    assert_eq!(credential.name, "Laptop");
    assert_eq!(s.passkeys.list(user.id).await.unwrap().len(), 1);

    let started = s.passkeys.start_login("PAT@example.com").await.unwrap();
    let allowed: Vec<&[u8]> = started
        .options
        .public_key
        .allow_credentials
        .iter()
        .map(|c| c.id.as_slice())
        .collect();
    assert_eq!(allowed, [credential.passkey.cred_id().as_slice()]);
    let assertion = authenticator
        .do_authentication(origin(), started.options)
        .unwrap();
    let outcome = s
        .passkeys
        .finish_login(
            &s.accounts,
            started.ceremony.expose_secret(),
            &assertion,
            &client(),
        )
        .await
        .unwrap();
    assert_eq!(
        amr(outcome),
        ["hwk", "mfa"],
        "user verification: multi-factor"
    );
    assert!(
        s.passkeys.list(user.id).await.unwrap()[0]
            .last_used_at
            .is_some()
    );
    // A ceremony completes once.
    assert!(matches!(
        s.passkeys
            .finish_login(
                &s.accounts,
                started.ceremony.expose_secret(),
                &assertion,
                &client()
            )
            .await,
        Err(Error::InvalidCode)
    ));

    // Removal: then the address has no passkey to sign in with.
    s.passkeys
        .remove(user.id, &credential.id, &client())
        .await
        .unwrap();
    assert!(matches!(
        s.passkeys.remove(user.id, &credential.id, &client()).await,
        Err(Error::NotFound)
    ));
}

#[tokio::test]
async fn ceremonies_are_bound_to_their_user_origin_and_kind() {
    let s = setup();
    let ann = s
        .users
        .create(NewUser::new("ann@example.com"), SystemTime::now())
        .await
        .unwrap();
    let bob = s
        .users
        .create(NewUser::new("bob@example.com"), SystemTime::now())
        .await
        .unwrap();
    let mut authenticator = SoftPasskey::new(true);

    // Ann's registration ceremony does not register a passkey for Bob.
    let started = s.passkeys.start_registration(&ann).await.unwrap();
    let response = authenticator
        .do_registration(origin(), started.options)
        .unwrap();
    assert!(matches!(
        s.passkeys
            .finish_registration(
                bob.id,
                started.ceremony.expose_secret(),
                &response,
                "x",
                &client()
            )
            .await,
        Err(Error::InvalidCode)
    ));
    // The ceremony was spent by that attempt.
    assert!(
        s.passkeys
            .finish_registration(
                ann.id,
                started.ceremony.expose_secret(),
                &response,
                "x",
                &client()
            )
            .await
            .is_err()
    );
    register(&s, &mut authenticator, &ann, "Key").await;

    // An assertion made for another origin is refused.
    let started = s.passkeys.start_login("ann@example.com").await.unwrap();
    let phished = authenticator
        .do_authentication(
            url::Url::parse("https://login.example.com").unwrap(),
            started.options,
        )
        .unwrap();
    assert!(matches!(
        s.passkeys
            .finish_login(
                &s.accounts,
                started.ceremony.expose_secret(),
                &phished,
                &client()
            )
            .await,
        Err(Error::InvalidCode)
    ));
    // A forged ceremony value is refused.
    assert!(
        s.passkeys
            .finish_login(&s.accounts, "k.AAAA", &phished, &client())
            .await
            .is_err()
    );
    // A registration ceremony does not complete a login.
    let registration = s.passkeys.start_registration(&ann).await.unwrap();
    let started = s.passkeys.start_login("ann@example.com").await.unwrap();
    let assertion = authenticator
        .do_authentication(origin(), started.options)
        .unwrap();
    assert!(
        s.passkeys
            .finish_login(
                &s.accounts,
                registration.ceremony.expose_secret(),
                &assertion,
                &client()
            )
            .await
            .is_err()
    );
    // A user without user verification (presence only) is refused.
    let mut no_uv = SoftPasskey::new(false);
    let carl = s
        .users
        .create(NewUser::new("carl@example.com"), SystemTime::now())
        .await
        .unwrap();
    let started = s.passkeys.start_registration(&carl).await.unwrap();
    let refused = no_uv.do_registration(origin(), started.options);
    if let Ok(response) = refused {
        assert!(
            s.passkeys
                .finish_registration(
                    carl.id,
                    started.ceremony.expose_secret(),
                    &response,
                    "x",
                    &client()
                )
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn unknown_addresses_get_options_that_look_real() {
    let s = setup();
    let ids =
        |c: &mortar_auth::passkey::Ceremony<webauthn_rs::prelude::RequestChallengeResponse>| {
            c.options
                .public_key
                .allow_credentials
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>()
        };
    // webauthn-rs draws the number of look-alike credentials from the distribution real accounts
    // have (zero included), keyed by the address: stable per address, varied across addresses.
    let mut with_credentials = 0;
    for n in 0..20 {
        let first = s
            .passkeys
            .start_login(&format!("ghost{n}@example.com"))
            .await
            .unwrap();
        let again = s
            .passkeys
            .start_login(&format!("Ghost{n}@example.com"))
            .await
            .unwrap();
        assert_eq!(
            ids(&first),
            ids(&again),
            "stable per address, as a real account's"
        );
        assert_ne!(
            first.options.public_key.challenge,
            again.options.public_key.challenge
        );
        assert_eq!(first.options.public_key.rp_id, "example.com");
        with_credentials += usize::from(!ids(&first).is_empty());
    }
    assert!(with_credentials > 0);
}

#[tokio::test]
async fn a_passkey_is_a_second_factor_after_the_password() {
    let s = setup();
    let Ok(mortar_auth::account::Registered::Created(user)) = s
        .accounts
        .register(Registration::new("dee@example.com", PASSWORD), &client())
        .await
    else {
        panic!("not registered");
    };
    // Without a passkey, the password alone signs in.
    assert!(matches!(
        s.accounts
            .login("dee@example.com", PASSWORD, &client())
            .await
            .unwrap(),
        LoginOutcome::Authenticated { .. }
    ));
    let mut authenticator = SoftPasskey::new(true);
    register(&s, &mut authenticator, &user, "Phone").await;

    let LoginOutcome::SecondFactorRequired { challenge, .. } = s
        .accounts
        .login("dee@example.com", PASSWORD, &client())
        .await
        .unwrap()
    else {
        panic!("the password alone signed in");
    };
    let challenge = challenge.expose_secret().to_owned();
    let owner = s.accounts.challenge_user(&challenge).await.unwrap();
    assert_eq!(owner.id, user.id);
    let started = s.passkeys.start_verification(owner.id).await.unwrap();
    let assertion = authenticator
        .do_authentication(origin(), started.options)
        .unwrap();
    let proof = Proof::passkey(
        started.ceremony.expose_secret(),
        serde_json::to_value(&assertion).unwrap(),
    );
    assert_eq!(format!("{proof:?}"), "Proof::Passkey([REDACTED])");
    let outcome = s
        .accounts
        .complete_login(&challenge, &proof, &client())
        .await
        .unwrap();
    assert_eq!(amr(outcome), ["pwd", "hwk", "mfa"]);
    // No other kind of proof completes a passkey user's challenge.
    let LoginOutcome::SecondFactorRequired { challenge, .. } = s
        .accounts
        .login("dee@example.com", PASSWORD, &client())
        .await
        .unwrap()
    else {
        panic!("the password alone signed in");
    };
    assert!(matches!(
        s.accounts
            .complete_login(challenge.expose_secret(), &Proof::totp("123456"), &client())
            .await,
        Err(Error::InvalidCode)
    ));
    assert!(matches!(
        s.passkeys.start_verification(UserId::new()).await,
        Err(Error::NotFound)
    ));
}

/// The contract every passkey store keeps.
async fn passkey_store_conformance(store: Arc<dyn PasskeyStore>) {
    // Real passkeys, made by the software authenticator against an in-memory setup.
    let maker = setup();
    let mut authenticator = SoftPasskey::new(true);
    let someone = maker
        .users
        .create(NewUser::new("maker@example.com"), SystemTime::now())
        .await
        .unwrap();
    let one = register(&maker, &mut authenticator, &someone, "One").await;
    let two = register(&maker, &mut authenticator, &someone, "Two").await;

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let alice = UserId::new();
    let bob = UserId::new();
    let first = PasskeyCredential::new(alice, "One", one.passkey.clone(), now);
    let second = PasskeyCredential::new(
        alice,
        "Two",
        two.passkey.clone(),
        now + Duration::from_secs(1),
    );
    assert!(store.for_user(alice).await.unwrap().is_empty());
    store.insert(first.clone()).await.unwrap();
    store.insert(second.clone()).await.unwrap();
    assert!(matches!(
        store
            .insert(PasskeyCredential::new(
                bob,
                "Copy",
                one.passkey.clone(),
                now
            ))
            .await,
        Err(Error::Conflict("passkey"))
    ));
    let listed = store.for_user(alice).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["One", "Two"]
    );
    assert_eq!(listed[0].id, first.id);
    assert_eq!(listed[0].passkey.cred_id(), one.passkey.cred_id());
    assert_eq!(listed[0].created_at, now);
    assert!(store.for_user(bob).await.unwrap().is_empty());

    store
        .update(&first.id, &one.passkey, now + Duration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(
        store.for_user(alice).await.unwrap()[0].last_used_at,
        Some(now + Duration::from_mins(1))
    );
    assert!(matches!(
        store.update("unknown", &one.passkey, now).await,
        Err(Error::NotFound)
    ));
    assert!(!store.remove(bob, &first.id).await.unwrap());
    assert!(store.remove(alice, &first.id).await.unwrap());
    assert_eq!(store.for_user(alice).await.unwrap().len(), 1);
}

#[tokio::test]
async fn memory_passkey_store() {
    passkey_store_conformance(Arc::new(MemoryPasskeyStore::new())).await;
}

#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    passkey_store_conformance(Arc::new(mortar_auth::sql::SeaOrmPasskeyStore::new(conn))).await;
}

sql_suites!(super::run_sql);
