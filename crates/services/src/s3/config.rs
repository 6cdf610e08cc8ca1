//! Bucket configuration: versioning, tagging, policy, public access block,
//! default encryption, ownership controls, lifecycle, CORS — validated where
//! AWS validates, stored and returned faithfully.

use std::sync::Arc;

use ironsage_policy::{Policy, PolicyKind};
use serde_json::{json, Value};

use super::public::policy_is_public;
use super::{err, internal_store, no_such_bucket, s, Bucket, BUCKET, GLOBAL, S3};
use crate::{AwsError, Ctx};

/// `TagSet` of a `Tagging` input member.
pub(crate) fn tag_set(tagging: Option<&Value>) -> Result<Vec<(String, String)>, AwsError> {
    let Some(set) = tagging.and_then(|t| t.get("TagSet")) else {
        return Err(super::malformed_xml());
    };
    let tags: Vec<(String, String)> = set
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        s(t, "Key").unwrap_or_default().to_string(),
                        s(t, "Value").unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in &tags {
        if !seen.insert(k.as_str()) {
            return Err(err(
                "InvalidTag",
                "Cannot provide multiple Tags with the same key",
                400,
            )
            .with_extra("TagKey", k));
        }
        if k.is_empty() || k.chars().count() > 128 {
            return Err(
                err("InvalidTag", "The TagKey you have provided is invalid", 400)
                    .with_extra("TagKey", k),
            );
        }
        if v.chars().count() > 256 {
            return Err(err(
                "InvalidTag",
                "The TagValue you have provided is invalid",
                400,
            )
            .with_extra("TagKey", k)
            .with_extra("TagValue", v));
        }
        if k.starts_with("aws:") {
            return Err(err(
                "InvalidTag",
                "Your TagKey cannot be prefixed with aws:",
                400,
            )
            .with_extra("TagKey", k));
        }
    }
    Ok(tags)
}

/// Object tag limits (10 per object).
pub(crate) fn validate_object_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    if tags.len() > 10 {
        return Err(err(
            "BadRequest",
            "Object tags cannot be greater than 10",
            400,
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, _) in tags {
        if !seen.insert(k.as_str()) {
            return Err(err(
                "InvalidTag",
                "Cannot provide multiple Tags with the same key",
                400,
            )
            .with_extra("TagKey", k));
        }
    }
    Ok(())
}

/// (Put member, Get output member, missing error code, missing message).
struct Stored {
    put: &'static str,
    get: &'static str,
    delete: &'static str,
    member: &'static str,
    code: &'static str,
    message: &'static str,
}

const STORED: &[Stored] = &[
    Stored {
        put: "PutPublicAccessBlock",
        get: "GetPublicAccessBlock",
        delete: "DeletePublicAccessBlock",
        member: "PublicAccessBlockConfiguration",
        code: "NoSuchPublicAccessBlockConfiguration",
        message: "The public access block configuration was not found",
    },
    Stored {
        put: "PutBucketEncryption",
        get: "GetBucketEncryption",
        delete: "DeleteBucketEncryption",
        member: "ServerSideEncryptionConfiguration",
        code: "ServerSideEncryptionConfigurationNotFoundError",
        message: "The server side encryption configuration was not found",
    },
    Stored {
        put: "PutBucketOwnershipControls",
        get: "GetBucketOwnershipControls",
        delete: "DeleteBucketOwnershipControls",
        member: "OwnershipControls",
        code: "OwnershipControlsNotFoundError",
        message: "The bucket ownership controls were not found",
    },
    Stored {
        put: "PutBucketLifecycleConfiguration",
        get: "GetBucketLifecycleConfiguration",
        delete: "DeleteBucketLifecycle",
        member: "LifecycleConfiguration",
        code: "NoSuchLifecycleConfiguration",
        message: "The lifecycle configuration does not exist",
    },
    Stored {
        put: "PutBucketCors",
        get: "GetBucketCors",
        delete: "DeleteBucketCors",
        member: "CORSConfiguration",
        code: "NoSuchCORSConfiguration",
        message: "The CORS configuration does not exist",
    },
];

fn validate_config(member: &str, v: &Value) -> Result<(), AwsError> {
    match member {
        "ServerSideEncryptionConfiguration" => {
            let rules = v.get("Rules").and_then(Value::as_array);
            let Some(rules) = rules.filter(|r| !r.is_empty()) else {
                return Err(super::malformed_xml());
            };
            for r in rules {
                let d = r.get("ApplyServerSideEncryptionByDefault");
                let algo = d.and_then(|d| s(d, "SSEAlgorithm")).unwrap_or_default();
                if !matches!(algo, "AES256" | "aws:kms" | "aws:kms:dsse") {
                    return Err(super::malformed_xml());
                }
                if algo == "AES256" && d.and_then(|d| s(d, "KMSMasterKeyID")).is_some() {
                    return Err(err(
                        "InvalidArgument",
                        "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                        400,
                    ));
                }
            }
        }
        "OwnershipControls" => {
            let ok = v.get("Rules").and_then(Value::as_array).is_some_and(|r| {
                r.len() == 1
                    && matches!(
                        r[0].get("ObjectOwnership").and_then(Value::as_str),
                        Some("BucketOwnerPreferred" | "ObjectWriter" | "BucketOwnerEnforced")
                    )
            });
            if !ok {
                return Err(super::malformed_xml());
            }
        }
        "CORSConfiguration" => {
            let ok = v
                .get("CORSRules")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty() && r.len() <= 100);
            if !ok {
                return Err(super::malformed_xml());
            }
        }
        "LifecycleConfiguration"
            if !v
                .get("Rules")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty() && r.len() <= 1000) =>
        {
            return Err(super::malformed_xml());
        }
        _ => {}
    }
    Ok(())
}

impl S3 {
    /// Updates a bucket row inside one transaction.
    fn update_bucket<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Bucket) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        self.write_bucket(|tx| {
            let row = tx
                .get(BUCKET, GLOBAL, name)
                .map_err(internal_store)?
                .ok_or_else(|| no_such_bucket(name))?;
            let mut b: Bucket = serde_json::from_value(row.doc).map_err(super::corrupt)?;
            let out = f(&mut b)?;
            tx.put_serialized(BUCKET, GLOBAL, name, Some(&b.owner), &b)
                .map_err(internal_store)?;
            Ok(out)
        })
    }

    /// The bucket policy, parsed (cached by text).
    pub(crate) fn bucket_policy(&self, b: &Bucket) -> Option<Arc<Policy>> {
        let text = b.policy.as_ref()?;
        if let Ok(cache) = self.policies.lock() {
            if let Some((t, p)) = cache.get(&b.name) {
                if t == text {
                    return Some(Arc::clone(p));
                }
            }
        }
        let p = Arc::new(Policy::parse(text, PolicyKind::Resource).ok()?);
        if let Ok(mut cache) = self.policies.lock() {
            cache.insert(b.name.clone(), (text.clone(), Arc::clone(&p)));
        }
        Some(p)
    }

    /// PutBucketPolicy: a valid resource policy, refused when it is public
    /// and the bucket blocks public policies (S3's wording).
    pub(crate) fn put_bucket_policy(
        &self,
        ctx: &Ctx<'_>,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = s(input, "Bucket").unwrap_or_default();
        let text = s(input, "Policy").unwrap_or_default().to_string();
        let parsed = if text.trim_start().starts_with('{') {
            Policy::parse(&text, PolicyKind::Resource).map_err(|e| e.message)
        } else {
            Err("Policies must be valid JSON and the first byte must be '{'".to_string())
        };
        let p = Arc::new(parsed.map_err(|msg| err("MalformedPolicy", &msg, 400))?);
        let public = serde_json::from_str::<Value>(&text).is_ok_and(|doc| policy_is_public(&doc));
        self.update_bucket(name, |b| {
            if public && b.blocks("BlockPublicPolicy") {
                return Err(err(
                    "AccessDenied",
                    &format!(
                        "User: {} is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::{name}\" because public policies are blocked by the BlockPublicPolicy block public access setting.",
                        ctx.caller.arn()
                    ),
                    403,
                ));
            }
            b.policy = Some(text.clone());
            Ok(())
        })?;
        if let Ok(mut c) = self.policies.lock() {
            c.insert(name.to_string(), (text.clone(), p));
        }
        Ok(json!({}))
    }

    /// The bucket policy that governs a request from `caller_account`, with
    /// its id for explanations. With RestrictPublicBuckets on and a public
    /// policy, a caller outside the bucket owner's account gets none of the
    /// policy's grants (only its denies apply), as S3 documents.
    pub(crate) fn governing_policy(
        &self,
        b: &Bucket,
        caller_account: &str,
    ) -> Option<(String, Arc<Policy>)> {
        let full = self.bucket_policy(b)?;
        let id = format!("arn:aws:s3:::{} (bucket policy)", b.name);
        if caller_account == b.owner || !b.blocks("RestrictPublicBuckets") {
            return Some((id, full));
        }
        let mut doc: Value = serde_json::from_str(b.policy.as_deref()?).ok()?;
        if !policy_is_public(&doc) {
            return Some((id, full));
        }
        let denies: Vec<Value> = match doc.get("Statement") {
            Some(Value::Array(a)) => a.clone(),
            Some(st @ Value::Object(_)) => vec![st.clone()],
            _ => Vec::new(),
        }
        .into_iter()
        .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Deny"))
        .collect();
        if denies.is_empty() {
            return None;
        }
        doc["Statement"] = Value::Array(denies);
        let only_denies = Policy::parse(&doc.to_string(), PolicyKind::Resource).ok()?;
        Some((
            format!(
                "arn:aws:s3:::{} (bucket policy; grants ignored for other accounts: RestrictPublicBuckets)",
                b.name
            ),
            Arc::new(only_denies),
        ))
    }

    /// Bucket configuration operations; `None` when `op` is not one.
    pub(crate) fn config_op(&self, op: &str, input: &Value) -> Option<Result<Value, AwsError>> {
        let name = s(input, "Bucket").unwrap_or_default();
        let missing = |code: &str, msg: &str| err(code, msg, 404).with_extra("BucketName", name);
        let r = match op {
            "PutBucketVersioning" => {
                let status = input
                    .get("VersioningConfiguration")
                    .and_then(|c| s(c, "Status"))
                    .map(str::to_string);
                match status.as_deref() {
                    Some("Enabled" | "Suspended") => self
                        .update_bucket(name, |b| {
                            b.versioning = status.clone();
                            Ok(())
                        })
                        .map(|()| json!({})),
                    _ => Err(super::malformed_xml()),
                }
            }
            "GetBucketVersioning" => self.bucket(name).map(|b| match &b.versioning {
                Some(st) => json!({"Status": st}),
                None => json!({}),
            }),
            "PutBucketTagging" => tag_set(input.get("Tagging")).and_then(|tags| {
                if tags.len() > 50 {
                    return Err(err(
                        "BadRequest",
                        "Bucket tag count cannot be greater than 50",
                        400,
                    ));
                }
                self.update_bucket(name, |b| {
                    b.tags = Some(tags);
                    Ok(json!({}))
                })
            }),
            "GetBucketTagging" => self.bucket(name).and_then(|b| match &b.tags {
                Some(t) if !t.is_empty() => Ok(json!({"TagSet": crate::util::tags_value(t)})),
                _ => Err(missing("NoSuchTagSet", "The TagSet does not exist")),
            }),
            "DeleteBucketTagging" => self.update_bucket(name, |b| {
                b.tags = None;
                Ok(json!({}))
            }),
            "GetBucketPolicyStatus" => self.bucket(name).and_then(|b| match &b.policy {
                Some(text) => {
                    let doc: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                    Ok(json!({"PolicyStatus": {"IsPublic": policy_is_public(&doc)}}))
                }
                None => Err(missing(
                    "NoSuchBucketPolicy",
                    "The bucket policy does not exist",
                )),
            }),
            // Features ironsage does not offer are never configured: their
            // reads answer what S3 answers for a bucket without them (tools
            // such as Terraform read them all), and writes that would
            // configure them are refused rather than stored unenforced.
            "GetBucketWebsite" => self.bucket(name).and_then(|_| {
                Err(missing(
                    "NoSuchWebsiteConfiguration",
                    "The specified bucket does not have a website configuration",
                ))
            }),
            "GetObjectLockConfiguration" => self.bucket(name).and_then(|_| {
                Err(missing(
                    "ObjectLockConfigurationNotFoundError",
                    "Object Lock configuration does not exist for this bucket",
                ))
            }),
            "GetBucketReplication" => self.bucket(name).and_then(|_| {
                Err(missing(
                    "ReplicationConfigurationNotFoundError",
                    "The replication configuration was not found",
                ))
            }),
            "GetBucketNotificationConfiguration"
            | "GetBucketNotification"
            | "GetBucketLogging"
            | "GetBucketAccelerateConfiguration" => self.bucket(name).map(|_| json!({})),
            "GetBucketRequestPayment" => self.bucket(name).map(|_| json!({"Payer": "BucketOwner"})),
            "ListBucketAnalyticsConfigurations"
            | "ListBucketIntelligentTieringConfigurations"
            | "ListBucketInventoryConfigurations"
            | "ListBucketMetricsConfigurations" => {
                self.bucket(name).map(|_| json!({"IsTruncated": false}))
            }
            "PutBucketNotificationConfiguration" | "PutBucketNotification" => {
                let cfg = input
                    .get("NotificationConfiguration")
                    .and_then(Value::as_object);
                let empty = cfg.is_none_or(|m| {
                    m.values()
                        .all(|v| v.as_array().is_some_and(Vec::is_empty) || v.is_null())
                });
                self.bucket(name).and_then(|_| {
                    if empty {
                        Ok(json!({}))
                    } else {
                        Err(err(
                            "NotImplemented",
                            &format!("{op}: event notifications are not delivered by ironsage; the request was not performed"),
                            501,
                        ))
                    }
                })
            }
            "GetBucketPolicy" => self.bucket(name).and_then(|b| match &b.policy {
                Some(p) => Ok(json!({"Policy": p})),
                None => Err(missing(
                    "NoSuchBucketPolicy",
                    "The bucket policy does not exist",
                )),
            }),
            "DeleteBucketPolicy" => self
                .update_bucket(name, |b| {
                    b.policy = None;
                    Ok(json!({}))
                })
                .inspect(|_| {
                    if let Ok(mut c) = self.policies.lock() {
                        c.remove(name);
                    }
                }),
            _ => {
                let st = STORED
                    .iter()
                    .find(|st| st.put == op || st.get == op || st.delete == op)?;
                if st.put == op {
                    let v = input.get(st.member).cloned().unwrap_or(Value::Null);
                    if v.is_null() {
                        Err(super::malformed_xml())
                    } else {
                        validate_config(st.member, &v).and_then(|()| {
                            self.update_bucket(name, |b| {
                                b.config.insert(st.member.to_string(), v);
                                Ok(json!({}))
                            })
                        })
                    }
                } else if st.get == op {
                    self.bucket(name)
                        .and_then(|b| match b.config.get(st.member) {
                            // Every bucket is encrypted with SSE-S3 unless
                            // configured otherwise (AWS since January 2023):
                            // its encryption is never "not found".
                            None if st.member == "ServerSideEncryptionConfiguration" => Ok(json!({
                                st.member: super::sse::default_encryption_configuration()
                            })),
                            None => Err(missing(st.code, st.message)),
                            // Lifecycle and CORS answer their members unwrapped.
                            Some(v)
                                if matches!(
                                    st.member,
                                    "LifecycleConfiguration" | "CORSConfiguration"
                                ) =>
                            {
                                Ok(v.clone())
                            }
                            Some(v) => Ok(json!({ st.member: v })),
                        })
                } else {
                    self.update_bucket(name, |b| {
                        b.config.remove(st.member);
                        Ok(json!({}))
                    })
                }
            }
        };
        Some(r)
    }
}
