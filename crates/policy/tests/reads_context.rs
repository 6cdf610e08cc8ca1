//! `Policy::reads_context`: whether a request's context must be built.

use ironsage_policy::{Policy, PolicyKind};

#[test]
fn reads_context_only_with_conditions_or_variables() {
    let parse = |doc: &str| Policy::parse(doc, PolicyKind::Identity).unwrap();
    let plain = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#,
    );
    assert!(!plain.reads_context());
    let cond = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
           {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    );
    assert!(cond.reads_context());
    let var = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}]}"#,
    );
    assert!(var.reads_context());
}
