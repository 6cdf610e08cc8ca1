//! Browser-based uploads (S3 `POST` with an HTML form): the form's SigV4
//! (or legacy SigV2) fields and the signature over its base64 policy
//! document, which is the whole string to sign.

use crate::parse::parse_credential;
use crate::{cached_signing_key, parse_amz_date, Credential, SigError};

/// The signature fields of an upload form.
#[derive(Debug, Clone)]
pub struct PostAuth {
    /// `x-amz-credential` (SigV2: only the access key id is set).
    pub credential: Credential,
    /// A SigV2 form (`AWSAccessKeyId`, `signature`: base64 HMAC-SHA1).
    pub v2: bool,
    /// `x-amz-date` as sent.
    pub amz_date: String,
    /// `x-amz-signature`.
    pub signature: String,
    /// `x-amz-security-token`, for temporary credentials.
    pub security_token: Option<String>,
    /// `policy`: the base64 policy document, as sent (the string to sign).
    pub policy: String,
}

/// Reads the SigV4 fields from a form; `field` looks a field up by name
/// (case-insensitively, as S3 treats form field names).
pub fn parse_post_auth<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<PostAuth, SigError> {
    let need = |name: &'static str| {
        field(name).ok_or_else(|| {
            SigError::MalformedQueryAuth(format!(
                "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
            ))
        })
    };
    if field("x-amz-algorithm").is_none() {
        if let Some(akid) = field("AWSAccessKeyId") {
            return Ok(PostAuth {
                credential: Credential {
                    access_key_id: akid.trim().to_string(),
                    date: String::new(),
                    region: String::new(),
                    service: "s3".to_string(),
                },
                v2: true,
                amz_date: String::new(),
                signature: need("signature")?.trim().to_string(),
                security_token: field("x-amz-security-token").map(str::to_string),
                policy: need("policy")?.trim().to_string(),
            });
        }
    }
    let algorithm = need("x-amz-algorithm")?;
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(SigError::UnsupportedAlgorithm(algorithm.to_string()));
    }
    let credential = parse_credential(need("x-amz-credential")?.trim())?;
    let amz_date = need("x-amz-date")?.trim().to_string();
    parse_amz_date(&amz_date)?;
    if !amz_date.starts_with(&credential.date) {
        return Err(SigError::CredentialDateMismatch {
            credential_date: credential.date.clone(),
            amz_date,
        });
    }
    Ok(PostAuth {
        v2: false,
        signature: need("x-amz-signature")?.trim().to_string(),
        policy: need("policy")?.trim().to_string(),
        security_token: field("x-amz-security-token").map(str::to_string),
        amz_date,
        credential,
    })
}

/// Checks the form's signature: HMAC-SHA256 of the base64 policy under the
/// signing key of the credential's scope (SigV2: base64 HMAC-SHA1 under the
/// secret).
pub fn verify_post(auth: &PostAuth, secret: &str) -> Result<(), SigError> {
    let good = if auth.v2 {
        use base64::Engine;
        use hmac::Mac;
        use subtle::ConstantTimeEq;
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
            .map_err(|_| SigError::MissingAuthentication)?;
        mac.update(auth.policy.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes()))
    } else {
        let c = &auth.credential;
        cached_signing_key(secret, &c.date, &c.region, &c.service)
            .verify_signature(auth.policy.as_bytes(), &auth.signature)
    };
    if good {
        Ok(())
    } else {
        Err(SigError::SignatureDoesNotMatch {
            string_to_sign: auth.policy.clone(),
            canonical_request: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn form(sig: &str) -> Vec<(&'static str, String)> {
        vec![
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".into()),
            (
                "x-amz-credential",
                "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request".into(),
            ),
            ("x-amz-date", "20151229T000000Z".into()),
            (
                "policy",
                "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiIH0=".into(),
            ),
            ("x-amz-signature", sig.into()),
        ]
    }

    fn parse(f: &[(&'static str, String)]) -> Result<PostAuth, SigError> {
        parse_post_auth(|n| {
            f.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        })
    }

    #[test]
    fn the_policy_is_the_string_to_sign() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiIH0=";
        let good =
            cached_signing_key(SECRET, "20151229", "us-east-1", "s3").sign(policy.as_bytes());
        let auth = parse(&form(&good)).unwrap();
        assert_eq!(auth.credential.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert!(verify_post(&auth, SECRET).is_ok());
        let bad = parse(&form(&"0".repeat(64))).unwrap();
        assert!(matches!(
            verify_post(&bad, SECRET),
            Err(SigError::SignatureDoesNotMatch { .. })
        ));
        assert!(verify_post(&auth, "another secret").is_err());
    }

    #[test]
    fn sigv2_forms_sign_the_policy_with_hmac_sha1() {
        use base64::Engine;
        use hmac::Mac;
        let policy = "eyJjb25kaXRpb25zIjogW119";
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(policy.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let f = [
            ("AWSAccessKeyId", "AKIAIOSFODNN7EXAMPLE"),
            ("policy", policy),
            ("signature", sig.as_str()),
        ];
        let get = |n: &str| {
            f.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| *v)
        };
        let auth = parse_post_auth(get).unwrap();
        assert!(auth.v2);
        assert!(verify_post(&auth, SECRET).is_ok());
        assert!(verify_post(&auth, "other").is_err());
    }

    #[test]
    fn missing_or_inconsistent_fields_are_named() {
        let mut f = form("00");
        f.retain(|(k, _)| *k != "policy");
        match parse(&f) {
            Err(SigError::MalformedQueryAuth(m)) => assert!(m.contains("'policy'"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut f = form("00");
        f[2].1 = "20160101T000000Z".into();
        assert!(matches!(
            parse(&f),
            Err(SigError::CredentialDateMismatch { .. })
        ));
        let mut f = form("00");
        f[0].1 = "AWS4-HMAC-SHA512".into();
        assert!(matches!(parse(&f), Err(SigError::UnsupportedAlgorithm(_))));
    }
}
