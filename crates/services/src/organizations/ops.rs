//! The Organizations operations.

use rand::Rng;
use serde_json::{json, Value};

use super::{
    account_not_found, constraint, err, full_access, invalid_input, not_in_use, ou_not_found, page,
    page_out, parent_not_found, policy_not_found, root_not_found, target_not_found, tx_del_member,
    tx_org_of, tx_put_member, tx_put_org, Access, AcctDoc, CreateStatus, Delegation, IdKind,
    OrgDoc, Organizations, OuDoc, PolicyDoc, FULL_ACCESS_ID, SCP,
};
use crate::util::{self, list, req, s};
use crate::{ids, AwsError, Caller, Ctx, PrincipalKind, Service};

/// AWS's limit on OU nesting below the root.
const MAX_OU_DEPTH: usize = 5;
/// AWS's limit on SCPs attached to one target.
const MAX_SCPS_PER_TARGET: usize = 5;
/// AWS's limit on an SCP's size, in characters.
const MAX_SCP_CHARS: usize = 5120;
const MAX_TAGS: usize = 50;
const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";
const ADMIN_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from_digit(rng.gen_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

fn check_principal(p: &str) -> Result<(), AwsError> {
    let ok = p
        .strip_suffix(".amazonaws.com")
        .is_some_and(|h| !h.is_empty() && !h.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(invalid_input(
            "UNRECOGNIZED_SERVICE_PRINCIPAL",
            "You specified a service principal that isn't recognized.",
        ))
    }
}

fn input_tags(i: &Value) -> Result<Vec<(String, String)>, AwsError> {
    let tags = util::tags(i, "Tags");
    let mut seen = std::collections::HashSet::new();
    for (k, _) in &tags {
        if !seen.insert(k.clone()) {
            return Err(invalid_input(
                "DUPLICATE_TAG_KEY",
                "Duplicate tag keys are not allowed.",
            ));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(constraint(
            "MAX_TAG_LIMIT_EXCEEDED",
            "You have exceeded the maximum number of tags allowed on this resource.",
        ));
    }
    Ok(tags)
}

/// Validates a policy's content for its type.
fn check_content(ptype: &str, content: &str) -> Result<(), AwsError> {
    let malformed = || {
        err(
            "MalformedPolicyDocumentException",
            "The provided policy document doesn't meet the requirements of the specified policy type.",
        )
    };
    if ptype == SCP {
        if content.chars().count() > MAX_SCP_CHARS {
            return Err(constraint(
                "POLICY_CONTENT_LIMIT_EXCEEDED",
                "You have exceeded the maximum size of a policy document.",
            ));
        }
        ironsage_policy::Policy::parse(content, ironsage_policy::PolicyKind::Scp)
            .map_err(|_| malformed())?;
    } else if serde_json::from_str::<Value>(content).map_or(true, |v| !v.is_object()) {
        return Err(malformed());
    }
    Ok(())
}

fn ou_id(org: &OrgDoc) -> String {
    let root4 = org.root_id.trim_start_matches("r-").to_string();
    loop {
        let id = format!("ou-{root4}-{}", ids::lower_alnum(8));
        if !org.ous.contains_key(&id) {
            return id;
        }
    }
}

fn policy_id(org: &OrgDoc) -> String {
    loop {
        let id = format!("p-{}", ids::lower_alnum(8));
        if !org.policies.contains_key(&id) {
            return id;
        }
    }
}

/// The tags of a root, OU, account or policy, for tagging operations.
fn tags_of<'a>(org: &'a mut OrgDoc, id: &str) -> Result<&'a mut Vec<(String, String)>, AwsError> {
    if id == org.root_id {
        return Ok(&mut org.root_tags);
    }
    if let Some(ou) = org.ous.get_mut(id) {
        return Ok(&mut ou.tags);
    }
    if let Some(a) = org.accounts.get_mut(id) {
        return Ok(&mut a.tags);
    }
    if let Some(p) = org.policies.get_mut(id) {
        return Ok(&mut p.tags);
    }
    Err(target_not_found())
}

impl Organizations {
    // ------------------------------------------------------------ organization

    pub(super) fn create_organization(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let account = ctx.caller.account.clone();
        let feature_set = s(i, "FeatureSet").unwrap_or("ALL").to_string();
        let (name, email) = match self.accounts.get(&account)? {
            Some(a) => (a.name, a.email),
            None => (account.clone(), format!("root+{account}@ironsage.local")),
        };
        let now = util::iso(ctx.now);
        let org = self.write_raw(|tx| {
            if tx_org_of(tx, &account)?.is_some() {
                return Err(err(
                    "AlreadyInOrganizationException",
                    "The AWS account is already a member of an organization.",
                ));
            }
            let root_id = format!("r-{}", ids::lower_alnum(4));
            let mut org = OrgDoc {
                id: format!("o-{}", ids::lower_alnum(10)),
                feature_set,
                master: account.clone(),
                master_email: email.clone(),
                root_id: root_id.clone(),
                root_tags: Vec::new(),
                policy_types: Vec::new(),
                ous: Default::default(),
                accounts: Default::default(),
                policies: Default::default(),
                attachments: Default::default(),
                services: Default::default(),
                delegated: Vec::new(),
                requests: Vec::new(),
            };
            org.accounts.insert(
                account.clone(),
                AcctDoc {
                    id: account.clone(),
                    name,
                    email,
                    parent: root_id,
                    joined_method: "INVITED".into(),
                    joined: now,
                    tags: Vec::new(),
                },
            );
            tx_put_org(tx, &org)?;
            tx_put_member(tx, &account, &org.id)?;
            Ok(org)
        })?;
        Ok(json!({"Organization": org.org_view()}))
    }

    pub(super) fn describe_organization(&self, ctx: &Ctx<'_>) -> Result<Value, AwsError> {
        let org = self.read(ctx, Access::Member)?;
        Ok(json!({"Organization": org.org_view()}))
    }

    pub(super) fn delete_organization(&self, ctx: &Ctx<'_>) -> Result<Value, AwsError> {
        let account = ctx.caller.account.clone();
        self.write_raw(|tx| {
            let org = tx_org_of(tx, &account)?.ok_or_else(not_in_use)?;
            super::check_access(&org, &account, Access::Manage)?;
            if org.accounts.len() > 1 {
                return Err(err(
                    "OrganizationNotEmptyException",
                    "The organization isn't empty. To delete an organization, you must first remove all accounts except the management account.",
                ));
            }
            tx.delete(super::ORG, super::SCOPE, &org.id)
                .map_err(crate::internal)?;
            tx_del_member(tx, &account)
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_roots(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let org = self.read(ctx, Access::Read)?;
        let roots = vec![org.root_view()];
        let (items, next) = page(&roots, i, |r| s(r, "Id").unwrap_or("").to_string())?;
        Ok(page_out("Roots", items, next))
    }

    // ------------------------------------------------------------ OUs

    pub(super) fn create_ou(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let parent = req(i, "ParentId")?.to_string();
        let name = req(i, "Name")?.to_string();
        let tags = input_tags(i)?;
        self.mutate(ctx, Access::Manage, |_, org| {
            if !org.is_container(&parent) {
                return Err(parent_not_found());
            }
            // lineage includes the root: a new OU sits at depth lineage.len().
            if org.lineage(&parent).len() > MAX_OU_DEPTH {
                return Err(constraint(
                    "OU_DEPTH_LIMIT_EXCEEDED",
                    "You attempted to create an OU tree that is too many levels deep.",
                ));
            }
            if org
                .ous
                .values()
                .any(|o| o.parent == parent && o.name == name)
            {
                return Err(err(
                    "DuplicateOrganizationalUnitException",
                    "An OU with the same name already exists.",
                ));
            }
            let ou = OuDoc {
                id: ou_id(org),
                name: name.clone(),
                parent: parent.clone(),
                tags,
            };
            org.ous.insert(ou.id.clone(), ou.clone());
            org.default_attach(&ou.id);
            Ok(json!({"OrganizationalUnit": org.ou_view(&ou)}))
        })
    }

    pub(super) fn describe_ou(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "OrganizationalUnitId")?;
        let org = self.read(ctx, Access::Read)?;
        let ou = org.ous.get(id).ok_or_else(ou_not_found)?;
        Ok(json!({"OrganizationalUnit": org.ou_view(ou)}))
    }

    pub(super) fn update_ou(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "OrganizationalUnitId")?.to_string();
        let name = s(i, "Name").map(str::to_string);
        self.mutate(ctx, Access::Manage, |_, org| {
            let mut ou = org.ous.get(&id).cloned().ok_or_else(ou_not_found)?;
            if let Some(n) = name {
                if org
                    .ous
                    .values()
                    .any(|o| o.parent == ou.parent && o.name == n && o.id != id)
                {
                    return Err(err(
                        "DuplicateOrganizationalUnitException",
                        "An OU with the same name already exists.",
                    ));
                }
                ou.name = n;
            }
            org.ous.insert(id.clone(), ou.clone());
            Ok(json!({"OrganizationalUnit": org.ou_view(&ou)}))
        })
    }

    pub(super) fn delete_ou(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "OrganizationalUnitId")?.to_string();
        self.mutate(ctx, Access::Manage, |_, org| {
            if !org.ous.contains_key(&id) {
                return Err(ou_not_found());
            }
            if org.ous.values().any(|o| o.parent == id)
                || org.accounts.values().any(|a| a.parent == id)
            {
                return Err(err(
                    "OrganizationalUnitNotEmptyException",
                    "The specified OU is not empty. Move all accounts to another root or to other OUs, remove all child OUs, and try the operation again.",
                ));
            }
            org.ous.remove(&id);
            org.drop_target(&id);
            Ok(json!({}))
        })
    }

    pub(super) fn list_ous_for_parent(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let parent = req(i, "ParentId")?;
        let org = self.read(ctx, Access::Read)?;
        if !org.is_container(parent) {
            return Err(parent_not_found());
        }
        let ous: Vec<&OuDoc> = org.ous.values().filter(|o| o.parent == parent).collect();
        let (items, next) = page(&ous, i, |o| o.id.clone())?;
        let views = items.iter().map(|o| org.ou_view(o)).collect();
        Ok(page_out("OrganizationalUnits", views, next))
    }

    pub(super) fn list_parents(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let child = req(i, "ChildId")?;
        let org = self.read(ctx, Access::Read)?;
        let parent = match (org.ous.get(child), org.accounts.get(child)) {
            (Some(o), _) => o.parent.clone(),
            (None, Some(a)) => a.parent.clone(),
            (None, None) => {
                return Err(err(
                    "ChildNotFoundException",
                    "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
                ))
            }
        };
        let ptype = if parent == org.root_id {
            "ROOT"
        } else {
            "ORGANIZATIONAL_UNIT"
        };
        Ok(page_out(
            "Parents",
            vec![json!({"Id": parent, "Type": ptype})],
            None,
        ))
    }

    pub(super) fn list_children(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let parent = req(i, "ParentId")?;
        let ctype = req(i, "ChildType")?;
        let org = self.read(ctx, Access::Read)?;
        if !org.is_container(parent) {
            return Err(parent_not_found());
        }
        let ids: Vec<String> = match ctype {
            "ACCOUNT" => org
                .accounts
                .values()
                .filter(|a| a.parent == parent)
                .map(|a| a.id.clone())
                .collect(),
            _ => org
                .ous
                .values()
                .filter(|o| o.parent == parent)
                .map(|o| o.id.clone())
                .collect(),
        };
        let (items, next) = page(&ids, i, Clone::clone)?;
        let views = items
            .iter()
            .map(|id| json!({"Id": id, "Type": ctype}))
            .collect();
        Ok(page_out("Children", views, next))
    }

    // ------------------------------------------------------------ accounts

    /// Creates the role the management account uses to administer a new
    /// member account, through IAM's own API as the member's root.
    fn create_access_role(
        &self,
        ctx: &Ctx<'_>,
        account: &str,
        master: &str,
        role: &str,
    ) -> Result<(), AwsError> {
        let caller = Caller {
            account: account.to_string(),
            kind: PrincipalKind::Root,
            access_key_id: String::new(),
            session: None,
        };
        let member_ctx = Ctx {
            caller: &caller,
            region: ctx.region,
            request_id: ctx.request_id,
            now: ctx.now,
        };
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{master}:root")},
                "Action": "sts:AssumeRole",
            }],
        });
        self.iam.call(
            &member_ctx,
            "CreateRole",
            json!({"RoleName": role, "AssumeRolePolicyDocument": trust.to_string()}),
        )?;
        self.iam.call(
            &member_ctx,
            "AttachRolePolicy",
            json!({"RoleName": role, "PolicyArn": ADMIN_POLICY}),
        )?;
        Ok(())
    }

    pub(super) fn create_account(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let email = req(i, "Email")?.to_string();
        let name = req(i, "AccountName")?.to_string();
        let role = s(i, "RoleName").unwrap_or(DEFAULT_ROLE).to_string();
        let tags = input_tags(i)?;
        let org = self.read(ctx, Access::Manage)?;
        if org.feature_set != "ALL" && s(i, "RoleName").is_some() {
            // AWS creates the role only in all-features organizations; keep
            // going either way.
            tracing::debug!("organizations: RoleName in a consolidated-billing organization");
        }
        let now = util::iso(ctx.now);
        let request = CreateStatus {
            id: format!("car-{}", hex(32)),
            account_name: name.clone(),
            state: "IN_PROGRESS".into(),
            requested: now.clone(),
            completed: None,
            account_id: None,
            failure: None,
        };
        let mut outcome = request.clone();
        outcome.completed = Some(now.clone());
        match self.accounts.create_member(&name, &email, &now)? {
            None => {
                outcome.state = "FAILED".into();
                outcome.failure = Some("EMAIL_ALREADY_EXISTS".into());
            }
            Some(acct) => match self.create_access_role(ctx, &acct.id, &org.master, &role) {
                Err(e) => {
                    tracing::error!(error = %e, account = %acct.id, "organizations: creating the access role failed");
                    outcome.state = "FAILED".into();
                    outcome.failure = Some("INTERNAL_FAILURE".into());
                }
                Ok(()) => {
                    outcome.state = "SUCCEEDED".into();
                    outcome.account_id = Some(acct.id.clone());
                }
            },
        }
        self.mutate(ctx, Access::Manage, |tx, org| {
            if let Some(id) = &outcome.account_id {
                org.accounts.insert(
                    id.clone(),
                    AcctDoc {
                        id: id.clone(),
                        name: name.clone(),
                        email: email.clone(),
                        parent: org.root_id.clone(),
                        joined_method: "CREATED".into(),
                        joined: now.clone(),
                        tags,
                    },
                );
                org.default_attach(id);
                tx_put_member(tx, id, &org.id)?;
            }
            org.requests.push(outcome);
            Ok(())
        })?;
        // AWS creates accounts asynchronously: the answer is always
        // IN_PROGRESS; DescribeCreateAccountStatus reports the outcome.
        Ok(json!({"CreateAccountStatus": request.view()}))
    }

    pub(super) fn describe_create_account_status(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let id = req(i, "CreateAccountRequestId")?;
        let org = self.read(ctx, Access::Read)?;
        let st = org.requests.iter().find(|r| r.id == id).ok_or_else(|| {
            err(
                "CreateAccountStatusNotFoundException",
                "We can't find an create account request with the CreateAccountRequestId that you specified.",
            )
        })?;
        Ok(json!({"CreateAccountStatus": st.view()}))
    }

    pub(super) fn list_create_account_status(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let org = self.read(ctx, Access::Read)?;
        let states: Vec<&str> = list(i, "States").iter().filter_map(Value::as_str).collect();
        let mut rows: Vec<&CreateStatus> = org
            .requests
            .iter()
            .filter(|r| states.is_empty() || states.contains(&r.state.as_str()))
            .collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let (items, next) = page(&rows, i, |r| r.id.clone())?;
        let views = items.iter().map(|r| r.view()).collect();
        Ok(page_out("CreateAccountStatuses", views, next))
    }

    pub(super) fn list_accounts(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let org = self.read(ctx, Access::Read)?;
        let accts: Vec<&AcctDoc> = org.accounts.values().collect();
        let (items, next) = page(&accts, i, |a| a.id.clone())?;
        let views = items.iter().map(|a| org.account_view(a)).collect();
        Ok(page_out("Accounts", views, next))
    }

    pub(super) fn list_accounts_for_parent(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let parent = req(i, "ParentId")?;
        let org = self.read(ctx, Access::Read)?;
        if !org.is_container(parent) {
            return Err(parent_not_found());
        }
        let accts: Vec<&AcctDoc> = org
            .accounts
            .values()
            .filter(|a| a.parent == parent)
            .collect();
        let (items, next) = page(&accts, i, |a| a.id.clone())?;
        let views = items.iter().map(|a| org.account_view(a)).collect();
        Ok(page_out("Accounts", views, next))
    }

    pub(super) fn describe_account(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "AccountId")?;
        let org = self.read(ctx, Access::Read)?;
        let a = org.accounts.get(id).ok_or_else(account_not_found)?;
        Ok(json!({"Account": org.account_view(a)}))
    }

    pub(super) fn move_account(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "AccountId")?.to_string();
        let src = req(i, "SourceParentId")?.to_string();
        let dst = req(i, "DestinationParentId")?.to_string();
        self.mutate(ctx, Access::Manage, |_, org| {
            if !org.is_container(&src) {
                return Err(err(
                    "SourceParentNotFoundException",
                    "We can't find a source root or OU with the ParentId that you specified.",
                ));
            }
            if !org.is_container(&dst) {
                return Err(err(
                    "DestinationParentNotFoundException",
                    "We can't find the destination container (a root or OU) with the ParentId that you specified.",
                ));
            }
            let a = org.accounts.get_mut(&id).ok_or_else(account_not_found)?;
            if a.parent != src {
                return Err(account_not_found());
            }
            if a.parent == dst {
                return Err(err(
                    "DuplicateAccountException",
                    "That account is already present in the specified destination.",
                ));
            }
            a.parent = dst;
            Ok(json!({}))
        })
    }

    pub(super) fn remove_account(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "AccountId")?.to_string();
        self.mutate(ctx, Access::Manage, |tx, org| {
            if !org.accounts.contains_key(&id) {
                return Err(account_not_found());
            }
            if id == org.master {
                return Err(err(
                    "MasterCannotLeaveOrganizationException",
                    "You can't remove a management account from an organization. If you want the management account to become a member account in another organization, you must first delete the current organization of the management account.",
                ));
            }
            if org.is_delegated_admin(&id) {
                return Err(constraint(
                    "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG",
                    "You cannot remove an account that is a delegated administrator for a service. Deregister it first.",
                ));
            }
            org.accounts.remove(&id);
            org.drop_target(&id);
            tx_del_member(tx, &id)?;
            Ok(json!({}))
        })
    }

    // ------------------------------------------------------------ service access

    pub(super) fn enable_service_access(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let p = req(i, "ServicePrincipal")?.to_string();
        check_principal(&p)?;
        let now = util::iso(ctx.now);
        self.mutate(ctx, Access::Manage, |_, org| {
            if org.feature_set != "ALL" {
                return Err(constraint(
                    "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE",
                    "This operation requires the organization to have all features enabled.",
                ));
            }
            org.services.entry(p).or_insert(now);
            Ok(json!({}))
        })
    }

    pub(super) fn disable_service_access(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let p = req(i, "ServicePrincipal")?.to_string();
        check_principal(&p)?;
        self.mutate(ctx, Access::Manage, |_, org| {
            org.services.remove(&p);
            Ok(json!({}))
        })
    }

    pub(super) fn list_service_access(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let org = self.read(ctx, Access::Read)?;
        let rows: Vec<(String, String)> = org
            .services
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (items, next) = page(&rows, i, |(k, _)| k.clone())?;
        let views = items
            .iter()
            .map(|(p, d)| json!({"ServicePrincipal": p, "DateEnabled": d}))
            .collect();
        Ok(page_out("EnabledServicePrincipals", views, next))
    }

    pub(super) fn register_delegated_admin(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let id = req(i, "AccountId")?.to_string();
        let p = req(i, "ServicePrincipal")?.to_string();
        check_principal(&p)?;
        let now = util::iso(ctx.now);
        self.mutate(ctx, Access::Manage, |_, org| {
            if !org.accounts.contains_key(&id) {
                return Err(account_not_found());
            }
            if id == org.master {
                return Err(constraint(
                    "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR",
                    "You cannot register the management account of the organization as a delegated administrator for an AWS service.",
                ));
            }
            if !org.services.contains_key(&p) {
                return Err(constraint(
                    "SERVICE_ACCESS_NOT_ENABLED",
                    "You attempted to register a delegated administrator for a service that does not have trusted access enabled in the organization.",
                ));
            }
            if org
                .delegated
                .iter()
                .any(|d| d.account == id && d.principal == p)
            {
                return Err(err(
                    "AccountAlreadyRegisteredException",
                    "The provided account is already a delegated administrator for your organization.",
                ));
            }
            org.delegated.push(Delegation {
                account: id.clone(),
                principal: p.clone(),
                date: now,
            });
            Ok(json!({}))
        })
    }

    pub(super) fn deregister_delegated_admin(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let id = req(i, "AccountId")?.to_string();
        let p = req(i, "ServicePrincipal")?.to_string();
        check_principal(&p)?;
        self.mutate(ctx, Access::Manage, |_, org| {
            if !org.accounts.contains_key(&id) {
                return Err(account_not_found());
            }
            let before = org.delegated.len();
            org.delegated
                .retain(|d| !(d.account == id && d.principal == p));
            if org.delegated.len() == before {
                return Err(err(
                    "AccountNotRegisteredException",
                    "The provided account is not a registered delegated administrator for this service.",
                ));
            }
            Ok(json!({}))
        })
    }

    pub(super) fn list_delegated_admins(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let org = self.read(ctx, Access::Read)?;
        let filter = s(i, "ServicePrincipal");
        if let Some(p) = filter {
            check_principal(p)?;
        }
        // One row per account, with its earliest delegation date.
        let mut rows: std::collections::BTreeMap<String, String> = Default::default();
        for d in &org.delegated {
            if filter.is_some_and(|f| f != d.principal) {
                continue;
            }
            let e = rows
                .entry(d.account.clone())
                .or_insert_with(|| d.date.clone());
            if d.date < *e {
                *e = d.date.clone();
            }
        }
        let rows: Vec<(String, String)> = rows.into_iter().collect();
        let (items, next) = page(&rows, i, |(a, _)| a.clone())?;
        let mut views = Vec::new();
        for (id, date) in items {
            if let Some(a) = org.accounts.get(&id) {
                let mut v = org.account_view(a);
                if let Some(m) = v.as_object_mut() {
                    m.remove("Paths");
                    m.insert("DelegationEnabledDate".into(), json!(date));
                }
                views.push(v);
            }
        }
        Ok(page_out("DelegatedAdministrators", views, next))
    }

    pub(super) fn list_delegated_services(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let id = req(i, "AccountId")?;
        let org = self.read(ctx, Access::Read)?;
        if !org.accounts.contains_key(id) {
            return Err(account_not_found());
        }
        let rows: Vec<&Delegation> = org.delegated.iter().filter(|d| d.account == id).collect();
        if rows.is_empty() {
            return Err(err(
                "AccountNotRegisteredException",
                "The provided account is not a registered delegated administrator for this service.",
            ));
        }
        let (items, next) = page(&rows, i, |d| d.principal.clone())?;
        let views = items
            .iter()
            .map(|d| json!({"ServicePrincipal": d.principal, "DelegationEnabledDate": d.date}))
            .collect();
        Ok(page_out("DelegatedServices", views, next))
    }

    // ------------------------------------------------------------ policies

    pub(super) fn enable_policy_type(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let root = req(i, "RootId")?.to_string();
        let ptype = req(i, "PolicyType")?.to_string();
        self.mutate(ctx, Access::Manage, |_, org| {
            if root != org.root_id {
                return Err(root_not_found());
            }
            if org.feature_set != "ALL" {
                return Err(err(
                    "PolicyTypeNotAvailableForOrganizationException",
                    "You can't use the specified policy type with the feature set currently enabled for this organization.",
                ));
            }
            if org.policy_types.contains(&ptype) {
                return Err(err(
                    "PolicyTypeAlreadyEnabledException",
                    "The specified policy type is already enabled in the specified root.",
                ));
            }
            org.policy_types.push(ptype.clone());
            if ptype == SCP {
                let mut targets: Vec<String> = vec![org.root_id.clone()];
                targets.extend(org.ous.keys().cloned());
                targets.extend(org.accounts.keys().cloned());
                for t in targets {
                    org.attachments.insert((t, FULL_ACCESS_ID.to_string()));
                }
            }
            Ok(json!({"Root": org.root_view()}))
        })
    }

    pub(super) fn disable_policy_type(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let root = req(i, "RootId")?.to_string();
        let ptype = req(i, "PolicyType")?.to_string();
        self.mutate(ctx, Access::Manage, |_, org| {
            if root != org.root_id {
                return Err(root_not_found());
            }
            if !org.policy_types.contains(&ptype) {
                return Err(err(
                    "PolicyTypeNotEnabledException",
                    "This operation can be performed only for enabled policy types.",
                ));
            }
            org.policy_types.retain(|t| *t != ptype);
            let of_type: Vec<(String, String)> = org
                .attachments
                .iter()
                .filter(|(_, p)| org.policy(p).is_some_and(|d| d.ptype == ptype))
                .cloned()
                .collect();
            for a in of_type {
                org.attachments.remove(&a);
            }
            Ok(json!({"Root": org.root_view()}))
        })
    }

    pub(super) fn create_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let content = req(i, "Content")?.to_string();
        let description = s(i, "Description").unwrap_or("").to_string();
        let name = req(i, "Name")?.to_string();
        let ptype = req(i, "Type")?.to_string();
        let tags = input_tags(i)?;
        self.mutate(ctx, Access::Manage, |_, org| {
            if org.feature_set != "ALL" {
                return Err(err(
                    "PolicyTypeNotAvailableForOrganizationException",
                    "You can't use the specified policy type with the feature set currently enabled for this organization.",
                ));
            }
            check_content(&ptype, &content)?;
            if org
                .policies
                .values()
                .any(|p| p.ptype == ptype && p.name == name)
                || (ptype == SCP && name == "FullAWSAccess")
            {
                return Err(err(
                    "DuplicatePolicyException",
                    "A policy with the same name already exists.",
                ));
            }
            let p = PolicyDoc {
                id: policy_id(org),
                name: name.clone(),
                description: description.clone(),
                ptype: ptype.clone(),
                content: content.clone(),
                tags,
                aws_managed: false,
            };
            org.policies.insert(p.id.clone(), p.clone());
            Ok(json!({"Policy": {"PolicySummary": org.policy_summary(&p), "Content": p.content}}))
        })
    }

    pub(super) fn describe_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "PolicyId")?;
        let org = self.read(ctx, Access::Read)?;
        let p = org.policy(id).ok_or_else(policy_not_found)?;
        Ok(json!({"Policy": {"PolicySummary": org.policy_summary(&p), "Content": p.content}}))
    }

    pub(super) fn update_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "PolicyId")?.to_string();
        let name = s(i, "Name").map(str::to_string);
        let description = s(i, "Description").map(str::to_string);
        let content = s(i, "Content").map(str::to_string);
        self.mutate(ctx, Access::Manage, |_, org| {
            if id == FULL_ACCESS_ID {
                return Err(invalid_input(
                    "IMMUTABLE_POLICY",
                    "You specified a policy that is managed by AWS and can't be modified.",
                ));
            }
            let mut p = org
                .policies
                .get(&id)
                .cloned()
                .ok_or_else(policy_not_found)?;
            if let Some(c) = content {
                check_content(&p.ptype, &c)?;
                p.content = c;
            }
            if let Some(n) = name {
                if org
                    .policies
                    .values()
                    .any(|o| o.ptype == p.ptype && o.name == n && o.id != id)
                {
                    return Err(err(
                        "DuplicatePolicyException",
                        "A policy with the same name already exists.",
                    ));
                }
                p.name = n;
            }
            if let Some(d) = description {
                p.description = d;
            }
            org.policies.insert(id.clone(), p.clone());
            Ok(json!({"Policy": {"PolicySummary": org.policy_summary(&p), "Content": p.content}}))
        })
    }

    pub(super) fn delete_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "PolicyId")?.to_string();
        self.mutate(ctx, Access::Manage, |_, org| {
            if id == FULL_ACCESS_ID {
                return Err(invalid_input(
                    "IMMUTABLE_POLICY",
                    "You specified a policy that is managed by AWS and can't be modified.",
                ));
            }
            if !org.policies.contains_key(&id) {
                return Err(policy_not_found());
            }
            if org.attachments.iter().any(|(_, p)| *p == id) {
                return Err(err(
                    "PolicyInUseException",
                    "The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.",
                ));
            }
            org.policies.remove(&id);
            Ok(json!({}))
        })
    }

    pub(super) fn list_policies(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let ptype = req(i, "Filter")?;
        let org = self.read(ctx, Access::Read)?;
        let mut rows: Vec<PolicyDoc> = Vec::new();
        if ptype == SCP {
            rows.push(full_access());
        }
        rows.extend(org.policies.values().filter(|p| p.ptype == ptype).cloned());
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        let (items, next) = page(&rows, i, |p| p.id.clone())?;
        let views = items.iter().map(|p| org.policy_summary(p)).collect();
        Ok(page_out("Policies", views, next))
    }

    pub(super) fn attach_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let pid = req(i, "PolicyId")?.to_string();
        let target = req(i, "TargetId")?.to_string();
        self.mutate(ctx, Access::Manage, |_, org| {
            let p = org.policy(&pid).ok_or_else(policy_not_found)?;
            if !org.is_target(&target) {
                return Err(target_not_found());
            }
            if !org.policy_types.contains(&p.ptype) {
                return Err(err(
                    "PolicyTypeNotEnabledException",
                    "This operation can be performed only for enabled policy types.",
                ));
            }
            let key = (target.clone(), pid.clone());
            if org.attachments.contains(&key) {
                return Err(err(
                    "DuplicatePolicyAttachmentException",
                    "The selected policy is already attached to the specified target.",
                ));
            }
            if p.ptype == SCP && org.attached(&target, SCP).len() >= MAX_SCPS_PER_TARGET {
                return Err(constraint(
                    "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                    "You attempted to exceed the number of policies of a certain type that can be attached to an entity at one time.",
                ));
            }
            org.attachments.insert(key);
            Ok(json!({}))
        })
    }

    pub(super) fn detach_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let pid = req(i, "PolicyId")?.to_string();
        let target = req(i, "TargetId")?.to_string();
        self.mutate(ctx, Access::Manage, |_, org| {
            let p = org.policy(&pid).ok_or_else(policy_not_found)?;
            if !org.is_target(&target) {
                return Err(target_not_found());
            }
            let key = (target.clone(), pid.clone());
            if !org.attachments.contains(&key) {
                return Err(err(
                    "PolicyNotAttachedException",
                    "The policy isn't attached to the specified target in the specified root.",
                ));
            }
            if p.ptype == SCP && org.scp_enabled() && org.attached(&target, SCP).len() <= 1 {
                return Err(constraint(
                    "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                    "You attempted to detach a policy from an entity that would leave it with fewer than the minimum number of policies of that type (one service control policy).",
                ));
            }
            org.attachments.remove(&key);
            Ok(json!({}))
        })
    }

    pub(super) fn list_policies_for_target(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let target = req(i, "TargetId")?;
        let ptype = req(i, "Filter")?;
        let org = self.read(ctx, Access::Read)?;
        if !org.is_target(target) {
            return Err(target_not_found());
        }
        let rows = org.attached(target, ptype);
        let (items, next) = page(&rows, i, |p| p.id.clone())?;
        let views = items.iter().map(|p| org.policy_summary(p)).collect();
        Ok(page_out("Policies", views, next))
    }

    pub(super) fn list_targets_for_policy(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let pid = req(i, "PolicyId")?;
        let org = self.read(ctx, Access::Read)?;
        if org.policy(pid).is_none() {
            return Err(policy_not_found());
        }
        let targets: Vec<String> = org
            .attachments
            .iter()
            .filter(|(_, p)| p == pid)
            .map(|(t, _)| t.clone())
            .collect();
        let (items, next) = page(&targets, i, Clone::clone)?;
        let mut views = Vec::new();
        for t in items {
            let (ttype, name) = match super::id_kind(&t) {
                IdKind::Root => ("ROOT", "Root".to_string()),
                IdKind::Ou => (
                    "ORGANIZATIONAL_UNIT",
                    org.ous.get(&t).map(|o| o.name.clone()).unwrap_or_default(),
                ),
                _ => (
                    "ACCOUNT",
                    org.accounts
                        .get(&t)
                        .map(|a| a.name.clone())
                        .unwrap_or_default(),
                ),
            };
            views.push(json!({"TargetId": t, "Arn": org.arn_of(&t), "Name": name, "Type": ttype}));
        }
        Ok(page_out("Targets", views, next))
    }

    // ------------------------------------------------------------ tags

    pub(super) fn tag_resource(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "ResourceId")?.to_string();
        let new = input_tags(i)?;
        self.mutate(ctx, Access::Manage, |_, org| {
            let tags = tags_of(org, &id)?;
            for (k, v) in new {
                match tags.iter_mut().find(|(ek, _)| *ek == k) {
                    Some(e) => e.1 = v,
                    None => tags.push((k, v)),
                }
            }
            if tags.len() > MAX_TAGS {
                return Err(constraint(
                    "MAX_TAG_LIMIT_EXCEEDED",
                    "You have exceeded the maximum number of tags allowed on this resource.",
                ));
            }
            Ok(json!({}))
        })
    }

    pub(super) fn untag_resource(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "ResourceId")?.to_string();
        let keys: Vec<String> = list(i, "TagKeys")
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        self.mutate(ctx, Access::Manage, |_, org| {
            let tags = tags_of(org, &id)?;
            tags.retain(|(k, _)| !keys.contains(k));
            Ok(json!({}))
        })
    }

    pub(super) fn list_tags(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let id = req(i, "ResourceId")?;
        let mut org = self.read(ctx, Access::Read)?;
        let mut tags = tags_of(&mut org, id)?.clone();
        tags.sort();
        let (items, next) = page(&tags, i, |(k, _)| k.clone())?;
        Ok(page_out(
            "Tags",
            items
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect(),
            next,
        ))
    }
}
