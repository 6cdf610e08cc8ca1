use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::kms::tests::{caller, setup, ACCT, REGION};

fn ssm() -> (tempfile::TempDir, Arc<Store>, Arc<Kms>, Ssm) {
    let (d, store, kms) = setup();
    let kms = Arc::new(kms);
    let ssm = Ssm::open(&store, Arc::clone(&kms)).unwrap();
    (d, store, kms, ssm)
}

fn run(ssm: &Ssm, op: &str, input: Value) -> Result<Value, AwsError> {
    let c = caller();
    let ctx = Ctx {
        caller: &c,
        region: REGION,
        request_id: "r",
        now: crate::util::now(),
    };
    ssm.targets(&ctx, op, &input)?;
    ssm.call(&ctx, op, input)
}

fn targets(ssm: &Ssm, op: &str, input: Value) -> Vec<Target> {
    let c = caller();
    let ctx = Ctx {
        caller: &c,
        region: REGION,
        request_id: "r",
        now: crate::util::now(),
    };
    ssm.targets(&ctx, op, &input).unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, AwsError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code,
    }
}

#[test]
fn string_and_stringlist_round_trip_and_overwrite() {
    let (_d, _s, _k, ssm) = ssm();
    let p = run(
        &ssm,
        "PutParameter",
        json!({"Name": "/app/db/host", "Value": "db.local", "Type": "String"}),
    )
    .unwrap();
    assert_eq!(p, json!({"Version": 1, "Tier": "Standard"}));
    run(
        &ssm,
        "PutParameter",
        json!({"Name": "/app/list", "Value": "a,b,c", "Type": "StringList"}),
    )
    .unwrap();
    let g = run(&ssm, "GetParameter", json!({"Name": "/app/db/host"})).unwrap();
    assert_eq!(g["Parameter"]["Value"], "db.local");
    assert_eq!(g["Parameter"]["Type"], "String");
    assert_eq!(
        g["Parameter"]["ARN"],
        format!("arn:aws:ssm:{REGION}:{ACCT}:parameter/app/db/host")
    );
    assert_eq!(
        run(&ssm, "GetParameter", json!({"Name": "/app/list"})).unwrap()["Parameter"]["Value"],
        "a,b,c"
    );
    let e = run(
        &ssm,
        "PutParameter",
        json!({"Name": "/app/db/host", "Value": "x", "Type": "String"}),
    )
    .unwrap_err();
    assert_eq!(e.code, "ParameterAlreadyExists");
    assert_eq!(e.message, "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.");
    let p2 = run(
        &ssm,
        "PutParameter",
        json!({"Name": "/app/db/host", "Value": "db2", "Overwrite": true}),
    )
    .unwrap();
    assert_eq!(p2["Version"], 2);
    assert_eq!(
        code(run(
            &ssm,
            "PutParameter",
            json!({"Name": "/app/db/host", "Value": "db3", "Overwrite": true, "Tags": [{"Key": "a", "Value": "b"}]})
        )),
        "ValidationException"
    );
    assert_eq!(
        code(run(&ssm, "GetParameter", json!({"Name": "/nope"}))),
        "ParameterNotFound"
    );
    assert_eq!(
        code(run(
            &ssm,
            "PutParameter",
            json!({"Name": "/aws/x", "Value": "v", "Type": "String"})
        )),
        "ValidationException"
    );
    assert_eq!(
        code(run(
            &ssm,
            "PutParameter",
            json!({"Name": "ssm-thing", "Value": "v", "Type": "String"})
        )),
        "ValidationException"
    );
    let deep = format!(
        "/{}",
        (0..16)
            .map(|i| format!("l{i}"))
            .collect::<Vec<_>>()
            .join("/")
    );
    assert_eq!(
        code(run(
            &ssm,
            "PutParameter",
            json!({"Name": deep, "Value": "v", "Type": "String"})
        )),
        "HierarchyLevelLimitExceededException"
    );
    let ok15 = format!(
        "/{}",
        (0..15)
            .map(|i| format!("l{i}"))
            .collect::<Vec<_>>()
            .join("/")
    );
    run(
        &ssm,
        "PutParameter",
        json!({"Name": ok15, "Value": "v", "Type": "String"}),
    )
    .unwrap();
    let gs = run(
        &ssm,
        "GetParameters",
        json!({"Names": ["/app/list", "/missing", "/app/db/host:1"]}),
    )
    .unwrap();
    assert_eq!(gs["Parameters"].as_array().unwrap().len(), 2);
    assert_eq!(gs["Parameters"][1]["Value"], "db.local");
    assert_eq!(gs["InvalidParameters"], json!(["/missing"]));
    run(&ssm, "DeleteParameter", json!({"Name": "/app/list"})).unwrap();
    assert_eq!(
        code(run(&ssm, "DeleteParameter", json!({"Name": "/app/list"}))),
        "ParameterNotFound"
    );
    let dp = run(
        &ssm,
        "DeleteParameters",
        json!({"Names": ["/app/db/host", "/gone"]}),
    )
    .unwrap();
    assert_eq!(dp["DeletedParameters"], json!(["/app/db/host"]));
    assert_eq!(dp["InvalidParameters"], json!(["/gone"]));
}

#[test]
fn secure_string_is_encrypted_at_rest() {
    let (dir, store, kms, ssm) = ssm();
    let secret = "hunter2-very-secret-password";
    run(
        &ssm,
        "PutParameter",
        json!({"Name": "/app/pw", "Value": secret, "Type": "SecureString"}),
    )
    .unwrap();
    let plain = run(
        &ssm,
        "GetParameter",
        json!({"Name": "/app/pw", "WithDecryption": true}),
    )
    .unwrap();
    assert_eq!(plain["Parameter"]["Value"], secret);
    let raw = run(&ssm, "GetParameter", json!({"Name": "/app/pw"})).unwrap();
    let blob = raw["Parameter"]["Value"].as_str().unwrap();
    assert_ne!(blob, secret);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    let key = kms.key_for_blob(ACCT, REGION, &bytes).unwrap();
    assert_eq!(
        key.key_id,
        kms.aws_managed_key(ACCT, REGION, "ssm").unwrap().key_id
    );
    let meta = run(&ssm, "DescribeParameters", json!({})).unwrap();
    assert_eq!(meta["Parameters"][0]["KeyId"], "alias/aws/ssm");
    // Parameters shared by other accounts (AWS RAM): none here.
    let shared = run(&ssm, "DescribeParameters", json!({"Shared": true})).unwrap();
    assert_eq!(shared["Parameters"], json!([]));
    // Targets: ssm + kms with ViaService.
    let t = targets(
        &ssm,
        "GetParameter",
        json!({"Name": "/app/pw", "WithDecryption": true}),
    );
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].action, "kms:Decrypt");
    assert_eq!(t[1].resource, key.arn);
    assert!(t[1].context.contains(&(
        "kms:ViaService".into(),
        vec![format!("ssm.{REGION}.amazonaws.com")]
    )));
    assert!(t[1].resource_policy.is_some());
    let t = targets(
        &ssm,
        "PutParameter",
        json!({"Name": "/app/pw2", "Value": "v", "Type": "SecureString"}),
    );
    assert_eq!(t[1].action, "kms:Encrypt");
    // A customer key by alias.
    let c = caller();
    let ctx = Ctx {
        caller: &c,
        region: REGION,
        request_id: "r",
        now: crate::util::now(),
    };
    let created = kms.call(&ctx, "CreateKey", json!({})).unwrap();
    let kid = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    kms.call(
        &ctx,
        "CreateAlias",
        json!({"AliasName": "alias/params", "TargetKeyId": kid}),
    )
    .unwrap();
    run(&ssm, "PutParameter", json!({"Name": "/app/pw2", "Value": "second-secret-value", "Type": "SecureString", "KeyId": "alias/params"})).unwrap();
    let g = run(
        &ssm,
        "GetParameter",
        json!({"Name": "/app/pw2", "WithDecryption": true}),
    )
    .unwrap();
    assert_eq!(g["Parameter"]["Value"], "second-secret-value");
    assert_eq!(
        code(run(
            &ssm,
            "PutParameter",
            json!({"Name": "/app/pw3", "Value": "v", "Type": "SecureString", "KeyId": "alias/none"})
        )),
        "InvalidKeyId"
    );
    // Disabled key: decryption fails.
    kms.call(&ctx, "DisableKey", json!({"KeyId": kid})).unwrap();
    assert_eq!(
        code(run(
            &ssm,
            "GetParameter",
            json!({"Name": "/app/pw2", "WithDecryption": true})
        )),
        "DisabledException"
    );
    drop(store);
    let mut db = Vec::new();
    for f in ["state.db", "state.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(f)) {
            db.extend(b);
        }
    }
    assert!(!db.is_empty());
    for s in [secret, "second-secret-value"] {
        assert!(
            !db.windows(s.len()).any(|w| w == s.as_bytes()),
            "{s} found in the database"
        );
    }
}

#[test]
fn history_and_labels() {
    let (_d, _s, _k, ssm) = ssm();
    for v in ["one", "two", "three"] {
        run(
            &ssm,
            "PutParameter",
            json!({"Name": "/cfg/x", "Value": v, "Type": "String", "Overwrite": true}),
        )
        .unwrap();
    }
    let h = run(&ssm, "GetParameterHistory", json!({"Name": "/cfg/x"})).unwrap();
    let vals: Vec<&str> = h["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["Value"].as_str().unwrap())
        .collect();
    assert_eq!(vals, ["one", "two", "three"]);
    let l = run(
        &ssm,
        "LabelParameterVersion",
        json!({"Name": "/cfg/x", "ParameterVersion": 1, "Labels": ["prod", "1bad", "awsx"]}),
    )
    .unwrap();
    assert_eq!(l["InvalidLabels"], json!(["1bad", "awsx"]));
    assert_eq!(l["ParameterVersion"], 1);
    let g = run(&ssm, "GetParameter", json!({"Name": "/cfg/x:prod"})).unwrap();
    assert_eq!(g["Parameter"]["Value"], "one");
    assert_eq!(g["Parameter"]["Selector"], ":prod");
    assert_eq!(
        run(&ssm, "GetParameter", json!({"Name": "/cfg/x:2"})).unwrap()["Parameter"]["Value"],
        "two"
    );
    assert_eq!(
        code(run(&ssm, "GetParameter", json!({"Name": "/cfg/x:9"}))),
        "ParameterVersionNotFound"
    );
    assert_eq!(
        code(run(&ssm, "GetParameter", json!({"Name": "/cfg/x:nolabel"}))),
        "ParameterVersionNotFound"
    );
    // Moving the label to version 3.
    run(
        &ssm,
        "LabelParameterVersion",
        json!({"Name": "/cfg/x", "Labels": ["prod"]}),
    )
    .unwrap();
    assert_eq!(
        run(&ssm, "GetParameter", json!({"Name": "/cfg/x:prod"})).unwrap()["Parameter"]["Value"],
        "three"
    );
    let h = run(&ssm, "GetParameterHistory", json!({"Name": "/cfg/x"})).unwrap();
    assert_eq!(h["Parameters"][0]["Labels"], json!([]));
    assert_eq!(h["Parameters"][2]["Labels"], json!(["prod"]));
    let u = run(
        &ssm,
        "UnlabelParameterVersion",
        json!({"Name": "/cfg/x", "ParameterVersion": 3, "Labels": ["prod", "other"]}),
    )
    .unwrap();
    assert_eq!(u["RemovedLabels"], json!(["prod"]));
    assert_eq!(u["InvalidLabels"], json!(["other"]));
    let p = run(
        &ssm,
        "GetParameterHistory",
        json!({"Name": "/cfg/x", "MaxResults": 2}),
    )
    .unwrap();
    assert_eq!(p["Parameters"].as_array().unwrap().len(), 2);
    let p2 = run(
        &ssm,
        "GetParameterHistory",
        json!({"Name": "/cfg/x", "MaxResults": 2, "NextToken": p["NextToken"]}),
    )
    .unwrap();
    assert_eq!(p2["Parameters"][0]["Value"], "three");
    assert!(p2.get("NextToken").is_none());
}

#[test]
fn by_path_describe_filters_and_pagination() {
    let (_d, _s, _k, ssm) = ssm();
    for n in ["/a/x", "/a/y", "/a/b/z", "/a/b/c/w", "/other/q", "top"] {
        let t = if n == "/a/y" { "StringList" } else { "String" };
        run(
            &ssm,
            "PutParameter",
            json!({"Name": n, "Value": "v", "Type": t}),
        )
        .unwrap();
    }
    let names = |v: &Value| -> Vec<String> {
        v["Parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["Name"].as_str().unwrap().to_string())
            .collect()
    };
    let one = run(&ssm, "GetParametersByPath", json!({"Path": "/a"})).unwrap();
    assert_eq!(names(&one), ["/a/x", "/a/y"]);
    let rec = run(
        &ssm,
        "GetParametersByPath",
        json!({"Path": "/a/", "Recursive": true}),
    )
    .unwrap();
    assert_eq!(names(&rec), ["/a/b/c/w", "/a/b/z", "/a/x", "/a/y"]);
    let typed = run(&ssm, "GetParametersByPath", json!({"Path": "/a", "Recursive": true, "ParameterFilters": [{"Key": "Type", "Values": ["StringList"]}]})).unwrap();
    assert_eq!(names(&typed), ["/a/y"]);
    let p1 = run(
        &ssm,
        "GetParametersByPath",
        json!({"Path": "/a", "Recursive": true, "MaxResults": 3}),
    )
    .unwrap();
    assert_eq!(names(&p1).len(), 3);
    let p2 = run(
        &ssm,
        "GetParametersByPath",
        json!({"Path": "/a", "Recursive": true, "MaxResults": 3, "NextToken": p1["NextToken"]}),
    )
    .unwrap();
    assert_eq!(names(&p2), ["/a/y"]);
    let d = run(
        &ssm,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "Path", "Option": "OneLevel", "Values": ["/a/b"]}]}),
    )
    .unwrap();
    assert_eq!(names(&d), ["/a/b/z"]);
    let d = run(
        &ssm,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "Path", "Option": "Recursive", "Values": ["/a/b"]}]}),
    )
    .unwrap();
    assert_eq!(names(&d), ["/a/b/c/w", "/a/b/z"]);
    let d = run(&ssm, "DescribeParameters", json!({"ParameterFilters": [{"Key": "Name", "Option": "BeginsWith", "Values": ["/other"]}]})).unwrap();
    assert_eq!(names(&d), ["/other/q"]);
    let d = run(
        &ssm,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "Name", "Values": ["top"]}]}),
    )
    .unwrap();
    assert_eq!(names(&d), ["top"]);
    let d = run(
        &ssm,
        "DescribeParameters",
        json!({"Filters": [{"Key": "Type", "Values": ["StringList"]}]}),
    )
    .unwrap();
    assert_eq!(names(&d), ["/a/y"]);
    assert_eq!(d["Parameters"][0]["Type"], "StringList");
    assert_eq!(d["Parameters"][0]["Tier"], "Standard");
    let mut all = Vec::new();
    let mut token: Option<Value> = None;
    loop {
        let mut input = json!({"MaxResults": 4});
        if let Some(t) = &token {
            input["NextToken"] = t.clone();
        }
        let page = run(&ssm, "DescribeParameters", input).unwrap();
        all.extend(names(&page));
        match page.get("NextToken") {
            Some(t) => token = Some(t.clone()),
            None => break,
        }
    }
    assert_eq!(all.len(), 6);
}

#[test]
fn tags() {
    let (_d, _s, _k, ssm) = ssm();
    run(&ssm, "PutParameter", json!({"Name": "/t", "Value": "v", "Type": "String", "Tags": [{"Key": "env", "Value": "dev"}]})).unwrap();
    run(&ssm, "AddTagsToResource", json!({"ResourceType": "Parameter", "ResourceId": "/t", "Tags": [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "prod"}]})).unwrap();
    let l = run(
        &ssm,
        "ListTagsForResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/t"}),
    )
    .unwrap();
    assert_eq!(
        l["TagList"],
        json!([{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ml"}])
    );
    run(
        &ssm,
        "RemoveTagsFromResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/t", "TagKeys": ["env"]}),
    )
    .unwrap();
    let l = run(
        &ssm,
        "ListTagsForResource",
        json!({"ResourceType": "Parameter", "ResourceId": "/t"}),
    )
    .unwrap();
    assert_eq!(l["TagList"], json!([{"Key": "team", "Value": "ml"}]));
    let d = run(
        &ssm,
        "DescribeParameters",
        json!({"ParameterFilters": [{"Key": "tag:team", "Values": ["ml"]}]}),
    )
    .unwrap();
    assert_eq!(d["Parameters"].as_array().unwrap().len(), 1);
    assert_eq!(
        code(run(
            &ssm,
            "ListTagsForResource",
            json!({"ResourceType": "Parameter", "ResourceId": "/none"})
        )),
        "InvalidResourceId"
    );
}
