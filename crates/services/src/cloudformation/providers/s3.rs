//! AWS::S3::Bucket and AWS::S3::BucketPolicy.

use serde_json::{json, Map, Value};

use super::{doc_text, ignore_missing, kv_tags, prop, req_prop, scalar, Created, PCtx, Provider};

pub(crate) struct Bucket;
pub(crate) struct BucketPolicy;

fn rename(v: &Value, names: &[(&str, &str)]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let nk = names
                        .iter()
                        .find(|(a, _)| a == k)
                        .map(|(_, b)| (*b).to_string())
                        .unwrap_or_else(|| k.clone());
                    (nk, rename(v, names))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| rename(x, names)).collect()),
        other => other.clone(),
    }
}

fn lifecycle_rule(r: &Value) -> Value {
    let mut out = json!({"Status": r.get("Status").cloned().unwrap_or(json!("Enabled"))});
    if let Some(id) = r.get("Id") {
        out["ID"] = id.clone();
    }
    let mut filter = json!({});
    if let Some(p) = r.get("Prefix") {
        filter["Prefix"] = p.clone();
    }
    out["Filter"] = filter;
    let mut exp = json!({});
    if let Some(d) = r.get("ExpirationInDays") {
        exp["Days"] = d.clone();
    }
    if let Some(d) = r.get("ExpirationDate") {
        exp["Date"] = d.clone();
    }
    if let Some(d) = r.get("ExpiredObjectDeleteMarker") {
        exp["ExpiredObjectDeleteMarker"] = d.clone();
    }
    if exp.as_object().is_some_and(|m| !m.is_empty()) {
        out["Expiration"] = exp;
    }
    if let Some(d) = r.get("NoncurrentVersionExpirationInDays") {
        out["NoncurrentVersionExpiration"] = json!({"NoncurrentDays": d});
    }
    if let Some(d) = r.get("NoncurrentVersionExpiration") {
        out["NoncurrentVersionExpiration"] = d.clone();
    }
    if let Some(a) = r.pointer("/AbortIncompleteMultipartUpload/DaysAfterInitiation") {
        out["AbortIncompleteMultipartUpload"] = json!({"DaysAfterInitiation": a});
    }
    if let Some(t) = r.get("Transitions").and_then(Value::as_array) {
        out["Transitions"] = Value::Array(
            t.iter()
                .map(|t| json!({"Days": t.get("TransitionInDays"), "StorageClass": t.get("StorageClass")}))
                .collect(),
        );
    }
    out
}

/// The canned ACL of an `AccessControl` value.
fn canned_acl(v: &str) -> Result<&'static str, String> {
    Ok(match v {
        "Private" => "private",
        "PublicRead" => "public-read",
        "PublicReadWrite" => "public-read-write",
        "AuthenticatedRead" => "authenticated-read",
        "LogDeliveryWrite" => "log-delivery-write",
        "BucketOwnerRead" => "bucket-owner-read",
        "BucketOwnerFullControl" => "bucket-owner-full-control",
        "AwsExecRead" => "aws-exec-read",
        other => {
            return Err(format!(
                "Properties validation failed for resource with message: [#/AccessControl: {other} is not a valid enum value]"
            ))
        }
    })
}

/// Applies every configuration property (those present in `p`, and removes
/// those present only in `old`).
fn configure(cx: &PCtx<'_>, name: &str, old: &Value, p: &Value) -> Result<(), String> {
    let changed = |k: &str| old.get(k) != p.get(k);
    if !old.is_null() && changed("AccessControl") {
        let acl = canned_acl(prop(p, "AccessControl").unwrap_or("Private"))?;
        cx.call("s3", "PutBucketAcl", json!({"Bucket": name, "ACL": acl}))?;
    }
    if changed("BucketEncryption") {
        match p.get("BucketEncryption") {
            Some(e) => {
                let rules: Vec<Value> = e
                    .get("ServerSideEncryptionConfiguration")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let mut o = json!({});
                        if let Some(d) = r.get("ServerSideEncryptionByDefault") {
                            o["ApplyServerSideEncryptionByDefault"] = d.clone();
                        }
                        if let Some(b) = r.get("BucketKeyEnabled") {
                            o["BucketKeyEnabled"] = b.clone();
                        }
                        o
                    })
                    .collect();
                cx.call(
                    "s3",
                    "PutBucketEncryption",
                    json!({"Bucket": name, "ServerSideEncryptionConfiguration": {"Rules": rules}}),
                )?;
            }
            None => {
                cx.call("s3", "DeleteBucketEncryption", json!({"Bucket": name}))?;
            }
        }
    }
    if changed("VersioningConfiguration") {
        let status = p
            .pointer("/VersioningConfiguration/Status")
            .map(scalar)
            .unwrap_or_else(|| "Suspended".into());
        cx.call(
            "s3",
            "PutBucketVersioning",
            json!({"Bucket": name, "VersioningConfiguration": {"Status": status}}),
        )?;
    }
    if changed("PublicAccessBlockConfiguration") {
        match p.get("PublicAccessBlockConfiguration") {
            Some(c) => cx.call(
                "s3",
                "PutPublicAccessBlock",
                json!({"Bucket": name, "PublicAccessBlockConfiguration": c}),
            )?,
            None => cx.call("s3", "DeletePublicAccessBlock", json!({"Bucket": name}))?,
        };
    }
    if changed("OwnershipControls") {
        match p.get("OwnershipControls") {
            Some(c) => cx.call(
                "s3",
                "PutBucketOwnershipControls",
                json!({"Bucket": name, "OwnershipControls": c}),
            )?,
            None => cx.call(
                "s3",
                "DeleteBucketOwnershipControls",
                json!({"Bucket": name}),
            )?,
        };
    }
    if changed("LifecycleConfiguration") {
        match p.get("LifecycleConfiguration") {
            Some(c) => {
                let rules: Vec<Value> = c
                    .get("Rules")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(lifecycle_rule)
                    .collect();
                cx.call(
                    "s3",
                    "PutBucketLifecycleConfiguration",
                    json!({"Bucket": name, "LifecycleConfiguration": {"Rules": rules}}),
                )?
            }
            None => cx.call("s3", "DeleteBucketLifecycle", json!({"Bucket": name}))?,
        };
    }
    if changed("CorsConfiguration") {
        match p.get("CorsConfiguration") {
            Some(c) => {
                let c = rename(
                    c,
                    &[
                        ("CorsRules", "CORSRules"),
                        ("ExposedHeaders", "ExposeHeaders"),
                        ("Id", "ID"),
                        ("MaxAge", "MaxAgeSeconds"),
                    ],
                );
                cx.call(
                    "s3",
                    "PutBucketCors",
                    json!({"Bucket": name, "CORSConfiguration": c}),
                )?
            }
            None => cx.call("s3", "DeleteBucketCors", json!({"Bucket": name}))?,
        };
    }
    let (ot, nt) = (cx.merged_tags(old), cx.merged_tags(p));
    if ot != nt || old.is_null() {
        if nt.is_empty() {
            if !old.is_null() {
                cx.call("s3", "DeleteBucketTagging", json!({"Bucket": name}))?;
            }
        } else {
            cx.call(
                "s3",
                "PutBucketTagging",
                json!({"Bucket": name, "Tagging": {"TagSet": kv_tags(&nt)}}),
            )?;
        }
    }
    Ok(())
}

fn attrs(cx: &PCtx<'_>, name: &str) -> Map<String, Value> {
    let mut a = Map::new();
    a.insert("Arn".into(), json!(format!("arn:aws:s3:::{name}")));
    a.insert(
        "DomainName".into(),
        json!(format!("{name}.s3.amazonaws.com")),
    );
    a.insert(
        "DualStackDomainName".into(),
        json!(format!("{name}.s3.dualstack.{}.amazonaws.com", cx.region)),
    );
    a.insert(
        "RegionalDomainName".into(),
        json!(format!("{name}.s3.{}.amazonaws.com", cx.region)),
    );
    a.insert(
        "WebsiteURL".into(),
        json!(format!(
            "http://{name}.s3-website-{}.amazonaws.com",
            cx.region
        )),
    );
    a
}

impl Provider for Bucket {
    fn declared_id(&self, p: &Value) -> Option<String> {
        prop(p, "BucketName").map(str::to_string)
    }
    fn properties(&self) -> &'static [&'static str] {
        &[
            "AccessControl",
            "BucketEncryption",
            "BucketName",
            "CorsConfiguration",
            "LifecycleConfiguration",
            "OwnershipControls",
            "PublicAccessBlockConfiguration",
            "Tags",
            "VersioningConfiguration",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["BucketName"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = prop(p, "BucketName")
            .map(str::to_string)
            .unwrap_or_else(|| cx.gen_name(63, true));
        let mut input = json!({"Bucket": name});
        if cx.region != "us-east-1" {
            input["CreateBucketConfiguration"] = json!({"LocationConstraint": cx.region});
        }
        // As CloudFormation does: the ACL and the ownership go with the
        // bucket's creation (so `PublicRead` meets S3's default ownership).
        if let Some(acl) = prop(p, "AccessControl") {
            input["ACL"] = json!(canned_acl(acl)?);
        }
        if let Some(o) = p
            .pointer("/OwnershipControls/Rules/0/ObjectOwnership")
            .and_then(Value::as_str)
        {
            input["ObjectOwnership"] = json!(o);
        }
        cx.call("s3", "CreateBucket", input)?;
        if let Err(e) = configure(cx, &name, &Value::Null, p) {
            let _ = cx.call("s3", "DeleteBucket", json!({"Bucket": name}));
            return Err(e);
        }
        Ok(Created {
            attrs: attrs(cx, &name),
            physical_id: name,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        _a: &Map<String, Value>,
    ) -> Result<Created, String> {
        configure(cx, id, old, new)?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: attrs(cx, id),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("s3", "DeleteBucket", json!({"Bucket": id})))
    }
}

impl Provider for BucketPolicy {
    fn properties(&self) -> &'static [&'static str] {
        &["Bucket", "PolicyDocument"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["Bucket"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let bucket = req_prop(p, "Bucket")?;
        req_prop(p, "PolicyDocument")?;
        let doc = p.get("PolicyDocument").map(doc_text).unwrap_or_default();
        cx.call(
            "s3",
            "PutBucketPolicy",
            json!({"Bucket": bucket, "Policy": doc}),
        )?;
        Ok(Created {
            physical_id: bucket,
            attrs: Map::new(),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        let doc = new.get("PolicyDocument").map(doc_text).unwrap_or_default();
        cx.call(
            "s3",
            "PutBucketPolicy",
            json!({"Bucket": id, "Policy": doc}),
        )?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("s3", "DeleteBucketPolicy", json!({"Bucket": id})))
    }
}
