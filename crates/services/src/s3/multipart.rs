//! Multipart uploads: each part is its own blob; a completed object keeps
//! the listed parts' blobs as its manifest (GET streams across them, nothing
//! is copied).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::body::Expect;
use super::objects::{metadata, stored_headers, version_header};
use super::sse::{self, Sse};
use super::{
    err, internal_store, no_such_upload, now_secs, owner_value, random_id, s, to_doc, BlobRef,
    Version, PART, S3, UPLOAD,
};
use crate::{AwsError, BodyReader, Ctx};

/// Minimum size of every part but the last.
pub(crate) const MIN_PART: u64 = 5 * 1024 * 1024;

/// An upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Upload {
    pub key: String,
    pub id: String,
    pub initiated: i64,
    pub owner: String,
    pub initiator_arn: String,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    /// `COMPOSITE` or `FULL_OBJECT` (with `checksum_algorithm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// The encryption every part gets (one data key for the upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<Sse>,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Part {
    pub number: u32,
    pub etag: String,
    pub md5: String,
    pub modified: i64,
    pub blob: BlobRef,
    /// (algorithm, base64) of the part's bytes, sent or computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<(String, String)>,
}

/// The `ChecksumType` an upload gets: S3 combines CRC part checksums into
/// a full-object CRC (CRC64NVME allows nothing else) and makes SHA ones a
/// checksum of the part checksums (composite); CRC32/CRC32C default to
/// composite.
fn checksum_type_for(
    algorithm: Option<&str>,
    asked: Option<&str>,
) -> Result<Option<String>, AwsError> {
    let Some(algo) = algorithm else {
        return match asked {
            Some(_) => Err(super::invalid_argument(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
                "x-amz-checksum-type",
                asked.unwrap_or_default(),
            )),
            None => Ok(None),
        };
    };
    let lower = algo.to_ascii_lowercase();
    let t = match asked.map(str::to_ascii_uppercase).as_deref() {
        Some("FULL_OBJECT") if !super::hash::combinable(algo) => {
            return Err(err(
                "InvalidRequest",
                &format!(
                "The FULL_OBJECT checksum type cannot be used with the {lower} checksum algorithm."
            ),
                400,
            ))
        }
        Some("COMPOSITE") if algo.eq_ignore_ascii_case("CRC64NVME") => {
            return Err(err(
                "InvalidRequest",
                &format!(
                "The COMPOSITE checksum type cannot be used with the {lower} checksum algorithm."
            ),
                400,
            ))
        }
        Some(t @ ("FULL_OBJECT" | "COMPOSITE")) => t.to_string(),
        Some(other) => {
            return Err(super::invalid_argument(
                "Value for x-amz-checksum-type header is invalid.",
                "x-amz-checksum-type",
                other,
            ))
        }
        None if algo.eq_ignore_ascii_case("CRC64NVME") => "FULL_OBJECT".to_string(),
        None => "COMPOSITE".to_string(),
    };
    Ok(Some(t))
}

/// Whether the checksums a CompleteMultipartUpload part lists (if any)
/// are the stored part's.
fn part_checksum_matches(p: &Part, listed: &Value) -> bool {
    super::hash::CHECKSUM_MEMBERS
        .iter()
        .all(|&(member, algo)| match s(listed, member) {
            None => true,
            Some(v) => p
                .checksum
                .as_ref()
                .is_some_and(|(a, stored)| a.eq_ignore_ascii_case(algo) && stored == v.trim()),
        })
}

/// The checksum of a completed multipart object, from its parts'
/// checksums: composite (`<checksum of the checksums>-<parts>`) or full
/// object (the parts' CRCs combined), as the upload was created. A
/// full-object checksum the request sends must match.
fn object_checksum(
    up: &Upload,
    chosen: &[&Part],
    input: &Value,
) -> Result<Option<(String, String)>, AwsError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    // An upload created without an algorithm gets S3's default full-object
    // checksum when every part has it.
    let default_type = Some("FULL_OBJECT".to_string());
    let (algo, checksum_type) = match up.checksum_algorithm.as_deref() {
        Some(a) => (a, &up.checksum_type),
        None => (super::hash::DEFAULT_ALGORITHM, &default_type),
    };
    let mut raws = Vec::with_capacity(chosen.len());
    for p in chosen {
        let raw = p
            .checksum
            .as_ref()
            .filter(|(a, _)| a.eq_ignore_ascii_case(algo))
            .and_then(|(_, v)| b64.decode(v).ok());
        match raw {
            Some(r) => raws.push((r, p.blob.size)),
            // A part stored before parts kept their checksums.
            None => return Ok(None),
        }
    }
    let value = if checksum_type.as_deref() == Some("FULL_OBJECT") {
        super::hash::full_object_crc(algo, &raws).map(|r| b64.encode(r))
    } else {
        let only: Vec<Vec<u8>> = raws.into_iter().map(|(r, _)| r).collect();
        super::hash::composite(algo, &only)
    };
    let Some(value) = value else {
        return Ok(None);
    };
    if let Some(sent) = s(input, &format!("Checksum{}", algo.to_ascii_uppercase())) {
        if sent.trim() != value {
            return Err(err(
                "BadDigest",
                &format!(
                    "The {} you specified did not match the calculated checksum.",
                    algo.to_ascii_lowercase()
                ),
                400,
            ));
        }
    }
    Ok(Some((algo.to_ascii_uppercase(), value)))
}

fn part_key(upload: &str, n: u32) -> String {
    format!("{upload}/{n:05}")
}

fn part_number(input: &Value) -> Result<u32, AwsError> {
    let n = input.get("PartNumber").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=10_000).contains(&n) {
        return Err(super::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            &n.to_string(),
        ));
    }
    Ok(n as u32)
}

impl S3 {
    fn upload(&self, bucket: &str, key: &str, id: &str) -> Result<Upload, AwsError> {
        self.bucket(bucket)?;
        let row = self
            .store
            .get(UPLOAD, bucket, id)
            .map_err(internal_store)?
            .ok_or_else(|| no_such_upload(id))?;
        let u: Upload = serde_json::from_value(row.doc).map_err(super::corrupt)?;
        if u.key != key {
            return Err(no_such_upload(id));
        }
        Ok(u)
    }

    pub(crate) fn create_multipart_upload(
        &self,
        ctx: &Ctx<'_>,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let bucket = self.bucket(bname)?;
        super::acl::check(&bucket, input, "CreateMultipartUpload")?;
        let enc = self.write_key(ctx, &bucket, key, input)?;
        let tags = s(input, "Tagging")
            .map(super::parse_tag_query)
            .unwrap_or_default();
        super::config::validate_object_tags(&tags)?;
        let expect = Expect::from_input(input)?;
        let checksum_type =
            checksum_type_for(expect.algorithm.as_deref(), s(input, "ChecksumType"))?;
        let up = Upload {
            key: key.to_string(),
            id: random_id(),
            initiated: now_secs(ctx),
            owner: ctx.caller.account.clone(),
            initiator_arn: ctx.caller.arn(),
            headers: stored_headers(input),
            metadata: metadata(input),
            tags,
            checksum_algorithm: expect.algorithm,
            checksum_type,
            sse: enc.map(|e| e.0),
        };
        let doc = to_doc(&up)?;
        self.write(|tx| {
            tx.put(UPLOAD, bname, &up.id, None, &doc)
                .map_err(internal_store)
        })?;
        let mut out = json!({"Bucket": bname, "Key": key, "UploadId": up.id});
        if let Some(a) = &up.checksum_algorithm {
            out["ChecksumAlgorithm"] = json!(a);
        }
        if let Some(t) = &up.checksum_type {
            out["ChecksumType"] = json!(t);
        }
        sse::response(up.sse.as_ref(), &mut out);
        Ok(out)
    }

    fn commit_part(&self, bname: &str, upload_id: &str, part: Part) -> Result<(), AwsError> {
        let blob = part.blob.id.clone();
        let res = self.write(|tx| {
            if tx
                .get(UPLOAD, bname, upload_id)
                .map_err(internal_store)?
                .is_none()
            {
                return Err(no_such_upload(upload_id));
            }
            let pk = part_key(upload_id, part.number);
            let old = tx.get(PART, bname, &pk).map_err(internal_store)?;
            tx.put_serialized(PART, bname, &pk, Some(upload_id), &part)
                .map_err(internal_store)?;
            Ok(old.and_then(|r| serde_json::from_value::<Part>(r.doc).ok()))
        });
        match res {
            Ok(old) => {
                self.drop_blobs(old.map(|p| p.blob.id));
                Ok(())
            }
            Err(e) => {
                self.drop_blobs([blob]);
                Err(e)
            }
        }
    }

    pub(crate) fn upload_part(
        &self,
        ctx: &Ctx<'_>,
        input: &Value,
        body: Option<BodyReader>,
    ) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let upload_id = s(input, "UploadId").unwrap_or_default();
        let number = part_number(input)?;
        let up = self.upload(bname, key, upload_id)?;
        sse::check_no_sse_c(input)?;
        let mut expect = Expect::from_input(input)?;
        match (&up.checksum_algorithm, &expect.algorithm) {
            // The upload's checksum covers every part: computed here when
            // the part came without one.
            (Some(_), None) => expect.algorithm = up.checksum_algorithm.clone(),
            // An upload without an algorithm: its parts get S3's default,
            // which combines into the object's full-object checksum.
            (None, None) => expect.algorithm = Some(super::hash::DEFAULT_ALGORITHM.to_string()),
            // A part checksummed otherwise than its upload says cannot be
            // combined (an upload created without an algorithm takes any:
            // SDKs checksum every part by default).
            (Some(want), Some(got)) if !want.eq_ignore_ascii_case(got) => {
                return Err(AwsError::new(
                    "InvalidRequest",
                    format!(
                        "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                        want.to_ascii_lowercase(),
                        got.to_ascii_lowercase()
                    ),
                    400,
                ));
            }
            _ => {}
        }
        let dk = up.sse.as_ref().map(|x| self.data_key(x)).transpose()?;
        let mut body: Box<dyn std::io::Read + Send> = match body {
            Some(b) => b,
            None => Box::new(std::io::Cursor::new(
                s(input, "Body")
                    .and_then(|b| {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD.decode(b).ok()
                    })
                    .unwrap_or_default(),
            )),
        };
        let stored = self.store_body(&mut body, &expect, dk.as_ref())?;
        let md5 = super::hash::hex(&stored.md5);
        let etag = format!("\"{md5}\"");
        self.commit_part(
            bname,
            upload_id,
            Part {
                number,
                etag: etag.clone(),
                md5,
                modified: now_secs(ctx),
                blob: stored.blob,
                checksum: stored.checksum.clone(),
            },
        )?;
        let mut out = json!({"ETag": etag});
        if let Some((algo, val)) = stored.checksum {
            out[format!("Checksum{algo}")] = json!(val);
        }
        sse::response(up.sse.as_ref(), &mut out);
        Ok(out)
    }

    pub(crate) fn upload_part_copy(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let upload_id = s(input, "UploadId").unwrap_or_default();
        let number = part_number(input)?;
        let up = self.upload(bname, key, upload_id)?;
        sse::check_copy_source(input)?;
        sse::check_no_sse_c(input)?;
        let (_, src) = self.copy_source_version(input)?;
        let (start, len) = match s(input, "CopySourceRange") {
            Some(r) => {
                let parsed = r
                    .strip_prefix("bytes=")
                    .and_then(|x| x.split_once('-'))
                    .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
                match parsed {
                    Some((a, b)) if a <= b && b < src.size => (a, b - a + 1),
                    _ => {
                        return Err(err(
                            "InvalidArgument",
                            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                            400,
                        ))
                    }
                }
            }
            None => (0, src.size),
        };
        let src_key = self.version_key(&src)?;
        let dk = up.sse.as_ref().map(|x| self.data_key(x)).transpose()?;
        let mut reader = self.reader(&src.blobs, start, len, src_key.as_ref())?;
        let expect = Expect {
            algorithm: up.checksum_algorithm.clone(),
            ..Expect::default()
        };
        let stored = self.store_body(&mut reader, &expect, dk.as_ref())?;
        let md5 = super::hash::hex(&stored.md5);
        let etag = format!("\"{md5}\"");
        let now = now_secs(ctx);
        self.commit_part(
            bname,
            upload_id,
            Part {
                number,
                etag: etag.clone(),
                md5,
                modified: now,
                blob: stored.blob,
                checksum: stored.checksum.clone(),
            },
        )?;
        let mut out = json!({"CopyPartResult": {"ETag": etag, "LastModified": now}});
        if let Some((algo, val)) = stored.checksum {
            out["CopyPartResult"][format!("Checksum{algo}")] = json!(val);
        }
        sse::response(up.sse.as_ref(), &mut out);
        Ok(out)
    }

    pub(crate) fn complete_multipart_upload(
        &self,
        ctx: &Ctx<'_>,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let upload_id = s(input, "UploadId").unwrap_or_default();
        let listed: Vec<(i64, String, &Value)> = input
            .get("MultipartUpload")
            .and_then(|m| m.get("Parts"))
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        (
                            p.get("PartNumber").and_then(Value::as_i64).unwrap_or(0),
                            s(p, "ETag").unwrap_or_default().to_string(),
                            p,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if listed.is_empty() {
            return Err(super::malformed_xml());
        }
        let now = now_secs(ctx);
        let (bucket, v, dropped) = self.write(|tx| {
            let brow = tx
                .get(super::BUCKET, super::GLOBAL, bname)
                .map_err(internal_store)?
                .ok_or_else(|| super::no_such_bucket(bname))?;
            let bucket: super::Bucket =
                serde_json::from_value(brow.doc).map_err(super::corrupt)?;
            let up: Upload = match tx.get(UPLOAD, bname, upload_id).map_err(internal_store)? {
                Some(r) => serde_json::from_value(r.doc).map_err(super::corrupt)?,
                None => return Err(no_such_upload(upload_id)),
            };
            if up.key != key {
                return Err(no_such_upload(upload_id));
            }
            let mut parts: BTreeMap<u32, Part> = BTreeMap::new();
            for row in tx.list(PART, bname, Some(upload_id)).map_err(internal_store)? {
                let p: Part = serde_json::from_value(row.doc).map_err(super::corrupt)?;
                parts.insert(p.number, p);
            }
            let mut prev = 0i64;
            let mut chosen: Vec<&Part> = Vec::new();
            for (n, etag, listed_part) in &listed {
                if *n <= prev {
                    return Err(err(
                        "InvalidPartOrder",
                        "The list of parts was not in ascending order. Parts must be ordered by part number.",
                        400,
                    )
                    .with_extra("UploadId", upload_id));
                }
                prev = *n;
                let found = u32::try_from(*n)
                    .ok()
                    .and_then(|n| parts.get(&n))
                    .filter(|p| p.md5 == etag.trim().trim_matches('"'))
                    // A part checksum the request lists must be the part's.
                    .filter(|p| part_checksum_matches(p, listed_part));
                let Some(p) = found else {
                    return Err(err(
                        "InvalidPart",
                        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
                        400,
                    )
                    .with_extra("UploadId", upload_id)
                    .with_extra("PartNumber", n.to_string())
                    .with_extra("ETag", etag.clone()));
                };
                chosen.push(p);
            }
            let last = chosen.len().saturating_sub(1);
            for (i, p) in chosen.iter().enumerate() {
                if i < last && p.blob.size < MIN_PART {
                    return Err(err(
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed object size.",
                        400,
                    )
                    .with_extra("ProposedSize", p.blob.size.to_string())
                    .with_extra("MinSizeAllowed", MIN_PART.to_string())
                    .with_extra("PartNumber", p.number.to_string())
                    .with_extra("ETag", p.md5.clone()));
                }
            }
            let total: u64 = chosen.iter().map(|p| p.blob.size).sum();
            if let Some(expected) = input.get("MpuObjectSize").and_then(Value::as_i64) {
                if u64::try_from(expected).ok() != Some(total) {
                    return Err(err(
                        "InvalidRequest",
                        &format!("The x-amz-mp-object-size header value {expected} does not match the size of the listed parts, {total} bytes."),
                        400,
                    ));
                }
            }
            let mut h = super::hash::Md5::new();
            for p in &chosen {
                let raw: Vec<u8> = (0..p.md5.len() / 2)
                    .filter_map(|i| u8::from_str_radix(p.md5.get(i * 2..i * 2 + 2)?, 16).ok())
                    .collect();
                h.update(&raw);
            }
            let etag = format!("\"{}-{}\"", super::hash::hex(&h.finish()), chosen.len());
            let used: std::collections::HashSet<u32> = chosen.iter().map(|p| p.number).collect();
            let mut dropped: Vec<String> = parts
                .values()
                .filter(|p| !used.contains(&p.number))
                .map(|p| p.blob.id.clone())
                .collect();
            let version = Version {
                id: String::new(),
                delete_marker: false,
                modified: now,
                etag,
                size: chosen.iter().map(|p| p.blob.size).sum(),
                blobs: chosen.iter().map(|p| p.blob.clone()).collect(),
                headers: up.headers.clone(),
                metadata: up.metadata.clone(),
                tags: up.tags.clone(),
                checksum: object_checksum(&up, &chosen, input)?,
                parts: Some(chosen.len() as u32),
                owner: up.owner.clone(),
                sse: up.sse.clone(),
            };
            let mut doc: super::ObjDoc = match tx.get(super::OBJ, bname, key).map_err(internal_store)? {
                Some(r) => serde_json::from_value(r.doc).map_err(super::corrupt)?,
                None => super::ObjDoc::default(),
            };
            dropped.extend(super::objects::add_version(&mut doc, &bucket, version));
            let v = doc.versions.first().cloned().unwrap_or_default();
            tx.put_serialized(super::OBJ, bname, key, None, &doc)
                .map_err(internal_store)?;
            for n in parts.keys() {
                tx.delete(PART, bname, &part_key(upload_id, *n))
                    .map_err(internal_store)?;
            }
            tx.delete(UPLOAD, bname, upload_id).map_err(internal_store)?;
            Ok((bucket, v, dropped))
        })?;
        self.drop_blobs(dropped);
        let mut out = json!({
            "Location": format!("/{bname}/{}", super::url_encode(key)),
            "Bucket": bname,
            "Key": key,
            "ETag": v.etag,
        });
        version_header(&bucket, &v, &mut out);
        sse::response(v.sse.as_ref(), &mut out);
        if let Some((algo, val)) = &v.checksum {
            out[format!("Checksum{algo}")] = json!(val);
            out["ChecksumType"] = json!(super::hash::checksum_type(val));
        }
        Ok(out)
    }

    pub(crate) fn abort_multipart_upload(&self, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let upload_id = s(input, "UploadId").unwrap_or_default();
        self.upload(bname, key, upload_id)?;
        let dropped = self.write(|tx| {
            if !tx
                .delete(UPLOAD, bname, upload_id)
                .map_err(internal_store)?
            {
                return Err(no_such_upload(upload_id));
            }
            let mut dropped = Vec::new();
            for row in tx
                .list(PART, bname, Some(upload_id))
                .map_err(internal_store)?
            {
                if let Ok(p) = serde_json::from_value::<Part>(row.doc) {
                    dropped.push(p.blob.id);
                }
                tx.delete(PART, bname, &row.key).map_err(internal_store)?;
            }
            Ok(dropped)
        })?;
        self.drop_blobs(dropped);
        Ok(json!({}))
    }

    pub(crate) fn list_parts(&self, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let upload_id = s(input, "UploadId").unwrap_or_default();
        let up = self.upload(bname, key, upload_id)?;
        let max = input
            .get("MaxParts")
            .and_then(Value::as_i64)
            .map_or(1000, |m| m.clamp(0, 1000) as usize);
        let marker = input
            .get("PartNumberMarker")
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0);
        let rows = self
            .store
            .list(PART, bname, Some(upload_id))
            .map_err(internal_store)?;
        let mut parts = Vec::new();
        let mut truncated = false;
        let mut last = 0u32;
        for row in rows {
            let p: Part = serde_json::from_value(row.doc).map_err(super::corrupt)?;
            if i64::from(p.number) <= marker {
                continue;
            }
            if parts.len() == max {
                truncated = true;
                break;
            }
            last = p.number;
            let mut entry = json!({
                "PartNumber": p.number,
                "LastModified": p.modified,
                "ETag": p.etag,
                "Size": p.blob.size,
            });
            if let Some((algo, val)) = &p.checksum {
                entry[format!("Checksum{algo}")] = json!(val);
            }
            parts.push(entry);
        }
        let mut out = json!({
            "Bucket": bname,
            "Key": key,
            "UploadId": upload_id,
            "PartNumberMarker": marker,
            "MaxParts": max,
            "IsTruncated": truncated,
            "Initiator": {"ID": up.initiator_arn, "DisplayName": up.owner},
            "Owner": owner_value(&up.owner),
            "StorageClass": "STANDARD",
        });
        if !parts.is_empty() {
            out["Parts"] = json!(parts);
        }
        if truncated {
            out["NextPartNumberMarker"] = json!(last);
        }
        if let Some(a) = &up.checksum_algorithm {
            out["ChecksumAlgorithm"] = json!(a);
        }
        if let Some(t) = &up.checksum_type {
            out["ChecksumType"] = json!(t);
        }
        Ok(out)
    }

    pub(crate) fn list_multipart_uploads(&self, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        self.bucket(bname)?;
        let prefix = s(input, "Prefix").unwrap_or_default();
        let key_marker = s(input, "KeyMarker").unwrap_or_default();
        let id_marker = s(input, "UploadIdMarker").unwrap_or_default();
        let delimiter = s(input, "Delimiter").filter(|d| !d.is_empty());
        let url = s(input, "EncodingType") == Some("url");
        let enc = |x: &str| {
            if url {
                super::url_encode(x)
            } else {
                x.to_string()
            }
        };
        let max = input
            .get("MaxUploads")
            .and_then(Value::as_i64)
            .map_or(1000, |m| m.clamp(0, 1000) as usize);
        let mut ups: Vec<Upload> = self
            .store
            .list(UPLOAD, bname, None)
            .map_err(internal_store)?
            .into_iter()
            .filter_map(|r| serde_json::from_value(r.doc).ok())
            .collect();
        ups.sort_by(|a: &Upload, b| {
            (a.key.as_str(), a.initiated, a.id.as_str()).cmp(&(
                b.key.as_str(),
                b.initiated,
                b.id.as_str(),
            ))
        });
        let mut out_ups = Vec::new();
        let mut prefixes: Vec<Value> = Vec::new();
        let mut last_cp: Option<String> = None;
        let mut truncated = false;
        let mut next = None;
        for u in &ups {
            if !u.key.starts_with(prefix) {
                continue;
            }
            // Keys with the delimiter after the prefix roll up into one
            // common prefix each (counted once against MaxUploads).
            if let Some(d) = delimiter {
                if let Some(i) = u.key[prefix.len()..].find(d) {
                    let cp = &u.key[..prefix.len() + i + d.len()];
                    if last_cp.as_deref() == Some(cp) || cp <= key_marker {
                        continue;
                    }
                    if out_ups.len() + prefixes.len() == max {
                        truncated = true;
                        break;
                    }
                    prefixes.push(json!({"Prefix": enc(cp)}));
                    next = Some((cp.to_string(), String::new()));
                    last_cp = Some(cp.to_string());
                    continue;
                }
            }
            if !key_marker.is_empty() {
                let after = u.key.as_str() > key_marker
                    || (u.key == key_marker && !id_marker.is_empty() && u.id.as_str() > id_marker);
                if !after {
                    continue;
                }
            }
            if out_ups.len() + prefixes.len() == max {
                truncated = true;
                break;
            }
            next = Some((u.key.clone(), u.id.clone()));
            out_ups.push(json!({
                "UploadId": u.id,
                "Key": enc(&u.key),
                "Initiated": u.initiated,
                "StorageClass": "STANDARD",
                "Owner": owner_value(&u.owner),
                "Initiator": {"ID": u.initiator_arn, "DisplayName": u.owner},
            }));
        }
        let mut out = json!({
            "Bucket": bname,
            "KeyMarker": enc(key_marker),
            "UploadIdMarker": id_marker,
            "Prefix": enc(prefix),
            "MaxUploads": max,
            "IsTruncated": truncated,
        });
        if let Some(d) = delimiter {
            out["Delimiter"] = json!(enc(d));
        }
        if url {
            out["EncodingType"] = json!("url");
        }
        if !out_ups.is_empty() {
            out["Uploads"] = json!(out_ups);
        }
        if !prefixes.is_empty() {
            out["CommonPrefixes"] = json!(prefixes);
        }
        if truncated {
            if let Some((k, i)) = next {
                out["NextKeyMarker"] = json!(enc(&k));
                out["NextUploadIdMarker"] = json!(i);
            }
        }
        Ok(out)
    }
}
