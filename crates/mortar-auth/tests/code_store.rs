//! One conformance suite for every `CodeStore`: memory, SQLite, PostgreSQL, MariaDB.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mortar_auth::code::{CodeRecord, CodeStore, MemoryCodeStore, Purpose, hash_token};
use mortar_auth::user::UserId;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn record(user_id: UserId, purpose: Purpose, created: u64, ttl: u64) -> CodeRecord {
    CodeRecord {
        purpose,
        user_id,
        expires_at: at(created + ttl),
        created_at: at(created),
    }
}

const T0: u64 = 1_700_000_000;

/// The `CodeStore` contract, section by section.
async fn conformance(store: Arc<dyn CodeStore>) {
    single_use_and_purpose_bound(&store).await;
    expiry_and_duplicates(&store).await;
    revocation(&store).await;
    concurrent_redemption(&store).await;
}

async fn single_use_and_purpose_bound(store: &Arc<dyn CodeStore>) {
    let (alice, t0) = (UserId::new(), T0);
    let h1 = hash_token("token-one");
    store
        .put(&h1, record(alice, Purpose::VerifyEmail, t0, 60))
        .await
        .unwrap();
    assert!(
        store
            .take(&h1, Purpose::ResetPassword, at(t0))
            .await
            .unwrap()
            .is_none(),
        "other purpose"
    );
    let taken = store
        .take(&h1, Purpose::VerifyEmail, at(t0 + 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken, record(alice, Purpose::VerifyEmail, t0, 60));
    assert!(
        store
            .take(&h1, Purpose::VerifyEmail, at(t0 + 2))
            .await
            .unwrap()
            .is_none(),
        "used"
    );
    assert!(
        store
            .take(&hash_token("never issued"), Purpose::VerifyEmail, at(t0))
            .await
            .unwrap()
            .is_none()
    );
}

/// At and after `expires_at` nothing is taken, and the record is gone; duplicates are refused.
async fn expiry_and_duplicates(store: &Arc<dyn CodeStore>) {
    let (alice, bob, t0) = (UserId::new(), UserId::new(), T0);
    let h2 = hash_token("token-two");
    store
        .put(&h2, record(alice, Purpose::ResetPassword, t0, 60))
        .await
        .unwrap();
    assert!(
        store
            .take(&h2, Purpose::ResetPassword, at(t0 + 60))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take(&h2, Purpose::ResetPassword, at(t0))
            .await
            .unwrap()
            .is_none(),
        "expired records are removed"
    );

    let h3 = hash_token("token-three");
    store
        .put(&h3, record(bob, Purpose::ResetPassword, t0, 600))
        .await
        .unwrap();
    assert!(
        store
            .put(&h3, record(bob, Purpose::ResetPassword, t0, 600))
            .await
            .is_err()
    );
}

/// Revoke removes one user's codes of one purpose only.
async fn revocation(store: &Arc<dyn CodeStore>) {
    let (alice, bob, t0) = (UserId::new(), UserId::new(), T0);
    let h3 = hash_token("token-three-b");
    store
        .put(&h3, record(bob, Purpose::ResetPassword, t0, 600))
        .await
        .unwrap();
    let h4 = hash_token("token-four");
    let h5 = hash_token("token-five");
    store
        .put(&h4, record(bob, Purpose::ResetPassword, t0, 600))
        .await
        .unwrap();
    store
        .put(&h5, record(bob, Purpose::VerifyEmail, t0, 600))
        .await
        .unwrap();
    let h6 = hash_token("token-six");
    store
        .put(&h6, record(alice, Purpose::ResetPassword, t0, 600))
        .await
        .unwrap();
    assert_eq!(store.revoke(bob, Purpose::ResetPassword).await.unwrap(), 2);
    assert!(
        store
            .take(&h3, Purpose::ResetPassword, at(t0))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take(&h4, Purpose::ResetPassword, at(t0))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take(&h5, Purpose::VerifyEmail, at(t0))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .take(&h6, Purpose::ResetPassword, at(t0))
            .await
            .unwrap()
            .is_some()
    );
}

/// Of concurrent redemptions exactly one wins.
async fn concurrent_redemption(store: &Arc<dyn CodeStore>) {
    let (alice, t0) = (UserId::new(), T0);
    let h7 = hash_token("token-seven");
    store
        .put(&h7, record(alice, Purpose::LoginChallenge, t0, 300))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, h7) = (store.clone(), h7.clone());
        tasks.push(tokio::spawn(async move {
            store
                .take(&h7, Purpose::LoginChallenge, at(t0 + 1))
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn memory() {
    conformance(Arc::new(MemoryCodeStore::new())).await;
}

/// Runs the suites on a migrated SQL database.
#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    conformance(Arc::new(mortar_auth::sql::SeaOrmCodeStore::new(conn))).await;
}

sql_suites!(super::run_sql);
