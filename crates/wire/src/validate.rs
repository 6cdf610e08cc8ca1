//! Generic input validation with AWS-formatted messages.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use ironsage_model::{Protocol, Shape, ShapeType};
use regex::Regex;
use serde_json::Value;

use crate::input::{lower_camel, wire_name, Cx};
use crate::{AwsError, MAX_DEPTH};

struct Violation {
    message: String,
    /// Wire name of a missing member (ec2 `MissingParameter`).
    missing: Option<String>,
}

type RegexCache = Mutex<HashMap<String, Option<Regex>>>;

/// A compiled, anchored version of a botocore pattern, or None if `regex` cannot compile it.
fn pattern(p: &str) -> Option<Regex> {
    static CACHE: OnceLock<RegexCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(r) = guard.get(p) {
        return r.clone();
    }
    let compiled = regex::RegexBuilder::new(&format!("^(?:{p})$"))
        .size_limit(1 << 22)
        .build()
        .ok();
    guard.insert(p.to_owned(), compiled.clone());
    compiled
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e18 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Validates `value` against `shape`; returns the protocol's validation error.
pub(crate) fn validate(cx: &Cx<'_>, shape: &Shape, value: &Value) -> Result<(), AwsError> {
    let mut out = Vec::new();
    walk(cx, shape, value, &Path::Root, 0, &mut out)?;
    let Some(first) = out.first() else {
        return Ok(());
    };
    match cx.protocol {
        Protocol::Ec2 | Protocol::RestXml => {
            if let Some(wire) = &first.missing {
                return Err(AwsError::missing_parameter(
                    cx.protocol,
                    wire,
                    first.message.clone(),
                ));
            }
            Err(AwsError::validation(cx.protocol, first.message.clone()))
        }
        _ => {
            let n = out.len();
            let joined = out
                .iter()
                .map(|v| v.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let noun = if n == 1 { "error" } else { "errors" };
            Err(AwsError::validation(
                cx.protocol,
                format!("{n} validation {noun} detected: {joined}"),
            ))
        }
    }
}

/// Where a value sits in the input (`tags.1.member.key`), rendered only
/// when a violation needs it.
enum Path<'a> {
    Root,
    /// A structure member (rendered lowerCamel).
    Member(&'a Path<'a>, &'a str),
    /// A list element (0-based here, 1-based rendered).
    Item(&'a Path<'a>, usize),
    /// A map value.
    Key(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(Path::Root, name) => f.write_str(&lower_camel(name)),
            Path::Member(p, name) => write!(f, "{p}.{}", lower_camel(name)),
            Path::Item(p, i) => write!(f, "{p}.{}.member", i + 1),
            Path::Key(p, k) => write!(f, "{p}.{k}"),
        }
    }
}

fn walk(
    cx: &Cx<'_>,
    shape: &Shape,
    value: &Value,
    path: &Path<'_>,
    depth: usize,
    out: &mut Vec<Violation>,
) -> Result<(), AwsError> {
    if depth > MAX_DEPTH {
        return Err(AwsError::malformed(cx.protocol, "Input nested too deeply"));
    }
    let shown = |v: &Value| {
        if shape.sensitive {
            format!("Value at '{path}'")
        } else {
            format!("Value '{}' at '{path}'", render(v))
        }
    };
    let fail = |out: &mut Vec<Violation>, v: &Value, what: String| {
        out.push(Violation {
            message: format!(
                "{} failed to satisfy constraint: Member must {what}",
                shown(v)
            ),
            missing: None,
        });
    };
    match shape.shape_type {
        ShapeType::Structure => {
            let Some(obj) = value.as_object() else {
                return Ok(());
            };
            // The members to check, in model order (violations are
            // reported so): the ones the input holds and the required ones
            // it lacks. Absent optional members (most of a REST input)
            // cost nothing.
            let mut todo: Vec<(usize, &str, &ironsage_model::Member, Option<&Value>)> = obj
                .iter()
                .filter(|(_, v)| !v.is_null())
                .filter_map(|(k, v)| {
                    let (i, name, m) = shape.members.get_full(k.as_str())?;
                    Some((i, name.as_str(), m, Some(v)))
                })
                .collect();
            for r in &shape.required {
                if obj.get(r).is_none_or(Value::is_null) {
                    if let Some((i, name, m)) = shape.members.get_full(r.as_str()) {
                        todo.push((i, name.as_str(), m, None));
                    }
                }
            }
            todo.sort_unstable_by_key(|t| t.0);
            for (_, name, member, present) in todo {
                let target = cx.shape(&member.shape)?;
                let mpath = Path::Member(path, name);
                match present {
                    Some(v) => walk(cx, target, v, &mpath, depth + 1, out)?,
                    None => {
                        let wire = wire_name(cx.protocol, name, member, target).into_owned();
                        out.push(Violation {
                            message: format!(
                                "Value null at '{mpath}' failed to satisfy constraint: Member must not be null"
                            ),
                            missing: Some(wire),
                        });
                    }
                }
            }
        }
        ShapeType::List => {
            let Some(items) = value.as_array() else {
                return Ok(());
            };
            check_len(shape, items.len(), value, &fail, out);
            if let Some(elem) = shape.member.as_deref() {
                let es = cx.shape(&elem.shape)?;
                for (i, item) in items.iter().enumerate() {
                    walk(cx, es, item, &Path::Item(path, i), depth + 1, out)?;
                }
            }
        }
        ShapeType::Map => {
            let Some(m) = value.as_object() else {
                return Ok(());
            };
            check_len(shape, m.len(), value, &fail, out);
            if let (Some(k), Some(v)) = (shape.key.as_deref(), shape.value.as_deref()) {
                let (ks, vs) = (cx.shape(&k.shape)?, cx.shape(&v.shape)?);
                for (key, item) in m {
                    walk(cx, ks, &Value::String(key.clone()), path, depth + 1, out)?;
                    walk(cx, vs, item, &Path::Key(path, key), depth + 1, out)?;
                }
            }
        }
        ShapeType::String => {
            let Some(s) = value.as_str() else {
                return Ok(());
            };
            check_len(shape, s.chars().count(), value, &fail, out);
            if let Some(p) = shape.pattern.as_deref() {
                if let Some(re) = pattern(p) {
                    if !re.is_match(s) {
                        fail(
                            out,
                            value,
                            format!("satisfy regular expression pattern: {p}"),
                        );
                    }
                }
            }
            if !shape.enum_values.is_empty() && !shape.enum_values.iter().any(|e| e == s) {
                fail(
                    out,
                    value,
                    format!("satisfy enum value set: [{}]", shape.enum_values.join(", ")),
                );
            }
        }
        ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double => {
            let Some(n) = value.as_f64() else {
                return Ok(());
            };
            if let Some(min) = shape.min {
                if n < min {
                    fail(
                        out,
                        value,
                        format!("have value greater than or equal to {}", fmt_num(min)),
                    );
                }
            }
            if let Some(max) = shape.max {
                if n > max {
                    fail(
                        out,
                        value,
                        format!("have value less than or equal to {}", fmt_num(max)),
                    );
                }
            }
        }
        ShapeType::Blob => {
            // Length constraints on blobs apply to the decoded bytes.
            if let Some(s) = value.as_str() {
                use base64::Engine;
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
                    if shape.min.is_some_and(|m| (bytes.len() as f64) < m)
                        || shape.max.is_some_and(|m| (bytes.len() as f64) > m)
                    {
                        let bound = if shape.min.is_some_and(|m| (bytes.len() as f64) < m) {
                            format!(
                                "have length greater than or equal to {}",
                                fmt_num(shape.min.unwrap_or_default())
                            )
                        } else {
                            format!(
                                "have length less than or equal to {}",
                                fmt_num(shape.max.unwrap_or_default())
                            )
                        };
                        out.push(Violation {
                            message: format!("Value at '{path}' failed to satisfy constraint: Member must {bound}"),
                            missing: None,
                        });
                    }
                }
            }
        }
        ShapeType::Boolean | ShapeType::Timestamp | ShapeType::Unknown => {}
    }
    Ok(())
}

fn check_len(
    shape: &Shape,
    len: usize,
    value: &Value,
    fail: &dyn Fn(&mut Vec<Violation>, &Value, String),
    out: &mut Vec<Violation>,
) {
    let len = len as f64;
    if let Some(min) = shape.min {
        if len < min {
            fail(
                out,
                value,
                format!("have length greater than or equal to {}", fmt_num(min)),
            );
        }
    }
    if let Some(max) = shape.max {
        if len > max {
            fail(
                out,
                value,
                format!("have length less than or equal to {}", fmt_num(max)),
            );
        }
    }
}
