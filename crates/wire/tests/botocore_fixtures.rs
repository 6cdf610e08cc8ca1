//! Round trips against fixtures captured from botocore 1.43.11
//! (`tests/fixtures/gen_fixtures.py`).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "integration test code: a failed expectation is a test failure"
)]

use base64::Engine;
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture file");
    serde_json::from_str(&text).expect("fixture json")
}

#[test]
fn parse_input_matches_botocore_params() {
    let fixtures = load("requests.json");
    let cases = fixtures["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    let mut protocols = std::collections::HashSet::new();
    for case in cases {
        let service = case["service"].as_str().expect("service");
        let operation = case["operation"].as_str().expect("operation");
        let r = &case["request"];
        let model = ironsage_model::model(service).expect("model");
        protocols.insert(model.info.protocol);
        let url_path = r["url_path"].as_str().expect("path");
        let (path, literal_query) = url_path.split_once('?').unwrap_or((url_path, ""));
        let extra_query = r["query"].as_str().expect("query");
        let query = [literal_query, extra_query]
            .iter()
            .filter(|q| !q.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = http::HeaderMap::new();
        for (k, v) in r["headers"].as_object().expect("headers") {
            headers.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                http::HeaderValue::from_str(v.as_str().expect("header value"))
                    .expect("header value"),
            );
        }
        let body = B64
            .decode(r["body"].as_str().expect("body"))
            .expect("base64");
        let req = ironsage_wire::Request {
            method: r["method"].as_str().expect("method"),
            path,
            query: &query,
            headers: &headers,
            body: &body,
        };
        let op = ironsage_wire::resolve_operation(model, &req)
            .unwrap_or_else(|e| panic!("{service} {operation}: resolve failed: {e}"));
        assert_eq!(
            op.name, operation,
            "{service}: resolved the wrong operation"
        );
        let parsed = ironsage_wire::parse_input(model, op, &req)
            .unwrap_or_else(|e| panic!("{service} {operation}: parse failed: {e}"));
        assert_eq!(parsed, case["params"], "{service} {operation}");
    }
    assert_eq!(protocols.len(), 5, "fixtures must cover all five protocols");
}

/// Serializes every `responses.json` output. With `IRONSAGE_WRITE_RESPONSES=<dir>`
/// writes them for `check_responses.py`; always checks they are well-formed.
#[test]
fn botocore_parses_our_responses() {
    let fixtures = load("responses.json");
    let dir = std::env::var("IRONSAGE_WRITE_RESPONSES").ok();
    for (i, case) in fixtures["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .enumerate()
    {
        let service = case["service"].as_str().expect("service");
        let operation = case["operation"].as_str().expect("operation");
        let model = ironsage_model::model(service).expect("model");
        let op = model.operation(operation).expect("operation");
        let resp = ironsage_wire::serialize_output(model, op, &case["output"], "req-0001");
        assert!((200..300).contains(&resp.status), "{service} {operation}");
        assert!(resp.header("content-type").is_some() || resp.body.is_empty());
        if let Some(dir) = &dir {
            let file = serde_json::json!({
                "service": service,
                "operation": operation,
                "status": resp.status,
                "headers": resp.headers,
                "body": B64.encode(&resp.body),
                "expected": case["output"],
            });
            std::fs::create_dir_all(dir).expect("mkdir");
            std::fs::write(
                format!("{dir}/{i:03}-{service}-{operation}.json"),
                file.to_string(),
            )
            .expect("write");
        }
    }
}
