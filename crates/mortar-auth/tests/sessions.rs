//! Sessions and refresh tokens: one store conformance suite (memory, SQLite, PostgreSQL,
//! MariaDB) and the service's security behaviour on every store.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mortar_auth::Error;
use mortar_auth::account::Client;
use mortar_auth::session::{
    MemorySessionStore, Session, SessionId, SessionKind, SessionLifetimes, SessionStore, Sessions,
    TokenMatch,
};
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey, TokenError};
use mortar_auth::user::{MemoryUserStore, NewUser, User, UserChange, UserId, UserStore};
use mortar_core::{AuthMethod, Clock as _, ManualClock, Principal};
use secrecy::ExposeSecret as _;

fn session(user_id: UserId, hash: &str, now: SystemTime) -> Session {
    Session {
        id: SessionId::new(),
        kind: SessionKind::Tokens,
        user_id,
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::from_hours(24),
        ip: Some("192.0.2.1".into()),
        user_agent: Some("tests".into()),
        methods: vec!["pwd".into()],
        revoked_at: None,
        token_hash: hash.into(),
        previous_hash: None,
        generation: 0,
    }
}

/// The `SessionStore` contract: a use without rotation (cookie sessions), and the kind.
async fn touch_conformance(store: &Arc<dyn SessionStore>) {
    let now = ManualClock::default().now();
    let user = UserId::new();
    let mut c = session(user, &"9".repeat(64), now);
    c.kind = SessionKind::Cookie;
    store.create(c.clone()).await.unwrap();
    assert_eq!(store.get(&c.id).await.unwrap().unwrap(), c);
    let seen = now + Duration::from_secs(90);
    assert!(store.touch(&c.id, seen).await.unwrap());
    let touched = store.get(&c.id).await.unwrap().unwrap();
    assert_eq!(
        (touched.last_seen_at, touched.token_hash.clone()),
        (seen, c.token_hash.clone())
    );
    assert!(store.revoke(&c.id, seen).await.unwrap());
    assert!(!store.touch(&c.id, seen).await.unwrap(), "revoked");
    assert!(
        !store.touch(&SessionId::new(), seen).await.unwrap(),
        "unknown"
    );
}

/// The `SessionStore` contract.
async fn store_conformance(store: Arc<dyn SessionStore>) {
    touch_conformance(&store).await;
    let now = ManualClock::default().now();
    let user = UserId::new();
    let s = session(user, &"a".repeat(64), now);
    store.create(s.clone()).await.unwrap();
    assert_eq!(store.get(&s.id).await.unwrap().unwrap(), s);
    assert!(
        store
            .create(session(user, &"a".repeat(64), now))
            .await
            .is_err(),
        "unique hash"
    );

    // Compare-and-swap rotation, exactly one winner.
    let (h1, h2) = ("b".repeat(64), "c".repeat(64));
    assert!(
        !store
            .rotate(&s.id, &h1, &h2, now, None, None)
            .await
            .unwrap(),
        "wrong expected"
    );
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        let id = s.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .rotate(
                    &id,
                    &"a".repeat(64),
                    &format!("{i:0>64}"),
                    now,
                    Some("198.51.100.2"),
                    Some("ua2"),
                )
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
    let rotated = store.get(&s.id).await.unwrap().unwrap();
    assert_eq!(rotated.generation, 1);
    assert_eq!(
        rotated.previous_hash.as_deref(),
        Some("a".repeat(64).as_str())
    );
    assert_eq!(rotated.ip.as_deref(), Some("198.51.100.2"));
    let (found, matched) = store
        .find_by_token(&rotated.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.clone(), matched),
        (s.id.clone(), TokenMatch::Current)
    );
    let (_, matched) = store.find_by_token(&"a".repeat(64)).await.unwrap().unwrap();
    assert_eq!(matched, TokenMatch::Previous);
    assert!(store.find_by_token(&h1).await.unwrap().is_none());

    // Listing: active only, newest first; revocation.
    let later = now + Duration::from_secs(10);
    let s2 = session(user, &"d".repeat(64), later);
    store.create(s2.clone()).await.unwrap();
    let mut expired = session(user, &"e".repeat(64), now);
    expired.expires_at = now + Duration::from_secs(1);
    store.create(expired).await.unwrap();
    store
        .create(session(UserId::new(), &"f".repeat(64), now))
        .await
        .unwrap();
    let active = store.active_for_user(user, later).await.unwrap();
    let ids: Vec<_> = active.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, vec![s2.id.clone(), s.id.clone()]);
    assert!(store.revoke(&s2.id, later).await.unwrap());
    assert!(
        !store.revoke(&s2.id, later).await.unwrap(),
        "already revoked"
    );
    assert!(
        !store
            .rotate(&s2.id, &"d".repeat(64), &h2, later, None, None)
            .await
            .unwrap()
    );
    assert_eq!(store.active_for_user(user, later).await.unwrap().len(), 1);
    assert_eq!(
        store.get(&s2.id).await.unwrap().unwrap().revoked_at,
        Some(later)
    );
}

struct Setup {
    sessions: Sessions,
    users: Arc<MemoryUserStore>,
    tokens: AccessTokens,
    clock: ManualClock,
}

fn setup(store: Arc<dyn SessionStore>) -> Setup {
    let clock = ManualClock::default();
    let users = Arc::new(MemoryUserStore::new());
    let ring = KeyRing::new(SigningKey::generate_ed25519("k1").unwrap());
    let tokens = AccessTokens::builder(ring, "iss", "aud")
        .clock(clock.clone())
        .build();
    let sessions = Sessions::new(store, users.clone(), tokens.clone()).clock(clock.clone());
    Setup {
        sessions,
        users,
        tokens,
        clock,
    }
}

fn login(user_id: UserId) -> Principal {
    Principal::user(user_id.to_string())
        .method(AuthMethod::Password)
        .build()
}

fn is_invalid(err: &Error) -> bool {
    matches!(err, Error::InvalidToken(_))
}

/// The service's behaviour, on one store.
async fn service_behaviour(store: Arc<dyn SessionStore>) {
    let s = setup(store);
    let client = Client::default();
    let user = s
        .users
        .create(NewUser::new("a@example.com"), s.clock.now())
        .await
        .unwrap();
    rotation_and_races(&s, &user, &client).await;
    listing_and_sign_out(&s, &user, &client).await;
    account_changes(&s, &user, &client).await;
    lifetimes(&s, &user, &client).await;
    sign_out_everywhere(&s, &user, &client).await;
    cookie_sessions(&s, &user, &client).await;
    cookie_sessions_end(&s, &user, &client).await;
    cookie_sessions_follow_the_user(&s, &user, &client).await;
}

/// Rotation, racing refreshes and reuse detection.
async fn rotation_and_races(s: &Setup, user: &User, client: &Client) {
    let first = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    let principal = s.tokens.verify(first.access.token()).await.unwrap();
    assert_eq!(principal.session_id(), Some(first.session_id.as_str()));
    assert_eq!(principal.authentication().amr(), vec!["pwd"]);

    // Rotation: the old refresh token stops working, the new one works once.
    s.clock.advance(Duration::from_mins(1));
    let second = s
        .sessions
        .refresh(first.refresh.expose_secret(), client)
        .await
        .unwrap();
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(
        second.refresh.expose_secret(),
        first.refresh.expose_secret()
    );

    // Concurrent refreshes with the same token: at most one successor, session kept.
    s.clock.advance(Duration::from_mins(1));
    let token = second.refresh.expose_secret().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (sessions, token, client) = (s.sessions.clone(), token.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            sessions.refresh(&token, &client).await
        }));
    }
    let mut successors = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(tokens) => successors.push(tokens),
            Err(e) => assert!(is_invalid(&e), "{e:?}"),
        }
    }
    assert_eq!(successors.len(), 1);
    let third = successors.pop().unwrap();

    // Reuse of a rotated token after the grace period: the whole family is revoked, access
    // tokens included.
    s.clock.advance(Duration::from_mins(1));
    let err = s.sessions.refresh(&token, client).await.unwrap_err();
    assert!(is_invalid(&err));
    assert!(is_invalid(
        &s.sessions
            .refresh(third.refresh.expose_secret(), client)
            .await
            .unwrap_err()
    ));
    assert!(matches!(
        s.tokens.verify(third.access.token()).await.unwrap_err(),
        Error::InvalidToken(TokenError::Revoked)
    ));
    assert!(s.sessions.list(user.id).await.unwrap().is_empty());
}

/// Listing, revoking one session, and "sign out other devices".
async fn listing_and_sign_out(s: &Setup, user: &User, client: &Client) {
    // Listing and "sign out other devices".
    let phone = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(1));
    let laptop = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    let listed: Vec<_> = s
        .sessions
        .list(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(
        listed,
        vec![laptop.session_id.clone(), phone.session_id.clone()]
    );
    let stranger = UserId::new();
    assert!(
        matches!(
            s.sessions.revoke(stranger, &phone.session_id, client).await,
            Err(Error::NotFound)
        ),
        "only one's own sessions"
    );
    assert_eq!(
        s.sessions
            .revoke_others(user.id, &laptop.session_id, client)
            .await
            .unwrap(),
        1
    );
    assert!(is_invalid(
        &s.sessions
            .refresh(phone.refresh.expose_secret(), client)
            .await
            .unwrap_err()
    ));
    s.sessions
        .refresh(laptop.refresh.expose_secret(), client)
        .await
        .unwrap();
}

/// A password reset or a disabled account ends sessions.
async fn account_changes(s: &Setup, user: &User, client: &Client) {
    let laptop2 = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    // A password reset (tokens_valid_after) ends earlier sessions.
    s.clock.advance(Duration::from_secs(1));
    s.users
        .update(user.id, UserChange::RevokeTokens, s.clock.now())
        .await
        .unwrap();
    assert!(is_invalid(
        &s.sessions
            .refresh(laptop2.refresh.expose_secret(), client)
            .await
            .unwrap_err()
    ));

    // A disabled user cannot refresh.
    s.clock.advance(Duration::from_secs(1));
    let fresh = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    s.users
        .update(user.id, UserChange::Disabled(true), s.clock.now())
        .await
        .unwrap();
    assert!(is_invalid(
        &s.sessions
            .refresh(fresh.refresh.expose_secret(), client)
            .await
            .unwrap_err()
    ));
    s.users
        .update(user.id, UserChange::Disabled(false), s.clock.now())
        .await
        .unwrap();
}

/// Browser sessions: their own secrets, lifetimes, touches and revocations.
async fn cookie_sessions(s: &Setup, user: &User, client: &Client) {
    let lifetimes = SessionLifetimes::default();
    let browser = s
        .sessions
        .start_cookie(user, &login(user.id), client)
        .await
        .unwrap();
    assert!(!format!("{browser:?}").contains(browser.secret.expose_secret()));
    let secret = browser.secret.expose_secret();
    let principal = s.sessions.authenticate_cookie(secret).await.unwrap();
    assert_eq!(principal.subject(), user.id.to_string());
    assert_eq!(principal.session_id(), Some(browser.session_id.as_str()));
    assert_eq!(principal.authentication().amr(), vec!["pwd"]);
    assert!(
        s.sessions
            .list(user.id)
            .await
            .unwrap()
            .iter()
            .any(|x| x.id == browser.session_id)
    );

    // A cookie secret never refreshes; a refresh token is never a cookie.
    assert!(is_invalid(
        &s.sessions.refresh(secret, client).await.unwrap_err()
    ));
    let app = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    assert!(is_invalid(
        &s.sessions
            .authenticate_cookie(app.refresh.expose_secret())
            .await
            .unwrap_err()
    ));
    assert!(is_invalid(
        &s.sessions
            .authenticate_cookie("not-a-secret")
            .await
            .unwrap_err()
    ));

    // Uses keep it alive past the idle limit (written at most once per touch interval) ...
    let store_seen = |id: SessionId| async move {
        s.sessions
            .list(user.id)
            .await
            .unwrap()
            .into_iter()
            .find(|x| x.id == id)
            .unwrap()
            .last_seen_at
    };
    let started = store_seen(browser.session_id.clone()).await;
    s.clock.advance(Duration::from_secs(30));
    s.sessions.authenticate_cookie(secret).await.unwrap();
    assert_eq!(
        store_seen(browser.session_id.clone()).await,
        started,
        "within the interval"
    );
    for _ in 0..8 {
        s.clock.advance(Duration::from_hours(24));
        s.sessions.authenticate_cookie(secret).await.unwrap();
    }
    assert_eq!(store_seen(browser.session_id.clone()).await, s.clock.now());
    // ... but not past the idle limit without use.
    s.clock.advance(lifetimes.idle + Duration::from_secs(1));
    assert!(is_invalid(
        &s.sessions.authenticate_cookie(secret).await.unwrap_err()
    ));

    // The absolute lifetime.
    let long = s
        .sessions
        .start_cookie(user, &login(user.id), client)
        .await
        .unwrap();
    for _ in 0..4 {
        s.clock.advance(Duration::from_hours(6 * 24));
        s.sessions
            .authenticate_cookie(long.secret.expose_secret())
            .await
            .unwrap();
    }
    s.clock.advance(Duration::from_hours(6 * 24));
    assert!(is_invalid(
        &s.sessions
            .authenticate_cookie(long.secret.expose_secret())
            .await
            .unwrap_err()
    ));
}

/// Browser sessions end by sign-out, by revocations, and when their user changes.
async fn cookie_sessions_end(s: &Setup, user: &User, client: &Client) {
    // Signing out: revoke by id, or end by secret.
    let first = s
        .sessions
        .start_cookie(user, &login(user.id), client)
        .await
        .unwrap();
    let second = s
        .sessions
        .start_cookie(user, &login(user.id), client)
        .await
        .unwrap();
    s.sessions
        .revoke(user.id, &first.session_id, client)
        .await
        .unwrap();
    assert!(
        s.sessions
            .authenticate_cookie(first.secret.expose_secret())
            .await
            .is_err()
    );
    assert!(
        s.sessions
            .end_cookie(second.secret.expose_secret(), client)
            .await
            .unwrap()
    );
    assert!(
        !s.sessions
            .end_cookie(second.secret.expose_secret(), client)
            .await
            .unwrap()
    );
    assert!(
        s.sessions
            .authenticate_cookie(second.secret.expose_secret())
            .await
            .is_err()
    );

    // Signed out everywhere (access-token revocations, at once).
    let everywhere = s
        .sessions
        .start_cookie(user, &login(user.id), client)
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(1));
    s.tokens
        .revocations()
        .revoke_subject_before(&user.id.to_string(), s.clock.now())
        .await
        .unwrap();
    assert!(
        s.sessions
            .authenticate_cookie(everywhere.secret.expose_secret())
            .await
            .is_err()
    );
}

/// A disabled user, or a password reset, ends a browser session at its next touch.
async fn cookie_sessions_follow_the_user(s: &Setup, user: &User, client: &Client) {
    let lifetimes = SessionLifetimes::default();
    s.clock.advance(Duration::from_secs(1));
    let disabled = s
        .sessions
        .start_cookie(user, &login(user.id), client)
        .await
        .unwrap();
    s.sessions
        .authenticate_cookie(disabled.secret.expose_secret())
        .await
        .unwrap();
    s.users
        .update(user.id, UserChange::Disabled(true), s.clock.now())
        .await
        .unwrap();
    s.clock.advance(lifetimes.touch_interval);
    assert!(
        s.sessions
            .authenticate_cookie(disabled.secret.expose_secret())
            .await
            .is_err()
    );
    s.users
        .update(user.id, UserChange::Disabled(false), s.clock.now())
        .await
        .unwrap();
    assert!(
        s.sessions
            .authenticate_cookie(disabled.secret.expose_secret())
            .await
            .is_err(),
        "ended for good, not suspended"
    );
    let reset = s
        .sessions
        .start_cookie(user, &login(user.id), client)
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(1));
    s.users
        .update(user.id, UserChange::RevokeTokens, s.clock.now())
        .await
        .unwrap();
    s.clock.advance(lifetimes.touch_interval);
    assert!(
        s.sessions
            .authenticate_cookie(reset.secret.expose_secret())
            .await
            .is_err()
    );
}

/// Idle and absolute lifetimes.
async fn lifetimes(s: &Setup, user: &User, client: &Client) {
    // Idle and absolute lifetimes.
    let idle = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    s.clock.advance(Duration::from_hours(7 * 24 + 1));
    assert!(is_invalid(
        &s.sessions
            .refresh(idle.refresh.expose_secret(), client)
            .await
            .unwrap_err()
    ));
    let mut kept = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    // Refreshed every 6 days (inside the idle limit) up to day 24; day 30 is the absolute end.
    for _ in 0..4 {
        s.clock.advance(Duration::from_hours(6 * 24));
        kept = s
            .sessions
            .refresh(kept.refresh.expose_secret(), client)
            .await
            .unwrap();
    }
    s.clock.advance(Duration::from_hours(6 * 24));
    assert!(
        is_invalid(
            &s.sessions
                .refresh(kept.refresh.expose_secret(), client)
                .await
                .unwrap_err()
        ),
        "30 days absolute"
    );
}

/// Signing out everywhere revokes access tokens too.
async fn sign_out_everywhere(s: &Setup, user: &User, client: &Client) {
    // Sign out everywhere revokes access tokens too.
    let a = s
        .sessions
        .start(user, &login(user.id), client)
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(s.sessions.revoke_all(user.id, client).await.unwrap(), 1);
    assert!(s.tokens.verify(a.access.token()).await.is_err());
    assert!(
        !format!("{a:?}").contains(a.refresh.expose_secret()),
        "Debug hides the refresh token"
    );
}

#[tokio::test]
async fn memory_store() {
    store_conformance(Arc::new(MemorySessionStore::new())).await;
}

#[tokio::test]
async fn memory_service() {
    service_behaviour(Arc::new(MemorySessionStore::new())).await;
}

/// Runs the suites on a migrated SQL database.
#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    store_conformance(Arc::new(mortar_auth::sql::SeaOrmSessionStore::new(
        conn.clone(),
    )))
    .await;
    service_behaviour(Arc::new(mortar_auth::sql::SeaOrmSessionStore::new(conn))).await;
}

sql_suites!(super::run_sql);

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis() {
    let Some(redis) = mortar_testkit::redis().await else {
        return;
    };
    let store = || {
        Arc::new(mortar_auth::session::RedisSessionStore::new(redis.pool()).prefix(redis.prefix()))
    };
    store_conformance(store()).await;
    service_behaviour(store()).await;
}
