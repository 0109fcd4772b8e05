//! The account flows end to end on the memory stores, with a manual clock, a capturing sender
//! and a capturing audit recorder.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use mortar_auth::Error;
use mortar_auth::account::{
    Accounts, Client, LoginOutcome, Registered, Registration, SecondFactorPolicy,
};
use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore, NewApiKey};
use mortar_auth::attempts::MemoryAttemptLimiter;
use mortar_auth::code::{CodeMessage, MemoryCodeStore, Purpose, sender_fn};
use mortar_auth::layer::AuthLayer;
use mortar_auth::password::{PasswordConfig, Passwords};
use mortar_auth::session::{MemorySessionStore, SessionCookies, Sessions};
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_auth::user::{MemoryUserStore, NewUser, User, UserChange, UserStore};
use mortar_core::Principal;
use mortar_core::audit::FnRecorder;
use mortar_core::{AuditEvent, ManualClock, Outcome, Problem};
use secrecy::ExposeSecret as _;
use tower::ServiceExt as _;

const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Default)]
struct Captured {
    messages: Arc<Mutex<Vec<(Purpose, String, String)>>>,
    events: Arc<Mutex<Vec<AuditEvent>>>,
}

impl Captured {
    fn last_secret(&self, purpose: Purpose) -> String {
        let messages = self.messages.lock().unwrap();
        let (_, _, secret) = messages
            .iter()
            .rev()
            .find(|(p, _, _)| *p == purpose)
            .unwrap_or_else(|| panic!("no {purpose:?} message"));
        secret.clone()
    }

    fn count(&self, purpose: Purpose) -> usize {
        let messages = self.messages.lock().unwrap();
        messages.iter().filter(|(p, _, _)| *p == purpose).count()
    }

    fn actions(&self) -> Vec<(String, Outcome, Option<String>)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                let reason = e
                    .metadata
                    .get("reason")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned);
                (e.action.to_string(), e.outcome, reason)
            })
            .collect()
    }
}

struct Setup {
    accounts: Accounts,
    users: Arc<MemoryUserStore>,
    clock: ManualClock,
    captured: Captured,
}

fn fast_passwords() -> Passwords {
    Passwords::with_weak_config(PasswordConfig::default().cost(256, 1, 1).allow_weak_cost())
        .unwrap()
}

fn setup_with(second_factor: Option<Arc<dyn SecondFactorPolicy>>) -> Setup {
    let users = Arc::new(MemoryUserStore::new());
    let clock = ManualClock::default();
    let captured = Captured::default();
    let messages = captured.messages.clone();
    let events = captured.events.clone();
    let mut builder = Accounts::builder(users.clone(), Arc::new(MemoryCodeStore::new()))
        .passwords(fast_passwords())
        .clock(clock.clone())
        .limiter(
            MemoryAttemptLimiter::new()
                .free_failures(3)
                .clock(clock.clone()),
        )
        .sender(sender_fn(move |m: CodeMessage| {
            let messages = messages.clone();
            async move {
                messages.lock().unwrap().push((
                    m.purpose,
                    m.user.email.clone(),
                    m.secret.expose_secret().to_owned(),
                ));
                Ok(())
            }
        }))
        .recorder(FnRecorder::new(move |e| events.lock().unwrap().push(e)));
    if let Some(policy) = second_factor {
        #[derive(Debug)]
        struct Shared(Arc<dyn SecondFactorPolicy>);
        #[async_trait::async_trait]
        impl SecondFactorPolicy for Shared {
            async fn required(&self, user: &User) -> Result<bool, Error> {
                self.0.required(user).await
            }
        }
        builder = builder.second_factor(Shared(policy));
    }
    Setup {
        accounts: builder.build(),
        users,
        clock,
        captured,
    }
}

fn setup() -> Setup {
    setup_with(None)
}

fn client() -> Client {
    Client {
        ip: Some("203.0.113.7".parse().unwrap()),
        user_agent: Some("tests/1.0".into()),
        request_id: Some("req-1".into()),
    }
}

async fn register(s: &Setup, email: &str) -> User {
    match s
        .accounts
        .register(Registration::new(email, PASSWORD), &client())
        .await
        .unwrap()
    {
        Registered::Created(user) => user,
        other => panic!("{other:?}"),
    }
}

fn problem_json(err: Error) -> (u16, String) {
    let problem = Problem::from(err);
    (
        problem.status().as_u16(),
        String::from_utf8(problem.to_json().to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn register_verify_and_log_in() {
    let s = setup();
    let user = register(&s, "Alice@Example.com").await;
    assert!(!user.is_email_verified());
    assert!(
        user.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$")
    );

    let token = s.captured.last_secret(Purpose::VerifyEmail);
    // A verification token is not a reset token.
    assert!(matches!(
        s.accounts
            .reset_password(&token, "another fine passphrase", &client())
            .await,
        Err(Error::InvalidCode)
    ));
    let token_again = {
        s.accounts
            .resend_verification("alice@example.com")
            .await
            .unwrap();
        s.captured.last_secret(Purpose::VerifyEmail)
    };
    assert_ne!(token, token_again);
    let verified = s
        .accounts
        .verify_email(&token_again, &client())
        .await
        .unwrap();
    assert!(verified.is_email_verified());
    assert!(
        matches!(
            s.accounts.verify_email(&token_again, &client()).await,
            Err(Error::InvalidCode)
        ),
        "single use"
    );

    match s
        .accounts
        .login("alice@EXAMPLE.com", PASSWORD, &client())
        .await
        .unwrap()
    {
        LoginOutcome::Authenticated {
            user: logged_in,
            principal,
        } => {
            assert_eq!(logged_in.id, user.id);
            assert_eq!(principal.subject(), user.id.to_string());
            assert_eq!(principal.authentication().amr(), vec!["pwd"]);
            assert!(principal.authentication().at().is_some());
        }
        other => panic!("{other:?}"),
    }
    let actions = s.captured.actions();
    assert!(actions.contains(&("auth.user.registered".into(), Outcome::Success, None)));
    assert!(actions.contains(&("auth.email.verified".into(), Outcome::Success, None)));
    assert!(actions.contains(&("auth.login".into(), Outcome::Success, None)));
}

#[tokio::test]
async fn registration_checks_input_and_does_not_reveal_taken_addresses() {
    let s = setup();
    assert!(matches!(
        s.accounts
            .register(Registration::new("not-an-address", PASSWORD), &client())
            .await,
        Err(Error::InvalidEmail)
    ));
    assert!(matches!(
        s.accounts
            .register(Registration::new("bob@example.com", "password1"), &client())
            .await,
        Err(Error::WeakPassword(_))
    ));
    register(&s, "bob@example.com").await;
    let again = s
        .accounts
        .register(
            Registration::new("BOB@example.com", "another fine passphrase"),
            &client(),
        )
        .await
        .unwrap();
    assert!(matches!(again, Registered::AlreadyRegistered));
    // The owner was told, with a reset link; nothing was created.
    assert_eq!(s.captured.count(Purpose::AccountExists), 1);
    let reset_link = s.captured.last_secret(Purpose::AccountExists);
    s.accounts
        .reset_password(&reset_link, "another fine passphrase", &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn login_failures_are_indistinguishable() {
    let s = setup();
    let user = register(&s, "carol@example.com").await;
    let disabled = register(&s, "dave@example.com").await;
    s.users
        .update(
            disabled.id,
            UserChange::Disabled(true),
            s.clock.now_for_tests(),
        )
        .await
        .unwrap();
    let passwordless = s
        .users
        .create(NewUser::new("erin@example.com"), s.clock.now_for_tests())
        .await
        .unwrap();
    let _ = passwordless;

    let mut answers = Vec::new();
    for (identifier, password) in [
        ("nobody@example.com", PASSWORD),
        ("carol@example.com", "wrong password here"),
        ("dave@example.com", PASSWORD),
        ("erin@example.com", PASSWORD),
    ] {
        let err = s
            .accounts
            .login(identifier, password, &Client::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidCredentials),
            "{identifier}: {err:?}"
        );
        answers.push(problem_json(err));
    }
    // Lock carol (3 free failures) and try the right password: same answer.
    for _ in 0..3 {
        let _ = s
            .accounts
            .login("carol@example.com", "wrong again", &Client::default())
            .await;
    }
    let locked = s
        .accounts
        .login("carol@example.com", PASSWORD, &Client::default())
        .await
        .unwrap_err();
    assert!(matches!(locked, Error::InvalidCredentials));
    answers.push(problem_json(locked));
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert_eq!(answers[0].0, 401);

    let reasons: Vec<_> = s
        .captured
        .actions()
        .into_iter()
        .filter(|(a, o, _)| a == "auth.login" && *o == Outcome::Failure)
        .filter_map(|(_, _, r)| r)
        .collect();
    for reason in [
        "unknown_account",
        "wrong_password",
        "disabled",
        "no_password",
        "locked",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} not audited: {reasons:?}"
        );
    }
    assert!(
        s.captured
            .actions()
            .iter()
            .any(|(a, _, _)| a == "auth.lockout")
    );
    let _ = user;
}

#[tokio::test]
async fn lockout_lifts_with_time_and_success_resets_the_count() {
    let s = setup();
    register(&s, "frank@example.com").await;
    for _ in 0..4 {
        let _ = s
            .accounts
            .login("frank@example.com", "wrong password", &Client::default())
            .await;
    }
    assert!(
        s.accounts
            .login("frank@example.com", PASSWORD, &Client::default())
            .await
            .is_err()
    );
    s.clock.advance(Duration::from_mins(20));
    assert!(
        s.accounts
            .login("frank@example.com", PASSWORD, &Client::default())
            .await
            .is_ok()
    );
    // After the success the count starts again: three free failures, then a lock.
    for _ in 0..3 {
        let _ = s
            .accounts
            .login("frank@example.com", "wrong password", &Client::default())
            .await;
    }
    assert!(
        s.accounts
            .login("frank@example.com", PASSWORD, &Client::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn failures_also_count_per_client_address() {
    let s = setup();
    register(&s, "gina@example.com").await;
    let attacker = client();
    // Spraying many accounts from one address locks the address.
    for i in 0..4 {
        let _ = s
            .accounts
            .login(&format!("victim{i}@example.com"), "guess", &attacker)
            .await;
    }
    assert!(
        s.accounts
            .login("gina@example.com", PASSWORD, &attacker)
            .await
            .is_err()
    );
    assert!(
        s.accounts
            .login("gina@example.com", PASSWORD, &Client::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn legacy_hashes_are_upgraded_at_login() {
    let s = setup();
    let bcrypt = bcrypt::hash(PASSWORD, 4).unwrap();
    let user = s
        .users
        .create(
            NewUser::new("henry@example.com").password_hash(bcrypt),
            s.clock.now_for_tests(),
        )
        .await
        .unwrap();
    s.accounts
        .login("henry@example.com", PASSWORD, &Client::default())
        .await
        .unwrap();
    let stored = s
        .users
        .by_id(user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    s.accounts
        .login("henry@example.com", PASSWORD, &Client::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn password_reset_revokes_tokens_and_is_single_use() {
    let s = setup();
    let user = register(&s, "ivy@example.com").await;

    // Unknown addresses get the same answer and no message.
    s.accounts
        .request_password_reset("nobody@example.com", &client())
        .await
        .unwrap();
    assert_eq!(s.captured.count(Purpose::ResetPassword), 0);

    s.accounts
        .request_password_reset("IVY@example.com", &client())
        .await
        .unwrap();
    let first = s.captured.last_secret(Purpose::ResetPassword);
    s.accounts
        .request_password_reset("ivy@example.com", &client())
        .await
        .unwrap();
    let second = s.captured.last_secret(Purpose::ResetPassword);
    assert!(
        matches!(
            s.accounts
                .reset_password(&first, "a brand new passphrase", &client())
                .await,
            Err(Error::InvalidCode)
        ),
        "a newer request supersedes the older link"
    );

    s.clock.advance(Duration::from_secs(5));
    assert!(matches!(
        s.accounts
            .reset_password(&second, "password1", &client())
            .await,
        Err(Error::WeakPassword(_))
    ));
    s.accounts
        .request_password_reset("ivy@example.com", &client())
        .await
        .unwrap();
    let third = s.captured.last_secret(Purpose::ResetPassword);
    let after = s
        .accounts
        .reset_password(&third, "a brand new passphrase", &client())
        .await
        .unwrap();
    assert_eq!(
        after.tokens_valid_after,
        Some(s.clock.now_for_tests()),
        "earlier tokens revoked"
    );
    assert!(matches!(
        s.accounts
            .reset_password(&third, "yet another passphrase", &client())
            .await,
        Err(Error::InvalidCode)
    ));
    assert!(
        s.accounts
            .login("ivy@example.com", PASSWORD, &Client::default())
            .await
            .is_err()
    );
    assert!(
        s.accounts
            .login(
                "ivy@example.com",
                "a brand new passphrase",
                &Client::default()
            )
            .await
            .is_ok()
    );

    // Expired links do not work.
    s.accounts
        .request_password_reset("ivy@example.com", &client())
        .await
        .unwrap();
    let expired = s.captured.last_secret(Purpose::ResetPassword);
    s.clock.advance(Duration::from_mins(31));
    assert!(matches!(
        s.accounts
            .reset_password(&expired, "one more fine passphrase", &client())
            .await,
        Err(Error::InvalidCode)
    ));
    let _ = user;
}

#[tokio::test]
async fn reset_requests_are_limited_per_address() {
    let s = setup();
    register(&s, "jack@example.com").await;
    for _ in 0..10 {
        s.accounts
            .request_password_reset("jack@example.com", &client())
            .await
            .unwrap();
    }
    assert_eq!(
        s.captured.count(Purpose::ResetPassword),
        3,
        "free_failures(3) caps the mails"
    );
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_revokes_tokens() {
    let s = setup();
    let user = register(&s, "kate@example.com").await;
    assert!(matches!(
        s.accounts
            .change_password(user.id, "not it", "a brand new passphrase", &client())
            .await,
        Err(Error::InvalidCredentials)
    ));
    s.clock.advance(Duration::from_secs(1));
    let changed = s
        .accounts
        .change_password(user.id, PASSWORD, "a brand new passphrase", &client())
        .await
        .unwrap();
    assert_eq!(changed.tokens_valid_after, Some(s.clock.now_for_tests()));
    assert!(
        s.accounts
            .login(
                "kate@example.com",
                "a brand new passphrase",
                &Client::default()
            )
            .await
            .is_ok()
    );
    let actions = s.captured.actions();
    assert!(actions.contains(&(
        "auth.password.changed".into(),
        Outcome::Failure,
        Some("wrong_password".into())
    )));
    assert!(actions.contains(&("auth.password.changed".into(), Outcome::Success, None)));
}

#[tokio::test]
async fn a_second_factor_turns_login_into_a_challenge() {
    #[derive(Debug)]
    struct Always;
    #[async_trait::async_trait]
    impl SecondFactorPolicy for Always {
        async fn required(&self, _user: &User) -> Result<bool, Error> {
            Ok(true)
        }
    }
    let s = setup_with(Some(Arc::new(Always)));
    let user = register(&s, "leo@example.com").await;
    match s
        .accounts
        .login("leo@example.com", PASSWORD, &Client::default())
        .await
        .unwrap()
    {
        LoginOutcome::SecondFactorRequired {
            user_id,
            challenge,
            expires_at,
        } => {
            assert_eq!(user_id, user.id);
            // `pwd.` names the first factor, then 256 random bits.
            let (first, random) = challenge.expose_secret().split_once('.').unwrap();
            assert_eq!((first, random.len()), ("pwd", 43));
            assert_eq!(expires_at, s.clock.now_for_tests() + Duration::from_mins(5));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let reg = Registration::new("mia@example.com", "my secret passphrase");
    assert!(!format!("{reg:?}").contains("secret passphrase"));
    let s = setup();
    let user = register(&s, "mia@example.com").await;
    assert!(!format!("{user:?}").contains("argon2"));
    assert!(!format!("{:?}", s.accounts).contains("argon2"));
}

/// `ManualClock::now` through the `Clock` trait, without importing it in every test.
trait NowForTests {
    fn now_for_tests(&self) -> std::time::SystemTime;
}

impl NowForTests for ManualClock {
    fn now_for_tests(&self) -> std::time::SystemTime {
        mortar_core::Clock::now(self)
    }
}

#[tokio::test]
async fn a_reset_revokes_access_tokens_at_once() {
    use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};

    let clock = ManualClock::default();
    let users = Arc::new(MemoryUserStore::new());
    let tokens = AccessTokens::builder(
        KeyRing::new(SigningKey::generate_ed25519("k").unwrap()),
        "iss",
        "aud",
    )
    .clock(clock.clone())
    .build();
    let captured = Captured::default();
    let messages = captured.messages.clone();
    let accounts = Accounts::builder(users.clone(), Arc::new(MemoryCodeStore::new()))
        .passwords(fast_passwords())
        .clock(clock.clone())
        .revocations(tokens.revocations().clone())
        .sender(sender_fn(move |m: CodeMessage| {
            let messages = messages.clone();
            async move {
                messages.lock().unwrap().push((
                    m.purpose,
                    m.user.email.clone(),
                    m.secret.expose_secret().to_owned(),
                ));
                Ok(())
            }
        }))
        .build();
    let Registered::Created(user) = accounts
        .register(Registration::new("nora@example.com", PASSWORD), &client())
        .await
        .unwrap()
    else {
        panic!("not created");
    };
    let principal = Principal::user(user.id.to_string()).build();
    let before = tokens.issue(&principal).unwrap();
    tokens.verify(before.token()).await.unwrap();

    clock.advance(Duration::from_secs(1));
    accounts
        .request_password_reset("nora@example.com", &client())
        .await
        .unwrap();
    let link = captured.last_secret(Purpose::ResetPassword);
    accounts
        .reset_password(&link, "a brand new passphrase", &client())
        .await
        .unwrap();
    assert!(
        tokens.verify(before.token()).await.is_err(),
        "issued before the reset"
    );

    clock.advance(Duration::from_secs(1));
    let after = tokens.issue(&principal).unwrap();
    tokens.verify(after.token()).await.unwrap();
}

/// Accounts, sessions and API keys on memory stores, behind an `AuthLayer` with all three
/// authenticators on `/me`; events captured.
fn full_stack() -> (Accounts, Sessions, ApiKeys, axum::Router, Captured) {
    let users = Arc::new(MemoryUserStore::new());
    let captured = Captured::default();
    let events = captured.events.clone();
    let tokens = AccessTokens::builder(
        KeyRing::new(SigningKey::generate_ed25519("k1").unwrap()),
        "iss",
        "aud",
    )
    .build();
    let sessions = Sessions::new(
        Arc::new(MemorySessionStore::new()),
        users.clone(),
        tokens.clone(),
    );
    let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "acme").unwrap();
    let cookies = SessionCookies::new(sessions.clone());
    let accounts = Accounts::builder(users.clone(), Arc::new(MemoryCodeStore::new()))
        .passwords(fast_passwords())
        .sender(sender_fn(|_| async { Ok(()) }))
        .sessions(sessions.clone())
        .api_keys(keys.clone())
        .recorder(FnRecorder::new(move |e: AuditEvent| {
            events.lock().unwrap().push(e);
        }))
        .build();
    let app = axum::Router::new()
        .route(
            "/me",
            get(|p: Principal| async move { p.subject().to_owned() }),
        )
        .layer(
            AuthLayer::required()
                .with(tokens.clone())
                .with(keys.clone())
                .with(cookies.clone()),
        );
    (accounts, sessions, keys, app, captured)
}

/// `Accounts::disable_user`: one call ends logins, sessions (refresh and cookie), access tokens
/// and API keys; the layer refuses them all; re-enabling allows new logins only.
#[tokio::test]
async fn disabling_a_user_ends_everything_at_once() {
    let (accounts, sessions, keys, app, captured) = full_stack();
    let status = |header: (&'static str, String)| {
        let app = app.clone();
        async move {
            let req = http::Request::get("/me")
                .header(header.0, header.1)
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status().as_u16()
        }
    };

    let client = client();
    accounts
        .register(Registration::new("dee@example.com", PASSWORD), &client)
        .await
        .unwrap();
    let LoginOutcome::Authenticated { user, principal } = accounts
        .login("dee@example.com", PASSWORD, &client)
        .await
        .unwrap()
    else {
        panic!("no second factor configured")
    };
    let app_session = sessions.start(&user, &principal, &client).await.unwrap();
    let browser = sessions
        .start_cookie(&user, &principal, &client)
        .await
        .unwrap();
    let (_, key) = keys
        .create(NewApiKey::new(user.id.to_string(), "ci"))
        .await
        .unwrap();
    let bearer = (
        "authorization",
        format!("Bearer {}", app_session.access.token()),
    );
    let cookie = (
        "cookie",
        format!("__Host-mortar_session={}", browser.secret.expose_secret()),
    );
    let api_key = ("x-api-key", key);
    for credential in [bearer.clone(), cookie.clone(), api_key.clone()] {
        assert_eq!(status(credential).await, 200);
    }

    let admin = Principal::user("admin-1").build();
    let disabled = accounts
        .disable_user(user.id, &admin, &client)
        .await
        .unwrap();
    assert!(disabled.is_disabled());

    // Refused at login (the same error as a wrong password) and by the layer, at once.
    assert!(matches!(
        accounts.login("dee@example.com", PASSWORD, &client).await,
        Err(Error::InvalidCredentials)
    ));
    for credential in [bearer.clone(), cookie.clone(), api_key.clone()] {
        assert_eq!(status(credential.clone()).await, 401, "{}", credential.0);
    }
    assert!(
        sessions
            .refresh(app_session.refresh.expose_secret(), &client)
            .await
            .is_err()
    );
    assert!(sessions.list(user.id).await.unwrap().is_empty());
    let event = captured
        .events
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.action == "auth.user.disabled")
        .cloned()
        .unwrap();
    assert_eq!(event.actor.unwrap().subject, "admin-1");
    assert_eq!(event.target.unwrap().id, user.id.to_string());

    // Re-enabled: new logins work; what was ended stays ended.
    accounts
        .enable_user(user.id, &admin, &client)
        .await
        .unwrap();
    assert!(matches!(
        accounts.login("dee@example.com", PASSWORD, &client).await,
        Ok(LoginOutcome::Authenticated { .. })
    ));
    for credential in [bearer, cookie, api_key] {
        assert_eq!(status(credential.clone()).await, 401, "{}", credential.0);
    }
    assert!(matches!(
        accounts
            .disable_user(mortar_auth::user::UserId::new(), &admin, &client)
            .await,
        Err(Error::NotFound)
    ));
}
