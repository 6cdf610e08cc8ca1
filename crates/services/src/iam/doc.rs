//! Policy documents: validation through `ironsage-policy`, IAM's size
//! quotas, and the URL encoding IAM applies to documents it returns.

use std::sync::Arc;

use ironsage_policy::{Policy, PolicyKind};

use super::{failure, limit};
use crate::AwsError;

/// Parses a document submitted by a client; a rejected document is AWS's
/// `MalformedPolicyDocument` with the engine's message.
pub(crate) fn validate(text: &str, kind: PolicyKind) -> Result<Arc<Policy>, AwsError> {
    Policy::parse(text, kind)
        .map(Arc::new)
        .map_err(|e| AwsError::new("MalformedPolicyDocument", e.message, 400))
}

/// Parses a stored (already validated) identity-side document.
pub(crate) fn parse_stored(text: &str) -> Result<Arc<Policy>, AwsError> {
    Policy::parse(text, PolicyKind::Identity)
        .map(Arc::new)
        .map_err(|e| failure(format!("stored policy no longer parses: {}", e.message)))
}

/// A policy that allows nothing (a boundary whose policy is gone).
pub(crate) fn empty_policy() -> Result<Arc<Policy>, AwsError> {
    parse_stored(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
    )
}

/// Characters IAM counts toward a policy size quota (whitespace excluded).
pub(crate) fn size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Managed policy documents: at most 6,144 characters.
pub(crate) fn check_managed_size(text: &str) -> Result<(), AwsError> {
    if size(text) > 6144 {
        return Err(limit("Cannot exceed quota for PolicySize: 6144"));
    }
    Ok(())
}

/// Role trust policies: at most 2,048 characters (the default quota).
pub(crate) fn check_trust_size(text: &str) -> Result<(), AwsError> {
    if size(text) > 2048 {
        return Err(limit("Cannot exceed quota for ACLSizePerRole: 2048"));
    }
    Ok(())
}

/// URL-encodes a document as IAM returns documents (`%7B%22Version%22…`).
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_iam() {
        assert_eq!(
            url_encode(r#"{"Action":"sts:AssumeRole", "x":"a/b*"}"#),
            "%7B%22Action%22%3A%22sts%3AAssumeRole%22%2C%20%22x%22%3A%22a%2Fb*%22%7D"
        );
        assert_eq!(size(" {\n \"a\" } "), 5);
    }
}
