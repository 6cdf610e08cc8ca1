//! AWS error wording, parse errors, and no-panic robustness on arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test-only code

use http::{HeaderMap, HeaderValue};
use ironsage_sigv4::*;
use rand::{Rng, SeedableRng};

fn req_with<'a>(headers: &'a HeaderMap, query: &'a str) -> SignedRequest<'a> {
    SignedRequest {
        method: "GET",
        raw_path: "/",
        raw_query: query,
        headers,
    }
}

fn auth_headers(auth: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("localhost"));
    h.insert("x-amz-date", HeaderValue::from_static("20261127T070000Z"));
    h.insert("authorization", HeaderValue::from_str(auth).unwrap());
    h
}

#[test]
fn anonymous_is_none() {
    let h = HeaderMap::new();
    assert_eq!(parse_auth(&req_with(&h, "a=1&b")).unwrap(), None);
}

#[test]
fn parse_errors() {
    let h = auth_headers("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date");
    let e = parse_auth(&req_with(&h, "")).unwrap_err();
    assert!(matches!(
        e,
        SigError::MissingComponent {
            component: "Signature",
            ..
        }
    ));
    let (code, msg, status) = e.aws_error(false);
    assert_eq!((code, status), ("IncompleteSignature", 400));
    assert!(
        msg.starts_with("Authorization header requires 'Signature' parameter."),
        "{msg}"
    );
    assert_eq!(e.aws_error(true).0, "AuthorizationHeaderMalformed");

    // `AWS AKID:sig` is S3's Signature Version 2 (see v2_fixtures.rs);
    // any other scheme is refused by name.
    let h = auth_headers("AWS AKID:abc");
    assert!(parse_auth(&req_with(&h, "")).unwrap().unwrap().v2.is_some());
    let h = auth_headers("AWS3-HTTPS AWSAccessKeyId=AKID,Algorithm=HmacSHA256,Signature=abc");
    assert!(matches!(
        parse_auth(&req_with(&h, "")),
        Err(SigError::UnsupportedAlgorithm(_))
    ));

    let h = auth_headers(
        "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts, SignedHeaders=host, Signature=00",
    );
    assert!(matches!(
        parse_auth(&req_with(&h, "")),
        Err(SigError::MalformedCredential(_))
    ));

    let mut h = auth_headers("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00");
    h.remove("x-amz-date");
    assert_eq!(
        parse_auth(&req_with(&h, "")).unwrap_err(),
        SigError::MissingDate
    );

    let h = auth_headers("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00");
    assert_eq!(
        parse_auth(&req_with(&h, "X-Amz-Algorithm=AWS4-HMAC-SHA256")).unwrap_err(),
        SigError::MultipleAuthMechanisms
    );

    let empty = HeaderMap::new();
    let e = parse_auth(&req_with(&empty, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20261127%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T070000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604801")).unwrap_err();
    assert_eq!(
        e.aws_error(true),
        (
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800".to_string(),
            400
        )
    );
    let e = parse_auth(&req_with(&empty, "X-Amz-Algorithm=AWS4-HMAC-SHA256")).unwrap_err();
    assert_eq!(e.aws_error(true).0, "AuthorizationQueryParametersError");

    let mut h = auth_headers("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00");
    h.insert("x-amz-content-sha256", HeaderValue::from_static("nope"));
    assert!(matches!(
        parse_auth(&req_with(&h, "")),
        Err(SigError::InvalidContentSha256(_))
    ));
}

#[test]
fn verify_scope_and_time_errors_with_aws_wording() {
    let h = auth_headers("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=00");
    let req = req_with(&h, "");
    let auth = parse_auth(&req).unwrap().unwrap();
    let now = parse_amz_date("20261127T073000Z").unwrap();
    let e = verify(&req, &auth, "s", EMPTY_SHA256, now, UriEncoding::Normalized).unwrap_err();
    assert_eq!(
        e.aws_error(false),
        (
            "SignatureDoesNotMatch",
            "Signature expired: 20261127T070000Z is now earlier than 20261127T071500Z (20261127T073000Z - 15 min.)".to_string(),
            403
        )
    );
    assert_eq!(
        e.aws_error_for(ErrorFamily::Json).0,
        "InvalidSignatureException"
    );
    assert_eq!(
        e.aws_error(true),
        (
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large."
                .to_string(),
            403
        )
    );
    let early = parse_amz_date("20261127T064000Z").unwrap();
    let e = verify(
        &req,
        &auth,
        "s",
        EMPTY_SHA256,
        early,
        UriEncoding::Normalized,
    )
    .unwrap_err();
    assert_eq!(
        e.aws_error(false).1,
        "Signature not yet current: 20261127T070000Z is still later than 20261127T065500Z (20261127T064000Z + 15 min.)"
    );
    let ok_time = parse_amz_date("20261127T070100Z").unwrap();
    let e = verify(
        &req,
        &auth,
        "s",
        EMPTY_SHA256,
        ok_time,
        UriEncoding::Normalized,
    )
    .unwrap_err();
    assert_eq!(
        e.aws_error(false).1,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    );
    assert_eq!(
        e.aws_error(true).1,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    );
    // host not signed
    let mut a2 = auth.clone();
    a2.signed_headers = vec!["x-amz-date".into()];
    assert_eq!(
        verify(
            &req,
            &a2,
            "s",
            EMPTY_SHA256,
            ok_time,
            UriEncoding::Normalized
        )
        .unwrap_err(),
        SigError::HostNotSigned
    );
    // credential date mismatch
    let mut a3 = auth.clone();
    a3.credential.date = "20261126".into();
    let e = verify(
        &req,
        &a3,
        "s",
        EMPTY_SHA256,
        ok_time,
        UriEncoding::Normalized,
    )
    .unwrap_err();
    assert!(matches!(e, SigError::CredentialDateMismatch { .. }));
    assert_eq!(e.aws_error(true).0, "AuthorizationHeaderMalformed");
    // terminator
    let h = auth_headers("AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/sts/aws5_request, SignedHeaders=host, Signature=00");
    let e = parse_auth(&req_with(&h, "")).unwrap_err();
    assert_eq!(
        e.aws_error(false).1,
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    assert_eq!(
        SigError::MissingAuthentication.aws_error_for(ErrorFamily::Json),
        (
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token".to_string(),
            403
        )
    );
}

#[test]
fn parse_auth_never_panics_on_arbitrary_input() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let pieces = [
        "AWS4-HMAC-SHA256",
        " ",
        ",",
        "=",
        "/",
        ";",
        "Credential",
        "SignedHeaders",
        "Signature",
        "aws4_request",
        "20261127",
        "T",
        "Z",
        "%",
        "%2F",
        "&",
        "X-Amz-Algorithm",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "99999999999999999999",
        "host",
        "\u{1234}",
        "..",
        "0",
        "\r\n",
        ";chunk-signature=",
        "x-amz-trailer-signature:",
    ];
    for _ in 0..4_000 {
        let n = rng.gen_range(0..24);
        let s: String = (0..n)
            .map(|_| pieces[rng.gen_range(0..pieces.len())])
            .collect();
        fuzz_parse(s.as_bytes());
        let raw: Vec<u8> = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect();
        fuzz_parse(&raw);
    }
}

#[test]
fn extreme_dates_do_not_panic() {
    for d in [
        "99991231T235959Z",
        "00000101T000000Z",
        "20261301T000000Z",
        "20260230T000000Z",
        "20261127T250000Z",
    ] {
        let mut h = auth_headers(&format!(
            "AWS4-HMAC-SHA256 Credential=A/{}/r/s/aws4_request, SignedHeaders=host, Signature=00",
            &d[..8]
        ));
        h.insert("x-amz-date", HeaderValue::from_str(d).unwrap());
        let req = req_with(&h, "");
        if let Ok(Some(a)) = parse_auth(&req) {
            let _ = verify(
                &req,
                &a,
                "s",
                EMPTY_SHA256,
                time::OffsetDateTime::UNIX_EPOCH,
                UriEncoding::S3,
            );
        }
        let q = format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F{}%2Fr%2Fs%2Faws4_request&X-Amz-Date={d}&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604800", &d[..8]);
        let e = HeaderMap::new();
        let req = req_with(&e, &q);
        if let Ok(Some(a)) = parse_auth(&req) {
            let _ = verify(
                &req,
                &a,
                "s",
                UNSIGNED_PAYLOAD,
                a.request_time,
                UriEncoding::S3,
            );
        }
    }
}
