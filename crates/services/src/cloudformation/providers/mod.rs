//! Resource providers: the CloudFormation handler model (create / update /
//! delete) for each supported type. Providers call their service only
//! through [`crate::Internal::invoke`], as the stack's acting identity.

pub(crate) mod cfn;
pub(crate) mod ec2;
pub(crate) mod iam;
pub(crate) mod kms;
pub(crate) mod s3;
pub(crate) mod ssm;

use std::sync::Arc;

use serde_json::{Map, Value};

use super::Inner;
use crate::{AwsError, Caller, Internal};

/// What a create (or update) produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct Created {
    pub physical_id: String,
    pub attrs: Map<String, Value>,
}

/// Everything a handler knows about the resource it works on.
pub(crate) struct PCtx<'a> {
    pub internal: Arc<dyn Internal>,
    pub caller: &'a Caller,
    pub region: &'a str,
    pub account: &'a str,
    pub stack_name: &'a str,
    pub stack_id: &'a str,
    pub logical_id: &'a str,
    /// Stack tags to propagate to resources that take tags.
    pub tags: &'a [(String, String)],
    pub engine: &'a Arc<Inner>,
}

impl PCtx<'_> {
    /// Calls another service as the acting identity.
    pub fn call(&self, service: &str, op: &str, input: Value) -> Result<Value, String> {
        self.internal
            .invoke(
                self.caller,
                self.region,
                Some("cloudformation.amazonaws.com"),
                service,
                op,
                input,
            )
            .map_err(|e| handler_message(service, &e))
    }

    /// A physical name as CloudFormation generates them:
    /// `<stack>-<LogicalId>-<RANDOM>`, truncated to `limit`.
    pub fn gen_name(&self, limit: usize, lower: bool) -> String {
        gen_name(self.stack_name, self.logical_id, limit, lower)
    }

    /// Keys tagged under `old` properties that `new` (its merged tags) drops.
    pub fn removed_tag_keys(&self, old: &Value, new: &[(String, String)]) -> Vec<String> {
        self.merged_tags(old)
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !new.iter().any(|(n, _)| n == k))
            .collect()
    }

    /// Stack tags as `[{Key, Value}]` merged with the resource's own `Tags`.
    pub fn merged_tags(&self, props: &Value) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.tags.to_vec();
        for t in props
            .get("Tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = t.get("Key").and_then(Value::as_str).unwrap_or_default();
            let v = t.get("Value").map(scalar).unwrap_or_default();
            out.retain(|(x, _)| x != k);
            out.push((k.to_string(), v));
        }
        out
    }
}

/// The handler-model interface each resource type implements.
pub(crate) trait Provider: Send + Sync {
    /// Properties the type accepts (anything else fails the resource, as AWS's
    /// schema validation does: "Encountered unsupported property X").
    fn properties(&self) -> &'static [&'static str];
    /// Properties whose change requires replacement.
    fn create_only(&self) -> &'static [&'static str];
    fn create(&self, cx: &PCtx<'_>, props: &Value) -> Result<Created, String>;
    /// In-place update (only called when no create-only property changed).
    fn update(
        &self,
        cx: &PCtx<'_>,
        physical_id: &str,
        old: &Value,
        new: &Value,
        attrs: &Map<String, Value>,
    ) -> Result<Created, String>;
    fn delete(
        &self,
        cx: &PCtx<'_>,
        physical_id: &str,
        props: &Value,
        attrs: &Map<String, Value>,
    ) -> Result<(), String>;
    /// The physical id a create with `props` will have, when the template
    /// names it (lets a restart clean up an interrupted create).
    fn declared_id(&self, _props: &Value) -> Option<String> {
        None
    }
}

/// Every supported resource type and its provider.
pub(crate) fn provider(rtype: &str) -> Option<&'static dyn Provider> {
    Some(match rtype {
        "AWS::IAM::Role" => &iam::Role,
        "AWS::IAM::Policy" => &iam::InlinePolicy,
        "AWS::IAM::ManagedPolicy" => &iam::ManagedPolicy,
        "AWS::IAM::InstanceProfile" => &iam::InstanceProfile,
        "AWS::IAM::User" => &iam::User,
        "AWS::IAM::Group" => &iam::Group,
        "AWS::IAM::AccessKey" => &iam::AccessKey,
        "AWS::EC2::VPC" => &ec2::Vpc,
        "AWS::EC2::Subnet" => &ec2::Subnet,
        "AWS::EC2::RouteTable" => &ec2::RouteTable,
        "AWS::EC2::Route" => &ec2::Route,
        "AWS::EC2::SubnetRouteTableAssociation" => &ec2::SubnetRouteTableAssociation,
        "AWS::EC2::InternetGateway" => &ec2::InternetGateway,
        "AWS::EC2::VPCGatewayAttachment" => &ec2::VpcGatewayAttachment,
        "AWS::EC2::EIP" => &ec2::Eip,
        "AWS::EC2::NatGateway" => &ec2::NatGateway,
        "AWS::EC2::SecurityGroup" => &ec2::SecurityGroup,
        "AWS::EC2::SecurityGroupIngress" => &ec2::SecurityGroupIngress,
        "AWS::EC2::SecurityGroupEgress" => &ec2::SecurityGroupEgress,
        "AWS::EC2::VPCEndpoint" => &ec2::VpcEndpoint,
        "AWS::EC2::DHCPOptions" => &ec2::DhcpOptions,
        "AWS::EC2::VPCDHCPOptionsAssociation" => &ec2::VpcDhcpOptionsAssociation,
        "AWS::EC2::FlowLog" => &ec2::FlowLog,
        "AWS::KMS::Key" => &kms::Key,
        "AWS::KMS::Alias" => &kms::Alias,
        "AWS::S3::Bucket" => &s3::Bucket,
        "AWS::S3::BucketPolicy" => &s3::BucketPolicy,
        "AWS::SSM::Parameter" => &ssm::Parameter,
        "AWS::CloudFormation::Stack" => &cfn::Stack,
        "AWS::CloudFormation::WaitConditionHandle" => &cfn::WaitConditionHandle,
        _ => return None,
    })
}

/// The types with a provider (for `ironsage cfn types`).
pub fn supported_types() -> Vec<&'static str> {
    vec![
        "AWS::CloudFormation::Stack",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::EC2::DHCPOptions",
        "AWS::EC2::EIP",
        "AWS::EC2::FlowLog",
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::Route",
        "AWS::EC2::RouteTable",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::Subnet",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::VPC",
        "AWS::EC2::VPCDHCPOptionsAssociation",
        "AWS::EC2::VPCEndpoint",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::IAM::AccessKey",
        "AWS::IAM::Group",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::KMS::Alias",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::SSM::Parameter",
    ]
}

/// Checks the properties against the type's schema.
pub(crate) fn check_properties(p: &dyn Provider, props: &Value) -> Result<(), String> {
    if let Some(m) = props.as_object() {
        for k in m.keys() {
            if !p.properties().contains(&k.as_str()) {
                return Err(format!(
                    "Properties validation failed for resource with message: [#: extraneous key [{k}] is not permitted]"
                ));
            }
        }
    } else if !props.is_null() {
        return Err(
            "Properties validation failed for resource with message: [#: expected type: JSONObject]"
                .to_string(),
        );
    }
    Ok(())
}

/// A service error as CloudFormation's resource handlers report it.
pub(crate) fn handler_message(service: &str, e: &AwsError) -> String {
    let svc = match service {
        "iam" => "Iam",
        "kms" => "Kms",
        "s3" => "S3",
        "ssm" => "Ssm",
        "ec2" => "Ec2",
        other => other,
    };
    let code = match e.status {
        400 | 409 | 412 | 422 => "InvalidRequest",
        403 => "AccessDenied",
        404 => "NotFound",
        _ => "GeneralServiceException",
    };
    let code = match e.code.as_str() {
        "EntityAlreadyExists"
        | "AlreadyExistsException"
        | "BucketAlreadyExists"
        | "BucketAlreadyOwnedByYou"
        | "ParameterAlreadyExists" => "AlreadyExists",
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => "AccessDenied",
        "NoSuchEntity" | "NotFoundException" | "NoSuchBucket" | "ParameterNotFound" => "NotFound",
        c if c.ends_with(".NotFound") => "NotFound",
        _ => code,
    };
    format!(
        "Resource handler returned message: \"{} (Service: {svc}, Status Code: {}, Request ID: {}, Error Code: {})\" (HandlerErrorCode: {code})",
        e.message,
        e.status,
        crate::ids::request_id(),
        e.code
    )
}

/// True when a handler message reports that the resource is already gone.
pub(crate) fn is_not_found(msg: &str) -> bool {
    msg.contains("HandlerErrorCode: NotFound")
}

/// A delete-style call's outcome where "already gone" counts as done.
pub(crate) fn ignore_missing(r: Result<Value, String>) -> Result<(), String> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

const NAME_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `<stack>-<LogicalId>-<RANDOM>` truncated to `limit` as CloudFormation does.
pub(crate) fn gen_name(stack: &str, logical: &str, limit: usize, lower: bool) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let suffix: String = (0..13)
        .map(|_| char::from(NAME_CHARS[rng.gen_range(0..NAME_CHARS.len())]))
        .collect();
    let room = limit.saturating_sub(suffix.len() + 2);
    let (mut s, mut l) = (stack.to_string(), logical.to_string());
    while s.len() + l.len() > room {
        if s.len() >= l.len() && !s.is_empty() {
            s.pop();
        } else if !l.is_empty() {
            l.pop();
        } else {
            break;
        }
    }
    let name = format!("{s}-{l}-{suffix}");
    if lower {
        name.to_ascii_lowercase()
    } else {
        name
    }
}

/// A property as a string (numbers and booleans rendered).
pub(crate) fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(_) | Value::Bool(_) => v.to_string(),
        other => other.to_string(),
    }
}

/// A string property.
pub(crate) fn prop<'a>(props: &'a Value, k: &str) -> Option<&'a str> {
    props.get(k).and_then(Value::as_str)
}

/// A required string property.
pub(crate) fn req_prop(props: &Value, k: &str) -> Result<String, String> {
    match props.get(k) {
        Some(Value::Null) | None => Err(format!(
            "Properties validation failed for resource with message: [#: required key [{k}] not found]"
        )),
        Some(v) => Ok(scalar(v)),
    }
}

/// A policy document property as JSON text (objects serialized, strings kept).
pub(crate) fn doc_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `[{Key, Value}]`.
pub(crate) fn kv_tags(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect(),
    )
}

/// A list property of strings.
pub(crate) fn str_list(props: &Value, k: &str) -> Vec<String> {
    props
        .get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(scalar).collect())
        .unwrap_or_default()
}
