//! Property tests: deny monotonicity, statement-order independence,
//! wildcard matcher vs a naive reference, parser robustness.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test/bench code

use ironsage_policy::{
    authorize, fuzz_parse, glob_match, AuthzRequest, Context, Policy, PolicyKind, PolicyRef,
    PolicySet, Principal,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn naive(p: &[char], s: &[char]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some('*'), _) => naive(&p[1..], s) || (!s.is_empty() && naive(p, &s[1..])),
        (Some('?'), Some(_)) => naive(&p[1..], &s[1..]),
        (Some(c), Some(d)) if c == d => naive(&p[1..], &s[1..]),
        _ => false,
    }
}

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:*",
    "s3:Get*",
    "ec2:*",
    "*",
    "S3:getobject",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::c/*",
    "arn:aws:s3:::b/k",
];

fn statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        0..4usize,
    )
        .prop_map(|(allow, not_action, a, r, c)| {
            let mut s = json!({
                "Effect": if allow { "Allow" } else { "Deny" },
                "Resource": RESOURCES[r],
            });
            s[if not_action { "NotAction" } else { "Action" }] = json!(ACTIONS[a]);
            match c {
                1 => s["Condition"] = json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
                2 => s["Condition"] = json!({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}),
                3 => s["Condition"] = json!({"Null": {"aws:TagKeys": "true"}}),
                _ => {}
            }
            s
        })
}

fn policy_docs() -> impl Strategy<Value = Vec<Vec<Value>>> {
    prop::collection::vec(prop::collection::vec(statement(), 1..5), 1..4)
}

fn decide(docs: &[Vec<Value>], boundary: Option<&Vec<Value>>) -> (bool, String) {
    let pols: Vec<Policy> = docs
        .iter()
        .map(|st| {
            Policy::from_json(
                &json!({"Version": "2012-10-17", "Statement": st}),
                PolicyKind::Identity,
            )
            .unwrap()
        })
        .collect();
    let b = boundary
        .map(|st| Policy::from_json(&json!({"Statement": st}), PolicyKind::Boundary).unwrap());
    let ids: Vec<String> = (0..pols.len()).map(|i| format!("p{i}")).collect();
    let set = PolicySet {
        identity: pols
            .iter()
            .zip(&ids)
            .map(|(p, id)| PolicyRef { id, policy: p })
            .collect(),
        boundary: b.as_ref().map(|p| PolicyRef { id: "b", policy: p }),
        ..PolicySet::default()
    };
    let principal = Principal::user("111122223333", "alice");
    let ctx = Context::new().with("aws:SourceIp", "10.1.1.1");
    let req = AuthzRequest {
        principal: &principal,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::b/k",
        resource_account: None,
        context: &ctx,
    };
    let d = authorize(&req, &set);
    (d.allowed, d.reason.short())
}

proptest! {
    #[test]
    fn glob_agrees_with_naive(p in "[ab*?é]{0,8}", s in "[abé]{0,10}") {
        let pc: Vec<char> = p.chars().collect();
        let sc: Vec<char> = s.chars().collect();
        prop_assert_eq!(glob_match(&p, &s), naive(&pc, &sc));
    }

    #[test]
    fn adding_deny_never_allows(docs in policy_docs(), extra in statement(), which in 0usize..4) {
        let (before, _) = decide(&docs, None);
        let mut docs2 = docs.clone();
        let mut deny = extra;
        deny["Effect"] = json!("Deny");
        let i = which % docs2.len();
        docs2[i].push(deny);
        let (after, _) = decide(&docs2, None);
        prop_assert!(!after || before, "deny statement turned deny into allow");
    }

    #[test]
    fn statement_order_irrelevant(docs in policy_docs(), bnd in prop::collection::vec(statement(), 1..4)) {
        let a = decide(&docs, Some(&bnd));
        let mut rev: Vec<Vec<Value>> = docs.iter().rev().map(|st| st.iter().rev().cloned().collect()).collect();
        let n = rev.len().max(1);
        rev.rotate_left(1 % n);
        let bnd_rev: Vec<Value> = bnd.iter().rev().cloned().collect();
        let b = decide(&rev, Some(&bnd_rev));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn parser_never_panics_on_strings(s in ".{0,200}") {
        fuzz_parse(s.as_bytes());
    }

    #[test]
    fn parser_never_panics_on_json(v in arb_json()) {
        fuzz_parse(v.to_string().as_bytes());
        let doc = json!({"Statement": [v.clone()]});
        fuzz_parse(doc.to_string().as_bytes());
        let doc = json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": v}});
        fuzz_parse(doc.to_string().as_bytes());
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "Allow",
            "Deny",
            "*",
            "s3:*",
            "arn:aws:s3:::b",
            "StringEquals",
            "Effect",
            "Action",
            "Resource",
            "Principal",
            "AWS",
            "${aws:username}",
            "${",
            "ForAllValues:StringLike",
            "2012-10-17",
            "Null",
            "true",
            "10.0.0.0/8",
            "NotIpAddressIfExists",
            "é?*"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "Version",
                        "Statement",
                        "Effect",
                        "Action",
                        "NotAction",
                        "Resource",
                        "NotResource",
                        "Principal",
                        "NotPrincipal",
                        "Condition",
                        "Sid",
                        "AWS",
                        "Service",
                        "StringLike",
                        "Bool",
                        "aws:SourceIp",
                        "DateLessThan",
                        "x"
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}
