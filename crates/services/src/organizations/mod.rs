//! AWS Organizations: one organization per management account, its root,
//! OUs, member accounts (created for real through the account registry, with
//! an `OrganizationAccountAccessRole` made through IAM's own API), trusted
//! service access, delegated administrators, and policies — service control
//! policies (SCPs) are enforced by the gateway's authorizer through
//! [`Organizations::scp_chain`].
//!
//! Rows (service `organizations`, scope `global`):
//! - `org`, key `o-…`: the whole organization as one document ([`OrgDoc`]).
//!   Organizations are small; keeping one document makes every operation one
//!   read-check-write in a single transaction, so a failed check changes
//!   nothing.
//! - `member`, key `<account id>`: `{"org": "o-…"}`, which organization an
//!   account belongs to (the management account included).
//!
//! Parsed SCP chains and memberships are cached; any successful write clears
//! the caches.

mod ops;
mod targets;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use ironsage_policy::{Policy, PolicyKind};
use ironsage_store::{ServiceStore, Store, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::accounts::Accounts;
use crate::iam::Iam;
use crate::{internal, util, AwsError, Ctx, Service, Target};

const ORG: &str = "org";
const MEMBER: &str = "member";
const SCOPE: &str = "global";

/// The service-control-policy type name.
pub const SCP: &str = "SERVICE_CONTROL_POLICY";
/// The id of the AWS-managed `FullAWSAccess` SCP.
pub const FULL_ACCESS_ID: &str = "p-FullAWSAccess";
/// The ARN of the AWS-managed `FullAWSAccess` SCP.
pub const FULL_ACCESS_ARN: &str =
    "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess";
const FULL_ACCESS_CONTENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const FULL_ACCESS_DESCRIPTION: &str = "Allows access to every operation";

/// One parsed policy with the id used in explanations.
pub type NamedPolicy = (String, Arc<Policy>);

// ---------------------------------------------------------------- errors

pub(crate) fn err(code: &str, msg: impl Into<String>) -> AwsError {
    AwsError::new(code, msg, 400)
}

pub(crate) fn constraint(reason: &str, msg: impl Into<String>) -> AwsError {
    err("ConstraintViolationException", msg).with_extra("Reason", reason)
}

pub(crate) fn invalid_input(reason: &str, msg: impl Into<String>) -> AwsError {
    err("InvalidInputException", msg).with_extra("Reason", reason)
}

pub(crate) fn not_in_use() -> AwsError {
    err(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
}

pub(crate) fn access_denied() -> AwsError {
    err(
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    )
}

pub(crate) fn account_not_found() -> AwsError {
    err(
        "AccountNotFoundException",
        "You specified an account that doesn't exist.",
    )
}

pub(crate) fn parent_not_found() -> AwsError {
    err(
        "ParentNotFoundException",
        "We can't find a root or OU with the ParentId that you specified.",
    )
}

pub(crate) fn ou_not_found() -> AwsError {
    err(
        "OrganizationalUnitNotFoundException",
        "We can't find an OU with the OrganizationalUnitId that you specified.",
    )
}

pub(crate) fn policy_not_found() -> AwsError {
    err(
        "PolicyNotFoundException",
        "We can't find a policy with the PolicyId that you specified.",
    )
}

pub(crate) fn target_not_found() -> AwsError {
    err(
        "TargetNotFoundException",
        "We can't find a root, OU, account, or policy with the TargetId that you specified.",
    )
}

pub(crate) fn root_not_found() -> AwsError {
    err(
        "RootNotFoundException",
        "We can't find a root with the RootId that you specified.",
    )
}

fn failure(msg: impl Into<String>) -> AwsError {
    AwsError::new("InternalFailure", msg, 500)
}

// ---------------------------------------------------------------- documents

/// An organizational unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OuDoc {
    pub id: String,
    pub name: String,
    pub parent: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A member account (the management account included).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AcctDoc {
    pub id: String,
    pub name: String,
    pub email: String,
    pub parent: String,
    /// `INVITED` or `CREATED`.
    pub joined_method: String,
    pub joined: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A customer-managed policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PolicyDoc {
    pub id: String,
    pub name: String,
    pub description: String,
    pub ptype: String,
    pub content: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub aws_managed: bool,
}

/// A delegated administrator registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Delegation {
    pub account: String,
    pub principal: String,
    pub date: String,
}

/// A `CreateAccount` request and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreateStatus {
    pub id: String,
    pub account_name: String,
    pub state: String,
    pub requested: String,
    #[serde(default)]
    pub completed: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub failure: Option<String>,
}

/// One organization, stored as one document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OrgDoc {
    pub id: String,
    pub feature_set: String,
    pub master: String,
    pub master_email: String,
    pub root_id: String,
    #[serde(default)]
    pub root_tags: Vec<(String, String)>,
    /// Policy types enabled on the root.
    #[serde(default)]
    pub policy_types: Vec<String>,
    #[serde(default)]
    pub ous: BTreeMap<String, OuDoc>,
    #[serde(default)]
    pub accounts: BTreeMap<String, AcctDoc>,
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyDoc>,
    /// (target id, policy id).
    #[serde(default)]
    pub attachments: BTreeSet<(String, String)>,
    /// Service principal → date enabled.
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    #[serde(default)]
    pub delegated: Vec<Delegation>,
    #[serde(default)]
    pub requests: Vec<CreateStatus>,
}

/// What an id names, by its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    Root,
    Ou,
    Account,
    Policy,
    Other,
}

pub(crate) fn id_kind(id: &str) -> IdKind {
    if id.starts_with("r-") {
        IdKind::Root
    } else if id.starts_with("ou-") {
        IdKind::Ou
    } else if id.starts_with("p-") {
        IdKind::Policy
    } else if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        IdKind::Account
    } else {
        IdKind::Other
    }
}

/// The AWS-managed FullAWSAccess SCP as a document.
pub(crate) fn full_access() -> PolicyDoc {
    PolicyDoc {
        id: FULL_ACCESS_ID.into(),
        name: "FullAWSAccess".into(),
        description: FULL_ACCESS_DESCRIPTION.into(),
        ptype: SCP.into(),
        content: FULL_ACCESS_CONTENT.into(),
        tags: Vec::new(),
        aws_managed: true,
    }
}

impl OrgDoc {
    fn prefix(&self) -> String {
        format!("arn:aws:organizations::{}", self.master)
    }

    pub fn arn(&self) -> String {
        format!("{}:organization/{}", self.prefix(), self.id)
    }

    pub fn root_arn(&self) -> String {
        format!("{}:root/{}/{}", self.prefix(), self.id, self.root_id)
    }

    pub fn ou_arn(&self, ou: &str) -> String {
        format!("{}:ou/{}/{}", self.prefix(), self.id, ou)
    }

    pub fn account_arn(&self, acct: &str) -> String {
        format!("{}:account/{}/{}", self.prefix(), self.id, acct)
    }

    pub fn policy_arn(&self, p: &PolicyDoc) -> String {
        if p.aws_managed {
            format!(
                "arn:aws:organizations::aws:policy/{}/{}",
                p.ptype.to_lowercase(),
                p.id
            )
        } else {
            format!(
                "{}:policy/{}/{}/{}",
                self.prefix(),
                self.id,
                p.ptype.to_lowercase(),
                p.id
            )
        }
    }

    /// The ARN of a root, OU, account or policy id (for authorization).
    pub fn arn_of(&self, id: &str) -> String {
        match id_kind(id) {
            IdKind::Root => format!("{}:root/{}/{}", self.prefix(), self.id, id),
            IdKind::Ou => self.ou_arn(id),
            IdKind::Account => self.account_arn(id),
            IdKind::Policy => match self.policy(id) {
                Some(p) => self.policy_arn(&p),
                None => format!(
                    "{}:policy/{}/service_control_policy/{}",
                    self.prefix(),
                    self.id,
                    id
                ),
            },
            IdKind::Other => "*".into(),
        }
    }

    /// A policy by id (the AWS-managed FullAWSAccess included).
    pub fn policy(&self, id: &str) -> Option<PolicyDoc> {
        if id == FULL_ACCESS_ID {
            return Some(full_access());
        }
        self.policies.get(id).cloned()
    }

    /// Whether `id` is this organization's root or one of its OUs.
    pub fn is_container(&self, id: &str) -> bool {
        id == self.root_id || self.ous.contains_key(id)
    }

    /// Whether `id` names a root, OU or account of this organization.
    pub fn is_target(&self, id: &str) -> bool {
        self.is_container(id) || self.accounts.contains_key(id)
    }

    /// The containers from the root down to `container` (inclusive).
    pub fn lineage(&self, container: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = container.to_string();
        // The depth is bounded (5 OU levels); the bound also guards against a
        // corrupt document with a cycle.
        for _ in 0..16 {
            out.push(cur.clone());
            match self.ous.get(&cur) {
                Some(ou) => cur = ou.parent.clone(),
                None => break,
            }
        }
        out.reverse();
        out
    }

    /// `o-…/r-…/ou-…/` path of a container, as AWS prints `Path`.
    pub fn path(&self, container: &str) -> String {
        let mut p = format!("{}/", self.id);
        for c in self.lineage(container) {
            p.push_str(&c);
            p.push('/');
        }
        p
    }

    pub fn scp_enabled(&self) -> bool {
        self.policy_types.iter().any(|t| t == SCP)
    }

    /// Policies of `ptype` attached to `target`.
    pub fn attached(&self, target: &str, ptype: &str) -> Vec<PolicyDoc> {
        self.attachments
            .iter()
            .filter(|(t, _)| t == target)
            .filter_map(|(_, p)| self.policy(p))
            .filter(|p| p.ptype == ptype)
            .collect()
    }

    /// Whether `account` is a delegated administrator for any service.
    pub fn is_delegated_admin(&self, account: &str) -> bool {
        self.delegated.iter().any(|d| d.account == account)
    }

    /// Drops every attachment naming `target`.
    pub fn drop_target(&mut self, target: &str) {
        self.attachments.retain(|(t, _)| t != target);
    }

    /// Attaches FullAWSAccess to a new target when SCPs are enabled, as AWS does.
    pub fn default_attach(&mut self, target: &str) {
        if self.scp_enabled() {
            self.attachments
                .insert((target.to_string(), FULL_ACCESS_ID.to_string()));
        }
    }

    pub fn org_view(&self) -> Value {
        let mut types = Vec::new();
        if self.feature_set == "ALL" {
            types.push(json!({"Type": SCP, "Status": "ENABLED"}));
        }
        json!({
            "Id": self.id,
            "Arn": self.arn(),
            "FeatureSet": self.feature_set,
            "MasterAccountArn": self.account_arn(&self.master),
            "MasterAccountId": self.master,
            "MasterAccountEmail": self.master_email,
            "AvailablePolicyTypes": types,
        })
    }

    pub fn root_view(&self) -> Value {
        let types: Vec<Value> = self
            .policy_types
            .iter()
            .map(|t| json!({"Type": t, "Status": "ENABLED"}))
            .collect();
        json!({
            "Id": self.root_id,
            "Arn": self.root_arn(),
            "Name": "Root",
            "PolicyTypes": types,
        })
    }

    pub fn ou_view(&self, ou: &OuDoc) -> Value {
        json!({
            "Id": ou.id,
            "Arn": self.ou_arn(&ou.id),
            "Name": ou.name,
            "Path": self.path(&ou.id),
        })
    }

    pub fn account_view(&self, a: &AcctDoc) -> Value {
        json!({
            "Id": a.id,
            "Arn": self.account_arn(&a.id),
            "Email": a.email,
            "Name": a.name,
            "Status": "ACTIVE",
            "State": "ACTIVE",
            "Paths": [format!("{}{}/", self.path(&a.parent), a.id)],
            "JoinedMethod": a.joined_method,
            "JoinedTimestamp": a.joined,
        })
    }

    pub fn policy_summary(&self, p: &PolicyDoc) -> Value {
        json!({
            "Id": p.id,
            "Arn": self.policy_arn(p),
            "Name": p.name,
            "Description": p.description,
            "Type": p.ptype,
            "AwsManaged": p.aws_managed,
        })
    }

    /// The SCP levels of a member account: root, each OU, the account.
    fn scp_levels(&self, account: &str) -> Vec<Vec<PolicyDoc>> {
        let Some(a) = self.accounts.get(account) else {
            return Vec::new();
        };
        let mut levels: Vec<Vec<PolicyDoc>> = self
            .lineage(&a.parent)
            .iter()
            .map(|c| self.attached(c, SCP))
            .collect();
        levels.push(self.attached(account, SCP));
        levels
    }
}

impl CreateStatus {
    pub fn view(&self) -> Value {
        let mut v = json!({
            "Id": self.id,
            "AccountName": self.account_name,
            "State": self.state,
            "RequestedTimestamp": self.requested,
        });
        if let Some(c) = &self.completed {
            v["CompletedTimestamp"] = json!(c);
        }
        if let Some(a) = &self.account_id {
            v["AccountId"] = json!(a);
        }
        if let Some(f) = &self.failure {
            v["FailureReason"] = json!(f);
        }
        v
    }
}

// ---------------------------------------------------------------- service

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Any account of the organization.
    Member,
    /// The management account or a delegated administrator.
    Read,
    /// The management account only.
    Manage,
}

#[derive(Default)]
struct Cache {
    chains: HashMap<String, Arc<Vec<Vec<NamedPolicy>>>>,
    orgs: HashMap<String, Option<String>>,
    parsed: HashMap<String, Arc<Policy>>,
}

/// The Organizations service.
pub struct Organizations {
    store: ServiceStore,
    accounts: Accounts,
    iam: Arc<Iam>,
    cache: RwLock<Cache>,
}

impl std::fmt::Debug for Organizations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organizations").finish_non_exhaustive()
    }
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, AwsError> {
    serde_json::from_value(v).map_err(|e| failure(format!("corrupt organizations row: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Result<Value, AwsError> {
    serde_json::to_value(v).map_err(|e| failure(e.to_string()))
}

#[derive(Serialize, Deserialize)]
struct MemberDoc {
    org: String,
}

/// Reads the organization `account` belongs to, inside a transaction.
pub(crate) fn tx_org_of(tx: &Tx<'_>, account: &str) -> Result<Option<OrgDoc>, AwsError> {
    let Some(row) = tx.get(MEMBER, SCOPE, account).map_err(internal)? else {
        return Ok(None);
    };
    let m: MemberDoc = decode(row.doc)?;
    match tx.get(ORG, SCOPE, &m.org).map_err(internal)? {
        Some(r) => Ok(Some(decode(r.doc)?)),
        None => Ok(None),
    }
}

pub(crate) fn tx_put_org(tx: &Tx<'_>, org: &OrgDoc) -> Result<(), AwsError> {
    tx.put(ORG, SCOPE, &org.id, None, &encode(org)?)
        .map_err(internal)
}

pub(crate) fn tx_put_member(tx: &Tx<'_>, account: &str, org: &str) -> Result<(), AwsError> {
    let doc = encode(&MemberDoc {
        org: org.to_string(),
    })?;
    tx.put(MEMBER, SCOPE, account, None, &doc).map_err(internal)
}

pub(crate) fn tx_del_member(tx: &Tx<'_>, account: &str) -> Result<(), AwsError> {
    tx.delete(MEMBER, SCOPE, account).map_err(internal)?;
    Ok(())
}

/// Checks `account` may perform an operation needing `access` in `org`.
pub(crate) fn check_access(org: &OrgDoc, account: &str, access: Access) -> Result<(), AwsError> {
    let ok = match access {
        Access::Member => true,
        Access::Read => org.master == account || org.is_delegated_admin(account),
        Access::Manage => org.master == account,
    };
    if ok {
        Ok(())
    } else {
        Err(access_denied())
    }
}

impl Organizations {
    /// Opens the service over the shared store. It reads and creates
    /// accounts through its own handle on the account registry and creates
    /// member-account roles through `iam`.
    pub fn open(store: &Arc<Store>, iam: Arc<Iam>) -> Self {
        Organizations {
            store: store.service("organizations"),
            accounts: Accounts::open(store),
            iam,
            cache: RwLock::new(Cache::default()),
        }
    }

    fn invalidate(&self) {
        if let Ok(mut c) = self.cache.write() {
            *c = Cache::default();
        }
    }

    /// Runs `f` on the caller's organization in one transaction, after
    /// checking `access`; the document is written back only if `f` succeeds.
    pub(crate) fn mutate<T>(
        &self,
        ctx: &Ctx<'_>,
        access: Access,
        f: impl FnOnce(&Tx<'_>, &mut OrgDoc) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let account = ctx.caller.account.clone();
        let out = self
            .store
            .write(|tx| -> Result<T, AwsError> {
                let mut org = tx_org_of(tx, &account)?.ok_or_else(not_in_use)?;
                check_access(&org, &account, access)?;
                let out = f(tx, &mut org)?;
                tx_put_org(tx, &org)?;
                Ok(out)
            })
            .map_err(internal)??;
        self.invalidate();
        Ok(out)
    }

    /// Runs `f` in one transaction over raw rows (organization creation and
    /// deletion); clears the caches on success.
    pub(crate) fn write_raw<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let out = self.store.write(f).map_err(internal)??;
        self.invalidate();
        Ok(out)
    }

    /// The organization `account` belongs to, read outside a transaction.
    pub(crate) fn org_doc_of(&self, account: &str) -> Result<Option<OrgDoc>, AwsError> {
        let Some(row) = self.store.get(MEMBER, SCOPE, account).map_err(internal)? else {
            return Ok(None);
        };
        let m: MemberDoc = decode(row.doc)?;
        match self.store.get(ORG, SCOPE, &m.org).map_err(internal)? {
            Some(r) => Ok(Some(decode(r.doc)?)),
            None => Ok(None),
        }
    }

    /// The caller's organization after checking `access`.
    pub(crate) fn read(&self, ctx: &Ctx<'_>, access: Access) -> Result<OrgDoc, AwsError> {
        let org = self
            .org_doc_of(&ctx.caller.account)?
            .ok_or_else(not_in_use)?;
        check_access(&org, &ctx.caller.account, access)?;
        Ok(org)
    }

    /// The id (`o-…`) of the organization `account` belongs to, for
    /// `aws:PrincipalOrgID`. `None` when it belongs to none (or the store
    /// cannot be read, which is logged).
    pub fn organization_of(&self, account: &str) -> Option<String> {
        if let Some(hit) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.orgs.get(account).cloned())
        {
            return hit;
        }
        let found = match self.store.get(MEMBER, SCOPE, account) {
            Ok(Some(row)) => decode::<MemberDoc>(row.doc).ok().map(|m| m.org),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "organizations: reading membership failed");
                return None;
            }
        };
        if let Ok(mut c) = self.cache.write() {
            if c.orgs.len() >= 100_000 {
                c.orgs.clear();
            }
            c.orgs.insert(account.to_string(), found.clone());
        }
        found
    }

    fn parse_cached(&self, p: &PolicyDoc) -> Result<Arc<Policy>, AwsError> {
        let key = format!("{}\n{}", p.id, p.content);
        if let Some(hit) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.parsed.get(&key).cloned())
        {
            return Ok(hit);
        }
        let parsed = Arc::new(Policy::parse(&p.content, PolicyKind::Scp).map_err(|e| {
            failure(format!(
                "stored service control policy {} is invalid: {}",
                p.id, e.message
            ))
        })?);
        if let Ok(mut c) = self.cache.write() {
            c.parsed.insert(key, Arc::clone(&parsed));
        }
        Ok(parsed)
    }

    /// The service control policies that apply to `account`: one list per
    /// level, from the root down through each OU to the account itself, each
    /// holding the SCPs attached at that level (every level must allow an
    /// action). Empty when the account is in no organization, is the
    /// management account (SCPs never restrict it), or SCPs are not enabled.
    pub fn scp_chain(&self, account: &str) -> Result<Vec<Vec<NamedPolicy>>, AwsError> {
        if let Some(hit) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.chains.get(account).cloned())
        {
            return Ok((*hit).clone());
        }
        let chain = match self.org_doc_of(account)? {
            Some(org) if org.master != account && org.scp_enabled() => {
                let mut out = Vec::new();
                for level in org.scp_levels(account) {
                    let mut named = Vec::new();
                    for p in level {
                        named.push((org.policy_arn(&p), self.parse_cached(&p)?));
                    }
                    out.push(named);
                }
                out
            }
            _ => Vec::new(),
        };
        if let Ok(mut c) = self.cache.write() {
            if c.chains.len() >= 100_000 {
                c.chains.clear();
            }
            c.chains
                .insert(account.to_string(), Arc::new(chain.clone()));
        }
        Ok(chain)
    }
}

/// `NextToken`/`MaxResults` pagination (at most 20 per page, as AWS).
pub(crate) fn page<T: Clone>(
    items: &[T],
    input: &Value,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let mut q = json!({"MaxItems": util::int(input, "MaxResults").unwrap_or(20).clamp(1, 20)});
    if let Some(t) = util::s(input, "NextToken") {
        q["Marker"] = json!(t);
    }
    util::paginate(items, &q, key).map_err(|_| {
        invalid_input(
            "INVALID_NEXT_TOKEN",
            "You specified an invalid value for nextToken.",
        )
    })
}

/// `{member: items, NextToken?}`.
pub(crate) fn page_out(member: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut out = serde_json::Map::new();
    out.insert(member.into(), Value::Array(items));
    if let Some(n) = next {
        out.insert("NextToken".into(), Value::String(n));
    }
    Value::Object(out)
}

impl Service for Organizations {
    fn name(&self) -> &'static str {
        "organizations"
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError> {
        targets::targets(self, ctx, op, input)
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        let i = &input;
        match op {
            "CreateOrganization" => self.create_organization(ctx, i),
            "DescribeOrganization" => self.describe_organization(ctx),
            "DeleteOrganization" => self.delete_organization(ctx),
            "ListRoots" => self.list_roots(ctx, i),
            "CreateOrganizationalUnit" => self.create_ou(ctx, i),
            "DescribeOrganizationalUnit" => self.describe_ou(ctx, i),
            "UpdateOrganizationalUnit" => self.update_ou(ctx, i),
            "DeleteOrganizationalUnit" => self.delete_ou(ctx, i),
            "ListOrganizationalUnitsForParent" => self.list_ous_for_parent(ctx, i),
            "ListParents" => self.list_parents(ctx, i),
            "ListChildren" => self.list_children(ctx, i),
            "CreateAccount" => self.create_account(ctx, i),
            "DescribeCreateAccountStatus" => self.describe_create_account_status(ctx, i),
            "ListCreateAccountStatus" => self.list_create_account_status(ctx, i),
            "ListAccounts" => self.list_accounts(ctx, i),
            "ListAccountsForParent" => self.list_accounts_for_parent(ctx, i),
            "DescribeAccount" => self.describe_account(ctx, i),
            "MoveAccount" => self.move_account(ctx, i),
            "RemoveAccountFromOrganization" => self.remove_account(ctx, i),
            "EnableAWSServiceAccess" => self.enable_service_access(ctx, i),
            "DisableAWSServiceAccess" => self.disable_service_access(ctx, i),
            "ListAWSServiceAccessForOrganization" => self.list_service_access(ctx, i),
            "RegisterDelegatedAdministrator" => self.register_delegated_admin(ctx, i),
            "DeregisterDelegatedAdministrator" => self.deregister_delegated_admin(ctx, i),
            "ListDelegatedAdministrators" => self.list_delegated_admins(ctx, i),
            "ListDelegatedServicesForAccount" => self.list_delegated_services(ctx, i),
            "EnablePolicyType" => self.enable_policy_type(ctx, i),
            "DisablePolicyType" => self.disable_policy_type(ctx, i),
            "CreatePolicy" => self.create_policy(ctx, i),
            "DescribePolicy" => self.describe_policy(ctx, i),
            "UpdatePolicy" => self.update_policy(ctx, i),
            "DeletePolicy" => self.delete_policy(ctx, i),
            "ListPolicies" => self.list_policies(ctx, i),
            "AttachPolicy" => self.attach_policy(ctx, i),
            "DetachPolicy" => self.detach_policy(ctx, i),
            "ListPoliciesForTarget" => self.list_policies_for_target(ctx, i),
            "ListTargetsForPolicy" => self.list_targets_for_policy(ctx, i),
            "TagResource" => self.tag_resource(ctx, i),
            "UntagResource" => self.untag_resource(ctx, i),
            "ListTagsForResource" => self.list_tags(ctx, i),
            _ => Err(AwsError::not_implemented("Organizations", op)),
        }
    }
}
