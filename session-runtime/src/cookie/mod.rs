//! The cookie codec: reading the session cookie's verified value out of a
//! request's `Cookie` headers, and writing the `Set-Cookie` that carries a
//! value.
//!
//! The codec seals and opens any text: for the server-side stores it is the
//! session ID; a store that keeps the session's data in the cookie itself
//! seals that instead.

use std::fmt::Write as _;
use std::sync::OnceLock;

use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use time::Duration;

use crate::key::Key;

mod payload;
#[cfg(test)]
mod properties;
mod rules;
mod seal;

pub(crate) use self::payload::{decode as decode_payload, encode as encode_payload};

pub(crate) use self::seal::Opened;

/// The longest session cookie value worth verifying. A signed ID is 76 bytes
/// and an encrypted one 81; anything far past that is garbage or an attack.
const MAX_VALUE_LEN: usize = 256;

/// How the session cookie is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CookieSecurity {
    /// Signed with HMAC-SHA256: readable, not forgeable (the default).
    #[default]
    Signed,
    /// Encrypted and authenticated with AES-256-GCM: neither readable nor
    /// forgeable.
    Private,
}

/// What a request's cookies said about the session.
#[derive(Debug, Default)]
pub(crate) struct Incoming {
    /// The verified (or decrypted) value, if exactly one valid session cookie
    /// came.
    pub(crate) value: Option<Opened>,
    /// How many cookies of the session's name came.
    pub(crate) seen: CookieSeen,
    /// Whether the value verified only under an older key, or in the older
    /// format, so the cookie should be re-issued under the current key.
    pub(crate) stale_key: bool,
}

/// How many cookies of the session's name a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum CookieSeen {
    /// None.
    #[default]
    None,
    /// Exactly one: if it names no live session, the response clears it.
    One,
    /// Several (another `Path`'s or `Domain`'s cookie, or cookie tossing):
    /// all are refused, and none is cleared, since a removal cookie can only
    /// reach the one of this layer's `Path` and `Domain`.
    Repeated,
}

/// The cookie's name, attributes and keys.
#[derive(Clone, Debug)]
pub(crate) struct CookieCodec {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) domain: Option<String>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: SameSite,
    pub(crate) partitioned: bool,
    pub(crate) security: CookieSecurity,
    /// The first signs; every one verifies.
    pub(crate) keys: Vec<Key>,
    /// The attributes' part of the `Set-Cookie` text (`; HttpOnly; ...`), as
    /// the `cookie` crate writes it, made once on the first issue.
    pub(crate) attributes: OnceLock<Box<str>>,
    /// The longest value worth verifying: [`MAX_VALUE_LEN`] for a session
    /// ID, the whole cookie's limit when the cookie holds the session.
    pub(crate) max_value_len: usize,
}

impl CookieCodec {
    /// A codec with the secure defaults: cookie `sid`, `Path=/`, host-only,
    /// `Secure`, `HttpOnly`, `SameSite=Lax`, not partitioned.
    pub(crate) fn new(security: CookieSecurity, keys: Vec<Key>) -> Self {
        Self {
            name: "sid".to_owned(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            partitioned: false,
            security,
            keys,
            attributes: OnceLock::new(),
            max_value_len: MAX_VALUE_LEN,
        }
    }

    /// Reads the session cookie's verified value from the request's `Cookie`
    /// headers.
    ///
    /// Missing, unsigned, tampered, garbled, oversized or duplicated session
    /// cookies all mean "no session". Never panics.
    pub(crate) fn read(&self, headers: &HeaderMap) -> Incoming {
        let mut found: Option<&[u8]> = None;
        let mut count = 0usize;
        // Bytes, not text: another cookie's value may hold non-ASCII bytes
        // (browsers send UTF-8 as it is), which must not hide this one.
        for header in headers.get_all(COOKIE) {
            for pair in header.as_bytes().split(|b| *b == b';') {
                let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                    continue;
                };
                if pair[..eq].trim_ascii() == self.name.as_bytes() {
                    count += 1;
                    found = Some(pair[eq + 1..].trim_ascii());
                }
            }
        }
        let mut incoming = Incoming {
            seen: match count {
                0 => CookieSeen::None,
                1 => CookieSeen::One,
                _ => CookieSeen::Repeated,
            },
            ..Incoming::default()
        };
        let value = match (count, found.map(std::str::from_utf8)) {
            (1, Some(Ok(value))) if !value.is_empty() && value.len() <= self.max_value_len => value,
            (0, _) => return incoming,
            _ => {
                tracing::debug!(
                    count,
                    "session cookie missing, empty, oversized or repeated"
                );
                return incoming;
            }
        };
        let value = value.trim_matches('"');
        // A client that percent-encodes cookie values (the `cookie` crate's
        // `encoded()`, tower-cookies, some proxies) sends `%3D` for `=`; `%`
        // never appears in a value this codec issues, so decode first.
        let decoded;
        let value = if value.contains('%') {
            decoded = percent_decode(value.as_bytes());
            decoded.as_slice()
        } else {
            value.as_bytes()
        };
        for (index, key) in self.keys.iter().enumerate() {
            if let Some((opened, format)) = self.open(key, value) {
                incoming.value = Some(opened);
                incoming.stale_key = index > 0 || format == seal::Format::Legacy;
                return incoming;
            }
        }
        tracing::debug!("session cookie did not verify under any key");
        incoming
    }

    fn open(&self, key: &Key, value: &[u8]) -> Option<(Opened, seal::Format)> {
        match self.security {
            CookieSecurity::Signed => seal::open_signed(key, &self.name, value),
            CookieSecurity::Private => seal::open_private(key, &self.name, value),
        }
    }

    /// The `Set-Cookie` value that gives the client a cookie carrying
    /// `value`, signed or encrypted under the current key. A signed value
    /// must need no percent-encoding (a session ID never does).
    ///
    /// The attributes, which the `cookie` crate writes after the value in a
    /// fixed order (`Max-Age` last but for `Expires`, which an issued cookie
    /// never has), are its text, made once.
    pub(crate) fn issue(&self, value: &str, max_age: Option<Duration>) -> Option<HeaderValue> {
        let key = self.keys.first()?;
        let attributes = self.attributes();
        let mut text =
            String::with_capacity(self.name.len() + 2 + 2 * value.len() + 64 + attributes.len());
        text.push_str(&self.name);
        text.push('=');
        match self.security {
            CookieSecurity::Signed => seal::sign(key, &self.name, value, &mut text),
            CookieSecurity::Private => {
                seal::seal(key, &self.name, value.as_bytes(), &mut text).ok()?;
            }
        }
        text.push_str(attributes);
        if let Some(max_age) = max_age {
            // Writing to a String cannot fail.
            let _ = write!(text, "; Max-Age={}", max_age.whole_seconds());
        }
        HeaderValue::try_from(text).ok()
    }

    /// The attributes' text: everything the `cookie` crate writes after
    /// `name=value` for a cookie with this codec's attributes.
    fn attributes(&self) -> &str {
        self.attributes.get_or_init(|| {
            let whole = self.base(String::new()).to_string();
            // `name=` (an empty value) comes first; the rest is the attributes.
            whole.get(self.name.len() + 1..).unwrap_or_default().into()
        })
    }

    /// The `Set-Cookie` value that makes the client drop its session cookie:
    /// the same name and attributes, an empty value, `Max-Age=0` and an
    /// `Expires` in the past.
    pub(crate) fn removal(&self) -> Option<HeaderValue> {
        let mut cookie = self.base(String::new());
        cookie.make_removal();
        HeaderValue::from_str(&cookie.to_string()).ok()
    }

    fn base(&self, value: String) -> Cookie<'static> {
        let mut cookie = Cookie::new(self.name.clone(), value);
        cookie.set_path(self.path.clone());
        if let Some(domain) = &self.domain {
            cookie.set_domain(domain.clone());
        }
        cookie.set_secure(self.secure);
        cookie.set_http_only(self.http_only);
        cookie.set_same_site(self.same_site);
        cookie.set_partitioned(self.partitioned);
        cookie
    }
}

/// `%XX` sequences decoded; a `%` not followed by two hex digits is kept as
/// it is (and then fails to verify).
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b == b'%' {
            if let (Some(hi), Some(lo)) = (
                text.get(i + 1).copied().and_then(hex),
                text.get(i + 2).copied().and_then(hex),
            ) {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::SessionId;

    fn codec(security: CookieSecurity) -> CookieCodec {
        CookieCodec::new(security, vec![Key::generate()])
    }

    /// What the `cookie` crate's jars wrote for the whole cookie, before this
    /// codec signed and sealed values itself: the format that must still
    /// verify.
    fn legacy_cookie(codec: &CookieCodec, id: &SessionId, max_age: Option<Duration>) -> String {
        let mut cookie = codec.base(id.expose().to_owned());
        if let Some(max_age) = max_age {
            cookie.set_max_age(max_age);
        }
        let mut jar = cookie::CookieJar::new();
        let key = codec.keys[0].cookie_key();
        match codec.security {
            CookieSecurity::Signed => jar.signed_mut(&key).add(cookie),
            CookieSecurity::Private => jar.private_mut(&key).add(cookie),
        }
        jar.get(&codec.name).unwrap().to_string()
    }

    fn id_of(incoming: &Incoming) -> Option<SessionId> {
        incoming
            .value
            .as_ref()
            .and_then(Opened::as_str)
            .and_then(SessionId::parse)
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn value_of(set_cookie: &HeaderValue) -> String {
        let text = set_cookie.to_str().unwrap();
        let first = text.split(';').next().unwrap();
        first.split_once('=').unwrap().1.to_owned()
    }

    #[test]
    fn an_issued_cookie_reads_back_for_both_securities() {
        for security in [CookieSecurity::Signed, CookieSecurity::Private] {
            let codec = codec(security);
            let id = SessionId::generate().unwrap();
            let set = codec.issue(id.expose(), None).unwrap();
            let value = value_of(&set);
            if security == CookieSecurity::Private {
                assert!(!value.contains(id.expose()), "private cookies hide the id");
            }
            let read = codec.read(&headers(&[&format!("other=1; sid={value}")]));
            assert_eq!(id_of(&read), Some(id));
            assert!(!read.stale_key);
        }
    }

    #[test]
    fn an_issued_cookie_has_the_attributes_the_cookie_crate_writes_and_a_value_that_needs_no_encoding(
    ) {
        let id = SessionId::generate().unwrap();
        for security in [CookieSecurity::Signed, CookieSecurity::Private] {
            for max_age in [None, Some(Duration::hours(24)), Some(Duration::ZERO)] {
                let mut plain = codec(security);
                let mut dressed = codec(security);
                dressed.name = "__Host-app.session".into();
                dressed.domain = Some("example.com".into());
                dressed.path = "/app".into();
                dressed.same_site = SameSite::None;
                dressed.partitioned = true;
                dressed.http_only = false;
                plain.secure = false;
                for codec in [&plain, &dressed] {
                    let issued = codec.issue(id.expose(), max_age).unwrap();
                    let whole = legacy_cookie(codec, &id, max_age);
                    // The value differs; everything else is the same text.
                    let (name, rest) = whole.split_once('=').unwrap();
                    let attrs = rest.find(';').map_or("", |at| &rest[at..]);
                    let text = issued.to_str().unwrap();
                    let value = value_of(&issued);
                    assert_eq!(text, format!("{name}={value}{attrs}"));
                    assert!(
                        value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
                        "{value} needs percent-encoding"
                    );
                    let read = codec.read(&headers(&[&format!("{name}={value}")]));
                    assert_eq!(id_of(&read).as_ref(), Some(&id));
                    assert!(!read.stale_key);
                }
            }
        }
    }

    #[test]
    fn a_cookie_in_the_cookie_crates_format_still_verifies_and_is_reissued() {
        let id = SessionId::generate().unwrap();
        for security in [CookieSecurity::Signed, CookieSecurity::Private] {
            let codec = codec(security);
            let legacy = legacy_cookie(&codec, &id, None);
            let pair = legacy.split(';').next().unwrap();
            let read = codec.read(&headers(&[pair]));
            assert_eq!(id_of(&read), Some(id.clone()), "{security:?}");
            assert!(read.stale_key, "an old-format cookie is re-issued");
        }
    }

    #[test]
    fn a_signed_cookie_under_another_name_does_not_verify() {
        let id = SessionId::generate().unwrap();
        for security in [CookieSecurity::Signed, CookieSecurity::Private] {
            let codec = codec(security);
            let mut other = codec.clone();
            other.name = "other".into();
            let value = value_of(&other.issue(id.expose(), None).unwrap());
            let read = codec.read(&headers(&[&format!("sid={value}")]));
            assert_eq!(read.value, None, "{security:?}: the MAC binds the name");
        }
    }

    #[test]
    fn a_percent_encoded_cookie_verifies() {
        let id = SessionId::generate().unwrap();
        for security in [CookieSecurity::Signed, CookieSecurity::Private] {
            let codec = codec(security);
            let legacy = legacy_cookie(&codec, &id, None);
            let value = legacy.split(';').next().unwrap().split_once('=').unwrap().1;
            let encoded: String = value
                .chars()
                .map(|c| match c {
                    '=' | '+' | '/' | '.' => format!("%{:02X}", u32::from(c)),
                    c => c.to_string(),
                })
                .collect();
            let read = codec.read(&headers(&[&format!("sid={encoded}")]));
            assert_eq!(id_of(&read), Some(id.clone()), "{security:?}: {encoded}");
            let fresh = value_of(&codec.issue(id.expose(), None).unwrap()).replace('.', "%2E");
            let read = codec.read(&headers(&[&format!("sid={fresh}")]));
            assert_eq!(id_of(&read), Some(id.clone()), "{security:?}: {fresh}");
        }
    }

    #[test]
    fn default_attributes_are_secure() {
        let codec = codec(CookieSecurity::Signed);
        let set = codec
            .issue(SessionId::generate().unwrap().expose(), None)
            .unwrap();
        let text = set.to_str().unwrap();
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(text.contains(attr), "{text} lacks {attr}");
        }
        assert!(
            !text.contains("Max-Age"),
            "browser-session cookie by default"
        );
    }

    #[test]
    fn tampered_unsigned_duplicated_and_oversized_cookies_give_no_session() {
        let codec = codec(CookieSecurity::Signed);
        let id = SessionId::generate().unwrap();
        let value = value_of(&codec.issue(id.expose(), None).unwrap());
        let mut tampered = value.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        for bad in [
            format!("sid={tampered}"),
            format!("sid={}", id.expose()),
            format!("sid={value}; sid={value}"),
            format!("sid={}", "A".repeat(5000)),
            "sid=".to_owned(),
            "sid".to_owned(),
            "sid=%%%;;;==".to_owned(),
        ] {
            let read = codec.read(&headers(&[&bad]));
            assert_eq!(read.value, None, "{bad} must not verify");
        }
        let split = codec.read(&headers(&[
            &format!("sid={value}"),
            &format!("sid={value}"),
        ]));
        assert_eq!(
            split.value, None,
            "a cookie repeated across headers is refused"
        );
    }

    #[test]
    fn an_older_key_still_verifies_and_asks_for_a_reissue() {
        let mut old = codec(CookieSecurity::Signed);
        let id = SessionId::generate().unwrap();
        let value = value_of(&old.issue(id.expose(), None).unwrap());
        old.keys.insert(0, Key::generate());
        let read = old.read(&headers(&[&format!("sid={value}")]));
        assert_eq!(id_of(&read), Some(id));
        assert!(read.stale_key);
    }

    #[test]
    fn removal_expires_the_cookie_with_the_same_attributes() {
        let mut codec = codec(CookieSecurity::Signed);
        codec.domain = Some("example.com".into());
        let text = codec.removal().unwrap().to_str().unwrap().to_owned();
        for attr in [
            "sid=",
            "Max-Age=0",
            "Expires=",
            "Domain=example.com",
            "Path=/",
            "Secure",
        ] {
            assert!(text.contains(attr), "{text} lacks {attr}");
        }
    }
}
