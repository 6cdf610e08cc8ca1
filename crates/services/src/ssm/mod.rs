//! AWS Systems Manager Parameter Store.
//!
//! Regional: rows live in scope `<account>/<region>`, kind `param`, key =
//! the parameter name. One document per parameter holds its version history
//! (at most 100 versions, as AWS keeps), its labels and its tags.
//!
//! SecureString values are encrypted through [`Kms`] under the given key or
//! the AWS-managed `alias/aws/ssm` key, with the encryption context
//! `{"PARAMETER_ARN": <arn>}` as AWS uses; the stored value is the base64
//! ciphertext blob, which is what `GetParameter` without `WithDecryption`
//! returns. [`Service::targets`] asks for `kms:Encrypt` / `kms:Decrypt` on
//! the key (via `ssm.<region>.amazonaws.com`) besides the `ssm:` action, so
//! the caller needs KMS permission too.

#[cfg(test)]
mod tests;

use std::sync::Arc;

use base64::Engine;
use ironsage_store::{ServiceStore, Store, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::kms::{KeyRef, Kms};
use crate::util::{boolean, int, list, s};
use crate::{internal, AwsError, Ctx, Service, Target};

const PARAM: &str = "param";
const MAX_VERSIONS: usize = 100;

fn err(code: &str, msg: impl Into<String>) -> AwsError {
    AwsError::new(code, msg, 400)
}
fn validation(msg: impl Into<String>) -> AwsError {
    err("ValidationException", msg)
}
fn not_found() -> AwsError {
    err("ParameterNotFound", "")
}
fn failure(msg: impl Into<String>) -> AwsError {
    AwsError::new("InternalServerError", msg, 500)
}

/// One version of a parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Version {
    version: i64,
    #[serde(rename = "type")]
    kind: String,
    /// Plain value, or the base64 KMS blob for SecureString.
    value: String,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allowed_pattern: Option<String>,
    tier: String,
    data_type: String,
    #[serde(default)]
    labels: Vec<String>,
    modified: i64,
    user: String,
}

/// A parameter document.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ParamDoc {
    name: String,
    versions: Vec<Version>,
    #[serde(default)]
    tags: Vec<(String, String)>,
}

impl ParamDoc {
    fn latest(&self) -> Option<&Version> {
        self.versions.last()
    }
}

/// The SSM service (Parameter Store).
pub struct Ssm {
    store: ServiceStore,
    kms: Arc<Kms>,
}

impl std::fmt::Debug for Ssm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssm").finish_non_exhaustive()
    }
}

fn scope(ctx: &Ctx<'_>) -> String {
    format!("{}/{}", ctx.caller.account, ctx.region)
}

fn arn(ctx: &Ctx<'_>, name: &str) -> String {
    format!(
        "arn:aws:ssm:{}:{}:parameter/{}",
        ctx.region,
        ctx.caller.account,
        name.strip_prefix('/').unwrap_or(name)
    )
}

fn req<'a>(i: &'a Value, m: &str) -> Result<&'a str, AwsError> {
    s(i, m).ok_or_else(|| validation(format!("{m} is required.")))
}

/// Accepts a name or a parameter ARN.
fn name_of(ctx: &Ctx<'_>, raw: &str) -> String {
    let prefix = format!(
        "arn:aws:ssm:{}:{}:parameter",
        ctx.region, ctx.caller.account
    );
    match raw.strip_prefix(&prefix) {
        Some(rest) => rest.to_string(),
        None => raw.to_string(),
    }
}

/// Splits `name:selector`.
fn split_selector(raw: &str) -> (&str, Option<&str>) {
    match raw.rsplit_once(':') {
        Some((n, sel)) if !n.is_empty() && !raw.starts_with("arn:") => (n, Some(sel)),
        _ => (raw, None),
    }
}

fn check_name(name: &str) -> Result<(), AwsError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let lower = bare.to_lowercase();
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
    if lower.starts_with("aws")
        || lower.starts_with("ssm")
        || !valid_chars
        || name.len() > 2048
        || bare.is_empty()
        || (name.contains('/') && !name.starts_with('/'))
        || name.contains("//")
    {
        return Err(validation(
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_",
        ));
    }
    if name.matches('/').count() > 15 {
        return Err(err(
            "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html",
        ));
    }
    Ok(())
}

fn valid_label(l: &str) -> bool {
    let lower = l.to_lowercase();
    !l.is_empty()
        && l.len() <= 100
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
        && !l.starts_with(|c: char| c.is_ascii_digit())
        && l.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn token_page<T: Clone>(
    items: &[T],
    i: &Value,
    default: i64,
    max: i64,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let n = int(i, "MaxResults").unwrap_or(default);
    if !(1..=max).contains(&n) {
        return Err(validation(format!("1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {max}")));
    }
    let start = match s(i, "NextToken") {
        Some(t) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|x| *x <= items.len())
            .ok_or_else(|| err("InvalidNextToken", "The specified token is not valid."))?,
        None => 0,
    };
    let page: Vec<T> = items.iter().skip(start).take(n as usize).cloned().collect();
    let end = start + page.len();
    let next = (end < items.len())
        .then(|| base64::engine::general_purpose::STANDARD.encode(end.to_string()));
    Ok((page, next))
}

fn with_token(mut out: Map<String, Value>, next: Option<String>) -> Value {
    if let Some(t) = next {
        out.insert("NextToken".into(), Value::String(t));
    }
    Value::Object(out)
}

impl Ssm {
    /// Opens the service; SecureString parameters go through `kms`.
    pub fn open(store: &Arc<Store>, kms: Arc<Kms>) -> Result<Self, AwsError> {
        Ok(Ssm {
            store: store.service("ssm"),
            kms,
        })
    }

    fn load(&self, scope: &str, name: &str) -> Result<Option<ParamDoc>, AwsError> {
        self.store
            .get(PARAM, scope, name)
            .map_err(internal)?
            .map(|r| serde_json::from_value(r.doc).map_err(|e| failure(e.to_string())))
            .transpose()
    }

    fn all(&self, scope: &str) -> Result<Vec<ParamDoc>, AwsError> {
        self.store
            .list(PARAM, scope, None)
            .map_err(internal)?
            .into_iter()
            .map(|r| serde_json::from_value(r.doc).map_err(|e| failure(e.to_string())))
            .collect()
    }

    fn write<T>(&self, f: impl FnOnce(&Tx<'_>) -> Result<T, AwsError>) -> Result<T, AwsError> {
        self.store.write(f).map_err(internal)?
    }

    fn tload(tx: &Tx<'_>, scope: &str, name: &str) -> Result<Option<ParamDoc>, AwsError> {
        tx.get(PARAM, scope, name)
            .map_err(internal)?
            .map(|r| serde_json::from_value(r.doc).map_err(|e| failure(e.to_string())))
            .transpose()
    }

    fn tsave(tx: &Tx<'_>, scope: &str, d: &ParamDoc) -> Result<(), AwsError> {
        let v = serde_json::to_value(d).map_err(|e| failure(e.to_string()))?;
        tx.put(PARAM, scope, &d.name, None, &v).map_err(internal)
    }

    fn via(ctx: &Ctx<'_>) -> String {
        format!("ssm.{}.amazonaws.com", ctx.region)
    }

    fn param_context(ctx: &Ctx<'_>, name: &str) -> Vec<(String, String)> {
        vec![("PARAMETER_ARN".to_string(), arn(ctx, name))]
    }

    /// The key a PutParameter of a SecureString uses.
    fn put_key(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        existing: Option<&Version>,
    ) -> Result<KeyRef, AwsError> {
        let acct = &ctx.caller.account;
        let given = s(i, "KeyId").or(existing.and_then(|v| v.key_id.as_deref()));
        match given {
            Some(k) => self.kms.resolve_key(acct, ctx.region, k).map_err(|e| {
                if e.code == "NotFoundException" {
                    err("InvalidKeyId", format!("Invalid KeyId {k}"))
                } else {
                    e
                }
            }),
            None => self.kms.aws_managed_key(acct, ctx.region, "ssm"),
        }
    }

    fn decrypt_target(&self, ctx: &Ctx<'_>, name: &str, v: &Version) -> Option<Target> {
        if v.kind != "SecureString" {
            return None;
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(&v.value)
            .ok()?;
        let key = self
            .kms
            .key_for_blob(&ctx.caller.account, ctx.region, &blob)
            .ok()?;
        Some(self.kms.key_target(
            &key,
            "kms:Decrypt",
            Some(&Self::via(ctx)),
            &ctx.caller.account,
            &Self::param_context(ctx, name),
        ))
    }

    /// Selects a version by `name:version` / `name:label` (latest without).
    fn select<'a>(d: &'a ParamDoc, sel: Option<&str>) -> Result<&'a Version, AwsError> {
        match sel {
            None => d.latest().ok_or_else(not_found),
            Some(sel) => {
                if let Ok(n) = sel.parse::<i64>() {
                    d.versions.iter().find(|v| v.version == n).ok_or_else(|| {
                        err(
                            "ParameterVersionNotFound",
                            format!("Systems Manager could not find version {n} of {}. Verify the version and try again.", d.name),
                        )
                    })
                } else {
                    d.versions
                        .iter()
                        .find(|v| v.labels.iter().any(|l| l == sel))
                        .ok_or_else(|| {
                            err(
                                "ParameterVersionNotFound",
                                format!("Systems Manager could not find label {sel} of {}. Verify the label and try again.", d.name),
                            )
                        })
                }
            }
        }
    }

    fn value_out(
        &self,
        ctx: &Ctx<'_>,
        name: &str,
        v: &Version,
        decrypt: bool,
    ) -> Result<String, AwsError> {
        if v.kind != "SecureString" || !decrypt {
            return Ok(v.value.clone());
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(&v.value)
            .map_err(|_| failure("corrupt SecureString"))?;
        let (_, pt) = self.kms.decrypt(
            &ctx.caller.account,
            ctx.region,
            &blob,
            &Self::param_context(ctx, name),
        )?;
        String::from_utf8(pt).map_err(|_| failure("SecureString is not UTF-8"))
    }

    fn parameter(
        &self,
        ctx: &Ctx<'_>,
        d: &ParamDoc,
        v: &Version,
        selector: Option<&str>,
        decrypt: bool,
    ) -> Result<Value, AwsError> {
        let mut out = json!({
            "Name": d.name,
            "Type": v.kind,
            "Value": self.value_out(ctx, &d.name, v, decrypt)?,
            "Version": v.version,
            "LastModifiedDate": v.modified,
            "ARN": arn(ctx, &d.name),
            "DataType": v.data_type,
        });
        if let Some(sel) = selector {
            out["Selector"] = json!(format!(":{sel}"));
        }
        Ok(out)
    }

    fn metadata(ctx: &Ctx<'_>, d: &ParamDoc, v: &Version) -> Value {
        let mut m = json!({
            "Name": d.name,
            "ARN": arn(ctx, &d.name),
            "Type": v.kind,
            "LastModifiedDate": v.modified,
            "LastModifiedUser": v.user,
            "Version": v.version,
            "Tier": v.tier,
            "Policies": [],
            "DataType": v.data_type,
        });
        if let Some(k) = &v.key_id {
            m["KeyId"] = json!(k);
        }
        if let Some(x) = &v.description {
            m["Description"] = json!(x);
        }
        if let Some(x) = &v.allowed_pattern {
            m["AllowedPattern"] = json!(x);
        }
        m
    }

    // ------------------------------------------------------------ operations

    fn put_parameter(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let name = name_of(ctx, req(i, "Name")?);
        check_name(&name)?;
        let value = req(i, "Value")?;
        let overwrite = boolean(i, "Overwrite").unwrap_or(false);
        let tags = crate::util::tags(i, "Tags");
        if overwrite && !tags.is_empty() {
            return Err(validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."));
        }
        if s(i, "AllowedPattern").is_some() {
            return Err(validation(
                "AllowedPattern is not supported by ironsage yet: the parameter was not stored.",
            ));
        }
        if s(i, "Policies").is_some_and(|p| !p.trim().is_empty() && p.trim() != "[]") {
            return Err(validation(
                "Parameter policies are not supported by ironsage yet: the parameter was not stored.",
            ));
        }
        let sc = scope(ctx);
        let existing = self.load(&sc, &name)?;
        if existing.is_some() && !overwrite {
            return Err(err(
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
            ));
        }
        let latest = existing.as_ref().and_then(ParamDoc::latest);
        let kind = match (s(i, "Type"), latest) {
            (Some(t), _) => t.to_string(),
            (None, Some(v)) => v.kind.clone(),
            (None, None) => {
                return Err(validation(
                    "A parameter type is required when you create a parameter.",
                ))
            }
        };
        if !["String", "StringList", "SecureString"].contains(&kind.as_str()) {
            return Err(validation(format!("Invalid parameter type {kind}.")));
        }
        if s(i, "KeyId").is_some() && kind != "SecureString" {
            return Err(validation(
                "KeyId is required for SecureString type parameter only.",
            ));
        }
        let tier_in = s(i, "Tier").unwrap_or("Standard");
        let tier = match tier_in {
            "Standard" => "Standard",
            "Advanced" => "Advanced",
            "Intelligent-Tiering" => {
                if value.len() > 4096 || latest.is_some_and(|v| v.tier == "Advanced") {
                    "Advanced"
                } else {
                    "Standard"
                }
            }
            other => return Err(validation(format!("Invalid tier {other}."))),
        };
        let tier = if latest.is_some_and(|v| v.tier == "Advanced") && s(i, "Tier").is_none() {
            "Advanced"
        } else {
            tier
        };
        if tier == "Standard" && value.len() > 4096 {
            return Err(validation("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"));
        }
        if value.len() > 8192 {
            return Err(validation("Parameter value can't exceed 8192 characters."));
        }
        let data_type = s(i, "DataType")
            .map(str::to_string)
            .or(latest.map(|v| v.data_type.clone()))
            .unwrap_or_else(|| "text".into());
        if !["text", "aws:ec2:image", "aws:ssm:integration"].contains(&data_type.as_str()) {
            return Err(validation(format!(
                "The following data type is not supported: {data_type} (Data type names are all lowercase.)"
            )));
        }
        if data_type == "aws:ec2:image" && !value.starts_with("ami-") {
            return Err(validation(format!(
                "Parameter value, {value}, is not in the correct format for the aws:ec2:image data type."
            )));
        }
        let (stored, key_id) = if kind == "SecureString" {
            let key = self.put_key(ctx, i, latest.filter(|v| v.kind == "SecureString"))?;
            let blob =
                self.kms
                    .encrypt(&key, value.as_bytes(), &Self::param_context(ctx, &name))?;
            (
                base64::engine::general_purpose::STANDARD.encode(blob),
                Some(if s(i, "KeyId").is_some() {
                    key.arn.clone()
                } else if let Some(k) = latest.and_then(|v| v.key_id.clone()) {
                    k
                } else {
                    "alias/aws/ssm".to_string()
                }),
            )
        } else {
            (value.to_string(), None)
        };
        let user = ctx.caller.arn();
        let now = ctx.now.unix_timestamp();
        let description = s(i, "Description").map(str::to_string);
        let out_tier = tier.to_string();
        let version = self.write(|tx| {
            let cur = Self::tload(tx, &sc, &name)?;
            if cur.is_some() && !overwrite {
                return Err(err(
                    "ParameterAlreadyExists",
                    "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
                ));
            }
            let mut d = cur.unwrap_or(ParamDoc {
                name: name.clone(),
                versions: Vec::new(),
                tags,
            });
            let prev = d.latest().cloned();
            let next = prev.as_ref().map(|v| v.version).unwrap_or(0) + 1;
            d.versions.push(Version {
                version: next,
                kind,
                value: stored,
                key_id,
                description: description.or(prev.as_ref().and_then(|v| v.description.clone())),
                allowed_pattern: None,
                tier: out_tier.clone(),
                data_type,
                labels: Vec::new(),
                modified: now,
                user,
            });
            if d.versions.len() > MAX_VERSIONS {
                let drop = d.versions.len() - MAX_VERSIONS;
                d.versions.drain(..drop);
            }
            Self::tsave(tx, &sc, &d)?;
            Ok(next)
        })?;
        Ok(json!({"Version": version, "Tier": tier}))
    }

    fn get_parameter(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let raw = name_of(ctx, req(i, "Name")?);
        let (name, sel) = split_selector(&raw);
        let d = self.load(&scope(ctx), name)?.ok_or_else(not_found)?;
        let v = Self::select(&d, sel)?;
        let decrypt = boolean(i, "WithDecryption").unwrap_or(false);
        Ok(json!({"Parameter": self.parameter(ctx, &d, v, sel, decrypt)?}))
    }

    fn get_parameters(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let decrypt = boolean(i, "WithDecryption").unwrap_or(false);
        let sc = scope(ctx);
        let mut found = Vec::new();
        let mut invalid = Vec::new();
        for n in list(i, "Names").iter().filter_map(Value::as_str) {
            let raw = name_of(ctx, n);
            let (name, sel) = split_selector(&raw);
            match self.load(&sc, name)? {
                Some(d) => match Self::select(&d, sel) {
                    Ok(v) => found.push(self.parameter(ctx, &d, v, sel, decrypt)?),
                    Err(_) => invalid.push(json!(n)),
                },
                None => invalid.push(json!(n)),
            }
        }
        Ok(json!({"Parameters": found, "InvalidParameters": invalid}))
    }

    fn by_path_docs(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Vec<ParamDoc>, AwsError> {
        let path = req(i, "Path")?;
        if !path.starts_with('/') {
            return Err(validation("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\"."));
        }
        let prefix = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        let recursive = boolean(i, "Recursive").unwrap_or(false);
        let filters = list(i, "ParameterFilters");
        let mut out = Vec::new();
        for d in self.all(&scope(ctx))? {
            let Some(rest) = d.name.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if rest.is_empty() || (!recursive && rest.contains('/')) {
                continue;
            }
            if filters.iter().all(|f| matches_filter(&d, f)) {
                out.push(d);
            }
        }
        Ok(out)
    }

    fn get_parameters_by_path(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let docs = self.by_path_docs(ctx, i)?;
        let (page, next) = token_page(&docs, i, 10, 10)?;
        let decrypt = boolean(i, "WithDecryption").unwrap_or(false);
        let mut params = Vec::new();
        for d in &page {
            if let Some(v) = d.latest() {
                params.push(self.parameter(ctx, d, v, None, decrypt)?);
            }
        }
        let mut out = Map::new();
        out.insert("Parameters".into(), Value::Array(params));
        Ok(with_token(out, next))
    }

    fn describe_parameters(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let filters = list(i, "Filters");
        let pfilters = list(i, "ParameterFilters");
        if !filters.is_empty() && !pfilters.is_empty() {
            return Err(err(
                "InvalidFilterKey",
                "You can use either Filters or ParameterFilters in a single request.",
            ));
        }
        // `Shared`: parameters other accounts shared through AWS RAM, of
        // which there are none here (an account's own are not shared ones).
        let shared = i.get("Shared").and_then(Value::as_bool) == Some(true);
        let docs: Vec<ParamDoc> = self
            .all(&scope(ctx))?
            .into_iter()
            .filter(|_| !shared)
            .filter(|d| {
                filters.iter().all(|f| {
                    let vals: Vec<&str> =
                        list(f, "Values").iter().filter_map(Value::as_str).collect();
                    let Some(v) = d.latest() else { return false };
                    match s(f, "Key") {
                        Some("Name") => vals.iter().any(|x| d.name.starts_with(x)),
                        Some("Type") => vals.contains(&v.kind.as_str()),
                        Some("KeyId") => v.key_id.as_deref().is_some_and(|k| vals.contains(&k)),
                        _ => false,
                    }
                }) && pfilters.iter().all(|f| matches_filter(d, f))
            })
            .collect();
        let (page, next) = token_page(&docs, i, 50, 50)?;
        let meta: Vec<Value> = page
            .iter()
            .filter_map(|d| d.latest().map(|v| Self::metadata(ctx, d, v)))
            .collect();
        let mut out = Map::new();
        out.insert("Parameters".into(), Value::Array(meta));
        Ok(with_token(out, next))
    }

    fn delete_parameter(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let name = name_of(ctx, req(i, "Name")?);
        let sc = scope(ctx);
        self.write(|tx| {
            if tx.delete(PARAM, &sc, &name).map_err(internal)? {
                Ok(json!({}))
            } else {
                Err(not_found())
            }
        })
    }

    fn delete_parameters(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let names: Vec<String> = list(i, "Names")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let sc = scope(ctx);
        self.write(|tx| {
            let mut deleted = Vec::new();
            let mut invalid = Vec::new();
            for n in &names {
                if tx.delete(PARAM, &sc, &name_of(ctx, n)).map_err(internal)? {
                    deleted.push(n.clone());
                } else {
                    invalid.push(n.clone());
                }
            }
            Ok(json!({"DeletedParameters": deleted, "InvalidParameters": invalid}))
        })
    }

    fn history(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let name = name_of(ctx, req(i, "Name")?);
        let d = self.load(&scope(ctx), &name)?.ok_or_else(not_found)?;
        let (page, next) = token_page(&d.versions, i, 50, 50)?;
        let decrypt = boolean(i, "WithDecryption").unwrap_or(false);
        let mut rows = Vec::new();
        for v in &page {
            let mut h = Self::metadata(ctx, &d, v);
            if let Some(m) = h.as_object_mut() {
                m.remove("ARN");
            }
            h["Value"] = json!(self.value_out(ctx, &d.name, v, decrypt)?);
            h["Labels"] = json!(v.labels);
            rows.push(h);
        }
        let mut out = Map::new();
        out.insert("Parameters".into(), Value::Array(rows));
        Ok(with_token(out, next))
    }

    fn label(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let name = name_of(ctx, req(i, "Name")?);
        let labels: Vec<String> = list(i, "Labels")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let sc = scope(ctx);
        self.write(|tx| {
            let mut d = Self::tload(tx, &sc, &name)?.ok_or_else(not_found)?;
            let target = match int(i, "ParameterVersion") {
                Some(n) => n,
                None => d.latest().map(|v| v.version).ok_or_else(not_found)?,
            };
            if !d.versions.iter().any(|v| v.version == target) {
                return Err(err(
                    "ParameterVersionNotFound",
                    format!("Systems Manager could not find version {target} of {name}. Verify the version and try again."),
                ));
            }
            let (good, bad): (Vec<String>, Vec<String>) =
                labels.iter().cloned().partition(|l| valid_label(l));
            for v in d.versions.iter_mut() {
                if v.version == target {
                    for l in &good {
                        if !v.labels.contains(l) {
                            v.labels.push(l.clone());
                        }
                    }
                    if v.labels.len() > 10 {
                        return Err(err(
                            "ParameterVersionLabelLimitExceeded",
                            "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.",
                        ));
                    }
                } else {
                    // A label names one version: moving it detaches it.
                    v.labels.retain(|l| !good.contains(l));
                }
            }
            Self::tsave(tx, &sc, &d)?;
            Ok(json!({"InvalidLabels": bad, "ParameterVersion": target}))
        })
    }

    fn unlabel(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let name = name_of(ctx, req(i, "Name")?);
        let target = int(i, "ParameterVersion")
            .ok_or_else(|| validation("ParameterVersion is required."))?;
        let labels: Vec<String> = list(i, "Labels")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let sc = scope(ctx);
        self.write(|tx| {
            let mut d = Self::tload(tx, &sc, &name)?.ok_or_else(not_found)?;
            let v = d
                .versions
                .iter_mut()
                .find(|v| v.version == target)
                .ok_or_else(|| {
                    err(
                        "ParameterVersionNotFound",
                        format!("Systems Manager could not find version {target} of {name}. Verify the version and try again."),
                    )
                })?;
            let (removed, invalid): (Vec<String>, Vec<String>) =
                labels.iter().cloned().partition(|l| v.labels.contains(l));
            v.labels.retain(|l| !removed.contains(l));
            Self::tsave(tx, &sc, &d)?;
            Ok(json!({"RemovedLabels": removed, "InvalidLabels": invalid}))
        })
    }

    fn tag_resource(&self, ctx: &Ctx<'_>, op: &str, i: &Value) -> Result<Value, AwsError> {
        let rtype = req(i, "ResourceType")?;
        if rtype != "Parameter" {
            return Err(err(
                "InvalidResourceType",
                format!("ironsage supports tags only on ResourceType Parameter, not {rtype}."),
            ));
        }
        let name = name_of(ctx, req(i, "ResourceId")?);
        let sc = scope(ctx);
        let invalid_id = || err("InvalidResourceId", "");
        match op {
            "ListTagsForResource" => {
                let d = self.load(&sc, &name)?.ok_or_else(invalid_id)?;
                Ok(json!({"TagList": crate::util::tags_value(&d.tags)}))
            }
            "AddTagsToResource" => {
                let tags = crate::util::tags(i, "Tags");
                self.write(|tx| {
                    let mut d = Self::tload(tx, &sc, &name)?.ok_or_else(invalid_id)?;
                    for (k, v) in tags {
                        match d.tags.iter_mut().find(|(ek, _)| *ek == k) {
                            Some(e) => e.1 = v,
                            None => d.tags.push((k, v)),
                        }
                    }
                    if d.tags.len() > 50 {
                        return Err(err(
                            "TooManyTagsError",
                            "The Tags parameter has too many tags: the maximum is 50.",
                        ));
                    }
                    Self::tsave(tx, &sc, &d)?;
                    Ok(json!({}))
                })
            }
            _ => {
                let keys: Vec<String> = list(i, "TagKeys")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                self.write(|tx| {
                    let mut d = Self::tload(tx, &sc, &name)?.ok_or_else(invalid_id)?;
                    d.tags.retain(|(k, _)| !keys.contains(k));
                    Self::tsave(tx, &sc, &d)?;
                    Ok(json!({}))
                })
            }
        }
    }
}

/// A `ParameterStringFilter` against a parameter's latest version.
fn matches_filter(d: &ParamDoc, f: &Value) -> bool {
    let Some(v) = d.latest() else { return false };
    let vals: Vec<&str> = list(f, "Values").iter().filter_map(Value::as_str).collect();
    let opt = s(f, "Option");
    let key = s(f, "Key").unwrap_or_default();
    let eq = |x: &str| match opt {
        Some("BeginsWith") => vals.iter().any(|p| x.starts_with(p)),
        Some("Contains") => vals.iter().any(|p| x.contains(p)),
        _ => vals.contains(&x),
    };
    match key {
        "Name" => {
            // Names match with or without their leading slash.
            let with = if d.name.starts_with('/') {
                d.name.clone()
            } else {
                format!("/{}", d.name)
            };
            let fixed: Vec<String> = vals
                .iter()
                .map(|p| {
                    if p.starts_with('/') {
                        p.to_string()
                    } else {
                        format!("/{p}")
                    }
                })
                .collect();
            match opt {
                Some("BeginsWith") => fixed.iter().any(|p| with.starts_with(p.as_str())),
                Some("Contains") => vals.iter().any(|p| d.name.contains(p)),
                _ => fixed.contains(&with),
            }
        }
        "Type" => eq(&v.kind),
        "KeyId" => v.key_id.as_deref().is_some_and(eq),
        "Tier" => eq(&v.tier),
        "DataType" => eq(&v.data_type),
        "Label" => d
            .versions
            .iter()
            .any(|x| x.labels.iter().any(|l| vals.contains(&l.as_str()))),
        "Path" => vals.iter().any(|p| {
            let prefix = if p.ends_with('/') {
                p.to_string()
            } else {
                format!("{p}/")
            };
            match d.name.strip_prefix(prefix.as_str()) {
                Some(rest) if !rest.is_empty() => opt == Some("Recursive") || !rest.contains('/'),
                _ => false,
            }
        }),
        k => match k.strip_prefix("tag:") {
            Some(tk) => d
                .tags
                .iter()
                .any(|(ek, ev)| ek == tk && (vals.is_empty() || vals.contains(&ev.as_str()))),
            None => false,
        },
    }
}

impl Service for Ssm {
    fn name(&self) -> &'static str {
        "ssm"
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, i: &Value) -> Result<Vec<Target>, AwsError> {
        let sc = scope(ctx);
        let decrypt = boolean(i, "WithDecryption").unwrap_or(false);
        match op {
            "PutParameter" => {
                let name = name_of(ctx, req(i, "Name")?);
                let mut t = Target::new("ssm:PutParameter", arn(ctx, &name));
                let tags = crate::util::tags(i, "Tags");
                if !tags.is_empty() {
                    t = t
                        .with_context("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
                    for (k, v) in &tags {
                        t = t.with_context(format!("aws:RequestTag/{k}"), vec![v.clone()]);
                    }
                }
                let mut out = vec![t];
                let existing = self.load(&sc, &name)?;
                let latest = existing.as_ref().and_then(ParamDoc::latest);
                let kind = s(i, "Type").or(latest.map(|v| v.kind.as_str()));
                if kind == Some("SecureString") {
                    let key = self.put_key(ctx, i, latest.filter(|v| v.kind == "SecureString"))?;
                    out.push(self.kms.key_target(
                        &key,
                        "kms:Encrypt",
                        Some(&Self::via(ctx)),
                        &ctx.caller.account,
                        &Self::param_context(ctx, &name),
                    ));
                }
                Ok(out)
            }
            "GetParameter" | "GetParameterHistory" => {
                let raw = name_of(ctx, req(i, "Name")?);
                let (name, sel) = split_selector(&raw);
                let mut out = vec![Target::new(format!("ssm:{op}"), arn(ctx, name))];
                if decrypt {
                    if let Some(d) = self.load(&sc, name)? {
                        let versions: Vec<&Version> = if op == "GetParameter" {
                            Self::select(&d, sel).into_iter().collect()
                        } else {
                            d.versions.iter().collect()
                        };
                        for v in versions {
                            if let Some(t) = self.decrypt_target(ctx, name, v) {
                                if !out
                                    .iter()
                                    .any(|o| o.resource == t.resource && o.action == t.action)
                                {
                                    out.push(t);
                                }
                            }
                        }
                    }
                }
                Ok(out)
            }
            "GetParameters" => {
                let mut out = Vec::new();
                for n in list(i, "Names").iter().filter_map(Value::as_str) {
                    let raw = name_of(ctx, n);
                    let (name, sel) = split_selector(&raw);
                    out.push(Target::new("ssm:GetParameters", arn(ctx, name)));
                    if decrypt {
                        if let Some(d) = self.load(&sc, name)? {
                            if let Ok(v) = Self::select(&d, sel) {
                                out.extend(self.decrypt_target(ctx, name, v));
                            }
                        }
                    }
                }
                Ok(out)
            }
            "GetParametersByPath" => {
                let path = req(i, "Path")?;
                let mut out = vec![Target::new("ssm:GetParametersByPath", arn(ctx, path))];
                if decrypt {
                    for d in self.by_path_docs(ctx, i)? {
                        if let Some(t) = d
                            .latest()
                            .and_then(|v| self.decrypt_target(ctx, &d.name, v))
                        {
                            out.push(t);
                        }
                    }
                }
                Ok(out)
            }
            "DeleteParameter" | "LabelParameterVersion" | "UnlabelParameterVersion" => {
                let name = name_of(ctx, req(i, "Name")?);
                Ok(vec![Target::new(format!("ssm:{op}"), arn(ctx, &name))])
            }
            "DeleteParameters" => Ok(list(i, "Names")
                .iter()
                .filter_map(Value::as_str)
                .map(|n| Target::new("ssm:DeleteParameters", arn(ctx, &name_of(ctx, n))))
                .collect()),
            "AddTagsToResource" | "RemoveTagsFromResource" | "ListTagsForResource" => {
                let name = name_of(ctx, req(i, "ResourceId")?);
                Ok(vec![Target::new(format!("ssm:{op}"), arn(ctx, &name))])
            }
            _ => Ok(vec![Target::new(format!("ssm:{op}"), "*")]),
        }
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        let i = &input;
        match op {
            "PutParameter" => self.put_parameter(ctx, i),
            "GetParameter" => self.get_parameter(ctx, i),
            "GetParameters" => self.get_parameters(ctx, i),
            "GetParametersByPath" => self.get_parameters_by_path(ctx, i),
            "DescribeParameters" => self.describe_parameters(ctx, i),
            "DeleteParameter" => self.delete_parameter(ctx, i),
            "DeleteParameters" => self.delete_parameters(ctx, i),
            "GetParameterHistory" => self.history(ctx, i),
            "LabelParameterVersion" => self.label(ctx, i),
            "UnlabelParameterVersion" => self.unlabel(ctx, i),
            "AddTagsToResource" | "RemoveTagsFromResource" | "ListTagsForResource" => {
                self.tag_resource(ctx, op, i)
            }
            _ => Err(AwsError::new(
                "NotImplemented",
                format!("The operation {op} is not implemented by ironsage yet."),
                501,
            )),
        }
    }
}
