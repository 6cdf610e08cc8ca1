//! What CloudFormation stores: stacks, their resources, events, exports and
//! change sets. Every row is scoped `<account>/<region>`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Caller;

pub(crate) const STACK: &str = "stack";
pub(crate) const NAME: &str = "name";
pub(crate) const RES: &str = "res";
pub(crate) const EVENT: &str = "event";
pub(crate) const EXPORT: &str = "export";
pub(crate) const IMPORT: &str = "import";
pub(crate) const CHANGESET: &str = "changeset";

/// One parameter as the stack keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ParamDoc {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub resolved: Option<String>,
    #[serde(default)]
    pub no_echo: bool,
}

/// One output after evaluation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct OutputDoc {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub export_name: Option<String>,
}

/// The operation a stack is running (persisted so a restart can finish it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) enum Op {
    Create,
    Delete,
    /// An update; `prev` is what to restore on rollback.
    Update {
        prev: Box<Snapshot>,
        /// The stack policy this update is checked against (the stored one,
        /// or `StackPolicyDuringUpdateBody`).
        #[serde(default)]
        policy: Option<String>,
    },
}

/// The template-level state of a stack (restored by an update rollback).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Snapshot {
    pub template_body: String,
    pub parameters: Vec<ParamDoc>,
    pub outputs: Vec<OutputDoc>,
    pub description: Option<String>,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StackDoc {
    pub stack_id: String,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub created: String,
    #[serde(default)]
    pub updated: Option<String>,
    #[serde(default)]
    pub deleted: Option<String>,
    pub snap: Snapshot,
    #[serde(default)]
    pub disable_rollback: bool,
    #[serde(default)]
    pub on_failure_delete: bool,
    #[serde(default)]
    pub timeout_minutes: Option<i64>,
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The identity that started the stack's current operation.
    pub caller: Caller,
    #[serde(default)]
    pub termination_protection: bool,
    #[serde(default)]
    pub stack_policy: Option<String>,
    #[serde(default)]
    pub client_token: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub root_id: Option<String>,
    #[serde(default)]
    pub notification_arns: Vec<String>,
    #[serde(default)]
    pub op: Option<Op>,
    #[serde(default)]
    pub change_set_id: Option<String>,
}

/// A resource that was replaced and awaits clean-up, or the state an
/// in-place update must roll back to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Prior {
    pub physical_id: Option<String>,
    pub props: Value,
    pub attrs: Map<String, Value>,
    /// True when the prior is a separate physical resource (replacement).
    pub replaced: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ResDoc {
    pub logical_id: String,
    pub rtype: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub updated: String,
    /// Resolved properties the resource was last created/updated with.
    #[serde(default)]
    pub props: Value,
    #[serde(default)]
    pub attrs: Map<String, Value>,
    #[serde(default)]
    pub retain: bool,
    #[serde(default)]
    pub prior: Option<Prior>,
    /// Set by the current update when this resource is new in it.
    #[serde(default)]
    pub added_by_update: bool,
    #[serde(default)]
    pub template_props: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EventDoc {
    pub event_id: String,
    pub stack_id: String,
    pub stack_name: String,
    pub logical_id: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    pub rtype: String,
    pub timestamp: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    pub seq: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChangeSetDoc {
    pub id: String,
    pub name: String,
    pub stack_id: String,
    pub stack_name: String,
    pub cs_type: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub execution_status: String,
    pub created: String,
    #[serde(default)]
    pub description: Option<String>,
    pub snap: Snapshot,
    pub changes: Vec<Value>,
    #[serde(default)]
    pub role_arn: Option<String>,
    pub caller: Caller,
    #[serde(default)]
    pub disable_rollback: bool,
}

/// `<stack_id>|<logical id>`.
pub(crate) fn res_key(stack_id: &str, logical: &str) -> String {
    format!("{stack_id}|{logical}")
}
