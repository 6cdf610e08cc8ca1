//! Request handling: classify → authenticate → parse → authorize → dispatch.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use ironsage_model::{Protocol, ServiceInfo};
use ironsage_services::{ids, AwsError, Caller, Ctx};
use ironsage_sigv4 as sigv4;
use ironsage_wire as wire;

use crate::app::App;

/// Largest request body accepted (non-streaming services).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The response body type of the gateway: a whole buffer, or a stream fed
/// from a blocking reader (S3 GetObject).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// The response type of the gateway.
pub type HttpResponse = http::Response<Body>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Handles one HTTP request end to end. Never panics on client input: every
/// failure is an AWS-shaped error response.
pub async fn handle(app: Arc<App>, req: http::Request<Incoming>, peer: SocketAddr) -> HttpResponse {
    let request_id = ids::request_id();
    let (parts, body) = req.into_parts();
    if parts.uri.path().starts_with("/_ironsage/") {
        return internal_route(&app, &parts);
    }
    if let Some(boundary) = crate::post::form_boundary(&parts) {
        return crate::post::handle(app, parts, body, peer, request_id, boundary).await;
    }
    let mut head = match classify(&parts, &request_id) {
        Ok(h) => h,
        Err(resp) => {
            // Read (and drop) a bounded body first, so a client still
            // sending gets the error rather than a broken pipe.
            let _ = Limited::new(body, MAX_BODY).collect().await;
            return to_http(resp);
        }
    };
    if head.auth.v2.is_some() {
        // SigV2 names no region: the server's own is the request's.
        head.auth.credential.region.clone_from(&app.config.region);
    }
    let streaming = app
        .services
        .get(head.info.name)
        .is_some_and(|s| s.streams());
    if streaming && head.auth.payload_hash_for(true).is_some() {
        return crate::stream::handle_streaming(app, parts, body, head, peer, request_id).await;
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            let err = AwsError::new(
                "RequestEntityTooLarge",
                format!("Request body exceeds the maximum of {MAX_BODY} bytes."),
                413,
            );
            return to_http(wire::serialize_error(head.info, &err, &request_id, false));
        }
    };
    if streaming {
        // An S3 request without a declared payload hash: buffered, then the
        // same streaming dispatch over the buffer.
        return crate::stream::handle_buffered_streaming(app, parts, body, head, peer, request_id)
            .await;
    }
    to_http(process(&app, &parts, &body, head, peer, &request_id))
}

/// Turns a wire response into an HTTP response.
pub fn to_http(r: wire::Response) -> HttpResponse {
    with_body(r, None)
}

/// A wire response whose body is replaced by `body` when given.
pub fn with_body(r: wire::Response, body: Option<Body>) -> HttpResponse {
    let body = body.unwrap_or_else(|| full(r.body));
    let mut resp = http::Response::new(body);
    *resp.status_mut() =
        http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.reserve(r.headers.len());
    for (k, v) in r.headers {
        // Values move into the header map without a copy; a name or value
        // HTTP cannot carry is left out (the builder dropped the whole
        // response for it).
        if let (Ok(name), Ok(value)) = (header_name(&k), http::HeaderValue::try_from(v)) {
            headers.append(name, value);
        }
    }
    resp
}

/// Response header names AWS services send on most answers: named from
/// static text (no copy), the rest parsed.
const COMMON_HEADERS: &[&str] = &[
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amzn-requestid",
    "x-amz-version-id",
    "x-amz-delete-marker",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-sha512",
    "x-amz-checksum-md5",
    "x-amz-checksum-xxhash64",
    "x-amz-checksum-xxhash3",
    "x-amz-checksum-xxhash128",
    "x-amz-checksum-type",
    "x-amz-storage-class",
    "x-amz-tagging-count",
    "x-amz-mp-parts-count",
];

fn header_name(k: &str) -> Result<http::HeaderName, http::header::InvalidHeaderName> {
    match COMMON_HEADERS.iter().find(|c| c.eq_ignore_ascii_case(k)) {
        Some(c) => Ok(http::HeaderName::from_static(c)),
        None => http::HeaderName::from_bytes(k.as_bytes()),
    }
}

fn internal_route(app: &App, parts: &http::request::Parts) -> HttpResponse {
    let (status, body) = match parts.uri.path() {
        "/_ironsage/health" => {
            let mut services: Vec<&str> = app.services.keys().copied().collect();
            services.sort_unstable();
            (
                200,
                serde_json::json!({
                    "status": "ok",
                    "version": env!("CARGO_PKG_VERSION"),
                    "uptime_seconds": app.started.elapsed().as_secs_f64(),
                    "services": services,
                })
                .to_string(),
            )
        }
        _ => (
            404,
            serde_json::json!({"error": "no such internal route"}).to_string(),
        ),
    };
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body))
        .unwrap_or_else(|_| http::Response::new(full(Bytes::new())))
}

/// An error for a request whose service is unknown: query-style XML, which
/// every AWS SDK can read.
fn generic_error(err: &AwsError, request_id: &str) -> wire::Response {
    wire::error_for_protocol_no_service(err, request_id)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Picks the service among those sharing a signing name.
pub(crate) fn pick_service(signing: &str, headers: &HeaderMap) -> Option<&'static ServiceInfo> {
    let candidates = ironsage_model::services_for_signing_name(signing);
    if candidates.len() <= 1 {
        return candidates.first().copied();
    }
    if let Some(target) = header(headers, "x-amz-target") {
        let prefix = target.split('.').next().unwrap_or("");
        if let Some(s) = candidates.iter().find(|s| s.target_prefix == Some(prefix)) {
            return Some(s);
        }
    }
    candidates
        .iter()
        .find(|s| matches!(s.protocol, Protocol::RestJson | Protocol::RestXml))
        .or_else(|| candidates.first())
        .copied()
}

/// Best guess of the service of a request we could not authenticate, so the
/// error is shaped the way its client expects.
fn guess_service(headers: &HeaderMap, query: &str) -> Option<&'static ServiceInfo> {
    if let Some(t) = header(headers, "x-amz-target") {
        return ironsage_model::service_for_target_prefix(t.split('.').next().unwrap_or(""));
    }
    let scope_from = |cred: &str| -> Option<String> { cred.split('/').nth(3).map(str::to_string) };
    if let Some(auth) = header(headers, "authorization") {
        if let Some(i) = auth.find("Credential=") {
            let cred = auth
                .get(i + 11..)
                .unwrap_or("")
                .split([',', ' '])
                .next()
                .unwrap_or("");
            if let Some(svc) = scope_from(cred) {
                return pick_service(&svc, headers);
            }
        }
    }
    for pair in query.split('&') {
        if let Some(v) = pair.strip_prefix("X-Amz-Credential=") {
            let v = percent_decode(v);
            if let Some(svc) = scope_from(&v) {
                return pick_service(&svc, headers);
            }
        }
    }
    // SigV2 exists only for S3.
    let v2_header = header(headers, "authorization").is_some_and(|a| a.starts_with("AWS "));
    if v2_header || query.split('&').any(|p| p.starts_with("AWSAccessKeyId=")) {
        return ironsage_model::service_info("s3");
    }
    // No target, no scope: a query-protocol call names its `Action`; anything
    // else unsigned is most likely an S3 REST request (browsers, curl).
    let form = header(headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form || query.split('&').any(|p| p.starts_with("Action=")) {
        return None;
    }
    ironsage_model::service_info("s3")
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The bucket named by a virtual-host-style S3 Host header
/// (`bucket.s3.us-east-1.localhost:4599`, `bucket.s3.amazonaws.com`,
/// `bucket.s3.localhost`), if any.
pub fn virtual_host_bucket(host: &str) -> Option<&str> {
    let host = host.split(':').next().unwrap_or(host);
    let idx = host.find(".s3.").or_else(|| host.find(".s3-"))?;
    let bucket = host.get(..idx)?;
    (!bucket.is_empty()).then_some(bucket)
}

fn is_s3(info: &ServiceInfo) -> bool {
    info.name == "s3"
}

/// Authentication failure texts differ per protocol family.
pub(crate) fn auth_error(info: &ServiceInfo, kind: AuthFailure) -> AwsError {
    let s3 = is_s3(info);
    let json = matches!(info.protocol, Protocol::Json | Protocol::RestJson);
    let ec2 = matches!(info.protocol, Protocol::Ec2);
    match kind {
        AuthFailure::UnknownKey => {
            if s3 {
                AwsError::new(
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                    403,
                )
            } else if ec2 {
                AwsError::new(
                    "AuthFailure",
                    "AWS was not able to validate the provided access credentials",
                    401,
                )
            } else if json {
                AwsError::new(
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                    400,
                )
            } else {
                AwsError::new(
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                    403,
                )
            }
        }
        AuthFailure::BadToken => {
            if s3 {
                AwsError::new(
                    "InvalidToken",
                    "The provided token is malformed or otherwise invalid.",
                    400,
                )
            } else if ec2 {
                AwsError::new(
                    "AuthFailure",
                    "AWS was not able to validate the provided access credentials",
                    401,
                )
            } else if json {
                AwsError::new(
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                    400,
                )
            } else {
                AwsError::new(
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                    403,
                )
            }
        }
        AuthFailure::Expired => {
            if s3 {
                AwsError::new("ExpiredToken", "The provided token has expired.", 400)
            } else if json {
                AwsError::new(
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                    400,
                )
            } else {
                AwsError::new(
                    "ExpiredToken",
                    "The security token included in the request is expired",
                    403,
                )
            }
        }
        AuthFailure::Missing => {
            if s3 {
                AwsError::new("AccessDenied", "Access Denied", 403)
            } else if json {
                AwsError::new(
                    "MissingAuthenticationTokenException",
                    "Missing Authentication Token",
                    400,
                )
            } else {
                AwsError::new(
                    "MissingAuthenticationToken",
                    "Request is missing Authentication Token",
                    403,
                )
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum AuthFailure {
    UnknownKey,
    BadToken,
    Expired,
    Missing,
}

fn family(info: &ServiceInfo) -> sigv4::ErrorFamily {
    if is_s3(info) {
        sigv4::ErrorFamily::S3
    } else if matches!(info.protocol, Protocol::Json | Protocol::RestJson) {
        sigv4::ErrorFamily::Json
    } else {
        sigv4::ErrorFamily::Query
    }
}

pub(crate) fn sig_error(info: &ServiceInfo, e: &sigv4::SigError) -> AwsError {
    let (code, message, status) = e.aws_error_for(family(info));
    AwsError::new(code, message, status)
}

/// A request whose service and signature header are known (not yet verified).
#[derive(Debug)]
pub struct Classified {
    /// The service.
    pub info: &'static ServiceInfo,
    /// The parsed SigV4 authorization.
    pub auth: sigv4::ParsedAuth,
    /// Whether this is a HEAD request (errors carry no body).
    pub is_head: bool,
}

/// Stage 1: which service, and is the request signed at all? Uses only the
/// request head.
pub fn classify(
    parts: &http::request::Parts,
    request_id: &str,
) -> Result<Classified, wire::Response> {
    let raw_query = parts.uri.query().unwrap_or("");
    let signed = signed_request(parts);
    let is_head = parts.method == http::Method::HEAD;
    let auth = match sigv4::parse_auth(&signed) {
        Ok(a) => a,
        Err(e) => {
            return Err(match guess_service(&parts.headers, raw_query) {
                Some(info) => {
                    wire::serialize_error(info, &sig_error(info, &e), request_id, is_head)
                }
                None => {
                    let (code, message, status) = e.aws_error(false);
                    generic_error(&AwsError::new(code, message, status), request_id)
                }
            })
        }
    };
    let Some(auth) = auth else {
        return Err(match guess_service(&parts.headers, raw_query) {
            Some(info) => wire::serialize_error(
                info,
                &auth_error(info, AuthFailure::Missing),
                request_id,
                is_head,
            ),
            None => generic_error(&auth_error_generic(), request_id),
        });
    };
    let Some(info) = pick_service(&auth.credential.service, &parts.headers) else {
        let err = AwsError::new(
            "UnknownService",
            format!(
                "ironsage does not serve the service `{}` (signing name in the credential scope).",
                auth.credential.service
            ),
            400,
        );
        return Err(generic_error(&err, request_id));
    };
    Ok(Classified {
        info,
        auth,
        is_head,
    })
}

fn signed_request(parts: &http::request::Parts) -> sigv4::SignedRequest<'_> {
    sigv4::SignedRequest {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
    }
}

/// An authenticated caller.
#[derive(Debug)]
pub struct Authenticated {
    /// The key and its principal.
    pub key: Arc<ironsage_services::credentials::AccessKey>,
    /// The derived signing key (verifies `aws-chunked` chunk signatures).
    pub signing_key: sigv4::SigningKey,
}

/// Stage 2: the access key, the signature (over `payload_hash`, or the body
/// when given and the client declared none), the session token and its expiry.
pub fn authenticate(
    app: &App,
    parts: &http::request::Parts,
    head: &Classified,
    body: Option<&[u8]>,
    request_id: &str,
) -> Result<Authenticated, wire::Response> {
    let info = head.info;
    let auth = &head.auth;
    let fail = |err: AwsError| wire::serialize_error(info, &err, request_id, head.is_head);
    let Some(key) = app.credentials.lookup(&auth.credential.access_key_id) else {
        return Err(fail(auth_error(info, AuthFailure::UnknownKey)));
    };
    if key.status != ironsage_services::credentials::KeyStatus::Active {
        return Err(fail(auth_error(info, AuthFailure::UnknownKey)));
    }
    if let (sigv4::PayloadHash::Hex(declared), Some(body)) = (&auth.payload, body) {
        if let Err(e) = sigv4::check_content_sha256(declared, body) {
            return Err(fail(sig_error(info, &e)));
        }
    }
    let empty: &[u8] = &[];
    let payload_hash = auth
        .payload_hash_for(is_s3(info))
        .unwrap_or_else(|| sigv4::hex_sha256(body.unwrap_or(empty)));
    let now = time::OffsetDateTime::now_utc();
    let enc = if is_s3(info) {
        sigv4::UriEncoding::S3
    } else {
        sigv4::UriEncoding::Normalized
    };
    let signed = signed_request(parts);
    if auth.v2.is_some() {
        let bucket = header(&parts.headers, "host").and_then(virtual_host_bucket);
        if let Err(e) = sigv4::verify_v2(&signed, auth, &key.secret_access_key, bucket, now) {
            if let sigv4::SigError::SignatureDoesNotMatch { string_to_sign, .. } = &e {
                tracing::debug!(request_id, %string_to_sign, "SigV2 signature mismatch");
            }
            return Err(fail(sig_error(info, &e)));
        }
        check_session(&key, auth.security_token.as_deref(), now)
            .map_err(|f| fail(auth_error(info, f)))?;
        // No chunk signatures in SigV2; the key is derived for completeness.
        let signing_key = sigv4::cached_signing_key(
            &key.secret_access_key,
            &auth.credential.date,
            &auth.credential.region,
            &auth.credential.service,
        );
        return Ok(Authenticated { key, signing_key });
    }
    let signing_key = match sigv4::verify(
        &signed,
        auth,
        &key.secret_access_key,
        &payload_hash,
        now,
        enc,
    ) {
        Ok(k) => k,
        Err(e) => {
            // Presigned URLs: botocore and the SDKs sign `UNSIGNED-PAYLOAD`, AWS's
            // own test suite signs the empty body's hash; AWS accepts both.
            let retry = auth.location == sigv4::AuthLocation::Query
                && matches!(auth.payload, sigv4::PayloadHash::Absent)
                && matches!(e, sigv4::SigError::SignatureDoesNotMatch { .. });
            let alternative = if payload_hash == sigv4::UNSIGNED_PAYLOAD {
                sigv4::hex_sha256(body.unwrap_or(empty))
            } else {
                sigv4::UNSIGNED_PAYLOAD.to_string()
            };
            let second = if retry {
                sigv4::verify(
                    &signed,
                    auth,
                    &key.secret_access_key,
                    &alternative,
                    now,
                    enc,
                )
                .ok()
            } else {
                None
            };
            match second {
                Some(k) => k,
                None => {
                    if let sigv4::SigError::SignatureDoesNotMatch {
                        canonical_request,
                        string_to_sign,
                        ..
                    } = &e
                    {
                        tracing::debug!(request_id, %canonical_request, %string_to_sign, "signature mismatch");
                    }
                    return Err(fail(sig_error(info, &e)));
                }
            }
        }
    };
    check_session(&key, auth.security_token.as_deref(), now)
        .map_err(|f| fail(auth_error(info, f)))?;
    Ok(Authenticated { key, signing_key })
}

/// Temporary credentials: the session token must match and be unexpired;
/// long-term keys must not present one.
pub(crate) fn check_session(
    key: &ironsage_services::credentials::AccessKey,
    security_token: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<(), AuthFailure> {
    if let Some(expected) = &key.session_token {
        match security_token {
            Some(t) if constant_eq(t, expected) => {}
            _ => return Err(AuthFailure::BadToken),
        }
        if let Some(sess) = &key.caller.session {
            if sess.expiration <= now.unix_timestamp() {
                return Err(AuthFailure::Expired);
            }
        }
    } else if security_token.is_some() {
        return Err(AuthFailure::BadToken);
    }
    Ok(())
}

/// A request ready to dispatch: operation resolved, input parsed and
/// validated, every target authorized.
pub struct Prepared {
    /// The model.
    pub model: &'static ironsage_model::ServiceModel,
    /// The operation.
    pub op: &'static ironsage_model::Operation,
    /// The parsed input.
    pub input: serde_json::Value,
    /// The service implementation.
    pub service: Arc<dyn ironsage_services::Service>,
}

/// A request's operation as its head alone decides it (REST protocols route
/// on method, path, query and headers; never on the body), resolved once
/// and handed to [`prepare`].
pub struct Routed {
    /// The path the wire layer routes on ([`wire_path`]).
    pub path: String,
    /// The operation, when the head decides it.
    pub op: Option<&'static ironsage_model::Operation>,
}

impl Routed {
    /// Resolves the operation of a REST request from its head; other
    /// protocols carry the operation in the body and leave `op` empty.
    pub fn from_head(parts: &http::request::Parts, info: &ServiceInfo) -> Routed {
        let path = wire_path(parts, info);
        let op = ironsage_model::model(info.name)
            .filter(|m| {
                matches!(
                    m.info.protocol,
                    ironsage_model::Protocol::RestXml | ironsage_model::Protocol::RestJson
                )
            })
            .and_then(|model| {
                let probe = wire::Request {
                    method: parts.method.as_str(),
                    path: &path,
                    query: parts.uri.query().unwrap_or(""),
                    headers: &parts.headers,
                    body: &[],
                };
                wire::resolve_operation(model, &probe).ok()
            });
        Routed { path, op }
    }
}

/// Stage 3 and 4: operation, input, authorization. `routed` is the head's
/// routing when the caller resolved it already.
#[allow(clippy::too_many_arguments)] // the request's parts, each used once
pub fn prepare(
    app: &App,
    parts: &http::request::Parts,
    head: &Classified,
    caller: &Caller,
    body: &[u8],
    peer: SocketAddr,
    request_id: &str,
    routed: Option<&Routed>,
) -> Result<Prepared, wire::Response> {
    let info = head.info;
    let fail = |err: AwsError| wire::serialize_error(info, &err, request_id, head.is_head);
    let Some(model) = ironsage_model::model(info.name) else {
        return Err(fail(AwsError::new(
            "InternalFailure",
            format!("model for {} is missing", info.name),
            500,
        )));
    };
    let own_path;
    let path = match routed {
        Some(r) => r.path.as_str(),
        None => {
            own_path = wire_path(parts, info);
            own_path.as_str()
        }
    };
    let wreq = wire::Request {
        method: parts.method.as_str(),
        path,
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body,
    };
    let op = match routed.and_then(|r| r.op) {
        Some(op) => op,
        None => wire::resolve_operation(model, &wreq).map_err(fail)?,
    };
    let input = wire::parse_input(model, op, &wreq).map_err(fail)?;
    let Some(service) = app.services.get(info.name).cloned() else {
        return Err(fail(AwsError::not_implemented(info.service_id, &op.name)));
    };
    let region = head.auth.credential.region.as_str();
    let now = time::OffsetDateTime::now_utc();
    let ctx = Ctx {
        caller,
        region,
        request_id,
        now,
    };
    let targets = service.targets(&ctx, &op.name, &input).map_err(fail)?;
    let env = crate::authz::RequestEnv {
        source_ip: peer.ip(),
        arrival: parts.extensions.get::<crate::endpoints::Arrival>(),
        secure_transport: false,
        region,
        now,
    };
    crate::authz::authorize(app, info, caller, &targets, &env, request_id).map_err(fail)?;
    Ok(Prepared {
        model,
        op,
        input,
        service,
    })
}

/// The path the wire layer routes on: S3 virtual-host requests are
/// rewritten to path style (the signature was checked on the original).
pub fn wire_path(parts: &http::request::Parts, info: &ServiceInfo) -> String {
    let raw_path = parts.uri.path();
    if is_s3(info) {
        if let Some(bucket) = header(&parts.headers, "host").and_then(virtual_host_bucket) {
            return format!("/{bucket}{raw_path}");
        }
    }
    raw_path.to_string()
}

/// The buffered pipeline for ordinary services.
fn process(
    app: &App,
    parts: &http::request::Parts,
    body: &[u8],
    head: Classified,
    peer: SocketAddr,
    request_id: &str,
) -> wire::Response {
    let key = match authenticate(app, parts, &head, Some(body), request_id) {
        Ok(k) => k.key,
        Err(r) => return r,
    };
    let caller: &Caller = &key.caller;
    let p = match prepare(app, parts, &head, caller, body, peer, request_id, None) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ctx = Ctx {
        caller,
        region: head.auth.credential.region.as_str(),
        request_id,
        now: time::OffsetDateTime::now_utc(),
    };
    match p.service.call(&ctx, &p.op.name, p.input) {
        Ok(out) => wire::serialize_output(p.model, p.op, &out, request_id),
        Err(e) => wire::serialize_error(head.info, &e, request_id, head.is_head),
    }
}

fn auth_error_generic() -> AwsError {
    AwsError::new(
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
        403,
    )
}

fn constant_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_header_names_are_valid_and_matched_in_any_case() {
        for c in COMMON_HEADERS {
            assert_eq!(
                http::HeaderName::from_bytes(c.as_bytes()).unwrap().as_str(),
                *c
            );
        }
        assert_eq!(
            header_name("x-amzn-RequestId").unwrap().as_str(),
            "x-amzn-requestid"
        );
        assert_eq!(header_name("ETag").unwrap(), http::header::ETAG);
        assert!(header_name("bad name").is_err());
        let r = with_body(
            wire::Response {
                status: 200,
                headers: vec![
                    ("x-amz-request-id".into(), "r1".into()),
                    ("bad\nname".into(), "v".into()),
                    ("ETag".into(), "\"e\"".into()),
                ],
                body: Vec::new(),
            },
            None,
        );
        assert_eq!(r.headers().get("x-amz-request-id").unwrap(), "r1");
        assert_eq!(r.headers().get("etag").unwrap(), "\"e\"");
        assert_eq!(r.headers().len(), 2, "the invalid header is left out");
    }

    #[test]
    fn virtual_hosts() {
        assert_eq!(
            virtual_host_bucket("b1.s3.us-east-1.localhost:4599"),
            Some("b1")
        );
        assert_eq!(
            virtual_host_bucket("my.bucket.s3.amazonaws.com"),
            Some("my.bucket")
        );
        assert_eq!(virtual_host_bucket("localhost:4599"), None);
        assert_eq!(virtual_host_bucket("s3.us-east-1.localhost"), None);
    }
}
