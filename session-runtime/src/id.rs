//! Session IDs and the keys stores file them under.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::error::IdGenerationError;

/// How many random bytes a session ID holds: 192 bits.
pub(crate) const ID_BYTES: usize = 24;

/// The length of an ID in its cookie form (URL-safe base64, no padding).
pub(crate) const ID_LEN: usize = 32;

/// Which bytes URL-safe base64 writes (`A-Z`, `a-z`, `0-9`, `-`, `_`), by
/// value: a parse looks each byte up once.
static ID_ALPHABET: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        b += 1;
    }
    table
};

/// A session ID: 192 bits from a CSPRNG seeded by the operating system, written as 32
/// characters of URL-safe base64.
///
/// Its `Debug` form prints `REDACTED`, and it has no `Display`: an ID in a log
/// line is a usable cookie. [`SessionId::expose`] gives the text where it is
/// really needed.
///
/// ```
/// use session_runtime::SessionId;
///
/// let id = SessionId::generate().expect("the OS has entropy");
/// assert_eq!(id.expose().len(), 32);
/// assert_eq!(format!("{id:?}"), "SessionId(REDACTED)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId {
    /// The 32 characters, kept inline: a request that reads or makes an ID
    /// allocates nothing for it. Always URL-safe base64 (ASCII).
    text: [u8; ID_LEN],
}

impl SessionId {
    /// A fresh ID: 192 bits from `rand`'s `ThreadRng`, a ChaCha12 CSPRNG
    /// per thread, seeded from the operating system and reseeded from it
    /// every 64 KiB of output, so a new visitor costs no system call.
    ///
    /// Fails only where the operating system cannot give randomness, which
    /// the session layer answers with a 500 (the save could not happen),
    /// never a panic.
    pub fn generate() -> Result<Self, IdGenerationError> {
        let mut bytes = [0u8; ID_BYTES];
        rand::thread_rng()
            .try_fill_bytes(&mut bytes)
            .map_err(|err| IdGenerationError {
                source: Some(Box::new(err)),
            })?;
        let mut text = [0u8; ID_LEN];
        match URL_SAFE_NO_PAD.encode_slice(bytes, &mut text) {
            Ok(ID_LEN) => Ok(Self { text }),
            // 24 bytes are always 32 characters; this arm is never taken.
            _ => Err(IdGenerationError { source: None }),
        }
    }

    /// Parses the text of an ID, as it came out of a verified cookie.
    ///
    /// Returns `None` unless it is exactly the 32 characters of URL-safe
    /// base64 that [`SessionId::generate`] writes.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = text.len() == ID_LEN && text.bytes().all(|b| ID_ALPHABET[usize::from(b)]);
        if !ok {
            return None;
        }
        let mut bytes = [0u8; ID_LEN];
        bytes.copy_from_slice(text.as_bytes());
        Some(Self { text: bytes })
    }

    /// The ID's text. Handle with care: whoever has it has the session.
    pub fn expose(&self) -> &str {
        // Only ASCII is ever stored, so this is always the whole text.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The key a store files this session under: the SHA-256 digest of the ID.
    pub fn key(&self) -> SessionKey {
        SessionKey(Sha256::digest(self.text).into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(REDACTED)")
    }
}

/// The key a store files a session under: the SHA-256 digest of its ID.
///
/// A store never sees the ID itself, so a leaked store dump or a timing side
/// channel in the store's index gives no usable cookie (the defence against
/// Rack's CVE-2019-16782). The digest is not secret; its `Debug` and
/// [`SessionKey::to_hex`] show it, which is what logs and store keys use.
///
/// ```
/// use session_runtime::SessionId;
///
/// let id = SessionId::generate().expect("the OS has entropy");
/// let key = id.key();
/// assert_eq!(key.to_hex().len(), 64);
/// assert!(!key.to_hex().contains(id.expose()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// A key from a digest a store read back (or a test made up).
    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest in lowercase hex: 64 characters.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
        }
        out
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}…)", &self.to_hex()[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_parse_back() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.expose()), Some(a.clone()));
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn an_id_parses_exactly_when_every_byte_is_of_url_safe_base64() {
        for b in 0..=127u8 {
            let text = format!("{}{}", "a".repeat(31), char::from(b));
            let expected = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert_eq!(SessionId::parse(&text).is_some(), expected, "byte {b}");
        }
    }

    #[test]
    fn malformed_ids_do_not_parse() {
        assert_eq!(SessionId::parse(""), None);
        assert_eq!(SessionId::parse("short"), None);
        assert_eq!(SessionId::parse(&"a".repeat(33)), None);
        assert_eq!(SessionId::parse(&format!("{}=", "a".repeat(31))), None);
        assert_eq!(SessionId::parse(&format!("{}é", "a".repeat(30))), None);
    }

    #[test]
    fn the_key_is_the_sha256_of_the_id() {
        let id = SessionId::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let expected: [u8; 32] = Sha256::digest(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").into();
        assert_eq!(id.key().as_bytes(), &expected);
    }
}
