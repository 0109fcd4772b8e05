//! Rate limits: per client address and per signed-in user on every API route, a tighter
//! fail-closed limit on the credential endpoints, and login attempts per account (the
//! `AttemptLimiter` of the account flows). In Redis when configured (shared by every instance),
//! in memory otherwise.

use std::num::NonZeroU32;

use mortar::ratelimit::{
    ClientIp, KeyBy, Policy, Quota, RateLimitLayer, RateLimiter, RedisLimiter,
};

use crate::StartError;
use crate::config::Config;

/// The credential endpoints: a guesser's requests, whatever the account.
const CREDENTIAL_PATHS: [&str; 4] = [
    "/auth/login",
    "/auth/register",
    "/auth/password/forgot",
    "/auth/password/reset",
];

fn per_minute(n: u32) -> Result<Quota, StartError> {
    NonZeroU32::new(n)
        .map(Quota::per_minute)
        .ok_or_else(|| StartError::RateLimit("rate limits must be at least 1 per minute".into()))
}

/// The API's rate-limit layer.
///
/// # Errors
///
/// [`StartError::RateLimit`] when a setting is invalid (a zero limit, an unparsable proxy).
pub fn layer(
    config: &Config,
    redis: Option<&deadpool_redis::Pool>,
) -> Result<RateLimitLayer, StartError> {
    let invalid = |e: mortar::ratelimit::Error| StartError::RateLimit(e.to_string());
    let client_ip =
        ClientIp::trusting(crate::config::comma_list(config.trusted_proxies.as_deref()))
            .map_err(invalid)?;
    let limiter = match redis {
        Some(pool) => RateLimiter::redis(
            RedisLimiter::new(pool.clone()).prefix(format!("{}rl:", config.redis_prefix)),
        ),
        None => RateLimiter::memory(),
    };
    let credentials_ip = client_ip.clone();
    let credentials = KeyBy::Custom(std::sync::Arc::new(move |parts| {
        CREDENTIAL_PATHS
            .contains(&parts.uri.path())
            .then(|| credentials_ip.resolve(parts))
            .flatten()
            .map(|ip| ip.to_string())
    }));
    let per_user = per_minute(config.rate_limit_per_user)?;
    let pro = per_minute(config.rate_limit_per_user.saturating_mul(10))?;
    Ok(RateLimitLayer::new(
        limiter
            .client_ip(client_ip)
            .policy(
                Policy::new("ip", per_minute(config.rate_limit_per_ip)?, KeyBy::Ip)
                    .map_err(invalid)?,
            )
            .policy(
                Policy::new("user", per_user, KeyBy::Subject)
                    .map_err(invalid)?
                    .tiers(move |p| p.has_role("pro").then_some(pro)),
            )
            .policy(
                Policy::login(
                    "credentials",
                    per_minute(config.rate_limit_credentials)?,
                    credentials,
                )
                .map_err(invalid)?,
            ),
    ))
}
