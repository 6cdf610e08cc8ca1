//! Template Rules: RuleCondition + Assertions, with the rule-specific functions.

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{ErrorKind, TemplateError};
use crate::eval::{eval, value_to_string, EvalContext, NoResources, Pseudo};
use crate::node::Node;
use crate::params::{ParameterResolver, ResolvedParameters};
use crate::template::Template;

struct RuleCtx<'a> {
    t: &'a Template,
    params: &'a ResolvedParameters,
    values: IndexMap<String, Value>,
    pseudo: &'a Pseudo,
    resolver: &'a dyn ParameterResolver,
}

fn terr(msg: impl AsRef<str>, n: &Node) -> TemplateError {
    TemplateError::template(msg, n.span)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().filter_map(value_to_string).collect(),
        other => value_to_string(other).into_iter().collect(),
    }
}

impl RuleCtx<'_> {
    fn value(&self, n: &Node) -> Result<Value, TemplateError> {
        if let Some((f, arg)) = n.as_intrinsic() {
            match f {
                "Fn::Equals"
                | "Fn::And"
                | "Fn::Or"
                | "Fn::Not"
                | "Fn::Contains"
                | "Fn::EachMemberEquals"
                | "Fn::EachMemberIn" => return self.boolean(n).map(Value::Bool),
                "Fn::RefAll" => {
                    let ty = self.value(arg)?;
                    let ty = value_to_string(&ty).unwrap_or_default();
                    let mut out = Vec::new();
                    for p in self.t.parameters.values().filter(|p| p.type_name == ty) {
                        if let Some(rp) = self.params.get(&p.name) {
                            out.push(rp.value.clone());
                        }
                    }
                    return Ok(Value::Array(out));
                }
                "Fn::ValueOf" => {
                    let Some([p, attr]) = arg.as_seq() else {
                        return Err(terr(
                            "Fn::ValueOf requires a parameter name and an attribute",
                            arg,
                        ));
                    };
                    let pname = value_to_string(&self.value(p)?).unwrap_or_default();
                    let attr = value_to_string(&self.value(attr)?).unwrap_or_default();
                    let (Some(decl), Some(rp)) =
                        (self.t.parameters.get(&pname), self.params.get(&pname))
                    else {
                        return Err(terr(
                            format!("Fn::ValueOf references unknown parameter {pname}"),
                            p,
                        ));
                    };
                    let mut out = Vec::new();
                    for v in strings(&rp.value) {
                        out.push(
                            self.resolver
                                .value_of(elem_type(&decl.type_name), &v, &attr)
                                .map_err(|e| terr(e, arg))?,
                        );
                    }
                    return Ok(if rp.value.is_array() {
                        Value::Array(out)
                    } else {
                        out.pop().unwrap_or(Value::Null)
                    });
                }
                "Fn::ValueOfAll" => {
                    let Some([ty, attr]) = arg.as_seq() else {
                        return Err(terr(
                            "Fn::ValueOfAll requires a parameter type and an attribute",
                            arg,
                        ));
                    };
                    let ty = value_to_string(&self.value(ty)?).unwrap_or_default();
                    let attr = value_to_string(&self.value(attr)?).unwrap_or_default();
                    let mut out = Vec::new();
                    for p in self.t.parameters.values().filter(|p| p.type_name == ty) {
                        if let Some(rp) = self.params.get(&p.name) {
                            for v in strings(&rp.value) {
                                out.push(
                                    self.resolver
                                        .value_of(elem_type(&ty), &v, &attr)
                                        .map_err(|e| terr(e, arg))?,
                                );
                            }
                        }
                    }
                    return Ok(Value::Array(out));
                }
                _ => {}
            }
        }
        let conds = IndexMap::new();
        let ctx = EvalContext {
            template: self.t,
            parameters: &self.values,
            pseudo: self.pseudo,
            conditions: &conds,
            resolver: &NoResources,
        };
        Ok(eval(&ctx, n)?.unwrap_or(Value::Null))
    }

    fn boolean(&self, n: &Node) -> Result<bool, TemplateError> {
        let Some((f, arg)) = n.as_intrinsic() else {
            return match self.value(n)? {
                Value::Bool(b) => Ok(b),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
                _ => Err(terr("rule assertions must be boolean functions", n)),
            };
        };
        let pair = || -> Result<(Value, Value), TemplateError> {
            match arg.as_seq() {
                Some([a, b]) => Ok((self.value(a)?, self.value(b)?)),
                _ => Err(terr(format!("{f} requires a list of two parameters"), arg)),
            }
        };
        match f {
            "Fn::Equals" => {
                let (a, b) = pair()?;
                Ok(match (value_to_string(&a), value_to_string(&b)) {
                    (Some(x), Some(y)) => x == y,
                    _ => a == b,
                })
            }
            "Fn::Not" => match arg.as_seq() {
                Some([x]) => Ok(!self.boolean(x)?),
                _ => Err(terr(
                    "Fn::Not requires a list argument with one function token",
                    arg,
                )),
            },
            "Fn::And" | "Fn::Or" => {
                let items = arg.as_seq().unwrap_or(&[]);
                let mut acc = f == "Fn::And";
                for i in items {
                    let b = self.boolean(i)?;
                    acc = if f == "Fn::And" { acc && b } else { acc || b };
                }
                Ok(acc)
            }
            "Fn::Contains" => {
                let (list, v) = pair()?;
                let v = value_to_string(&v).unwrap_or_default();
                Ok(strings(&list).contains(&v))
            }
            "Fn::EachMemberEquals" => {
                let (list, v) = pair()?;
                let v = value_to_string(&v).unwrap_or_default();
                Ok(strings(&list).iter().all(|x| *x == v))
            }
            "Fn::EachMemberIn" => {
                let (list, allowed) = pair()?;
                let allowed = strings(&allowed);
                Ok(strings(&list).iter().all(|x| allowed.contains(x)))
            }
            _ => match self.value(n)? {
                Value::Bool(b) => Ok(b),
                _ => Err(terr(format!("{f} does not return a boolean"), n)),
            },
        }
    }
}

fn elem_type(ty: &str) -> &str {
    ty.strip_prefix("List<")
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(ty)
}

/// Evaluate all rules in order. A failing assertion gives an error whose
/// message is its AssertDescription (or `Assertion failed for rule X`),
/// with `ErrorKind::Rule { rule }` naming the rule.
pub fn evaluate_rules(
    t: &Template,
    params: &ResolvedParameters,
    pseudo: &Pseudo,
    resolver: &dyn ParameterResolver,
) -> Result<(), TemplateError> {
    let ctx = RuleCtx {
        t,
        params,
        values: params.values(),
        pseudo,
        resolver,
    };
    for rule in t.rules.values() {
        if let Some(c) = &rule.condition {
            if !ctx.boolean(c)? {
                continue;
            }
        }
        for a in &rule.assertions {
            if !ctx.boolean(&a.assert)? {
                let msg = a
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("Assertion failed for rule {}", rule.name));
                return Err(TemplateError::new(
                    ErrorKind::Rule {
                        rule: rule.name.clone(),
                    },
                    msg,
                    a.span,
                ));
            }
        }
    }
    Ok(())
}
