//! Every access key this cloud knows — account root keys, IAM user keys and
//! temporary (STS) keys — and the principal each one stands for.
//!
//! The authentication layer looks keys up on every request, so lookups are
//! served from an in-memory map that is written through: a change is
//! committed to the store first, then applied to the map.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ironsage_store::{ServiceStore, Store};
use serde::{Deserialize, Serialize};

use crate::{internal, AwsError, Caller};

const KIND: &str = "key";
const SCOPE: &str = "global";

/// Active or Inactive, as IAM reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Disabled by UpdateAccessKey.
    Inactive,
}

/// One access key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    /// The key id (`AKIA…`/`ASIA…`).
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
    /// Session token for temporary keys.
    #[serde(default)]
    pub session_token: Option<String>,
    /// The principal (with `access_key_id` set to this key).
    pub caller: Caller,
    /// Active/Inactive.
    pub status: KeyStatus,
    /// Creation time, ISO 8601.
    pub created: String,
    /// Last use time, ISO 8601 (not persisted per request).
    #[serde(default)]
    pub last_used: Option<String>,
}

/// The key registry.
#[derive(Debug)]
pub struct Credentials {
    store: ServiceStore,
    cache: RwLock<HashMap<String, Arc<AccessKey>>>,
}

impl Credentials {
    /// Opens the registry and loads every key.
    pub fn open(store: &Arc<Store>) -> Result<Self, AwsError> {
        let store = store.service("credentials");
        let mut map = HashMap::new();
        for (_scope, row) in store.list_all_scopes(KIND).map_err(internal)? {
            if let Ok(k) = serde_json::from_value::<AccessKey>(row.doc) {
                map.insert(k.access_key_id.clone(), Arc::new(k));
            }
        }
        Ok(Credentials {
            store,
            cache: RwLock::new(map),
        })
    }

    /// Looks a key up (any status, any expiry: the caller decides).
    pub fn lookup(&self, access_key_id: &str) -> Option<Arc<AccessKey>> {
        self.cache.read().ok()?.get(access_key_id).cloned()
    }

    /// Stores a new or changed key.
    pub fn put(&self, key: AccessKey) -> Result<(), AwsError> {
        let doc = serde_json::to_value(&key)
            .map_err(|e| AwsError::new("InternalFailure", e.to_string(), 500))?;
        let parent = key.caller.account.clone();
        self.store
            .write(|tx| tx.put(KIND, SCOPE, &key.access_key_id, Some(&parent), &doc))
            .map_err(internal)?
            .map_err(internal)?;
        if let Ok(mut c) = self.cache.write() {
            c.insert(key.access_key_id.clone(), Arc::new(key));
        }
        Ok(())
    }

    /// Deletes a key; returns whether it existed.
    pub fn delete(&self, access_key_id: &str) -> Result<bool, AwsError> {
        let existed = self
            .store
            .write(|tx| tx.delete(KIND, SCOPE, access_key_id))
            .map_err(internal)?
            .map_err(internal)?;
        if let Ok(mut c) = self.cache.write() {
            c.remove(access_key_id);
        }
        Ok(existed)
    }

    /// Every long-term key of an account whose principal matches `pred`.
    pub fn keys_where(&self, pred: impl Fn(&AccessKey) -> bool) -> Vec<Arc<AccessKey>> {
        let mut v: Vec<_> = self
            .cache
            .read()
            .map(|c| c.values().filter(|k| pred(k)).cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| {
            a.created
                .cmp(&b.created)
                .then(a.access_key_id.cmp(&b.access_key_id))
        });
        v
    }

    /// Removes expired temporary keys from the store and the cache.
    pub fn sweep_expired(&self, now_epoch: i64) -> Result<usize, AwsError> {
        let expired: Vec<String> = self
            .keys_where(|k| {
                k.caller
                    .session
                    .as_ref()
                    .is_some_and(|s| s.expiration < now_epoch)
            })
            .iter()
            .map(|k| k.access_key_id.clone())
            .collect();
        for id in &expired {
            self.delete(id)?;
        }
        Ok(expired.len())
    }
}
