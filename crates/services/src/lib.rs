//! ironsage's AWS services: one module per service, each the same shape.
//!
//! Every service implements [`Service`]: a dispatch of operation name to a
//! handler over the neutral value tree that `ironsage-wire` parses and
//! serializes, plus [`Service::targets`], which maps an operation and its input
//! to the IAM actions and resource ARNs the request must be authorized for
//! (AWS's Service Authorization Reference). Handlers never touch another
//! service's rows: each holds a [`ironsage_store::ServiceStore`] bound to its own
//! name, and calls other services through their Rust APIs.
//!
//! Modules:
//! - [`accounts`]: the accounts this cloud hosts (management account, root keys).
//! - [`credentials`]: every access key (root, IAM user, temporary) and its principal.
//! - [`iam`], [`sts`]: the IAM and STS APIs.

pub mod accounts;
pub mod caller;
pub mod cloudformation;
pub mod credentials;
pub mod ec2;
pub mod iam;
pub mod ids;
pub mod kms;
pub mod organizations;
pub mod s3;
pub mod ssm;
pub mod sts;
pub mod util;

pub use caller::{Caller, PrincipalKind, SessionInfo};
pub use ironsage_wire::AwsError;

use serde_json::Value;
use time::OffsetDateTime;

/// The partition every ARN uses.
pub const PARTITION: &str = "aws";

/// Everything a handler knows about the request besides its input.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// Who is calling (already authenticated).
    pub caller: &'a Caller,
    /// The region from the credential scope.
    pub region: &'a str,
    /// This request's id.
    pub request_id: &'a str,
    /// Request time.
    pub now: OffsetDateTime,
}

/// One IAM authorization check an operation needs.
#[derive(Debug, Clone)]
pub struct Target {
    /// The IAM action, e.g. `iam:CreateRole`.
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// Extra request-context keys for this check (service condition keys).
    pub context: Vec<(String, Vec<String>)>,
    /// The resource-based policy that governs the resource (a role's trust
    /// policy, a bucket policy, a key policy), with an id for explanations.
    pub resource_policy: Option<(String, std::sync::Arc<ironsage_policy::Policy>)>,
    /// The account that owns the resource, when known.
    pub resource_account: Option<String>,
}

impl Target {
    /// A check with no extra context keys.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Target {
            action: action.into(),
            resource: resource.into(),
            context: Vec::new(),
            resource_policy: None,
            resource_account: None,
        }
    }

    /// Adds a context key with its values.
    pub fn with_context(mut self, key: impl Into<String>, values: Vec<String>) -> Self {
        self.context.push((key.into(), values));
        self
    }
}

/// A request body read while the handler runs (S3 object uploads): already
/// `aws-chunked`-decoded and signature-checked chunk by chunk; a read returns
/// an `io::Error` if the stream turns out to be tampered with or truncated,
/// and the handler must then discard what it wrote.
pub type BodyReader = Box<dyn std::io::Read + Send>;

/// A streamed response payload (S3 GetObject).
pub struct ResponseBody {
    /// The bytes, read on a blocking thread.
    pub reader: Box<dyn std::io::Read + Send>,
    /// Exact length (sent as Content-Length).
    pub length: u64,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// What a streaming-capable operation answers: the output members (headers
/// and status per the model) plus an optional streamed payload.
#[derive(Debug)]
pub struct Reply {
    /// Output members, serialized by the wire layer.
    pub output: Value,
    /// The payload, when the output shape's payload is a streaming blob.
    pub body: Option<ResponseBody>,
}

/// The shape every service has.
pub trait Service: Send + Sync + std::fmt::Debug {
    /// The botocore service name (`iam`, `sts`, ...).
    fn name(&self) -> &'static str;

    /// The authorization checks `op` with `input` needs. An empty list means
    /// the operation needs no permission (e.g. `sts:GetCallerIdentity`).
    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError>;

    /// Runs the operation. Unknown operations answer the protocol's
    /// not-implemented error naming the operation.
    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError>;

    /// Runs an operation whose input or output payload streams (S3). The
    /// gateway calls this on a blocking thread for every operation of a
    /// service that [`Service::streams`]; `body` is the request payload
    /// (None when the operation has no streaming input). The default wraps
    /// [`Service::call`].
    fn call_stream(
        &self,
        ctx: &Ctx<'_>,
        op: &str,
        input: Value,
        body: Option<BodyReader>,
    ) -> Result<Reply, AwsError> {
        let _ = body;
        self.call(ctx, op, input)
            .map(|output| Reply { output, body: None })
    }

    /// Whether this service's operations go through [`Service::call_stream`]
    /// with unbuffered bodies.
    fn streams(&self) -> bool {
        false
    }
}

/// How one service calls another on a caller's behalf (CloudFormation
/// providers, Service Catalog launches, S3 asking KMS): the same operation,
/// the same validation, and the same authorization a request through the
/// gateway gets — evaluated for `caller`, with `aws:CalledVia` /
/// `aws:ViaAWSService` naming the calling service (`via`, e.g.
/// `cloudformation.amazonaws.com`). The gateway's `App` implements it.
pub trait Internal: Send + Sync {
    /// Runs `service`'s `op` with `input` as `caller` in `region`.
    fn invoke(
        &self,
        caller: &Caller,
        region: &str,
        via: Option<&str>,
        service: &str,
        op: &str,
        input: Value,
    ) -> Result<Value, AwsError>;
}

/// A late-bound handle to the [`Internal`] invoker: services are built
/// before the gateway that implements it exists.
#[derive(Default, Clone)]
pub struct InternalHandle(std::sync::Arc<std::sync::OnceLock<std::sync::Weak<dyn Internal>>>);

impl std::fmt::Debug for InternalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalHandle")
    }
}

impl InternalHandle {
    /// Binds the invoker (once).
    pub fn bind(&self, invoker: std::sync::Weak<dyn Internal>) {
        let _ = self.0.set(invoker);
    }

    /// The invoker, if bound and alive.
    pub fn get(&self) -> Result<std::sync::Arc<dyn Internal>, AwsError> {
        self.0
            .get()
            .and_then(std::sync::Weak::upgrade)
            .ok_or_else(|| {
                AwsError::new(
                    "InternalFailure",
                    "internal service calls are not available",
                    500,
                )
            })
    }
}

/// Store failures become `InternalFailure` (500), logged with their cause.
pub fn internal(err: ironsage_store::StoreError) -> AwsError {
    tracing::error!(error = %err, "store failure");
    AwsError {
        code: "InternalFailure".to_string(),
        message:
            "The request processing has failed because of an unknown error, exception or failure."
                .to_string(),
        status: 500,
        sender_fault: false,
        extra: Vec::new(),
    }
}
