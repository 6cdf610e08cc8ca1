//! YAML loader built on saphyr-parser events, with CloudFormation's rules:
//! short-form tags become long-form intrinsics, key order is kept, duplicate
//! keys / aliases / anchors / merge keys are rejected, and scalars are resolved
//! by us (quoted → string; `2012-10-17` stays a string; no timestamps).

use indexmap::IndexMap;
use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan, Tag};

use crate::error::{Span, TemplateError};
use crate::node::{Node, NodeKind};

/// Maximum nesting depth accepted (protects the recursive evaluators).
pub const MAX_DEPTH: usize = 256;

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        tag: Option<String>,
    },
    Map {
        map: IndexMap<String, Node>,
        key: Option<(String, Span)>,
        span: Span,
        tag: Option<String>,
    },
}

fn span_of(s: &YSpan) -> Span {
    Span::new(
        u32::try_from(s.start.line()).unwrap_or(u32::MAX),
        u32::try_from(s.start.col() + 1).unwrap_or(u32::MAX),
    )
}

fn fmt_err(msg: impl AsRef<str>, span: Span) -> TemplateError {
    TemplateError::format(msg, span)
}

/// What a tag means for the loader.
enum TagKind {
    None,
    /// `!Ref`, `!Condition`, `!Sub` ... → the long-form key.
    Intrinsic(String),
    /// `!!str`, `!!int` ... core schema tags.
    Core(String),
}

fn classify_tag(tag: Option<&Tag>, span: Span) -> Result<TagKind, TemplateError> {
    let Some(tag) = tag else {
        return Ok(TagKind::None);
    };
    if tag.handle == "!" && !tag.suffix.is_empty() {
        let key = match tag.suffix.as_str() {
            "Ref" | "Condition" => tag.suffix.clone(),
            other => format!("Fn::{other}"),
        };
        return Ok(TagKind::Intrinsic(key));
    }
    let core = if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
        Some(tag.suffix.as_str())
    } else {
        None
    };
    match core {
        Some(s @ ("str" | "int" | "float" | "bool" | "null" | "map" | "seq")) => {
            Ok(TagKind::Core(s.to_string()))
        }
        Some(other) => Err(fmt_err(
            format!("YAML tag !!{other} is not supported by CloudFormation"),
            span,
        )),
        None => Err(fmt_err(
            format!("unsupported YAML tag '{}{}'", tag.handle, tag.suffix),
            span,
        )),
    }
}

/// Resolve a plain scalar the CloudFormation way.
pub fn resolve_plain(s: &str) -> NodeKind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        _ => {}
    }
    if is_int(s) {
        if let Ok(i) = s.parse::<i64>() {
            return NodeKind::Int(i);
        }
        // Too big for i64: keep the digits as written.
        return NodeKind::Str(s.to_string());
    }
    if is_float(s) {
        if let Ok(f) = s.parse::<f64>() {
            if f.is_finite() {
                return NodeKind::Float(f);
            }
        }
    }
    NodeKind::Str(s.to_string())
}

fn is_int(s: &str) -> bool {
    let d = s.strip_prefix(['-', '+']).unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && (d == "0" || !d.starts_with('0'))
}

fn is_float(s: &str) -> bool {
    let d = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match d.find(['e', 'E']) {
        Some(i) => (&d[..i], Some(&d[i + 1..])),
        None => (d, None),
    };
    if let Some(e) = exp {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let (ip, fp) = match mant.find('.') {
        Some(i) => (&mant[..i], Some(&mant[i + 1..])),
        None => (mant, None),
    };
    if !ip.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    // Leading zeros ("012.5") stay strings, like account ids.
    if ip.len() > 1 && ip.starts_with('0') {
        return false;
    }
    match fp {
        Some(f) => f.bytes().all(|b| b.is_ascii_digit()) && !(ip.is_empty() && f.is_empty()),
        None => !ip.is_empty() && exp.is_some(),
    }
}

fn scalar_node(
    value: &str,
    style: ScalarStyle,
    tag: TagKind,
    span: Span,
) -> Result<Node, TemplateError> {
    match tag {
        TagKind::None => {
            let kind = if style == ScalarStyle::Plain {
                resolve_plain(value)
            } else {
                NodeKind::Str(value.to_string())
            };
            Ok(Node::new(kind, span))
        }
        TagKind::Core(c) => {
            let kind = match c.as_str() {
                "str" => NodeKind::Str(value.to_string()),
                "int" | "float" | "bool" | "null" => {
                    let k = resolve_plain(value);
                    let ok = matches!(
                        (&k, c.as_str()),
                        (NodeKind::Int(_), "int")
                            | (NodeKind::Int(_) | NodeKind::Float(_), "float")
                            | (NodeKind::Bool(_), "bool")
                            | (NodeKind::Null, "null")
                    );
                    if !ok {
                        return Err(fmt_err(format!("'{value}' is not a valid !!{c}"), span));
                    }
                    k
                }
                _ => return Err(fmt_err(format!("!!{c} cannot tag a scalar"), span)),
            };
            Ok(Node::new(kind, span))
        }
        TagKind::Intrinsic(key) => {
            let arg = if key == "Fn::GetAtt" {
                let parts: Vec<Node> = match value.split_once('.') {
                    Some((a, b)) => vec![Node::str(a, span), Node::str(b, span)],
                    None => vec![Node::str(value, span)],
                };
                Node::new(NodeKind::Seq(parts), span)
            } else {
                Node::str(value, span)
            };
            Ok(wrap(key, arg, span))
        }
    }
}

fn wrap(key: String, arg: Node, span: Span) -> Node {
    let mut m = IndexMap::new();
    m.insert(key, arg);
    Node::new(NodeKind::Map(m), span)
}

fn apply_tag(node: Node, tag: Option<String>) -> Node {
    match tag {
        Some(key) => {
            let span = node.span;
            wrap(key, node, span)
        }
        None => node,
    }
}

fn collection_tag(
    tag: Option<&Tag>,
    span: Span,
    want: &str,
) -> Result<Option<String>, TemplateError> {
    match classify_tag(tag, span)? {
        TagKind::None => Ok(None),
        TagKind::Intrinsic(k) => Ok(Some(k)),
        TagKind::Core(c) if c == want => Ok(None),
        TagKind::Core(c) => Err(fmt_err(format!("!!{c} cannot tag a {want}"), span)),
    }
}

/// Parse YAML text into a `Node` tree.
pub fn load_yaml(text: &str) -> Result<Node, TemplateError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut docs = 0usize;
    for ev in Parser::new_from_str(text) {
        let (ev, yspan) = ev.map_err(|e| {
            let m = e.marker();
            fmt_err(
                format!("YAML not well-formed. {}", e.info()),
                Span::new(
                    u32::try_from(m.line()).unwrap_or(u32::MAX),
                    u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                ),
            )
        })?;
        let span = span_of(&yspan);
        let completed: Option<Node> = match ev {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(fmt_err(
                        "YAML not well-formed. A template must contain a single YAML document",
                        span,
                    ));
                }
                None
            }
            Event::Alias(_) => {
                return Err(fmt_err(
                    "YAML aliases are not supported by CloudFormation",
                    span,
                ))
            }
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 {
                    return Err(fmt_err(
                        "YAML anchors are not supported by CloudFormation",
                        span,
                    ));
                }
                // Map key position?
                if let Some(Frame::Map {
                    key: k @ None, map, ..
                }) = stack.last_mut()
                {
                    if tag.is_some() {
                        return Err(fmt_err("a mapping key cannot carry a tag", span));
                    }
                    let key = value.to_string();
                    if key == "<<" && style == ScalarStyle::Plain {
                        return Err(fmt_err(
                            "YAML merge keys (<<) are not supported by CloudFormation",
                            span,
                        ));
                    }
                    if map.contains_key(&key) {
                        return Err(fmt_err(format!("Duplicate key '{key}' found"), span));
                    }
                    *k = Some((key, span));
                    continue;
                }
                let t = classify_tag(tag.as_deref(), span)?;
                Some(scalar_node(&value, style, t, span)?)
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) if anchor != 0 => {
                let _ = tag;
                return Err(fmt_err(
                    "YAML anchors are not supported by CloudFormation",
                    span,
                ));
            }
            Event::SequenceStart(_, tag) => {
                check_not_key(&stack, span)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(fmt_err("template nesting is too deep", span));
                }
                let tag = collection_tag(tag.as_deref(), span, "seq")?;
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    span,
                    tag,
                });
                None
            }
            Event::MappingStart(_, tag) => {
                check_not_key(&stack, span)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(fmt_err("template nesting is too deep", span));
                }
                let tag = collection_tag(tag.as_deref(), span, "map")?;
                stack.push(Frame::Map {
                    map: IndexMap::new(),
                    key: None,
                    span,
                    tag,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq { items, span, tag }) => {
                    Some(apply_tag(Node::new(NodeKind::Seq(items), span), tag))
                }
                _ => return Err(fmt_err("YAML not well-formed. unbalanced sequence", span)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map { map, span, tag, .. }) => {
                    Some(apply_tag(Node::new(NodeKind::Map(map), span), tag))
                }
                _ => return Err(fmt_err("YAML not well-formed. unbalanced mapping", span)),
            },
        };
        if let Some(node) = completed {
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { map, key, .. }) => match key.take() {
                    Some((k, _)) => {
                        map.insert(k, node);
                    }
                    None => {
                        return Err(fmt_err(
                            "YAML not well-formed. mapping keys must be strings",
                            node.span,
                        ))
                    }
                },
            }
        }
    }
    root.ok_or_else(|| fmt_err("template is empty", Span::new(1, 1)))
}

fn check_not_key(stack: &[Frame], span: Span) -> Result<(), TemplateError> {
    if let Some(Frame::Map { key: None, .. }) = stack.last() {
        return Err(fmt_err(
            "YAML not well-formed. mapping keys must be strings",
            span,
        ));
    }
    Ok(())
}
