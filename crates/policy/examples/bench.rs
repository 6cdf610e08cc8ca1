//! Micro benchmark: `cargo run --release -p ironsage-policy --example bench`.
//! Prints ns/decision for 5 identity policies × 10 statements + a bucket
//! policy, and for 100 identity policies × 10 statements.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test/bench code

use std::time::Instant;

use ironsage_policy::{
    authorize_with, AuthzRequest, Context, EvalOptions, Policy, PolicyKind, PolicyRef, PolicySet,
    Principal,
};
use serde_json::json;

const SERVICES: &[&str] = &[
    "s3",
    "ec2",
    "sagemaker",
    "kms",
    "iam",
    "logs",
    "ssm",
    "lambda",
    "cloudformation",
    "ecr",
];

fn identity(n: usize) -> Policy {
    let stmts: Vec<_> = (0..10)
        .map(|i| {
            let svc = SERVICES[(n + i) % SERVICES.len()];
            let mut s = json!({
                "Sid": format!("S{n}x{i}"),
                "Effect": if i == 9 { "Deny" } else { "Allow" },
                "Action": [format!("{svc}:Get*"), format!("{svc}:List*"), format!("{svc}:Describe*")],
                "Resource": [format!("arn:aws:{svc}:*:111122223333:thing-{i}/*"), format!("arn:aws:{svc}:::bucket-{n}-{i}/*")],
            });
            if i % 3 == 0 {
                s["Condition"] = json!({"StringEquals": {"aws:PrincipalTag/team": ["red", "blue"]}});
            }
            s
        })
        .collect();
    Policy::from_json(
        &json!({"Version": "2012-10-17", "Statement": stmts}),
        PolicyKind::Identity,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn run(label: &str, n_policies: usize, explain: bool) {
    let pols: Vec<Policy> = (0..n_policies).map(identity).collect();
    let ids: Vec<String> = (0..n_policies)
        .map(|i| format!("arn:aws:iam::111122223333:policy/P{i}"))
        .collect();
    let bucket = Policy::from_json(
        &json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "DenyNoVPC", "Effect": "Deny", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": "arn:aws:s3:::bucket-0-0/*",
             "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}, "Bool": {"aws:ViaAWSService": "false"}}},
            {"Sid": "Allow", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
             "Action": "s3:*", "Resource": "arn:aws:s3:::bucket-0-0/*"}
        ]}),
        PolicyKind::Resource,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let set = PolicySet {
        identity: pols
            .iter()
            .zip(&ids)
            .map(|(p, id)| PolicyRef { id, policy: p })
            .collect(),
        resource: Some(PolicyRef {
            id: "bucket-policy",
            policy: &bucket,
        }),
        ..PolicySet::default()
    };
    let principal = Principal::assumed_role("111122223333", "/", "exec", "SageMaker");
    let ctx = Context::new()
        .with("aws:SourceVpce", "vpce-1")
        .with("aws:ViaAWSService", false)
        .with("aws:PrincipalTag/team", "red");
    let req = AuthzRequest {
        principal: &principal,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::bucket-0-1/key",
        resource_account: None,
        context: &ctx,
    };
    let opts = EvalOptions { explain };
    let d = authorize_with(&req, &set, opts);
    let iters = 200_000;
    let mut samples = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        for _ in 0..iters / 10 {
            std::hint::black_box(authorize_with(std::hint::black_box(&req), &set, opts));
        }
        samples.push(t.elapsed().as_nanos() as f64 / (iters / 10) as f64);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{label}: allowed={} reason={:?} median {:.0} ns/decision (min {:.0}, max {:.0}), explain={explain}",
        d.allowed, d.reason, samples[5], samples[0], samples[9]
    );
}

fn main() {
    run("5 policies x 10 statements + bucket policy", 5, false);
    run("5 policies x 10 statements + bucket policy", 5, true);
    run("100 policies x 10 statements + bucket policy", 100, false);
    run("100 policies x 10 statements + bucket policy", 100, true);
}
