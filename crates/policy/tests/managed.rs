//! Every AWS managed policy parses as an identity policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test/bench code

use ironsage_policy::{Policy, PolicyKind};

const PATH: &str = "/work/shared/data/aws-managed-policies.json";

#[test]
fn all_managed_policies_parse() {
    let candidates = [
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../vendor/aws-managed-policies.json"),
        std::path::PathBuf::from(PATH),
    ];
    let Some(text) = candidates
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
    else {
        eprintln!("managed policy data not found; skipping");
        return;
    };
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let map = all.as_object().unwrap();
    let mut failures = Vec::new();
    for (arn, entry) in map {
        let doc = &entry["Document"];
        let res = match doc {
            serde_json::Value::String(s) => Policy::parse(s, PolicyKind::Identity),
            other => Policy::from_json(other, PolicyKind::Identity),
        };
        if let Err(e) = res {
            failures.push(format!("{arn}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(map.len() >= 1000);
}
