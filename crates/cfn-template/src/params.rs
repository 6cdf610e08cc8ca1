//! Parameter types, constraints and resolution (values supplied, defaults,
//! UsePreviousValue, AWS-specific types and SSM parameter types).

use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;

use crate::error::TemplateError;
use crate::node::float_to_string;
use crate::template::{Parameter, Template};

/// AWS-specific parameter types CloudFormation knows (validated by the engine).
pub const AWS_SPECIFIC_TYPES: &[&str] = &[
    "AWS::EC2::AvailabilityZone::Name",
    "AWS::EC2::Image::Id",
    "AWS::EC2::Instance::Id",
    "AWS::EC2::KeyPair::KeyName",
    "AWS::EC2::SecurityGroup::GroupName",
    "AWS::EC2::SecurityGroup::Id",
    "AWS::EC2::Subnet::Id",
    "AWS::EC2::Volume::Id",
    "AWS::EC2::VPC::Id",
    "AWS::Route53::HostedZone::Id",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    String,
    Number,
    /// `List<Number>`
    NumberList,
    CommaDelimitedList,
    /// e.g. `AWS::EC2::VPC::Id`
    Aws(String),
    /// e.g. `List<AWS::EC2::Subnet::Id>` (holds the element type)
    AwsList(String),
    /// `AWS::SSM::Parameter::Name`
    SsmName,
    /// `AWS::SSM::Parameter::Value<T>` (holds T, e.g. `String`, `List<String>`)
    SsmValue(String),
}

impl ParamType {
    pub fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "String" => ParamType::String,
            "Number" => ParamType::Number,
            "List<Number>" => ParamType::NumberList,
            "CommaDelimitedList" => ParamType::CommaDelimitedList,
            "AWS::SSM::Parameter::Name" => ParamType::SsmName,
            _ => {
                if let Some(inner) = s
                    .strip_prefix("AWS::SSM::Parameter::Value<")
                    .and_then(|r| r.strip_suffix('>'))
                {
                    let ok = matches!(inner, "String" | "List<String>" | "CommaDelimitedList")
                        || AWS_SPECIFIC_TYPES.contains(&inner)
                        || inner
                            .strip_prefix("List<")
                            .and_then(|r| r.strip_suffix('>'))
                            .is_some_and(|e| AWS_SPECIFIC_TYPES.contains(&e));
                    if !ok {
                        return None;
                    }
                    return Some(ParamType::SsmValue(inner.to_string()));
                }
                if let Some(inner) = s.strip_prefix("List<").and_then(|r| r.strip_suffix('>')) {
                    if AWS_SPECIFIC_TYPES.contains(&inner) {
                        return Some(ParamType::AwsList(inner.to_string()));
                    }
                    return None;
                }
                if AWS_SPECIFIC_TYPES.contains(&s) {
                    return Some(ParamType::Aws(s.to_string()));
                }
                return None;
            }
        })
    }

    /// Does `Ref` return a list for this type?
    pub fn is_list(&self) -> bool {
        match self {
            ParamType::NumberList | ParamType::CommaDelimitedList | ParamType::AwsList(_) => true,
            ParamType::SsmValue(inner) => {
                inner.starts_with("List<") || inner == "CommaDelimitedList"
            }
            _ => false,
        }
    }
}

/// Implemented by the engine: checks AWS-specific values against real
/// resources and reads SSM parameters in the stack's account/region.
pub trait ParameterResolver {
    /// `ty` is the element type (e.g. `AWS::EC2::VPC::Id`), `value` one element.
    fn validate_aws_type(&self, ty: &str, value: &str) -> Result<(), String>;
    /// The value of SSM parameter `name` (a StringList comes back comma-joined).
    fn ssm_value(&self, name: &str) -> Result<String, String>;
    /// `Fn::ValueOf` support in Rules (e.g. a VPC's `Tags.Env`). Default: unsupported.
    fn value_of(&self, ty: &str, value: &str, attribute: &str) -> Result<Value, String> {
        let _ = (ty, value);
        Err(format!(
            "Fn::ValueOf attribute {attribute} is not supported"
        ))
    }
}

/// A resolver for contexts without AWS resources: accepts every AWS-specific
/// value and has no SSM parameters.
pub struct NoAwsResolver;
impl ParameterResolver for NoAwsResolver {
    fn validate_aws_type(&self, _ty: &str, _value: &str) -> Result<(), String> {
        Ok(())
    }
    fn ssm_value(&self, name: &str) -> Result<String, String> {
        Err(format!(
            "Unable to fetch parameters [{name}] from parameter store for this account."
        ))
    }
}

/// What the caller supplied for one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterInput {
    Value(String),
    /// `UsePreviousValue: true`; the engine passes the previous value.
    UsePreviousValue {
        previous: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedParameter {
    pub name: String,
    /// The value as supplied (or the default).
    pub raw: String,
    /// What `Ref` returns: a string, or a list of strings for list types.
    pub value: Value,
    /// For `AWS::SSM::Parameter::Value<…>`: the value read from SSM (DescribeStacks' ResolvedValue).
    pub resolved_value: Option<String>,
    pub no_echo: bool,
    pub used_default: bool,
}

impl ResolvedParameter {
    /// The value shown by DescribeStacks: `****` for NoEcho parameters.
    pub fn display_value(&self) -> &str {
        if self.no_echo {
            "****"
        } else {
            &self.raw
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolvedParameters {
    pub params: IndexMap<String, ResolvedParameter>,
}

impl ResolvedParameters {
    /// name → what `Ref` returns.
    pub fn values(&self) -> IndexMap<String, Value> {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }
    pub fn get(&self, name: &str) -> Option<&ResolvedParameter> {
        self.params.get(name)
    }
}

fn split_list(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|x| x.trim().to_string()).collect()
}

/// Compile an AllowedPattern as a full match.
pub fn compile_pattern(p: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{p})$")).map_err(|e| e.to_string())
}

fn constraint_err(p: &Parameter, default_msg: String) -> TemplateError {
    match &p.constraint_description {
        Some(d) => TemplateError::parameter(
            &p.name,
            format!("Parameter '{}' failed to satisfy constraint: {d}", p.name),
        ),
        None => TemplateError::parameter(&p.name, default_msg),
    }
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Check one scalar element against the parameter's constraints.
fn check_element(p: &Parameter, v: &str, numeric: bool) -> Result<(), TemplateError> {
    let name = &p.name;
    if numeric {
        let Some(n) = parse_number(v) else {
            return Err(TemplateError::parameter(
                name,
                format!("Parameter '{name}' must be a number"),
            ));
        };
        if let Some(min) = p.min_value {
            if n < min {
                return Err(constraint_err(
                    p,
                    format!(
                        "Parameter '{name}' must be a number not less than {}",
                        float_to_string(min)
                    ),
                ));
            }
        }
        if let Some(max) = p.max_value {
            if n > max {
                return Err(constraint_err(
                    p,
                    format!(
                        "Parameter '{name}' must be a number not greater than {}",
                        float_to_string(max)
                    ),
                ));
            }
        }
    } else {
        let len = v.chars().count() as u64;
        if let Some(min) = p.min_length {
            if len < min {
                return Err(constraint_err(
                    p,
                    format!("Parameter '{name}' must contain at least {min} characters"),
                ));
            }
        }
        if let Some(max) = p.max_length {
            if len > max {
                return Err(constraint_err(
                    p,
                    format!("Parameter '{name}' must contain at most {max} characters"),
                ));
            }
        }
        if let Some(pat) = &p.allowed_pattern {
            let re = compile_pattern(pat).map_err(|e| {
                TemplateError::format(
                    format!(
                        "AllowedPattern of parameter {name} is not a valid regular expression: {e}"
                    ),
                    p.span,
                )
            })?;
            if !re.is_match(v) {
                return Err(constraint_err(
                    p,
                    format!("Parameter '{name}' must match pattern {pat}"),
                ));
            }
        }
    }
    if !p.allowed_values.is_empty() {
        let ok = p.allowed_values.iter().any(|a| {
            a == v || (numeric && parse_number(a).is_some() && parse_number(a) == parse_number(v))
        });
        if !ok {
            return Err(constraint_err(
                p,
                format!("Parameter '{name}' must be one of AllowedValues"),
            ));
        }
    }
    Ok(())
}

/// Validate `raw` for parameter `p` and compute what `Ref` returns.
pub fn resolve_parameter(
    p: &Parameter,
    raw: &str,
    resolver: &dyn ParameterResolver,
) -> Result<ResolvedParameter, TemplateError> {
    let name = &p.name;
    let aws_err = |e: String| TemplateError::parameter(name, e);
    let mut resolved_value = None;
    let value = match &p.param_type {
        ParamType::String => {
            check_element(p, raw, false)?;
            Value::String(raw.to_string())
        }
        ParamType::Number => {
            check_element(p, raw, true)?;
            Value::String(raw.to_string())
        }
        ParamType::NumberList => {
            let items = split_list(raw);
            for i in &items {
                check_element(p, i, true)?;
            }
            Value::Array(items.into_iter().map(Value::String).collect())
        }
        ParamType::CommaDelimitedList => {
            let items = split_list(raw);
            for i in &items {
                check_element(p, i, false)?;
            }
            Value::Array(items.into_iter().map(Value::String).collect())
        }
        ParamType::Aws(ty) => {
            check_element(p, raw, false)?;
            resolver.validate_aws_type(ty, raw).map_err(aws_err)?;
            Value::String(raw.to_string())
        }
        ParamType::AwsList(ty) => {
            let items = split_list(raw);
            for i in &items {
                check_element(p, i, false)?;
                resolver.validate_aws_type(ty, i).map_err(aws_err)?;
            }
            Value::Array(items.into_iter().map(Value::String).collect())
        }
        ParamType::SsmName => {
            check_element(p, raw, false)?;
            resolver.ssm_value(raw).map_err(aws_err)?;
            Value::String(raw.to_string())
        }
        ParamType::SsmValue(inner) => {
            check_element(p, raw, false)?;
            let v = resolver.ssm_value(raw).map_err(aws_err)?;
            resolved_value = Some(v.clone());
            if p.param_type.is_list() {
                let items = split_list(&v);
                if let Some(el) = inner
                    .strip_prefix("List<")
                    .and_then(|r| r.strip_suffix('>'))
                {
                    if el != "String" {
                        for i in &items {
                            resolver.validate_aws_type(el, i).map_err(aws_err)?;
                        }
                    }
                }
                Value::Array(items.into_iter().map(Value::String).collect())
            } else {
                if inner != "String" {
                    resolver.validate_aws_type(inner, &v).map_err(aws_err)?;
                }
                Value::String(v)
            }
        }
    };
    Ok(ResolvedParameter {
        name: name.clone(),
        raw: raw.to_string(),
        value,
        resolved_value,
        no_echo: p.no_echo,
        used_default: false,
    })
}

/// Resolve all parameters of `t` from the caller's inputs and the defaults.
///
/// Errors, in CloudFormation's order: unknown names
/// (`Parameters: [X] do not exist in the template`), missing values
/// (`Parameters: [X] must have values`), then each parameter's constraints.
pub fn resolve_parameters(
    t: &Template,
    inputs: &IndexMap<String, ParameterInput>,
    resolver: &dyn ParameterResolver,
) -> Result<ResolvedParameters, TemplateError> {
    let unknown: Vec<&str> = inputs
        .keys()
        .filter(|k| !t.parameters.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(TemplateError::parameter(
            unknown[0],
            format!(
                "Parameters: [{}] do not exist in the template",
                unknown.join(", ")
            ),
        ));
    }
    let missing: Vec<&str> = t
        .parameters
        .values()
        .filter(|p| !inputs.contains_key(&p.name) && p.default.is_none())
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(TemplateError::parameter(
            missing[0],
            format!("Parameters: [{}] must have values", missing.join(", ")),
        ));
    }
    let mut out = ResolvedParameters::default();
    for p in t.parameters.values() {
        let (raw, used_default) = match inputs.get(&p.name) {
            Some(ParameterInput::Value(v)) => (v.clone(), false),
            Some(ParameterInput::UsePreviousValue { previous }) => (previous.clone(), false),
            None => (p.default.clone().unwrap_or_default(), true),
        };
        let mut r = resolve_parameter(p, &raw, resolver)?;
        r.used_default = used_default;
        out.params.insert(p.name.clone(), r);
    }
    Ok(out)
}
