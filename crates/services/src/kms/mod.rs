//! AWS Key Management Service.
//!
//! Keys are regional: rows live in scope `<account>/<region>`. Row kinds:
//! - `key`: one document per key (key id = uuid), holding its metadata, its
//!   key policy and every key-material version, each wrapped with the host
//!   [`MasterKey`] (purpose = `<key arn>#<version>`): material never reaches
//!   the database in plaintext;
//! - `alias`: key = alias name (`alias/x`);
//! - `grant`: key = grant id, parent = key id.
//!
//! Symmetric ciphertext blobs are our own format (AWS's is opaque):
//!
//! ```text
//! 0x01 ‖ key account (12 ASCII digits) ‖ key uuid (16 bytes) ‖ material version (u32 BE)
//!      ‖ iv (12) ‖ AES-256-GCM ciphertext ‖ tag (16)
//! AAD = the 33-byte header ‖ canonical encryption context
//! ```
//!
//! The canonical context is the pairs sorted by key, each as
//! `u32 len ‖ key ‖ u32 len ‖ value`, so a ciphertext opens only with exactly
//! the context it was sealed with.
//!
//! Authorization: [`Service::targets`] names `kms:<Op>` on the key ARN with
//! the key policy as the resource policy, so the key policy must allow (its
//! root-account statement delegates to IAM), as on AWS.

mod ops;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine;
use ironsage_crypto::MasterKey;
use ironsage_policy::{Policy, PolicyKind};
use ironsage_store::{ServiceStore, Store, Tx};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{internal, AwsError, Ctx, Service, Target};

pub(crate) const KEY: &str = "key";
pub(crate) const ALIAS: &str = "alias";
pub(crate) const GRANT: &str = "grant";

/// Format byte of our symmetric ciphertext blobs.
const BLOB_V1: u8 = 1;
const BLOB_HEADER: usize = 1 + 12 + 16 + 4;

/// The AWS services whose AWS-managed keys can be created on first use.
const AWS_MANAGED: &[(&str, &str)] = &[
    ("s3", "Amazon S3"),
    ("ssm", "AWS Systems Manager"),
    ("secretsmanager", "AWS Secrets Manager"),
    ("ebs", "Amazon EBS"),
    ("lambda", "AWS Lambda"),
    ("sqs", "Amazon SQS"),
    ("sns", "Amazon SNS"),
    ("dynamodb", "Amazon DynamoDB"),
    ("logs", "Amazon CloudWatch Logs"),
    ("codecommit", "AWS CodeCommit"),
];

// ---------------------------------------------------------------- errors

pub(crate) fn err(code: &str, msg: impl Into<String>) -> AwsError {
    AwsError::new(code, msg, 400)
}
pub(crate) fn not_found(msg: impl Into<String>) -> AwsError {
    err("NotFoundException", msg)
}
pub(crate) fn invalid_state(msg: impl Into<String>) -> AwsError {
    err("KMSInvalidStateException", msg)
}
pub(crate) fn validation(msg: impl Into<String>) -> AwsError {
    err("ValidationException", msg)
}
pub(crate) fn invalid_ciphertext() -> AwsError {
    err("InvalidCiphertextException", "")
}
pub(crate) fn kms_internal(msg: impl Into<String>) -> AwsError {
    AwsError::new("KMSInternalException", msg, 500)
}

// ---------------------------------------------------------------- documents

/// One key-material version, wrapped by the master key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Material {
    pub version: u32,
    /// base64 of the master-key-wrapped material.
    pub wrapped: String,
    pub created: i64,
}

/// A key's stored document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyDoc {
    pub key_id: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub created: i64,
    pub enabled: bool,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    pub state: String,
    pub description: String,
    pub key_usage: String,
    pub key_spec: String,
    /// `CUSTOMER` or `AWS`.
    pub key_manager: String,
    pub origin: String,
    pub policy: String,
    #[serde(default)]
    pub deletion_date: Option<i64>,
    #[serde(default)]
    pub pending_window: Option<i64>,
    #[serde(default)]
    pub rotation_period: Option<i64>,
    #[serde(default)]
    pub next_rotation: Option<i64>,
    /// (date, AUTOMATIC | ON_DEMAND)
    #[serde(default)]
    pub rotations: Vec<(i64, String)>,
    pub materials: Vec<Material>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl KeyDoc {
    pub(crate) fn scope(&self) -> String {
        format!("{}/{}", self.account, self.region)
    }
}

/// An alias's stored document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AliasDoc {
    pub name: String,
    pub target: String,
    pub created: i64,
    pub updated: i64,
}

/// A grant on a key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    /// Grant id.
    pub grant_id: String,
    /// The grant token returned by CreateGrant.
    pub token: String,
    /// The key's id (uuid).
    pub key_id: String,
    /// The key's ARN.
    pub key_arn: String,
    /// Optional grant name.
    pub name: Option<String>,
    /// The principal the grant lets perform `operations`.
    pub grantee: String,
    /// The principal allowed to retire it.
    pub retiring: Option<String>,
    /// Granted KMS operations (`Decrypt`, `GenerateDataKey`, ...).
    pub operations: Vec<String>,
    /// `EncryptionContextEquals` / `EncryptionContextSubset`, as given.
    pub constraints: Option<Value>,
    /// The account that created it.
    pub issuing_account: String,
    /// Creation time (epoch seconds).
    pub created: i64,
}

/// A resolved key, as other services see it.
#[derive(Debug, Clone)]
pub struct KeyRef {
    /// `arn:aws:kms:<region>:<account>:key/<uuid>`.
    pub arn: String,
    /// The uuid.
    pub key_id: String,
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// The key policy, parsed.
    pub policy: Arc<Policy>,
    /// Whether the key is enabled.
    pub enabled: bool,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    pub state: String,
}

// ---------------------------------------------------------------- helpers

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, AwsError> {
    serde_json::from_value(v).map_err(|e| kms_internal(format!("corrupt KMS row: {e}")))
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Value, AwsError> {
    serde_json::to_value(v).map_err(|e| kms_internal(e.to_string()))
}

pub(crate) fn tget<T: serde::de::DeserializeOwned>(
    tx: &Tx<'_>,
    kind: &str,
    scope: &str,
    k: &str,
) -> Result<Option<T>, AwsError> {
    tx.get(kind, scope, k)
        .map_err(internal)?
        .map(|r| decode(r.doc))
        .transpose()
}

pub(crate) fn tput<T: Serialize>(
    tx: &Tx<'_>,
    kind: &str,
    scope: &str,
    k: &str,
    parent: Option<&str>,
    v: &T,
) -> Result<(), AwsError> {
    tx.put(kind, scope, k, parent, &encode(v)?)
        .map_err(internal)
}

/// The encryption context as sorted pairs.
pub fn context_pairs(v: Option<&Value>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Appends the canonical AAD encoding of an encryption context (sorted,
/// length-prefixed) to `out`.
pub(crate) fn canonical_context_into(context: &[(String, String)], out: &mut Vec<u8>) {
    if context.is_empty() {
        return;
    }
    let mut pairs: Vec<&(String, String)> = context.iter().collect();
    pairs.sort();
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || id.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn uuid_string(b: &[u8]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or_default(),
        h.get(8..12).unwrap_or_default(),
        h.get(12..16).unwrap_or_default(),
        h.get(16..20).unwrap_or_default(),
        h.get(20..32).unwrap_or_default()
    )
}

/// A fresh key id (random UUID v4).
pub(crate) fn new_key_id() -> String {
    let mut b: [u8; 16] = ironsage_crypto::random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_string(&b)
}

fn is_uuid(s: &str) -> bool {
    uuid_bytes(s).is_some()
}

/// The parsed header of one of our ciphertext blobs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BlobHeader {
    pub account: String,
    pub key_id: String,
    pub version: u32,
}

pub(crate) fn parse_blob(blob: &[u8]) -> Option<BlobHeader> {
    if blob.len() < BLOB_HEADER + 12 + 16 || blob.first() != Some(&BLOB_V1) {
        return None;
    }
    let account = std::str::from_utf8(blob.get(1..13)?).ok()?;
    if !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key_id = uuid_string(blob.get(13..29)?);
    let mut v = [0u8; 4];
    v.copy_from_slice(blob.get(29..33)?);
    Some(BlobHeader {
        account: account.to_string(),
        key_id,
        version: u32::from_be_bytes(v),
    })
}

fn blob_header(account: &str, key_id: &str, version: u32) -> Result<Vec<u8>, AwsError> {
    let id = uuid_bytes(key_id).ok_or_else(|| kms_internal("key id is not a uuid"))?;
    if account.len() != 12 {
        return Err(kms_internal("account id is not 12 digits"));
    }
    let mut h = Vec::with_capacity(BLOB_HEADER);
    h.push(BLOB_V1);
    h.extend_from_slice(account.as_bytes());
    h.extend_from_slice(&id);
    h.extend_from_slice(&version.to_be_bytes());
    Ok(h)
}

/// AWS's default key policy: the account root may do everything, which
/// delegates access to the account's IAM policies.
pub fn default_key_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// The key policy of an AWS-managed key: use through the service by any
/// principal of the account, and read access to metadata for the account.
fn aws_managed_policy(account: &str, region: &str, service: &str, label: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-1"),
        "Statement": [
            {
                "Sid": format!("Allow access through {label} for all principals in the account that are authorized to use {label}"),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": account,
                    "kms:ViaService": format!("{service}.{region}.amazonaws.com")
                }}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

/// Which identifiers an operation accepts for `KeyId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Key id or key ARN only (key-management operations).
    KeyOnly,
    /// Also alias name and alias ARN (cryptographic operations, DescribeKey).
    AliasToo,
}

// ---------------------------------------------------------------- the service

/// Entries kept by each in-memory cache before it is cleared (bounds memory
/// whatever the number of keys).
const CACHE_MAX: usize = 4096;

/// Unwrapped symmetric key material, wiped when the last user drops it.
type SymKey = Arc<ironsage_crypto::Zeroizing<[u8; 32]>>;

/// The KMS service.
pub struct Kms {
    store: ServiceStore,
    master: MasterKey,
    /// Parsed key policies by key ARN, with the text they came from.
    policies: RwLock<HashMap<String, (String, Arc<Policy>)>>,
    /// Key documents by key id (a random uuid; account and region are
    /// checked on use), tagged with the write generation they were read at:
    /// any KMS write bumps `generation`, so an entry read before it is
    /// never served after it.
    docs: RwLock<HashMap<String, (u64, Arc<KeyDoc>)>>,
    generation: AtomicU64,
    /// Unwrapped symmetric material by (key ARN, material version). A
    /// version's material never changes once created, so entries need no
    /// invalidation.
    materials: RwLock<HashMap<String, Vec<(u32, SymKey)>>>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms").finish_non_exhaustive()
    }
}

impl Kms {
    /// Opens KMS over the shared store; the host master key is
    /// `<data_dir>/master.key` (created 0600 on first use).
    pub fn open(store: &Arc<Store>, data_dir: &Path) -> Result<Self, AwsError> {
        let master = MasterKey::load_or_create(data_dir)
            .map_err(|e| kms_internal(format!("cannot load the master key: {e}")))?;
        Ok(Kms {
            store: store.service("kms"),
            master,
            policies: RwLock::new(HashMap::new()),
            docs: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            materials: RwLock::new(HashMap::new()),
        })
    }

    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let out = self.store.write(f);
        // After the commit (or rollback): cached documents read before it
        // are stale from now on.
        self.generation.fetch_add(1, Ordering::AcqRel);
        out.map_err(internal)?
    }

    pub(crate) fn get<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        scope: &str,
        k: &str,
    ) -> Result<Option<T>, AwsError> {
        self.store
            .get(kind, scope, k)
            .map_err(internal)?
            .map(|r| decode(r.doc))
            .transpose()
    }

    pub(crate) fn all<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        scope: &str,
        parent: Option<&str>,
    ) -> Result<Vec<T>, AwsError> {
        self.store
            .list(kind, scope, parent)
            .map_err(internal)?
            .into_iter()
            .map(|r| decode(r.doc))
            .collect()
    }

    fn parsed_policy(&self, arn: &str, text: &str) -> Result<Arc<Policy>, AwsError> {
        if let Ok(c) = self.policies.read() {
            if let Some((t, p)) = c.get(arn) {
                if t == text {
                    return Ok(Arc::clone(p));
                }
            }
        }
        let p =
            Arc::new(Policy::parse(text, PolicyKind::KeyPolicy).map_err(|e| {
                kms_internal(format!("stored key policy is invalid: {}", e.message))
            })?);
        if let Ok(mut c) = self.policies.write() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(arn.to_string(), (text.to_string(), Arc::clone(&p)));
        }
        Ok(p)
    }

    pub(crate) fn key_ref(&self, d: &KeyDoc) -> Result<KeyRef, AwsError> {
        Ok(KeyRef {
            arn: d.arn.clone(),
            key_id: d.key_id.clone(),
            account: d.account.clone(),
            region: d.region.clone(),
            policy: self.parsed_policy(&d.arn, &d.policy)?,
            enabled: d.enabled,
            state: d.state.clone(),
        })
    }

    /// A key document by scope and uuid; keys whose deletion date has passed
    /// are gone.
    pub(crate) fn key_doc(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Arc<KeyDoc>, AwsError> {
        match self.cached_doc(account, region, key_id)? {
            Some(d) if !is_deleted(&d) => Ok(d),
            _ => Err(not_found(format!(
                "Key 'arn:aws:kms:{region}:{account}:key/{key_id}' does not exist"
            ))),
        }
    }

    /// A key document from the cache, or read (and cached) when the cache
    /// has none from the current write generation.
    fn cached_doc(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Option<Arc<KeyDoc>>, AwsError> {
        let gen = self.generation.load(Ordering::Acquire);
        if let Ok(c) = self.docs.read() {
            if let Some((g, d)) = c.get(key_id) {
                if *g == gen && d.account == account && d.region == region {
                    return Ok(Some(Arc::clone(d)));
                }
            }
        }
        let scope = format!("{account}/{region}");
        let Some(d) = self.get::<KeyDoc>(KEY, &scope, key_id)? else {
            return Ok(None);
        };
        let d = Arc::new(d);
        if let Ok(mut c) = self.docs.write() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(key_id.to_string(), (gen, Arc::clone(&d)));
        }
        Ok(Some(d))
    }

    /// Resolves a `KeyId` member as the operation allows: uuid, key ARN and,
    /// with [`Accept::AliasToo`], alias name and alias ARN.
    pub(crate) fn resolve_doc(
        &self,
        account: &str,
        region: &str,
        key: &str,
        accept: Accept,
    ) -> Result<Arc<KeyDoc>, AwsError> {
        if let Some(rest) = key.strip_prefix("arn:aws:kms:") {
            let mut parts = rest.splitn(3, ':');
            let (r, a, res) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            if let Some(id) = res.strip_prefix("key/") {
                if is_uuid(id) {
                    return self.key_doc(a, r, id);
                }
            } else if let Some(name) = res.strip_prefix("alias/") {
                if accept == Accept::AliasToo {
                    return self.alias_target(a, r, &format!("alias/{name}"));
                }
            }
            return Err(not_found(format!("Invalid keyId '{key}'")));
        }
        if key.starts_with("alias/") {
            if accept == Accept::AliasToo {
                return self.alias_target(account, region, key);
            }
            return Err(not_found(format!("Invalid keyId '{key}'")));
        }
        if is_uuid(key) {
            return self.key_doc(account, region, key);
        }
        Err(not_found(format!("Invalid keyId '{key}'")))
    }

    fn alias_target(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Arc<KeyDoc>, AwsError> {
        let scope = format!("{account}/{region}");
        match self.get::<AliasDoc>(ALIAS, &scope, name)? {
            Some(a) => self.key_doc(account, region, &a.target),
            None => {
                if let Some(svc) = name.strip_prefix("alias/aws/") {
                    if AWS_MANAGED.iter().any(|(s, _)| *s == svc) {
                        let r = self.aws_managed_key(account, region, svc)?;
                        return self.key_doc(&r.account, &r.region, &r.key_id);
                    }
                }
                Err(not_found(format!(
                    "Alias arn:aws:kms:{region}:{account}:{name} is not found."
                )))
            }
        }
    }

    /// Checks that a key can be used for a cryptographic operation.
    pub(crate) fn check_usable(d: &KeyDoc) -> Result<(), AwsError> {
        match d.state.as_str() {
            "Enabled" => Ok(()),
            "Disabled" => Err(err("DisabledException", format!("{} is disabled.", d.arn))),
            "PendingDeletion" => Err(invalid_state(format!("{} is pending deletion.", d.arn))),
            other => Err(invalid_state(format!("{} is {other}.", d.arn))),
        }
    }

    fn purpose(arn: &str, version: u32) -> String {
        format!("{arn}#{version}")
    }

    pub(crate) fn wrap_material(&self, arn: &str, version: u32, material: &[u8]) -> String {
        b64(&self.master.wrap(&Self::purpose(arn, version), material))
    }

    /// The plaintext material of a version.
    pub(crate) fn material(
        &self,
        d: &KeyDoc,
        version: u32,
    ) -> Result<ironsage_crypto::Zeroizing<Vec<u8>>, AwsError> {
        let m = d
            .materials
            .iter()
            .find(|m| m.version == version)
            .ok_or_else(invalid_ciphertext)?;
        let wrapped = unb64(&m.wrapped).ok_or_else(|| kms_internal("corrupt wrapped material"))?;
        self.master
            .unwrap(&Self::purpose(&d.arn, version), &wrapped)
            .map(ironsage_crypto::Zeroizing::new)
            .map_err(|e| kms_internal(format!("cannot unwrap key material: {e}")))
    }

    /// The 32-byte symmetric material of a version, unwrapped once and
    /// then served from memory.
    fn sym_key(&self, d: &KeyDoc, version: u32) -> Result<SymKey, AwsError> {
        if let Ok(c) = self.materials.read() {
            if let Some((_, k)) = c
                .get(d.arn.as_str())
                .and_then(|v| v.iter().find(|(n, _)| *n == version))
            {
                return Ok(Arc::clone(k));
            }
        }
        let material = self.material(d, version)?;
        let mut key = ironsage_crypto::Zeroizing::new([0u8; 32]);
        if material.len() != 32 {
            return Err(kms_internal("symmetric material is not 32 bytes"));
        }
        key.copy_from_slice(&material);
        let key = Arc::new(key);
        if let Ok(mut c) = self.materials.write() {
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            let versions = c.entry(d.arn.clone()).or_default();
            versions.retain(|(n, _)| *n != version);
            versions.push((version, Arc::clone(&key)));
        }
        Ok(key)
    }

    /// The current material version, rotating first if automatic rotation
    /// is due.
    pub(crate) fn current_version(
        &self,
        d: &Arc<KeyDoc>,
        now: i64,
    ) -> Result<(Arc<KeyDoc>, u32), AwsError> {
        let due = d.next_rotation.is_some_and(|n| now >= n) && d.key_spec == "SYMMETRIC_DEFAULT";
        let d = if due {
            Arc::new(self.rotate(d, "AUTOMATIC", now)?)
        } else {
            Arc::clone(d)
        };
        let v = d
            .materials
            .iter()
            .map(|m| m.version)
            .max()
            .ok_or_else(|| kms_internal("key has no material"))?;
        Ok((d, v))
    }

    /// Adds a new material version to a symmetric key.
    pub(crate) fn rotate(&self, d: &KeyDoc, kind: &str, now: i64) -> Result<KeyDoc, AwsError> {
        let scope = d.scope();
        let key_id = d.key_id.clone();
        let kind = kind.to_string();
        self.write(move |tx| {
            let mut cur: KeyDoc =
                tget(tx, KEY, &scope, &key_id)?.ok_or_else(|| not_found("key vanished"))?;
            let next = cur.materials.iter().map(|m| m.version).max().unwrap_or(0) + 1;
            let material = ironsage_crypto::Zeroizing::new(ironsage_crypto::random_bytes::<32>());
            cur.materials.push(Material {
                version: next,
                wrapped: self.wrap_material(&cur.arn, next, &material[..]),
                created: now,
            });
            cur.rotations.push((now, kind));
            if let Some(p) = cur.rotation_period {
                cur.next_rotation = Some(now + p * 86_400);
            }
            tput(tx, KEY, &scope, &key_id, None, &cur)?;
            Ok(cur)
        })
    }

    /// Seals `plaintext` under a symmetric key's current material.
    pub(crate) fn seal_with(
        &self,
        d: &Arc<KeyDoc>,
        plaintext: &[u8],
        context: &[(String, String)],
    ) -> Result<Vec<u8>, AwsError> {
        Self::check_usable(d)?;
        if d.key_spec != "SYMMETRIC_DEFAULT" {
            return Err(err(
                "InvalidKeyUsageException",
                format!(
                    "{} key usage is {} and key spec is {}: it cannot encrypt with SYMMETRIC_DEFAULT.",
                    d.arn, d.key_usage, d.key_spec
                ),
            ));
        }
        let (d, version) = self.current_version(d, crate::util::now().unix_timestamp())?;
        let key = self.sym_key(&d, version)?;
        let header = blob_header(&d.account, &d.key_id, version)?;
        let mut aad = header.clone();
        canonical_context_into(context, &mut aad);
        let iv = ironsage_crypto::random_bytes::<12>();
        let mut out = header;
        out.extend_from_slice(&iv);
        out.extend_from_slice(&ironsage_crypto::seal(&key, &iv, &aad, plaintext));
        Ok(out)
    }

    /// Opens one of our blobs with the key document it names.
    pub(crate) fn open_with(
        &self,
        d: &KeyDoc,
        blob: &[u8],
        context: &[(String, String)],
    ) -> Result<Vec<u8>, AwsError> {
        let h = parse_blob(blob).ok_or_else(invalid_ciphertext)?;
        if h.key_id != d.key_id || h.account != d.account {
            return Err(invalid_ciphertext());
        }
        Self::check_usable(d)?;
        if !d.materials.iter().any(|m| m.version == h.version) {
            return Err(invalid_ciphertext());
        }
        let key = self
            .sym_key(d, h.version)
            .map_err(|_| invalid_ciphertext())?;
        let (header, rest) = blob.split_at(BLOB_HEADER);
        let (iv, sealed) = rest.split_at(12);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(iv);
        let mut aad = header.to_vec();
        canonical_context_into(context, &mut aad);
        ironsage_crypto::open(&key, &nonce, &aad, sealed).map_err(|_| invalid_ciphertext())
    }

    fn create_aws_managed(
        &self,
        account: &str,
        region: &str,
        service: &str,
        label: &str,
    ) -> Result<KeyDoc, AwsError> {
        let scope = format!("{account}/{region}");
        let alias = format!("alias/aws/{service}");
        let now = crate::util::now().unix_timestamp();
        self.write(|tx| {
            if let Some(a) = tget::<AliasDoc>(tx, ALIAS, &scope, &alias)? {
                if let Some(d) = tget::<KeyDoc>(tx, KEY, &scope, &a.target)? {
                    return Ok(d);
                }
            }
            let key_id = new_key_id();
            let arn = format!("arn:aws:kms:{region}:{account}:key/{key_id}");
            let material = ironsage_crypto::Zeroizing::new(ironsage_crypto::random_bytes::<32>());
            let d = KeyDoc {
                key_id: key_id.clone(),
                arn: arn.clone(),
                account: account.to_string(),
                region: region.to_string(),
                created: now,
                enabled: true,
                state: "Enabled".into(),
                description: format!(
                    "Default key that protects my {label} data when no other key is defined"
                ),
                key_usage: "ENCRYPT_DECRYPT".into(),
                key_spec: "SYMMETRIC_DEFAULT".into(),
                key_manager: "AWS".into(),
                origin: "AWS_KMS".into(),
                policy: aws_managed_policy(account, region, service, label),
                deletion_date: None,
                pending_window: None,
                // AWS-managed keys rotate every year.
                rotation_period: Some(365),
                next_rotation: Some(now + 365 * 86_400),
                rotations: Vec::new(),
                materials: vec![Material {
                    version: 1,
                    wrapped: self.wrap_material(&arn, 1, &material[..]),
                    created: now,
                }],
                tags: Vec::new(),
            };
            tput(tx, KEY, &scope, &key_id, None, &d)?;
            tput(
                tx,
                ALIAS,
                &scope,
                &alias,
                Some(&key_id),
                &AliasDoc {
                    name: alias.clone(),
                    target: key_id.clone(),
                    created: now,
                    updated: now,
                },
            )?;
            Ok(d)
        })
    }

    // ------------------------------------------------------------ internal API

    /// Resolves a key the way the cryptographic operations do: uuid, key
    /// ARN, `alias/name` or alias ARN (`NotFoundException` otherwise).
    pub fn resolve_key(&self, account: &str, region: &str, key: &str) -> Result<KeyRef, AwsError> {
        let d = self.resolve_doc(account, region, key, Accept::AliasToo)?;
        self.key_ref(&d)
    }

    /// The AWS-managed key `alias/aws/<service>`, created on first use.
    pub fn aws_managed_key(
        &self,
        account: &str,
        region: &str,
        service: &str,
    ) -> Result<KeyRef, AwsError> {
        let scope = format!("{account}/{region}");
        let alias = format!("alias/aws/{service}");
        if let Some(a) = self.get::<AliasDoc>(ALIAS, &scope, &alias)? {
            if let Ok(d) = self.key_doc(account, region, &a.target) {
                return self.key_ref(&d);
            }
        }
        let label = AWS_MANAGED
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, l)| *l)
            .unwrap_or(service);
        let d = self.create_aws_managed(account, region, service, label)?;
        self.key_ref(&d)
    }

    /// The authorization check for using `key` with `action` (e.g.
    /// `kms:GenerateDataKey`), optionally on behalf of a service
    /// (`kms:ViaService`, e.g. `s3.us-east-1.amazonaws.com`).
    pub fn key_target(
        &self,
        key: &KeyRef,
        action: &str,
        via_service: Option<&str>,
        caller_account: &str,
        context: &[(String, String)],
    ) -> Target {
        let mut t = Target::new(action, key.arn.clone());
        t.resource_policy = Some((format!("{} (key policy)", key.arn), Arc::clone(&key.policy)));
        t.resource_account = Some(key.account.clone());
        t = t.with_context("kms:CallerAccount", vec![caller_account.to_string()]);
        if let Some(v) = via_service {
            t = t.with_context("kms:ViaService", vec![v.to_string()]);
        }
        add_context_keys(t, context)
    }

    /// A fresh 256-bit data key and its ciphertext blob under `key`.
    pub fn generate_data_key(
        &self,
        key: &KeyRef,
        context: &[(String, String)],
    ) -> Result<([u8; 32], Vec<u8>), AwsError> {
        let d = self.key_doc(&key.account, &key.region, &key.key_id)?;
        let dk = ironsage_crypto::random_bytes::<32>();
        let blob = self.seal_with(&d, &dk, context)?;
        Ok((dk, blob))
    }

    /// Encrypts `plaintext` under a symmetric key.
    pub fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        context: &[(String, String)],
    ) -> Result<Vec<u8>, AwsError> {
        let d = self.key_doc(&key.account, &key.region, &key.key_id)?;
        self.seal_with(&d, plaintext, context)
    }

    /// Decrypts one of our blobs; the key is the one the blob names (in its
    /// own account, in `region`).
    pub fn decrypt(
        &self,
        account: &str,
        region: &str,
        blob: &[u8],
        context: &[(String, String)],
    ) -> Result<(KeyRef, Vec<u8>), AwsError> {
        let d = self.blob_key_doc(account, region, blob)?;
        let pt = self.open_with(&d, blob, context)?;
        Ok((self.key_ref(&d)?, pt))
    }

    /// The key a ciphertext blob belongs to (to authorize Decrypt before
    /// doing it).
    pub fn key_for_blob(
        &self,
        account: &str,
        region: &str,
        blob: &[u8],
    ) -> Result<KeyRef, AwsError> {
        let d = self.blob_key_doc(account, region, blob)?;
        self.key_ref(&d)
    }

    pub(crate) fn blob_key_doc(
        &self,
        _account: &str,
        region: &str,
        blob: &[u8],
    ) -> Result<Arc<KeyDoc>, AwsError> {
        let h = parse_blob(blob).ok_or_else(invalid_ciphertext)?;
        self.key_doc(&h.account, region, &h.key_id)
            .map_err(|_| invalid_ciphertext())
    }

    /// The grants on a key.
    pub fn grants(&self, key: &KeyRef) -> Result<Vec<Grant>, AwsError> {
        self.all(
            GRANT,
            &format!("{}/{}", key.account, key.region),
            Some(&key.key_id),
        )
    }
}

fn is_deleted(d: &KeyDoc) -> bool {
    d.state == "PendingDeletion"
        && d.deletion_date
            .is_some_and(|t| crate::util::now().unix_timestamp() >= t)
}

/// Adds `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys`.
pub(crate) fn add_context_keys(mut t: Target, context: &[(String, String)]) -> Target {
    if !context.is_empty() {
        for (k, v) in context {
            t = t.with_context(format!("kms:EncryptionContext:{k}"), vec![v.clone()]);
        }
        t = t.with_context(
            "kms:EncryptionContextKeys",
            context.iter().map(|(k, _)| k.clone()).collect(),
        );
    }
    t
}

impl Service for Kms {
    fn name(&self) -> &'static str {
        "kms"
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError> {
        ops::targets(self, ctx, op, input)
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        ops::call(self, ctx, op, &input)
    }
}
