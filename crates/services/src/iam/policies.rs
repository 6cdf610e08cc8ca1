//! Managed policies: customer-managed (with versions) and AWS-managed;
//! attachments to roles, users and groups.

use std::collections::HashMap;

use ironsage_policy::PolicyKind;
use ironsage_store::Tx;
use serde_json::{json, Map, Value};

use super::aws_managed::{self, AwsPolicy};
use super::inline::Owner;
use super::model::{
    version_value, AttachDoc, GroupDoc, PolicyDoc, PolicyView, RoleDoc, UserDoc, VersionDoc,
};
use super::{
    conflict, doc, exists, input_tags, key, limit, merge_tags, no_such, page_out, path_in,
    remove_tags, tags_page, tdel, tget, tlist, tput, unmodifiable, Iam, ATTACH, GROUP, POLICY,
    ROLE, USER,
};
use crate::util::{boolean, paginate, req, s};
use crate::{ids, util, AwsError, Ctx};

const POLICY_TAGS: &str = "TagsPerPolicy";
const MAX_VERSIONS: usize = 5;
const MAX_ATTACHED: usize = 10;

/// `arn:aws:iam::<acct>:policy<path><name>` → (acct, path, name); `None` for
/// anything else, including AWS-managed ARNs.
pub(crate) fn parse_arn(arn: &str) -> Option<(String, String, String)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (acct, res) = rest.split_once(':')?;
    if acct.len() != 12 || !acct.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pn = res.strip_prefix("policy")?;
    if !pn.starts_with('/') {
        return None;
    }
    let cut = pn.rfind('/')?;
    let (path, name) = (pn.get(..=cut)?, pn.get(cut + 1..)?);
    if name.is_empty() {
        return None;
    }
    Some((acct.to_string(), path.to_string(), name.to_string()))
}

/// Name and path of any managed policy ARN (customer or AWS).
fn name_and_path(arn: &str) -> (String, String) {
    let res = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let pn = res.strip_prefix("policy").unwrap_or(res);
    match pn.rfind('/') {
        Some(cut) => (
            pn.get(cut + 1..).unwrap_or_default().to_string(),
            pn.get(..=cut).unwrap_or("/").to_string(),
        ),
        None => (pn.to_string(), "/".to_string()),
    }
}

fn not_found(arn: &str) -> AwsError {
    no_such(format!("Policy {arn} was not found."))
}

fn not_attachable(arn: &str) -> AwsError {
    no_such(format!("Policy {arn} does not exist or is not attachable."))
}

fn aws_unmodifiable(arn: &str) -> AwsError {
    unmodifiable(format!(
        "Policy {arn} is an AWS managed policy and cannot be modified."
    ))
}

/// A customer-managed policy of `acct` by ARN, inside a transaction.
fn tpolicy(tx: &Tx<'_>, acct: &str, arn: &str) -> Result<Option<PolicyDoc>, AwsError> {
    let Some((pacct, _, name)) = parse_arn(arn) else {
        return Ok(None);
    };
    if pacct != acct {
        return Ok(None);
    }
    Ok(tget::<PolicyDoc>(tx, POLICY, acct, &key(&name))?.filter(|p| p.arn(acct) == arn))
}

/// Either kind of managed policy.
enum Managed {
    Aws(&'static AwsPolicy),
    Local(Box<PolicyDoc>),
}

fn tmanaged(tx: &Tx<'_>, acct: &str, arn: &str) -> Result<Option<Managed>, AwsError> {
    if let Some(a) = aws_managed::get(arn)? {
        return Ok(Some(Managed::Aws(a)));
    }
    Ok(tpolicy(tx, acct, arn)?.map(|p| Managed::Local(Box::new(p))))
}

/// (attachments, boundary uses) per policy ARN in an account.
type Usage = HashMap<String, (usize, usize)>;

fn view_local<'a>(p: &'a PolicyDoc, acct: &str, usage: &Usage) -> PolicyView<'a> {
    let arn = p.arn(acct);
    let (a, b) = usage.get(&arn).copied().unwrap_or_default();
    PolicyView {
        name: &p.name,
        id: &p.id,
        arn,
        path: &p.path,
        default_version: &p.default_version,
        attachments: a,
        boundary_uses: b,
        description: p.description.as_deref(),
        created: &p.created,
        updated: &p.updated,
    }
}

fn view_aws(p: &'static AwsPolicy, usage: &Usage) -> PolicyView<'static> {
    let (a, b) = usage.get(&p.arn).copied().unwrap_or_default();
    PolicyView {
        name: &p.name,
        id: &p.id,
        arn: p.arn.clone(),
        path: &p.path,
        default_version: &p.default_version,
        attachments: a,
        boundary_uses: b,
        description: None,
        created: &p.created,
        updated: &p.updated,
    }
}

impl Iam {
    /// Fails unless `arn` names a managed policy usable as a boundary.
    pub(crate) fn check_boundary(
        &self,
        tx: &Tx<'_>,
        acct: &str,
        arn: &str,
    ) -> Result<(), AwsError> {
        if tmanaged(tx, acct, arn)?.is_none() {
            return Err(no_such(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            )));
        }
        Ok(())
    }

    /// Attachment and boundary counts of every policy used in `acct`.
    pub(crate) fn usage(&self, acct: &str) -> Result<Usage, AwsError> {
        let mut u: Usage = HashMap::new();
        for a in self.all::<AttachDoc>(ATTACH, acct, None)? {
            u.entry(a.arn).or_default().0 += 1;
        }
        for r in self.all::<RoleDoc>(ROLE, acct, None)? {
            if let Some(b) = r.boundary {
                u.entry(b).or_default().1 += 1;
            }
        }
        for x in self.all::<UserDoc>(USER, acct, None)? {
            if let Some(b) = x.boundary {
                u.entry(b).or_default().1 += 1;
            }
        }
        Ok(u)
    }

    fn read_managed(&self, acct: &str, arn: &str) -> Result<Option<Managed>, AwsError> {
        if let Some(a) = aws_managed::get(arn)? {
            return Ok(Some(Managed::Aws(a)));
        }
        let Some((pacct, _, name)) = parse_arn(arn) else {
            return Ok(None);
        };
        if pacct != acct {
            return Ok(None);
        }
        Ok(self
            .get::<PolicyDoc>(POLICY, acct, &key(&name))?
            .filter(|p| p.arn(acct) == arn)
            .map(|p| Managed::Local(Box::new(p))))
    }

    pub(super) fn create_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "PolicyName")?;
        let text = req(i, "PolicyDocument")?;
        doc::check_managed_size(text)?;
        doc::validate(text, PolicyKind::Identity)?;
        let now = util::iso(ctx.now);
        let p = PolicyDoc {
            name: name.to_string(),
            path: path_in(i, "Path"),
            id: ids::unique_id("ANPA"),
            description: s(i, "Description").map(str::to_string),
            created: now.clone(),
            updated: now.clone(),
            default_version: "v1".into(),
            next_version: 2,
            tags: input_tags(i)?,
            versions: vec![VersionDoc {
                id: "v1".into(),
                document: text.to_string(),
                created: now,
            }],
        };
        self.write(|tx| {
            if tget::<PolicyDoc>(tx, POLICY, acct, &key(name))?.is_some() {
                return Err(exists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            tput(tx, POLICY, acct, &key(name), None, &p)
        })?;
        let mut v = view_local(&p, acct, &Usage::new()).value();
        if !p.tags.is_empty() {
            v.insert("Tags".into(), util::tags_value(&p.tags));
        }
        Ok(json!({"Policy": v}))
    }

    pub(super) fn get_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let arn = req(i, "PolicyArn")?;
        let usage = self.usage(acct)?;
        let v = match self
            .read_managed(acct, arn)?
            .ok_or_else(|| not_found(arn))?
        {
            Managed::Aws(a) => view_aws(a, &usage).value(),
            Managed::Local(p) => {
                let mut v = view_local(&p, acct, &usage).value();
                if !p.tags.is_empty() {
                    v.insert("Tags".into(), util::tags_value(&p.tags));
                }
                v
            }
        };
        Ok(json!({"Policy": v}))
    }

    /// Applies `f` to the customer-managed policy `PolicyArn` in one
    /// transaction (AWS-managed policies are not modifiable).
    fn update_policy<T>(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        f: impl FnOnce(&Tx<'_>, &mut PolicyDoc) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let acct = ctx.caller.account.as_str();
        let arn = req(i, "PolicyArn")?;
        self.write(|tx| match tmanaged(tx, acct, arn)? {
            None => Err(not_found(arn)),
            Some(Managed::Aws(_)) => Err(aws_unmodifiable(arn)),
            Some(Managed::Local(mut p)) => {
                let out = f(tx, &mut p)?;
                tput(tx, POLICY, acct, &key(&p.name), None, &p)?;
                Ok(out)
            }
        })
    }

    pub(super) fn delete_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let arn = req(i, "PolicyArn")?;
        let usage = self.usage(acct)?;
        self.write(|tx| match tmanaged(tx, acct, arn)? {
            None => Err(not_found(arn)),
            Some(Managed::Aws(_)) => Err(aws_unmodifiable(arn)),
            Some(Managed::Local(p)) => {
                let (a, b) = usage.get(arn).copied().unwrap_or_default();
                if a + b > 0 {
                    return Err(conflict("Cannot delete a policy attached to entities."));
                }
                if p.versions.len() > 1 {
                    return Err(conflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."));
                }
                tdel(tx, POLICY, acct, &key(&p.name))?;
                Ok(())
            }
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_policies(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let scope = s(i, "Scope").unwrap_or("All");
        let only_attached = boolean(i, "OnlyAttached").unwrap_or(false);
        let prefix = s(i, "PathPrefix").unwrap_or("/");
        let usage_filter = s(i, "PolicyUsageFilter");
        let usage = self.usage(acct)?;
        let keep = |arn: &str, path: &str| -> bool {
            if !path.starts_with(prefix) {
                return false;
            }
            let (a, b) = usage.get(arn).copied().unwrap_or_default();
            let used = match usage_filter {
                Some("PermissionsPolicy") => a,
                Some("PermissionsBoundary") => b,
                _ => a + b,
            };
            !only_attached || used > 0
        };
        let mut items: Vec<(String, Value)> = Vec::new();
        if scope != "AWS" {
            for p in self.all::<PolicyDoc>(POLICY, acct, None)? {
                let arn = p.arn(acct);
                if keep(&arn, &p.path) {
                    let v = view_local(&p, acct, &usage).value();
                    items.push((format!("{}\u{0}{arn}", key(&p.name)), Value::Object(v)));
                }
            }
        }
        if scope != "Local" {
            for p in aws_managed::all()?.values() {
                if keep(&p.arn, &p.path) {
                    items.push((
                        format!("{}\u{0}{}", key(&p.name), p.arn),
                        Value::Object(view_aws(p, &usage).value()),
                    ));
                }
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (page, next) = paginate(&items, i, |(k, _)| k.clone())?;
        let mut out = Map::new();
        out.insert(
            "Policies".into(),
            Value::Array(page.into_iter().map(|(_, v)| v).collect()),
        );
        Ok(page_out(out, next))
    }

    pub(super) fn create_policy_version(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let text = req(i, "PolicyDocument")?;
        doc::check_managed_size(text)?;
        doc::validate(text, PolicyKind::Identity)?;
        let set_default = boolean(i, "SetAsDefault").unwrap_or(false);
        let now = util::iso(ctx.now);
        let v = self.update_policy(ctx, i, |_, p| {
            if p.versions.len() >= MAX_VERSIONS {
                return Err(limit("A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version."));
            }
            let v = VersionDoc {
                id: format!("v{}", p.next_version),
                document: text.to_string(),
                created: now.clone(),
            };
            p.next_version += 1;
            if set_default {
                p.default_version = v.id.clone();
                p.updated = now.clone();
            }
            p.versions.push(v.clone());
            Ok(v)
        })?;
        Ok(
            json!({"PolicyVersion": version_value(&v.id, &v.document, set_default, &v.created, false)}),
        )
    }

    pub(super) fn get_policy_version(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let arn = req(i, "PolicyArn")?;
        let vid = req(i, "VersionId")?;
        let missing = || {
            no_such(format!(
                "Policy {arn} version {vid} does not exist or is not attachable."
            ))
        };
        let v = match self.read_managed(acct, arn)?.ok_or_else(missing)? {
            Managed::Aws(a) if a.default_version == vid => {
                version_value(vid, &a.document, true, &a.created, true)
            }
            Managed::Aws(_) => return Err(missing()),
            Managed::Local(p) => {
                let v = p
                    .versions
                    .iter()
                    .find(|v| v.id == vid)
                    .ok_or_else(missing)?;
                version_value(
                    &v.id,
                    &v.document,
                    v.id == p.default_version,
                    &v.created,
                    true,
                )
            }
        };
        Ok(json!({"PolicyVersion": v}))
    }

    pub(super) fn list_policy_versions(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let arn = req(i, "PolicyArn")?;
        let versions: Vec<(String, Value)> = match self
            .read_managed(acct, arn)?
            .ok_or_else(|| not_found(arn))?
        {
            Managed::Aws(a) => vec![(
                a.default_version.clone(),
                version_value(&a.default_version, "", true, &a.created, false),
            )],
            Managed::Local(p) => {
                let mut vs: Vec<&VersionDoc> = p.versions.iter().collect();
                // Newest first, as IAM lists them.
                vs.sort_by_key(|v| {
                    std::cmp::Reverse(v.id.trim_start_matches('v').parse::<u32>().unwrap_or(0))
                });
                vs.iter()
                    .enumerate()
                    .map(|(n, v)| {
                        (
                            format!("{n:05}"),
                            version_value(
                                &v.id,
                                &v.document,
                                v.id == p.default_version,
                                &v.created,
                                false,
                            ),
                        )
                    })
                    .collect()
            }
        };
        let (page, next) = paginate(&versions, i, |(k, _)| k.clone())?;
        let mut out = Map::new();
        out.insert(
            "Versions".into(),
            Value::Array(page.into_iter().map(|(_, v)| v).collect()),
        );
        Ok(page_out(out, next))
    }

    pub(super) fn delete_policy_version(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let arn = req(i, "PolicyArn")?.to_string();
        let vid = req(i, "VersionId")?;
        self.update_policy(ctx, i, |_, p| {
            if !p.versions.iter().any(|v| v.id == vid) {
                return Err(no_such(format!(
                    "Policy {arn} version {vid} does not exist or is not attachable."
                )));
            }
            if p.default_version == vid {
                return Err(conflict("Cannot delete the default version of a policy."));
            }
            p.versions.retain(|v| v.id != vid);
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn set_default_policy_version(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let arn = req(i, "PolicyArn")?.to_string();
        let vid = req(i, "VersionId")?;
        let now = util::iso(ctx.now);
        self.update_policy(ctx, i, |_, p| {
            if !p.versions.iter().any(|v| v.id == vid) {
                return Err(no_such(format!(
                    "Policy {arn} version {vid} does not exist or is not attachable."
                )));
            }
            if p.default_version != vid {
                p.default_version = vid.to_string();
                p.updated = now;
            }
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn attach(&self, ctx: &Ctx<'_>, i: &Value, owner: Owner) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, owner.member())?;
        let arn = req(i, "PolicyArn")?;
        self.write(|tx| {
            let real = owner.load(tx, acct, name, true)?;
            if tmanaged(tx, acct, arn)?.is_none() {
                return Err(not_attachable(arn));
            }
            let parent = owner.parent(name);
            let k = format!("{parent}/{arn}");
            if tget::<AttachDoc>(tx, ATTACH, acct, &k)?.is_some() {
                return Ok(());
            }
            if tlist::<AttachDoc>(tx, ATTACH, acct, Some(&parent))?.len() >= MAX_ATTACHED {
                let q = match owner {
                    Owner::Role => "PoliciesPerRole",
                    Owner::User => "PoliciesPerUser",
                    Owner::Group => "PoliciesPerGroup",
                };
                return Err(limit(format!(
                    "Cannot exceed quota for {q}: {MAX_ATTACHED}"
                )));
            }
            let row = AttachDoc {
                arn: arn.to_string(),
                etype: owner.etype().to_string(),
                name: real,
            };
            tput(tx, ATTACH, acct, &k, Some(&parent), &row)
        })?;
        Ok(json!({}))
    }

    pub(super) fn detach(&self, ctx: &Ctx<'_>, i: &Value, owner: Owner) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, owner.member())?;
        let arn = req(i, "PolicyArn")?;
        self.write(|tx| {
            owner.load(tx, acct, name, true)?;
            if !tdel(tx, ATTACH, acct, &format!("{}/{arn}", owner.parent(name)))? {
                return Err(not_found(arn));
            }
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_attached(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        owner: Owner,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, owner.member())?;
        let prefix = s(i, "PathPrefix").unwrap_or("/");
        self.owner_name(acct, owner, name)?;
        let rows = self.all::<AttachDoc>(ATTACH, acct, Some(&owner.parent(name)))?;
        let mut items: Vec<(String, String, String)> = rows
            .into_iter()
            .filter_map(|a| {
                let (n, p) = name_and_path(&a.arn);
                p.starts_with(prefix).then_some((n, a.arn, p))
            })
            .collect();
        items.sort_by(|a, b| (key(&a.0), &a.1).cmp(&(key(&b.0), &b.1)));
        let (page, next) = paginate(&items, i, |(n, arn, _)| format!("{}\u{0}{arn}", key(n)))?;
        let mut out = Map::new();
        out.insert("AttachedPolicies".into(), attached_value(&page));
        Ok(page_out(out, next))
    }

    /// `[{PolicyName, PolicyArn}]` of an entity's attachments.
    pub(crate) fn attached_of(
        &self,
        acct: &str,
        etype: &str,
        name: &str,
    ) -> Result<Value, AwsError> {
        let mut items: Vec<(String, String, String)> = self
            .all::<AttachDoc>(ATTACH, acct, Some(&format!("{etype}/{}", key(name))))?
            .into_iter()
            .map(|a| {
                let (n, p) = name_and_path(&a.arn);
                (n, a.arn, p)
            })
            .collect();
        items.sort_by(|a, b| (key(&a.0), &a.1).cmp(&(key(&b.0), &b.1)));
        Ok(attached_value(&items))
    }

    pub(super) fn list_entities_for_policy(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let arn = req(i, "PolicyArn")?;
        if self.read_managed(acct, arn)?.is_none() {
            return Err(not_found(arn));
        }
        let filter = s(i, "EntityFilter");
        let prefix = s(i, "PathPrefix").unwrap_or("/");
        let usage = s(i, "PolicyUsageFilter");
        let want = |t: &str| match filter {
            Some("User") => t == "user",
            Some("Role") => t == "role",
            Some("Group") => t == "group",
            _ => true,
        };
        let permissions = usage != Some("PermissionsBoundary");
        let boundaries = usage != Some("PermissionsPolicy");
        // (type, name, id, path)
        let mut found: Vec<(String, String, String, String)> = Vec::new();
        if permissions {
            for a in self
                .all::<AttachDoc>(ATTACH, acct, None)?
                .into_iter()
                .filter(|a| a.arn == arn)
            {
                let (id, path) = match a.etype.as_str() {
                    "role" => self
                        .get::<RoleDoc>(ROLE, acct, &key(&a.name))?
                        .map(|r| (r.id, r.path)),
                    "user" => self
                        .get::<UserDoc>(USER, acct, &key(&a.name))?
                        .map(|u| (u.id, u.path)),
                    _ => self
                        .get::<GroupDoc>(GROUP, acct, &key(&a.name))?
                        .map(|g| (g.id, g.path)),
                }
                .unwrap_or_default();
                found.push((a.etype, a.name, id, path));
            }
        }
        if boundaries {
            for r in self.all::<RoleDoc>(ROLE, acct, None)? {
                if r.boundary.as_deref() == Some(arn) {
                    found.push(("role".into(), r.name, r.id, r.path));
                }
            }
            for u in self.all::<UserDoc>(USER, acct, None)? {
                if u.boundary.as_deref() == Some(arn) {
                    found.push(("user".into(), u.name, u.id, u.path));
                }
            }
        }
        found.retain(|(t, _, _, p)| want(t) && p.starts_with(prefix));
        found.sort_by(|a, b| (&a.0, key(&a.1)).cmp(&(&b.0, key(&b.1))));
        found.dedup_by(|a, b| a.0 == b.0 && key(&a.1) == key(&b.1));
        let (page, next) = paginate(&found, i, |(t, n, _, _)| format!("{t}/{}", key(n)))?;
        let pick = |t: &str, nm: &str, idm: &str| -> Value {
            Value::Array(
                page.iter()
                    .filter(|e| e.0 == t)
                    .map(|e| json!({nm: e.1, idm: e.2}))
                    .collect(),
            )
        };
        let mut out = Map::new();
        out.insert("PolicyGroups".into(), pick("group", "GroupName", "GroupId"));
        out.insert("PolicyUsers".into(), pick("user", "UserName", "UserId"));
        out.insert("PolicyRoles".into(), pick("role", "RoleName", "RoleId"));
        Ok(page_out(out, next))
    }

    pub(super) fn tag_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let new = util::tags(i, "Tags");
        self.update_policy(ctx, i, |_, p| merge_tags(&mut p.tags, new, POLICY_TAGS))?;
        Ok(json!({}))
    }

    pub(super) fn untag_policy(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        self.update_policy(ctx, i, |_, p| {
            remove_tags(&mut p.tags, i);
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_policy_tags(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let arn = req(i, "PolicyArn")?;
        match self
            .read_managed(acct, arn)?
            .ok_or_else(|| not_found(arn))?
        {
            Managed::Aws(_) => tags_page(&[], i),
            Managed::Local(p) => tags_page(&p.tags, i),
        }
    }

    /// Every customer-managed policy of an account.
    pub(crate) fn local_policies(&self, acct: &str) -> Result<Vec<PolicyDoc>, AwsError> {
        self.all(POLICY, acct, None)
    }

    /// The `ManagedPolicyDetail` shape for GetAccountAuthorizationDetails.
    pub(crate) fn policy_detail(
        &self,
        acct: &str,
        arn: &str,
        usage: &Usage,
    ) -> Result<Option<Value>, AwsError> {
        Ok(match self.read_managed(acct, arn)? {
            None => None,
            Some(Managed::Aws(a)) => {
                let mut v = view_aws(a, usage).value();
                v.insert(
                    "PolicyVersionList".into(),
                    json!([version_value(
                        &a.default_version,
                        &a.document,
                        true,
                        &a.created,
                        true
                    )]),
                );
                Some(Value::Object(v))
            }
            Some(Managed::Local(p)) => {
                let mut v = view_local(&p, acct, usage).value();
                v.insert(
                    "PolicyVersionList".into(),
                    Value::Array(
                        p.versions
                            .iter()
                            .map(|x| {
                                version_value(
                                    &x.id,
                                    &x.document,
                                    x.id == p.default_version,
                                    &x.created,
                                    true,
                                )
                            })
                            .collect(),
                    ),
                );
                Some(Value::Object(v))
            }
        })
    }
}

fn attached_value(items: &[(String, String, String)]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|(n, arn, _)| json!({"PolicyName": n, "PolicyArn": arn}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        assert_eq!(
            parse_arn("arn:aws:iam::123456789012:policy/a/b/P"),
            Some(("123456789012".into(), "/a/b/".into(), "P".into()))
        );
        assert_eq!(parse_arn("arn:aws:iam::aws:policy/P"), None);
        assert_eq!(parse_arn("arn:aws:iam::123456789012:role/P"), None);
        assert_eq!(
            name_and_path("arn:aws:iam::aws:policy/service-role/AWSLambdaRole"),
            ("AWSLambdaRole".into(), "/service-role/".into())
        );
    }
}
