//! Asymmetric keys (RSA, ECC NIST) and HMAC, for KMS's asymmetric and HMAC
//! key specs. Private keys travel as PKCS#8 DER; public keys as X.509
//! SubjectPublicKeyInfo DER (what KMS `GetPublicKey` returns).

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::CryptoError;

/// An asymmetric key spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsymSpec {
    /// RSA 2048-bit.
    Rsa2048,
    /// RSA 3072-bit.
    Rsa3072,
    /// RSA 4096-bit.
    Rsa4096,
    /// ECDSA over NIST P-256.
    EccP256,
    /// ECDSA over NIST P-384.
    EccP384,
}

impl AsymSpec {
    fn is_rsa(self) -> bool {
        matches!(
            self,
            AsymSpec::Rsa2048 | AsymSpec::Rsa3072 | AsymSpec::Rsa4096
        )
    }
}

/// A signing algorithm (KMS names in comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSASSA_PSS_SHA_256
    RsaPssSha256,
    /// RSASSA_PSS_SHA_384
    RsaPssSha384,
    /// RSASSA_PSS_SHA_512
    RsaPssSha512,
    /// RSASSA_PKCS1_V1_5_SHA_256
    RsaPkcs1Sha256,
    /// RSASSA_PKCS1_V1_5_SHA_384
    RsaPkcs1Sha384,
    /// RSASSA_PKCS1_V1_5_SHA_512
    RsaPkcs1Sha512,
    /// ECDSA_SHA_256 (P-256), DER-encoded signature
    EcdsaSha256,
    /// ECDSA_SHA_384 (P-384), DER-encoded signature
    EcdsaSha384,
}

impl SigningAlg {
    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            SigningAlg::RsaPssSha256 | SigningAlg::RsaPkcs1Sha256 | SigningAlg::EcdsaSha256 => {
                &digest::SHA256
            }
            SigningAlg::RsaPssSha384 | SigningAlg::RsaPkcs1Sha384 | SigningAlg::EcdsaSha384 => {
                &digest::SHA384
            }
            SigningAlg::RsaPssSha512 | SigningAlg::RsaPkcs1Sha512 => &digest::SHA512,
        }
    }

    fn rsa_encoding(self) -> Option<&'static dyn signature::RsaEncoding> {
        Some(match self {
            SigningAlg::RsaPssSha256 => &signature::RSA_PSS_SHA256,
            SigningAlg::RsaPssSha384 => &signature::RSA_PSS_SHA384,
            SigningAlg::RsaPssSha512 => &signature::RSA_PSS_SHA512,
            SigningAlg::RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
            SigningAlg::RsaPkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
            SigningAlg::RsaPkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
            _ => return None,
        })
    }

    fn verification(self) -> &'static dyn signature::VerificationAlgorithm {
        match self {
            SigningAlg::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            SigningAlg::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            SigningAlg::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            SigningAlg::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            SigningAlg::RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            SigningAlg::EcdsaSha256 => &signature::ECDSA_P256_SHA256_ASN1,
            SigningAlg::EcdsaSha384 => &signature::ECDSA_P384_SHA384_ASN1,
        }
    }

    /// Whether this algorithm fits the key spec.
    pub fn fits(self, spec: AsymSpec) -> bool {
        match spec {
            AsymSpec::EccP256 => self == SigningAlg::EcdsaSha256,
            AsymSpec::EccP384 => self == SigningAlg::EcdsaSha384,
            _ => self.rsa_encoding().is_some(),
        }
    }
}

/// OAEP hash for RSA encryption (RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    /// SHA-1 with MGF1-SHA-1.
    Sha1,
    /// SHA-256 with MGF1-SHA-256.
    Sha256,
}

fn key_err(what: &str) -> CryptoError {
    CryptoError::Key(what.to_string())
}

fn ecdsa_alg(spec: AsymSpec) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match spec {
        AsymSpec::EccP256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        AsymSpec::EccP384 => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        _ => None,
    }
}

/// Generates a private key; returns its PKCS#8 DER.
pub fn generate_asymmetric(spec: AsymSpec) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let der = match spec {
        AsymSpec::Rsa2048 | AsymSpec::Rsa3072 | AsymSpec::Rsa4096 => {
            let size = match spec {
                AsymSpec::Rsa2048 => KeySize::Rsa2048,
                AsymSpec::Rsa3072 => KeySize::Rsa3072,
                _ => KeySize::Rsa4096,
            };
            let k = PrivateDecryptingKey::generate(size).map_err(|_| key_err("RSA generation"))?;
            k.as_der()
                .map_err(|_| key_err("RSA export"))?
                .as_ref()
                .to_vec()
        }
        AsymSpec::EccP256 | AsymSpec::EccP384 => {
            let alg = ecdsa_alg(spec).ok_or_else(|| key_err("curve"))?;
            let k = EcdsaKeyPair::generate(alg).map_err(|_| key_err("EC generation"))?;
            k.to_pkcs8v1()
                .map_err(|_| key_err("EC export"))?
                .as_ref()
                .to_vec()
        }
    };
    Ok(Zeroizing::new(der))
}

fn rsa_pair(pkcs8: &[u8]) -> Result<RsaKeyPair, CryptoError> {
    RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| key_err("not an RSA PKCS#8 key"))
}

fn ec_pair(spec: AsymSpec, pkcs8: &[u8]) -> Result<EcdsaKeyPair, CryptoError> {
    let alg = ecdsa_alg(spec).ok_or_else(|| key_err("not an EC spec"))?;
    EcdsaKeyPair::from_pkcs8(alg, pkcs8).map_err(|_| key_err("not an EC PKCS#8 key"))
}

/// The public key (X.509 SubjectPublicKeyInfo DER) of a PKCS#8 private key.
pub fn public_key_der(spec: AsymSpec, pkcs8: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if spec.is_rsa() {
        let k = rsa_pair(pkcs8)?;
        Ok(k.public_key()
            .as_der()
            .map_err(|_| key_err("RSA public export"))?
            .as_ref()
            .to_vec())
    } else {
        let k = ec_pair(spec, pkcs8)?;
        Ok(k.public_key()
            .as_der()
            .map_err(|_| key_err("EC public export"))?
            .as_ref()
            .to_vec())
    }
}

/// The raw public-key bytes the verifier takes (PKCS#1 for RSA, the
/// uncompressed point for EC).
fn verify_key(spec: AsymSpec, pkcs8: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if spec.is_rsa() {
        Ok(rsa_pair(pkcs8)?.public_key().as_ref().to_vec())
    } else {
        Ok(ec_pair(spec, pkcs8)?.public_key().as_ref().to_vec())
    }
}

fn check_fit(spec: AsymSpec, alg: SigningAlg) -> Result<(), CryptoError> {
    if alg.fits(spec) {
        Ok(())
    } else {
        Err(key_err("signing algorithm does not fit the key spec"))
    }
}

/// Signs `message` (hashing it with the algorithm's digest).
pub fn sign(
    spec: AsymSpec,
    pkcs8: &[u8],
    alg: SigningAlg,
    message: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    check_fit(spec, alg)?;
    let d = digest::digest(alg.digest_alg(), message);
    sign_digest_inner(spec, pkcs8, alg, &d)
}

/// Signs a precomputed digest (KMS `MessageType=DIGEST`).
pub fn sign_digest(
    spec: AsymSpec,
    pkcs8: &[u8],
    alg: SigningAlg,
    digest_bytes: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    check_fit(spec, alg)?;
    let d = Digest::import_less_safe(digest_bytes, alg.digest_alg())
        .map_err(|_| CryptoError::Format("digest length does not fit the algorithm".into()))?;
    sign_digest_inner(spec, pkcs8, alg, &d)
}

fn sign_digest_inner(
    spec: AsymSpec,
    pkcs8: &[u8],
    alg: SigningAlg,
    d: &Digest,
) -> Result<Vec<u8>, CryptoError> {
    if let Some(enc) = alg.rsa_encoding() {
        let k = rsa_pair(pkcs8)?;
        let mut sig = vec![0u8; k.public_modulus_len()];
        k.sign_digest(enc, d, &mut sig)
            .map_err(|_| key_err("RSA signing"))?;
        Ok(sig)
    } else {
        let k = ec_pair(spec, pkcs8)?;
        Ok(k.sign_digest(d)
            .map_err(|_| key_err("ECDSA signing"))?
            .as_ref()
            .to_vec())
    }
}

/// Verifies a signature over `message` with the key pair's public half.
pub fn verify(
    spec: AsymSpec,
    pkcs8: &[u8],
    alg: SigningAlg,
    message: &[u8],
    sig: &[u8],
) -> Result<bool, CryptoError> {
    check_fit(spec, alg)?;
    let pk = verify_key(spec, pkcs8)?;
    Ok(UnparsedPublicKey::new(alg.verification(), pk)
        .verify(message, sig)
        .is_ok())
}

/// Verifies a signature over a precomputed digest.
pub fn verify_digest(
    spec: AsymSpec,
    pkcs8: &[u8],
    alg: SigningAlg,
    digest_bytes: &[u8],
    sig: &[u8],
) -> Result<bool, CryptoError> {
    check_fit(spec, alg)?;
    let d = Digest::import_less_safe(digest_bytes, alg.digest_alg())
        .map_err(|_| CryptoError::Format("digest length does not fit the algorithm".into()))?;
    let pk = verify_key(spec, pkcs8)?;
    Ok(UnparsedPublicKey::new(alg.verification(), pk)
        .verify_digest(&d, sig)
        .is_ok())
}

fn oaep(h: OaepHash) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
    match h {
        OaepHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
        OaepHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
    }
}

/// RSA-OAEP encryption with the public half of a PKCS#8 RSA key.
pub fn rsa_oaep_encrypt(
    pkcs8: &[u8],
    hash: OaepHash,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let k = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| key_err("not an RSA key"))?;
    let pubk: PublicEncryptingKey = k.public_key();
    let enc = OaepPublicEncryptingKey::new(pubk).map_err(|_| key_err("RSA public key"))?;
    if plaintext.len() > enc.max_plaintext_size(oaep(hash)) {
        return Err(CryptoError::Format(
            "plaintext too long for the RSA key".into(),
        ));
    }
    let mut out = vec![0u8; enc.ciphertext_size()];
    let n = enc
        .encrypt(oaep(hash), plaintext, &mut out, None)
        .map_err(|_| key_err("RSA encryption"))?
        .len();
    out.truncate(n);
    Ok(out)
}

/// RSA-OAEP decryption; a wrong key, hash or tampered ciphertext fails
/// with [`CryptoError::Integrity`].
pub fn rsa_oaep_decrypt(
    pkcs8: &[u8],
    hash: OaepHash,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let k = PrivateDecryptingKey::from_pkcs8(pkcs8).map_err(|_| key_err("not an RSA key"))?;
    let dec = OaepPrivateDecryptingKey::new(k).map_err(|_| key_err("RSA private key"))?;
    let mut out = Zeroizing::new(vec![0u8; dec.min_output_size()]);
    let n = dec
        .decrypt(oaep(hash), ciphertext, &mut out, None)
        .map_err(|_| CryptoError::Integrity)?
        .len();
    out.truncate(n);
    Ok(out)
}

/// HMAC-SHA-256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let tag = aws_lc_rs::hmac::sign(&k, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Constant-time HMAC-SHA-256 verification.
pub fn hmac_verify(key: &[u8], data: &[u8], mac: &[u8]) -> bool {
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    aws_lc_rs::hmac::verify(&k, data, mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_sign_verify() {
        for (spec, alg) in [
            (AsymSpec::EccP256, SigningAlg::EcdsaSha256),
            (AsymSpec::EccP384, SigningAlg::EcdsaSha384),
        ] {
            let k = generate_asymmetric(spec).unwrap();
            let sig = sign(spec, &k, alg, b"message").unwrap();
            assert!(verify(spec, &k, alg, b"message", &sig).unwrap());
            assert!(!verify(spec, &k, alg, b"messagf", &sig).unwrap());
            let d = digest::digest(alg.digest_alg(), b"message");
            let sig2 = sign_digest(spec, &k, alg, d.as_ref()).unwrap();
            assert!(verify(spec, &k, alg, b"message", &sig2).unwrap());
            assert!(verify_digest(spec, &k, alg, d.as_ref(), &sig).unwrap());
            let spki = public_key_der(spec, &k).unwrap();
            assert_eq!(spki[0], 0x30); // DER SEQUENCE
            let other = generate_asymmetric(spec).unwrap();
            assert!(!verify(spec, &other, alg, b"message", &sig).unwrap());
        }
        let k = generate_asymmetric(AsymSpec::EccP256).unwrap();
        assert!(sign(AsymSpec::EccP256, &k, SigningAlg::RsaPssSha256, b"m").is_err());
    }

    #[test]
    fn rsa_sign_verify_and_oaep() {
        let spec = AsymSpec::Rsa2048;
        let k = generate_asymmetric(spec).unwrap();
        for alg in [
            SigningAlg::RsaPssSha256,
            SigningAlg::RsaPkcs1Sha256,
            SigningAlg::RsaPkcs1Sha512,
        ] {
            let sig = sign(spec, &k, alg, b"payload").unwrap();
            assert_eq!(sig.len(), 256);
            assert!(verify(spec, &k, alg, b"payload", &sig).unwrap());
            let mut bad = sig.clone();
            bad[5] ^= 1;
            assert!(!verify(spec, &k, alg, b"payload", &bad).unwrap());
        }
        let ct = rsa_oaep_encrypt(&k, OaepHash::Sha256, b"data key").unwrap();
        assert_eq!(ct.len(), 256);
        assert_eq!(
            &rsa_oaep_decrypt(&k, OaepHash::Sha256, &ct).unwrap()[..],
            b"data key"
        );
        assert!(rsa_oaep_decrypt(&k, OaepHash::Sha1, &ct).is_err());
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(rsa_oaep_decrypt(&k, OaepHash::Sha256, &bad).is_err());
        assert!(rsa_oaep_encrypt(&k, OaepHash::Sha256, &[0u8; 300]).is_err());
        let spki = public_key_der(spec, &k).unwrap();
        assert!(spki.len() > 256);
    }

    #[test]
    fn hmac() {
        // RFC 4231 test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac[..4],
            [0x5b, 0xdc, 0xc1, 0x46],
            "RFC 4231 HMAC-SHA-256 vector"
        );
        assert!(hmac_verify(b"Jefe", b"what do ya want for nothing?", &mac));
        assert!(!hmac_verify(b"Jefd", b"what do ya want for nothing?", &mac));
    }
}
