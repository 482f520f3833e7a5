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

/// A signed cookie value for [`FIXED_ID`] under the current fuzzing key, in
/// the current format. In a fuzz input, the two bytes `\x01S` stand for it.
pub const SIGNED_VALUE: &str =
    "fuzzFUZZfuzzFUZZfuzzFUZZfuzz-_09.9JdrOkt6Cs62pz0vY-dDpHQCse_YnyihSSI5bZQI5Fc";

/// A signed cookie value for [`FIXED_ID`] under the current fuzzing key, in
/// the `cookie` crate's older format, which still verifies. In a fuzz input,
/// the two bytes `\x01L` stand for it.
pub const LEGACY_SIGNED_VALUE: &str =
    "wZlDUOrBTTTfg7FwxEEBFOvic5bjLW7TRcNPZcAAM+g=fuzzFUZZfuzzFUZZfuzzFUZZfuzz-_09";

/// An encrypted cookie value for [`FIXED_ID`] under the older fuzzing key, so
/// it takes the key-rotation path, in the `cookie` crate's older format. In a
/// fuzz input, the two bytes `\x01P` stand for it.
pub const PRIVATE_VALUE: &str =
    "A2wuWgvdaNwmeyOD7i0beJzTrw+a+p1L9O43sbKM4NGk8rfYYGMatyrXsvxjMQWrLyecjRd5V/oHUhLi";

/// An encrypted cookie value for [`FIXED_ID`] under the older fuzzing key, in
/// the current format. In a fuzz input, the two bytes `\x01Q` stand for it.
pub const PRIVATE_VALUE_V2: &str =
    "Qt6XdsbIxHgH5V9W.7g6l3rseUTnd0L_u8vzZZPE8ikRBf7I1Vbr2GhNbHq07hh6ChWLMbRVXBZ1MhY_e";

/// The byte that starts a placeholder in a fuzz input. A control byte is
/// never valid in a header, so no real header can contain a placeholder.
pub(crate) const MARK: u8 = 0x01;

/// A codec with the fixed fuzzing keys (the current one, then an older one).
pub(crate) fn codec(security: CookieSecurity) -> CookieCodec {
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
        .any(|security| codec(security).read(&map).value.is_some())
}

/// Reads a fuzz input as `Cookie` headers: one per line (`\n`), with `\x01S`,
/// `\x01L`, `\x01P` and `\x01Q` replaced by [`SIGNED_VALUE`],
/// [`LEGACY_SIGNED_VALUE`], [`PRIVATE_VALUE`] and [`PRIVATE_VALUE_V2`], so the
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
            Some(b'L') => out.extend_from_slice(LEGACY_SIGNED_VALUE.as_bytes()),
            Some(b'Q') => out.extend_from_slice(PRIVATE_VALUE_V2.as_bytes()),
            Some(other) => out.extend_from_slice(&[MARK, other]),
            None => out.push(MARK),
        }
    }
    out
}

/// The cookie store's payload decoder on `plaintext`, reached three ways:
/// decoded as it is, and as the plaintext of a cookie sealed (encrypted, then
/// signed only) under the fixed fuzzing key and read back through the
/// codec, as a request's cookie would be. A fuzzer cannot forge a cookie, so
/// sealing its bytes is how it reaches the decoder behind the codec.
///
/// Returns whether the bytes held a session. Whatever they are, nothing
/// panics, and the three ways agree.
pub fn read_payload(plaintext: &[u8]) -> bool {
    let direct = crate::cookie::decode_payload(plaintext);
    for security in [CookieSecurity::Private, CookieSecurity::Signed] {
        let mut codec = codec(security);
        codec.max_value_len = crate::store::COOKIE_SIZE_LIMIT;
        let Ok(set_cookie) = codec.issue_payload(plaintext, None) else {
            // Past the cookie's size limit: never sent, so never read.
            continue;
        };
        let pair = set_cookie
            .to_str()
            .ok()
            .and_then(|text| text.split(';').next())
            .unwrap_or_default();
        let mut map = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(pair) {
            map.append(COOKIE, value);
        }
        let incoming = codec.read(&map);
        let read = incoming
            .value
            .as_ref()
            .and_then(|opened| codec.payload_of(opened))
            .and_then(|plain| crate::cookie::decode_payload(&plain));
        assert_eq!(read, direct, "the codec changed the payload");
    }
    direct.is_some()
}
