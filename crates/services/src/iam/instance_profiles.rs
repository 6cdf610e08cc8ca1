//! Instance profiles and the (single) role each may hold.

use serde_json::{json, Map, Value};

use super::model::{ProfileDoc, RoleDoc};
use super::{
    conflict, exists, input_tags, key, limit, merge_tags, no_such, page_out, path_in, remove_tags,
    tags_page, tdel, tget, tput, trole, Iam, PROFILE, ROLE,
};
use crate::util::{paginate, req, s};
use crate::{ids, util, AwsError, Ctx};

const MAX_ROLES: usize = 1;

fn not_found(name: &str) -> AwsError {
    no_such(format!("Instance Profile {name} cannot be found."))
}

fn tprofile(tx: &ironsage_store::Tx<'_>, acct: &str, name: &str) -> Result<ProfileDoc, AwsError> {
    tget(tx, PROFILE, acct, &key(name))?.ok_or_else(|| not_found(name))
}

impl Iam {
    /// The `InstanceProfile` shape, with its roles.
    pub(crate) fn profile_value(
        &self,
        acct: &str,
        p: &ProfileDoc,
        with_tags: bool,
    ) -> Result<Value, AwsError> {
        let mut roles = Vec::new();
        for rk in &p.roles {
            if let Some(r) = self.get::<RoleDoc>(ROLE, acct, rk)? {
                roles.push(Value::Object(r.brief(acct)));
            }
        }
        let mut m = Map::new();
        m.insert("Path".into(), json!(p.path));
        m.insert("InstanceProfileName".into(), json!(p.name));
        m.insert("InstanceProfileId".into(), json!(p.id));
        m.insert("Arn".into(), json!(p.arn(acct)));
        m.insert("CreateDate".into(), json!(p.created));
        m.insert("Roles".into(), Value::Array(roles));
        if with_tags && !p.tags.is_empty() {
            m.insert("Tags".into(), util::tags_value(&p.tags));
        }
        Ok(Value::Object(m))
    }

    pub(super) fn create_instance_profile(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "InstanceProfileName")?;
        let p = ProfileDoc {
            name: name.to_string(),
            path: path_in(i, "Path"),
            id: ids::unique_id("AIPA"),
            created: util::iso(ctx.now),
            roles: Vec::new(),
            tags: input_tags(i)?,
        };
        self.write(|tx| {
            if tget::<ProfileDoc>(tx, PROFILE, acct, &key(name))?.is_some() {
                return Err(exists(format!("Instance Profile {name} already exists.")));
            }
            tput(tx, PROFILE, acct, &key(name), None, &p)
        })?;
        Ok(json!({"InstanceProfile": self.profile_value(acct, &p, true)?}))
    }

    pub(super) fn get_instance_profile(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "InstanceProfileName")?;
        let p = self
            .get::<ProfileDoc>(PROFILE, acct, &key(name))?
            .ok_or_else(|| not_found(name))?;
        Ok(json!({"InstanceProfile": self.profile_value(acct, &p, true)?}))
    }

    pub(super) fn delete_instance_profile(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "InstanceProfileName")?;
        self.write(|tx| {
            let p = tprofile(tx, acct, name)?;
            if !p.roles.is_empty() {
                return Err(conflict(
                    "Cannot delete entity, must remove roles from instance profile first.",
                ));
            }
            tdel(tx, PROFILE, acct, &key(name))?;
            Ok(())
        })?;
        Ok(json!({}))
    }

    fn list_profiles_where(
        &self,
        acct: &str,
        i: &Value,
        pred: impl Fn(&ProfileDoc) -> bool,
    ) -> Result<Value, AwsError> {
        let ps: Vec<ProfileDoc> = self
            .all::<ProfileDoc>(PROFILE, acct, None)?
            .into_iter()
            .filter(|p| pred(p))
            .collect();
        let (page, next) = paginate(&ps, i, |p| key(&p.name))?;
        let mut items = Vec::new();
        for p in &page {
            items.push(self.profile_value(acct, p, false)?);
        }
        let mut out = Map::new();
        out.insert("InstanceProfiles".into(), Value::Array(items));
        Ok(page_out(out, next))
    }

    pub(super) fn list_instance_profiles(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let prefix = s(i, "PathPrefix").unwrap_or("/").to_string();
        self.list_profiles_where(&ctx.caller.account, i, |p| p.path.starts_with(&prefix))
    }

    pub(super) fn list_instance_profiles_for_role(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "RoleName")?;
        if self.get::<RoleDoc>(ROLE, acct, &key(name))?.is_none() {
            return Err(no_such(format!(
                "The role with name {name} cannot be found."
            )));
        }
        let rk = key(name);
        self.list_profiles_where(acct, i, |p| p.roles.contains(&rk))
    }

    pub(super) fn add_role_to_instance_profile(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "InstanceProfileName")?;
        let role = req(i, "RoleName")?;
        self.write(|tx| {
            let mut p = tprofile(tx, acct, name)?;
            trole(tx, acct, role)?;
            if p.roles.len() >= MAX_ROLES {
                return Err(limit(format!(
                    "Cannot exceed quota for InstanceSessionsPerInstanceProfile: {MAX_ROLES}"
                )));
            }
            p.roles.push(key(role));
            tput(tx, PROFILE, acct, &key(name), None, &p)
        })?;
        Ok(json!({}))
    }

    pub(super) fn remove_role_from_instance_profile(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "InstanceProfileName")?;
        let role = req(i, "RoleName")?;
        self.write(|tx| {
            let mut p = tprofile(tx, acct, name)?;
            let before = p.roles.len();
            p.roles.retain(|r| *r != key(role));
            if p.roles.len() == before {
                return Err(no_such(format!(
                    "The role with name {role} cannot be found."
                )));
            }
            tput(tx, PROFILE, acct, &key(name), None, &p)
        })?;
        Ok(json!({}))
    }

    fn update_profile(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        f: impl FnOnce(&mut ProfileDoc) -> Result<(), AwsError>,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "InstanceProfileName")?;
        self.write(|tx| {
            let mut p = tprofile(tx, acct, name)?;
            f(&mut p)?;
            tput(tx, PROFILE, acct, &key(name), None, &p)
        })?;
        Ok(json!({}))
    }

    pub(super) fn tag_instance_profile(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let new = util::tags(i, "Tags");
        self.update_profile(ctx, i, |p| {
            merge_tags(&mut p.tags, new, "TagsPerInstanceProfile")
        })
    }

    pub(super) fn untag_instance_profile(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        self.update_profile(ctx, i, |p| {
            remove_tags(&mut p.tags, i);
            Ok(())
        })
    }

    pub(super) fn list_instance_profile_tags(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let name = req(i, "InstanceProfileName")?;
        let p = self
            .get::<ProfileDoc>(PROFILE, &ctx.caller.account, &key(name))?
            .ok_or_else(|| not_found(name))?;
        tags_page(&p.tags, i)
    }
}
