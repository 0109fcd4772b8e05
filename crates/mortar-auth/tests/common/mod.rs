//! Shared by the test files.

/// `mortar_testkit::sql_suites!` with mortar-auth's migrator: one test per SQL backend, each
/// running `$run(connection).await` on its own migrated database.
#[allow(unused_macros, reason = "not every test file uses it")]
macro_rules! sql_suites {
    ($run:path) => {
        mortar_testkit::sql_suites!(mortar_auth::sql::Migrator, $run);
    };
}

/// Requires a second factor of everyone whose address starts with `2fa`; `246810` is the right
/// TOTP code.
#[derive(Debug)]
#[allow(dead_code, reason = "not every test file uses it")]
pub(crate) struct FixedSecondFactor;

#[async_trait::async_trait]
impl mortar_auth::account::SecondFactorPolicy for FixedSecondFactor {
    async fn required(&self, user: &mortar_auth::user::User) -> Result<bool, mortar_auth::Error> {
        Ok(user.email.starts_with("2fa"))
    }

    async fn verify(
        &self,
        _user: &mortar_auth::user::User,
        proof: &mortar_auth::account::Proof,
    ) -> Result<mortar_core::AuthMethod, mortar_auth::Error> {
        use secrecy::ExposeSecret as _;
        match proof {
            mortar_auth::account::Proof::Totp(code) if code.expose_secret() == "246810" => {
                Ok(mortar_core::AuthMethod::Totp)
            }
            _ => Err(mortar_auth::Error::InvalidCode),
        }
    }
}

/// The user and `amr` of a login that signed in (panics on a challenge).
#[allow(dead_code, reason = "not every test file uses it")]
pub(crate) fn signed_in_user(
    outcome: mortar_auth::account::LoginOutcome,
) -> (mortar_auth::user::User, Vec<String>) {
    match outcome {
        mortar_auth::account::LoginOutcome::Authenticated { user, principal } => (
            user,
            principal
                .authentication()
                .amr()
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        ),
        other => panic!("not signed in: {other:?}"),
    }
}

/// The `amr` of a login that signed in (panics on a challenge).
#[allow(dead_code, reason = "not every test file uses it")]
pub(crate) fn amr(outcome: mortar_auth::account::LoginOutcome) -> Vec<String> {
    signed_in_user(outcome).1
}
