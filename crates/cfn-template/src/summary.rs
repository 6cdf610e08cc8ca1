//! GetTemplateSummary helpers and capability detection.

use serde_json::Value;

use crate::node::Node;
use crate::template::Template;

#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSummary {
    pub name: String,
    pub type_name: String,
    pub default: Option<String>,
    pub no_echo: bool,
    pub description: Option<String>,
    pub allowed_values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSummary {
    pub parameters: Vec<ParameterSummary>,
    pub description: Option<String>,
    /// CAPABILITY_IAM / CAPABILITY_NAMED_IAM / CAPABILITY_AUTO_EXPAND, as needed.
    pub capabilities: Vec<String>,
    pub capabilities_reason: Option<String>,
    pub resource_types: Vec<String>,
    pub version: Option<String>,
    /// The `Metadata` section as JSON (a string in the API).
    pub metadata: Option<Value>,
    pub declared_transforms: Vec<String>,
    pub resource_identifiers: Vec<(String, String)>,
}

/// Properties that give an IAM resource an explicit name.
pub const IAM_NAME_PROPERTIES: &[&str] = &[
    "RoleName",
    "UserName",
    "GroupName",
    "ManagedPolicyName",
    "InstanceProfileName",
];

/// The capabilities a template needs, considering only resources for which
/// `include(logical_id)` is true (e.g. condition-true resources).
pub fn required_capabilities(t: &Template, include: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut iam = false;
    let mut named = false;
    for (id, r) in &t.resources {
        if !include(id) || !r.resource_type.starts_with("AWS::IAM::") {
            continue;
        }
        iam = true;
        if let Some(p) = r.properties.as_ref().and_then(Node::as_map) {
            if IAM_NAME_PROPERTIES.iter().any(|k| p.contains_key(*k)) {
                named = true;
            }
        }
    }
    let mut caps = Vec::new();
    if named {
        caps.push("CAPABILITY_NAMED_IAM".to_string());
    } else if iam {
        caps.push("CAPABILITY_IAM".to_string());
    }
    if !t.transforms.is_empty() {
        caps.push("CAPABILITY_AUTO_EXPAND".to_string());
    }
    caps
}

pub fn summarize(t: &Template) -> TemplateSummary {
    let capabilities = required_capabilities(t, &|_| true);
    let reason = if capabilities.iter().any(|c| c.contains("IAM")) {
        let ids: Vec<&str> = t
            .resources
            .iter()
            .filter(|(_, r)| r.resource_type.starts_with("AWS::IAM::"))
            .map(|(k, _)| k.as_str())
            .collect();
        Some(format!(
            "The following resource(s) require capabilities: [{}]",
            ids.join(", ")
        ))
    } else {
        None
    };
    let mut resource_types: Vec<String> = Vec::new();
    for r in t.resources.values() {
        if !resource_types.contains(&r.resource_type) {
            resource_types.push(r.resource_type.clone());
        }
    }
    TemplateSummary {
        parameters: t
            .parameters
            .values()
            .map(|p| ParameterSummary {
                name: p.name.clone(),
                type_name: p.type_name.clone(),
                default: p.default.clone(),
                no_echo: p.no_echo,
                description: p.description.clone(),
                allowed_values: p.allowed_values.clone(),
            })
            .collect(),
        description: t.description.clone(),
        capabilities,
        capabilities_reason: reason,
        resource_types,
        version: t.format_version.clone(),
        metadata: t.metadata.as_ref().map(Node::to_json),
        declared_transforms: t.transforms.iter().map(|(n, _)| n.clone()).collect(),
        resource_identifiers: t
            .resources
            .iter()
            .map(|(k, r)| (k.clone(), r.resource_type.clone()))
            .collect(),
    }
}
