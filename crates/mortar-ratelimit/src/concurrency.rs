//! [`ConcurrencyLimitLayer`]: at most N requests in flight per key, for expensive routes.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use http::{Request, Response, StatusCode};
use mortar_core::Problem;
use tower_layer::Layer;
use tower_service::Service;

use crate::policy::{ClientIp, KeyBy};

type InFlight = DashMap<Arc<str>, u32, foldhash::fast::RandomState>;

/// Limits how many requests of one key (client address, user, API key, tenant…) are being
/// handled at once, in this process: the request over the limit is answered 429
/// (`urn:mortar:problem:too-many-concurrent-requests`, `Retry-After: 1`) without reaching the
/// handler. A request counts from the moment it enters until its handler returns its response
/// (a streamed body is not counted). Keys with nothing in flight take no memory.
///
/// ```
/// use std::num::NonZeroU32;
/// use mortar_ratelimit::{ConcurrencyLimitLayer, KeyBy};
///
/// // At most 2 exports at once per user:
/// let layer = ConcurrencyLimitLayer::new(NonZeroU32::new(2).unwrap(), KeyBy::Subject);
/// assert_eq!(layer.in_flight("user-1"), 0);
/// ```
#[derive(Clone)]
#[must_use]
pub struct ConcurrencyLimitLayer {
    max: u32,
    key: KeyBy,
    client_ip: ClientIp,
    in_flight: Arc<InFlight>,
}

impl fmt::Debug for ConcurrencyLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimitLayer")
            .field("max", &self.max)
            .field("key", &self.key)
            .field("keys_in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

/// One request's place; released when dropped.
struct Permit {
    in_flight: Arc<InFlight>,
    key: Arc<str>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        // Count down and forget the key at zero, under one lock.
        self.in_flight.remove_if_mut(&*self.key, |_, count| {
            *count = count.saturating_sub(1);
            *count == 0
        });
    }
}

impl ConcurrencyLimitLayer {
    /// At most `max` requests in flight per key.
    pub fn new(max: NonZeroU32, key: KeyBy) -> Self {
        Self {
            max: max.get(),
            key,
            client_ip: ClientIp::new(),
            in_flight: Arc::new(DashMap::with_hasher(foldhash::fast::RandomState::default())),
        }
    }

    /// Sets how client addresses are found (for [`KeyBy::Ip`]).
    pub fn client_ip(mut self, client_ip: ClientIp) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// How many requests of `key` are in flight.
    pub fn in_flight(&self, key: &str) -> u32 {
        self.in_flight.get(key).map_or(0, |c| *c)
    }

    /// Takes a place for `key`, or `None` when its limit is reached.
    fn acquire(&self, key: String) -> Option<Permit> {
        // One allocation for the key, shared by the map and the permit.
        let key: Arc<str> = Arc::from(key);
        let mut count = self.in_flight.entry(key.clone()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        drop(count);
        Some(Permit {
            in_flight: self.in_flight.clone(),
            key,
        })
    }
}

fn refusal() -> Problem {
    Problem::mortar(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-concurrent-requests",
        "Too many requests at once; wait for one to finish.",
    )
    .with_retry_after(Duration::from_secs(1))
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> ConcurrencyLimit<S> {
        ConcurrencyLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The middleware; see [`ConcurrencyLimitLayer`].
#[derive(Clone, Debug)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    layer: ConcurrencyLimitLayer,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for ConcurrencyLimit<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqB: Send + 'static,
    ResB: From<Bytes> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = req.into_parts();
        let permit = match self.layer.key.resolve(&parts, &self.layer.client_ip) {
            Some(key) => {
                let Some(permit) = self.layer.acquire(key) else {
                    let (head, bytes) = refusal().into_parts();
                    let response = Response::from_parts(head, ResB::from(bytes));
                    return Box::pin(async { Ok(response) });
                };
                Some(permit)
            }
            None => None,
        };
        Box::pin(async move {
            let response = inner.call(Request::from_parts(parts, body)).await;
            drop(permit);
            response
        })
    }
}
