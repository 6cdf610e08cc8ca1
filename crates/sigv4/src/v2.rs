//! S3's legacy signature, Signature Version 2 (HMAC-SHA1), as the S3
//! documentation's "Signing and authenticating REST requests" defines it.
//!
//! Still what boto3 and botocore use by default for `generate_presigned_url`
//! against S3 in us-east-1 (`?AWSAccessKeyId=…&Signature=…&Expires=…`), and
//! what older tools send as `Authorization: AWS AKID:signature`. Verified as
//! strictly as SigV4: the signature over the method, `Content-MD5`,
//! `Content-Type`, the date or expiry, every `x-amz-*` header and the
//! resource with its sub-resources; expiry and clock skew enforced.
//!
//! `StringToSign = VERB \n Content-MD5 \n Content-Type \n Date|Expires \n
//! CanonicalizedAmzHeaders CanonicalizedResource`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::canonical::percent_decode;
use crate::{
    format_amz_date, AuthLocation, Credential, ParsedAuth, PayloadHash, SigError, SignedRequest,
};

/// The parameters only SigV2 has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Params {
    /// Query authentication: the `Expires` instant (seconds since the epoch).
    pub expires: Option<i64>,
    /// Header authentication: the date line as signed (`Date`, or empty when
    /// `x-amz-date` is sent).
    pub date_line: String,
}

/// Sub-resources that are part of the signed resource (S3's list, as the
/// SDKs sign them).
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "encryption",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// How far a header-signed request's date may be from the server's clock.
const MAX_SKEW_SECS: i64 = 15 * 60;

fn header<'a>(req: &'a SignedRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_param(raw_query: &str, name: &str) -> Option<String> {
    raw_query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| String::from_utf8_lossy(&percent_decode(v)).into_owned())
    })
}

/// Whether the query carries SigV2 presigning parameters.
pub(crate) fn query_present(raw_query: &str) -> bool {
    raw_query.split('&').any(|pair| {
        let k = pair.split_once('=').map_or(pair, |(k, _)| k);
        k == "AWSAccessKeyId" || k == "Signature"
    })
}

fn auth(
    location: AuthLocation,
    access_key_id: String,
    signature: String,
    request_time: time::OffsetDateTime,
    security_token: Option<String>,
    v2: V2Params,
) -> ParsedAuth {
    let amz_date = format_amz_date(request_time);
    ParsedAuth {
        location,
        credential: Credential {
            access_key_id,
            date: amz_date.get(..8).unwrap_or_default().to_string(),
            // SigV2 names no region: the server's own applies.
            region: String::new(),
            service: "s3".into(),
        },
        signed_headers: Vec::new(),
        signature,
        request_time,
        amz_date,
        expires_secs: None,
        security_token,
        payload: PayloadHash::Unsigned,
        v2: Some(v2),
    }
}

/// `Authorization: AWS AKID:signature`.
pub(crate) fn parse_header(req: &SignedRequest, value: &str) -> Result<ParsedAuth, SigError> {
    let rest = value.trim().strip_prefix("AWS ").unwrap_or_default();
    let (akid, sig) = rest
        .split_once(':')
        .filter(|(a, s)| !a.is_empty() && !s.is_empty())
        .ok_or_else(|| SigError::MalformedAuthorization(value.to_string()))?;
    // With x-amz-date the Date line is signed empty (and Date is ignored).
    let (date_line, when) = match header(req, "x-amz-date") {
        Some(d) => (String::new(), d),
        None => {
            let d = header(req, "date").ok_or(SigError::MissingDate)?;
            (d.to_string(), d)
        }
    };
    let time = parse_http_date(when).ok_or_else(|| SigError::InvalidDate(when.to_string()))?;
    Ok(auth(
        AuthLocation::Header,
        akid.to_string(),
        sig.trim().to_string(),
        time,
        header(req, "x-amz-security-token").map(str::to_string),
        V2Params {
            expires: None,
            date_line,
        },
    ))
}

/// `?AWSAccessKeyId=…&Signature=…&Expires=…`.
pub(crate) fn parse_query(req: &SignedRequest) -> Result<ParsedAuth, SigError> {
    let need = |name: &str| {
        query_param(req.raw_query, name).filter(|v| !v.is_empty()).ok_or_else(|| {
            SigError::MalformedQueryAuth(format!(
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters ('{name}' is missing)"
            ))
        })
    };
    let akid = need("AWSAccessKeyId")?;
    let signature = need("Signature")?;
    let expires_raw = need("Expires")?;
    let expires: i64 = expires_raw
        .parse()
        .map_err(|_| SigError::InvalidExpires(expires_raw.clone()))?;
    let time = time::OffsetDateTime::from_unix_timestamp(expires)
        .map_err(|_| SigError::InvalidExpires(expires_raw))?;
    Ok(auth(
        AuthLocation::Query,
        akid,
        signature,
        time,
        query_param(req.raw_query, "x-amz-security-token")
            .or_else(|| header(req, "x-amz-security-token").map(str::to_string)),
        V2Params {
            expires: Some(expires),
            date_line: String::new(),
        },
    ))
}

/// An RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`), or the ISO 8601
/// basic form `x-amz-date` may carry.
fn parse_http_date(s: &str) -> Option<time::OffsetDateTime> {
    if let Ok(t) = crate::parse_amz_date(s) {
        return Some(t);
    }
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    // `GMT`, or the numeric zone `+0000` some clients write.
    let s = s.trim();
    let s = s
        .strip_suffix(" +0000")
        .map_or(s.to_string(), |b| format!("{b} GMT"));
    time::PrimitiveDateTime::parse(&s, &fmt)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The string a SigV2 signature covers. `virtual_bucket`: the bucket a
/// virtual-host-style request names in its Host header (the resource then
/// starts with `/bucket`).
pub fn string_to_sign(req: &SignedRequest, v2: &V2Params, virtual_bucket: Option<&str>) -> String {
    string_to_sign_with(req, v2, virtual_bucket, false)
}

/// [`string_to_sign`]; `bucket_slash`: a bucket-level resource written
/// `/bucket/` rather than `/bucket` (botocore signs the former).
fn string_to_sign_with(
    req: &SignedRequest,
    v2: &V2Params,
    virtual_bucket: Option<&str>,
    bucket_slash: bool,
) -> String {
    let q = |name: &str| query_param(req.raw_query, name);
    // Presigned: content headers and x-amz-* ride in the query (botocore
    // moves them there), else the request's own headers.
    let from = |name: &str| {
        if v2.expires.is_some() {
            q(name).or_else(|| header(req, name).map(str::to_string))
        } else {
            header(req, name).map(str::to_string)
        }
    };
    let mut s = String::with_capacity(256);
    s.push_str(req.method);
    s.push('\n');
    s.push_str(from("content-md5").as_deref().unwrap_or("").trim());
    s.push('\n');
    s.push_str(from("content-type").as_deref().unwrap_or("").trim());
    s.push('\n');
    match v2.expires {
        Some(e) => s.push_str(&e.to_string()),
        None => s.push_str(&v2.date_line),
    }
    s.push('\n');
    let mut amz: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in req.headers {
        let n = name.as_str();
        if n.starts_with("x-amz-") {
            let v = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
            amz.entry(n.to_string()).or_default().push(v);
        }
    }
    if v2.expires.is_some() {
        for pair in req.raw_query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = String::from_utf8_lossy(&percent_decode(k)).to_ascii_lowercase();
            if k.starts_with("x-amz-") {
                let v = String::from_utf8_lossy(&percent_decode(v))
                    .trim()
                    .to_string();
                amz.insert(k, vec![v]);
            }
        }
    }
    for (k, vs) in &amz {
        s.push_str(k);
        s.push(':');
        s.push_str(&vs.join(","));
        s.push('\n');
    }
    if let Some(b) = virtual_bucket {
        s.push('/');
        s.push_str(b);
    }
    s.push_str(req.raw_path);
    if bucket_slash {
        s.push('/');
    }
    let mut subs: Vec<(String, Option<String>)> = req
        .raw_query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = match pair.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (pair, None),
            };
            SUBRESOURCES.contains(&k).then(|| {
                (
                    k.to_string(),
                    v.map(|v| String::from_utf8_lossy(&percent_decode(v)).into_owned()),
                )
            })
        })
        .collect();
    subs.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        if let Some(v) = v {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

/// Verifies a SigV2 request: expiry (query) or clock skew (header), then
/// the HMAC-SHA1 signature, compared in constant time.
pub fn verify(
    req: &SignedRequest,
    auth: &ParsedAuth,
    secret_access_key: &str,
    virtual_bucket: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<(), SigError> {
    let Some(v2) = &auth.v2 else {
        return Err(SigError::MissingAuthentication);
    };
    match v2.expires {
        Some(e) if now.unix_timestamp() > e => {
            return Err(SigError::PresignedExpired {
                expiry: auth.amz_date.clone(),
                server_time: format_amz_date(now),
            })
        }
        Some(_) => {}
        None => {
            let skew = (now - auth.request_time).whole_seconds();
            if skew.abs() > MAX_SKEW_SECS {
                return Err(SigError::RequestTimeTooSkewed {
                    amz_date: auth.amz_date.clone(),
                    server_time: format_amz_date(now),
                    expired: skew > 0,
                });
            }
        }
    }
    let sign = |sts: &str| -> Result<bool, SigError> {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret_access_key.as_bytes())
            .map_err(|_| SigError::MissingAuthentication)?;
        mac.update(sts.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Ok(bool::from(
            expected.as_bytes().ct_eq(auth.signature.as_bytes()),
        ))
    };
    let sts = string_to_sign_with(req, v2, virtual_bucket, false);
    if sign(&sts)? {
        return Ok(());
    }
    // A bucket-level path-style request (`/bucket`): S3's documentation
    // signs `/bucket`, botocore signs `/bucket/`; both are accepted.
    let bucket_only = virtual_bucket.is_none()
        && req
            .raw_path
            .get(1..)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
    if bucket_only && sign(&string_to_sign_with(req, v2, None, true))? {
        return Ok(());
    }
    Err(SigError::SignatureDoesNotMatch {
        canonical_request: String::new(),
        string_to_sign: sts,
    })
}
