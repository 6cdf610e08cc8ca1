//! Inline policies of roles, users and groups.

use ironsage_policy::PolicyKind;
use serde_json::{json, Map, Value};

use super::model::InlineDoc;
use super::{
    doc, key, limit, no_such, page_out, tdel, tgroup, tlist, tput, trole, tuser, unmodifiable, Iam,
    INLINE,
};
use crate::util::{paginate, req};
use crate::{AwsError, Ctx};

/// Which kind of entity owns an inline policy or a managed-policy attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Role,
    User,
    Group,
}

impl Owner {
    /// The row-key prefix and the word AWS uses in messages.
    pub fn etype(self) -> &'static str {
        match self {
            Owner::Role => "role",
            Owner::User => "user",
            Owner::Group => "group",
        }
    }

    /// The input member naming the entity.
    pub fn member(self) -> &'static str {
        match self {
            Owner::Role => "RoleName",
            Owner::User => "UserName",
            Owner::Group => "GroupName",
        }
    }

    /// IAM's aggregate inline-policy size quota for this kind of entity.
    fn quota(self) -> usize {
        match self {
            Owner::Role => 10240,
            Owner::User => 2048,
            Owner::Group => 5120,
        }
    }

    /// Checks the entity exists (and, for roles, is not service-linked when
    /// `modify`); returns its name as created.
    pub fn load(
        self,
        tx: &ironsage_store::Tx<'_>,
        acct: &str,
        name: &str,
        modify: bool,
    ) -> Result<String, AwsError> {
        match self {
            Owner::Role => {
                let r = trole(tx, acct, name)?;
                if modify && r.protected() {
                    return Err(unmodifiable(format!(
                        "Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS",
                        r.name
                    )));
                }
                Ok(r.name)
            }
            Owner::User => Ok(tuser(tx, acct, name)?.name),
            Owner::Group => Ok(tgroup(tx, acct, name)?.name),
        }
    }

    pub fn parent(self, name: &str) -> String {
        format!("{}/{}", self.etype(), key(name))
    }
}

impl Iam {
    /// Reads (outside a transaction) the name as created of an entity, or
    /// fails with AWS's NoSuchEntity.
    pub(crate) fn owner_name(
        &self,
        acct: &str,
        owner: Owner,
        name: &str,
    ) -> Result<String, AwsError> {
        let k = key(name);
        let found = match owner {
            Owner::Role => self
                .get::<super::model::RoleDoc>(super::ROLE, acct, &k)?
                .map(|d| d.name),
            Owner::User => self
                .get::<super::model::UserDoc>(super::USER, acct, &k)?
                .map(|d| d.name),
            Owner::Group => self
                .get::<super::model::GroupDoc>(super::GROUP, acct, &k)?
                .map(|d| d.name),
        };
        found.ok_or_else(|| {
            no_such(format!(
                "The {} with name {name} cannot be found.",
                owner.etype()
            ))
        })
    }

    pub(super) fn put_inline(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        owner: Owner,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, owner.member())?;
        let pname = req(i, "PolicyName")?;
        let text = req(i, "PolicyDocument")?;
        doc::validate(text, PolicyKind::Identity)?;
        self.write(|tx| {
            let real = owner.load(tx, acct, name, true)?;
            let parent = owner.parent(name);
            let others: usize = tlist::<InlineDoc>(tx, INLINE, acct, Some(&parent))?
                .iter()
                .filter(|p| p.name != pname)
                .map(|p| doc::size(&p.document))
                .sum();
            if others + doc::size(text) > owner.quota() {
                return Err(limit(format!(
                    "Maximum policy size of {} bytes exceeded for {} {real}",
                    owner.quota(),
                    owner.etype()
                )));
            }
            let row = InlineDoc {
                name: pname.to_string(),
                document: text.to_string(),
            };
            tput(
                tx,
                INLINE,
                acct,
                &format!("{parent}/{pname}"),
                Some(&parent),
                &row,
            )
        })?;
        Ok(json!({}))
    }

    pub(super) fn get_inline(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        owner: Owner,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, owner.member())?;
        let pname = req(i, "PolicyName")?;
        let real = self.owner_name(acct, owner, name)?;
        let p = self.get::<InlineDoc>(INLINE, acct, &format!("{}/{pname}", owner.parent(name)))?;
        let p = p.ok_or_else(|| {
            no_such(format!(
                "The {} policy with name {pname} cannot be found.",
                owner.etype()
            ))
        })?;
        let mut out = Map::new();
        out.insert(owner.member().into(), json!(real));
        out.insert("PolicyName".into(), json!(p.name));
        out.insert("PolicyDocument".into(), json!(doc::url_encode(&p.document)));
        Ok(Value::Object(out))
    }

    pub(super) fn delete_inline(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        owner: Owner,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, owner.member())?;
        let pname = req(i, "PolicyName")?;
        self.write(|tx| {
            owner.load(tx, acct, name, true)?;
            if !tdel(tx, INLINE, acct, &format!("{}/{pname}", owner.parent(name)))? {
                return Err(no_such(format!(
                    "The {} policy with name {pname} cannot be found.",
                    owner.etype()
                )));
            }
            Ok(())
        })?;
        Ok(json!({}))
    }

    pub(super) fn list_inline(
        &self,
        ctx: &Ctx<'_>,
        i: &Value,
        owner: Owner,
    ) -> Result<Value, AwsError> {
        let acct = ctx.caller.account.as_str();
        let name = req(i, owner.member())?;
        self.owner_name(acct, owner, name)?;
        let names: Vec<String> = self
            .all::<InlineDoc>(INLINE, acct, Some(&owner.parent(name)))?
            .into_iter()
            .map(|p| p.name)
            .collect();
        let (page, next) = paginate(&names, i, Clone::clone)?;
        let mut out = Map::new();
        out.insert("PolicyNames".into(), json!(page));
        Ok(page_out(out, next))
    }
}
