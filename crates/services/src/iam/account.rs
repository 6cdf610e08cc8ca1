//! Account-wide views: GetAccountAuthorizationDetails and GetAccountSummary.

use serde_json::{json, Map, Value};

use super::model::{boundary_value, GroupDoc, InlineDoc, ProfileDoc, RoleDoc, UserDoc};
use super::{doc, key, page_out, Iam, GROUP, INLINE, PROFILE, ROLE, USER};
use crate::util::{list, paginate};
use crate::{util, AwsError, Ctx};

impl Iam {
    fn inline_list(&self, acct: &str, etype: &str, name: &str) -> Result<Value, AwsError> {
        Ok(Value::Array(
            self.all::<InlineDoc>(INLINE, acct, Some(&format!("{etype}/{}", key(name))))?
                .into_iter()
                .map(|p| json!({"PolicyName": p.name, "PolicyDocument": doc::url_encode(&p.document)}))
                .collect(),
        ))
    }

    pub(super) fn get_account_authorization_details(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let filter: Vec<&str> = list(i, "Filter").iter().filter_map(Value::as_str).collect();
        let want = |f: &str| filter.is_empty() || filter.contains(&f);
        // (section, sort key, item)
        let mut items: Vec<(u8, String, Value)> = Vec::new();
        if want("User") {
            for u in self.all::<UserDoc>(USER, acct, None)? {
                let mut m = u.brief(acct);
                m.insert(
                    "UserPolicyList".into(),
                    self.inline_list(acct, "user", &u.name)?,
                );
                m.insert("GroupList".into(), json!(u.groups));
                m.insert(
                    "AttachedManagedPolicies".into(),
                    self.attached_of(acct, "user", &u.name)?,
                );
                if let Some(b) = &u.boundary {
                    m.insert("PermissionsBoundary".into(), boundary_value(b));
                }
                m.insert("Tags".into(), util::tags_value(&u.tags));
                items.push((0, key(&u.name), Value::Object(m)));
            }
        }
        if want("Group") {
            for g in self.all::<GroupDoc>(GROUP, acct, None)? {
                let mut m = g.value(acct);
                m.insert(
                    "GroupPolicyList".into(),
                    self.inline_list(acct, "group", &g.name)?,
                );
                m.insert(
                    "AttachedManagedPolicies".into(),
                    self.attached_of(acct, "group", &g.name)?,
                );
                items.push((1, key(&g.name), Value::Object(m)));
            }
        }
        if want("Role") {
            let profiles = self.all::<ProfileDoc>(PROFILE, acct, None)?;
            for r in self.all::<RoleDoc>(ROLE, acct, None)? {
                let mut m = r.brief(acct);
                m.remove("Description");
                m.remove("MaxSessionDuration");
                let rk = key(&r.name);
                let mut ips = Vec::new();
                for p in profiles.iter().filter(|p| p.roles.contains(&rk)) {
                    ips.push(self.profile_value(acct, p, false)?);
                }
                m.insert("InstanceProfileList".into(), Value::Array(ips));
                m.insert(
                    "RolePolicyList".into(),
                    self.inline_list(acct, "role", &r.name)?,
                );
                m.insert(
                    "AttachedManagedPolicies".into(),
                    self.attached_of(acct, "role", &r.name)?,
                );
                if let Some(b) = &r.boundary {
                    m.insert("PermissionsBoundary".into(), boundary_value(b));
                }
                m.insert("Tags".into(), util::tags_value(&r.tags));
                m.insert("RoleLastUsed".into(), r.last_used_value());
                items.push((2, rk, Value::Object(m)));
            }
        }
        let (local, aws) = (want("LocalManagedPolicy"), want("AWSManagedPolicy"));
        if local || aws {
            let usage = self.usage(acct)?;
            let mut arns: Vec<String> = Vec::new();
            if local {
                arns.extend(self.local_policies(acct)?.iter().map(|p| p.arn(acct)));
            }
            if aws {
                // AWS lists the AWS-managed policies in use in the account.
                let mut used: Vec<String> = usage
                    .iter()
                    .filter(|(arn, (a, b))| arn.starts_with("arn:aws:iam::aws:") && a + b > 0)
                    .map(|(arn, _)| arn.clone())
                    .collect();
                used.sort();
                arns.extend(used);
            }
            for arn in arns {
                if let Some(v) = self.policy_detail(acct, &arn, &usage)? {
                    items.push((3, arn, v));
                }
            }
        }
        items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let (page, next) = paginate(&items, i, |(s, k, _)| format!("{s}/{k}"))?;
        let section = |n: u8| {
            Value::Array(
                page.iter()
                    .filter(|x| x.0 == n)
                    .map(|x| x.2.clone())
                    .collect(),
            )
        };
        let mut out = Map::new();
        out.insert("UserDetailList".into(), section(0));
        out.insert("GroupDetailList".into(), section(1));
        out.insert("RoleDetailList".into(), section(2));
        out.insert("Policies".into(), section(3));
        Ok(page_out(out, next))
    }

    pub(super) fn get_account_summary(&self, ctx: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let users = self.all::<UserDoc>(USER, acct, None)?.len();
        let groups = self.all::<GroupDoc>(GROUP, acct, None)?.len();
        let roles = self.all::<RoleDoc>(ROLE, acct, None)?.len();
        let profiles = self.all::<ProfileDoc>(PROFILE, acct, None)?.len();
        let policies = self.local_policies(acct)?;
        let versions: usize = policies.iter().map(|p| p.versions.len()).sum();
        let root_keys = self
            .creds
            .keys_where(|k| {
                k.caller.account == acct && k.caller.is_root() && k.caller.session.is_none()
            })
            .len();
        Ok(json!({"SummaryMap": {
            "Users": users,
            "UsersQuota": 5000,
            "Groups": groups,
            "GroupsQuota": 300,
            "Roles": roles,
            "RolesQuota": 1000,
            "InstanceProfiles": profiles,
            "InstanceProfilesQuota": 1000,
            "Policies": policies.len(),
            "PoliciesQuota": 1500,
            "PolicySizeQuota": 6144,
            "PolicyVersionsInUse": versions,
            "PolicyVersionsInUseQuota": 10000,
            "VersionsPerPolicyQuota": 5,
            "AttachedPoliciesPerRoleQuota": 10,
            "AttachedPoliciesPerUserQuota": 10,
            "AttachedPoliciesPerGroupQuota": 10,
            "AccessKeysPerUserQuota": 2,
            "GroupsPerUserQuota": 10,
            "UserPolicySizeQuota": 2048,
            "GroupPolicySizeQuota": 5120,
            "AccountAccessKeysPresent": i64::from(root_keys > 0),
            "AccountMFAEnabled": 0,
            "MFADevices": 0,
            "MFADevicesInUse": 0,
            "Providers": 0,
            "ServerCertificates": 0,
            "ServerCertificatesQuota": 20,
            "SigningCertificatesPerUserQuota": 2,
            "AssumeRolePolicySizeQuota": 2048,
            "RolePolicySizeQuota": 10240,
            "GlobalEndpointTokenVersion": 1,
        }}))
    }
}
