//! Access keys of IAM users and of the root user, kept in the shared
//! [`crate::credentials::Credentials`] registry.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::model::UserDoc;
use super::users::self_user;
use super::{key, limit, no_such, page_out, Iam, USER};
use crate::credentials::{AccessKey, KeyStatus};
use crate::util::{paginate, req, s};
use crate::{ids, util, AwsError, Caller, Ctx, PrincipalKind};

const MAX_KEYS: usize = 2;

/// Whose keys a call acts on.
enum Subject {
    User(UserDoc),
    Root,
}

fn status_str(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => "Active",
        KeyStatus::Inactive => "Inactive",
    }
}

fn key_not_found(id: &str) -> AwsError {
    no_such(format!("The Access Key with id {id} cannot be found."))
}

impl Iam {
    /// `UserName` if given, else the caller (a user, or root).
    fn subject(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Subject, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = match s(i, "UserName") {
            Some(n) => n.to_string(),
            None if ctx.caller.is_root() => return Ok(Subject::Root),
            None => self_user(ctx.caller)?,
        };
        let user = self
            .get::<UserDoc>(USER, acct, &key(&name))?
            .ok_or_else(|| no_such(format!("The user with name {name} cannot be found.")))?;
        Ok(Subject::User(user))
    }

    fn subject_keys(&self, acct: &str, subject: &Subject) -> Vec<Arc<AccessKey>> {
        match subject {
            Subject::User(u) => self.user_keys(acct, &u.name),
            Subject::Root => self.creds.keys_where(|k| {
                k.caller.account == acct && k.caller.is_root() && k.caller.session.is_none()
            }),
        }
    }

    fn owned_key(&self, ctx: &Ctx<'_>, i: &Value) -> Result<(Subject, Arc<AccessKey>), AwsError> {
        let id = req(i, "AccessKeyId")?;
        let subject = self.subject(ctx, i)?;
        let k = self
            .subject_keys(&ctx.caller.account, &subject)
            .into_iter()
            .find(|k| k.access_key_id == id)
            .ok_or_else(|| key_not_found(id))?;
        Ok((subject, k))
    }

    pub(super) fn create_access_key(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let subject = self.subject(ctx, i)?;
        if self.subject_keys(acct, &subject).len() >= MAX_KEYS {
            return Err(limit(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}"
            )));
        }
        let id = ids::access_key_id("AKIA");
        let kind = match &subject {
            Subject::User(u) => PrincipalKind::User {
                name: u.name.clone(),
                path: u.path.clone(),
                user_id: u.id.clone(),
            },
            Subject::Root => PrincipalKind::Root,
        };
        let k = AccessKey {
            access_key_id: id.clone(),
            secret_access_key: ids::secret_access_key(),
            session_token: None,
            caller: Caller {
                account: acct.to_string(),
                kind,
                access_key_id: id,
                session: None,
            },
            status: KeyStatus::Active,
            created: util::iso(ctx.now),
            last_used: None,
        };
        self.creds.put(k.clone())?;
        let mut out = Map::new();
        if let Subject::User(u) = &subject {
            out.insert("UserName".into(), json!(u.name));
        }
        out.insert("AccessKeyId".into(), json!(k.access_key_id));
        out.insert("Status".into(), json!("Active"));
        out.insert("SecretAccessKey".into(), json!(k.secret_access_key));
        out.insert("CreateDate".into(), json!(k.created));
        Ok(json!({"AccessKey": out}))
    }

    pub(super) fn list_access_keys(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let subject = self.subject(ctx, i)?;
        let keys = self.subject_keys(&ctx.caller.account, &subject);
        let (page, next) = paginate(&keys, i, |k| {
            format!("{}\u{0}{}", k.created, k.access_key_id)
        })?;
        let items: Vec<Value> = page
            .iter()
            .map(|k| {
                let mut m = Map::new();
                if let Subject::User(u) = &subject {
                    m.insert("UserName".into(), json!(u.name));
                }
                m.insert("AccessKeyId".into(), json!(k.access_key_id));
                m.insert("Status".into(), json!(status_str(k.status)));
                m.insert("CreateDate".into(), json!(k.created));
                Value::Object(m)
            })
            .collect();
        let mut out = Map::new();
        out.insert("AccessKeyMetadata".into(), Value::Array(items));
        Ok(page_out(out, next))
    }

    pub(super) fn update_access_key(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let status = match req(i, "Status")? {
            "Active" => KeyStatus::Active,
            "Inactive" => KeyStatus::Inactive,
            other => {
                return Err(super::validation(format!(
                    "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                )))
            }
        };
        let (_, k) = self.owned_key(ctx, i)?;
        let mut k = (*k).clone();
        k.status = status;
        self.creds.put(k)?;
        Ok(json!({}))
    }

    pub(super) fn delete_access_key(&self, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
        let (_, k) = self.owned_key(ctx, i)?;
        self.creds.delete(&k.access_key_id)?;
        Ok(json!({}))
    }

    pub(super) fn get_access_key_last_used(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
    ) -> Result<Value, AwsError> {
        let id = req(i, "AccessKeyId")?;
        let k = self
            .creds
            .lookup(id)
            .filter(|k| k.caller.account == ctx.caller.account && k.caller.session.is_none())
            .ok_or_else(|| key_not_found(id))?;
        let mut last = Map::new();
        if let Some(d) = &k.last_used {
            last.insert("LastUsedDate".into(), json!(d));
        }
        last.insert("ServiceName".into(), json!("N/A"));
        last.insert("Region".into(), json!("N/A"));
        let mut out = Map::new();
        if let PrincipalKind::User { name, .. } = &k.caller.kind {
            out.insert("UserName".into(), json!(name));
        }
        out.insert("AccessKeyLastUsed".into(), Value::Object(last));
        Ok(Value::Object(out))
    }
}
