//! The secret keys that sign (or encrypt) the session cookie.

use std::fmt;

use aes_gcm::{Aes256Gcm, KeyInit as _};
use hmac::Hmac;
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::Sha256;

/// HKDF's salt for [`Key::derive_from`]: session-kit's own, so its keys are
/// its own.
const SALT: &[u8] = b"session-kit key derivation, version 1";

/// HKDF's info: what the 64 bytes are for.
const INFO: &[u8] = b"session-kit cookie keys: HMAC-SHA256 signing, AES-256-GCM encryption";

/// The shortest secret [`Key::derive_from`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 64;

/// A secret key that signs (HMAC-SHA256) or encrypts (AES-256-GCM) the session
/// cookie: 64 bytes, the first 32 to sign and the last 32 to encrypt, as the
/// `cookie` crate splits them.
///
/// The keyed HMAC state and the AES key schedule are made once, when the key
/// is made, not per request. Its `Debug` form prints `REDACTED`.
///
/// ```
/// use session_runtime::Key;
///
/// // A random key: sessions do not survive a restart.
/// let key = Key::generate();
/// assert_eq!(format!("{key:?}"), "Key(REDACTED)");
///
/// // A key derived from a long secret (from the environment, say): stable.
/// let secret = "correct horse battery staple, and then quite a lot more text to pass 64 bytes";
/// let a = Key::derive_from(secret.as_bytes()).expect("long enough");
/// let b = Key::derive_from(secret.as_bytes()).expect("long enough");
/// assert!(a == b);
/// assert!(Key::derive_from(b"too short").is_err());
/// ```
#[derive(Clone)]
pub struct Key {
    bytes: [u8; 64],
    mac: Hmac<Sha256>,
    aead: Aes256Gcm,
}

impl Key {
    /// A random key from the operating system's CSPRNG.
    ///
    /// # Panics
    ///
    /// Panics when the operating system cannot give randomness: there is no
    /// safe key to fall back on. Called at start-up, never per request.
    #[allow(clippy::expect_used)] // see # Panics: start-up only, no safe fallback
    pub fn generate() -> Self {
        let mut bytes = [0u8; 64];
        OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the OS random number generator failed; cannot make a session key");
        Self::from_bytes(&bytes)
    }

    /// A key derived from a secret of at least [`MIN_SECRET_LEN`] bytes, so
    /// the same secret gives the same key on every instance and across
    /// restarts.
    ///
    /// The derivation is HKDF-SHA256, Extract then Expand, with session-kit's
    /// own salt and info: a secret that another library (one on the `cookie`
    /// crate's `Key::derive_from`, say) also derives keys from gives other
    /// keys here, so neither can be made to sign for the other.
    ///
    /// Releases before 0.2 derived keys as the `cookie` crate does; to keep
    /// the sessions signed that way while moving, list
    /// [`Key::derive_legacy`] of the same secret in
    /// [`older_keys`](crate::SessionLayerBuilder::older_keys) for one
    /// inactivity timeout.
    pub fn derive_from(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(KeyError { len: secret.len() });
        }
        let mut bytes = [0u8; 64];
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(SALT), secret);
        if hkdf.expand(INFO, &mut bytes).is_err() {
            // 64 bytes is far below HKDF-SHA256's limit of 8160.
            return Err(KeyError { len: secret.len() });
        }
        Ok(Self::from_bytes(&bytes))
    }

    /// The key earlier releases derived from `secret` (HKDF-Expand alone, with
    /// the `cookie` crate's info string), to list in
    /// [`older_keys`](crate::SessionLayerBuilder::older_keys) while moving to
    /// [`Key::derive_from`], so that no one is logged out by the upgrade.
    ///
    /// ```
    /// use session_kit::{Key, MemoryStore, SessionLayer};
    ///
    /// let secret = [7u8; 64];
    /// let layer = SessionLayer::builder(MemoryStore::new(), Key::derive_from(&secret)?)
    ///     .older_keys([Key::derive_legacy(&secret)?])
    ///     .build()
    ///     .expect("a valid configuration");
    /// # let _ = layer;
    /// # Ok::<(), session_kit::KeyError>(())
    /// ```
    pub fn derive_legacy(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(KeyError { len: secret.len() });
        }
        let derived = cookie::Key::derive_from(secret);
        let mut bytes = [0u8; 64];
        bytes.copy_from_slice(derived.master());
        Ok(Self::from_bytes(&bytes))
    }

    /// A key from 64 bytes of key material used as they are (32 to sign, 32 to
    /// encrypt).
    #[allow(clippy::expect_used)] // HMAC takes a key of any length: never fails
    pub fn from_bytes(bytes: &[u8; 64]) -> Self {
        let (signing, encryption) = bytes.split_at(32);
        Self {
            bytes: *bytes,
            mac: <Hmac<Sha256> as hmac::Mac>::new_from_slice(signing)
                .expect("HMAC takes any key length"),
            aead: Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(encryption)),
        }
    }

    /// The keyed HMAC-SHA256 state, to clone per use.
    pub(crate) fn mac(&self) -> &Hmac<Sha256> {
        &self.mac
    }

    /// The AES-256-GCM cipher with its key schedule.
    pub(crate) fn aead(&self) -> &Aes256Gcm {
        &self.aead
    }

    /// The same key as the `cookie` crate holds it, for tests that check
    /// that cookies of the `cookie` crate's format still verify.
    #[cfg(test)]
    pub(crate) fn cookie_key(&self) -> cookie::Key {
        cookie::Key::from(&self.bytes)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(REDACTED)")
    }
}

/// A secret too short to derive a key from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    len: usize,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the session secret is {} bytes long; it must be at least {MIN_SECRET_LEN} bytes \
             (generate one with `openssl rand -base64 64`)",
            self.len
        )
    }
}

impl std::error::Error for KeyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_not_the_cookie_crates_and_are_stable() {
        let secret = [42u8; 64];
        let ours = Key::derive_from(&secret).unwrap();
        let theirs = Key::derive_legacy(&secret).unwrap();
        assert!(
            ours != theirs,
            "a secret shared with a cookie-crate app gives other keys"
        );
        assert_eq!(theirs.bytes, *cookie::Key::derive_from(&secret).master());
        assert!(ours == Key::derive_from(&secret).unwrap());
        // Pinned: a change here logs every user of a derived key out.
        assert_eq!(
            ours.bytes[..8],
            KNOWN_PREFIX,
            "the derivation of Key::derive_from changed"
        );
    }

    /// The first bytes of HKDF-SHA256(salt, [42; 64], info), computed apart
    /// from this code (Python's `hmac`: Extract, then the first Expand block).
    const KNOWN_PREFIX: [u8; 8] = [131, 192, 199, 91, 96, 72, 193, 31];
}
