//! Amazon S3: buckets, objects (streamed to durable blob files), listings,
//! multipart uploads, versioning, tagging and bucket configuration.
//!
//! Metadata lives in the store under service `s3`:
//! - `bucket` rows in scope `global` (bucket names are one namespace across
//!   accounts), key = bucket name: owner account, region, configuration;
//! - `obj` rows in scope `<bucket>`, key = object key: every version of the
//!   key, newest first (an unversioned bucket keeps exactly one, `null`);
//! - `upload` rows in scope `<bucket>`, key = upload id, and `part` rows in
//!   scope `<bucket>`, key = `<upload id>/<part number>`, parent = upload id.
//!
//! Object bytes are blob files ([`ironsage_store::blobs`]); a version or part
//! row references its blobs by id. Order for every write: blob durable, row
//! committed, then the answer; blobs a committed change no longer references
//! are removed after the commit, and [`S3::open`] sweeps whatever a crash
//! left behind. An object of at most [`INLINE_MAX`] bytes (its bytes as
//! stored: ciphertext when encrypted) is kept inside its version row
//! instead, as Garage does below its inline threshold: the PUT is one
//! transaction, with no file to create, sync, rename or sweep.
//!
//! Object rows read by a request (its authorization reads the object's tags
//! and encryption, the handler its version) come from a small cache that
//! every committed S3 write invalidates.

mod acl;
mod authz;
mod body;
mod buckets;
mod config;
pub mod hash;
mod list;
mod multipart;
mod objects;
pub mod post;
mod public;
mod sse;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use ironsage_store::blobs::BlobStore;
use ironsage_store::{ServiceStore, Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use ironsage_crypto::MasterKey;

use crate::kms::Kms;
use crate::{internal, AwsError, BodyReader, Ctx, Reply, Service, Target};

const SVC: &str = "s3";
const GLOBAL: &str = "global";
const BUCKET: &str = "bucket";
const OBJ: &str = "obj";
const UPLOAD: &str = "upload";
const PART: &str = "part";

/// Largest object kept inline in its row (bytes as stored).
pub(crate) const INLINE_MAX: u64 = 4096;
/// Approximate bytes of object rows the cache holds before it evicts.
const OBJ_CACHE_BYTES: usize = 32 << 20;
/// Rows larger than this (approximately) are not cached.
const OBJ_CACHE_DOC_BYTES: usize = 256 * 1024;

/// The S3 service.
#[derive(Debug)]
pub struct S3 {
    store: ServiceStore,
    blobs: BlobStore,
    /// Parsed bucket policies, keyed by bucket, with the text they came from.
    policies: Mutex<BTreeMap<String, (String, Arc<ironsage_policy::Policy>)>>,
    /// Wraps SSE-S3 data keys.
    master: MasterKey,
    /// SSE-KMS data keys.
    kms: Arc<Kms>,
    /// Bucket rows by name, tagged with the bucket-write generation they
    /// were read at: every write of a bucket row bumps `bucket_gen` after
    /// it commits, so an entry read before it is never served after it.
    buckets: RwLock<HashMap<String, (u64, Arc<Bucket>)>>,
    bucket_gen: AtomicU64,
    /// Bucket documents parsed inside write transactions, keyed by bucket
    /// and tagged with the store's shared row they were parsed from: a
    /// transaction that gets the same row (pointer-equal) reuses the parse.
    tx_buckets: Mutex<HashMap<String, ParsedBucket>>,
    /// Object rows by (bucket, key) as last committed; see [`ObjCache`].
    objs: Mutex<ObjCache>,
    /// Tickets taken by writes inside their transaction, so in commit order.
    write_ticket: AtomicU64,
}

/// A bucket row as the store shared it, and its parse.
type ParsedBucket = (Arc<ironsage_store::Row>, Arc<Bucket>);

/// Object rows as committed, `None` for an absent key.
///
/// Every S3 write takes a ticket inside its transaction and, once it has
/// committed, applies itself here: a write of one object row
/// ([`S3::write_object`]) stores the new row if no later write applied
/// first (else drops the key), any other write empties the cache. A read
/// fills the cache only if no write applied since it began, and a read that
/// raced a committed-but-unapplied write is overwritten when that write
/// applies: the cache never serves a row older than the last applied write.
#[derive(Debug, Default)]
struct ObjCache {
    /// Highest ticket applied.
    applied: u64,
    /// Bumped by every applied write.
    epoch: u64,
    /// Approximate bytes held.
    bytes: usize,
    /// Keys are the clients' (object names): hashed with a per-process
    /// random seed, so no chosen set of names degrades the table.
    rows: HashMap<ObjKey, (Option<Arc<ObjDoc>>, usize), foldhash::fast::RandomState>,
}

/// (bucket, key).
type ObjKey = (String, String);

impl ObjCache {
    fn insert(&mut self, k: ObjKey, doc: Option<Arc<ObjDoc>>) {
        let cost = 128
            + k.0.len()
            + k.1.len()
            + doc.as_ref().map_or(0, |d| {
                d.versions
                    .iter()
                    .map(|v| {
                        512 + v
                            .blobs
                            .iter()
                            .map(|b| 64 + b.inline.as_ref().map_or(0, String::len))
                            .sum::<usize>()
                    })
                    .sum()
            });
        if cost > OBJ_CACHE_DOC_BYTES {
            self.remove(&k);
            return;
        }
        if self.bytes + cost > OBJ_CACHE_BYTES {
            // Evict about an eighth, in the map's (arbitrary) order: close
            // to random eviction, without bookkeeping on every hit.
            let target = OBJ_CACHE_BYTES - OBJ_CACHE_BYTES / 8;
            let mut bytes = self.bytes;
            self.rows.retain(|_, (_, c)| {
                if bytes <= target {
                    return true;
                }
                bytes -= *c;
                false
            });
            self.bytes = bytes;
        }
        if let Some((_, old)) = self.rows.insert(k, (doc, cost)) {
            self.bytes -= old;
        }
        self.bytes += cost;
    }

    fn remove(&mut self, k: &ObjKey) {
        if let Some((_, c)) = self.rows.remove(k) {
            self.bytes -= c;
        }
    }
}

/// Bucket rows cached before the cache is cleared.
const BUCKET_CACHE_MAX: usize = 4096;

/// A bucket's row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Bucket {
    pub name: String,
    pub owner: String,
    pub region: String,
    /// Creation time, epoch seconds.
    pub created: i64,
    /// `Enabled` / `Suspended`; absent when never configured.
    #[serde(default)]
    pub versioning: Option<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<(String, String)>>,
    /// Stored configurations, as the model's input members
    /// (`ServerSideEncryptionConfiguration`, `PublicAccessBlockConfiguration`, ...).
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
}

impl Bucket {
    /// Whether a Block Public Access setting of the bucket is on.
    pub(crate) fn blocks(&self, setting: &str) -> bool {
        self.config
            .get("PublicAccessBlockConfiguration")
            .and_then(|c| c.get(setting))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// One blob of an object's bytes (several for a completed multipart upload).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct BlobRef {
    pub id: String,
    pub size: u64,
    /// The bytes as stored (base64; sealed frames when encrypted) of a blob
    /// kept inline in its row rather than in a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
}

/// The ids of a version's blobs that are files (inline ones need no removal).
pub(crate) fn file_blob_ids(v: &Version) -> impl Iterator<Item = String> + '_ {
    v.blobs
        .iter()
        .filter(|b| b.inline.is_none())
        .map(|b| b.id.clone())
}

/// One version of an object (or a delete marker).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct Version {
    /// `null` or a generated id.
    pub id: String,
    #[serde(default)]
    pub delete_marker: bool,
    /// Epoch seconds.
    pub modified: i64,
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub blobs: Vec<BlobRef>,
    /// Standard headers stored with the object (ContentType, CacheControl,
    /// ContentDisposition, ContentEncoding, ContentLanguage, Expires).
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// (algorithm, base64 value), e.g. (`CRC32`, `...`).
    #[serde(default)]
    pub checksum: Option<(String, String)>,
    #[serde(default)]
    pub parts: Option<u32>,
    #[serde(default)]
    pub owner: String,
    /// Server-side encryption of the bytes (with the wrapped data key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<sse::Sse>,
}

/// Every version of one key, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct ObjDoc {
    pub versions: Vec<Version>,
}

// ---------------------------------------------------------------- errors

/// `x-amz-expected-bucket-owner` (and its copy-source form): a bucket of
/// another account is refused as AWS refuses it, whoever may access it.
pub(crate) fn check_expected_owner(bucket: &Bucket, expected: &str) -> Result<(), AwsError> {
    if bucket.owner == expected.trim() {
        Ok(())
    } else {
        Err(err("AccessDenied", "Access Denied", 403))
    }
}

pub(crate) fn err(code: &str, msg: &str, status: u16) -> AwsError {
    AwsError::new(code, msg, status)
}

pub(crate) fn no_such_bucket(b: &str) -> AwsError {
    err("NoSuchBucket", "The specified bucket does not exist", 404).with_extra("BucketName", b)
}

pub(crate) fn no_such_key(k: &str) -> AwsError {
    err("NoSuchKey", "The specified key does not exist.", 404).with_extra("Key", k)
}

pub(crate) fn no_such_version(k: &str, v: &str) -> AwsError {
    err(
        "NoSuchVersion",
        "The specified version does not exist.",
        404,
    )
    .with_extra("Key", k)
    .with_extra("VersionId", v)
}

pub(crate) fn no_such_upload(id: &str) -> AwsError {
    err(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        404,
    )
    .with_extra("UploadId", id)
}

pub(crate) fn invalid_argument(msg: &str, name: &str, value: &str) -> AwsError {
    err("InvalidArgument", msg, 400)
        .with_extra("ArgumentName", name)
        .with_extra("ArgumentValue", value)
}

pub(crate) fn io_err(e: std::io::Error) -> AwsError {
    internal(StoreError::Io(e))
}

pub(crate) fn malformed_xml() -> AwsError {
    err(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )
}

// ---------------------------------------------------------------- helpers

pub(crate) fn s<'a>(input: &'a Value, m: &str) -> Option<&'a str> {
    input.get(m).and_then(Value::as_str)
}

pub(crate) fn bucket_arn(b: &str) -> String {
    format!("arn:aws:s3:::{b}")
}

pub(crate) fn object_arn(b: &str, k: &str) -> String {
    format!("arn:aws:s3:::{b}/{k}")
}

/// The canonical user id S3 shows as `Owner.ID` for an account.
pub(crate) fn canonical_id(account: &str) -> String {
    let a = hash::hex(&hash::md5(
        format!("ironsage-canonical:{account}").as_bytes(),
    ));
    let b = hash::hex(&hash::md5(
        format!("{account}:ironsage-canonical").as_bytes(),
    ));
    format!("{a}{b}")
}

pub(crate) fn owner_value(account: &str) -> Value {
    serde_json::json!({"ID": canonical_id(account), "DisplayName": account})
}

/// A random 32-character id (version ids, upload ids, blob ids).
pub(crate) fn random_id() -> String {
    use rand::Rng;
    let v: u128 = rand::thread_rng().gen();
    format!("{v:032x}")
}

/// Percent-decoding (`%XX`, and `+` as space when `plus` is set).
pub(crate) fn pct_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match h {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// S3's `EncodingType=url` encoding of keys and prefixes.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `k1=v1&k2=v2` (the `x-amz-tagging` header) as tags.
pub(crate) fn parse_tag_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k, true), pct_decode(v, true))
        })
        .collect()
}

fn now_secs(ctx: &Ctx<'_>) -> i64 {
    ctx.now.unix_timestamp()
}

impl S3 {
    /// Opens the service over `store`, with object bytes under
    /// `<data_dir>/blobs`; SSE-S3 data keys are wrapped by the host master
    /// key (`<data_dir>/master.key`), SSE-KMS data keys come from `kms`.
    /// Sweeps temporary files and blobs no row references (left by a
    /// crash), so call it once, before serving.
    pub fn open(store: &Arc<Store>, data_dir: &Path, kms: Arc<Kms>) -> Result<S3, StoreError> {
        let master = MasterKey::load_or_create(data_dir)
            .map_err(|e| StoreError::Io(std::io::Error::other(format!("master key: {e}"))))?;
        let blobs = BlobStore::open(&data_dir.join("blobs"))?;
        let svc = store.service(SVC);
        let mut keep: HashSet<String> = HashSet::new();
        for (_, row) in svc.list_all_scopes(OBJ)? {
            if let Ok(doc) = serde_json::from_value::<ObjDoc>(row.doc) {
                for v in doc.versions {
                    keep.extend(v.blobs.into_iter().map(|b| b.id));
                }
            }
        }
        for (_, row) in svc.list_all_scopes(PART)? {
            if let Ok(p) = serde_json::from_value::<multipart::Part>(row.doc) {
                keep.insert(p.blob.id);
            }
        }
        let removed = blobs.sweep(|id| keep.contains(id))?;
        if removed > 0 {
            tracing::info!(removed, "s3: swept unreferenced blob files");
        }
        Ok(S3 {
            store: svc,
            blobs,
            policies: Mutex::new(BTreeMap::new()),
            master,
            kms,
            buckets: RwLock::new(HashMap::new()),
            bucket_gen: AtomicU64::new(0),
            tx_buckets: Mutex::new(HashMap::new()),
            objs: Mutex::new(ObjCache::default()),
            write_ticket: AtomicU64::new(0),
        })
    }

    /// [`S3::write`] for a change to bucket rows: cached buckets read
    /// before it are stale once it has committed.
    pub(crate) fn write_bucket<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let out = self.write(f);
        self.bucket_gen.fetch_add(1, Ordering::AcqRel);
        out
    }

    /// Applies a finished write to the object-row cache (see [`ObjCache`]):
    /// `through` is the one object row it wrote, `None` for any other write.
    fn objs_applied(&self, ticket: u64, through: Option<(ObjKey, Arc<ObjDoc>)>) {
        let Ok(mut c) = self.objs.lock() else {
            return;
        };
        match through {
            Some((k, doc)) if ticket > c.applied => c.insert(k, Some(doc)),
            Some((k, _)) => c.remove(&k),
            None => {
                c.rows.clear();
                c.bytes = 0;
            }
        }
        c.applied = c.applied.max(ticket);
        c.epoch = c.epoch.wrapping_add(1);
    }

    /// [`S3::write`] for a change to exactly one object row, which `f`
    /// returns with its result: the row goes into the cache as committed.
    pub(crate) fn write_object<T>(
        &self,
        bucket: &str,
        key: &str,
        f: impl FnOnce(&Tx<'_>) -> Result<(T, ObjDoc), AwsError>,
    ) -> Result<(T, Arc<ObjDoc>), AwsError> {
        let mut ticket = 0;
        let out = self.store.write(|tx| {
            ticket = self.write_ticket.fetch_add(1, Ordering::AcqRel) + 1;
            f(tx)
        });
        match out {
            Ok(Ok((v, doc))) => {
                let k = (bucket.to_string(), key.to_string());
                let doc = Arc::new(doc);
                self.objs_applied(ticket, Some((k, Arc::clone(&doc))));
                Ok((v, doc))
            }
            Ok(Err(e)) => {
                self.objs_applied(ticket, None);
                Err(e)
            }
            Err(e) => {
                self.objs_applied(ticket, None);
                Err(internal(e))
            }
        }
    }

    /// Runs `f` in one write transaction; store failures become
    /// `InternalError`.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let mut ticket = 0;
        let out = self.store.write(|tx| {
            ticket = self.write_ticket.fetch_add(1, Ordering::AcqRel) + 1;
            f(tx)
        });
        self.objs_applied(ticket, None);
        out.map_err(internal)?
    }

    pub(crate) fn bucket(&self, name: &str) -> Result<Arc<Bucket>, AwsError> {
        self.bucket_opt(name)?.ok_or_else(|| no_such_bucket(name))
    }

    /// The bucket `name` as transaction `tx` sees it. Rows the store hands
    /// out shared are immutable, so a parse of the same row is reused.
    pub(crate) fn tx_bucket(&self, tx: &Tx<'_>, name: &str) -> Result<Arc<Bucket>, AwsError> {
        let row = tx
            .get_shared(BUCKET, GLOBAL, name)
            .map_err(internal_store)?
            .ok_or_else(|| no_such_bucket(name))?;
        if let Ok(c) = self.tx_buckets.lock() {
            if let Some((r, b)) = c.get(name) {
                if Arc::ptr_eq(r, &row) {
                    return Ok(Arc::clone(b));
                }
            }
        }
        let b = Arc::new(Bucket::deserialize(&row.doc).map_err(corrupt)?);
        if let Ok(mut c) = self.tx_buckets.lock() {
            if c.len() >= BUCKET_CACHE_MAX {
                c.clear();
            }
            c.insert(name.to_string(), (row, Arc::clone(&b)));
        }
        Ok(b)
    }

    /// A bucket's row (committed state), from the cache when no bucket
    /// write committed since it was read.
    pub(crate) fn bucket_opt(&self, name: &str) -> Result<Option<Arc<Bucket>>, AwsError> {
        let gen = self.bucket_gen.load(Ordering::Acquire);
        if let Ok(c) = self.buckets.read() {
            if let Some((g, b)) = c.get(name) {
                if *g == gen {
                    return Ok(Some(Arc::clone(b)));
                }
            }
        }
        let b: Arc<Bucket> = match self.store.get(BUCKET, GLOBAL, name).map_err(internal)? {
            Some(row) => Arc::new(serde_json::from_value(row.doc).map_err(corrupt)?),
            None => return Ok(None),
        };
        if let Ok(mut c) = self.buckets.write() {
            if c.len() >= BUCKET_CACHE_MAX {
                c.clear();
            }
            c.insert(name.to_string(), (gen, Arc::clone(&b)));
        }
        Ok(Some(b))
    }

    /// An object's row as committed (cached; see [`ObjCache`]).
    pub(crate) fn obj(&self, bucket: &str, key: &str) -> Result<Option<Arc<ObjDoc>>, AwsError> {
        let cache_key = (bucket.to_string(), key.to_string());
        let epoch = match self.objs.lock() {
            Ok(c) => {
                if let Some((hit, _)) = c.rows.get(&cache_key) {
                    return Ok(hit.clone());
                }
                c.epoch
            }
            Err(_) => return Err(internal(StoreError::Poisoned)),
        };
        // Typed straight from the stored text; this cache is the only one.
        let doc: Option<Arc<ObjDoc>> = self
            .store
            .get_typed::<ObjDoc>(OBJ, bucket, key)
            .map_err(internal)?
            .map(Arc::new);
        if let Ok(mut c) = self.objs.lock() {
            if c.epoch == epoch {
                c.insert(cache_key, doc.clone());
            }
        }
        Ok(doc)
    }

    /// Removes blobs after the change that dropped them committed (inline
    /// blobs went with their row).
    pub(crate) fn drop_blobs(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if let Err(e) = self.blobs.remove(&id) {
                tracing::warn!(blob = %id, error = %e, "s3: could not remove blob (swept at next start)");
            }
        }
    }

    /// Requests for features no bucket here has are refused, never
    /// accepted and ignored: Object Lock (retention, legal holds) and
    /// appends (`WriteOffsetBytes`, directory buckets only on AWS).
    fn check_unsupported(&self, op: &str, input: &Value) -> Result<(), AwsError> {
        if [
            "ObjectLockMode",
            "ObjectLockRetainUntilDate",
            "ObjectLockLegalHoldStatus",
        ]
        .iter()
        .any(|m| input.get(*m).is_some())
        {
            return Err(err(
                "InvalidRequest",
                "Bucket is missing Object Lock Configuration",
                400,
            ));
        }
        if op == "CreateBucket"
            && input
                .get("ObjectLockEnabledForBucket")
                .and_then(Value::as_bool)
                == Some(true)
        {
            return Err(AwsError::new(
                "NotImplemented",
                "ironsage does not offer S3 Object Lock: a bucket with it enabled cannot be created.",
                501,
            ));
        }
        if input.get("WriteOffsetBytes").is_some() {
            return Err(err(
                "NotImplemented",
                "Appending to an object (x-amz-write-offset-bytes) is supported only by directory buckets.",
                501,
            ));
        }
        Ok(())
    }

    fn dispatch(
        &self,
        ctx: &Ctx<'_>,
        op: &str,
        input: Value,
        body: Option<BodyReader>,
    ) -> Result<Reply, AwsError> {
        let plain = |r: Result<Value, AwsError>| r.map(|output| Reply { output, body: None });
        self.check_unsupported(op, &input)?;
        if let Some(expected) = s(&input, "ExpectedBucketOwner") {
            check_expected_owner(
                &*self.bucket(s(&input, "Bucket").unwrap_or_default())?,
                expected,
            )?;
        }
        match op {
            "CreateBucket" => plain(self.create_bucket(ctx, &input)),
            "HeadBucket" => plain(self.head_bucket(&input)),
            "ListBuckets" => plain(self.list_buckets(ctx, &input)),
            "DeleteBucket" => plain(self.delete_bucket(&input)),
            "GetBucketLocation" => plain(self.get_bucket_location(&input)),
            "PutObject" => plain(self.put_object(ctx, &input, body)),
            "GetObject" => self.get_object(&input, false),
            "HeadObject" => self.get_object(&input, true),
            "DeleteObject" => plain(self.delete_object(ctx, &input)),
            "DeleteObjects" => plain(self.delete_objects(ctx, &input)),
            "CopyObject" => plain(self.copy_object(ctx, &input)),
            "ListObjectsV2" => plain(self.list_objects(&input, true)),
            "ListObjects" => plain(self.list_objects(&input, false)),
            "ListObjectVersions" => plain(self.list_object_versions(&input)),
            "CreateMultipartUpload" => plain(self.create_multipart_upload(ctx, &input)),
            "UploadPart" => plain(self.upload_part(ctx, &input, body)),
            "UploadPartCopy" => plain(self.upload_part_copy(ctx, &input)),
            "CompleteMultipartUpload" => plain(self.complete_multipart_upload(ctx, &input)),
            "AbortMultipartUpload" => plain(self.abort_multipart_upload(&input)),
            "ListParts" => plain(self.list_parts(&input)),
            "ListMultipartUploads" => plain(self.list_multipart_uploads(&input)),
            "PutObjectTagging" => plain(self.put_object_tagging(&input)),
            "GetObjectTagging" => plain(self.get_object_tagging(&input)),
            "DeleteObjectTagging" => plain(self.delete_object_tagging(&input)),
            "PutBucketPolicy" => plain(self.put_bucket_policy(ctx, &input)),
            "GetBucketAcl" => plain(
                self.bucket(s(&input, "Bucket").unwrap_or_default())
                    .map(|b| acl::owner_full_control(&b.owner)),
            ),
            "PutBucketAcl" => plain(
                self.bucket(s(&input, "Bucket").unwrap_or_default())
                    .and_then(|b| acl::check(&b, &input, op))
                    .map(|()| serde_json::json!({})),
            ),
            "GetObjectAcl" | "PutObjectAcl" => plain(self.object_acl(op, &input)),
            "GetObjectAttributes" => plain(self.get_object_attributes(&input)),
            _ => match self.config_op(op, &input) {
                Some(r) => plain(r),
                None => Err(AwsError::not_implemented("S3", op)),
            },
        }
    }
}

pub(crate) fn corrupt(e: serde_json::Error) -> AwsError {
    internal(StoreError::Io(std::io::Error::other(e)))
}

pub(crate) fn to_doc<T: Serialize>(v: &T) -> Result<Value, AwsError> {
    serde_json::to_value(v).map_err(corrupt)
}

impl Service for S3 {
    fn name(&self) -> &'static str {
        SVC
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError> {
        authz::targets(self, ctx, op, input)
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        self.dispatch(ctx, op, input, None).map(|r| r.output)
    }

    fn call_stream(
        &self,
        ctx: &Ctx<'_>,
        op: &str,
        input: Value,
        body: Option<BodyReader>,
    ) -> Result<Reply, AwsError> {
        self.dispatch(ctx, op, input, body)
    }

    fn streams(&self) -> bool {
        true
    }
}

pub(crate) fn internal_store(e: StoreError) -> AwsError {
    internal(e)
}
