//! Garbage, huge and deeply nested inputs must produce errors, never panics.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "integration test code: a failed expectation is a test failure"
)]

use proptest::prelude::*;

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            http::HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}

fn parse(
    service: &str,
    method: &str,
    path: &str,
    query: &str,
    h: &http::HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, ironsage_wire::AwsError> {
    let model = ironsage_model::model(service).expect("model");
    let req = ironsage_wire::Request {
        method,
        path,
        query,
        headers: h,
        body,
    };
    let op = ironsage_wire::resolve_operation(model, &req)?;
    ironsage_wire::parse_input(model, op, &req)
}

#[test]
fn deep_json_is_rejected() {
    let h = headers(&[("x-amz-target", "TrentService.CreateKey")]);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = parse("kms", "POST", "/", "", &h, deep.as_bytes()).expect_err("deep");
    assert_eq!(e.code, "SerializationException");
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert!(parse("kms", "POST", "/", "", &h, deep_obj.as_bytes()).is_err());
}

#[test]
fn deep_xml_is_rejected() {
    let h = headers(&[]);
    let deep = format!(
        "{}{}",
        "<Tagging>".repeat(10_000),
        "</Tagging>".repeat(10_000)
    );
    let e = parse("s3", "PUT", "/bkt", "tagging", &h, deep.as_bytes()).expect_err("deep");
    assert_eq!(e.code, "MalformedXML");
}

#[test]
fn deep_query_keys_are_bounded() {
    let h = headers(&[]);
    let key = vec!["a"; 10_000].join(".");
    let body = format!("Action=CreateStack&StackName=s&{key}=1");
    // Unknown keys are ignored; the request still parses.
    assert!(parse("cloudformation", "POST", "/", "", &h, body.as_bytes()).is_ok());
}

#[test]
fn ten_megabyte_form_body() {
    let h = headers(&[]);
    let mut body = String::from("Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=");
    body.push_str(&"x".repeat(10 * 1024 * 1024));
    let e = parse("iam", "POST", "/", "", &h, body.as_bytes()).expect_err("too long");
    assert_eq!(e.code, "ValidationError");
    assert!(
        e.message
            .contains("Member must have length less than or equal to 131072"),
        "{}",
        &e.message[..200.min(e.message.len())]
    );
    // Many list members.
    let mut body = String::from("Action=DescribeVpcs");
    for i in 1..200_000 {
        body.push_str(&format!("&VpcId.{i}=vpc-{i}"));
    }
    let v = parse("ec2", "POST", "/", "", &h, body.as_bytes()).expect("parses");
    assert_eq!(v["VpcIds"].as_array().map(Vec::len), Some(199_999));
}

#[test]
fn non_utf8_and_bad_encodings() {
    let h = headers(&[]);
    assert!(parse(
        "iam",
        "POST",
        "/",
        "",
        &h,
        b"Action=CreateRole&RoleName=\xff\xfe"
    )
    .is_err());
    assert!(parse(
        "iam",
        "POST",
        "/",
        "",
        &h,
        b"Action=CreateRole&RoleName=%ZZ&AssumeRolePolicyDocument=x"
    )
    .is_err());
    let hj = headers(&[("x-amz-target", "TrentService.Encrypt")]);
    let e = parse(
        "kms",
        "POST",
        "/",
        "",
        &hj,
        br#"{"KeyId":"k","Plaintext":"***"}"#,
    )
    .expect_err("bad base64");
    assert_eq!(e.code, "SerializationException");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn fuzz_parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512), svc in 0usize..18) {
        let name = ironsage_model::services()[svc].name;
        ironsage_wire::fuzz_parse(name, &data);
    }

    #[test]
    fn garbage_bodies_are_errors_or_values(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let h = headers(&[("x-amz-target", "TrentService.CreateKey")]);
        let _ = parse("kms", "POST", "/", "", &h, &body);
        let _ = parse("s3", "PUT", "/b", "tagging", &headers(&[]), &body);
        let _ = parse("lambda", "POST", "/2015-03-31/functions", "", &headers(&[]), &body);
        let mut form = b"Action=AssumeRole&".to_vec();
        form.extend_from_slice(&body);
        let _ = parse("sts", "POST", "/", "", &headers(&[]), &form);
        let mut ec2 = b"Action=DescribeVpcs&".to_vec();
        ec2.extend_from_slice(&body);
        let _ = parse("ec2", "POST", "/", "", &headers(&[]), &ec2);
    }

    #[test]
    fn structured_garbage_forms(keys in proptest::collection::vec("[A-Za-z]{1,8}(\\.(member|entry|[0-9]{1,3}|key|value|Key|Value)){0,4}", 0..20), vals in proptest::collection::vec("[ -~]{0,12}", 20)) {
        let mut body = String::from("Action=AssumeRole");
        for (k, v) in keys.iter().zip(vals.iter()) {
            body.push('&');
            body.push_str(k);
            body.push('=');
            body.push_str(&v.replace('&', "%26"));
        }
        let _ = parse("sts", "POST", "/", "", &headers(&[]), body.as_bytes());
        let _ = parse("iam", "POST", "/", "", &headers(&[]), body.replace("AssumeRole", "CreateRole").as_bytes());
    }
}
