//! The IAM policy simulator: `SimulatePrincipalPolicy`,
//! `SimulateCustomPolicy`, `GetContextKeysForPrincipalPolicy` and
//! `GetContextKeysForCustomPolicy`.
//!
//! Simulation runs the same engine the gateway enforces with
//! (`ironsage_policy::authorize_with`) over the entity's stored policies plus
//! the input ones. As AWS's simulator does, it never fills global condition
//! keys from the simulating request: only `ContextEntries` are in the
//! context, and condition keys the evaluated statements need but the input
//! does not supply are reported as `MissingContextValues`.
//!
//! Output follows AWS's current documented shape (IAM API Reference,
//! `EvaluationResult`): one result per action; with explicit resources the
//! top-level decision is the most restrictive one and each resource's own
//! decision is in `ResourceSpecificResults`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use ironsage_policy::{
    authorize_with, glob_match, AuthzRequest, Context, ContextValue, Decision, Effect, EvalOptions,
    Policy, PolicyKind, PolicyRef, PolicySet, PolicyType, Principal, PrincipalKind, Reason,
};
use serde_json::{json, Map, Value};

use super::model::{GroupDoc, InlineDoc, PolicyDoc, RoleDoc, UserDoc};
use super::{aws_managed, doc, invalid, key, no_such, policies, Iam, ATTACH, GROUP, INLINE};
use super::{POLICY, ROLE, USER};
use crate::util::{list, paginate, req, s};
use crate::{AwsError, Ctx};

/// Where a simulated policy sits in the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Identity,
    Boundary,
    Resource,
}

/// One policy taking part in a simulation, with what AWS reports about it.
struct Source {
    /// `SourcePolicyId`.
    id: String,
    /// `SourcePolicyType`.
    ty: &'static str,
    /// The document text (for statement positions).
    text: String,
    policy: Arc<Policy>,
    slot: Slot,
}

/// Decision strings as the API spells them.
const ALLOWED: &str = "allowed";
const EXPLICIT_DENY: &str = "explicitDeny";
const IMPLICIT_DENY: &str = "implicitDeny";

fn decision_str(d: &Decision) -> &'static str {
    match d.reason {
        Reason::ExplicitDeny(_) => EXPLICIT_DENY,
        Reason::ImplicitDeny(_) => IMPLICIT_DENY,
        _ if d.allowed => ALLOWED,
        _ => IMPLICIT_DENY,
    }
}

fn rank(d: &str) -> u8 {
    match d {
        EXPLICIT_DENY => 2,
        IMPLICIT_DENY => 1,
        _ => 0,
    }
}

fn malformed(msg: String) -> AwsError {
    AwsError::new("MalformedPolicyDocument", msg, 400)
}

/// Parses an input policy as AWS validates simulator input.
fn parse_input(text: &str, kind: PolicyKind) -> Result<Arc<Policy>, AwsError> {
    Policy::parse(text, kind)
        .map(Arc::new)
        .map_err(|e| malformed(e.message))
}

fn input_strings<'a>(input: &'a Value, member: &str) -> Vec<&'a str> {
    list(input, member)
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// The account of an ARN (`arn:aws:<svc>:<region>:<account>:...`).
fn arn_account(arn: &str) -> Option<&str> {
    let acct = arn.split(':').nth(4)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then_some(acct)
}

/// `ResourceOwner` is an account id or `arn:aws:iam::<account>:root`.
fn owner_account(v: &str) -> Option<String> {
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(v.to_string());
    }
    arn_account(v).map(str::to_string)
}

/// An IAM entity ARN split into (account, kind, path, name).
fn entity_arn(arn: &str) -> Option<(String, String, String, String)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (acct, res) = rest.split_once(':')?;
    let slash = res.find('/')?;
    let (kind, pn) = (res.get(..slash)?, res.get(slash..)?);
    let cut = pn.rfind('/')?;
    let (path, name) = (pn.get(..=cut)?, pn.get(cut + 1..)?);
    if name.is_empty() {
        return None;
    }
    Some((acct.into(), kind.into(), path.into(), name.into()))
}

// ------------------------------------------------------------ context

/// `ContextEntries` as the engine's context; bad values are `InvalidInput`.
fn context_from(input: &Value) -> Result<Context, AwsError> {
    let mut cx = Context::new();
    for e in list(input, "ContextEntries") {
        let Some(name) = s(e, "ContextKeyName") else {
            return Err(invalid(
                "ContextKeyName is required for every context entry.",
            ));
        };
        let values: Vec<&str> = input_strings(e, "ContextKeyValues");
        let ty = s(e, "ContextKeyType").unwrap_or("string");
        let (base, multi) = match ty.strip_suffix("List") {
            Some(b) => (b, true),
            None => (ty, false),
        };
        let mut parsed = Vec::with_capacity(values.len());
        for v in &values {
            parsed.push(context_value(name, base, v)?);
        }
        if multi {
            cx.insert_multi(name, parsed);
        } else {
            match parsed.len() {
                0 => cx.insert_multi(name, Vec::<ContextValue>::new()),
                1 => {
                    if let Some(v) = parsed.pop() {
                        cx.insert(name, v);
                    }
                }
                _ => {
                    return Err(invalid(format!(
                        "Context key {name} of type {ty} accepts exactly one value."
                    )))
                }
            }
        }
    }
    Ok(cx)
}

fn context_value(name: &str, ty: &str, v: &str) -> Result<ContextValue, AwsError> {
    let bad = || {
        invalid(format!(
            "Invalid value {v} for context key {name} of type {ty}."
        ))
    };
    Ok(match ty {
        "string" => ContextValue::String(v.to_string()),
        "binary" => ContextValue::Binary(v.to_string()),
        "numeric" => ContextValue::Number(v.trim().parse::<f64>().map_err(|_| bad())?),
        "boolean" => match v.trim().to_ascii_lowercase().as_str() {
            "true" => ContextValue::Bool(true),
            "false" => ContextValue::Bool(false),
            _ => return Err(bad()),
        },
        "ip" => ContextValue::Ip(v.trim().parse::<IpAddr>().map_err(|_| bad())?),
        "date" => {
            use time::format_description::well_known::Rfc3339;
            match time::OffsetDateTime::parse(v.trim(), &Rfc3339) {
                Ok(d) => ContextValue::Date(d),
                Err(_) => {
                    let secs: i64 = v.trim().parse().map_err(|_| bad())?;
                    ContextValue::Date(
                        time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| bad())?,
                    )
                }
            }
        }
        _ => {
            return Err(invalid(format!(
                "Invalid ContextKeyType {ty} for context key {name}."
            )))
        }
    })
}

// ------------------------------------------------------------ positions

/// Line/column (1-based) of each statement object in a policy document,
/// found by scanning the JSON text. `None` when the text does not have the
/// expected shape.
/// A (line, column) position, both 1-based.
type Pos = (usize, usize);

fn statement_spans(text: &str) -> Option<Vec<(Pos, Pos)>> {
    let b = text.as_bytes();
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut found: Option<Vec<(usize, usize)>> = None;
    loop {
        i = ws(b, i);
        match b.get(i)? {
            b'}' => break,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let kend = skip_string(b, i)?;
        let k: String = serde_json::from_slice(b.get(i..kend)?).ok()?;
        i = ws(b, kend);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(b, i + 1);
        let vend = skip_value(b, i)?;
        if k == "Statement" {
            let mut spans = Vec::new();
            if b.get(i) == Some(&b'[') {
                let mut j = i + 1;
                loop {
                    j = ws(b, j);
                    match b.get(j)? {
                        b']' => break,
                        b',' => j += 1,
                        _ => {
                            let e = skip_value(b, j)?;
                            spans.push((j, e));
                            j = e;
                        }
                    }
                }
            } else {
                spans.push((i, vend));
            }
            found = Some(spans);
        }
        i = vend;
    }
    let spans = found?;
    Some(
        spans
            .into_iter()
            .map(|(st, en)| (line_col(text, st), line_col(text, en)))
            .collect(),
    )
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (which is `"`).
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// End (exclusive) of the JSON value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b
                .get(j)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
            {
                j += 1;
            }
            Some(j)
        }
    }
}

fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = match before.rfind('\n') {
        Some(n) => before.get(n + 1..).map_or(0, |t| t.chars().count()),
        None => before.chars().count(),
    } + 1;
    (line, col)
}

// ------------------------------------------------------------ context keys

/// Every condition key (and policy-variable key) a policy references, in
/// document order, with its spelling.
fn policy_keys(p: &Policy, out: &mut Vec<String>, seen: &mut HashSet<String>) {
    for st in p.statements() {
        for c in st.conditions() {
            push_key(c.key(), out, seen);
            for v in c.values() {
                variable_keys(v, out, seen);
            }
        }
        for r in st.resources().unwrap_or_default() {
            variable_keys(r, out, seen);
        }
    }
}

fn push_key(k: &str, out: &mut Vec<String>, seen: &mut HashSet<String>) {
    if seen.insert(k.to_ascii_lowercase()) {
        out.push(k.to_string());
    }
}

/// Keys of `${key}` / `${key, 'default'}` variables in a string.
fn variable_keys(v: &str, out: &mut Vec<String>, seen: &mut HashSet<String>) {
    let mut rest = v;
    while let Some(start) = rest.find("${") {
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else { break };
        let inner = after.get(..end).unwrap_or_default();
        let k = inner.split(',').next().unwrap_or_default().trim();
        if k.contains(':') {
            push_key(k, out, seen);
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
}

/// Condition keys of the statements that apply to `action` on `resource`
/// and that the context does not supply.
fn missing_keys(
    sources: &[Source],
    action: &str,
    resource: &str,
    cx: &Context,
    out: &mut Vec<String>,
    seen: &mut HashSet<String>,
) {
    let action_lc = action.to_ascii_lowercase();
    for src in sources {
        for st in src.policy.statements() {
            let a = st
                .actions()
                .iter()
                .any(|p| glob_match(&p.to_ascii_lowercase(), &action_lc));
            if a == st.is_not_action() {
                continue;
            }
            if let Some(rs) = st.resources() {
                let r = rs
                    .iter()
                    .any(|p| p.contains("${") || glob_match(p, resource));
                if r == st.is_not_resource() {
                    continue;
                }
            }
            let mut keys = Vec::new();
            let mut local = HashSet::new();
            for c in st.conditions() {
                push_key(c.key(), &mut keys, &mut local);
            }
            for k in keys {
                if cx.get(&k).is_none() {
                    push_key(&k, out, seen);
                }
            }
        }
    }
}

// ------------------------------------------------------------ simulation

/// What a simulation is asked (shared by the principal and custom forms).
struct Sim {
    principal: Principal,
    sources: Vec<Source>,
}

/// One (action, resource) evaluation, in API terms.
struct Eval {
    resource: String,
    decision: &'static str,
    matched: Vec<Value>,
    missing: Vec<String>,
    boundary_allowed: Option<bool>,
    details: Option<Map<String, Value>>,
}

impl Sim {
    fn set<'a>(&'a self, with_resource: bool, resource_as: Option<&'a Policy>) -> PolicySet<'a> {
        let mut set = PolicySet::default();
        for src in &self.sources {
            let r = PolicyRef {
                id: &src.id,
                policy: &src.policy,
            };
            match src.slot {
                Slot::Identity => set.identity.push(r),
                Slot::Boundary => set.boundary = Some(r),
                Slot::Resource => {
                    if with_resource {
                        set.resource = Some(PolicyRef {
                            id: &src.id,
                            policy: resource_as.unwrap_or(&src.policy),
                        })
                    }
                }
            }
        }
        set
    }

    /// The resource policy read as the kind enforcement gives it for this
    /// request: a KMS key's policy and a role's trust policy must themselves
    /// allow, unlike other resource policies.
    fn resource_policy_for(&self, action: &str, resource: &str) -> Option<Policy> {
        let kind = if resource.starts_with("arn:aws:kms:") && resource.contains(":key/") {
            PolicyKind::KeyPolicy
        } else if action.to_ascii_lowercase().starts_with("sts:") && resource.contains(":role/") {
            PolicyKind::Trust
        } else {
            return None;
        };
        let src = self.sources.iter().find(|s| s.slot == Slot::Resource)?;
        Policy::parse(&src.text, kind).ok()
    }

    fn source_of(&self, id: &str, ty: PolicyType) -> Option<&Source> {
        let slot = match ty {
            PolicyType::Identity => Slot::Identity,
            PolicyType::Boundary => Slot::Boundary,
            PolicyType::Resource => Slot::Resource,
            _ => return None,
        };
        self.sources.iter().find(|s| s.slot == slot && s.id == id)
    }

    fn statement_value(&self, m: &ironsage_policy::StatementMatch) -> Value {
        let src = self.source_of(&m.policy_id, m.policy_type);
        let span = src
            .and_then(|s| statement_spans(&s.text))
            .and_then(|v| v.get(m.index).copied())
            .unwrap_or(((1, 1), (1, 1)));
        json!({
            "SourcePolicyId": m.policy_id,
            "SourcePolicyType": src.map_or("none", |s| s.ty),
            "StartPosition": {"Line": span.0 .0, "Column": span.0 .1},
            "EndPosition": {"Line": span.1 .0, "Column": span.1 .1},
        })
    }

    fn evaluate(
        &self,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
        cx: &Context,
        explicit_resources: bool,
    ) -> Eval {
        let opts = EvalOptions { explain: true };
        let req = AuthzRequest {
            principal: &self.principal,
            action,
            resource,
            resource_account,
            context: cx,
        };
        let typed = self.resource_policy_for(action, resource);
        let d = authorize_with(&req, &self.set(true, typed.as_ref()), opts);
        let decision = decision_str(&d);
        // AWS lists the statements that determine the result: the denies
        // for an explicit deny, the grants for an allow, none otherwise.
        let matched: Vec<Value> = d
            .matched
            .iter()
            .filter(|m| match decision {
                EXPLICIT_DENY => m.effect == Effect::Deny,
                ALLOWED => m.effect == Effect::Allow && m.policy_type != PolicyType::Boundary,
                _ => false,
            })
            .map(|m| self.statement_value(m))
            .collect();
        let has_boundary = self.sources.iter().any(|s| s.slot == Slot::Boundary);
        let boundary_allowed = has_boundary.then(|| {
            let b = |e: Effect| {
                d.matched
                    .iter()
                    .any(|m| m.policy_type == PolicyType::Boundary && m.effect == e)
            };
            b(Effect::Allow) && !b(Effect::Deny)
        });
        let mut missing = Vec::new();
        let mut seen = HashSet::new();
        missing_keys(&self.sources, action, resource, cx, &mut missing, &mut seen);
        let cross = resource_account.is_some_and(|a| a != self.principal.account);
        let details = if cross {
            // How each side contributed: the caller's IAM policies (as if
            // the resource were its own) and the resource-based policy.
            let ireq = AuthzRequest {
                resource_account: None,
                ..req
            };
            let id = authorize_with(&ireq, &self.set(false, None), opts);
            let res = if self.sources.iter().any(|s| s.slot == Slot::Resource) {
                let r = |e: Effect| {
                    d.matched
                        .iter()
                        .any(|m| m.policy_type == PolicyType::Resource && m.effect == e)
                };
                Some(if r(Effect::Deny) {
                    EXPLICIT_DENY
                } else if r(Effect::Allow) {
                    ALLOWED
                } else {
                    IMPLICIT_DENY
                })
            } else {
                None
            };
            let mut m = Map::new();
            m.insert("IAM Policy".into(), json!(decision_str(&id)));
            if let Some(r) = res {
                m.insert("Resource Policy".into(), json!(r));
            }
            Some(m)
        } else if explicit_resources {
            Some(Map::new())
        } else {
            None
        };
        Eval {
            resource: resource.to_string(),
            decision,
            matched,
            missing,
            boundary_allowed,
            details,
        }
    }

    /// Every `EvaluationResult`, one per action.
    fn run(&self, input: &Value) -> Result<Vec<Value>, AwsError> {
        let cx = context_from(input)?;
        let actions = input_strings(input, "ActionNames");
        let mut resources: Vec<&str> = input_strings(input, "ResourceArns");
        let explicit = !(resources.is_empty() || resources == ["*"]);
        if resources.is_empty() {
            resources.push("*");
        }
        let owner = match s(input, "ResourceOwner") {
            Some(o) => Some(owner_account(o).ok_or_else(|| {
                invalid(format!(
                    "Invalid ResourceOwner {o}: expected an account ARN."
                ))
            })?),
            None => None,
        };
        let mut out = Vec::with_capacity(actions.len());
        for action in actions {
            if !action.contains(':') {
                return Err(invalid(format!(
                    "Action name {action} must be prefaced by a service namespace."
                )));
            }
            let evals: Vec<Eval> = resources
                .iter()
                .map(|r| {
                    // The owner is ResourceOwner, else the resource ARN's
                    // account, else the caller's.
                    let acct = owner
                        .as_deref()
                        .or_else(|| arn_account(r).filter(|_| owner.is_none()));
                    self.evaluate(action, r, acct, &cx, explicit)
                })
                .collect();
            out.push(result_value(action, &evals, explicit));
        }
        Ok(out)
    }
}

fn result_value(action: &str, evals: &[Eval], explicit: bool) -> Value {
    let mut o = Map::new();
    o.insert("EvalActionName".into(), json!(action));
    let resource = match evals {
        [one] => one.resource.clone(),
        _ => "*".to_string(),
    };
    o.insert("EvalResourceName".into(), json!(resource));
    let decision = evals
        .iter()
        .map(|e| e.decision)
        .max_by_key(|d| rank(d))
        .unwrap_or(IMPLICIT_DENY);
    o.insert("EvalDecision".into(), json!(decision));
    let mut matched: Vec<Value> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for e in evals.iter().filter(|e| e.decision == decision) {
        for m in &e.matched {
            if !matched.contains(m) {
                matched.push(m.clone());
            }
        }
    }
    for e in evals {
        for k in &e.missing {
            push_key(k, &mut missing, &mut seen);
        }
    }
    o.insert("MatchedStatements".into(), json!(matched));
    o.insert("MissingContextValues".into(), json!(missing));
    o.insert(
        "OrganizationsDecisionDetail".into(),
        json!({"AllowedByOrganizations": true}),
    );
    let boundary: Vec<bool> = evals.iter().filter_map(|e| e.boundary_allowed).collect();
    if !boundary.is_empty() {
        o.insert(
            "PermissionsBoundaryDecisionDetail".into(),
            json!({"AllowedByPermissionsBoundary": boundary.iter().all(|b| *b)}),
        );
    }
    if let Some(d) = evals.iter().find_map(|e| e.details.clone()) {
        let mut merged = d;
        for e in evals {
            if let Some(x) = &e.details {
                for (k, v) in x {
                    let worse = merged
                        .get(k)
                        .and_then(Value::as_str)
                        .is_none_or(|cur| rank(v.as_str().unwrap_or(ALLOWED)) > rank(cur));
                    if worse {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        o.insert("EvalDecisionDetails".into(), Value::Object(merged));
    }
    if explicit {
        let rs: Vec<Value> = evals
            .iter()
            .map(|e| {
                let mut r = Map::new();
                r.insert("EvalResourceName".into(), json!(e.resource));
                r.insert("EvalResourceDecision".into(), json!(e.decision));
                r.insert("MatchedStatements".into(), json!(e.matched));
                r.insert("MissingContextValues".into(), json!(e.missing));
                if let Some(d) = &e.details {
                    r.insert("EvalDecisionDetails".into(), Value::Object(d.clone()));
                }
                if let Some(b) = e.boundary_allowed {
                    r.insert(
                        "PermissionsBoundaryDecisionDetail".into(),
                        json!({"AllowedByPermissionsBoundary": b}),
                    );
                }
                Value::Object(r)
            })
            .collect();
        o.insert("ResourceSpecificResults".into(), json!(rs));
    }
    Value::Object(o)
}

/// A page of results with IAM's marker pagination.
fn page(results: Vec<Value>, input: &Value) -> Result<Value, AwsError> {
    let indexed: Vec<(usize, Value)> = results.into_iter().enumerate().collect();
    let (pg, next) = paginate(&indexed, input, |(i, _)| format!("{i:08}"))?;
    let mut out = Map::new();
    out.insert(
        "EvaluationResults".into(),
        Value::Array(pg.into_iter().map(|(_, v)| v).collect()),
    );
    Ok(super::page_out(out, next))
}

impl Iam {
    /// The simulated caller named by `CallerArn` (an IAM user ARN).
    fn caller_principal(&self, arn: &str) -> Result<Principal, AwsError> {
        match entity_arn(arn) {
            Some((acct, kind, _path, name)) if kind == "user" => {
                let userid = self
                    .get::<UserDoc>(USER, &acct, &key(&name))?
                    .map(|u| u.id)
                    .unwrap_or_else(|| format!("AIDA{}", name.to_ascii_uppercase()));
                Ok(Principal {
                    arn: arn.to_string(),
                    account: acct,
                    kind: PrincipalKind::User,
                    userid,
                    username: Some(name),
                })
            }
            _ => Err(invalid(format!(
                "Invalid CallerArn {arn}: only the ARN of an IAM user can be the caller."
            ))),
        }
    }

    /// A managed policy as a simulation source (`None` if it is gone).
    fn managed_source(&self, arn: &str, slot: Slot, out: &mut Vec<Source>) -> Result<(), AwsError> {
        let (text, name, ty) = if let Some(a) = aws_managed::get(arn)? {
            (a.document.clone(), a.name.clone(), "aws-managed")
        } else {
            let Some((acct, _path, name)) = policies::parse_arn(arn) else {
                return Ok(());
            };
            let Some(p) = self.get::<PolicyDoc>(POLICY, &acct, &key(&name))? else {
                return Ok(());
            };
            match p.default() {
                Some(v) => (v.document.clone(), p.name.clone(), "user-managed"),
                None => return Ok(()),
            }
        };
        let policy = doc::parse_stored(&text)?;
        out.push(Source {
            id: name,
            ty,
            text,
            policy,
            slot,
        });
        Ok(())
    }

    /// Inline and attached policies of one user, group or role.
    fn entity_sources(
        &self,
        acct: &str,
        etype: &'static str,
        name: &str,
        out: &mut Vec<Source>,
    ) -> Result<(), AwsError> {
        let parent = format!("{etype}/{}", key(name));
        for p in self.all::<InlineDoc>(INLINE, acct, Some(&parent))? {
            let policy = doc::parse_stored(&p.document)?;
            out.push(Source {
                id: p.name,
                ty: etype,
                text: p.document,
                policy,
                slot: Slot::Identity,
            });
        }
        for a in self.all::<super::model::AttachDoc>(ATTACH, acct, Some(&parent))? {
            self.managed_source(&a.arn, Slot::Identity, out)?;
        }
        Ok(())
    }

    /// The stored policies and the principal of `PolicySourceArn`.
    fn principal_sources(
        &self,
        ctx: &Ctx<'_>,
        arn: &str,
    ) -> Result<(Option<Principal>, Vec<Source>), AwsError> {
        let acct = ctx.caller.account.as_str();
        let bad = || invalid(format!("Invalid PolicySourceArn {arn}."));
        let (aacct, kind, _path, name) = entity_arn(arn).ok_or_else(bad)?;
        let mut out = Vec::new();
        match kind.as_str() {
            "user" => {
                let u = (aacct == acct)
                    .then(|| self.get::<UserDoc>(USER, acct, &key(&name)))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| {
                        no_such(format!("The user with name {name} cannot be found."))
                    })?;
                self.entity_sources(acct, "user", &u.name, &mut out)?;
                for g in &u.groups {
                    if let Some(gd) = self.get::<GroupDoc>(GROUP, acct, &key(g))? {
                        self.entity_sources(acct, "group", &gd.name, &mut out)?;
                    }
                }
                if let Some(b) = &u.boundary {
                    self.boundary_source(b, &mut out)?;
                }
                let p = Principal {
                    arn: u.arn(acct),
                    account: acct.to_string(),
                    kind: PrincipalKind::User,
                    userid: u.id.clone(),
                    username: Some(u.name.clone()),
                };
                Ok((Some(p), out))
            }
            "role" => {
                let r = (aacct == acct)
                    .then(|| self.get::<RoleDoc>(ROLE, acct, &key(&name)))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| {
                        no_such(format!("The role with name {name} cannot be found."))
                    })?;
                self.entity_sources(acct, "role", &r.name, &mut out)?;
                if let Some(b) = &r.boundary {
                    self.boundary_source(b, &mut out)?;
                }
                let session = "simulation";
                let p = Principal {
                    arn: format!("arn:aws:sts::{acct}:assumed-role/{}/{session}", r.name),
                    account: acct.to_string(),
                    kind: PrincipalKind::AssumedRole {
                        role_arn: r.arn(acct),
                    },
                    userid: format!("{}:{session}", r.id),
                    username: None,
                };
                Ok((Some(p), out))
            }
            "group" => {
                let g = (aacct == acct)
                    .then(|| self.get::<GroupDoc>(GROUP, acct, &key(&name)))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| {
                        no_such(format!("The group with name {name} cannot be found."))
                    })?;
                self.entity_sources(acct, "group", &g.name, &mut out)?;
                Ok((None, out))
            }
            _ => Err(bad()),
        }
    }

    fn boundary_source(&self, arn: &str, out: &mut Vec<Source>) -> Result<(), AwsError> {
        let before = out.len();
        self.managed_source(arn, Slot::Boundary, out)?;
        if out.len() == before {
            // A boundary whose policy vanished allows nothing.
            out.push(Source {
                id: arn.to_string(),
                ty: "none",
                text: String::new(),
                policy: doc::empty_policy()?,
                slot: Slot::Boundary,
            });
        }
        Ok(())
    }

    /// Adds the input policies (`PolicyInputList`,
    /// `PermissionsBoundaryPolicyInputList`, `ResourcePolicy`).
    fn input_sources(&self, input: &Value, out: &mut Vec<Source>) -> Result<(), AwsError> {
        for (n, text) in input_strings(input, "PolicyInputList")
            .into_iter()
            .enumerate()
        {
            out.push(Source {
                id: format!("PolicyInputList.{}", n + 1),
                ty: "none",
                text: text.to_string(),
                policy: parse_input(text, PolicyKind::Identity)?,
                slot: Slot::Identity,
            });
        }
        let boundaries = input_strings(input, "PermissionsBoundaryPolicyInputList");
        if boundaries.len() > 1 {
            return Err(invalid(
                "Only one permissions boundary policy can be simulated at a time.",
            ));
        }
        if let Some(text) = boundaries.first() {
            // An input boundary replaces the entity's own.
            out.retain(|s| s.slot != Slot::Boundary);
            out.push(Source {
                id: "PermissionsBoundaryPolicyInputList.1".into(),
                ty: "none",
                text: text.to_string(),
                policy: parse_input(text, PolicyKind::Boundary)?,
                slot: Slot::Boundary,
            });
        }
        if let Some(text) = s(input, "ResourcePolicy") {
            out.push(Source {
                id: "ResourcePolicy".into(),
                ty: "resource",
                text: text.to_string(),
                policy: parse_input(text, PolicyKind::Resource)?,
                slot: Slot::Resource,
            });
        }
        Ok(())
    }

    /// The principal for evaluation: `CallerArn`, else the source entity;
    /// a resource policy needs a caller.
    fn sim_principal(
        &self,
        input: &Value,
        source: Option<Principal>,
        account: &str,
    ) -> Result<Principal, AwsError> {
        if let Some(c) = s(input, "CallerArn") {
            return self.caller_principal(c);
        }
        let user_source = source
            .as_ref()
            .is_some_and(|p| p.kind == PrincipalKind::User);
        if s(input, "ResourcePolicy").is_some() && !user_source {
            return Err(invalid(
                "CallerArn is required when a ResourcePolicy is simulated and PolicySourceArn is not an IAM user.",
            ));
        }
        Ok(source.unwrap_or_else(|| {
            // A group (or custom policies) with no caller: an anonymous user
            // of the account whose identity policies are the simulated ones.
            Principal {
                arn: format!("arn:aws:iam::{account}:user/simulated"),
                account: account.to_string(),
                kind: PrincipalKind::User,
                userid: "AIDASIMULATED".into(),
                username: None,
            }
        }))
    }

    pub(super) fn simulate_principal_policy(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let arn = req(i, "PolicySourceArn")?;
        let (source, mut sources) = self.principal_sources(ctx, arn)?;
        self.input_sources(i, &mut sources)?;
        let principal = self.sim_principal(i, source, &ctx.caller.account)?;
        page(Sim { principal, sources }.run(i)?, i)
    }

    pub(super) fn simulate_custom_policy(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let mut sources = Vec::new();
        self.input_sources(i, &mut sources)?;
        let principal = self.sim_principal(i, None, &ctx.caller.account)?;
        page(Sim { principal, sources }.run(i)?, i)
    }

    pub(super) fn context_keys_for_principal_policy(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let arn = req(i, "PolicySourceArn")?;
        let (_, mut sources) = self.principal_sources(ctx, arn)?;
        // Only permission policies count here, not the boundary.
        sources.retain(|s| s.slot == Slot::Identity);
        for (n, text) in input_strings(i, "PolicyInputList").into_iter().enumerate() {
            sources.push(Source {
                id: format!("PolicyInputList.{}", n + 1),
                ty: "none",
                text: text.to_string(),
                policy: parse_input(text, PolicyKind::Identity)?,
                slot: Slot::Identity,
            });
        }
        Ok(keys_value(&sources))
    }

    pub(super) fn context_keys_for_custom_policy(
        &self,
        _ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let mut sources = Vec::new();
        for text in input_strings(i, "PolicyInputList") {
            // Custom policies may be identity or resource policies.
            let policy = Policy::parse(text, PolicyKind::Identity)
                .or_else(|e| Policy::parse(text, PolicyKind::Resource).map_err(|_| e))
                .map(Arc::new)
                .map_err(|e| malformed(e.message))?;
            sources.push(Source {
                id: String::new(),
                ty: "none",
                text: text.to_string(),
                policy,
                slot: Slot::Identity,
            });
        }
        Ok(keys_value(&sources))
    }
}

fn keys_value(sources: &[Source]) -> Value {
    let mut keys = Vec::new();
    let mut seen = HashSet::new();
    for s in sources {
        policy_keys(&s.policy, &mut keys, &mut seen);
    }
    json!({ "ContextKeyNames": keys })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ironsage_store::Store;
    use serde_json::{json, Value};

    use super::super::Iam;
    use crate::credentials::Credentials;
    use crate::{AwsError, Caller, Ctx, PrincipalKind, Service};

    const ACCT: &str = "111122223333";
    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const S3_GET: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    const DENY_GET: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoGet","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#;
    const ADMIN: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const S3_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    const REGION: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}}]}"#;

    struct Env {
        _dir: tempfile::TempDir,
        iam: Iam,
        root: Caller,
    }

    fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), Default::default()).unwrap();
        let creds = Arc::new(Credentials::open(&store).unwrap());
        let iam = Iam::open(&store, creds).unwrap();
        let root = Caller {
            account: ACCT.into(),
            kind: PrincipalKind::Root,
            access_key_id: "AKIAROOT".into(),
            session: None,
        };
        Env {
            _dir: dir,
            iam,
            root,
        }
    }

    impl Env {
        fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
            let ctx = Ctx {
                caller: &self.root,
                region: "us-east-1",
                request_id: "r",
                now: time::OffsetDateTime::now_utc(),
            };
            let out = self.iam.call(&ctx, op, input)?;
            conforms(op, &out);
            Ok(out)
        }
        fn ok(&self, op: &str, input: Value) -> Value {
            match self.call(op, input) {
                Ok(v) => v,
                Err(e) => panic!("{op} failed: {e}"),
            }
        }
        fn err(&self, op: &str, input: Value) -> AwsError {
            match self.call(op, input) {
                Ok(v) => panic!("{op} unexpectedly succeeded: {v}"),
                Err(e) => e,
            }
        }
        fn managed(&self, name: &str, doc: &str) -> String {
            let out = self.ok(
                "CreatePolicy",
                json!({"PolicyName": name, "PolicyDocument": doc}),
            );
            out["Policy"]["Arn"].as_str().unwrap().to_string()
        }
        fn user(&self, name: &str) {
            self.ok("CreateUser", json!({"UserName": name}));
        }
        fn results(&self, op: &str, input: Value) -> Vec<Value> {
            self.ok(op, input)["EvaluationResults"]
                .as_array()
                .unwrap()
                .clone()
        }
    }

    /// The output fits the botocore shape: known members, enum values,
    /// required members.
    fn conforms(op: &str, out: &Value) {
        let m = ironsage_model::model("iam").unwrap();
        let o = m.operation(op).unwrap();
        let Some(shape) = o.output.as_ref() else {
            assert_eq!(out, &json!({}), "{op} has no output");
            return;
        };
        let mut errs = Vec::new();
        check(m, shape, out, op, &mut errs);
        assert!(errs.is_empty(), "{op}: {errs:?}\n{out}");
    }

    fn check(
        m: &ironsage_model::ServiceModel,
        shape: &str,
        v: &Value,
        at: &str,
        errs: &mut Vec<String>,
    ) {
        use ironsage_model::ShapeType as T;
        let s = m.shape(shape).unwrap();
        match s.shape_type {
            T::Structure => {
                let obj = v.as_object().unwrap();
                for (k, x) in obj {
                    match s.members.get(k) {
                        Some(mem) => check(m, &mem.shape, x, &format!("{at}.{k}"), errs),
                        None => errs.push(format!("{at}.{k} not a member of {shape}")),
                    }
                }
                for r in &s.required {
                    if !obj.contains_key(r) {
                        errs.push(format!("{at}: missing {r}"));
                    }
                }
            }
            T::List => {
                let mem = s.member.as_ref().unwrap();
                for (n, x) in v.as_array().unwrap().iter().enumerate() {
                    check(m, &mem.shape, x, &format!("{at}[{n}]"), errs);
                }
            }
            T::Map => {
                let vv = s.value.as_ref().unwrap();
                for (k, x) in v.as_object().unwrap() {
                    check(m, &vv.shape, x, &format!("{at}.{k}"), errs);
                }
            }
            T::String => {
                let x = v.as_str().unwrap();
                if !s.enum_values.is_empty() && !s.enum_values.iter().any(|e| e == x) {
                    errs.push(format!("{at}: {x} not in {shape}"));
                }
            }
            T::Integer | T::Long => assert!(v.is_i64(), "{at}: {v}"),
            T::Boolean => assert!(v.is_boolean(), "{at}: {v}"),
            _ => {}
        }
    }

    fn user_arn(n: &str) -> String {
        format!("arn:aws:iam::{ACCT}:user/{n}")
    }

    #[test]
    fn user_inline_allow_and_implicit_deny() {
        let t = env();
        t.user("alice");
        t.ok(
            "PutUserPolicy",
            json!({"UserName": "alice", "PolicyName": "read", "PolicyDocument": S3_GET}),
        );
        let r = t.results(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": user_arn("alice"),
                   "ActionNames": ["s3:GetObject", "s3:PutObject"]}),
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["EvalActionName"], "s3:GetObject");
        assert_eq!(r[0]["EvalResourceName"], "*");
        assert_eq!(r[0]["EvalDecision"], "allowed");
        let m = &r[0]["MatchedStatements"];
        assert_eq!(m.as_array().unwrap().len(), 1);
        assert_eq!(m[0]["SourcePolicyId"], "read");
        assert_eq!(m[0]["SourcePolicyType"], "user");
        // `{"Version":"2012-10-17","Statement":[{` : the statement opens at
        // column 38 of line 1.
        assert_eq!(m[0]["StartPosition"], json!({"Line": 1, "Column": 38}));
        assert_eq!(m[0]["EndPosition"]["Line"], 1);
        assert_eq!(r[0]["MissingContextValues"], json!([]));
        // No resource list: no per-resource results, no decision details.
        assert!(r[0].get("ResourceSpecificResults").is_none());
        assert!(r[0].get("EvalDecisionDetails").is_none());
        assert!(r[0].get("PermissionsBoundaryDecisionDetail").is_none());
        assert_eq!(r[1]["EvalDecision"], "implicitDeny");
        assert_eq!(r[1]["MatchedStatements"], json!([]));
    }

    #[test]
    fn group_policies_count_and_deny_wins() {
        let t = env();
        t.user("alice");
        t.ok("CreateGroup", json!({"GroupName": "devs"}));
        t.ok(
            "AddUserToGroup",
            json!({"GroupName": "devs", "UserName": "alice"}),
        );
        let read = t.managed("s3-read", S3_GET);
        t.ok(
            "AttachGroupPolicy",
            json!({"GroupName": "devs", "PolicyArn": read}),
        );
        let r = t.results(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": user_arn("alice"), "ActionNames": ["s3:GetObject"]}),
        );
        assert_eq!(r[0]["EvalDecision"], "allowed");
        assert_eq!(r[0]["MatchedStatements"][0]["SourcePolicyId"], "s3-read");
        assert_eq!(
            r[0]["MatchedStatements"][0]["SourcePolicyType"],
            "user-managed"
        );
        let deny = t.managed("no-get", DENY_GET);
        t.ok(
            "AttachUserPolicy",
            json!({"UserName": "alice", "PolicyArn": deny}),
        );
        let r = t.results(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": user_arn("alice"), "ActionNames": ["s3:GetObject"]}),
        );
        assert_eq!(r[0]["EvalDecision"], "explicitDeny");
        let m = r[0]["MatchedStatements"].as_array().unwrap();
        assert_eq!(m.len(), 1, "only the deny is listed: {m:?}");
        assert_eq!(m[0]["SourcePolicyId"], "no-get");
        // The group itself simulates its own policies only.
        let r = t.results(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": format!("arn:aws:iam::{ACCT}:group/devs"),
                   "ActionNames": ["s3:GetObject"]}),
        );
        assert_eq!(r[0]["EvalDecision"], "allowed");
    }

    #[test]
    fn boundary_caps_an_admin_role() {
        let t = env();
        t.ok(
            "CreateRole",
            json!({"RoleName": "ops", "AssumeRolePolicyDocument": TRUST}),
        );
        let admin = t.managed("admin", ADMIN);
        let cap = t.managed("s3-cap", S3_ONLY);
        t.ok(
            "AttachRolePolicy",
            json!({"RoleName": "ops", "PolicyArn": admin}),
        );
        t.ok(
            "PutRolePermissionsBoundary",
            json!({"RoleName": "ops", "PermissionsBoundary": cap}),
        );
        let r = t.results(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": format!("arn:aws:iam::{ACCT}:role/ops"),
                   "ActionNames": ["iam:CreateUser", "s3:GetObject"]}),
        );
        assert_eq!(r[0]["EvalDecision"], "implicitDeny");
        assert_eq!(
            r[0]["PermissionsBoundaryDecisionDetail"],
            json!({"AllowedByPermissionsBoundary": false})
        );
        assert_eq!(r[1]["EvalDecision"], "allowed");
        assert_eq!(
            r[1]["PermissionsBoundaryDecisionDetail"],
            json!({"AllowedByPermissionsBoundary": true})
        );
        assert_eq!(r[1]["MatchedStatements"][0]["SourcePolicyId"], "admin");
        // An input boundary replaces the role's own.
        let r = t.results(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": format!("arn:aws:iam::{ACCT}:role/ops"),
                   "PermissionsBoundaryPolicyInputList": [ADMIN],
                   "ActionNames": ["iam:CreateUser"]}),
        );
        assert_eq!(r[0]["EvalDecision"], "allowed");
    }

    #[test]
    fn conditions_use_only_supplied_context() {
        let t = env();
        let base = json!({"PolicyInputList": [REGION], "ActionNames": ["ec2:RunInstances"]});
        let with = |region: &str| {
            let mut i = base.clone();
            i["ContextEntries"] = json!([{"ContextKeyName": "aws:RequestedRegion",
                "ContextKeyValues": [region], "ContextKeyType": "string"}]);
            t.results("SimulateCustomPolicy", i)
        };
        let r = with("us-east-1");
        assert_eq!(r[0]["EvalDecision"], "allowed");
        assert_eq!(
            r[0]["MatchedStatements"][0]["SourcePolicyId"],
            "PolicyInputList.1"
        );
        assert_eq!(r[0]["MatchedStatements"][0]["SourcePolicyType"], "none");
        assert_eq!(r[0]["MissingContextValues"], json!([]));
        let r = with("eu-west-1");
        assert_eq!(r[0]["EvalDecision"], "implicitDeny");
        // Not supplied: the simulating request's own region is NOT used.
        let r = t.results("SimulateCustomPolicy", base.clone());
        assert_eq!(r[0]["EvalDecision"], "implicitDeny");
        assert_eq!(r[0]["MissingContextValues"], json!(["aws:RequestedRegion"]));
        // A statement for another action does not make its keys missing.
        let mut i = base;
        i["ActionNames"] = json!(["s3:GetObject"]);
        let r = t.results("SimulateCustomPolicy", i);
        assert_eq!(r[0]["MissingContextValues"], json!([]));
    }

    #[test]
    fn typed_context_values() {
        let t = env();
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"10"},"Bool":{"aws:SecureTransport":"true"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
        let run = |ctx: Value| {
            t.results(
                "SimulateCustomPolicy",
                json!({"PolicyInputList": [p], "ActionNames": ["s3:ListBucket"], "ContextEntries": ctx}),
            )[0]["EvalDecision"]
                .clone()
        };
        let good = json!([
            {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["5"], "ContextKeyType": "numeric"},
            {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"},
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"}
        ]);
        assert_eq!(run(good.clone()), "allowed");
        let mut far = good.clone();
        far[2]["ContextKeyValues"] = json!(["192.168.0.1"]);
        assert_eq!(run(far), "implicitDeny");
        let mut bad = good;
        bad[0]["ContextKeyValues"] = json!(["many"]);
        let e = t.err(
            "SimulateCustomPolicy",
            json!({"PolicyInputList": [p], "ActionNames": ["s3:ListBucket"], "ContextEntries": bad}),
        );
        assert_eq!(e.code, "InvalidInput");
        let e = t.err(
            "SimulateCustomPolicy",
            json!({"PolicyInputList": [p], "ActionNames": ["s3:ListBucket"],
                   "ContextEntries": [{"ContextKeyName": "a:b", "ContextKeyValues": ["x"], "ContextKeyType": "weird"}]}),
        );
        assert_eq!(e.code, "InvalidInput");
    }

    #[test]
    fn resource_policy_and_caller() {
        let t = env();
        t.user("bob");
        let bucket_policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"BobReads","Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}]}}"#,
            user_arn("bob")
        );
        let nothing = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#;
        let input = |caller: &str| {
            json!({"PolicyInputList": [nothing], "ResourcePolicy": bucket_policy,
                   "CallerArn": caller, "ActionNames": ["s3:GetObject"],
                   "ResourceArns": ["arn:aws:s3:::b/key"]})
        };
        let r = t.results("SimulateCustomPolicy", input(&user_arn("bob")));
        assert_eq!(r[0]["EvalDecision"], "allowed");
        assert_eq!(r[0]["EvalResourceName"], "arn:aws:s3:::b/key");
        assert_eq!(
            r[0]["MatchedStatements"][0]["SourcePolicyId"],
            "ResourcePolicy"
        );
        assert_eq!(r[0]["MatchedStatements"][0]["SourcePolicyType"], "resource");
        // Same account with a resource list: details present but empty.
        assert_eq!(r[0]["EvalDecisionDetails"], json!({}));
        let rs = r[0]["ResourceSpecificResults"].as_array().unwrap();
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0]["EvalResourceDecision"], "allowed");
        let r = t.results("SimulateCustomPolicy", input(&user_arn("carol")));
        assert_eq!(r[0]["EvalDecision"], "implicitDeny");
        // Cross-account: the resource policy alone is not enough.
        let mut x = input(&user_arn("bob"));
        x["ResourceOwner"] = json!("arn:aws:iam::444455556666:root");
        let r = t.results("SimulateCustomPolicy", x);
        assert_eq!(r[0]["EvalDecision"], "implicitDeny");
        assert_eq!(r[0]["EvalDecisionDetails"]["IAM Policy"], "implicitDeny");
        assert_eq!(r[0]["EvalDecisionDetails"]["Resource Policy"], "allowed");
        // A resource policy needs a caller; only users can be callers.
        let mut no_caller = input("");
        no_caller.as_object_mut().unwrap().remove("CallerArn");
        assert_eq!(
            t.err("SimulateCustomPolicy", no_caller).code,
            "InvalidInput"
        );
        let e = t.err(
            "SimulateCustomPolicy",
            input(&format!("arn:aws:iam::{ACCT}:role/r")),
        );
        assert_eq!(e.code, "InvalidInput");
        // The principal form defaults the caller to the source user.
        t.ok(
            "PutUserPolicy",
            json!({"UserName": "bob", "PolicyName": "p", "PolicyDocument": nothing}),
        );
        let r = t.results(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": user_arn("bob"), "ResourcePolicy": bucket_policy,
                   "ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::b/key"]}),
        );
        assert_eq!(r[0]["EvalDecision"], "allowed");
    }

    #[test]
    fn several_resources_aggregate() {
        let t = env();
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::a/*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::c/*"}]}"#;
        let r = t.results(
            "SimulateCustomPolicy",
            json!({"PolicyInputList": [p], "ActionNames": ["s3:GetObject"],
                   "ResourceArns": ["arn:aws:s3:::a/1", "arn:aws:s3:::b/1", "arn:aws:s3:::c/1"]}),
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["EvalDecision"], "explicitDeny");
        let rs = r[0]["ResourceSpecificResults"].as_array().unwrap();
        let d: Vec<&str> = rs
            .iter()
            .map(|x| x["EvalResourceDecision"].as_str().unwrap())
            .collect();
        assert_eq!(d, ["allowed", "implicitDeny", "explicitDeny"]);
        assert_eq!(
            rs[0]["MatchedStatements"][0]["SourcePolicyId"],
            "PolicyInputList.1"
        );
    }

    #[test]
    fn statement_positions_in_pretty_documents() {
        let t = env();
        let doc = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"sqs:*\",\n      \"Resource\": \"*\"\n    },\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"s3:GetObject\",\n      \"Resource\": \"*\"\n    }\n  ]\n}";
        let r = t.results(
            "SimulateCustomPolicy",
            json!({"PolicyInputList": [doc], "ActionNames": ["s3:GetObject"]}),
        );
        let m = &r[0]["MatchedStatements"][0];
        assert_eq!(m["StartPosition"], json!({"Line": 9, "Column": 5}));
        assert_eq!(m["EndPosition"], json!({"Line": 13, "Column": 6}));
    }

    #[test]
    fn pagination() {
        let t = env();
        let actions: Vec<String> = (0..5).map(|i| format!("s3:Action{i}")).collect();
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut i =
                json!({"PolicyInputList": [S3_ONLY], "ActionNames": actions, "MaxItems": 2});
            if let Some(m) = &marker {
                i["Marker"] = json!(m);
            }
            let out = t.ok("SimulateCustomPolicy", i);
            pages += 1;
            for r in out["EvaluationResults"].as_array().unwrap() {
                assert_eq!(r["EvalDecision"], "allowed");
                seen.push(r["EvalActionName"].as_str().unwrap().to_string());
            }
            if out["IsTruncated"] == json!(true) {
                marker = Some(out["Marker"].as_str().unwrap().to_string());
            } else {
                assert!(out.get("Marker").is_none());
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, actions);
    }

    #[test]
    fn context_keys() {
        let t = env();
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::home/${aws:username}","Condition":{"StringLike":{"s3:prefix":["a/*"]},"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"AWS:RequestedRegion":"eu-west-1"}}}]}"#;
        let out = t.ok(
            "GetContextKeysForCustomPolicy",
            json!({"PolicyInputList": [p, REGION]}),
        );
        let mut keys: Vec<String> = out["ContextKeyNames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        keys.sort();
        assert_eq!(keys, ["aws:RequestedRegion", "aws:username", "s3:prefix"]);
        t.user("alice");
        t.ok(
            "PutUserPolicy",
            json!({"UserName": "alice", "PolicyName": "region", "PolicyDocument": REGION}),
        );
        let out = t.ok(
            "GetContextKeysForPrincipalPolicy",
            json!({"PolicySourceArn": user_arn("alice")}),
        );
        assert_eq!(out["ContextKeyNames"], json!(["aws:RequestedRegion"]));
        let out = t.ok(
            "GetContextKeysForPrincipalPolicy",
            json!({"PolicySourceArn": user_arn("alice"), "PolicyInputList": [p]}),
        );
        assert_eq!(out["ContextKeyNames"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn errors() {
        let t = env();
        let e = t.err(
            "SimulatePrincipalPolicy",
            json!({"PolicySourceArn": user_arn("ghost"), "ActionNames": ["s3:GetObject"]}),
        );
        assert_eq!(e.code, "NoSuchEntity");
        let e = t.err(
            "GetContextKeysForPrincipalPolicy",
            json!({"PolicySourceArn": format!("arn:aws:iam::{ACCT}:role/ghost")}),
        );
        assert_eq!(e.code, "NoSuchEntity");
        let e = t.err(
            "SimulateCustomPolicy",
            json!({"PolicyInputList": ["{not json"], "ActionNames": ["s3:GetObject"]}),
        );
        assert_eq!(e.code, "MalformedPolicyDocument");
        assert_eq!(e.message, "Syntax errors in policy.");
        let e = t.err(
            "GetContextKeysForCustomPolicy",
            json!({"PolicyInputList": [r#"{"Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}"#]}),
        );
        assert_eq!(e.code, "MalformedPolicyDocument");
    }
}
