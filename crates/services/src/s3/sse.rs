//! Server-side encryption: which encryption a write gets (request headers,
//! else the bucket default), the per-object data key (SSE-S3: random, wrapped
//! by the host master key; SSE-KMS: `GenerateDataKey` under the chosen KMS
//! key with S3's encryption context), recovering it for reads, and the KMS
//! authorization targets S3 adds for requests that use a key.
//!
//! The bytes themselves are encrypted and decrypted in [`super::body`].

use std::sync::Arc;

use base64::Engine;
use ironsage_crypto::Zeroizing;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{bucket_arn, err, invalid_argument, object_arn, s, Bucket, S3};
use crate::kms::{KeyRef, Kms};
use crate::{AwsError, Target};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// SSE-S3.
pub(crate) const AES256: &str = "AES256";
/// SSE-KMS.
pub(crate) const KMS: &str = "aws:kms";

/// A plaintext data key (zeroed on drop).
pub(crate) type DataKey = Zeroizing<[u8; 32]>;

/// How an object (or an upload's parts) is encrypted, stored in its row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Sse {
    /// `AES256` or `aws:kms`.
    pub algorithm: String,
    /// SSE-S3: id of the data key (bound into the master-key wrap).
    #[serde(default)]
    pub dk_id: String,
    /// base64: the master-wrapped data key (SSE-S3) or the KMS ciphertext
    /// blob (SSE-KMS).
    pub wrapped: String,
    /// SSE-KMS: the key's ARN.
    #[serde(default)]
    pub key_arn: Option<String>,
    /// SSE-KMS: the encryption context the data key was generated under.
    #[serde(default)]
    pub context: Vec<(String, String)>,
    /// SSE-KMS: the context was supplied by the request (echoed back).
    #[serde(default)]
    pub user_context: bool,
    #[serde(default)]
    pub bucket_key: bool,
}

/// What a write asked for, before any key is generated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    S3Managed,
    Kms {
        /// As requested (id, ARN, alias) or `None` for `alias/aws/s3`.
        key: Option<String>,
        context: Vec<(String, String)>,
        user_context: bool,
        bucket_key: bool,
    },
}

fn purpose(dk_id: &str) -> String {
    format!("s3-object:{dk_id}")
}

/// The region a KMS key ARN names.
fn arn_region(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or_default()
}

fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// S3 reports KMS failures with the KMS error code prefixed by `KMS.`
/// (`KMS.DisabledException`, `KMS.NotFoundException`, ...); access denials
/// stay `AccessDenied`.
pub(crate) fn kms_error(e: AwsError) -> AwsError {
    if e.code == "AccessDenied" || e.code.starts_with("KMS.") || e.code == "InternalFailure" {
        return e;
    }
    let status = if e.status >= 500 { 500 } else { 400 };
    err(&format!("KMS.{}", e.code), &e.message, status)
}

fn not_implemented_sse_c() -> AwsError {
    err(
        "NotImplemented",
        "Server-side encryption with customer-provided keys (SSE-C) is not implemented by ironsage; the request was not performed",
        501,
    )
}

/// Refuses SSE-C on a copy source (reads use the stored encryption).
pub(crate) fn check_copy_source(input: &Value) -> Result<(), AwsError> {
    if s(input, "CopySourceSSECustomerAlgorithm").is_some()
        || s(input, "CopySourceSSECustomerKey").is_some()
    {
        return Err(not_implemented_sse_c());
    }
    Ok(())
}

/// Refuses SSE-C on a read or part upload.
pub(crate) fn check_no_sse_c(input: &Value) -> Result<(), AwsError> {
    if s(input, "SSECustomerAlgorithm").is_some() || s(input, "SSECustomerKey").is_some() {
        return Err(not_implemented_sse_c());
    }
    Ok(())
}

/// What GetBucketEncryption answers for a bucket with no configuration of
/// its own: SSE-S3, the base level of every bucket.
pub(crate) fn default_encryption_configuration() -> Value {
    serde_json::json!({"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": AES256},
        "BucketKeyEnabled": false
    }]})
}

/// The bucket's default encryption rule, if configured.
fn bucket_default(bucket: &Bucket) -> Option<(String, Option<String>, bool)> {
    let rule = bucket
        .config
        .get("ServerSideEncryptionConfiguration")?
        .get("Rules")?
        .as_array()?
        .first()?
        .clone();
    let d = rule.get("ApplyServerSideEncryptionByDefault")?;
    let algo = s(d, "SSEAlgorithm")?.to_string();
    let key = s(d, "KMSMasterKeyID").map(str::to_string);
    let bk = rule
        .get("BucketKeyEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some((algo, key, bk))
}

fn parse_context(raw: &str) -> Result<Vec<(String, String)>, AwsError> {
    let bad = || {
        invalid_argument(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
            "x-amz-server-side-encryption-context",
            raw,
        )
    };
    let bytes = B64.decode(raw.trim()).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let obj = v.as_object().ok_or_else(bad)?;
    let mut out = Vec::new();
    for (k, v) in obj {
        out.push((k.clone(), v.as_str().ok_or_else(bad)?.to_string()));
    }
    Ok(out)
}

/// Decides the encryption of a write to `bucket/key` from the request's
/// headers, else the bucket default.
pub(crate) fn plan(bucket: &Bucket, key: &str, input: &Value) -> Result<Plan, AwsError> {
    check_no_sse_c(input)?;
    let requested = s(input, "ServerSideEncryption");
    let req_key = s(input, "SSEKMSKeyId");
    let req_bk = input.get("BucketKeyEnabled").and_then(Value::as_bool);
    let (algo, key_id, bucket_key) = match requested {
        Some(a) => (a.to_string(), req_key.map(str::to_string), req_bk),
        None => {
            if req_key.is_some() {
                return Err(invalid_argument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                    "x-amz-server-side-encryption",
                    "null",
                ));
            }
            match bucket_default(bucket) {
                Some((a, k, bk)) => (a, k, Some(req_bk.unwrap_or(bk))),
                // The base level every bucket has (AWS since January
                // 2023): SSE-S3.
                None => return Ok(Plan::S3Managed),
            }
        }
    };
    match algo.as_str() {
        AES256 => {
            if req_key.is_some() {
                return Err(invalid_argument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                    "x-amz-server-side-encryption",
                    AES256,
                ));
            }
            Ok(Plan::S3Managed)
        }
        KMS => {
            // With S3 Bucket Keys the data key is the bucket's, so AWS uses
            // the bucket ARN as the context.
            let bucket_key = bucket_key.unwrap_or_else(|| {
                bucket_default(bucket).is_some_and(|(a, _, bk)| a == KMS && bk)
            });
            let (context, user_context) = match s(input, "SSEKMSEncryptionContext") {
                Some(raw) => (parse_context(raw)?, true),
                None if bucket_key => (
                    vec![("aws:s3:arn".to_string(), bucket_arn(&bucket.name))],
                    false,
                ),
                None => (
                    vec![("aws:s3:arn".to_string(), object_arn(&bucket.name, key))],
                    false,
                ),
            };
            Ok(Plan::Kms {
                key: key_id,
                context,
                user_context,
                bucket_key,
            })
        }
        "aws:kms:dsse" => Err(err(
            "NotImplemented",
            "Dual-layer server-side encryption (aws:kms:dsse) is not implemented by ironsage; the request was not performed",
            501,
        )),
        other => Err(invalid_argument(
            "The encryption method specified is not supported",
            "x-amz-server-side-encryption",
            other,
        )),
    }
}

impl S3 {
    pub(crate) fn kms(&self) -> &Arc<Kms> {
        &self.kms
    }

    /// The KMS key a plan names, resolved in the caller's account (as S3
    /// resolves key ids and aliases), or the AWS-managed `alias/aws/s3`.
    pub(crate) fn plan_key(
        &self,
        caller_account: &str,
        region: &str,
        key: Option<&str>,
    ) -> Result<KeyRef, AwsError> {
        match key {
            Some(k) => self.kms.resolve_key(caller_account, region, k),
            None => self.kms.aws_managed_key(caller_account, region, "s3"),
        }
        .map_err(kms_error)
    }

    /// Generates the data key a write will encrypt with.
    pub(crate) fn new_data_key(
        &self,
        plan: &Plan,
        caller_account: &str,
        region: &str,
    ) -> Result<Option<(Sse, DataKey)>, AwsError> {
        match plan {
            Plan::S3Managed => {
                let dk = Zeroizing::new(ironsage_crypto::random_bytes::<32>());
                let dk_id = super::random_id();
                let wrapped = self.master.wrap(&purpose(&dk_id), &dk[..]);
                Ok(Some((
                    Sse {
                        algorithm: AES256.into(),
                        dk_id,
                        wrapped: B64.encode(wrapped),
                        key_arn: None,
                        context: Vec::new(),
                        user_context: false,
                        bucket_key: false,
                    },
                    dk,
                )))
            }
            Plan::Kms {
                key,
                context,
                user_context,
                bucket_key,
            } => {
                let k = self.plan_key(caller_account, region, key.as_deref())?;
                let (dk, blob) = self.kms.generate_data_key(&k, context).map_err(kms_error)?;
                Ok(Some((
                    Sse {
                        algorithm: KMS.into(),
                        dk_id: String::new(),
                        wrapped: B64.encode(blob),
                        key_arn: Some(k.arn),
                        context: context.clone(),
                        user_context: *user_context,
                        bucket_key: *bucket_key,
                    },
                    Zeroizing::new(dk),
                )))
            }
        }
    }

    /// Recovers the data key of a stored object or upload.
    pub(crate) fn data_key(&self, sse: &Sse) -> Result<DataKey, AwsError> {
        let wrapped = B64.decode(&sse.wrapped).map_err(|_| corrupt_key())?;
        let raw = match sse.algorithm.as_str() {
            AES256 => Zeroizing::new(
                self.master
                    .unwrap(&purpose(&sse.dk_id), &wrapped)
                    .map_err(|_| corrupt_key())?,
            ),
            KMS => {
                let arn = sse.key_arn.as_deref().unwrap_or_default();
                let (_, pt) = self
                    .kms
                    .decrypt(arn_account(arn), arn_region(arn), &wrapped, &sse.context)
                    .map_err(kms_error)?;
                Zeroizing::new(pt)
            }
            _ => return Err(corrupt_key()),
        };
        let mut dk = Zeroizing::new([0u8; 32]);
        if raw.len() != 32 {
            return Err(corrupt_key());
        }
        dk.copy_from_slice(&raw);
        Ok(dk)
    }

    /// The `kms:Decrypt` check for reading an object encrypted with `sse`.
    pub(crate) fn decrypt_target(&self, sse: &Sse, caller_account: &str) -> Option<Target> {
        let arn = sse.key_arn.as_deref()?;
        let key = self
            .kms
            .resolve_key(arn_account(arn), arn_region(arn), arn)
            .ok()?;
        Some(self.kms.key_target(
            &key,
            "kms:Decrypt",
            Some(&format!("s3.{}.amazonaws.com", arn_region(arn))),
            caller_account,
            &sse.context,
        ))
    }
}

fn corrupt_key() -> AwsError {
    tracing::error!("s3: a stored object data key could not be unwrapped");
    err(
        "InternalError",
        "We encountered an internal error. Please try again.",
        500,
    )
}

/// Adds the encryption response members for `sse` to `out`.
pub(crate) fn response(sse: Option<&Sse>, out: &mut Value) {
    let Some(sse) = sse else {
        return;
    };
    out["ServerSideEncryption"] = json!(sse.algorithm);
    if let Some(arn) = &sse.key_arn {
        out["SSEKMSKeyId"] = json!(arn);
    }
    if sse.bucket_key {
        out["BucketKeyEnabled"] = json!(true);
    }
    if sse.user_context {
        let map: serde_json::Map<String, Value> = sse
            .context
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        out["SSEKMSEncryptionContext"] = json!(B64.encode(Value::Object(map).to_string()));
    }
}
