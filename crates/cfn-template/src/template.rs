//! The template model: every section typed, every element keeping its span.

use indexmap::IndexMap;

use crate::error::{Span, TemplateError};
use crate::node::{Node, NodeKind};
use crate::params::ParamType;

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub format_version: Option<String>,
    pub description: Option<String>,
    /// The whole `Metadata` section (incl. `AWS::CloudFormation::Interface`).
    pub metadata: Option<Node>,
    pub parameters: IndexMap<String, Parameter>,
    pub rules: IndexMap<String, Rule>,
    pub mappings: IndexMap<String, Node>,
    pub conditions: IndexMap<String, Node>,
    /// Declared transforms, in order (`Transform: X` or `Transform: [X, Y]`).
    pub transforms: Vec<(String, Span)>,
    pub resources: IndexMap<String, Resource>,
    pub outputs: IndexMap<String, Output>,
    /// The loaded document as written.
    pub root: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    /// The declared type string, e.g. `List<AWS::EC2::Subnet::Id>`.
    pub type_name: String,
    pub param_type: ParamType,
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    pub allowed_pattern: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub constraint_description: Option<String>,
    pub description: Option<String>,
    pub no_echo: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// `RuleCondition`.
    pub condition: Option<Node>,
    pub assertions: Vec<Assertion>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    pub assert: Node,
    pub description: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub logical_id: String,
    pub resource_type: String,
    pub properties: Option<Node>,
    pub condition: Option<String>,
    pub depends_on: Vec<(String, Span)>,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
    pub metadata: Option<Node>,
    pub creation_policy: Option<Node>,
    pub update_policy: Option<Node>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub value: Node,
    pub description: Option<Node>,
    /// `Export: {Name: ...}` — the Name expression.
    pub export_name: Option<Node>,
    pub condition: Option<String>,
    pub span: Span,
}

const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
];

const RESOURCE_ATTRS: &[&str] = &[
    "Type",
    "Properties",
    "Condition",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "Metadata",
    "CreationPolicy",
    "UpdatePolicy",
    "Version",
];

const PARAM_ATTRS: &[&str] = &[
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "MinLength",
    "MaxLength",
    "MinValue",
    "MaxValue",
    "ConstraintDescription",
    "Description",
    "NoEcho",
];

const POLICIES: &[&str] = &["Delete", "Retain", "RetainExceptOnCreate", "Snapshot"];

fn fe(msg: impl AsRef<str>, span: Span) -> TemplateError {
    TemplateError::format(msg, span)
}

fn section_map<'a>(
    root: &'a IndexMap<String, Node>,
    name: &str,
) -> Result<Option<&'a IndexMap<String, Node>>, TemplateError> {
    match root.get(name) {
        None => Ok(None),
        Some(n) => match &n.kind {
            NodeKind::Map(m) => Ok(Some(m)),
            NodeKind::Null => Ok(Some(empty_map())),
            _ => Err(fe(format!("{name} section must be an object"), n.span)),
        },
    }
}

fn empty_map() -> &'static IndexMap<String, Node> {
    static EMPTY: std::sync::OnceLock<IndexMap<String, Node>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(IndexMap::new)
}

fn scalar(n: &Node, what: &str) -> Result<String, TemplateError> {
    n.scalar_string()
        .ok_or_else(|| fe(format!("{what} must be a string"), n.span))
}

fn number(n: &Node, what: &str) -> Result<f64, TemplateError> {
    let s = scalar(n, what)?;
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| fe(format!("{what} must be a number"), n.span))
}

fn uint(n: &Node, what: &str) -> Result<u64, TemplateError> {
    let s = scalar(n, what)?;
    s.trim()
        .parse::<u64>()
        .map_err(|_| fe(format!("{what} must be a non-negative integer"), n.span))
}

fn bool_of(n: &Node) -> bool {
    match &n.kind {
        NodeKind::Bool(b) => *b,
        NodeKind::Str(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

impl Template {
    /// Build the model from a loaded tree (structural checks only; see `validate`).
    pub fn from_node(root: Node) -> Result<Template, TemplateError> {
        let top = match &root.kind {
            NodeKind::Map(m) => m,
            _ => return Err(fe("Template must be a JSON or YAML object", root.span)),
        };
        let unknown: Vec<&str> = top
            .keys()
            .filter(|k| !SECTIONS.contains(&k.as_str()))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let span = top.get(unknown[0]).map(|n| n.span).unwrap_or(root.span);
            return Err(fe(
                format!(
                    "Invalid template property or properties [{}]",
                    unknown.join(", ")
                ),
                span,
            ));
        }
        let format_version = match top.get("AWSTemplateFormatVersion") {
            None => None,
            Some(n) => {
                let v = scalar(n, "AWSTemplateFormatVersion")?;
                if v != "2010-09-09" {
                    return Err(fe(format!("Unsupported template version: {v}"), n.span));
                }
                Some(v)
            }
        };
        let description = match top.get("Description") {
            None => None,
            Some(n) => {
                let d = scalar(n, "Description")?;
                if d.len() > 1024 {
                    return Err(fe(
                        "Description must not be longer than 1024 characters",
                        n.span,
                    ));
                }
                Some(d)
            }
        };
        let metadata = top.get("Metadata").cloned();

        let mut parameters = IndexMap::new();
        if let Some(ps) = section_map(top, "Parameters")? {
            for (name, n) in ps {
                parameters.insert(name.clone(), parse_parameter(name, n)?);
            }
        }
        let mut rules = IndexMap::new();
        if let Some(rs) = section_map(top, "Rules")? {
            for (name, n) in rs {
                rules.insert(name.clone(), parse_rule(name, n)?);
            }
        }
        let mut mappings = IndexMap::new();
        if let Some(ms) = section_map(top, "Mappings")? {
            for (name, n) in ms {
                let Some(m) = n.as_map() else {
                    return Err(fe(format!("Mapping {name} must be an object"), n.span));
                };
                for (k, v) in m {
                    if v.as_map().is_none() {
                        return Err(fe(
                            format!("Mapping {name} key {k} must be an object of name/value pairs"),
                            v.span,
                        ));
                    }
                }
                mappings.insert(name.clone(), n.clone());
            }
        }
        let mut conditions = IndexMap::new();
        if let Some(cs) = section_map(top, "Conditions")? {
            for (name, n) in cs {
                conditions.insert(name.clone(), n.clone());
            }
        }
        let mut transforms = Vec::new();
        if let Some(t) = top.get("Transform") {
            match &t.kind {
                NodeKind::Str(s) => transforms.push((s.clone(), t.span)),
                NodeKind::Seq(items) => {
                    for i in items {
                        transforms.push((scalar(i, "Transform")?, i.span));
                    }
                }
                NodeKind::Map(m) => {
                    let name = m
                        .get("Name")
                        .map(|n| scalar(n, "Transform Name"))
                        .transpose()?;
                    transforms.push((name.unwrap_or_default(), t.span));
                }
                _ => return Err(fe("Transform must be a string or a list", t.span)),
            }
        }
        let mut resources = IndexMap::new();
        match section_map(top, "Resources")? {
            Some(rs) if !rs.is_empty() => {
                for (id, n) in rs {
                    resources.insert(id.clone(), parse_resource(id, n)?);
                }
            }
            _ => {
                return Err(fe(
                    "At least one Resources member must be defined.",
                    top.get("Resources").map(|n| n.span).unwrap_or(Span::NONE),
                ))
            }
        }
        let mut outputs = IndexMap::new();
        if let Some(os) = section_map(top, "Outputs")? {
            for (name, n) in os {
                outputs.insert(name.clone(), parse_output(name, n)?);
            }
        }
        Ok(Template {
            format_version,
            description,
            metadata,
            parameters,
            rules,
            mappings,
            conditions,
            transforms,
            resources,
            outputs,
            root,
        })
    }
}

fn parse_parameter(name: &str, n: &Node) -> Result<Parameter, TemplateError> {
    let Some(m) = n.as_map() else {
        return Err(fe(format!("Parameter {name} must be an object"), n.span));
    };
    if let Some(bad) = m.keys().find(|k| !PARAM_ATTRS.contains(&k.as_str())) {
        return Err(fe(
            format!("Invalid template parameter property '{bad}'"),
            m.get(bad).map(|x| x.span).unwrap_or(n.span),
        ));
    }
    let Some(ty) = m.get("Type") else {
        return Err(fe(
            format!("Every Parameters object must contain a Type attribute: {name}"),
            n.span,
        ));
    };
    let type_name = scalar(ty, "Parameter Type")?;
    let param_type = ParamType::parse(&type_name)
        .ok_or_else(|| fe(format!("Unrecognized parameter type: {type_name}"), ty.span))?;
    let default = match m.get("Default") {
        None => None,
        Some(d) => Some(match &d.kind {
            // A YAML list default for a list type is accepted and joined.
            NodeKind::Seq(items) => items
                .iter()
                .map(|i| scalar(i, "Default"))
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            _ => scalar(d, "Default")?,
        }),
    };
    let allowed_values = match m.get("AllowedValues") {
        None => Vec::new(),
        Some(av) => match &av.kind {
            NodeKind::Seq(items) => items
                .iter()
                .map(|i| scalar(i, "AllowedValues"))
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(fe(
                    format!("AllowedValues of parameter {name} must be a list"),
                    av.span,
                ))
            }
        },
    };
    Ok(Parameter {
        name: name.to_string(),
        type_name,
        param_type,
        default,
        allowed_values,
        allowed_pattern: m
            .get("AllowedPattern")
            .map(|x| scalar(x, "AllowedPattern"))
            .transpose()?,
        min_length: m
            .get("MinLength")
            .map(|x| uint(x, "MinLength"))
            .transpose()?,
        max_length: m
            .get("MaxLength")
            .map(|x| uint(x, "MaxLength"))
            .transpose()?,
        min_value: m
            .get("MinValue")
            .map(|x| number(x, "MinValue"))
            .transpose()?,
        max_value: m
            .get("MaxValue")
            .map(|x| number(x, "MaxValue"))
            .transpose()?,
        constraint_description: m
            .get("ConstraintDescription")
            .map(|x| scalar(x, "ConstraintDescription"))
            .transpose()?,
        description: m
            .get("Description")
            .map(|x| scalar(x, "Description"))
            .transpose()?,
        no_echo: m.get("NoEcho").map(bool_of).unwrap_or(false),
        span: n.span,
    })
}

fn parse_rule(name: &str, n: &Node) -> Result<Rule, TemplateError> {
    let Some(m) = n.as_map() else {
        return Err(fe(format!("Rule {name} must be an object"), n.span));
    };
    let mut assertions = Vec::new();
    match m.get("Assertions") {
        Some(a) => {
            let Some(items) = a.as_seq() else {
                return Err(fe(
                    format!("Assertions of rule {name} must be a list"),
                    a.span,
                ));
            };
            for i in items {
                let Some(am) = i.as_map() else {
                    return Err(fe(
                        format!("Assertion in rule {name} must be an object"),
                        i.span,
                    ));
                };
                let Some(assert) = am.get("Assert") else {
                    return Err(fe(
                        format!("Every Assertions member of rule {name} must contain an Assert"),
                        i.span,
                    ));
                };
                assertions.push(Assertion {
                    assert: assert.clone(),
                    description: am
                        .get("AssertDescription")
                        .map(|x| scalar(x, "AssertDescription"))
                        .transpose()?,
                    span: i.span,
                });
            }
        }
        None => {
            return Err(fe(
                format!("Rule {name} must contain an Assertions member"),
                n.span,
            ))
        }
    }
    Ok(Rule {
        name: name.to_string(),
        condition: m.get("RuleCondition").cloned(),
        assertions,
        span: n.span,
    })
}

fn parse_resource(id: &str, n: &Node) -> Result<Resource, TemplateError> {
    let Some(m) = n.as_map() else {
        return Err(fe(
            format!("[/Resources/{id}] resource must be an object"),
            n.span,
        ));
    };
    let Some(ty) = m.get("Type") else {
        return Err(fe(
            format!("[/Resources/{id}] Every Resources object must contain a Type member."),
            n.span,
        ));
    };
    let resource_type = scalar(ty, "Type")?;
    if let Some(bad) = m.keys().find(|k| !RESOURCE_ATTRS.contains(&k.as_str())) {
        return Err(fe(
            format!("Invalid template resource property '{bad}'"),
            m.get(bad).map(|x| x.span).unwrap_or(n.span),
        ));
    }
    let condition = m
        .get("Condition")
        .map(|c| scalar(c, "Condition"))
        .transpose()?;
    let mut depends_on = Vec::new();
    if let Some(d) = m.get("DependsOn") {
        match &d.kind {
            NodeKind::Str(s) => depends_on.push((s.clone(), d.span)),
            NodeKind::Seq(items) => {
                for i in items {
                    match i.as_str() {
                        Some(s) => depends_on.push((s.to_string(), i.span)),
                        None => {
                            return Err(fe(
                                "DependsOn must be a string or a list of strings",
                                i.span,
                            ))
                        }
                    }
                }
            }
            _ => {
                return Err(fe(
                    "DependsOn must be a string or a list of strings",
                    d.span,
                ))
            }
        }
    }
    let policy = |key: &str| -> Result<Option<String>, TemplateError> {
        match m.get(key) {
            None => Ok(None),
            Some(p) => {
                let v = scalar(p, key)?;
                if !POLICIES.contains(&v.as_str()) {
                    return Err(fe(
                        format!("Unrecognized {key} {v} for resource {id}"),
                        p.span,
                    ));
                }
                Ok(Some(v))
            }
        }
    };
    if let Some(p) = m.get("Properties") {
        if !matches!(p.kind, NodeKind::Map(_) | NodeKind::Null) && p.as_intrinsic().is_none() {
            return Err(fe(
                format!("Properties of resource {id} must be an object"),
                p.span,
            ));
        }
    }
    Ok(Resource {
        logical_id: id.to_string(),
        resource_type,
        properties: m.get("Properties").cloned(),
        condition,
        depends_on,
        deletion_policy: policy("DeletionPolicy")?,
        update_replace_policy: policy("UpdateReplacePolicy")?,
        metadata: m.get("Metadata").cloned(),
        creation_policy: m.get("CreationPolicy").cloned(),
        update_policy: m.get("UpdatePolicy").cloned(),
        span: n.span,
    })
}

fn parse_output(name: &str, n: &Node) -> Result<Output, TemplateError> {
    let Some(m) = n.as_map() else {
        return Err(fe(format!("Output {name} must be an object"), n.span));
    };
    let Some(value) = m.get("Value") else {
        return Err(fe(
            format!("Every Outputs member must contain a Value object: {name}"),
            n.span,
        ));
    };
    let export_name = match m.get("Export") {
        None => None,
        Some(e) => match e.get("Name") {
            Some(x) => Some(x.clone()),
            None => {
                return Err(fe(
                    format!("Export of output {name} must contain a Name"),
                    e.span,
                ))
            }
        },
    };
    Ok(Output {
        name: name.to_string(),
        value: value.clone(),
        description: m.get("Description").cloned(),
        export_name,
        condition: m
            .get("Condition")
            .map(|c| scalar(c, "Condition"))
            .transpose()?,
        span: n.span,
    })
}
