//! Sealing and key wrapping with AES-256-GCM (ring).
//!
//! Every sealed blob is `nonce (12 bytes) || ciphertext || tag (16 bytes)`. The
//! additional authenticated data (AAD) binds a blob to what it is (a segment of a
//! given camera, rendition and start time; a key of a given scope), so a blob moved
//! to another row or object fails to open. Nothing here does I/O.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::Error;

/// Bytes added by [`seal`] on top of the plaintext.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// A 256-bit symmetric key. Zeroed on drop.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Key {
        let mut k = [0u8; 32];
        SystemRandom::new()
            .fill(&mut k)
            .expect("the system random generator failed");
        Key(k)
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(b: [u8; 32]) -> Key {
        Key(b)
    }

    /// The raw key bytes (only for wrapping; never log them).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("32-byte key"))
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Encrypts `plaintext` under `key`, binding it to `aad`.
pub fn seal(key: &Key, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .expect("the system random generator failed");
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .aead()
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        )
        .expect("AES-GCM seal of an in-memory buffer");
    out.extend_from_slice(tag.as_ref());
    out
}

/// Decrypts a blob made by [`seal`]; fails if the key, the AAD or any byte
/// differs. The plaintext is zeroed when the returned buffer is dropped.
pub fn open(key: &Key, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(Error::Corrupt(
            "sealed data is shorter than its header".into(),
        ));
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let mut buf = Zeroizing::new(rest.to_vec());
    let nonce = Nonce::try_assume_unique_for_key(nonce).expect("12-byte nonce");
    let len = key
        .aead()
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| Error::Corrupt("authentication failed (wrong key or altered data)".into()))?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Wraps (encrypts) `key` under `kek`.
pub fn wrap_key(kek: &Key, aad: &[u8], key: &Key) -> Vec<u8> {
    seal(kek, aad, key.as_bytes())
}

/// Unwraps a key made by [`wrap_key`].
pub fn unwrap_key(kek: &Key, aad: &[u8], wrapped: &[u8]) -> Result<Key, Error> {
    let raw = open(kek, aad, wrapped)?;
    let arr: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| Error::Corrupt("wrapped key has the wrong length".into()))?;
    Ok(Key::from_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let k = Key::generate();
        let s = seal(&k, b"aad", b"hello video");
        assert_eq!(s.len(), 11 + SEAL_OVERHEAD);
        assert_eq!(open(&k, b"aad", &s).unwrap().as_slice(), b"hello video");
        assert!(open(&k, b"other", &s).is_err());
        assert!(open(&Key::generate(), b"aad", &s).is_err());
        let mut t = s.clone();
        t[20] ^= 1;
        assert!(open(&k, b"aad", &t).is_err());
        assert!(open(&k, b"aad", &s[..10]).is_err());
    }

    /// Keys and opened plaintext are wiped when dropped: this does not
    /// compile unless both types zero their memory on drop.
    #[test]
    fn keys_and_plaintext_are_zeroed_on_drop() {
        fn zeroed_on_drop<T: ZeroizeOnDrop>(_: &T) {}
        let k = Key::generate();
        zeroed_on_drop(&k);
        let opened = open(&k, b"a", &seal(&k, b"a", b"secret")).unwrap();
        zeroed_on_drop(&opened);
    }

    #[test]
    fn wrap_unwrap() {
        let kek = Key::generate();
        let k = Key::generate();
        let w = wrap_key(&kek, b"scope", &k);
        assert_eq!(
            unwrap_key(&kek, b"scope", &w).unwrap().as_bytes(),
            k.as_bytes()
        );
        assert!(unwrap_key(&kek, b"other scope", &w).is_err());
    }
}
