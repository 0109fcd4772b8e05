//! Federated sign-in against an OpenID Connect provider started in-process on 127.0.0.1
//! (`mortar_testkit::oidc::TestIssuer`, signing real RS256 ID tokens and serving discovery and
//! JWKS): the whole flow, each refusal (tampered state, wrong nonce, audience, issuer, expiry,
//! signature, PKCE mismatch, a replayed code), key rotation, GitHub's OAuth 2 flow, tenants'
//! SSO, account linking, and the identity and SSO stores on every backend.
#![cfg(feature = "oauth")]
#![allow(clippy::too_many_lines, reason = "journeys, step by step")]

#[macro_use]
mod common;

use common::{FixedSecondFactor, signed_in_user};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mortar_auth::account::{Accounts, Client, LoginOutcome, Proof, Registration};
use mortar_auth::code::{CodeMessage, MemoryCodeStore, Purpose, sender_fn};
use mortar_auth::oauth::{
    Callback, FederatedIdentity, Federation, Finished, Identity, IdentityStore, Intent, LinkPolicy,
    MemoryIdentityStore, MemorySsoDirectory, OAuth, Provider, SsoConnection, SsoDirectory,
};
use mortar_auth::password::{PasswordConfig, Passwords};
use mortar_auth::seal::Sealer;
use mortar_auth::user::{MemoryUserStore, User, UserChange, UserId, UserStore as _};
use mortar_auth::{Error, FederationError};
use mortar_core::{ManualClock, Problem};
use mortar_testkit::oidc::{Faults, TestIssuer, TestUser};
use secrecy::ExposeSecret as _;

const REDIRECT: &str = "http://127.0.0.1:3000/auth/oauth/corp/callback";
const PASSWORD: &str = "correct horse battery staple";

fn sealer() -> Sealer {
    Sealer::new("flow-1", &[9; 32]).unwrap()
}

async fn issuer() -> TestIssuer {
    let idp = TestIssuer::start().await;
    idp.register_client("mortar-app", "app-secret", REDIRECT);
    idp.sign_in_as(TestUser::new("u-1", "ada@example.com"));
    idp
}

fn corp(idp: &TestIssuer) -> Provider {
    Provider::oidc("corp", &idp.issuer(), "mortar-app", REDIRECT)
        .unwrap()
        .client_secret("app-secret")
}

fn oauth(idp: &TestIssuer) -> OAuth {
    OAuth::builder(sealer())
        .provider(corp(idp))
        .build()
        .unwrap()
}

/// Starts a sign-in, lets the provider approve it, and finishes it.
async fn sign_in(oauth: &OAuth, idp: &TestIssuer, intent: Intent) -> Result<Finished, Error> {
    let started = oauth.start("corp", intent, Some("/welcome")).await?;
    let callback = idp.approve(&started.url).unwrap();
    assert!(callback.starts_with(REDIRECT), "{callback}");
    oauth
        .finish(
            "corp",
            &Callback::from_url(&callback),
            Some(started.flow.expose_secret()),
        )
        .await
}

fn federation_error(result: Result<impl std::fmt::Debug, Error>) -> FederationError {
    match result {
        Err(Error::Federation(reason)) => reason,
        other => panic!("expected a federation error, got {other:?}"),
    }
}

fn client() -> Client {
    Client::default()
}

#[tokio::test]
async fn the_flow_checks_pkce_state_and_nonce() {
    let idp = issuer().await;
    let oauth = oauth(&idp);
    let started = oauth.start("corp", Intent::SignIn, None).await.unwrap();
    let url = url::Url::parse(&started.url).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(url.path(), "/authorize");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(query["response_type"], "code");
    assert!(query["scope"].split(' ').any(|s| s == "openid"));
    assert!(query["state"].len() >= 22 && query["nonce"].len() >= 22);
    assert!(
        !started.flow.expose_secret().contains(&query["state"]),
        "the flow is sealed, not readable"
    );
    assert!(!format!("{started:?}").contains(started.flow.expose_secret()));

    let finished = sign_in(&oauth, &idp, Intent::SignIn).await.unwrap();
    assert_eq!(finished.identity.provider, "corp");
    assert_eq!(finished.identity.subject, "u-1");
    assert_eq!(finished.identity.email.as_deref(), Some("ada@example.com"));
    assert!(finished.identity.email_verified);
    assert_eq!(finished.identity.name.as_deref(), Some("Test User"));
    assert_eq!(finished.intent, Intent::SignIn);
    assert_eq!(finished.return_to.as_deref(), Some("/welcome"));

    // An open redirect is dropped.
    let started = oauth
        .start("corp", Intent::SignIn, Some("//evil.example/"))
        .await
        .unwrap();
    let callback = idp.approve(&started.url).unwrap();
    let finished = oauth
        .finish(
            "corp",
            &Callback::from_url(&callback),
            Some(started.flow.expose_secret()),
        )
        .await
        .unwrap();
    assert_eq!(finished.return_to, None);
    assert_eq!(
        federation_error(oauth.start("nope", Intent::SignIn, None).await),
        FederationError::UnknownProvider
    );
}

#[tokio::test]
async fn tampered_flows_and_callbacks_are_refused() {
    let idp = issuer().await;
    let oauth = oauth(&idp);
    let started = oauth.start("corp", Intent::SignIn, None).await.unwrap();
    let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
    let flow = started.flow.expose_secret();

    // No flow cookie, a tampered one, another key's.
    assert_eq!(
        federation_error(oauth.finish("corp", &callback, None).await),
        FederationError::FlowMismatch
    );
    let mut tampered = flow.to_owned();
    tampered.insert(flow.len() - 3, 'x');
    assert_eq!(
        federation_error(oauth.finish("corp", &callback, Some(&tampered)).await),
        FederationError::FlowMismatch
    );
    let other = OAuth::builder(Sealer::new("flow-1", &[1; 32]).unwrap())
        .provider(corp(&idp))
        .build()
        .unwrap();
    assert_eq!(
        federation_error(other.finish("corp", &callback, Some(flow)).await),
        FederationError::FlowMismatch
    );
    // A state that is not the flow's (login CSRF).
    let forged = Callback::new(callback.code.clone().unwrap(), "attacker-state");
    assert_eq!(
        federation_error(oauth.finish("corp", &forged, Some(flow)).await),
        FederationError::FlowMismatch
    );
    // The provider's error answer.
    let denied = Callback::from_url(&format!(
        "{REDIRECT}?error=access_denied&state={}",
        callback.state.clone().unwrap()
    ));
    assert_eq!(
        federation_error(oauth.finish("corp", &denied, Some(flow)).await),
        FederationError::Denied("access_denied".into())
    );
    // None of that spent the code: the real callback works, once.
    oauth.finish("corp", &callback, Some(flow)).await.unwrap();
    assert_eq!(
        federation_error(oauth.finish("corp", &callback, Some(flow)).await),
        FederationError::TokenRefused
    );

    // An expired flow.
    let clock = ManualClock::default();
    let timed = OAuth::builder(sealer())
        .provider(corp(&idp))
        .clock(clock.clone())
        .build()
        .unwrap();
    let started = timed.start("corp", Intent::SignIn, None).await.unwrap();
    let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
    clock.advance(Duration::from_mins(11));
    assert_eq!(
        federation_error(
            timed
                .finish("corp", &callback, Some(started.flow.expose_secret()))
                .await
        ),
        FederationError::FlowMismatch
    );
}

#[tokio::test]
async fn pkce_mismatch_is_refused_by_the_token_endpoint() {
    let idp = issuer().await;
    let oauth = oauth(&idp);
    // The code was issued for flow A's challenge; flow B's verifier does not match it.
    let a = oauth.start("corp", Intent::SignIn, None).await.unwrap();
    let b = oauth.start("corp", Intent::SignIn, None).await.unwrap();
    let code_a = Callback::from_url(&idp.approve(&a.url).unwrap())
        .code
        .unwrap();
    let state_b = url::Url::parse(&b.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let before = idp.token_requests();
    assert_eq!(
        federation_error(
            oauth
                .finish(
                    "corp",
                    &Callback::new(code_a, state_b),
                    Some(b.flow.expose_secret())
                )
                .await
        ),
        FederationError::TokenRefused
    );
    assert_eq!(idp.token_requests(), before + 1, "refused by the provider");
}

#[tokio::test]
async fn id_tokens_are_validated() {
    let idp = issuer().await;
    let oauth = oauth(&idp);
    let cases = [
        (
            Faults {
                wrong_audience: true,
                ..Faults::default()
            },
            "wrong audience",
        ),
        (
            Faults {
                wrong_issuer: true,
                ..Faults::default()
            },
            "wrong issuer",
        ),
        (
            Faults {
                wrong_nonce: true,
                ..Faults::default()
            },
            "wrong nonce",
        ),
        (
            Faults {
                expired: true,
                ..Faults::default()
            },
            "expired",
        ),
        (
            Faults {
                bad_signature: true,
                ..Faults::default()
            },
            "signature",
        ),
        (
            Faults {
                no_id_token: true,
                ..Faults::default()
            },
            "no ID token",
        ),
    ];
    for (faults, expected) in cases {
        idp.set_faults(faults);
        match federation_error(sign_in(&oauth, &idp, Intent::SignIn).await) {
            FederationError::InvalidIdToken(reason) => {
                assert!(reason.contains(expected), "{faults:?}: {reason}");
            }
            other => panic!("{faults:?}: {other:?}"),
        }
    }
    idp.set_faults(Faults::default());
    sign_in(&oauth, &idp, Intent::SignIn).await.unwrap();

    // The problem document says nothing an attacker could use.
    let problem = Problem::from(Error::Federation(FederationError::InvalidIdToken(
        "wrong nonce".into(),
    )));
    assert_eq!(problem.status(), 400);
    assert_eq!(
        problem.type_uri(),
        "urn:mortar:problem:federated-login-failed"
    );
    assert!(!String::from_utf8_lossy(&problem.to_json()).contains("nonce"));
}

#[tokio::test]
async fn rotated_keys_are_fetched_again_at_most_once_a_minute() {
    let idp = issuer().await;
    let oauth = oauth(&idp);
    sign_in(&oauth, &idp, Intent::SignIn).await.unwrap();
    // The provider rotates: the token names a key the cached JWKS lacks, so it is fetched again.
    idp.rotate_key();
    sign_in(&oauth, &idp, Intent::SignIn).await.unwrap();
    // A second unknown key within the minute is not fetched for (forged key ids cannot make us
    // hammer the provider).
    idp.rotate_key();
    match federation_error(sign_in(&oauth, &idp, Intent::SignIn).await) {
        FederationError::InvalidIdToken(reason) => assert!(reason.contains("key"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn discovery_failures_and_configuration_errors() {
    // Nothing listens there: the provider is unavailable, and the application still starts.
    let oauth = OAuth::builder(sealer())
        .provider(Provider::oidc("down", "http://127.0.0.1:9", "app", REDIRECT).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        federation_error(oauth.start("down", Intent::SignIn, None).await),
        FederationError::Unavailable
    );
    assert_eq!(
        Problem::from(Error::Federation(FederationError::Unavailable)).status(),
        502
    );

    assert!(Provider::oidc("Bad.Id", "https://x.example", "app", REDIRECT).is_err());
    assert!(
        Provider::oidc("ok", "http://x.example", "app", REDIRECT).is_err(),
        "http off localhost"
    );
    assert!(Provider::google("app", "http://app.example/cb").is_err());
    let google = Provider::google("app", "https://app.example/cb")
        .unwrap()
        .client_secret("g-secret");
    assert!(!format!("{google:?}").contains("g-secret"));
    assert!(
        OAuth::builder(sealer())
            .provider(google.clone())
            .provider(google.clone())
            .build()
            .is_err(),
        "two providers named google"
    );
    assert!(
        OAuth::builder(sealer())
            .provider(google.id("sso-x").unwrap())
            .build()
            .is_err(),
        "sso- is reserved"
    );
    let ms = Provider::microsoft("common", "app", "https://app.example/cb").unwrap();
    assert_eq!(ms.provider_id(), "microsoft");
    let oauth = OAuth::builder(sealer())
        .provider(Provider::gitlab("app", "https://app.example/cb").unwrap())
        .provider(ms)
        .build()
        .unwrap();
    assert_eq!(oauth.provider_ids(), ["gitlab", "microsoft"]);
}

#[tokio::test]
async fn github_through_oauth2_and_the_user_api() {
    let idp = TestIssuer::start().await;
    let redirect = "http://127.0.0.1:3000/auth/oauth/github/callback";
    idp.register_client("gh-app", "gh-secret", redirect);
    idp.sign_in_as(TestUser::new("4242", "octo@example.com"));
    let github = Provider::github("gh-app", redirect)
        .unwrap()
        .client_secret("gh-secret")
        .github_endpoints(&idp.authorize_url(), &idp.token_url(), &idp.issuer())
        .unwrap();
    let oauth = OAuth::builder(sealer()).provider(github).build().unwrap();
    let started = oauth.start("github", Intent::SignIn, None).await.unwrap();
    assert!(started.url.contains("code_challenge_method=S256"));
    assert!(!started.url.contains("nonce"));
    let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
    let finished = oauth
        .finish("github", &callback, Some(started.flow.expose_secret()))
        .await
        .unwrap();
    assert_eq!(finished.identity.subject, "4242");
    assert_eq!(finished.identity.email.as_deref(), Some("octo@example.com"));
    assert!(
        finished.identity.email_verified,
        "the primary, verified address"
    );
    // A GitHub flow does not finish as another provider.
    let started = oauth.start("github", Intent::SignIn, None).await.unwrap();
    let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
    assert_eq!(
        federation_error(
            oauth
                .finish("corp", &callback, Some(started.flow.expose_secret()))
                .await
        ),
        FederationError::FlowMismatch
    );
    // An unverified primary address stays unverified.
    idp.sign_in_as(TestUser::new("4343", "new@example.com").unverified());
    let started = oauth.start("github", Intent::SignIn, None).await.unwrap();
    let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
    let finished = oauth
        .finish("github", &callback, Some(started.flow.expose_secret()))
        .await
        .unwrap();
    assert!(!finished.identity.email_verified);
}

#[tokio::test]
async fn tenants_sign_in_through_their_own_issuer() {
    let idp = TestIssuer::start().await;
    idp.register_client(
        "acme-app",
        "acme-secret",
        "http://127.0.0.1:3000/auth/oauth/sso-acme/callback",
    );
    let directory = Arc::new(MemorySsoDirectory::new());
    directory
        .put(
            SsoConnection::new(
                "acme",
                &idp.issuer(),
                "acme-app",
                ["acme.example", "acme.test"],
            )
            .unwrap()
            .client_secret("acme-secret"),
        )
        .await
        .unwrap();
    let oauth = OAuth::builder(sealer())
        .sso(directory.clone(), "http://127.0.0.1:3000/auth/oauth")
        .build()
        .unwrap();

    idp.sign_in_as(TestUser::new("emp-7", "bob@acme.example").unverified());
    let started = oauth.start_sso("Bob@ACME.example", None).await.unwrap();
    let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
    let finished = oauth
        .finish("sso-acme", &callback, Some(started.flow.expose_secret()))
        .await
        .unwrap();
    assert_eq!(finished.identity.provider, "sso-acme");
    assert!(
        finished.identity.email_verified,
        "the tenant's issuer speaks for its domains"
    );

    // An address outside the tenant's domains is refused.
    idp.sign_in_as(TestUser::new("emp-8", "eve@elsewhere.example"));
    let started = oauth.start_sso("bob@acme.test", None).await.unwrap();
    let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
    assert_eq!(
        federation_error(
            oauth
                .finish("sso-acme", &callback, Some(started.flow.expose_secret()))
                .await
        ),
        FederationError::DomainNotAllowed
    );
    assert_eq!(
        Problem::from(Error::Federation(FederationError::DomainNotAllowed)).status(),
        403
    );
    assert_eq!(
        federation_error(oauth.start_sso("x@unknown.example", None).await),
        FederationError::UnknownProvider
    );
    assert!(matches!(
        oauth.start_sso("no-at-sign", None).await,
        Err(Error::InvalidEmail)
    ));

    // A changed connection is picked up (the cache compares it), a removed one is gone.
    directory
        .put(SsoConnection::new("acme", &idp.issuer(), "other-client", ["acme.example"]).unwrap())
        .await
        .unwrap();
    let started = oauth.start_sso("bob@acme.example", None).await.unwrap();
    assert!(started.url.contains("client_id=other-client"));
    directory.remove("acme").await.unwrap();
    assert_eq!(
        federation_error(oauth.start_sso("bob@acme.example", None).await),
        FederationError::UnknownProvider
    );
}

struct Accts {
    accounts: Accounts,
    users: Arc<MemoryUserStore>,
    verifications: Arc<Mutex<Vec<String>>>,
}

fn accounts() -> Accts {
    let users = Arc::new(MemoryUserStore::new());
    let verifications = Arc::new(Mutex::new(Vec::new()));
    let sent = verifications.clone();
    let accounts = Accounts::builder(users.clone(), Arc::new(MemoryCodeStore::new()))
        .passwords(
            Passwords::with_weak_config(
                PasswordConfig::default().cost(256, 1, 1).allow_weak_cost(),
            )
            .unwrap(),
        )
        .second_factor(FixedSecondFactor)
        .sender(sender_fn(move |m: CodeMessage| {
            let sent = sent.clone();
            async move {
                if m.purpose == Purpose::VerifyEmail {
                    sent.lock().unwrap().push(m.user.email.clone());
                }
                Ok(())
            }
        }))
        .build();
    Accts {
        accounts,
        users,
        verifications,
    }
}

async fn password_user(a: &Accts, email: &str, verified: bool) -> User {
    let Ok(mortar_auth::account::Registered::Created(user)) = a
        .accounts
        .register(Registration::new(email, PASSWORD), &client())
        .await
    else {
        panic!("not registered");
    };
    if verified {
        a.users
            .update(
                user.id,
                UserChange::EmailVerified,
                std::time::SystemTime::now(),
            )
            .await
            .unwrap()
    } else {
        user
    }
}

#[tokio::test]
async fn federated_identities_sign_up_sign_in_and_join_verified_accounts() {
    let a = accounts();
    let federation = Federation::new(a.accounts.clone(), Arc::new(MemoryIdentityStore::new()));

    // A new identity with a verified address: a new, verified account.
    let ada = FederatedIdentity::new("corp", "u-1").email("ada@example.com", true);
    let (user, amr) = signed_in_user(federation.sign_in(&ada, &client()).await.unwrap());
    assert!(user.is_email_verified());
    assert!(user.password_hash.is_none());
    assert_eq!(amr, ["fed"]);
    // Again: the same account.
    let (again, _) = signed_in_user(federation.sign_in(&ada, &client()).await.unwrap());
    assert_eq!(again.id, user.id);

    // The same address at another provider, verified on both sides: joins the account.
    let ada_gh = FederatedIdentity::new("github", "77").email("ada@example.com", true);
    let (joined, _) = signed_in_user(federation.sign_in(&ada_gh, &client()).await.unwrap());
    assert_eq!(joined.id, user.id);
    assert_eq!(
        federation
            .identities()
            .for_user(user.id)
            .await
            .unwrap()
            .len(),
        2
    );

    // An account whose owner never verified the address is not joined (pre-registration
    // takeover), nor is any account by an unverified provider address.
    password_user(&a, "bea@example.com", false).await;
    let bea = FederatedIdentity::new("corp", "u-2").email("bea@example.com", true);
    assert!(matches!(
        federation.sign_in(&bea, &client()).await,
        Err(Error::LinkRequired)
    ));
    assert_eq!(Problem::from(Error::LinkRequired).status(), 409);
    password_user(&a, "cy@example.com", true).await;
    let cy = FederatedIdentity::new("corp", "u-3").email("cy@example.com", false);
    assert!(matches!(
        federation.sign_in(&cy, &client()).await,
        Err(Error::LinkRequired)
    ));
    // With email linking off, even a verified match must be linked by hand.
    let strict = Federation::new(a.accounts.clone(), Arc::new(MemoryIdentityStore::new()))
        .policy(LinkPolicy::default().without_email_linking());
    let cy_verified = FederatedIdentity::new("corp", "u-3").email("cy@example.com", true);
    assert!(matches!(
        strict.sign_in(&cy_verified, &client()).await,
        Err(Error::LinkRequired)
    ));

    // An unverified address signs up an unverified account and sends the verification link.
    let dee = FederatedIdentity::new("corp", "u-4").email("dee@example.com", false);
    let (dee_user, _) = signed_in_user(federation.sign_in(&dee, &client()).await.unwrap());
    assert!(!dee_user.is_email_verified());
    assert_eq!(
        a.verifications.lock().unwrap().last().map(String::as_str),
        Some("dee@example.com")
    );
    // No address, no account; sign-up off, no account.
    assert_eq!(
        federation_error(
            federation
                .sign_in(&FederatedIdentity::new("corp", "u-5"), &client())
                .await
        ),
        FederationError::NoVerifiedEmail
    );
    let closed = Federation::new(a.accounts.clone(), Arc::new(MemoryIdentityStore::new()))
        .policy(LinkPolicy::default().without_sign_up());
    let eli = FederatedIdentity::new("corp", "u-6").email("eli@example.com", true);
    assert!(matches!(
        closed.sign_in(&eli, &client()).await,
        Err(Error::InvalidCredentials)
    ));

    // A disabled account does not sign in through its identity.
    a.users
        .update(
            user.id,
            UserChange::Disabled(true),
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    assert!(matches!(
        federation.sign_in(&ada, &client()).await,
        Err(Error::InvalidCredentials)
    ));
}

#[tokio::test]
async fn a_federated_login_still_asks_for_the_second_factor() {
    let a = accounts();
    let federation = Federation::new(a.accounts.clone(), Arc::new(MemoryIdentityStore::new()));
    let id = FederatedIdentity::new("corp", "u-9").email("2fa@example.com", true);
    let LoginOutcome::SecondFactorRequired { challenge, .. } =
        federation.sign_in(&id, &client()).await.unwrap()
    else {
        panic!("the provider alone logged in");
    };
    assert!(challenge.expose_secret().starts_with("oauth-corp."));
    let (_, amr) = signed_in_user(
        a.accounts
            .complete_login(challenge.expose_secret(), &Proof::totp("246810"), &client())
            .await
            .unwrap(),
    );
    assert_eq!(amr, ["fed", "otp", "mfa"]);
}

#[tokio::test]
async fn linking_and_unlinking() {
    let idp = issuer().await;
    let oauth = oauth(&idp);
    let a = accounts();
    let federation = Federation::new(a.accounts.clone(), Arc::new(MemoryIdentityStore::new()));
    let owner = password_user(&a, "owner@example.com", true).await;

    // The link flow carries the signed-in user through the provider and back.
    idp.sign_in_as(TestUser::new("corp-owner", "work@corp.example"));
    let finished = sign_in(&oauth, &idp, Intent::Link(owner.id)).await.unwrap();
    assert_eq!(finished.intent, Intent::Link(owner.id));
    let linked = federation
        .link(owner.id, &finished.identity, &client())
        .await
        .unwrap();
    assert_eq!(linked.user_id, owner.id);
    // Linking again is a no-op; linking it to someone else is a conflict.
    federation
        .link(owner.id, &finished.identity, &client())
        .await
        .unwrap();
    let other = password_user(&a, "other@example.com", true).await;
    assert!(matches!(
        federation
            .link(other.id, &finished.identity, &client())
            .await,
        Err(Error::Conflict("identity"))
    ));
    // The linked identity now signs the owner in, whatever its address.
    let (user, _) = signed_in_user(
        federation
            .sign_in(&finished.identity, &client())
            .await
            .unwrap(),
    );
    assert_eq!(user.id, owner.id);
    assert!(
        federation.identities().for_user(owner.id).await.unwrap()[0]
            .last_used_at
            .is_some()
    );

    // Unlink: someone else's identity is not found; the owner (with a password) may.
    assert!(matches!(
        federation
            .unlink(other.id, "corp", "corp-owner", &client())
            .await,
        Err(Error::NotFound)
    ));
    federation
        .unlink(owner.id, "corp", "corp-owner", &client())
        .await
        .unwrap();
    assert!(
        federation
            .identities()
            .for_user(owner.id)
            .await
            .unwrap()
            .is_empty()
    );

    // A federated-only account keeps its last way in.
    let solo = FederatedIdentity::new("corp", "solo").email("solo@example.com", true);
    let (solo_user, _) = signed_in_user(federation.sign_in(&solo, &client()).await.unwrap());
    assert!(matches!(
        federation
            .unlink(solo_user.id, "corp", "solo", &client())
            .await,
        Err(Error::LastLoginMethod)
    ));
}

/// The contract every identity store keeps.
async fn identity_store_conformance(store: Arc<dyn IdentityStore>) {
    let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let alice = UserId::new();
    let bob = UserId::new();
    let gh = FederatedIdentity::new("github", "1").email("a@example.com", true);
    let corp = FederatedIdentity::new("corp", "x".repeat(255));
    assert!(store.find("github", "1").await.unwrap().is_none());
    store.insert(Identity::new(&gh, alice, now)).await.unwrap();
    store
        .insert(Identity::new(&corp, alice, now + Duration::from_secs(1)))
        .await
        .unwrap();
    let found = store.find("github", "1").await.unwrap().unwrap();
    assert_eq!(found.user_id, alice);
    assert_eq!(found.email.as_deref(), Some("a@example.com"));
    assert_eq!(found.linked_at, now);
    assert!(found.last_used_at.is_none());
    // Unique per (provider, subject), whoever asks.
    assert!(matches!(
        store.insert(Identity::new(&gh, bob, now)).await,
        Err(Error::Conflict("identity"))
    ));
    // The same subject at another provider is another identity.
    store
        .insert(Identity::new(
            &FederatedIdentity::new("gitlab", "1"),
            bob,
            now,
        ))
        .await
        .unwrap();
    let list = store.for_user(alice).await.unwrap();
    assert_eq!(
        list.iter().map(|i| i.provider.as_str()).collect::<Vec<_>>(),
        ["github", "corp"],
        "oldest first"
    );
    store
        .touch("github", "1", now + Duration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .find("github", "1")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(now + Duration::from_mins(1))
    );
    // Only the owner's link is removed.
    assert!(!store.remove(bob, "github", "1").await.unwrap());
    assert!(store.remove(alice, "github", "1").await.unwrap());
    assert!(!store.remove(alice, "github", "1").await.unwrap());
    assert!(store.find("github", "1").await.unwrap().is_none());

    // Of concurrent links of one identity exactly one wins.
    let racer = FederatedIdentity::new("race", "r");
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        let racer = racer.clone();
        tokio::spawn(async move {
            store
                .insert(Identity::new(&racer, UserId::new(), now))
                .await
        })
    });
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => won += 1,
            Err(Error::Conflict("identity")) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);
}

/// The contract every SSO directory keeps.
async fn sso_directory_conformance(directory: &dyn SsoDirectory) {
    let acme = SsoConnection::new(
        "acme",
        "https://login.acme.example",
        "app",
        ["acme.example", "acme.test"],
    )
    .unwrap()
    .client_secret("acme-secret");
    assert!(directory.by_tenant("acme").await.unwrap().is_none());
    directory.put(acme.clone()).await.unwrap();
    assert_eq!(
        directory.by_tenant("acme").await.unwrap().as_ref(),
        Some(&acme)
    );
    let by_domain = directory.by_domain("ACME.test").await.unwrap().unwrap();
    assert_eq!(by_domain.tenant, "acme");
    assert_eq!(
        by_domain.client_secret.unwrap().expose_secret(),
        "acme-secret"
    );
    assert!(
        directory
            .by_domain("other.example")
            .await
            .unwrap()
            .is_none()
    );

    // A domain belongs to one tenant; a refused put changes nothing.
    let globex = SsoConnection::new(
        "globex",
        "https://id.globex.example",
        "app",
        ["globex.example", "acme.test"],
    )
    .unwrap();
    assert!(matches!(
        directory.put(globex).await,
        Err(Error::Conflict("domain"))
    ));
    assert!(directory.by_tenant("globex").await.unwrap().is_none());
    assert!(
        directory
            .by_domain("globex.example")
            .await
            .unwrap()
            .is_none()
    );

    // Replacing a connection replaces its domains, freeing the dropped ones.
    let moved = SsoConnection::new(
        "acme",
        "https://login.acme.example",
        "app2",
        ["acme.example"],
    )
    .unwrap();
    directory.put(moved.clone()).await.unwrap();
    assert_eq!(directory.by_tenant("acme").await.unwrap(), Some(moved));
    assert!(directory.by_domain("acme.test").await.unwrap().is_none());
    let globex =
        SsoConnection::new("globex", "https://id.globex.example", "app", ["acme.test"]).unwrap();
    directory.put(globex).await.unwrap();
    assert_eq!(
        directory
            .list()
            .await
            .unwrap()
            .iter()
            .map(|c| c.tenant.as_str())
            .collect::<Vec<_>>(),
        ["acme", "globex"]
    );
    assert!(directory.remove("acme").await.unwrap());
    assert!(!directory.remove("acme").await.unwrap());
    assert!(directory.by_domain("acme.example").await.unwrap().is_none());
}

#[tokio::test]
async fn memory_stores() {
    identity_store_conformance(Arc::new(MemoryIdentityStore::new())).await;
    sso_directory_conformance(&MemorySsoDirectory::new()).await;
}

#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    use mortar_auth::sql::{SeaOrmIdentityStore, SeaOrmSsoDirectory};
    use sea_orm::{ConnectionTrait as _, Statement};
    identity_store_conformance(Arc::new(SeaOrmIdentityStore::new(conn.clone()))).await;
    let directory = SeaOrmSsoDirectory::new(conn.clone(), sealer());
    sso_directory_conformance(&directory).await;
    // The client secret is sealed in the table.
    directory
        .put(
            SsoConnection::new(
                "sealed",
                "https://id.sealed.example",
                "app",
                ["sealed.example"],
            )
            .unwrap()
            .client_secret("plain-secret"),
        )
        .await
        .unwrap();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT sealed_client_secret FROM mortar_sso_connections WHERE tenant = 'sealed'",
        ))
        .await
        .unwrap()
        .unwrap();
    let stored: String = row.try_get("", "sealed_client_secret").unwrap();
    assert!(!stored.contains("plain-secret"));
    assert!(stored.starts_with("flow-1."));
}

sql_suites!(super::run_sql);

/// RFC 7636 Appendix B: the S256 challenge of the example verifier, through the function the
/// flow uses (`PkceCodeChallenge::new_random_sha256` derives its challenge the same way).
#[test]
fn rfc7636_pkce_s256_vector() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("data/rfc-examples/pkce.json")).unwrap();
    let case = &vectors["rfc7636_appendix_b_pkce_S256"];
    assert_eq!(case["method"], "S256");
    let verifier =
        openidconnect::PkceCodeVerifier::new(case["code_verifier"].as_str().unwrap().to_owned());
    let challenge = openidconnect::PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    assert_eq!(challenge.method().as_str(), "S256");
    assert_eq!(challenge.as_str(), case["code_challenge"].as_str().unwrap());
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sign-ins that succeed and fail, every log line captured at TRACE: no client secret, code,
/// flow, access token or ID token appears.
#[tokio::test]
async fn provider_secrets_never_reach_a_log_line() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let idp = issuer().await;
    let oauth = oauth(&idp);
    let a = accounts();
    let federation = Federation::new(a.accounts.clone(), Arc::new(MemoryIdentityStore::new()));
    let mut secrets = vec!["app-secret".to_owned()];
    for faults in [
        Faults::default(),
        Faults {
            wrong_nonce: true,
            ..Faults::default()
        },
        Faults {
            bad_signature: true,
            ..Faults::default()
        },
    ] {
        idp.set_faults(faults);
        let started = oauth.start("corp", Intent::SignIn, None).await.unwrap();
        let callback = Callback::from_url(&idp.approve(&started.url).unwrap());
        secrets.push(callback.code.clone().unwrap());
        secrets.push(started.flow.expose_secret().to_owned());
        if let Ok(finished) = oauth
            .finish("corp", &callback, Some(started.flow.expose_secret()))
            .await
        {
            federation
                .sign_in(&finished.identity, &client())
                .await
                .unwrap();
        }
        // A replayed code: refused by the token endpoint.
        let _ = oauth
            .finish("corp", &callback, Some(started.flow.expose_secret()))
            .await;
    }
    secrets.extend(idp.issued_tokens());
    assert!(secrets.len() > 8);
    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("ID token refused"), "the refusals are logged");
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret reached the log:\n{logs}"
        );
    }
}
