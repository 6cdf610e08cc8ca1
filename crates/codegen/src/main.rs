//! `ironsage-codegen`: turns the vendored botocore models into the committed
//! data files and service table of `ironsage-model`.
//!
//! Reads `vendor/botocore/<svc>/service-2.json.gz`, strips documentation and
//! examples, and writes `crates/model/data/<svc>.json` (compact JSON with a
//! stable key order) plus `crates/model/src/generated.rs`. With `--check` it
//! writes nothing and exits non-zero if the committed output differs.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

/// Keys that carry only prose and are dropped everywhere.
const DROPPED_KEYS: &[&str] = &["documentation", "documentationUrl", "examples"];

/// Maps whose keys are names (operations, shapes, members): their source order
/// is kept, because member order is the order AWS writes elements in.
const NAME_MAPS: &[&str] = &["operations", "shapes", "members"];

fn workspace_root() -> PathBuf {
    // crates/codegen -> workspace root
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// Removes documentation keys and sorts trait keys, keeping name maps in source order.
fn strip(value: &Value, keep_order: bool) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(k, _)| !DROPPED_KEYS.contains(&k.as_str()))
                .collect();
            if !keep_order {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            let mut out = Map::new();
            for (k, v) in entries {
                let child = if keep_order {
                    // children of a name map are trait objects
                    strip(v, false)
                } else {
                    strip(v, NAME_MAPS.contains(&k.as_str()))
                };
                out.insert(k.clone(), child);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| strip(v, false)).collect()),
        other => other.clone(),
    }
}

struct ServiceRow {
    name: String,
    api_version: String,
    protocol: String,
    signing_name: String,
    target_prefix: Option<String>,
    json_version: Option<String>,
    endpoint_prefix: String,
    xml_namespace: Option<String>,
    service_id: String,
}

fn meta_str(meta: &Value, key: &str) -> Option<String> {
    meta.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn protocol_variant(protocol: &str) -> Result<&'static str> {
    Ok(match protocol {
        "query" => "Query",
        "ec2" => "Ec2",
        "json" => "Json",
        "rest-json" => "RestJson",
        "rest-xml" => "RestXml",
        other => bail!("unsupported protocol {other}"),
    })
}

fn rust_opt(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("Some({s:?})"),
        None => "None".to_owned(),
    }
}

/// Produces every output file: relative path -> contents.
fn generate(root: &Path) -> Result<BTreeMap<PathBuf, String>> {
    let vendor = root.join("vendor").join("botocore");
    let mut names = Vec::new();
    for entry in fs::read_dir(&vendor).with_context(|| format!("reading {}", vendor.display()))? {
        let entry = entry?;
        if entry.path().join("service-2.json.gz").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let mut files = BTreeMap::new();
    let mut rows = Vec::new();
    for name in &names {
        let path = vendor.join(name).join("service-2.json.gz");
        let mut raw = String::new();
        flate2::read::GzDecoder::new(fs::File::open(&path)?)
            .read_to_string(&mut raw)
            .with_context(|| format!("decompressing {}", path.display()))?;
        let model: Value =
            serde_json::from_str(&raw).with_context(|| format!("parsing {}", path.display()))?;
        let stripped = strip(&model, false);
        let meta = stripped
            .get("metadata")
            .with_context(|| format!("{name}: no metadata"))?;
        let protocol =
            meta_str(meta, "protocol").with_context(|| format!("{name}: no protocol"))?;
        let endpoint_prefix = meta_str(meta, "endpointPrefix")
            .with_context(|| format!("{name}: no endpointPrefix"))?;
        rows.push(ServiceRow {
            name: name.clone(),
            api_version: meta_str(meta, "apiVersion")
                .with_context(|| format!("{name}: no apiVersion"))?,
            signing_name: meta_str(meta, "signingName").unwrap_or_else(|| endpoint_prefix.clone()),
            protocol,
            target_prefix: meta_str(meta, "targetPrefix"),
            json_version: meta_str(meta, "jsonVersion"),
            endpoint_prefix,
            xml_namespace: meta_str(meta, "xmlNamespace"),
            service_id: meta_str(meta, "serviceId")
                .with_context(|| format!("{name}: no serviceId"))?,
        });
        let mut text = serde_json::to_string(&stripped)?;
        text.push('\n');
        files.insert(
            PathBuf::from(format!("crates/model/data/{name}.json")),
            text,
        );
    }

    let mut rs = String::new();
    rs.push_str("// @generated by ironsage-codegen from vendor/botocore. Do not edit.\n");
    rs.push_str("// Regenerate with `cargo run -p ironsage-codegen`.\n\n");
    rs.push_str("use crate::{Protocol, ServiceInfo};\n\n");
    rs.push_str(&format!(
        "/// Number of vendored services.\npub const SERVICE_COUNT: usize = {};\n\n",
        rows.len()
    ));
    rs.push_str("/// Every vendored service, sorted by botocore name.\npub static SERVICES: [ServiceInfo; SERVICE_COUNT] = [\n");
    for r in &rows {
        rs.push_str(&format!(
            "    ServiceInfo {{\n        name: {:?},\n        api_version: {:?},\n        protocol: Protocol::{},\n        signing_name: {:?},\n        target_prefix: {},\n        json_version: {},\n        endpoint_prefix: {:?},\n        xml_namespace: {},\n        service_id: {:?},\n    }},\n",
            r.name,
            r.api_version,
            protocol_variant(&r.protocol)?,
            r.signing_name,
            rust_opt(&r.target_prefix),
            rust_opt(&r.json_version),
            r.endpoint_prefix,
            rust_opt(&r.xml_namespace),
            r.service_id,
        ));
    }
    rs.push_str("];\n\n");
    rs.push_str("/// The stripped model JSON of each service, in the order of [`SERVICES`].\npub static MODEL_JSON: [&str; SERVICE_COUNT] = [\n");
    for r in &rows {
        rs.push_str(&format!("    include_str!(\"../data/{}.json\"),\n", r.name));
    }
    rs.push_str("];\n");
    files.insert(PathBuf::from("crates/model/src/generated.rs"), rs);
    Ok(files)
}

fn main() -> Result<()> {
    let check = std::env::args().skip(1).any(|a| a == "--check");
    let root = workspace_root();
    let files = generate(&root)?;
    let mut stale = Vec::new();
    for (rel, contents) in &files {
        let path = root.join(rel);
        let current = fs::read_to_string(&path).ok();
        if current.as_deref() == Some(contents.as_str()) {
            continue;
        }
        if check {
            stale.push(rel.display().to_string());
        } else {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", rel.display());
        }
    }
    // Data files with no vendored model behind them are stale too.
    let data_dir = root.join("crates/model/data");
    if let Ok(entries) = fs::read_dir(&data_dir) {
        for entry in entries.flatten() {
            let rel = PathBuf::from("crates/model/data").join(entry.file_name());
            if !files.contains_key(&rel) {
                if check {
                    stale.push(rel.display().to_string());
                } else {
                    fs::remove_file(entry.path())?;
                    println!("removed {}", rel.display());
                }
            }
        }
    }
    if check && !stale.is_empty() {
        bail!(
            "generated output is out of date (run `cargo run -p ironsage-codegen`): {}",
            stale.join(", ")
        );
    }
    Ok(())
}
