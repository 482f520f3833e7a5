//! Property tests of the cookie codec: whatever bytes come in the
//! `Cookie` headers, the answer is "no session" or a session that was
//! really issued, and nothing panics.

use proptest::prelude::*;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::cookie::{CookieSecurity, Incoming};
use crate::fuzzing::*;
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

fn id_of(incoming: &Incoming) -> Option<SessionId> {
    incoming
        .value
        .as_ref()
        .and_then(crate::cookie::Opened::as_str)
        .and_then(SessionId::parse)
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
    assert_eq!(
        read.value.as_ref().and_then(crate::cookie::Opened::as_str),
        Some(FIXED_ID)
    );
    assert!(!read.stale_key);
    let read = signed.read(&headers(&[
        format!("sid={LEGACY_SIGNED_VALUE}").into_bytes()
    ]));
    assert_eq!(
        read.value.as_ref().and_then(crate::cookie::Opened::as_str),
        Some(FIXED_ID)
    );
    assert!(read.stale_key, "the old format is re-issued");
    let private = codec(CookieSecurity::Private);
    let read = private.read(&headers(&[format!("sid={PRIVATE_VALUE_V2}").into_bytes()]));
    assert_eq!(
        read.value.as_ref().and_then(crate::cookie::Opened::as_str),
        Some(FIXED_ID)
    );
    assert!(read.stale_key, "under the older key");
    let read = private.read(&headers(&[format!("sid={PRIVATE_VALUE}").into_bytes()]));
    assert_eq!(
        read.value.as_ref().and_then(crate::cookie::Opened::as_str),
        Some(FIXED_ID)
    );
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
        let value = value_of(&codec.issue(id.expose(), None).unwrap()).into_bytes();
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
                    read.value.is_none(),
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
            prop_assert!(read.value.is_none());
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
        let value = value_of(&codec.issue(id.expose(), None).unwrap());
        let mut header = b"other=".to_vec();
        header.extend_from_slice(&other);
        header.extend_from_slice(format!("; sid={value}").as_bytes());
        let read = codec.read(&headers(&[header]));
        prop_assert_eq!(id_of(&read), Some(id));
    }

    #[test]
    fn an_issued_cookie_always_reads_back_to_the_same_id(
        id in a_session_id(),
        security in a_security(),
        others in "([a-z]{1,8}=[A-Za-z0-9]{0,20}; ){0,3}",
    ) {
        // Another cookie named `sid` would be a repeated session cookie,
        // which is refused by design.
        prop_assume!(!others.split("; ").any(|pair| pair.starts_with("sid=")));
        let codec = codec(security);
        let value = value_of(&codec.issue(id.expose(), None).unwrap());
        let read = codec.read(&headers(&[format!("{others}sid={value}").into_bytes()]));
        prop_assert_eq!(id_of(&read), Some(id));
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
        let value = value_of(&old.issue(id.expose(), None).unwrap());
        let read = rotated.read(&headers(&[format!("sid={value}").into_bytes()]));
        prop_assert_eq!(id_of(&read), Some(id));
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
        let value = value_of(&codec.issue(id.expose(), None).unwrap());
        let mut bytes = value.into_bytes();
        let at = position.index(bytes.len());
        prop_assume!(bytes[at] != replacement);
        bytes[at] = replacement;
        let mut header = b"sid=".to_vec();
        header.extend_from_slice(&bytes);
        prop_assume!(HeaderValue::from_bytes(&header).is_ok());
        let read = codec.read(&headers(&[header]));
        prop_assert!(read.value.is_none());
    }
}
