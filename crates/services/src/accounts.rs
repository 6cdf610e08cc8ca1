//! The accounts this cloud hosts. On first start a management account is
//! created with root access keys; tests and scripts may preset its id and keys.

use std::sync::Arc;

use ironsage_store::{ServiceStore, Store};
use serde::{Deserialize, Serialize};

use crate::credentials::{AccessKey, Credentials, KeyStatus};
use crate::{ids, internal, util, AwsError, Caller, PrincipalKind};

const KIND: &str = "account";
const SCOPE: &str = "global";

/// One account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// 12-digit id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Whether this is the organization's management account.
    pub management: bool,
    /// Creation time, ISO 8601.
    pub created: String,
}

/// What to preset on first start.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    /// Account id to use instead of a random one.
    pub account_id: Option<String>,
    /// Root access key id to use instead of a random one.
    pub access_key_id: Option<String>,
    /// Root secret to use instead of a random one.
    pub secret_access_key: Option<String>,
}

/// The account registry.
#[derive(Debug)]
pub struct Accounts {
    store: ServiceStore,
}

impl Accounts {
    /// Opens the registry.
    pub fn open(store: &Arc<Store>) -> Self {
        Accounts {
            store: store.service("accounts"),
        }
    }

    /// Every account, ordered by id.
    pub fn list(&self) -> Result<Vec<Account>, AwsError> {
        Ok(self
            .store
            .list(KIND, SCOPE, None)
            .map_err(internal)?
            .into_iter()
            .filter_map(|r| serde_json::from_value(r.doc).ok())
            .collect())
    }

    /// The management account, if created.
    pub fn management(&self) -> Result<Option<Account>, AwsError> {
        Ok(self.list()?.into_iter().find(|a| a.management))
    }

    /// Creates the management account and its root key on first start
    /// (idempotent: an existing account is returned unchanged, with the
    /// root key currently on record). Returns the account and its root key.
    pub fn ensure_management(
        &self,
        creds: &Credentials,
        boot: &Bootstrap,
    ) -> Result<(Account, AccessKey), AwsError> {
        let account = match self.management()? {
            Some(a) => a,
            None => {
                let id = boot.account_id.clone().unwrap_or_else(ids::account_id);
                if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(AwsError::new(
                        "ValidationError",
                        format!("account id {id} is not 12 digits"),
                        400,
                    ));
                }
                let a = Account {
                    id: id.clone(),
                    name: "management".into(),
                    email: format!("root+{id}@ironsage.local"),
                    management: true,
                    created: util::iso(util::now()),
                };
                let doc = serde_json::to_value(&a)
                    .map_err(|e| AwsError::new("InternalFailure", e.to_string(), 500))?;
                self.store
                    .write(|tx| tx.put(KIND, SCOPE, &id, None, &doc))
                    .map_err(internal)?
                    .map_err(internal)?;
                a
            }
        };
        let existing = creds.keys_where(|k| {
            k.caller.account == account.id && k.caller.is_root() && k.caller.session.is_none()
        });
        if let Some(k) = existing.first() {
            return Ok((account, (**k).clone()));
        }
        let akid = boot
            .access_key_id
            .clone()
            .unwrap_or_else(|| ids::access_key_id("AKIA"));
        let key = AccessKey {
            access_key_id: akid.clone(),
            secret_access_key: boot
                .secret_access_key
                .clone()
                .unwrap_or_else(ids::secret_access_key),
            session_token: None,
            caller: Caller {
                account: account.id.clone(),
                kind: PrincipalKind::Root,
                access_key_id: akid,
                session: None,
            },
            status: KeyStatus::Active,
            created: util::iso(util::now()),
            last_used: None,
        };
        creds.put(key.clone())?;
        Ok((account, key))
    }
}

impl Accounts {
    /// One account by id.
    pub fn get(&self, id: &str) -> Result<Option<Account>, AwsError> {
        Ok(self
            .store
            .get(KIND, SCOPE, id)
            .map_err(internal)?
            .and_then(|r| serde_json::from_value(r.doc).ok()))
    }

    /// Creates a new (member) account with a fresh 12-digit id, as
    /// Organizations' `CreateAccount` does. Returns `None`, writing nothing,
    /// when another account already uses `email` (case-insensitively).
    pub fn create_member(
        &self,
        name: &str,
        email: &str,
        created: &str,
    ) -> Result<Option<Account>, AwsError> {
        self.store
            .write(|tx| -> Result<Option<Account>, AwsError> {
                let rows = tx.list(KIND, SCOPE, None).map_err(internal)?;
                let existing: Vec<Account> = rows
                    .into_iter()
                    .filter_map(|r| serde_json::from_value(r.doc).ok())
                    .collect();
                if existing.iter().any(|a| a.email.eq_ignore_ascii_case(email)) {
                    return Ok(None);
                }
                let mut id = ids::account_id();
                while existing.iter().any(|a| a.id == id) {
                    id = ids::account_id();
                }
                let a = Account {
                    id: id.clone(),
                    name: name.to_string(),
                    email: email.to_string(),
                    management: false,
                    created: created.to_string(),
                };
                let doc = serde_json::to_value(&a)
                    .map_err(|e| AwsError::new("InternalFailure", e.to_string(), 500))?;
                tx.put(KIND, SCOPE, &id, None, &doc).map_err(internal)?;
                Ok(Some(a))
            })
            .map_err(internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_is_stable_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let first = {
            let store = Store::open(&path, Default::default()).unwrap();
            let creds = Credentials::open(&store).unwrap();
            Accounts::open(&store)
                .ensure_management(&creds, &Bootstrap::default())
                .unwrap()
        };
        let store = Store::open(&path, Default::default()).unwrap();
        let creds = Credentials::open(&store).unwrap();
        let second = Accounts::open(&store)
            .ensure_management(&creds, &Bootstrap::default())
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(
            creds
                .lookup(&first.1.access_key_id)
                .unwrap()
                .secret_access_key,
            first.1.secret_access_key
        );
    }

    #[test]
    fn preset_keys_are_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db"), Default::default()).unwrap();
        let creds = Credentials::open(&store).unwrap();
        let boot = Bootstrap {
            account_id: Some("123456789012".into()),
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
        };
        let (a, k) = Accounts::open(&store)
            .ensure_management(&creds, &boot)
            .unwrap();
        assert_eq!(a.id, "123456789012");
        assert_eq!(k.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    }
}
