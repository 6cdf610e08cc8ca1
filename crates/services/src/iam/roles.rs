//! Roles: create, read, list, update, tag, permissions boundaries, delete,
//! and service-linked roles.

use ironsage_policy::PolicyKind;
use serde_json::{json, Map, Value};

use super::model::{AttachDoc, InlineDoc, ProfileDoc, RoleDoc};
use super::{
    conflict, doc, exists, input_tags, invalid, key, merge_tags, no_such, page_out, path_in,
    remove_tags, tags_page, tdel, tget, tlist, tput, trole, unmodifiable, validation, Iam, ATTACH,
    INLINE, PROFILE, ROLE,
};
use crate::util::{int, paginate, req, s};
use crate::{ids, util, AwsError, Ctx};

/// The quota key AWS names for role tags.
const ROLE_TAGS: &str = "TagsPerRole";

fn check_duration(v: i64) -> Result<(), AwsError> {
    if v < 3600 {
        return Err(validation(format!("1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600")));
    }
    if v > 43200 {
        return Err(validation(format!("1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200")));
    }
    Ok(())
}

fn protected_err(name: &str) -> AwsError {
    unmodifiable(format!(
        "Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    ))
}

/// AWS resolves the IAM users and roles a trust policy names; one of this
/// account that does not exist makes the document invalid.
fn check_trust_principals(
    tx: &ironsage_store::Tx<'_>,
    acct: &str,
    policy: &ironsage_policy::Policy,
) -> Result<(), AwsError> {
    let prefix = format!("arn:aws:iam::{acct}:");
    for st in policy.statements() {
        let Some(p) = st.principal() else { continue };
        for a in &p.aws {
            let ironsage_policy::AwsPrincipal::Arn(arn) = a else {
                continue;
            };
            let Some(res) = arn.strip_prefix(&prefix) else {
                continue;
            };
            if arn.contains(['*', '?']) {
                continue;
            }
            let (kind, rest) = match res.split_once('/') {
                Some(("role", r)) => (ROLE, r),
                Some(("user", r)) => (super::USER, r),
                _ => continue,
            };
            let name = rest.rsplit('/').next().unwrap_or(rest);
            let path = format!("/{}", rest.strip_suffix(name).unwrap_or_default());
            let found = match kind {
                ROLE => tget::<RoleDoc>(tx, ROLE, acct, &key(name))?
                    .is_some_and(|r| r.path == path && r.name == name),
                _ => tget::<super::model::UserDoc>(tx, super::USER, acct, &key(name))?
                    .is_some_and(|u| u.path == path && u.name == name),
            };
            if !found {
                return Err(AwsError::new(
                    "MalformedPolicyDocument",
                    format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
                    400,
                ));
            }
        }
    }
    Ok(())
}

/// The role name AWS gives a service's service-linked role.
pub(crate) fn service_linked_name(service: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling"),
        (
            "elasticloadbalancing.amazonaws.com",
            "AWSServiceRoleForElasticLoadBalancing",
        ),
        (
            "sagemaker.amazonaws.com",
            "AWSServiceRoleForAmazonSageMaker",
        ),
        ("ecs.amazonaws.com", "AWSServiceRoleForECS"),
        ("eks.amazonaws.com", "AWSServiceRoleForAmazonEKS"),
        ("rds.amazonaws.com", "AWSServiceRoleForRDS"),
        ("spot.amazonaws.com", "AWSServiceRoleForEC2Spot"),
        (
            "elasticfilesystem.amazonaws.com",
            "AWSServiceRoleForAmazonElasticFileSystem",
        ),
        ("events.amazonaws.com", "AWSServiceRoleForCloudWatchEvents"),
        (
            "organizations.amazonaws.com",
            "AWSServiceRoleForOrganizations",
        ),
        (
            "servicecatalog.amazonaws.com",
            "AWSServiceRoleForServiceCatalog",
        ),
        (
            "cloudformation.amazonaws.com",
            "AWSServiceRoleForCloudFormationStackSetsOrgAdmin",
        ),
        (
            "codestar-notifications.amazonaws.com",
            "AWSServiceRoleForCodeStarNotifications",
        ),
        ("lambda.amazonaws.com", "AWSServiceRoleForLambda"),
    ];
    if let Some((_, n)) = KNOWN.iter().find(|(s, _)| *s == service) {
        return (*n).to_string();
    }
    let label = service.split('.').next().unwrap_or(service);
    let camel: String = label
        .split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect();
    format!("AWSServiceRoleFor{camel}")
}

impl Iam {
    pub(super) fn create_role(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        let trust = req(i, "AssumeRolePolicyDocument")?;
        doc::check_trust_size(trust)?;
        let parsed = doc::validate(trust, PolicyKind::Trust)?;
        let max_session = int(i, "MaxSessionDuration").unwrap_or(3600);
        check_duration(max_session)?;
        let boundary = s(i, "PermissionsBoundary").map(str::to_string);
        let role = RoleDoc {
            name: name.to_string(),
            path: path_in(i, "Path"),
            id: ids::unique_id("AROA"),
            created: util::iso(ctx.now),
            trust: trust.to_string(),
            description: s(i, "Description").map(str::to_string),
            max_session,
            boundary: boundary.clone(),
            tags: input_tags(i)?,
            last_used: None,
        };
        self.write(|tx| {
            if tget::<RoleDoc>(tx, ROLE, acct, &key(name))?.is_some() {
                return Err(exists(format!("Role with name {name} already exists.")));
            }
            check_trust_principals(tx, acct, &parsed)?;
            if let Some(b) = &boundary {
                self.check_boundary(tx, acct, b)?;
            }
            tput(tx, ROLE, acct, &key(name), None, &role)
        })?;
        Ok(json!({"Role": role.full(acct)}))
    }

    pub(super) fn get_role(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        let role = self
            .get::<RoleDoc>(ROLE, acct, &key(name))?
            .ok_or_else(|| no_such(format!("The role with name {name} cannot be found.")))?;
        Ok(json!({"Role": role.full(acct)}))
    }

    pub(super) fn list_roles(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let prefix = s(i, "PathPrefix").unwrap_or("/");
        let roles: Vec<RoleDoc> = self
            .all::<RoleDoc>(ROLE, acct, None)?
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(&roles, i, |r| key(&r.name))?;
        let mut out = Map::new();
        out.insert(
            "Roles".into(),
            Value::Array(page.iter().map(|r| Value::Object(r.brief(acct))).collect()),
        );
        Ok(page_out(out, next))
    }

    pub(super) fn delete_role(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        self.write(|tx| {
            let role = trole(tx, acct, name)?;
            if role.protected() {
                return Err(protected_err(&role.name));
            }
            self.delete_role_rows(tx, acct, &role)
        })?;
        Ok(json!({}))
    }

    /// Deletes a role after the conflict checks DeleteRole makes.
    fn delete_role_rows(
        &self,
        tx: &ironsage_store::Tx<'_>,
        acct: &str,
        role: &RoleDoc,
    ) -> Result<(), AwsError> {
        let k = key(&role.name);
        let in_profile = tlist::<ProfileDoc>(tx, PROFILE, acct, None)?
            .iter()
            .any(|p| p.roles.contains(&k));
        if in_profile {
            return Err(conflict(
                "Cannot delete entity, must remove roles from instance profile first.",
            ));
        }
        let parent = format!("role/{k}");
        if !tlist::<InlineDoc>(tx, INLINE, acct, Some(&parent))?.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !tlist::<AttachDoc>(tx, ATTACH, acct, Some(&parent))?.is_empty() {
            return Err(conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        tdel(tx, ROLE, acct, &k)?;
        Ok(())
    }

    /// Applies `f` to the stored role `RoleName` in one transaction.
    fn update_role_doc<T>(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        guard: bool,
        f: impl FnOnce(&mut RoleDoc) -> Result<T, AwsError>,
    ) -> Result<(RoleDoc, T), AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        self.write(|tx| {
            let mut role = trole(tx, acct, name)?;
            if guard && role.protected() {
                return Err(protected_err(&role.name));
            }
            let out = f(&mut role)?;
            tput(tx, ROLE, acct, &key(name), None, &role)?;
            Ok((role, out))
        })
    }

    pub(super) fn update_role(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        if let Some(v) = int(i, "MaxSessionDuration") {
            check_duration(v)?;
        }
        self.update_role_doc(ctx, i, true, |r| {
            if let Some(d) = s(i, "Description") {
                r.description = Some(d.to_string());
            }
            if let Some(v) = int(i, "MaxSessionDuration") {
                r.max_session = v;
            }
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn update_role_description(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let (role, ()) = self.update_role_doc(ctx, i, true, |r| {
            r.description = s(i, "Description").map(str::to_string);
            Ok(())
        })?;
        Ok(json!({"Role": role.full(&ctx.caller.account)}))
    }

    pub(super) fn update_assume_role_policy(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        let text = req(i, "PolicyDocument")?;
        doc::check_trust_size(text)?;
        let parsed = doc::validate(text, PolicyKind::Trust)?;
        self.write(|tx| {
            let mut role = trole(tx, acct, name)?;
            if role.protected() {
                return Err(protected_err(&role.name));
            }
            check_trust_principals(tx, acct, &parsed)?;
            role.trust = text.to_string();
            tput(tx, ROLE, acct, &key(name), None, &role)
        })?;
        Ok(json!({}))
    }

    pub(super) fn tag_role(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let new = crate::util::tags(i, "Tags");
        self.update_role_doc(ctx, i, false, |r| merge_tags(&mut r.tags, new, ROLE_TAGS))?;
        Ok(json!({}))
    }

    pub(super) fn untag_role(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        self.update_role_doc(ctx, i, false, |r| {
            remove_tags(&mut r.tags, i);
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_role_tags(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let name = req(i, "RoleName")?;
        let role = self
            .get::<RoleDoc>(ROLE, &ctx.caller.account, &key(name))?
            .ok_or_else(|| no_such(format!("The role with name {name} cannot be found.")))?;
        tags_page(&role.tags, i)
    }

    pub(super) fn put_role_boundary(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        let arn = req(i, "PermissionsBoundary")?;
        self.write(|tx| {
            let mut role = trole(tx, acct, name)?;
            if role.protected() {
                return Err(protected_err(&role.name));
            }
            self.check_boundary(tx, acct, arn)?;
            role.boundary = Some(arn.to_string());
            tput(tx, ROLE, acct, &key(name), None, &role)
        })?;
        Ok(json!({}))
    }

    pub(super) fn delete_role_boundary(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        self.update_role_doc(ctx, i, true, |r| {
            r.boundary = None;
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn create_service_linked_role(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let service = req(i, "AWSServiceName")?;
        if !service.ends_with(".amazonaws.com") {
            return Err(invalid(format!("Invalid service name: {service}")));
        }
        let mut name = service_linked_name(service);
        if let Some(sfx) = s(i, "CustomSuffix") {
            name = format!("{name}_{sfx}");
        }
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": [service]}, "Action": ["sts:AssumeRole"]}]
        })
        .to_string();
        let role = RoleDoc {
            name: name.clone(),
            path: format!("/aws-service-role/{service}/"),
            id: ids::unique_id("AROA"),
            created: util::iso(ctx.now),
            trust,
            description: s(i, "Description").map(str::to_string),
            max_session: 3600,
            boundary: None,
            tags: Vec::new(),
            last_used: None,
        };
        self.write(|tx| {
            if tget::<RoleDoc>(tx, ROLE, acct, &key(&name))?.is_some() {
                return Err(invalid(format!(
                    "Service role name {name} has been taken in this account, please try a different suffix."
                )));
            }
            tput(tx, ROLE, acct, &key(&name), None, &role)
        })?;
        Ok(json!({"Role": role.full(acct)}))
    }

    pub(super) fn delete_service_linked_role(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        let task = self.write(|tx| {
            let role = trole(tx, acct, name)?;
            let service = role
                .path
                .strip_prefix("/aws-service-role/")
                .map(|p| p.trim_end_matches('/').to_string())
                .ok_or_else(|| invalid(format!("Role {name} is not a service-linked role.")))?;
            // AWS deletes the role's inline policies with it.
            let parent = format!("role/{}", key(name));
            for p in tlist::<InlineDoc>(tx, INLINE, acct, Some(&parent))? {
                tdel(tx, INLINE, acct, &format!("{parent}/{}", p.name))?;
            }
            self.delete_role_rows(tx, acct, &role)?;
            Ok(format!(
                "task/aws-service-role/{service}/{}/{}",
                role.name,
                ids::request_id()
            ))
        })?;
        Ok(json!({"DeletionTaskId": task}))
    }

    pub(super) fn slr_deletion_status(&self, _ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let task = req(i, "DeletionTaskId")?;
        if !task.starts_with("task/aws-service-role/") {
            return Err(invalid(format!("Invalid deletion task id: {task}")));
        }
        // Deletion is synchronous here: every task has succeeded.
        Ok(json!({"Status": "SUCCEEDED"}))
    }
}
