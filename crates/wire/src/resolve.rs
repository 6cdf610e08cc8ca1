//! Finding the operation a request is for.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use ironsage_model::{Location, Operation, Protocol, ServiceModel};

use crate::input::{form_pairs, percent_decode};
use crate::{AwsError, Request};

/// Which operation `req` is for, per the service's protocol.
pub fn resolve_operation<'m>(
    model: &'m ServiceModel,
    req: &Request,
) -> Result<&'m Operation, AwsError> {
    match model.info.protocol {
        Protocol::Query | Protocol::Ec2 => resolve_action(model, req),
        Protocol::Json => resolve_target(model, req),
        Protocol::RestJson | Protocol::RestXml => resolve_rest(model, req),
    }
}

fn resolve_action<'m>(model: &'m ServiceModel, req: &Request) -> Result<&'m Operation, AwsError> {
    let mut action = None;
    let sources: [&[u8]; 2] = [
        req.query.as_bytes(),
        if req.method.eq_ignore_ascii_case("POST") {
            req.body
        } else {
            b""
        },
    ];
    for src in sources {
        for (k, v) in form_pairs(src) {
            if k == "Action" {
                action = Some(v);
            }
        }
    }
    let Some(action) = action else {
        return Err(AwsError::new("MissingAction", "Missing Action", 400));
    };
    model.operations.get(action.as_str()).ok_or_else(|| {
        AwsError::new(
            "InvalidAction",
            format!(
                "Could not find operation {action} for version {}",
                model.info.api_version
            ),
            400,
        )
    })
}

fn resolve_target<'m>(model: &'m ServiceModel, req: &Request) -> Result<&'m Operation, AwsError> {
    let unknown = |what: &str| {
        AwsError::new(
            "UnknownOperationException",
            format!("Unknown operation {what}"),
            400,
        )
    };
    let target = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unknown("(no X-Amz-Target header)"))?;
    let (prefix, op) = target.rsplit_once('.').ok_or_else(|| unknown(target))?;
    if Some(prefix) != model.info.target_prefix {
        return Err(unknown(target));
    }
    model.operations.get(op).ok_or_else(|| unknown(target))
}

/// A compiled requestUri template.
struct Template<'a> {
    segments: Vec<Seg<'a>>,
    /// Literal query requirements: (key, optional value).
    query: Vec<(&'a str, Option<&'a str>)>,
    /// The operation's required header and query members (wire names),
    /// which tell apart operations sharing a template; filled by
    /// [`build_index`].
    required: Vec<(Location, &'a str)>,
}

enum Seg<'a> {
    Literal(&'a str),
    Label,
    Greedy,
}

fn compile(uri: &str) -> Template<'_> {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with('{') && s.ends_with("+}") {
                Seg::Greedy
            } else if s.starts_with('{') && s.ends_with('}') {
                Seg::Label
            } else {
                Seg::Literal(s)
            }
        })
        .collect();
    let query = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| match q.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (q, None),
        })
        .collect();
    Template {
        segments,
        query,
        required: Vec::new(),
    }
}

/// The required header and query members of `op`'s input, by wire name.
fn required_bindings<'m>(model: &'m ServiceModel, op: &Operation) -> Vec<(Location, &'m str)> {
    let Some(shape) = op.input.as_deref().and_then(|n| model.shape(n)) else {
        return Vec::new();
    };
    shape
        .required
        .iter()
        .filter_map(|name| {
            let member = shape.members.get(name)?;
            let wire = member.location_name.as_deref().unwrap_or(name);
            match member.location {
                Some(l @ (Location::Header | Location::Querystring)) => Some((l, wire)),
                _ => None,
            }
        })
        .collect()
}

/// How well a request binds an operation's required header and query
/// members: (bonus, whether all are present).
fn bound_score(
    required: &[(Location, &str)],
    req: &Request,
    query: &[(String, String)],
) -> (usize, bool) {
    let mut bonus = 0;
    for (loc, wire) in required {
        let present = match loc {
            Location::Header => req.headers.contains_key(*wire),
            _ => query.iter().any(|(k, _)| k == wire),
        };
        if !present {
            return (0, false);
        }
        bonus += 50;
    }
    (bonus, true)
}

/// Score of a template matching the request path + query, or None.
fn match_score(
    t: &Template<'_>,
    path_segs: &[String],
    query: &[(String, String)],
) -> Option<usize> {
    let mut score = 0;
    let mut i = 0;
    for seg in &t.segments {
        match seg {
            Seg::Literal(l) => {
                if path_segs.get(i).map(String::as_str) != Some(*l) {
                    return None;
                }
                score += 10 + l.len();
                i += 1;
            }
            Seg::Label => {
                if path_segs.get(i).is_none_or(String::is_empty) {
                    return None;
                }
                score += 2;
                i += 1;
            }
            Seg::Greedy => {
                if i >= path_segs.len() {
                    return None;
                }
                i = path_segs.len();
                score += 1;
            }
        }
    }
    if i != path_segs.len() {
        return None;
    }
    for (k, v) in &t.query {
        let found = query
            .iter()
            .any(|(qk, qv)| qk == k && v.is_none_or(|v| qv == v));
        if !found {
            return None;
        }
        score += 100;
    }
    Some(score)
}

/// Splits a raw path into decoded segments; a trailing slash is ignored.
pub(crate) fn path_segments(path: &str) -> Vec<String> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if trimmed.is_empty() {
        return Vec::new();
    }
    let mut segs: Vec<String> = trimmed.split('/').map(percent_decode).collect();
    if segs.len() > 1 && segs.last().is_some_and(String::is_empty) {
        segs.pop();
    }
    segs
}

/// A service's REST templates compiled once, grouped by HTTP method.
struct RestIndex {
    /// (upper-case method, [(operation index, template)]).
    by_method: Vec<(String, Vec<(usize, Template<'static>)>)>,
}

/// Compiled REST indexes by service name. Models are `'static` (parsed once
/// per process), so the templates borrow their strings.
static REST_INDEX: OnceLock<RwLock<HashMap<&'static str, Arc<RestIndex>>>> = OnceLock::new();

fn build_index(model: &'static ServiceModel) -> RestIndex {
    let mut by_method: Vec<(String, Vec<(usize, Template<'static>)>)> = Vec::new();
    for (i, op) in model.operations.values().enumerate() {
        let method = op.http.method.to_ascii_uppercase();
        let mut t = compile(&op.http.request_uri);
        t.required = required_bindings(model, op);
        match by_method.iter_mut().find(|(m, _)| *m == method) {
            Some((_, list)) => list.push((i, t)),
            None => by_method.push((method, vec![(i, t)])),
        }
    }
    RestIndex { by_method }
}

/// The compiled index of a registered (`'static`) model, built on first use.
fn rest_index(model: &ServiceModel) -> Option<Arc<RestIndex>> {
    let stat = ironsage_model::model(model.info.name)?;
    if !std::ptr::eq(stat, model) {
        return None;
    }
    let cache = REST_INDEX.get_or_init(|| RwLock::new(HashMap::new()));
    if let Some(ix) = cache
        .read()
        .ok()
        .and_then(|c| c.get(stat.info.name).cloned())
    {
        return Some(ix);
    }
    let ix = Arc::new(build_index(stat));
    if let Ok(mut c) = cache.write() {
        c.insert(stat.info.name, Arc::clone(&ix));
    }
    Some(ix)
}

fn resolve_rest<'m>(model: &'m ServiceModel, req: &Request) -> Result<&'m Operation, AwsError> {
    let segs = path_segments(req.path);
    let query = form_pairs(req.query.as_bytes());
    // Fast path: only the templates of the request's method.
    if let Some(ix) = rest_index(model) {
        let mut best: Option<(usize, &Operation)> = None;
        let method = ix
            .by_method
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(req.method));
        for (i, t) in method.map(|(_, l)| l.as_slice()).unwrap_or_default() {
            let Some(score) = match_score(t, &segs, &query) else {
                continue;
            };
            let Some((_, op)) = model.operations.get_index(*i) else {
                continue;
            };
            let (bonus, complete) = bound_score(&t.required, req, &query);
            let score = if complete {
                score + 1000 + bonus
            } else {
                score
            };
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, op));
            }
        }
        if let Some((_, op)) = best {
            return Ok(op);
        }
    }
    resolve_rest_scan(model, req, &segs, &query)
}

/// The full scan over every operation: models not registered in
/// `ironsage_model`, and requests no template of their method matches
/// (which answer 405 when another method's template matches the path).
fn resolve_rest_scan<'m>(
    model: &'m ServiceModel,
    req: &Request,
    segs: &[String],
    query: &[(String, String)],
) -> Result<&'m Operation, AwsError> {
    let mut best: Option<(usize, &Operation)> = None;
    let mut path_matched = false;
    for op in model.operations.values() {
        let t = compile(&op.http.request_uri);
        let Some(score) = match_score(&t, segs, query) else {
            continue;
        };
        path_matched = true;
        if !op.http.method.eq_ignore_ascii_case(req.method) {
            continue;
        }
        // Among equal templates (S3 PutObject / CopyObject / UploadPart), prefer the
        // operation whose required header and query members are all present.
        let (bonus, complete) = required_binding_score(model, op, req, query);
        let score = if complete {
            score + 1000 + bonus
        } else {
            score
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, op));
        }
    }
    if let Some((_, op)) = best {
        return Ok(op);
    }
    let s3 = model.info.protocol == Protocol::RestXml;
    if path_matched {
        let mut e = AwsError::new(
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            405,
        );
        if s3 {
            e = e
                .with_extra("Method", req.method)
                .with_extra("ResourceType", "OBJECT");
        }
        return Err(e);
    }
    if s3 {
        Err(AwsError::new(
            "InvalidRequest",
            "The request did not match any S3 operation.",
            400,
        ))
    } else {
        Err(AwsError::new(
            "UnknownOperationException",
            format!("No operation matches {} {}", req.method, req.path),
            404,
        ))
    }
}

fn required_binding_score(
    model: &ServiceModel,
    op: &Operation,
    req: &Request,
    query: &[(String, String)],
) -> (usize, bool) {
    bound_score(&required_bindings(model, op), req, query)
}

/// Values of `{Label}` / `{Label+}` placeholders of `uri` in the request path.
pub(crate) fn uri_labels(uri: &str, path: &str) -> Vec<(String, String)> {
    let (tpath, _) = uri.split_once('?').unwrap_or((uri, ""));
    let tsegs: Vec<&str> = tpath.split('/').filter(|s| !s.is_empty()).collect();
    let segs = path_segments(path);
    let mut out = Vec::new();
    for (i, t) in tsegs.iter().enumerate() {
        if let Some(name) = t.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            let rest = segs.get(i..).map(|s| s.join("/")).unwrap_or_default();
            // Keep a trailing slash of the raw path for greedy labels (S3 keys).
            let rest = if path.ends_with('/') && !rest.is_empty() {
                format!("{rest}/")
            } else {
                rest
            };
            out.push((name.to_owned(), rest));
            break;
        }
        if let Some(name) = t.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if let Some(v) = segs.get(i) {
                out.push((name.to_owned(), v.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a http::HeaderMap,
        body: &'a [u8],
    ) -> Request<'a> {
        Request {
            method,
            path,
            query,
            headers,
            body,
        }
    }

    #[test]
    fn query_action() {
        let m = ironsage_model::model("iam").expect("iam");
        let h = http::HeaderMap::new();
        let op = resolve_operation(
            m,
            &req("POST", "/", "", &h, b"Action=CreateRole&Version=2010-05-08"),
        )
        .expect("op");
        assert_eq!(op.name, "CreateRole");
        let op = resolve_operation(m, &req("GET", "/", "Action=ListRoles", &h, b"")).expect("op");
        assert_eq!(op.name, "ListRoles");
        let e =
            resolve_operation(m, &req("POST", "/", "", &h, b"Action=Nope")).expect_err("unknown");
        assert_eq!((e.code.as_str(), e.status), ("InvalidAction", 400));
    }

    #[test]
    fn json_target() {
        let m = ironsage_model::model("kms").expect("kms");
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-target",
            http::HeaderValue::from_static("TrentService.CreateKey"),
        );
        assert_eq!(
            resolve_operation(m, &req("POST", "/", "", &h, b"{}"))
                .expect("op")
                .name,
            "CreateKey"
        );
        h.insert(
            "x-amz-target",
            http::HeaderValue::from_static("TrentService.Nope"),
        );
        let e = resolve_operation(m, &req("POST", "/", "", &h, b"{}")).expect_err("unknown");
        assert_eq!(e.code, "UnknownOperationException");
    }

    #[test]
    fn s3_most_specific() {
        let m = ironsage_model::model("s3").expect("s3");
        let h = http::HeaderMap::new();
        let r = |method, path, query| {
            resolve_operation(m, &req(method, path, query, &h, b"")).map(|o| o.name.clone())
        };
        assert_eq!(r("GET", "/b", "").as_deref(), Ok("ListObjects"));
        assert_eq!(
            r("GET", "/b", "list-type=2&prefix=x").as_deref(),
            Ok("ListObjectsV2")
        );
        assert_eq!(r("PUT", "/b", "tagging").as_deref(), Ok("PutBucketTagging"));
        assert_eq!(r("PUT", "/b", "").as_deref(), Ok("CreateBucket"));
        assert_eq!(r("PUT", "/b/a/b/c.txt", "").as_deref(), Ok("PutObject"));
        assert_eq!(
            r("POST", "/b/k", "uploads").as_deref(),
            Ok("CreateMultipartUpload")
        );
        assert_eq!(r("GET", "/", "").as_deref(), Ok("ListBuckets"));
        assert_eq!(r("HEAD", "/b/k", "").as_deref(), Ok("HeadObject"));
        assert_eq!(r("PATCH", "/b/k", "").map_err(|e| e.status), Err(405));
    }

    #[test]
    fn labels() {
        assert_eq!(
            uri_labels("/{Bucket}/{Key+}?tagging", "/bkt/dir/a%20b.txt"),
            vec![
                ("Bucket".to_owned(), "bkt".to_owned()),
                ("Key".to_owned(), "dir/a b.txt".to_owned())
            ]
        );
        let m = ironsage_model::model("lambda").expect("lambda");
        let h = http::HeaderMap::new();
        let op = resolve_operation(m, &req("GET", "/2015-03-31/functions/my-fn", "", &h, b""))
            .expect("op");
        assert_eq!(op.name, "GetFunction");
    }
}
