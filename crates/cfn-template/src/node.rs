//! The loaded template tree: YAML and JSON both become `Node`s with positions.

use indexmap::IndexMap;
use serde_json::Value;

pub use crate::error::Span;

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(IndexMap<String, Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

impl Node {
    pub fn new(kind: NodeKind, span: Span) -> Node {
        Node { kind, span }
    }
    pub fn str(s: impl Into<String>, span: Span) -> Node {
        Node::new(NodeKind::Str(s.into()), span)
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&IndexMap<String, Node>> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }
    /// A scalar rendered as CloudFormation renders it in string contexts.
    pub fn scalar_string(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(float_to_string(*f)),
            NodeKind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    /// If this is a single-key map whose key is an intrinsic function
    /// (`Ref`, `Condition` or `Fn::*`), return (name, argument).
    pub fn as_intrinsic(&self) -> Option<(&str, &Node)> {
        let m = self.as_map()?;
        if m.len() != 1 {
            return None;
        }
        let (k, v) = m.iter().next()?;
        if k == "Ref" || k.starts_with("Fn::") {
            Some((k.as_str(), v))
        } else {
            None
        }
    }
    /// Plain JSON (no evaluation).
    pub fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(f.to_string())),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(s) => Value::Array(s.iter().map(Node::to_json).collect()),
            NodeKind::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect::<serde_json::Map<_, _>>(),
            ),
        }
    }
    /// Build a node tree (without positions) from JSON.
    pub fn from_json(v: &Value) -> Node {
        from_json_span(v, Span::NONE)
    }
    /// Short description of the node's type for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Int(_) | NodeKind::Float(_) => "number",
            NodeKind::Str(_) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "object",
        }
    }
}

pub(crate) fn from_json_span(v: &Value, span: Span) -> Node {
    let kind = match v {
        Value::Null => NodeKind::Null,
        Value::Bool(b) => NodeKind::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                NodeKind::Int(i)
            } else {
                NodeKind::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => NodeKind::Str(s.clone()),
        Value::Array(a) => NodeKind::Seq(a.iter().map(|x| from_json_span(x, span)).collect()),
        Value::Object(o) => NodeKind::Map(
            o.iter()
                .map(|(k, x)| (k.clone(), from_json_span(x, span)))
                .collect(),
        ),
    };
    Node::new(kind, span)
}

/// Render a float the way CloudFormation stringifies numbers (`1.5`, `2`).
pub fn float_to_string(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}
