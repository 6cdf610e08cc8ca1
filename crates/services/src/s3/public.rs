//! Whether a bucket policy is *public*, as S3's Block Public Access defines
//! it (the `PublicAccessBlockConfiguration` documentation and "The meaning
//! of public" in the S3 User Guide).
//!
//! S3 starts from "public" and looks for a reason to call a policy
//! non-public: a policy is public when one of its `Allow` statements grants
//! a "bad action" (one that can expose the bucket's data: `s3:Get*`,
//! `s3:List*`, `s3:Put*`, `s3:Delete*`, `s3:AbortMultipartUpload`,
//! `s3:RestoreObject`) to a principal that is not fixed — `*`, a wildcard
//! ARN, or everyone but a few (`NotPrincipal`) — unless a condition pins
//! the request to fixed values (no wildcard, no policy variable) of one of
//! the keys S3 accepts for that: a set of CIDRs in `aws:SourceIp`, or
//! `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`, `aws:SourceOwner`,
//! `aws:SourceAccount`, `aws:PrincipalAccount`, `aws:PrincipalArn`,
//! `aws:PrincipalOrgID`, `aws:userid`, `s3:DataAccessPointArn`,
//! `s3:DataAccessPointAccount`, `s3:x-amz-server-side-encryption-aws-kms-key-id`.
//! `Deny` statements never make a policy public.

use serde_json::Value;

/// Condition keys (lower case) whose fixed values make a grant non-public.
const FIXING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// Operators that restrict a key to the listed values (negated, `IfExists`
/// and `ForAllValues` forms all match requests outside the list).
const RESTRICTING_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "IpAddress",
];

/// Action-name prefixes (after `s3:`, lower case) of the "bad actions".
const BAD_PREFIXES: &[&str] = &["get", "list", "put", "delete"];
/// Whole action names (after `s3:`, lower case) that are bad actions.
const BAD_NAMES: &[&str] = &["abortmultipartupload", "restoreobject"];

/// Whether a bucket policy document (already validated) is public.
pub(crate) fn policy_is_public(doc: &Value) -> bool {
    statements(doc.get("Statement")).any(statement_is_public)
}

fn statements(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    let list: Vec<&Value> = match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    };
    list.into_iter()
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statement_is_public(st: &Value) -> bool {
    st.get("Effect").and_then(Value::as_str) == Some("Allow")
        && principal_is_open(st)
        && grants_bad_action(st)
        && !fixed_by_condition(st.get("Condition"))
}

/// `*`, a principal value with a wildcard, or `NotPrincipal` (everyone
/// but the listed ones).
fn principal_is_open(st: &Value) -> bool {
    if st.get("NotPrincipal").is_some() {
        return true;
    }
    match st.get("Principal") {
        Some(Value::String(s)) => s.contains('*'),
        Some(Value::Object(m)) => m
            .values()
            .any(|v| strings(Some(v)).iter().any(|s| s.contains('*'))),
        _ => false,
    }
}

fn grants_bad_action(st: &Value) -> bool {
    if st.get("NotAction").is_some() {
        // Everything but a few actions: bad ones are among them.
        return true;
    }
    strings(st.get("Action")).iter().any(|a| action_is_bad(a))
}

/// Whether an action pattern can name a bad action.
fn action_is_bad(pattern: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    if p == "*" {
        return true;
    }
    let Some(name) = p.strip_prefix("s3:") else {
        // Another service's action, or a wildcard over service prefixes
        // (`s*:Get*`): only the latter can reach S3.
        return p
            .split(':')
            .next()
            .is_some_and(|svc| svc.contains(['*', '?']))
            && action_is_bad(&format!("s3:{}", p.split_once(':').map_or("", |(_, n)| n)));
    };
    match name.find(['*', '?']) {
        // A wildcard: bad if its literal start can continue into a bad name.
        Some(i) => {
            let lit = &name[..i];
            BAD_PREFIXES
                .iter()
                .chain(BAD_NAMES)
                .any(|bad| bad.starts_with(lit) || lit.starts_with(bad))
        }
        None => BAD_PREFIXES.iter().any(|bad| name.starts_with(bad)) || BAD_NAMES.contains(&name),
    }
}

/// Whether the condition block pins the request to fixed values of a key
/// S3 accepts as making the grant non-public.
fn fixed_by_condition(cond: Option<&Value>) -> bool {
    let Some(Value::Object(ops)) = cond else {
        return false;
    };
    ops.iter().any(|(op, keys)| {
        let op = op.strip_prefix("ForAnyValue:").unwrap_or(op);
        if !RESTRICTING_OPERATORS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(op))
        {
            return false;
        }
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().any(|(key, values)| {
            let key = key.to_ascii_lowercase();
            if !FIXING_KEYS.contains(&key.as_str()) {
                return false;
            }
            let vals = strings(Some(values));
            !vals.is_empty()
                && vals.iter().all(|v| {
                    let fixed = !v.contains(['*', '?']) && !v.contains("${");
                    // An address range of everything is no restriction.
                    fixed && !(key == "aws:sourceip" && v.ends_with("/0"))
                })
        })
    })
}
