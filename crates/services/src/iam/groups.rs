//! Groups: create, read (with members), list, delete.

use serde_json::{json, Map, Value};

use super::model::{AttachDoc, GroupDoc, InlineDoc, UserDoc};
use super::{
    conflict, exists, key, page_out, path_in, tdel, tget, tgroup, tlist, tput, Iam, ATTACH, GROUP,
    INLINE, USER,
};
use crate::util::{paginate, req, s};
use crate::{ids, util, AwsError, Ctx};

impl Iam {
    pub(super) fn create_group(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "GroupName")?;
        let group = GroupDoc {
            name: name.to_string(),
            path: path_in(i, "Path"),
            id: ids::unique_id("AGPA"),
            created: util::iso(ctx.now),
        };
        self.write(|tx| {
            if tget::<GroupDoc>(tx, GROUP, acct, &key(name))?.is_some() {
                return Err(exists(format!("Group with name {name} already exists.")));
            }
            tput(tx, GROUP, acct, &key(name), None, &group)
        })?;
        Ok(json!({"Group": group.value(acct)}))
    }

    /// Members of a group, ordered by name.
    pub(crate) fn group_members(&self, acct: &str, group: &str) -> Result<Vec<UserDoc>, AwsError> {
        let gk = key(group);
        Ok(self
            .all::<UserDoc>(USER, acct, None)?
            .into_iter()
            .filter(|u| u.groups.iter().any(|g| key(g) == gk))
            .collect())
    }

    pub(super) fn get_group(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "GroupName")?;
        let group = self
            .get::<GroupDoc>(GROUP, acct, &key(name))?
            .ok_or_else(|| {
                super::no_such(format!("The group with name {name} cannot be found."))
            })?;
        let members = self.group_members(acct, name)?;
        let (page, next) = paginate(&members, i, |u| key(&u.name))?;
        let mut out = Map::new();
        out.insert("Group".into(), Value::Object(group.value(acct)));
        out.insert(
            "Users".into(),
            Value::Array(page.iter().map(|u| Value::Object(u.brief(acct))).collect()),
        );
        Ok(page_out(out, next))
    }

    pub(super) fn list_groups(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let prefix = s(i, "PathPrefix").unwrap_or("/");
        let groups: Vec<GroupDoc> = self
            .all::<GroupDoc>(GROUP, acct, None)?
            .into_iter()
            .filter(|g| g.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(&groups, i, |g| key(&g.name))?;
        let mut out = Map::new();
        out.insert(
            "Groups".into(),
            Value::Array(page.iter().map(|g| Value::Object(g.value(acct))).collect()),
        );
        Ok(page_out(out, next))
    }

    pub(super) fn delete_group(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "GroupName")?;
        self.write(|tx| {
            tgroup(tx, acct, name)?;
            let gk = key(name);
            let has_members = tlist::<UserDoc>(tx, USER, acct, None)?
                .iter()
                .any(|u| u.groups.iter().any(|g| key(g) == gk));
            if has_members {
                return Err(conflict(
                    "Cannot delete entity, must remove users from group first.",
                ));
            }
            let parent = format!("group/{gk}");
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
            tdel(tx, GROUP, acct, &gk)?;
            Ok(())
        })?;
        Ok(json!({}))
    }
}
