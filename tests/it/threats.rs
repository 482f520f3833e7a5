//! Defences of SECURITY.md's threat model that no other test file shows:
//! a slow request racing a login, a leaked store dump (even with the key),
//! and the entropy of session IDs.

use crate::common;

use crate::shop;

use std::collections::HashSet;

use common::{bare_client, Browser, TestServer};
use reqwest::header::COOKIE;
use session_kit::{Key, MemoryStore, SessionId, SessionLayer};

/// The alphabet of session IDs: URL-safe base64.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The shop example on a fresh memory store, signing with `key`.
async fn shop(key: Key) -> TestServer {
    let layer = SessionLayer::builder(MemoryStore::new(), key)
        .secure(false)
        .build()
        .expect("a valid configuration");
    TestServer::start(shop::app().layer(layer)).await
}

/// SPEC semantics 6: a store dump holds SHA-256 digests, not IDs. Even an
/// attacker who has both the dump and the signing key cannot turn a stored
/// key into a cookie that loads the session: that would take a preimage.
#[tokio::test]
async fn a_leaked_store_dump_and_the_key_together_give_no_usable_cookie() {
    let secret = [42u8; 64];
    let server = shop(Key::from_bytes(&secret)).await;
    let victim = Browser::new();
    let (status, _) = victim
        .post(&server.url("/login"), &[("user", "victim")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(victim.get(&server.url("/me")).await, (200, "victim".into()));

    // What the dump holds: the store files a session under the SHA-256 of
    // its ID (`tests/semantics.rs` checks that), and nothing else names it.
    let cookie = victim
        .cookies_for(&server.url("/"))
        .expect("the victim's cookie");
    let value = cookie.trim_start_matches("sid=");
    let id = SessionId::parse(&value[..32]).expect("a signed cookie starts with its ID");
    let dumped = id.key();
    // Every ID-shaped text an attacker could make of it, signed with the
    // real key.
    let signer = cookie::Key::from(&secret);
    let client = bare_client();
    let digest = dumped.as_bytes();
    let hex = dumped.to_hex();
    let candidates = [
        id_text(&digest[..24]),
        id_text(&digest[8..]),
        hex[..32].to_owned(),
        hex[32..].to_owned(),
    ];
    for candidate in candidates {
        assert!(
            SessionId::parse(&candidate).is_some(),
            "an ID-shaped candidate"
        );
        let mut jar = cookie::CookieJar::new();
        jar.signed_mut(&signer)
            .add(cookie::Cookie::new("sid", candidate.clone()));
        let forged = jar.get("sid").expect("signed").to_string();
        let res = client
            .get(server.url("/me"))
            .header(COOKIE, forged)
            .send()
            .await
            .expect("GET /me");
        assert_eq!(res.status(), 401, "a digest is not a session ID");
    }
    // The forging itself works: the real ID, signed the same way, loads.
    let mut jar = cookie::CookieJar::new();
    jar.signed_mut(&signer)
        .add(cookie::Cookie::new("sid", id.expose().to_owned()));
    let resigned = jar.get("sid").expect("signed").to_string();
    let res = client
        .get(server.url("/me"))
        .header(COOKIE, resigned)
        .send()
        .await
        .expect("GET /me");
    assert_eq!(res.text().await.expect("a body"), "victim");
}

/// SPEC semantics 6: an ID is 192 bits from the OS's CSPRNG. Ten thousand
/// IDs never repeat, each decodes to 24 bytes, and every one of the 192 bit
/// positions is set in about half of them (a stuck or biased bit would be
/// far outside 45-55%: with 10,000 samples, one standard deviation is 0.5%).
#[test]
fn session_ids_are_192_uniformly_random_bits_that_never_repeat() {
    const N: usize = 10_000;
    let mut seen = HashSet::with_capacity(N);
    let mut ones = [0usize; 192];
    for _ in 0..N {
        let id = SessionId::generate().expect("the OS has entropy");
        let digits: Vec<u8> = id
            .expose()
            .bytes()
            .map(|c| {
                ALPHABET
                    .iter()
                    .position(|a| *a == c)
                    .expect("URL-safe base64") as u8
            })
            .collect();
        assert_eq!(digits.len() * 6, 192, "192 bits");
        for (bit, count) in ones.iter_mut().enumerate() {
            *count += usize::from(digits[bit / 6] >> (bit % 6) & 1);
        }
        assert!(seen.insert(digits), "an ID repeated");
    }
    for (bit, count) in ones.iter().enumerate() {
        assert!(
            (N * 45 / 100..=N * 55 / 100).contains(count),
            "bit {bit} was set in {count} of {N} IDs"
        );
    }
}

/// 24 bytes as the 32 characters of an ID (URL-safe base64, no padding).
fn id_text(bytes: &[u8]) -> String {
    assert_eq!(bytes.len(), 24);
    bytes
        .chunks(3)
        .flat_map(|c| {
            let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
            [18, 12, 6, 0].map(|shift| char::from(ALPHABET[(n >> shift & 63) as usize]))
        })
        .collect()
}
