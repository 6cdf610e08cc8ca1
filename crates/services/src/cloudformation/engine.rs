//! The engine: evaluates a stack's template and runs its operation —
//! resources in dependency order, independent ones in parallel — persisting
//! every transition (one transaction each).

use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Arc, Mutex};

use ironsage_cfn_template as tpl;
use serde_json::{json, Map, Value};
use tpl::{ParameterInput, Template};

use super::model::*;
use super::providers::{self, check_properties, Created, PCtx};
use super::{validation, Inner};
use crate::util::{iso, now};
use crate::{internal, AwsError, Caller, PrincipalKind, SessionInfo};

/// A live resource: what `Ref` and `GetAtt` read.
#[derive(Debug, Clone)]
struct Live {
    physical_id: String,
    attrs: Map<String, Value>,
}

/// Reads SSM parameters (for `AWS::SSM::Parameter::Value<…>`) as the caller.
pub(crate) struct AwsParams<'a> {
    pub inner: &'a Inner,
    pub caller: &'a Caller,
    pub region: &'a str,
}

impl tpl::ParameterResolver for AwsParams<'_> {
    fn validate_aws_type(&self, ty: &str, value: &str) -> Result<(), String> {
        let (op, input, list) = match ty {
            "AWS::EC2::VPC::Id" => ("DescribeVpcs", json!({"VpcIds": [value]}), "Vpcs"),
            "AWS::EC2::Subnet::Id" => ("DescribeSubnets", json!({"SubnetIds": [value]}), "Subnets"),
            "AWS::EC2::SecurityGroup::Id" => (
                "DescribeSecurityGroups",
                json!({"GroupIds": [value]}),
                "SecurityGroups",
            ),
            "AWS::EC2::AvailabilityZone::Name" => (
                "DescribeAvailabilityZones",
                json!({"ZoneNames": [value]}),
                "AvailabilityZones",
            ),
            _ => return Ok(()),
        };
        let internal = self.inner.internal.get().map_err(|e| e.message)?;
        let missing =
            || format!("parameter value {value} for parameter name {PARAM_NAME} does not exist");
        match internal.invoke(
            self.caller,
            self.region,
            Some("cloudformation.amazonaws.com"),
            "ec2",
            op,
            input,
        ) {
            Ok(out) => {
                if out
                    .get(list)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
                {
                    Ok(())
                } else {
                    Err(missing())
                }
            }
            Err(e) if e.status == 403 => Err(e.message),
            Err(_) => Err(missing()),
        }
    }
    fn ssm_value(&self, name: &str) -> Result<String, String> {
        let internal = self.inner.internal.get().map_err(|e| e.message)?;
        let out = internal
            .invoke(
                self.caller,
                self.region,
                Some("cloudformation.amazonaws.com"),
                "ssm",
                "GetParameter",
                json!({"Name": name}),
            )
            .map_err(|_| format!("Parameter {name} not found."))?;
        Ok(out
            .pointer("/Parameter/Value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }
}

/// The outcome of checking a template and its parameters for one stack.
pub(crate) struct Prepared {
    pub template: Template,
    pub params: Vec<ParamDoc>,
    #[allow(dead_code)]
    pub required_caps: Vec<String>,
}

/// Stands for the parameter's name in [`AwsParams`]' messages (the
/// resolver is not told the name; the error is).
const PARAM_NAME: &str = "\u{1}NAME\u{1}";

pub(crate) fn template_error(e: &tpl::TemplateError) -> AwsError {
    match &e.kind {
        tpl::ErrorKind::Parameter { name } if e.message().contains(PARAM_NAME) => {
            validation(format!(
                "Parameter validation failed: {}",
                e.message().replace(PARAM_NAME, name)
            ))
        }
        tpl::ErrorKind::Parameter { .. } | tpl::ErrorKind::Rule { .. } => validation(e.message()),
        _ => validation(e.to_string()),
    }
}

/// Parses and validates a template body (ValidateTemplate's checks plus
/// supported resource types).
pub(crate) fn parse_checked(body: &str) -> Result<Template, AwsError> {
    let t = tpl::parse_template(body).map_err(|e| template_error(&e))?;
    t.validate().map_err(|e| template_error(&e))?;
    Ok(t)
}

/// Fails naming every resource type without a provider.
pub(crate) fn check_types(t: &Template) -> Result<(), AwsError> {
    let mut bad: Vec<&str> = Vec::new();
    for r in t.resources.values() {
        if providers::provider(&r.resource_type).is_none()
            && !bad.contains(&r.resource_type.as_str())
        {
            bad.push(&r.resource_type);
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(validation(format!(
            "Template format error: Unrecognized resource types: [{}]",
            bad.join(", ")
        )))
    }
}

/// Everything CreateStack/UpdateStack/CreateChangeSet check before starting.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare(
    inner: &Inner,
    caller: &Caller,
    region: &str,
    body: &str,
    stack_name: &str,
    stack_id: &str,
    inputs: &[(String, ParameterInput)],
    capabilities: &[String],
) -> Result<Prepared, AwsError> {
    let template = parse_checked(body)?;
    check_types(&template)?;
    let resolver = AwsParams {
        inner,
        caller,
        region,
    };
    let inputs_map = inputs.iter().cloned().collect();
    let resolved = tpl::resolve_parameters(&template, &inputs_map, &resolver)
        .map_err(|e| template_error(&e))?;
    let pseudo = tpl::Pseudo::new(&caller.account, region, stack_name, stack_id);
    tpl::evaluate_rules(&template, &resolved, &pseudo, &resolver)
        .map_err(|e| template_error(&e))?;
    let values = resolved.values();
    let conds =
        tpl::evaluate_conditions(&template, &values, &pseudo).map_err(|e| template_error(&e))?;
    let include = |id: &str| {
        template
            .resources
            .get(id)
            .and_then(|r| r.condition.as_ref())
            .is_none_or(|c| conds.get(c).copied().unwrap_or(false))
    };
    let required_caps = tpl::required_capabilities(&template, &include);
    // Nested stacks need no capability check here: each child checks its own.
    let deps =
        tpl::dependencies_with_conditions(&template, &conds).map_err(|e| template_error(&e))?;
    tpl::creation_order(&deps).map_err(|e| template_error(&e))?;
    for cap in &required_caps {
        if cap == "CAPABILITY_AUTO_EXPAND" {
            continue;
        }
        let ok = capabilities.contains(cap)
            || (cap == "CAPABILITY_IAM"
                && capabilities.iter().any(|c| c == "CAPABILITY_NAMED_IAM"));
        if !ok {
            return Err(AwsError::new(
                "InsufficientCapabilitiesException",
                format!("Requires capabilities : [{cap}]"),
                400,
            ));
        }
    }
    let params = resolved
        .params
        .values()
        .map(|p| ParamDoc {
            key: p.name.clone(),
            value: p.raw.clone(),
            resolved: p.resolved_value.clone(),
            no_echo: p.no_echo,
        })
        .collect();
    Ok(Prepared {
        template,
        params,
        required_caps,
    })
}

// ---------------------------------------------------------------- rows

/// (stack name, logical id, physical id, type, status, reason) of an event.
pub(crate) type EventArgs<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a str,
    &'a str,
    Option<&'a str>,
);

impl Inner {
    pub(crate) fn scope(account: &str, region: &str) -> String {
        format!("{account}/{region}")
    }

    pub(crate) fn load_stack(&self, scope: &str, id: &str) -> Result<Option<StackDoc>, AwsError> {
        match self.store.get(STACK, scope, id).map_err(internal)? {
            Some(r) => Ok(serde_json::from_value(r.doc).ok()),
            None => Ok(None),
        }
    }

    pub(crate) fn resources(&self, scope: &str, stack_id: &str) -> Result<Vec<ResDoc>, AwsError> {
        Ok(self
            .store
            .list(RES, scope, Some(stack_id))
            .map_err(internal)?
            .into_iter()
            .filter_map(|r| serde_json::from_value(r.doc).ok())
            .collect())
    }

    /// Writes the stack doc (and optionally a resource row and an event) in one transaction.
    pub(crate) fn persist(
        &self,
        doc: Option<&StackDoc>,
        scope: &str,
        stack_id: &str,
        res: Option<&ResDoc>,
        event: Option<EventArgs<'_>>,
    ) -> Result<(), AwsError> {
        if self.halted.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(AwsError::internal("halted"));
        }
        self.store
            .write(|tx| {
                if let Some(d) = doc {
                    let v =
                        serde_json::to_value(d).map_err(|e| AwsError::internal(e.to_string()))?;
                    tx.put(STACK, scope, stack_id, None, &v).map_err(internal)?;
                }
                if let Some(r) = res {
                    let v =
                        serde_json::to_value(r).map_err(|e| AwsError::internal(e.to_string()))?;
                    tx.put(
                        RES,
                        scope,
                        &res_key(stack_id, &r.logical_id),
                        Some(stack_id),
                        &v,
                    )
                    .map_err(internal)?;
                }
                if let Some((stack_name, logical, physical, rtype, status, reason)) = event {
                    let seq = tx.next_seq("event").map_err(internal)?;
                    let e = EventDoc {
                        event_id: format!("{logical}-{}", crate::ids::request_id()),
                        stack_id: stack_id.to_string(),
                        stack_name: stack_name.to_string(),
                        logical_id: logical.to_string(),
                        physical_id: physical.map(str::to_string),
                        rtype: rtype.to_string(),
                        timestamp: iso_ms(),
                        status: status.to_string(),
                        reason: reason.map(str::to_string),
                        token: None,
                        seq,
                    };
                    let v =
                        serde_json::to_value(&e).map_err(|e| AwsError::internal(e.to_string()))?;
                    tx.put(
                        EVENT,
                        scope,
                        &format!("{stack_id}|{seq:015}"),
                        Some(stack_id),
                        &v,
                    )
                    .map_err(internal)?;
                }
                Ok(())
            })
            .map_err(internal)?
    }

    /// Sets the stack status (with a stack event) in one transaction.
    pub(crate) fn set_status(
        &self,
        doc: &mut StackDoc,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), AwsError> {
        doc.status = status.to_string();
        doc.status_reason = reason.map(str::to_string);
        if status.ends_with("_COMPLETE") || status.ends_with("_FAILED") {
            if status.starts_with("UPDATE") {
                doc.updated = Some(iso_ms());
            }
            if status == "DELETE_COMPLETE" {
                doc.deleted = Some(iso_ms());
            }
        }
        let scope = Inner::scope(&doc.account, &doc.region);
        let name = doc.stack_name.clone();
        let id = doc.stack_id.clone();
        self.persist(
            Some(doc),
            &scope,
            &id,
            None,
            Some((
                &name,
                &name,
                Some(&id),
                "AWS::CloudFormation::Stack",
                status,
                reason,
            )),
        )
    }

    /// The identity providers act as: the service role's session, or the caller.
    pub(crate) fn acting_caller(&self, doc: &StackDoc) -> Result<Caller, String> {
        let Some(arn) = &doc.role_arn else {
            return Ok(doc.caller.clone());
        };
        role_session(self, &doc.caller.account, &doc.region, arn)
    }
}

/// An assumed-role session of `role_arn` named `AWSCloudFormation`.
pub(crate) fn role_session(
    inner: &Inner,
    account: &str,
    region: &str,
    role_arn: &str,
) -> Result<Caller, String> {
    let name = role_arn.rsplit('/').next().unwrap_or_default();
    let root = Caller {
        account: account.to_string(),
        kind: PrincipalKind::Root,
        access_key_id: String::new(),
        session: None,
    };
    let internal = inner.internal.get().map_err(|e| e.message)?;
    let role = internal
        .invoke(
            &root,
            region,
            Some("cloudformation.amazonaws.com"),
            "iam",
            "GetRole",
            json!({"RoleName": name}),
        )
        .map_err(|e| {
            format!(
                "Role {role_arn} is invalid or cannot be assumed: {}",
                e.message
            )
        })?;
    let r = role.get("Role").cloned().unwrap_or(Value::Null);
    Ok(Caller {
        account: account.to_string(),
        kind: PrincipalKind::AssumedRole {
            role_name: name.to_string(),
            role_path: r
                .get("Path")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_string(),
            role_id: r
                .get("RoleId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            session_name: "AWSCloudFormation".to_string(),
        },
        access_key_id: crate::ids::access_key_id("ASIA"),
        session: Some(SessionInfo {
            expiration: now().unix_timestamp() + 3600,
            ..SessionInfo::default()
        }),
    })
}

/// Millisecond-precision ISO timestamp (events need a stable order).
pub(crate) fn iso_ms() -> String {
    let t = now();
    let base = iso(t);
    let ms = t.millisecond();
    match base.strip_suffix('Z') {
        Some(b) => format!("{b}.{ms:03}Z"),
        None => base,
    }
}

// ---------------------------------------------------------------- scheduler

/// Runs `job` for every node once all its `deps` (within `nodes`) are done,
/// at most `workers` at a time. With `stop_on_fail`, no new job starts after
/// a failure. Returns the nodes that failed and the ones never started.
fn schedule(
    nodes: &[String],
    deps: &HashMap<String, Vec<String>>,
    workers: usize,
    stop_on_fail: bool,
    job: &(dyn Fn(&str) -> bool + Sync),
) -> (Vec<String>, Vec<String>) {
    let set: HashSet<&str> = nodes.iter().map(String::as_str).collect();
    let mut indeg: HashMap<&str, usize> = HashMap::new();
    let mut rdeps: HashMap<&str, Vec<&str>> = HashMap::new();
    for n in nodes {
        let ds: HashSet<&str> = deps
            .get(n)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|d| set.contains(d) && *d != n.as_str())
            .collect();
        indeg.insert(n, ds.len());
        for d in ds {
            rdeps.entry(d).or_default().push(n);
        }
    }
    let mut ready: std::collections::VecDeque<&str> = nodes
        .iter()
        .map(String::as_str)
        .filter(|n| indeg.get(n) == Some(&0))
        .collect();
    let mut failed = Vec::new();
    let mut started: HashSet<&str> = HashSet::new();
    let (tx, rx) = mpsc::channel::<(String, bool)>();
    let (job_tx, job_rx) = mpsc::channel::<String>();
    let job_rx = Mutex::new(job_rx);
    let workers = workers.max(1);
    std::thread::scope(|s| {
        // A fixed pool (not a thread per node): each worker takes the next
        // ready node until the job channel closes.
        for _ in 0..workers.min(nodes.len()) {
            let (tx, job_rx) = (tx.clone(), &job_rx);
            s.spawn(move || loop {
                let next = match job_rx.lock() {
                    Ok(r) => r.recv(),
                    Err(_) => break,
                };
                let Ok(name) = next else { break };
                let ok = job(&name);
                if tx.send((name, ok)).is_err() {
                    break;
                }
            });
        }
        let mut in_flight = 0usize;
        loop {
            while in_flight < workers && (failed.is_empty() || !stop_on_fail) {
                let Some(n) = ready.pop_front() else { break };
                if job_tx.send(n.to_string()).is_err() {
                    break;
                }
                started.insert(n);
                in_flight += 1;
            }
            if in_flight == 0 {
                break;
            }
            let Ok((n, ok)) = rx.recv() else { break };
            in_flight -= 1;
            if ok {
                if let Some(rs) = rdeps.get(n.as_str()) {
                    for r in rs {
                        if let Some(x) = indeg.get_mut(r) {
                            *x = x.saturating_sub(1);
                            if *x == 0 {
                                ready.push_back(r);
                            }
                        }
                    }
                }
            } else {
                failed.push(n);
            }
        }
        drop(job_tx);
    });
    let never: Vec<String> = nodes
        .iter()
        .filter(|n| !started.contains(n.as_str()))
        .cloned()
        .collect();
    (failed, never)
}

// ---------------------------------------------------------------- one run

/// One stack operation in progress.
pub(crate) struct Run<'a> {
    inner: &'a Arc<Inner>,
    doc: Mutex<StackDoc>,
    scope: String,
    caller: Caller,
    template: Template,
    params: Vec<(String, Value)>,
    conds: Vec<(String, bool)>,
    pseudo: tpl::Pseudo,
    live: Mutex<HashMap<String, Live>>,
    rows: Mutex<HashMap<String, ResDoc>>,
    imports: Mutex<HashSet<String>>,
    deps: HashMap<String, Vec<String>>,
    /// Condition-true resources in creation order.
    order: Vec<String>,
    /// The stack's identity (fixed for the run; read without cloning the doc).
    stack_id: String,
    stack_name: String,
    /// `Fn::GetAZs` answers per region (asked once per run, not per use).
    azs: Mutex<HashMap<String, Vec<String>>>,
}

struct RunResolver<'a> {
    run: &'a Run<'a>,
}

impl tpl::Resolver for RunResolver<'_> {
    fn ref_resource(&self, logical_id: &str) -> Option<Value> {
        self.run
            .live
            .lock()
            .ok()?
            .get(logical_id)
            .map(|l| Value::String(l.physical_id.clone()))
    }
    fn get_att(&self, logical_id: &str, attr: &str) -> Result<Value, String> {
        let live = self.run.live.lock().map_err(|_| "poisoned".to_string())?;
        let l = live
            .get(logical_id)
            .ok_or_else(|| format!("Resource {logical_id} is not available"))?;
        l.attrs.get(attr).cloned().ok_or_else(|| {
            let ty = self
                .run
                .template
                .resources
                .get(logical_id)
                .map(|r| r.resource_type.clone())
                .unwrap_or_default();
            format!("Template error: resource {logical_id} does not support attribute type {attr} in Fn::GetAtt (type {ty})")
        })
    }
    fn import_value(&self, name: &str) -> Result<Value, String> {
        let row = self
            .run
            .inner
            .store
            .get(EXPORT, &self.run.scope, name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("No export named {name} found."))?;
        if let Ok(mut i) = self.run.imports.lock() {
            i.insert(name.to_string());
        }
        Ok(row.doc.get("value").cloned().unwrap_or(Value::Null))
    }
    fn azs(&self, region: &str) -> Vec<String> {
        if let Some(known) = self
            .run
            .azs
            .lock()
            .ok()
            .and_then(|m| m.get(region).cloned())
        {
            return known;
        }
        let Ok(internal) = self.run.inner.internal.get() else {
            return Vec::new();
        };
        let zones: Vec<String> = internal
            .invoke(
                &self.run.caller,
                region,
                Some("cloudformation.amazonaws.com"),
                "ec2",
                "DescribeAvailabilityZones",
                json!({}),
            )
            .ok()
            .and_then(|o| {
                o.get("AvailabilityZones")
                    .and_then(Value::as_array)
                    .cloned()
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|z| z.get("ZoneName").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        if !zones.is_empty() {
            if let Ok(mut m) = self.run.azs.lock() {
                m.insert(region.to_string(), zones.clone());
            }
        }
        zones
    }
}

impl<'a> Run<'a> {
    /// Builds a run over the stack's current template and parameters.
    pub(crate) fn new(inner: &'a Arc<Inner>, doc: StackDoc) -> Result<Run<'a>, String> {
        let scope = Inner::scope(&doc.account, &doc.region);
        let caller = inner.acting_caller(&doc)?;
        let template = tpl::parse_template(&doc.snap.template_body).map_err(|e| e.to_string())?;
        let params: Vec<(String, Value)> = doc
            .snap
            .parameters
            .iter()
            .map(|p| {
                let v = match template.parameters.get(&p.key) {
                    Some(tp) if tp.param_type.is_list() => Value::Array(
                        p.resolved
                            .as_deref()
                            .unwrap_or(&p.value)
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(|s| Value::String(s.trim().to_string()))
                            .collect(),
                    ),
                    _ => Value::String(p.resolved.clone().unwrap_or_else(|| p.value.clone())),
                };
                (p.key.clone(), v)
            })
            .collect();
        let mut pseudo =
            tpl::Pseudo::new(&doc.account, &doc.region, &doc.stack_name, &doc.stack_id);
        pseudo.notification_arns = doc.notification_arns.clone();
        let pmap = params.iter().cloned().collect();
        let conds_map =
            tpl::evaluate_conditions(&template, &pmap, &pseudo).map_err(|e| e.to_string())?;
        let deps_map =
            tpl::dependencies_with_conditions(&template, &conds_map).map_err(|e| e.to_string())?;
        let order = tpl::creation_order(&deps_map).map_err(|e| e.to_string())?;
        let conds: Vec<(String, bool)> = conds_map.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let deps: HashMap<String, Vec<String>> = deps_map
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let order: Vec<String> = order
            .into_iter()
            .filter(|id| {
                template
                    .resources
                    .get(id)
                    .and_then(|r| r.condition.as_ref())
                    .is_none_or(|c| conds_map.get(c).copied().unwrap_or(false))
            })
            .collect();
        let rows: HashMap<String, ResDoc> = inner
            .resources(&scope, &doc.stack_id)
            .map_err(|e| e.message)?
            .into_iter()
            .map(|r| (r.logical_id.clone(), r))
            .collect();
        let live = rows
            .values()
            .filter(|r| r.status.ends_with("_COMPLETE") && !r.status.starts_with("DELETE"))
            .filter_map(|r| {
                Some((
                    r.logical_id.clone(),
                    Live {
                        physical_id: r.physical_id.clone()?,
                        attrs: r.attrs.clone(),
                    },
                ))
            })
            .collect();
        let (stack_id, stack_name) = (doc.stack_id.clone(), doc.stack_name.clone());
        Ok(Run {
            inner,
            doc: Mutex::new(doc),
            scope,
            caller,
            template,
            params,
            conds,
            pseudo,
            live: Mutex::new(live),
            rows: Mutex::new(rows),
            imports: Mutex::new(HashSet::new()),
            deps,
            order,
            stack_id,
            stack_name,
            azs: Mutex::new(HashMap::new()),
        })
    }

    /// The stack's current status.
    fn status(&self) -> String {
        match self.doc.lock() {
            Ok(d) => d.status.clone(),
            Err(p) => p.into_inner().status.clone(),
        }
    }

    /// The stack's current tags (what providers propagate).
    fn tags(&self) -> Vec<(String, String)> {
        match self.doc.lock() {
            Ok(d) => d.snap.tags.clone(),
            Err(p) => p.into_inner().snap.tags.clone(),
        }
    }

    fn doc(&self) -> StackDoc {
        match self.doc.lock() {
            Ok(d) => d.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_status(&self, status: &str, reason: Option<&str>) {
        let mut d = self.doc();
        if let Err(e) = self.inner.set_status(&mut d, status, reason) {
            tracing::error!(error = %e.message, "cloudformation: could not persist stack status");
        }
        if let Ok(mut g) = self.doc.lock() {
            *g = d;
        }
    }

    /// Replaces the in-memory doc without persisting it: the next
    /// [`Run::set_status`] writes it with the status in one transaction (until
    /// then a restart still sees the previous doc and resumes from it).
    fn stage(&self, d: StackDoc) {
        match self.doc.lock() {
            Ok(mut g) => *g = d,
            Err(p) => *p.into_inner() = d,
        }
    }

    /// Evaluates `node` against the live resources.
    fn eval(&self, node: &tpl::Node) -> Result<Value, String> {
        let pmap = self.params.iter().cloned().collect();
        let cmap = self.conds.iter().cloned().collect();
        let resolver = RunResolver { run: self };
        let ctx = tpl::EvalContext {
            template: &self.template,
            parameters: &pmap,
            pseudo: &self.pseudo,
            conditions: &cmap,
            resolver: &resolver,
        };
        tpl::resolve(node, &ctx).map_err(|e| e.message().to_string())
    }

    fn resolve_props(&self, logical: &str) -> Result<Value, String> {
        match self
            .template
            .resources
            .get(logical)
            .and_then(|r| r.properties.as_ref())
        {
            Some(n) => self.eval(n),
            None => Ok(json!({})),
        }
    }

    fn row(&self, logical: &str) -> Option<ResDoc> {
        self.rows.lock().ok()?.get(logical).cloned()
    }

    /// Persists a resource row with an event.
    fn record(
        &self,
        row: &ResDoc,
        status: &str,
        reason: Option<&str>,
        physical: Option<&str>,
    ) -> bool {
        let mut row = row.clone();
        row.status = status.to_string();
        row.reason = reason.map(str::to_string);
        row.updated = iso_ms();
        if let Err(e) = self.inner.persist(
            None,
            &self.scope,
            &self.stack_id,
            Some(&row),
            Some((
                &self.stack_name,
                &row.logical_id,
                physical.or(row.physical_id.as_deref()),
                &row.rtype,
                status,
                reason,
            )),
        ) {
            tracing::error!(error = %e.message, "cloudformation: could not persist resource");
            return false;
        }
        if let Ok(mut rows) = self.rows.lock() {
            rows.insert(row.logical_id.clone(), row);
        }
        true
    }

    /// Persists an event about a resource without changing its row.
    fn event(&self, row: &ResDoc, status: &str, reason: Option<&str>, physical: Option<&str>) {
        if let Err(e) = self.inner.persist(
            None,
            &self.scope,
            &self.stack_id,
            None,
            Some((
                &self.stack_name,
                &row.logical_id,
                physical,
                &row.rtype,
                status,
                reason,
            )),
        ) {
            tracing::error!(error = %e.message, "cloudformation: could not persist event");
        }
    }

    fn pctx<'b>(
        &'b self,
        logical: &'b str,
        tags: &'b [(String, String)],
        internal: Arc<dyn crate::Internal>,
    ) -> PCtx<'b> {
        PCtx {
            internal,
            caller: &self.caller,
            region: &self.pseudo.region,
            account: &self.pseudo.account_id,
            stack_name: &self.stack_name,
            stack_id: &self.stack_id,
            logical_id: logical,
            tags,
            engine: self.inner,
        }
    }

    fn new_row(&self, logical: &str) -> ResDoc {
        let r = self.template.resources.get(logical);
        ResDoc {
            logical_id: logical.to_string(),
            rtype: r.map(|r| r.resource_type.clone()).unwrap_or_default(),
            physical_id: None,
            status: String::new(),
            reason: None,
            updated: iso_ms(),
            props: Value::Null,
            attrs: Map::new(),
            retain: r.and_then(|r| r.deletion_policy.as_deref()) == Some("Retain"),
            prior: None,
            added_by_update: false,
            template_props: r
                .and_then(|r| r.properties.as_ref())
                .map(tpl::Node::to_json)
                .unwrap_or(Value::Null),
        }
    }

    /// Creates one resource; true on success.
    fn create_one(&self, logical: &str, by_update: bool) -> bool {
        let mut row = self.new_row(logical);
        row.added_by_update = by_update;
        let Some(p) = providers::provider(&row.rtype) else {
            self.record(
                &row,
                "CREATE_FAILED",
                Some(&format!("Unrecognized resource type {}", row.rtype)),
                None,
            );
            return false;
        };
        let props = match self
            .resolve_props(logical)
            .and_then(|v| check_properties(p, &v).map(|()| v))
        {
            Ok(v) => v,
            Err(e) => {
                self.record(&row, "CREATE_IN_PROGRESS", None, None);
                self.record(&row, "CREATE_FAILED", Some(&e), None);
                return false;
            }
        };
        // The declared name (if any) is recorded first, so a restart can
        // clean up a resource whose creation it interrupted.
        row.props = props.clone();
        if !self.record(&row, "CREATE_IN_PROGRESS", None, None) {
            // Never create what could not be recorded first.
            return false;
        }
        let tags = self.tags();
        let internal = match self.inner.internal.get() {
            Ok(i) => i,
            Err(e) => {
                self.record(&row, "CREATE_FAILED", Some(&e.message), None);
                return false;
            }
        };
        let cx = self.pctx(logical, &tags, internal);
        match p.create(&cx, &props) {
            Ok(Created { physical_id, attrs }) => {
                row.physical_id = Some(physical_id.clone());
                row.attrs = attrs.clone();
                row.props = props;
                if let Ok(mut l) = self.live.lock() {
                    l.insert(logical.to_string(), Live { physical_id, attrs });
                }
                self.record(&row, "CREATE_COMPLETE", None, None);
                true
            }
            Err(e) => {
                self.record(&row, "CREATE_FAILED", Some(&e), None);
                false
            }
        }
    }

    /// Deletes one resource as recorded; true on success.
    fn delete_one(&self, logical: &str) -> bool {
        let Some(row) = self.row(logical) else {
            return true;
        };
        if row.status == "DELETE_COMPLETE" || row.status == "DELETE_SKIPPED" {
            return true;
        }
        // A declared name stands for a create a crash interrupted; a create
        // its handler reported failed left nothing behind (and the acting
        // identity may not even be allowed to delete it).
        let declared = if row.status == "CREATE_FAILED" {
            None
        } else {
            providers::provider(&row.rtype).and_then(|p| p.declared_id(&row.props))
        };
        let Some(physical) = row.physical_id.clone().or(declared) else {
            self.record(&row, "DELETE_COMPLETE", None, None);
            return true;
        };
        let deleting_stack = self.status() == "DELETE_IN_PROGRESS";
        if row.retain && deleting_stack {
            self.record(&row, "DELETE_SKIPPED", None, None);
            return true;
        }
        self.record(&row, "DELETE_IN_PROGRESS", None, None);
        let res = self.delete_physical(&row, &physical, &row.props, &row.attrs);
        match res {
            Ok(()) => {
                if let Ok(mut l) = self.live.lock() {
                    l.remove(logical);
                }
                self.record(&row, "DELETE_COMPLETE", None, None);
                true
            }
            Err(e) => {
                self.record(&row, "DELETE_FAILED", Some(&e), None);
                false
            }
        }
    }

    fn delete_physical(
        &self,
        row: &ResDoc,
        physical: &str,
        props: &Value,
        attrs: &Map<String, Value>,
    ) -> Result<(), String> {
        let p = providers::provider(&row.rtype)
            .ok_or_else(|| format!("Unrecognized resource type {}", row.rtype))?;
        let tags = self.tags();
        let internal = self.inner.internal.get().map_err(|e| e.message)?;
        let cx = self.pctx(&row.logical_id, &tags, internal);
        p.delete(&cx, physical, props, attrs)
    }

    /// Deletion dependencies: a resource waits for everything depending on it.
    fn reverse_deps(&self, nodes: &[String]) -> HashMap<String, Vec<String>> {
        let all = tpl::dependencies(&self.template).ok();
        let mut rev: HashMap<String, Vec<String>> = HashMap::new();
        if let Some(all) = all {
            for (k, ds) in &all {
                for d in ds {
                    rev.entry(d.clone()).or_default().push(k.clone());
                }
            }
        }
        // Restrict to nodes; dependents outside the template are ignored.
        let set: HashSet<&String> = nodes.iter().collect();
        rev.retain(|k, _| set.contains(k));
        rev
    }

    /// Deletes every recorded resource in reverse dependency order.
    fn delete_all(&self) -> Vec<String> {
        let nodes: Vec<String> = {
            let rows = self.rows.lock().map(|r| r.clone()).unwrap_or_default();
            let mut v: Vec<(i64, String)> = Vec::new();
            for (i, id) in self.template.resources.keys().enumerate() {
                if rows.contains_key(id) {
                    v.push((i as i64, id.clone()));
                }
            }
            for id in rows.keys() {
                if !self.template.resources.contains_key(id) {
                    v.push((-1, id.clone()));
                }
            }
            v.sort();
            v.into_iter().rev().map(|(_, id)| id).collect()
        };
        let rev = self.reverse_deps(&nodes);
        let (failed, _) = schedule(&nodes, &rev, self.inner.workers, false, &|n| {
            self.delete_one(n)
        });
        failed
    }

    /// Evaluates the outputs; error names the failing output.
    fn outputs(&self) -> Result<Vec<OutputDoc>, String> {
        let cmap: HashMap<&String, bool> = self.conds.iter().map(|(k, v)| (k, *v)).collect();
        let mut out = Vec::new();
        for o in self.template.outputs.values() {
            if let Some(c) = &o.condition {
                if !cmap.get(c).copied().unwrap_or(false) {
                    continue;
                }
            }
            let v = self.eval(&o.value)?;
            let value = match &v {
                Value::Array(a) => a
                    .iter()
                    .map(providers::scalar)
                    .collect::<Vec<_>>()
                    .join(","),
                other => providers::scalar(other),
            };
            let description = match &o.description {
                Some(n) => Some(providers::scalar(&self.eval(n)?)),
                None => None,
            };
            let export_name = match &o.export_name {
                Some(n) => Some(providers::scalar(&self.eval(n)?)),
                None => None,
            };
            out.push(OutputDoc {
                key: o.name.clone(),
                value,
                description,
                export_name,
            });
        }
        Ok(out)
    }

    /// Publishes exports and imports; fails on a duplicate export or on a
    /// removed/changed export still imported.
    fn publish(&self, outputs: &[OutputDoc], old: &[OutputDoc]) -> Result<(), String> {
        let d = self.doc();
        let imports: Vec<String> = self
            .imports
            .lock()
            .map(|i| i.iter().cloned().collect())
            .unwrap_or_default();
        let r = self
            .inner
            .store
            .write(|tx| {
                for o in outputs {
                    let Some(name) = &o.export_name else { continue };
                    if let Some(row) = tx.get(EXPORT, &self.scope, name).map_err(|e| e.to_string())? {
                        let owner = row.doc.get("stack_id").and_then(Value::as_str).unwrap_or_default();
                        if owner != d.stack_id {
                            let oname = row.doc.get("stack_name").and_then(Value::as_str).unwrap_or_default();
                            return Err(format!("Export with name {name} is already exported by stack {oname}"));
                        }
                        if row.doc.get("value").and_then(Value::as_str) != Some(o.value.as_str())
                            && !tx.list(IMPORT, &self.scope, Some(name)).map_err(|e| e.to_string())?.is_empty()
                        {
                            return Err(format!(
                                "Cannot update export {name} as it is in use by {}",
                                importers(tx, &self.scope, name).join(", ")
                            ));
                        }
                    }
                    tx.put(
                        EXPORT,
                        &self.scope,
                        name,
                        None,
                        &json!({"stack_id": d.stack_id, "stack_name": d.stack_name, "value": o.value}),
                    )
                    .map_err(|e| e.to_string())?;
                }
                for o in old {
                    let Some(name) = &o.export_name else { continue };
                    if outputs.iter().any(|n| n.export_name.as_deref() == Some(name)) {
                        continue;
                    }
                    let users = importers(tx, &self.scope, name);
                    if !users.is_empty() {
                        return Err(format!("Export {name} cannot be deleted as it is in use by {}", users.join(", ")));
                    }
                    tx.delete(EXPORT, &self.scope, name).map_err(|e| e.to_string())?;
                }
                for name in &imports {
                    tx.put(
                        IMPORT,
                        &self.scope,
                        &format!("{name}|{}", d.stack_id),
                        Some(name),
                        &json!({"stack_id": d.stack_id, "stack_name": d.stack_name, "export": name}),
                    )
                    .map_err(|e| e.to_string())?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        r
    }
}

fn importers(tx: &ironsage_store::Tx<'_>, scope: &str, name: &str) -> Vec<String> {
    tx.list(IMPORT, scope, Some(name))
        .map(|rows| {
            rows.into_iter()
                .filter_map(|r| {
                    r.doc
                        .get("stack_name")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------- operations

/// Runs the stack's pending operation to a terminal state (blocking).
pub(crate) fn run(inner: &Arc<Inner>, scope: &str, stack_id: &str) {
    {
        let Ok(mut r) = inner.running.lock() else {
            return;
        };
        if !r.insert(stack_id.to_string()) {
            return;
        }
    }
    if let Err(e) = run_inner(inner, scope, stack_id) {
        tracing::error!(stack = %stack_id, error = %e, "cloudformation: operation failed");
    }
    if let Ok(mut r) = inner.running.lock() {
        r.remove(stack_id);
    }
}

/// Starts the stack's pending operation on a background thread.
pub(crate) fn spawn(inner: &Arc<Inner>, scope: &str, stack_id: &str) {
    let inner = Arc::clone(inner);
    let (scope, id) = (scope.to_string(), stack_id.to_string());
    // Mark running before returning so callers can wait for idleness.
    if let Ok(mut r) = inner.running.lock() {
        r.insert(format!("spawn:{id}"));
    }
    let spawned = std::thread::Builder::new()
        .name("cfn-stack".into())
        .spawn(move || {
            run(&inner, &scope, &id);
            if let Ok(mut r) = inner.running.lock() {
                r.remove(&format!("spawn:{id}"));
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cloudformation: could not start a worker thread");
    }
}

fn run_inner(inner: &Arc<Inner>, scope: &str, stack_id: &str) -> Result<(), String> {
    let doc = inner
        .load_stack(scope, stack_id)
        .map_err(|e| e.message)?
        .ok_or("stack vanished")?;
    let Some(op) = doc.op.clone() else {
        return Ok(());
    };
    let status = doc.status.clone();
    let run = match Run::new(inner, doc) {
        Ok(r) => r,
        Err(e) => {
            // Cannot even evaluate: fail terminally.
            let mut d = inner
                .load_stack(scope, stack_id)
                .map_err(|e| e.message)?
                .ok_or("stack vanished")?;
            d.op = None;
            let st = match op {
                Op::Create => "CREATE_FAILED",
                Op::Delete => "DELETE_FAILED",
                Op::Update { .. } => "UPDATE_ROLLBACK_FAILED",
            };
            inner
                .set_status(&mut d, st, Some(&e))
                .map_err(|e| e.message)?;
            return Ok(());
        }
    };
    match op {
        Op::Create => match status.as_str() {
            "CREATE_IN_PROGRESS" => run_create(&run),
            "ROLLBACK_IN_PROGRESS" => rollback_create(&run, None),
            "DELETE_IN_PROGRESS" => run_delete(&run),
            _ => {}
        },
        Op::Delete => run_delete(&run),
        Op::Update { prev, policy } => match status.as_str() {
            "UPDATE_IN_PROGRESS" => run_update(&run, &prev, policy.as_deref()),
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" => cleanup_update(&run),
            _ => rollback_update(&run, &prev, None),
        },
    }
    Ok(())
}

fn failed_reason(verb: &str, failed: &[String]) -> String {
    format!(
        "The following resource(s) failed to {verb}: [{}]. ",
        failed.join(", ")
    )
}

fn run_create(run: &Run<'_>) {
    let deadline = run.doc().timeout_minutes.map(|m| {
        std::time::Instant::now()
            + std::time::Duration::from_secs(u64::try_from(m.max(1)).unwrap_or(1) * 60)
    });
    let (failed, never) = schedule(&run.order, &run.deps, run.inner.workers, true, &|n| {
        if deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return false;
        }
        run.create_one(n, false)
    });
    let mut reason = if failed.is_empty() {
        None
    } else {
        Some(failed_reason("create", &failed))
    };
    // Resources never started after a failure are cancelled.
    if reason.is_some() {
        for n in &never {
            let row = run.new_row(n);
            let _ = row; // not recorded: never attempted
        }
    }
    if reason.is_none() {
        match run.outputs().and_then(|o| run.publish(&o, &[]).map(|()| o)) {
            Ok(outputs) => {
                let mut d = run.doc();
                d.snap.outputs = outputs;
                d.op = None;
                run.stage(d);
                run.set_status("CREATE_COMPLETE", None);
                return;
            }
            Err(e) => reason = Some(e),
        }
    }
    let reason = reason.unwrap_or_default();
    let d = run.doc();
    if d.disable_rollback {
        let mut d = d;
        d.op = None;
        run.stage(d);
        run.set_status("CREATE_FAILED", Some(&reason));
        return;
    }
    if d.on_failure_delete {
        run.set_status("DELETE_IN_PROGRESS", Some(&reason));
        run_delete(run);
        return;
    }
    rollback_create(run, Some(&format!("{reason}Rollback requested by user.")));
}

fn rollback_create(run: &Run<'_>, reason: Option<&str>) {
    if run.doc().status != "ROLLBACK_IN_PROGRESS" {
        run.set_status("ROLLBACK_IN_PROGRESS", reason);
    }
    let failed = run.delete_all_for_rollback();
    let mut d = run.doc();
    d.op = None;
    run.stage(d);
    if failed.is_empty() {
        run.set_status("ROLLBACK_COMPLETE", None);
    } else {
        run.set_status("ROLLBACK_FAILED", Some(&failed_reason("delete", &failed)));
    }
}

impl Run<'_> {
    fn delete_all_for_rollback(&self) -> Vec<String> {
        // Retain does not apply to rollback of a failed create.
        self.delete_all()
    }
}

fn remove_imports_and_exports(run: &Run<'_>) -> Result<(), String> {
    let d = run.doc();
    run.inner
        .store
        .write(|tx| {
            for o in &d.snap.outputs {
                if let Some(name) = &o.export_name {
                    if let Some(row) = tx
                        .get(EXPORT, &run.scope, name)
                        .map_err(|e| e.to_string())?
                    {
                        if row.doc.get("stack_id").and_then(Value::as_str)
                            == Some(d.stack_id.as_str())
                        {
                            tx.delete(EXPORT, &run.scope, name)
                                .map_err(|e| e.to_string())?;
                        }
                    }
                }
            }
            for row in tx
                .list(IMPORT, &run.scope, None)
                .map_err(|e| e.to_string())?
            {
                if row.doc.get("stack_id").and_then(Value::as_str) == Some(d.stack_id.as_str()) {
                    tx.delete(IMPORT, &run.scope, &row.key)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?
}

/// The exports of this stack that other stacks import.
fn exports_in_use(run: &Run<'_>) -> Option<String> {
    let d = run.doc();
    for o in &d.snap.outputs {
        let Some(name) = &o.export_name else { continue };
        let users: Vec<String> = run
            .inner
            .store
            .list(IMPORT, &run.scope, Some(name))
            .map(|rows| {
                rows.into_iter()
                    .filter(|r| {
                        r.doc.get("stack_id").and_then(Value::as_str) != Some(d.stack_id.as_str())
                    })
                    .filter_map(|r| {
                        r.doc
                            .get("stack_name")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !users.is_empty() {
            return Some(format!(
                "Export {name} cannot be deleted as it is in use by {}",
                users.join(", ")
            ));
        }
    }
    None
}

fn run_delete(run: &Run<'_>) {
    if run.doc().status != "DELETE_IN_PROGRESS" {
        run.set_status("DELETE_IN_PROGRESS", Some("User Initiated"));
    }
    if let Some(msg) = exports_in_use(run) {
        let mut d = run.doc();
        d.op = None;
        run.stage(d);
        run.set_status("DELETE_FAILED", Some(&msg));
        return;
    }
    let failed = run.delete_all();
    let mut d = run.doc();
    d.op = None;
    run.stage(d);
    if failed.is_empty() {
        if let Err(e) = remove_imports_and_exports(run) {
            run.set_status("DELETE_FAILED", Some(&e));
            return;
        }
        let d = run.doc();
        let _ = run.inner.store.write(|tx| {
            if let Some(r) = tx.get(NAME, &run.scope, &d.stack_name)? {
                if r.doc.get("stack_id").and_then(Value::as_str) == Some(d.stack_id.as_str()) {
                    tx.delete(NAME, &run.scope, &d.stack_name)?;
                }
            }
            for cs in tx.list(CHANGESET, &run.scope, Some(&d.stack_id))? {
                tx.delete(CHANGESET, &run.scope, &cs.key)?;
            }
            Ok::<(), ironsage_store::StoreError>(())
        });
        run.set_status("DELETE_COMPLETE", None);
    } else {
        run.set_status("DELETE_FAILED", Some(&failed_reason("delete", &failed)));
    }
}

/// Which properties changed between two resolved property maps.
fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = o
        .keys()
        .chain(n.keys())
        .filter(|k| o.get(*k) != n.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Whether a change to `keys` of `rtype` replaces the resource.
pub(crate) fn needs_replacement(rtype: &str, keys: &[String]) -> bool {
    providers::provider(rtype)
        .is_some_and(|p| keys.iter().any(|k| p.create_only().contains(&k.as_str())))
}

impl Run<'_> {
    /// Brings one resource to the new template; true on success.
    fn update_one(&self, logical: &str) -> bool {
        let Some(old) = self
            .row(logical)
            .filter(|r| r.physical_id.is_some() && !r.status.starts_with("DELETE"))
        else {
            return self.create_one(logical, true);
        };
        let rtype = self
            .template
            .resources
            .get(logical)
            .map(|r| r.resource_type.clone())
            .unwrap_or_default();
        let Some(p) = providers::provider(&rtype) else {
            return false;
        };
        let props = match self
            .resolve_props(logical)
            .and_then(|v| check_properties(p, &v).map(|()| v))
        {
            Ok(v) => v,
            Err(e) => {
                self.record(&old, "UPDATE_FAILED", Some(&e), None);
                return false;
            }
        };
        let mut row = old.clone();
        row.template_props = self.new_row(logical).template_props;
        row.retain = self.new_row(logical).retain;
        if props == old.props && rtype == old.rtype {
            if let Ok(mut rows) = self.rows.lock() {
                rows.insert(logical.to_string(), row);
            }
            return true;
        }
        let keys = changed_keys(&old.props, &props);
        let replace = rtype != old.rtype || needs_replacement(&rtype, &keys);
        let tags = self.tags();
        let internal = match self.inner.internal.get() {
            Ok(i) => i,
            Err(e) => {
                self.record(&old, "UPDATE_FAILED", Some(&e.message), None);
                return false;
            }
        };
        let cx = self.pctx(logical, &tags, internal);
        let prior = Prior {
            physical_id: old.physical_id.clone(),
            props: old.props.clone(),
            attrs: old.attrs.clone(),
            replaced: replace,
        };
        row.prior = Some(prior);
        row.rtype = rtype;
        if replace {
            self.record(
                &row,
                "UPDATE_IN_PROGRESS",
                Some("Requested update requires the creation of a new physical resource; hence creating one."),
                None,
            );
            match p.create(&cx, &props) {
                Ok(c) => {
                    row.physical_id = Some(c.physical_id.clone());
                    row.attrs = c.attrs.clone();
                    row.props = props;
                    if let Ok(mut l) = self.live.lock() {
                        l.insert(
                            logical.to_string(),
                            Live {
                                physical_id: c.physical_id,
                                attrs: c.attrs,
                            },
                        );
                    }
                    self.record(&row, "UPDATE_COMPLETE", None, None);
                    true
                }
                Err(e) => {
                    self.record(&row, "UPDATE_FAILED", Some(&e), None);
                    false
                }
            }
        } else {
            self.record(&row, "UPDATE_IN_PROGRESS", None, None);
            let physical = old.physical_id.clone().unwrap_or_default();
            match p.update(&cx, &physical, &old.props, &props, &old.attrs) {
                Ok(c) => {
                    row.attrs = c.attrs.clone();
                    row.props = props;
                    if let Ok(mut l) = self.live.lock() {
                        l.insert(
                            logical.to_string(),
                            Live {
                                physical_id: c.physical_id,
                                attrs: c.attrs,
                            },
                        );
                    }
                    self.record(&row, "UPDATE_COMPLETE", None, None);
                    true
                }
                Err(e) => {
                    self.record(&row, "UPDATE_FAILED", Some(&e), None);
                    false
                }
            }
        }
    }
}

/// The first stack-policy violation of the update `run` is about to make.
fn policy_violation(run: &Run<'_>, body: &str) -> Option<String> {
    let pol = match super::policy::Policy::parse(body) {
        Ok(p) => p,
        Err(e) => return Some(format!("Error validating stack policy: {e}")),
    };
    plan(run).iter().find_map(|c| {
        let rc = &c["ResourceChange"];
        let logical = rc["LogicalResourceId"].as_str().unwrap_or_default();
        let rtype = rc["ResourceType"].as_str().unwrap_or_default();
        let action = match (rc["Action"].as_str(), rc["Replacement"].as_str()) {
            (Some("Remove"), _) => "Update:Delete",
            (Some("Modify"), Some("False")) => "Update:Modify",
            (Some("Modify"), _) => "Update:Replace",
            _ => return None,
        };
        pol.check(action, logical, rtype)
    })
}

fn run_update(run: &Run<'_>, prev: &Snapshot, policy: Option<&str>) {
    if let Some(reason) = policy.and_then(|p| policy_violation(run, p)) {
        rollback_update(run, prev, Some(&reason));
        return;
    }
    let (failed, _) = schedule(&run.order, &run.deps, run.inner.workers, true, &|n| {
        run.update_one(n)
    });
    let reason = if failed.is_empty() {
        match run
            .outputs()
            .and_then(|o| run.publish(&o, &prev.outputs).map(|()| o))
        {
            Ok(outputs) => {
                let mut d = run.doc();
                d.snap.outputs = outputs;
                run.stage(d);
                run.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None);
                cleanup_update(run);
                return;
            }
            Err(e) => e,
        }
    } else {
        failed_reason("update", &failed)
    };
    rollback_update(run, prev, Some(&reason));
}

/// Deletes replaced physical resources and resources no longer in the template.
fn cleanup_update(run: &Run<'_>) {
    let rows: Vec<ResDoc> = run
        .rows
        .lock()
        .map(|r| r.values().cloned().collect())
        .unwrap_or_default();
    let keep: HashSet<&String> = run.order.iter().collect();
    for row in &rows {
        if let Some(pr) = row.prior.clone() {
            if pr.replaced {
                if let Some(old_id) = &pr.physical_id {
                    run.event(row, "DELETE_IN_PROGRESS", None, Some(old_id));
                    let r = run.delete_physical(row, old_id, &pr.props, &pr.attrs);
                    let mut done = row.clone();
                    done.prior = None;
                    done.added_by_update = false;
                    match r {
                        Ok(()) => run.event(&done, "DELETE_COMPLETE", None, Some(old_id)),
                        Err(e) => run.event(&done, "DELETE_FAILED", Some(&e), Some(old_id)),
                    }
                    if let Ok(mut m) = run.rows.lock() {
                        m.insert(done.logical_id.clone(), done.clone());
                    }
                    let _ =
                        run.inner
                            .persist(None, &run.scope, &run.doc().stack_id, Some(&done), None);
                    continue;
                }
            }
            let mut done = row.clone();
            done.prior = None;
            done.added_by_update = false;
            if let Ok(mut m) = run.rows.lock() {
                m.insert(done.logical_id.clone(), done.clone());
            }
            let _ = run
                .inner
                .persist(None, &run.scope, &run.doc().stack_id, Some(&done), None);
        }
    }
    // Removed resources.
    let removed: Vec<String> = rows
        .iter()
        .filter(|r| !keep.contains(&r.logical_id) && !r.status.starts_with("DELETE"))
        .map(|r| r.logical_id.clone())
        .collect();
    let rev: HashMap<String, Vec<String>> = HashMap::new();
    let _ = schedule(&removed, &rev, run.inner.workers, false, &|n| {
        let Some(row) = run.row(n) else { return true };
        if row.retain {
            run.record(&row, "DELETE_SKIPPED", None, None);
            return true;
        }
        run.delete_one(n)
    });
    // Drop rows of resources that left the template.
    let d = run.doc();
    let _ = run.inner.store.write(|tx| {
        for n in &removed {
            tx.delete(RES, &run.scope, &res_key(&d.stack_id, n))?;
        }
        for r in &rows {
            if r.added_by_update {
                if let Ok(m) = run.rows.lock() {
                    if let Some(cur) = m.get(&r.logical_id) {
                        let mut c = cur.clone();
                        c.added_by_update = false;
                        if let Ok(v) = serde_json::to_value(&c) {
                            tx.put(
                                RES,
                                &run.scope,
                                &res_key(&d.stack_id, &c.logical_id),
                                Some(&d.stack_id),
                                &v,
                            )?;
                        }
                    }
                }
            }
        }
        Ok::<(), ironsage_store::StoreError>(())
    });
    let mut d = run.doc();
    d.op = None;
    run.stage(d);
    run.set_status("UPDATE_COMPLETE", None);
}

fn rollback_update(run: &Run<'_>, prev: &Snapshot, reason: Option<&str>) {
    if run.doc().status != "UPDATE_ROLLBACK_IN_PROGRESS" {
        run.set_status("UPDATE_ROLLBACK_IN_PROGRESS", reason);
    }
    let rows: Vec<ResDoc> = run
        .rows
        .lock()
        .map(|r| r.values().cloned().collect())
        .unwrap_or_default();
    let mut failed = Vec::new();
    let d = run.doc();
    for row in rows.iter().rev() {
        if row.added_by_update {
            if run.delete_one(&row.logical_id) {
                let _ = run
                    .inner
                    .store
                    .write(|tx| tx.delete(RES, &run.scope, &res_key(&d.stack_id, &row.logical_id)));
            } else {
                failed.push(row.logical_id.clone());
            }
            continue;
        }
        let Some(pr) = row.prior.clone() else {
            continue;
        };
        let mut restored = row.clone();
        restored.prior = None;
        restored.physical_id = pr.physical_id.clone();
        restored.props = pr.props.clone();
        restored.attrs = pr.attrs.clone();
        if pr.replaced {
            if let Some(new_id) = row
                .physical_id
                .clone()
                .filter(|n| Some(n) != pr.physical_id.as_ref())
            {
                if row.status == "UPDATE_COMPLETE" {
                    run.event(row, "DELETE_IN_PROGRESS", None, Some(&new_id));
                    if let Err(e) = run.delete_physical(row, &new_id, &row.props, &row.attrs) {
                        run.event(row, "DELETE_FAILED", Some(&e), Some(&new_id));
                        failed.push(row.logical_id.clone());
                        continue;
                    }
                    run.event(row, "DELETE_COMPLETE", None, Some(&new_id));
                }
            }
            run.record(&restored, "UPDATE_COMPLETE", None, None);
        } else {
            let physical = pr.physical_id.clone().unwrap_or_default();
            let r = providers::provider(&row.rtype)
                .ok_or("no provider".to_string())
                .and_then(|p| {
                    let internal = run.inner.internal.get().map_err(|e| e.message)?;
                    let cx = run.pctx(&row.logical_id, &d.snap.tags, internal);
                    p.update(&cx, &physical, &row.props, &pr.props, &row.attrs)
                });
            run.record(&restored, "UPDATE_IN_PROGRESS", None, None);
            match r {
                Ok(_) => {
                    run.record(&restored, "UPDATE_COMPLETE", None, None);
                }
                Err(e) => {
                    run.record(&restored, "UPDATE_FAILED", Some(&e), None);
                    failed.push(row.logical_id.clone());
                }
            }
        }
    }
    let mut d = run.doc();
    d.snap = prev.clone();
    d.op = None;
    run.stage(d);
    if failed.is_empty() {
        run.set_status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None);
        run.set_status("UPDATE_ROLLBACK_COMPLETE", None);
    } else {
        run.set_status(
            "UPDATE_ROLLBACK_FAILED",
            Some(&failed_reason("update", &failed)),
        );
    }
}

/// At start-up: finish or roll back every interrupted operation.
pub(crate) fn resume(inner: &Arc<Inner>) {
    let rows = match inner.store.list_all_scopes(STACK) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cloudformation: cannot list stacks to resume");
            return;
        }
    };
    for (scope, row) in rows {
        let Ok(mut doc) = serde_json::from_value::<StackDoc>(row.doc) else {
            continue;
        };
        if doc.op.is_none() || doc.parent_id.is_some() {
            continue;
        }
        let reason = "Stack operation interrupted by a restart of ironsage";
        let r = match (&doc.op, doc.status.as_str()) {
            (Some(Op::Create), "CREATE_IN_PROGRESS") => {
                if doc.disable_rollback {
                    doc.op = None;
                    inner.set_status(&mut doc, "CREATE_FAILED", Some(reason))
                } else {
                    inner.set_status(&mut doc, "ROLLBACK_IN_PROGRESS", Some(reason))
                }
            }
            (Some(Op::Update { .. }), "UPDATE_IN_PROGRESS") => {
                inner.set_status(&mut doc, "UPDATE_ROLLBACK_IN_PROGRESS", Some(reason))
            }
            _ => Ok(()),
        };
        if let Err(e) = r {
            tracing::error!(error = %e.message, "cloudformation: resume failed");
            continue;
        }
        if doc.op.is_some() {
            spawn(inner, &scope, &doc.stack_id);
        }
    }
}

// ---------------------------------------------------------------- nested stacks

impl Inner {
    /// Creates a nested stack and runs it to completion in this thread.
    pub(crate) fn run_child_create(
        self: &Arc<Self>,
        cx: &PCtx<'_>,
        url: &str,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<(String, Map<String, Value>), String> {
        let parent = self
            .load_stack(&Inner::scope(cx.account, cx.region), cx.stack_id)
            .map_err(|e| e.message)?
            .ok_or("parent stack vanished")?;
        let name = providers::gen_name(cx.stack_name, cx.logical_id, 128, false);
        let body =
            super::api::fetch_template(self, cx.caller, cx.region, url).map_err(|e| e.message)?;
        let stack_id = super::api::new_stack_id(cx.region, cx.account, &name);
        let inputs: Vec<(String, ParameterInput)> = params
            .into_iter()
            .map(|(k, v)| (k, ParameterInput::Value(v)))
            .collect();
        let prep = prepare(
            self,
            cx.caller,
            cx.region,
            &body,
            &name,
            &stack_id,
            &inputs,
            &parent.snap.capabilities,
        )
        .map_err(|e| e.message)?;
        let mut doc = super::api::new_doc(
            &parent.caller,
            cx.region,
            &name,
            &stack_id,
            &body,
            &prep,
            &parent.snap.capabilities,
            tags,
        );
        doc.role_arn = parent.role_arn.clone();
        doc.parent_id = Some(parent.stack_id.clone());
        doc.root_id = Some(parent.root_id.clone().unwrap_or(parent.stack_id.clone()));
        doc.disable_rollback = false;
        let scope = Inner::scope(cx.account, cx.region);
        super::api::insert_new_stack(self, &scope, &doc).map_err(|e| e.message)?;
        run(self, &scope, &stack_id);
        let done = self
            .load_stack(&scope, &stack_id)
            .map_err(|e| e.message)?
            .ok_or("child vanished")?;
        if done.status != "CREATE_COMPLETE" {
            let why = done.status_reason.clone().unwrap_or_default();
            // The child rolled back; remove it from the name index.
            return Err(format!(
                "Embedded stack {stack_id} was not successfully created: {why}"
            ));
        }
        Ok((stack_id, child_outputs(&done)))
    }

    pub(crate) fn run_child_update(
        self: &Arc<Self>,
        cx: &PCtx<'_>,
        child_id: &str,
        url: &str,
        params: Vec<(String, String)>,
        tags: Vec<(String, String)>,
    ) -> Result<Map<String, Value>, String> {
        let scope = Inner::scope(cx.account, cx.region);
        let mut doc = self
            .load_stack(&scope, child_id)
            .map_err(|e| e.message)?
            .ok_or("child vanished")?;
        let body =
            super::api::fetch_template(self, cx.caller, cx.region, url).map_err(|e| e.message)?;
        let inputs: Vec<(String, ParameterInput)> = params
            .into_iter()
            .map(|(k, v)| (k, ParameterInput::Value(v)))
            .collect();
        let prep = prepare(
            self,
            cx.caller,
            cx.region,
            &body,
            &doc.stack_name,
            child_id,
            &inputs,
            &doc.snap.capabilities,
        )
        .map_err(|e| e.message)?;
        let prev = doc.snap.clone();
        doc.snap.template_body = body;
        doc.snap.parameters = prep.params;
        doc.snap.description = prep.template.description.clone();
        doc.snap.tags = tags;
        doc.op = Some(Op::Update {
            prev: Box::new(prev),
            policy: doc.stack_policy.clone(),
        });
        self.set_status(&mut doc, "UPDATE_IN_PROGRESS", None)
            .map_err(|e| e.message)?;
        run(self, &scope, child_id);
        let done = self
            .load_stack(&scope, child_id)
            .map_err(|e| e.message)?
            .ok_or("child vanished")?;
        if done.status != "UPDATE_COMPLETE" {
            return Err(format!(
                "Embedded stack {child_id} was not successfully updated. Currently in {} with reason: {}",
                done.status,
                done.status_reason.unwrap_or_default()
            ));
        }
        Ok(child_outputs(&done))
    }

    pub(crate) fn run_child_delete(
        self: &Arc<Self>,
        cx: &PCtx<'_>,
        child_id: &str,
    ) -> Result<(), String> {
        let scope = Inner::scope(cx.account, cx.region);
        let Some(mut doc) = self.load_stack(&scope, child_id).map_err(|e| e.message)? else {
            return Ok(());
        };
        if doc.status == "DELETE_COMPLETE" {
            return Ok(());
        }
        doc.op = Some(Op::Delete);
        self.set_status(&mut doc, "DELETE_IN_PROGRESS", Some("User Initiated"))
            .map_err(|e| e.message)?;
        run(self, &scope, child_id);
        let done = self
            .load_stack(&scope, child_id)
            .map_err(|e| e.message)?
            .ok_or("child vanished")?;
        if done.status != "DELETE_COMPLETE" {
            return Err(format!(
                "Embedded stack {child_id} was not successfully deleted: {}",
                done.status_reason.unwrap_or_default()
            ));
        }
        Ok(())
    }
}

fn child_outputs(doc: &StackDoc) -> Map<String, Value> {
    doc.snap
        .outputs
        .iter()
        .map(|o| (format!("Outputs.{}", o.key), Value::String(o.value.clone())))
        .collect()
}

/// Compares a stack's current resources with a new template for a change set.
pub(crate) fn diff(
    inner: &Arc<Inner>,
    doc: &StackDoc,
    new_body: &str,
    new_params: &[ParamDoc],
) -> Result<Vec<Value>, String> {
    let mut probe = doc.clone();
    probe.snap.template_body = new_body.to_string();
    probe.snap.parameters = new_params.to_vec();
    let run = Run::new(inner, probe)?;
    Ok(plan(&run))
}

/// The resource changes `run` would make: `Add`, `Modify` (with
/// `Replacement`) and `Remove`, in change-set form.
fn plan(run: &Run<'_>) -> Vec<Value> {
    let rows = run.rows.lock().map(|r| r.clone()).unwrap_or_default();
    let mut changes = Vec::new();
    for logical in &run.order {
        let rtype = run
            .template
            .resources
            .get(logical)
            .map(|r| r.resource_type.clone())
            .unwrap_or_default();
        match rows
            .get(logical)
            .filter(|r| !r.status.starts_with("DELETE") && r.physical_id.is_some())
        {
            None => changes.push(json!({"Type": "Resource", "ResourceChange": {
                "Action": "Add", "LogicalResourceId": logical, "ResourceType": rtype,
                "Scope": [], "Details": []}})),
            Some(old) => {
                let new_tp = run.new_row(logical).template_props;
                let resolved = run.resolve_props(logical);
                let (keys, conditional) = match &resolved {
                    Ok(v) => (changed_keys(&old.props, v), false),
                    Err(_) => (changed_keys(&old.template_props, &new_tp), true),
                };
                if keys.is_empty() && old.rtype == rtype {
                    continue;
                }
                let replace = old.rtype != rtype || needs_replacement(&rtype, &keys);
                let replacement = if replace {
                    if conditional {
                        "Conditional"
                    } else {
                        "True"
                    }
                } else {
                    "False"
                };
                let details: Vec<Value> = keys
                    .iter()
                    .map(|k| json!({"Target": {"Attribute": "Properties", "Name": k,
                        "RequiresRecreation": if needs_replacement(&rtype, std::slice::from_ref(k)) { "Always" } else { "Never" }},
                        "Evaluation": if conditional { "Dynamic" } else { "Static" }, "ChangeSource": "DirectModification"}))
                    .collect();
                changes.push(json!({"Type": "Resource", "ResourceChange": {
                    "Action": "Modify", "LogicalResourceId": logical, "PhysicalResourceId": old.physical_id,
                    "ResourceType": rtype, "Replacement": replacement, "Scope": ["Properties"], "Details": details}}));
            }
        }
    }
    let keep: HashSet<&String> = run.order.iter().collect();
    for (logical, r) in &rows {
        if !keep.contains(logical) && !r.status.starts_with("DELETE") {
            changes.push(json!({"Type": "Resource", "ResourceChange": {
                "Action": "Remove", "LogicalResourceId": logical, "PhysicalResourceId": r.physical_id,
                "ResourceType": r.rtype, "Scope": [], "Details": []}}));
        }
    }
    changes
}
