//! ListObjectsV2, ListObjects (v1) and ListObjectVersions.

use base64::Engine;
use serde_json::{json, Value};

use super::{
    internal_store, invalid_argument, owner_value, s, url_encode, ObjDoc, Version, OBJ, S3,
};
use crate::AwsError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One entry of a listing walk: a key (with its document) or a common prefix.
enum Entry {
    Key(String, ObjDoc),
    Prefix(String),
}

/// Walks keys after `marker` under `prefix`, grouping by `delimiter`,
/// until `max` entries; returns (entries, truncated, last position).
fn walk(
    rows: Vec<(String, ObjDoc)>,
    prefix: &str,
    delimiter: Option<&str>,
    marker: &str,
    max: usize,
    include: impl Fn(&ObjDoc) -> bool,
) -> (Vec<Entry>, bool) {
    let mut out: Vec<Entry> = Vec::new();
    let mut last_prefix: Option<String> = None;
    for (key, doc) in rows {
        if !key.starts_with(prefix) || key.as_str() <= marker || !include(&doc) {
            continue;
        }
        let cp = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            key[prefix.len()..]
                .find(d)
                .map(|i| key[..prefix.len() + i + d.len()].to_string())
        });
        if let Some(cp) = cp {
            if last_prefix.as_deref() == Some(cp.as_str()) || cp.as_str() <= marker {
                continue;
            }
            if out.len() == max {
                return (out, true);
            }
            last_prefix = Some(cp.clone());
            out.push(Entry::Prefix(cp));
            continue;
        }
        if out.len() == max {
            return (out, true);
        }
        out.push(Entry::Key(key, doc));
    }
    (out, false)
}

fn max_keys(input: &Value, member: &str) -> usize {
    input
        .get(member)
        .and_then(Value::as_i64)
        .map_or(1000, |m| m.clamp(0, 1000) as usize)
}

fn content(key: &str, v: &Version, owner: bool, url: bool) -> Value {
    let mut c = json!({
        "Key": if url { url_encode(key) } else { key.to_string() },
        "LastModified": v.modified,
        "ETag": v.etag,
        "Size": v.size,
        "StorageClass": v.headers.get("StorageClass").and_then(Value::as_str).unwrap_or("STANDARD"),
    });
    if let Some((algo, _)) = &v.checksum {
        c["ChecksumAlgorithm"] = json!([algo]);
        c["ChecksumType"] = json!("FULL_OBJECT");
    }
    if owner {
        c["Owner"] = owner_value(&v.owner);
    }
    c
}

impl S3 {
    fn rows(&self, bucket: &str) -> Result<Vec<(String, ObjDoc)>, AwsError> {
        self.bucket(bucket)?;
        self.store
            .list(OBJ, bucket, None)
            .map_err(internal_store)?
            .into_iter()
            .map(|r| {
                serde_json::from_value(r.doc)
                    .map(|d| (r.key, d))
                    .map_err(super::corrupt)
            })
            .collect()
    }

    pub(crate) fn list_objects(&self, input: &Value, v2: bool) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let prefix = s(input, "Prefix").unwrap_or_default();
        let delimiter = s(input, "Delimiter");
        let url = s(input, "EncodingType") == Some("url");
        if let Some(e) = s(input, "EncodingType") {
            if e != "url" {
                return Err(invalid_argument(
                    "Invalid Encoding Method specified in Request",
                    "encoding-type",
                    e,
                ));
            }
        }
        let max = max_keys(input, "MaxKeys");
        let token = s(input, "ContinuationToken");
        let marker = if v2 {
            match token {
                Some(t) => B64
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        invalid_argument(
                            "The continuation token provided is incorrect",
                            "continuation-token",
                            t,
                        )
                    })?,
                None => s(input, "StartAfter").unwrap_or_default().to_string(),
            }
        } else {
            s(input, "Marker").unwrap_or_default().to_string()
        };
        let rows = self.rows(bname)?;
        let (entries, truncated) = walk(rows, prefix, delimiter, &marker, max, |d| {
            d.versions.first().is_some_and(|v| !v.delete_marker)
        });
        let owner = !v2 || input.get("FetchOwner").and_then(Value::as_bool) == Some(true);
        let mut contents = Vec::new();
        let mut prefixes = Vec::new();
        let mut last = String::new();
        for e in &entries {
            match e {
                Entry::Key(k, d) => {
                    if let Some(v) = d.versions.first() {
                        contents.push(content(k, v, owner, url));
                    }
                    last.clone_from(k);
                }
                Entry::Prefix(p) => {
                    prefixes.push(json!({"Prefix": if url { url_encode(p) } else { p.clone() }}));
                    last.clone_from(p);
                }
            }
        }
        let enc = |x: &str| if url { url_encode(x) } else { x.to_string() };
        let mut out = json!({
            "Name": bname,
            "Prefix": enc(prefix),
            "MaxKeys": max,
            "IsTruncated": truncated,
        });
        if !contents.is_empty() {
            out["Contents"] = json!(contents);
        }
        if !prefixes.is_empty() {
            out["CommonPrefixes"] = json!(prefixes);
        }
        if let Some(d) = delimiter {
            out["Delimiter"] = json!(enc(d));
        }
        if url {
            out["EncodingType"] = json!("url");
        }
        if v2 {
            out["KeyCount"] = json!(entries.len());
            if let Some(t) = token {
                out["ContinuationToken"] = json!(t);
            }
            if let Some(sa) = s(input, "StartAfter") {
                out["StartAfter"] = json!(enc(sa));
            }
            if truncated {
                out["NextContinuationToken"] = json!(B64.encode(last.as_bytes()));
            }
        } else {
            out["Marker"] = json!(enc(&marker));
            if truncated && delimiter.is_some() {
                out["NextMarker"] = json!(enc(&last));
            }
        }
        Ok(out)
    }

    pub(crate) fn list_object_versions(&self, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let prefix = s(input, "Prefix").unwrap_or_default();
        let delimiter = s(input, "Delimiter");
        let url = s(input, "EncodingType") == Some("url");
        let max = max_keys(input, "MaxKeys");
        let key_marker = s(input, "KeyMarker").unwrap_or_default();
        let vid_marker = s(input, "VersionIdMarker").filter(|v| !v.is_empty());
        let rows = self.rows(bname)?;
        let enc = |x: &str| if url { url_encode(x) } else { x.to_string() };
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut prefixes: Vec<Value> = Vec::new();
        let mut count = 0usize;
        let mut truncated = false;
        let mut next: Option<(String, String)> = None;
        let mut last_cp: Option<String> = None;
        'keys: for (key, doc) in rows {
            if !key.starts_with(prefix) {
                continue;
            }
            // Versions of the marker key after the version-id marker.
            let skip_until = if key.as_str() < key_marker
                || (key.as_str() == key_marker && vid_marker.is_none())
            {
                continue;
            } else if key.as_str() == key_marker {
                vid_marker
            } else {
                None
            };
            if let Some(d) = delimiter.filter(|d| !d.is_empty()) {
                if let Some(i) = key[prefix.len()..].find(d) {
                    let cp = key[..prefix.len() + i + d.len()].to_string();
                    if last_cp.as_deref() == Some(cp.as_str()) || cp.as_str() <= key_marker {
                        continue;
                    }
                    if count == max {
                        truncated = true;
                        break;
                    }
                    count += 1;
                    prefixes.push(json!({"Prefix": enc(&cp)}));
                    next = Some((cp.clone(), String::new()));
                    last_cp = Some(cp);
                    continue;
                }
            }
            let mut skipping = skip_until.is_some();
            for (i, v) in doc.versions.iter().enumerate() {
                if skipping {
                    if Some(v.id.as_str()) == skip_until {
                        skipping = false;
                    }
                    continue;
                }
                if count == max {
                    truncated = true;
                    break 'keys;
                }
                count += 1;
                let mut e = json!({
                    "Key": enc(&key),
                    "VersionId": v.id,
                    "IsLatest": i == 0,
                    "LastModified": v.modified,
                    "Owner": owner_value(&v.owner),
                });
                if v.delete_marker {
                    markers.push(e);
                } else {
                    e["ETag"] = json!(v.etag);
                    e["Size"] = json!(v.size);
                    e["StorageClass"] = json!("STANDARD");
                    versions.push(e);
                }
                next = Some((key.clone(), v.id.clone()));
            }
        }
        let mut out = json!({
            "Name": bname,
            "Prefix": enc(prefix),
            "KeyMarker": enc(key_marker),
            "MaxKeys": max,
            "IsTruncated": truncated,
        });
        if let Some(v) = vid_marker {
            out["VersionIdMarker"] = json!(v);
        }
        if url {
            // Clients decode the keys only when the answer says they are encoded.
            out["EncodingType"] = json!("url");
        }
        if !versions.is_empty() {
            out["Versions"] = json!(versions);
        }
        if !markers.is_empty() {
            out["DeleteMarkers"] = json!(markers);
        }
        if !prefixes.is_empty() {
            out["CommonPrefixes"] = json!(prefixes);
        }
        if let Some(d) = delimiter {
            out["Delimiter"] = json!(enc(d));
        }
        if truncated {
            if let Some((k, v)) = next {
                out["NextKeyMarker"] = json!(enc(&k));
                if !v.is_empty() {
                    out["NextVersionIdMarker"] = json!(v);
                }
            }
        }
        Ok(out)
    }
}
