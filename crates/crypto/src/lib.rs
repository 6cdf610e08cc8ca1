//! ironsage's cryptography, in one place so the primitives could be swapped:
//! AES-256-GCM sealing, the host master key that wraps stored key material,
//! framed AEAD for object bodies (range reads decrypt only the frames they
//! touch), and the asymmetric and HMAC operations KMS keys need. Everything
//! is `aws-lc-rs` underneath.

mod asym;
mod frames;
mod master;

pub use asym::{
    generate_asymmetric, hmac_sha256, hmac_verify, public_key_der, rsa_oaep_decrypt,
    rsa_oaep_encrypt, sign, sign_digest, verify, verify_digest, AsymSpec, OaepHash, SigningAlg,
};
pub use frames::{encrypted_len, FrameDecryptor, FrameEncryptor, FRAME, FRAME_HEADER, TAG_LEN};
pub use master::MasterKey;
pub use zeroize::Zeroizing;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// Failures of the crypto layer.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Authentication failed: the data was tampered with, truncated, or the
    /// key, nonce or associated data differ from those used to seal it.
    #[error("ciphertext failed authentication")]
    Integrity,
    /// Input that is not in the expected format.
    #[error("malformed input: {0}")]
    Format(String),
    /// A key could not be generated, parsed or used.
    #[error("key error: {0}")]
    Key(String),
    /// File-system failure (master key file, encrypted object file).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Fills `dest` from the system CSPRNG. A failing CSPRNG leaves no safe way
/// to continue (keys and nonces would repeat), so the process aborts.
fn fill(dest: &mut [u8]) {
    if dest.len() > POOL_TAKE_MAX {
        fill_direct(dest);
        return;
    }
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.take(dest);
    });
}

fn fill_direct(dest: &mut [u8]) {
    if aws_lc_rs::rand::fill(dest).is_err() {
        eprintln!("ironsage: the system random number generator failed; aborting");
        std::process::abort();
    }
}

/// Small draws (keys, nonces, ids: a request makes several) come from a
/// per-thread block of CSPRNG output, refilled by one generator call per
/// [`POOL_BYTES`]: one call costs about as much as a small draw, so this
/// divides the generator's cost by the draws a block serves. Bytes handed
/// out are wiped from the block at once; the process never forks.
const POOL_BYTES: usize = 4096;
const POOL_TAKE_MAX: usize = 64;

struct Pool {
    buf: Zeroizing<Vec<u8>>,
    /// Bytes before this offset were handed out (and wiped).
    at: usize,
}

impl Pool {
    fn take(&mut self, dest: &mut [u8]) {
        if self.buf.len() != POOL_BYTES || self.at + dest.len() > POOL_BYTES {
            self.buf.resize(POOL_BYTES, 0);
            fill_direct(&mut self.buf);
            self.at = 0;
        }
        let end = self.at + dest.len();
        if let Some(src) = self.buf.get_mut(self.at..end) {
            dest.copy_from_slice(src);
            zeroize::Zeroize::zeroize(src);
        } else {
            fill_direct(dest);
        }
        self.at = end;
    }
}

thread_local! {
    static POOL: std::cell::RefCell<Pool> = std::cell::RefCell::new(Pool {
        buf: Zeroizing::new(Vec::new()),
        at: 0,
    });
}

/// `N` random bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}

/// `n` random bytes from the system CSPRNG.
pub fn random_vec(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    fill(&mut out);
    out
}

fn gcm_key(key: &[u8; 32]) -> LessSafeKey {
    // AES-256 accepts every 32-byte key, so this cannot fail; map anyway.
    match UnboundKey::new(&AES_256_GCM, key) {
        Ok(k) => LessSafeKey::new(k),
        Err(_) => {
            eprintln!("ironsage: AES-256-GCM rejected a 32-byte key; aborting");
            std::process::abort();
        }
    }
}

/// AES-256-GCM: returns `ciphertext ‖ 16-byte tag`.
pub fn seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    seal_with(&gcm_key(key), nonce, aad, plaintext)
}

/// [`seal`] with an expanded key (for keys used over and over).
fn seal_with(k: &LessSafeKey, nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    let n = Nonce::assume_unique_for_key(*nonce);
    if k.seal_in_place_append_tag(n, Aad::from(aad), &mut buf)
        .is_err()
    {
        // Only fails for inputs beyond GCM's 64 GiB limit per nonce.
        eprintln!("ironsage: AES-GCM seal failed (input too large); aborting");
        std::process::abort();
    }
    buf
}

/// Opens what [`seal`] produced; any change to key, nonce, aad or bytes
/// fails with [`CryptoError::Integrity`].
pub fn open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    open_with(&gcm_key(key), nonce, aad, sealed)
}

/// [`open`] with an expanded key.
fn open_with(
    k: &LessSafeKey,
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < TAG_LEN {
        return Err(CryptoError::Integrity);
    }
    let mut buf = sealed.to_vec();
    let n = Nonce::assume_unique_for_key(*nonce);
    let len = k
        .open_in_place(n, Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Integrity)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// [`seal`] appending `ciphertext ‖ tag` to `out` (no intermediate buffer).
pub fn seal_append(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    let k = gcm_key(key);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let n = Nonce::assume_unique_for_key(*nonce);
    let Some(tail) = out.get_mut(start..) else {
        return;
    };
    match k.seal_in_place_separate_tag(n, Aad::from(aad), tail) {
        Ok(tag) => out.extend_from_slice(tag.as_ref()),
        Err(_) => {
            // Only fails for inputs beyond GCM's 64 GiB limit per nonce.
            eprintln!("ironsage: AES-GCM seal failed (input too large); aborting");
            std::process::abort();
        }
    }
}

/// [`open`] in place: `buf` holds `ciphertext ‖ tag` and is left holding
/// the plaintext (no copy, no allocation).
pub fn open_in_place(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    if buf.len() < TAG_LEN {
        return Err(CryptoError::Integrity);
    }
    let k = gcm_key(key);
    let n = Nonce::assume_unique_for_key(*nonce);
    let len = k
        .open_in_place(n, Aad::from(aad), buf)
        .map_err(|_| CryptoError::Integrity)?
        .len();
    buf.truncate(len);
    Ok(())
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pooled_draws_never_repeat_across_refills() {
        let mut seen = std::collections::HashSet::new();
        // Several blocks' worth, in sizes that do not divide the block.
        for i in 0..1000 {
            let a: [u8; 24] = super::random_bytes();
            assert!(seen.insert(a.to_vec()), "draw {i} repeated");
            let b: [u8; 12] = super::random_bytes();
            assert!(seen.insert(b.to_vec()));
        }
        let big = super::random_vec(1000);
        assert!(big.iter().any(|&x| x != 0));
    }

    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = random_bytes::<32>();
        let nonce = random_bytes::<12>();
        let sealed = seal(&key, &nonce, b"ctx", b"hello world");
        assert_eq!(sealed.len(), 11 + 16);
        assert_ne!(&sealed[..11], b"hello world");
        assert_eq!(open(&key, &nonce, b"ctx", &sealed).unwrap(), b"hello world");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(matches!(
                open(&key, &nonce, b"ctx", &bad),
                Err(CryptoError::Integrity)
            ));
        }
        assert!(open(&key, &nonce, b"other", &sealed).is_err());
        let mut other_nonce = nonce;
        other_nonce[0] ^= 1;
        assert!(open(&key, &other_nonce, b"ctx", &sealed).is_err());
        let mut other_key = key;
        other_key[31] ^= 1;
        assert!(open(&other_key, &nonce, b"ctx", &sealed).is_err());
        assert!(open(&key, &nonce, b"ctx", &sealed[..10]).is_err());
    }

    #[test]
    fn randomness_differs() {
        assert_ne!(random_bytes::<32>(), random_bytes::<32>());
        assert_eq!(random_vec(1000).len(), 1000);
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
