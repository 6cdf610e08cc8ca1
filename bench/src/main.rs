//! `ironsage-bench`: runs ironsage and moto_server side by side in one run and
//! reports each figure with the ratio between them.
//!
//! Server CPU is read from the server process tree's own counters
//! (`/proc/<pid>/stat` utime + stime: the kernel scales them to the scheduler's
//! nanosecond run time, printed in 10 ms units, and they include threads that
//! have exited), so a slow client does not hide the server's cost. The load generator is plain blocking HTTP/1.1 over
//! keep-alive TCP connections, one thread per connection, signing every
//! request with SigV4 (using `ironsage-sigv4`'s key derivation).
//!
//! ```text
//! ironsage-bench [--suite foundation|data|ec2|cfn] [--ironsage PATH] [--no-moto] [--seconds S] [--big-mib N] [--sse-kms] [--phases small,big,kms] [--cap N] [--rounds N] [--out FILE]
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ironsage_sigv4::{derive_signing_key, hex_sha256};
use serde_json::{json, Value};

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// A server under test.
struct Target {
    name: &'static str,
    child: Child,
    port: u16,
    launch_secs: f64,
    /// The server's data directory, removed when the target stops (a
    /// 1 GiB phase leaves gigabytes behind otherwise).
    data_dir: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn amz_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// A SigV4-signed request head (and the caller appends `content_length`
/// body bytes). `extra` headers are signed too; `payload_hash` is the hex
/// SHA-256 of the body or `UNSIGNED-PAYLOAD`.
fn signed_head(
    port: u16,
    method: &str,
    path: &str,
    service: &str,
    extra: &[(&str, String)],
    content_length: usize,
    payload_hash: &str,
) -> Vec<u8> {
    let amz_date = amz_now();
    let date = amz_date.get(..8).unwrap_or_default();
    let host = format!("127.0.0.1:{port}");
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.clone()),
        ("x-amz-content-sha256".into(), payload_hash.to_string()),
        ("x-amz-date".into(), amz_date.clone()),
    ];
    headers.extend(
        extra
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
    );
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\n{payload_hash}");
    let key = derive_signing_key(SK, date, REGION, service);
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}\n{}",
        key.scope(),
        hex_sha256(canonical.as_bytes())
    );
    let sig = key.sign(sts.as_bytes());
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "authorization: AWS4-HMAC-SHA256 Credential={AK}/{}, SignedHeaders={signed}, Signature={sig}\r\ncontent-length: {content_length}\r\n\r\n",
        key.scope()
    ));
    head.into_bytes()
}

/// Signs a form-encoded query-protocol request (STS/IAM style).
fn signed_form(port: u16, service: &str, body: &str) -> Vec<u8> {
    let ctype = "application/x-www-form-urlencoded; charset=utf-8".to_string();
    let mut req = signed_head(
        port,
        "POST",
        "/",
        service,
        &[("content-type", ctype)],
        body.len(),
        &hex_sha256(body.as_bytes()),
    );
    req.extend_from_slice(body.as_bytes());
    req
}

/// A JSON-protocol request (KMS style).
fn signed_json(port: u16, service: &str, target: &str, body: &str) -> Vec<u8> {
    let mut req = signed_head(
        port,
        "POST",
        "/",
        service,
        &[
            ("content-type", "application/x-amz-json-1.1".to_string()),
            ("x-amz-target", target.to_string()),
        ],
        body.len(),
        &hex_sha256(body.as_bytes()),
    );
    req.extend_from_slice(body.as_bytes());
    req
}

/// An S3 request with a small in-memory body.
fn signed_s3(port: u16, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut req = signed_head(port, method, path, "s3", &[], body.len(), &hex_sha256(body));
    req.extend_from_slice(body);
    req
}

/// One keep-alive connection that reconnects when the server closes it
/// (moto's development server answers HTTP/1.0-style and closes).
struct Conn {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(port: u16) -> Self {
        Conn { port, stream: None }
    }

    /// Sends a request and returns the status and (small) body.
    fn call_body(&mut self, req: &[u8]) -> Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        let reader = self.stream.as_mut().context("no connection")?;
        reader.get_mut().write_all(req)?;
        let (status, keep, body) = read_response_body(reader)?;
        if !keep {
            self.stream = None;
        }
        Ok((status, body))
    }

    /// Sends a head and then `len` bytes of a repeating pattern as the body.
    fn call_streamed(&mut self, head: &[u8], len: u64) -> Result<u16> {
        let s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_nodelay(true)?;
        let mut reader = BufReader::new(s);
        let w = reader.get_mut();
        w.write_all(head)?;
        let block: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            w.write_all(block.get(..n).unwrap_or_default())?;
            left -= n as u64;
        }
        let (status, _, _) = read_response_body(&mut reader)?;
        Ok(status)
    }

    /// Sends a request and returns the status code.
    fn call(&mut self, req: &[u8]) -> Result<u16> {
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect(("127.0.0.1", self.port))?;
                s.set_nodelay(true)?;
                self.stream = Some(BufReader::new(s));
            }
            let Some(reader) = self.stream.as_mut() else {
                continue;
            };
            if reader.get_mut().write_all(req).is_err() {
                self.stream = None;
                continue;
            }
            match read_response(reader) {
                Ok((status, keep)) => {
                    if !keep {
                        self.stream = None;
                    }
                    return Ok(status);
                }
                Err(e) => {
                    self.stream = None;
                    if attempt == 1 {
                        return Err(e);
                    }
                }
            }
        }
        bail!("connection failed")
    }
}

fn read_response(r: &mut BufReader<TcpStream>) -> Result<(u16, bool)> {
    read_response_body(r).map(|(s, k, _)| (s, k))
}

/// Reads a response; bodies up to 1 MiB are returned, larger ones are
/// streamed to nowhere (a 256 MiB GET never sits in the client's memory).
fn read_response_body(r: &mut BufReader<TcpStream>) -> Result<(u16, bool, Vec<u8>)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        bail!("closed");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .context("bad status line")?
        .parse()?;
    let http10 = line.starts_with("HTTP/1.0");
    let mut len: Option<usize> = None;
    let mut close = http10;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = Some(v.trim().parse()?);
        } else if lower.starts_with("connection:") {
            close = lower.contains("close");
        }
    }
    let mut body = Vec::new();
    match len {
        Some(n) if n <= 1 << 20 => {
            body = vec![0u8; n];
            r.read_exact(&mut body)?;
        }
        Some(n) => {
            let copied = std::io::copy(&mut r.by_ref().take(n as u64), &mut std::io::sink())?;
            if copied != n as u64 {
                bail!("short body");
            }
        }
        None => {
            r.read_to_end(&mut body)?;
            close = true;
        }
    }
    Ok((status, !close, body))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn stat_fields(pid: u32) -> Vec<String> {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Vec::new();
    };
    // Fields after the parenthesised command name: state is [0], ppid [1],
    // utime [11], stime [12].
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace().map(str::to_string).collect()
}

/// `pid` and all its descendants (a launcher script may fork the server).
fn process_tree(pid: u32) -> Vec<u32> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                if let Some(pp) = stat_fields(p).get(1).and_then(|v| v.parse::<u32>().ok()) {
                    all.push((p, pp));
                }
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while let Some(&cur) = tree.get(i) {
        for &(p, pp) in &all {
            if pp == cur && !tree.contains(&p) {
                tree.push(p);
            }
        }
        i += 1;
    }
    tree
}

/// CPU time (user + system) of the server's process tree in nanoseconds, from
/// `/proc/<pid>/stat`: unlike per-thread counters it includes threads that
/// have already exited (moto's server starts a thread per request). Kernel
/// tick resolution (10 ms), so runs last seconds.
fn cpu_ns(pid: u32) -> u64 {
    let hz = 100; // USER_HZ on Linux
    process_tree(pid)
        .into_iter()
        .map(|p| {
            let f = stat_fields(p);
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            (ticks(11) + ticks(12)) * 1_000_000_000 / hz
        })
        .sum()
}

/// Resident memory of the server's process tree.
fn tree_rss_kib(pid: u32) -> u64 {
    process_tree(pid).into_iter().filter_map(rss_kib).sum()
}

fn wait_first_answer(port: u16, started: Instant, deadline: Duration) -> Result<f64> {
    loop {
        if started.elapsed() > deadline {
            bail!("no answer within {deadline:?}");
        }
        let mut c = Conn::new(port);
        let req = signed_form(port, "sts", "Action=GetCallerIdentity&Version=2011-06-15");
        if let Ok(200) = c.call(&req) {
            return Ok(started.elapsed().as_secs_f64());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn start_ironsage(bin: &PathBuf) -> Result<Target> {
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!("ironsage-bench-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let child = Command::new(bin)
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(&dir)
        .env("IRONSAGE_ACCOUNT_ID", ACCOUNT)
        .env("IRONSAGE_ROOT_ACCESS_KEY_ID", AK)
        .env("IRONSAGE_ROOT_SECRET_ACCESS_KEY", SK)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let launch_secs = wait_first_answer(port, started, Duration::from_secs(20))?;
    Ok(Target {
        name: "ironsage",
        child,
        port,
        launch_secs,
        data_dir: Some(dir),
    })
}

/// A do-nothing HTTP/1.1 keep-alive server (a thread per connection,
/// blocking reads, a fixed 1 KiB answer): what a request costs on this
/// machine before any server does any work. Run as `--floor-server PORT`.
fn floor_server(port: u16) -> Result<()> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        std::thread::spawn(move || -> Result<()> {
            conn.set_nodelay(true)?;
            let mut r = BufReader::new(conn.try_clone()?);
            let mut w = conn;
            let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n".to_vec();
            answer.extend_from_slice(&[b'x'; 1024]);
            loop {
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                r.read_exact(&mut body)?;
                w.write_all(&answer)?;
            }
        });
    }
    Ok(())
}

/// Server CPU per request of [`floor_server`] under the same sequential
/// load as the measured servers: the machine's floor for one request.
fn measure_floor(seconds: f64) -> Result<f64> {
    let port = free_port()?;
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .args(["--floor-server", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let t = Target {
        name: "floor",
        child,
        port,
        launch_secs: 0.0,
        data_dir: None,
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("floor server did not start");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let req = signed_s3(port, "GET", "/floor/k", b"");
    let make: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> = Arc::new(move |_, _| req.clone());
    let r = load(&t, 1, seconds, u64::MAX, make);
    Ok(r.server_cpu_ns as f64 / (r.ok + r.errors).max(1) as f64 / 1000.0)
}

fn start_moto() -> Result<Target> {
    let port = free_port()?;
    let started = Instant::now();
    let child = Command::new("moto_server")
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run moto_server")?;
    let launch_secs = wait_first_answer(port, started, Duration::from_secs(60))?;
    Ok(Target {
        name: "moto",
        child,
        port,
        launch_secs,
        data_dir: None,
    })
}

struct LoadResult {
    ok: u64,
    errors: u64,
    secs: f64,
    server_cpu_ns: u64,
}

/// Runs `conns` connections for `secs` seconds (or until `max_per_conn`
/// requests each), each sending requests made by `make(conn, i)`.
fn load(
    t: &Target,
    conns: usize,
    secs: f64,
    max_per_conn: u64,
    make: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>,
) -> LoadResult {
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_ns(t.child.id());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..conns)
        .map(|ci| {
            let (ok, errors, make, port) = (
                Arc::clone(&ok),
                Arc::clone(&errors),
                Arc::clone(&make),
                t.port,
            );
            std::thread::spawn(move || {
                let mut c = Conn::new(port);
                let mut i = 0;
                while Instant::now() < deadline && i < max_per_conn {
                    let req = make(ci, i);
                    match c.call(&req) {
                        Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let secs = start.elapsed().as_secs_f64();
    LoadResult {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        secs,
        server_cpu_ns: cpu_ns(t.child.id()).saturating_sub(cpu0),
    }
}

fn trust() -> String {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let mut out = String::new();
    for b in doc.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn measure(t: &Target, seconds: f64) -> Result<Value> {
    let pid = t.child.id();
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = tree_rss_kib(pid);
    let port = t.port;
    let gci: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> = Arc::new(move |_, _| {
        signed_form(port, "sts", "Action=GetCallerIdentity&Version=2011-06-15")
    });
    // Server CPU per request: one connection, sequential.
    let seq = load(t, 1, seconds, u64::MAX, Arc::clone(&gci));
    // Throughput: 8 connections.
    let par = load(t, 8, seconds, u64::MAX, gci);
    // CreateRole + GetRole pairs.
    let tr = trust();
    let tag = format!("{}{}", t.name, rand::random::<u32>());
    let pairs: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> = Arc::new(move |c, i| {
        let name = format!("b-{tag}-{c}-{}", i / 2);
        let body = if i % 2 == 0 {
            format!("Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={tr}")
        } else {
            format!("Action=GetRole&Version=2010-05-08&RoleName={name}")
        };
        signed_form(port, "iam", &body)
    });
    let roles = load(t, 1, seconds, 2000, Arc::clone(&pairs));
    // 16 concurrent writers (fresh names).
    let tag = format!("{}{}", t.name, rand::random::<u32>());
    let writer_pairs: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> = Arc::new(move |c, i| {
        let name = format!("w-{tag}-{c}-{}", i / 2);
        let body = if i % 2 == 0 {
            format!(
                "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={}",
                trust()
            )
        } else {
            format!("Action=GetRole&Version=2010-05-08&RoleName={name}")
        };
        signed_form(port, "iam", &body)
    });
    let writers = load(t, 16, seconds, 200, writer_pairs);
    let per = |r: &LoadResult| {
        if r.ok + r.errors == 0 {
            0.0
        } else {
            r.server_cpu_ns as f64 / (r.ok + r.errors) as f64 / 1000.0
        }
    };
    Ok(json!({
        "server": t.name,
        "launch_to_first_answer_ms": t.launch_secs * 1000.0,
        "idle_rss_mib": idle_rss as f64 / 1024.0,
        "cpu_us_per_get_caller_identity": per(&seq),
        "get_caller_identity_rps_8_conns": par.ok as f64 / par.secs,
        "cpu_us_per_get_caller_identity_8_conns": per(&par),
        "get_caller_identity_errors": seq.errors + par.errors,
        "cpu_us_per_create_role_plus_get_role": per(&roles) * 2.0,
        "concurrent_writers_16_requests": writers.ok + writers.errors,
        "concurrent_writers_16_errors": writers.errors,
        "concurrent_writers_16_error_pct": if writers.ok + writers.errors == 0 { 0.0 } else { 100.0 * writers.errors as f64 / (writers.ok + writers.errors) as f64 },
    }))
}

/// Which phases of the data suite run (`--phases small,big,kms`; all by
/// default): profiling one phase is easier without the others.
#[derive(Clone, Copy)]
struct Phases {
    small: bool,
    big: bool,
    kms: bool,
    /// Requests per small-object or KMS phase at most (`--cap N`;
    /// 20,000 by default, which keeps the small phase's 1 KiB objects
    /// within the server's caches).
    cap: u64,
    /// Rounds each sequential phase is split into (`--rounds N`, 3 by
    /// default); the figure is the median round, every round is kept:
    /// on a shared VM one round can catch background writeback.
    rounds: u32,
}

/// CPU per request of a phase run in `rounds` rounds: (median, each round).
fn rounds_of(
    rounds: u32,
    mut run: impl FnMut(u32) -> Result<LoadResult>,
) -> Result<(f64, Vec<f64>, u64)> {
    let mut per = Vec::new();
    let mut errors = 0;
    for r in 0..rounds.max(1) {
        let res = run(r)?;
        errors += res.errors;
        let n = res.ok + res.errors;
        per.push(if n == 0 {
            0.0
        } else {
            res.server_cpu_ns as f64 / n as f64 / 1000.0
        });
    }
    let mut sorted = per.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    Ok((median, per, errors))
}

fn measure_s3_kms(
    t: &Target,
    seconds: f64,
    big_mib: u64,
    sse_kms: bool,
    phases: Phases,
) -> Result<Value> {
    let port = t.port;
    let pid = t.child.id();
    let bucket = format!("bench-{}", rand::random::<u32>());
    let mut c = Conn::new(port);
    let (st, _) = c.call_body(&signed_s3(port, "PUT", &format!("/{bucket}"), b""))?;
    if st != 200 {
        bail!("{}: CreateBucket answered {st}", t.name);
    }
    let kib: Arc<Vec<u8>> = Arc::new(vec![b'x'; 1024]);
    let rounds = phases.rounds.max(1);
    let small_secs = if phases.small {
        seconds / f64::from(rounds)
    } else {
        0.0
    };
    let round_cap = (phases.cap / u64::from(rounds)).max(1);
    // Each PUT round writes new keys; the GET rounds read round 0's.
    let mut first_round_keys = 1;
    let (put_us, put_rounds, put_errors) = rounds_of(rounds, |r| {
        let (b1, kib) = (bucket.clone(), Arc::clone(&kib));
        let put: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> =
            Arc::new(move |c, i| signed_s3(port, "PUT", &format!("/{b1}/k-{r}-{c}-{i}"), &kib));
        let res = load(t, 1, small_secs, round_cap, put);
        if r == 0 {
            first_round_keys = res.ok.max(1);
        }
        Ok(res)
    })?;
    let n = first_round_keys;
    let (get_us, get_rounds, get_errors) = rounds_of(rounds, |_| {
        let b2 = bucket.clone();
        let get: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> =
            Arc::new(move |_, i| signed_s3(port, "GET", &format!("/{b2}/k-0-0-{}", i % n), b""));
        Ok(load(t, 1, small_secs, round_cap, get))
    })?;
    // One big object: PUT then GET, throughput and server memory; with
    // `--sse-kms`, a second one encrypted under the AWS-managed key
    // (`x-amz-server-side-encryption: aws:kms`, signed).
    let len = big_mib << 20;
    let big = |key: &str, extra: &[(&str, String)]| -> Result<(f64, f64, f64)> {
        let idle = tree_rss_kib(pid);
        let peak = Arc::new(AtomicU64::new(idle));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(tree_rss_kib(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let path = format!("/{bucket}/{key}");
        let head = signed_head(
            port,
            "PUT",
            &path,
            "s3",
            extra,
            len as usize,
            "UNSIGNED-PAYLOAD",
        );
        let start = Instant::now();
        let st = Conn::new(port).call_streamed(&head, len);
        let put_secs = start.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        let st = st?;
        if st != 200 {
            bail!("{}: big PUT {key} answered {st}", t.name);
        }
        let rss = (peak.load(Ordering::Relaxed).saturating_sub(idle)) as f64 / 1024.0;
        let start = Instant::now();
        let (st, _) = Conn::new(port).call_body(&signed_s3(port, "GET", &path, b""))?;
        let get_secs = start.elapsed().as_secs_f64();
        if st != 200 {
            bail!("{}: big GET {key} answered {st}", t.name);
        }
        Ok((big_mib as f64 / put_secs, big_mib as f64 / get_secs, rss))
    };
    let (big_put, big_get, big_rss) = if phases.big {
        big("big", &[])?
    } else {
        (0.0, 0.0, 0.0)
    };
    let sse = if sse_kms && phases.big {
        Some(big(
            "big-kms",
            &[("x-amz-server-side-encryption", "aws:kms".to_string())],
        )?)
    } else {
        None
    };
    // KMS Encrypt / Decrypt.
    let (st, body) = c.call_body(&signed_json(port, "kms", "TrentService.CreateKey", "{}"))?;
    let key_id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["KeyMetadata"]["KeyId"].as_str().map(str::to_string))
        .with_context(|| format!("{}: CreateKey answered {st}", t.name))?;
    let enc_body = format!(r#"{{"KeyId":"{key_id}","Plaintext":"aGVsbG8gd29ybGQ="}}"#);
    let (_, body) = c.call_body(&signed_json(port, "kms", "TrentService.Encrypt", &enc_body))?;
    let blob = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["CiphertextBlob"].as_str().map(str::to_string))
        .context("Encrypt gave no CiphertextBlob")?;
    let e2 = enc_body.clone();
    let enc: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> =
        Arc::new(move |_, _| signed_json(port, "kms", "TrentService.Encrypt", &e2));
    let kms_secs = if phases.kms {
        seconds / f64::from(rounds)
    } else {
        0.0
    };
    let (enc_us, enc_rounds, enc_errors) = rounds_of(rounds, |_| {
        Ok(load(t, 1, kms_secs, round_cap, Arc::clone(&enc)))
    })?;
    let dec_body = format!(r#"{{"CiphertextBlob":"{blob}"}}"#);
    let dec: Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync> =
        Arc::new(move |_, _| signed_json(port, "kms", "TrentService.Decrypt", &dec_body));
    let (dec_us, dec_rounds, dec_errors) = rounds_of(rounds, |_| {
        Ok(load(t, 1, kms_secs, round_cap, Arc::clone(&dec)))
    })?;
    let mut out = json!({
        "server": t.name,
        "cpu_us_per_put_object_1kib": put_us,
        "cpu_us_per_get_object_1kib": get_us,
        "rounds_cpu_us_per_put_object_1kib": put_rounds,
        "rounds_cpu_us_per_get_object_1kib": get_rounds,
        "s3_errors": put_errors + get_errors,
        "big_object_mib": big_mib,
        "big_put_mib_per_s": big_put,
        "big_get_mib_per_s": big_get,
        "rss_mib_above_idle_during_big_put": big_rss,
        "cpu_us_per_kms_encrypt": enc_us,
        "cpu_us_per_kms_decrypt": dec_us,
        "rounds_cpu_us_per_kms_encrypt": enc_rounds,
        "rounds_cpu_us_per_kms_decrypt": dec_rounds,
        "kms_errors": enc_errors + dec_errors,
    });
    if let Some((put, get, rss)) = sse {
        out["big_sse_kms_put_mib_per_s"] = json!(put);
        out["big_sse_kms_get_mib_per_s"] = json!(get);
        out["rss_mib_above_idle_during_big_sse_kms_put"] = json!(rss);
    }
    Ok(out)
}

/// The text of the first `<tag>…</tag>` in an XML body.
fn xml_text(body: &[u8], tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text.get(start..)?.find('<')? + start;
    text.get(start..end).map(str::to_string)
}

/// One EC2 call: returns the response body; errors on a non-200 answer.
fn ec2_call(c: &mut Conn, port: u16, params: &str) -> Result<Vec<u8>> {
    let (st, body) = c.call_body(&signed_form(
        port,
        "ec2",
        &format!("{params}&Version=2016-11-15"),
    ))?;
    if st != 200 {
        bail!("{params} answered {st}: {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

fn id_of(body: &[u8], tag: &str) -> Result<String> {
    xml_text(body, tag).with_context(|| format!("no <{tag}> in {}", String::from_utf8_lossy(body)))
}

/// EC2: a 4-AZ network created and deleted call by call, and filtered
/// Describe calls over 1,000 subnets.
fn measure_ec2(t: &Target) -> Result<Value> {
    let port = t.port;
    let pid = t.child.id();
    let mut c = Conn::new(port);
    // 1. 1,000 subnets, then filtered Describe calls.
    let vpc = id_of(
        &ec2_call(&mut c, port, "Action=CreateVpc&CidrBlock=10.1.0.0%2F16")?,
        "vpcId",
    )?;
    for i in 0..1000u32 {
        let cidr = format!("10.1.{}.{}%2F28", i / 16, (i % 16) * 16);
        ec2_call(
            &mut c,
            port,
            &format!(
                "Action=CreateSubnet&VpcId={vpc}&CidrBlock={cidr}&TagSpecification.1.ResourceType=subnet&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=sn-{i}"
            ),
        )?;
    }
    let rounds = 500u32;
    let cpu0 = cpu_ns(pid);
    let start = Instant::now();
    for i in 0..rounds {
        let body = ec2_call(
            &mut c,
            port,
            &format!("Action=DescribeSubnets&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}&Filter.2.Name=tag:Name&Filter.2.Value.1=sn-{}", (i * 7) % 1000),
        )?;
        if xml_text(&body, "subnetId").is_none() {
            bail!("DescribeSubnets found nothing");
        }
    }
    let describe_wall_ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds);
    let describe_cpu_us = cpu_ns(pid).saturating_sub(cpu0) as f64 / f64::from(rounds) / 1000.0;
    let cpu0 = cpu_ns(pid);
    for _ in 0..rounds {
        ec2_call(
            &mut c,
            port,
            &format!("Action=DescribeRouteTables&Filter.1.Name=vpc-id&Filter.1.Value.1={vpc}"),
        )?;
    }
    let rt_cpu_us = cpu_ns(pid).saturating_sub(cpu0) as f64 / f64::from(rounds) / 1000.0;
    // 2. A 4-AZ network, created and deleted by API calls (moto fails part
    // way on some of them: recorded, not fatal).
    let network = (|| -> Result<(u64, u64)> {
        let mut total = (0u64, 0u64);
        for round in 0..5u32 {
            let cpu0 = cpu_ns(pid);
            let mut calls = 0u64;
            let mut call = |c: &mut Conn, p: &str| -> Result<Vec<u8>> {
                calls += 1;
                ec2_call(c, port, p)
            };
            let vpc = id_of(
                &call(
                    &mut c,
                    &format!("Action=CreateVpc&CidrBlock=10.{}.0.0%2F16", 10 + round),
                )?,
                "vpcId",
            )?;
            let igw = id_of(
                &call(&mut c, "Action=CreateInternetGateway")?,
                "internetGatewayId",
            )?;
            call(
                &mut c,
                &format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}"),
            )?;
            let pub_rt = id_of(
                &call(&mut c, &format!("Action=CreateRouteTable&VpcId={vpc}"))?,
                "routeTableId",
            )?;
            call(&mut c, &format!("Action=CreateRoute&RouteTableId={pub_rt}&DestinationCidrBlock=0.0.0.0%2F0&GatewayId={igw}"))?;
            let mut created: Vec<(String, String, String, String, String, String)> = Vec::new();
            for (i, az) in ["a", "b", "c", "d"].iter().enumerate() {
                let private = id_of(
            &call(&mut c, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.{}.{}.0%2F24&AvailabilityZone=us-east-1{az}", 10 + round, i * 2))?,
            "subnetId",
        )?;
                let public = id_of(
            &call(&mut c, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.{}.{}.0%2F24&AvailabilityZone=us-east-1{az}", 10 + round, i * 2 + 1))?,
            "subnetId",
        )?;
                let assoc_pub = id_of(
                    &call(
                        &mut c,
                        &format!(
                            "Action=AssociateRouteTable&RouteTableId={pub_rt}&SubnetId={public}"
                        ),
                    )?,
                    "associationId",
                )?;
                let eip = id_of(
                    &call(&mut c, "Action=AllocateAddress&Domain=vpc")?,
                    "allocationId",
                )?;
                let nat = id_of(
                    &call(
                        &mut c,
                        &format!("Action=CreateNatGateway&SubnetId={public}&AllocationId={eip}"),
                    )?,
                    "natGatewayId",
                )?;
                let rt = id_of(
                    &call(&mut c, &format!("Action=CreateRouteTable&VpcId={vpc}"))?,
                    "routeTableId",
                )?;
                call(&mut c, &format!("Action=CreateRoute&RouteTableId={rt}&DestinationCidrBlock=0.0.0.0%2F0&NatGatewayId={nat}"))?;
                call(
                    &mut c,
                    &format!("Action=AssociateRouteTable&RouteTableId={rt}&SubnetId={private}"),
                )?;
                let _ = assoc_pub;
                created.push((private, public, eip, nat, rt, String::new()));
            }
            let sg = id_of(
                &call(
                    &mut c,
                    &format!(
                    "Action=CreateSecurityGroup&GroupName=endpoints&GroupDescription=d&VpcId={vpc}"
                ),
                )?,
                "groupId",
            )?;
            let rts: String = created
                .iter()
                .enumerate()
                .map(|(i, x)| format!("&RouteTableId.{}={}", i + 1, x.4))
                .collect();
            let vpce = id_of(
                &call(
                    &mut c,
                    &format!(
                "Action=CreateVpcEndpoint&VpcId={vpc}&ServiceName=com.amazonaws.us-east-1.s3{rts}"
            ),
                )?,
                "vpcEndpointId",
            )?;
            // Teardown in dependency order.
            call(
                &mut c,
                &format!("Action=DeleteVpcEndpoints&VpcEndpointId.1={vpce}"),
            )?;
            call(&mut c, &format!("Action=DeleteSecurityGroup&GroupId={sg}"))?;
            for (_, _, _, nat, _, _) in &created {
                call(
                    &mut c,
                    &format!("Action=DeleteNatGateway&NatGatewayId={nat}"),
                )?;
            }
            // NAT gateways release their addresses once deleted (moto: at once;
            // ironsage: at once too); then subnets, tables, addresses, IGW, VPC.
            for (private, public, eip, _, rt, _) in &created {
                call(&mut c, &format!("Action=ReleaseAddress&AllocationId={eip}"))?;
                call(&mut c, &format!("Action=DeleteSubnet&SubnetId={private}"))?;
                call(&mut c, &format!("Action=DeleteSubnet&SubnetId={public}"))?;
                call(
                    &mut c,
                    &format!("Action=DeleteRouteTable&RouteTableId={rt}"),
                )?;
            }
            call(
                &mut c,
                &format!("Action=DeleteRouteTable&RouteTableId={pub_rt}"),
            )?;
            call(
                &mut c,
                &format!("Action=DetachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}"),
            )?;
            call(
                &mut c,
                &format!("Action=DeleteInternetGateway&InternetGatewayId={igw}"),
            )?;
            call(&mut c, &format!("Action=DeleteVpc&VpcId={vpc}"))?;
            total.0 += calls;
            total.1 += cpu_ns(pid).saturating_sub(cpu0);
        }
        Ok(total)
    })();
    let mut out = json!({
        "server": t.name,
        "describe_subnets_filtered_over_1000_wall_ms": describe_wall_ms,
        "describe_subnets_filtered_over_1000_cpu_us": describe_cpu_us,
        "describe_route_tables_filtered_cpu_us": rt_cpu_us,
    });
    match network {
        Ok((calls, cpu)) => {
            out["network_calls"] = json!(calls);
            out["cpu_us_per_call_4az_network_create_delete"] =
                json!(cpu as f64 / calls as f64 / 1000.0);
        }
        Err(e) => out["network_error"] = json!(format!("{e}").lines().next().unwrap_or_default()),
    }
    Ok(out)
}

/// `application/x-www-form-urlencoded` escaping.
fn form_enc(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 3);
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One CloudFormation call; the body on 200, else an error naming the answer.
fn cfn_call(c: &mut Conn, port: u16, params: &str) -> Result<Vec<u8>> {
    let (st, body) = c.call_body(&signed_form(
        port,
        "cloudformation",
        &format!("{params}&Version=2010-05-15"),
    ))?;
    if st != 200 {
        let text = String::from_utf8_lossy(&body);
        let msg = xml_text(&body, "Message").unwrap_or_else(|| text.chars().take(300).collect());
        bail!(
            "{} answered {st}: {msg}",
            params.split('&').next().unwrap_or_default()
        );
    }
    Ok(body)
}

/// Polls DescribeStacks (every `every`) until the stack leaves `*_IN_PROGRESS`;
/// returns the final status (`DELETE_COMPLETE` when the stack is gone) and
/// the number of DescribeStacks calls made.
fn cfn_wait(
    c: &mut Conn,
    port: u16,
    stack: &str,
    every: Duration,
    limit: Duration,
) -> Result<(String, u32)> {
    let start = Instant::now();
    let mut polls = 0u32;
    loop {
        let (st, body) = c.call_body(&signed_form(
            port,
            "cloudformation",
            &format!("Action=DescribeStacks&StackName={stack}&Version=2010-05-15"),
        ))?;
        polls += 1;
        if st != 200 {
            // A deleted stack by name no longer exists.
            if String::from_utf8_lossy(&body).contains("does not exist") {
                return Ok(("DELETE_COMPLETE".into(), polls));
            }
            bail!(
                "DescribeStacks answered {st}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let status = xml_text(&body, "StackStatus").unwrap_or_default();
        if !status.ends_with("IN_PROGRESS") {
            return Ok((status, polls));
        }
        if start.elapsed() > limit {
            bail!("{stack} still {status} after {limit:?}");
        }
        std::thread::sleep(every);
    }
}

/// The issue's 21-resource IAM/VPC/KMS/S3/SSM stack.
fn cfn_stack21(tag: &str) -> String {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let t = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "data key",
                "KeyPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "root", "Effect": "Allow",
                    "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}}, "Action": "kms:*", "Resource": "*"}]}}},
            "KeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": format!("alias/bench-{tag}"), "TargetKeyId": {"Ref": "Key"}}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault":
                    {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]}}}]},
                "VersioningConfiguration": {"Status": "Enabled"},
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}}},
            "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Sid": "tls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"Roles": [{"Ref": "Role"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                    "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}}]}}},
            "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "Role"}]}},
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": true}},
            "SubnetA": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24",
                "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}},
            "SubnetB": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                "AvailabilityZone": {"Fn::Select": [1, {"Fn::GetAZs": ""}]}}},
            "RouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "AssocA": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {"SubnetId": {"Ref": "SubnetA"}, "RouteTableId": {"Ref": "RouteTable"}}},
            "AssocB": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {"SubnetId": {"Ref": "SubnetB"}, "RouteTableId": {"Ref": "RouteTable"}}},
            "Igw": {"Type": "AWS::EC2::InternetGateway", "Properties": {}},
            "IgwAttach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}}},
            "DefaultRoute": {"Type": "AWS::EC2::Route", "DependsOn": "IgwAttach", "Properties": {"RouteTableId": {"Ref": "RouteTable"},
                "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "Igw"}}},
            "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "app", "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}]}},
            "S3Endpoint": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcId": {"Ref": "Vpc"},
                "ServiceName": {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}, "RouteTableIds": [{"Ref": "RouteTable"}]}},
            "ParamBucket": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": format!("/bench/{tag}/bucket"), "Type": "String", "Value": {"Ref": "Bucket"}}},
            "ParamVpc": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": format!("/bench/{tag}/vpc"), "Type": "String", "Value": {"Ref": "Vpc"}}},
            "ParamKey": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": format!("/bench/{tag}/key"), "Type": "String", "Value": {"Fn::GetAtt": ["Key", "Arn"]}}}
        },
        "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}, "Vpc": {"Value": {"Ref": "Vpc"}}}
    });
    t.to_string()
}

/// 500 independent resources: SSM parameters, IAM roles, security groups
/// (in one VPC).
fn cfn_stack500(tag: &str) -> String {
    let mut res = serde_json::Map::new();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    res.insert(
        "Vpc".into(),
        json!({"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}}),
    );
    for i in 0..200 {
        res.insert(format!("P{i:03}"), json!({"Type": "AWS::SSM::Parameter",
            "Properties": {"Name": format!("/bench500/{tag}/p{i:03}"), "Type": "String", "Value": format!("v{i}")}}));
    }
    for i in 0..150 {
        res.insert(
            format!("R{i:03}"),
            json!({"Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": trust}}),
        );
    }
    for i in 0..149 {
        res.insert(
            format!("G{i:03}"),
            json!({"Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": format!("g{i}"), "VpcId": {"Ref": "Vpc"}}}),
        );
    }
    json!({"Resources": res}).to_string()
}

/// One timed stack operation: wall ms, server CPU ms, DescribeStacks polls.
struct CfnTiming {
    wall: f64,
    cpu: f64,
    polls: u32,
}

/// Creates (or deletes) `stack` from `template`, waits for the terminal status.
fn cfn_timed(
    t: &Target,
    c: &mut Conn,
    stack: &str,
    template: &str,
    verb: &str,
    poll: Duration,
) -> Result<CfnTiming> {
    let (port, pid) = (t.port, t.child.id());
    let cpu0 = cpu_ns(pid);
    let start = Instant::now();
    if verb == "create" {
        cfn_call(c, port, &format!(
            "Action=CreateStack&StackName={stack}&TemplateBody={}&Capabilities.member.1=CAPABILITY_IAM",
            form_enc(template)
        ))?;
    } else {
        cfn_call(c, port, &format!("Action=DeleteStack&StackName={stack}"))?;
    }
    let (status, polls) = cfn_wait(c, port, stack, poll, Duration::from_secs(120))?;
    let wall = start.elapsed().as_secs_f64() * 1000.0;
    let cpu = cpu_ns(pid).saturating_sub(cpu0) as f64 / 1e6;
    let want = if verb == "create" {
        "CREATE_COMPLETE"
    } else {
        "DELETE_COMPLETE"
    };
    if status != want {
        bail!("{stack}: {verb} ended {status}");
    }
    Ok(CfnTiming { wall, cpu, polls })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Server CPU ms of `calls` DescribeStacks of the already-complete `stack`,
/// paced like the polling (`every` apart): the polling's share of a timed run.
fn cfn_poll_cost(
    t: &Target,
    c: &mut Conn,
    stack: &str,
    calls: u32,
    every: Duration,
) -> Result<f64> {
    let cpu0 = cpu_ns(t.child.id());
    for _ in 0..calls {
        cfn_call(
            c,
            t.port,
            &format!("Action=DescribeStacks&StackName={stack}"),
        )?;
        std::thread::sleep(every);
    }
    Ok(cpu_ns(t.child.id()).saturating_sub(cpu0) as f64 / 1e6)
}

/// CloudFormation: the 21-resource stack (cold once, then `RUNS` warm creates
/// of distinct stacks in sequence, then their deletes) and a 500-resource
/// stack created and deleted; wall from the request to the terminal status
/// (DescribeStacks polled every 5 ms) and server CPU. The CPU counter ticks in
/// 10 ms steps, so the warm figures are totals over the runs / runs; the
/// polling's share is measured separately (the same number of DescribeStacks
/// of a complete stack, same pacing) and reported beside raw and net figures.
fn measure_cfn(t: &Target) -> Result<Value> {
    const RUNS: u32 = 30;
    let port = t.port;
    let mut c = Conn::new(port);
    let poll = Duration::from_millis(5);
    let mut out = json!({"server": t.name});
    let r = cfn_timed(t, &mut c, "s21-cold", &cfn_stack21("cold"), "create", poll)?;
    out["stack21_cold_wall_ms"] = json!(r.wall);
    out["stack21_cold_server_cpu_ms"] = json!(r.cpu);
    let (mut walls, mut dwalls) = (vec![], vec![]);
    let (mut cpu_total, mut polls_total) = (0.0, 0u32);
    for i in 0..RUNS {
        let r = cfn_timed(
            t,
            &mut c,
            &format!("s21-{i}"),
            &cfn_stack21(&format!("w{i}")),
            "create",
            poll,
        )?;
        walls.push(r.wall);
        cpu_total += r.cpu;
        polls_total += r.polls;
    }
    let runs = f64::from(RUNS);
    let poll_cpu = cfn_poll_cost(t, &mut c, "s21-cold", polls_total, poll)?;
    out["stack21_runs"] = json!(RUNS);
    out["stack21_warm_wall_ms"] = json!(median(&mut walls));
    out["stack21_warm_server_cpu_ms_raw"] = json!(cpu_total / runs);
    out["stack21_warm_polls_per_run"] = json!(f64::from(polls_total) / runs);
    out["stack21_warm_poll_cpu_ms"] = json!(poll_cpu / runs);
    out["stack21_warm_server_cpu_ms"] = json!((cpu_total - poll_cpu).max(0.0) / runs);
    let (mut dcpu_total, mut dpolls_total) = (0.0, 0u32);
    for i in 0..RUNS {
        match cfn_timed(t, &mut c, &format!("s21-{i}"), "", "delete", poll) {
            Ok(r) => {
                dwalls.push(r.wall);
                dcpu_total += r.cpu;
                dpolls_total += r.polls;
            }
            Err(e) => {
                out["stack21_delete_error"] =
                    json!(format!("{e}").lines().next().unwrap_or_default());
                break;
            }
        }
    }
    if dwalls.len() == RUNS as usize {
        let dpoll_cpu = cfn_poll_cost(t, &mut c, "s21-cold", dpolls_total, poll)?;
        out["stack21_delete_wall_ms"] = json!(median(&mut dwalls));
        out["stack21_delete_server_cpu_ms_raw"] = json!(dcpu_total / runs);
        out["stack21_delete_poll_cpu_ms"] = json!(dpoll_cpu / runs);
        out["stack21_delete_server_cpu_ms"] = json!((dcpu_total - dpoll_cpu).max(0.0) / runs);
    }
    match (|| -> Result<()> {
        let r = cfn_timed(t, &mut c, "s500", &cfn_stack500("a"), "create", poll)?;
        out["stack500_create_wall_ms"] = json!(r.wall);
        out["stack500_create_server_cpu_ms"] = json!(r.cpu);
        out["stack500_create_polls"] = json!(r.polls);
        let r = cfn_timed(t, &mut c, "s500", "", "delete", poll)?;
        out["stack500_delete_wall_ms"] = json!(r.wall);
        out["stack500_delete_server_cpu_ms"] = json!(r.cpu);
        out["stack500_delete_polls"] = json!(r.polls);
        Ok(())
    })() {
        Ok(()) => {}
        Err(e) => out["stack500_error"] = json!(format!("{e}").lines().next().unwrap_or_default()),
    }
    Ok(out)
}

fn main() -> Result<()> {
    let mut bin = PathBuf::from("target/release/ironsage");
    let mut moto = true;
    let mut seconds = 3.0;
    let mut out: Option<PathBuf> = None;
    let mut suite = "foundation".to_string();
    let mut big_mib: u64 = 256;
    let mut sse_kms = false;
    let mut phases = Phases {
        small: true,
        big: true,
        kms: true,
        cap: 20_000,
        rounds: 3,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ironsage" => bin = PathBuf::from(it.next().context("--ironsage PATH")?),
            "--no-moto" => moto = false,
            "--seconds" => seconds = it.next().context("--seconds S")?.parse()?,
            "--out" => out = Some(PathBuf::from(it.next().context("--out FILE")?)),
            "--suite" => suite = it.next().context("--suite foundation|data")?.clone(),
            "--big-mib" => big_mib = it.next().context("--big-mib N")?.parse()?,
            "--sse-kms" => sse_kms = true,
            "--floor-server" => {
                return floor_server(it.next().context("--floor-server PORT")?.parse()?);
            }
            "--phases" => {
                let list = it.next().context("--phases small,big,kms")?;
                phases = Phases {
                    small: list.split(',').any(|p| p == "small"),
                    big: list.split(',').any(|p| p == "big"),
                    kms: list.split(',').any(|p| p == "kms"),
                    cap: phases.cap,
                    rounds: phases.rounds,
                };
            }
            "--cap" => {
                phases.cap = it.next().context("--cap N")?.parse()?;
            }
            "--rounds" => {
                phases.rounds = it.next().context("--rounds N")?.parse()?;
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let run = |t: &Target| -> Result<Value> {
        match suite.as_str() {
            "foundation" => measure(t, seconds),
            "data" => measure_s3_kms(t, seconds, big_mib, sse_kms, phases),
            "ec2" => measure_ec2(t),
            "cfn" => measure_cfn(t),
            other => bail!("unknown suite {other} (foundation, data, ec2, cfn)"),
        }
    };
    let mut results = Vec::new();
    {
        let t = start_ironsage(&bin)?;
        results.push(run(&t)?);
    }
    if moto {
        match start_moto() {
            // A moto failure is a finding, not a harness failure: record it.
            Ok(t) => results.push(run(&t).unwrap_or_else(|e| {
                let first = format!("{e}")
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                json!({"server": "moto", "error": first})
            })),
            Err(e) => eprintln!("moto_server unavailable: {e:#}"),
        }
    }
    let mut report = json!({"results": results, "cpu": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)});
    // What one sequential request costs a server that does nothing (the
    // kernel's loopback TCP and wake-ups), measured in the same run.
    match measure_floor(seconds) {
        Ok(us) => report["floor_cpu_us_per_request_do_nothing_http_server"] = json!(us),
        Err(e) => eprintln!("floor measurement failed: {e:#}"),
    }
    if let (Some(a), Some(b)) = (
        report["results"].get(0).cloned(),
        report["results"].get(1).cloned(),
    ) {
        let mut ratios = serde_json::Map::new();
        if let (Some(ao), Some(bo)) = (a.as_object(), b.as_object()) {
            for (k, v) in ao {
                if let (Some(x), Some(y)) = (v.as_f64(), bo.get(k).and_then(Value::as_f64)) {
                    if x != 0.0 {
                        ratios.insert(format!("{k} (moto / ironsage)"), json!(y / x));
                    }
                }
            }
        }
        report["ratios"] = Value::Object(ratios);
    }
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(p) = out {
        std::fs::write(p, text)?;
    }
    Ok(())
}
