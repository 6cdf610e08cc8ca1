//! `ironsage`: a local, AWS-API-compatible cloud for secure ML platforms.
//!
//! ```text
//! ironsage serve [--port P] [--bind ADDR] [--data-dir D]   run the cloud in the foreground
//! ironsage env   [--data-dir D]                            print `export` lines for the aws CLI / boto3
//! ironsage iam explain [--last N]                          recent authorization decisions (from a running server's log)
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use ironsage_server::{App, Config};
use ironsage_services::accounts::{Accounts, Bootstrap};
use ironsage_services::credentials::{AccessKey, Credentials};
use ironsage_store::{Durability, Store};

/// mimalloc instead of glibc's malloc: a request allocates and frees a few
/// hundred small blocks across threads, and glibc's arena bookkeeping
/// (consolidation, chunk unlinking) cost a fifth of a PutObject's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The fixed default port (documented in the README).
const DEFAULT_PORT: u16 = 4599;
const DEFAULT_REGION: &str = "us-east-1";
const PROFILE: &str = "ironsage";

const USAGE: &str = "usage:
  ironsage serve [--port P] [--bind ADDR] [--data-dir D] [--durability normal|full]
                 [--account-id ID] [--root-access-key-id AK] [--root-secret-access-key SK]
  ironsage env   [--data-dir D]
  ironsage iam explain [--data-dir D] [--last N] [--request-id ID] [--denied]
  ironsage endpoints env --vpc VPC_ID [--data-dir D]
  ironsage cfn types                                 CloudFormation resource types with a provider
  ironsage --version

environment: IRONSAGE_DATA_DIR, IRONSAGE_PORT, IRONSAGE_BIND, IRONSAGE_REGION,
             IRONSAGE_ACCOUNT_ID, IRONSAGE_ROOT_ACCESS_KEY_ID, IRONSAGE_ROOT_SECRET_ACCESS_KEY";

#[derive(Debug, Default)]
struct Args {
    port: Option<u16>,
    bind: Option<IpAddr>,
    data_dir: Option<PathBuf>,
    durability: Option<Durability>,
    account_id: Option<String>,
    root_akid: Option<String>,
    root_secret: Option<String>,
}

fn parse_args(rest: &[String]) -> Result<Args> {
    let mut a = Args::default();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--port" => a.port = Some(value()?.parse().context("--port must be a number")?),
            "--bind" => a.bind = Some(value()?.parse().context("--bind must be an IP address")?),
            "--data-dir" => a.data_dir = Some(PathBuf::from(value()?)),
            "--durability" => {
                a.durability = Some(match value()?.as_str() {
                    "normal" => Durability::Normal,
                    "full" => Durability::Full,
                    other => bail!("--durability must be normal or full, not {other}"),
                })
            }
            "--account-id" => a.account_id = Some(value()?),
            "--root-access-key-id" => a.root_akid = Some(value()?),
            "--root-secret-access-key" => a.root_secret = Some(value()?),
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(a)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn data_dir(a: &Args) -> PathBuf {
    if let Some(d) = &a.data_dir {
        return d.clone();
    }
    if let Some(d) = env("IRONSAGE_DATA_DIR") {
        return PathBuf::from(d);
    }
    match env("HOME") {
        Some(h) => Path::new(&h).join(".ironsage"),
        None => PathBuf::from(".ironsage"),
    }
}

fn bootstrap(a: &Args) -> Bootstrap {
    Bootstrap {
        account_id: a.account_id.clone().or_else(|| env("IRONSAGE_ACCOUNT_ID")),
        access_key_id: a
            .root_akid
            .clone()
            .or_else(|| env("IRONSAGE_ROOT_ACCESS_KEY_ID")),
        secret_access_key: a
            .root_secret
            .clone()
            .or_else(|| env("IRONSAGE_ROOT_SECRET_ACCESS_KEY")),
    }
}

fn region() -> String {
    env("IRONSAGE_REGION").unwrap_or_else(|| DEFAULT_REGION.to_string())
}

/// Writes a file readable only by its owner.
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The AWS CLI credentials and config files for the root key.
fn write_client_files(dir: &Path, key: &AccessKey, region: &str) -> Result<()> {
    write_private(
        &dir.join("credentials"),
        &format!(
            "[{PROFILE}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.access_key_id, key.secret_access_key
        ),
    )?;
    write_private(
        &dir.join("config"),
        // S3 presigned URLs: SigV4 (botocore's default for S3 presigning is
        // still the legacy SigV2 query form, which ironsage does not accept).
        &format!("[profile {PROFILE}]\nregion = {region}\noutput = json\ns3 =\n    signature_version = s3v4\n"),
    )?;
    Ok(())
}

fn endpoint_file(dir: &Path) -> PathBuf {
    dir.join("endpoint")
}

fn cmd_serve(a: Args) -> Result<()> {
    let dir = data_dir(&a);
    let port = match a.port {
        Some(p) => p,
        None => env("IRONSAGE_PORT")
            .map(|p| p.parse())
            .transpose()?
            .unwrap_or(DEFAULT_PORT),
    };
    let bind: IpAddr = match a.bind {
        Some(b) => b,
        None => env("IRONSAGE_BIND")
            .map(|b| b.parse())
            .transpose()
            .context("IRONSAGE_BIND must be an IP address")?
            .unwrap_or(IpAddr::from([127, 0, 0, 1])),
    };
    let region = region();
    let config = Config {
        data_dir: dir.clone(),
        durability: a.durability.unwrap_or_default(),
        bootstrap: bootstrap(&a),
        region: region.clone(),
    };
    // One event-loop thread serves every connection; blocking work (bulk I/O,
    // crypto) goes to tokio's blocking pool. Measured on 2 cores: less CPU per
    // request and more requests/s than the work-stealing scheduler, whose
    // cross-thread wake-ups dominate small AWS calls (see bench/README.md).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = ironsage_server::bind(SocketAddr::new(bind, port))
            .await
            .with_context(|| format!("cannot listen on {bind}:{port}"))?;
        let addr = listener.local_addr()?;
        let app: Arc<App> = App::open(config)?;
        write_client_files(&dir, &app.root_key, &region)?;
        let host = if addr.ip().is_unspecified() {
            IpAddr::from([127, 0, 0, 1])
        } else {
            addr.ip()
        };
        let url = format!("http://{}", SocketAddr::new(host, addr.port()));
        write_private(&endpoint_file(&dir), &format!("{url}\n"))?;
        println!(
            "ironsage {} listening on {url} (account {}, data dir {})",
            env!("CARGO_PKG_VERSION"),
            app.management.id,
            dir.display()
        );
        println!(
            "use it:  eval \"$(ironsage env --data-dir {})\" && aws sts get-caller-identity",
            dir.display()
        );
        ironsage_server::serve(app, listener).await?;
        Ok(())
    })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn cmd_env(a: Args) -> Result<()> {
    let dir = data_dir(&a);
    std::fs::create_dir_all(&dir)?;
    let region = region();
    // Bootstrap here too, so `eval "$(ironsage env)"` works before the first serve.
    let store = Store::open(&dir.join("state.db"), Durability::Normal)?;
    let creds =
        Credentials::open(&store).map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let (_acct, key) = Accounts::open(&store)
        .ensure_management(&creds, &bootstrap(&a))
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    write_client_files(&dir, &key, &region)?;
    let url = std::fs::read_to_string(endpoint_file(&dir))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("http://127.0.0.1:{DEFAULT_PORT}"));
    let abs = std::fs::canonicalize(&dir).unwrap_or(dir);
    println!("export AWS_ENDPOINT_URL={}", shell_quote(&url));
    println!(
        "export AWS_SHARED_CREDENTIALS_FILE={}",
        shell_quote(&abs.join("credentials").display().to_string())
    );
    println!(
        "export AWS_CONFIG_FILE={}",
        shell_quote(&abs.join("config").display().to_string())
    );
    println!("export AWS_PROFILE={PROFILE}");
    println!("export AWS_DEFAULT_REGION={}", shell_quote(&region));
    println!("unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN");
    Ok(())
}

/// `ironsage iam explain`: the server's recent authorization decisions with
/// the statements and conditions that decided them.
fn cmd_iam(rest: &[String]) -> Result<()> {
    let Some(sub) = rest.first() else {
        bail!("usage: ironsage iam explain [--data-dir D] [--last N] [--request-id ID] [--denied]")
    };
    if sub != "explain" {
        bail!("unknown iam command {sub}; try `ironsage iam explain`");
    }
    let mut a = Args::default();
    let mut last = 20usize;
    let mut request_id: Option<String> = None;
    let mut denied_only = false;
    let mut passthrough = Vec::new();
    let mut it = rest.iter().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--last" => {
                last = it
                    .next()
                    .context("--last N")?
                    .parse()
                    .context("--last must be a number")?
            }
            "--request-id" => request_id = Some(it.next().context("--request-id ID")?.clone()),
            "--denied" => denied_only = true,
            other => {
                passthrough.push(other.to_string());
                if let Some(v) = it.next() {
                    passthrough.push(v.clone());
                }
            }
        }
    }
    let parsed = parse_args(&passthrough)?;
    a.data_dir = parsed.data_dir;
    let path = ironsage_server::authz::decision_file(&data_dir(&a));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no decisions recorded yet at {} (is the server running with this data dir?)",
            path.display()
        )
    })?;
    let records: Vec<ironsage_server::authz::DecisionRecord> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &ironsage_server::authz::DecisionRecord| {
            request_id.as_ref().is_none_or(|id| &r.request_id == id)
        })
        .filter(|r| !denied_only || !r.allowed)
        .collect();
    let start = records.len().saturating_sub(last);
    for r in records.get(start..).unwrap_or(&[]) {
        println!(
            "{}  {}  {}  {}  {}",
            r.time,
            if r.allowed { "ALLOW" } else { "DENY " },
            r.principal,
            r.action,
            r.resource
        );
        println!("  request {}", r.request_id);
        if !r.allowed {
            println!("  {}", r.summary);
        }
        for line in &r.explain {
            println!("  - {line}");
        }
    }
    if records.is_empty() {
        println!("no matching decisions in {}", path.display());
    }
    Ok(())
}

/// `ironsage endpoints env --vpc VPC`: the per-service endpoint environment a
/// workload inside that VPC uses, so its AWS calls arrive through the VPC's
/// endpoints (and carry `aws:SourceVpce`).
fn cmd_endpoints(rest: &[String]) -> Result<()> {
    let usage = "usage: ironsage endpoints env --vpc VPC_ID [--data-dir D]";
    if rest.first().map(String::as_str) != Some("env") {
        bail!("{usage}");
    }
    let mut vpc: Option<String> = None;
    let mut passthrough = Vec::new();
    let mut it = rest.iter().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--vpc" => vpc = Some(it.next().context("--vpc VPC_ID")?.clone()),
            other => {
                passthrough.push(other.to_string());
                if let Some(v) = it.next() {
                    passthrough.push(v.clone());
                }
            }
        }
    }
    let vpc = vpc.context(usage)?;
    let a = parse_args(&passthrough)?;
    let dir = data_dir(&a);
    let url = std::fs::read_to_string(endpoint_file(&dir)).unwrap_or_default();
    let port = url
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(DEFAULT_PORT);
    let store = Store::open(&dir.join("state.db"), Durability::Normal)?;
    let ec2 = ironsage_services::ec2::Ec2::open(&store)
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let endpoints = ec2
        .all_endpoints()
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let mut found = false;
    for (_, _, e) in endpoints.iter().filter(|(_, _, e)| e.vpc_id == vpc) {
        if let Some(var) = ironsage_server::endpoints::endpoint_env_var(&e.service_name) {
            let ip = ironsage_services::ec2::endpoint_address(&e.id);
            println!(
                "export {var}=http://{ip}:{port}  # {} ({})",
                e.id, e.service_name
            );
            found = true;
        }
    }
    if !found {
        eprintln!("no VPC endpoints in {vpc}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        println!("{USAGE}");
        return Ok(());
    };
    let rest = args.get(1..).unwrap_or(&[]);
    match cmd.as_str() {
        "serve" => {
            init_logging();
            cmd_serve(parse_args(rest)?)
        }
        "env" => cmd_env(parse_args(rest)?),
        "iam" => cmd_iam(rest),
        "endpoints" => cmd_endpoints(rest),
        "cfn" => match rest.first().map(String::as_str) {
            Some("types") => {
                for t in ironsage_services::cloudformation::supported_types() {
                    println!("{t}");
                }
                Ok(())
            }
            _ => bail!("usage: ironsage cfn types"),
        },
        "--version" | "version" => {
            println!("ironsage {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other}\n{USAGE}"),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IRONSAGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
