//! The streaming dispatch used by services whose payloads stream (S3).
//!
//! The request body is never collected for operations with a streaming input
//! payload (PutObject, UploadPart): an async pump reads the HTTP body,
//! decodes and verifies `aws-chunked` framing (chunk signatures, declared
//! payload hash), and feeds a bounded channel that the handler reads as a
//! blocking [`std::io::Read`] on tokio's blocking pool. A verification
//! failure surfaces as a read error, and the gateway answers with the precise
//! AWS error. Response payloads stream the same way in reverse.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ironsage_services::{AwsError, BodyReader, Ctx, Reply};
use ironsage_sigv4 as sigv4;
use ironsage_wire as wire;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::app::App;
use crate::gateway::{
    authenticate, prepare, to_http, with_body, Body, Classified, HttpResponse, Routed, MAX_BODY,
};

/// Chunks in flight between the socket and the handler (bounded memory:
/// at most `CHANNEL_DEPTH` x `REQUEST_CHUNK` bytes queued).
const CHANNEL_DEPTH: usize = 8;
/// Request body frames are coalesced up to this size before they cross to
/// the handler's thread: fewer hand-offs (each a wake-up) per byte.
const REQUEST_CHUNK: usize = 512 * 1024;
/// Size of response chunks read from a payload.
const READ_CHUNK: usize = 256 * 1024;
/// Bodies up to this size are collected before the handler runs (request)
/// or read in one go (response): no per-chunk hand-offs between threads.
const SMALL_BODY: u64 = 64 * 1024;

pub(crate) type Chunk = Result<Bytes, std::io::Error>;

/// A blocking reader over chunks sent by an async task.
pub(crate) struct ChannelReader {
    pub(crate) rx: mpsc::Receiver<Chunk>,
    pub(crate) cur: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        let head = self.cur.split_to(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(&head);
        }
        Ok(n)
    }
}

/// An HTTP body fed by a channel.
struct ChannelBody {
    rx: mpsc::Receiver<Chunk>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }
}

/// Reads a small payload whole (it is at most [`SMALL_BODY`] bytes, read
/// from the page cache) instead of streaming it from the blocking pool.
fn read_small(reply_body: ironsage_services::ResponseBody) -> Body {
    let len = usize::try_from(reply_body.length).unwrap_or(0);
    let mut buf = vec![0u8; len];
    let mut reader = reply_body.reader;
    match std::io::Read::read_exact(&mut reader, &mut buf) {
        Ok(()) => http_body_util::Full::new(Bytes::from(buf))
            .map_err(|never| match never {})
            .boxed(),
        Err(e) => {
            // The same failure a streamed body reports: the response ends
            // with an error rather than short.
            let (tx, rx) = mpsc::channel::<Chunk>(1);
            let _ = tx.try_send(Err(e));
            ChannelBody { rx }.boxed()
        }
    }
}

/// Streams a blocking reader out as an HTTP body.
fn stream_out(reply_body: ironsage_services::ResponseBody) -> Body {
    if reply_body.length <= SMALL_BODY {
        return read_small(reply_body);
    }
    let (tx, rx) = mpsc::channel::<Chunk>(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        let mut reader = reply_body.reader;
        let mut left = reply_body.length;
        while left > 0 {
            let want = usize::try_from(left.min(READ_CHUNK as u64)).unwrap_or(READ_CHUNK);
            let mut buf = vec![0u8; want];
            match std::io::Read::read(&mut reader, &mut buf) {
                Ok(0) => {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "object shorter than its recorded length",
                    )));
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return; // client went away
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    ChannelBody { rx }.boxed()
}

/// Where the pump records why the body was rejected.
pub(crate) type BodyFault = Arc<Mutex<Option<AwsError>>>;

fn io_error(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads the HTTP body, decodes/verifies it, and sends plaintext chunks.
async fn pump(
    mut body: Incoming,
    tx: mpsc::Sender<Chunk>,
    mode: sigv4::PayloadHash,
    mut decoder: Option<sigv4::ChunkedDecoder>,
    trailer: Option<String>,
    fault: BodyFault,
) {
    let mut hasher = matches!(mode, sigv4::PayloadHash::Hex(_)).then(Sha256::new);
    // A checksum announced in `x-amz-trailer` is verified here, before the
    // handler sees the end of the body, so a mismatch stores nothing.
    let mut trailer_sum = trailer.as_deref().and_then(TrailerSum::for_header);
    let fail = |err: AwsError| {
        if let Ok(mut f) = fault.lock() {
            *f = Some(err);
        }
    };
    let mut pending = BytesMut::new();
    loop {
        let frame = match body.frame().await {
            None => {
                if !pending.is_empty() && tx.send(Ok(pending.split().freeze())).await.is_err() {
                    return; // handler stopped reading
                }
                break;
            }
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                let _ = tx.send(Err(io_error(&format!("request body: {e}")))).await;
                return;
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let out = match decoder.as_mut() {
            Some(d) => {
                let mut out = Vec::with_capacity(data.len());
                if let Err(e) = d.feed(&data, &mut out) {
                    let (code, message, status) = e.aws_error(true);
                    fail(AwsError::new(code, message, status));
                    let _ = tx.send(Err(io_error("aws-chunked body rejected"))).await;
                    return;
                }
                Bytes::from(out)
            }
            None => data,
        };
        if let Some(h) = hasher.as_mut() {
            h.update(&out);
        }
        if let Some(t) = trailer_sum.as_mut() {
            t.update(&out);
        }
        if out.is_empty() {
            continue;
        }
        let chunk = if pending.is_empty() && out.len() >= REQUEST_CHUNK {
            out
        } else {
            pending.extend_from_slice(&out);
            if pending.len() < REQUEST_CHUNK {
                continue;
            }
            pending.split().freeze()
        };
        if tx.send(Ok(chunk)).await.is_err() {
            return; // handler stopped reading
        }
    }
    if let Some(d) = decoder {
        match d.finish() {
            Ok(trailers) => {
                if let Some(t) = trailer_sum {
                    if let Err(err) = t.check(&trailers) {
                        fail(err);
                        let _ = tx.send(Err(io_error("trailing checksum mismatch"))).await;
                        return;
                    }
                }
            }
            Err(e) => {
                let (code, message, status) = e.aws_error(true);
                fail(AwsError::new(code, message, status));
                let _ = tx.send(Err(io_error("aws-chunked body rejected"))).await;
                return;
            }
        }
    }
    if let (Some(h), sigv4::PayloadHash::Hex(declared)) = (hasher, &mode) {
        let computed = ironsage_services::s3::hash::hex(&h.finalize());
        if !computed.eq_ignore_ascii_case(declared) {
            fail(AwsError::new(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            ));
            let _ = tx.send(Err(io_error("payload hash mismatch"))).await;
        }
    }
}

/// Starts [`pump`] on the body; returns what it sends.
pub(crate) fn spawn_pump(
    body: Incoming,
    mode: sigv4::PayloadHash,
    decoder: Option<sigv4::ChunkedDecoder>,
    trailer: Option<String>,
    fault: &BodyFault,
) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel::<Chunk>(CHANNEL_DEPTH);
    tokio::spawn(pump(body, tx, mode, decoder, trailer, Arc::clone(fault)));
    rx
}

/// A trailing checksum being computed over the decoded body: the trailer's
/// header name (lower case), the algorithm's S3 name, the running sum.
struct TrailerSum {
    header: String,
    algo: String,
    sum: ironsage_services::s3::hash::Checksum,
}

impl TrailerSum {
    fn for_header(name: &str) -> Option<TrailerSum> {
        let header = name.trim().to_ascii_lowercase();
        let algo = header.strip_prefix("x-amz-checksum-")?.to_ascii_uppercase();
        let sum = ironsage_services::s3::hash::Checksum::for_algorithm(&algo)?;
        Some(TrailerSum { header, algo, sum })
    }

    fn update(&mut self, data: &[u8]) {
        self.sum.update(data);
    }

    fn check(self, trailers: &[(String, String)]) -> Result<(), AwsError> {
        use base64::Engine;
        let TrailerSum { header, algo, sum } = self;
        let computed = base64::engine::general_purpose::STANDARD.encode(sum.finish());
        let sent = trailers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&header))
            .map(|(_, v)| v.trim());
        match sent {
            Some(v) if v == computed => Ok(()),
            Some(_) => Err(AwsError::new(
                "BadDigest",
                format!("The {algo} you specified did not match the calculated checksum."),
                400,
            )),
            None => Err(AwsError::new(
                "InvalidRequest",
                format!("The request announced the trailer {header} but did not send it."),
                400,
            )),
        }
    }
}

/// A buffered request body (S3's XML configurations, DeleteObjects)
/// against the digests its headers declare: `Content-MD5` and any
/// `x-amz-checksum-<algorithm>`. (Object bodies are checked by the handler
/// as they stream; a checksum header the operation binds to an input
/// member, as CompleteMultipartUpload's whole-object checksum, describes
/// something else and is left to the handler.)
fn check_body_digests(
    headers: &http::HeaderMap,
    body: &[u8],
    op: Option<&ironsage_model::Operation>,
    model: Option<&ironsage_model::ServiceModel>,
) -> Result<(), AwsError> {
    use base64::Engine;
    use ironsage_services::s3::hash;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(sent) = headers.get("content-md5") {
        let sent = sent.to_str().ok().and_then(|v| b64.decode(v.trim()).ok());
        match sent {
            Some(raw) if raw.len() == 16 => {
                if raw != hash::md5(body) {
                    return Err(AwsError::new(
                        "BadDigest",
                        "The Content-MD5 you specified did not match what we received.",
                        400,
                    ));
                }
            }
            _ => {
                return Err(AwsError::new(
                    "InvalidDigest",
                    "The Content-MD5 you specified is not valid.",
                    400,
                ))
            }
        }
    }
    for &(_, algo) in hash::CHECKSUM_MEMBERS {
        let name = format!("x-amz-checksum-{}", algo.to_ascii_lowercase());
        let Some(sent) = headers.get(name.as_str()) else {
            continue;
        };
        let bound = op
            .and_then(|o| o.input.as_deref())
            .and_then(|i| model.and_then(|m| m.shape(i)))
            .is_some_and(|shape| {
                shape.members.values().any(|m| {
                    m.location == Some(ironsage_model::Location::Header)
                        && m.location_name
                            .as_deref()
                            .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                })
            });
        if bound {
            continue;
        }
        let Some(mut sum) = hash::Checksum::for_algorithm(algo) else {
            continue;
        };
        sum.update(body);
        let computed = b64.encode(sum.finish());
        if sent.to_str().ok().map(str::trim) != Some(computed.as_str()) {
            return Err(AwsError::new(
                "BadDigest",
                format!("The {algo} you specified did not match the calculated checksum."),
                400,
            ));
        }
    }
    Ok(())
}

/// The error answer when a buffered body fails [`check_body_digests`].
fn refuse_bad_digest(
    parts: &http::request::Parts,
    head: &Classified,
    routed: &Routed,
    body: &[u8],
    request_id: &str,
) -> Option<HttpResponse> {
    let model = ironsage_model::model(head.info.name);
    let e = check_body_digests(&parts.headers, body, routed.op, model).err()?;
    Some(to_http(wire::serialize_error(
        head.info,
        &e,
        request_id,
        head.is_head,
    )))
}

fn has_streaming_input(
    op: &ironsage_model::Operation,
    model: &ironsage_model::ServiceModel,
) -> bool {
    let Some(input) = op.input.as_deref().and_then(|n| model.shape(n)) else {
        return false;
    };
    let Some(payload) = input.payload.as_deref() else {
        return false;
    };
    // The streaming trait sits on the member (S3's `Body`) or on its shape.
    input
        .members
        .get(payload)
        .is_some_and(|m| m.streaming || model.shape(&m.shape).is_some_and(|s| s.streaming))
}

/// Whether the request's operation has a streaming input payload (resolved
/// from the head alone: the body decides nothing about routing).
fn streams_input(head: &Classified, routed: &Routed) -> bool {
    let Some(model) = ironsage_model::model(head.info.name) else {
        return false;
    };
    routed.op.is_some_and(|op| has_streaming_input(op, model))
}

/// A request's streaming payload as the handler gets it.
struct Payload {
    reader: Option<BodyReader>,
    /// The payload is small and already in memory: the handler need not
    /// leave the connection's thread.
    in_memory: bool,
}

/// Runs the handler on the blocking pool and shapes the answer.
async fn dispatch(
    app: Arc<App>,
    head: Classified,
    key: Arc<ironsage_services::credentials::AccessKey>,
    prepared: crate::gateway::Prepared,
    body: Payload,
    fault: BodyFault,
    request_id: String,
) -> HttpResponse {
    let Payload {
        reader: body,
        in_memory: small_body,
    } = body;
    let info = head.info;
    let is_head = head.is_head;
    let model = prepared.model;
    let op = prepared.op;
    let region = head.auth.credential.region.clone();
    let rid = request_id.clone();
    let run = move || {
        let ctx = Ctx {
            caller: &key.caller,
            region: &region,
            request_id: &rid,
            now: time::OffsetDateTime::now_utc(),
        };
        let _ = &app;
        prepared
            .service
            .call_stream(&ctx, &op.name, prepared.input, body)
    };
    // Reads only look up a row and open a file (the bytes stream later, from
    // the blocking pool when large), and a write whose body is already in
    // memory is one transaction: run them here, as the buffered services
    // run, rather than paying two thread hand-offs per request.
    let inline = small_body || matches!(op.name.as_str(), "GetObject" | "HeadObject");
    let result: Result<Reply, AwsError> = if inline {
        run()
    } else {
        match tokio::task::spawn_blocking(run).await {
            Ok(r) => r,
            Err(e) => Err(AwsError::new(
                "InternalFailure",
                format!("handler failed: {e}"),
                500,
            )),
        }
    };
    match result {
        Ok(reply) => {
            let mut resp = wire::serialize_output(model, op, &reply.output, &request_id);
            // A ranged read answers 206; the model has no status member for it.
            if resp.status == 200 && reply.output.get("ContentRange").is_some() {
                resp.status = 206;
            }
            match reply.body {
                Some(b) => {
                    resp.headers
                        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
                    resp.headers
                        .push(("Content-Length".to_string(), b.length.to_string()));
                    if is_head {
                        return with_body(resp, None);
                    }
                    with_body(resp, Some(stream_out(b)))
                }
                None => to_http(resp),
            }
        }
        Err(e) => {
            // A body the pump rejected explains the failure better than the
            // handler's read error.
            let e = fault.lock().ok().and_then(|mut f| f.take()).unwrap_or(e);
            // 304 Not Modified never carries a body.
            let no_body = is_head || e.status == 304;
            to_http(wire::serialize_error(info, &e, &request_id, no_body))
        }
    }
}

/// Reads a small body that has no `aws-chunked` framing and no trailer,
/// checking it against a declared hex payload hash.
async fn read_plain(body: Incoming, mode: &sigv4::PayloadHash) -> Result<Bytes, AwsError> {
    let limit = usize::try_from(SMALL_BODY).unwrap_or(usize::MAX);
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return Err(AwsError::new(
                "IncompleteBody",
                "The request body terminated unexpectedly",
                400,
            ))
        }
    };
    if let sigv4::PayloadHash::Hex(declared) = mode {
        let computed = ironsage_services::s3::hash::hex(&Sha256::digest(&bytes));
        if !computed.eq_ignore_ascii_case(declared) {
            return Err(AwsError::new(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            ));
        }
    }
    Ok(bytes)
}

/// Collects a (bounded) body from the pump; a rejected body answers the
/// pump's precise error.
async fn collect(
    rx: &mut mpsc::Receiver<Chunk>,
    fault: &BodyFault,
    head: &Classified,
    request_id: &str,
) -> Result<Vec<u8>, HttpResponse> {
    let mut buf = Vec::new();
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Ok(b) if buf.len() + b.len() <= MAX_BODY => buf.extend_from_slice(&b),
            Ok(_) => {
                let err =
                    AwsError::new("MaxMessageLengthExceeded", "Your request was too big.", 400);
                return Err(to_http(wire::serialize_error(
                    head.info,
                    &err,
                    request_id,
                    head.is_head,
                )));
            }
            Err(_) => {
                let err = fault
                    .lock()
                    .ok()
                    .and_then(|mut f| f.take())
                    .unwrap_or_else(|| {
                        AwsError::new(
                            "IncompleteBody",
                            "The request body terminated unexpectedly",
                            400,
                        )
                    });
                return Err(to_http(wire::serialize_error(
                    head.info,
                    &err,
                    request_id,
                    head.is_head,
                )));
            }
        }
    }
    Ok(buf)
}

/// Streaming services with a declared payload hash: the body is never
/// collected for streaming-input operations.
pub async fn handle_streaming(
    app: Arc<App>,
    parts: http::request::Parts,
    body: Incoming,
    head: Classified,
    peer: SocketAddr,
    request_id: String,
) -> HttpResponse {
    let authn = match authenticate(&app, &parts, &head, None, &request_id) {
        Ok(k) => k,
        Err(r) => return to_http(r),
    };
    let routed = Routed::from_head(&parts, head.info);
    let streams_input = streams_input(&head, &routed);
    let mode = head.auth.payload.clone();
    let chunked = matches!(
        mode,
        sigv4::PayloadHash::StreamingSigned
            | sigv4::PayloadHash::StreamingSignedTrailer
            | sigv4::PayloadHash::StreamingUnsignedTrailer
    );
    let decoded_len = parts
        .headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let decoder = chunked.then(|| {
        sigv4::ChunkedDecoder::new(
            mode.clone(),
            Some(authn.signing_key.clone()),
            &head.auth.signature,
            &head.auth.amz_date,
            &head.auth.scope(),
        )
        .with_decoded_content_length(decoded_len)
    });
    let trailer = parts
        .headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let fault: BodyFault = Arc::new(Mutex::new(None));
    if streams_input {
        let mut prepared = match prepare(
            &app,
            &parts,
            &head,
            &authn.key.caller,
            &[],
            peer,
            &request_id,
            Some(&routed),
        ) {
            Ok(p) => p,
            Err(r) => return to_http(r),
        };
        if chunked {
            // Content-Length counts the aws-chunked framing; the object's
            // length is the decoded one.
            if let Some(obj) = prepared.input.as_object_mut() {
                match decoded_len {
                    Some(n) => obj.insert("ContentLength".to_string(), serde_json::json!(n)),
                    None => obj.remove("ContentLength"),
                };
            }
        }
        // The object's declared length (decoded, for aws-chunked).
        let declared = if chunked {
            decoded_len
        } else {
            parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        let small_body = declared.is_some_and(|n| n <= SMALL_BODY);
        if small_body && decoder.is_none() && trailer.is_none() {
            // Small and unframed: read here, without a pump task.
            let reader: BodyReader = match read_plain(body, &mode).await {
                Ok(b) => Box::new(std::io::Cursor::new(b)),
                Err(e) => {
                    return to_http(wire::serialize_error(
                        head.info,
                        &e,
                        &request_id,
                        head.is_head,
                    ))
                }
            };
            let payload = Payload {
                reader: Some(reader),
                in_memory: true,
            };
            return dispatch(app, head, authn.key, prepared, payload, fault, request_id).await;
        }
        let mut rx = spawn_pump(body, mode, decoder, trailer, &fault);
        let reader: BodyReader = if small_body {
            // A small body is received and verified whole before the
            // handler starts (a lying Content-Length is caught by hyper and
            // by the handler's length check, as for a streamed body).
            match collect(&mut rx, &fault, &head, &request_id).await {
                Ok(b) => Box::new(std::io::Cursor::new(b)),
                Err(r) => return r,
            }
        } else {
            Box::new(ChannelReader {
                rx,
                cur: Bytes::new(),
            })
        };
        return dispatch(
            app,
            head,
            authn.key,
            prepared,
            Payload {
                reader: Some(reader),
                in_memory: small_body,
            },
            fault,
            request_id,
        )
        .await;
    }
    // No body at all (GET, HEAD, DELETE), signed as empty or unsigned:
    // nothing to pump.
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let empty = http_body::Body::is_end_stream(&body)
        && decoder.is_none()
        && trailer.is_none()
        && match &mode {
            sigv4::PayloadHash::Hex(h) => h.eq_ignore_ascii_case(EMPTY_SHA256),
            _ => true,
        };
    // A small body (XML configuration, DeleteObjects): collect it through
    // the same decoder, bounded.
    let buf = if empty {
        Vec::new()
    } else {
        let mut rx = spawn_pump(body, mode, decoder, trailer, &fault);
        match collect(&mut rx, &fault, &head, &request_id).await {
            Ok(b) => b,
            Err(r) => return r,
        }
    };
    if let Some(r) = refuse_bad_digest(&parts, &head, &routed, &buf, &request_id) {
        return r;
    }
    let prepared = match prepare(
        &app,
        &parts,
        &head,
        &authn.key.caller,
        &buf,
        peer,
        &request_id,
        Some(&routed),
    ) {
        Ok(p) => p,
        Err(r) => return to_http(r),
    };
    // Not run inline: CopyObject / UploadPartCopy copy whole objects.
    let none = Payload {
        reader: None,
        in_memory: false,
    };
    dispatch(app, head, authn.key, prepared, none, fault, request_id).await
}

/// Streaming services whose client declared no payload hash: the body was
/// buffered (bounded) and hashed for the signature.
pub async fn handle_buffered_streaming(
    app: Arc<App>,
    parts: http::request::Parts,
    body: Bytes,
    head: Classified,
    peer: SocketAddr,
    request_id: String,
) -> HttpResponse {
    let authn = match authenticate(&app, &parts, &head, Some(&body), &request_id) {
        Ok(k) => k,
        Err(r) => return to_http(r),
    };
    let routed = Routed::from_head(&parts, head.info);
    let streaming = streams_input(&head, &routed);
    let parse_body: &[u8] = if streaming { &[] } else { &body };
    if !streaming {
        if let Some(r) = refuse_bad_digest(&parts, &head, &routed, &body, &request_id) {
            return r;
        }
    }
    let prepared = match prepare(
        &app,
        &parts,
        &head,
        &authn.key.caller,
        parse_body,
        peer,
        &request_id,
        Some(&routed),
    ) {
        Ok(p) => p,
        Err(r) => return to_http(r),
    };
    let fault: BodyFault = Arc::new(Mutex::new(None));
    let small_body = streaming && body.len() as u64 <= SMALL_BODY;
    let reader: Option<BodyReader> =
        streaming.then(|| Box::new(std::io::Cursor::new(body)) as BodyReader);
    let payload = Payload {
        reader,
        in_memory: small_body,
    };
    dispatch(app, head, authn.key, prepared, payload, fault, request_id).await
}

#[cfg(test)]
mod tests {
    use super::check_body_digests;

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn buffered_bodies_match_their_declared_digests() {
        let body = b"<Tagging><TagSet/></Tagging>";
        let model = ironsage_model::model("s3").unwrap();
        let op = |name: &str| model.operations.get(name);
        let md5 = "XUFAKrxLKna5cZ2REBfFkg=="; // MD5 of "hello", not of the body
        let e = check_body_digests(&headers(&[("content-md5", md5)]), body, None, None);
        assert_eq!(e.unwrap_err().code, "BadDigest");
        let e = check_body_digests(&headers(&[("content-md5", "zz")]), body, None, None);
        assert_eq!(e.unwrap_err().code, "InvalidDigest");
        let crc = {
            use base64::Engine;
            let mut c = ironsage_services::s3::hash::Checksum::for_algorithm("CRC32").unwrap();
            c.update(body);
            base64::engine::general_purpose::STANDARD.encode(c.finish())
        };
        let good = headers(&[("x-amz-checksum-crc32", &crc)]);
        assert!(check_body_digests(&good, body, op("PutBucketTagging"), Some(model)).is_ok());
        let bad = headers(&[("x-amz-checksum-crc32", "AAAAAA==")]);
        let e = check_body_digests(&bad, body, op("PutBucketTagging"), Some(model));
        assert_eq!(e.unwrap_err().code, "BadDigest");
        // CompleteMultipartUpload binds the header to the object's checksum.
        assert!(check_body_digests(&bad, body, op("CompleteMultipartUpload"), Some(model)).is_ok());
    }
}
