//! The assembled cloud: store, registries and services.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ironsage_services::accounts::{Account, Accounts, Bootstrap};
use ironsage_services::cloudformation::CloudFormation;
use ironsage_services::credentials::{AccessKey, Credentials};
use ironsage_services::ec2::Ec2;
use ironsage_services::iam::Iam;
use ironsage_services::kms::Kms;
use ironsage_services::organizations::Organizations;
use ironsage_services::s3::S3;
use ironsage_services::ssm::Ssm;
use ironsage_services::sts::Sts;
use ironsage_services::{AwsError, Service};
use ironsage_store::{Durability, Store};

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory (created if missing).
    pub data_dir: PathBuf,
    /// SQLite durability.
    pub durability: Durability,
    /// First-start presets.
    pub bootstrap: Bootstrap,
    /// The default region clients are told to use.
    pub region: String,
}

/// Everything a request needs, shared by all connections.
#[derive(Debug)]
pub struct App {
    /// The metadata store.
    pub store: Arc<Store>,
    /// Access keys.
    pub credentials: Arc<Credentials>,
    /// Accounts.
    pub accounts: Accounts,
    /// IAM (also consulted by the authorizer).
    pub iam: Arc<Iam>,
    /// KMS (also used by S3 and SSM for envelope encryption).
    pub kms: Arc<Kms>,
    /// Organizations (service control policies for the authorizer).
    pub organizations: Arc<Organizations>,
    /// EC2 (VPC endpoints give requests their network identity).
    pub ec2: Arc<Ec2>,
    /// Implemented services by botocore name.
    pub services: HashMap<&'static str, Arc<dyn Service>>,
    /// The management account.
    pub management: Account,
    /// Its root key.
    pub root_key: AccessKey,
    /// Start time (health reports uptime).
    pub started: Instant,
    /// Configuration.
    pub config: Config,
    /// Recent authorization decisions, for `ironsage iam explain`.
    pub decisions: crate::authz::DecisionLog,
    /// The service-to-service invoker handed to services (bound to this app).
    pub internal: ironsage_services::InternalHandle,
}

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Data directory or store.
    #[error("cannot open the data directory {0}: {1}")]
    Store(PathBuf, String),
    /// A service failed to open.
    #[error("cannot start: {0}")]
    Service(String),
}

impl From<AwsError> for StartError {
    fn from(e: AwsError) -> Self {
        StartError::Service(format!("{}: {}", e.code, e.message))
    }
}

impl App {
    /// Opens the data directory and assembles every service.
    pub fn open(config: Config) -> Result<Arc<App>, StartError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::Store(config.data_dir.clone(), e.to_string()))?;
        restrict_dir(&config.data_dir);
        std::fs::create_dir_all(config.data_dir.join("blobs"))
            .map_err(|e| StartError::Store(config.data_dir.clone(), e.to_string()))?;
        let db = config.data_dir.join("state.db");
        let store = Store::open(&db, config.durability)
            .map_err(|e| StartError::Store(db.clone(), e.to_string()))?;
        if store.read_only() {
            return Err(StartError::Store(
                config.data_dir.clone(),
                "another ironsage server is using it (stop it, or pass another --data-dir)".into(),
            ));
        }
        restrict_file(&db);
        let credentials = Arc::new(Credentials::open(&store)?);
        let accounts = Accounts::open(&store);
        let (management, root_key) = accounts.ensure_management(&credentials, &config.bootstrap)?;
        let iam = Arc::new(Iam::open(&store, Arc::clone(&credentials))?);
        let sts = Arc::new(Sts::new(Arc::clone(&credentials), Arc::clone(&iam)));
        let internal = ironsage_services::InternalHandle::default();
        let kms = Arc::new(Kms::open(&store, &config.data_dir)?);
        let mut services: HashMap<&'static str, Arc<dyn Service>> = HashMap::new();
        services.insert("iam", iam.clone());
        services.insert("sts", sts);
        services.insert("kms", kms.clone());
        let organizations = Arc::new(Organizations::open(&store, Arc::clone(&iam)));
        services.insert("organizations", organizations.clone());
        services.insert("ssm", Arc::new(Ssm::open(&store, Arc::clone(&kms))?));
        let ec2 = Arc::new(Ec2::open(&store)?);
        services.insert("ec2", ec2.clone());
        let s3 = S3::open(&store, &config.data_dir, Arc::clone(&kms))
            .map_err(|e| StartError::Store(config.data_dir.clone(), e.to_string()))?;
        services.insert("s3", Arc::new(s3));
        let _ = credentials.sweep_expired(time::OffsetDateTime::now_utc().unix_timestamp());
        // What start-up wrote (the management account, its root key) is in
        // SQLite before the first answer, for CLI commands that read it
        // while the server runs.
        store
            .flush()
            .map_err(|e| StartError::Store(db.clone(), e.to_string()))?;
        let decisions = crate::authz::DecisionLog::with_file(&config.data_dir);
        let cloudformation = CloudFormation::open(&store, internal.clone())?;
        services.insert("cloudformation", Arc::new(cloudformation.clone()));
        let app = Arc::new(App {
            store,
            credentials,
            accounts,
            iam,
            kms,
            organizations,
            ec2,
            services,
            management,
            root_key,
            started: Instant::now(),
            config,
            decisions,
            internal,
        });
        crate::internal::bind(&app);
        // Interrupted stack operations resume or roll back, in the background.
        cloudformation.resume();
        Ok(app)
    }
}

#[cfg(unix)]
fn restrict_dir(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
}

#[cfg(unix)]
fn restrict_file(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
}
#[cfg(not(unix))]
fn restrict_dir(_: &std::path::Path) {}
#[cfg(not(unix))]
fn restrict_file(_: &std::path::Path) {}
