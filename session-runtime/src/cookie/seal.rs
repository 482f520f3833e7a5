//! Signing and encrypting a cookie value, and checking it back, over stack
//! buffers: no `CookieJar`, no `Cookie`, no owned strings per request.
//!
//! # Formats
//!
//! Issued now (both made only of characters a cookie carries without
//! percent-encoding: the URL-safe base64 alphabet and `.`):
//!
//! - signed: `VALUE.MAC`, where `MAC` is the unpadded URL-safe base64 of
//!   HMAC-SHA256 over `"sk2;" NAME "=" VALUE`, so the MAC covers the cookie's
//!   name as well as its value;
//! - private: `NONCE.SEALED`, the unpadded URL-safe base64 of a random
//!   96-bit nonce and of the AES-256-GCM ciphertext with its tag, with
//!   `"sk2;" NAME` as associated data.
//!
//! Still read (what the `cookie` crate's jars issued before; they never hold
//! a `.`): signed `MAC VALUE` with a padded standard-base64 MAC over the value
//! alone, and private as the padded standard base64 of nonce, ciphertext and
//! tag, with the cookie's name as associated data. They verify until they
//! expire, and a session that presents one is re-issued in the new format.

use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::{Nonce, Tag};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::Mac as _;
use rand::RngCore as _;

use crate::key::Key;

/// What the MAC and the associated data start with: the format's version,
/// so no other use of the same key can produce a valid session cookie.
const DOMAIN: &[u8] = b"sk2;";
const MAC_LEN: usize = 32;
/// 43 characters: unpadded base64 of 32 bytes.
const MAC_TEXT_LEN: usize = 43;
const NONCE_LEN: usize = 12;
const NONCE_TEXT_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// The old signed format's MAC: padded standard base64 of 32 bytes.
const LEGACY_MAC_TEXT_LEN: usize = 44;

/// How large an opened value stays on the stack; a session ID is 32.
const INLINE: usize = 64;

/// The format a value verified in: this codec's, or the `cookie` crate's
/// older one (no `.` in it), which the layer re-issues in the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Current,
    Legacy,
}

/// A value that verified (or decrypted): kept inline when short.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Opened {
    Inline { buf: [u8; INLINE], len: u8 },
    Heap(Vec<u8>),
}

impl Opened {
    fn from_slice(bytes: &[u8]) -> Self {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE => {
                let mut buf = [0u8; INLINE];
                buf[..bytes.len()].copy_from_slice(bytes);
                Self::Inline { buf, len }
            }
            _ => Self::Heap(bytes.to_vec()),
        }
    }

    /// The opened bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { buf, len } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(v) => v,
        }
    }

    /// The opened bytes as text, if they are UTF-8.
    pub(crate) fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opened(REDACTED)")
    }
}

fn mac_of(key: &Key, name: &str, value: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = key.mac().clone();
    mac.update(DOMAIN);
    mac.update(name.as_bytes());
    mac.update(b"=");
    mac.update(value);
    mac
}

/// Appends the signed form of `value` (which must need no percent-encoding)
/// to `out`.
pub(crate) fn sign(key: &Key, name: &str, value: &str, out: &mut String) {
    let tag = mac_of(key, name, value.as_bytes()).finalize().into_bytes();
    let mut text = [0u8; MAC_TEXT_LEN];
    out.push_str(value);
    out.push('.');
    if let Ok(n) = URL_SAFE_NO_PAD.encode_slice(tag, &mut text) {
        // Base64 is ASCII.
        out.push_str(std::str::from_utf8(&text[..n]).unwrap_or_default());
    }
}

/// The value of a signed cookie, if its MAC verifies under `key`.
pub(crate) fn open_signed(key: &Key, name: &str, text: &[u8]) -> Option<(Opened, Format)> {
    match text.iter().rposition(|b| *b == b'.') {
        Some(dot) => {
            let (value, mac_text) = (&text[..dot], &text[dot + 1..]);
            if mac_text.len() != MAC_TEXT_LEN {
                return None;
            }
            let mut tag = [0u8; MAC_LEN + 2];
            let n = URL_SAFE_NO_PAD.decode_slice(mac_text, &mut tag).ok()?;
            mac_of(key, name, value)
                .verify_slice(tag.get(..n)?)
                .ok()
                .map(|()| (Opened::from_slice(value), Format::Current))
        }
        None => open_legacy_signed(key, text).map(|opened| (opened, Format::Legacy)),
    }
}

/// The `cookie` crate's signed format: a padded standard-base64 MAC over the
/// value alone, then the value.
fn open_legacy_signed(key: &Key, text: &[u8]) -> Option<Opened> {
    let (mac_text, value) = text.split_at_checked(LEGACY_MAC_TEXT_LEN)?;
    let mut tag = [0u8; MAC_LEN + 2];
    let n = STANDARD.decode_slice(mac_text, &mut tag).ok()?;
    let mut mac = key.mac().clone();
    mac.update(value);
    mac.verify_slice(tag.get(..n)?)
        .ok()
        .map(|()| Opened::from_slice(value))
}

/// Why a value could not be encrypted.
#[derive(Debug)]
pub(crate) struct SealError;

/// Appends the encrypted form of `plaintext` to `out`.
pub(crate) fn seal(
    key: &Key,
    name: &str,
    plaintext: &[u8],
    out: &mut String,
) -> Result<(), SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng()
        .try_fill_bytes(&mut nonce)
        .map_err(|_| SealError)?;
    let mut buf = plaintext.to_vec();
    let tag = key
        .aead()
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad(name), &mut buf)
        .map_err(|_| SealError)?;
    buf.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode_string(nonce, out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&buf, out);
    Ok(())
}

/// The associated data: the format's domain and the cookie's name, on the
/// stack for the names a cookie really has.
fn aad(name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DOMAIN.len() + name.len());
    aad.extend_from_slice(DOMAIN);
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// The plaintext of an encrypted cookie, if it decrypts under `key`.
pub(crate) fn open_private(key: &Key, name: &str, text: &[u8]) -> Option<(Opened, Format)> {
    match text.iter().position(|b| *b == b'.') {
        Some(dot) => {
            let (nonce_text, sealed_text) = (&text[..dot], &text[dot + 1..]);
            if nonce_text.len() != NONCE_TEXT_LEN {
                return None;
            }
            let mut nonce = [0u8; NONCE_LEN + 2];
            let n = URL_SAFE_NO_PAD.decode_slice(nonce_text, &mut nonce).ok()?;
            if n != NONCE_LEN {
                return None;
            }
            decrypt(
                key,
                &nonce[..NONCE_LEN],
                &aad(name),
                sealed_text,
                &URL_SAFE_NO_PAD,
            )
            .map(|opened| (opened, Format::Current))
        }
        None => {
            // The `cookie` crate's format: nonce, ciphertext and tag in one
            // padded standard base64, the name as associated data.
            let mut raw = [0u8; INLINE + NONCE_LEN + TAG_LEN + 3];
            let n = STANDARD.decode_slice(text, &mut raw).ok()?;
            let (nonce, sealed) = raw.get(..n)?.split_at_checked(NONCE_LEN)?;
            open_raw(key, nonce, name.as_bytes(), sealed).map(|opened| (opened, Format::Legacy))
        }
    }
}

fn decrypt(
    key: &Key,
    nonce: &[u8],
    aad: &[u8],
    sealed_text: &[u8],
    engine: &impl base64::Engine,
) -> Option<Opened> {
    let mut small = [0u8; INLINE + TAG_LEN + 2];
    if let Ok(n) = engine.decode_slice(sealed_text, &mut small) {
        return open_raw(key, nonce, aad, small.get(..n)?);
    }
    let large = engine.decode(sealed_text).ok()?;
    open_raw(key, nonce, aad, &large)
}

/// Opens `ciphertext || tag`.
fn open_raw(key: &Key, nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Opened> {
    let split = sealed.len().checked_sub(TAG_LEN)?;
    let (ciphertext, tag) = sealed.split_at(split);
    if ciphertext.len() <= INLINE {
        let mut buf = [0u8; INLINE];
        let plain = buf.get_mut(..ciphertext.len())?;
        plain.copy_from_slice(ciphertext);
        key.aead()
            .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, plain, Tag::from_slice(tag))
            .ok()?;
        let len = u8::try_from(ciphertext.len()).ok()?;
        Some(Opened::Inline { buf, len })
    } else {
        let mut plain = ciphertext.to_vec();
        key.aead()
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                aad,
                &mut plain,
                Tag::from_slice(tag),
            )
            .ok()?;
        Some(Opened::Heap(plain))
    }
}
