//! The AWS SigV4 signing test suite (vendored under tests/vectors/v4, see NOTICE).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test-only code

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use ironsage_sigv4::*;
use time::format_description::well_known::Rfc3339;

fn vector_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/v4");
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

struct Context {
    secret: Option<String>,
    normalize: bool,
    time: Option<time::OffsetDateTime>,
}

fn context(dir: &Path) -> Context {
    match fs::read_to_string(dir.join("context.json")) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            Context {
                secret: Some(
                    v["credentials"]["secret_access_key"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ),
                normalize: v["normalize"].as_bool().unwrap(),
                time: Some(
                    time::OffsetDateTime::parse(v["timestamp"].as_str().unwrap(), &Rfc3339)
                        .unwrap(),
                ),
            }
        }
        Err(_) => Context {
            secret: None,
            normalize: true,
            time: None,
        },
    }
}

fn flip_last_char(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let last = b.last_mut().unwrap();
    *last = if *last == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

/// Returns how many (dir, variant) cases were checked, and how many were verified end to end.
fn run_variant(dir: &Path, variant: &str) -> Option<bool> {
    let signed = fs::read_to_string(dir.join(format!("{variant}-signed-request.txt"))).ok()?;
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let ctx = context(dir);
    let mut raw = common::parse_raw_request(&signed);
    let expected_creq = fs::read(dir.join(format!("{variant}-canonical-request.txt"))).unwrap();
    if ctx.secret.is_none() {
        // The two context-less vectors (double-encode-path, double-url-encode) only pin the
        // canonical request; one of them has an X-Amz-Date that disagrees with its own
        // canonical request, so take the date from the canonical request.
        let text = String::from_utf8_lossy(&expected_creq).to_string();
        let date = text
            .lines()
            .find_map(|l| l.strip_prefix("x-amz-date:"))
            .unwrap()
            .to_string();
        raw.headers.insert("x-amz-date", date.parse().unwrap());
    }
    let req = SignedRequest {
        method: &raw.method,
        raw_path: &raw.path,
        raw_query: &raw.query,
        headers: &raw.headers,
    };
    let auth = parse_auth(&req)
        .unwrap_or_else(|e| panic!("{name}/{variant}: parse_auth failed: {e}"))
        .unwrap_or_else(|| panic!("{name}/{variant}: no auth found"));
    assert_eq!(
        auth.location,
        if variant == "header" {
            AuthLocation::Header
        } else {
            AuthLocation::Query
        }
    );
    let enc = if ctx.normalize {
        UriEncoding::Normalized
    } else {
        UriEncoding::S3
    };
    let payload = auth
        .payload
        .literal()
        .map(str::to_string)
        .unwrap_or_else(|| hex_sha256(&raw.body));

    let omit_token = fs::read_to_string(dir.join("context.json"))
        .map(|c| c.contains("\"omit_session_token\": true"))
        .unwrap_or(false);
    let mut creq = canonical_request(&req, &auth, &payload, enc).unwrap();
    if omit_token && variant == "query" {
        // The token was added after signing: drop it from the canonical query to compare.
        let text = String::from_utf8(creq).unwrap();
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        lines[2] = lines[2]
            .split('&')
            .filter(|p| !p.starts_with("X-Amz-Security-Token="))
            .collect::<Vec<_>>()
            .join("&");
        creq = lines.join("\n").into_bytes();
    }
    assert_eq!(
        String::from_utf8_lossy(&creq),
        String::from_utf8_lossy(&expected_creq),
        "{name}/{variant}: canonical request"
    );
    let sts = string_to_sign(&auth.amz_date, &auth.scope(), &creq);
    if let Ok(expected_sts) = fs::read_to_string(dir.join(format!("{variant}-string-to-sign.txt")))
    {
        assert_eq!(
            sts,
            expected_sts.trim_end_matches('\n'),
            "{name}/{variant}: string to sign"
        );
    }
    if let Ok(expected_sig) = fs::read_to_string(dir.join(format!("{variant}-signature.txt"))) {
        assert_eq!(
            auth.signature,
            expected_sig.trim(),
            "{name}/{variant}: signature in request"
        );
    }

    let (Some(secret), Some(now)) = (ctx.secret, ctx.time) else {
        return Some(false);
    };
    let key = verify(&req, &auth, &secret, &payload, now, enc)
        .unwrap_or_else(|e| panic!("{name}/{variant}: verify failed: {e:?}"));
    assert_eq!(key.scope(), auth.scope());

    // One character off in the signature.
    let mut bad = auth.clone();
    bad.signature = flip_last_char(&auth.signature);
    assert!(
        matches!(
            verify(&req, &bad, &secret, &payload, now, enc),
            Err(SigError::SignatureDoesNotMatch { .. })
        ),
        "{name}/{variant}: tampered signature accepted"
    );
    // One character off in the secret.
    assert!(matches!(
        verify(&req, &auth, &flip_last_char(&secret), &payload, now, enc),
        Err(SigError::SignatureDoesNotMatch { .. })
    ));
    // A different path.
    let other_path = format!("{}x", raw.path);
    let req2 = SignedRequest {
        raw_path: &other_path,
        ..req
    };
    assert!(matches!(
        verify(&req2, &auth, &secret, &payload, now, enc),
        Err(SigError::SignatureDoesNotMatch { .. })
    ));
    // 16 minutes later: header auth is skewed; presigned (3600 s) still fine.
    let later = now + time::Duration::minutes(16);
    let r = verify(&req, &auth, &secret, &payload, later, enc);
    if variant == "header" {
        assert!(matches!(
            r,
            Err(SigError::RequestTimeTooSkewed { expired: true, .. })
        ));
    } else {
        assert!(r.is_ok());
        let expired = now + time::Duration::seconds(3601);
        assert!(matches!(
            verify(&req, &auth, &secret, &payload, expired, enc),
            Err(SigError::PresignedExpired { .. })
        ));
    }
    Some(true)
}

#[test]
fn aws_signing_test_suite() {
    let mut checked = 0;
    let mut verified = 0;
    let mut header = 0;
    let mut query = 0;
    for dir in vector_dirs() {
        for variant in ["header", "query"] {
            if let Some(full) = run_variant(&dir, variant) {
                checked += 1;
                if full {
                    verified += 1;
                }
                if variant == "header" {
                    header += 1;
                } else {
                    query += 1;
                }
            }
        }
    }
    eprintln!("checked {checked} cases ({header} header, {query} query), {verified} verified");
    assert_eq!(header, 40);
    assert_eq!(query, 38);
    assert_eq!(verified, 76);
}
