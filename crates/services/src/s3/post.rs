//! Browser-based uploads (POST Object): the policy document's conditions
//! are checked against the form, and the form's fields become the input of
//! the PutObject the upload is (so the same handler, authorization and
//! storage serve both).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::err;
use crate::AwsError;

/// What a valid policy leaves to check while the file arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PostPolicy {
    /// `content-length-range`: the file's least and greatest size.
    pub length_range: Option<(u64, u64)>,
}

fn denied(why: &str) -> AwsError {
    err(
        "AccessDenied",
        &format!("Invalid according to Policy: {why}"),
        403,
    )
}

fn invalid(why: &str) -> AwsError {
    err(
        "InvalidPolicyDocument",
        &format!("Invalid Policy: {why}"),
        400,
    )
}

/// A form field by name (S3 compares form field names case-insensitively).
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Fields no condition has to cover.
fn exempt(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // `AWSAccessKeyId` and `signature`: a SigV2 form's.
    matches!(
        n.as_str(),
        "x-amz-signature" | "file" | "policy" | "awsaccesskeyid" | "signature"
    ) || n.starts_with("x-ignore-")
}

/// Checks the base64 policy document: unexpired, every condition met by
/// the form (`bucket` is the request's bucket), and every field but the
/// exempt ones covered by a condition.
pub fn check_policy(
    policy_b64: &str,
    fields: &[(String, String)],
    bucket: &str,
    now: OffsetDateTime,
) -> Result<PostPolicy, AwsError> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| invalid("Invalid 'Policy' field, unable to decode it from base64."))?;
    let doc: Value = serde_json::from_slice(&raw).map_err(|_| invalid("Invalid JSON."))?;
    let expiration = doc
        .get("expiration")
        .ok_or_else(|| invalid("Policy missing expiration."))?
        .as_str()
        .and_then(|e| OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok())
        .ok_or_else(|| invalid("Invalid 'expiration' value."))?;
    if expiration <= now {
        return Err(denied("Policy expired."));
    }
    let conditions = doc
        .get("conditions")
        .ok_or_else(|| invalid("Policy missing conditions."))?
        .as_array()
        .ok_or_else(|| invalid("Invalid 'conditions' value."))?;
    let value_of = |name: &str| -> Option<&str> {
        if name.eq_ignore_ascii_case("bucket") {
            Some(bucket)
        } else {
            field(fields, name)
        }
    };
    let mut covered: Vec<String> = Vec::new();
    let mut policy = PostPolicy::default();
    for c in conditions {
        let failed = || {
            denied(&format!(
                "Policy Condition failed: {}",
                serde_json::to_string(c).unwrap_or_default()
            ))
        };
        let ok = match c {
            Value::Object(m) if m.len() == 1 => {
                let Some((name, want)) = m.iter().next() else {
                    return Err(invalid("Invalid Condition."));
                };
                let want = want.as_str().ok_or_else(|| invalid("Invalid Condition."))?;
                covered.push(name.to_ascii_lowercase());
                value_of(name) == Some(want)
            }
            Value::Array(a) => match (a.first().and_then(Value::as_str), a.get(1), a.get(2)) {
                (Some(op), Some(Value::Number(min)), Some(Value::Number(max)))
                    if op.eq_ignore_ascii_case("content-length-range") && a.len() == 3 =>
                {
                    let (Some(min), Some(max)) = (min.as_u64(), max.as_u64()) else {
                        return Err(invalid("Invalid content-length-range."));
                    };
                    policy.length_range = Some((min, max));
                    true
                }
                (Some(op), Some(Value::String(var)), Some(Value::String(want))) if a.len() == 3 => {
                    let name = var
                        .strip_prefix('$')
                        .ok_or_else(|| invalid("Invalid Condition."))?;
                    covered.push(name.to_ascii_lowercase());
                    let got = value_of(name);
                    match op.to_ascii_lowercase().as_str() {
                        "eq" => got == Some(want.as_str()),
                        // Content-Type may list several values; each must match.
                        "starts-with" if name.eq_ignore_ascii_case("content-type") => got
                            .is_some_and(|v| {
                                v.split(',').all(|t| t.trim().starts_with(want.as_str()))
                            }),
                        "starts-with" => got.is_some_and(|v| v.starts_with(want.as_str())),
                        _ => {
                            return Err(invalid(&format!(
                                "Invalid Condition: unknown operation {op}."
                            )))
                        }
                    }
                }
                _ => return Err(invalid("Invalid Condition.")),
            },
            _ => return Err(invalid("Invalid Condition.")),
        };
        if !ok {
            return Err(failed());
        }
    }
    let extra: Vec<&str> = fields
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !exempt(k) && !covered.iter().any(|c| c.eq_ignore_ascii_case(k)))
        .collect();
    if !extra.is_empty() {
        return Err(denied(&format!("Extra input fields: {}", extra.join(", "))));
    }
    Ok(policy)
}

/// Form fields and the PutObject members they set.
const MEMBERS: &[(&str, &str)] = &[
    ("Content-Type", "ContentType"),
    ("Cache-Control", "CacheControl"),
    ("Content-Disposition", "ContentDisposition"),
    ("Content-Encoding", "ContentEncoding"),
    ("Content-Language", "ContentLanguage"),
    ("acl", "ACL"),
    ("x-amz-storage-class", "StorageClass"),
    ("x-amz-website-redirect-location", "WebsiteRedirectLocation"),
    ("x-amz-server-side-encryption", "ServerSideEncryption"),
    ("x-amz-server-side-encryption-aws-kms-key-id", "SSEKMSKeyId"),
    (
        "x-amz-server-side-encryption-context",
        "SSEKMSEncryptionContext",
    ),
    ("x-amz-checksum-algorithm", "ChecksumAlgorithm"),
];

/// The PutObject input an upload form describes; `file_name` replaces
/// `${filename}` in the key.
pub fn put_input(
    bucket: &str,
    fields: &[(String, String)],
    file_name: Option<&str>,
) -> Result<Value, AwsError> {
    let key = field(fields, "key").ok_or_else(|| {
        err(
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            400,
        )
        .with_extra("ArgumentName", "key")
    })?;
    let key = key.replace("${filename}", file_name.unwrap_or_default());
    if key.is_empty() {
        return Err(err(
            "InvalidArgument",
            "User key must have a length greater than 0.",
            400,
        ));
    }
    let mut input = Map::new();
    input.insert("Bucket".into(), json!(bucket));
    input.insert("Key".into(), json!(key));
    for (name, member) in MEMBERS {
        if let Some(v) = field(fields, name) {
            input.insert((*member).into(), json!(v));
        }
    }
    for &(member, algo) in super::hash::CHECKSUM_MEMBERS {
        let header = format!("x-amz-checksum-{}", algo.to_ascii_lowercase());
        if let Some(v) = field(fields, &header) {
            input.insert(member.into(), json!(v));
        }
    }
    if let Some(v) = field(fields, "x-amz-server-side-encryption-bucket-key-enabled") {
        input.insert(
            "BucketKeyEnabled".into(),
            json!(v.trim().eq_ignore_ascii_case("true")),
        );
    }
    if let Some(v) = field(fields, "Expires") {
        let t = ironsage_wire::parse_timestamp(v).ok_or_else(|| {
            err("InvalidArgument", "Invalid 'Expires' field.", 400)
                .with_extra("ArgumentName", "Expires")
        })?;
        input.insert("Expires".into(), json!(ironsage_wire::format_iso8601(t)));
    }
    let meta: Map<String, Value> = fields
        .iter()
        .filter_map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            lower
                .strip_prefix("x-amz-meta-")
                .map(|m| (m.to_string(), json!(v)))
        })
        .collect();
    if !meta.is_empty() {
        input.insert("Metadata".into(), Value::Object(meta));
    }
    if let Some(doc) = field(fields, "tagging") {
        // An XML `Tagging` document, as PutObjectTagging's body; the
        // object's tags then as PutObject's `x-amz-tagging` carries them.
        let model = ironsage_model::model("s3")
            .ok_or_else(|| err("InternalError", "the S3 model is missing", 500))?;
        let parsed = ironsage_wire::parse_document(model, "Tagging", doc.as_bytes())?;
        let tags = super::config::tag_set(Some(&parsed))?;
        let query: Vec<String> = tags
            .iter()
            .map(|(k, v)| format!("{}={}", super::url_encode(k), super::url_encode(v)))
            .collect();
        input.insert("Tagging".into(), json!(query.join("&")));
    }
    Ok(Value::Object(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(v.to_string())
    }

    fn fields(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        [
            ("key", "up/${filename}"),
            ("Content-Type", "image/png"),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-signature", "ab"),
            ("policy", "p"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn conditions_cover_and_bound_the_form() {
        let policy = json!({
            "expiration": "2030-01-01T00:00:00.000Z",
            "conditions": [
                {"bucket": "uploads"},
                ["starts-with", "$key", "up/"],
                ["starts-with", "$Content-Type", "image/"],
                ["eq", "$x-amz-algorithm", "AWS4-HMAC-SHA256"],
                ["content-length-range", 1, 1048576]
            ]
        });
        let p = check_policy(&b64(&policy), &fields(&[]), "uploads", now()).unwrap();
        assert_eq!(p.length_range, Some((1, 1_048_576)));
        let msg = |r: Result<PostPolicy, AwsError>| {
            let e = r.err().unwrap();
            (e.code, e.status, e.message)
        };
        assert_eq!(
            msg(check_policy(&b64(&policy), &fields(&[]), "other", now())),
            (
                "AccessDenied".into(),
                403,
                r#"Invalid according to Policy: Policy Condition failed: {"bucket":"uploads"}"#
                    .into()
            )
        );
        let mut f = fields(&[]);
        f[1].1 = "image/png, text/html".into();
        assert!(msg(check_policy(&b64(&policy), &f, "uploads", now()))
            .2
            .contains(r#"["starts-with","$Content-Type","image/"]"#));
        assert_eq!(
            msg(check_policy(
                &b64(&policy),
                &fields(&[("x-amz-meta-a", "1"), ("x-ignore-me", "2")]),
                "uploads",
                now()
            ))
            .2,
            "Invalid according to Policy: Extra input fields: x-amz-meta-a"
        );
        let expired = json!({"expiration": "2020-01-01T00:00:00Z", "conditions": []});
        assert_eq!(
            msg(check_policy(&b64(&expired), &fields(&[]), "uploads", now())).2,
            "Invalid according to Policy: Policy expired."
        );
        assert_eq!(
            msg(check_policy("%%%", &fields(&[]), "uploads", now())).0,
            "InvalidPolicyDocument"
        );
        let unknown =
            json!({"expiration": "2030-01-01T00:00:00Z", "conditions": [["matches", "$key", "x"]]});
        assert_eq!(
            msg(check_policy(&b64(&unknown), &fields(&[]), "uploads", now())).1,
            400
        );
    }

    #[test]
    fn fields_become_the_put_input() {
        let f = fields(&[
            ("x-amz-meta-Owner", "ana"),
            ("x-amz-server-side-encryption", "aws:kms"),
            ("success_action_status", "201"),
        ]);
        let input = put_input("uploads", &f, Some("cat.png")).unwrap();
        assert_eq!(
            input,
            json!({"Bucket": "uploads", "Key": "up/cat.png", "ContentType": "image/png",
                   "ServerSideEncryption": "aws:kms", "Metadata": {"owner": "ana"}})
        );
        let e = put_input("uploads", &[], None).err().unwrap();
        assert_eq!((e.code.as_str(), e.status), ("InvalidArgument", 400));
        let tagged = put_input(
            "uploads",
            &fields(&[("tagging", "<Tagging><TagSet><Tag><Key>team</Key><Value>ml &amp; data</Value></Tag></TagSet></Tagging>")]),
            None,
        )
        .unwrap();
        assert_eq!(tagged["Tagging"], "team=ml%20%26%20data");
        assert_eq!(
            super::super::parse_tag_query(tagged["Tagging"].as_str().unwrap()),
            [("team".to_string(), "ml & data".to_string())]
        );
        let e = put_input("uploads", &fields(&[("tagging", "<Tagging>")]), None)
            .err()
            .unwrap();
        assert_eq!(e.status, 400);
    }
}
