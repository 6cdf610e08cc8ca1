//! Request context: condition keys and their values.

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

/// One value of a context key.
#[derive(Debug, Clone, PartialEq)]
pub enum ContextValue {
    String(String),
    Bool(bool),
    Number(f64),
    /// A point in time (e.g. `aws:CurrentTime`).
    Date(time::OffsetDateTime),
    Ip(IpAddr),
    /// Base64 text, compared literally by `BinaryEquals`.
    Binary(String),
}

impl ContextValue {
    /// The string form used by string operators and policy variables.
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            ContextValue::String(s) | ContextValue::Binary(s) => Cow::Borrowed(s),
            ContextValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            ContextValue::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    Cow::Owned(format!("{}", *n as i64))
                } else {
                    Cow::Owned(n.to_string())
                }
            }
            ContextValue::Date(d) => Cow::Owned(
                d.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ),
            ContextValue::Ip(ip) => Cow::Owned(ip.to_string()),
        }
    }
}

impl From<&str> for ContextValue {
    fn from(s: &str) -> Self {
        ContextValue::String(s.to_string())
    }
}
impl From<String> for ContextValue {
    fn from(s: String) -> Self {
        ContextValue::String(s)
    }
}
impl From<bool> for ContextValue {
    fn from(b: bool) -> Self {
        ContextValue::Bool(b)
    }
}
impl From<f64> for ContextValue {
    fn from(n: f64) -> Self {
        ContextValue::Number(n)
    }
}
impl From<i64> for ContextValue {
    fn from(n: i64) -> Self {
        ContextValue::Number(n as f64)
    }
}
impl From<IpAddr> for ContextValue {
    fn from(ip: IpAddr) -> Self {
        ContextValue::Ip(ip)
    }
}
impl From<time::OffsetDateTime> for ContextValue {
    fn from(d: time::OffsetDateTime) -> Self {
        ContextValue::Date(d)
    }
}

/// A context key's values. `multi` records whether the key is multivalued
/// (e.g. `aws:TagKeys`); a multivalued key may hold zero values.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextEntry {
    pub key: String,
    pub values: Vec<ContextValue>,
    pub multi: bool,
}

/// Condition keys of a request. Keys are case-insensitive (stored
/// lower-cased); values keep their case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    entries: HashMap<String, ContextEntry>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Set a single-valued key (replacing any previous value).
    pub fn insert(&mut self, key: &str, value: impl Into<ContextValue>) {
        self.entries.insert(
            key.to_ascii_lowercase(),
            ContextEntry {
                key: key.to_string(),
                values: vec![value.into()],
                multi: false,
            },
        );
    }

    /// Set a multivalued key (replacing any previous value).
    pub fn insert_multi<V: Into<ContextValue>>(
        &mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) {
        self.entries.insert(
            key.to_ascii_lowercase(),
            ContextEntry {
                key: key.to_string(),
                values: values.into_iter().map(Into::into).collect(),
                multi: true,
            },
        );
    }

    /// Builder form of [`Context::insert`].
    pub fn with(mut self, key: &str, value: impl Into<ContextValue>) -> Self {
        self.insert(key, value);
        self
    }

    /// Builder form of [`Context::insert_multi`].
    pub fn with_multi<V: Into<ContextValue>>(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.insert_multi(key, values);
        self
    }

    pub fn remove(&mut self, key: &str) -> Option<ContextEntry> {
        self.entries.remove(&key.to_ascii_lowercase())
    }

    /// Look a key up case-insensitively.
    pub fn get(&self, key: &str) -> Option<&ContextEntry> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.entries.get(&key.to_ascii_lowercase())
        } else {
            self.entries.get(key)
        }
    }

    /// Look up an already lower-cased key.
    pub(crate) fn get_lc(&self, key_lc: &str) -> Option<&ContextEntry> {
        self.entries.get(key_lc)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ContextEntry> {
        self.entries.values()
    }
}
