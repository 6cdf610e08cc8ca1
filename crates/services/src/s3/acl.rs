//! ACLs. Buckets have had them disabled by default since April 2023
//! (Object Ownership `BucketOwnerEnforced`): the bucket owner owns every
//! object, reading an ACL always answers "the owner has full control", and
//! setting any other ACL fails with `AccessControlListNotSupported`.
//!
//! ironsage decides access with policies only, so on a bucket whose ACLs
//! are enabled (`ObjectWriter`, `BucketOwnerPreferred`) it accepts ACLs that
//! grant nothing beyond the owner's full control, refuses public ones when
//! the bucket blocks them (as S3 does), and answers any other grant with
//! `NotImplemented` rather than storing a grant it would not enforce.

use serde_json::{json, Value};

use super::{canonical_id, err, s, Bucket};
use crate::AwsError;

const GRANT_HEADERS: &[&str] = &[
    "GrantFullControl",
    "GrantRead",
    "GrantReadACP",
    "GrantWrite",
    "GrantWriteACP",
];

/// Canned ACLs that leave the owner with full control and nobody else with
/// anything (for an owner's own write, `bucket-owner-full-control` is the
/// same thing).
const OWNER_ONLY: &[&str] = &["private", "bucket-owner-full-control"];
/// Canned ACLs that grant to everyone or to every AWS user.
const PUBLIC: &[&str] = &["public-read", "public-read-write", "authenticated-read"];

/// The bucket's Object Ownership setting (`BucketOwnerEnforced` unless
/// ownership controls say otherwise; a bucket with none has ACLs enabled).
fn ownership(b: &Bucket) -> Option<&str> {
    b.config
        .get("OwnershipControls")
        .and_then(|c| c.pointer("/Rules/0/ObjectOwnership"))
        .and_then(Value::as_str)
}

pub(crate) fn acls_disabled(b: &Bucket) -> bool {
    ownership(b) == Some("BucketOwnerEnforced")
}

/// What a request asks of ACLs.
enum Asked {
    Nothing,
    OwnerOnly,
    Public,
    Other,
}

fn asked(b: &Bucket, input: &Value) -> Asked {
    let grants: Vec<(&str, &str)> = GRANT_HEADERS
        .iter()
        .filter_map(|h| s(input, h).map(|v| (*h, v)))
        .collect();
    let acl = s(input, "ACL");
    let policy = input.get("AccessControlPolicy");
    if acl.is_none() && grants.is_empty() && policy.is_none() {
        return Asked::Nothing;
    }
    if acl.is_some_and(|a| PUBLIC.contains(&a))
        || grants
            .iter()
            .any(|(_, v)| v.contains("acs.amazonaws.com/groups/global/"))
    {
        return Asked::Public;
    }
    let owner = canonical_id(&b.owner);
    let canned_ok = acl.is_none_or(|a| OWNER_ONLY.contains(&a));
    // `x-amz-grant-full-control: id="<owner>"` is the owner-only ACL spelt out.
    let grants_ok = grants.iter().all(|(h, v)| {
        *h == "GrantFullControl"
            && v.split(',')
                .all(|g| g.trim().trim_start_matches("id=").trim_matches('"') == owner)
    });
    let policy_ok = policy.is_none_or(|p| {
        p.get("Grants").and_then(Value::as_array).is_none_or(|gs| {
            gs.iter().all(|g| {
                g.get("Permission").and_then(Value::as_str) == Some("FULL_CONTROL")
                    && g.pointer("/Grantee/ID").and_then(Value::as_str) == Some(owner.as_str())
            })
        })
    });
    if canned_ok && grants_ok && policy_ok {
        Asked::OwnerOnly
    } else {
        Asked::Other
    }
}

fn not_supported() -> AwsError {
    err(
        "AccessControlListNotSupported",
        "The bucket does not allow ACLs",
        400,
    )
}

/// Checks the ACL a write asks for (PutObject, CopyObject,
/// CreateMultipartUpload, PutObjectAcl, PutBucketAcl).
pub(crate) fn check(b: &Bucket, input: &Value, op: &str) -> Result<(), AwsError> {
    match asked(b, input) {
        Asked::Nothing | Asked::OwnerOnly => Ok(()),
        _ if acls_disabled(b) => Err(not_supported()),
        Asked::Public if b.blocks("BlockPublicAcls") => Err(err("AccessDenied", "Access Denied", 403)),
        _ => Err(err(
            "NotImplemented",
            &format!(
                "{op}: ACL grants beyond the owner's full control are not implemented by ironsage (access is decided by policies; use a bucket policy); the request was not performed"
            ),
            501,
        )),
    }
}

/// CreateBucket's ACL members against the Object Ownership it asks for.
pub(crate) fn check_create(input: &Value, ownership: &str, owner: &str) -> Result<(), AwsError> {
    let probe = Bucket {
        name: String::new(),
        owner: owner.to_string(),
        region: String::new(),
        created: 0,
        versioning: None,
        policy: None,
        tags: None,
        config: [(
            "OwnershipControls".to_string(),
            json!({"Rules": [{"ObjectOwnership": ownership}]}),
        )]
        .into_iter()
        .collect(),
    };
    match asked(&probe, input) {
        Asked::Nothing | Asked::OwnerOnly => Ok(()),
        _ if ownership == "BucketOwnerEnforced" => Err(err(
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            400,
        )),
        // A new bucket blocks public access from its first moment.
        Asked::Public => Err(err(
            "InvalidBucketAclWithBlockPublicAccessError",
            "Bucket cannot have public ACLs set with BlockPublicAccess enabled",
            400,
        )),
        _ => check(&probe, input, "CreateBucket"),
    }
}

/// The ACL every bucket and object has here: the bucket owner, full control.
pub(crate) fn owner_full_control(owner_account: &str) -> Value {
    let id = canonical_id(owner_account);
    json!({
        "Owner": {"ID": id},
        "Grants": [{"Grantee": {"ID": id, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}],
    })
}
