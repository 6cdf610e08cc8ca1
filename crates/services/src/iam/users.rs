//! Users: create, read, list, rename/move, tag, permissions boundaries, delete.

use serde_json::{json, Map, Value};

use super::model::{AttachDoc, InlineDoc, UserDoc};
use super::{
    conflict, exists, input_tags, key, merge_tags, no_such, page_out, path_in, remove_tags,
    tags_page, tdel, tget, tgroup, tlist, tput, tuser, validation, Iam, ATTACH, GROUP, INLINE,
    USER,
};
use crate::credentials::AccessKey;
use crate::util::{paginate, req, s};
use crate::{ids, util, AwsError, Caller, Ctx, PrincipalKind};

const USER_TAGS: &str = "TagsPerUser";

/// The user a call without `UserName` acts on: the calling user.
pub(crate) fn self_user(caller: &Caller) -> Result<String, AwsError> {
    match &caller.kind {
        PrincipalKind::User { name, .. } => Ok(name.clone()),
        _ => Err(validation(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

impl Iam {
    /// The long-term access keys of a user.
    pub(crate) fn user_keys(&self, acct: &str, user: &str) -> Vec<std::sync::Arc<AccessKey>> {
        let lc = key(user);
        self.creds.keys_where(|k| {
            k.caller.account == acct
                && k.caller.session.is_none()
                && matches!(&k.caller.kind, PrincipalKind::User { name, .. } if key(name) == lc)
        })
    }

    pub(super) fn create_user(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "UserName")?;
        let boundary = s(i, "PermissionsBoundary").map(str::to_string);
        let user = UserDoc {
            name: name.to_string(),
            path: path_in(i, "Path"),
            id: ids::unique_id("AIDA"),
            created: util::iso(ctx.now),
            boundary: boundary.clone(),
            tags: input_tags(i)?,
            groups: Vec::new(),
        };
        self.write(|tx| {
            if tget::<UserDoc>(tx, USER, acct, &key(name))?.is_some() {
                return Err(exists(format!("User with name {name} already exists.")));
            }
            if let Some(b) = &boundary {
                self.check_boundary(tx, acct, b)?;
            }
            tput(tx, USER, acct, &key(name), None, &user)
        })?;
        Ok(json!({"User": user.full(acct)}))
    }

    pub(super) fn get_user(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = match s(i, "UserName") {
            Some(n) => n.to_string(),
            None if ctx.caller.is_root() => {
                return Ok(json!({"User": {
                    "UserId": acct,
                    "Arn": format!("arn:aws:iam::{acct}:root"),
                    "CreateDate": util::iso(ctx.now),
                }}));
            }
            None => self_user(ctx.caller)?,
        };
        let user = self
            .get::<UserDoc>(USER, acct, &key(&name))?
            .ok_or_else(|| no_such(format!("The user with name {name} cannot be found.")))?;
        Ok(json!({"User": user.full(acct)}))
    }

    pub(super) fn list_users(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let prefix = s(i, "PathPrefix").unwrap_or("/");
        let users: Vec<UserDoc> = self
            .all::<UserDoc>(USER, acct, None)?
            .into_iter()
            .filter(|u| u.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(&users, i, |u| key(&u.name))?;
        let mut out = Map::new();
        out.insert(
            "Users".into(),
            Value::Array(page.iter().map(|u| Value::Object(u.brief(acct))).collect()),
        );
        Ok(page_out(out, next))
    }

    pub(super) fn update_user(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "UserName")?;
        let new_name = s(i, "NewUserName");
        let new_path = s(i, "NewPath");
        let user = self.write(|tx| {
            let mut user = tuser(tx, acct, name)?;
            let old_key = key(&user.name);
            if let Some(p) = new_path {
                user.path = p.to_string();
            }
            if let Some(n) = new_name {
                let nk = key(n);
                if nk != old_key && tget::<UserDoc>(tx, USER, acct, &nk)?.is_some() {
                    return Err(exists(format!("User with name {n} already exists.")));
                }
                user.name = n.to_string();
                if nk != old_key {
                    // Move the user's inline policies and attachments.
                    let (op, np) = (format!("user/{old_key}"), format!("user/{nk}"));
                    for p in tlist::<InlineDoc>(tx, INLINE, acct, Some(&op))? {
                        tdel(tx, INLINE, acct, &format!("{op}/{}", p.name))?;
                        tput(tx, INLINE, acct, &format!("{np}/{}", p.name), Some(&np), &p)?;
                    }
                    for mut a in tlist::<AttachDoc>(tx, ATTACH, acct, Some(&op))? {
                        tdel(tx, ATTACH, acct, &format!("{op}/{}", a.arn))?;
                        a.name = n.to_string();
                        tput(tx, ATTACH, acct, &format!("{np}/{}", a.arn), Some(&np), &a)?;
                    }
                    tdel(tx, USER, acct, &old_key)?;
                }
            }
            tput(tx, USER, acct, &key(&user.name), None, &user)?;
            Ok(user)
        })?;
        // The user's access keys now stand for the renamed/moved principal.
        for k in self.user_keys(acct, name) {
            let mut k = (*k).clone();
            k.caller.kind = PrincipalKind::User {
                name: user.name.clone(),
                path: user.path.clone(),
                user_id: user.id.clone(),
            };
            self.creds.put(k)?;
        }
        Ok(json!({}))
    }

    pub(super) fn delete_user(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "UserName")?;
        let has_keys = !self.user_keys(acct, name).is_empty();
        self.write(|tx| {
            let user = tuser(tx, acct, name)?;
            if has_keys {
                return Err(conflict(
                    "Cannot delete entity, must delete access keys first.",
                ));
            }
            let parent = format!("user/{}", key(name));
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
            if !user.groups.is_empty() {
                return Err(conflict(
                    "Cannot delete entity, must remove users from group first.",
                ));
            }
            tdel(tx, USER, acct, &key(name))?;
            Ok(())
        })?;
        Ok(json!({}))
    }

    fn update_user_doc(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        f: impl FnOnce(&mut UserDoc) -> Result<(), AwsError>,
    ) -> Result<(), AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "UserName")?;
        self.write(|tx| {
            let mut user = tuser(tx, acct, name)?;
            f(&mut user)?;
            tput(tx, USER, acct, &key(name), None, &user)
        })
    }

    pub(super) fn tag_user(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let new = crate::util::tags(i, "Tags");
        self.update_user_doc(ctx, i, |u| merge_tags(&mut u.tags, new, USER_TAGS))?;
        Ok(json!({}))
    }

    pub(super) fn untag_user(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        self.update_user_doc(ctx, i, |u| {
            remove_tags(&mut u.tags, i);
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_user_tags(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let name = req(i, "UserName")?;
        let user = self
            .get::<UserDoc>(USER, &ctx.caller.account, &key(name))?
            .ok_or_else(|| no_such(format!("The user with name {name} cannot be found.")))?;
        tags_page(&user.tags, i)
    }

    pub(super) fn put_user_boundary(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "UserName")?;
        let arn = req(i, "PermissionsBoundary")?;
        self.write(|tx| {
            let mut user = tuser(tx, acct, name)?;
            self.check_boundary(tx, acct, arn)?;
            user.boundary = Some(arn.to_string());
            tput(tx, USER, acct, &key(name), None, &user)
        })?;
        Ok(json!({}))
    }

    pub(super) fn delete_user_boundary(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        self.update_user_doc(ctx, i, |u| {
            u.boundary = None;
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_groups_for_user(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, "UserName")?;
        let user = self
            .get::<UserDoc>(USER, acct, &key(name))?
            .ok_or_else(|| no_such(format!("The user with name {name} cannot be found.")))?;
        let mut groups = Vec::new();
        for g in &user.groups {
            if let Some(gd) = self.get::<super::model::GroupDoc>(GROUP, acct, &key(g))? {
                groups.push(gd);
            }
        }
        groups.sort_by_key(|g| key(&g.name));
        let (page, next) = paginate(&groups, i, |g| key(&g.name))?;
        let mut out = Map::new();
        out.insert(
            "Groups".into(),
            Value::Array(page.iter().map(|g| Value::Object(g.value(acct))).collect()),
        );
        Ok(page_out(out, next))
    }

    pub(super) fn add_user_to_group(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let group = req(i, "GroupName")?;
        let name = req(i, "UserName")?;
        self.write(|tx| {
            let g = tgroup(tx, acct, group)?;
            let mut user = tuser(tx, acct, name)?;
            if !user.groups.iter().any(|x| key(x) == key(&g.name)) {
                if user.groups.len() >= 10 {
                    return Err(super::limit("Cannot exceed quota for GroupsPerUser: 10"));
                }
                user.groups.push(g.name.clone());
                tput(tx, USER, acct, &key(name), None, &user)?;
            }
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn remove_user_from_group(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let group = req(i, "GroupName")?;
        let name = req(i, "UserName")?;
        self.write(|tx| {
            let g = tgroup(tx, acct, group)?;
            let mut user = tuser(tx, acct, name)?;
            let before = user.groups.len();
            user.groups.retain(|x| key(x) != key(&g.name));
            if user.groups.len() == before {
                return Err(no_such(format!(
                    "The user with name {name} cannot be found."
                )));
            }
            tput(tx, USER, acct, &key(name), None, &user)
        })?;
        Ok(json!({}))
    }
}
