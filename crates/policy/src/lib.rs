//! `ironsage-policy`: parse, validate and evaluate AWS IAM policy documents.
//!
//! Pure (no I/O, no async). Policies are parsed once into a typed AST with
//! precompiled wildcard patterns and a per-service statement index;
//! [`authorize`] evaluates a request against a [`PolicySet`] following AWS's
//! documented evaluation logic and returns a [`Decision`] with the deciding
//! statement, all matched statements and an explanation.

mod condition;
mod context;
mod error;
mod eval;
mod glob;
mod policy;
mod vars;

pub use condition::{BaseOp, Condition, Operator, SetQualifier};
pub use context::{Context, ContextEntry, ContextValue};
pub use error::PolicyError;
pub use eval::{
    authorize, authorize_with, AuthzRequest, Decision, EvalOptions, PolicyRef, PolicySet,
    PolicyType, Principal, PrincipalKind, Reason, StatementMatch,
};
pub use glob::glob_match;
pub use policy::{
    fuzz_parse, AwsPrincipal, Effect, Policy, PolicyKind, PrincipalSet, Statement, Version,
};
