//! Stack policies: parsing, validation and evaluation of the update actions
//! (`Update:Modify`, `Update:Replace`, `Update:Delete`) a stack update would
//! perform on its resources.
//!
//! Semantics follow "Prevent updates to stack resources" in the
//! CloudFormation user guide: once a stack has a policy every resource is
//! protected by default, an `Allow` statement opens it, and an explicit
//! `Deny` always wins.

use serde_json::Value;

/// The update actions a stack policy controls.
pub(crate) const ACTIONS: [&str; 3] = ["Update:Modify", "Update:Replace", "Update:Delete"];

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    not_action: bool,
    resources: Vec<String>,
    not_resource: bool,
    /// `(like, negated, values)` conditions on `ResourceType`.
    conditions: Vec<(bool, bool, Vec<String>)>,
}

/// A parsed stack policy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Policy {
    statements: Vec<Statement>,
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what} must be a string or a list of strings"))
            })
            .collect(),
        _ => Err(format!("{what} must be a string or a list of strings")),
    }
}

/// Glob match with `*` (any run) and `?` (one character).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn one_of<'a>(
    o: &'a serde_json::Map<String, Value>,
    a: &str,
    b: &str,
) -> Result<(&'a Value, bool), String> {
    match (o.get(a), o.get(b)) {
        (Some(v), None) => Ok((v, false)),
        (None, Some(v)) => Ok((v, true)),
        (Some(_), Some(_)) => Err(format!("Statement may not contain both {a} and {b}")),
        (None, None) => Err(format!("Statement is missing {a} or {b}")),
    }
}

fn statement(v: &Value) -> Result<Statement, String> {
    let o = v.as_object().ok_or("Statement must be an object")?;
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Principal"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(format!("Unsupported element {k} in statement"));
        }
    }
    let allow = match o.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err("Effect must be Allow or Deny".into()),
    };
    let (a, not_action) = one_of(o, "Action", "NotAction")?;
    let actions = strings(a, "Action")?;
    for x in &actions {
        if !ACTIONS.iter().any(|k| glob(x, k)) {
            return Err(format!("Invalid action {x}"));
        }
    }
    match o.get("Principal") {
        Some(Value::String(p)) if p == "*" => {}
        Some(Value::Object(m))
            if m.len() == 1 && m.get("AWS").and_then(Value::as_str) == Some("*") => {}
        Some(_) => return Err("Principal must be *".into()),
        None => return Err("Statement is missing Principal".into()),
    }
    let (r, not_resource) = one_of(o, "Resource", "NotResource")?;
    let resources = strings(r, "Resource")?;
    for x in &resources {
        if x != "*" && !x.starts_with("LogicalResourceId/") {
            return Err(format!("Invalid resource {x}"));
        }
    }
    let mut conditions = Vec::new();
    if let Some(c) = o.get("Condition") {
        let c = c.as_object().ok_or("Condition must be an object")?;
        for (op, body) in c {
            let (like, negated) = match op.as_str() {
                "StringEquals" => (false, false),
                "StringLike" => (true, false),
                "StringNotEquals" => (false, true),
                "StringNotLike" => (true, true),
                _ => return Err(format!("Unsupported condition operator {op}")),
            };
            let body = body
                .as_object()
                .ok_or("Condition block must be an object")?;
            for (key, vals) in body {
                if key != "ResourceType" {
                    return Err(format!("Unsupported condition key {key}"));
                }
                conditions.push((like, negated, strings(vals, "ResourceType")?));
            }
        }
    }
    Ok(Statement {
        allow,
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    })
}

impl Policy {
    /// Parses and validates a policy body; the error explains what is wrong.
    pub(crate) fn parse(body: &str) -> Result<Policy, String> {
        let v: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
        let o = v.as_object().ok_or("Policy must be a JSON object")?;
        let st = o.get("Statement").ok_or("Policy is missing Statement")?;
        let list: Vec<&Value> = match st {
            Value::Array(a) => a.iter().collect(),
            Value::Object(_) => vec![st],
            _ => return Err("Statement must be a list".into()),
        };
        let statements = list.into_iter().map(statement).collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }

    /// `None` when `action` on the resource is allowed, else the reason it
    /// is denied (AWS's wording).
    pub(crate) fn check(&self, action: &str, logical: &str, rtype: &str) -> Option<String> {
        let res = format!("LogicalResourceId/{logical}");
        let mut allowed = false;
        for (i, s) in self.statements.iter().enumerate() {
            let a = s.actions.iter().any(|p| glob(p, action)) != s.not_action;
            let r = s.resources.iter().any(|p| p == "*" || glob(p, &res)) != s.not_resource;
            let c = s.conditions.iter().all(|(like, negated, vals)| {
                let hit = vals
                    .iter()
                    .any(|v| if *like { glob(v, rtype) } else { v == rtype });
                hit != *negated
            });
            if !(a && r && c) {
                continue;
            }
            if !s.allow {
                return Some(format!(
                    "Action denied by stack policy: Statement [#{}] does not allow [{action}] for resource [{res}]",
                    i + 1
                ));
            }
            allowed = true;
        }
        if allowed {
            None
        } else {
            Some(format!(
                "Action denied by stack policy: Stack policy does not allow [{action}] for resource [{res}]"
            ))
        }
    }
}

/// Validates a policy body given to an API call.
pub(crate) fn validate(body: &str) -> Result<(), crate::AwsError> {
    Policy::parse(body)
        .map(|_| ())
        .map_err(|e| super::validation(format!("Error validating stack policy: {e}")))
}
