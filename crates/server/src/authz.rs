//! Authorization of every request: the service names the checks (action,
//! resource, resource policy, condition keys), this module gathers the
//! caller's policies and the request context, and `ironsage-policy` decides.
//! Each decision is recorded for `ironsage iam explain`; the client sees only
//! AWS's own wording.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ironsage_model::{Protocol, ServiceInfo};
use ironsage_policy as policy;
use ironsage_services::{AwsError, Caller, PrincipalKind, Target};
use serde::Serialize;

use crate::app::App;

/// Facts about the request that become global condition keys.
#[derive(Debug, Clone)]
pub struct RequestEnv<'a> {
    /// The peer address (`aws:SourceIp`).
    pub source_ip: IpAddr,
    /// Whether the request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// `aws:RequestedRegion`.
    pub region: &'a str,
    /// `aws:CurrentTime` / `aws:EpochTime`.
    pub now: time::OffsetDateTime,
    /// The VPC endpoint the request came through, if any.
    pub arrival: Option<&'a crate::endpoints::Arrival>,
}

/// One recorded decision.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DecisionRecord {
    /// Request id.
    pub request_id: String,
    /// ISO time.
    pub time: String,
    /// Principal ARN.
    pub principal: String,
    /// Action.
    pub action: String,
    /// Resource.
    pub resource: String,
    /// Allowed?
    pub allowed: bool,
    /// AWS-worded summary (denials) or "allowed".
    pub summary: String,
    /// Deciding statements and failed conditions.
    pub explain: Vec<String>,
}

/// Recent decisions: a bounded in-memory ring, and (when the server has a
/// data directory) an append-only JSON-lines file, `<data-dir>/decisions.jsonl`
/// (0600), which `ironsage iam explain` reads. The request path only
/// queues the record; a background thread formats and writes the batch every
/// [`FLUSH_EVERY`] — no per-request wake-up, formatting or system call.
#[derive(Debug, Default)]
pub struct DecisionLog {
    recent: Mutex<VecDeque<Arc<DecisionRecord>>>,
    pending: Option<Arc<Mutex<Vec<Arc<DecisionRecord>>>>>,
}

const LOG_CAPACITY: usize = 1000;
/// The decision file is rotated (to `decisions.jsonl.1`) past this size.
const LOG_FILE_MAX: u64 = 16 * 1024 * 1024;
/// How often pending decisions reach the file.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The decision log file in a data directory.
pub fn decision_file(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("decisions.jsonl")
}

fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

impl DecisionLog {
    /// A log that also appends to `<data_dir>/decisions.jsonl`.
    pub fn with_file(data_dir: &std::path::Path) -> Self {
        let path = decision_file(data_dir);
        let pending: Arc<Mutex<Vec<Arc<DecisionRecord>>>> = Arc::default();
        let queue = Arc::clone(&pending);
        let spawned = std::thread::Builder::new()
            .name("decision-log".into())
            .spawn(move || {
                use std::io::Write;
                let Ok(file) = open_log(&path) else { return };
                let mut size = file.metadata().map(|m| m.len()).unwrap_or(0);
                let mut out = std::io::BufWriter::new(file);
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    let batch = match queue.lock() {
                        Ok(mut q) => std::mem::take(&mut *q),
                        Err(_) => return,
                    };
                    if batch.is_empty() {
                        continue;
                    }
                    for rec in &batch {
                        let Ok(line) = serde_json::to_string(&**rec) else {
                            continue;
                        };
                        let _ = writeln!(out, "{line}");
                        size += line.len() as u64 + 1;
                    }
                    let _ = out.flush();
                    if size > LOG_FILE_MAX {
                        let _ = std::fs::rename(&path, path.with_extension("jsonl.1"));
                        match open_log(&path) {
                            Ok(f) => out = std::io::BufWriter::new(f),
                            Err(_) => return,
                        }
                        size = 0;
                    }
                }
            });
        DecisionLog {
            recent: Mutex::new(VecDeque::new()),
            pending: spawned.ok().map(|_| pending),
        }
    }

    fn push(&self, rec: DecisionRecord) {
        let rec = Arc::new(rec);
        if let Some(pending) = &self.pending {
            if let Ok(mut q) = pending.lock() {
                // Bounded: if the writer falls behind, the oldest lines go.
                if q.len() >= 100_000 {
                    q.remove(0);
                }
                q.push(Arc::clone(&rec));
            }
        }
        if let Ok(mut q) = self.recent.lock() {
            if q.len() >= LOG_CAPACITY {
                q.pop_front();
            }
            q.push_back(rec);
        }
    }

    /// The most recent decisions, newest last.
    pub fn recent(&self, n: usize) -> Vec<DecisionRecord> {
        self.recent
            .lock()
            .map(|q| {
                q.iter()
                    .rev()
                    .take(n)
                    .rev()
                    .map(|r| (**r).clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn principal_of(caller: &Caller) -> policy::Principal {
    let kind = match &caller.kind {
        PrincipalKind::Root => policy::PrincipalKind::Root,
        PrincipalKind::User { .. } => policy::PrincipalKind::User,
        PrincipalKind::AssumedRole { .. } => policy::PrincipalKind::AssumedRole {
            role_arn: caller.role_arn().unwrap_or_default(),
        },
    };
    policy::Principal {
        arn: caller.arn(),
        account: caller.account.clone(),
        kind,
        userid: caller.userid(),
        username: caller.username().map(str::to_string),
    }
}

/// AWS's access-denied error in the protocol's wording.
pub fn access_denied(info: &ServiceInfo, message: String) -> AwsError {
    match info.protocol {
        Protocol::Query => AwsError::new("AccessDenied", message, 403),
        Protocol::Ec2 => AwsError::new(
            "UnauthorizedOperation",
            format!("You are not authorized to perform this operation. {message}"),
            403,
        ),
        Protocol::RestXml => AwsError::new("AccessDenied", message, 403),
        Protocol::Json => AwsError::new("AccessDeniedException", message, 400),
        Protocol::RestJson => AwsError::new("AccessDeniedException", message, 403),
    }
}

/// Builds the request context for one check.
fn context_for(
    app: &App,
    caller: &Caller,
    target: &Target,
    env: &RequestEnv<'_>,
) -> Result<policy::Context, AwsError> {
    let mut cx = policy::Context::new();
    let principal_arn = caller.role_arn().unwrap_or_else(|| caller.arn());
    cx.insert("aws:PrincipalArn", principal_arn);
    cx.insert("aws:PrincipalAccount", caller.account.clone());
    if let Some(org) = app.organizations.organization_of(&caller.account) {
        cx.insert("aws:PrincipalOrgID", org);
    }
    cx.insert("aws:userid", caller.userid());
    if let Some(u) = caller.username() {
        cx.insert("aws:username", u.to_string());
    }
    cx.insert(
        "aws:PrincipalType",
        match caller.kind {
            PrincipalKind::Root => "Account",
            PrincipalKind::User { .. } => "User",
            PrincipalKind::AssumedRole { .. } => "AssumedRole",
        },
    );
    cx.insert("aws:CurrentTime", env.now);
    cx.insert("aws:EpochTime", env.now.unix_timestamp());
    cx.insert("aws:SecureTransport", env.secure_transport);
    match env.arrival {
        // Through a VPC endpoint AWS sets aws:SourceVpce/aws:SourceVpc and
        // aws:VpcSourceIp, and leaves aws:SourceIp out.
        Some(a) => {
            cx.insert("aws:SourceVpce", a.vpce_id.clone());
            cx.insert("aws:SourceVpc", a.vpc_id.clone());
            cx.insert("aws:VpcSourceIp", env.source_ip);
        }
        None => cx.insert("aws:SourceIp", env.source_ip),
    }
    cx.insert("aws:RequestedRegion", env.region.to_string());
    if let Some(sess) = &caller.session {
        // Temporary credentials carry the MFA key (false: no MFA here).
        cx.insert("aws:MultiFactorAuthPresent", false);
        cx.insert("aws:TokenIssueTime", env.now);
        for (k, v) in &sess.tags {
            cx.insert(&format!("aws:PrincipalTag/{k}"), v.clone());
        }
        if let Some(si) = &sess.source_identity {
            cx.insert("aws:SourceIdentity", si.clone());
        }
    }
    for (k, v) in app.iam.principal_tags(caller)? {
        let key = format!("aws:PrincipalTag/{k}");
        if cx.get(&key).is_none() {
            cx.insert(&key, v);
        }
    }
    for (k, vals) in &target.context {
        cx.insert_multi(k, vals.iter().cloned());
    }
    Ok(cx)
}

/// Decides every target; the first denial is returned as AWS words it.
pub fn authorize(
    app: &App,
    info: &ServiceInfo,
    caller: &Caller,
    targets: &[Target],
    env: &RequestEnv<'_>,
    request_id: &str,
) -> Result<(), AwsError> {
    if targets.is_empty() {
        return Ok(());
    }
    let principal = principal_of(caller);
    let pols = app.iam.principal_policies(caller)?;
    // Service control policies bound every principal of a member account
    // (the management account is exempt: its chain is empty).
    let scps = app.organizations.scp_chain(&caller.account)?;
    // A request through a VPC endpoint must also be allowed by its policy.
    let endpoint_policy = match env.arrival {
        Some(a) => {
            let vpce = app
                .ec2
                .endpoint(&a.account, &a.region, &a.vpce_id)
                .ok_or_else(|| {
                    access_denied(
                        info,
                        format!("The VPC endpoint {} no longer exists.", a.vpce_id),
                    )
                })?;
            Some((format!("{} (VPC endpoint policy)", a.vpce_id), vpce.policy))
        }
        None => None,
    };
    // Session policies (inline and managed) narrow a role session.
    let mut session_docs: Vec<(String, Arc<policy::Policy>)> = Vec::new();
    if let Some(sess) = &caller.session {
        if let Some(p) = &sess.policy {
            let parsed = policy::Policy::parse(p, policy::PolicyKind::Session).map_err(|e| {
                AwsError::new(
                    "InternalFailure",
                    format!("session policy: {}", e.message),
                    500,
                )
            })?;
            session_docs.push(("session policy".to_string(), Arc::new(parsed)));
        }
        for arn in &sess.policy_arns {
            if let Some(p) = app.iam.managed_policy(arn)? {
                session_docs.push((format!("{arn} (session policy)"), p));
            }
        }
    }
    // The request context (a dozen global keys, principal tags) is built
    // only when some policy that applies could read it.
    let reads = |p: &policy::Policy| p.reads_context();
    let needs_context = pols.identity.iter().any(|(_, p)| reads(p))
        || pols.boundary.as_ref().is_some_and(|(_, p)| reads(p))
        || session_docs.iter().any(|(_, p)| reads(p))
        || scps.iter().flatten().any(|(_, p)| reads(p))
        || endpoint_policy.as_ref().is_some_and(|(_, p)| reads(p))
        || targets
            .iter()
            .any(|t| t.resource_policy.as_ref().is_some_and(|(_, p)| reads(p)));
    for target in targets {
        let cx = if needs_context {
            context_for(app, caller, target, env)?
        } else {
            policy::Context::new()
        };
        let req = policy::AuthzRequest {
            principal: &principal,
            action: &target.action,
            resource: &target.resource,
            resource_account: target.resource_account.as_deref(),
            context: &cx,
        };
        let set = policy::PolicySet {
            identity: pols
                .identity
                .iter()
                .map(|(id, p)| policy::PolicyRef { id, policy: p })
                .collect(),
            resource: target
                .resource_policy
                .as_ref()
                .map(|(id, p)| policy::PolicyRef { id, policy: p }),
            boundary: pols
                .boundary
                .as_ref()
                .map(|(id, p)| policy::PolicyRef { id, policy: p }),
            session: session_docs
                .iter()
                .map(|(id, p)| policy::PolicyRef { id, policy: p })
                .collect(),
            scps: scps
                .iter()
                .map(|level| {
                    level
                        .iter()
                        .map(|(id, p)| policy::PolicyRef { id, policy: p })
                        .collect()
                })
                .collect(),
            endpoint: endpoint_policy
                .as_ref()
                .map(|(id, p)| policy::PolicyRef { id, policy: p }),
        };
        // The hot path decides without building explanations; a denial (or
        // an operator asking for the authz log) re-runs with them.
        let fast = policy::authorize_with(&req, &set, policy::EvalOptions { explain: false });
        let decision = if !fast.allowed
            || tracing::enabled!(target: "ironsage::authz", tracing::Level::INFO)
        {
            policy::authorize_with(&req, &set, policy::EvalOptions { explain: true })
        } else {
            fast
        };
        let principal_arn = caller.arn();
        let summary = if decision.allowed {
            "allowed".to_string()
        } else {
            decision.denial_message(&principal_arn, &target.action, &target.resource)
        };
        tracing::info!(
            target: "ironsage::authz",
            request_id,
            principal = %principal_arn,
            action = %target.action,
            resource = %target.resource,
            allowed = decision.allowed,
            explain = ?decision.explain,
            "authorization decision"
        );
        app.decisions.push(DecisionRecord {
            request_id: request_id.to_string(),
            time: ironsage_services::util::iso(env.now),
            principal: principal_arn,
            action: target.action.clone(),
            resource: target.resource.clone(),
            allowed: decision.allowed,
            summary: summary.clone(),
            explain: decision.explain.clone(),
        });
        if !decision.allowed {
            return Err(access_denied(info, summary));
        }
    }
    Ok(())
}
