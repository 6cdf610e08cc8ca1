//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http::{HeaderMap, HeaderName, HeaderValue};

/// A raw HTTP/1.1 request as written in the AWS test-suite `*.txt` files.
pub struct RawRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Parse `METHOD /path?query HTTP/1.1\nName:value\n...\n\nbody`. Folded header lines
/// (starting with whitespace) continue the previous header's value (joined with a space).
pub fn parse_raw_request(text: &str) -> RawRequest {
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h, b.as_bytes().to_vec()),
        None => (text.trim_end_matches('\n'), Vec::new()),
    };
    let mut lines = head.split('\n');
    let request_line = lines.next().unwrap();
    let request_line = request_line
        .strip_suffix(" HTTP/1.1")
        .unwrap_or(request_line);
    let (method, target) = request_line.split_once(' ').unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = pairs.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
            continue;
        }
        let (name, value) = line.split_once(':').unwrap();
        pairs.push((name.to_string(), value.to_string()));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    RawRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    }
}

/// Every `*.json` fixture in `tests/<dir>`, parsed, in file-name order.
pub fn json_fixtures(dir: &str) -> Vec<serde_json::Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// A fixture's `headers` (`[[name, value], ...]`, wire order) as a map.
pub fn fixture_headers(v: &serde_json::Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for h in v["headers"].as_array().unwrap() {
        headers.append(
            HeaderName::from_bytes(h[0].as_str().unwrap().as_bytes()).unwrap(),
            HeaderValue::from_str(h[1].as_str().unwrap()).unwrap(),
        );
    }
    headers
}

/// What every botocore-signed fixture holds (SigV4 and SigV2): the request
/// as sent, the credentials that signed it and the time it was signed at.
pub struct Signed {
    pub name: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub akid: String,
    pub secret: String,
    pub token: Option<String>,
    pub now: time::OffsetDateTime,
}

impl Signed {
    /// The common fields of a JSON fixture.
    pub fn from_json(v: &serde_json::Value) -> Signed {
        let text = |k: &str| v[k].as_str().unwrap().to_string();
        Signed {
            name: text("name"),
            method: text("method"),
            path: text("path"),
            query: text("query"),
            headers: fixture_headers(v),
            akid: text("access_key_id"),
            secret: text("secret_access_key"),
            token: v["session_token"].as_str().map(str::to_string),
            now: time::OffsetDateTime::parse(
                v["now"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap(),
        }
    }
}
