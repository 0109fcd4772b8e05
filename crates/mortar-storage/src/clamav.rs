//! [`ClamdScanner`] (feature `clamav`): a [`Scanner`] asking a ClamAV daemon over its TCP
//! `INSTREAM` protocol.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::error::Error;
use crate::key::ObjectKey;
use crate::store::ObjectStore;
use crate::upload::{Scanner, Verdict};

/// clamd's largest chunk on `INSTREAM` is its `StreamMaxLength`; chunks stay well below it.
const CHUNK: usize = 64 * 1024;

/// Scans objects with clamd (`clamd` listening on TCP, e.g. `127.0.0.1:3310`): the object is
/// streamed to it in chunks with `zINSTREAM` — never whole in memory — and its answer read.
/// Any answer but `OK` or `… FOUND` (clamd's size limit, an error) fails the scan, so the
/// upload is refused rather than let through unscanned.
#[derive(Clone, Debug)]
pub struct ClamdScanner {
    address: String,
    timeout: Duration,
}

impl ClamdScanner {
    /// A scanner using clamd at `address` (`host:port`), with a 60 s timeout per scan.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            timeout: Duration::from_mins(1),
        }
    }

    /// The longest a scan may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn scan_inner(&self, store: &dyn ObjectStore, key: &ObjectKey) -> Result<Verdict, Error> {
        let mut conn = TcpStream::connect(&self.address)
            .await
            .map_err(Error::backend)?;
        conn.write_all(b"zINSTREAM\0")
            .await
            .map_err(Error::backend)?;
        let mut body = store.get(key, None).await?.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            for piece in chunk.chunks(CHUNK) {
                let len = u32::try_from(piece.len()).map_err(Error::backend)?;
                conn.write_all(&len.to_be_bytes())
                    .await
                    .map_err(Error::backend)?;
                conn.write_all(piece).await.map_err(Error::backend)?;
            }
        }
        conn.write_all(&0u32.to_be_bytes())
            .await
            .map_err(Error::backend)?;
        let mut reply = Vec::new();
        conn.take(4096)
            .read_to_end(&mut reply)
            .await
            .map_err(Error::backend)?;
        parse_reply(&reply)
    }
}

/// `stream: OK` / `stream: <signature> FOUND` (NUL-terminated); anything else is a failure.
fn parse_reply(reply: &[u8]) -> Result<Verdict, Error> {
    let text = String::from_utf8_lossy(reply);
    let text = text.trim_end_matches(['\0', '\n']).trim();
    let answer = text.strip_prefix("stream:").map_or(text, str::trim);
    if answer == "OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(signature) = answer.strip_suffix("FOUND") {
        return Ok(Verdict::Infected(signature.trim().to_owned()));
    }
    Err(Error::Backend(format!("clamd answered {answer:?}")))
}

#[async_trait]
impl Scanner for ClamdScanner {
    async fn scan(&self, store: &dyn ObjectStore, key: &ObjectKey) -> Result<Verdict, Error> {
        tokio::time::timeout(self.timeout, self.scan_inner(store, key))
            .await
            .map_err(|_| Error::Backend("clamd did not answer in time".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse() {
        assert_eq!(parse_reply(b"stream: OK\0").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\0").unwrap(),
            Verdict::Infected("Win.Test.EICAR_HDB-1".into())
        );
        assert!(parse_reply(b"INSTREAM size limit exceeded. ERROR\0").is_err());
    }
}
