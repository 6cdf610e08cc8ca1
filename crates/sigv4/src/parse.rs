//! Extracting SigV4 parameters from a request.

use crate::canonical::percent_decode;
use crate::{
    format_amz_date, parse_amz_date, AuthLocation, Credential, ParsedAuth, PayloadHash, SigError,
    SignedRequest, MAX_EXPIRES_SECS,
};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Parse SigV4 auth from the `Authorization` header or the presigned query parameters.
///
/// `Ok(None)`: the request carries no SigV4 auth at all (anonymous).
pub fn parse_auth(req: &SignedRequest) -> Result<Option<ParsedAuth>, SigError> {
    let header = req.headers.get(http::header::AUTHORIZATION);
    let query = QueryAuth::collect(req.raw_query);
    let v2_query = crate::v2::query_present(req.raw_query);
    match (header, query.is_present(), v2_query) {
        (None, false, false) => Ok(None),
        (Some(_), true, _) | (Some(_), _, true) | (None, true, true) => {
            Err(SigError::MultipleAuthMechanisms)
        }
        (Some(h), false, false) => {
            let text = std::str::from_utf8(h.as_bytes()).map_err(|_| {
                SigError::MalformedAuthorization("Authorization header is not valid UTF-8".into())
            })?;
            if text.trim_start().starts_with("AWS ") {
                return crate::v2::parse_header(req, text).map(Some);
            }
            parse_header_auth(req, text).map(Some)
        }
        (None, true, false) => parse_query_auth(req, &query).map(Some),
        (None, false, true) => crate::v2::parse_query(req).map(Some),
    }
}

fn header_str<'a>(req: &'a SignedRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse_payload(req: &SignedRequest) -> Result<PayloadHash, SigError> {
    match req.headers.get("x-amz-content-sha256") {
        None => Ok(PayloadHash::Absent),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| SigError::InvalidContentSha256("<non-ascii>".into()))?;
            PayloadHash::from_header(s.trim())
        }
    }
}

pub(crate) fn parse_credential(raw: &str) -> Result<Credential, SigError> {
    let mut parts = raw.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some(term), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SigError::MalformedCredential(raw.to_string()));
    };
    if akid.is_empty()
        || date.len() != 8
        || !date.bytes().all(|b| b.is_ascii_digit())
        || region.is_empty()
        || service.is_empty()
    {
        return Err(SigError::MalformedCredential(raw.to_string()));
    }
    if term != "aws4_request" {
        return Err(SigError::BadScopeTerminator(term.to_string()));
    }
    Ok(Credential {
        access_key_id: akid.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
    })
}

fn parse_signed_headers(raw: &str) -> Result<Vec<String>, SigError> {
    let names: Vec<String> = raw
        .split(';')
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(SigError::MalformedAuthorization(format!(
            "Invalid SignedHeaders '{raw}'"
        )));
    }
    Ok(names)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate, the only form SigV4 clients send).
fn parse_http_date(s: &str) -> Option<time::OffsetDateTime> {
    let s = s.trim();
    let rest = s.split_once(", ").map(|(_, r)| r)?;
    let mut it = rest.split(' ');
    let day: u8 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => time::Month::January,
        "Feb" => time::Month::February,
        "Mar" => time::Month::March,
        "Apr" => time::Month::April,
        "May" => time::Month::May,
        "Jun" => time::Month::June,
        "Jul" => time::Month::July,
        "Aug" => time::Month::August,
        "Sep" => time::Month::September,
        "Oct" => time::Month::October,
        "Nov" => time::Month::November,
        "Dec" => time::Month::December,
        _ => return None,
    };
    let year: i32 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':');
    let h: u8 = hms.next()?.parse().ok()?;
    let m: u8 = hms.next()?.parse().ok()?;
    let sec: u8 = hms.next()?.parse().ok()?;
    if hms.next().is_some() || it.next()? != "GMT" || it.next().is_some() {
        return None;
    }
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(h, m, sec).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc())
}

fn header_time(req: &SignedRequest) -> Result<(time::OffsetDateTime, String), SigError> {
    if let Some(v) = req.headers.get("x-amz-date") {
        let s = v
            .to_str()
            .map_err(|_| SigError::InvalidDate("<non-ascii>".into()))?
            .trim();
        let t = parse_amz_date(s)?;
        return Ok((t, s.to_string()));
    }
    if let Some(v) = req.headers.get(http::header::DATE) {
        let s = v
            .to_str()
            .map_err(|_| SigError::InvalidDate("<non-ascii>".into()))?;
        let t = parse_http_date(s).ok_or_else(|| SigError::InvalidDate(s.to_string()))?;
        return Ok((t, format_amz_date(t)));
    }
    Err(SigError::MissingDate)
}

fn parse_header_auth(req: &SignedRequest, header: &str) -> Result<ParsedAuth, SigError> {
    let header = header.trim();
    let (alg, rest) = header.split_once(' ').unwrap_or((header, ""));
    if alg != ALGORITHM {
        return Err(SigError::UnsupportedAlgorithm(alg.to_string()));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(SigError::MalformedAuthorization(format!(
                "Authorization header requires each component to be of the form key=value. Authorization={header}"
            )));
        };
        let slot = match k.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.is_some() {
            return Err(SigError::MalformedAuthorization(format!(
                "Authorization header has duplicate '{}' parameter. Authorization={header}",
                k.trim()
            )));
        }
        *slot = Some(v.trim());
    }
    let missing = |component| SigError::MissingComponent {
        component,
        header: header.to_string(),
    };
    let credential = parse_credential(credential.ok_or_else(|| missing("Credential"))?)?;
    let signed_headers =
        parse_signed_headers(signed_headers.ok_or_else(|| missing("SignedHeaders"))?)?;
    let signature = signature.ok_or_else(|| missing("Signature"))?.to_string();
    let (request_time, amz_date) = header_time(req)?;
    Ok(ParsedAuth {
        location: AuthLocation::Header,
        credential,
        signed_headers,
        signature,
        request_time,
        amz_date,
        expires_secs: None,
        security_token: header_str(req, "x-amz-security-token").map(str::to_string),
        payload: parse_payload(req)?,
        v2: None,
    })
}

/// The `X-Amz-*` presign parameters, percent-decoded.
#[derive(Default)]
struct QueryAuth {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
}

impl QueryAuth {
    fn collect(raw_query: &str) -> Self {
        let mut q = QueryAuth::default();
        for pair in raw_query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match k {
                "X-Amz-Algorithm" => &mut q.algorithm,
                "X-Amz-Credential" => &mut q.credential,
                "X-Amz-Date" => &mut q.date,
                "X-Amz-Expires" => &mut q.expires,
                "X-Amz-SignedHeaders" => &mut q.signed_headers,
                "X-Amz-Signature" => &mut q.signature,
                "X-Amz-Security-Token" => &mut q.security_token,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(String::from_utf8_lossy(&percent_decode(v)).into_owned());
            }
        }
        q
    }

    fn is_present(&self) -> bool {
        self.algorithm.is_some() || self.credential.is_some() || self.signature.is_some()
    }
}

fn parse_query_auth(req: &SignedRequest, q: &QueryAuth) -> Result<ParsedAuth, SigError> {
    let missing = |name: &str| {
        SigError::MalformedQueryAuth(format!(
            "AWS query-string parameters must include '{name}'. Re-examine the query-string parameters."
        ))
    };
    let alg = q
        .algorithm
        .as_deref()
        .ok_or_else(|| missing("X-Amz-Algorithm"))?;
    if alg != ALGORITHM {
        return Err(SigError::UnsupportedAlgorithm(alg.to_string()));
    }
    let credential = parse_credential(
        q.credential
            .as_deref()
            .ok_or_else(|| missing("X-Amz-Credential"))?,
    )?;
    let signed_headers = parse_signed_headers(
        q.signed_headers
            .as_deref()
            .ok_or_else(|| missing("X-Amz-SignedHeaders"))?,
    )?;
    let signature = q
        .signature
        .clone()
        .ok_or_else(|| missing("X-Amz-Signature"))?;
    let amz_date = q.date.clone().ok_or_else(|| missing("X-Amz-Date"))?;
    let request_time = parse_amz_date(&amz_date)?;
    let expires_secs = match q.expires.as_deref() {
        None => None,
        Some(e) => {
            let n: u64 = e
                .parse()
                .map_err(|_| SigError::InvalidExpires(e.to_string()))?;
            if n > MAX_EXPIRES_SECS {
                return Err(SigError::InvalidExpires(e.to_string()));
            }
            Some(n)
        }
    };
    Ok(ParsedAuth {
        location: AuthLocation::Query,
        credential,
        signed_headers,
        signature,
        request_time,
        amz_date,
        expires_secs,
        security_token: q
            .security_token
            .clone()
            .or_else(|| header_str(req, "x-amz-security-token").map(str::to_string)),
        payload: parse_payload(req)?,
        v2: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date() {
        let t = parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").unwrap();
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert!(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT").is_none());
        assert!(parse_http_date("30 Aug 2015 12:36:00 GMT").is_none());
    }

    #[test]
    fn credential() {
        let c = parse_credential("AKID/20150830/us-east-1/iam/aws4_request").unwrap();
        assert_eq!(c.scope(), "20150830/us-east-1/iam/aws4_request");
        assert!(matches!(
            parse_credential("AKID/20150830/us-east-1/iam/aws5_request"),
            Err(SigError::BadScopeTerminator(t)) if t == "aws5_request"
        ));
        assert!(matches!(
            parse_credential("AKID/20150830/us-east-1/iam"),
            Err(SigError::MalformedCredential(_))
        ));
        assert!(matches!(
            parse_credential("AKID/2015083/us-east-1/iam/aws4_request"),
            Err(SigError::MalformedCredential(_))
        ));
    }
}
