//! PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject and
//! object tagging, with versioning.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use serde_json::{json, Map, Value};

use super::body::Expect;
use super::sse::{self, DataKey, Sse};
use super::{
    err, internal_store, invalid_argument, no_such_key, no_such_version, now_secs, pct_decode,
    random_id, s, Bucket, ObjDoc, Version, OBJ, S3,
};
use crate::{AwsError, BodyReader, Ctx, Reply, ResponseBody};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Standard headers stored with an object and returned on GET/HEAD.
const STORED_HEADERS: &[&str] = &[
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "WebsiteRedirectLocation",
    "StorageClass",
];

pub(crate) fn stored_headers(input: &Value) -> BTreeMap<String, Value> {
    STORED_HEADERS
        .iter()
        .filter_map(|h| input.get(*h).map(|v| (h.to_string(), v.clone())))
        .collect()
}

pub(crate) fn metadata(input: &Value) -> BTreeMap<String, String> {
    input
        .get("Metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The bytes `[first, last]` of part `n` (from 1) of a version: a
/// multipart object's parts are its blobs, in order; any other object is
/// its one part. `None` for an empty object (no range to name).
fn part_span(v: &Version, n: i64) -> Result<Option<(u64, u64)>, AwsError> {
    let count = v.parts.map_or(1, i64::from);
    if n < 1 || n > count {
        return Err(err(
            "InvalidPartNumber",
            "The requested partnumber is not satisfiable",
            416,
        )
        .with_extra("PartNumberRequested", n.to_string())
        .with_extra("ActualPartCount", count.to_string()));
    }
    let (start, len) = match v.parts {
        Some(_) => {
            let i = usize::try_from(n - 1).unwrap_or(usize::MAX);
            let start: u64 = v.blobs.iter().take(i).map(|b| b.size).sum();
            (start, v.blobs.get(i).map_or(0, |b| b.size))
        }
        None => (0, v.size),
    };
    Ok((len > 0).then(|| (start, start + len - 1)))
}

fn strip_quotes(e: &str) -> &str {
    e.trim().trim_matches('"')
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|c| c == "*" || strip_quotes(c.trim_start_matches("W/")) == strip_quotes(etag))
}

/// Evaluates If-Match / If-None-Match / If-Modified-Since /
/// If-Unmodified-Since as S3 does (RFC 7232 precedence).
pub(crate) fn check_conditions(
    input: &Value,
    prefix: &str,
    v: &Version,
    read: bool,
) -> Result<(), AwsError> {
    let member = |m: &str| s(input, &format!("{prefix}{m}"));
    let ts = |m: &str| member(m).and_then(ironsage_wire::parse_timestamp);
    let modified = v.modified;
    let failed = |c: &str| {
        err(
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
        )
        .with_extra("Condition", c)
    };
    let header = |m: &str| match m {
        "IfMatch" => "If-Match",
        "IfNoneMatch" => "If-None-Match",
        "IfModifiedSince" => "If-Modified-Since",
        _ => "If-Unmodified-Since",
    };
    if let Some(m) = member("IfMatch") {
        if !etag_matches(m, &v.etag) {
            return Err(failed(header("IfMatch")));
        }
    } else if let Some(t) = ts("IfUnmodifiedSince") {
        if modified > t.unix_timestamp() {
            return Err(failed(header("IfUnmodifiedSince")));
        }
    }
    let not_modified = || {
        if read {
            err("NotModified", "Not Modified", 304)
        } else {
            failed(header("IfNoneMatch"))
        }
    };
    if let Some(m) = member("IfNoneMatch") {
        if etag_matches(m, &v.etag) {
            return Err(not_modified());
        }
    } else if let Some(t) = ts("IfModifiedSince") {
        if modified <= t.unix_timestamp() && read {
            return Err(not_modified());
        }
    }
    Ok(())
}

/// Parses `bytes=a-b` / `bytes=a-` / `bytes=-n` against `size`.
/// `Ok(None)`: no usable range (S3 then serves the whole object).
pub(crate) fn parse_range(range: &str, size: u64) -> Result<Option<(u64, u64)>, AwsError> {
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = || {
        err(
            "InvalidRange",
            "The requested range is not satisfiable",
            416,
        )
        .with_extra("RangeRequested", range)
        .with_extra("ActualObjectSize", size.to_string())
    };
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        let n = n.min(size);
        return Ok(Some((size - n, size - 1)));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        size.saturating_sub(1)
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e.min(size.saturating_sub(1)),
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end)))
}

/// Places `new` in `doc` per the bucket's versioning state; returns the
/// blob ids of versions it replaced.
pub(crate) fn add_version(doc: &mut ObjDoc, bucket: &Bucket, mut new: Version) -> Vec<String> {
    let mut dropped = Vec::new();
    match bucket.versioning.as_deref() {
        Some("Enabled") => {
            new.id = random_id();
        }
        _ => {
            new.id = "null".to_string();
            doc.versions.retain(|v| {
                if v.id == "null" {
                    dropped.extend(super::file_blob_ids(v));
                    false
                } else {
                    true
                }
            });
        }
    }
    doc.versions.insert(0, new);
    dropped
}

pub(crate) fn version_header(bucket: &Bucket, v: &Version, out: &mut Value) {
    if bucket.versioning.is_some() {
        out["VersionId"] = Value::String(v.id.clone());
    }
}

/// The object version a request names (or the current one).
pub(crate) fn pick<'a>(
    doc: Option<&'a ObjDoc>,
    key: &str,
    version: Option<&str>,
) -> Result<&'a Version, AwsError> {
    match version {
        Some(vid) => doc
            .and_then(|d| d.versions.iter().find(|v| v.id == vid))
            .ok_or_else(|| no_such_version(key, vid)),
        None => doc
            .and_then(|d| d.versions.first())
            .filter(|v| !v.delete_marker)
            .ok_or_else(|| no_such_key(key)),
    }
}

impl S3 {
    /// The encryption a write gets and its fresh data key (`None`: stored
    /// as is).
    pub(crate) fn write_key(
        &self,
        ctx: &Ctx<'_>,
        bucket: &Bucket,
        key: &str,
        input: &Value,
    ) -> Result<Option<(Sse, DataKey)>, AwsError> {
        let plan = sse::plan(bucket, key, input)?;
        self.new_data_key(&plan, &ctx.caller.account, &bucket.region)
    }

    /// The data key of a stored version (`None` when it is not encrypted).
    pub(crate) fn version_key(&self, v: &Version) -> Result<Option<DataKey>, AwsError> {
        v.sse.as_ref().map(|s| self.data_key(s)).transpose()
    }

    pub(crate) fn put_object(
        &self,
        ctx: &Ctx<'_>,
        input: &Value,
        body: Option<BodyReader>,
    ) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let bucket = self.bucket(bname)?;
        super::acl::check(&bucket, input, "PutObject")?;
        let tags = s(input, "Tagging")
            .map(super::parse_tag_query)
            .unwrap_or_default();
        super::config::validate_object_tags(&tags)?;
        let mut expect = Expect::from_input(input)?;
        expect.inline = true;
        if expect.algorithm.is_none() {
            // As S3 does since 2025: an object uploaded without a checksum
            // gets the default one.
            expect.algorithm = Some(super::hash::DEFAULT_ALGORITHM.to_string());
        }
        let enc = self.write_key(ctx, &bucket, key, input)?;
        // As on AWS, an SSE-KMS object's ETag is not the MD5 of its data.
        expect.opaque_etag = enc
            .as_ref()
            .is_some_and(|(sse, _)| sse.algorithm == "aws:kms");
        let mut body: Box<dyn Read + Send> = match body {
            Some(b) => b,
            None => {
                // Called without a stream (`Service::call`): the wire layer
                // put the payload in `Body` as base64.
                let raw = s(input, "Body")
                    .map(|b| B64.decode(b))
                    .transpose()
                    .map_err(|_| err("InvalidArgument", "Body is not valid base64", 400))?
                    .unwrap_or_default();
                Box::new(std::io::Cursor::new(raw))
            }
        };
        let stored = self.store_body(&mut body, &expect, enc.as_ref().map(|e| &e.1))?;
        let etag = format!("\"{}\"", super::hash::hex(&stored.md5));
        let blob_id = stored.blob.id.clone();
        let version = Version {
            id: String::new(),
            delete_marker: false,
            modified: now_secs(ctx),
            etag: etag.clone(),
            size: stored.blob.size,
            blobs: vec![stored.blob],
            headers: stored_headers(input),
            metadata: metadata(input),
            tags,
            checksum: stored.checksum,
            parts: None,
            owner: ctx.caller.account.clone(),
            sse: enc.map(|e| e.0),
        };
        let res = self.commit_version(bname, key, version);
        match res {
            Ok((bucket, v, dropped)) => {
                self.drop_blobs(dropped);
                let mut out = json!({"ETag": etag});
                version_header(&bucket, &v, &mut out);
                sse::response(v.sse.as_ref(), &mut out);
                if let Some((algo, val)) = &v.checksum {
                    out[format!("Checksum{algo}")] = Value::String(val.clone());
                    out["ChecksumType"] = json!(super::hash::checksum_type(val));
                }
                Ok(out)
            }
            Err(e) => {
                self.drop_blobs([blob_id]);
                Err(e)
            }
        }
    }

    /// Commits a new version of `key` (re-reading the bucket inside the
    /// transaction); returns the bucket, the stored version and blobs to drop.
    pub(crate) fn commit_version(
        &self,
        bname: &str,
        key: &str,
        version: Version,
    ) -> Result<(std::sync::Arc<Bucket>, Committed, Vec<String>), AwsError> {
        let ((bucket, dropped), doc) = self.write_object(bname, key, |tx| {
            let bucket = self.tx_bucket(tx, bname)?;
            let mut doc: ObjDoc = match tx.get(OBJ, bname, key).map_err(internal_store)? {
                Some(r) => serde_json::from_value(r.doc).map_err(super::corrupt)?,
                None => ObjDoc::default(),
            };
            let dropped = add_version(&mut doc, &bucket, version);
            tx.put_serialized(OBJ, bname, key, None, &doc)
                .map_err(internal_store)?;
            Ok(((bucket, dropped), doc))
        })?;
        Ok((bucket, Committed(doc), dropped))
    }

    /// The bucket a request names and its row for the key (absent when
    /// there is none): what every read of one object starts from.
    fn addressed(
        &self,
        input: &Value,
    ) -> Result<(std::sync::Arc<Bucket>, Option<std::sync::Arc<ObjDoc>>), AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        Ok((self.bucket(bname)?, self.obj(bname, key)?))
    }

    /// GetObjectAcl / PutObjectAcl on an existing object (version): the
    /// owner's full control is the only ACL there is (see `acl`).
    pub(crate) fn object_acl(&self, op: &str, input: &Value) -> Result<Value, AwsError> {
        let key = s(input, "Key").unwrap_or_default();
        let (bucket, doc) = self.addressed(input)?;
        let v = pick(doc.as_deref(), key, s(input, "VersionId"))?;
        if v.delete_marker {
            return Err(on_delete_marker(if op == "GetObjectAcl" {
                "GET"
            } else {
                "PUT"
            }));
        }
        if op == "PutObjectAcl" {
            super::acl::check(&bucket, input, op)?;
            return Ok(json!({}));
        }
        Ok(super::acl::owner_full_control(&bucket.owner))
    }

    /// GetObjectAttributes: the attributes asked for, from the version's
    /// row (no body is read). S3 writes this ETag without quotes.
    pub(crate) fn get_object_attributes(&self, input: &Value) -> Result<Value, AwsError> {
        let key = s(input, "Key").unwrap_or_default();
        let (bucket, doc) = self.addressed(input)?;
        let v = pick(doc.as_deref(), key, s(input, "VersionId"))?;
        if v.delete_marker {
            return Err(
                err("NoSuchKey", "The specified key does not exist.", 404).with_extra("Key", key)
            );
        }
        sse::check_no_sse_c(input)?;
        let asked: Vec<&str> = match input.get("ObjectAttributes") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(one)) => one.split(',').map(str::trim).collect(),
            _ => Vec::new(),
        };
        if asked.is_empty() {
            return Err(err(
                "InvalidArgument",
                "Invalid attribute name specified.",
                400,
            ));
        }
        let mut out = json!({"LastModified": v.modified});
        version_header(&bucket, v, &mut out);
        for a in asked {
            match a {
                "ETag" => out["ETag"] = json!(v.etag.trim_matches('"')),
                "ObjectSize" => out["ObjectSize"] = json!(v.size),
                "StorageClass" => out["StorageClass"] = json!("STANDARD"),
                "Checksum" => {
                    if let Some((algo, val)) = &v.checksum {
                        out["Checksum"] = json!({
                            format!("Checksum{algo}"): val,
                            "ChecksumType": super::hash::checksum_type(val),
                        });
                    }
                }
                "ObjectParts" => {
                    let parts = v
                        .etag
                        .trim_matches('"')
                        .rsplit_once('-')
                        .and_then(|(_, n)| n.parse::<u64>().ok());
                    if let Some(n) = parts {
                        out["ObjectParts"] = json!({"TotalPartsCount": n});
                    }
                }
                _ => {
                    return Err(err(
                        "InvalidArgument",
                        "Invalid attribute name specified.",
                        400,
                    ))
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn get_object(&self, input: &Value, head: bool) -> Result<Reply, AwsError> {
        let key = s(input, "Key").unwrap_or_default();
        let (bucket, doc) = self.addressed(input)?;
        let vid = s(input, "VersionId");
        let v = pick(doc.as_deref(), key, vid)?;
        if v.delete_marker {
            return Err(on_delete_marker(if head { "HEAD" } else { "GET" }));
        }
        sse::check_no_sse_c(input)?;
        check_conditions(input, "", v, true)?;
        let mut out = Map::new();
        out.insert("ETag".into(), json!(v.etag));
        out.insert("LastModified".into(), json!(v.modified));
        out.insert("AcceptRanges".into(), json!("bytes"));
        for (k, val) in &v.headers {
            if k != "StorageClass" || val.as_str() != Some("STANDARD") {
                out.insert(k.clone(), val.clone());
            }
        }
        if !v.headers.contains_key("ContentType") {
            out.insert("ContentType".into(), json!("binary/octet-stream"));
        }
        if !v.metadata.is_empty() {
            out.insert("Metadata".into(), json!(v.metadata));
        }
        if !v.tags.is_empty() {
            out.insert("TagCount".into(), json!(v.tags.len()));
        }
        if s(input, "ChecksumMode") == Some("ENABLED") {
            if let Some((algo, val)) = &v.checksum {
                out.insert(format!("Checksum{algo}"), json!(val));
                out.insert(
                    "ChecksumType".into(),
                    json!(super::hash::checksum_type(val)),
                );
            }
        }
        // Response header overrides (GET only, as S3).
        for (m, h) in [
            ("ResponseContentType", "ContentType"),
            ("ResponseContentLanguage", "ContentLanguage"),
            ("ResponseExpires", "Expires"),
            ("ResponseCacheControl", "CacheControl"),
            ("ResponseContentDisposition", "ContentDisposition"),
            ("ResponseContentEncoding", "ContentEncoding"),
        ] {
            if let Some(val) = input.get(m) {
                out.insert(h.into(), val.clone());
            }
        }
        let mut outv = Value::Object(out);
        version_header(&bucket, v, &mut outv);
        sse::response(v.sse.as_ref(), &mut outv);
        let range = match (s(input, "Range"), input.get("PartNumber")) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "InvalidRequest",
                    "Cannot specify both Range header and partNumber query parameter",
                    400,
                ))
            }
            (Some(r), None) => parse_range(r, v.size)?,
            (None, Some(n)) => {
                let n = n.as_i64().unwrap_or(0);
                let span = part_span(v, n)?;
                if let Some(count) = v.parts {
                    outv["PartsCount"] = json!(count);
                }
                span
            }
            (None, None) => None,
        };
        let (start, len) = match range {
            Some((a, b)) => {
                outv["ContentRange"] = json!(format!("bytes {a}-{b}/{}", v.size));
                // The object's checksum does not describe a range of it: S3
                // sends none, and clients that validate (boto3 by default)
                // would reject the part.
                if let Value::Object(m) = &mut outv {
                    m.retain(|k, _| !k.starts_with("Checksum"));
                }
                (a, b - a + 1)
            }
            None => (0, v.size),
        };
        outv["ContentLength"] = json!(len);
        if head {
            return Ok(Reply {
                output: outv,
                body: None,
            });
        }
        let dk = self.version_key(v)?;
        let reader = self.reader(&v.blobs, start, len, dk.as_ref())?;
        Ok(Reply {
            output: outv,
            body: Some(ResponseBody {
                reader,
                length: len,
            }),
        })
    }

    /// Deletes per the versioning rules; returns (DeleteMarker, VersionId)
    /// of what the request created or removed.
    pub(crate) fn delete_one(
        &self,
        ctx: &Ctx<'_>,
        bname: &str,
        key: &str,
        vid: Option<&str>,
    ) -> Result<(bool, Option<String>), AwsError> {
        let now = now_secs(ctx);
        let owner = ctx.caller.account.clone();
        let (res, dropped) = self.write(|tx| {
            let row = tx
                .get(super::BUCKET, super::GLOBAL, bname)
                .map_err(internal_store)?
                .ok_or_else(|| super::no_such_bucket(bname))?;
            let bucket: Bucket = serde_json::from_value(row.doc).map_err(super::corrupt)?;
            let mut doc: ObjDoc = match tx.get(OBJ, bname, key).map_err(internal_store)? {
                Some(r) => serde_json::from_value(r.doc).map_err(super::corrupt)?,
                None => ObjDoc::default(),
            };
            let mut dropped = Vec::new();
            let res = match (vid, bucket.versioning.as_deref()) {
                (Some(vid), _) => {
                    match doc.versions.iter().position(|v| v.id == vid) {
                        Some(i) => {
                            let v = doc.versions.remove(i);
                            dropped.extend(super::file_blob_ids(&v));
                            (v.delete_marker, Some(vid.to_string()))
                        }
                        // S3 answers success for a version that is not there.
                        None => (false, Some(vid.to_string())),
                    }
                }
                (None, None) => {
                    for v in doc.versions.drain(..) {
                        dropped.extend(super::file_blob_ids(&v));
                    }
                    (false, None)
                }
                (None, Some(_)) => {
                    let marker = Version {
                        delete_marker: true,
                        modified: now,
                        owner: owner.clone(),
                        ..Version::default()
                    };
                    dropped = add_version(&mut doc, &bucket, marker);
                    let id = doc.versions.first().map(|v| v.id.clone());
                    (true, id)
                }
            };
            if doc.versions.is_empty() {
                tx.delete(OBJ, bname, key).map_err(internal_store)?;
            } else {
                tx.put_serialized(OBJ, bname, key, None, &doc)
                    .map_err(internal_store)?;
            }
            Ok((res, dropped))
        })?;
        self.drop_blobs(dropped);
        Ok(res)
    }

    pub(crate) fn delete_object(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let (marker, vid) = self.delete_one(ctx, bname, key, s(input, "VersionId"))?;
        let mut out = json!({});
        if marker {
            out["DeleteMarker"] = json!(true);
        }
        if let Some(v) = vid {
            out["VersionId"] = json!(v);
        }
        Ok(out)
    }

    pub(crate) fn delete_objects(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        self.bucket(bname)?;
        let del = input.get("Delete").cloned().unwrap_or_default();
        let quiet = del.get("Quiet").and_then(Value::as_bool).unwrap_or(false);
        let objects = del
            .get("Objects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if objects.is_empty() || objects.len() > 1000 {
            return Err(super::malformed_xml());
        }
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for o in &objects {
            let key = s(o, "Key").unwrap_or_default();
            let vid = s(o, "VersionId");
            match self.delete_one(ctx, bname, key, vid) {
                Ok((marker, v)) => {
                    if quiet {
                        continue;
                    }
                    let mut d = json!({"Key": key});
                    if let Some(vid) = vid {
                        d["VersionId"] = json!(vid);
                        if marker {
                            d["DeleteMarker"] = json!(true);
                        }
                    } else if marker {
                        d["DeleteMarker"] = json!(true);
                        d["DeleteMarkerVersionId"] = json!(v);
                    }
                    deleted.push(d);
                }
                Err(e) => {
                    let mut d = json!({"Key": key, "Code": e.code, "Message": e.message});
                    if let Some(vid) = vid {
                        d["VersionId"] = json!(vid);
                    }
                    errors.push(d);
                }
            }
        }
        let mut out = json!({});
        if !deleted.is_empty() {
            out["Deleted"] = json!(deleted);
        }
        if !errors.is_empty() {
            out["Errors"] = json!(errors);
        }
        Ok(out)
    }

    /// `x-amz-copy-source`: `bucket/key[?versionId=...]`, maybe URL-encoded.
    pub(crate) fn copy_source(input: &Value) -> Result<(String, String, Option<String>), AwsError> {
        let raw = s(input, "CopySource").unwrap_or_default();
        let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
        let path = pct_decode(path.trim_start_matches('/'), false);
        let vid = query
            .split('&')
            .find_map(|p| p.strip_prefix("versionId="))
            .map(|v| pct_decode(v, false));
        match path.split_once('/') {
            Some((b, k)) if !b.is_empty() && !k.is_empty() => {
                Ok((b.to_string(), k.to_string(), vid))
            }
            _ => Err(invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                "x-amz-copy-source",
                raw,
            )),
        }
    }

    /// The source version of a copy, with its conditions checked.
    pub(crate) fn copy_source_version(
        &self,
        input: &Value,
    ) -> Result<(std::sync::Arc<Bucket>, Version), AwsError> {
        let (sb, sk, svid) = Self::copy_source(input)?;
        let src_bucket = self.bucket(&sb)?;
        let doc = self.obj(&sb, &sk)?;
        let v = pick(doc.as_deref(), &sk, svid.as_deref())?.clone();
        if v.delete_marker {
            return Err(invalid_argument(
                "The source of a copy request may not specifically refer to a delete marker by version id.",
                "x-amz-copy-source",
                s(input, "CopySource").unwrap_or_default(),
            ));
        }
        if let Some(expected) = s(input, "ExpectedSourceBucketOwner") {
            super::check_expected_owner(&src_bucket, expected)?;
        }
        check_conditions(input, "CopySource", &v, false)?;
        Ok((src_bucket, v))
    }

    pub(crate) fn copy_object(&self, ctx: &Ctx<'_>, input: &Value) -> Result<Value, AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let bucket = self.bucket(bname)?;
        super::acl::check(&bucket, input, "CopyObject")?;
        sse::check_copy_source(input)?;
        let (src_bucket, src) = self.copy_source_version(input)?;
        let (sb, sk, _) = Self::copy_source(input)?;
        let replace = s(input, "MetadataDirective") == Some("REPLACE");
        let changes_encryption =
            s(input, "ServerSideEncryption").is_some() || s(input, "SSEKMSKeyId").is_some();
        if sb == bname
            && sk == key
            && !replace
            && !changes_encryption
            && s(input, "StorageClass").is_none()
        {
            return Err(err(
                "InvalidRequest",
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
                400,
            ));
        }
        // Decrypt with the source's key, re-encrypt per the destination.
        let enc = self.write_key(ctx, &bucket, key, input)?;
        let src_key = self.version_key(&src)?;
        let mut reader = self.reader(&src.blobs, 0, src.size, src_key.as_ref())?;
        // The copy's checksum: the one asked for, else the source's
        // algorithm (recomputed over the whole copy), else S3's default.
        let algorithm = s(input, "ChecksumAlgorithm")
            .map(str::to_ascii_uppercase)
            .or_else(|| src.checksum.as_ref().map(|c| c.0.clone()))
            .unwrap_or_else(|| super::hash::DEFAULT_ALGORITHM.to_string());
        if super::hash::Checksum::for_algorithm(&algorithm).is_none() {
            return Err(err(
                "InvalidRequest",
                "Value for x-amz-checksum-algorithm header is invalid.",
                400,
            ));
        }
        let expect = super::body::Expect {
            algorithm: Some(algorithm),
            content_length: Some(src.size),
            inline: true,
            ..Default::default()
        };
        let stored = self.store_body(&mut reader, &expect, enc.as_ref().map(|e| &e.1))?;
        let tags = match s(input, "TaggingDirective") {
            Some("REPLACE") => s(input, "Tagging")
                .map(super::parse_tag_query)
                .unwrap_or_default(),
            _ => src.tags.clone(),
        };
        // A multipart source keeps its ETag when copied whole on AWS only for
        // small objects; the copy here is a single blob, so its ETag is its MD5.
        let etag = format!("\"{}\"", super::hash::hex(&stored.md5));
        let (headers, meta) = if replace {
            (stored_headers(input), metadata(input))
        } else {
            (src.headers.clone(), src.metadata.clone())
        };
        let version = Version {
            id: String::new(),
            delete_marker: false,
            modified: now_secs(ctx),
            etag: etag.clone(),
            size: stored.blob.size,
            blobs: vec![stored.blob.clone()],
            headers,
            metadata: meta,
            tags,
            checksum: stored.checksum.clone(),
            parts: None,
            owner: ctx.caller.account.clone(),
            sse: enc.map(|e| e.0),
        };
        let blob_id = stored.blob.id.clone();
        match self.commit_version(bname, key, version) {
            Ok((bucket, v, dropped)) => {
                self.drop_blobs(dropped);
                let mut out =
                    json!({"CopyObjectResult": {"ETag": etag, "LastModified": v.modified}});
                if let Some((algo, val)) = &v.checksum {
                    out["CopyObjectResult"][format!("Checksum{algo}")] = json!(val);
                    out["CopyObjectResult"]["ChecksumType"] =
                        json!(super::hash::checksum_type(val));
                }
                version_header(&bucket, &v, &mut out);
                sse::response(v.sse.as_ref(), &mut out);
                if src_bucket.versioning.is_some() {
                    out["CopySourceVersionId"] = json!(src.id);
                }
                Ok(out)
            }
            Err(e) => {
                self.drop_blobs([blob_id]);
                Err(e)
            }
        }
    }

    /// Applies `f` to the tags of the named version.
    fn with_tags(
        &self,
        input: &Value,
        f: impl FnOnce(&mut Vec<(String, String)>) -> Result<(), AwsError>,
    ) -> Result<(Bucket, Version), AwsError> {
        let bname = s(input, "Bucket").unwrap_or_default();
        let key = s(input, "Key").unwrap_or_default();
        let vid = s(input, "VersionId");
        self.write(|tx| {
            let row = tx
                .get(super::BUCKET, super::GLOBAL, bname)
                .map_err(internal_store)?
                .ok_or_else(|| super::no_such_bucket(bname))?;
            let bucket: Bucket = serde_json::from_value(row.doc).map_err(super::corrupt)?;
            let mut doc: Option<ObjDoc> = match tx.get(OBJ, bname, key).map_err(internal_store)? {
                Some(r) => Some(serde_json::from_value(r.doc).map_err(super::corrupt)?),
                None => None,
            };
            let idx = pick(doc.as_ref(), key, vid)
                .map(|v| v.id.clone())
                .and_then(|id| {
                    doc.as_ref()
                        .and_then(|d| d.versions.iter().position(|x| x.id == id))
                        .ok_or_else(|| no_such_key(key))
                })?;
            let Some(d) = doc.as_mut() else {
                return Err(no_such_key(key));
            };
            let v = &mut d.versions[idx];
            if v.delete_marker {
                return Err(err(
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                    405,
                ));
            }
            f(&mut v.tags)?;
            let out = v.clone();
            tx.put_serialized(OBJ, bname, key, None, d)
                .map_err(internal_store)?;
            Ok((bucket, out))
        })
    }

    pub(crate) fn put_object_tagging(&self, input: &Value) -> Result<Value, AwsError> {
        let tags = super::config::tag_set(input.get("Tagging"))?;
        super::config::validate_object_tags(&tags)?;
        let (bucket, v) = self.with_tags(input, |t| {
            *t = tags;
            Ok(())
        })?;
        let mut out = json!({});
        version_header(&bucket, &v, &mut out);
        Ok(out)
    }

    pub(crate) fn get_object_tagging(&self, input: &Value) -> Result<Value, AwsError> {
        let key = s(input, "Key").unwrap_or_default();
        let (bucket, doc) = self.addressed(input)?;
        let v = pick(doc.as_deref(), key, s(input, "VersionId"))?;
        let mut out = json!({"TagSet": crate::util::tags_value(&v.tags)});
        version_header(&bucket, v, &mut out);
        Ok(out)
    }

    pub(crate) fn delete_object_tagging(&self, input: &Value) -> Result<Value, AwsError> {
        let (bucket, v) = self.with_tags(input, |t| {
            t.clear();
            Ok(())
        })?;
        let mut out = json!({});
        version_header(&bucket, &v, &mut out);
        Ok(out)
    }
}

/// S3's answer to a request that names a delete marker as its version.
fn on_delete_marker(method: &str) -> AwsError {
    err(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
    )
    .with_extra("Method", method)
    .with_extra("ResourceType", "DeleteMarker")
}

/// A key's row as a write left it: its newest version is the one written.
pub(crate) struct Committed(std::sync::Arc<ObjDoc>);

impl std::ops::Deref for Committed {
    type Target = Version;
    fn deref(&self) -> &Version {
        static NONE: std::sync::OnceLock<Version> = std::sync::OnceLock::new();
        match self.0.versions.first() {
            Some(v) => v,
            None => NONE.get_or_init(Version::default),
        }
    }
}
