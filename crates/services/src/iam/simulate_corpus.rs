//! The policy simulator against the policy engine's corpus
//! (`crates/policy/tests/corpus/*.json`): for every authorization case the
//! simulator can express, `SimulateCustomPolicy` (and, for user and role
//! principals, `SimulatePrincipalPolicy` over an entity created with the
//! case's policies) must reach the corpus's expected decision and the one
//! `ironsage_policy::authorize` reaches on the same case.
//!
//! Cases the simulator cannot express (SCPs, session policies, VPC endpoint
//! policies, KMS key policies and role trust policies, root/service/anonymous
//! principals, role callers of a resource policy, cross-account role
//! sessions) are counted by reason and printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ironsage_policy as pol;
use ironsage_store::Store;
use serde_json::{json, Value};

use super::Iam;
use crate::credentials::Credentials;
use crate::{AwsError, Caller, Ctx, PrincipalKind, Service};

/// The account the simulator's root caller belongs to.
const ACCT: &str = "111122223333";
const DEFAULT_NAME: &str = "alice";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

// ------------------------------------------------------------ environment

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
        self.iam.call(&ctx, op, input)
    }

    fn ok(&self, op: &str, input: Value) -> Result<Value, String> {
        self.call(op, input)
            .map_err(|e| format!("{op} failed: {} {}", e.code, e.message))
    }

    /// The single result's `EvalDecision`.
    fn decision(&self, op: &str, input: Value) -> Result<String, String> {
        let out = self.ok(op, input)?;
        let r = out["EvaluationResults"]
            .as_array()
            .ok_or_else(|| format!("{op}: no EvaluationResults in {out}"))?;
        match r.as_slice() {
            [one] => one["EvalDecision"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| format!("{op}: no EvalDecision in {one}")),
            _ => Err(format!("{op}: expected one result, got {out}")),
        }
    }
}

// ------------------------------------------------------------ the engine directly

fn kind_of(s: &str) -> pol::PolicyKind {
    match s {
        "Resource" => pol::PolicyKind::Resource,
        "Trust" => pol::PolicyKind::Trust,
        "Boundary" => pol::PolicyKind::Boundary,
        "Session" => pol::PolicyKind::Session,
        "Scp" => pol::PolicyKind::Scp,
        "VpcEndpoint" => pol::PolicyKind::VpcEndpoint,
        "KeyPolicy" => pol::PolicyKind::KeyPolicy,
        _ => pol::PolicyKind::Identity,
    }
}

/// The case's principal, as the corpus runner builds it.
fn engine_principal(v: &Value) -> pol::Principal {
    let acct = v["account"].as_str().unwrap_or(ACCT);
    let name = v["name"].as_str().unwrap_or(DEFAULT_NAME);
    match v["type"].as_str().unwrap_or("user") {
        "root" => pol::Principal::root(acct),
        "role" => pol::Principal::assumed_role(
            acct,
            v["path"].as_str().unwrap_or("/"),
            name,
            v["session"].as_str().unwrap_or("s"),
        ),
        "service" => pol::Principal::service(name),
        "anonymous" => pol::Principal::anonymous(),
        "federated" => pol::Principal {
            arn: format!("arn:aws:sts::{acct}:federated-user/{name}"),
            account: acct.to_string(),
            kind: pol::PrincipalKind::FederatedUser,
            userid: format!("{acct}:{name}"),
            username: None,
        },
        _ => pol::Principal::user(acct, name),
    }
}

fn ctx_value(v: &Value) -> pol::ContextValue {
    match v {
        Value::Bool(b) => pol::ContextValue::Bool(*b),
        Value::Number(n) => pol::ContextValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => pol::ContextValue::String(s.clone()),
        other => pol::ContextValue::String(other.to_string()),
    }
}

fn engine_context(v: &Value) -> pol::Context {
    let mut c = pol::Context::new();
    for (k, val) in v.as_object().into_iter().flatten() {
        match val {
            Value::Array(a) => c.insert_multi(k, a.iter().map(ctx_value)),
            other => c.insert(k, ctx_value(other)),
        }
    }
    c
}

/// `ironsage_policy::authorize` on the whole case, as an API decision string.
fn engine_decision(case: &Value) -> Result<&'static str, String> {
    let pols = &case["policies"];
    let parse = |p: &Value, default: pol::PolicyKind| -> Result<(String, pol::Policy), String> {
        let kind = p["kind"].as_str().map(kind_of).unwrap_or(default);
        let id = p["id"].as_str().unwrap_or("?").to_string();
        pol::Policy::from_json(&p["document"], kind)
            .map(|x| (id.clone(), x))
            .map_err(|e| format!("policy {id}: {e}"))
    };
    let list = |v: &Value, k| -> Result<Vec<(String, pol::Policy)>, String> {
        v.as_array()
            .map(|a| a.iter().map(|p| parse(p, k)).collect())
            .unwrap_or(Ok(vec![]))
    };
    let opt = |v: &Value, k| -> Result<Option<(String, pol::Policy)>, String> {
        if v.is_null() {
            Ok(None)
        } else {
            parse(v, k).map(Some)
        }
    };
    let identity = list(&pols["identity"], pol::PolicyKind::Identity)?;
    let session = list(&pols["session"], pol::PolicyKind::Session)?;
    let resource = opt(&pols["resource"], pol::PolicyKind::Resource)?;
    let boundary = opt(&pols["boundary"], pol::PolicyKind::Boundary)?;
    let endpoint = opt(&pols["endpoint"], pol::PolicyKind::VpcEndpoint)?;
    let scps: Vec<Vec<(String, pol::Policy)>> = pols["scps"]
        .as_array()
        .map(|levels| {
            levels
                .iter()
                .map(|l| list(l, pol::PolicyKind::Scp))
                .collect()
        })
        .unwrap_or(Ok(vec![]))?;
    fn r(p: &(String, pol::Policy)) -> pol::PolicyRef<'_> {
        pol::PolicyRef {
            id: p.0.as_str(),
            policy: &p.1,
        }
    }
    let set = pol::PolicySet {
        identity: identity.iter().map(r).collect(),
        resource: resource.as_ref().map(r),
        boundary: boundary.as_ref().map(r),
        session: session.iter().map(r).collect(),
        scps: scps.iter().map(|l| l.iter().map(r).collect()).collect(),
        endpoint: endpoint.as_ref().map(r),
    };
    let rq = &case["request"];
    let p = engine_principal(&rq["principal"]);
    let cx = engine_context(&rq["context"]);
    let areq = pol::AuthzRequest {
        principal: &p,
        action: rq["action"].as_str().unwrap_or(""),
        resource: rq["resource"].as_str().unwrap_or("*"),
        resource_account: rq["resource_account"].as_str(),
        context: &cx,
    };
    let d = pol::authorize(&areq, &set);
    Ok(match d.reason {
        pol::Reason::ExplicitDeny(_) => "explicitDeny",
        _ if d.allowed => "allowed",
        _ => "implicitDeny",
    })
}

// ------------------------------------------------------------ the case as simulator input

/// The decision the corpus expects, in API terms.
fn expected_decision(expect: &Value) -> &'static str {
    let reason = expect["reason"].as_str().unwrap_or("");
    if expect["allowed"].as_bool() == Some(true) {
        "allowed"
    } else if reason.starts_with("explicit_deny") {
        "explicitDeny"
    } else {
        "implicitDeny"
    }
}

/// Why the simulator cannot express a case, if it cannot.
fn skip_reason(case: &Value) -> Option<&'static str> {
    let pols = &case["policies"];
    let nonempty = |k: &str| match &pols[k] {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        _ => true,
    };
    if nonempty("scps") {
        return Some("service control policies");
    }
    if nonempty("session") {
        return Some("session policies");
    }
    if nonempty("endpoint") {
        return Some("VPC endpoint policy");
    }
    // KMS key policies and role trust policies are checked too: the
    // simulator reads a `ResourcePolicy` on a key ARN or an sts: action on a
    // role ARN with the rules enforcement gives those policies.
    let p = &case["request"]["principal"];
    let acct = p["account"].as_str().unwrap_or(ACCT);
    match p["type"].as_str().unwrap_or("user") {
        "root" => Some("root principal"),
        "service" => Some("service principal"),
        "anonymous" => Some("anonymous principal"),
        "federated" => Some("federated principal"),
        "role" if acct != ACCT => Some("cross-account role session"),
        "role" if nonempty("resource") => {
            Some("role session calling a resource policy (CallerArn must be a user)")
        }
        "user" if acct != ACCT => Some("user of another account"),
        _ => None,
    }
}

/// `ContextEntries` with types inferred from the case's JSON values, so the
/// simulator's context holds the same values the corpus runner builds.
fn context_entries(v: &Value) -> Result<Vec<Value>, String> {
    fn one(v: &Value) -> Result<(&'static str, String), String> {
        Ok(match v {
            Value::Bool(b) => ("boolean", b.to_string()),
            Value::Number(n) => ("numeric", n.to_string()),
            Value::String(s) => ("string", s.clone()),
            other => return Err(format!("context value {other} has no simulator type")),
        })
    }
    let mut out = Vec::new();
    for (k, val) in v.as_object().into_iter().flatten() {
        let (ty, values) = match val {
            Value::Array(a) => {
                let parsed = a.iter().map(one).collect::<Result<Vec<_>, _>>()?;
                let ty = parsed.first().map_or("string", |x| x.0);
                if parsed.iter().any(|x| x.0 != ty) {
                    return Err(format!("context key {k} mixes value types"));
                }
                (
                    format!("{ty}List"),
                    parsed.into_iter().map(|x| x.1).collect(),
                )
            }
            other => {
                let (ty, s) = one(other)?;
                (ty.to_string(), vec![s])
            }
        };
        out.push(json!({"ContextKeyName": k, "ContextKeyValues": values, "ContextKeyType": ty}));
    }
    Ok(out)
}

fn doc_text(p: &Value) -> String {
    serde_json::to_string(&p["document"]).unwrap()
}

fn identity_docs(case: &Value) -> Vec<String> {
    case["policies"]["identity"]
        .as_array()
        .map(|a| a.iter().map(doc_text).collect())
        .unwrap_or_default()
}

/// The simulator input shared by both forms (without the identity policies
/// and the caller).
fn common_input(case: &Value) -> Result<Value, String> {
    let rq = &case["request"];
    let p = &rq["principal"];
    let acct = p["account"].as_str().unwrap_or(ACCT);
    let mut i = json!({
        "ActionNames": [rq["action"].as_str().unwrap_or("")],
        "ContextEntries": context_entries(&rq["context"])?,
        // The corpus's `resource_account` is absent for the principal's own
        // account; the simulator would otherwise take it from the ARN.
        "ResourceOwner": format!(
            "arn:aws:iam::{}:root",
            rq["resource_account"].as_str().unwrap_or(acct)
        ),
    });
    let resource = rq["resource"].as_str().unwrap_or("*");
    if resource != "*" {
        i["ResourceArns"] = json!([resource]);
    }
    let res = &case["policies"]["resource"];
    if !res.is_null() {
        i["ResourcePolicy"] = json!(doc_text(res));
    }
    Ok(i)
}

fn custom_input(case: &Value) -> Result<Value, String> {
    let mut i = common_input(case)?;
    i["PolicyInputList"] = json!(identity_docs(case));
    let b = &case["policies"]["boundary"];
    if !b.is_null() {
        i["PermissionsBoundaryPolicyInputList"] = json!([doc_text(b)]);
    }
    let p = &case["request"]["principal"];
    if p["type"].as_str().unwrap_or("user") == "user" {
        let name = p["name"].as_str().unwrap_or(DEFAULT_NAME);
        i["CallerArn"] = json!(format!("arn:aws:iam::{ACCT}:user/{name}"));
    }
    Ok(i)
}

/// Creates the case's user or role with its identity policies inline and its
/// boundary attached, and returns the `SimulatePrincipalPolicy` input.
fn principal_input(t: &Env, case: &Value) -> Result<Value, String> {
    let p = &case["request"]["principal"];
    let name = p["name"].as_str().unwrap_or(DEFAULT_NAME);
    let (ety, arn) = match p["type"].as_str().unwrap_or("user") {
        "role" => {
            let path = p["path"].as_str().unwrap_or("/");
            t.ok(
                "CreateRole",
                json!({"RoleName": name, "Path": path, "AssumeRolePolicyDocument": TRUST}),
            )?;
            ("Role", format!("arn:aws:iam::{ACCT}:role{path}{name}"))
        }
        _ => {
            t.ok("CreateUser", json!({"UserName": name}))?;
            ("User", format!("arn:aws:iam::{ACCT}:user/{name}"))
        }
    };
    for (n, d) in identity_docs(case).into_iter().enumerate() {
        t.ok(
            &format!("Put{ety}Policy"),
            json!({format!("{ety}Name"): name, "PolicyName": format!("p{}", n + 1), "PolicyDocument": d}),
        )?;
    }
    let b = &case["policies"]["boundary"];
    if !b.is_null() {
        let out = t.ok(
            "CreatePolicy",
            json!({"PolicyName": "boundary", "PolicyDocument": doc_text(b)}),
        )?;
        let parn = out["Policy"]["Arn"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        t.ok(
            &format!("Put{ety}PermissionsBoundary"),
            json!({format!("{ety}Name"): name, "PermissionsBoundary": parn}),
        )?;
    }
    let mut i = common_input(case)?;
    i["PolicySourceArn"] = json!(arn);
    Ok(i)
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policy/tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn simulator_agrees_with_enforcement_on_the_corpus() {
    let mut checked = 0usize;
    let mut roles_checked = 0usize;
    let mut skipped: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for f in corpus_files() {
        let cases: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for case in cases.as_array().unwrap() {
            if case.get("parse").is_some() {
                continue;
            }
            let name = format!(
                "{}: {}",
                f.file_name().unwrap().to_string_lossy(),
                case["name"].as_str().unwrap_or("?")
            );
            if let Some(why) = skip_reason(case) {
                skipped.entry(why).or_default().push(name);
                continue;
            }
            checked += 1;
            let want = expected_decision(&case["expect"]);
            let mut check = |what: &str, got: Result<String, String>| match got {
                Ok(g) if g == want => {}
                Ok(g) => failures.push(format!("{name}: {what} says {g}, corpus expects {want}")),
                Err(e) => failures.push(format!("{name}: {what}: {e}")),
            };
            check("authorize", engine_decision(case).map(String::from));
            let t = env();
            check(
                "SimulateCustomPolicy",
                custom_input(case).and_then(|i| t.decision("SimulateCustomPolicy", i)),
            );
            if case["request"]["principal"]["type"] == "role" {
                roles_checked += 1;
            }
            check(
                "SimulatePrincipalPolicy",
                principal_input(&t, case).and_then(|i| t.decision("SimulatePrincipalPolicy", i)),
            );
        }
    }
    let nskipped: usize = skipped.values().map(Vec::len).sum();
    eprintln!(
        "simulate_corpus: {checked} cases checked through SimulateCustomPolicy, \
         SimulatePrincipalPolicy and authorize ({} user, {roles_checked} same-account \
         role principals), {nskipped} skipped",
        checked - roles_checked
    );
    for (why, names) in &skipped {
        eprintln!("  skipped {:>3}: {why}", names.len());
        for n in names {
            eprintln!("      {n}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreement(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 250, "only {checked} corpus cases checked");
}
