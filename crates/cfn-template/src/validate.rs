//! ValidateTemplate-style static checks.

use indexmap::{IndexMap, IndexSet};

use crate::deps::{creation_order, dependencies};
use crate::error::{ErrorKind, Span, TemplateError};
use crate::eval::{getatt_parts, parse_sub, sub_args, SubPart, PSEUDO_PARAMETERS};
use crate::node::{Node, NodeKind};
use crate::params::{compile_pattern, resolve_parameter, NoAwsResolver, ParamType};
use crate::template::Template;

/// Maximum number of outputs in a template.
pub const MAX_OUTPUTS: usize = 200;

/// Intrinsic functions valid in Resources/Outputs.
pub const RESOURCE_FUNCTIONS: &[&str] = &[
    "Ref",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::FindInMap",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::Sub",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
];

const LANGUAGE_EXTENSIONS: &[&str] = &["Fn::Length", "Fn::ToJsonString", "Fn::ForEach"];

struct Checker<'a> {
    t: &'a Template,
    block: &'static str,
    unresolved: IndexSet<String>,
    first_span: Span,
}

impl Checker<'_> {
    fn known_ref(&self, name: &str) -> bool {
        PSEUDO_PARAMETERS.contains(&name)
            || self.t.parameters.contains_key(name)
            || self.t.resources.contains_key(name)
    }
    fn unresolved(&mut self, name: &str, span: Span) {
        if self.unresolved.is_empty() {
            self.first_span = span;
        }
        self.unresolved.insert(name.to_string());
    }
    fn check(&mut self, node: &Node) -> Result<(), TemplateError> {
        match &node.kind {
            NodeKind::Seq(items) => {
                for i in items {
                    self.check(i)?;
                }
                Ok(())
            }
            NodeKind::Map(m) => {
                if let Some((f, arg)) = node.as_intrinsic() {
                    return self.check_fn(f, arg, node.span);
                }
                if m.len() == 1 {
                    if let Some(k) = m.keys().next().filter(|k| k.starts_with("Fn::")) {
                        return Err(TemplateError::format(
                            format!("Encountered unsupported function: {k}"),
                            node.span,
                        ));
                    }
                }
                for v in m.values() {
                    self.check(v)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    fn check_fn(&mut self, f: &str, arg: &Node, span: Span) -> Result<(), TemplateError> {
        if LANGUAGE_EXTENSIONS.contains(&f) {
            return Err(TemplateError::format(
                format!("{f} requires the AWS::LanguageExtensions transform, which ironsage does not support"),
                span,
            ));
        }
        if f == "Fn::Transform" {
            return Err(TemplateError::new(
                ErrorKind::UnsupportedTransform {
                    name: "Fn::Transform".into(),
                },
                "Template format error: Fn::Transform (macros) is not supported by ironsage",
                span,
            ));
        }
        if !RESOURCE_FUNCTIONS.contains(&f) {
            return Err(TemplateError::format(
                format!("Encountered unsupported function: {f}"),
                span,
            ));
        }
        match f {
            "Ref" => {
                let Some(name) = arg.as_str() else {
                    return Err(TemplateError::format(
                        "Ref requires a string argument",
                        arg.span,
                    ));
                };
                if !self.known_ref(name) {
                    self.unresolved(name, arg.span);
                }
                Ok(())
            }
            "Fn::GetAtt" => {
                let Some((id, attr)) = getatt_parts(arg) else {
                    return Err(TemplateError::template(
                        "every Fn::GetAtt object requires two non-empty parameters.",
                        arg.span,
                    ));
                };
                if !self.t.resources.contains_key(&id) {
                    return Err(TemplateError::template(
                        format!("instance of Fn::GetAtt references undefined resource {id}"),
                        arg.span,
                    ));
                }
                self.check(&attr)
            }
            "Fn::Sub" => {
                let Some((s, vars)) = sub_args(arg) else {
                    return Err(TemplateError::template(
                        "One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string",
                        arg.span,
                    ));
                };
                for p in parse_sub(s) {
                    if let SubPart::Var(v) = p {
                        if vars.is_some_and(|m| m.contains_key(&v)) || self.known_ref(&v) {
                            continue;
                        }
                        match v.split_once('.') {
                            Some((r, _)) if self.t.resources.contains_key(r) => {}
                            Some((r, _)) => self.unresolved(r, arg.span),
                            None => self.unresolved(&v, arg.span),
                        }
                    }
                }
                if let Some(m) = vars {
                    for v in m.values() {
                        self.check(v)?;
                    }
                }
                Ok(())
            }
            "Fn::If" => {
                let Some([c, a, b]) = arg.as_seq() else {
                    return Err(TemplateError::template(
                        "Fn::If requires a list argument with three elements",
                        arg.span,
                    ));
                };
                let name = c.as_str().unwrap_or_default();
                if !self.t.conditions.contains_key(name) {
                    return Err(TemplateError::template(
                        format!("unresolved condition dependency {name} in Fn::If"),
                        c.span,
                    ));
                }
                self.check(a)?;
                self.check(b)
            }
            "Fn::Select" | "Fn::Join" | "Fn::Split" => {
                if arg.as_seq().map(|s| s.len()) != Some(2) {
                    return Err(TemplateError::template(
                        format!("{f} requires a list argument with two elements"),
                        arg.span,
                    ));
                }
                self.check(arg)
            }
            "Fn::Cidr" => {
                if arg.as_seq().map(|s| s.len()) != Some(3) {
                    return Err(TemplateError::template(
                        "Fn::Cidr requires a list argument with three elements: ipBlock, count, cidrBits",
                        arg.span,
                    ));
                }
                self.check(arg)
            }
            "Fn::FindInMap" => {
                let n = arg.as_seq().map(|s| s.len()).unwrap_or(0);
                if n != 3 && n != 4 {
                    return Err(TemplateError::template(
                        "Fn::FindInMap requires a list argument with three elements: map name, top-level key, second-level key",
                        arg.span,
                    ));
                }
                if let Some(name) = arg.as_seq().and_then(|s| s[0].as_str()) {
                    if !self.t.mappings.contains_key(name) {
                        return Err(TemplateError::template(
                            format!("Unable to get mapping for {name}"),
                            arg.span,
                        ));
                    }
                }
                self.check(arg)
            }
            _ => self.check(arg),
        }
    }
    fn finish(&mut self) -> Result<(), TemplateError> {
        if self.unresolved.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.unresolved.iter().map(String::as_str).collect();
        Err(TemplateError::format(
            format!(
                "Unresolved resource dependencies [{}] in the {} block of the template",
                names.join(", "),
                self.block
            ),
            self.first_span,
        ))
    }
}

/// Walk a condition expression: only parameters/pseudo parameters may be referenced.
fn check_condition(
    t: &Template,
    node: &Node,
    uses: &mut Vec<(String, Span)>,
) -> Result<(), TemplateError> {
    match &node.kind {
        NodeKind::Seq(items) => {
            for i in items {
                check_condition(t, i, uses)?;
            }
        }
        NodeKind::Map(m) => {
            if m.len() == 1 {
                if let Some((k, v)) = m.iter().next() {
                    match k.as_str() {
                        "Condition" => {
                            let name = v.as_str().unwrap_or_default();
                            if !t.conditions.contains_key(name) {
                                return Err(TemplateError::format(
                                    format!("Unresolved condition dependencies [{name}] in the Conditions block of the template"),
                                    v.span,
                                ));
                            }
                            uses.push((name.to_string(), v.span));
                            return Ok(());
                        }
                        "Ref" => {
                            let name = v.as_str().unwrap_or_default();
                            if t.resources.contains_key(name) {
                                return Err(TemplateError::format(
                                    format!("Unresolved dependencies [{name}]. Cannot reference resources in the Conditions block of the template"),
                                    v.span,
                                ));
                            }
                            if !PSEUDO_PARAMETERS.contains(&name)
                                && !t.parameters.contains_key(name)
                            {
                                return Err(TemplateError::format(
                                    format!("Unresolved resource dependencies [{name}] in the Conditions block of the template"),
                                    v.span,
                                ));
                            }
                            return Ok(());
                        }
                        "Fn::Equals" | "Fn::And" | "Fn::Or" | "Fn::Not" | "Fn::FindInMap"
                        | "Fn::Sub" | "Fn::Join" | "Fn::Select" | "Fn::Split" | "Fn::Base64"
                        | "Fn::GetAZs" | "Fn::Cidr" | "Fn::ImportValue" => {}
                        other if other.starts_with("Fn::") => {
                            return Err(TemplateError::format(
                                format!(
                                "{other} is not supported in the Conditions block of the template"
                            ),
                                node.span,
                            ))
                        }
                        _ => {}
                    }
                }
            }
            for v in m.values() {
                check_condition(t, v, uses)?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl Template {
    /// CloudFormation's ValidateTemplate checks (everything that does not need live resources).
    pub fn validate(&self) -> Result<(), TemplateError> {
        if let Some((name, span)) = self.transforms.first() {
            return Err(TemplateError::new(
                ErrorKind::UnsupportedTransform { name: name.clone() },
                format!("Template format error: Transform {name} is not supported by ironsage"),
                *span,
            ));
        }
        // Parameters: patterns compile, defaults satisfy constraints.
        for p in self.parameters.values() {
            if let Some(pat) = &p.allowed_pattern {
                compile_pattern(pat).map_err(|e| {
                    TemplateError::format(
                        format!(
                            "AllowedPattern of parameter {} is not a valid regular expression: {e}",
                            p.name
                        ),
                        p.span,
                    )
                })?;
            }
            let plain = matches!(
                p.param_type,
                ParamType::String
                    | ParamType::Number
                    | ParamType::NumberList
                    | ParamType::CommaDelimitedList
            );
            if let (true, Some(d)) = (plain, &p.default) {
                resolve_parameter(p, d, &NoAwsResolver)
                    .map_err(|e| e.with_span_if_unknown(p.span))?;
            }
        }
        // Conditions: references and cycles.
        let mut cond_graph: IndexMap<String, Vec<String>> = IndexMap::new();
        for (name, node) in &self.conditions {
            let mut uses = Vec::new();
            check_condition(self, node, &mut uses)?;
            cond_graph.insert(name.clone(), uses.into_iter().map(|u| u.0).collect());
        }
        let cyc = crate::deps::find_cycles(&cond_graph);
        if !cyc.is_empty() {
            let span = self
                .conditions
                .get(&cyc[0])
                .map(|n| n.span)
                .unwrap_or(Span::NONE);
            return Err(TemplateError::format(
                format!(
                    "Circular dependency between conditions: [{}]",
                    cyc.join(", ")
                ),
                span,
            ));
        }
        // Rules reference parameters only.
        for r in self.rules.values() {
            let nodes = r
                .condition
                .iter()
                .chain(r.assertions.iter().map(|a| &a.assert));
            for n in nodes {
                let mut refs = Vec::new();
                crate::deps::collect_refs(n, None, &mut refs);
                for rf in refs {
                    if let crate::deps::Reference::Ref(name, span) = rf {
                        if !self.parameters.contains_key(&name)
                            && !PSEUDO_PARAMETERS.contains(&name.as_str())
                        {
                            return Err(TemplateError::template(
                                format!(
                                    "Unresolved parameter dependencies [{name}] in rule {}",
                                    r.name
                                ),
                                span,
                            ));
                        }
                    }
                }
            }
        }
        // Resources.
        let mut ck = Checker {
            t: self,
            block: "Resources",
            unresolved: IndexSet::new(),
            first_span: Span::NONE,
        };
        for r in self.resources.values() {
            if let Some(c) = &r.condition {
                if !self.conditions.contains_key(c) {
                    return Err(TemplateError::format(
                        format!("Unresolved condition dependencies [{c}] in the Resources block of the template"),
                        r.span,
                    ));
                }
            }
            if r.resource_type.is_empty() {
                return Err(TemplateError::format(
                    format!(
                        "[/Resources/{}] Every Resources object must contain a Type member.",
                        r.logical_id
                    ),
                    r.span,
                ));
            }
            for n in r
                .properties
                .iter()
                .chain(r.metadata.iter())
                .chain(r.creation_policy.iter())
                .chain(r.update_policy.iter())
            {
                ck.check(n)?;
            }
        }
        ck.finish()?;
        // Outputs.
        if self.outputs.len() > MAX_OUTPUTS {
            let span = self
                .outputs
                .get_index(MAX_OUTPUTS)
                .map(|(_, o)| o.span)
                .unwrap_or(Span::NONE);
            return Err(TemplateError::format(
                format!(
                    "The template contains {} outputs; the maximum is {MAX_OUTPUTS}",
                    self.outputs.len()
                ),
                span,
            ));
        }
        let mut ck = Checker {
            t: self,
            block: "Outputs",
            unresolved: IndexSet::new(),
            first_span: Span::NONE,
        };
        for o in self.outputs.values() {
            if let Some(c) = &o.condition {
                if !self.conditions.contains_key(c) {
                    return Err(TemplateError::format(
                        format!("Unresolved condition dependencies [{c}] in the Outputs block of the template"),
                        o.span,
                    ));
                }
            }
            ck.check(&o.value)?;
            if let Some(e) = &o.export_name {
                ck.check(e)?;
            }
        }
        ck.finish()?;
        // Dependencies and cycles.
        let deps = dependencies(self)?;
        creation_order(&deps)?;
        Ok(())
    }
}
