//! One suite for every `Revocations` backend (memory, Redis), and revocation across two app
//! instances sharing Redis. Times are real (Redis expires keys on its own clock).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mortar_auth::token::{MemoryRevocations, Revocations};

async fn conformance(rv: Arc<dyn Revocations>) {
    let now = SystemTime::now();
    let hour = Duration::from_hours(1);
    let unique = format!(
        "{:x}",
        now.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (jti, sid, sub) = (
        format!("jti-{unique}"),
        format!("sid-{unique}"),
        format!("sub-{unique}"),
    );

    assert!(!rv.is_revoked(&jti, &sub, Some(&sid), now).await.unwrap());
    rv.revoke_token(&jti, now + hour).await.unwrap();
    assert!(rv.is_revoked(&jti, &sub, None, now).await.unwrap());
    assert!(!rv.is_revoked("other-jti", &sub, None, now).await.unwrap());

    rv.revoke_session(&sid, now + hour).await.unwrap();
    assert!(
        rv.is_revoked("other-jti", &sub, Some(&sid), now)
            .await
            .unwrap()
    );
    assert!(
        !rv.is_revoked("other-jti", &sub, Some("other-sid"), now)
            .await
            .unwrap()
    );
    assert!(!rv.is_revoked("other-jti", &sub, None, now).await.unwrap());

    let cutoff = now + Duration::from_secs(10);
    rv.revoke_subject_before(&sub, cutoff).await.unwrap();
    assert!(
        rv.is_revoked("x", &sub, None, now).await.unwrap(),
        "issued before"
    );
    assert!(
        !rv.is_revoked("x", &sub, None, cutoff).await.unwrap(),
        "issued at the cut-off"
    );
    assert!(!rv.is_revoked("x", "someone-else", None, now).await.unwrap());

    // A revocation whose token has already expired needs no record.
    rv.revoke_token("old", now - hour).await.unwrap();
}

#[tokio::test]
async fn memory() {
    conformance(Arc::new(MemoryRevocations::new())).await;
}

#[cfg(feature = "redis")]
mod redis {
    use std::sync::Arc;

    use mortar_auth::token::{AccessTokens, KeyRing, RedisRevocations, SigningKey};
    use mortar_core::{AuthMethod, Principal};

    #[tokio::test]
    async fn redis() {
        let Some(redis) = mortar_testkit::redis().await else {
            return;
        };
        let rv = RedisRevocations::new(redis.pool()).prefix(redis.prefix());
        super::conformance(Arc::new(rv)).await;
    }

    #[tokio::test]
    async fn two_instances_share_revocations() {
        let Some(redis) = mortar_testkit::redis().await else {
            return;
        };
        let ring = KeyRing::new(SigningKey::generate_ed25519("k1").unwrap());
        let instance = || {
            let rv = RedisRevocations::new(redis.pool()).prefix(redis.prefix());
            AccessTokens::builder(ring.clone(), "iss", "aud")
                .revocations(Arc::new(rv))
                .build()
        };
        let (a, b) = (instance(), instance());
        let principal = Principal::user("user-1")
            .method(AuthMethod::Password)
            .session_id("sess-1")
            .build();
        let token = a.issue(&principal).unwrap();
        b.verify(token.token()).await.unwrap(); // B has it cached now

        a.revocations()
            .revoke_token(token.jti(), token.expires_at())
            .await
            .unwrap();
        assert!(
            b.verify(token.token()).await.is_err(),
            "B sees A's revocation"
        );

        let other = a.issue(&principal).unwrap();
        b.verify(other.token()).await.unwrap();
        b.revocations()
            .revoke_session("sess-1", other.expires_at())
            .await
            .unwrap();
        assert!(
            a.verify(other.token()).await.is_err(),
            "A sees B's session revocation"
        );
    }
}
