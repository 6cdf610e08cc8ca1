//! Pure authorization: AWS's documented policy evaluation logic.
//!
//! References (AWS IAM User Guide):
//! * "Policy evaluation logic" / "How AWS enforcement code logic evaluates
//!   requests to allow or deny access": explicit deny in any applicable
//!   policy wins; then SCPs (every level of the OU path must allow; the
//!   management account is not restricted); then resource-based policies;
//!   then identity-based policies; then permissions boundaries; then session
//!   policies; otherwise implicit deny. The root user is allowed unless
//!   denied.
//! * "Policy evaluation for requests within a single account": within one
//!   account a resource-based policy that names the IAM user ARN or the role
//!   *session* ARN grants access even if identity-based policies, the
//!   permissions boundary or a session policy implicitly deny; one that names
//!   the *role* ARN is still limited by an implicit deny in a permissions
//!   boundary or session policy (but needs no identity-based allow); one that
//!   names the account (`arn:aws:iam::111122223333:root`) delegates to IAM,
//!   so the identity side must allow.
//! * "Cross-account policy evaluation logic": the identity side of the
//!   requesting account (identity ∩ boundary ∩ session, and its SCPs) AND the
//!   resource-based policy of the resource's account must both allow.
//! * AWS KMS "Key policies": no IAM policy alone grants access to a KMS key;
//!   the key policy must allow (typically by naming the account root, which
//!   then defers to IAM policies).
//! * "Troubleshooting access denied error messages": denial wording.

use crate::context::Context;
use crate::glob::arn_match_dynamic;
use crate::policy::{AwsPrincipal, Effect, Policy, PolicyKind, PrincipalSet, ResItem};

/// What kind of identity made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account's root user.
    Root,
    /// An IAM user.
    User,
    /// A role session; `role_arn` is the IAM role ARN (with path).
    AssumedRole { role_arn: String },
    /// An `sts:GetFederationToken` session.
    FederatedUser,
    /// An AWS service principal such as `sagemaker.amazonaws.com`.
    Service(String),
    /// An unauthenticated request.
    Anonymous,
}

/// The requesting principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub arn: String,
    pub account: String,
    pub kind: PrincipalKind,
    pub userid: String,
    pub username: Option<String>,
}

impl Principal {
    pub fn root(account: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{account}:root"),
            account: account.to_string(),
            kind: PrincipalKind::Root,
            userid: account.to_string(),
            username: None,
        }
    }

    pub fn user(account: &str, name: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            account: account.to_string(),
            kind: PrincipalKind::User,
            userid: format!("AIDA{}", name.to_ascii_uppercase()),
            username: Some(name.to_string()),
        }
    }

    /// A session of role `role_name` (role path `path`, e.g. `/` or
    /// `/service-role/`).
    pub fn assumed_role(account: &str, path: &str, role_name: &str, session: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
            account: account.to_string(),
            kind: PrincipalKind::AssumedRole {
                role_arn: format!("arn:aws:iam::{account}:role{path}{role_name}"),
            },
            userid: format!("AROA{}:{session}", role_name.to_ascii_uppercase()),
            username: None,
        }
    }

    pub fn service(name: &str) -> Principal {
        Principal {
            arn: name.to_string(),
            account: String::new(),
            kind: PrincipalKind::Service(name.to_string()),
            userid: name.to_string(),
            username: None,
        }
    }

    pub fn anonymous() -> Principal {
        Principal {
            arn: "*".to_string(),
            account: String::new(),
            kind: PrincipalKind::Anonymous,
            userid: "anonymous".to_string(),
            username: None,
        }
    }

    fn has_identity_policies(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::User | PrincipalKind::AssumedRole { .. } | PrincipalKind::FederatedUser
        )
    }
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    pub principal: &'a Principal,
    /// e.g. `s3:GetObject`.
    pub action: &'a str,
    /// Resource ARN, or `*` for actions without a resource.
    pub resource: &'a str,
    /// Account owning the resource; `None` means the principal's account.
    pub resource_account: Option<&'a str>,
    pub context: &'a Context,
}

/// A policy with the identifier reported in decisions.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRef<'a> {
    pub id: &'a str,
    pub policy: &'a Policy,
}

/// Every policy applicable to a request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    pub identity: Vec<PolicyRef<'a>>,
    pub resource: Option<PolicyRef<'a>>,
    pub boundary: Option<PolicyRef<'a>>,
    pub session: Vec<PolicyRef<'a>>,
    /// One Vec per level of the OU path (root, OUs, account); empty when
    /// the account is not in an organization or is the management account.
    pub scps: Vec<Vec<PolicyRef<'a>>>,
    /// Policy of the VPC endpoint the request traversed.
    pub endpoint: Option<PolicyRef<'a>>,
}

/// The policy types named in decisions and denial messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    Identity,
    Resource,
    Boundary,
    Session,
    Scp,
    VpcEndpoint,
}

impl PolicyType {
    /// Name as used in "because no <name> allows".
    pub fn name(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity-based policy",
            PolicyType::Resource => "resource-based policy",
            PolicyType::Boundary => "permissions boundary",
            PolicyType::Session => "session policy",
            PolicyType::Scp => "service control policy",
            PolicyType::VpcEndpoint => "VPC endpoint policy",
        }
    }

    /// Name with article as used in "with an explicit deny in <x>".
    pub fn with_article(self) -> &'static str {
        match self {
            PolicyType::Identity => "an identity-based policy",
            PolicyType::Resource => "a resource-based policy",
            PolicyType::Boundary => "a permissions boundary",
            PolicyType::Session => "a session policy",
            PolicyType::Scp => "a service control policy",
            PolicyType::VpcEndpoint => "a VPC endpoint policy",
        }
    }

    /// Short identifier (`identity`, `resource`, `boundary`, `session`,
    /// `scp`, `endpoint`).
    pub fn short(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity",
            PolicyType::Resource => "resource",
            PolicyType::Boundary => "boundary",
            PolicyType::Session => "session",
            PolicyType::Scp => "scp",
            PolicyType::VpcEndpoint => "endpoint",
        }
    }
}

/// Why the decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Identity side allowed (identity ∩ boundary ∩ session), plus the
    /// resource-based policy for cross-account requests.
    AllowedByIdentity,
    /// A same-account resource-based policy grant sufficed.
    AllowedByResource,
    /// The account's root user (not denied).
    AllowedRoot,
    ExplicitDeny(PolicyType),
    ImplicitDeny(PolicyType),
}

impl Reason {
    pub fn short(self) -> String {
        match self {
            Reason::AllowedByIdentity => "allowed_identity".into(),
            Reason::AllowedByResource => "allowed_resource".into(),
            Reason::AllowedRoot => "allowed_root".into(),
            Reason::ExplicitDeny(t) => format!("explicit_deny_{}", t.short()),
            Reason::ImplicitDeny(t) => format!("implicit_deny_{}", t.short()),
        }
    }
}

/// A statement that applied to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementMatch {
    pub policy_id: String,
    pub policy_type: PolicyType,
    pub sid: Option<String>,
    /// Index of the statement in its policy.
    pub index: usize,
    pub effect: Effect,
}

/// Result of [`authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
    /// Every statement whose action, resource, principal and conditions
    /// all matched, in evaluation order.
    pub matched: Vec<StatementMatch>,
    /// The statement that decided (the explicit deny, or the allow that
    /// granted); `None` for implicit denies and the root user.
    pub deciding: Option<StatementMatch>,
    /// Per relevant statement: why it matched or not.
    pub explain: Vec<String>,
}

impl Decision {
    /// AccessDenied text as AWS words it. S3 resources are quoted (S3's
    /// format); `*` omits the "on resource" part.
    pub fn denial_message(&self, principal_arn: &str, action: &str, resource: &str) -> String {
        let on = if resource.is_empty() || resource == "*" {
            String::new()
        } else if is_s3_arn(resource) {
            format!(" on resource: \"{resource}\"")
        } else {
            format!(" on resource: {resource}")
        };
        let head = format!("User: {principal_arn} is not authorized to perform: {action}{on}");
        match self.reason {
            Reason::ExplicitDeny(t) => {
                format!("{head} with an explicit deny in {}", t.with_article())
            }
            Reason::ImplicitDeny(t) => {
                format!("{head} because no {} allows the {action} action", t.name())
            }
            _ => String::new(),
        }
    }
}

fn is_s3_arn(r: &str) -> bool {
    let mut it = r.splitn(4, ':');
    it.next() == Some("arn") && it.nth(1) == Some("s3")
}

/// Evaluation switches.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Fill [`Decision::explain`] (costs some string formatting).
    pub explain: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions { explain: true }
    }
}

/// Decide a request with explanations.
pub fn authorize(req: &AuthzRequest, set: &PolicySet) -> Decision {
    authorize_with(req, set, EvalOptions::default())
}

/// How a resource-based statement named the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    /// The principal's account (delegation to IAM).
    Account,
    /// The role whose session is calling.
    RoleArn,
    /// The exact user / session / service principal, or `*`.
    Direct,
}

#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    /// (index into matched, grant)
    allow: Option<(usize, Grant)>,
    deny: Option<usize>,
}

struct Eval<'r> {
    principal: &'r Principal,
    action_lc: String,
    svc_len: usize,
    resource: &'r str,
    ctx: &'r Context,
    explain: bool,
    matched: Vec<StatementMatch>,
    notes: Vec<String>,
}

fn principal_grant(ps: &PrincipalSet, p: &Principal) -> Option<Grant> {
    if ps.any {
        return Some(Grant::Direct);
    }
    let mut best: Option<Grant> = None;
    let mut bump = |g: Grant| {
        if best.is_none_or(|b| g > b) {
            best = Some(g);
        }
    };
    for a in &ps.aws {
        match a {
            AwsPrincipal::Any => bump(Grant::Direct),
            AwsPrincipal::Account(acct) => {
                if *acct == p.account
                    && !matches!(p.kind, PrincipalKind::Anonymous | PrincipalKind::Service(_))
                {
                    bump(Grant::Account)
                }
            }
            AwsPrincipal::Arn(x) => {
                if *x == p.arn {
                    bump(Grant::Direct)
                } else if let PrincipalKind::AssumedRole { role_arn } = &p.kind {
                    if x == role_arn {
                        bump(Grant::RoleArn)
                    }
                }
            }
        }
    }
    if let PrincipalKind::Service(name) = &p.kind {
        if ps.service.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            bump(Grant::Direct)
        }
    }
    if ps.federated.contains(&p.arn) || ps.canonical_user.contains(&p.userid) {
        bump(Grant::Direct)
    }
    best
}

impl Eval<'_> {
    fn label(&self, id: &str, sid: Option<&str>, i: usize) -> String {
        match sid {
            Some(s) => format!("policy {id} statement \"{s}\" (#{i})"),
            None => format!("policy {id} statement #{i}"),
        }
    }

    fn eval_policy(&mut self, pr: &PolicyRef, ty: PolicyType) -> Outcome {
        let mut out = Outcome::default();
        let policy = pr.policy;
        let service = &self.action_lc[..self.svc_len];
        // Split borrow: candidates borrow `policy`, not `self`.
        for i in policy.candidates(service) {
            let Some(s) = policy.statements.get(i) else {
                continue;
            };
            let hit = s.actions.pats.iter().any(|p| p.matches(&self.action_lc));
            if hit == s.actions.negated {
                continue;
            }
            if let Some(rs) = &s.resources {
                let hit = rs.items.iter().any(|it| match it {
                    ResItem::Static(p) => p.matches(self.resource),
                    ResItem::Tmpl(t) => t
                        .resolve(self.principal, self.ctx)
                        .is_some_and(|r| arn_match_dynamic(&r, self.resource)),
                });
                if hit == rs.negated {
                    if self.explain {
                        let l = self.label(pr.id, s.sid.as_deref(), i);
                        self.notes.push(format!(
                            "{l}: {} action matched, resource {} did not match",
                            s.effect.as_str(),
                            self.resource
                        ));
                    }
                    continue;
                }
            }
            let grant = match &s.principal {
                None => Grant::Direct,
                Some(ps) => {
                    let g = principal_grant(ps, self.principal);
                    match (ps.negated, g) {
                        (false, Some(g)) => g,
                        (true, None) => Grant::Direct,
                        _ => {
                            if self.explain {
                                let l = self.label(pr.id, s.sid.as_deref(), i);
                                self.notes.push(format!(
                                    "{l}: {} principal {} not matched",
                                    s.effect.as_str(),
                                    self.principal.arn
                                ));
                            }
                            continue;
                        }
                    }
                }
            };
            if let Some(c) = s
                .conditions
                .iter()
                .find(|c| !c.eval(self.principal, self.ctx))
            {
                if self.explain {
                    let l = self.label(pr.id, s.sid.as_deref(), i);
                    let why = c.describe_failure(self.ctx);
                    self.notes.push(format!("{l}: {} {why}", s.effect.as_str()));
                }
                continue;
            }
            if self.explain {
                let l = self.label(pr.id, s.sid.as_deref(), i);
                self.notes
                    .push(format!("{l}: {} matched", s.effect.as_str()));
            }
            let idx = self.matched.len();
            self.matched.push(StatementMatch {
                policy_id: pr.id.to_string(),
                policy_type: ty,
                sid: s.sid.clone(),
                index: i,
                effect: s.effect,
            });
            match s.effect {
                Effect::Deny => {
                    if out.deny.is_none() {
                        out.deny = Some(idx)
                    }
                }
                Effect::Allow => match out.allow {
                    Some((_, g)) if g >= grant => {}
                    _ => out.allow = Some((idx, grant)),
                },
            }
        }
        out
    }

    fn eval_union(&mut self, refs: &[PolicyRef], ty: PolicyType) -> Outcome {
        let mut acc = Outcome::default();
        for r in refs {
            let o = self.eval_policy(r, ty);
            if acc.deny.is_none() {
                acc.deny = o.deny;
            }
            match (acc.allow, o.allow) {
                (None, Some(a)) => acc.allow = Some(a),
                (Some((_, g)), Some((i, g2))) if g2 > g => acc.allow = Some((i, g2)),
                _ => {}
            }
        }
        acc
    }
}

/// Decide a request.
pub fn authorize_with(req: &AuthzRequest, set: &PolicySet, opts: EvalOptions) -> Decision {
    let action_lc = req.action.to_ascii_lowercase();
    let svc_len = action_lc.find(':').unwrap_or(action_lc.len());
    let p = req.principal;
    let mut ev = Eval {
        principal: p,
        action_lc,
        svc_len,
        resource: req.resource,
        ctx: req.context,
        explain: opts.explain,
        matched: Vec::new(),
        notes: Vec::new(),
    };

    let identity_applies = p.has_identity_policies();
    let scp_applies = identity_applies || p.kind == PrincipalKind::Root;

    // Evaluate every applicable policy (explicit denies anywhere win).
    let mut scp_levels: Vec<Outcome> = Vec::new();
    if scp_applies {
        for level in &set.scps {
            scp_levels.push(ev.eval_union(level, PolicyType::Scp));
        }
    }
    let resource = set
        .resource
        .as_ref()
        .map(|r| (ev.eval_policy(r, PolicyType::Resource), r.policy.kind));
    let (identity, boundary, session) = if identity_applies {
        let i = ev.eval_union(&set.identity, PolicyType::Identity);
        let b = set
            .boundary
            .as_ref()
            .map(|b| ev.eval_policy(b, PolicyType::Boundary));
        let s = if set.session.is_empty() {
            None
        } else {
            Some(ev.eval_union(&set.session, PolicyType::Session))
        };
        (Some(i), b, s)
    } else {
        (None, None, None)
    };
    let endpoint = set
        .endpoint
        .as_ref()
        .map(|e| ev.eval_policy(e, PolicyType::VpcEndpoint));

    let finish = |ev: Eval, allowed: bool, reason: Reason, deciding: Option<usize>| {
        let deciding = deciding.and_then(|i| ev.matched.get(i).cloned());
        Decision {
            allowed,
            reason,
            matched: ev.matched,
            deciding,
            explain: ev.notes,
        }
    };
    let deny = |r: Reason| (false, r);

    // 1. Explicit deny in any policy type.
    let denies = [
        (PolicyType::Scp, scp_levels.iter().find_map(|o| o.deny)),
        (PolicyType::Resource, resource.and_then(|(o, _)| o.deny)),
        (PolicyType::Identity, identity.and_then(|o| o.deny)),
        (PolicyType::Boundary, boundary.and_then(|o| o.deny)),
        (PolicyType::Session, session.and_then(|o| o.deny)),
        (PolicyType::VpcEndpoint, endpoint.and_then(|o| o.deny)),
    ];
    for (t, d) in denies {
        if let Some(i) = d {
            let (a, r) = deny(Reason::ExplicitDeny(t));
            return finish(ev, a, r, Some(i));
        }
    }

    // 2. SCPs: every level must allow.
    if scp_levels.iter().any(|o| o.allow.is_none()) {
        return finish(ev, false, Reason::ImplicitDeny(PolicyType::Scp), None);
    }
    // 3. VPC endpoint policy must allow when the request traversed one.
    if endpoint.is_some_and(|o| o.allow.is_none()) {
        return finish(
            ev,
            false,
            Reason::ImplicitDeny(PolicyType::VpcEndpoint),
            None,
        );
    }

    let same_account = req.resource_account.is_none_or(|a| a == p.account.as_str());
    let res_grant = resource.and_then(|(o, _)| o.allow);
    // Key policies and role trust policies must themselves allow: an
    // identity-policy allow alone never opens a KMS key or lets a principal
    // assume a role ("Policy evaluation logic"; "How IAM roles differ from
    // resource-based policies").
    let key_policy_required =
        resource.is_some_and(|(_, k)| matches!(k, PolicyKind::KeyPolicy | PolicyKind::Trust));

    // Root user, services and anonymous callers have no identity side.
    if !identity_applies {
        if p.kind == PrincipalKind::Root && same_account && !key_policy_required {
            return finish(ev, true, Reason::AllowedRoot, None);
        }
        return match res_grant {
            Some((i, _)) => finish(ev, true, Reason::AllowedByResource, Some(i)),
            None => finish(ev, false, Reason::ImplicitDeny(PolicyType::Resource), None),
        };
    }

    let boundary_ok = boundary.is_none_or(|o| o.allow.is_some());
    let session_ok = session.is_none_or(|o| o.allow.is_some());
    let identity_allow = identity.and_then(|o| o.allow).map(|(i, _)| i);
    let identity_failure = if identity_allow.is_none() {
        Some(PolicyType::Identity)
    } else if !boundary_ok {
        Some(PolicyType::Boundary)
    } else if !session_ok {
        Some(PolicyType::Session)
    } else {
        None
    };

    if same_account {
        match res_grant {
            Some((i, Grant::Direct)) => {
                return finish(ev, true, Reason::AllowedByResource, Some(i));
            }
            Some((i, Grant::RoleArn)) => {
                if boundary_ok && session_ok {
                    return finish(ev, true, Reason::AllowedByResource, Some(i));
                }
                let t = if !boundary_ok {
                    PolicyType::Boundary
                } else {
                    PolicyType::Session
                };
                return finish(ev, false, Reason::ImplicitDeny(t), None);
            }
            Some((_, Grant::Account)) | None => {
                if key_policy_required && res_grant.is_none() {
                    return finish(ev, false, Reason::ImplicitDeny(PolicyType::Resource), None);
                }
                return match identity_failure {
                    Some(t) => finish(ev, false, Reason::ImplicitDeny(t), None),
                    None => finish(ev, true, Reason::AllowedByIdentity, identity_allow),
                };
            }
        }
    }

    // Cross-account: both sides.
    if let Some(t) = identity_failure {
        return finish(ev, false, Reason::ImplicitDeny(t), None);
    }
    match res_grant {
        Some(_) => finish(ev, true, Reason::AllowedByIdentity, identity_allow),
        None => finish(ev, false, Reason::ImplicitDeny(PolicyType::Resource), None),
    }
}
