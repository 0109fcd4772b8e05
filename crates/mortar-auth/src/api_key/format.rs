//! The key format and its checksum.

use rand::Rng as _;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub(crate) const ID_LEN: usize = 12;
pub(crate) const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;

/// `len` random base62 characters.
pub(crate) fn random_base62(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect()
}

/// CRC32 of `body` in 6 base62 characters, left-padded with `0`. (Base62 of a 32-bit number is
/// a few lines; no crate is worth a dependency for it.)
pub(crate) fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A key that is well-formed and whose checksum matches.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedKey<'a> {
    /// The public id.
    pub id: &'a str,
    /// The secret.
    pub secret: &'a str,
}

impl std::fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Parses a key with the expected prefix, checking its checksum; `None` for anything else.
///
/// ```
/// use mortar_auth::api_key::parse;
///
/// assert!(parse("acme", "acme_notakey").is_none());
/// ```
pub fn parse<'a>(prefix: &str, token: &'a str) -> Option<ParsedKey<'a>> {
    let rest = token.strip_prefix(prefix)?.strip_prefix('_')?;
    let (id, tail) = rest.split_once('_')?;
    if id.len() != ID_LEN
        || tail.len() != SECRET_LEN + CHECKSUM_LEN
        || !is_base62(id)
        || !is_base62(tail)
    {
        return None;
    }
    let (secret, sum) = tail.split_at(SECRET_LEN);
    let body = &token[..token.len() - CHECKSUM_LEN];
    (checksum(body) == sum).then_some(ParsedKey { id, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(prefix: &str) -> String {
        let body = format!(
            "{prefix}_{}_{}",
            random_base62(ID_LEN),
            random_base62(SECRET_LEN)
        );
        let sum = checksum(&body);
        format!("{body}{sum}")
    }

    #[test]
    fn round_trip_and_typos() {
        let key = make("acme");
        assert_eq!(key.len(), 4 + 1 + 12 + 1 + 32 + 6);
        let parsed = parse("acme", &key).unwrap();
        assert_eq!(parsed.id.len(), 12);
        assert!(parse("other", &key).is_none(), "wrong prefix");
        // Every single-character change is caught by the checksum or the shape.
        let bytes = key.as_bytes();
        for i in 5..key.len() {
            let mut changed = bytes.to_vec();
            changed[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(changed).unwrap();
            assert!(parse("acme", &changed).is_none(), "position {i}");
        }
        assert!(parse("acme", &key[..key.len() - 1]).is_none(), "truncated");
        assert!(parse("acme", "").is_none());
        assert!(!format!("{parsed:?}").contains(parsed.secret));
    }

    #[test]
    fn checksum_is_six_base62_characters() {
        assert_eq!(checksum("").len(), 6);
        assert!(checksum("x").bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
