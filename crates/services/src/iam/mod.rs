//! The IAM API: roles, users, groups, inline and managed policies (customer
//! and AWS-managed), access keys, instance profiles, and the account views.
//!
//! IAM is global per account: every row lives in scope `<account>`. Entity
//! names are case-insensitively unique, so row keys are lowercased names; the
//! documents keep the spelling the entity was created with.
//!
//! Row kinds:
//! - `role`, `user`, `group`, `policy`, `iprofile`: one document per entity
//!   (a customer-managed policy document holds its versions);
//! - `inline`: an inline policy, key `<type>/<entity>/<policy name>`, parent
//!   `<type>/<entity>`;
//! - `attach`: a managed-policy attachment, key `<type>/<entity>/<policy arn>`,
//!   parent `<type>/<entity>`.
//!
//! Access keys live in [`crate::credentials::Credentials`], never here.
//!
//! Every mutating operation runs in one store transaction: its checks and its
//! writes see the same state, and a failed check changes nothing. A successful
//! write clears the caches of parsed policies.

mod access_keys;
mod account;
pub mod authz;
mod aws_managed;
mod doc;
mod groups;
mod inline;
mod instance_profiles;
mod model;
mod policies;
mod roles;
mod simulate;
#[cfg(test)]
mod simulate_corpus;
mod users;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ironsage_store::{Row, ServiceStore, Store, Tx};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::credentials::Credentials;
use crate::{internal, AwsError, Caller, Ctx, PrincipalKind, Service, Target};

pub use model::RoleRecord;
use model::{RoleDoc, UserDoc};

/// The identity-side policies of a principal, parsed.
#[derive(Clone, Default)]
pub struct PrincipalPolicies {
    /// (policy id, policy): a managed policy's ARN, or
    /// `arn:aws:iam::<acct>:role/R (inline policy P)` for an inline policy.
    pub identity: Vec<(String, Arc<ironsage_policy::Policy>)>,
    /// The permissions boundary (managed policy ARN, policy), if set.
    pub boundary: Option<(String, Arc<ironsage_policy::Policy>)>,
}

/// The IAM service.
pub struct Iam {
    store: ServiceStore,
    creds: Arc<Credentials>,
    principal_cache: RwLock<HashMap<String, PrincipalPolicies>>,
    managed_cache: RwLock<HashMap<String, Arc<ironsage_policy::Policy>>>,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam")
            .field("store", &self.store.service_name())
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------- errors

pub(crate) fn no_such(msg: impl Into<String>) -> AwsError {
    AwsError::new("NoSuchEntity", msg.into(), 404)
}
pub(crate) fn exists(msg: impl Into<String>) -> AwsError {
    AwsError::new("EntityAlreadyExists", msg.into(), 409)
}
pub(crate) fn conflict(msg: impl Into<String>) -> AwsError {
    AwsError::new("DeleteConflict", msg.into(), 409)
}
pub(crate) fn limit(msg: impl Into<String>) -> AwsError {
    AwsError::new("LimitExceeded", msg.into(), 409)
}
pub(crate) fn invalid(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidInput", msg.into(), 400)
}
pub(crate) fn unmodifiable(msg: impl Into<String>) -> AwsError {
    AwsError::new("UnmodifiableEntity", msg.into(), 400)
}
pub(crate) fn validation(msg: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", msg.into(), 400)
}
fn failure(msg: impl Into<String>) -> AwsError {
    AwsError::new("InternalFailure", msg.into(), 500)
}

// ---------------------------------------------------------------- rows

pub(crate) const ROLE: &str = "role";
pub(crate) const USER: &str = "user";
pub(crate) const GROUP: &str = "group";
pub(crate) const POLICY: &str = "policy";
pub(crate) const PROFILE: &str = "iprofile";
pub(crate) const INLINE: &str = "inline";
pub(crate) const ATTACH: &str = "attach";

/// The row key of a named entity.
pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

fn decode<T: DeserializeOwned>(row: Row) -> Result<T, AwsError> {
    serde_json::from_value(row.doc)
        .map_err(|e| failure(format!("corrupt IAM row {}: {e}", row.key)))
}

fn encode<T: Serialize>(v: &T) -> Result<Value, AwsError> {
    serde_json::to_value(v).map_err(|e| failure(e.to_string()))
}

/// Reads one row inside a transaction.
pub(crate) fn tget<T: DeserializeOwned>(
    tx: &Tx<'_>,
    kind: &str,
    scope: &str,
    k: &str,
) -> Result<Option<T>, AwsError> {
    tx.get(kind, scope, k)
        .map_err(internal)?
        .map(decode)
        .transpose()
}

/// Lists rows inside a transaction.
pub(crate) fn tlist<T: DeserializeOwned>(
    tx: &Tx<'_>,
    kind: &str,
    scope: &str,
    parent: Option<&str>,
) -> Result<Vec<T>, AwsError> {
    tx.list(kind, scope, parent)
        .map_err(internal)?
        .into_iter()
        .map(decode)
        .collect()
}

/// Writes one row inside a transaction.
pub(crate) fn tput<T: Serialize>(
    tx: &Tx<'_>,
    kind: &str,
    scope: &str,
    k: &str,
    parent: Option<&str>,
    v: &T,
) -> Result<(), AwsError> {
    tx.put(kind, scope, k, parent, &encode(v)?)
        .map_err(internal)
}

/// Deletes one row inside a transaction.
pub(crate) fn tdel(tx: &Tx<'_>, kind: &str, scope: &str, k: &str) -> Result<bool, AwsError> {
    tx.delete(kind, scope, k).map_err(internal)
}

/// Loads the role `name` or fails with AWS's NoSuchEntity.
pub(crate) fn trole(tx: &Tx<'_>, acct: &str, name: &str) -> Result<RoleDoc, AwsError> {
    tget(tx, ROLE, acct, &key(name))?
        .ok_or_else(|| no_such(format!("The role with name {name} cannot be found.")))
}

/// Loads the user `name` or fails with AWS's NoSuchEntity.
pub(crate) fn tuser(tx: &Tx<'_>, acct: &str, name: &str) -> Result<UserDoc, AwsError> {
    tget(tx, USER, acct, &key(name))?
        .ok_or_else(|| no_such(format!("The user with name {name} cannot be found.")))
}

/// Loads the group `name` or fails with AWS's NoSuchEntity.
pub(crate) fn tgroup(tx: &Tx<'_>, acct: &str, name: &str) -> Result<model::GroupDoc, AwsError> {
    tget(tx, GROUP, acct, &key(name))?
        .ok_or_else(|| no_such(format!("The group with name {name} cannot be found.")))
}

/// `{"IsTruncated": .., "Marker": ..}` merged into a list answer.
pub(crate) fn page_out(mut out: serde_json::Map<String, Value>, next: Option<String>) -> Value {
    out.insert("IsTruncated".into(), Value::Bool(next.is_some()));
    if let Some(m) = next {
        out.insert("Marker".into(), Value::String(m));
    }
    Value::Object(out)
}

/// Input tags, rejecting duplicate keys (case-insensitively) as IAM does.
pub(crate) fn input_tags(input: &Value) -> Result<Vec<(String, String)>, AwsError> {
    let tags = crate::util::tags(input, "Tags");
    check_dup_tags(&tags)?;
    Ok(tags)
}

fn check_dup_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    let mut seen = std::collections::HashSet::new();
    for (k, _) in tags {
        if !seen.insert(k.to_lowercase()) {
            return Err(invalid(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// Merges `new` tags into `tags` (keys case-insensitive, the new value and
/// spelling win), enforcing IAM's 50-tag limit.
pub(crate) fn merge_tags(
    tags: &mut Vec<(String, String)>,
    new: Vec<(String, String)>,
    quota: &str,
) -> Result<(), AwsError> {
    check_dup_tags(&new)?;
    for (k, v) in new {
        match tags.iter_mut().find(|(ek, _)| ek.eq_ignore_ascii_case(&k)) {
            Some(e) => *e = (k, v),
            None => tags.push((k, v)),
        }
    }
    if tags.len() > 50 {
        return Err(limit(format!("Cannot exceed quota for {quota}: 50")));
    }
    Ok(())
}

/// Removes the tags whose keys are in the input's `TagKeys`.
pub(crate) fn remove_tags(tags: &mut Vec<(String, String)>, input: &Value) {
    let keys: Vec<String> = crate::util::list(input, "TagKeys")
        .iter()
        .filter_map(|k| k.as_str().map(str::to_lowercase))
        .collect();
    tags.retain(|(k, _)| !keys.contains(&k.to_lowercase()));
}

/// A page of tags as `ListXTags` answers.
pub(crate) fn tags_page(tags: &[(String, String)], input: &Value) -> Result<Value, AwsError> {
    let (page, next) = crate::util::paginate(tags, input, |(k, _)| k.clone())?;
    let mut out = serde_json::Map::new();
    out.insert("Tags".into(), crate::util::tags_value(&page));
    Ok(page_out(out, next))
}

/// The `Path` member (default `/`).
pub(crate) fn path_in(input: &Value, member: &str) -> String {
    crate::util::s(input, member).unwrap_or("/").to_string()
}

impl Iam {
    /// Opens IAM over the shared store.
    pub fn open(store: &Arc<Store>, creds: Arc<Credentials>) -> Result<Self, AwsError> {
        Ok(Iam {
            store: store.service("iam"),
            creds,
            principal_cache: RwLock::new(HashMap::new()),
            managed_cache: RwLock::new(HashMap::new()),
        })
    }

    /// Runs `f` in one transaction; on success the parsed-policy caches are
    /// cleared, on failure nothing was written.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let out = self.store.write(f).map_err(internal)??;
        self.invalidate();
        Ok(out)
    }

    fn invalidate(&self) {
        if let Ok(mut c) = self.principal_cache.write() {
            c.clear();
        }
        if let Ok(mut c) = self.managed_cache.write() {
            c.clear();
        }
    }

    /// Reads one row outside a transaction.
    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        kind: &str,
        scope: &str,
        k: &str,
    ) -> Result<Option<T>, AwsError> {
        self.store
            .get(kind, scope, k)
            .map_err(internal)?
            .map(decode)
            .transpose()
    }

    /// Lists rows outside a transaction.
    pub(crate) fn all<T: DeserializeOwned>(
        &self,
        kind: &str,
        scope: &str,
        parent: Option<&str>,
    ) -> Result<Vec<T>, AwsError> {
        self.store
            .list(kind, scope, parent)
            .map_err(internal)?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// A role by name in an account (case-insensitive).
    pub fn role(&self, account: &str, name: &str) -> Result<Option<RoleRecord>, AwsError> {
        Ok(self
            .get::<RoleDoc>(ROLE, account, &key(name))?
            .map(|d| d.record(account)))
    }

    /// The identity-side policies of a caller (see [`PrincipalPolicies`]).
    pub fn principal_policies(&self, caller: &Caller) -> Result<PrincipalPolicies, AwsError> {
        let ck = format!("{}|{}", caller.account, caller.arn());
        if let Some(p) = self
            .principal_cache
            .read()
            .ok()
            .and_then(|c| c.get(&ck).cloned())
        {
            return Ok(p);
        }
        let acct = caller.account.as_str();
        let mut out = PrincipalPolicies::default();
        match &caller.kind {
            PrincipalKind::Root => {}
            PrincipalKind::User { name, .. } => {
                if let Some(u) = self.get::<UserDoc>(USER, acct, &key(name))? {
                    let arn = u.arn(acct);
                    self.entity_policies(acct, "user", &u.name, &arn, &mut out.identity)?;
                    for g in &u.groups {
                        if let Some(gd) = self.get::<model::GroupDoc>(GROUP, acct, &key(g))? {
                            let garn = gd.arn(acct);
                            self.entity_policies(
                                acct,
                                "group",
                                &gd.name,
                                &garn,
                                &mut out.identity,
                            )?;
                        }
                    }
                    out.boundary = self.boundary(u.boundary.as_deref())?;
                }
            }
            PrincipalKind::AssumedRole { role_name, .. } => {
                if let Some(r) = self.get::<RoleDoc>(ROLE, acct, &key(role_name))? {
                    let arn = r.arn(acct);
                    self.entity_policies(acct, "role", &r.name, &arn, &mut out.identity)?;
                    out.boundary = self.boundary(r.boundary.as_deref())?;
                }
            }
        }
        if let Ok(mut c) = self.principal_cache.write() {
            // Sessions come and go: keep the cache bounded.
            if c.len() >= 10_000 {
                c.clear();
            }
            c.insert(ck, out.clone());
        }
        Ok(out)
    }

    fn boundary(
        &self,
        arn: Option<&str>,
    ) -> Result<Option<(String, Arc<ironsage_policy::Policy>)>, AwsError> {
        let Some(arn) = arn else { return Ok(None) };
        match self.managed_policy(arn)? {
            Some(p) => Ok(Some((arn.to_string(), p))),
            // A boundary whose policy vanished allows nothing: an empty policy.
            None => Ok(Some((arn.to_string(), doc::empty_policy()?))),
        }
    }

    fn entity_policies(
        &self,
        acct: &str,
        etype: &str,
        name: &str,
        arn: &str,
        out: &mut Vec<(String, Arc<ironsage_policy::Policy>)>,
    ) -> Result<(), AwsError> {
        let parent = format!("{etype}/{}", key(name));
        for p in self.all::<model::InlineDoc>(INLINE, acct, Some(&parent))? {
            let parsed = doc::parse_stored(&p.document)?;
            out.push((format!("{arn} (inline policy {})", p.name), parsed));
        }
        for a in self.all::<model::AttachDoc>(ATTACH, acct, Some(&parent))? {
            if let Some(p) = self.managed_policy(&a.arn)? {
                out.push((a.arn.clone(), p));
            }
        }
        Ok(())
    }

    /// A managed policy's default version, parsed (customer-managed or
    /// AWS-managed); `None` if there is no such policy.
    pub fn managed_policy(
        &self,
        arn: &str,
    ) -> Result<Option<Arc<ironsage_policy::Policy>>, AwsError> {
        if let Some(p) = self
            .managed_cache
            .read()
            .ok()
            .and_then(|c| c.get(arn).cloned())
        {
            return Ok(Some(p));
        }
        let text = if let Some(a) = aws_managed::get(arn)? {
            a.document.clone()
        } else {
            let Some((acct, _path, name)) = policies::parse_arn(arn) else {
                return Ok(None);
            };
            let Some(p) = self.get::<model::PolicyDoc>(POLICY, &acct, &key(&name))? else {
                return Ok(None);
            };
            if p.arn(&acct) != arn {
                return Ok(None);
            }
            match p.default() {
                Some(v) => v.document.clone(),
                None => return Ok(None),
            }
        };
        let parsed = doc::parse_stored(&text)?;
        if let Ok(mut c) = self.managed_cache.write() {
            c.insert(arn.to_string(), Arc::clone(&parsed));
        }
        Ok(Some(parsed))
    }

    /// Tags of a principal (for `aws:PrincipalTag`): a user's or the assumed
    /// role's tags; none for root.
    pub fn principal_tags(&self, caller: &Caller) -> Result<Vec<(String, String)>, AwsError> {
        let acct = caller.account.as_str();
        Ok(match &caller.kind {
            PrincipalKind::Root => Vec::new(),
            PrincipalKind::User { name, .. } => self
                .get::<UserDoc>(USER, acct, &key(name))?
                .map(|u| u.tags)
                .unwrap_or_default(),
            PrincipalKind::AssumedRole { role_name, .. } => self
                .get::<RoleDoc>(ROLE, acct, &key(role_name))?
                .map(|r| r.tags)
                .unwrap_or_default(),
        })
    }

    /// Records that a role was used (RoleLastUsed), e.g. by sts:AssumeRole.
    pub fn note_role_used(
        &self,
        account: &str,
        name: &str,
        when: &str,
        region: &str,
    ) -> Result<(), AwsError> {
        self.store
            .write(|tx| -> Result<(), AwsError> {
                if let Some(mut r) = tget::<RoleDoc>(tx, ROLE, account, &key(name))? {
                    r.last_used = Some((when.to_string(), region.to_string()));
                    tput(tx, ROLE, account, &key(name), None, &r)?;
                }
                Ok(())
            })
            .map_err(internal)?
    }
}

impl Service for Iam {
    fn name(&self) -> &'static str {
        "iam"
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError> {
        authz::targets(self, ctx, op, input)
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        let i = &input;
        match op {
            // roles
            "CreateRole" => self.create_role(ctx, i),
            "GetRole" => self.get_role(ctx, i),
            "ListRoles" => self.list_roles(ctx, i),
            "DeleteRole" => self.delete_role(ctx, i),
            "UpdateRole" => self.update_role(ctx, i),
            "UpdateRoleDescription" => self.update_role_description(ctx, i),
            "UpdateAssumeRolePolicy" => self.update_assume_role_policy(ctx, i),
            "TagRole" => self.tag_role(ctx, i),
            "UntagRole" => self.untag_role(ctx, i),
            "ListRoleTags" => self.list_role_tags(ctx, i),
            "PutRolePermissionsBoundary" => self.put_role_boundary(ctx, i),
            "DeleteRolePermissionsBoundary" => self.delete_role_boundary(ctx, i),
            "CreateServiceLinkedRole" => self.create_service_linked_role(ctx, i),
            "DeleteServiceLinkedRole" => self.delete_service_linked_role(ctx, i),
            "GetServiceLinkedRoleDeletionStatus" => self.slr_deletion_status(ctx, i),
            // users
            "CreateUser" => self.create_user(ctx, i),
            "GetUser" => self.get_user(ctx, i),
            "ListUsers" => self.list_users(ctx, i),
            "UpdateUser" => self.update_user(ctx, i),
            "DeleteUser" => self.delete_user(ctx, i),
            "TagUser" => self.tag_user(ctx, i),
            "UntagUser" => self.untag_user(ctx, i),
            "ListUserTags" => self.list_user_tags(ctx, i),
            "PutUserPermissionsBoundary" => self.put_user_boundary(ctx, i),
            "DeleteUserPermissionsBoundary" => self.delete_user_boundary(ctx, i),
            // groups
            "CreateGroup" => self.create_group(ctx, i),
            "GetGroup" => self.get_group(ctx, i),
            "ListGroups" => self.list_groups(ctx, i),
            "DeleteGroup" => self.delete_group(ctx, i),
            "AddUserToGroup" => self.add_user_to_group(ctx, i),
            "RemoveUserFromGroup" => self.remove_user_from_group(ctx, i),
            "ListGroupsForUser" => self.list_groups_for_user(ctx, i),
            // inline policies
            "PutRolePolicy" => self.put_inline(ctx, i, inline::Owner::Role),
            "PutUserPolicy" => self.put_inline(ctx, i, inline::Owner::User),
            "PutGroupPolicy" => self.put_inline(ctx, i, inline::Owner::Group),
            "GetRolePolicy" => self.get_inline(ctx, i, inline::Owner::Role),
            "GetUserPolicy" => self.get_inline(ctx, i, inline::Owner::User),
            "GetGroupPolicy" => self.get_inline(ctx, i, inline::Owner::Group),
            "DeleteRolePolicy" => self.delete_inline(ctx, i, inline::Owner::Role),
            "DeleteUserPolicy" => self.delete_inline(ctx, i, inline::Owner::User),
            "DeleteGroupPolicy" => self.delete_inline(ctx, i, inline::Owner::Group),
            "ListRolePolicies" => self.list_inline(ctx, i, inline::Owner::Role),
            "ListUserPolicies" => self.list_inline(ctx, i, inline::Owner::User),
            "ListGroupPolicies" => self.list_inline(ctx, i, inline::Owner::Group),
            // managed policies
            "CreatePolicy" => self.create_policy(ctx, i),
            "GetPolicy" => self.get_policy(ctx, i),
            "DeletePolicy" => self.delete_policy(ctx, i),
            "ListPolicies" => self.list_policies(ctx, i),
            "CreatePolicyVersion" => self.create_policy_version(ctx, i),
            "GetPolicyVersion" => self.get_policy_version(ctx, i),
            "ListPolicyVersions" => self.list_policy_versions(ctx, i),
            "DeletePolicyVersion" => self.delete_policy_version(ctx, i),
            "SetDefaultPolicyVersion" => self.set_default_policy_version(ctx, i),
            "AttachRolePolicy" => self.attach(ctx, i, inline::Owner::Role),
            "AttachUserPolicy" => self.attach(ctx, i, inline::Owner::User),
            "AttachGroupPolicy" => self.attach(ctx, i, inline::Owner::Group),
            "DetachRolePolicy" => self.detach(ctx, i, inline::Owner::Role),
            "DetachUserPolicy" => self.detach(ctx, i, inline::Owner::User),
            "DetachGroupPolicy" => self.detach(ctx, i, inline::Owner::Group),
            "ListAttachedRolePolicies" => self.list_attached(ctx, i, inline::Owner::Role),
            "ListAttachedUserPolicies" => self.list_attached(ctx, i, inline::Owner::User),
            "ListAttachedGroupPolicies" => self.list_attached(ctx, i, inline::Owner::Group),
            "ListEntitiesForPolicy" => self.list_entities_for_policy(ctx, i),
            "TagPolicy" => self.tag_policy(ctx, i),
            "UntagPolicy" => self.untag_policy(ctx, i),
            "ListPolicyTags" => self.list_policy_tags(ctx, i),
            // access keys
            "CreateAccessKey" => self.create_access_key(ctx, i),
            "ListAccessKeys" => self.list_access_keys(ctx, i),
            "UpdateAccessKey" => self.update_access_key(ctx, i),
            "DeleteAccessKey" => self.delete_access_key(ctx, i),
            "GetAccessKeyLastUsed" => self.get_access_key_last_used(ctx, i),
            // instance profiles
            "CreateInstanceProfile" => self.create_instance_profile(ctx, i),
            "GetInstanceProfile" => self.get_instance_profile(ctx, i),
            "DeleteInstanceProfile" => self.delete_instance_profile(ctx, i),
            "ListInstanceProfiles" => self.list_instance_profiles(ctx, i),
            "AddRoleToInstanceProfile" => self.add_role_to_instance_profile(ctx, i),
            "RemoveRoleFromInstanceProfile" => self.remove_role_from_instance_profile(ctx, i),
            "ListInstanceProfilesForRole" => self.list_instance_profiles_for_role(ctx, i),
            "TagInstanceProfile" => self.tag_instance_profile(ctx, i),
            "UntagInstanceProfile" => self.untag_instance_profile(ctx, i),
            "ListInstanceProfileTags" => self.list_instance_profile_tags(ctx, i),
            // account
            "GetAccountAuthorizationDetails" => self.get_account_authorization_details(ctx, i),
            "GetAccountSummary" => self.get_account_summary(ctx, i),
            // policy simulation
            "SimulatePrincipalPolicy" => self.simulate_principal_policy(ctx, i),
            "SimulateCustomPolicy" => self.simulate_custom_policy(ctx, i),
            "GetContextKeysForPrincipalPolicy" => self.context_keys_for_principal_policy(ctx, i),
            "GetContextKeysForCustomPolicy" => self.context_keys_for_custom_policy(ctx, i),
            _ => Err(AwsError::new(
                "NotImplemented",
                format!("The operation {op} is not implemented by ironsage yet."),
                501,
            )),
        }
    }
}
