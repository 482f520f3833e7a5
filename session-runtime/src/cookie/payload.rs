//! The cookie store's payload: a whole session in the cookie's value, and
//! the `Set-Cookie` that carries it, measured before it is sent.
//!
//! # Format
//!
//! The plaintext, before it is encrypted (or signed):
//!
//! | bytes | what |
//! | --- | --- |
//! | 1 | the format, [`FORMAT`] |
//! | varint | the creation time, Unix milliseconds |
//! | varint | the expiry, in milliseconds after the creation time |
//! | 24 | the session ID, raw (its 32 characters of base64 decoded) |
//! | rest | the fields, each a varint length and the name's UTF-8, then a varint length and the value's JSON text |
//!
//! Varints are LEB128 (7 bits a byte, low first), at most 10 bytes. A field
//! name is the derive's `namespace.field`; nothing else is added, so a
//! session costs its JSON texts, its names and two bytes a field (for short
//! values), plus 35 bytes or so of header. `BENCHMARKS.md` measures it
//! against a JSON object and a namespace-grouped form.
//!
//! Encrypted, the value is `NONCE.SEALED` (see [`seal`](super::seal)): 16
//! characters, a dot, and the base64 of the plaintext plus a 16-byte tag.
//! Signed only, it is `BASE64.MAC`: the unpadded URL-safe base64 of the
//! plaintext, a dot, and the 43 characters of the MAC.
//!
//! [`decode`] takes any bytes and answers a session or `None`; it never
//! panics and allocates no more than its input's size.

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderValue;
use time::{Duration, OffsetDateTime};

use super::{seal, CookieCodec, CookieSecurity, Opened};
use crate::error::{CookieTooLarge, SaveError};
use crate::id::{SessionId, ID_BYTES, ID_LEN};
use crate::store::{from_unix_millis, unix_millis, COOKIE_SIZE_LIMIT};

/// The first byte of every payload: the format's version.
pub(crate) const FORMAT: u8 = 1;

/// Characters of a private value besides its sealed part: the nonce's 16 and
/// the dot.
const PRIVATE_PREFIX: usize = 17;
/// Bytes AES-GCM adds to the plaintext: the tag.
const TAG_LEN: usize = 16;
/// Characters of a signed value besides its base64: the dot and the MAC's 43.
const SIGNED_SUFFIX: usize = 44;

/// A session as the cookie carries it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Payload {
    pub(crate) id: SessionId,
    pub(crate) created: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) fields: Vec<(String, String)>,
}

impl std::fmt::Debug for Payload {
    // Values may hold personal data, and the ID is a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("created", &self.created)
            .field("expires_at", &self.expires_at)
            .field(
                "fields",
                &self.fields.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The plaintext of a session: see the module's format.
pub(crate) fn encode<'a>(
    id: &SessionId,
    created: OffsetDateTime,
    expires_at: OffsetDateTime,
    fields: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(FORMAT);
    let created_ms = u64::try_from(unix_millis(created)).unwrap_or(0);
    let expires_ms = u64::try_from(unix_millis(expires_at)).unwrap_or(0);
    put_varint(&mut out, created_ms);
    put_varint(&mut out, expires_ms.saturating_sub(created_ms));
    // 32 characters of URL-safe base64 are always 24 bytes, so this never
    // fails; were it to, the ID would read back as another (and the session
    // go on under it), never as a panic.
    let mut raw = [0u8; ID_BYTES + 3];
    let _ = URL_SAFE_NO_PAD.decode_slice(id.expose(), &mut raw);
    out.extend_from_slice(&raw[..ID_BYTES]);
    for (name, value) in fields {
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// The session in a plaintext, or `None` for anything that is not one. Any
/// bytes are safe here.
pub(crate) fn decode(bytes: &[u8]) -> Option<Payload> {
    let mut reader = Reader { rest: bytes };
    if reader.byte()? != FORMAT {
        return None;
    }
    let created_ms = reader.varint()?;
    let ttl_ms = reader.varint()?;
    let created = from_unix_millis(i64::try_from(created_ms).ok()?)?;
    let expires_at = from_unix_millis(i64::try_from(created_ms.checked_add(ttl_ms)?).ok()?)?;
    let raw = reader.take(ID_BYTES)?;
    let mut text = [0u8; ID_LEN];
    let n = URL_SAFE_NO_PAD.encode_slice(raw, &mut text).ok()?;
    let id = SessionId::parse(std::str::from_utf8(text.get(..n)?).ok()?)?;
    let mut fields = Vec::new();
    while !reader.rest.is_empty() {
        let name = reader.text()?;
        let value = reader.text()?;
        fields.push((name.to_owned(), value.to_owned()));
    }
    Some(Payload {
        id,
        created,
        expires_at,
        fields,
    })
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a plaintext front to back; every method answers `None` past its end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(head)
    }

    /// A LEB128 varint of at most 10 bytes that fits a `u64`.
    fn varint(&mut self) -> Option<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte holds one bit; more would not fit.
            if shift == 63 && bits > 1 {
                return None;
            }
            n |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// A varint length and that many bytes of UTF-8.
    fn text(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.varint()?).ok()?;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

/// Unpadded base64 of `n` bytes: `ceil(4n / 3)` characters.
fn base64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

impl CookieCodec {
    /// The plaintext a verified cookie value carries: as it opened when
    /// encrypted, base64-decoded when only signed. `None` when a signed value
    /// is not base64 (a cookie of a server-side store, say).
    pub(crate) fn payload_of<'a>(&self, opened: &'a Opened) -> Option<Cow<'a, [u8]>> {
        match self.security {
            CookieSecurity::Private => Some(Cow::Borrowed(opened.as_bytes())),
            CookieSecurity::Signed => URL_SAFE_NO_PAD
                .decode(opened.as_bytes())
                .ok()
                .map(Cow::Owned),
        }
    }

    /// The length of the `Set-Cookie` value (name, value and attributes)
    /// that would carry a payload of `payload_len` bytes, computed without
    /// sealing it.
    pub(crate) fn payload_cookie_len(
        &self,
        payload_len: usize,
        max_age: Option<Duration>,
    ) -> usize {
        let value = match self.security {
            CookieSecurity::Private => PRIVATE_PREFIX + base64_len(payload_len + TAG_LEN),
            CookieSecurity::Signed => base64_len(payload_len) + SIGNED_SUFFIX,
        };
        self.name.len() + 1 + value + self.attributes().len() + max_age_len(max_age)
    }

    /// The `Set-Cookie` value that gives the client this payload, encrypted
    /// (or signed) under the current key; refused, before any work, when
    /// the whole header value would pass [`COOKIE_SIZE_LIMIT`].
    pub(crate) fn issue_payload(
        &self,
        payload: &[u8],
        max_age: Option<Duration>,
    ) -> Result<HeaderValue, SaveError> {
        let size = self.payload_cookie_len(payload.len(), max_age);
        if size > COOKIE_SIZE_LIMIT {
            return Err(SaveError::CookieTooLarge(CookieTooLarge {
                size,
                limit: COOKIE_SIZE_LIMIT,
            }));
        }
        let key = self.keys.first().ok_or(SaveError::Cookie)?;
        let mut text = String::with_capacity(size);
        text.push_str(&self.name);
        text.push('=');
        match self.security {
            CookieSecurity::Private => {
                seal::seal(key, &self.name, payload, &mut text).map_err(|_| SaveError::Cookie)?;
            }
            CookieSecurity::Signed => {
                let encoded = URL_SAFE_NO_PAD.encode(payload);
                seal::sign(key, &self.name, &encoded, &mut text);
            }
        }
        text.push_str(self.attributes());
        if let Some(max_age) = max_age {
            // Writing to a String cannot fail.
            let _ = write!(text, "; Max-Age={}", max_age.whole_seconds());
        }
        debug_assert_eq!(text.len(), size, "the measured size is the sent one");
        HeaderValue::try_from(text).map_err(|_| SaveError::Cookie)
    }
}

/// The length of `; Max-Age=N`, if any.
fn max_age_len(max_age: Option<Duration>) -> usize {
    match max_age {
        None => 0,
        Some(max_age) => "; Max-Age=".len() + max_age.whole_seconds().to_string().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use http::header::COOKIE;
    use http::HeaderMap;

    fn payload(fields: &[(&str, &str)]) -> Payload {
        let created = from_unix_millis(1_700_000_000_123).unwrap();
        Payload {
            id: SessionId::generate().unwrap(),
            created,
            expires_at: created + Duration::hours(24),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn encoded(p: &Payload) -> Vec<u8> {
        encode(
            &p.id,
            p.created,
            p.expires_at,
            p.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    fn value_of(set_cookie: &HeaderValue) -> String {
        let text = set_cookie.to_str().unwrap();
        let first = text.split(';').next().unwrap();
        first.split_once('=').unwrap().1.to_owned()
    }

    #[test]
    fn a_payload_round_trips() {
        for fields in [
            vec![],
            vec![("visits.page_views", "3")],
            vec![
                ("auth.user", "\"ada\""),
                ("shop.cart", "[\"apple\",\"fig \\\"q\\\"\"]"),
                ("shop.theme", "\"dé\""),
            ],
            vec![("a.big", &*"x".repeat(300))],
        ] {
            let p = payload(&fields);
            assert_eq!(decode(&encoded(&p)), Some(p));
        }
    }

    #[test]
    fn truncated_extended_or_other_format_payloads_do_not_decode() {
        let p = payload(&[("a.x", "1"), ("b.y", "\"two\"")]);
        let bytes = encoded(&p);
        for cut in 0..bytes.len() {
            let decoded = decode(&bytes[..cut]);
            // A cut between two fields is a valid, shorter session; any other
            // cut is not a session at all.
            if let Some(shorter) = decoded {
                assert!(shorter.fields.len() < p.fields.len(), "cut at {cut}");
            }
        }
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert_eq!(decode(&other), None);
        let mut dangling = bytes.clone();
        dangling.push(5);
        assert_eq!(decode(&dangling), None, "a name longer than what is left");
        assert_eq!(
            decode(&[FORMAT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            None
        );
    }

    #[test]
    fn the_measured_size_is_the_size_sent() {
        for security in [CookieSecurity::Private, CookieSecurity::Signed] {
            let mut codec = CookieCodec::new(security, vec![Key::generate()]);
            codec.domain = Some("example.com".into());
            for len in [0, 1, 2, 3, 40, 41, 42, 1000, 2800] {
                for max_age in [None, Some(Duration::seconds(9)), Some(Duration::days(400))] {
                    let p = vec![7u8; len];
                    let set = codec.issue_payload(&p, max_age).unwrap();
                    assert_eq!(set.len(), codec.payload_cookie_len(len, max_age));
                }
            }
        }
    }

    #[test]
    fn a_payload_past_the_limit_is_refused_with_its_size() {
        let codec = CookieCodec::new(CookieSecurity::Private, vec![Key::generate()]);
        let fits = (0..4096)
            .rev()
            .find(|n| codec.payload_cookie_len(*n, None) <= COOKIE_SIZE_LIMIT)
            .unwrap();
        assert!(codec.issue_payload(&vec![0; fits], None).is_ok());
        match codec.issue_payload(&vec![0; fits + 3], None) {
            Err(SaveError::CookieTooLarge(err)) => {
                assert!(err.size > COOKIE_SIZE_LIMIT);
                assert_eq!(err.limit, COOKIE_SIZE_LIMIT);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_issued_payload_reads_back_encrypted_or_signed() {
        let p = payload(&[("shop.cart", "[\"apple\"]")]);
        let bytes = encoded(&p);
        for security in [CookieSecurity::Private, CookieSecurity::Signed] {
            let mut codec = CookieCodec::new(security, vec![Key::generate()]);
            codec.max_value_len = COOKIE_SIZE_LIMIT;
            let value = value_of(&codec.issue_payload(&bytes, None).unwrap());
            let readable = URL_SAFE_NO_PAD
                .decode(value.split('.').next().unwrap())
                .is_ok_and(|plain| plain.windows(5).any(|w| w == b"apple"));
            assert_eq!(readable, security == CookieSecurity::Signed, "{security:?}");
            let mut headers = HeaderMap::new();
            headers.append(COOKIE, format!("sid={value}").parse().unwrap());
            let incoming = codec.read(&headers);
            let opened = incoming.value.unwrap();
            let plain = codec.payload_of(&opened).unwrap();
            assert_eq!(decode(&plain), Some(p.clone()));
        }
    }

    #[test]
    fn only_a_codec_in_cookie_mode_reads_values_past_256_bytes() {
        let p = payload(&[("shop.cart", &*format!("[\"{}\"]", "z".repeat(2000)))]);
        for security in [CookieSecurity::Private, CookieSecurity::Signed] {
            let mut codec = CookieCodec::new(security, vec![Key::generate()]);
            let value = value_of(&codec.issue_payload(&encoded(&p), None).unwrap());
            let mut headers = HeaderMap::new();
            headers.append(COOKIE, format!("sid={value}").parse().unwrap());
            assert!(
                codec.read(&headers).value.is_none(),
                "an ID cookie is short"
            );
            codec.max_value_len = COOKIE_SIZE_LIMIT;
            assert!(codec.read(&headers).value.is_some(), "{security:?}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::read_payload;

        fn fields() -> impl Strategy<Value = Vec<(String, String)>> {
            prop::collection::vec(("[a-z_.-]{1,20}", any::<String>()), 0..6)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any bytes: "no session" or a session, never a panic, and the
            /// same through an encrypted or signed cookie.
            #[test]
            fn any_bytes_decode_to_no_session_or_a_session(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
                let _ = read_payload(&bytes);
            }

            /// Bytes that start like a payload, to get past the header.
            #[test]
            fn bytes_behind_a_valid_header_never_panic(tail in prop::collection::vec(any::<u8>(), 0..200)) {
                let p = payload(&[]);
                let mut bytes = encoded(&p);
                bytes.extend_from_slice(&tail);
                let _ = read_payload(&bytes);
            }

            /// Every session round-trips, and any one changed byte gives no
            /// session or a session, never a panic.
            #[test]
            fn sessions_round_trip_and_survive_any_one_changed_byte(
                fields in fields(),
                at in any::<prop::sample::Index>(),
                byte in any::<u8>(),
            ) {
                let mut p = payload(&[]);
                p.fields = fields;
                let mut bytes = encoded(&p);
                prop_assert_eq!(decode(&bytes), Some(p));
                let i = at.index(bytes.len());
                bytes[i] = byte;
                let _ = read_payload(&bytes);
            }
        }
    }
}
