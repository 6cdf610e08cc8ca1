//! S3 Signature Version 2 requests signed by botocore (HmacV1Auth,
//! HmacV1QueryAuth; see gen_botocore_fixtures.py, fixtures committed in
//! tests/fixtures_v2): each verifies, and every change a signature covers is
//! refused, as are expired URLs and skewed clocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test-only code

mod common;

use http::{HeaderMap, HeaderValue};
use ironsage_sigv4::*;

struct Fixture {
    signed: common::Signed,
    virtual_bucket: Option<String>,
}

impl std::ops::Deref for Fixture {
    type Target = common::Signed;
    fn deref(&self) -> &common::Signed {
        &self.signed
    }
}

fn fixtures() -> Vec<Fixture> {
    common::json_fixtures("fixtures_v2")
        .into_iter()
        .map(|v| Fixture {
            signed: common::Signed::from_json(&v),
            virtual_bucket: v["virtual_bucket"].as_str().map(str::to_string),
        })
        .collect()
}

impl Fixture {
    fn req<'a>(
        &'a self,
        path: &'a str,
        query: &'a str,
        headers: &'a HeaderMap,
    ) -> SignedRequest<'a> {
        SignedRequest {
            method: &self.method,
            raw_path: path,
            raw_query: query,
            headers,
        }
    }
    fn verify_with(
        &self,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        secret: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), SigError> {
        let req = self.req(path, query, headers);
        let auth = parse_auth(&req)?.ok_or(SigError::MissingAuthentication)?;
        verify_v2(&req, &auth, secret, self.virtual_bucket.as_deref(), now)
    }
}

fn mismatch(r: Result<(), SigError>) -> bool {
    matches!(r, Err(SigError::SignatureDoesNotMatch { .. }))
}

#[test]
fn botocore_sigv2_requests_verify_and_every_signed_part_matters() {
    let all = fixtures();
    assert_eq!(all.len(), 6);
    for f in &all {
        let req = f.req(&f.path, &f.query, &f.headers);
        let auth = parse_auth(&req).unwrap().unwrap();
        assert!(auth.v2.is_some(), "{}", f.name);
        assert_eq!(auth.credential.access_key_id, f.akid, "{}", f.name);
        assert_eq!(auth.credential.service, "s3");
        assert_eq!(auth.security_token, f.token, "{}", f.name);
        let ok = f.verify_with(&f.path, &f.query, &f.headers, &f.secret, f.now);
        assert!(ok.is_ok(), "{}: {ok:?}", f.name);

        assert!(
            mismatch(f.verify_with(&f.path, &f.query, &f.headers, "not-the-secret", f.now)),
            "{}: wrong secret",
            f.name
        );
        let other_path = format!("{}x", f.path);
        assert!(
            mismatch(f.verify_with(&other_path, &f.query, &f.headers, &f.secret, f.now)),
            "{}: path",
            f.name
        );
        let mut other_method = f.req(&f.path, &f.query, &f.headers);
        other_method.method = if f.method == "GET" { "DELETE" } else { "GET" };
        let auth2 = parse_auth(&other_method).unwrap().unwrap();
        assert!(
            mismatch(verify_v2(
                &other_method,
                &auth2,
                &f.secret,
                f.virtual_bucket.as_deref(),
                f.now
            )),
            "{}: method",
            f.name
        );
        // An extra sub-resource changes the resource; another parameter does not.
        let sep = if f.query.is_empty() { "" } else { "&" };
        let with_sub = format!("{}{sep}uploads", f.query);
        assert!(
            mismatch(f.verify_with(&f.path, &with_sub, &f.headers, &f.secret, f.now)),
            "{}: sub-resource",
            f.name
        );
        let with_other = format!("{}{sep}max-keys=5", f.query);
        assert!(
            f.verify_with(&f.path, &with_other, &f.headers, &f.secret, f.now)
                .is_ok(),
            "{}: a parameter that is not a sub-resource",
            f.name
        );
        // A signed x-amz-* header added, or the content type changed.
        let mut h = f.headers.clone();
        h.insert("x-amz-meta-added", HeaderValue::from_static("1"));
        assert!(
            mismatch(f.verify_with(&f.path, &f.query, &h, &f.secret, f.now)),
            "{}: x-amz header",
            f.name
        );
        let presigned = auth.v2.as_ref().is_some_and(|v| v.expires.is_some());
        if !presigned && f.headers.contains_key("content-type") {
            let mut h = f.headers.clone();
            h.insert("content-type", HeaderValue::from_static("text/html"));
            assert!(mismatch(
                f.verify_with(&f.path, &f.query, &h, &f.secret, f.now)
            ));
        }
        let later = f.now + time::Duration::hours(2);
        match auth.v2.as_ref().and_then(|v| v.expires) {
            // Presigned: valid until Expires, refused one second after.
            Some(exp) => {
                let at = time::OffsetDateTime::from_unix_timestamp(exp).unwrap();
                assert!(f
                    .verify_with(&f.path, &f.query, &f.headers, &f.secret, at)
                    .is_ok());
                let r = f.verify_with(
                    &f.path,
                    &f.query,
                    &f.headers,
                    &f.secret,
                    at + time::Duration::seconds(1),
                );
                assert!(
                    matches!(r, Err(SigError::PresignedExpired { .. })),
                    "{}",
                    f.name
                );
            }
            // Header-signed: 15 minutes of clock skew either way.
            None => {
                let r = f.verify_with(&f.path, &f.query, &f.headers, &f.secret, later);
                assert!(
                    matches!(r, Err(SigError::RequestTimeTooSkewed { expired: true, .. })),
                    "{}",
                    f.name
                );
            }
        }
    }
}

#[test]
fn sigv2_and_sigv4_together_are_refused() {
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "v2_header_list_bucket")
        .unwrap();
    let q = format!("{}&X-Amz-Algorithm=AWS4-HMAC-SHA256", f.query);
    let req = f.req(&f.path, &q, &f.headers);
    assert!(matches!(
        parse_auth(&req),
        Err(SigError::MultipleAuthMechanisms)
    ));
    let mut h = f.headers.clone();
    h.remove("authorization");
    let q = format!("{}&AWSAccessKeyId=AKIA&Signature=x", f.query);
    let req = f.req(&f.path, &q, &h);
    assert!(matches!(
        parse_auth(&req),
        Err(SigError::MalformedQueryAuth(_))
    ));
    let mut h = f.headers.clone();
    h.insert("authorization", HeaderValue::from_static("AWS no-colon"));
    let req = f.req(&f.path, &f.query, &h);
    assert!(matches!(
        parse_auth(&req),
        Err(SigError::MalformedAuthorization(_))
    ));
}
