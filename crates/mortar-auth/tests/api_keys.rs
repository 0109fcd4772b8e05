//! API keys: one store conformance suite (memory, SQLite, PostgreSQL, MariaDB) and the service's
//! behaviour on every store.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mortar_auth::Error;
use mortar_auth::api_key::{ApiKey, ApiKeyStore, ApiKeys, MemoryApiKeyStore, NewApiKey};
use mortar_core::{Clock as _, ManualClock, PrincipalKind};

fn key(id: &str, owner: &str, created: SystemTime) -> ApiKey {
    ApiKey {
        id: id.into(),
        owner: owner.into(),
        tenant: Some("acme".into()),
        name: "CI".into(),
        secret_hash: "0".repeat(64),
        scopes: vec!["deploy".into(), "read".into()],
        created_at: created,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

/// The `ApiKeyStore` contract.
async fn store_conformance(store: Arc<dyn ApiKeyStore>) {
    let t0 = ManualClock::default().now();
    let a = key("AAAAAAAAAAAA", "user-1", t0);
    store.create(a.clone()).await.unwrap();
    assert_eq!(store.get("AAAAAAAAAAAA").await.unwrap().unwrap(), a);
    assert!(store.create(a.clone()).await.is_err(), "unique id");
    assert!(store.get("BBBBBBBBBBBB").await.unwrap().is_none());

    let b = key("BBBBBBBBBBBB", "user-1", t0 + Duration::from_secs(1));
    store.create(b.clone()).await.unwrap();
    store
        .create(key("CCCCCCCCCCCC", "user-2", t0))
        .await
        .unwrap();
    let ids: Vec<_> = store
        .list_for_owner("user-1")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["BBBBBBBBBBBB", "AAAAAAAAAAAA"]);

    let t1 = t0 + Duration::from_secs(10);
    let t2 = t0 + Duration::from_secs(20);
    store
        .record_usage(&[("AAAAAAAAAAAA".into(), t2), ("ZZZZZZZZZZZZ".into(), t2)])
        .await
        .unwrap();
    store
        .record_usage(&[("AAAAAAAAAAAA".into(), t1)])
        .await
        .unwrap();
    assert_eq!(
        store
            .get("AAAAAAAAAAAA")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t2),
        "later wins"
    );

    assert!(store.revoke("AAAAAAAAAAAA", t1).await.unwrap());
    assert!(!store.revoke("AAAAAAAAAAAA", t2).await.unwrap());
    assert!(!store.revoke("ZZZZZZZZZZZZ", t2).await.unwrap());
    assert_eq!(
        store.get("AAAAAAAAAAAA").await.unwrap().unwrap().revoked_at,
        Some(t1)
    );
}

/// Counts lookups, to show malformed keys never reach the store.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ApiKeyStore>,
    gets: AtomicUsize,
    usage_writes: AtomicUsize,
}

#[async_trait]
impl ApiKeyStore for Counting {
    async fn create(&self, key: ApiKey) -> Result<(), Error> {
        self.inner.create(key).await
    }
    async fn get(&self, id: &str) -> Result<Option<ApiKey>, Error> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list_for_owner(&self, owner: &str) -> Result<Vec<ApiKey>, Error> {
        self.inner.list_for_owner(owner).await
    }
    async fn revoke(&self, id: &str, now: SystemTime) -> Result<bool, Error> {
        self.inner.revoke(id, now).await
    }
    async fn record_usage(&self, usage: &[(String, SystemTime)]) -> Result<(), Error> {
        self.usage_writes.fetch_add(1, Ordering::SeqCst);
        self.inner.record_usage(usage).await
    }
}

/// The service's behaviour on one store.
async fn service_behaviour(store: Arc<dyn ApiKeyStore>) {
    let counting = Arc::new(Counting {
        inner: store,
        gets: AtomicUsize::new(0),
        usage_writes: AtomicUsize::new(0),
    });
    let clock = ManualClock::default();
    let keys = ApiKeys::new(counting.clone(), "acme")
        .unwrap()
        .clock(clock.clone());
    let (key, token) = keys
        .create(
            NewApiKey::new("service-owner", "deploys")
                .scope("deploy")
                .tenant("acme")
                .expires_in(Duration::from_hours(24)),
        )
        .await
        .unwrap();
    assert!(token.starts_with("acme_") && token.len() == 56);
    assert_ne!(key.secret_hash, token, "only a hash is stored");
    assert!(!format!("{key:?}").contains(&key.secret_hash));

    let principal = keys.verify(&token).await.unwrap();
    assert_eq!(principal.kind(), PrincipalKind::ApiKey);
    assert_eq!(principal.subject(), "service-owner");
    assert_eq!(principal.tenant(), Some("acme"));
    assert!(principal.has_scope("deploy"));
    assert_eq!(principal.attribute("api_key_id").unwrap(), key.id.as_str());

    // A typo (checksum) or a foreign prefix is refused without a lookup.
    let gets = counting.gets.load(Ordering::SeqCst);
    let mut typo = token.clone().into_bytes();
    typo[20] = if typo[20] == b'x' { b'y' } else { b'x' };
    for bad in [
        String::from_utf8(typo).unwrap(),
        token.replacen("acme", "evil", 1),
        "acme_".into(),
        String::new(),
    ] {
        assert!(
            matches!(keys.verify(&bad).await, Err(Error::InvalidToken(_))),
            "{bad}"
        );
    }
    assert_eq!(counting.gets.load(Ordering::SeqCst), gets);

    // Usage is recorded in memory and written in one batch.
    for _ in 0..50 {
        keys.verify(&token).await.unwrap();
    }
    assert_eq!(counting.usage_writes.load(Ordering::SeqCst), 0);
    assert_eq!(keys.flush_usage().await.unwrap(), 1);
    assert_eq!(counting.usage_writes.load(Ordering::SeqCst), 1);
    assert_eq!(keys.flush_usage().await.unwrap(), 0, "nothing new");
    assert_eq!(
        keys.list("service-owner").await.unwrap()[0].last_used_at,
        Some(clock.now())
    );

    // Expiry and revocation.
    clock.advance(Duration::from_hours(24));
    assert!(keys.verify(&token).await.is_err(), "expired");
    let (second, token2) = keys
        .create(NewApiKey::new("service-owner", "other"))
        .await
        .unwrap();
    keys.verify(&token2).await.unwrap();
    keys.revoke(&second.id).await.unwrap();
    assert!(keys.verify(&token2).await.is_err(), "revoked");
    assert!(matches!(
        keys.revoke(&second.id).await,
        Err(Error::NotFound)
    ));
    assert!(ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "Bad_Prefix").is_err());
}

#[tokio::test]
async fn memory_store() {
    store_conformance(Arc::new(MemoryApiKeyStore::new())).await;
}

#[tokio::test]
async fn memory_service() {
    service_behaviour(Arc::new(MemoryApiKeyStore::new())).await;
}

/// Runs the suites on a migrated SQL database.
#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    store_conformance(Arc::new(mortar_auth::sql::SeaOrmApiKeyStore::new(
        conn.clone(),
    )))
    .await;
    service_behaviour(Arc::new(mortar_auth::sql::SeaOrmApiKeyStore::new(conn))).await;
}

sql_suites!(super::run_sql);
