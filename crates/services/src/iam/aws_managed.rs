//! AWS-managed policies (`arn:aws:iam::aws:policy/...`), vendored as
//! `data/aws-managed-policies.json.gz` and loaded once, on first use.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use serde_json::Value;

use super::failure;
use crate::AwsError;

const DATA: &[u8] = include_bytes!("../../data/aws-managed-policies.json.gz");

/// One AWS-managed policy (its default version only).
#[derive(Debug, Clone)]
pub(crate) struct AwsPolicy {
    pub arn: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub default_version: String,
    pub created: String,
    pub updated: String,
    /// The default version's document, compact JSON text.
    pub document: String,
}

type Table = BTreeMap<String, AwsPolicy>;

static TABLE: OnceLock<Result<Table, String>> = OnceLock::new();

/// Every AWS-managed policy, keyed by ARN.
pub(crate) fn all() -> Result<&'static Table, AwsError> {
    TABLE
        .get_or_init(load)
        .as_ref()
        .map_err(|e| failure(format!("AWS-managed policy data unusable: {e}")))
}

/// The AWS-managed policy with this ARN, if any.
pub(crate) fn get(arn: &str) -> Result<Option<&'static AwsPolicy>, AwsError> {
    if !arn.starts_with("arn:aws:iam::aws:policy/") {
        return Ok(None);
    }
    Ok(all()?.get(arn))
}

/// `2017-11-29T13:07:59+00:00` → `2017-11-29T13:07:59Z`.
fn normalize_date(d: &str) -> String {
    match d.strip_suffix("+00:00") {
        Some(s) => format!("{s}Z"),
        None => d.to_string(),
    }
}

/// A stable `ANPA…` id derived from the ARN (FNV-1a, base32 alphabet), so
/// ids never change across restarts.
fn stable_id(arn: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in arn.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let mut id = String::from("ANPA");
    for _ in 0..17 {
        let i = (h % 32) as usize;
        id.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'A')));
        h /= 32;
    }
    id
}

fn load() -> Result<Table, String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DATA)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let mut out = BTreeMap::new();
    for (arn, p) in obj {
        let s = |k: &str| {
            p.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let document = p
            .get("Document")
            .map(Value::to_string)
            .ok_or("policy without Document")?;
        out.insert(
            arn.clone(),
            AwsPolicy {
                arn: arn.clone(),
                name: s("PolicyName"),
                path: s("Path"),
                id: stable_id(arn),
                default_version: s("DefaultVersionId"),
                created: normalize_date(&s("CreateDate")),
                updated: normalize_date(&s("UpdateDate")),
                document,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_parses_every_policy() {
        let t = all().unwrap();
        assert_eq!(t.len(), 1485);
        let p = get("arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
            .unwrap()
            .unwrap();
        assert_eq!(p.name, "AmazonSageMakerFullAccess");
        assert_eq!(p.path, "/");
        assert!(p.created.ends_with('Z'));
        assert!(p.id.starts_with("ANPA") && p.id.len() == 21);
        assert_eq!(p.id, stable_id(&p.arn));
        let mut bad = Vec::new();
        for p in t.values() {
            if let Err(e) = super::super::doc::parse_stored(&p.document) {
                bad.push((p.arn.clone(), e.message));
            }
        }
        assert!(
            bad.is_empty(),
            "{} AWS-managed policies fail to parse: {:?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
    }
}
