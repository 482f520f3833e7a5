//! An entry point for fuzzing the cookie decoding path; not a public API.
//!
//! Built only with the `fuzzing` feature (the `fuzz/` crate turns it on) and
//! in this crate's own tests. It runs the real codec, `CookieCodec::read`,
//! with fixed keys, signed and private, on `Cookie` headers made of arbitrary
//! bytes; it exposes no key, no codec and nothing a handler could use.
//!
//! The fixed keys are public knowledge (they are in this file): nothing here
//! may ever serve a real request.

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::cookie::{CookieCodec, CookieSecurity};
use crate::key::Key;

/// The session cookie's name in the fuzzing codecs.
pub const COOKIE_NAME: &str = "sid";

/// The session ID that [`SIGNED_VALUE`] and [`PRIVATE_VALUE`] carry.
pub const FIXED_ID: &str = "fuzzFUZZfuzzFUZZfuzzFUZZfuzz-_09";

/// A signed cookie value for [`FIXED_ID`] under the current fuzzing key. In a
/// fuzz input, the two bytes `\x01S` stand for it.
pub const SIGNED_VALUE: &str =
    "wZlDUOrBTTTfg7FwxEEBFOvic5bjLW7TRcNPZcAAM+g=fuzzFUZZfuzzFUZZfuzzFUZZfuzz-_09";

/// An encrypted cookie value for [`FIXED_ID`] under the older fuzzing key, so
/// it takes the key-rotation path. In a fuzz input, the two bytes `\x01P`
/// stand for it.
pub const PRIVATE_VALUE: &str =
    "A2wuWgvdaNwmeyOD7i0beJzTrw+a+p1L9O43sbKM4NGk8rfYYGMatyrXsvxjMQWrLyecjRd5V/oHUhLi";

/// The byte that starts a placeholder in a fuzz input. A control byte is
/// never valid in a header, so no real header can contain a placeholder.
const MARK: u8 = 0x01;

fn codec(security: CookieSecurity) -> CookieCodec {
    let keys = vec![Key::from_bytes(&[7; 64]), Key::from_bytes(&[9; 64])];
    let codec = CookieCodec::new(security, keys);
    debug_assert_eq!(codec.name, COOKIE_NAME);
    codec
}

/// Runs the cookie decoding path of both a signed and a private codec on
/// these `Cookie` header values, and says whether either found a session.
///
/// A value that is not a valid HTTP header value (a control byte, say) is
/// skipped, as the HTTP server would refuse the request before any layer saw
/// it.
pub fn read_cookie(headers: &[&[u8]]) -> bool {
    let mut map = HeaderMap::new();
    for bytes in headers {
        if let Ok(value) = HeaderValue::from_bytes(bytes) {
            map.append(COOKIE, value);
        }
    }
    [CookieSecurity::Signed, CookieSecurity::Private]
        .into_iter()
        .any(|security| codec(security).read(&map).id.is_some())
}

/// Reads a fuzz input as `Cookie` headers: one per line (`\n`), with `\x01S`
/// and `\x01P` replaced by [`SIGNED_VALUE`] and [`PRIVATE_VALUE`], so the
/// fuzzer can place valid cookies among its bytes. Says whether a session was
/// found, which without a placeholder would be a forgery.
pub fn read_fuzz_input(data: &[u8]) -> bool {
    let expanded = expand(data);
    let headers: Vec<&[u8]> = expanded.split(|b| *b == b'\n').collect();
    read_cookie(&headers)
}

fn expand(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut bytes = data.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte != MARK {
            out.push(byte);
            continue;
        }
        match bytes.next() {
            Some(b'S') => out.extend_from_slice(SIGNED_VALUE.as_bytes()),
            Some(b'P') => out.extend_from_slice(PRIVATE_VALUE.as_bytes()),
            Some(other) => out.extend_from_slice(&[MARK, other]),
            None => out.push(MARK),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Property tests of the cookie codec: whatever bytes come in the
    //! `Cookie` headers, the answer is "no session" or a session that was
    //! really issued, and nothing panics.

    use proptest::prelude::*;

    use super::*;
    use crate::id::SessionId;

    fn headers(values: &[Vec<u8>]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(COOKIE, value);
            }
        }
        map
    }

    /// The value of the cookie in a `Set-Cookie` header.
    fn value_of(set_cookie: &HeaderValue) -> String {
        let text = set_cookie.to_str().unwrap();
        let first = text.split(';').next().unwrap();
        first.split_once('=').unwrap().1.to_owned()
    }

    fn a_session_id() -> impl Strategy<Value = SessionId> {
        "[A-Za-z0-9_-]{32}".prop_map(|text| SessionId::parse(&text).unwrap())
    }

    fn a_security() -> impl Strategy<Value = CookieSecurity> {
        prop_oneof![Just(CookieSecurity::Signed), Just(CookieSecurity::Private)]
    }

    /// Cookie-shaped text: pairs of likely names and values made of base64,
    /// quotes, separators and spaces, so the parser's edge cases come up.
    fn cookie_text() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            (
                prop_oneof![
                    Just("sid"),
                    Just(" sid"),
                    Just("SID"),
                    Just("sid "),
                    Just("x")
                ],
                prop_oneof![Just("="), Just(""), Just("==")],
                "[A-Za-z0-9+/=_\"; ,-]{0,100}",
            ),
            0..4,
        )
        .prop_map(|pairs| {
            let text: Vec<String> = pairs
                .into_iter()
                .map(|(name, eq, value)| format!("{name}{eq}{value}"))
                .collect();
            text.join(";").into_bytes()
        })
    }

    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![prop::collection::vec(any::<u8>(), 0..400), cookie_text()]
    }

    #[test]
    fn the_fixed_cookie_values_verify_under_the_fuzzing_keys() {
        let signed = codec(CookieSecurity::Signed);
        let read = signed.read(&headers(&[format!("sid={SIGNED_VALUE}").into_bytes()]));
        assert_eq!(read.id.as_ref().map(SessionId::expose), Some(FIXED_ID));
        assert!(!read.stale_key);
        let private = codec(CookieSecurity::Private);
        let read = private.read(&headers(&[format!("sid={PRIVATE_VALUE}").into_bytes()]));
        assert_eq!(read.id.as_ref().map(SessionId::expose), Some(FIXED_ID));
        assert!(
            read.stale_key,
            "the private value is sealed under the older key"
        );
        assert!(read_fuzz_input(b"a=1; sid=\x01S"));
        assert!(read_fuzz_input(b"a=1\nsid=\x01P"));
        assert!(
            !read_fuzz_input(b"sid=\x01S; sid=\x01S"),
            "a repeated cookie"
        );
        assert!(!read_fuzz_input(b"sid=\x01X"));
    }

    /// Browsers send cookie values as they were set, UTF-8 included: another
    /// cookie's non-ASCII bytes in the same header must not hide the session
    /// cookie (they did, when a header that was not visible ASCII was skipped
    /// whole).
    #[test]
    fn a_non_ascii_cookie_beside_the_session_cookie_does_not_hide_it() {
        assert!(read_fuzz_input(b"lang=fran\xc3\xa7ais; sid=\x01S"));
        assert!(read_fuzz_input(b"sid=\x01P; raw=\xff\xfe"));
        assert!(read_fuzz_input(b"a=\x80\nsid=\x01S"));
        assert!(
            !read_fuzz_input(b"sid=\x01S\nx=\xe9; sid=\x01S"),
            "still a repeat"
        );
    }

    /// Every saved fuzz input (the seeds, and each input that ever crashed
    /// the fuzz target, kept in `fuzz/regressions/`) runs through the entry
    /// point without a panic, and none without a placeholder finds a session.
    #[test]
    fn every_saved_fuzz_input_replays_without_a_panic_or_a_forgery() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        if !fuzz.is_dir() {
            // A packaged crate has no `fuzz/` beside it.
            eprintln!("SKIPPED: no {}", fuzz.display());
            return;
        }
        let mut replayed = 0usize;
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(dir)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let found = read_fuzz_input(&data);
                assert!(
                    !found || data.contains(&MARK),
                    "{}: a session from no issued cookie",
                    path.display()
                );
                replayed += 1;
            }
        }
        assert!(replayed > 0, "the seeds are in {}", fuzz.display());
    }

    /// Every position, every byte: not one single-byte change verifies,
    /// whatever it does to the base64 (its padding and unused low bits too).
    #[test]
    fn every_single_byte_change_to_an_issued_cookie_fails_to_verify() {
        let id = SessionId::parse(FIXED_ID).unwrap();
        for security in [CookieSecurity::Signed, CookieSecurity::Private] {
            let codec = codec(security);
            let value = value_of(&codec.issue(&id, None).unwrap()).into_bytes();
            let mut tried = 0usize;
            for at in 0..value.len() {
                for replacement in 0..=u8::MAX {
                    if replacement == value[at] {
                        continue;
                    }
                    let mut header = b"sid=".to_vec();
                    header.extend_from_slice(&value);
                    header[4 + at] = replacement;
                    if HeaderValue::from_bytes(&header).is_err() {
                        continue;
                    }
                    tried += 1;
                    let read = codec.read(&headers(&[header]));
                    assert!(
                        read.id.is_none(),
                        "{security:?}: byte {at} -> {replacement}"
                    );
                }
            }
            assert!(
                tried > value.len() * 200,
                "{security:?}: {tried} changes tried"
            );
        }
    }

    proptest! {
        #[test]
        fn any_cookie_header_bytes_give_no_session_and_never_panic(
            values in prop::collection::vec(header_bytes(), 0..4),
        ) {
            let map = headers(&values);
            for security in [CookieSecurity::Signed, CookieSecurity::Private] {
                let read = codec(security).read(&map);
                // Nothing here was issued under the fuzzing keys, so any
                // session found would be a forgery.
                prop_assert!(read.id.is_none());
            }
            let slices: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            prop_assert!(!read_cookie(&slices));
        }

        #[test]
        fn a_valid_cookie_among_any_other_bytes_gives_that_session_or_none(
            before in header_bytes(),
            after in header_bytes(),
            separator in prop_oneof![Just(""), Just("; "), Just(";"), Just("\n")],
        ) {
            let mut data = before;
            data.extend_from_slice(separator.as_bytes());
            data.extend_from_slice(b"sid=\x01S");
            data.extend_from_slice(separator.as_bytes());
            data.extend_from_slice(&after);
            // Found or not depends on the bytes around it (a second `sid`,
            // say); what matters is that it never panics.
            let _ = read_fuzz_input(&data);
        }

        #[test]
        fn an_issued_cookie_beside_any_other_cookie_value_reads_back(
            id in a_session_id(),
            security in a_security(),
            // Any byte a header value may hold, but the pair separator.
            other in prop::collection::vec(
                any::<u8>().prop_filter("a header byte", |b| {
                    (*b >= 0x20 && *b != 0x7f && *b != b';') || *b == b'\t'
                }),
                0..40,
            ),
        ) {
            let codec = codec(security);
            let value = value_of(&codec.issue(&id, None).unwrap());
            let mut header = b"other=".to_vec();
            header.extend_from_slice(&other);
            header.extend_from_slice(format!("; sid={value}").as_bytes());
            let read = codec.read(&headers(&[header]));
            prop_assert_eq!(read.id, Some(id));
        }

        #[test]
        fn an_issued_cookie_always_reads_back_to_the_same_id(
            id in a_session_id(),
            security in a_security(),
            others in "([a-z]{1,8}=[A-Za-z0-9]{0,20}; ){0,3}",
        ) {
            let codec = codec(security);
            let value = value_of(&codec.issue(&id, None).unwrap());
            let read = codec.read(&headers(&[format!("{others}sid={value}").into_bytes()]));
            prop_assert_eq!(read.id, Some(id));
            prop_assert!(!read.stale_key);
        }

        #[test]
        fn a_cookie_from_an_older_key_reads_back_and_asks_for_a_reissue(
            id in a_session_id(),
            security in a_security(),
        ) {
            let rotated = codec(security);
            let mut old = codec(security);
            old.keys.remove(0);
            let value = value_of(&old.issue(&id, None).unwrap());
            let read = rotated.read(&headers(&[format!("sid={value}").into_bytes()]));
            prop_assert_eq!(read.id, Some(id));
            prop_assert!(read.stale_key);
        }

        #[test]
        fn any_single_byte_change_to_an_issued_cookie_never_verifies(
            id in a_session_id(),
            security in a_security(),
            position in any::<prop::sample::Index>(),
            replacement in any::<u8>(),
        ) {
            let codec = codec(security);
            let value = value_of(&codec.issue(&id, None).unwrap());
            let mut bytes = value.into_bytes();
            let at = position.index(bytes.len());
            prop_assume!(bytes[at] != replacement);
            bytes[at] = replacement;
            let mut header = b"sid=".to_vec();
            header.extend_from_slice(&bytes);
            prop_assume!(HeaderValue::from_bytes(&header).is_ok());
            let read = codec.read(&headers(&[header]));
            prop_assert!(read.id.is_none());
        }
    }
}
