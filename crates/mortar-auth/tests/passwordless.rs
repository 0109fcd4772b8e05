//! Passwordless login: magic links and e-mailed codes — single use, expiry, a new one replacing
//! the old, silence about unknown addresses, the attempt limit on codes, and the second factor
//! still asked for afterwards.

#[macro_use]
mod common;

use common::{FixedSecondFactor, amr};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mortar_auth::Error;
use mortar_auth::account::{Accounts, Client, LoginOutcome, Proof};
use mortar_auth::attempts::MemoryAttemptLimiter;
use mortar_auth::code::{CodeMessage, MemoryCodeStore, Purpose, sender_fn};
use mortar_auth::user::{MemoryUserStore, NewUser, User, UserChange, UserStore as _};
use mortar_core::ManualClock;
use secrecy::ExposeSecret as _;

type Inbox = Arc<Mutex<Vec<(Purpose, String, String)>>>;

struct Setup {
    accounts: Accounts,
    users: Arc<MemoryUserStore>,
    clock: ManualClock,
    inbox: Inbox,
}

impl Setup {
    fn new() -> Self {
        let users = Arc::new(MemoryUserStore::new());
        let clock = ManualClock::default();
        let inbox = Inbox::default();
        let sent = inbox.clone();
        let accounts = Accounts::builder(users.clone(), Arc::new(MemoryCodeStore::new()))
            .clock(clock.clone())
            .limiter(
                MemoryAttemptLimiter::new()
                    .free_failures(3)
                    .clock(clock.clone()),
            )
            .second_factor(FixedSecondFactor)
            .sender(sender_fn(move |m: CodeMessage| {
                let sent = sent.clone();
                async move {
                    sent.lock().unwrap().push((
                        m.purpose,
                        m.user.email.clone(),
                        m.secret.expose_secret().to_owned(),
                    ));
                    Ok(())
                }
            }))
            .build();
        Self {
            accounts,
            users,
            clock,
            inbox,
        }
    }

    async fn user(&self, email: &str) -> User {
        self.users
            .create(NewUser::new(email), self.clock.now_for_tests())
            .await
            .unwrap()
    }

    fn last(&self, purpose: Purpose, email: &str) -> Option<String> {
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(p, to, _)| *p == purpose && to == email)
            .map(|(_, _, secret)| secret.clone())
    }

    fn sent(&self) -> usize {
        self.inbox.lock().unwrap().len()
    }
}

trait NowForTests {
    fn now_for_tests(&self) -> std::time::SystemTime;
}

impl NowForTests for ManualClock {
    fn now_for_tests(&self) -> std::time::SystemTime {
        mortar_core::Clock::now(self)
    }
}

fn client() -> Client {
    Client {
        ip: Some("198.51.100.4".parse().unwrap()),
        ..Client::default()
    }
}

#[tokio::test]
async fn magic_links_are_single_use_expire_and_replace_each_other() {
    let s = Setup::new();
    let ada = s.user("ada@example.com").await;
    assert!(!ada.is_email_verified());

    s.accounts
        .request_login_link("ada@example.com", &client())
        .await
        .unwrap();
    let first = s.last(Purpose::Passwordless, "ada@example.com").unwrap();
    assert_eq!(first.len(), 43, "256 random bits, base64url");
    let outcome = s.accounts.login_with_link(&first, &client()).await.unwrap();
    assert_eq!(amr(outcome), ["email"]);
    // Opening the link proved the address.
    assert!(
        s.users
            .by_id(ada.id)
            .await
            .unwrap()
            .unwrap()
            .is_email_verified()
    );
    // Used once.
    assert!(matches!(
        s.accounts.login_with_link(&first, &client()).await,
        Err(Error::InvalidCode)
    ));

    // A new link replaces an unused older one.
    s.clock.advance(Duration::from_secs(1));
    s.accounts
        .request_login_link("ada@example.com", &client())
        .await
        .unwrap();
    let older = s.last(Purpose::Passwordless, "ada@example.com").unwrap();
    s.accounts
        .request_login_link("ada@example.com", &client())
        .await
        .unwrap();
    let newer = s.last(Purpose::Passwordless, "ada@example.com").unwrap();
    assert_ne!(older, newer);
    assert!(s.accounts.login_with_link(&older, &client()).await.is_err());

    // Expired after 15 minutes.
    s.clock
        .advance(Duration::from_mins(15) + Duration::from_secs(1));
    assert!(matches!(
        s.accounts.login_with_link(&newer, &client()).await,
        Err(Error::InvalidCode)
    ));

    // A link is no other kind of code, and no other code is a link.
    assert!(s.accounts.verify_email(&newer, &client()).await.is_err());
}

#[tokio::test]
async fn unknown_disabled_and_flooded_addresses_get_nothing() {
    let s = Setup::new();
    s.accounts
        .request_login_link("nobody@example.com", &client())
        .await
        .unwrap();
    s.accounts
        .request_login_code("nobody@example.com", &client())
        .await
        .unwrap();
    assert_eq!(s.sent(), 0, "the same answer, and no mail");

    let bob = s.user("bob@example.com").await;
    s.accounts
        .request_login_link("bob@example.com", &client())
        .await
        .unwrap();
    let link = s.last(Purpose::Passwordless, "bob@example.com").unwrap();
    s.users
        .update(bob.id, UserChange::Disabled(true), s.clock.now_for_tests())
        .await
        .unwrap();
    assert!(s.accounts.login_with_link(&link, &client()).await.is_err());
    let before = s.sent();
    s.accounts
        .request_login_link("bob@example.com", &client())
        .await
        .unwrap();
    assert_eq!(s.sent(), before, "disabled accounts get no link");

    // Requests per address are limited: the limiter allows 3 free, then locks.
    s.user("cy@example.com").await;
    for _ in 0..10 {
        s.accounts
            .request_login_link("cy@example.com", &client())
            .await
            .unwrap();
    }
    let to_cy = s
        .inbox
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, to, _)| to == "cy@example.com")
        .count();
    assert!(to_cy <= 4, "{to_cy} links sent");
}

#[tokio::test]
async fn login_codes_are_limited_single_use_and_bound_to_the_address() {
    let s = Setup::new();
    s.user("dee@example.com").await;
    s.user("eli@example.com").await;
    s.accounts
        .request_login_code("dee@example.com", &client())
        .await
        .unwrap();
    let code = s.last(Purpose::LoginCode, "dee@example.com").unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));

    // Dee's code is not Eli's.
    assert!(matches!(
        s.accounts
            .login_with_code("eli@example.com", &code, &client())
            .await,
        Err(Error::InvalidCode)
    ));
    let outcome = s
        .accounts
        .login_with_code("dee@example.com", &format!(" {code} "), &client())
        .await
        .unwrap();
    assert_eq!(amr(outcome), ["email"]);
    assert!(
        s.accounts
            .login_with_code("dee@example.com", &code, &client())
            .await
            .is_err(),
        "single use"
    );

    // Guessing locks the address: then even the right code is refused until the lock ends.
    s.clock.advance(Duration::from_hours(1));
    s.accounts
        .request_login_code("dee@example.com", &client())
        .await
        .unwrap();
    let code = s.last(Purpose::LoginCode, "dee@example.com").unwrap();
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..4 {
        assert!(
            s.accounts
                .login_with_code("dee@example.com", wrong, &client())
                .await
                .is_err()
        );
    }
    assert!(matches!(
        s.accounts
            .login_with_code("dee@example.com", &code, &client())
            .await,
        Err(Error::InvalidCode)
    ));
    // The lock does not spend the code: after it lifts, the right code works.
    s.clock.advance(Duration::from_mins(14));
    let outcome = s
        .accounts
        .login_with_code("dee@example.com", &code, &client())
        .await;
    assert!(
        matches!(outcome, Ok(LoginOutcome::Authenticated { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn passwordless_is_only_the_first_factor() {
    let s = Setup::new();
    s.user("2fa@example.com").await;
    s.accounts
        .request_login_link("2fa@example.com", &client())
        .await
        .unwrap();
    let link = s.last(Purpose::Passwordless, "2fa@example.com").unwrap();
    let LoginOutcome::SecondFactorRequired { challenge, .. } =
        s.accounts.login_with_link(&link, &client()).await.unwrap()
    else {
        panic!("the link alone logged in");
    };
    let challenge = challenge.expose_secret().to_owned();
    assert!(challenge.starts_with("email."));
    // The challenge's first method cannot be rewritten: the hash covers it.
    let forged = challenge.replacen("email.", "hwk.", 1);
    assert!(
        s.accounts
            .complete_login(&forged, &Proof::totp("246810"), &client())
            .await
            .is_err()
    );
    assert!(
        s.accounts
            .complete_login(&challenge, &Proof::totp("111111"), &client())
            .await
            .is_err()
    );
    let outcome = s
        .accounts
        .complete_login(&challenge, &Proof::totp("246810"), &client())
        .await
        .unwrap();
    assert_eq!(amr(outcome), ["email", "otp", "mfa"]);

    // The code path too.
    s.accounts
        .request_login_code("2fa@example.com", &client())
        .await
        .unwrap();
    let code = s.last(Purpose::LoginCode, "2fa@example.com").unwrap();
    assert!(matches!(
        s.accounts
            .login_with_code("2fa@example.com", &code, &client())
            .await
            .unwrap(),
        LoginOutcome::SecondFactorRequired { .. }
    ));
}
