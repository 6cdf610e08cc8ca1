//! S3 browser-based uploads: `POST /<bucket>` with an HTML form
//! (`multipart/form-data`) whose fields carry the key, the SigV4 credential
//! and a signed policy document, and whose last field is the file.
//!
//! The fields are read first (bounded); the form's signature is verified
//! over the policy, the policy's conditions against the fields, and the
//! upload is authorized and stored as the PutObject it describes, its file
//! streamed from the socket to the handler as any object body is.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::body::Incoming;
use ironsage_services::s3::post as s3post;
use ironsage_services::{AwsError, BodyReader, Ctx};
use ironsage_sigv4 as sigv4;
use ironsage_wire as wire;
use ironsage_wire::form;

use crate::app::App;
use crate::gateway::{
    auth_error, check_session, pick_service, sig_error, to_http, wire_path, AuthFailure,
    HttpResponse,
};
use crate::stream::{spawn_pump, BodyFault, ChannelReader};

/// Form fields before the file, at most (S3 allows 20 KB).
const MAX_FIELDS: usize = 20 * 1024;

/// The form's boundary when the request is a browser-based upload: a POST
/// of `multipart/form-data` that carries no other authentication.
pub fn form_boundary(parts: &http::request::Parts) -> Option<String> {
    if parts.method != http::Method::POST || parts.headers.contains_key(http::header::AUTHORIZATION)
    {
        return None;
    }
    // A presigned URL (SigV4 `X-Amz-Signature`, SigV2 `Signature`) is not a form.
    if parts.uri.query().unwrap_or("").contains("Signature=") {
        return None;
    }
    let ct = parts
        .headers
        .get(http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    form::boundary(ct).map(str::to_string)
}

fn s3_error(code: &str, message: &str, status: u16) -> AwsError {
    AwsError::new(code, message, status)
}

/// A reader that enforces the policy's `content-length-range`.
struct Bounded<R> {
    inner: R,
    read: u64,
    range: Option<(u64, u64)>,
    fault: BodyFault,
}

impl<R: Read> Bounded<R> {
    /// Records why the upload is refused (the handler's read error is
    /// replaced by it) and fails the read.
    fn refuse(&self, code: &str, message: &str, limit: (&str, u64)) -> std::io::Error {
        let err = s3_error(code, message, 400)
            .with_extra("ProposedSize", self.read.to_string())
            .with_extra(limit.0, limit.1.to_string());
        if let Ok(mut f) = self.fault.lock() {
            *f = Some(err);
        }
        std::io::Error::other("the upload is outside the policy's content-length-range")
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if let Some((min, max)) = self.range {
            if self.read > max {
                return Err(self.refuse(
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                    ("MaxSizeAllowed", max),
                ));
            }
            if n == 0 && !buf.is_empty() && self.read < min {
                return Err(self.refuse(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                    ("MinSizeAllowed", min),
                ));
            }
        }
        Ok(n)
    }
}

/// Serves one browser-based upload.
pub async fn handle(
    app: Arc<App>,
    parts: http::request::Parts,
    body: Incoming,
    peer: SocketAddr,
    request_id: String,
    boundary: String,
) -> HttpResponse {
    let Some(info) = pick_service("s3", &parts.headers) else {
        return to_http(wire::error_for_protocol_no_service(
            &s3_error("InternalFailure", "S3 is not served", 500),
            &request_id,
        ));
    };
    let fail = |e: AwsError| to_http(wire::serialize_error(info, &e, &request_id, false));
    let path = wire_path(&parts, info);
    let bucket = path.trim_matches('/').to_string();
    if bucket.is_empty() || bucket.contains('/') {
        return fail(s3_error(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
        ));
    }
    let fault: BodyFault = Arc::new(Mutex::new(None));
    let mut rx = spawn_pump(body, sigv4::PayloadHash::Absent, None, None, &fault);
    let malformed = || {
        s3_error(
            "MalformedPOSTRequest",
            "The body of your POST request is not well-formed multipart/form-data.",
            400,
        )
    };
    // The fields, up to the file's first bytes.
    let mut buf: Vec<u8> = Vec::new();
    let head = loop {
        match form::parse_head(&buf, &boundary) {
            Ok(Some(h)) => break h,
            Ok(None) => {}
            Err(form::FormError::NoFile) => {
                return fail(
                    s3_error(
                        "InvalidArgument",
                        "POST requires exactly one file upload per request.",
                        400,
                    )
                    .with_extra("ArgumentName", "file"),
                )
            }
            Err(form::FormError::Malformed(_)) => return fail(malformed()),
        }
        if buf.len() > MAX_FIELDS + 64 * 1024 {
            return fail(s3_error(
                "MaxPostPreDataLengthExceeded",
                "Your POST request fields preceding the upload file were too large.",
                400,
            ));
        }
        match rx.recv().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(_)) | None => {
                let e = fault.lock().ok().and_then(|mut f| f.take());
                return fail(e.unwrap_or_else(malformed));
            }
        }
    };
    if head.body_start > MAX_FIELDS + 1024 {
        return fail(s3_error(
            "MaxPostPreDataLengthExceeded",
            "Your POST request fields preceding the upload file were too large.",
            400,
        ));
    }
    let fields = head.fields;
    // Authentication: the signature over the policy. A form with no
    // signature fields at all is anonymous, and anonymous writes are
    // refused (no bucket here is public-write).
    let signed = [
        "x-amz-algorithm",
        "x-amz-credential",
        "AWSAccessKeyId",
        "policy",
    ]
    .iter()
    .any(|f| s3post::field(&fields, f).is_some());
    if !signed {
        return fail(s3_error("AccessDenied", "Access Denied", 403));
    }
    let auth = match sigv4::post::parse_post_auth(|n| s3post::field(&fields, n)) {
        Ok(a) => a,
        Err(sigv4::SigError::MalformedQueryAuth(m)) => {
            return fail(s3_error("InvalidArgument", &m, 400))
        }
        Err(e) => return fail(sig_error(info, &e)),
    };
    let Some(key) = app.credentials.lookup(&auth.credential.access_key_id) else {
        return fail(auth_error(info, AuthFailure::UnknownKey));
    };
    if key.status != ironsage_services::credentials::KeyStatus::Active {
        return fail(auth_error(info, AuthFailure::UnknownKey));
    }
    if let Err(e) = sigv4::post::verify_post(&auth, &key.secret_access_key) {
        return fail(sig_error(info, &e));
    }
    let now = time::OffsetDateTime::now_utc();
    if let Err(f) = check_session(&key, auth.security_token.as_deref(), now) {
        return fail(auth_error(info, f));
    }
    // The policy, then the upload as a PutObject.
    let policy = match s3post::check_policy(&auth.policy, &fields, &bucket, now) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let input = match s3post::put_input(&bucket, &fields, head.file_name.as_deref()) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let Some(service) = app.services.get(info.name).cloned() else {
        return fail(AwsError::not_implemented(info.service_id, "PutObject"));
    };
    let Some((model, op)) = ironsage_model::model(info.name)
        .and_then(|m| m.operations.get("PutObject").map(|op| (m, op)))
    else {
        return fail(s3_error(
            "InternalFailure",
            "the S3 model lacks PutObject",
            500,
        ));
    };
    // A SigV2 form names no region: the server's is the request's.
    let region = if auth.v2 {
        app.config.region.clone()
    } else {
        auth.credential.region.clone()
    };
    let caller = key.caller.clone();
    let ctx = Ctx {
        caller: &caller,
        region: &region,
        request_id: &request_id,
        now,
    };
    let targets = match service.targets(&ctx, "PutObject", &input) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let env = crate::authz::RequestEnv {
        source_ip: peer.ip(),
        arrival: parts.extensions.get::<crate::endpoints::Arrival>(),
        secure_transport: false,
        region: &region,
        now,
    };
    if let Err(e) = crate::authz::authorize(&app, info, &caller, &targets, &env, &request_id) {
        return fail(e);
    }
    let leftover = Bytes::copy_from_slice(buf.get(head.body_start..).unwrap_or_default());
    let file = form::PartReader::new(ChannelReader { rx, cur: leftover }, &boundary);
    let reader: BodyReader = Box::new(Bounded {
        inner: file,
        read: 0,
        range: policy.length_range,
        fault: Arc::clone(&fault),
    });
    let (rid, input_for_run) = (request_id.clone(), input.clone());
    let run = move || {
        let ctx = Ctx {
            caller: &caller,
            region: &region,
            request_id: &rid,
            now,
        };
        service.call_stream(&ctx, "PutObject", input_for_run, Some(reader))
    };
    let reply = match tokio::task::spawn_blocking(run).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let e = fault.lock().ok().and_then(|mut f| f.take()).unwrap_or(e);
            return fail(e);
        }
        Err(e) => {
            return fail(s3_error(
                "InternalFailure",
                &format!("handler failed: {e}"),
                500,
            ))
        }
    };
    let mut resp = wire::serialize_output(model, op, &reply.output, &request_id);
    let key_name = input["Key"].as_str().unwrap_or_default().to_string();
    let etag = reply.output["ETag"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let location = format!("http://{host}/{}/{}", enc(&bucket), enc(&key_name));
    resp.headers.push(("Location".into(), location.clone()));
    let redirect = s3post::field(&fields, "success_action_redirect")
        .or_else(|| s3post::field(&fields, "redirect"))
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    if let Some(url) = redirect {
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            enc(&bucket),
            enc(&key_name),
            enc(&etag)
        );
        resp.status = 303;
        resp.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("location"));
        resp.headers.push(("Location".into(), target));
        resp.body = Vec::new();
        return to_http(resp);
    }
    match s3post::field(&fields, "success_action_status") {
        Some("200") => resp.status = 200,
        Some("201") => {
            resp.status = 201;
            resp.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            resp.headers
                .push(("Content-Type".into(), "application/xml".into()));
            resp.body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                xml_escape(&location),
                xml_escape(&bucket),
                xml_escape(&key_name),
                xml_escape(&etag)
            )
            .into_bytes();
        }
        _ => resp.status = 204,
    }
    to_http(resp)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
