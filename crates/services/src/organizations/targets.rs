//! The IAM checks each Organizations operation needs, per the Service
//! Authorization Reference: `organizations:<Op>` on the organization's
//! resource ARNs (`account`, `ou`, `root`, `policy`), or `*` for operations
//! that name no resource.

use serde_json::Value;

use super::{OrgDoc, Organizations};
use crate::util::{self, list, s};
use crate::{AwsError, Ctx, Target};

fn tag_context(mut t: Target, input: &Value, member: &str) -> Target {
    let tags = util::tags(input, member);
    if !tags.is_empty() {
        t = t.with_context("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
        for (k, v) in tags {
            t = t.with_context(format!("aws:RequestTag/{k}"), vec![v]);
        }
    }
    t
}

pub(super) fn targets(
    orgs: &Organizations,
    ctx: &Ctx<'_>,
    op: &str,
    input: &Value,
) -> Result<Vec<Target>, AwsError> {
    let org: Option<OrgDoc> = orgs.org_doc_of(&ctx.caller.account)?;
    let action = format!("organizations:{op}");
    let arn = |id: Option<&str>| -> String {
        match (&org, id) {
            (Some(o), Some(id)) => o.arn_of(id),
            _ => "*".to_string(),
        }
    };
    let on = |res: String| -> Target {
        let mut t = Target::new(action.clone(), res);
        if let Some(o) = &org {
            t.resource_account = Some(o.master.clone());
        }
        t
    };
    let member = |m: &str| s(input, m);
    let policy_type = |t: Target| -> Target {
        let ptype = member("PolicyType")
            .or_else(|| member("Filter"))
            .or_else(|| member("Type"))
            .map(str::to_string)
            .or_else(|| {
                member("PolicyId")
                    .and_then(|p| org.as_ref().and_then(|o| o.policy(p)))
                    .map(|p| p.ptype)
            });
        match ptype {
            Some(p) => t.with_context("organizations:PolicyType", vec![p]),
            None => t,
        }
    };
    let principal = |t: Target| -> Target {
        match member("ServicePrincipal") {
            Some(p) => t.with_context("organizations:ServicePrincipal", vec![p.to_string()]),
            None => t,
        }
    };
    let out = match op {
        "DescribeOrganizationalUnit" | "UpdateOrganizationalUnit" | "DeleteOrganizationalUnit" => {
            vec![on(arn(member("OrganizationalUnitId")))]
        }
        "CreateOrganizationalUnit" => {
            vec![tag_context(on(arn(member("ParentId"))), input, "Tags")]
        }
        "ListOrganizationalUnitsForParent" | "ListAccountsForParent" | "ListChildren" => {
            vec![on(arn(member("ParentId")))]
        }
        "ListParents" => vec![on(arn(member("ChildId")))],
        "DescribeAccount" | "RemoveAccountFromOrganization" | "ListDelegatedServicesForAccount" => {
            vec![on(arn(member("AccountId")))]
        }
        "RegisterDelegatedAdministrator" | "DeregisterDelegatedAdministrator" => {
            vec![principal(on(arn(member("AccountId"))))]
        }
        "EnableAWSServiceAccess" | "DisableAWSServiceAccess" | "ListDelegatedAdministrators" => {
            vec![principal(on("*".into()))]
        }
        "MoveAccount" => vec![
            on(arn(member("AccountId"))),
            on(arn(member("SourceParentId"))),
            on(arn(member("DestinationParentId"))),
        ],
        "EnablePolicyType" | "DisablePolicyType" => {
            vec![policy_type(on(arn(member("RootId"))))]
        }
        "DescribePolicy" | "UpdatePolicy" | "DeletePolicy" | "ListTargetsForPolicy" => {
            vec![policy_type(on(arn(member("PolicyId"))))]
        }
        "AttachPolicy" | "DetachPolicy" => vec![
            policy_type(on(arn(member("PolicyId")))),
            policy_type(on(arn(member("TargetId")))),
        ],
        "ListPoliciesForTarget" => vec![policy_type(on(arn(member("TargetId"))))],
        "ListPolicies" => vec![policy_type(on("*".into()))],
        "CreatePolicy" => vec![tag_context(policy_type(on("*".into())), input, "Tags")],
        "CreateAccount" => vec![tag_context(on("*".into()), input, "Tags")],
        "TagResource" => vec![tag_context(on(arn(member("ResourceId"))), input, "Tags")],
        "UntagResource" => {
            let keys: Vec<String> = list(input, "TagKeys")
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            vec![on(arn(member("ResourceId"))).with_context("aws:TagKeys", keys)]
        }
        "ListTagsForResource" => vec![on(arn(member("ResourceId")))],
        _ => vec![on("*".into())],
    };
    Ok(out)
}
