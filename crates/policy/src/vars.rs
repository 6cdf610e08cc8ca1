//! Policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`,
//! `${*}`, `${key, 'default'}`), allowed in `Resource`/`NotResource` and in
//! condition values (never keys) of `"Version": "2012-10-17"` policies.
//! See AWS "IAM policy elements: Variables and tags".

use crate::context::Context;
use crate::eval::Principal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Lit(String),
    Var {
        key: String,
        key_lc: String,
        default: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) parts: Vec<Part>,
}

/// Parse `s` into a template; `None` when it contains no variable.
pub(crate) fn parse_template(s: &str) -> Option<Template> {
    if !s.contains("${") {
        return None;
    }
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    let mut any_var = false;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        lit.push_str(&rest[..start]);
        let inner = after[..end].trim();
        match inner {
            "*" | "?" | "$" => lit.push_str(inner),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => {
                        let d = d.trim();
                        let d = d
                            .strip_prefix('\'')
                            .and_then(|x| x.strip_suffix('\''))
                            .unwrap_or(d);
                        (k.trim(), Some(d.to_string()))
                    }
                    None => (inner, None),
                };
                if key.is_empty() {
                    lit.push_str(&rest[start..start + 2 + end + 1]);
                } else {
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    any_var = true;
                    parts.push(Part::Var {
                        key: key.to_string(),
                        key_lc: key.to_ascii_lowercase(),
                        default,
                    });
                }
            }
        }
        rest = &after[end + 1..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    if !any_var && parts.len() <= 1 {
        // Only `${*}`-style literals: still a template so the literal is
        // substituted.
        return Some(Template { parts });
    }
    Some(Template { parts })
}

/// Resolve one variable key against the request.
pub(crate) fn lookup(key_lc: &str, principal: &Principal, ctx: &Context) -> Option<String> {
    if let Some(e) = ctx.get_lc(key_lc) {
        if e.values.len() == 1 {
            return e.values.first().map(|v| v.as_text().into_owned());
        }
        return None;
    }
    match key_lc {
        "aws:username" => principal.username.clone(),
        "aws:userid" => Some(principal.userid.clone()),
        "aws:principalarn" => Some(principal.arn.clone()),
        "aws:principalaccount" => Some(principal.account.clone()),
        _ => None,
    }
}

impl Template {
    /// Substitute every variable; `None` when a variable's key is absent
    /// and has no default (the value then matches nothing).
    pub(crate) fn resolve(&self, principal: &Principal, ctx: &Context) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Var {
                    key_lc, default, ..
                } => match lookup(key_lc, principal, ctx) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(default.as_deref()?),
                },
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let t = parse_template("home/${aws:username}/${*}x${aws:x, 'dflt'}");
        assert!(t.is_some());
        assert!(parse_template("plain").is_none());
    }
}
