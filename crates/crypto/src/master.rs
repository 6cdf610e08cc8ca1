//! The host master key: 32 random bytes in `<data_dir>/master.key` (0600),
//! created on first use. It wraps key material before it is stored, so the
//! database alone never reveals a key.

use std::io::{Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use aws_lc_rs::aead::LessSafeKey;

use crate::{random_bytes, CryptoError};

const FILE: &str = "master.key";
/// Format byte of a wrapped blob.
const WRAP_V1: u8 = 1;

/// The host master key.
pub struct MasterKey {
    /// The AES-256-GCM key, expanded once rather than per wrap.
    aead: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

fn aad(purpose: &str) -> Vec<u8> {
    let mut a = b"ironsage-master-wrap-v1:".to_vec();
    a.extend_from_slice(purpose.as_bytes());
    a
}

impl MasterKey {
    /// Loads `<data_dir>/master.key`, creating it (mode 0600, synced) with
    /// fresh random bytes if it does not exist.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, CryptoError> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(FILE);
        match std::fs::File::open(&path) {
            Ok(mut f) => {
                let mut buf = Zeroizing::new(Vec::new());
                f.read_to_end(&mut buf)?;
                if buf.len() != 32 {
                    return Err(CryptoError::Key(format!(
                        "{} must hold exactly 32 bytes, found {}",
                        path.display(),
                        buf.len()
                    )));
                }
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&buf);
                Ok(MasterKey::from_key(&key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Zeroizing::new(random_bytes::<32>());
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                match opts.open(&path) {
                    Ok(mut f) => {
                        f.write_all(&key[..])?;
                        f.sync_all()?;
                        if let Ok(dir) = std::fs::File::open(data_dir) {
                            let _ = dir.sync_all();
                        }
                        Ok(MasterKey::from_key(&key))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load_or_create(data_dir)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A master key from raw bytes (tests, tools).
    pub fn from_bytes(key: [u8; 32]) -> Self {
        MasterKey::from_key(&Zeroizing::new(key))
    }

    fn from_key(key: &Zeroizing<[u8; 32]>) -> Self {
        MasterKey {
            aead: crate::gcm_key(key),
        }
    }

    /// Wraps `plaintext` for storage: `1 ‖ nonce(12) ‖ AES-256-GCM(ct ‖ tag)`
    /// with `purpose` bound as associated data, so a wrapped blob cannot be
    /// moved to another purpose (another key or material version).
    pub fn wrap(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<12>();
        let mut out = Vec::with_capacity(1 + 12 + plaintext.len() + 16);
        out.push(WRAP_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&crate::seal_with(
            &self.aead,
            &nonce,
            &aad(purpose),
            plaintext,
        ));
        out
    }

    /// Reverses [`MasterKey::wrap`]; fails if the blob, the purpose or the
    /// master key differ.
    pub fn unwrap(&self, purpose: &str, wrapped: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (ver, rest) = wrapped
            .split_first()
            .ok_or_else(|| CryptoError::Format("empty wrapped key".into()))?;
        if *ver != WRAP_V1 || rest.len() < 12 + 16 {
            return Err(CryptoError::Format("unknown wrapped key format".into()));
        }
        let (nonce, sealed) = rest.split_at(12);
        let mut n = [0u8; 12];
        n.copy_from_slice(nonce);
        crate::open_with(&self.aead, &n, &aad(purpose), sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let m1 = MasterKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        let w = m1.wrap("key-a#1", b"secret material");
        let m2 = MasterKey::load_or_create(dir.path()).unwrap();
        assert_eq!(m2.unwrap("key-a#1", &w).unwrap(), b"secret material");
        assert!(m2.unwrap("key-a#2", &w).is_err());
        let mut bad = w.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x80;
        assert!(matches!(
            m2.unwrap("key-a#1", &bad),
            Err(CryptoError::Integrity)
        ));
        let other = MasterKey::from_bytes([7u8; 32]);
        assert!(other.unwrap("key-a#1", &w).is_err());
        // The wrapped form does not contain the plaintext.
        assert!(!w.windows(15).any(|x| x == b"secret material"));
    }

    #[test]
    fn bad_file_length_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"short").unwrap();
        assert!(matches!(
            MasterKey::load_or_create(dir.path()),
            Err(CryptoError::Key(_))
        ));
    }
}
