//! Keys and sealing: patient data at rest is encrypted with AES-256-GCM (ring), and
//! values that must be looked up (duplicate detection) are stored as keyed hashes.
//!
//! Inputs: one 32-byte data key read from a file outside the database. Outputs: sealed
//! bytes and HMAC-SHA256 digests. Never logs keys, plaintext or digests of patient data.

use std::fmt;
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac};

/// A failure to load a key or to open sealed data.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read data key file")]
    ReadKey(#[source] std::io::Error),
    #[error("data key file must hold 64 hex characters (32 bytes)")]
    KeyFormat,
    #[error("sealed data failed authentication")]
    Open,
    #[error("system random number generator failed")]
    Random,
}

/// Keys derived from the data key: one to seal, one to hash. Separate derived keys
/// mean a digest can never help decrypt a payload (HKDF, RFC 5869).
pub struct DataKeys {
    seal: LessSafeKey,
    index: hmac::Key,
    rng: SystemRandom,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKeys(<secret>)")
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl DataKeys {
    /// Reads a hex data key file.
    ///
    /// # Errors
    /// [`CryptoError::ReadKey`] or [`CryptoError::KeyFormat`].
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let text = std::fs::read_to_string(path).map_err(CryptoError::ReadKey)?;
        let bytes = hex::decode(text.trim()).map_err(|_| CryptoError::KeyFormat)?;
        let master: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::KeyFormat)?;
        Ok(Self::from_master(&master))
    }

    /// Derives the working keys from 32 bytes of key material.
    pub fn from_master(master: &[u8; 32]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"refgate data key v1").extract(master);
        let derive = |info: &[u8]| -> [u8; 32] {
            let mut out = [0u8; 32];
            let infos = [info];
            // Both calls can only fail for output lengths above 255*32 bytes; 32 is fixed.
            let okm = prk
                .expand(&infos, Len(32))
                .expect("hkdf output length 32 is valid");
            okm.fill(&mut out).expect("hkdf fill of 32 bytes is valid");
            out
        };
        let seal_bytes = derive(b"seal");
        let index_bytes = derive(b"index");
        let unbound =
            UnboundKey::new(&AES_256_GCM, &seal_bytes).expect("32-byte key fits AES-256-GCM");
        Self {
            seal: LessSafeKey::new(unbound),
            index: hmac::Key::new(hmac::HMAC_SHA256, &index_bytes),
            rng: SystemRandom::new(),
        }
    }

    /// Fresh random key material for a new data key file.
    ///
    /// # Errors
    /// [`CryptoError::Random`] if the system generator fails.
    pub fn generate_master() -> Result<[u8; 32], CryptoError> {
        let mut out = [0u8; 32];
        SystemRandom::new()
            .fill(&mut out)
            .map_err(|_| CryptoError::Random)?;
        Ok(out)
    }

    /// Encrypts `plaintext`, binding it to `context` (e.g. the referral id) so a sealed
    /// value cannot be moved to another row unnoticed. Output: nonce || ciphertext || tag.
    ///
    /// # Errors
    /// [`CryptoError::Random`] if no nonce can be drawn.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .seal
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut out[NONCE_LEN..],
            )
            .map_err(|_| CryptoError::Random)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts what [`DataKeys::seal`] produced with the same `context`.
    ///
    /// # Errors
    /// [`CryptoError::Open`] when the data, context or key do not match.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Open);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut buf = rest.to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, Aad::from(context), &mut buf)
            .map_err(|_| CryptoError::Open)?;
        let n = plain.len();
        buf.truncate(n);
        Ok(buf)
    }

    /// HMAC-SHA256 over length-prefixed parts, for lookups that must not reveal the value.
    pub fn keyed_hash(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.index);
        for p in parts {
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DataKeys {
        DataKeys::from_master(&[7u8; 32])
    }

    #[test]
    fn sealed_data_opens_with_the_same_context_only() {
        let k = keys();
        let sealed = k.seal(b"patient record", b"ref-1").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"patient"));
        assert_eq!(k.open(&sealed, b"ref-1").unwrap(), b"patient record");
        assert!(matches!(k.open(&sealed, b"ref-2"), Err(CryptoError::Open)));
    }

    #[test]
    fn tampered_or_truncated_data_does_not_open() {
        let k = keys();
        let mut sealed = k.seal(b"x", b"c").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(k.open(&sealed, b"c").is_err());
        assert!(k.open(&[1, 2, 3], b"c").is_err());
    }

    #[test]
    fn a_different_key_cannot_open() {
        let sealed = keys().seal(b"x", b"c").unwrap();
        assert!(
            DataKeys::from_master(&[8u8; 32])
                .open(&sealed, b"c")
                .is_err()
        );
    }

    #[test]
    fn keyed_hash_is_stable_and_part_boundaries_matter() {
        let k = keys();
        assert_eq!(k.keyed_hash(&[b"ab", b"c"]), k.keyed_hash(&[b"ab", b"c"]));
        assert_ne!(k.keyed_hash(&[b"ab", b"c"]), k.keyed_hash(&[b"a", b"bc"]));
        assert_ne!(
            k.keyed_hash(&[b"ab"]),
            DataKeys::from_master(&[8u8; 32]).keyed_hash(&[b"ab"])
        );
    }

    #[test]
    fn key_files_must_hold_32_hex_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, "abcd").unwrap();
        assert!(matches!(DataKeys::load(&p), Err(CryptoError::KeyFormat)));
        std::fs::write(&p, hex::encode([1u8; 32])).unwrap();
        assert!(DataKeys::load(&p).is_ok());
    }
}
