//! Server-side AWS Signature Version 4 verification.
//!
//! * [`parse_auth`] extracts the SigV4 parameters from a request (`Authorization` header or
//!   presigned query string).
//! * [`verify`] recomputes the canonical request and signature and compares them in constant
//!   time, after checking clock skew / presigned expiry and the credential scope.
//! * [`ChunkedDecoder`] decodes and verifies `Content-Encoding: aws-chunked` bodies
//!   incrementally.
//!
//! Nothing in here looks up keys: the caller maps `credential.access_key_id` to a secret
//! (and decides `InvalidAccessKeyId` / `InvalidClientTokenId` itself).

#![forbid(unsafe_code)]

mod canonical;
mod chunked;
mod crypto;
mod error;
mod parse;
pub mod post;
mod v2;

pub use canonical::{canonical_request, canonical_uri, string_to_sign};
pub use chunked::ChunkedDecoder;
pub use crypto::{hex_sha256, hmac_sha256};
pub use error::{ErrorFamily, SigError};
pub use parse::parse_auth;
pub use v2::{string_to_sign as v2_string_to_sign, verify as verify_v2, V2Params};

use subtle::ConstantTimeEq;

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// Path as received on the wire (percent-encoded), without the query.
    pub raw_path: &'a str,
    /// Query string as received, without the leading `?` (empty if none).
    pub raw_query: &'a str,
    /// Request headers. Must include `host` (HTTP/1.1 `Host`; for HTTP/2 insert `:authority`).
    pub headers: &'a http::HeaderMap,
}

/// `AKID/YYYYMMDD/region/service/aws4_request`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Access key id.
    pub access_key_id: String,
    /// Scope date, `YYYYMMDD`.
    pub date: String,
    /// Scope region.
    pub region: String,
    /// Scope service.
    pub service: String,
}

impl Credential {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// `Authorization` header.
    Header,
    /// Presigned URL (`X-Amz-*` query parameters).
    Query,
}

/// What `x-amz-content-sha256` declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// A hex SHA-256 of the body (lowercased).
    Hex(String),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    StreamingUnsignedTrailer,
    /// No `x-amz-content-sha256` header: the caller must hash the body.
    Absent,
}

/// Literal header values for the non-hex payload modes.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// sha256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

impl PayloadHash {
    /// Parse an `x-amz-content-sha256` value.
    pub fn from_header(value: &str) -> Result<Self, SigError> {
        Ok(match value {
            UNSIGNED_PAYLOAD => PayloadHash::Unsigned,
            STREAMING_SIGNED => PayloadHash::StreamingSigned,
            STREAMING_SIGNED_TRAILER => PayloadHash::StreamingSignedTrailer,
            STREAMING_UNSIGNED_TRAILER => PayloadHash::StreamingUnsignedTrailer,
            v if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
                PayloadHash::Hex(v.to_ascii_lowercase())
            }
            v => return Err(SigError::InvalidContentSha256(v.to_string())),
        })
    }

    /// The literal string that goes into the canonical request, if it is known without
    /// hashing the body (`None` only for [`PayloadHash::Absent`]).
    pub fn literal(&self) -> Option<&str> {
        match self {
            PayloadHash::Hex(h) => Some(h),
            PayloadHash::Unsigned => Some(UNSIGNED_PAYLOAD),
            PayloadHash::StreamingSigned => Some(STREAMING_SIGNED),
            PayloadHash::StreamingSignedTrailer => Some(STREAMING_SIGNED_TRAILER),
            PayloadHash::StreamingUnsignedTrailer => Some(STREAMING_UNSIGNED_TRAILER),
            PayloadHash::Absent => None,
        }
    }

    /// True for the three `aws-chunked` streaming modes.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            PayloadHash::StreamingSigned
                | PayloadHash::StreamingSignedTrailer
                | PayloadHash::StreamingUnsignedTrailer
        )
    }
}

/// Result of [`parse_auth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    /// Header or presigned query.
    pub location: AuthLocation,
    /// Parsed credential scope.
    pub credential: Credential,
    /// SignedHeaders, lowercased, in the order given.
    pub signed_headers: Vec<String>,
    /// The client's signature (as given).
    pub signature: String,
    /// Request time (from X-Amz-Date header/param, or the Date header).
    pub request_time: time::OffsetDateTime,
    /// Request time as `YYYYMMDDTHHMMSSZ` (as used in the string to sign).
    pub amz_date: String,
    /// `X-Amz-Expires` for presigned requests.
    pub expires_secs: Option<u64>,
    /// `X-Amz-Security-Token` (header or query).
    pub security_token: Option<String>,
    /// Declared payload hash mode.
    pub payload: PayloadHash,
    /// Set when the request is signed with S3's legacy Signature Version 2
    /// (verify it with [`verify_v2`], not [`verify`]).
    pub v2: Option<V2Params>,
}

impl ParsedAuth {
    /// The payload hash to pass to [`verify`] when it is known without hashing the body.
    /// Returns `None` when the caller must pass `hex_sha256(body)`. For S3 presigned URLs
    /// without `x-amz-content-sha256` this is `UNSIGNED-PAYLOAD`, as S3 signs them.
    pub fn payload_hash_for(&self, s3: bool) -> Option<String> {
        match (&self.payload, self.location) {
            (PayloadHash::Absent, AuthLocation::Query) if s3 => Some(UNSIGNED_PAYLOAD.into()),
            (p, _) => p.literal().map(str::to_string),
        }
    }

    /// The credential scope `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        self.credential.scope()
    }
}

/// How the canonical URI is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriEncoding {
    /// Non-S3: remove dot segments and empty segments, then URI-encode the received
    /// (already encoded) path again — the "double encoding" botocore and the SDKs do.
    Normalized,
    /// S3: no normalization; the path is encoded exactly once.
    S3,
}

/// Derived `kSigning` key together with its credential scope.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    key: [u8; 32],
    scope: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The raw `kSigning` bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Hex HMAC-SHA256 of `string_to_sign` under this key.
    pub fn sign(&self, string_to_sign: &[u8]) -> String {
        crypto::hex(&hmac_sha256(&self.key, string_to_sign))
    }

    /// Constant-time check that `signature` is the signature of `string_to_sign`.
    pub fn verify_signature(&self, string_to_sign: &[u8], signature: &str) -> bool {
        let expected = self.sign(string_to_sign);
        bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
    }
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let mut k_secret = Vec::with_capacity(secret.len() + 4);
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac_sha256(&k_secret, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    let key = hmac_sha256(&k_service, b"aws4_request");
    SigningKey {
        key,
        scope: format!("{date}/{region}/{service}/aws4_request"),
    }
}

/// Signing keys derived recently on this thread: a key is valid for a whole
/// day, and one caller sends many requests with the same scope, so the four
/// chained HMACs run once per (secret, scope) rather than per request.
const KEY_CACHE_MAX: usize = 64;

/// Cached keys, most recently derived last: (secret, date, region, service,
/// key). A lookup compares in place, allocating nothing.
type KeyCache = Vec<(String, String, String, String, SigningKey)>;

thread_local! {
    static KEY_CACHE: std::cell::RefCell<KeyCache> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// [`derive_signing_key`], from this thread's cache when it derived the same
/// key recently.
pub fn cached_signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let hit = KEY_CACHE.with(|c| {
        c.borrow()
            .iter()
            .rev()
            .find(|(s, d, r, v, _)| d == date && r == region && v == service && s == secret)
            .map(|e| e.4.clone())
    });
    if let Some(hit) = hit {
        return hit;
    }
    let key = derive_signing_key(secret, date, region, service);
    KEY_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= KEY_CACHE_MAX {
            c.remove(0);
        }
        c.push((
            secret.to_string(),
            date.to_string(),
            region.to_string(),
            service.to_string(),
            key.clone(),
        ));
    });
    key
}

/// Maximum `X-Amz-Expires` (one week).
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// Verify a parsed request. `payload_hash_hex` is what goes into the canonical request's last
/// line: for [`PayloadHash::Hex`] that value, for [`PayloadHash::Absent`] `hex_sha256(body)`
/// (or `UNSIGNED-PAYLOAD` for an S3 presigned URL, see [`ParsedAuth::payload_hash_for`]), for
/// the other modes the literal header value.
///
/// This does **not** check that the body hashes to a declared `x-amz-content-sha256`; the
/// caller does that once it has read the body ([`SigError::ContentSha256Mismatch`]).
///
/// On success returns the signing key (for [`ChunkedDecoder`]).
pub fn verify(
    req: &SignedRequest,
    auth: &ParsedAuth,
    secret_access_key: &str,
    payload_hash_hex: &str,
    now: time::OffsetDateTime,
    enc: UriEncoding,
) -> Result<SigningKey, SigError> {
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigError::HostNotSigned);
    }
    if auth.amz_date.get(..8) != Some(auth.credential.date.as_str()) {
        return Err(SigError::CredentialDateMismatch {
            credential_date: auth.credential.date.clone(),
            amz_date: auth.amz_date.clone(),
        });
    }
    check_time(auth, now)?;

    let key = cached_signing_key(
        secret_access_key,
        &auth.credential.date,
        &auth.credential.region,
        &auth.credential.service,
    );
    let scope = key.scope();
    let creq = canonical::canonical_request_with(req, auth, payload_hash_hex, enc, false)?;
    let sts = string_to_sign(&auth.amz_date, scope, &creq);
    if key.verify_signature(sts.as_bytes(), &auth.signature) {
        return Ok(key);
    }
    if auth.location == AuthLocation::Query && auth.security_token.is_some() {
        // Some signers append X-Amz-Security-Token after computing the presigned signature.
        let creq2 = canonical::canonical_request_with(req, auth, payload_hash_hex, enc, true)?;
        let sts2 = string_to_sign(&auth.amz_date, scope, &creq2);
        if key.verify_signature(sts2.as_bytes(), &auth.signature) {
            return Ok(key);
        }
    }
    Err(SigError::SignatureDoesNotMatch {
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        string_to_sign: sts,
    })
}

fn check_time(auth: &ParsedAuth, now: time::OffsetDateTime) -> Result<(), SigError> {
    let skew = time::Duration::seconds(error::SKEW_SECS);
    let server_time = || format_amz_date(now);
    // `None` means the bound is outside the representable range, i.e. nothing can cross it.
    let too_old =
        |bound: Option<time::OffsetDateTime>| bound.is_some_and(|b| auth.request_time < b);
    let too_new = now.checked_add(skew).is_some_and(|b| auth.request_time > b);
    match auth.location {
        AuthLocation::Header => {
            if too_old(now.checked_sub(skew)) || too_new {
                return Err(SigError::RequestTimeTooSkewed {
                    amz_date: auth.amz_date.clone(),
                    server_time: server_time(),
                    expired: auth.request_time < now,
                });
            }
        }
        AuthLocation::Query => {
            if too_new {
                return Err(SigError::PresignedNotYetValid {
                    amz_date: auth.amz_date.clone(),
                    server_time: server_time(),
                });
            }
            let window = match auth.expires_secs {
                Some(exp) if exp > MAX_EXPIRES_SECS => {
                    return Err(SigError::InvalidExpires(exp.to_string()));
                }
                Some(exp) => time::Duration::seconds(i64::try_from(exp).unwrap_or(0)),
                None => skew,
            };
            if let Some(expiry) = auth.request_time.checked_add(window) {
                if now > expiry {
                    return Err(SigError::PresignedExpired {
                        expiry: format_amz_date(expiry),
                        server_time: server_time(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Check that a body hashes to the declared hex hash (`x-amz-content-sha256`).
pub fn check_content_sha256(declared_hex: &str, body: &[u8]) -> Result<(), SigError> {
    let computed = hex_sha256(body);
    if bool::from(
        computed
            .as_bytes()
            .ct_eq(declared_hex.to_ascii_lowercase().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(SigError::ContentSha256Mismatch {
            client: declared_hex.to_string(),
            computed,
        })
    }
}

/// Parse `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Result<time::OffsetDateTime, SigError> {
    let bad = || SigError::InvalidDate(s.to_string());
    let b = s.as_bytes();
    if b.len() != 16
        || b.get(8) != Some(&b'T')
        || b.get(15) != Some(&b'Z')
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 8 || i == 15 || c.is_ascii_digit())
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, SigError> {
        s.get(r).and_then(|x| x.parse::<u32>().ok()).ok_or_else(bad)
    };
    let year = i32::try_from(num(0..4)?).map_err(|_| bad())?;
    let month = u8::try_from(num(4..6)?)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = u8::try_from(num(6..8)?).map_err(|_| bad())?;
    let hour = u8::try_from(num(9..11)?).map_err(|_| bad())?;
    let minute = u8::try_from(num(11..13)?).map_err(|_| bad())?;
    let second = u8::try_from(num(13..15)?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    let t = time::Time::from_hms(hour, minute, second).map_err(|_| bad())?;
    Ok(time::PrimitiveDateTime::new(date, t).assume_utc())
}

/// Format as `YYYYMMDDTHHMMSSZ` (UTC).
pub fn format_amz_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Feed arbitrary bytes to every parser (for fuzzing): as an `Authorization` header, as a
/// query string, as a path, and as aws-chunked bodies in all three modes. Never panics.
pub fn fuzz_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::HOST, http::HeaderValue::from_static("h"));
    headers.insert(
        "x-amz-date",
        http::HeaderValue::from_static("20150830T123600Z"),
    );
    if let Ok(v) = http::HeaderValue::from_bytes(data) {
        headers.insert(http::header::AUTHORIZATION, v.clone());
        headers.insert("x-amz-content-sha256", v);
    }
    let req = SignedRequest {
        method: "GET",
        raw_path: &text,
        raw_query: "",
        headers: &headers,
    };
    if let Ok(Some(auth)) = parse_auth(&req) {
        let _ = verify(
            &req,
            &auth,
            "secret",
            EMPTY_SHA256,
            auth.request_time,
            UriEncoding::Normalized,
        );
    }
    let empty = http::HeaderMap::new();
    let qreq = SignedRequest {
        method: "GET",
        raw_path: &text,
        raw_query: &text,
        headers: &empty,
    };
    if let Ok(Some(auth)) = parse_auth(&qreq) {
        let _ = verify(
            &qreq,
            &auth,
            "secret",
            EMPTY_SHA256,
            auth.request_time,
            UriEncoding::S3,
        );
    }
    let _ = canonical_uri(&text, UriEncoding::Normalized);
    let _ = canonical_uri(&text, UriEncoding::S3);
    for mode in [
        PayloadHash::StreamingSigned,
        PayloadHash::StreamingSignedTrailer,
        PayloadHash::StreamingUnsignedTrailer,
    ] {
        let key = derive_signing_key("secret", "20150830", "us-east-1", "s3");
        assert!(cached_signing_key("secret", "20150830", "us-east-1", "s3") == key);
        assert!(cached_signing_key("secret", "20150830", "us-east-1", "s3") == key);
        assert!(cached_signing_key("other", "20150830", "us-east-1", "s3") != key);
        assert!(cached_signing_key("secret", "20150831", "us-east-1", "s3") != key);
        let scope = key.scope().to_string();
        let mut dec = ChunkedDecoder::new(mode, Some(key), "seed", "20150830T123600Z", &scope)
            .with_decoded_content_length(Some(16));
        let mut out = Vec::new();
        let (a, b) = data.split_at(data.len() / 2);
        if dec.feed(a, &mut out).is_ok() && dec.feed(b, &mut out).is_ok() {
            let _ = dec.finish();
        }
    }
}
