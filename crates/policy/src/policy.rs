//! Typed policy AST and the validating parser.
//!
//! Validation follows what IAM enforces at `CreatePolicy`/`PutRolePolicy`
//! time and never more: unknown elements, bad effects, actions without a
//! vendor, resources that are neither `*` nor ARN-like, a `Principal` in an
//! identity-style policy, a missing `Principal` in a resource-style one.
//! Size limits and principal existence are the IAM service's business.

use rustc_hash::FxHashMap as HashMap;

use serde_json::Value;

use crate::condition::{Condition, Operator};
use crate::error::*;
use crate::glob::{ArnPattern, Pattern};
use crate::vars::{parse_template, Template};

/// Where a policy document is attached; decides the validation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Identity,
    Resource,
    Trust,
    Boundary,
    Session,
    Scp,
    VpcEndpoint,
    KeyPolicy,
}

impl PolicyKind {
    /// Kinds whose statements name a principal.
    pub fn has_principal(self) -> bool {
        matches!(
            self,
            PolicyKind::Resource
                | PolicyKind::Trust
                | PolicyKind::VpcEndpoint
                | PolicyKind::KeyPolicy
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2012_10_17,
    V2008_10_17,
}

/// A principal value under the `AWS` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsPrincipal {
    /// `"*"`.
    Any,
    /// `123456789012` or `arn:aws:iam::123456789012:root`.
    Account(String),
    /// Any other ARN (user, role, assumed-role session, federated user) or
    /// unique id, compared literally.
    Arn(String),
}

/// `Principal` / `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrincipalSet {
    pub negated: bool,
    /// `"Principal": "*"`.
    pub any: bool,
    pub aws: Vec<AwsPrincipal>,
    pub service: Vec<String>,
    pub federated: Vec<String>,
    pub canonical_user: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionSet {
    pub(crate) negated: bool,
    pub(crate) raw: Vec<String>,
    pub(crate) pats: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResItem {
    Static(ArnPattern),
    Tmpl(Template),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResourceSet {
    pub(crate) negated: bool,
    pub(crate) raw: Vec<String>,
    pub(crate) items: Vec<ResItem>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) actions: ActionSet,
    pub(crate) resources: Option<ResourceSet>,
    pub(crate) principal: Option<PrincipalSet>,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    pub fn effect(&self) -> Effect {
        self.effect
    }
    /// The `Action` (or `NotAction` when `is_not_action`) strings.
    pub fn actions(&self) -> &[String] {
        &self.actions.raw
    }
    pub fn is_not_action(&self) -> bool {
        self.actions.negated
    }
    pub fn resources(&self) -> Option<&[String]> {
        self.resources.as_ref().map(|r| r.raw.as_slice())
    }
    pub fn is_not_resource(&self) -> bool {
        self.resources.as_ref().is_some_and(|r| r.negated)
    }
    pub fn principal(&self) -> Option<&PrincipalSet> {
        self.principal.as_ref()
    }
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// A parsed, validated policy document with its statements indexed by
/// service prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) kind: PolicyKind,
    pub(crate) version: Option<Version>,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    /// lower-cased service prefix → indices of statements whose every
    /// action pattern has a literal service prefix.
    pub(crate) by_service: HashMap<String, Vec<u32>>,
    /// statements that may match any service (`*`, `s3*:Get`, NotAction).
    pub(crate) generic: Vec<u32>,
}

impl Policy {
    /// Parse and validate a JSON policy document.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let v: Value = serde_json::from_str(text).map_err(|_| PolicyError::new(SYNTAX, ""))?;
        Policy::from_json(&v, kind)
    }

    /// Parse and validate an already decoded JSON document.
    pub fn from_json(v: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        parse_policy(v, kind)
    }

    /// Whether evaluating this policy can read the request context: a
    /// statement has a condition, or a resource pattern holds a policy
    /// variable. When no policy of a request does, the context need not be
    /// built.
    pub fn reads_context(&self) -> bool {
        self.statements.iter().any(|s| {
            !s.conditions.is_empty()
                || s.resources
                    .as_ref()
                    .is_some_and(|r| r.raw.iter().any(|x| x.contains("${")))
        })
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }
    pub fn version(&self) -> Option<Version> {
        self.version
    }
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Indices of statements that may apply to an action of service
    /// `service_lc` (already lower-cased), in document order.
    pub(crate) fn candidates<'s>(&'s self, service_lc: &str) -> Candidates<'s> {
        let specific: &[u32] = self
            .by_service
            .get(service_lc)
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        Candidates {
            a: specific,
            b: &self.generic,
        }
    }
}

/// Merge of two sorted index lists.
pub(crate) struct Candidates<'s> {
    a: &'s [u32],
    b: &'s [u32],
}

impl Iterator for Candidates<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match (self.a.first(), self.b.first()) {
            (Some(&x), Some(&y)) => {
                if x <= y {
                    self.a = &self.a[1..];
                    Some(x as usize)
                } else {
                    self.b = &self.b[1..];
                    Some(y as usize)
                }
            }
            (Some(&x), None) => {
                self.a = &self.a[1..];
                Some(x as usize)
            }
            (None, Some(&y)) => {
                self.b = &self.b[1..];
                Some(y as usize)
            }
            (None, None) => None,
        }
    }
}

/// Parse any input without panicking; for a cargo-fuzz target.
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        for kind in [
            PolicyKind::Identity,
            PolicyKind::Resource,
            PolicyKind::Trust,
            PolicyKind::Scp,
        ] {
            let _ = Policy::parse(s, kind);
        }
    }
}

fn syntax(path: impl Into<String>) -> PolicyError {
    PolicyError::new(SYNTAX, path)
}

fn parse_policy(v: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let obj = v.as_object().ok_or_else(|| syntax(""))?;
    let mut version = None;
    let mut id = None;
    let mut stmt_val = None;
    for (k, val) in obj {
        match k.as_str() {
            "Version" => {
                version = Some(match val.as_str() {
                    Some("2012-10-17") => Version::V2012_10_17,
                    Some("2008-10-17") => Version::V2008_10_17,
                    _ => return Err(PolicyError::new(LEGACY, "Version")),
                })
            }
            "Id" => id = Some(val.as_str().ok_or_else(|| syntax("Id"))?.to_string()),
            "Statement" => stmt_val = Some(val),
            _ => return Err(syntax(k.as_str())),
        }
    }
    let variables = version == Some(Version::V2012_10_17);
    let stmt_val = stmt_val.ok_or_else(|| syntax("Statement"))?;
    let mut statements = Vec::new();
    match stmt_val {
        Value::Object(_) => {
            statements.push(parse_statement(stmt_val, kind, "Statement", variables)?)
        }
        Value::Array(a) => {
            for (i, s) in a.iter().enumerate() {
                statements.push(parse_statement(
                    s,
                    kind,
                    &format!("Statement[{i}]"),
                    variables,
                )?);
            }
        }
        _ => return Err(syntax("Statement")),
    }
    let mut seen = std::collections::HashSet::new();
    for (i, s) in statements.iter().enumerate() {
        if let Some(sid) = s.sid.as_deref().filter(|s| !s.is_empty()) {
            if !seen.insert(sid) {
                let path = if matches!(stmt_val, Value::Array(_)) {
                    format!("Statement[{i}].Sid")
                } else {
                    "Statement.Sid".to_string()
                };
                return Err(PolicyError::new(DUP_SID, path));
            }
        }
    }
    let (by_service, generic) = build_index(&statements);
    Ok(Policy {
        kind,
        version,
        id,
        statements,
        by_service,
        generic,
    })
}

fn build_index(statements: &[Statement]) -> (HashMap<String, Vec<u32>>, Vec<u32>) {
    let mut by_service: HashMap<String, Vec<u32>> = HashMap::default();
    let mut generic = Vec::new();
    for (i, s) in statements.iter().enumerate() {
        let idx = i as u32;
        let mut services: Vec<&str> = Vec::new();
        let mut is_generic = s.actions.negated;
        if !is_generic {
            for a in &s.actions.raw {
                match a.split_once(':') {
                    Some((svc, _)) if !svc.contains(['*', '?']) && !svc.is_empty() => {
                        services.push(svc)
                    }
                    _ => {
                        is_generic = true;
                        break;
                    }
                }
            }
        }
        if is_generic {
            generic.push(idx);
        } else {
            for svc in services {
                let list = by_service.entry(svc.to_ascii_lowercase()).or_default();
                if list.last() != Some(&idx) {
                    list.push(idx);
                }
            }
        }
    }
    (by_service, generic)
}

fn string_list(v: &Value, path: &str) -> Result<Vec<(String, String)>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![(s.clone(), path.to_string())]),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok((s.clone(), format!("{path}[{i}]"))),
                _ => Err(syntax(format!("{path}[{i}]"))),
            })
            .collect(),
        _ => Err(syntax(path)),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_statement(
    v: &Value,
    kind: PolicyKind,
    path: &str,
    variables: bool,
) -> Result<Statement, PolicyError> {
    let obj = v.as_object().ok_or_else(|| syntax(path))?;
    let mut sid = None;
    let mut effect = None;
    let mut action: Option<(bool, &Value, String)> = None;
    let mut resource: Option<(bool, &Value, String)> = None;
    let mut principal: Option<(bool, &Value, String)> = None;
    let mut condition = None;
    for (k, val) in obj {
        let p = format!("{path}.{k}");
        match k.as_str() {
            "Sid" => sid = Some(val.as_str().ok_or_else(|| syntax(&p))?.to_string()),
            "Effect" => {
                effect = Some(match val.as_str() {
                    Some("Allow") => Effect::Allow,
                    Some("Deny") => Effect::Deny,
                    _ => return Err(syntax(p)),
                })
            }
            "Action" | "NotAction" => {
                if action.is_some() {
                    return Err(syntax(p));
                }
                action = Some((k == "NotAction", val, p));
            }
            "Resource" | "NotResource" => {
                if resource.is_some() {
                    return Err(syntax(p));
                }
                resource = Some((k == "NotResource", val, p));
            }
            "Principal" | "NotPrincipal" => {
                if principal.is_some() {
                    return Err(syntax(p));
                }
                principal = Some((k == "NotPrincipal", val, p));
            }
            "Condition" => condition = Some((val, p)),
            _ => return Err(syntax(p)),
        }
    }
    let effect = effect.ok_or_else(|| syntax(format!("{path}.Effect")))?;

    // Principal rules per kind.
    let principal = match (principal, kind.has_principal()) {
        (Some((_, _, p)), false) => return Err(PolicyError::new(NO_PRINCIPAL, p)),
        (None, true) => {
            return Err(PolicyError::new(
                MISSING_PRINCIPAL,
                format!("{path}.Principal"),
            ))
        }
        (Some((neg, val, p)), true) => Some(parse_principal(val, neg, &p)?),
        (None, false) => None,
    };

    // Actions.
    let (neg, aval, apath) = action.ok_or_else(|| PolicyError::new(NEED_ACTIONS, path))?;
    let list = string_list(aval, &apath)?;
    if list.is_empty() {
        return Err(PolicyError::new(NEED_ACTIONS, apath));
    }
    let mut raw = Vec::with_capacity(list.len());
    let mut pats = Vec::with_capacity(list.len());
    for (a, p) in list {
        if a != "*" {
            let colons = a.matches(':').count();
            if colons == 0 || a.starts_with(':') {
                return Err(PolicyError::new(VENDOR, p));
            }
            if colons > 1 {
                return Err(PolicyError::new(ONE_COLON, p));
            }
        }
        if kind == PolicyKind::Trust && !neg {
            let vendor = a.split(':').next().unwrap_or("");
            if !Pattern::new(&vendor.to_ascii_lowercase()).matches("sts") {
                return Err(PolicyError::new(TRUST_ACTIONS, p));
            }
        }
        pats.push(Pattern::new(&a.to_ascii_lowercase()));
        raw.push(a);
    }
    let actions = ActionSet {
        negated: neg,
        raw,
        pats,
    };

    // Resources.
    let resources = match resource {
        Some((_, _, p)) if kind == PolicyKind::Trust => {
            return Err(PolicyError::new(TRUST_RESOURCE, p))
        }
        Some((neg, rval, rpath)) => {
            let list = string_list(rval, &rpath)?;
            if list.is_empty() {
                return Err(PolicyError::new(NEED_RESOURCES, rpath));
            }
            let mut raw = Vec::with_capacity(list.len());
            let mut items = Vec::with_capacity(list.len());
            for (r, p) in list {
                if !(r.starts_with("arn:") || r.starts_with('*') || r.starts_with("${")) {
                    return Err(PolicyError::new(
                        format!("Resource {r} must be in ARN format or \"*\"."),
                        p,
                    ));
                }
                let item = match variables.then(|| parse_template(&r)).flatten() {
                    Some(t) => ResItem::Tmpl(t),
                    None => ResItem::Static(ArnPattern::new(&r)),
                };
                items.push(item);
                raw.push(r);
            }
            Some(ResourceSet {
                negated: neg,
                raw,
                items,
            })
        }
        None => {
            if matches!(
                kind,
                PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session
            ) {
                return Err(PolicyError::new(NEED_RESOURCES, path));
            }
            None
        }
    };

    // Conditions.
    let mut conditions = Vec::new();
    if let Some((cval, cpath)) = condition {
        let cobj = cval.as_object().ok_or_else(|| syntax(&cpath))?;
        for (opname, body) in cobj {
            let opath = format!("{cpath}.{opname}");
            let op = Operator::parse(opname).ok_or_else(|| syntax(&opath))?;
            let bobj = body.as_object().ok_or_else(|| syntax(&opath))?;
            for (key, vals) in bobj {
                let kpath = format!("{opath}.{key}");
                let values = match vals {
                    Value::Array(a) => a
                        .iter()
                        .enumerate()
                        .map(|(i, x)| scalar_text(x).ok_or_else(|| syntax(format!("{kpath}[{i}]"))))
                        .collect::<Result<Vec<_>, _>>()?,
                    other => vec![scalar_text(other).ok_or_else(|| syntax(&kpath))?],
                };
                conditions.push(Condition::new(opname, op, key, values, variables));
            }
        }
    }

    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        principal,
        conditions,
    })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_principal(v: &Value, negated: bool, path: &str) -> Result<PrincipalSet, PolicyError> {
    let mut set = PrincipalSet {
        negated,
        ..PrincipalSet::default()
    };
    match v {
        Value::String(s) if s == "*" => set.any = true,
        Value::Object(m) => {
            for (k, val) in m {
                let p = format!("{path}.{k}");
                let list = string_list(val, &p)?;
                for (s, sp) in list {
                    if s.is_empty() {
                        return Err(PolicyError::new(
                            format!("Invalid principal in policy: \"{k}\":\"\""),
                            sp,
                        ));
                    }
                    match k.as_str() {
                        "AWS" => set.aws.push(classify_aws(&s)),
                        "Service" => set.service.push(s),
                        "Federated" => set.federated.push(s),
                        "CanonicalUser" => set.canonical_user.push(s),
                        _ => return Err(syntax(p.clone())),
                    }
                }
            }
        }
        _ => return Err(syntax(path)),
    }
    Ok(set)
}

fn classify_aws(s: &str) -> AwsPrincipal {
    if s == "*" {
        return AwsPrincipal::Any;
    }
    if is_account_id(s) {
        return AwsPrincipal::Account(s.to_string());
    }
    // arn:<partition>:iam::<account>:root
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    if parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[5] == "root"
        && is_account_id(parts[4])
    {
        return AwsPrincipal::Account(parts[4].to_string());
    }
    AwsPrincipal::Arn(s.to_string())
}
