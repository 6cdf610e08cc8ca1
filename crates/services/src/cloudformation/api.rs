//! The CloudFormation API operations.

use std::sync::Arc;

use base64::Engine as _;
use ironsage_cfn_template as tpl;
use serde_json::{json, Value};
use tpl::ParameterInput;

use super::engine::{self, prepare, Prepared};
use super::model::*;
use super::{validation, Inner};
use crate::util::{boolean, int, list, s};
use crate::{internal, AwsError, Caller, Ctx, Target};

pub(crate) fn new_stack_id(region: &str, account: &str, name: &str) -> String {
    format!(
        "arn:aws:cloudformation:{region}:{account}:stack/{name}/{}",
        crate::ids::request_id()
    )
}

/// Reads a template from ironsage's S3 for any S3 URL form.
pub(crate) fn fetch_template(
    inner: &Inner,
    caller: &Caller,
    region: &str,
    url: &str,
) -> Result<String, AwsError> {
    let bad = || validation(format!("TemplateURL must be a supported URL: {url}"));
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let (host, path) = rest.split_once('/').ok_or_else(bad)?;
    let path = path.split('?').next().unwrap_or_default();
    let host_l = host
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (bucket, key) = if host_l == "s3.amazonaws.com"
        || (host_l.starts_with("s3.") || host_l.starts_with("s3-"))
            && host_l.ends_with(".amazonaws.com")
        || host_l == "127.0.0.1"
        || host_l == "localhost"
    {
        let (b, k) = path.split_once('/').ok_or_else(bad)?;
        (b.to_string(), k.to_string())
    } else if let Some(i) = host_l.find(".s3.").or_else(|| host_l.find(".s3-")) {
        (host_l[..i].to_string(), path.to_string())
    } else {
        return Err(bad());
    };
    let key = percent_decode(&key);
    let internal = inner.internal.get()?;
    let out = internal
        .invoke(
            caller,
            region,
            Some("cloudformation.amazonaws.com"),
            "s3",
            "GetObject",
            json!({"Bucket": bucket, "Key": key}),
        )
        .map_err(|e| {
            validation(format!(
                "S3 error: Unable to get object {key} from bucket {bucket}: {} ({})",
                e.message, e.code
            ))
        })?;
    let body = match out.get("Body") {
        Some(Value::String(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| validation("S3 error: the template object could not be read"))?,
        _ => {
            return Err(validation(
                "S3 error: the template object could not be read",
            ))
        }
    };
    String::from_utf8(body)
        .map_err(|_| validation("Template format error: template is not valid UTF-8"))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_doc(
    caller: &Caller,
    region: &str,
    name: &str,
    stack_id: &str,
    body: &str,
    prep: &Prepared,
    caps: &[String],
    tags: Vec<(String, String)>,
) -> StackDoc {
    StackDoc {
        stack_id: stack_id.to_string(),
        stack_name: name.to_string(),
        account: caller.account.clone(),
        region: region.to_string(),
        status: "CREATE_IN_PROGRESS".into(),
        status_reason: Some("User Initiated".into()),
        created: engine::iso_ms(),
        updated: None,
        deleted: None,
        snap: Snapshot {
            template_body: body.to_string(),
            parameters: prep.params.clone(),
            outputs: Vec::new(),
            description: prep.template.description.clone(),
            capabilities: caps.to_vec(),
            tags,
        },
        disable_rollback: false,
        on_failure_delete: false,
        timeout_minutes: None,
        role_arn: None,
        caller: caller.clone(),
        termination_protection: false,
        stack_policy: None,
        client_token: None,
        parent_id: None,
        root_id: None,
        notification_arns: Vec::new(),
        op: Some(Op::Create),
        change_set_id: None,
    }
}

/// Inserts a new stack (row, name index, first event); fails if the name is taken.
pub(crate) fn insert_new_stack(inner: &Inner, scope: &str, doc: &StackDoc) -> Result<(), AwsError> {
    inner
        .store
        .write(|tx| {
            if tx
                .get(NAME, scope, &doc.stack_name)
                .map_err(internal)?
                .is_some()
            {
                return Err(AwsError::new(
                    "AlreadyExistsException",
                    format!("Stack [{}] already exists", doc.stack_name),
                    400,
                ));
            }
            tx.put(
                NAME,
                scope,
                &doc.stack_name,
                None,
                &json!({"stack_id": doc.stack_id}),
            )
            .map_err(internal)?;
            Ok(())
        })
        .map_err(internal)??;
    let status = doc.status.clone();
    inner.persist(
        Some(doc),
        scope,
        &doc.stack_id,
        None,
        Some((
            &doc.stack_name,
            &doc.stack_name,
            Some(&doc.stack_id),
            "AWS::CloudFormation::Stack",
            &status,
            doc.status_reason.as_deref(),
        )),
    )
}

fn scope_of(ctx: &Ctx<'_>) -> String {
    Inner::scope(&ctx.caller.account, ctx.region)
}

/// Finds a stack by name (live stacks) or id (any).
fn find(inner: &Inner, ctx: &Ctx<'_>, name_or_id: &str) -> Result<Option<StackDoc>, AwsError> {
    let scope = scope_of(ctx);
    if name_or_id.starts_with("arn:") {
        return inner.load_stack(&scope, name_or_id);
    }
    match inner
        .store
        .get(NAME, &scope, name_or_id)
        .map_err(internal)?
    {
        Some(r) => {
            let id = r
                .doc
                .get("stack_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            inner.load_stack(&scope, &id)
        }
        None => Ok(None),
    }
}

fn must_find(inner: &Inner, ctx: &Ctx<'_>, name_or_id: &str) -> Result<StackDoc, AwsError> {
    find(inner, ctx, name_or_id)?
        .ok_or_else(|| validation(format!("Stack with id {name_or_id} does not exist")))
}

fn stack_arn_for(ctx: &Ctx<'_>, name_or_id: &str) -> String {
    if name_or_id.starts_with("arn:") {
        name_or_id.to_string()
    } else {
        format!(
            "arn:aws:cloudformation:{}:{}:stack/{name_or_id}/*",
            ctx.region, ctx.caller.account
        )
    }
}

pub(crate) fn targets(
    _inner: &Inner,
    ctx: &Ctx<'_>,
    op: &str,
    input: &Value,
) -> Result<Vec<Target>, AwsError> {
    let action = format!("cloudformation:{op}");
    let stack = s(input, "StackName").unwrap_or_default();
    let resource = match op {
        "ListStacks" | "ValidateTemplate" | "ListExports" | "ListImports" | "DescribeStacks"
            if stack.is_empty() =>
        {
            "*".to_string()
        }
        "GetTemplateSummary" if stack.is_empty() => "*".to_string(),
        "ListExports" | "ListImports" | "ListStacks" | "ValidateTemplate" => "*".to_string(),
        _ if !stack.is_empty() => stack_arn_for(ctx, stack),
        _ => match s(input, "ChangeSetName") {
            Some(cs) if cs.starts_with("arn:") => cs.to_string(),
            _ => "*".to_string(),
        },
    };
    let mut t = Target::new(action, resource);
    if let Some(u) = s(input, "TemplateURL") {
        t = t.with_context("cloudformation:TemplateUrl", vec![u.to_string()]);
    }
    if let Some(r) = s(input, "RoleARN") {
        t = t.with_context("cloudformation:RoleArn", vec![r.to_string()]);
    }
    for tag in list(input, "Tags") {
        if let (Some(k), Some(v)) = (s(tag, "Key"), s(tag, "Value")) {
            t = t.with_context(format!("aws:RequestTag/{k}"), vec![v.to_string()]);
        }
    }
    let keys: Vec<String> = list(input, "Tags")
        .iter()
        .filter_map(|t| s(t, "Key").map(str::to_string))
        .collect();
    if !keys.is_empty() {
        t = t.with_context("aws:TagKeys", keys);
    }
    let mut out = vec![t];
    if let Some(r) = s(input, "RoleARN") {
        out.push(Target::new("iam:PassRole", r).with_context(
            "iam:PassedToService",
            vec!["cloudformation.amazonaws.com".into()],
        ));
    }
    Ok(out)
}

pub(crate) fn call(
    inner: &Arc<Inner>,
    ctx: &Ctx<'_>,
    op: &str,
    input: Value,
) -> Result<Value, AwsError> {
    match op {
        "CreateStack" => create_stack(inner, ctx, &input),
        "UpdateStack" => update_stack(inner, ctx, &input),
        "DeleteStack" => delete_stack(inner, ctx, &input),
        "DescribeStacks" => describe_stacks(inner, ctx, &input),
        "ListStacks" => list_stacks(inner, ctx, &input),
        "DescribeStackEvents" => describe_events(inner, ctx, &input),
        "DescribeStackResource" => describe_resource(inner, ctx, &input),
        "DescribeStackResources" => describe_resources(inner, ctx, &input),
        "ListStackResources" => list_resources(inner, ctx, &input),
        "GetTemplate" => get_template(inner, ctx, &input),
        "GetTemplateSummary" => template_summary(inner, ctx, &input),
        "ValidateTemplate" => validate_template(inner, ctx, &input),
        "ListExports" => list_exports(inner, ctx),
        "ListImports" => list_imports(inner, ctx, &input),
        "UpdateTerminationProtection" => termination(inner, ctx, &input),
        "SetStackPolicy" => set_policy(inner, ctx, &input),
        "GetStackPolicy" => {
            let d = must_find(inner, ctx, s(&input, "StackName").unwrap_or_default())?;
            Ok(match d.stack_policy {
                Some(p) => json!({"StackPolicyBody": p}),
                None => json!({}),
            })
        }
        "CreateChangeSet" => create_change_set(inner, ctx, &input),
        "DescribeChangeSet" => describe_change_set(inner, ctx, &input),
        "ExecuteChangeSet" => execute_change_set(inner, ctx, &input),
        "DeleteChangeSet" => delete_change_set(inner, ctx, &input),
        "ListChangeSets" => list_change_sets(inner, ctx, &input),
        _ => Err(AwsError::not_implemented("CloudFormation", op)),
    }
}

fn body_of(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Option<String>, AwsError> {
    if let Some(b) = s(input, "TemplateBody") {
        return Ok(Some(b.to_string()));
    }
    if let Some(u) = s(input, "TemplateURL") {
        return fetch_template(inner, ctx.caller, ctx.region, u).map(Some);
    }
    Ok(None)
}

fn param_inputs(
    input: &Value,
    previous: Option<&[ParamDoc]>,
) -> Result<Vec<(String, ParameterInput)>, AwsError> {
    let mut out = Vec::new();
    for p in list(input, "Parameters") {
        let key = s(p, "ParameterKey").unwrap_or_default().to_string();
        if boolean(p, "UsePreviousValue") == Some(true) {
            let prev = previous
                .and_then(|ps| ps.iter().find(|x| x.key == key))
                .map(|x| x.value.clone())
                .ok_or_else(|| validation(format!("Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template")))?;
            out.push((key, ParameterInput::UsePreviousValue { previous: prev }));
        } else {
            out.push((
                key,
                ParameterInput::Value(s(p, "ParameterValue").unwrap_or_default().to_string()),
            ));
        }
    }
    Ok(out)
}

fn caps(input: &Value) -> Vec<String> {
    list(input, "Capabilities")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect()
}

fn tags_in(input: &Value) -> Vec<(String, String)> {
    crate::util::tags(input, "Tags")
}

fn check_role(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Option<String>, AwsError> {
    match s(input, "RoleARN") {
        Some(r) => {
            engine::role_session(inner, &ctx.caller.account, ctx.region, r).map_err(validation)?;
            Ok(Some(r.to_string()))
        }
        None => Ok(None),
    }
}

fn validate_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )))
    }
}

fn create_stack(inner: &Arc<Inner>, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let name = s(input, "StackName").unwrap_or_default();
    validate_name(name)?;
    let scope = scope_of(ctx);
    if let Some(tok) = s(input, "ClientRequestToken") {
        if let Some(d) = find(inner, ctx, name)? {
            if d.client_token.as_deref() == Some(tok) {
                return Ok(json!({"StackId": d.stack_id}));
            }
        }
    }
    if inner
        .store
        .get(NAME, &scope, name)
        .map_err(internal)?
        .is_some()
    {
        return Err(AwsError::new(
            "AlreadyExistsException",
            format!("Stack [{name}] already exists"),
            400,
        ));
    }
    let body = body_of(inner, ctx, input)?
        .ok_or_else(|| validation("Either Template URL or Template Body must be specified."))?;
    let stack_id = new_stack_id(ctx.region, &ctx.caller.account, name);
    let caps = caps(input);
    let role = check_role(inner, ctx, input)?;
    let inputs = param_inputs(input, None)?;
    let prep = prepare(
        inner, ctx.caller, ctx.region, &body, name, &stack_id, &inputs, &caps,
    )?;
    let mut doc = new_doc(
        ctx.caller,
        ctx.region,
        name,
        &stack_id,
        &body,
        &prep,
        &caps,
        tags_in(input),
    );
    doc.role_arn = role;
    doc.disable_rollback = boolean(input, "DisableRollback").unwrap_or(false);
    match s(input, "OnFailure") {
        Some("DO_NOTHING") => doc.disable_rollback = true,
        Some("DELETE") => doc.on_failure_delete = true,
        _ => {}
    }
    doc.timeout_minutes = int(input, "TimeoutInMinutes");
    doc.client_token = s(input, "ClientRequestToken").map(str::to_string);
    doc.termination_protection = boolean(input, "EnableTerminationProtection").unwrap_or(false);
    if let Some(p) = s(input, "StackPolicyBody") {
        super::policy::validate(p)?;
    }
    doc.stack_policy = s(input, "StackPolicyBody").map(str::to_string);
    doc.notification_arns = list(input, "NotificationARNs")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    insert_new_stack(inner, &scope, &doc)?;
    engine::spawn(inner, &scope, &stack_id);
    Ok(json!({"StackId": stack_id}))
}

fn updatable(d: &StackDoc) -> Result<(), AwsError> {
    let ok = matches!(
        d.status.as_str(),
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE"
    );
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "Stack:{} is in {} state and can not be updated.",
            d.stack_id, d.status
        )))
    }
}

/// Builds the new snapshot for an update (template, parameters, tags).
fn update_snapshot(
    inner: &Inner,
    ctx: &Ctx<'_>,
    d: &StackDoc,
    input: &Value,
) -> Result<(Snapshot, Prepared), AwsError> {
    let body = if boolean(input, "UsePreviousTemplate") == Some(true) {
        d.snap.template_body.clone()
    } else {
        body_of(inner, ctx, input)?
            .ok_or_else(|| validation("Either Template URL or Template Body must be specified."))?
    };
    let caps = caps(input);
    let inputs = param_inputs(input, Some(&d.snap.parameters))?;
    let prep = prepare(
        inner,
        ctx.caller,
        ctx.region,
        &body,
        &d.stack_name,
        &d.stack_id,
        &inputs,
        &caps,
    )?;
    let tags = if input.get("Tags").is_some() {
        tags_in(input)
    } else {
        d.snap.tags.clone()
    };
    Ok((
        Snapshot {
            template_body: body,
            parameters: prep.params.clone(),
            outputs: d.snap.outputs.clone(),
            description: prep.template.description.clone(),
            capabilities: caps,
            tags,
        },
        prep,
    ))
}

fn start_update(
    inner: &Arc<Inner>,
    ctx: &Ctx<'_>,
    mut d: StackDoc,
    snap: Snapshot,
    role: Option<String>,
    policy: Option<String>,
) -> Result<(), AwsError> {
    let prev = d.snap.clone();
    d.snap = snap;
    d.caller = ctx.caller.clone();
    if role.is_some() {
        d.role_arn = role;
    }
    d.op = Some(Op::Update {
        prev: Box::new(prev),
        policy,
    });
    inner.set_status(&mut d, "UPDATE_IN_PROGRESS", Some("User Initiated"))?;
    engine::spawn(inner, &Inner::scope(&d.account, &d.region), &d.stack_id);
    Ok(())
}

fn update_stack(inner: &Arc<Inner>, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    updatable(&d)?;
    let (snap, _prep) = update_snapshot(inner, ctx, &d, input)?;
    let role = check_role(inner, ctx, input)?;
    if snap.template_body == d.snap.template_body
        && snap.parameters == d.snap.parameters
        && snap.tags == d.snap.tags
    {
        return Err(validation("No updates are to be performed."));
    }
    let during = s(input, "StackPolicyDuringUpdateBody").map(str::to_string);
    if let Some(p) = &during {
        super::policy::validate(p)?;
    }
    // The update is checked against the policy in force when it starts (or
    // the one given for this update); a new StackPolicyBody applies after.
    let policy = during.or_else(|| d.stack_policy.clone());
    let mut d = d;
    if let Some(p) = s(input, "StackPolicyBody") {
        super::policy::validate(p)?;
        d.stack_policy = Some(p.to_string());
    }
    let id = d.stack_id.clone();
    start_update(inner, ctx, d, snap, role, policy)?;
    Ok(json!({"StackId": id}))
}

fn delete_stack(inner: &Arc<Inner>, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let name = s(input, "StackName").unwrap_or_default();
    let Some(mut d) = find(inner, ctx, name)? else {
        return Ok(json!({}));
    };
    if d.status == "DELETE_COMPLETE" || d.status == "DELETE_IN_PROGRESS" {
        return Ok(json!({}));
    }
    if d.termination_protection {
        return Err(validation(format!(
            "Stack [{}] cannot be deleted while TerminationProtection is enabled",
            d.stack_name
        )));
    }
    if d.op.is_some() {
        return Err(validation(format!(
            "Stack [{}] cannot be deleted while in status {}",
            d.stack_name, d.status
        )));
    }
    if let Some(r) = check_role(inner, ctx, input)? {
        d.role_arn = Some(r);
    }
    d.caller = ctx.caller.clone();
    d.op = Some(Op::Delete);
    inner.set_status(&mut d, "DELETE_IN_PROGRESS", Some("User Initiated"))?;
    engine::spawn(inner, &scope_of(ctx), &d.stack_id);
    Ok(json!({}))
}

fn stack_json(d: &StackDoc) -> Value {
    let mut v = json!({
        "StackId": d.stack_id,
        "StackName": d.stack_name,
        "CreationTime": d.created,
        "StackStatus": d.status,
        "DisableRollback": d.disable_rollback,
        "NotificationARNs": d.notification_arns,
        "Capabilities": d.snap.capabilities,
        "Tags": crate::util::tags_value(&d.snap.tags),
        "EnableTerminationProtection": d.termination_protection,
        "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
        "Parameters": d.snap.parameters.iter().map(|p| {
            let mut x = json!({"ParameterKey": p.key, "ParameterValue": if p.no_echo { "****".to_string() } else { p.value.clone() }});
            if let Some(r) = &p.resolved { x["ResolvedValue"] = json!(r); }
            x
        }).collect::<Vec<_>>(),
    });
    if let Some(r) = &d.status_reason {
        v["StackStatusReason"] = json!(r);
    }
    if let Some(x) = &d.snap.description {
        v["Description"] = json!(x);
    }
    if let Some(x) = &d.updated {
        v["LastUpdatedTime"] = json!(x);
    }
    if let Some(x) = &d.deleted {
        v["DeletionTime"] = json!(x);
    }
    if let Some(x) = d.timeout_minutes {
        v["TimeoutInMinutes"] = json!(x);
    }
    if let Some(x) = &d.role_arn {
        v["RoleARN"] = json!(x);
    }
    if let Some(x) = &d.parent_id {
        v["ParentId"] = json!(x);
    }
    if let Some(x) = &d.root_id {
        v["RootId"] = json!(x);
    }
    if let Some(x) = &d.change_set_id {
        v["ChangeSetId"] = json!(x);
    }
    if !d.snap.outputs.is_empty() {
        v["Outputs"] = Value::Array(
            d.snap
                .outputs
                .iter()
                .map(|o| {
                    let mut x = json!({"OutputKey": o.key, "OutputValue": o.value});
                    if let Some(ds) = &o.description {
                        x["Description"] = json!(ds);
                    }
                    if let Some(e) = &o.export_name {
                        x["ExportName"] = json!(e);
                    }
                    x
                })
                .collect(),
        );
    }
    v
}

fn all_stacks(inner: &Inner, ctx: &Ctx<'_>) -> Result<Vec<StackDoc>, AwsError> {
    let mut v: Vec<(i64, StackDoc)> = inner
        .store
        .list(STACK, &scope_of(ctx), None)
        .map_err(internal)?
        .into_iter()
        .filter_map(|r| Some((r.seq, serde_json::from_value(r.doc).ok()?)))
        .collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.0));
    Ok(v.into_iter().map(|(_, d)| d).collect())
}

fn page<T: Clone>(items: &[T], input: &Value, size: usize) -> (Vec<T>, Option<String>) {
    let start = s(input, "NextToken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<T> = items.iter().skip(start).take(size).cloned().collect();
    let next = (start + page.len() < items.len()).then(|| (start + page.len()).to_string());
    (page, next)
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(n) = next {
        v["NextToken"] = json!(n);
    }
    v
}

fn describe_stacks(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    if let Some(n) = s(input, "StackName") {
        let d = must_find(inner, ctx, n)?;
        return Ok(json!({"Stacks": [stack_json(&d)]}));
    }
    let stacks: Vec<Value> = all_stacks(inner, ctx)?
        .iter()
        .filter(|d| d.status != "DELETE_COMPLETE")
        .map(stack_json)
        .collect();
    let (p, next) = page(&stacks, input, 100);
    Ok(with_token(json!({"Stacks": p}), next))
}

fn list_stacks(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let filter: Vec<&str> = list(input, "StackStatusFilter")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let items: Vec<Value> = all_stacks(inner, ctx)?
        .iter()
        .filter(|d| filter.is_empty() || filter.contains(&d.status.as_str()))
        .map(|d| {
            let mut v = json!({"StackId": d.stack_id, "StackName": d.stack_name, "CreationTime": d.created,
                "StackStatus": d.status, "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"}});
            if let Some(x) = &d.snap.description { v["TemplateDescription"] = json!(x); }
            if let Some(x) = &d.status_reason { v["StackStatusReason"] = json!(x); }
            if let Some(x) = &d.updated { v["LastUpdatedTime"] = json!(x); }
            if let Some(x) = &d.deleted { v["DeletionTime"] = json!(x); }
            if let Some(x) = &d.parent_id { v["ParentId"] = json!(x); }
            if let Some(x) = &d.root_id { v["RootId"] = json!(x); }
            v
        })
        .collect();
    let (p, next) = page(&items, input, 100);
    Ok(with_token(json!({"StackSummaries": p}), next))
}

fn describe_events(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    let mut evs: Vec<EventDoc> = inner
        .store
        .list(EVENT, &scope_of(ctx), Some(&d.stack_id))
        .map_err(internal)?
        .into_iter()
        .filter_map(|r| serde_json::from_value(r.doc).ok())
        .collect();
    evs.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let items: Vec<Value> = evs
        .iter()
        .map(|e| {
            let mut v = json!({"StackId": e.stack_id, "EventId": e.event_id, "StackName": e.stack_name,
                "LogicalResourceId": e.logical_id, "ResourceType": e.rtype, "Timestamp": e.timestamp,
                "ResourceStatus": e.status});
            if let Some(p) = &e.physical_id { v["PhysicalResourceId"] = json!(p); }
            if let Some(r) = &e.reason { v["ResourceStatusReason"] = json!(r); }
            v
        })
        .collect();
    let (p, next) = page(&items, input, 100);
    Ok(with_token(json!({"StackEvents": p}), next))
}

fn res_json(d: &StackDoc, r: &ResDoc, detail: bool) -> Value {
    let mut v = json!({"LogicalResourceId": r.logical_id, "ResourceType": r.rtype,
        "ResourceStatus": r.status, "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}});
    if detail {
        v["StackName"] = json!(d.stack_name);
        v["StackId"] = json!(d.stack_id);
        v["Timestamp"] = json!(r.updated);
    } else {
        v["LastUpdatedTimestamp"] = json!(r.updated);
    }
    if let Some(p) = &r.physical_id {
        v["PhysicalResourceId"] = json!(p);
    }
    if let Some(x) = &r.reason {
        v["ResourceStatusReason"] = json!(x);
    }
    v
}

fn describe_resource(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    let id = s(input, "LogicalResourceId").unwrap_or_default();
    let r = inner
        .resources(&scope_of(ctx), &d.stack_id)?
        .into_iter()
        .find(|r| r.logical_id == id)
        .ok_or_else(|| {
            validation(format!(
                "Resource {id} does not exist for stack {}",
                d.stack_name
            ))
        })?;
    let mut v = res_json(&d, &r, true);
    v["LastUpdatedTimestamp"] = json!(r.updated);
    v["Metadata"] = json!("{}");
    Ok(json!({"StackResourceDetail": v}))
}

fn describe_resources(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let d = match (s(input, "StackName"), s(input, "PhysicalResourceId")) {
        (Some(n), _) => must_find(inner, ctx, n)?,
        (None, Some(p)) => {
            let mut found = None;
            for d in all_stacks(inner, ctx)? {
                if inner
                    .resources(&scope_of(ctx), &d.stack_id)?
                    .iter()
                    .any(|r| r.physical_id.as_deref() == Some(p))
                {
                    found = Some(d);
                    break;
                }
            }
            found.ok_or_else(|| validation(format!("Stack for {p} does not exist")))?
        }
        _ => {
            return Err(validation(
                "Either StackName or PhysicalResourceId must be specified.",
            ))
        }
    };
    let want = s(input, "LogicalResourceId");
    let items: Vec<Value> = order_rows(&d, inner.resources(&scope_of(ctx), &d.stack_id)?)
        .iter()
        .filter(|r| want.is_none_or(|w| w == r.logical_id))
        .map(|r| res_json(&d, r, true))
        .collect();
    Ok(json!({"StackResources": items}))
}

fn order_rows(d: &StackDoc, mut rows: Vec<ResDoc>) -> Vec<ResDoc> {
    let order: Vec<String> = tpl::parse_template(&d.snap.template_body)
        .map(|t| t.resources.keys().cloned().collect())
        .unwrap_or_default();
    rows.sort_by_key(|r| {
        order
            .iter()
            .position(|o| *o == r.logical_id)
            .unwrap_or(usize::MAX)
    });
    rows
}

fn list_resources(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    let items: Vec<Value> = order_rows(&d, inner.resources(&scope_of(ctx), &d.stack_id)?)
        .iter()
        .map(|r| res_json(&d, r, false))
        .collect();
    let (p, next) = page(&items, input, 100);
    Ok(with_token(json!({"StackResourceSummaries": p}), next))
}

fn get_template(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    if let Some(cs) = s(input, "ChangeSetName") {
        let c = find_change_set(inner, ctx, cs, s(input, "StackName"))?;
        return Ok(
            json!({"TemplateBody": c.snap.template_body, "StagesAvailable": ["Original", "Processed"]}),
        );
    }
    let d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    Ok(json!({"TemplateBody": d.snap.template_body, "StagesAvailable": ["Original", "Processed"]}))
}

fn summary_json(t: &tpl::Template) -> Value {
    let sm = tpl::summarize(t);
    let mut v = json!({
        "Parameters": sm.parameters.iter().map(|p| {
            let mut x = json!({"ParameterKey": p.name, "ParameterType": p.type_name, "NoEcho": p.no_echo});
            if let Some(d) = &p.default { x["DefaultValue"] = json!(d); }
            if let Some(d) = &p.description { x["Description"] = json!(d); }
            if !p.allowed_values.is_empty() { x["ParameterConstraints"] = json!({"AllowedValues": p.allowed_values}); }
            x
        }).collect::<Vec<_>>(),
        "Capabilities": sm.capabilities,
        "ResourceTypes": sm.resource_types,
        "DeclaredTransforms": sm.declared_transforms,
        "ResourceIdentifierSummaries": [],
    });
    if let Some(d) = &sm.description {
        v["Description"] = json!(d);
    }
    if let Some(r) = &sm.capabilities_reason {
        v["CapabilitiesReason"] = json!(r);
    }
    if let Some(r) = &sm.version {
        v["Version"] = json!(r);
    }
    if let Some(m) = &sm.metadata {
        v["Metadata"] = json!(m.to_string());
    }
    v
}

fn template_summary(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let body = match body_of(inner, ctx, input)? {
        Some(b) => b,
        None => {
            let n = s(input, "StackName").ok_or_else(|| {
                validation("Either Template URL or Template Body must be specified.")
            })?;
            must_find(inner, ctx, n)?.snap.template_body
        }
    };
    let t = engine::parse_checked(&body)?;
    Ok(summary_json(&t))
}

fn validate_template(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let body = body_of(inner, ctx, input)?
        .ok_or_else(|| validation("Either Template URL or Template Body must be specified."))?;
    let t = engine::parse_checked(&body)?;
    let sm = summary_json(&t);
    let mut v = json!({
        "Parameters": t.parameters.values().map(|p| {
            let mut x = json!({"ParameterKey": p.name, "NoEcho": p.no_echo});
            if let Some(d) = &p.default { x["DefaultValue"] = json!(d); }
            if let Some(d) = &p.description { x["Description"] = json!(d); }
            x
        }).collect::<Vec<_>>(),
        "Capabilities": sm["Capabilities"],
        "DeclaredTransforms": sm["DeclaredTransforms"],
    });
    if let Some(d) = &t.description {
        v["Description"] = json!(d);
    }
    if let Some(r) = sm.get("CapabilitiesReason") {
        v["CapabilitiesReason"] = r.clone();
    }
    Ok(v)
}

fn list_exports(inner: &Inner, ctx: &Ctx<'_>) -> Result<Value, AwsError> {
    let items: Vec<Value> = inner
        .store
        .list(EXPORT, &scope_of(ctx), None)
        .map_err(internal)?
        .into_iter()
        .map(|r| json!({"ExportingStackId": r.doc["stack_id"], "Name": r.key, "Value": r.doc["value"]}))
        .collect();
    Ok(json!({"Exports": items}))
}

fn list_imports(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let name = s(input, "ExportName").unwrap_or_default();
    let scope = scope_of(ctx);
    if inner
        .store
        .get(EXPORT, &scope, name)
        .map_err(internal)?
        .is_none()
    {
        return Err(validation(format!("Export '{name}' does not exist.")));
    }
    let items: Vec<Value> = inner
        .store
        .list(IMPORT, &scope, Some(name))
        .map_err(internal)?
        .into_iter()
        .filter_map(|r| r.doc.get("stack_name").cloned())
        .collect();
    if items.is_empty() {
        return Err(validation(format!(
            "Export '{name}' is not imported by any stack."
        )));
    }
    Ok(json!({"Imports": items}))
}

fn termination(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let mut d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    d.termination_protection = boolean(input, "EnableTerminationProtection").unwrap_or(false);
    inner.persist(Some(&d), &scope_of(ctx), &d.stack_id, None, None)?;
    Ok(json!({"StackId": d.stack_id}))
}

fn set_policy(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let mut d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    let body = s(input, "StackPolicyBody").map(str::to_string);
    if let Some(b) = &body {
        super::policy::validate(b)?;
    }
    d.stack_policy = body;
    inner.persist(Some(&d), &scope_of(ctx), &d.stack_id, None, None)?;
    Ok(json!({}))
}

// ---------------------------------------------------------------- change sets

fn find_change_set(
    inner: &Inner,
    ctx: &Ctx<'_>,
    cs: &str,
    stack: Option<&str>,
) -> Result<ChangeSetDoc, AwsError> {
    let scope = scope_of(ctx);
    let missing = || {
        AwsError::new(
            "ChangeSetNotFound",
            format!("ChangeSet [{cs}] does not exist"),
            404,
        )
    };
    if cs.starts_with("arn:") {
        let r = inner
            .store
            .get(CHANGESET, &scope, cs)
            .map_err(internal)?
            .ok_or_else(missing)?;
        return serde_json::from_value(r.doc).map_err(|e| AwsError::internal(e.to_string()));
    }
    let d = must_find(inner, ctx, stack.unwrap_or_default())?;
    for r in inner
        .store
        .list(CHANGESET, &scope, Some(&d.stack_id))
        .map_err(internal)?
    {
        if r.doc.get("name").and_then(Value::as_str) == Some(cs) {
            return serde_json::from_value(r.doc).map_err(|e| AwsError::internal(e.to_string()));
        }
    }
    Err(missing())
}

fn save_cs(inner: &Inner, scope: &str, c: &ChangeSetDoc) -> Result<(), AwsError> {
    let v = serde_json::to_value(c).map_err(|e| AwsError::internal(e.to_string()))?;
    inner
        .store
        .write(|tx| tx.put(CHANGESET, scope, &c.id, Some(&c.stack_id), &v))
        .map_err(internal)?
        .map_err(internal)
}

fn create_change_set(inner: &Arc<Inner>, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let name = s(input, "StackName").unwrap_or_default();
    let cs_name = s(input, "ChangeSetName").unwrap_or_default();
    let cs_type = s(input, "ChangeSetType").unwrap_or("UPDATE");
    let scope = scope_of(ctx);
    let existing = find(inner, ctx, name)?;
    let (doc, snap, changes, status, reason) = match (cs_type, existing) {
        ("CREATE", Some(d)) if d.status != "REVIEW_IN_PROGRESS" => {
            return Err(AwsError::new("AlreadyExistsException", format!("Stack [{name}] already exists and cannot be created again with the changeSet [{cs_name}]."), 400));
        }
        ("CREATE", existing) => {
            validate_name(name)?;
            let body = body_of(inner, ctx, input)?.ok_or_else(|| {
                validation("Either Template URL or Template Body must be specified.")
            })?;
            let stack_id = existing
                .as_ref()
                .map(|d| d.stack_id.clone())
                .unwrap_or_else(|| new_stack_id(ctx.region, &ctx.caller.account, name));
            let caps = caps(input);
            let inputs = param_inputs(input, None)?;
            let prep = prepare(
                inner, ctx.caller, ctx.region, &body, name, &stack_id, &inputs, &caps,
            )?;
            let mut d = new_doc(
                ctx.caller,
                ctx.region,
                name,
                &stack_id,
                &body,
                &prep,
                &caps,
                tags_in(input),
            );
            d.status = "REVIEW_IN_PROGRESS".into();
            d.status_reason = Some("User Initiated".into());
            d.op = None;
            if existing.is_none() {
                insert_new_stack(inner, &scope, &d)?;
            }
            let changes: Vec<Value> = prep
                .template
                .resources
                .iter()
                .map(|(id, r)| json!({"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": id, "ResourceType": r.resource_type, "Scope": [], "Details": []}}))
                .collect();
            let snap = d.snap.clone();
            (d, snap, changes, "CREATE_COMPLETE", None)
        }
        (_, None) => return Err(validation(format!("Stack [{name}] does not exist"))),
        (_, Some(d)) => {
            updatable(&d)?;
            let (snap, _) = update_snapshot(inner, ctx, &d, input)?;
            let changes = engine::diff(inner, &d, &snap.template_body, &snap.parameters)
                .map_err(validation)?;
            let same = snap.template_body == d.snap.template_body
                && snap.parameters == d.snap.parameters
                && snap.tags == d.snap.tags;
            if changes.is_empty() && same {
                (d, snap, changes, "FAILED", Some("The submitted information didn't contain changes. Submit different information to create a change set."))
            } else {
                (d, snap, changes, "CREATE_COMPLETE", None)
            }
        }
    };
    let id = format!(
        "arn:aws:cloudformation:{}:{}:changeSet/{cs_name}/{}",
        ctx.region,
        ctx.caller.account,
        crate::ids::request_id()
    );
    let c = ChangeSetDoc {
        id: id.clone(),
        name: cs_name.to_string(),
        stack_id: doc.stack_id.clone(),
        stack_name: doc.stack_name.clone(),
        cs_type: cs_type.to_string(),
        status: status.to_string(),
        status_reason: reason.map(str::to_string),
        execution_status: if status == "FAILED" {
            "UNAVAILABLE".into()
        } else {
            "AVAILABLE".into()
        },
        created: engine::iso_ms(),
        description: s(input, "Description").map(str::to_string),
        snap,
        changes,
        role_arn: check_role(inner, ctx, input)?,
        caller: ctx.caller.clone(),
        disable_rollback: boolean(input, "OnStackFailure").is_some()
            || s(input, "OnStackFailure") == Some("DO_NOTHING"),
    };
    save_cs(inner, &scope, &c)?;
    Ok(json!({"Id": id, "StackId": doc.stack_id}))
}

fn describe_change_set(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let c = find_change_set(
        inner,
        ctx,
        s(input, "ChangeSetName").unwrap_or_default(),
        s(input, "StackName"),
    )?;
    let mut v = json!({
        "ChangeSetName": c.name, "ChangeSetId": c.id, "StackId": c.stack_id, "StackName": c.stack_name,
        "CreationTime": c.created, "ExecutionStatus": c.execution_status, "Status": c.status,
        "Changes": c.changes, "Capabilities": c.snap.capabilities,
        "Tags": crate::util::tags_value(&c.snap.tags), "NotificationARNs": [],
        "Parameters": c.snap.parameters.iter().map(|p| json!({"ParameterKey": p.key, "ParameterValue": if p.no_echo { "****".to_string() } else { p.value.clone() }})).collect::<Vec<_>>(),
        "IncludeNestedStacks": false,
    });
    if let Some(r) = &c.status_reason {
        v["StatusReason"] = json!(r);
    }
    if let Some(d) = &c.description {
        v["Description"] = json!(d);
    }
    Ok(v)
}

fn execute_change_set(inner: &Arc<Inner>, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let c = find_change_set(
        inner,
        ctx,
        s(input, "ChangeSetName").unwrap_or_default(),
        s(input, "StackName"),
    )?;
    if c.execution_status != "AVAILABLE" {
        return Err(AwsError::new(
            "InvalidChangeSetStatus",
            format!(
                "ChangeSet [{}] cannot be executed in its current status of [{}]",
                c.id, c.status
            ),
            400,
        ));
    }
    let scope = scope_of(ctx);
    let mut d = inner
        .load_stack(&scope, &c.stack_id)?
        .ok_or_else(|| validation(format!("Stack [{}] does not exist", c.stack_name)))?;
    let mut done = c.clone();
    done.execution_status = "EXECUTE_IN_PROGRESS".into();
    save_cs(inner, &scope, &done)?;
    if c.cs_type == "CREATE" {
        d.snap = c.snap.clone();
        d.caller = ctx.caller.clone();
        d.role_arn = c.role_arn.clone();
        d.disable_rollback = boolean(input, "DisableRollback").unwrap_or(false);
        d.change_set_id = Some(c.id.clone());
        d.op = Some(Op::Create);
        inner.set_status(&mut d, "CREATE_IN_PROGRESS", Some("User Initiated"))?;
        engine::spawn(inner, &scope, &d.stack_id);
    } else {
        updatable(&d)?;
        d.change_set_id = Some(c.id.clone());
        let policy = d.stack_policy.clone();
        start_update(inner, ctx, d, c.snap.clone(), c.role_arn.clone(), policy)?;
    }
    // Other change sets of the stack are now stale.
    for r in inner
        .store
        .list(CHANGESET, &scope, Some(&c.stack_id))
        .map_err(internal)?
    {
        if let Ok(mut o) = serde_json::from_value::<ChangeSetDoc>(r.doc) {
            o.execution_status = if o.id == c.id {
                "EXECUTE_COMPLETE".into()
            } else {
                "OBSOLETE".into()
            };
            save_cs(inner, &scope, &o)?;
        }
    }
    Ok(json!({}))
}

fn delete_change_set(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let c = find_change_set(
        inner,
        ctx,
        s(input, "ChangeSetName").unwrap_or_default(),
        s(input, "StackName"),
    )?;
    let scope = scope_of(ctx);
    inner
        .store
        .write(|tx| tx.delete(CHANGESET, &scope, &c.id))
        .map_err(internal)?
        .map_err(internal)?;
    Ok(json!({}))
}

fn list_change_sets(inner: &Inner, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
    let d = must_find(inner, ctx, s(input, "StackName").unwrap_or_default())?;
    let items: Vec<Value> = inner
        .store
        .list(CHANGESET, &scope_of(ctx), Some(&d.stack_id))
        .map_err(internal)?
        .into_iter()
        .filter_map(|r| serde_json::from_value::<ChangeSetDoc>(r.doc).ok())
        .map(|c| {
            let mut v = json!({"StackId": c.stack_id, "StackName": c.stack_name, "ChangeSetId": c.id,
                "ChangeSetName": c.name, "ExecutionStatus": c.execution_status, "Status": c.status,
                "CreationTime": c.created});
            if let Some(r) = &c.status_reason { v["StatusReason"] = json!(r); }
            v
        })
        .collect();
    Ok(json!({"Summaries": items}))
}
