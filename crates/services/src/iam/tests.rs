//! IAM tests over a temporary store, calling `Iam::call` as the server does.

use std::sync::Arc;

use ironsage_store::Store;
use serde_json::{json, Value};

use super::Iam;
use crate::credentials::Credentials;
use crate::{AwsError, Caller, Ctx, PrincipalKind, Service};

const ACCT: &str = "111122223333";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const S3_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const SM_FULL: &str = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess";

struct Env {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    creds: Arc<Credentials>,
    iam: Iam,
    root: Caller,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path, Default::default()).unwrap();
    let creds = Arc::new(Credentials::open(&store).unwrap());
    let iam = Iam::open(&store, Arc::clone(&creds)).unwrap();
    let root = Caller {
        account: ACCT.into(),
        kind: PrincipalKind::Root,
        access_key_id: "AKIAROOT".into(),
        session: None,
    };
    Env {
        _dir: dir,
        path,
        creds,
        iam,
        root,
    }
}

impl Env {
    fn call_as(&self, caller: &Caller, op: &str, input: Value) -> Result<Value, AwsError> {
        let ctx = Ctx {
            caller,
            region: "us-east-1",
            request_id: "r",
            now: time::OffsetDateTime::now_utc(),
        };
        let out = self.iam.call(&ctx, op, input)?;
        conforms(op, &out);
        Ok(out)
    }

    fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.call_as(&self.root, op, input)
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

    fn role(&self, name: &str) {
        self.ok(
            "CreateRole",
            json!({"RoleName": name, "AssumeRolePolicyDocument": TRUST}),
        );
    }
}

/// Panics unless `out` fits the botocore output shape of `op`: known
/// members only, right JSON types, enum values, required members present.
fn conforms(op: &str, out: &Value) {
    let m = ironsage_model::model("iam").unwrap();
    let o = m.operation(op).unwrap();
    let mut errs = Vec::new();
    match &o.output {
        Some(shape) => check_shape(m, shape, out, op, &mut errs),
        None => assert_eq!(out, &json!({}), "{op} has no output members"),
    }
    // AWS answers GetUser for the root user without Path and UserName.
    if out["User"]["Arn"]
        .as_str()
        .is_some_and(|a| a.ends_with(":root"))
    {
        errs.retain(|e| !e.contains("required member"));
    }
    // Root's own keys carry no user name (unverified against AWS).
    if op == "CreateAccessKey" && out["AccessKey"].get("UserName").is_none() {
        errs.retain(|e| !e.contains("required member UserName"));
    }
    assert!(
        errs.is_empty(),
        "{op} output does not fit the model: {errs:?}\n{out}"
    );
}

fn check_shape(
    m: &ironsage_model::ServiceModel,
    shape: &str,
    v: &Value,
    at: &str,
    errs: &mut Vec<String>,
) {
    use ironsage_model::ShapeType as T;
    let s = m.shape(shape).unwrap();
    let ok = match s.shape_type {
        T::Structure => match v.as_object() {
            Some(obj) => {
                for (k, x) in obj {
                    match s.members.get(k) {
                        Some(mem) => check_shape(m, &mem.shape, x, &format!("{at}.{k}"), errs),
                        None => errs.push(format!("{at}.{k}: not a member of {shape}")),
                    }
                }
                for r in &s.required {
                    if !obj.contains_key(r) {
                        errs.push(format!("{at}: required member {r} missing"));
                    }
                }
                true
            }
            None => false,
        },
        T::List => match v.as_array() {
            Some(a) => {
                let mem = s.member.as_ref().unwrap();
                for (n, x) in a.iter().enumerate() {
                    check_shape(m, &mem.shape, x, &format!("{at}[{n}]"), errs);
                }
                true
            }
            None => false,
        },
        T::Map => match v.as_object() {
            Some(obj) => {
                let (kk, vv) = (s.key.as_ref().unwrap(), s.value.as_ref().unwrap());
                for (k, x) in obj {
                    check_shape(m, &kk.shape, &json!(k), &format!("{at}{{key}}"), errs);
                    check_shape(m, &vv.shape, x, &format!("{at}.{k}"), errs);
                }
                true
            }
            None => false,
        },
        T::String => match v.as_str() {
            Some(x) => {
                if !s.enum_values.is_empty() && !s.enum_values.iter().any(|e| e == x) {
                    errs.push(format!("{at}: {x} not in enum {shape}"));
                }
                true
            }
            None => false,
        },
        T::Integer | T::Long => v.is_i64() || v.is_u64(),
        T::Boolean => v.is_boolean(),
        T::Timestamp => v
            .as_str()
            .is_some_and(|x| x.ends_with('Z') && x.len() == 20),
        _ => true,
    };
    if !ok {
        errs.push(format!("{at}: {v} is not a {:?} ({shape})", s.shape_type));
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn assert_err(e: &AwsError, code: &str, status: u16, msg: &str) {
    assert_eq!(
        (e.code.as_str(), e.status, e.message.as_str()),
        (code, status, msg)
    );
}

#[test]
fn role_round_trip_and_errors() {
    let t = env();
    let out = t.ok(
        "CreateRole",
        json!({"RoleName": "App", "Path": "/svc/", "AssumeRolePolicyDocument": TRUST,
               "Description": "d", "MaxSessionDuration": 7200, "Tags": [{"Key": "team", "Value": "ml"}]}),
    );
    let role = &out["Role"];
    assert_eq!(role["Arn"], format!("arn:aws:iam::{ACCT}:role/svc/App"));
    assert!(role["RoleId"].as_str().unwrap().starts_with("AROA"));
    assert_eq!(
        decode(role["AssumeRolePolicyDocument"].as_str().unwrap()),
        TRUST
    );
    assert_eq!(role["MaxSessionDuration"], 7200);
    assert_eq!(role["Tags"], json!([{"Key": "team", "Value": "ml"}]));

    let got = t.ok("GetRole", json!({"RoleName": "app"}));
    assert_eq!(got["Role"]["RoleId"], role["RoleId"]);
    assert_eq!(got["Role"]["RoleName"], "App");
    let rec = t.iam.role(ACCT, "APP").unwrap().unwrap();
    assert_eq!(rec.assume_role_policy, TRUST);
    assert_eq!(rec.path, "/svc/");

    assert_err(
        &t.err(
            "CreateRole",
            json!({"RoleName": "app", "AssumeRolePolicyDocument": TRUST}),
        ),
        "EntityAlreadyExists",
        409,
        "Role with name app already exists.",
    );
    assert_err(
        &t.err("GetRole", json!({"RoleName": "Nope"})),
        "NoSuchEntity",
        404,
        "The role with name Nope cannot be found.",
    );
    let bad = t.err(
        "CreateRole",
        json!({"RoleName": "B", "AssumeRolePolicyDocument": "{not json"}),
    );
    assert_eq!(
        (bad.code.as_str(), bad.status),
        ("MalformedPolicyDocument", 400)
    );
    assert!(t.iam.role(ACCT, "B").unwrap().is_none());

    t.ok(
        "UpdateRole",
        json!({"RoleName": "App", "Description": "new", "MaxSessionDuration": 3600}),
    );
    let new_trust = TRUST.replace("ec2", "lambda");
    t.ok(
        "UpdateAssumeRolePolicy",
        json!({"RoleName": "App", "PolicyDocument": new_trust}),
    );
    t.ok("TagRole", json!({"RoleName": "App", "Tags": [{"Key": "env", "Value": "dev"}, {"Key": "TEAM", "Value": "x"}]}));
    t.ok("UntagRole", json!({"RoleName": "App", "TagKeys": ["env"]}));
    let tags = t.ok("ListRoleTags", json!({"RoleName": "App"}));
    assert_eq!(tags["Tags"], json!([{"Key": "TEAM", "Value": "x"}]));
    let rec = t.iam.role(ACCT, "App").unwrap().unwrap();
    assert_eq!(rec.description.as_deref(), Some("new"));
    assert_eq!(rec.max_session_duration, 3600);
    assert_eq!(rec.assume_role_policy, new_trust);

    t.ok("DeleteRole", json!({"RoleName": "App"}));
    assert!(t.iam.role(ACCT, "App").unwrap().is_none());
}

#[test]
fn trust_policies_must_name_existing_principals() {
    let t = env();
    let trust_for = |arn: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}]})
        .to_string()
    };
    let ghost = format!("arn:aws:iam::{ACCT}:role/Ghost");
    let e = t.err(
        "CreateRole",
        json!({"RoleName": "T", "AssumeRolePolicyDocument": trust_for(&ghost)}),
    );
    assert_err(
        &e,
        "MalformedPolicyDocument",
        400,
        &format!("Invalid principal in policy: \"AWS\":\"{ghost}\""),
    );
    assert!(t.iam.role(ACCT, "T").unwrap().is_none());
    t.ok(
        "CreateRole",
        json!({"RoleName": "Ghost", "Path": "/x/", "AssumeRolePolicyDocument": TRUST}),
    );
    // Wrong path is still unknown; the real ARN works; other accounts are not checked.
    assert_eq!(
        t.err(
            "CreateRole",
            json!({"RoleName": "T", "AssumeRolePolicyDocument": trust_for(&ghost)})
        )
        .code,
        "MalformedPolicyDocument"
    );
    t.ok("CreateRole", json!({"RoleName": "T", "AssumeRolePolicyDocument": trust_for(&format!("arn:aws:iam::{ACCT}:role/x/Ghost"))}));
    t.ok(
        "UpdateAssumeRolePolicy",
        json!({"RoleName": "T", "PolicyDocument": trust_for("arn:aws:iam::999988887777:role/Any")}),
    );
    t.ok(
        "UpdateAssumeRolePolicy",
        json!({"RoleName": "T", "PolicyDocument": trust_for(&format!("arn:aws:iam::{ACCT}:root"))}),
    );
    let e = t.err("UpdateAssumeRolePolicy", json!({"RoleName": "T", "PolicyDocument": trust_for(&format!("arn:aws:iam::{ACCT}:user/nobody"))}));
    assert_eq!(e.code, "MalformedPolicyDocument");
    assert!(t
        .iam
        .role(ACCT, "T")
        .unwrap()
        .unwrap()
        .assume_role_policy
        .contains(":root"));
}

#[test]
fn roles_paginate_by_name() {
    let t = env();
    for n in 0..150 {
        t.role(&format!("role-{n:03}"));
    }
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut input = json!({"MaxItems": 40});
        if let Some(m) = &marker {
            input["Marker"] = json!(m);
        }
        let out = t.ok("ListRoles", input);
        pages += 1;
        for r in out["Roles"].as_array().unwrap() {
            names.push(r["RoleName"].as_str().unwrap().to_string());
        }
        if out["IsTruncated"] == json!(true) {
            marker = Some(out["Marker"].as_str().unwrap().to_string());
        } else {
            assert!(out.get("Marker").is_none());
            break;
        }
    }
    assert_eq!(pages, 4);
    let expected: Vec<String> = (0..150).map(|n| format!("role-{n:03}")).collect();
    assert_eq!(names, expected);
    let filtered = t.ok("ListRoles", json!({"PathPrefix": "/other/"}));
    assert_eq!(filtered["Roles"], json!([]));
    assert_eq!(filtered["IsTruncated"], json!(false));
}

#[test]
fn policy_versions_limit_and_defaults() {
    let t = env();
    let p = t.ok(
        "CreatePolicy",
        json!({"PolicyName": "P", "Path": "/team/", "PolicyDocument": S3_READ, "Description": "x"}),
    );
    let arn = p["Policy"]["Arn"].as_str().unwrap().to_string();
    assert_eq!(arn, format!("arn:aws:iam::{ACCT}:policy/team/P"));
    assert_eq!(p["Policy"]["DefaultVersionId"], "v1");
    assert_err(
        &t.err(
            "CreatePolicy",
            json!({"PolicyName": "p", "PolicyDocument": S3_READ}),
        ),
        "EntityAlreadyExists",
        409,
        "A policy called p already exists. Duplicate names are not allowed.",
    );
    for n in 2..=5 {
        let v = t.ok(
            "CreatePolicyVersion",
            json!({"PolicyArn": arn, "PolicyDocument": S3_READ, "SetAsDefault": n == 3}),
        );
        assert_eq!(v["PolicyVersion"]["VersionId"], format!("v{n}"));
    }
    assert_err(
        &t.err("CreatePolicyVersion", json!({"PolicyArn": arn, "PolicyDocument": S3_READ})),
        "LimitExceeded",
        409,
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
    );
    let vs = t.ok("ListPolicyVersions", json!({"PolicyArn": arn}));
    let ids: Vec<&str> = vs["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VersionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["v5", "v4", "v3", "v2", "v1"]);
    assert_eq!(
        t.ok("GetPolicy", json!({"PolicyArn": arn}))["Policy"]["DefaultVersionId"],
        "v3"
    );
    assert_err(
        &t.err(
            "DeletePolicyVersion",
            json!({"PolicyArn": arn, "VersionId": "v3"}),
        ),
        "DeleteConflict",
        409,
        "Cannot delete the default version of a policy.",
    );
    t.ok(
        "DeletePolicyVersion",
        json!({"PolicyArn": arn, "VersionId": "v1"}),
    );
    let v6 = t.ok(
        "CreatePolicyVersion",
        json!({"PolicyArn": arn, "PolicyDocument": S3_READ}),
    );
    assert_eq!(v6["PolicyVersion"]["VersionId"], "v6");
    assert_eq!(v6["PolicyVersion"]["IsDefaultVersion"], false);
    let got = t.ok(
        "GetPolicyVersion",
        json!({"PolicyArn": arn, "VersionId": "v6"}),
    );
    assert_eq!(
        decode(got["PolicyVersion"]["Document"].as_str().unwrap()),
        S3_READ
    );
    assert_err(
        &t.err(
            "GetPolicyVersion",
            json!({"PolicyArn": arn, "VersionId": "v1"}),
        ),
        "NoSuchEntity",
        404,
        &format!("Policy {arn} version v1 does not exist or is not attachable."),
    );
    t.ok(
        "SetDefaultPolicyVersion",
        json!({"PolicyArn": arn, "VersionId": "v6"}),
    );
    let e = t.err("DeletePolicy", json!({"PolicyArn": arn}));
    assert_eq!((e.code.as_str(), e.status), ("DeleteConflict", 409));
    for v in ["v2", "v3", "v4", "v5"] {
        t.ok(
            "DeletePolicyVersion",
            json!({"PolicyArn": arn, "VersionId": v}),
        );
    }
    t.ok("DeletePolicy", json!({"PolicyArn": arn}));
    assert_err(
        &t.err("GetPolicy", json!({"PolicyArn": arn})),
        "NoSuchEntity",
        404,
        &format!("Policy {arn} was not found."),
    );
}

#[test]
fn delete_role_conflicts_leave_role_intact() {
    let t = env();
    t.role("R");
    t.ok(
        "AttachRolePolicy",
        json!({"RoleName": "R", "PolicyArn": SM_FULL}),
    );
    assert_err(
        &t.err("DeleteRole", json!({"RoleName": "R"})),
        "DeleteConflict",
        409,
        "Cannot delete entity, must detach all policies first.",
    );
    assert!(t.iam.role(ACCT, "R").unwrap().is_some());
    t.ok(
        "DetachRolePolicy",
        json!({"RoleName": "R", "PolicyArn": SM_FULL}),
    );
    t.ok(
        "PutRolePolicy",
        json!({"RoleName": "R", "PolicyName": "inl", "PolicyDocument": S3_READ}),
    );
    assert_err(
        &t.err("DeleteRole", json!({"RoleName": "R"})),
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete policies first.",
    );
    t.ok(
        "DeleteRolePolicy",
        json!({"RoleName": "R", "PolicyName": "inl"}),
    );
    t.ok(
        "CreateInstanceProfile",
        json!({"InstanceProfileName": "IP"}),
    );
    t.ok(
        "AddRoleToInstanceProfile",
        json!({"InstanceProfileName": "IP", "RoleName": "R"}),
    );
    assert_err(
        &t.err("DeleteRole", json!({"RoleName": "R"})),
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove roles from instance profile first.",
    );
    assert_err(
        &t.err(
            "DeleteInstanceProfile",
            json!({"InstanceProfileName": "IP"}),
        ),
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove roles from instance profile first.",
    );
    t.ok(
        "RemoveRoleFromInstanceProfile",
        json!({"InstanceProfileName": "IP", "RoleName": "R"}),
    );
    t.ok("DeleteRole", json!({"RoleName": "R"}));
    assert!(t.iam.role(ACCT, "R").unwrap().is_none());
    t.ok(
        "DeleteInstanceProfile",
        json!({"InstanceProfileName": "IP"}),
    );
}

#[test]
fn aws_managed_policies_attach_list_and_count() {
    let t = env();
    t.role("ML");
    t.ok(
        "AttachRolePolicy",
        json!({"RoleName": "ML", "PolicyArn": SM_FULL}),
    );
    // Attaching twice is a no-op, as in AWS.
    t.ok(
        "AttachRolePolicy",
        json!({"RoleName": "ML", "PolicyArn": SM_FULL}),
    );
    let att = t.ok("ListAttachedRolePolicies", json!({"RoleName": "ML"}));
    assert_eq!(
        att["AttachedPolicies"],
        json!([{"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": SM_FULL}])
    );
    let p = t.ok("GetPolicy", json!({"PolicyArn": SM_FULL}));
    assert_eq!(p["Policy"]["AttachmentCount"], 1);
    assert_eq!(p["Policy"]["PolicyName"], "AmazonSageMakerFullAccess");
    let v = t.ok(
        "GetPolicyVersion",
        json!({"PolicyArn": SM_FULL, "VersionId": p["Policy"]["DefaultVersionId"]}),
    );
    assert!(decode(v["PolicyVersion"]["Document"].as_str().unwrap()).contains("sagemaker:*"));
    let attached = t.ok(
        "ListPolicies",
        json!({"Scope": "AWS", "OnlyAttached": true}),
    );
    assert_eq!(attached["Policies"].as_array().unwrap().len(), 1);
    let page = t.ok("ListPolicies", json!({"Scope": "AWS", "MaxItems": 1000}));
    assert_eq!(page["Policies"].as_array().unwrap().len(), 1000);
    assert_eq!(page["IsTruncated"], true);
    let rest = t.ok(
        "ListPolicies",
        json!({"Scope": "AWS", "MaxItems": 1000, "Marker": page["Marker"]}),
    );
    assert_eq!(rest["Policies"].as_array().unwrap().len(), 485);
    let ents = t.ok("ListEntitiesForPolicy", json!({"PolicyArn": SM_FULL}));
    assert_eq!(ents["PolicyRoles"][0]["RoleName"], "ML");
    let missing = "arn:aws:iam::aws:policy/NoSuchPolicyHere";
    assert_err(
        &t.err(
            "AttachRolePolicy",
            json!({"RoleName": "ML", "PolicyArn": missing}),
        ),
        "NoSuchEntity",
        404,
        &format!("Policy {missing} does not exist or is not attachable."),
    );
    let e = t.err("DeletePolicy", json!({"PolicyArn": SM_FULL}));
    assert_eq!(e.code, "UnmodifiableEntity");
    assert!(t.iam.managed_policy(SM_FULL).unwrap().is_some());
}

#[test]
fn principal_policies_include_group_policies() {
    let t = env();
    t.ok("CreateUser", json!({"UserName": "alice"}));
    t.ok("CreateGroup", json!({"GroupName": "devs"}));
    t.ok(
        "AddUserToGroup",
        json!({"GroupName": "devs", "UserName": "alice"}),
    );
    t.ok(
        "PutGroupPolicy",
        json!({"GroupName": "devs", "PolicyName": "g-inline", "PolicyDocument": S3_READ}),
    );
    t.ok(
        "AttachGroupPolicy",
        json!({"GroupName": "devs", "PolicyArn": SM_FULL}),
    );
    t.ok(
        "PutUserPolicy",
        json!({"UserName": "alice", "PolicyName": "u-inline", "PolicyDocument": S3_READ}),
    );
    let user = t.ok("GetUser", json!({"UserName": "alice"}))["User"].clone();
    let caller = Caller {
        account: ACCT.into(),
        kind: PrincipalKind::User {
            name: "alice".into(),
            path: "/".into(),
            user_id: user["UserId"].as_str().unwrap().into(),
        },
        access_key_id: "AKIAX".into(),
        session: None,
    };
    let ids = |p: &super::PrincipalPolicies| {
        p.identity
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>()
    };
    let pp = t.iam.principal_policies(&caller).unwrap();
    assert_eq!(
        ids(&pp),
        [
            format!("arn:aws:iam::{ACCT}:user/alice (inline policy u-inline)"),
            format!("arn:aws:iam::{ACCT}:group/devs (inline policy g-inline)"),
            SM_FULL.to_string(),
        ]
    );
    assert!(pp.boundary.is_none());
    // A write invalidates the cache.
    t.ok(
        "RemoveUserFromGroup",
        json!({"GroupName": "devs", "UserName": "alice"}),
    );
    let pp = t.iam.principal_policies(&caller).unwrap();
    assert_eq!(
        ids(&pp),
        [format!(
            "arn:aws:iam::{ACCT}:user/alice (inline policy u-inline)"
        )]
    );
    // Boundaries are reported.
    t.ok(
        "PutUserPermissionsBoundary",
        json!({"UserName": "alice", "PermissionsBoundary": SM_FULL}),
    );
    assert_eq!(
        t.iam
            .principal_policies(&caller)
            .unwrap()
            .boundary
            .unwrap()
            .0,
        SM_FULL
    );
    assert!(t
        .iam
        .principal_policies(&t.root)
        .unwrap()
        .identity
        .is_empty());
}

#[test]
fn reopen_keeps_ids() {
    let t = env();
    let id = t.ok(
        "CreateRole",
        json!({"RoleName": "Keep", "AssumeRolePolicyDocument": TRUST}),
    )["Role"]["RoleId"]
        .clone();
    // Close the first store (its journal is flushed), then reopen.
    let Env {
        _dir,
        path,
        creds,
        iam,
        ..
    } = t;
    drop((iam, creds));
    let store = Store::open(&path, Default::default()).unwrap();
    assert!(!store.read_only());
    let creds = Arc::new(Credentials::open(&store).unwrap());
    let iam2 = Iam::open(&store, creds).unwrap();
    assert_eq!(json!(iam2.role(ACCT, "keep").unwrap().unwrap().role_id), id);
}

#[test]
fn failed_ops_change_nothing() {
    let t = env();
    let bogus = format!("arn:aws:iam::{ACCT}:policy/Missing");
    assert_err(
        &t.err(
            "CreateRole",
            json!({"RoleName": "X", "AssumeRolePolicyDocument": TRUST, "PermissionsBoundary": bogus}),
        ),
        "NoSuchEntity",
        404,
        &format!("Scope ARN: {bogus} does not exist or is not attachable."),
    );
    assert!(t.iam.role(ACCT, "X").unwrap().is_none());
    t.role("A");
    t.role("B");
    t.ok(
        "CreateInstanceProfile",
        json!({"InstanceProfileName": "IP"}),
    );
    t.ok(
        "AddRoleToInstanceProfile",
        json!({"InstanceProfileName": "IP", "RoleName": "A"}),
    );
    assert_err(
        &t.err(
            "AddRoleToInstanceProfile",
            json!({"InstanceProfileName": "IP", "RoleName": "B"}),
        ),
        "LimitExceeded",
        409,
        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
    );
    let ip = t.ok("GetInstanceProfile", json!({"InstanceProfileName": "IP"}));
    let roles: Vec<&str> = ip["InstanceProfile"]["Roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["RoleName"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["A"]);
    let e = t.err("PutRolePolicy", json!({"RoleName": "A", "PolicyName": "p", "PolicyDocument": r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#}));
    assert_eq!(
        (e.code.as_str(), e.status),
        ("MalformedPolicyDocument", 400)
    );
    assert_eq!(
        t.ok("ListRolePolicies", json!({"RoleName": "A"}))["PolicyNames"],
        json!([])
    );
}

#[test]
fn users_access_keys_and_groups() {
    let t = env();
    let u = t.ok(
        "CreateUser",
        json!({"UserName": "bob", "Path": "/eng/", "Tags": [{"Key": "k", "Value": "v"}]}),
    );
    assert_eq!(
        u["User"]["Arn"],
        format!("arn:aws:iam::{ACCT}:user/eng/bob")
    );
    let k1 = t.ok("CreateAccessKey", json!({"UserName": "bob"}))["AccessKey"].clone();
    assert_eq!(k1["UserName"], "bob");
    assert_eq!(k1["Status"], "Active");
    let id1 = k1["AccessKeyId"].as_str().unwrap();
    let stored = t.creds.lookup(id1).unwrap();
    assert_eq!(
        stored.secret_access_key,
        k1["SecretAccessKey"].as_str().unwrap()
    );
    let bob = stored.caller.clone();
    assert_eq!(bob.arn(), format!("arn:aws:iam::{ACCT}:user/eng/bob"));
    // A user acting on itself.
    let me = t.call_as(&bob, "GetUser", json!({})).unwrap();
    assert_eq!(me["User"]["UserName"], "bob");
    t.call_as(&bob, "CreateAccessKey", json!({})).unwrap();
    assert_err(
        &t.err("CreateAccessKey", json!({"UserName": "bob"})),
        "LimitExceeded",
        409,
        "Cannot exceed quota for AccessKeysPerUser: 2",
    );
    let keys = t.ok("ListAccessKeys", json!({"UserName": "bob"}));
    assert_eq!(keys["AccessKeyMetadata"].as_array().unwrap().len(), 2);
    t.ok(
        "UpdateAccessKey",
        json!({"UserName": "bob", "AccessKeyId": id1, "Status": "Inactive"}),
    );
    assert_eq!(
        t.creds.lookup(id1).unwrap().status,
        crate::credentials::KeyStatus::Inactive
    );
    let last = t.ok("GetAccessKeyLastUsed", json!({"AccessKeyId": id1}));
    assert_eq!(last["UserName"], "bob");
    assert_eq!(last["AccessKeyLastUsed"]["ServiceName"], "N/A");
    assert_err(
        &t.err("DeleteUser", json!({"UserName": "bob"})),
        "DeleteConflict",
        409,
        "Cannot delete entity, must delete access keys first.",
    );
    assert_err(
        &t.err(
            "DeleteAccessKey",
            json!({"UserName": "bob", "AccessKeyId": "AKIANOTAKEY000000000"}),
        ),
        "NoSuchEntity",
        404,
        "The Access Key with id AKIANOTAKEY000000000 cannot be found.",
    );
    for k in keys["AccessKeyMetadata"].as_array().unwrap() {
        t.ok(
            "DeleteAccessKey",
            json!({"UserName": "bob", "AccessKeyId": k["AccessKeyId"]}),
        );
    }
    assert!(t.creds.lookup(id1).is_none());

    t.ok("CreateGroup", json!({"GroupName": "ops"}));
    t.ok(
        "AddUserToGroup",
        json!({"GroupName": "ops", "UserName": "bob"}),
    );
    let g = t.ok("GetGroup", json!({"GroupName": "ops"}));
    assert_eq!(g["Users"][0]["UserName"], "bob");
    assert_eq!(
        t.ok("ListGroupsForUser", json!({"UserName": "bob"}))["Groups"][0]["GroupName"],
        "ops"
    );
    assert_err(
        &t.err("DeleteGroup", json!({"GroupName": "ops"})),
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove users from group first.",
    );
    assert_err(
        &t.err("DeleteUser", json!({"UserName": "bob"})),
        "DeleteConflict",
        409,
        "Cannot delete entity, must remove users from group first.",
    );
    t.ok(
        "RemoveUserFromGroup",
        json!({"GroupName": "ops", "UserName": "bob"}),
    );
    t.ok("DeleteGroup", json!({"GroupName": "ops"}));
    t.ok("DeleteUser", json!({"UserName": "bob"}));
    assert_err(
        &t.err("GetUser", json!({"UserName": "bob"})),
        "NoSuchEntity",
        404,
        "The user with name bob cannot be found.",
    );
}

#[test]
fn update_user_renames_and_moves_keys() {
    let t = env();
    t.ok("CreateUser", json!({"UserName": "old"}));
    t.ok(
        "PutUserPolicy",
        json!({"UserName": "old", "PolicyName": "p", "PolicyDocument": S3_READ}),
    );
    let id = t.ok("CreateAccessKey", json!({"UserName": "old"}))["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    t.ok(
        "UpdateUser",
        json!({"UserName": "old", "NewUserName": "new", "NewPath": "/p/"}),
    );
    assert_eq!(
        t.creds.lookup(&id).unwrap().caller.arn(),
        format!("arn:aws:iam::{ACCT}:user/p/new")
    );
    assert_eq!(
        t.ok("ListUserPolicies", json!({"UserName": "new"}))["PolicyNames"],
        json!(["p"])
    );
    assert_eq!(
        t.err("GetUser", json!({"UserName": "old"})).code,
        "NoSuchEntity"
    );
}

#[test]
fn inline_policies_round_trip() {
    let t = env();
    t.role("R");
    t.ok(
        "PutRolePolicy",
        json!({"RoleName": "R", "PolicyName": "b", "PolicyDocument": S3_READ}),
    );
    t.ok(
        "PutRolePolicy",
        json!({"RoleName": "R", "PolicyName": "a", "PolicyDocument": S3_READ}),
    );
    let got = t.ok("GetRolePolicy", json!({"RoleName": "r", "PolicyName": "a"}));
    assert_eq!(got["RoleName"], "R");
    assert_eq!(decode(got["PolicyDocument"].as_str().unwrap()), S3_READ);
    assert_eq!(
        t.ok("ListRolePolicies", json!({"RoleName": "R"}))["PolicyNames"],
        json!(["a", "b"])
    );
    assert_err(
        &t.err(
            "GetRolePolicy",
            json!({"RoleName": "R", "PolicyName": "zz"}),
        ),
        "NoSuchEntity",
        404,
        "The role policy with name zz cannot be found.",
    );
    t.ok(
        "DeleteRolePolicy",
        json!({"RoleName": "R", "PolicyName": "a"}),
    );
    assert_err(
        &t.err(
            "DeleteRolePolicy",
            json!({"RoleName": "R", "PolicyName": "a"}),
        ),
        "NoSuchEntity",
        404,
        "The role policy with name a cannot be found.",
    );
    assert_err(
        &t.err(
            "PutUserPolicy",
            json!({"UserName": "ghost", "PolicyName": "a", "PolicyDocument": S3_READ}),
        ),
        "NoSuchEntity",
        404,
        "The user with name ghost cannot be found.",
    );
}

#[test]
fn service_linked_roles_are_protected() {
    let t = env();
    let r = t.ok(
        "CreateServiceLinkedRole",
        json!({"AWSServiceName": "sagemaker.amazonaws.com"}),
    );
    assert_eq!(r["Role"]["RoleName"], "AWSServiceRoleForAmazonSageMaker");
    assert_eq!(
        r["Role"]["Path"],
        "/aws-service-role/sagemaker.amazonaws.com/"
    );
    let e = t.err(
        "DeleteRole",
        json!({"RoleName": "AWSServiceRoleForAmazonSageMaker"}),
    );
    assert_eq!((e.code.as_str(), e.status), ("UnmodifiableEntity", 400));
    assert!(t
        .iam
        .role(ACCT, "AWSServiceRoleForAmazonSageMaker")
        .unwrap()
        .is_some());
    let task = t.ok(
        "DeleteServiceLinkedRole",
        json!({"RoleName": "AWSServiceRoleForAmazonSageMaker"}),
    );
    let status = t.ok(
        "GetServiceLinkedRoleDeletionStatus",
        json!({"DeletionTaskId": task["DeletionTaskId"]}),
    );
    assert_eq!(status["Status"], "SUCCEEDED");
    assert!(t
        .iam
        .role(ACCT, "AWSServiceRoleForAmazonSageMaker")
        .unwrap()
        .is_none());
}

#[test]
fn authorization_targets() {
    let t = env();
    let ctx = Ctx {
        caller: &t.root,
        region: "us-east-1",
        request_id: "r",
        now: time::OffsetDateTime::now_utc(),
    };
    let tg = t
        .iam
        .targets(
            &ctx,
            "CreateRole",
            &json!({"RoleName": "N", "Path": "/p/", "Tags": [{"Key": "a", "Value": "b"}]}),
        )
        .unwrap();
    assert_eq!(tg[0].action, "iam:CreateRole");
    assert_eq!(tg[0].resource, format!("arn:aws:iam::{ACCT}:role/p/N"));
    assert!(tg[0]
        .context
        .contains(&("aws:RequestTag/a".to_string(), vec!["b".to_string()])));
    t.ok(
        "CreateRole",
        json!({"RoleName": "N", "Path": "/p/", "AssumeRolePolicyDocument": TRUST}),
    );
    let tg = t
        .iam
        .targets(
            &ctx,
            "AttachRolePolicy",
            &json!({"RoleName": "n", "PolicyArn": SM_FULL}),
        )
        .unwrap();
    assert_eq!(tg[0].resource, format!("arn:aws:iam::{ACCT}:role/p/n"));
    assert_eq!(
        tg[0].context,
        vec![("iam:PolicyARN".to_string(), vec![SM_FULL.to_string()])]
    );
    assert_eq!(
        t.iam.targets(&ctx, "ListRoles", &json!({})).unwrap()[0].resource,
        "*"
    );
    let tg = t
        .iam
        .targets(&ctx, "GetPolicy", &json!({"PolicyArn": SM_FULL}))
        .unwrap();
    assert_eq!(tg[0].resource, SM_FULL);
    // Every row names an operation the dispatcher implements.
    for (op, ..) in super::authz::TABLE {
        let e = t.call(op, json!({})).err();
        assert!(
            e.is_none_or(|e| e.code != "NotImplemented"),
            "{op} is in the table but not implemented"
        );
    }
}

#[test]
fn account_views_and_unimplemented() {
    let t = env();
    t.role("R");
    t.ok(
        "AttachRolePolicy",
        json!({"RoleName": "R", "PolicyArn": SM_FULL}),
    );
    t.ok(
        "CreatePolicy",
        json!({"PolicyName": "Mine", "PolicyDocument": S3_READ}),
    );
    t.ok("CreateUser", json!({"UserName": "u"}));
    let d = t.ok("GetAccountAuthorizationDetails", json!({}));
    assert_eq!(d["RoleDetailList"][0]["RoleName"], "R");
    assert_eq!(
        d["RoleDetailList"][0]["AttachedManagedPolicies"][0]["PolicyArn"],
        SM_FULL
    );
    assert_eq!(d["UserDetailList"][0]["UserName"], "u");
    let arns: Vec<&str> = d["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Arn"].as_str().unwrap())
        .collect();
    assert_eq!(
        arns,
        [format!("arn:aws:iam::{ACCT}:policy/Mine").as_str(), SM_FULL]
    );
    let only_roles = t.ok(
        "GetAccountAuthorizationDetails",
        json!({"Filter": ["Role"]}),
    );
    assert_eq!(only_roles["UserDetailList"], json!([]));
    assert_eq!(only_roles["Policies"], json!([]));
    let s = t.ok("GetAccountSummary", json!({}));
    assert_eq!(s["SummaryMap"]["Roles"], 1);
    assert_eq!(s["SummaryMap"]["Users"], 1);
    assert_eq!(s["SummaryMap"]["Policies"], 1);
    assert_err(
        &t.err(
            "CreateLoginProfile",
            json!({"UserName": "u", "Password": "x"}),
        ),
        "NotImplemented",
        501,
        "The operation CreateLoginProfile is not implemented by ironsage yet.",
    );
}
