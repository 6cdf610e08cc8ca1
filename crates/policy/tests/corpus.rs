//! Table-driven corpus runner. Each `tests/corpus/*.json` file holds an array
//! of cases; a case is either an authorization case (`policies`, `request`,
//! `expect`) or a parse case (`parse`). The engine sits behind
//! [`PolicyEngine`] so another implementation can run the same corpus.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test/bench code

use std::path::PathBuf;

use ironsage_policy::{
    authorize, AuthzRequest, Context, ContextValue, Policy, PolicyKind, PolicyRef, PolicySet,
    Principal, PrincipalKind,
};
use serde_json::Value;

/// Outcome of a case, engine-neutral.
#[derive(Debug, PartialEq)]
struct Outcome {
    allowed: bool,
    reason: String,
    policy: Option<String>,
    sid: Option<String>,
}

trait PolicyEngine {
    /// `Ok(())` or `Err((message, path))`.
    fn validate(&self, kind: &str, doc: &Value) -> Result<(), (String, String)>;
    fn decide(&self, case: &Value) -> Result<Outcome, String>;
}

struct Ironsage;

fn kind_of(s: &str) -> PolicyKind {
    match s {
        "Resource" => PolicyKind::Resource,
        "Trust" => PolicyKind::Trust,
        "Boundary" => PolicyKind::Boundary,
        "Session" => PolicyKind::Session,
        "Scp" => PolicyKind::Scp,
        "VpcEndpoint" => PolicyKind::VpcEndpoint,
        "KeyPolicy" => PolicyKind::KeyPolicy,
        _ => PolicyKind::Identity,
    }
}

fn principal(v: &Value) -> Principal {
    let acct = v["account"].as_str().unwrap_or("111122223333");
    let name = v["name"].as_str().unwrap_or("alice");
    match v["type"].as_str().unwrap_or("user") {
        "root" => Principal::root(acct),
        "role" => Principal::assumed_role(
            acct,
            v["path"].as_str().unwrap_or("/"),
            name,
            v["session"].as_str().unwrap_or("s"),
        ),
        "service" => Principal::service(name),
        "anonymous" => Principal::anonymous(),
        "federated" => Principal {
            arn: format!("arn:aws:sts::{acct}:federated-user/{name}"),
            account: acct.to_string(),
            kind: PrincipalKind::FederatedUser,
            userid: format!("{acct}:{name}"),
            username: None,
        },
        _ => Principal::user(acct, name),
    }
}

fn ctx_value(v: &Value) -> ContextValue {
    match v {
        Value::Bool(b) => ContextValue::Bool(*b),
        Value::Number(n) => ContextValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => ContextValue::String(s.clone()),
        other => ContextValue::String(other.to_string()),
    }
}

fn context(v: &Value) -> Context {
    let mut c = Context::new();
    if let Some(m) = v.as_object() {
        for (k, val) in m {
            match val {
                Value::Array(a) => c.insert_multi(k, a.iter().map(ctx_value)),
                other => c.insert(k, ctx_value(other)),
            }
        }
    }
    c
}

impl PolicyEngine for Ironsage {
    fn validate(&self, kind: &str, doc: &Value) -> Result<(), (String, String)> {
        Policy::from_json(doc, kind_of(kind))
            .map(|_| ())
            .map_err(|e| (e.message, e.path))
    }

    fn decide(&self, case: &Value) -> Result<Outcome, String> {
        let pols = &case["policies"];
        let parse = |p: &Value, default: PolicyKind| -> Result<(String, Policy), String> {
            let kind = p["kind"].as_str().map(kind_of).unwrap_or(default);
            let id = p["id"].as_str().unwrap_or("?").to_string();
            Policy::from_json(&p["document"], kind)
                .map(|pol| (id.clone(), pol))
                .map_err(|e| format!("policy {id}: {e}"))
        };
        let list = |v: &Value, k: PolicyKind| -> Result<Vec<(String, Policy)>, String> {
            v.as_array()
                .map(|a| a.iter().map(|p| parse(p, k)).collect())
                .unwrap_or(Ok(vec![]))
        };
        let opt = |v: &Value, k: PolicyKind| -> Result<Option<(String, Policy)>, String> {
            if v.is_null() {
                Ok(None)
            } else {
                parse(v, k).map(Some)
            }
        };
        let identity = list(&pols["identity"], PolicyKind::Identity)?;
        let session = list(&pols["session"], PolicyKind::Session)?;
        let resource = opt(&pols["resource"], PolicyKind::Resource)?;
        let boundary = opt(&pols["boundary"], PolicyKind::Boundary)?;
        let endpoint = opt(&pols["endpoint"], PolicyKind::VpcEndpoint)?;
        let scps: Vec<Vec<(String, Policy)>> = pols["scps"]
            .as_array()
            .map(|levels| levels.iter().map(|l| list(l, PolicyKind::Scp)).collect())
            .unwrap_or(Ok(vec![]))?;
        fn r(p: &(String, Policy)) -> PolicyRef<'_> {
            PolicyRef {
                id: p.0.as_str(),
                policy: &p.1,
            }
        }
        let set = PolicySet {
            identity: identity.iter().map(r).collect(),
            resource: resource.as_ref().map(r),
            boundary: boundary.as_ref().map(r),
            session: session.iter().map(r).collect(),
            scps: scps.iter().map(|l| l.iter().map(r).collect()).collect(),
            endpoint: endpoint.as_ref().map(r),
        };
        let req = &case["request"];
        let p = principal(&req["principal"]);
        let ctx = context(&req["context"]);
        let areq = AuthzRequest {
            principal: &p,
            action: req["action"].as_str().unwrap_or(""),
            resource: req["resource"].as_str().unwrap_or("*"),
            resource_account: req["resource_account"].as_str(),
            context: &ctx,
        };
        let d = authorize(&areq, &set);
        Ok(Outcome {
            allowed: d.allowed,
            reason: d.reason.short(),
            policy: d.deciding.as_ref().map(|m| m.policy_id.clone()),
            sid: d.deciding.as_ref().and_then(|m| m.sid.clone()),
        })
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn run(engine: &dyn PolicyEngine) -> (usize, Vec<String>) {
    let mut n = 0;
    let mut failures = Vec::new();
    for f in corpus_files() {
        let cases: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for case in cases.as_array().unwrap() {
            n += 1;
            let name = format!(
                "{}: {}",
                f.file_name().unwrap().to_string_lossy(),
                case["name"].as_str().unwrap_or("?")
            );
            assert!(case["doc_rule"].is_string(), "{name}: missing doc_rule");
            if let Some(p) = case.get("parse") {
                let got = engine.validate(p["kind"].as_str().unwrap_or("Identity"), &p["document"]);
                let want = p["error"]
                    .as_str()
                    .map(|m| (m.to_string(), p["path"].as_str().unwrap_or("").to_string()));
                if got.clone().err() != want {
                    failures.push(format!("{name}: parse got {got:?}, want {want:?}"));
                }
                continue;
            }
            let exp = &case["expect"];
            let want = Outcome {
                allowed: exp["allowed"].as_bool().unwrap(),
                reason: exp["reason"].as_str().unwrap().to_string(),
                policy: exp["policy"].as_str().map(String::from),
                sid: exp["sid"].as_str().map(String::from),
            };
            match engine.decide(case) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!("{name}: got {got:?}, want {want:?}")),
                Err(e) => failures.push(format!("{name}: error {e}")),
            }
        }
    }
    (n, failures)
}

#[test]
fn corpus() {
    let (n, failures) = run(&Ironsage);
    eprintln!("corpus: {n} cases");
    assert!(n >= 300, "corpus too small: {n}");
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
