//! One conformance suite for every `UserStore`: memory, and with the SQL features SQLite,
//! PostgreSQL and MariaDB (an isolated schema / database per test from mortar-testkit).

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mortar_auth::Error;
use mortar_auth::user::{MemoryUserStore, NewUser, User, UserChange, UserId, UserStore};

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The contract of `UserStore`, as documented on the trait, section by section.
async fn conformance(store: Arc<dyn UserStore>) {
    let alice = create_and_look_up(&store).await;
    uniqueness(&store).await;
    updates(&store, &alice).await;
    unknown_ids_and_deletion(&store, &alice).await;
    concurrent_registration(&store).await;
}

const T0: u64 = 1_700_000_000_123;
const T2: u64 = 1_700_000_200_789;

/// Create and read back, by id, e-mail and user name (normalized both ways).
async fn create_and_look_up(store: &Arc<dyn UserStore>) -> User {
    let t0 = at(T0);
    let alice = store
        .create(
            NewUser::new("  Alice@Example.COM ")
                .username("Alice")
                .phone("+41 79 000 00 00")
                .password_hash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"),
            t0,
        )
        .await
        .unwrap();
    assert_eq!(alice.email, "Alice@Example.COM", "kept as entered, trimmed");
    assert_eq!(alice.username.as_deref(), Some("Alice"));
    assert_eq!(alice.created_at, t0, "millisecond precision");
    assert!(!alice.is_disabled() && !alice.is_email_verified());

    assert_eq!(store.by_id(alice.id).await.unwrap().as_ref(), Some(&alice));
    for email in ["alice@example.com", " ALICE@EXAMPLE.COM"] {
        assert_eq!(store.by_email(email).await.unwrap().as_ref(), Some(&alice));
    }
    assert_eq!(
        store.by_username("ALICE").await.unwrap().as_ref(),
        Some(&alice)
    );
    assert!(store.by_email("bob@example.com").await.unwrap().is_none());
    assert!(store.by_username("bob").await.unwrap().is_none());
    assert!(store.by_id(UserId::new()).await.unwrap().is_none());

    // Debug output never shows the password hash.
    let debug = format!("{alice:?}");
    assert!(!debug.contains("argon2"), "{debug}");
    alice
}

/// Unique e-mail and user name, case-insensitively; nothing written on conflict; several users
/// without a user name may coexist.
async fn uniqueness(store: &Arc<dyn UserStore>) {
    let t0 = at(T0);
    let dup = store.create(NewUser::new("alice@EXAMPLE.com"), t0).await;
    assert!(matches!(dup, Err(Error::Conflict("email"))), "{dup:?}");
    let dup = store
        .create(NewUser::new("other@example.com").username("aLiCe"), t0)
        .await;
    assert!(matches!(dup, Err(Error::Conflict("username"))), "{dup:?}");
    assert!(store.by_email("other@example.com").await.unwrap().is_none());

    let bob = store
        .create(NewUser::new("bob@example.com"), t0)
        .await
        .unwrap();
    let carol = store
        .create(NewUser::new("carol@example.com"), t0)
        .await
        .unwrap();
    assert_ne!(bob.id, carol.id);
    assert!(bob.password_hash.is_none());
}

/// Updates set their field and `updated_at`; what `update` returns is what is stored.
async fn updates(store: &Arc<dyn UserStore>, alice: &User) {
    let t1 = at(1_700_000_100_456);
    let updated = store
        .update(alice.id, UserChange::PasswordHash("$2b$04$new".into()), t1)
        .await
        .unwrap();
    assert_eq!(updated.password_hash.as_deref(), Some("$2b$04$new"));
    assert_eq!(updated.updated_at, t1);
    let t2 = at(T2);
    store
        .update(alice.id, UserChange::EmailVerified, t2)
        .await
        .unwrap();
    store
        .update(alice.id, UserChange::PhoneVerified, t2)
        .await
        .unwrap();
    store
        .update(alice.id, UserChange::RevokeTokens, t2)
        .await
        .unwrap();
    let disabled = store
        .update(alice.id, UserChange::Disabled(true), t2)
        .await
        .unwrap();
    let read = store.by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(read, disabled, "what update returns is what is stored");
    assert_eq!(read.email_verified_at, Some(t2));
    assert_eq!(read.phone_verified_at, Some(t2));
    assert_eq!(read.tokens_valid_after, Some(t2));
    assert_eq!(read.disabled_at, Some(t2));
    assert_eq!(read.created_at, at(T0), "creation time unchanged");
    let enabled = store
        .update(alice.id, UserChange::Disabled(false), t2)
        .await
        .unwrap();
    assert!(!enabled.is_disabled());
}

/// Unknown ids answer `NotFound`; deletion frees the e-mail address and user name.
async fn unknown_ids_and_deletion(store: &Arc<dyn UserStore>, alice: &User) {
    let t2 = at(T2);
    let unknown = UserId::new();
    assert!(matches!(
        store.update(unknown, UserChange::EmailVerified, t2).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(store.delete(unknown).await, Err(Error::NotFound)));

    store.delete(alice.id).await.unwrap();
    assert!(store.by_id(alice.id).await.unwrap().is_none());
    assert!(store.by_email("alice@example.com").await.unwrap().is_none());
    assert!(store.by_username("alice").await.unwrap().is_none());
    let again = store
        .create(NewUser::new("ALICE@example.com").username("alice"), t2)
        .await
        .unwrap();
    assert_ne!(again.id, alice.id);
}

/// Concurrent registrations of one address: exactly one wins, the others conflict.
async fn concurrent_registration(store: &Arc<dyn UserStore>) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.create(NewUser::new("race@example.com"), at(T2)).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::Conflict("email")) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn memory() {
    conformance(Arc::new(MemoryUserStore::new())).await;
}

/// Runs the suites on a migrated SQL database.
#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    conformance(Arc::new(mortar_auth::sql::SeaOrmUserStore::new(conn))).await;
}

sql_suites!(super::run_sql);
