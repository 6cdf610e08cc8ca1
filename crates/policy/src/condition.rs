//! Condition operators (AWS "IAM JSON policy elements: Condition operators")
//! and their evaluation against a request context.
//!
//! Semantics implemented (all from the AWS page above):
//! * values of one key are OR-ed; keys and operators of a block are AND-ed;
//! * a key missing from the context makes a positive operator false and a
//!   negated operator (`StringNotEquals`, `ArnNotLike`, `NotIpAddress`, ...)
//!   true; `...IfExists` makes a missing key true; `Null` tests presence;
//! * `ForAllValues:` is true when the key is missing or empty, otherwise
//!   every request value must satisfy the operator; `ForAnyValue:` is false
//!   when the key is missing or empty, otherwise at least one request value
//!   must satisfy it. For a negated operator a request value "satisfies" it
//!   when it matches none of the policy values.

use std::net::IpAddr;

use crate::context::{Context, ContextEntry, ContextValue};
use crate::eval::Principal;
use crate::glob::{ArnPattern, Pattern};
use crate::vars::{parse_template, Template};

/// Operator without its set qualifier or `IfExists` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseOp {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const OPS: &[(&str, BaseOp)] = &[
    ("StringEquals", BaseOp::StringEquals),
    ("StringNotEquals", BaseOp::StringNotEquals),
    ("StringEqualsIgnoreCase", BaseOp::StringEqualsIgnoreCase),
    (
        "StringNotEqualsIgnoreCase",
        BaseOp::StringNotEqualsIgnoreCase,
    ),
    ("StringLike", BaseOp::StringLike),
    ("StringNotLike", BaseOp::StringNotLike),
    ("NumericEquals", BaseOp::NumericEquals),
    ("NumericNotEquals", BaseOp::NumericNotEquals),
    ("NumericLessThan", BaseOp::NumericLessThan),
    ("NumericLessThanEquals", BaseOp::NumericLessThanEquals),
    ("NumericGreaterThan", BaseOp::NumericGreaterThan),
    ("NumericGreaterThanEquals", BaseOp::NumericGreaterThanEquals),
    ("DateEquals", BaseOp::DateEquals),
    ("DateNotEquals", BaseOp::DateNotEquals),
    ("DateLessThan", BaseOp::DateLessThan),
    ("DateLessThanEquals", BaseOp::DateLessThanEquals),
    ("DateGreaterThan", BaseOp::DateGreaterThan),
    ("DateGreaterThanEquals", BaseOp::DateGreaterThanEquals),
    ("Bool", BaseOp::Bool),
    ("BinaryEquals", BaseOp::BinaryEquals),
    ("IpAddress", BaseOp::IpAddress),
    ("NotIpAddress", BaseOp::NotIpAddress),
    ("ArnEquals", BaseOp::ArnEquals),
    ("ArnLike", BaseOp::ArnLike),
    ("ArnNotEquals", BaseOp::ArnNotEquals),
    ("ArnNotLike", BaseOp::ArnNotLike),
    ("Null", BaseOp::Null),
];

impl BaseOp {
    /// The positive operator and whether `self` is its negation.
    pub fn positive(self) -> (BaseOp, bool) {
        use BaseOp::*;
        match self {
            StringNotEquals => (StringEquals, true),
            StringNotEqualsIgnoreCase => (StringEqualsIgnoreCase, true),
            StringNotLike => (StringLike, true),
            NumericNotEquals => (NumericEquals, true),
            DateNotEquals => (DateEquals, true),
            NotIpAddress => (IpAddress, true),
            ArnNotEquals => (ArnEquals, true),
            ArnNotLike => (ArnLike, true),
            other => (other, false),
        }
    }

    pub fn name(self) -> &'static str {
        OPS.iter()
            .find(|(_, o)| *o == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// `ForAllValues:` / `ForAnyValue:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    Single,
    ForAllValues,
    ForAnyValue,
}

/// A fully parsed condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    pub base: BaseOp,
    pub qualifier: SetQualifier,
    pub if_exists: bool,
}

impl Operator {
    /// Parse an operator name; `None` for an unknown operator (IAM rejects
    /// the policy with "Syntax errors in policy.").
    pub fn parse(name: &str) -> Option<Operator> {
        let (qualifier, rest) = if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else {
            (SetQualifier::Single, name)
        };
        let lookup = |n: &str| {
            OPS.iter()
                .find(|(o, _)| o.eq_ignore_ascii_case(n))
                .map(|(_, b)| *b)
        };
        if let Some(b) = lookup(rest) {
            return Some(Operator {
                base: b,
                qualifier,
                if_exists: false,
            });
        }
        let lower = rest.to_ascii_lowercase();
        let stem = lower.strip_suffix("ifexists")?;
        let b = lookup(stem)?;
        if b == BaseOp::Null {
            return None;
        }
        Some(Operator {
            base: b,
            qualifier,
            if_exists: true,
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    pub(crate) fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                (u32::from(n) & mask) == (u32::from(*i) & mask)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                (u128::from(n) & mask) == (u128::from(*i) & mask)
            }
            _ => false,
        }
    }
}

/// Parse an IAM date: epoch seconds or ISO 8601 (date, date-time with or
/// without offset, fractional seconds). Returns Unix nanoseconds.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s[1..].contains('-')
    {
        let f: f64 = s.parse().ok()?;
        return Some((f * 1e9) as i128);
    }
    if let Ok(d) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Some(d.unix_timestamp_nanos());
    }
    if let Ok(d) = time::OffsetDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(d.unix_timestamp_nanos());
    }
    if let Ok(d) = time::PrimitiveDateTime::parse(s, &Iso8601::DEFAULT) {
        return Some(d.assume_utc().unix_timestamp_nanos());
    }
    if let Ok(d) = time::Date::parse(s, &Iso8601::DEFAULT) {
        return Some(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    None
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A policy value compiled for its (positive) operator.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Compiled {
    Str(String),
    Glob(Pattern),
    Num(Option<f64>),
    Date(Option<i128>),
    Ip(Option<Cidr>),
    Bool(Option<bool>),
    Arn(ArnPattern),
}

fn compile(op: BaseOp, raw: &str) -> Compiled {
    use BaseOp::*;
    match op {
        StringLike => Compiled::Glob(Pattern::new(raw)),
        NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => Compiled::Num(raw.trim().parse().ok()),
        DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => Compiled::Date(parse_date(raw)),
        IpAddress => Compiled::Ip(Cidr::parse(raw)),
        Bool | Null => Compiled::Bool(parse_bool(raw)),
        ArnEquals | ArnLike => Compiled::Arn(ArnPattern::new(raw)),
        _ => Compiled::Str(raw.to_string()),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CondValue {
    pub(crate) raw: String,
    tmpl: Option<Template>,
    compiled: Compiled,
}

/// One `operator → key → values` triple of a `Condition` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub(crate) op_name: String,
    pub(crate) op: Operator,
    pos: BaseOp,
    negated: bool,
    pub(crate) key: String,
    key_lc: String,
    pub(crate) values: Vec<CondValue>,
}

impl Condition {
    pub(crate) fn new(
        op_name: &str,
        op: Operator,
        key: &str,
        raw_values: Vec<String>,
        variables: bool,
    ) -> Condition {
        let (pos, negated) = op.base.positive();
        let values = raw_values
            .into_iter()
            .map(|raw| {
                let tmpl = if variables && op.base != BaseOp::Null {
                    parse_template(&raw)
                } else {
                    None
                };
                let compiled = compile(pos, &raw);
                CondValue {
                    raw,
                    tmpl,
                    compiled,
                }
            })
            .collect();
        Condition {
            op_name: op_name.to_string(),
            op,
            pos,
            negated,
            key: key.to_string(),
            key_lc: key.to_ascii_lowercase(),
            values,
        }
    }

    pub fn operator(&self) -> Operator {
        self.op
    }
    pub fn operator_name(&self) -> &str {
        &self.op_name
    }
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|v| v.raw.as_str())
    }

    /// Evaluate against the request context.
    pub(crate) fn eval(&self, principal: &Principal, ctx: &Context) -> bool {
        let entry = ctx.get_lc(&self.key_lc);
        let present = entry.is_some_and(|e| !e.values.is_empty());
        if self.op.base == BaseOp::Null {
            // {"Null": {"k": "true"}} ⇒ key absent; "false" ⇒ present.
            return self.values.iter().any(|v| match v.compiled {
                Compiled::Bool(Some(b)) => b != present,
                _ => false,
            });
        }
        let entry = match entry {
            Some(e) if present => e,
            _ => {
                return match self.op.qualifier {
                    SetQualifier::ForAllValues => true,
                    SetQualifier::ForAnyValue => self.op.if_exists,
                    SetQualifier::Single => self.op.if_exists || self.negated,
                }
            }
        };
        match self.op.qualifier {
            SetQualifier::Single => {
                let any = entry
                    .values
                    .iter()
                    .any(|cv| self.any_value_matches(cv, principal, ctx));
                any != self.negated
            }
            SetQualifier::ForAnyValue => entry
                .values
                .iter()
                .any(|cv| self.any_value_matches(cv, principal, ctx) != self.negated),
            SetQualifier::ForAllValues => entry
                .values
                .iter()
                .all(|cv| self.any_value_matches(cv, principal, ctx) != self.negated),
        }
    }

    fn any_value_matches(&self, cv: &ContextValue, principal: &Principal, ctx: &Context) -> bool {
        self.values.iter().any(|pv| match &pv.tmpl {
            None => matches_value(self.pos, &pv.compiled, cv),
            Some(t) => match t.resolve(principal, ctx) {
                Some(s) => matches_value(self.pos, &compile(self.pos, &s), cv),
                None => false,
            },
        })
    }

    /// Human-readable reason why this condition failed (for explain).
    pub(crate) fn describe_failure(&self, ctx: &Context) -> String {
        let entry: Option<&ContextEntry> = ctx.get_lc(&self.key_lc);
        let shown: Vec<String> = entry
            .map(|e| e.values.iter().map(|v| v.as_text().into_owned()).collect())
            .unwrap_or_default();
        let policy_vals: Vec<&str> = self.values.iter().map(|v| v.raw.as_str()).collect();
        if shown.is_empty() {
            format!(
                "condition {} {}: key absent, did not match [{}]",
                self.op_name,
                self.key,
                policy_vals.join(", ")
            )
        } else {
            format!(
                "condition {} {}: key present with value {}, did not match [{}]",
                self.op_name,
                self.key,
                shown.join(", "),
                policy_vals.join(", ")
            )
        }
    }
}

fn cv_num(cv: &ContextValue) -> Option<f64> {
    match cv {
        ContextValue::Number(n) => Some(*n),
        ContextValue::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn cv_date(cv: &ContextValue) -> Option<i128> {
    match cv {
        ContextValue::Date(d) => Some(d.unix_timestamp_nanos()),
        ContextValue::Number(n) => Some((*n * 1e9) as i128),
        ContextValue::String(s) => parse_date(s),
        _ => None,
    }
}

fn cv_ip(cv: &ContextValue) -> Option<IpAddr> {
    match cv {
        ContextValue::Ip(ip) => Some(*ip),
        ContextValue::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn cv_bool(cv: &ContextValue) -> Option<bool> {
    match cv {
        ContextValue::Bool(b) => Some(*b),
        ContextValue::String(s) => parse_bool(s),
        _ => None,
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

fn matches_value(op: BaseOp, pv: &Compiled, cv: &ContextValue) -> bool {
    use BaseOp::*;
    match (op, pv) {
        (StringEquals | BinaryEquals, Compiled::Str(s)) => cv.as_text() == s.as_str(),
        (StringEqualsIgnoreCase, Compiled::Str(s)) => eq_ignore_case(&cv.as_text(), s),
        (StringLike, Compiled::Glob(g)) => g.matches(&cv.as_text()),
        (_, Compiled::Num(Some(p))) => match cv_num(cv) {
            Some(c) => match op {
                NumericEquals => c == *p,
                NumericLessThan => c < *p,
                NumericLessThanEquals => c <= *p,
                NumericGreaterThan => c > *p,
                NumericGreaterThanEquals => c >= *p,
                _ => false,
            },
            None => false,
        },
        (_, Compiled::Date(Some(p))) => match cv_date(cv) {
            Some(c) => match op {
                DateEquals => c == *p,
                DateLessThan => c < *p,
                DateLessThanEquals => c <= *p,
                DateGreaterThan => c > *p,
                DateGreaterThanEquals => c >= *p,
                _ => false,
            },
            None => false,
        },
        (IpAddress, Compiled::Ip(Some(n))) => cv_ip(cv).is_some_and(|ip| n.contains(&ip)),
        (Bool, Compiled::Bool(Some(b))) => cv_bool(cv) == Some(*b),
        (ArnEquals | ArnLike, Compiled::Arn(p)) => p.matches(&cv.as_text()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_parse() {
        let o = Operator::parse("ForAnyValue:StringLikeIfExists");
        assert_eq!(
            o,
            Some(Operator {
                base: BaseOp::StringLike,
                qualifier: SetQualifier::ForAnyValue,
                if_exists: true
            })
        );
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("Foo").is_none());
    }

    #[test]
    fn cidr() {
        let c = Cidr::parse("10.0.0.0/8");
        assert!(c.is_some_and(|c| c.contains(&"10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))));
        let c6 = Cidr::parse("2001:db8::/32");
        assert!(c6.is_some_and(
            |c| c.contains(&"2001:db8::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])))
        ));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("0"), Some(0));
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert!(parse_date("2020-06-30T00:00:00.123+02:00").is_some());
    }
}
