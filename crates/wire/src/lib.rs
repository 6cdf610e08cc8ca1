//! Generic, model-driven AWS wire protocol codecs (server side).
//!
//! Five protocols — query, ec2, json, rest-json, rest-xml — are parsed into
//! and serialized from one neutral value tree, a [`serde_json::Value`] keyed by
//! the model's canonical member names (like botocore's parsed dict). Blobs
//! are base64 strings and parsed timestamps are ISO 8601 UTC strings.

mod error;
pub mod form;
mod input;
mod output;
mod resolve;
mod timefmt;
mod validate;
mod xml;

pub use error::{error_for_protocol_no_service, serialize_error, AwsError};
pub use input::{parse_document, parse_input};
pub use ironsage_model::Protocol;
pub use output::serialize_output;
pub use resolve::resolve_operation;
pub use timefmt::{
    format_epoch_seconds, format_iso8601, format_rfc7231, parse_timestamp, timestamp_from_value,
};

/// An HTTP request as the codecs see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method (`POST`).
    pub method: &'a str,
    /// Raw path, still percent-encoded, without the query.
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// Request body.
    pub body: &'a [u8],
}

/// An HTTP response produced by the codecs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Maximum nesting depth accepted in any request body or parameter name.
pub const MAX_DEPTH: usize = 64;

/// Fuzzing entry point: builds requests for `service` from arbitrary bytes
/// and runs them through [`resolve_operation`] and [`parse_input`]. Never panics.
pub fn fuzz_parse(service: &str, data: &[u8]) {
    let Some(model) = ironsage_model::model(service) else {
        return;
    };
    // Split the input into method / path / query / header / body parts on 0xFF.
    let mut parts = data.splitn(5, |b| *b == 0xFF);
    let method = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let header_blob = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    for line in header_blob.split(|b| *b == b'\n') {
        let mut kv = line.splitn(2, |b| *b == b':');
        let (Some(k), Some(v)) = (kv.next(), kv.next()) else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(k),
            http::header::HeaderValue::from_bytes(v),
        ) {
            headers.append(name, value);
        }
    }
    let methods = [method.as_str(), "POST", "GET", "PUT"];
    for m in methods {
        let req = Request {
            method: m,
            path: if path.is_empty() { "/" } else { &path },
            query: &query,
            headers: &headers,
            body,
        };
        if let Ok(op) = resolve_operation(model, &req) {
            let _ = parse_input(model, op, &req);
        }
        // Also try every operation directly against the raw bytes.
    }
    if let Some(op) = model
        .operations
        .values()
        .nth(data.len() % model.operations.len().max(1))
    {
        let req = Request {
            method: "POST",
            path: "/",
            query: &query,
            headers: &headers,
            body,
        };
        let _ = parse_input(model, op, &req);
    }
}
