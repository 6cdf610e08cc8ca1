//! What each IAM operation must be authorized for, per AWS's Service
//! Authorization Reference: the action is always `iam:<Operation>`; the
//! resource is the ARN of the entity the operation acts on (with its real
//! path when it exists, the input `Path` when it is being created), or `*`.
//!
//! [`TABLE`] is the one place to edit: adding an operation means adding its
//! row. Operations missing from the table are checked as `iam:<Op>` on `*`.
//! `iam:PassRole` is not checked here: services that receive a role check it.

use serde_json::Value;

use super::model::{GroupDoc, PolicyDoc, ProfileDoc, RoleDoc, UserDoc};
use super::{key, policies, Iam, GROUP, POLICY, PROFILE, ROLE, USER};
use crate::util::{list, s, tags};
use crate::{AwsError, Ctx, PrincipalKind, Target};

/// The resource an operation is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    /// `*`.
    Star,
    /// `role<path><name>` named by the member.
    Role,
    /// `user<path><name>` named by the member.
    User,
    /// `user<path><name>` named by the member, or the caller itself when
    /// absent (`GetUser`, access keys).
    UserOrSelf,
    /// `group<path><name>` named by the member.
    Group,
    /// `instance-profile<path><name>` named by the member.
    InstanceProfile,
    /// The managed policy ARN in the member.
    PolicyArn,
    /// `policy<Path><name>` of a policy being created.
    NewPolicy,
    /// The service-linked role `CreateServiceLinkedRole` will create.
    ServiceLinkedRole,
    /// The user owning the access key id in the member.
    KeyOwner,
}

/// Extra request-context keys an operation supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Nothing beyond the resource.
    None,
    /// `iam:PolicyARN` from `PolicyArn` (attach/detach).
    PolicyArn,
    /// `iam:PermissionsBoundary` from `PermissionsBoundary`.
    Boundary,
    /// `aws:RequestTag/*` and `aws:TagKeys` from `Tags`.
    Tags,
    /// `aws:RequestTag/*`, `aws:TagKeys` and `iam:PermissionsBoundary`.
    TagsAndBoundary,
    /// `aws:TagKeys` from `TagKeys`.
    TagKeys,
    /// `iam:AWSServiceName` from `AWSServiceName`.
    ServiceName,
}

/// One operation's authorization: (operation, resource kind, input member
/// naming the entity, extra context).
pub type Row = (&'static str, Res, &'static str, Extra);

/// Every implemented IAM operation.
pub const TABLE: &[Row] = &[
    // roles
    ("CreateRole", Res::Role, "RoleName", Extra::TagsAndBoundary),
    ("GetRole", Res::Role, "RoleName", Extra::None),
    ("ListRoles", Res::Star, "", Extra::None),
    ("DeleteRole", Res::Role, "RoleName", Extra::None),
    ("UpdateRole", Res::Role, "RoleName", Extra::None),
    ("UpdateRoleDescription", Res::Role, "RoleName", Extra::None),
    ("UpdateAssumeRolePolicy", Res::Role, "RoleName", Extra::None),
    ("TagRole", Res::Role, "RoleName", Extra::Tags),
    ("UntagRole", Res::Role, "RoleName", Extra::TagKeys),
    ("ListRoleTags", Res::Role, "RoleName", Extra::None),
    (
        "PutRolePermissionsBoundary",
        Res::Role,
        "RoleName",
        Extra::Boundary,
    ),
    (
        "DeleteRolePermissionsBoundary",
        Res::Role,
        "RoleName",
        Extra::None,
    ),
    (
        "CreateServiceLinkedRole",
        Res::ServiceLinkedRole,
        "AWSServiceName",
        Extra::ServiceName,
    ),
    (
        "DeleteServiceLinkedRole",
        Res::Role,
        "RoleName",
        Extra::None,
    ),
    (
        "GetServiceLinkedRoleDeletionStatus",
        Res::Star,
        "",
        Extra::None,
    ),
    // users
    ("CreateUser", Res::User, "UserName", Extra::TagsAndBoundary),
    ("GetUser", Res::UserOrSelf, "UserName", Extra::None),
    ("ListUsers", Res::Star, "", Extra::None),
    ("UpdateUser", Res::User, "UserName", Extra::None),
    ("DeleteUser", Res::User, "UserName", Extra::None),
    ("TagUser", Res::User, "UserName", Extra::Tags),
    ("UntagUser", Res::User, "UserName", Extra::TagKeys),
    ("ListUserTags", Res::User, "UserName", Extra::None),
    (
        "PutUserPermissionsBoundary",
        Res::User,
        "UserName",
        Extra::Boundary,
    ),
    (
        "DeleteUserPermissionsBoundary",
        Res::User,
        "UserName",
        Extra::None,
    ),
    ("ListGroupsForUser", Res::User, "UserName", Extra::None),
    // groups
    ("CreateGroup", Res::Group, "GroupName", Extra::None),
    ("GetGroup", Res::Group, "GroupName", Extra::None),
    ("ListGroups", Res::Star, "", Extra::None),
    ("DeleteGroup", Res::Group, "GroupName", Extra::None),
    ("AddUserToGroup", Res::Group, "GroupName", Extra::None),
    ("RemoveUserFromGroup", Res::Group, "GroupName", Extra::None),
    // inline policies
    ("PutRolePolicy", Res::Role, "RoleName", Extra::None),
    ("GetRolePolicy", Res::Role, "RoleName", Extra::None),
    ("DeleteRolePolicy", Res::Role, "RoleName", Extra::None),
    ("ListRolePolicies", Res::Role, "RoleName", Extra::None),
    ("PutUserPolicy", Res::User, "UserName", Extra::None),
    ("GetUserPolicy", Res::User, "UserName", Extra::None),
    ("DeleteUserPolicy", Res::User, "UserName", Extra::None),
    ("ListUserPolicies", Res::User, "UserName", Extra::None),
    ("PutGroupPolicy", Res::Group, "GroupName", Extra::None),
    ("GetGroupPolicy", Res::Group, "GroupName", Extra::None),
    ("DeleteGroupPolicy", Res::Group, "GroupName", Extra::None),
    ("ListGroupPolicies", Res::Group, "GroupName", Extra::None),
    // managed policies
    ("CreatePolicy", Res::NewPolicy, "PolicyName", Extra::Tags),
    ("GetPolicy", Res::PolicyArn, "PolicyArn", Extra::None),
    ("DeletePolicy", Res::PolicyArn, "PolicyArn", Extra::None),
    ("ListPolicies", Res::Star, "", Extra::None),
    (
        "CreatePolicyVersion",
        Res::PolicyArn,
        "PolicyArn",
        Extra::None,
    ),
    ("GetPolicyVersion", Res::PolicyArn, "PolicyArn", Extra::None),
    (
        "ListPolicyVersions",
        Res::PolicyArn,
        "PolicyArn",
        Extra::None,
    ),
    (
        "DeletePolicyVersion",
        Res::PolicyArn,
        "PolicyArn",
        Extra::None,
    ),
    (
        "SetDefaultPolicyVersion",
        Res::PolicyArn,
        "PolicyArn",
        Extra::None,
    ),
    ("AttachRolePolicy", Res::Role, "RoleName", Extra::PolicyArn),
    ("DetachRolePolicy", Res::Role, "RoleName", Extra::PolicyArn),
    (
        "ListAttachedRolePolicies",
        Res::Role,
        "RoleName",
        Extra::None,
    ),
    ("AttachUserPolicy", Res::User, "UserName", Extra::PolicyArn),
    ("DetachUserPolicy", Res::User, "UserName", Extra::PolicyArn),
    (
        "ListAttachedUserPolicies",
        Res::User,
        "UserName",
        Extra::None,
    ),
    (
        "AttachGroupPolicy",
        Res::Group,
        "GroupName",
        Extra::PolicyArn,
    ),
    (
        "DetachGroupPolicy",
        Res::Group,
        "GroupName",
        Extra::PolicyArn,
    ),
    (
        "ListAttachedGroupPolicies",
        Res::Group,
        "GroupName",
        Extra::None,
    ),
    (
        "ListEntitiesForPolicy",
        Res::PolicyArn,
        "PolicyArn",
        Extra::None,
    ),
    ("TagPolicy", Res::PolicyArn, "PolicyArn", Extra::Tags),
    ("UntagPolicy", Res::PolicyArn, "PolicyArn", Extra::TagKeys),
    ("ListPolicyTags", Res::PolicyArn, "PolicyArn", Extra::None),
    // access keys
    ("CreateAccessKey", Res::UserOrSelf, "UserName", Extra::None),
    ("ListAccessKeys", Res::UserOrSelf, "UserName", Extra::None),
    ("UpdateAccessKey", Res::UserOrSelf, "UserName", Extra::None),
    ("DeleteAccessKey", Res::UserOrSelf, "UserName", Extra::None),
    (
        "GetAccessKeyLastUsed",
        Res::KeyOwner,
        "AccessKeyId",
        Extra::None,
    ),
    // instance profiles
    (
        "CreateInstanceProfile",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::Tags,
    ),
    (
        "GetInstanceProfile",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::None,
    ),
    (
        "DeleteInstanceProfile",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::None,
    ),
    ("ListInstanceProfiles", Res::Star, "", Extra::None),
    (
        "AddRoleToInstanceProfile",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::None,
    ),
    (
        "RemoveRoleFromInstanceProfile",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::None,
    ),
    (
        "ListInstanceProfilesForRole",
        Res::Role,
        "RoleName",
        Extra::None,
    ),
    (
        "TagInstanceProfile",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::Tags,
    ),
    (
        "UntagInstanceProfile",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::TagKeys,
    ),
    (
        "ListInstanceProfileTags",
        Res::InstanceProfile,
        "InstanceProfileName",
        Extra::None,
    ),
    // account
    ("GetAccountAuthorizationDetails", Res::Star, "", Extra::None),
    ("GetAccountSummary", Res::Star, "", Extra::None),
    // policy simulation (the source entity's ARN is checked as given)
    (
        "SimulatePrincipalPolicy",
        Res::PolicyArn,
        "PolicySourceArn",
        Extra::None,
    ),
    ("SimulateCustomPolicy", Res::Star, "", Extra::None),
    (
        "GetContextKeysForPrincipalPolicy",
        Res::PolicyArn,
        "PolicySourceArn",
        Extra::None,
    ),
    ("GetContextKeysForCustomPolicy", Res::Star, "", Extra::None),
];

/// The table row of an operation.
pub fn row(op: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.0 == op)
}

fn arn(acct: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{acct}:{kind}{path}{name}")
}

fn tag_context(input: &Value, out: &mut Vec<(String, Vec<String>)>) {
    let t = tags(input, "Tags");
    if t.is_empty() {
        return;
    }
    for (k, v) in &t {
        out.push((format!("aws:RequestTag/{k}"), vec![v.clone()]));
    }
    out.push((
        "aws:TagKeys".into(),
        t.into_iter().map(|(k, _)| k).collect(),
    ));
}

fn resource_tags(t: &[(String, String)], out: &mut Vec<(String, Vec<String>)>) {
    for (k, v) in t {
        out.push((format!("aws:ResourceTag/{k}"), vec![v.clone()]));
    }
}

/// The checks `op` with `input` needs.
pub(crate) fn targets(
    iam: &Iam,
    ctx: &Ctx<'_>,
    op: &str,
    input: &Value,
) -> Result<Vec<Target>, AwsError> {
    let acct = ctx.caller.account.as_str();
    let action = format!("iam:{op}");
    let Some(&(_, res, member, extra)) = row(op) else {
        return Ok(vec![Target::new(action, "*")]);
    };
    let name = s(input, member).unwrap_or_default();
    let path_or_root = |p: Option<String>| p.unwrap_or_else(|| "/".to_string());
    let mut context: Vec<(String, Vec<String>)> = Vec::new();
    let resource = match res {
        Res::Star => "*".to_string(),
        Res::Role => {
            let doc = iam.get::<RoleDoc>(ROLE, acct, &key(name))?;
            if let Some(d) = &doc {
                resource_tags(&d.tags, &mut context);
            }
            let path = doc
                .map(|d| d.path)
                .or_else(|| s(input, "Path").map(str::to_string));
            arn(acct, "role", &path_or_root(path), name)
        }
        Res::User => {
            let doc = iam.get::<UserDoc>(USER, acct, &key(name))?;
            if let Some(d) = &doc {
                resource_tags(&d.tags, &mut context);
            }
            let path = doc
                .map(|d| d.path)
                .or_else(|| s(input, "Path").map(str::to_string));
            arn(acct, "user", &path_or_root(path), name)
        }
        Res::UserOrSelf => match (s(input, member), &ctx.caller.kind) {
            (Some(n), _) => {
                let path = iam.get::<UserDoc>(USER, acct, &key(n))?.map(|d| d.path);
                arn(acct, "user", &path_or_root(path), n)
            }
            (None, PrincipalKind::User { name, path, .. }) => arn(acct, "user", path, name),
            (None, _) => ctx.caller.arn(),
        },
        Res::Group => {
            let path = iam
                .get::<GroupDoc>(GROUP, acct, &key(name))?
                .map(|d| d.path)
                .or_else(|| s(input, "Path").map(str::to_string));
            arn(acct, "group", &path_or_root(path), name)
        }
        Res::InstanceProfile => {
            let doc = iam.get::<ProfileDoc>(PROFILE, acct, &key(name))?;
            if let Some(d) = &doc {
                resource_tags(&d.tags, &mut context);
            }
            let path = doc
                .map(|d| d.path)
                .or_else(|| s(input, "Path").map(str::to_string));
            arn(acct, "instance-profile", &path_or_root(path), name)
        }
        Res::PolicyArn => {
            if let Some((pacct, _, pname)) = policies::parse_arn(name) {
                if let Some(d) = iam.get::<PolicyDoc>(POLICY, &pacct, &key(&pname))? {
                    resource_tags(&d.tags, &mut context);
                }
            }
            name.to_string()
        }
        Res::NewPolicy => arn(
            acct,
            "policy",
            &path_or_root(s(input, "Path").map(str::to_string)),
            name,
        ),
        Res::ServiceLinkedRole => {
            let mut role = super::roles::service_linked_name(name);
            if let Some(sfx) = s(input, "CustomSuffix") {
                role = format!("{role}_{sfx}");
            }
            arn(acct, "role", &format!("/aws-service-role/{name}/"), &role)
        }
        Res::KeyOwner => match iam.creds.lookup(name).filter(|k| k.caller.account == acct) {
            Some(k) => k.caller.arn(),
            None => "*".to_string(),
        },
    };
    match extra {
        Extra::None => {}
        Extra::PolicyArn => {
            if let Some(p) = s(input, "PolicyArn") {
                context.push(("iam:PolicyARN".into(), vec![p.to_string()]));
            }
        }
        Extra::Boundary => {
            if let Some(b) = s(input, "PermissionsBoundary") {
                context.push(("iam:PermissionsBoundary".into(), vec![b.to_string()]));
            }
        }
        Extra::Tags => tag_context(input, &mut context),
        Extra::TagsAndBoundary => {
            tag_context(input, &mut context);
            if let Some(b) = s(input, "PermissionsBoundary") {
                context.push(("iam:PermissionsBoundary".into(), vec![b.to_string()]));
            }
        }
        Extra::TagKeys => {
            let keys: Vec<String> = list(input, "TagKeys")
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            if !keys.is_empty() {
                context.push(("aws:TagKeys".into(), keys));
            }
        }
        Extra::ServiceName => {
            context.push(("iam:AWSServiceName".into(), vec![name.to_string()]));
        }
    }
    let mut target = Target::new(action, resource);
    target.context = context;
    target.resource_account = Some(acct.to_string());
    Ok(vec![target])
}
