//! Condition and intrinsic-function evaluation.

use base64::Engine as _;
use indexmap::IndexMap;
use serde_json::Value;

use crate::cidr::cidr;
use crate::error::{Span, TemplateError};
use crate::node::{float_to_string, Node, NodeKind};
use crate::template::Template;

/// Implemented by the engine: live facts about resources and the account.
pub trait Resolver {
    /// The physical id `Ref` returns, if the resource exists (and is created).
    fn ref_resource(&self, logical_id: &str) -> Option<Value>;
    /// An attribute (incl. `Outputs.X` of nested stacks; lists allowed).
    fn get_att(&self, logical_id: &str, attr: &str) -> Result<Value, String>;
    fn import_value(&self, name: &str) -> Result<Value, String>;
    fn azs(&self, region: &str) -> Vec<String>;
}

/// A resolver with no resources (for conditions, rules, parameters).
pub struct NoResources;
impl Resolver for NoResources {
    fn ref_resource(&self, _logical_id: &str) -> Option<Value> {
        None
    }
    fn get_att(&self, logical_id: &str, attr: &str) -> Result<Value, String> {
        Err(format!("{logical_id}.{attr} is not available here"))
    }
    fn import_value(&self, name: &str) -> Result<Value, String> {
        Err(format!("No export named {name} found."))
    }
    fn azs(&self, _region: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Pseudo parameter values for one stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Pseudo {
    pub account_id: String,
    pub region: String,
    pub stack_name: String,
    pub stack_id: String,
    pub partition: String,
    pub url_suffix: String,
    pub notification_arns: Vec<String>,
}

impl Pseudo {
    /// Partition and URL suffix are derived from the region.
    pub fn new(account_id: &str, region: &str, stack_name: &str, stack_id: &str) -> Pseudo {
        let (partition, url_suffix) = if region.starts_with("cn-") {
            ("aws-cn", "amazonaws.com.cn")
        } else if region.starts_with("us-gov-") {
            ("aws-us-gov", "amazonaws.com")
        } else {
            ("aws", "amazonaws.com")
        };
        Pseudo {
            account_id: account_id.to_string(),
            region: region.to_string(),
            stack_name: stack_name.to_string(),
            stack_id: stack_id.to_string(),
            partition: partition.to_string(),
            url_suffix: url_suffix.to_string(),
            notification_arns: Vec::new(),
        }
    }

    /// `Some(None)` for AWS::NoValue, `Some(Some(v))` for the others, `None` if not a pseudo parameter.
    pub fn get(&self, name: &str) -> Option<Option<Value>> {
        let s = |x: &String| Some(Some(Value::String(x.clone())));
        match name {
            "AWS::AccountId" => s(&self.account_id),
            "AWS::Region" => s(&self.region),
            "AWS::StackName" => s(&self.stack_name),
            "AWS::StackId" => s(&self.stack_id),
            "AWS::Partition" => s(&self.partition),
            "AWS::URLSuffix" => s(&self.url_suffix),
            "AWS::NotificationARNs" => Some(Some(Value::Array(
                self.notification_arns
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ))),
            "AWS::NoValue" => Some(None),
            _ => None,
        }
    }
}

pub const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::Region",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::Partition",
    "AWS::URLSuffix",
    "AWS::NotificationARNs",
    "AWS::NoValue",
];

/// Everything intrinsic evaluation needs.
pub struct EvalContext<'a> {
    pub template: &'a Template,
    /// Parameter name → what `Ref` returns.
    pub parameters: &'a IndexMap<String, Value>,
    pub pseudo: &'a Pseudo,
    /// Evaluated conditions (see `evaluate_conditions`).
    pub conditions: &'a IndexMap<String, bool>,
    pub resolver: &'a dyn Resolver,
}

fn terr(msg: impl AsRef<str>, span: Span) -> TemplateError {
    TemplateError::template(msg, span)
}

/// Render a resolved scalar as a string (numbers and booleans included).
pub fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => n
                .as_f64()
                .map(float_to_string)
                .unwrap_or_else(|| n.to_string()),
        }),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Evaluate every condition of the template (memoised, cycles detected).
pub fn evaluate_conditions(
    t: &Template,
    parameters: &IndexMap<String, Value>,
    pseudo: &Pseudo,
) -> Result<IndexMap<String, bool>, TemplateError> {
    let mut done: IndexMap<String, bool> = IndexMap::new();
    for name in t.conditions.keys() {
        let mut stack = Vec::new();
        eval_named_condition(
            t,
            parameters,
            pseudo,
            name,
            &mut done,
            &mut stack,
            Span::NONE,
        )?;
    }
    Ok(done)
}

fn eval_named_condition(
    t: &Template,
    parameters: &IndexMap<String, Value>,
    pseudo: &Pseudo,
    name: &str,
    done: &mut IndexMap<String, bool>,
    stack: &mut Vec<String>,
    span: Span,
) -> Result<bool, TemplateError> {
    if let Some(b) = done.get(name) {
        return Ok(*b);
    }
    let Some(node) = t.conditions.get(name) else {
        return Err(TemplateError::format(
            format!("Unresolved condition dependencies [{name}] in the Conditions block of the template"),
            span,
        ));
    };
    if stack.iter().any(|s| s == name) {
        let mut cycle = stack.clone();
        cycle.push(name.to_string());
        return Err(TemplateError::format(
            format!(
                "Circular dependency between conditions: [{}]",
                cycle.join(", ")
            ),
            node.span,
        ));
    }
    stack.push(name.to_string());
    let b = cond_bool(t, parameters, pseudo, node, done, stack)?;
    stack.pop();
    done.insert(name.to_string(), b);
    Ok(b)
}

fn cond_bool(
    t: &Template,
    parameters: &IndexMap<String, Value>,
    pseudo: &Pseudo,
    node: &Node,
    done: &mut IndexMap<String, bool>,
    stack: &mut Vec<String>,
) -> Result<bool, TemplateError> {
    match &node.kind {
        NodeKind::Bool(b) => return Ok(*b),
        NodeKind::Str(s) if s.eq_ignore_ascii_case("true") => return Ok(true),
        NodeKind::Str(s) if s.eq_ignore_ascii_case("false") => return Ok(false),
        _ => {}
    }
    let Some((f, arg)) = node.as_intrinsic().or_else(|| {
        // `Condition: X` inside a condition.
        let m = node.as_map()?;
        if m.len() == 1 {
            m.get("Condition").map(|v| ("Condition", v))
        } else {
            None
        }
    }) else {
        return Err(TemplateError::format(
            "Conditions can only be boolean operations on parameters and other conditions",
            node.span,
        ));
    };
    let recurse = |n: &Node, done: &mut IndexMap<String, bool>, stack: &mut Vec<String>| {
        cond_bool(t, parameters, pseudo, n, done, stack)
    };
    match f {
        "Condition" => {
            let Some(name) = arg.as_str() else {
                return Err(TemplateError::format(
                    "Condition must name a condition",
                    arg.span,
                ));
            };
            eval_named_condition(t, parameters, pseudo, name, done, stack, arg.span)
        }
        "Fn::Not" => match arg.as_seq() {
            Some([x]) => Ok(!recurse(x, done, stack)?),
            _ => Err(terr(
                "Fn::Not requires a list argument with one function token",
                arg.span,
            )),
        },
        "Fn::And" | "Fn::Or" => {
            let items = arg.as_seq().unwrap_or(&[]);
            if items.len() < 2 || items.len() > 10 {
                return Err(terr(
                    format!("{f} requires a list argument with between 2 and 10 function tokens"),
                    arg.span,
                ));
            }
            let mut acc = f == "Fn::And";
            for i in items {
                let b = recurse(i, done, stack)?;
                if f == "Fn::And" {
                    acc = acc && b;
                } else {
                    acc = acc || b;
                }
            }
            Ok(acc)
        }
        "Fn::Equals" => {
            let no_conds = IndexMap::new();
            let ctx = EvalContext {
                template: t,
                parameters,
                pseudo,
                conditions: &no_conds,
                resolver: &NoResources,
            };
            equals(&ctx, arg, true)
        }
        other => Err(TemplateError::format(
            format!("Unsupported function {other} in the Conditions block"),
            node.span,
        )),
    }
}

fn equals(ctx: &EvalContext<'_>, arg: &Node, in_conditions: bool) -> Result<bool, TemplateError> {
    let Some([a, b]) = arg.as_seq() else {
        return Err(terr(
            "every Fn::Equals object requires a list of 2 string parameters.",
            arg.span,
        ));
    };
    let ev = |n: &Node| -> Result<Value, TemplateError> {
        if in_conditions {
            check_condition_refs(ctx, n)?;
        }
        Ok(eval(ctx, n)?.unwrap_or(Value::Null))
    };
    let (va, vb) = (ev(a)?, ev(b)?);
    Ok(match (value_to_string(&va), value_to_string(&vb)) {
        (Some(x), Some(y)) => x == y,
        _ => va == vb,
    })
}

fn check_condition_refs(ctx: &EvalContext<'_>, n: &Node) -> Result<(), TemplateError> {
    if let Some(("Ref", a)) = n.as_intrinsic() {
        if let Some(name) = a.as_str() {
            if ctx.template.resources.contains_key(name) {
                return Err(TemplateError::format(
                    format!("Unresolved dependencies [{name}]. Cannot reference resources in the Conditions block of the template"),
                    a.span,
                ));
            }
        }
    }
    Ok(())
}

/// Evaluate a condition expression in resource context (e.g. Fn::If's first argument by name).
pub fn condition_value(
    ctx: &EvalContext<'_>,
    name: &str,
    span: Span,
) -> Result<bool, TemplateError> {
    ctx.conditions.get(name).copied().ok_or_else(|| {
        TemplateError::format(
            format!(
                "Unresolved condition dependencies [{name}] in the Resources block of the template"
            ),
            span,
        )
    })
}

/// Resolve a node to plain JSON. `AWS::NoValue` at the top level gives `Null`.
pub fn resolve(node: &Node, ctx: &EvalContext<'_>) -> Result<Value, TemplateError> {
    Ok(eval(ctx, node)?.unwrap_or(Value::Null))
}

/// Resolve a node; `None` means `AWS::NoValue` (the caller drops the property/item).
pub fn eval(ctx: &EvalContext<'_>, node: &Node) -> Result<Option<Value>, TemplateError> {
    match &node.kind {
        NodeKind::Map(m) => {
            if let Some((f, arg)) = node.as_intrinsic() {
                return eval_fn(ctx, f, arg, node.span);
            }
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                if let Some(x) = eval(ctx, v)? {
                    out.insert(k.clone(), x);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        NodeKind::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                if let Some(x) = eval(ctx, i)? {
                    out.push(x);
                }
            }
            Ok(Some(Value::Array(out)))
        }
        _ => Ok(Some(node.to_json())),
    }
}

fn must(ctx: &EvalContext<'_>, node: &Node) -> Result<Value, TemplateError> {
    eval(ctx, node)?.ok_or_else(|| terr("AWS::NoValue cannot be used here", node.span))
}

fn must_string(ctx: &EvalContext<'_>, node: &Node, what: &str) -> Result<String, TemplateError> {
    let v = must(ctx, node)?;
    value_to_string(&v).ok_or_else(|| terr(format!("{what} must be a string"), node.span))
}

fn must_list(ctx: &EvalContext<'_>, node: &Node, what: &str) -> Result<Vec<Value>, TemplateError> {
    match must(ctx, node)? {
        Value::Array(a) => Ok(a),
        _ => Err(terr(format!("{what} must be a list"), node.span)),
    }
}

fn must_int(ctx: &EvalContext<'_>, node: &Node, what: &str) -> Result<i64, TemplateError> {
    let s = must_string(ctx, node, what)?;
    s.trim()
        .parse::<i64>()
        .map_err(|_| terr(format!("{what} must be an integer"), node.span))
}

/// `Ref` semantics: pseudo parameter, parameter, or resource.
pub fn eval_ref(
    ctx: &EvalContext<'_>,
    name: &str,
    span: Span,
) -> Result<Option<Value>, TemplateError> {
    if let Some(v) = ctx.pseudo.get(name) {
        return Ok(v);
    }
    if let Some(v) = ctx.parameters.get(name) {
        return Ok(Some(v.clone()));
    }
    if ctx.template.resources.contains_key(name) {
        return ctx.resolver.ref_resource(name).map(Some).ok_or_else(|| {
            terr(
                format!("Resource {name} is not available (its condition is false or it has not been created)"),
                span,
            )
        });
    }
    Err(TemplateError::format(
        format!("Unresolved resource dependencies [{name}] in the Resources block of the template"),
        span,
    ))
}

/// Split a GetAtt argument into (logical id, attribute node-or-string).
pub(crate) fn getatt_parts(arg: &Node) -> Option<(String, Node)> {
    match &arg.kind {
        NodeKind::Str(s) => {
            let (a, b) = s.split_once('.')?;
            Some((a.to_string(), Node::str(b, arg.span)))
        }
        NodeKind::Seq(items) if items.len() == 2 => {
            let id = items[0].as_str()?.to_string();
            Some((id, items[1].clone()))
        }
        _ => None,
    }
}

fn eval_fn(
    ctx: &EvalContext<'_>,
    f: &str,
    arg: &Node,
    span: Span,
) -> Result<Option<Value>, TemplateError> {
    match f {
        "Ref" => {
            let Some(name) = arg.as_str() else {
                return Err(TemplateError::format("Ref requires a string argument", arg.span));
            };
            eval_ref(ctx, name, arg.span)
        }
        "Fn::GetAtt" => {
            let Some((id, attr_node)) = getatt_parts(arg) else {
                return Err(terr(
                    "every Fn::GetAtt object requires two non-empty parameters.",
                    arg.span,
                ));
            };
            let attr = must_string(ctx, &attr_node, "Fn::GetAtt attribute")?;
            if id.is_empty() || attr.is_empty() {
                return Err(terr(
                    "every Fn::GetAtt object requires two non-empty parameters.",
                    arg.span,
                ));
            }
            if !ctx.template.resources.contains_key(&id) {
                return Err(terr(
                    format!("instance of Fn::GetAtt references undefined resource {id}"),
                    arg.span,
                ));
            }
            ctx.resolver
                .get_att(&id, &attr)
                .map(Some)
                .map_err(|e| terr(e, arg.span))
        }
        "Fn::Sub" => eval_sub(ctx, arg).map(|s| Some(Value::String(s))),
        "Fn::Join" => {
            let Some([d, list]) = arg.as_seq() else {
                return Err(terr("every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.", arg.span));
            };
            let delim = must_string(ctx, d, "Fn::Join delimiter")?;
            let items = must_list(ctx, list, "Fn::Join list")?;
            let mut parts = Vec::with_capacity(items.len());
            for i in &items {
                parts.push(value_to_string(i).ok_or_else(|| {
                    terr("Fn::Join can only join a list of strings", list.span)
                })?);
            }
            Ok(Some(Value::String(parts.join(&delim))))
        }
        "Fn::Select" => {
            let Some([idx, list]) = arg.as_seq() else {
                return Err(terr("Fn::Select requires a list argument with two elements: an integer index and a list", arg.span));
            };
            let i = must_int(ctx, idx, "Fn::Select index")?;
            let items = must_list(ctx, list, "Fn::Select list")?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .map(Some)
                .ok_or_else(|| terr(format!("Fn::Select cannot select nonexistent value at index {i}"), arg.span))
        }
        "Fn::Split" => {
            let Some([d, s]) = arg.as_seq() else {
                return Err(terr("Fn::Split requires a list argument with two elements: a delimiter and a source string", arg.span));
            };
            let delim = must_string(ctx, d, "Fn::Split delimiter")?;
            let src = must_string(ctx, s, "Fn::Split source")?;
            if delim.is_empty() {
                return Err(terr("Fn::Split delimiter must not be empty", d.span));
            }
            Ok(Some(Value::Array(
                src.split(delim.as_str()).map(|x| Value::String(x.to_string())).collect(),
            )))
        }
        "Fn::If" => {
            let Some([c, a, b]) = arg.as_seq() else {
                return Err(terr("Fn::If requires a list argument with three elements", arg.span));
            };
            let Some(name) = c.as_str() else {
                return Err(terr("Fn::If condition must be a condition name", c.span));
            };
            if condition_value(ctx, name, c.span)? {
                eval(ctx, a)
            } else {
                eval(ctx, b)
            }
        }
        "Fn::Equals" => equals(ctx, arg, false).map(|b| Some(Value::Bool(b))),
        "Fn::Not" | "Fn::And" | "Fn::Or" => {
            let items = arg.as_seq().unwrap_or(&[]);
            let mut vals = Vec::new();
            for i in items {
                let b = match i.get("Condition").and_then(Node::as_str) {
                    Some(c) => condition_value(ctx, c, i.span)?,
                    None => matches!(must(ctx, i)?, Value::Bool(true)),
                };
                vals.push(b);
            }
            Ok(Some(Value::Bool(match f {
                "Fn::Not" => !vals.first().copied().unwrap_or(false),
                "Fn::And" => vals.iter().all(|b| *b),
                _ => vals.iter().any(|b| *b),
            })))
        }
        "Fn::FindInMap" => eval_find_in_map(ctx, arg).map(Some),
        "Fn::GetAZs" => {
            let r = must_string(ctx, arg, "Fn::GetAZs region")?;
            let region = if r.is_empty() { ctx.pseudo.region.clone() } else { r };
            Ok(Some(Value::Array(
                ctx.resolver.azs(&region).into_iter().map(Value::String).collect(),
            )))
        }
        "Fn::ImportValue" => {
            let name = must_string(ctx, arg, "Fn::ImportValue")?;
            ctx.resolver
                .import_value(&name)
                .map(Some)
                .map_err(|e| terr(e, arg.span))
        }
        "Fn::Base64" => {
            let s = must_string(ctx, arg, "Fn::Base64")?;
            Ok(Some(Value::String(
                base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
            )))
        }
        "Fn::Cidr" => {
            let Some([ip, count, bits]) = arg.as_seq() else {
                return Err(terr("Fn::Cidr requires a list argument with three elements: ipBlock, count, cidrBits", arg.span));
            };
            let ip = must_string(ctx, ip, "Fn::Cidr ipBlock")?;
            let count = must_int(ctx, count, "Fn::Cidr count")?;
            let bits = must_int(ctx, bits, "Fn::Cidr cidrBits")?;
            let blocks = cidr(&ip, count, bits).map_err(|e| terr(e, arg.span))?;
            Ok(Some(Value::Array(blocks.into_iter().map(Value::String).collect())))
        }
        "Fn::Length" => {
            let items = must_list(ctx, arg, "Fn::Length argument")?;
            Ok(Some(Value::from(items.len())))
        }
        "Fn::ToJsonString" | "Fn::ForEach" => Err(TemplateError::format(
            format!("{f} requires the AWS::LanguageExtensions transform, which ironsage does not support"),
            span,
        )),
        "Fn::Transform" => Err(TemplateError::new(
            crate::error::ErrorKind::UnsupportedTransform { name: "Fn::Transform".into() },
            "Template format error: Fn::Transform (macros) is not supported by ironsage",
            span,
        )),
        other => Err(TemplateError::format(
            format!("Encountered unsupported function: {other}"),
            span,
        )),
    }
}

fn eval_find_in_map(ctx: &EvalContext<'_>, arg: &Node) -> Result<Value, TemplateError> {
    let items = arg.as_seq().unwrap_or(&[]);
    if items.len() != 3 && items.len() != 4 {
        return Err(terr("Fn::FindInMap requires a list argument with three elements: map name, top-level key, second-level key", arg.span));
    }
    let map = must_string(ctx, &items[0], "Fn::FindInMap map name")?;
    let top = must_string(ctx, &items[1], "Fn::FindInMap top-level key")?;
    let second = must_string(ctx, &items[2], "Fn::FindInMap second-level key")?;
    let found = ctx
        .template
        .mappings
        .get(&map)
        .and_then(|m| m.get(&top))
        .and_then(|m| m.get(&second));
    match found {
        Some(v) => must(ctx, v),
        None => {
            if let Some(d) = items.get(3).and_then(|o| o.get("DefaultValue")) {
                return must(ctx, d);
            }
            Err(terr(
                format!("Unable to get mapping for {map}::{top}::{second}"),
                arg.span,
            ))
        }
    }
}

/// The pieces of a Fn::Sub template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubPart {
    Lit(String),
    Var(String),
}

/// Parse a Fn::Sub string: `${Name}`, `${Res.Attr}`, `${!Literal}` → `${Literal}`.
pub fn parse_sub(s: &str) -> Vec<SubPart> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                let inner = &after[..j];
                if let Some(l) = inner.strip_prefix('!') {
                    lit.push_str("${");
                    lit.push_str(l);
                    lit.push('}');
                } else {
                    if !lit.is_empty() {
                        out.push(SubPart::Lit(std::mem::take(&mut lit)));
                    }
                    out.push(SubPart::Var(inner.trim().to_string()));
                }
                rest = &after[j + 1..];
            }
            None => {
                lit.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        out.push(SubPart::Lit(lit));
    }
    out
}

pub(crate) fn sub_args(arg: &Node) -> Option<(&str, Option<&indexmap::IndexMap<String, Node>>)> {
    match &arg.kind {
        NodeKind::Str(s) => Some((s, None)),
        NodeKind::Seq(items) if items.len() == 2 => {
            Some((items[0].as_str()?, Some(items[1].as_map()?)))
        }
        NodeKind::Seq(items) if items.len() == 1 => Some((items[0].as_str()?, None)),
        _ => None,
    }
}

const SUB_ARGS_ERR: &str = "One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string";

fn eval_sub(ctx: &EvalContext<'_>, arg: &Node) -> Result<String, TemplateError> {
    let Some((s, vars)) = sub_args(arg) else {
        return Err(terr(SUB_ARGS_ERR, arg.span));
    };
    let mut out = String::new();
    for part in parse_sub(s) {
        match part {
            SubPart::Lit(l) => out.push_str(&l),
            SubPart::Var(name) => {
                let v = if let Some(n) = vars.and_then(|m| m.get(&name)) {
                    must(ctx, n)?
                } else if let Some((res, attr)) = name
                    .split_once('.')
                    .filter(|_| !ctx.parameters.contains_key(&name))
                {
                    if !ctx.template.resources.contains_key(res) {
                        return Err(TemplateError::format(
                            format!("Unresolved resource dependencies [{res}] in the Resources block of the template"),
                            arg.span,
                        ));
                    }
                    ctx.resolver
                        .get_att(res, attr)
                        .map_err(|e| terr(e, arg.span))?
                } else {
                    eval_ref(ctx, &name, arg.span)?
                        .ok_or_else(|| terr("AWS::NoValue cannot be used in Fn::Sub", arg.span))?
                };
                let s = value_to_string(&v).ok_or_else(|| {
                    terr(
                        format!(
                            "variable {name} in Fn::Sub expression does not resolve to a string"
                        ),
                        arg.span,
                    )
                })?;
                out.push_str(&s);
            }
        }
    }
    Ok(out)
}
