//! Policy validation errors.

/// A policy document rejected at parse time. `message` is the text IAM
/// returns in a `MalformedPolicyDocument` error; `path` is the JSON path of
/// the offending element (e.g. `Statement[1].Action[0]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at {path})")]
pub struct PolicyError {
    pub message: String,
    pub path: String,
}

impl PolicyError {
    pub(crate) fn new(message: impl Into<String>, path: impl Into<String>) -> Self {
        PolicyError {
            message: message.into(),
            path: path.into(),
        }
    }
}

pub(crate) const SYNTAX: &str = "Syntax errors in policy.";
pub(crate) const NO_PRINCIPAL: &str = "Policy document should not specify a principal.";
pub(crate) const MISSING_PRINCIPAL: &str = "Missing required field Principal";
pub(crate) const NEED_ACTIONS: &str = "Policy statement must contain actions.";
pub(crate) const NEED_RESOURCES: &str = "Policy statement must contain resources.";
pub(crate) const VENDOR: &str =
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
pub(crate) const ONE_COLON: &str = "Actions/Condition can contain only one colon.";
pub(crate) const LEGACY: &str = "The policy failed legacy parsing";
pub(crate) const TRUST_ACTIONS: &str = "AssumeRole policy may only specify STS AssumeRole actions.";
pub(crate) const TRUST_RESOURCE: &str = "Has prohibited field Resource";
pub(crate) const DUP_SID: &str = "Statement IDs (SID) in a single policy must be unique.";
