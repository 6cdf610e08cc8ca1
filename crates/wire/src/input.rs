//! Request parsing: wire -> neutral value tree, then validation.

use std::collections::BTreeMap;

use base64::Engine;
use ironsage_model::{Location, Member, Operation, Protocol, ServiceModel, Shape, ShapeType};
use serde_json::{Map, Value};

use crate::resolve::uri_labels;
use crate::timefmt::{format_iso8601, parse_timestamp, timestamp_from_value};
use crate::validate::validate;
use crate::xml::{self, Element};
use crate::{AwsError, Request, MAX_DEPTH};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Percent-decodes `s` (no `+` handling), lossy on invalid UTF-8.
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Decodes an `application/x-www-form-urlencoded` string into pairs (`+` is a space).
pub(crate) fn form_pairs(src: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in src.split(|b| *b == b'&') {
        if part.is_empty() {
            continue;
        }
        let mut kv = part.splitn(2, |b| *b == b'=');
        let k = kv.next().unwrap_or_default();
        let v = kv.next().unwrap_or_default();
        out.push((form_decode(k), form_decode(v)));
    }
    out
}

fn form_decode(b: &[u8]) -> String {
    let replaced: Vec<u8> = b
        .iter()
        .map(|c| if *c == b'+' { b' ' } else { *c })
        .collect();
    percent_encoding::percent_decode(&replaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// lowerCamel as AWS prints member paths (`RoleName` -> `roleName`).
pub(crate) fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn join_path(base: &str, member: &str) -> String {
    if base.is_empty() {
        lower_camel(member)
    } else {
        format!("{base}.{}", lower_camel(member))
    }
}

/// Parsing context.
pub(crate) struct Cx<'m> {
    pub model: &'m ServiceModel,
    pub protocol: Protocol,
}

impl<'m> Cx<'m> {
    pub fn shape(&self, name: &str) -> Result<&'m Shape, AwsError> {
        self.model
            .shape(name)
            .ok_or_else(|| AwsError::internal(format!("model has no shape {name}")))
    }

    fn type_error(&self, path: &str, raw: &str, what: &str) -> AwsError {
        match self.protocol {
            Protocol::Json | Protocol::RestJson => AwsError::malformed(
                self.protocol,
                format!("Value '{raw}' at '{path}' cannot be converted to {what}"),
            ),
            _ => AwsError::validation(
                self.protocol,
                format!(
                    "1 validation error detected: Value '{raw}' at '{path}' failed to satisfy constraint: Member must be {what}"
                ),
            ),
        }
    }
}

/// The wire name of a member (merged member/shape `locationName`; ec2 rules).
pub(crate) fn wire_name<'a>(
    protocol: Protocol,
    name: &'a str,
    member: &'a Member,
    target: &'a Shape,
) -> std::borrow::Cow<'a, str> {
    let loc = member
        .location_name
        .as_deref()
        .or(target.location_name.as_deref());
    if protocol == Protocol::Ec2 {
        if let Some(q) = member.query_name.as_deref() {
            return q.into();
        }
        if let Some(l) = loc {
            let mut c = l.chars();
            return match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>().into(),
                None => name.into(),
            };
        }
        return name.into();
    }
    loc.unwrap_or(name).into()
}

/// Converts a scalar from its string wire form. `path` names the member in
/// an error (built only then).
fn scalar_from_str(
    cx: &Cx<'_>,
    shape: &Shape,
    raw: &str,
    path: &dyn Fn() -> String,
) -> Result<Value, AwsError> {
    Ok(match shape.shape_type {
        ShapeType::Integer | ShapeType::Long => {
            let n: i64 = raw
                .trim()
                .parse()
                .map_err(|_| cx.type_error(&path(), raw, "an integer"))?;
            Value::from(n)
        }
        ShapeType::Float | ShapeType::Double => {
            let f: f64 = raw
                .trim()
                .parse()
                .map_err(|_| cx.type_error(&path(), raw, "a number"))?;
            serde_json::Number::from_f64(f)
                .map_or_else(|| Value::String(raw.to_owned()), Value::Number)
        }
        ShapeType::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(cx.type_error(&path(), raw, "a boolean")),
        },
        ShapeType::Timestamp => {
            let t =
                parse_timestamp(raw).ok_or_else(|| cx.type_error(&path(), raw, "a timestamp"))?;
            Value::String(format_iso8601(t))
        }
        _ => Value::String(raw.to_owned()),
    })
}

/// Parses and validates the input of `op`.
pub fn parse_input(model: &ServiceModel, op: &Operation, req: &Request) -> Result<Value, AwsError> {
    let cx = Cx {
        model,
        protocol: model.info.protocol,
    };
    let Some(input) = op.input.as_deref() else {
        return Ok(Value::Object(Map::new()));
    };
    let shape = cx.shape(input)?;
    let value = match cx.protocol {
        Protocol::Query | Protocol::Ec2 => parse_query(&cx, shape, req)?,
        Protocol::Json => {
            if req.body.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Map::new())
            } else {
                let raw: Value = serde_json::from_slice(req.body).map_err(|e| {
                    AwsError::malformed(cx.protocol, format!("Malformed JSON body: {e}"))
                })?;
                json_value(&cx, shape, &raw, "", 0)?.unwrap_or_else(|| Value::Object(Map::new()))
            }
        }
        Protocol::RestJson | Protocol::RestXml => parse_rest(&cx, op, shape, req)?,
    };
    validate(&cx, shape, &value)?;
    Ok(value)
}

// ---------------------------------------------------------------- query / ec2

type Params = BTreeMap<String, String>;

fn parse_query(cx: &Cx<'_>, shape: &Shape, req: &Request) -> Result<Value, AwsError> {
    let mut params = Params::new();
    for (k, v) in form_pairs(req.query.as_bytes()) {
        params.insert(k, v);
    }
    if req.method.eq_ignore_ascii_case("POST") {
        if std::str::from_utf8(req.body).is_err() {
            return Err(AwsError::malformed(
                cx.protocol,
                "The request body is not valid UTF-8",
            ));
        }
        for (k, v) in form_pairs(req.body) {
            params.insert(k, v);
        }
    }
    params.remove("Action");
    params.remove("Version");
    Ok(q_struct(cx, shape, "", "", &params, 0)?.unwrap_or_else(|| Value::Object(Map::new())))
}

fn has_prefix(params: &Params, prefix: &str) -> bool {
    let dotted = format!("{prefix}.");
    params
        .range(dotted.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&dotted))
}

/// Sorted distinct numeric indices N of keys `prefix.N[.…]`.
fn indices(params: &Params, prefix: &str) -> Vec<usize> {
    let dotted = format!("{prefix}.");
    let mut out: Vec<usize> = params
        .range(dotted.clone()..)
        .take_while(|(k, _)| k.starts_with(&dotted))
        .filter_map(|(k, _)| k.get(dotted.len()..)?.split('.').next()?.parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn q_struct(
    cx: &Cx<'_>,
    shape: &Shape,
    prefix: &str,
    path: &str,
    params: &Params,
    depth: usize,
) -> Result<Option<Value>, AwsError> {
    if depth > MAX_DEPTH {
        return Err(AwsError::malformed(
            cx.protocol,
            "Parameters are nested too deeply",
        ));
    }
    let mut out = Map::new();
    for (name, member) in &shape.members {
        let target = cx.shape(&member.shape)?;
        let wire = wire_name(cx.protocol, name, member, target);
        let key = if prefix.is_empty() {
            wire.into_owned()
        } else {
            format!("{prefix}.{wire}")
        };
        let mpath = join_path(path, name);
        if let Some(v) = q_value(cx, target, member, &key, &mpath, params, depth + 1)? {
            out.insert(name.clone(), v);
        }
    }
    if out.is_empty() && !prefix.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Object(out)))
}

fn q_value(
    cx: &Cx<'_>,
    shape: &Shape,
    member: &Member,
    key: &str,
    path: &str,
    params: &Params,
    depth: usize,
) -> Result<Option<Value>, AwsError> {
    match shape.shape_type {
        ShapeType::Structure => {
            if !has_prefix(params, key) {
                return Ok(None);
            }
            q_struct(cx, shape, key, path, params, depth)
        }
        ShapeType::List => {
            let Some(elem) = shape.member.as_deref() else {
                return Ok(None);
            };
            let elem_shape = cx.shape(&elem.shape)?;
            let list_prefix = if cx.protocol == Protocol::Ec2 {
                key.to_owned()
            } else {
                if params.get(key).is_some_and(String::is_empty) && !has_prefix(params, key) {
                    return Ok(Some(Value::Array(Vec::new())));
                }
                let elem_name = elem
                    .location_name
                    .as_deref()
                    .or(elem_shape.location_name.as_deref());
                if member.flattened || shape.flattened {
                    match elem_name {
                        Some(n) => match key.rsplit_once('.') {
                            Some((head, _)) => format!("{head}.{n}"),
                            None => n.to_owned(),
                        },
                        None => key.to_owned(),
                    }
                } else {
                    format!("{key}.{}", elem_name.unwrap_or("member"))
                }
            };
            let idx = indices(params, &list_prefix);
            if idx.is_empty() {
                return Ok(None);
            }
            let mut items = Vec::with_capacity(idx.len());
            for (pos, i) in idx.iter().enumerate() {
                let ekey = format!("{list_prefix}.{i}");
                let epath = format!("{path}.{}.member", pos + 1);
                if let Some(v) = q_value(cx, elem_shape, elem, &ekey, &epath, params, depth + 1)? {
                    items.push(v);
                }
            }
            Ok(Some(Value::Array(items)))
        }
        ShapeType::Map => {
            let (Some(k), Some(v)) = (shape.key.as_deref(), shape.value.as_deref()) else {
                return Ok(None);
            };
            let (kshape, vshape) = (cx.shape(&k.shape)?, cx.shape(&v.shape)?);
            let base = if member.flattened || shape.flattened {
                key.to_owned()
            } else {
                format!("{key}.entry")
            };
            let kname = k.location_name.as_deref().unwrap_or("key");
            let vname = v.location_name.as_deref().unwrap_or("value");
            let idx = indices(params, &base);
            if idx.is_empty() {
                return Ok(None);
            }
            let mut out = Map::new();
            for i in idx {
                let Some(kv) = params.get(&format!("{base}.{i}.{kname}")) else {
                    continue;
                };
                let kval = scalar_from_str(cx, kshape, kv, &|| path.to_string())?;
                let kstr = kval
                    .as_str()
                    .map_or_else(|| kval.to_string(), str::to_owned);
                let vpath = format!("{path}.{kstr}");
                if let Some(val) = q_value(
                    cx,
                    vshape,
                    v,
                    &format!("{base}.{i}.{vname}"),
                    &vpath,
                    params,
                    depth + 1,
                )? {
                    out.insert(kstr, val);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        _ => match params.get(key) {
            Some(raw) => scalar_from_str(cx, shape, raw, &|| path.to_string()).map(Some),
            None => Ok(None),
        },
    }
}

// ---------------------------------------------------------------- json

/// Coerces a JSON value to `shape`; `null` is treated as absent.
pub(crate) fn json_value(
    cx: &Cx<'_>,
    shape: &Shape,
    v: &Value,
    path: &str,
    depth: usize,
) -> Result<Option<Value>, AwsError> {
    if depth > MAX_DEPTH {
        return Err(AwsError::malformed(cx.protocol, "JSON nested too deeply"));
    }
    if v.is_null() {
        return Ok(None);
    }
    let mismatch = |what: &str| {
        AwsError::malformed(
            cx.protocol,
            format!("Unexpected value type at '{path}': expected {what}"),
        )
    };
    Ok(Some(match shape.shape_type {
        ShapeType::Structure => {
            let obj = v.as_object().ok_or_else(|| mismatch("an object"))?;
            let mut out = Map::new();
            for (name, member) in &shape.members {
                if member.location.is_some() {
                    continue;
                }
                let target = cx.shape(&member.shape)?;
                let wire = wire_name(Protocol::Json, name, member, target);
                if let Some(raw) = obj.get(wire.as_ref()) {
                    if let Some(val) =
                        json_value(cx, target, raw, &join_path(path, name), depth + 1)?
                    {
                        out.insert(name.clone(), val);
                    }
                }
            }
            Value::Object(out)
        }
        ShapeType::List => {
            let arr = v.as_array().ok_or_else(|| mismatch("a list"))?;
            let elem = shape
                .member
                .as_deref()
                .ok_or_else(|| AwsError::internal("list without member"))?;
            let es = cx.shape(&elem.shape)?;
            let mut out = Vec::with_capacity(arr.len());
            for (i, item) in arr.iter().enumerate() {
                let p = format!("{path}.{}.member", i + 1);
                if let Some(val) = json_value(cx, es, item, &p, depth + 1)? {
                    out.push(val);
                }
            }
            Value::Array(out)
        }
        ShapeType::Map => {
            let obj = v.as_object().ok_or_else(|| mismatch("a map"))?;
            let vm = shape
                .value
                .as_deref()
                .ok_or_else(|| AwsError::internal("map without value"))?;
            let vs = cx.shape(&vm.shape)?;
            let mut out = Map::new();
            for (k, item) in obj {
                if let Some(val) = json_value(cx, vs, item, &format!("{path}.{k}"), depth + 1)? {
                    out.insert(k.clone(), val);
                }
            }
            Value::Object(out)
        }
        ShapeType::String => {
            Value::String(v.as_str().ok_or_else(|| mismatch("a string"))?.to_owned())
        }
        ShapeType::Integer | ShapeType::Long => {
            if let Some(i) = v.as_i64() {
                Value::from(i)
            } else if let Some(f) = v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18) {
                Value::from(f as i64)
            } else {
                return Err(mismatch("an integer"));
            }
        }
        ShapeType::Float | ShapeType::Double => match v {
            Value::Number(_) => v.clone(),
            Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => v.clone(),
            _ => return Err(mismatch("a number")),
        },
        ShapeType::Boolean => Value::Bool(v.as_bool().ok_or_else(|| mismatch("a boolean"))?),
        ShapeType::Timestamp => {
            let t = timestamp_from_value(v).ok_or_else(|| mismatch("a timestamp"))?;
            Value::String(format_iso8601(t))
        }
        ShapeType::Blob => {
            let s = v.as_str().ok_or_else(|| mismatch("base64 data"))?;
            if B64.decode(s).is_err() {
                return Err(mismatch("base64 data"));
            }
            Value::String(s.to_owned())
        }
        ShapeType::Unknown => v.clone(),
    }))
}

// ---------------------------------------------------------------- xml

fn xml_value(
    cx: &Cx<'_>,
    shape: &Shape,
    el: &Element,
    path: &str,
    depth: usize,
) -> Result<Option<Value>, AwsError> {
    if depth > MAX_DEPTH {
        return Err(AwsError::malformed(cx.protocol, "XML nested too deeply"));
    }
    Ok(Some(match shape.shape_type {
        ShapeType::Structure => {
            let mut out = Map::new();
            for (name, member) in &shape.members {
                if member.location.is_some() {
                    continue;
                }
                let target = cx.shape(&member.shape)?;
                let mpath = join_path(path, name);
                let wire = wire_name(Protocol::RestXml, name, member, target);
                if member.xml_attribute {
                    if let Some(a) = el.attr(&wire) {
                        out.insert(
                            name.clone(),
                            scalar_from_str(cx, target, a, &|| mpath.clone())?,
                        );
                    }
                    continue;
                }
                let flattened = member.flattened || target.flattened;
                if flattened && target.shape_type == ShapeType::List {
                    let elem = target
                        .member
                        .as_deref()
                        .ok_or_else(|| AwsError::internal("list without member"))?;
                    let es = cx.shape(&elem.shape)?;
                    let ename = elem.location_name.as_deref().unwrap_or(&wire);
                    let mut items = Vec::new();
                    for (i, c) in el.children_named(ename).enumerate() {
                        let p = format!("{mpath}.{}.member", i + 1);
                        if let Some(v) = xml_value(cx, es, c, &p, depth + 1)? {
                            items.push(v);
                        }
                    }
                    if !items.is_empty() {
                        out.insert(name.clone(), Value::Array(items));
                    }
                    continue;
                }
                if flattened && target.shape_type == ShapeType::Map {
                    let entries: Vec<&Element> = el.children_named(&wire).collect();
                    if !entries.is_empty() {
                        out.insert(
                            name.clone(),
                            xml_map(cx, target, &entries, &mpath, depth + 1)?,
                        );
                    }
                    continue;
                }
                let child = el.children_named(&wire).next();
                if let Some(child) = child {
                    if let Some(v) = xml_value(cx, target, child, &mpath, depth + 1)? {
                        out.insert(name.clone(), v);
                    }
                }
            }
            Value::Object(out)
        }
        ShapeType::List => {
            let elem = shape
                .member
                .as_deref()
                .ok_or_else(|| AwsError::internal("list without member"))?;
            let es = cx.shape(&elem.shape)?;
            let mut items = Vec::new();
            for (i, c) in el.children.iter().enumerate() {
                let p = format!("{path}.{}.member", i + 1);
                if let Some(v) = xml_value(cx, es, c, &p, depth + 1)? {
                    items.push(v);
                }
            }
            Value::Array(items)
        }
        ShapeType::Map => {
            let entries: Vec<&Element> = el.children.iter().collect();
            xml_map(cx, shape, &entries, path, depth + 1)?
        }
        ShapeType::Blob => Value::String(el.text.trim().to_owned()),
        ShapeType::String => Value::String(el.text.clone()),
        _ => scalar_from_str(cx, shape, el.text.trim(), &|| path.to_string())?,
    }))
}

fn xml_map(
    cx: &Cx<'_>,
    shape: &Shape,
    entries: &[&Element],
    path: &str,
    depth: usize,
) -> Result<Value, AwsError> {
    let (Some(k), Some(v)) = (shape.key.as_deref(), shape.value.as_deref()) else {
        return Err(AwsError::internal("map without key/value"));
    };
    let vs = cx.shape(&v.shape)?;
    let kname = k.location_name.as_deref().unwrap_or("key");
    let vname = v.location_name.as_deref().unwrap_or("value");
    let mut out = Map::new();
    for e in entries {
        let Some(kel) = e.children_named(kname).next() else {
            continue;
        };
        let Some(vel) = e.children_named(vname).next() else {
            continue;
        };
        if let Some(val) = xml_value(cx, vs, vel, &format!("{path}.{}", kel.text), depth)? {
            out.insert(kel.text.clone(), val);
        }
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------- rest

/// The value of header `name` in `sent` (the request's headers, names in
/// lower case as `http` keeps them), repeated values joined with commas.
/// A REST input has dozens of header members and a request sends a
/// handful: scanning the sent ones costs less than a map lookup per member.
fn header_str(sent: &[(&str, &[u8])], name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for (n, v) in sent {
        if n.len() == name.len() && n.eq_ignore_ascii_case(name) {
            let v = String::from_utf8_lossy(v);
            match out.as_mut() {
                Some(o) => {
                    o.push(',');
                    o.push_str(&v);
                }
                None => out = Some(v.into_owned()),
            }
        }
    }
    out
}

fn parse_rest(
    cx: &Cx<'_>,
    op: &Operation,
    shape: &Shape,
    req: &Request,
) -> Result<Value, AwsError> {
    let mut out = Map::new();
    let labels = uri_labels(&op.http.request_uri, req.path);
    let query = form_pairs(req.query.as_bytes());
    let bound_query: Vec<&str> = shape
        .members
        .values()
        .filter(|m| m.location == Some(Location::Querystring))
        .filter_map(|m| m.location_name.as_deref())
        .collect();
    let sent: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    for (name, member) in &shape.members {
        let wire = member.location_name.as_deref().unwrap_or(name);
        // Most members of a REST input are headers the request does not
        // send: those cost one scan of the sent headers, nothing more.
        let raw_header = match member.location {
            Some(Location::Header) => match header_str(&sent, wire) {
                Some(raw) => Some(raw),
                None => continue,
            },
            _ => None,
        };
        let target = cx.shape(&member.shape)?;
        // The member's path is only for error messages: built on demand.
        let path = || lower_camel(name);
        let value = match member.location {
            Some(Location::Uri) => match labels.iter().find(|(k, _)| k == wire) {
                Some((_, v)) => Some(scalar_from_str(cx, target, v, &path)?),
                None => None,
            },
            Some(Location::Querystring) => match target.shape_type {
                ShapeType::Map => {
                    let vs = target
                        .value
                        .as_deref()
                        .map(|v| cx.shape(&v.shape))
                        .transpose()?;
                    let multi = vs.is_some_and(|s| s.shape_type == ShapeType::List);
                    let mut m = Map::new();
                    for (k, v) in query
                        .iter()
                        .filter(|(k, _)| !bound_query.contains(&k.as_str()))
                    {
                        if multi {
                            let entry = m
                                .entry(k.clone())
                                .or_insert_with(|| Value::Array(Vec::new()));
                            if let Value::Array(a) = entry {
                                a.push(Value::String(v.clone()));
                            }
                        } else {
                            m.entry(k.clone())
                                .or_insert_with(|| Value::String(v.clone()));
                        }
                    }
                    if m.is_empty() {
                        None
                    } else {
                        Some(Value::Object(m))
                    }
                }
                ShapeType::List => {
                    let es = target
                        .member
                        .as_deref()
                        .map(|e| cx.shape(&e.shape))
                        .transpose()?;
                    let mut items = Vec::new();
                    for (_, v) in query.iter().filter(|(k, _)| k == wire) {
                        match es {
                            Some(es) => items.push(scalar_from_str(cx, es, v, &path)?),
                            None => items.push(Value::String(v.clone())),
                        }
                    }
                    if items.is_empty() {
                        None
                    } else {
                        Some(Value::Array(items))
                    }
                }
                _ => match query.iter().find(|(k, _)| k == wire) {
                    Some((_, v)) => Some(scalar_from_str(cx, target, v, &path)?),
                    None => None,
                },
            },
            Some(Location::Header) => match raw_header {
                None => None,
                Some(raw) => Some(header_value(cx, member, target, &raw, &path)?),
            },
            Some(Location::Headers) => {
                let prefix = wire.to_ascii_lowercase();
                let mut m = Map::new();
                for (hname, hval) in req.headers {
                    if let Some(suffix) = hname.as_str().strip_prefix(&prefix) {
                        m.insert(
                            suffix.to_owned(),
                            Value::String(String::from_utf8_lossy(hval.as_bytes()).into_owned()),
                        );
                    }
                }
                if m.is_empty() {
                    None
                } else {
                    Some(Value::Object(m))
                }
            }
            Some(Location::StatusCode) => None,
            None => None,
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    // Body.
    if let Some(payload) = shape.payload.as_deref() {
        if let Some(member) = shape.members.get(payload) {
            let target = cx.shape(&member.shape)?;
            match target.shape_type {
                ShapeType::Blob => {
                    if !req.body.is_empty() {
                        out.insert(payload.to_owned(), Value::String(B64.encode(req.body)));
                    }
                }
                ShapeType::String => {
                    if !req.body.is_empty() {
                        let s = std::str::from_utf8(req.body).map_err(|_| {
                            AwsError::malformed(cx.protocol, "payload is not valid UTF-8")
                        })?;
                        out.insert(payload.to_owned(), Value::String(s.to_owned()));
                    }
                }
                _ => {
                    if !req.body.iter().all(u8::is_ascii_whitespace) {
                        if let Some(v) = rest_body(cx, target, req.body, &lower_camel(payload))? {
                            out.insert(payload.to_owned(), v);
                        }
                    }
                }
            }
        }
    } else if !req.body.iter().all(u8::is_ascii_whitespace) {
        if let Some(Value::Object(body)) = rest_body(cx, shape, req.body, "")? {
            for (k, v) in body {
                out.insert(k, v);
            }
        }
    }
    Ok(Value::Object(out))
}

/// A document of `shape` that arrives outside a request's body (S3's
/// `Tagging` in a browser upload's form field), parsed as the protocol
/// parses that shape in a body.
pub fn parse_document(model: &ServiceModel, shape: &str, doc: &[u8]) -> Result<Value, AwsError> {
    let cx = Cx {
        model,
        protocol: model.info.protocol,
    };
    let shape = cx.shape(shape)?;
    Ok(rest_body(&cx, shape, doc, "")?.unwrap_or_else(|| Value::Object(Map::new())))
}

fn rest_body(
    cx: &Cx<'_>,
    shape: &Shape,
    body: &[u8],
    path: &str,
) -> Result<Option<Value>, AwsError> {
    if cx.protocol == Protocol::RestXml {
        let root = xml::parse(body).map_err(|e| {
            AwsError::malformed(
                cx.protocol,
                format!("The XML you provided was not well-formed or did not validate against our published schema ({e})"),
            )
        })?;
        xml_value(cx, shape, &root, path, 0)
    } else {
        let raw: Value = serde_json::from_slice(body)
            .map_err(|e| AwsError::malformed(cx.protocol, format!("Malformed JSON body: {e}")))?;
        json_value(cx, shape, &raw, path, 0)
    }
}

fn header_value(
    cx: &Cx<'_>,
    member: &Member,
    target: &Shape,
    raw: &str,
    path: &dyn Fn() -> String,
) -> Result<Value, AwsError> {
    if member.jsonvalue {
        let decoded = B64
            .decode(raw.trim())
            .map_err(|_| cx.type_error(&path(), raw, "base64-encoded JSON"))?;
        return serde_json::from_slice(&decoded)
            .map_err(|_| cx.type_error(&path(), raw, "base64-encoded JSON"));
    }
    if target.shape_type == ShapeType::List {
        let es = target
            .member
            .as_deref()
            .map(|e| cx.shape(&e.shape))
            .transpose()?;
        let mut items = Vec::new();
        for part in raw.split(',') {
            let part = part.trim();
            items.push(match es {
                Some(es) => scalar_from_str(cx, es, part, path)?,
                None => Value::String(part.to_owned()),
            });
        }
        return Ok(Value::Array(items));
    }
    scalar_from_str(cx, target, raw, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(
        service: &str,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(String, Value), AwsError> {
        let m = ironsage_model::model(service).expect("model");
        let mut h = http::HeaderMap::new();
        for (k, v) in headers {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        let req = Request {
            method,
            path,
            query,
            headers: &h,
            body,
        };
        let op = crate::resolve_operation(m, &req)?;
        parse_input(m, op, &req).map(|v| (op.name.clone(), v))
    }

    #[test]
    fn query_lists_and_structs() {
        let body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=sess&Tags.member.1.Key=k&Tags.member.1.Value=v+w&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fp&DurationSeconds=900";
        let (op, v) = run("sts", "POST", "/", "", &[], body).expect("parse");
        assert_eq!(op, "AssumeRole");
        assert_eq!(
            v,
            json!({"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "sess",
                   "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/p"}], "DurationSeconds": 900,
                   "Tags": [{"Key": "k", "Value": "v w"}]})
        );
    }

    #[test]
    fn query_validation_messages() {
        let e = run(
            "iam",
            "POST",
            "/",
            "",
            &[],
            b"Action=CreateRole&RoleName=x+y&AssumeRolePolicyDocument=%7B%7D",
        )
        .expect_err("invalid");
        assert_eq!(e.code, "ValidationError");
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "1 validation error detected: Value 'x y' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        let e = run("iam", "POST", "/", "", &[], b"Action=CreateRole").expect_err("missing");
        assert_eq!(
            e.message,
            "2 validation errors detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null; Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"
        );
        let e = run("sts", "POST", "/", "", &[], b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=sess&DurationSeconds=1").expect_err("range");
        assert_eq!(
            e.message,
            "1 validation error detected: Value '1' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        );
        let e = run(
            "iam",
            "POST",
            "/",
            "",
            &[],
            b"Action=ListRoles&MaxItems=abc",
        )
        .expect_err("type");
        assert_eq!(e.code, "ValidationError");
    }

    #[test]
    fn query_empty_list_and_get() {
        let (_, v) = run(
            "iam",
            "GET",
            "/",
            "Action=ListRoles&PathPrefix=%2Fa%2F",
            &[],
            b"",
        )
        .expect("parse");
        assert_eq!(v, json!({"PathPrefix": "/a/"}));
        let (_, v) = run(
            "cloudformation",
            "POST",
            "/",
            "",
            &[],
            b"Action=CreateStack&StackName=s&TemplateBody=x&Capabilities=",
        )
        .expect("parse");
        assert_eq!(v["Capabilities"], json!([]));
    }

    #[test]
    fn ec2_lists() {
        let body = b"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=tag%3AName&Filter.1.Value.1=a&Filter.1.Value.2=b&VpcId.1=vpc-1";
        let (_, v) = run("ec2", "POST", "/", "", &[], body).expect("parse");
        assert_eq!(
            v,
            json!({"Filters": [{"Name": "tag:Name", "Values": ["a", "b"]}], "VpcIds": ["vpc-1"]})
        );
        let e = run("ec2", "POST", "/", "", &[], b"Action=CreateSubnet").expect_err("missing");
        assert_eq!(e.code, "MissingParameter");
        assert_eq!(e.message, "The request must contain the parameter VpcId");
    }

    #[test]
    fn json_parse_and_validate() {
        let t = [("x-amz-target", "TrentService.CreateKey")];
        let (_, v) = run(
            "kms",
            "POST",
            "/",
            "",
            &t,
            br#"{"Tags":[{"TagKey":"a","TagValue":"b"}],"KeyUsage":"ENCRYPT_DECRYPT"}"#,
        )
        .expect("parse");
        assert_eq!(
            v,
            json!({"KeyUsage": "ENCRYPT_DECRYPT", "Tags": [{"TagKey": "a", "TagValue": "b"}]})
        );
        let e = run("kms", "POST", "/", "", &t, br#"{"KeyUsage":"NOPE"}"#).expect_err("enum");
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.starts_with("1 validation error detected: Value 'NOPE' at 'keyUsage' failed to satisfy constraint: Member must satisfy enum value set: ["), "{}", e.message);
        let e = run("kms", "POST", "/", "", &t, b"{not json").expect_err("bad json");
        assert_eq!(e.code, "SerializationException");
        let e = run("kms", "POST", "/", "", &t, br#"{"KeyUsage":5}"#).expect_err("type");
        assert_eq!(e.code, "SerializationException");
        let t = [("x-amz-target", "TrentService.Encrypt")];
        let e =
            run("kms", "POST", "/", "", &t, br#"{"Plaintext":"aGk="}"#).expect_err("missing key");
        assert_eq!(e.message, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    }

    #[test]
    fn rest_xml_s3() {
        let body = br#"<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"#;
        let (op, v) = run("s3", "PUT", "/bkt", "tagging", &[], body).expect("parse");
        assert_eq!(op, "PutBucketTagging");
        assert_eq!(
            v,
            json!({"Bucket": "bkt", "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}})
        );
        let (op, v) = run(
            "s3",
            "PUT",
            "/bkt/dir/a%20b.txt",
            "",
            &[("x-amz-meta-color", "red"), ("content-type", "text/plain")],
            b"hi",
        )
        .expect("parse");
        assert_eq!(op, "PutObject");
        assert_eq!(
            v,
            json!({"Bucket": "bkt", "ContentType": "text/plain", "Key": "dir/a b.txt", "Metadata": {"color": "red"}, "Body": "aGk="})
        );
        let e =
            run("s3", "PUT", "/bkt", "tagging", &[], b"<Tagging><TagSet>").expect_err("bad xml");
        assert_eq!(e.code, "MalformedXML");
        let (_, v) = run(
            "s3",
            "GET",
            "/bkt",
            "list-type=2&max-keys=5&prefix=a%2F",
            &[],
            b"",
        )
        .expect("parse");
        assert_eq!(v, json!({"Bucket": "bkt", "MaxKeys": 5, "Prefix": "a/"}));
    }

    #[test]
    fn rest_json_lambda() {
        let body = br#"{"FunctionName":"f","Runtime":"python3.12","Role":"arn:aws:iam::123456789012:role/r","Handler":"h.h","Code":{"ZipFile":"UEs="}}"#;
        let (op, v) = run("lambda", "POST", "/2015-03-31/functions", "", &[], body).expect("parse");
        assert_eq!(op, "CreateFunction");
        assert_eq!(v["Code"], json!({"ZipFile": "UEs="}));
        let (op, v) = run(
            "lambda",
            "GET",
            "/2015-03-31/functions/my-fn",
            "Qualifier=1",
            &[],
            b"",
        )
        .expect("parse");
        assert_eq!(op, "GetFunction");
        assert_eq!(v, json!({"FunctionName": "my-fn", "Qualifier": "1"}));
    }
}
