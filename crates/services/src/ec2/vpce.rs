//! VPC endpoints, endpoint services and the managed prefix lists of the
//! gateway services (S3, DynamoDB).
//!
//! Gateway endpoints add a route to the service's prefix list in each chosen
//! route table; interface endpoints get one network interface per subnet (one
//! subnet per zone) and DNS entries, plus the service's own name when private
//! DNS is on. Policies are validated as VPC endpoint policies and exposed to
//! the gateway through [`super::Ec2::endpoint`].

use std::sync::Arc;

use ironsage_policy::{Policy, PolicyKind};
use serde_json::{json, Value};

use super::filter::Filters;
use super::net::{create_eni, delete_eni, zones};
use super::{
    arr, arr_mut, describe, err, gs, hex_id, invalid, new_id, not_found, paginate, public, set,
    spec_tags, stable_hex, strs, Region, Rq, ENI, RTB, SG, SUBNET, VPC, VPCE,
};
use crate::AwsError;

/// The policy an endpoint has when none is given: full access.
pub const DEFAULT_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// Gateway or Interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// Route-table based (S3, DynamoDB).
    Gateway,
    /// Network interfaces in subnets.
    Interface,
}

/// What the gateway needs to know about one VPC endpoint.
#[derive(Debug, Clone)]
pub struct EndpointInfo {
    /// `vpce-…`.
    pub id: String,
    /// The VPC it belongs to.
    pub vpc_id: String,
    /// `com.amazonaws.<region>.<service>`.
    pub service_name: String,
    /// The endpoint policy (the default full-access policy when none was set).
    pub policy: Arc<Policy>,
    /// Gateway or Interface.
    pub kind: EndpointKind,
    /// `available` (or `pending`).
    pub state: String,
    /// Route tables (gateway endpoints).
    pub route_table_ids: Vec<String>,
    /// Subnets (interface endpoints).
    pub subnet_ids: Vec<String>,
    /// Security groups (interface endpoints).
    pub security_group_ids: Vec<String>,
    /// Whether the service's own DNS name resolves to this endpoint in the VPC.
    pub private_dns_enabled: bool,
    /// Every DNS name of the endpoint.
    pub dns_names: Vec<String>,
}

pub(crate) fn info(d: &Value) -> Option<EndpointInfo> {
    let text = gs(d, "PolicyDocument");
    let text = if text.is_empty() {
        DEFAULT_POLICY
    } else {
        text
    };
    // Stored policies were validated; should one no longer parse, deny all
    // rather than treat the endpoint as unrestricted.
    let policy = Policy::parse(text, PolicyKind::VpcEndpoint)
        .or_else(|_| Policy::parse(DENY_ALL, PolicyKind::VpcEndpoint))
        .ok()?;
    Some(EndpointInfo {
        id: gs(d, "VpcEndpointId").to_string(),
        vpc_id: gs(d, "VpcId").to_string(),
        service_name: gs(d, "ServiceName").to_string(),
        policy: Arc::new(policy),
        kind: if gs(d, "VpcEndpointType") == "Gateway" {
            EndpointKind::Gateway
        } else {
            EndpointKind::Interface
        },
        state: gs(d, "State").to_string(),
        route_table_ids: strs(d, "RouteTableIds"),
        subnet_ids: strs(d, "SubnetIds"),
        security_group_ids: arr(d, "Groups")
            .iter()
            .map(|g| gs(g, "GroupId").to_string())
            .collect(),
        private_dns_enabled: d.get("PrivateDnsEnabled").and_then(Value::as_bool) == Some(true),
        dns_names: arr(d, "DnsEntries")
            .iter()
            .map(|e| gs(e, "DnsName").to_string())
            .collect(),
    })
}

/// One endpoint service.
#[derive(Debug, Clone)]
struct Svc {
    /// Full service name.
    name: String,
    /// DNS host label(s) before the region (`api.sagemaker`, `sts`).
    host: String,
    /// The private DNS name (`sts.us-east-1.amazonaws.com`).
    private_dns: String,
    gateway: bool,
}

/// Interface services ironsage does not serve itself but whose endpoints
/// templates create (the network object exists; requests to them are not
/// answered by ironsage).
const EXTRA: &[(&str, &str)] = &[
    ("monitoring", "monitoring"),
    ("ecr.api", "api.ecr"),
    ("ecr.dkr", "dkr.ecr"),
    ("git-codecommit", "git-codecommit"),
    ("secretsmanager", "secretsmanager"),
    ("ec2messages", "ec2messages"),
    ("ssmmessages", "ssmmessages"),
    ("sqs", "sqs"),
    ("sns", "sns"),
    ("elasticloadbalancing", "elasticloadbalancing"),
    ("ecs", "ecs"),
    ("states", "states"),
    ("glue", "glue"),
    ("athena", "athena"),
    ("execute-api", "execute-api"),
    (
        "sagemaker.featurestore-runtime",
        "featurestore-runtime.sagemaker",
    ),
    ("codeartifact.api", "codeartifact"),
    ("codeartifact.repositories", "codeartifact"),
    ("bedrock-runtime", "bedrock-runtime"),
];

/// Every endpoint service of a region: the services ironsage serves (by
/// their endpoint prefixes; IAM and Organizations are global and have none),
/// the common ones above, and SageMaker's notebook/studio services.
fn services(region: &str) -> Vec<Svc> {
    let mut out = Vec::new();
    for info in ironsage_model::services() {
        let prefix = info.endpoint_prefix;
        if matches!(prefix, "iam" | "organizations") {
            continue;
        }
        // `api.sagemaker` → service `sagemaker.api`.
        let short = match prefix.split_once('.') {
            Some((a, b)) => format!("{b}.{a}"),
            None => prefix.to_string(),
        };
        let gateway = matches!(prefix, "s3" | "dynamodb");
        out.push(Svc {
            name: format!("com.amazonaws.{region}.{short}"),
            host: prefix.to_string(),
            private_dns: format!("{prefix}.{region}.amazonaws.com"),
            gateway,
        });
    }
    if !out.iter().any(|s| s.name.ends_with(".dynamodb")) {
        out.push(Svc {
            name: format!("com.amazonaws.{region}.dynamodb"),
            host: "dynamodb".into(),
            private_dns: format!("dynamodb.{region}.amazonaws.com"),
            gateway: true,
        });
    }
    for (short, host) in EXTRA {
        out.push(Svc {
            name: format!("com.amazonaws.{region}.{short}"),
            host: host.to_string(),
            private_dns: format!("{host}.{region}.amazonaws.com"),
            gateway: false,
        });
    }
    for app in ["notebook", "studio"] {
        out.push(Svc {
            name: format!("aws.sagemaker.{region}.{app}"),
            host: app.to_string(),
            private_dns: format!("*.{app}.{region}.sagemaker.aws"),
            gateway: false,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The managed prefix lists of the gateway services: (id, name).
pub(crate) fn prefix_lists(region: &str) -> Vec<(String, String)> {
    ["dynamodb", "s3"]
        .iter()
        .map(|s| {
            let name = format!("com.amazonaws.{region}.{s}");
            (format!("pl-{}", stable_hex(&name)), name)
        })
        .collect()
}

fn prefix_list_cidrs(name: &str) -> Vec<&'static str> {
    if name.ends_with(".s3") {
        vec!["192.0.2.0/25"]
    } else {
        vec!["192.0.2.128/25"]
    }
}

fn validate_policy(doc: &str) -> Result<(), AwsError> {
    Policy::parse(doc, PolicyKind::VpcEndpoint)
        .map(|_| ())
        .map_err(|e| err("InvalidPolicyDocument", e.message))
}

fn add_gateway_route(
    r: &mut Region,
    rtb: &str,
    pl: &str,
    vpce: &str,
    vpc_id: &str,
) -> Result<(), AwsError> {
    let t = r.need(RTB, rtb)?;
    if gs(t, "VpcId") != vpc_id {
        return Err(invalid(format!(
            "The route table {rtb} does not belong to VPC {vpc_id}"
        )));
    }
    if arr(t, "Routes")
        .iter()
        .any(|x| gs(x, "DestinationPrefixListId") == pl)
    {
        return Err(err(
            "RouteAlreadyExists",
            format!("route table {rtb} already has a route with destination-prefix-list-id {pl}"),
        ));
    }
    if let Some(routes) = r.get_mut(RTB, rtb).and_then(|d| arr_mut(d, "Routes")) {
        routes.push(json!({"DestinationPrefixListId": pl, "GatewayId": vpce,
                           "Origin": "CreateRoute", "State": "active"}));
    }
    Ok(())
}

fn remove_gateway_route(r: &mut Region, rtb: &str, vpce: &str) {
    if let Some(routes) = r.get_mut(RTB, rtb).and_then(|d| arr_mut(d, "Routes")) {
        routes.retain(|x| {
            !(gs(x, "GatewayId") == vpce && x.get("DestinationPrefixListId").is_some())
        });
    }
}

fn group_docs(r: &Region, ids: &[String]) -> Value {
    Value::Array(
        ids.iter()
            .map(|g| {
                json!({"GroupId": g,
                       "GroupName": r.get(SG, g).map(|d| gs(d, "GroupName")).unwrap_or("")})
            })
            .collect(),
    )
}

/// Checks interface subnets: in the VPC, one per zone.
fn check_subnets(r: &Region, subnets: &[String], vpc_id: &str) -> Result<(), AwsError> {
    let mut zones_seen: Vec<String> = Vec::new();
    for s in subnets {
        let d = r.need(SUBNET, s)?;
        if gs(d, "VpcId") != vpc_id {
            return Err(invalid(format!(
                "The subnet {s} does not belong to VPC {vpc_id}"
            )));
        }
        let az = gs(d, "AvailabilityZone").to_string();
        if zones_seen.contains(&az) {
            return Err(err(
                "DuplicateSubnetsInSameZone",
                format!("Found another VPC endpoint subnet in the availability zone of {s}. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service."),
            ));
        }
        zones_seen.push(az);
    }
    Ok(())
}

fn zonal_entry(r: &Region, svc: &Svc, region: &str, id: &str, token: &str, subnet: &str) -> Value {
    let az = r
        .get(SUBNET, subnet)
        .map(|d| gs(d, "AvailabilityZone").to_string())
        .unwrap_or_default();
    json!({"DnsName": format!("{id}-{token}-{az}.{}.{region}.vpce.amazonaws.com", svc.host.trim_start_matches("*.")),
           "HostedZoneId": "Z7HUB22UULQXV"})
}

fn dns_entries(r: &Region, svc: &Svc, region: &str, d: &Value) -> Value {
    let id = gs(d, "VpcEndpointId");
    let token = gs(d, "_token");
    let mut out = vec![
        json!({"DnsName": format!("{id}-{token}.{}.{region}.vpce.amazonaws.com", svc.host),
                              "HostedZoneId": "Z7HUB22UULQXV"}),
    ];
    for s in strs(d, "SubnetIds") {
        out.push(zonal_entry(r, svc, region, id, token, &s));
    }
    if d.get("PrivateDnsEnabled").and_then(Value::as_bool) == Some(true) {
        out.push(json!({"DnsName": svc.private_dns,
            "HostedZoneId": format!("Z{}", stable_hex(&format!("{}{}", gs(d, "VpcId"), svc.name)).to_ascii_uppercase())}));
    }
    out.push(loopback_entry(id));
    Value::Array(out)
}

/// The address on this machine through which requests arrive via the
/// endpoint: a loopback IP of its own, derived from the endpoint id (stable
/// across restarts, never 127.0.0.1). The gateway listens there on its own
/// port and tags what arrives with `aws:SourceVpce` / `aws:SourceVpc`.
pub fn endpoint_address(vpce_id: &str) -> std::net::Ipv4Addr {
    // FNV-1a over the id, folded into 127.1.0.0 – 127.254.255.255.
    let mut h: u32 = 0x811c_9dc5;
    for b in vpce_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let [_, b, c, d] = h.to_be_bytes();
    std::net::Ipv4Addr::new(127, 1 + b % 254, c, d)
}

/// The DNS entry reporting the endpoint's loopback address.
fn loopback_entry(vpce_id: &str) -> Value {
    json!({"DnsName": endpoint_address(vpce_id).to_string(), "HostedZoneId": "ironsage-loopback"})
}

fn check_private_dns(r: &Region, svc: &Svc, vpc_id: &str, except: &str) -> Result<(), AwsError> {
    let vpc = r.need(VPC, vpc_id)?;
    let on = |m: &str, def: bool| vpc.get(m).and_then(Value::as_bool).unwrap_or(def);
    if !(on("_dns_support", true) && on("_dns_hostnames", false)) {
        return Err(err(
            "InvalidParameter",
            format!("Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true for {vpc_id}"),
        ));
    }
    let clash = r.all(VPCE).any(|(id, e)| {
        id != except
            && gs(e, "VpcId") == vpc_id
            && gs(e, "ServiceName") == svc.name
            && e.get("PrivateDnsEnabled").and_then(Value::as_bool) == Some(true)
    });
    if clash {
        return Err(err(
            "InvalidParameter",
            format!("private-dns-enabled cannot be set because there is already a conflicting DNS domain for {} in the VPC {vpc_id}", svc.private_dns),
        ));
    }
    Ok(())
}

fn add_enis(
    r: &mut Region,
    rq: &Rq<'_>,
    id: &str,
    subnets: &[String],
    groups: &[String],
) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    for s in subnets {
        let (eni, _) = create_eni(
            r,
            rq,
            s,
            &format!("VPC Endpoint Interface {id}"),
            "vpc_endpoint",
            groups,
        )?;
        if let Some(e) = r.get_mut(ENI, &eni) {
            set(e, "_vpce", json!(id));
        }
        out.push(eni);
    }
    Ok(out)
}

pub(crate) fn create_endpoint(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let vpc_id = rq.req("VpcId")?.to_string();
    let name = rq.req("ServiceName")?.to_string();
    r.need(VPC, &vpc_id)?;
    let svc = services(rq.region)
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            err(
                "InvalidServiceName",
                format!("The Vpc Endpoint Service '{name}' does not exist"),
            )
        })?;
    let etype = rq.s("VpcEndpointType").unwrap_or("Gateway");
    let policy = match rq.s("PolicyDocument") {
        Some(p) => {
            validate_policy(p)?;
            p.to_string()
        }
        None => DEFAULT_POLICY.to_string(),
    };
    let tags = spec_tags(rq.input, "vpc-endpoint")?;
    let id = new_id("vpce-");
    let mut doc = json!({"VpcEndpointId": id, "VpcEndpointType": etype, "VpcId": vpc_id,
        "ServiceName": name, "State": "available", "PolicyDocument": policy,
        "RouteTableIds": [], "SubnetIds": [], "Groups": [], "IpAddressType": "ipv4",
        "DnsOptions": {"DnsRecordIpType": "ipv4"}, "PrivateDnsEnabled": false,
        "RequesterManaged": false, "NetworkInterfaceIds": [], "DnsEntries": [],
        "CreationTimestamp": rq.now, "Tags": tags, "OwnerId": rq.account});
    match etype {
        "Gateway" => {
            set(&mut doc, "DnsEntries", json!([loopback_entry(&id)]));
            if !svc.gateway {
                return Err(invalid(format!(
                    "The Vpc Endpoint Service '{name}' does not support endpoint type Gateway"
                )));
            }
            if !rq.strs("SubnetIds").is_empty() || !rq.strs("SecurityGroupIds").is_empty() {
                return Err(invalid(
                    "Subnets and security groups cannot be specified for Gateway endpoints.",
                ));
            }
            let pl = prefix_lists(rq.region)
                .into_iter()
                .find(|(_, n)| *n == name)
                .map(|(p, _)| p)
                .unwrap_or_default();
            let rtbs = rq.strs("RouteTableIds");
            for t in &rtbs {
                add_gateway_route(r, t, &pl, &id, &vpc_id)?;
            }
            set(&mut doc, "RouteTableIds", json!(rtbs));
        }
        "Interface" => {
            if !rq.strs("RouteTableIds").is_empty() {
                return Err(invalid(
                    "Route tables cannot be specified for Interface endpoints.",
                ));
            }
            let subnets = rq.strs("SubnetIds");
            check_subnets(r, &subnets, &vpc_id)?;
            let mut groups = rq.strs("SecurityGroupIds");
            if groups.is_empty() {
                groups = r
                    .all(SG)
                    .filter(|(_, d)| gs(d, "VpcId") == vpc_id && gs(d, "GroupName") == "default")
                    .map(|(k, _)| k.clone())
                    .collect();
            }
            super::sg::check_groups(r, &groups, &vpc_id)?;
            let private = rq
                .input
                .get("PrivateDnsEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if private {
                check_private_dns(r, &svc, &vpc_id, &id)?;
            }
            let enis = add_enis(r, rq, &id, &subnets, &groups)?;
            set(&mut doc, "SubnetIds", json!(subnets));
            set(&mut doc, "Groups", group_docs(r, &groups));
            set(&mut doc, "NetworkInterfaceIds", json!(enis));
            set(&mut doc, "PrivateDnsEnabled", json!(private));
            set(&mut doc, "_token", json!(hex_id("", 8)));
            let entries = dns_entries(r, &svc, rq.region, &doc);
            set(&mut doc, "DnsEntries", entries);
        }
        other => {
            return Err(invalid(format!(
                "Endpoint type {other} is not modelled by ironsage: the endpoint was not created."
            )))
        }
    }
    r.insert(VPCE, &id, doc.clone());
    let mut out = public(&doc);
    if etype == "Interface" {
        set(&mut out, "State", json!("pending"));
    }
    let mut resp = json!({ "VpcEndpoint": out });
    if let Some(t) = rq.s("ClientToken") {
        set(&mut resp, "ClientToken", json!(t));
    }
    Ok(resp)
}

pub(crate) fn describe_endpoints(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(r, rq, VPCE, "VpcEndpointIds", "VpcEndpoints", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

pub(crate) fn modify_endpoint(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("VpcEndpointId")?.to_string();
    let doc = r.need(VPCE, &id)?.clone();
    let vpc_id = gs(&doc, "VpcId").to_string();
    let name = gs(&doc, "ServiceName").to_string();
    let svc = services(rq.region)
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            err(
                "InvalidServiceName",
                format!("The Vpc Endpoint Service '{name}' does not exist"),
            )
        })?;
    let gateway = gs(&doc, "VpcEndpointType") == "Gateway";
    let mut doc = doc;
    let reset = rq.input.get("ResetPolicy").and_then(Value::as_bool) == Some(true);
    if reset && rq.s("PolicyDocument").is_some() {
        return Err(err(
            "InvalidParameterCombination",
            "ResetPolicy and PolicyDocument cannot both be specified.",
        ));
    }
    if reset {
        set(&mut doc, "PolicyDocument", json!(DEFAULT_POLICY));
    }
    if let Some(p) = rq.s("PolicyDocument") {
        validate_policy(p)?;
        set(&mut doc, "PolicyDocument", json!(p));
    }
    let add_rt = rq.strs("AddRouteTableIds");
    let rm_rt = rq.strs("RemoveRouteTableIds");
    let add_sn = rq.strs("AddSubnetIds");
    let rm_sn = rq.strs("RemoveSubnetIds");
    let add_sg = rq.strs("AddSecurityGroupIds");
    let rm_sg = rq.strs("RemoveSecurityGroupIds");
    if gateway && !(add_sn.is_empty() && rm_sn.is_empty() && add_sg.is_empty() && rm_sg.is_empty())
    {
        return Err(invalid(
            "Subnets and security groups cannot be modified on Gateway endpoints.",
        ));
    }
    if !gateway && (!add_rt.is_empty() || !rm_rt.is_empty()) {
        return Err(invalid(
            "Route tables cannot be modified on Interface endpoints.",
        ));
    }
    // Route tables.
    let pl = prefix_lists(rq.region)
        .into_iter()
        .find(|(_, n)| *n == name)
        .map(|(p, _)| p)
        .unwrap_or_default();
    let mut rtbs = strs(&doc, "RouteTableIds");
    for t in &rm_rt {
        if !rtbs.contains(t) {
            return Err(not_found(RTB, t));
        }
        remove_gateway_route(r, t, &id);
        rtbs.retain(|x| x != t);
    }
    for t in &add_rt {
        add_gateway_route(r, t, &pl, &id, &vpc_id)?;
        rtbs.push(t.clone());
    }
    set(&mut doc, "RouteTableIds", json!(rtbs));
    // Security groups.
    let mut groups: Vec<String> = arr(&doc, "Groups")
        .iter()
        .map(|g| gs(g, "GroupId").to_string())
        .collect();
    super::sg::check_groups(r, &add_sg, &vpc_id)?;
    groups.retain(|g| !rm_sg.contains(g));
    for g in add_sg {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let gdocs = group_docs(r, &groups);
    set(&mut doc, "Groups", gdocs.clone());
    // Subnets.
    let mut subnets = strs(&doc, "SubnetIds");
    let mut enis = strs(&doc, "NetworkInterfaceIds");
    for s in &rm_sn {
        if !subnets.contains(s) {
            return Err(not_found(SUBNET, s));
        }
        let gone: Vec<String> = enis
            .iter()
            .filter(|e| r.get(ENI, e).is_some_and(|d| gs(d, "SubnetId") == s))
            .cloned()
            .collect();
        for e in &gone {
            delete_eni(r, e);
        }
        enis.retain(|e| !gone.contains(e));
        subnets.retain(|x| x != s);
    }
    let mut all = subnets.clone();
    all.extend(add_sn.iter().cloned());
    check_subnets(r, &all, &vpc_id)?;
    enis.extend(add_enis(r, rq, &id, &add_sn, &groups)?);
    for e in &enis {
        if let Some(d) = r.get_mut(ENI, e) {
            set(d, "Groups", gdocs.clone());
        }
    }
    set(&mut doc, "SubnetIds", json!(all));
    set(&mut doc, "NetworkInterfaceIds", json!(enis));
    if let Some(p) = rq.input.get("PrivateDnsEnabled").and_then(Value::as_bool) {
        if gateway {
            return Err(invalid("Private DNS cannot be set on Gateway endpoints."));
        }
        if p {
            check_private_dns(r, &svc, &vpc_id, &id)?;
        }
        set(&mut doc, "PrivateDnsEnabled", json!(p));
    }
    if !gateway {
        let entries = dns_entries(r, &svc, rq.region, &doc);
        set(&mut doc, "DnsEntries", entries);
    }
    r.insert(VPCE, &id, doc);
    Ok(json!({ "Return": true }))
}

/// Removes an endpoint with its routes and interfaces.
pub(crate) fn remove_endpoint(r: &mut Region, id: &str) {
    if let Some(doc) = r.remove(VPCE, id) {
        for t in strs(&doc, "RouteTableIds") {
            remove_gateway_route(r, &t, id);
        }
        for e in strs(&doc, "NetworkInterfaceIds") {
            delete_eni(r, &e);
        }
    }
}

pub(crate) fn delete_endpoints(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let mut failed = Vec::new();
    for id in rq.strs("VpcEndpointIds") {
        if r.get(VPCE, &id).is_none() {
            let e = not_found(VPCE, &id);
            failed.push(json!({"Error": {"Code": e.code, "Message": e.message}, "ResourceId": id}));
            continue;
        }
        remove_endpoint(r, &id);
    }
    Ok(json!({ "Unsuccessful": failed }))
}

pub(crate) fn describe_services(_r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let all = services(rq.region);
    let wanted = rq.strs("ServiceNames");
    for n in &wanted {
        if !all.iter().any(|s| &s.name == n) {
            return Err(err(
                "InvalidServiceName",
                format!("The Vpc Endpoint Service '{n}' does not exist"),
            ));
        }
    }
    let filters = Filters::parse(rq.input)?;
    let azs: Vec<String> = zones(rq.region).into_iter().map(|(z, _)| z).collect();
    let mut items = Vec::new();
    for s in all
        .iter()
        .filter(|s| wanted.is_empty() || wanted.contains(&s.name))
    {
        let stype = if s.gateway { "Gateway" } else { "Interface" };
        let mut d = json!({"ServiceName": s.name,
            "ServiceId": format!("vpce-svc-{}{}", stable_hex(&s.name), stable_hex(&format!("{}x", s.name))).chars().take(26).collect::<String>(),
            "ServiceType": [{"ServiceType": stype}], "AvailabilityZones": azs, "Owner": "amazon",
            "BaseEndpointDnsNames": [if s.gateway { s.private_dns.clone() } else {
                format!("{}.{}.vpce.amazonaws.com", s.host, rq.region) }],
            "VpcEndpointPolicySupported": true, "AcceptanceRequired": false,
            "ManagesVpcEndpoints": false, "Tags": [], "SupportedIpAddressTypes": ["ipv4"]});
        if !s.gateway {
            set(&mut d, "PrivateDnsName", json!(s.private_dns));
            set(
                &mut d,
                "PrivateDnsNames",
                json!([{ "PrivateDnsName": s.private_dns }]),
            );
            set(&mut d, "PrivateDnsNameVerificationState", json!("verified"));
        }
        if filters.matches(&d) {
            items.push((s.name.clone(), d));
        }
    }
    let names: Vec<Value> = items.iter().map(|(n, _)| json!(n)).collect();
    let (page, next) = paginate(items, rq.input)?;
    let mut out = json!({"ServiceNames": names, "ServiceDetails": page});
    if let Some(n) = next {
        set(&mut out, "NextToken", json!(n));
        let shown: Vec<Value> = list_names(&out);
        set(&mut out, "ServiceNames", Value::Array(shown));
    }
    Ok(out)
}

fn list_names(out: &Value) -> Vec<Value> {
    arr(out, "ServiceDetails")
        .iter()
        .map(|d| json!(gs(d, "ServiceName")))
        .collect()
}

fn prefix_items(rq: &Rq<'_>, managed: bool) -> Result<Value, AwsError> {
    let pls = prefix_lists(rq.region);
    let ids = rq.strs("PrefixListIds");
    for id in &ids {
        if !pls.iter().any(|(p, _)| p == id) {
            return Err(err(
                "InvalidPrefixListID.NotFound",
                format!("The prefix list ID '{id}' does not exist"),
            ));
        }
    }
    let filters = Filters::parse(rq.input)?;
    let mut items = Vec::new();
    for (id, name) in pls {
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        let d = if managed {
            json!({"PrefixListId": id, "AddressFamily": "IPv4", "State": "create-complete",
                   "PrefixListArn": format!("arn:aws:ec2:{}:aws:prefix-list/{id}", rq.region),
                   "PrefixListName": name, "Tags": [], "OwnerId": "AWS"})
        } else {
            json!({"Cidrs": prefix_list_cidrs(&name), "PrefixListId": id, "PrefixListName": name})
        };
        if filters.matches(&d) {
            items.push((id, d));
        }
    }
    let (page, next) = paginate(items, rq.input)?;
    let mut out = json!({ "PrefixLists": page });
    if let Some(n) = next {
        set(&mut out, "NextToken", json!(n));
    }
    Ok(out)
}

pub(crate) fn describe_prefix_lists(_r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    prefix_items(rq, false)
}

pub(crate) fn describe_managed_prefix_lists(_r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    prefix_items(rq, true)
}
