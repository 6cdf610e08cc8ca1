//! AWS Security Token Service: who am I, and temporary credentials.
//!
//! `AssumeRole` is authorized by the gateway like any other operation: its
//! [`Service::targets`] hands over `sts:AssumeRole` on the role's ARN with the
//! role's trust policy as the resource-based policy, so the trust policy's
//! Principal and Condition decide (with `sts:ExternalId`,
//! `sts:RoleSessionName`, `aws:RequestTag/*` and `aws:TagKeys` in the context),
//! and for principals the trust policy names only by account, the caller's own
//! identity policies must allow it too — AWS's documented logic.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::credentials::{AccessKey, Credentials, KeyStatus};
use crate::iam::Iam;
use crate::util::{self, int, list, s};
use crate::{ids, AwsError, Caller, Ctx, PrincipalKind, Service, SessionInfo, Target};

/// The STS service.
#[derive(Debug)]
pub struct Sts {
    creds: Arc<Credentials>,
    iam: Arc<Iam>,
}

fn validation(msg: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", msg, 400)
}

fn access_denied(msg: impl Into<String>) -> AwsError {
    AwsError::new("AccessDenied", msg, 403)
}

/// Splits `arn:aws:iam::<account>:role/<path/><name>` into (account, path, name).
pub fn parse_role_arn(arn: &str) -> Option<(String, String, String)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, res) = rest.split_once(':')?;
    let res = res.strip_prefix("role")?;
    if !res.starts_with('/') || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let idx = res.rfind('/')?;
    let (path, name) = (res.get(..=idx)?, res.get(idx + 1..)?);
    if name.is_empty() {
        return None;
    }
    Some((account.to_string(), path.to_string(), name.to_string()))
}

impl Sts {
    /// Creates the service.
    pub fn new(creds: Arc<Credentials>, iam: Arc<Iam>) -> Self {
        Sts { creds, iam }
    }

    fn role_for(&self, input: &Value) -> Result<crate::iam::RoleRecord, AwsError> {
        let arn = util::req(input, "RoleArn")?;
        let (account, _path, name) =
            parse_role_arn(arn).ok_or_else(|| validation(format!("{arn} is invalid")))?;
        // A role that does not exist is reported as a denial, as AWS does,
        // so callers cannot probe for role names.
        self.iam.role(&account, &name)?.ok_or_else(|| {
            access_denied(format!(
                "Not authorized to perform sts:AssumeRole on resource: {arn}"
            ))
        })
    }

    fn issue(
        &self,
        caller: Caller,
        duration: i64,
        ctx: &Ctx<'_>,
    ) -> Result<(AccessKey, Value), AwsError> {
        let akid = ids::access_key_id("ASIA");
        let expiration = ctx.now.unix_timestamp() + duration;
        let mut caller = caller;
        caller.access_key_id = akid.clone();
        if let Some(sess) = caller.session.as_mut() {
            sess.expiration = expiration;
        }
        let key = AccessKey {
            access_key_id: akid.clone(),
            secret_access_key: ids::secret_access_key(),
            session_token: Some(ids::session_token()),
            caller,
            status: KeyStatus::Active,
            created: util::iso(ctx.now),
            last_used: None,
        };
        self.creds.put(key.clone())?;
        let exp = time::OffsetDateTime::from_unix_timestamp(expiration).unwrap_or(ctx.now);
        let creds = json!({
            "AccessKeyId": key.access_key_id,
            "SecretAccessKey": key.secret_access_key,
            "SessionToken": key.session_token,
            "Expiration": util::iso(exp),
        });
        Ok((key, creds))
    }

    fn assume_role(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        let role = self.role_for(input)?;
        let session_name = util::req(input, "RoleSessionName")?;
        let chained = matches!(ctx.caller.kind, PrincipalKind::AssumedRole { .. });
        let duration = int(input, "DurationSeconds").unwrap_or(3600);
        if chained && duration > 3600 {
            return Err(validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        if duration > role.max_session_duration {
            return Err(validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let policy = s(input, "Policy").map(str::to_string);
        if let Some(p) = &policy {
            ironsage_policy::Policy::parse(p, ironsage_policy::PolicyKind::Session)
                .map_err(|e| AwsError::new("MalformedPolicyDocument", e.message, 400))?;
        }
        let policy_arns: Vec<String> = list(input, "PolicyArns")
            .iter()
            .filter_map(|p| s(p, "arn").map(str::to_string))
            .collect();
        for arn in &policy_arns {
            if self.iam.managed_policy(arn)?.is_none() {
                return Err(AwsError::new(
                    "InvalidParameterValue",
                    format!("Policy {arn} does not exist or is not attachable."),
                    400,
                ));
            }
        }
        let mut tags = util::tags(input, "Tags");
        let transitive: Vec<String> = list(input, "TransitiveTagKeys")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        // Transitive session tags of a chained session carry over.
        if let Some(prev) = &ctx.caller.session {
            for k in &prev.transitive_tag_keys {
                if let Some((_, v)) = prev.tags.iter().find(|(tk, _)| tk.eq_ignore_ascii_case(k)) {
                    if !tags.iter().any(|(tk, _)| tk.eq_ignore_ascii_case(k)) {
                        tags.push((k.clone(), v.clone()));
                    }
                }
            }
        }
        let caller = Caller {
            account: role_account(&role.arn),
            kind: PrincipalKind::AssumedRole {
                role_name: role.name.clone(),
                role_path: role.path.clone(),
                role_id: role.role_id.clone(),
                session_name: session_name.to_string(),
            },
            access_key_id: String::new(),
            session: Some(SessionInfo {
                expiration: 0,
                policy: policy.clone(),
                policy_arns,
                tags,
                transitive_tag_keys: transitive,
                source_identity: s(input, "SourceIdentity").map(str::to_string),
            }),
        };
        let arn = caller.arn();
        let userid = caller.userid();
        let (_key, creds) = self.issue(caller, duration, ctx)?;
        self.iam.note_role_used(
            &role_account(&role.arn),
            &role.name,
            &util::iso(ctx.now),
            ctx.region,
        )?;
        let mut out = json!({
            "Credentials": creds,
            "AssumedRoleUser": {"AssumedRoleId": userid, "Arn": arn},
        });
        if let Some(p) = &policy {
            // Share of the packed-policy limit used, as a percentage.
            out["PackedPolicySize"] = json!((p.len() * 100 / 2048).min(100));
        }
        if let Some(si) = s(input, "SourceIdentity") {
            out["SourceIdentity"] = json!(si);
        }
        Ok(out)
    }

    fn get_session_token(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        if ctx.caller.session.is_some() {
            return Err(access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let max = if ctx.caller.is_root() { 3600 } else { 129_600 };
        let duration = int(input, "DurationSeconds").unwrap_or(if ctx.caller.is_root() {
            3600
        } else {
            43_200
        });
        if !(900..=max).contains(&duration) {
            return Err(validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {max}"
            )));
        }
        let mut caller = ctx.caller.clone();
        caller.session = Some(SessionInfo::default());
        let (_key, creds) = self.issue(caller, duration, ctx)?;
        Ok(json!({ "Credentials": creds }))
    }
}

fn role_account(arn: &str) -> String {
    parse_role_arn(arn).map(|(a, _, _)| a).unwrap_or_default()
}

impl Service for Sts {
    fn name(&self) -> &'static str {
        "sts"
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError> {
        match op {
            // Needs no permission: AWS answers it even under an explicit deny.
            "GetCallerIdentity" => Ok(Vec::new()),
            "GetSessionToken" => Ok(Vec::new()),
            "GetAccessKeyInfo" => Ok(vec![Target::new("sts:GetAccessKeyInfo", "*")]),
            "AssumeRole" => {
                if ctx.caller.is_root() {
                    return Err(access_denied("Roles may not be assumed by root accounts."));
                }
                let role = self.role_for(input)?;
                let trust = ironsage_policy::Policy::parse(
                    &role.assume_role_policy,
                    ironsage_policy::PolicyKind::Trust,
                )
                .map_err(|e| {
                    AwsError::new(
                        "InternalFailure",
                        format!("stored trust policy is invalid: {}", e.message),
                        500,
                    )
                })?;
                let mut t = Target::new("sts:AssumeRole", role.arn.clone());
                t.resource_account = Some(role_account(&role.arn));
                t.resource_policy = Some((format!("{} (trust policy)", role.arn), Arc::new(trust)));
                if let Some(x) = s(input, "ExternalId") {
                    t = t.with_context("sts:ExternalId", vec![x.to_string()]);
                }
                if let Some(x) = s(input, "RoleSessionName") {
                    t = t.with_context("sts:RoleSessionName", vec![x.to_string()]);
                }
                if let Some(x) = s(input, "SourceIdentity") {
                    t = t.with_context("sts:SourceIdentity", vec![x.to_string()]);
                }
                let tags = util::tags(input, "Tags");
                let mut out = vec![];
                if !tags.is_empty() {
                    let keys: Vec<String> = tags.iter().map(|(k, _)| k.clone()).collect();
                    t = t.with_context("aws:TagKeys", keys.clone());
                    let mut tag_t = Target::new("sts:TagSession", role.arn.clone());
                    tag_t.resource_account = t.resource_account.clone();
                    tag_t.resource_policy = t.resource_policy.clone();
                    tag_t = tag_t.with_context("aws:TagKeys", keys);
                    for (k, v) in &tags {
                        t = t.with_context(format!("aws:RequestTag/{k}"), vec![v.clone()]);
                        tag_t = tag_t.with_context(format!("aws:RequestTag/{k}"), vec![v.clone()]);
                    }
                    out.push(tag_t);
                }
                out.insert(0, t);
                Ok(out)
            }
            _ => Ok(vec![Target::new(format!("sts:{op}"), "*")]),
        }
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        match op {
            "GetCallerIdentity" => Ok(json!({
                "UserId": ctx.caller.userid(),
                "Account": ctx.caller.account,
                "Arn": ctx.caller.arn(),
            })),
            "AssumeRole" => self.assume_role(ctx, &input),
            "GetSessionToken" => self.get_session_token(ctx, &input),
            "GetAccessKeyInfo" => {
                let akid = util::req(&input, "AccessKeyId")?;
                match self.creds.lookup(akid) {
                    Some(k) => Ok(json!({"Account": k.caller.account})),
                    None => Err(AwsError::new(
                        "InvalidClientTokenId",
                        "The security token included in the request is invalid.",
                        403,
                    )),
                }
            }
            _ => Err(AwsError::not_implemented("STS", op)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/service-role/R").unwrap(),
            ("111122223333".into(), "/service-role/".into(), "R".into())
        );
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/R").unwrap(),
            ("111122223333".into(), "/".into(), "R".into())
        );
        assert!(parse_role_arn("arn:aws:iam::111122223333:user/R").is_none());
        assert!(parse_role_arn("arn:aws:iam::1111:role/R").is_none());
        assert!(parse_role_arn("arn:aws:iam::111122223333:role/").is_none());
    }
}
