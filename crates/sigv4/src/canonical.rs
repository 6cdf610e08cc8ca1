//! Canonical request construction.

use crate::{crypto::hex_sha256, AuthLocation, ParsedAuth, SigError, SignedRequest, UriEncoding};

/// RFC 3986 unreserved characters are left alone; everything else is `%XX` (uppercase).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn push_encoded(out: &mut String, b: u8, keep_slash: bool) {
    if is_unreserved(b) || (keep_slash && b == b'/') {
        out.push(char::from(b));
    } else {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        out.push('%');
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// URI-encode every byte of `s` (AWS `UriEncode`), optionally leaving `/` alone.
pub(crate) fn uri_encode(s: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s {
        push_encoded(&mut out, b, keep_slash);
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode `%XX` escapes (invalid escapes are kept literally; `+` is not a space).
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Remove `.`/`..` and empty segments, keeping a leading and (if present) trailing slash.
fn normalize_path(path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segs.join("/"));
    if path.ends_with('/') && !segs.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI for `raw_path` (as received, percent-encoded).
pub fn canonical_uri(raw_path: &str, enc: UriEncoding) -> String {
    match enc {
        UriEncoding::Normalized => {
            // The received path is already encoded once; encoding it again is the
            // "double encoding" every non-S3 signer applies.
            uri_encode(normalize_path(raw_path).as_bytes(), true)
        }
        UriEncoding::S3 => {
            if raw_path.is_empty() {
                return "/".to_string();
            }
            // Re-encode exactly once: decode escapes (an escaped `/` stays escaped), and
            // encode anything the client left raw.
            let b = raw_path.as_bytes();
            let mut out = String::with_capacity(b.len() * 3);
            let mut i = 0;
            while let Some(&c) = b.get(i) {
                if c == b'%' {
                    if let (Some(h), Some(l)) = (
                        b.get(i + 1).copied().and_then(hex_val),
                        b.get(i + 2).copied().and_then(hex_val),
                    ) {
                        push_encoded(&mut out, h << 4 | l, false);
                        i += 3;
                        continue;
                    }
                }
                push_encoded(&mut out, c, true);
                i += 1;
            }
            out
        }
    }
}

/// The canonical query string; `exclude_signature` drops `X-Amz-Signature` (presigned).
pub(crate) fn canonical_query(raw_query: &str, exclude: &[&[u8]]) -> String {
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let k = percent_decode(k);
            if exclude.contains(&k.as_slice()) {
                return None;
            }
            Some((uri_encode(&k, false), uri_encode(&percent_decode(v), false)))
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trim, and collapse runs of spaces/tabs to a single space.
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

/// Build the canonical request bytes for a parsed request.
pub fn canonical_request(
    req: &SignedRequest,
    auth: &ParsedAuth,
    payload_hash_hex: &str,
    enc: UriEncoding,
) -> Result<Vec<u8>, SigError> {
    canonical_request_with(req, auth, payload_hash_hex, enc, false)
}

/// `omit_token_param`: presigned URLs where `X-Amz-Security-Token` was appended after
/// signing (some SDKs do this for a few services) — leave it out of the canonical query.
pub(crate) fn canonical_request_with(
    req: &SignedRequest,
    auth: &ParsedAuth,
    payload_hash_hex: &str,
    enc: UriEncoding,
    omit_token_param: bool,
) -> Result<Vec<u8>, SigError> {
    let exclude: &[&[u8]] = match (auth.location, omit_token_param) {
        (AuthLocation::Header, _) => &[],
        (AuthLocation::Query, false) => &[b"X-Amz-Signature"],
        (AuthLocation::Query, true) => &[b"X-Amz-Signature", b"X-Amz-Security-Token"],
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.raw_path, enc).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.raw_query, exclude).as_bytes());
    out.push(b'\n');
    let mut names: Vec<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    for name in &names {
        let mut values = req.headers.get_all(*name).iter().peekable();
        if values.peek().is_none() {
            return Err(SigError::SignedHeaderMissing((*name).to_string()));
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_trimmed(&mut out, v.as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(names.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash_hex.as_bytes());
    Ok(out)
}

/// `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical_request)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize() {
        assert_eq!(normalize_path(""), "/");
        assert_eq!(normalize_path("//"), "/");
        assert_eq!(normalize_path("//example//"), "/example/");
        assert_eq!(normalize_path("/a/b/../.."), "/");
        assert_eq!(normalize_path("/a/b/.."), "/a");
        assert_eq!(normalize_path("/./a/./b/"), "/a/b/");
        assert_eq!(normalize_path("/../../x"), "/x");
    }

    #[test]
    fn uri_normalized_double_encodes() {
        assert_eq!(
            canonical_uri("/a%20b/%E1%88%B4", UriEncoding::Normalized),
            "/a%2520b/%25E1%2588%25B4"
        );
    }

    #[test]
    fn uri_s3_encodes_once() {
        assert_eq!(
            canonical_uri("/b/a%20b/c+d", UriEncoding::S3),
            "/b/a%20b/c%2Bd"
        );
        assert_eq!(canonical_uri("/b/a%2fb", UriEncoding::S3), "/b/a%2Fb");
        assert_eq!(canonical_uri("/b/x y", UriEncoding::S3), "/b/x%20y");
        assert_eq!(canonical_uri("/b/../c//", UriEncoding::S3), "/b/../c//");
        assert_eq!(canonical_uri("/b/%zz", UriEncoding::S3), "/b/%25zz");
        assert_eq!(canonical_uri("", UriEncoding::S3), "/");
    }

    #[test]
    fn query_sorted_and_encoded() {
        assert_eq!(
            canonical_query(
                "b=2&a=3&a=1&c&X-Amz-Signature=abc&sp=a%20b+c",
                &[b"X-Amz-Signature"]
            ),
            "a=1&a=3&b=2&c=&sp=a%20b%2Bc"
        );
        assert_eq!(
            canonical_query("X-Amz-Signature=abc", &[]),
            "X-Amz-Signature=abc"
        );
        assert_eq!(canonical_query("", &[]), "");
    }

    #[test]
    fn trimming() {
        let mut v = Vec::new();
        push_trimmed(&mut v, b"  a   b\t\tc  ");
        assert_eq!(v, b"a b c");
    }
}
