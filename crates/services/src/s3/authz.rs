//! Operation → IAM action table (Service Authorization Reference) and the
//! targets each request is authorized against, each carrying the bucket
//! policy and the bucket owner.

use serde_json::Value;

use super::sse::{self, Plan};
use super::{bucket_arn, object_arn, s, S3};
use crate::{AwsError, Ctx, Target};

/// What an action applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    /// `*` (ListBuckets).
    Star,
    /// `arn:aws:s3:::bucket`.
    Bucket,
    /// `arn:aws:s3:::bucket/key`.
    Object,
}

/// (operation, action, action when a `VersionId` is given, resource).
const TABLE: &[(&str, &str, Option<&str>, Res)] = &[
    ("ListBuckets", "s3:ListAllMyBuckets", None, Res::Star),
    ("CreateBucket", "s3:CreateBucket", None, Res::Bucket),
    ("DeleteBucket", "s3:DeleteBucket", None, Res::Bucket),
    ("HeadBucket", "s3:ListBucket", None, Res::Bucket),
    (
        "GetBucketLocation",
        "s3:GetBucketLocation",
        None,
        Res::Bucket,
    ),
    ("ListObjects", "s3:ListBucket", None, Res::Bucket),
    ("ListObjectsV2", "s3:ListBucket", None, Res::Bucket),
    (
        "ListObjectVersions",
        "s3:ListBucketVersions",
        None,
        Res::Bucket,
    ),
    (
        "ListMultipartUploads",
        "s3:ListBucketMultipartUploads",
        None,
        Res::Bucket,
    ),
    ("PutObject", "s3:PutObject", None, Res::Object),
    (
        "GetObject",
        "s3:GetObject",
        Some("s3:GetObjectVersion"),
        Res::Object,
    ),
    (
        "HeadObject",
        "s3:GetObject",
        Some("s3:GetObjectVersion"),
        Res::Object,
    ),
    (
        "DeleteObject",
        "s3:DeleteObject",
        Some("s3:DeleteObjectVersion"),
        Res::Object,
    ),
    ("CopyObject", "s3:PutObject", None, Res::Object),
    ("CreateMultipartUpload", "s3:PutObject", None, Res::Object),
    ("UploadPart", "s3:PutObject", None, Res::Object),
    ("UploadPartCopy", "s3:PutObject", None, Res::Object),
    ("CompleteMultipartUpload", "s3:PutObject", None, Res::Object),
    (
        "AbortMultipartUpload",
        "s3:AbortMultipartUpload",
        None,
        Res::Object,
    ),
    (
        "ListParts",
        "s3:ListMultipartUploadParts",
        None,
        Res::Object,
    ),
    (
        "PutObjectTagging",
        "s3:PutObjectTagging",
        Some("s3:PutObjectVersionTagging"),
        Res::Object,
    ),
    (
        "GetObjectTagging",
        "s3:GetObjectTagging",
        Some("s3:GetObjectVersionTagging"),
        Res::Object,
    ),
    (
        "DeleteObjectTagging",
        "s3:DeleteObjectTagging",
        Some("s3:DeleteObjectVersionTagging"),
        Res::Object,
    ),
    (
        "PutBucketVersioning",
        "s3:PutBucketVersioning",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketVersioning",
        "s3:GetBucketVersioning",
        None,
        Res::Bucket,
    ),
    ("PutBucketTagging", "s3:PutBucketTagging", None, Res::Bucket),
    ("GetBucketTagging", "s3:GetBucketTagging", None, Res::Bucket),
    (
        "DeleteBucketTagging",
        "s3:PutBucketTagging",
        None,
        Res::Bucket,
    ),
    ("PutBucketPolicy", "s3:PutBucketPolicy", None, Res::Bucket),
    ("GetBucketAcl", "s3:GetBucketAcl", None, Res::Bucket),
    (
        "GetObjectAttributes",
        "s3:GetObjectAttributes",
        Some("s3:GetObjectVersionAttributes"),
        Res::Object,
    ),
    ("GetBucketWebsite", "s3:GetBucketWebsite", None, Res::Bucket),
    (
        "GetObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketReplication",
        "s3:GetReplicationConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketNotification",
        "s3:GetBucketNotification",
        None,
        Res::Bucket,
    ),
    (
        "PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
        None,
        Res::Bucket,
    ),
    (
        "PutBucketNotification",
        "s3:PutBucketNotification",
        None,
        Res::Bucket,
    ),
    ("GetBucketLogging", "s3:GetBucketLogging", None, Res::Bucket),
    (
        "GetBucketAccelerateConfiguration",
        "s3:GetAccelerateConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketRequestPayment",
        "s3:GetBucketRequestPayment",
        None,
        Res::Bucket,
    ),
    (
        "ListBucketAnalyticsConfigurations",
        "s3:GetAnalyticsConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "ListBucketIntelligentTieringConfigurations",
        "s3:GetIntelligentTieringConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "ListBucketInventoryConfigurations",
        "s3:GetInventoryConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "ListBucketMetricsConfigurations",
        "s3:GetMetricsConfiguration",
        None,
        Res::Bucket,
    ),
    ("PutBucketAcl", "s3:PutBucketAcl", None, Res::Bucket),
    (
        "GetObjectAcl",
        "s3:GetObjectAcl",
        Some("s3:GetObjectVersionAcl"),
        Res::Object,
    ),
    (
        "PutObjectAcl",
        "s3:PutObjectAcl",
        Some("s3:PutObjectVersionAcl"),
        Res::Object,
    ),
    ("GetBucketPolicy", "s3:GetBucketPolicy", None, Res::Bucket),
    (
        "DeleteBucketPolicy",
        "s3:DeleteBucketPolicy",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketPolicyStatus",
        "s3:GetBucketPolicyStatus",
        None,
        Res::Bucket,
    ),
    (
        "PutPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        None,
        Res::Bucket,
    ),
    (
        "GetPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        None,
        Res::Bucket,
    ),
    (
        "DeletePublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        None,
        Res::Bucket,
    ),
    (
        "PutBucketEncryption",
        "s3:PutEncryptionConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketEncryption",
        "s3:GetEncryptionConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "DeleteBucketEncryption",
        "s3:PutEncryptionConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "PutBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        None,
        Res::Bucket,
    ),
    (
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        None,
        Res::Bucket,
    ),
    (
        "PutBucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "GetBucketLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        None,
        Res::Bucket,
    ),
    (
        "DeleteBucketLifecycle",
        "s3:PutLifecycleConfiguration",
        None,
        Res::Bucket,
    ),
    ("PutBucketCors", "s3:PutBucketCORS", None, Res::Bucket),
    ("GetBucketCors", "s3:GetBucketCORS", None, Res::Bucket),
    ("DeleteBucketCors", "s3:PutBucketCORS", None, Res::Bucket),
];

/// The IAM action an operation needs (tests).
#[cfg(test)]
pub(crate) fn action_for(op: &str, versioned: bool) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|r| r.0 == op)
        .map(|r| if versioned { r.2.unwrap_or(r.1) } else { r.1 })
}

fn tag_context(prefix: &str, tags: &[(String, String)], ctx: &mut Vec<(String, Vec<String>)>) {
    for (k, v) in tags {
        ctx.push((format!("{prefix}/{k}"), vec![v.clone()]));
    }
}

/// The KMS checks a request implies: `kms:GenerateDataKey` on the key a
/// write will encrypt with (plus `kms:Decrypt` for multipart, whose parts
/// reuse the upload's data key), `kms:Decrypt` on the key of an SSE-KMS
/// object that is read or copied from. Each carries the key policy,
/// `kms:ViaService` and S3's encryption context.
fn kms_targets(
    s3: &S3,
    ctx: &Ctx<'_>,
    op: &str,
    bucket: Option<&super::Bucket>,
    input: &Value,
) -> Vec<Target> {
    let mut out = Vec::new();
    let account = ctx.caller.account.as_str();
    let key = s(input, "Key").unwrap_or_default();
    let Some(bucket) = bucket else {
        return out;
    };
    let via = format!("s3.{}.amazonaws.com", bucket.region);
    if matches!(op, "PutObject" | "CopyObject" | "CreateMultipartUpload") {
        // A plan or key that does not resolve fails in the handler, which
        // resolves the same way, so nothing is encrypted unchecked.
        if let Ok(Plan::Kms {
            key: k, context, ..
        }) = sse::plan(bucket, key, input)
        {
            if let Ok(kr) = s3.plan_key(account, &bucket.region, k.as_deref()) {
                let kms = s3.kms();
                out.push(kms.key_target(&kr, "kms:GenerateDataKey", Some(&via), account, &context));
                if op == "CreateMultipartUpload" {
                    out.push(kms.key_target(&kr, "kms:Decrypt", Some(&via), account, &context));
                }
            }
        }
    }
    if matches!(op, "UploadPart" | "UploadPartCopy") {
        let upload = s(input, "UploadId").unwrap_or_default();
        if let Ok(Some(row)) = s3.store.get(super::UPLOAD, &bucket.name, upload) {
            if let Ok(up) = serde_json::from_value::<super::multipart::Upload>(row.doc) {
                if let Some(sse) = up.sse.as_ref() {
                    if let Some(mut t) = s3.decrypt_target(sse, account) {
                        out.push(t.clone());
                        t.action = "kms:GenerateDataKey".into();
                        out.push(t);
                    }
                }
            }
        }
    }
    // HeadObject needs only s3:GetObject: it decrypts nothing.
    if op == "GetObject" {
        if let Ok(Some(doc)) = s3.obj(&bucket.name, key) {
            if let Ok(v) = super::objects::pick(Some(&doc), key, s(input, "VersionId")) {
                if let Some(t) = v.sse.as_ref().and_then(|x| s3.decrypt_target(x, account)) {
                    out.push(t);
                }
            }
        }
    }
    if matches!(op, "CopyObject" | "UploadPartCopy") {
        if let Ok((sb, sk, svid)) = S3::copy_source(input) {
            if let Ok(Some(doc)) = s3.obj(&sb, &sk) {
                if let Ok(v) = super::objects::pick(Some(&doc), &sk, svid.as_deref()) {
                    if let Some(t) = v.sse.as_ref().and_then(|x| s3.decrypt_target(x, account)) {
                        out.push(t);
                    }
                }
            }
        }
    }
    out
}

pub(crate) fn targets(
    s3: &S3,
    ctx: &Ctx<'_>,
    op: &str,
    input: &Value,
) -> Result<Vec<Target>, AwsError> {
    if op == "DeleteObjects" {
        return delete_objects_targets(s3, ctx, input);
    }
    let Some(&(_, action, ver_action, res)) = TABLE.iter().find(|r| r.0 == op) else {
        // Unknown operations are answered 501 by the handler; authorize them
        // as s3:<op> on * so nothing slips through unchecked.
        return Ok(vec![Target::new(format!("s3:{op}"), "*")]);
    };
    let bname = s(input, "Bucket").unwrap_or_default();
    let bucket = if res == Res::Star || bname.is_empty() {
        None
    } else {
        s3.bucket_opt(bname)?
    };
    let policy = bucket
        .as_ref()
        .and_then(|b| s3.governing_policy(b, &ctx.caller.account));
    let owner = bucket.as_ref().map(|b| b.owner.clone());
    let finish = |mut t: Target| {
        t.resource_policy.clone_from(&policy);
        t.resource_account.clone_from(&owner);
        t.context.push((
            "s3:signatureversion".into(),
            vec!["AWS4-HMAC-SHA256".into()],
        ));
        if let Some(o) = &owner {
            t.context
                .push(("s3:ResourceAccount".into(), vec![o.clone()]));
        }
        t
    };
    let key = s(input, "Key").unwrap_or_default();
    let vid = s(input, "VersionId");
    let mut out = Vec::new();
    match res {
        Res::Star => out.push(Target::new(action, "*")),
        Res::Bucket => {
            let mut t = Target::new(action, bucket_arn(bname));
            if matches!(op, "ListObjects" | "ListObjectsV2" | "ListObjectVersions") {
                t = t.with_context(
                    "s3:prefix",
                    vec![s(input, "Prefix").unwrap_or_default().into()],
                );
                if let Some(d) = s(input, "Delimiter") {
                    t = t.with_context("s3:delimiter", vec![d.into()]);
                }
                if let Some(m) = input.get("MaxKeys").and_then(Value::as_i64) {
                    t = t.with_context("s3:max-keys", vec![m.to_string()]);
                }
            }
            if op == "CreateBucket" {
                if let Some(c) = input
                    .get("CreateBucketConfiguration")
                    .and_then(|c| s(c, "LocationConstraint"))
                {
                    t = t.with_context("s3:LocationConstraint", vec![c.into()]);
                }
            }
            out.push(t);
        }
        Res::Object => {
            let act = match (vid, ver_action) {
                (Some(_), Some(a)) => a,
                _ => action,
            };
            let mut t = Target::new(act, object_arn(bname, key));
            if let Some(v) = vid {
                t = t.with_context("s3:VersionId", vec![v.into()]);
            }
            if let Some(e) = s(input, "ServerSideEncryption") {
                t = t.with_context("s3:x-amz-server-side-encryption", vec![e.into()]);
            }
            if let Some(k) = s(input, "SSEKMSKeyId") {
                t = t.with_context(
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                    vec![k.into()],
                );
            }
            if let Some(tq) = s(input, "Tagging") {
                let tags = super::parse_tag_query(tq);
                tag_context("s3:RequestObjectTag", &tags, &mut t.context);
                t = t.with_context(
                    "s3:RequestObjectTagKeys",
                    tags.iter().map(|x| x.0.clone()).collect(),
                );
            }
            if op == "PutObjectTagging" {
                if let Ok(tags) = super::config::tag_set(input.get("Tagging")) {
                    tag_context("s3:RequestObjectTag", &tags, &mut t.context);
                }
            }
            if bucket.is_some() && !key.is_empty() && !op.contains("Multipart") && op != "PutObject"
            {
                if let Ok(Some(doc)) = s3.obj(bname, key) {
                    if let Ok(v) = super::objects::pick(Some(&doc), key, vid) {
                        tag_context("s3:ExistingObjectTag", &v.tags, &mut t.context);
                    }
                }
            }
            if let Some(ms) = s(input, "MetadataDirective") {
                t = t.with_context("s3:x-amz-metadata-directive", vec![ms.into()]);
            }
            if matches!(op, "CopyObject" | "UploadPartCopy") {
                let mut both = vec![finish(t)];
                if let Ok((sb, sk, svid)) = S3::copy_source(input) {
                    let src_bucket = s3.bucket_opt(&sb)?;
                    let mut st = Target::new(
                        if svid.is_some() {
                            "s3:GetObjectVersion"
                        } else {
                            "s3:GetObject"
                        },
                        object_arn(&sb, &sk),
                    );
                    st.resource_policy = src_bucket
                        .as_ref()
                        .and_then(|b| s3.governing_policy(b, &ctx.caller.account));
                    st.resource_account = src_bucket.map(|b| b.owner.clone());
                    st.context.push((
                        "s3:signatureversion".into(),
                        vec!["AWS4-HMAC-SHA256".into()],
                    ));
                    both.push(st);
                }
                both.extend(kms_targets(s3, ctx, op, bucket.as_deref(), input));
                return Ok(both);
            }
            out.push(t);
        }
    }
    let kms = kms_targets(s3, ctx, op, bucket.as_deref(), input);
    let mut out: Vec<Target> = out.into_iter().map(finish).collect();
    out.extend(kms);
    Ok(out)
}

/// DeleteObjects: `s3:DeleteObject` (or `s3:DeleteObjectVersion`) per key.
pub(crate) fn delete_objects_targets(
    s3: &S3,
    ctx: &Ctx<'_>,
    input: &Value,
) -> Result<Vec<Target>, AwsError> {
    let bname = s(input, "Bucket").unwrap_or_default();
    let bucket = s3.bucket_opt(bname)?;
    let policy = bucket
        .as_ref()
        .and_then(|b| s3.governing_policy(b, &ctx.caller.account));
    let objects = input
        .get("Delete")
        .and_then(|d| d.get("Objects"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(objects
        .iter()
        .map(|o| {
            let key = s(o, "Key").unwrap_or_default();
            let vid = s(o, "VersionId");
            let mut t = Target::new(
                if vid.is_some() {
                    "s3:DeleteObjectVersion"
                } else {
                    "s3:DeleteObject"
                },
                object_arn(bname, key),
            );
            if let Some(v) = vid {
                t = t.with_context("s3:VersionId", vec![v.into()]);
            }
            t.resource_policy.clone_from(&policy);
            t.resource_account = bucket.as_ref().map(|b| b.owner.clone());
            t.context.push((
                "s3:signatureversion".into(),
                vec!["AWS4-HMAC-SHA256".into()],
            ));
            t
        })
        .collect())
}
