//! CloudFormation template language for ironsage (pure: no I/O).
//!
//! `parse_template` loads YAML or JSON into a [`Template`]; `Template::validate`
//! performs ValidateTemplate's checks; `resolve_parameters`, `evaluate_rules`,
//! `evaluate_conditions` and `resolve` evaluate a template for one stack; and
//! `dependencies` / `creation_order` / `deletion_order` order its resources.

pub mod cidr;
pub mod deps;
pub mod error;
pub mod eval;
pub mod node;
pub mod params;
pub mod rules;
pub mod summary;
pub mod template;
pub mod validate;
pub mod yaml;

pub use cidr::cidr;
pub use deps::{
    creation_order, deletion_order, dependencies, dependencies_with_conditions, find_cycles,
};
pub use error::{ErrorKind, Span, TemplateError};
pub use eval::{evaluate_conditions, resolve, EvalContext, NoResources, Pseudo, Resolver};
pub use node::{Node, NodeKind};
pub use params::{
    resolve_parameters, NoAwsResolver, ParamType, ParameterInput, ParameterResolver,
    ResolvedParameter, ResolvedParameters,
};
pub use rules::evaluate_rules;
pub use summary::{required_capabilities, summarize, ParameterSummary, TemplateSummary};
pub use template::{Assertion, Output, Parameter, Resource, Rule, Template};

/// Load a template body (JSON if it starts with `{`, else YAML) into a tree.
pub fn parse_node(text: &str) -> Result<Node, TemplateError> {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            TemplateError::format(
                format!("JSON not well-formed. {e}"),
                Span::new(
                    u32::try_from(e.line()).unwrap_or(u32::MAX),
                    u32::try_from(e.column()).unwrap_or(u32::MAX),
                ),
            )
        })?;
        // Valid JSON is (almost always) valid YAML: load it again for positions
        // and duplicate-key detection; fall back to positionless nodes.
        return match yaml::load_yaml(text) {
            Ok(n) => Ok(n),
            Err(e) if e.message().contains("Duplicate key") => Err(e),
            Err(_) => Ok(Node::from_json(&json)),
        };
    }
    yaml::load_yaml(text)
}

/// Parse a template body into the model (structure checked; call `validate` for the rest).
pub fn parse_template(text: &str) -> Result<Template, TemplateError> {
    Template::from_node(parse_node(text)?)
}

/// For a cargo-fuzz target: parse, validate, order, summarize; must never panic.
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = parse_template(text) {
            let _ = t.validate();
            if let Ok(d) = dependencies(&t) {
                let _ = creation_order(&d);
            }
            let _ = summarize(&t);
        }
    }
}
