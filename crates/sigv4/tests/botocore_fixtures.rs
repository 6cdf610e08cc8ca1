//! Requests signed by botocore (see gen_botocore_fixtures.py; fixtures are committed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test-only code

mod common;

use base64::Engine;
use http::HeaderValue;
use ironsage_sigv4::*;

struct Fixture {
    signed: common::Signed,
    body: Vec<u8>,
    s3: bool,
    json: serde_json::Value,
}

impl std::ops::Deref for Fixture {
    type Target = common::Signed;
    fn deref(&self) -> &common::Signed {
        &self.signed
    }
}

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn fixtures() -> Vec<Fixture> {
    common::json_fixtures("fixtures")
        .into_iter()
        .map(|v| Fixture {
            signed: common::Signed::from_json(&v),
            body: b64(v["body_b64"].as_str().unwrap()),
            s3: v["s3"].as_bool().unwrap(),
            json: v,
        })
        .collect()
}

impl Fixture {
    fn req(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            raw_path: &self.path,
            raw_query: &self.query,
            headers: &self.headers,
        }
    }
    fn enc(&self) -> UriEncoding {
        if self.s3 {
            UriEncoding::S3
        } else {
            UriEncoding::Normalized
        }
    }
}

#[test]
fn all_botocore_fixtures_verify_and_tampering_is_rejected() {
    let all = fixtures();
    assert_eq!(all.len(), 10);
    for f in &all {
        let req = f.req();
        let auth = parse_auth(&req).unwrap().unwrap();
        assert_eq!(auth.credential.access_key_id, f.akid, "{}", f.name);
        assert_eq!(auth.security_token, f.token, "{}", f.name);
        let payload = auth
            .payload_hash_for(f.s3)
            .unwrap_or_else(|| hex_sha256(&f.body));
        if let PayloadHash::Hex(h) = &auth.payload {
            check_content_sha256(h, &f.body).unwrap();
            let mut tampered = f.body.clone();
            tampered.push(b'!');
            assert!(matches!(
                check_content_sha256(h, &tampered),
                Err(SigError::ContentSha256Mismatch { .. })
            ));
        }
        let key = verify(&req, &auth, &f.secret, &payload, f.now, f.enc())
            .unwrap_or_else(|e| panic!("{}: {e:?}", f.name));
        assert_eq!(key.scope(), auth.scope());

        // wrong secret
        let r = verify(&req, &auth, "not-the-secret", &payload, f.now, f.enc());
        assert!(
            matches!(r, Err(SigError::SignatureDoesNotMatch { .. })),
            "{}",
            f.name
        );
        // body changed where the body is hashed into the signature
        if auth.payload == PayloadHash::Absent && auth.location == AuthLocation::Header {
            let mut body = f.body.clone();
            body.push(b' ');
            let r = verify(&req, &auth, &f.secret, &hex_sha256(&body), f.now, f.enc());
            assert!(
                matches!(r, Err(SigError::SignatureDoesNotMatch { .. })),
                "{}",
                f.name
            );
        }
        // a signed header changed
        let mut headers = f.headers.clone();
        headers.insert("host", HeaderValue::from_static("evil.example:4566"));
        let req2 = SignedRequest {
            headers: &headers,
            ..req
        };
        let r = verify(&req2, &auth, &f.secret, &payload, f.now, f.enc());
        assert!(
            matches!(r, Err(SigError::SignatureDoesNotMatch { .. })),
            "{}",
            f.name
        );
        // a query parameter added
        let q = if f.query.is_empty() {
            "x=1".to_string()
        } else {
            format!("{}&x=1", f.query)
        };
        let req3 = SignedRequest {
            raw_query: &q,
            ..req
        };
        let auth3 = parse_auth(&req3).unwrap().unwrap();
        let r = verify(&req3, &auth3, &f.secret, &payload, f.now, f.enc());
        assert!(
            matches!(r, Err(SigError::SignatureDoesNotMatch { .. })),
            "{}",
            f.name
        );
        // a signed header removed
        if auth.signed_headers.iter().any(|h| h == "x-amz-date") {
            let mut headers = f.headers.clone();
            let date = headers.remove("x-amz-date").unwrap();
            headers.insert(
                "date",
                HeaderValue::from_static("Fri, 27 Nov 2026 07:30:00 GMT"),
            );
            let req4 = SignedRequest {
                headers: &headers,
                ..req
            };
            let auth4 = parse_auth(&req4).unwrap().unwrap();
            assert_eq!(auth4.amz_date, date.to_str().unwrap());
            let r = verify(&req4, &auth4, &f.secret, &payload, f.now, f.enc());
            assert_eq!(
                r.unwrap_err(),
                SigError::SignedHeaderMissing("x-amz-date".into())
            );
        }
        // time: still valid near the edge of the window
        let window = auth.expires_secs.map_or(14 * 60, |e| e.min(14 * 60));
        let edge = f.now + time::Duration::seconds(window as i64);
        let r = verify(&req, &auth, &f.secret, &payload, edge, f.enc());
        assert!(r.is_ok(), "{}", f.name);
        let late = f.now + time::Duration::days(8);
        let r = verify(&req, &auth, &f.secret, &payload, late, f.enc());
        match auth.location {
            AuthLocation::Header => assert!(matches!(
                r,
                Err(SigError::RequestTimeTooSkewed { expired: true, .. })
            )),
            AuthLocation::Query => assert!(matches!(r, Err(SigError::PresignedExpired { .. }))),
        }
    }
}

#[test]
fn double_encoding_matters_for_non_s3_paths() {
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "lambda_double_encoded_path")
        .unwrap();
    let req = f.req();
    let auth = parse_auth(&req).unwrap().unwrap();
    assert!(verify(
        &req,
        &auth,
        &f.secret,
        EMPTY_SHA256,
        f.now,
        UriEncoding::Normalized
    )
    .is_ok());
    // Encoding once (S3 rules) gives a different canonical URI, so it must not verify.
    assert!(verify(&req, &auth, &f.secret, EMPTY_SHA256, f.now, UriEncoding::S3).is_err());
}

#[test]
fn presigned_expiry_is_exact() {
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "s3_presigned_get")
        .unwrap();
    let req = f.req();
    let auth = parse_auth(&req).unwrap().unwrap();
    assert_eq!(auth.location, AuthLocation::Query);
    assert_eq!(auth.expires_secs, Some(3600));
    assert_eq!(
        auth.payload_hash_for(true).as_deref(),
        Some(UNSIGNED_PAYLOAD)
    );
    let at_expiry = f.now + time::Duration::seconds(3600);
    assert!(verify(&req, &auth, &f.secret, UNSIGNED_PAYLOAD, at_expiry, f.enc()).is_ok());
    let err = verify(
        &req,
        &auth,
        &f.secret,
        UNSIGNED_PAYLOAD,
        at_expiry + time::Duration::seconds(1),
        f.enc(),
    )
    .unwrap_err();
    assert_eq!(
        err.aws_error(true),
        ("AccessDenied", "Request has expired".to_string(), 403)
    );
    // Tampering with X-Amz-Expires breaks the signature.
    let q = f.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200");
    let req2 = SignedRequest {
        raw_query: &q,
        ..req
    };
    let auth2 = parse_auth(&req2).unwrap().unwrap();
    assert!(matches!(
        verify(&req2, &auth2, &f.secret, UNSIGNED_PAYLOAD, f.now, f.enc()),
        Err(SigError::SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn unsigned_trailer_body_from_botocore_decodes() {
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "s3_put_unsigned_trailer")
        .unwrap();
    let req = f.req();
    let auth = parse_auth(&req).unwrap().unwrap();
    assert_eq!(auth.payload, PayloadHash::StreamingUnsignedTrailer);
    let key = verify(
        &req,
        &auth,
        &f.secret,
        STREAMING_UNSIGNED_TRAILER,
        f.now,
        f.enc(),
    )
    .unwrap();
    let expected = b64(f.json["decoded_b64"].as_str().unwrap());
    let declared: u64 = f.headers["x-amz-decoded-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    for step in [1usize, 7, 4096, usize::MAX] {
        let mut dec = ChunkedDecoder::new(
            auth.payload.clone(),
            Some(key.clone()),
            &auth.signature,
            &auth.amz_date,
            &auth.scope(),
        )
        .with_decoded_content_length(Some(declared));
        let mut out = Vec::new();
        for piece in f.body.chunks(step.min(f.body.len())) {
            dec.feed(piece, &mut out).unwrap();
        }
        let trailers = dec.finish().unwrap();
        assert_eq!(out, expected);
        let want = f.json["trailers"][0].as_array().unwrap();
        assert_eq!(
            trailers,
            vec![(
                want[0].as_str().unwrap().to_string(),
                want[1].as_str().unwrap().to_string()
            )]
        );
        // the trailer really is the CRC32 of the decoded data
        let crc = crc32fast::hash(&out).to_be_bytes();
        assert_eq!(
            trailers[0].1,
            base64::engine::general_purpose::STANDARD.encode(crc)
        );
    }
}
