//! CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation.

use serde_json::{json, Value};

use super::{
    err, internal_store, no_such_bucket, now_secs, owner_value, s, to_doc, Bucket, BUCKET, GLOBAL,
    OBJ, S3, UPLOAD,
};
use crate::{AwsError, Ctx};

/// S3's bucket naming rules (general purpose buckets).
pub(crate) fn valid_bucket_name(n: &str) -> bool {
    let b = n.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return false;
    }
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge(b[0]) || !edge(b[b.len() - 1]) {
        return false;
    }
    if n.contains("..") || n.contains(".-") || n.contains("-.") {
        return false;
    }
    // Not formatted as an IP address.
    let parts: Vec<&str> = n.split('.').collect();
    if parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
        return false;
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if n.starts_with(prefix) {
            return false;
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if n.ends_with(suffix) {
            return false;
        }
    }
    true
}

impl S3 {
    pub(crate) fn create_bucket(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        let name = s(input, "Bucket").unwrap_or_default();
        if !valid_bucket_name(name) {
            return Err(err(
                "InvalidBucketName",
                "The specified bucket is not valid.",
                400,
            )
            .with_extra("BucketName", name));
        }
        let constraint = input
            .get("CreateBucketConfiguration")
            .and_then(|c| s(c, "LocationConstraint"))
            .filter(|c| !c.is_empty());
        let region = ctx.region;
        match (region, constraint) {
            ("us-east-1", None) => {}
            ("us-east-1", Some(c)) if c != "us-east-1" => {
                return Err(err(
                    "IllegalLocationConstraintException",
                    &format!("The {c} location constraint is incompatible for the region specific endpoint this request was sent to."),
                    400,
                ));
            }
            ("us-east-1", Some(_)) => {
                return Err(err(
                    "InvalidLocationConstraint",
                    "The specified location-constraint is not valid",
                    400,
                )
                .with_extra("LocationConstraint", "us-east-1"));
            }
            (_, None) => {
                return Err(err(
                    "IllegalLocationConstraintException",
                    "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
                    400,
                ));
            }
            (r, Some(c)) if c != r => {
                return Err(err(
                    "IllegalLocationConstraintException",
                    &format!("The {c} location constraint is incompatible for the region specific endpoint this request was sent to."),
                    400,
                ));
            }
            _ => {}
        }
        let owner = ctx.caller.account.clone();
        let ownership = s(input, "ObjectOwnership").unwrap_or("BucketOwnerEnforced");
        if !matches!(
            ownership,
            "BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter"
        ) {
            return Err(err(
                "InvalidArgument",
                "Invalid x-amz-object-ownership header",
                400,
            )
            .with_extra("ArgumentName", "x-amz-object-ownership")
            .with_extra("ArgumentValue", ownership));
        }
        super::acl::check_create(input, ownership, &owner)?;
        // New buckets block public access and disable ACLs, as S3 has done
        // for every new bucket since April 2023.
        let config = [
            (
                "PublicAccessBlockConfiguration".to_string(),
                json!({"BlockPublicAcls": true, "IgnorePublicAcls": true,
                       "BlockPublicPolicy": true, "RestrictPublicBuckets": true}),
            ),
            (
                "OwnershipControls".to_string(),
                json!({"Rules": [{"ObjectOwnership": ownership}]}),
            ),
        ]
        .into_iter()
        .collect();
        let bucket = Bucket {
            name: name.to_string(),
            owner: owner.clone(),
            region: region.to_string(),
            created: now_secs(ctx),
            versioning: None,
            policy: None,
            tags: None,
            config,
        };
        let doc = to_doc(&bucket)?;
        self.write_bucket(|tx| {
            if let Some(row) = tx.get(BUCKET, GLOBAL, name).map_err(internal_store)? {
                let existing: Bucket = serde_json::from_value(row.doc).map_err(super::corrupt)?;
                if existing.owner != owner {
                    return Err(err(
                        "BucketAlreadyExists",
                        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                        409,
                    )
                    .with_extra("BucketName", name));
                }
                // us-east-1 answers 200 to the owner re-creating its bucket.
                if region == "us-east-1" && existing.region == "us-east-1" {
                    return Ok(());
                }
                return Err(err(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    409,
                )
                .with_extra("BucketName", name));
            }
            tx.put(BUCKET, GLOBAL, name, Some(&owner), &doc)
                .map_err(internal_store)
        })?;
        Ok(
            json!({"Location": if region == "us-east-1" { format!("/{name}") } else {
                format!("http://{name}.s3.amazonaws.com/")
            }}),
        )
    }

    pub(crate) fn head_bucket(&self, input: &Value) -> Result<Value, AwsError> {
        let name = s(input, "Bucket").unwrap_or_default();
        let b = self.bucket(name)?;
        Ok(json!({"BucketRegion": b.region, "AccessPointAlias": false}))
    }

    pub(crate) fn list_buckets(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        let acct = &ctx.caller.account;
        let rows = self
            .store
            .list(BUCKET, GLOBAL, Some(acct))
            .map_err(internal_store)?;
        let prefix = s(input, "Prefix").unwrap_or_default();
        let region = s(input, "BucketRegion");
        let start = s(input, "ContinuationToken").unwrap_or_default();
        let max = input
            .get("MaxBuckets")
            .and_then(Value::as_u64)
            .unwrap_or(10_000) as usize;
        let mut out = Vec::new();
        let mut next = None;
        for row in rows {
            let b: Bucket = serde_json::from_value(row.doc).map_err(super::corrupt)?;
            if !b.name.starts_with(prefix)
                || region.is_some_and(|r| r != b.region)
                || b.name.as_str() <= start
            {
                continue;
            }
            if out.len() == max {
                next = out
                    .last()
                    .and_then(|v: &Value| v.get("Name"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                break;
            }
            out.push(json!({
                "Name": b.name,
                "CreationDate": b.created,
                "BucketRegion": b.region,
            }));
        }
        let mut v = json!({"Buckets": out, "Owner": owner_value(acct)});
        if let Some(n) = next {
            v["ContinuationToken"] = Value::String(n);
        }
        if !prefix.is_empty() {
            v["Prefix"] = Value::String(prefix.to_string());
        }
        Ok(v)
    }

    pub(crate) fn delete_bucket(&self, input: &Value) -> Result<Value, AwsError> {
        let name = s(input, "Bucket").unwrap_or_default();
        self.write_bucket(|tx| {
            if tx
                .get(BUCKET, GLOBAL, name)
                .map_err(internal_store)?
                .is_none()
            {
                return Err(no_such_bucket(name));
            }
            let busy = !tx.list(OBJ, name, None).map_err(internal_store)?.is_empty()
                || !tx
                    .list(UPLOAD, name, None)
                    .map_err(internal_store)?
                    .is_empty();
            if busy {
                return Err(err(
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty",
                    409,
                )
                .with_extra("BucketName", name));
            }
            tx.delete(BUCKET, GLOBAL, name).map_err(internal_store)?;
            Ok(())
        })?;
        if let Ok(mut p) = self.policies.lock() {
            p.remove(name);
        }
        Ok(json!({}))
    }

    pub(crate) fn get_bucket_location(&self, input: &Value) -> Result<Value, AwsError> {
        let name = s(input, "Bucket").unwrap_or_default();
        let b = self.bucket(name)?;
        // us-east-1 is reported as an empty LocationConstraint.
        Ok(if b.region == "us-east-1" {
            json!({})
        } else {
            json!({"LocationConstraint": b.region})
        })
    }
}
