//! Regions and zones, VPCs, subnets, route tables, internet gateways,
//! Elastic IPs, NAT gateways, network interfaces, DHCP options, network ACLs,
//! flow logs and tags.

use serde_json::{json, Value};

use super::filter::Filters;
use super::{
    arr, arr_mut, attr_bool, dependency, describe, err, gs, hex_id, invalid, kind_of_id, missing,
    new_id, not_found, paginate, public, set, spec_tags, Region, Rq, ACL, DOPT, EIP, ENI, FLOW,
    IGW, KINDS, NAT, RTB, SG, SUBNET, VPC, VPCE,
};
use crate::util::{list, s};
use crate::AwsError;

// ---------------------------------------------------------------- addresses

/// Parses `a.b.c.d/n` with the host bits zero.
pub(crate) fn parse_cidr(c: &str) -> Option<(u32, u8)> {
    let (ip, len) = c.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let base = u32::from(ip);
    let mask = mask(len);
    (base & !mask == 0).then_some((base, len))
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn size(len: u8) -> u64 {
    1u64 << (32 - u32::from(len))
}

fn contains(outer: (u32, u8), inner: (u32, u8)) -> bool {
    outer.1 <= inner.1 && (inner.0 & mask(outer.1)) == outer.0
}

fn overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    contains(a, b) || contains(b, a)
}

fn ip_str(ip: u32) -> String {
    std::net::Ipv4Addr::from(ip).to_string()
}

fn bad_cidr(c: &str) -> AwsError {
    invalid(format!(
        "Value ({c}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
    ))
}

// ------------------------------------------------------------ regions / AZs

/// Real region names with their zone-id prefix and number of zones.
const REGIONS: &[(&str, &str, u8)] = &[
    ("us-east-1", "use1", 6),
    ("us-east-2", "use2", 3),
    ("us-west-1", "usw1", 2),
    ("us-west-2", "usw2", 4),
    ("ca-central-1", "cac1", 3),
    ("eu-west-1", "euw1", 3),
    ("eu-west-2", "euw2", 3),
    ("eu-west-3", "euw3", 3),
    ("eu-central-1", "euc1", 3),
    ("eu-north-1", "eun1", 3),
    ("ap-south-1", "aps1", 3),
    ("ap-southeast-1", "apse1", 3),
    ("ap-southeast-2", "apse2", 3),
    ("ap-northeast-1", "apne1", 3),
    ("ap-northeast-2", "apne2", 4),
    ("ap-northeast-3", "apne3", 3),
    ("sa-east-1", "sae1", 3),
];

/// The zones of a region as (ZoneName, ZoneId).
pub(crate) fn zones(region: &str) -> Vec<(String, String)> {
    let (prefix, n) = REGIONS
        .iter()
        .find(|(r, _, _)| *r == region)
        .map(|(_, p, n)| (p.to_string(), *n))
        .unwrap_or_else(|| (region.replace('-', ""), 3));
    (0..n)
        .map(|i| {
            (
                format!("{region}{}", char::from(b'a' + i)),
                format!("{prefix}-az{}", i + 1),
            )
        })
        .collect()
}

pub(crate) fn describe_regions(_r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let names = rq.strs("RegionNames");
    for n in &names {
        if !REGIONS.iter().any(|(r, _, _)| r == n) {
            return Err(invalid(format!("Invalid region: {n}")));
        }
    }
    let filters = Filters::parse(rq.input)?;
    let out: Vec<Value> = REGIONS
        .iter()
        .filter(|(r, _, _)| names.is_empty() || names.iter().any(|n| n == r))
        .map(|(r, _, _)| {
            json!({"RegionName": r, "Endpoint": format!("ec2.{r}.amazonaws.com"),
                   "OptInStatus": "opt-in-not-required"})
        })
        .filter(|v| filters.matches(v))
        .collect();
    Ok(json!({ "Regions": out }))
}

pub(crate) fn describe_azs(_r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let zs = zones(rq.region);
    let names = rq.strs("ZoneNames");
    let ids = rq.strs("ZoneIds");
    for n in &names {
        if !zs.iter().any(|(z, _)| z == n) {
            return Err(invalid(format!("The zone '{n}' does not exist.")));
        }
    }
    for n in &ids {
        if !zs.iter().any(|(_, z)| z == n) {
            return Err(invalid(format!("The zone id '{n}' does not exist.")));
        }
    }
    let filters = Filters::parse(rq.input)?;
    let out: Vec<Value> = zs
        .iter()
        .filter(|(z, id)| {
            (names.is_empty() && ids.is_empty())
                || names.iter().any(|n| n == z)
                || ids.iter().any(|n| n == id)
        })
        .map(|(z, id)| {
            json!({"State": "available", "OptInStatus": "opt-in-not-required", "Messages": [],
                   "RegionName": rq.region, "ZoneName": z, "ZoneId": id,
                   "GroupName": rq.region, "NetworkBorderGroup": rq.region,
                   "ZoneType": "availability-zone"})
        })
        .filter(|v| filters.matches(v))
        .collect();
    Ok(json!({ "AvailabilityZones": out }))
}

pub(crate) fn describe_account_attributes(_r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let all = [
        ("supported-platforms", "VPC"),
        ("default-vpc", "none"),
        ("max-instances", "20"),
        ("vpc-max-security-groups-per-interface", "5"),
        ("max-elastic-ips", "5"),
        ("vpc-max-elastic-ips", "5"),
    ];
    let names = rq.strs("AttributeNames");
    let out: Vec<Value> = all
        .iter()
        .filter(|(n, _)| names.is_empty() || names.iter().any(|x| x == n))
        .map(|(n, v)| json!({"AttributeName": n, "AttributeValues": [{"AttributeValue": v}]}))
        .collect();
    Ok(json!({ "AccountAttributes": out }))
}

// ---------------------------------------------------------------------- VPCs

fn domain_name(region: &str) -> String {
    if region == "us-east-1" {
        "ec2.internal".to_string()
    } else {
        format!("{region}.compute.internal")
    }
}

/// The region's default DHCP options set, created with the first VPC.
fn default_dopt(r: &mut Region, rq: &Rq<'_>) -> String {
    if let Some((id, _)) = r
        .all(DOPT)
        .find(|(_, d)| d.get("_default").and_then(Value::as_bool) == Some(true))
    {
        return id.clone();
    }
    let id = new_id("dopt-");
    r.insert(
        DOPT,
        &id,
        json!({
            "DhcpConfigurations": [
                {"Key": "domain-name", "Values": [{"Value": domain_name(rq.region)}]},
                {"Key": "domain-name-servers", "Values": [{"Value": "AmazonProvidedDNS"}]}
            ],
            "DhcpOptionsId": id, "OwnerId": rq.account, "Tags": [], "_default": true
        }),
    );
    id
}

fn local_route(cidr: &str) -> Value {
    json!({"DestinationCidrBlock": cidr, "GatewayId": "local",
           "Origin": "CreateRouteTable", "State": "active"})
}

/// The IPv4 CIDR blocks associated with a VPC.
fn vpc_cidrs(vpc: &Value) -> Vec<(u32, u8)> {
    arr(vpc, "CidrBlockAssociationSet")
        .iter()
        .filter(|a| gs(a.get("CidrBlockState").unwrap_or(&Value::Null), "State") == "associated")
        .filter_map(|a| parse_cidr(gs(a, "CidrBlock")))
        .collect()
}

fn new_route_table(r: &Region, rq: &Rq<'_>, vpc_id: &str, tags: Value) -> (String, Value) {
    let id = new_id("rtb-");
    let routes: Vec<Value> = r
        .get(VPC, vpc_id)
        .map(|v| {
            vpc_cidrs(v)
                .iter()
                .map(|(b, l)| local_route(&format!("{}/{l}", ip_str(*b))))
                .collect()
        })
        .unwrap_or_default();
    let doc = json!({"Associations": [], "PropagatingVgws": [], "RouteTableId": id,
        "Routes": routes, "Tags": tags, "VpcId": vpc_id, "OwnerId": rq.account});
    (id, doc)
}

pub(crate) fn create_vpc(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    if rq.s("Ipv4IpamPoolId").is_some() || rq.s("Ipv6IpamPoolId").is_some() {
        return Err(invalid(
            "IPAM pools are not supported by ironsage: the VPC was not created.",
        ));
    }
    if rq
        .input
        .get("AmazonProvidedIpv6CidrBlock")
        .and_then(Value::as_bool)
        == Some(true)
        || rq.s("Ipv6CidrBlock").is_some()
    {
        return Err(invalid(
            "IPv6 CIDR blocks are not supported by ironsage: the VPC was not created.",
        ));
    }
    let cidr = rq.req("CidrBlock")?;
    let (_, len) = parse_cidr(cidr).ok_or_else(|| bad_cidr(cidr))?;
    if !(16..=28).contains(&len) {
        return Err(err(
            "InvalidVpc.Range",
            format!("The CIDR '{cidr}' is invalid."),
        ));
    }
    let tags = spec_tags(rq.input, "vpc")?;
    let tenancy = rq.s("InstanceTenancy").unwrap_or("default");
    let vpc_id = new_id("vpc-");
    let dopt = default_dopt(r, rq);
    let vpc = json!({
        "OwnerId": rq.account, "InstanceTenancy": tenancy,
        "CidrBlockAssociationSet": [{"AssociationId": new_id("vpc-cidr-assoc-"), "CidrBlock": cidr,
            "CidrBlockState": {"State": "associated"}}],
        "IsDefault": false, "Tags": tags, "VpcId": vpc_id, "State": "available",
        "CidrBlock": cidr, "DhcpOptionsId": dopt,
        "_dns_support": true, "_dns_hostnames": false,
    });
    r.insert(VPC, &vpc_id, vpc.clone());
    // Main route table with the local route.
    let (rtb_id, mut rtb) = new_route_table(r, rq, &vpc_id, json!([]));
    if let Some(a) = arr_mut(&mut rtb, "Associations") {
        a.push(
            json!({"Main": true, "RouteTableAssociationId": new_id("rtbassoc-"),
            "RouteTableId": rtb_id, "AssociationState": {"State": "associated"}}),
        );
    }
    r.insert(RTB, &rtb_id, rtb);
    super::sg::create_default_group(r, rq, &vpc_id);
    // Default network ACL: allow all, then the catch-all deny.
    let acl_id = new_id("acl-");
    let entries: Vec<Value> = [true, false]
        .iter()
        .flat_map(|eg| {
            [
                json!({"CidrBlock": "0.0.0.0/0", "Egress": eg, "Protocol": "-1",
                       "RuleAction": "allow", "RuleNumber": 100}),
                json!({"CidrBlock": "0.0.0.0/0", "Egress": eg, "Protocol": "-1",
                       "RuleAction": "deny", "RuleNumber": 32767}),
            ]
        })
        .collect();
    r.insert(
        ACL,
        &acl_id,
        json!({"Associations": [], "Entries": entries, "IsDefault": true,
               "NetworkAclId": acl_id, "Tags": [], "VpcId": vpc_id, "OwnerId": rq.account}),
    );
    let mut out = public(&vpc);
    set(&mut out, "State", json!("pending"));
    Ok(json!({ "Vpc": out }))
}

pub(crate) fn describe_vpcs(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(r, rq, VPC, "VpcIds", "Vpcs", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

fn live_nat(d: &Value) -> bool {
    !matches!(gs(d, "State"), "deleted" | "failed")
}

pub(crate) fn delete_vpc(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("VpcId")?.to_string();
    r.need(VPC, &id)?;
    let in_vpc = |k| !r.ids_where(k, "VpcId", &id).is_empty();
    let igw_attached = r
        .all(IGW)
        .any(|(_, d)| arr(d, "Attachments").iter().any(|a| gs(a, "VpcId") == id));
    let extra_rtb = r
        .all(RTB)
        .any(|(_, d)| gs(d, "VpcId") == id && !arr(d, "Associations").iter().any(is_main));
    let extra_sg = r
        .all(SG)
        .any(|(_, d)| gs(d, "VpcId") == id && gs(d, "GroupName") != "default");
    let nat = r.all(NAT).any(|(_, d)| gs(d, "VpcId") == id && live_nat(d));
    if in_vpc(SUBNET) || in_vpc(VPCE) || in_vpc(ENI) || igw_attached || extra_rtb || extra_sg || nat
    {
        return Err(dependency("vpc", &id));
    }
    for k in [RTB, SG, ACL] {
        for rid in r.ids_where(k, "VpcId", &id) {
            r.remove(k, &rid);
        }
    }
    for fl in r.ids_where(FLOW, "ResourceId", &id) {
        r.remove(FLOW, &fl);
    }
    for n in r.ids_where(NAT, "VpcId", &id) {
        r.remove(NAT, &n);
    }
    r.remove(VPC, &id);
    Ok(json!({}))
}

pub(crate) fn modify_vpc_attribute(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("VpcId")?.to_string();
    let support = attr_bool(rq.input, "EnableDnsSupport");
    let hostnames = attr_bool(rq.input, "EnableDnsHostnames");
    let metrics = attr_bool(rq.input, "EnableNetworkAddressUsageMetrics");
    let n = [support, hostnames, metrics]
        .iter()
        .filter(|x| x.is_some())
        .count();
    if n != 1 {
        return Err(err(
            "InvalidParameterCombination",
            "Fields for multiple attribute types specified: enableDnsSupport, enableDnsHostnames",
        ));
    }
    let vpc = r.need_mut(VPC, &id)?;
    let cur_support = vpc
        .get("_dns_support")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if let Some(v) = support {
        set(vpc, "_dns_support", json!(v));
    }
    if let Some(v) = hostnames {
        if v && !cur_support {
            return Err(err(
                "InvalidParameterCombination",
                "Cannot enable DNS hostnames on a VPC without DNS resolution enabled.",
            ));
        }
        set(vpc, "_dns_hostnames", json!(v));
    }
    if let Some(v) = metrics {
        set(vpc, "_nau_metrics", json!(v));
    }
    Ok(json!({}))
}

pub(crate) fn describe_vpc_attribute(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("VpcId")?;
    let vpc = r.need(VPC, id)?;
    let attr = rq.req("Attribute")?;
    let (member, internal, default) = match attr {
        "enableDnsSupport" => ("EnableDnsSupport", "_dns_support", true),
        "enableDnsHostnames" => ("EnableDnsHostnames", "_dns_hostnames", false),
        "enableNetworkAddressUsageMetrics" => {
            ("EnableNetworkAddressUsageMetrics", "_nau_metrics", false)
        }
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            )))
        }
    };
    let v = vpc
        .get(internal)
        .and_then(Value::as_bool)
        .unwrap_or(default);
    let mut out = json!({ "VpcId": id });
    set(&mut out, member, json!({ "Value": v }));
    Ok(out)
}

pub(crate) fn associate_vpc_cidr(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("VpcId")?.to_string();
    let Some(cidr) = rq.s("CidrBlock") else {
        return Err(invalid(
            "Only IPv4 CidrBlock associations are supported by ironsage.",
        ));
    };
    let c = parse_cidr(cidr).ok_or_else(|| bad_cidr(cidr))?;
    if !(16..=28).contains(&c.1) {
        return Err(err(
            "InvalidVpc.Range",
            format!("The CIDR '{cidr}' is invalid."),
        ));
    }
    let vpc = r.need(VPC, &id)?;
    let cur = vpc_cidrs(vpc);
    if cur.iter().any(|x| overlaps(*x, c)) {
        return Err(err(
            "InvalidVpc.Range",
            format!("The CIDR '{cidr}' conflicts with another CIDR block in the VPC."),
        ));
    }
    if cur.len() >= 5 {
        return Err(err(
            "CidrLimitExceeded",
            format!("This network '{id}' has met its maximum number of allowed CIDRs: 5"),
        ));
    }
    let assoc = json!({"AssociationId": new_id("vpc-cidr-assoc-"), "CidrBlock": cidr,
        "CidrBlockState": {"State": "associated"}});
    if let Some(a) = arr_mut(r.need_mut(VPC, &id)?, "CidrBlockAssociationSet") {
        a.push(assoc.clone());
    }
    for rtb in r.ids_where(RTB, "VpcId", &id) {
        if let Some(routes) = r.get_mut(RTB, &rtb).and_then(|d| arr_mut(d, "Routes")) {
            routes.push(local_route(cidr));
        }
    }
    let mut shown = assoc;
    set(
        &mut shown,
        "CidrBlockState",
        json!({"State": "associating"}),
    );
    Ok(json!({"VpcId": id, "CidrBlockAssociation": shown}))
}

pub(crate) fn disassociate_vpc_cidr(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let assoc_id = rq.req("AssociationId")?.to_string();
    let found = r.all(VPC).find_map(|(vid, d)| {
        arr(d, "CidrBlockAssociationSet")
            .iter()
            .position(|a| gs(a, "AssociationId") == assoc_id)
            .map(|i| (vid.clone(), i, d.clone()))
    });
    let Some((vpc_id, idx, vpc)) = found else {
        return Err(err(
            "InvalidVpcCidrBlockAssociationID.NotFound",
            format!("The vpc CIDR block association ID '{assoc_id}' does not exist"),
        ));
    };
    let assoc = arr(&vpc, "CidrBlockAssociationSet")
        .get(idx)
        .cloned()
        .unwrap_or(Value::Null);
    let cidr = gs(&assoc, "CidrBlock").to_string();
    if cidr == gs(&vpc, "CidrBlock") {
        return Err(err(
            "OperationNotPermitted",
            format!("The vpc CIDR block with association ID {assoc_id} may not be disassociated. It is the primary IPv4 CIDR block of the VPC"),
        ));
    }
    let c = parse_cidr(&cidr).unwrap_or((0, 32));
    let used = r.all(SUBNET).any(|(_, s)| {
        gs(s, "VpcId") == vpc_id && parse_cidr(gs(s, "CidrBlock")).is_some_and(|x| contains(c, x))
    });
    if used {
        return Err(err(
            "DependencyViolation",
            format!("The vpc CIDR block with association ID {assoc_id} has dependencies and cannot be disassociated."),
        ));
    }
    if let Some(a) = arr_mut(r.need_mut(VPC, &vpc_id)?, "CidrBlockAssociationSet") {
        a.retain(|x| gs(x, "AssociationId") != assoc_id);
    }
    for rtb in r.ids_where(RTB, "VpcId", &vpc_id) {
        if let Some(routes) = r.get_mut(RTB, &rtb).and_then(|d| arr_mut(d, "Routes")) {
            routes.retain(|x| {
                !(gs(x, "GatewayId") == "local" && gs(x, "DestinationCidrBlock") == cidr)
            });
        }
    }
    let mut shown = assoc;
    set(
        &mut shown,
        "CidrBlockState",
        json!({"State": "disassociating"}),
    );
    Ok(json!({"VpcId": vpc_id, "CidrBlockAssociation": shown}))
}

// ------------------------------------------------------------------- subnets

pub(crate) fn create_subnet(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let vpc_id = rq.req("VpcId")?.to_string();
    let cidr = rq.req("CidrBlock")?;
    let c = parse_cidr(cidr).ok_or_else(|| bad_cidr(cidr))?;
    let vpc = r.need(VPC, &vpc_id)?;
    if !(16..=28).contains(&c.1) || !vpc_cidrs(vpc).iter().any(|v| contains(*v, c)) {
        return Err(err(
            "InvalidSubnet.Range",
            format!("The CIDR '{cidr}' is invalid."),
        ));
    }
    let conflict = r.all(SUBNET).any(|(_, s)| {
        gs(s, "VpcId") == vpc_id && parse_cidr(gs(s, "CidrBlock")).is_some_and(|x| overlaps(x, c))
    });
    if conflict {
        return Err(err(
            "InvalidSubnet.Conflict",
            format!("The CIDR '{cidr}' conflicts with another subnet"),
        ));
    }
    let zs = zones(rq.region);
    let names = zs
        .iter()
        .map(|(z, _)| z.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (az, az_id) = match (rq.s("AvailabilityZone"), rq.s("AvailabilityZoneId")) {
        (Some(z), _) => zs.iter().find(|(n, _)| n == z).cloned().ok_or_else(|| {
            invalid(format!("Value ({z}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {names}."))
        })?,
        (None, Some(zid)) => zs.iter().find(|(_, i)| i == zid).cloned().ok_or_else(|| {
            invalid(format!("Value ({zid}) for parameter availabilityZoneId is invalid."))
        })?,
        (None, None) => zs.first().cloned().unwrap_or_default(),
    };
    let tags = spec_tags(rq.input, "subnet")?;
    let id = new_id("subnet-");
    let doc = json!({
        "AvailabilityZoneId": az_id, "MapCustomerOwnedIpOnLaunch": false, "OwnerId": rq.account,
        "AssignIpv6AddressOnCreation": false, "Ipv6CidrBlockAssociationSet": [], "Tags": tags,
        "SubnetArn": rq.arn("subnet", &id), "EnableDns64": false, "Ipv6Native": false,
        "PrivateDnsNameOptionsOnLaunch": {"HostnameType": "ip-name",
            "EnableResourceNameDnsARecord": false, "EnableResourceNameDnsAAAARecord": false},
        "SubnetId": id, "State": "available", "VpcId": vpc_id, "CidrBlock": cidr,
        "AvailableIpAddressCount": size(c.1).saturating_sub(5),
        "AvailabilityZone": az, "DefaultForAz": false, "MapPublicIpOnLaunch": false,
    });
    r.insert(SUBNET, &id, doc.clone());
    // Every subnet is associated with the VPC's default network ACL.
    let acl = r
        .all(ACL)
        .find(|(_, d)| gs(d, "VpcId") == vpc_id && d.get("IsDefault") == Some(&json!(true)))
        .map(|(a, _)| a.clone());
    if let Some(acl) = acl {
        if let Some(a) = r
            .get_mut(ACL, &acl)
            .and_then(|d| arr_mut(d, "Associations"))
        {
            a.push(json!({"NetworkAclAssociationId": new_id("aclassoc-"),
                          "NetworkAclId": acl, "SubnetId": id}));
        }
    }
    let mut out = public(&doc);
    set(&mut out, "State", json!("pending"));
    Ok(json!({ "Subnet": out }))
}

pub(crate) fn describe_subnets(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(r, rq, SUBNET, "SubnetIds", "Subnets", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

pub(crate) fn delete_subnet(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("SubnetId")?.to_string();
    r.need(SUBNET, &id)?;
    let nat = r
        .all(NAT)
        .any(|(_, d)| gs(d, "SubnetId") == id && live_nat(d));
    if !r.ids_where(ENI, "SubnetId", &id).is_empty() || nat {
        return Err(dependency("subnet", &id));
    }
    for rtb in r.all(RTB).map(|(k, _)| k.clone()).collect::<Vec<_>>() {
        if let Some(a) = r
            .get_mut(RTB, &rtb)
            .and_then(|d| arr_mut(d, "Associations"))
        {
            a.retain(|x| gs(x, "SubnetId") != id);
        }
    }
    for acl in r.all(ACL).map(|(k, _)| k.clone()).collect::<Vec<_>>() {
        if let Some(a) = r
            .get_mut(ACL, &acl)
            .and_then(|d| arr_mut(d, "Associations"))
        {
            a.retain(|x| gs(x, "SubnetId") != id);
        }
    }
    for fl in r.ids_where(FLOW, "ResourceId", &id) {
        r.remove(FLOW, &fl);
    }
    for n in r.ids_where(NAT, "SubnetId", &id) {
        r.remove(NAT, &n);
    }
    r.remove(SUBNET, &id);
    Ok(json!({}))
}

pub(crate) fn modify_subnet_attribute(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("SubnetId")?.to_string();
    let sub = r.need_mut(SUBNET, &id)?;
    let mut any = false;
    for m in [
        "MapPublicIpOnLaunch",
        "AssignIpv6AddressOnCreation",
        "EnableDns64",
        "MapCustomerOwnedIpOnLaunch",
    ] {
        if let Some(v) = attr_bool(rq.input, m) {
            if m == "AssignIpv6AddressOnCreation" && v {
                return Err(invalid(format!(
                    "Invalid value 'true' for assignIpv6AddressOnCreation. Cannot set assignIpv6AddressOnCreation to true unless the subnet ({id}) has an IPv6 CIDR block associated with it."
                )));
            }
            set(sub, m, json!(v));
            any = true;
        }
    }
    if !any {
        return Err(invalid(
            "No supported subnet attribute was given: ironsage models MapPublicIpOnLaunch, AssignIpv6AddressOnCreation, EnableDns64 and MapCustomerOwnedIpOnLaunch.",
        ));
    }
    Ok(json!({}))
}

// ---------------------------------------------------------- network interfaces

fn private_dns(region: &str, ip: &str) -> String {
    format!("ip-{}.{}", ip.replace('.', "-"), domain_name(region))
}

/// Creates a requester-managed interface in `subnet_id` with the lowest free
/// private address (the first four and the last address are reserved).
pub(crate) fn create_eni(
    r: &mut Region,
    rq: &Rq<'_>,
    subnet_id: &str,
    description: &str,
    iface_type: &str,
    groups: &[String],
) -> Result<(String, String), AwsError> {
    let sub = r.need(SUBNET, subnet_id)?.clone();
    let (base, len) = parse_cidr(gs(&sub, "CidrBlock")).unwrap_or((0, 32));
    let used: Vec<String> = r
        .all(ENI)
        .filter(|(_, d)| gs(d, "SubnetId") == subnet_id)
        .map(|(_, d)| gs(d, "PrivateIpAddress").to_string())
        .collect();
    let n = size(len);
    let ip = (4..n.saturating_sub(1))
        .map(|o| ip_str(base.wrapping_add(o as u32)))
        .find(|ip| !used.contains(ip))
        .ok_or_else(|| {
            err(
                "InsufficientFreeAddressesInSubnet",
                format!("There are not enough free addresses in subnet '{subnet_id}' to satisfy the requested number of instances."),
            )
        })?;
    let group_docs: Vec<Value> = groups
        .iter()
        .map(|g| {
            let name = r
                .get(SG, g)
                .map(|d| gs(d, "GroupName").to_string())
                .unwrap_or_default();
            json!({"GroupId": g, "GroupName": name})
        })
        .collect();
    let id = new_id("eni-");
    let mac = {
        let h = hex_id("", 10);
        let b = h.as_bytes();
        let pair = |i: usize| {
            std::str::from_utf8(b.get(i..i + 2).unwrap_or(b"00"))
                .unwrap_or("00")
                .to_string()
        };
        format!(
            "0e:{}:{}:{}:{}:{}",
            pair(0),
            pair(2),
            pair(4),
            pair(6),
            pair(8)
        )
    };
    let dns = private_dns(rq.region, &ip);
    r.insert(
        ENI,
        &id,
        json!({
            "AvailabilityZone": gs(&sub, "AvailabilityZone"),
            "AvailabilityZoneId": gs(&sub, "AvailabilityZoneId"),
            "Description": description, "Groups": group_docs, "InterfaceType": iface_type,
            "Ipv6Addresses": [], "MacAddress": mac, "NetworkInterfaceId": id,
            "OwnerId": rq.account, "PrivateDnsName": dns, "PrivateIpAddress": ip,
            "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": ip, "PrivateDnsName": dns}],
            "RequesterId": "amazon-elb", "RequesterManaged": true, "SourceDestCheck": true,
            "Status": "in-use", "SubnetId": subnet_id, "TagSet": [],
            "VpcId": gs(&sub, "VpcId"),
        }),
    );
    adjust_free(r, subnet_id, -1);
    Ok((id, ip))
}

fn adjust_free(r: &mut Region, subnet_id: &str, delta: i64) {
    if let Some(sub) = r.get_mut(SUBNET, subnet_id) {
        let n = sub
            .get("AvailableIpAddressCount")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        set(sub, "AvailableIpAddressCount", json!((n + delta).max(0)));
    }
}

/// Deletes an interface (and any Elastic IP association on it).
pub(crate) fn delete_eni(r: &mut Region, eni_id: &str) {
    if let Some(doc) = r.remove(ENI, eni_id) {
        adjust_free(r, gs(&doc, "SubnetId"), 1);
        for alloc in r.ids_where(EIP, "NetworkInterfaceId", eni_id) {
            if let Some(a) = r.get_mut(EIP, &alloc) {
                unassociate(a);
            }
        }
        for fl in r.ids_where(FLOW, "ResourceId", eni_id) {
            r.remove(FLOW, &fl);
        }
    }
}

pub(crate) fn describe_enis(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(
        r,
        rq,
        ENI,
        "NetworkInterfaceIds",
        "NetworkInterfaces",
        |_, d| std::borrow::Cow::Borrowed(d),
    )
}

// -------------------------------------------------------------- route tables

fn is_main(a: &Value) -> bool {
    a.get("Main").and_then(Value::as_bool) == Some(true)
}

pub(crate) fn create_route_table(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let vpc_id = rq.req("VpcId")?;
    r.need(VPC, vpc_id)?;
    let tags = spec_tags(rq.input, "route-table")?;
    let (id, doc) = new_route_table(r, rq, vpc_id, tags);
    r.insert(RTB, &id, doc.clone());
    Ok(json!({ "RouteTable": doc }))
}

pub(crate) fn describe_route_tables(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(r, rq, RTB, "RouteTableIds", "RouteTables", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

pub(crate) fn delete_route_table(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("RouteTableId")?.to_string();
    let rtb = r.need(RTB, &id)?;
    if !arr(rtb, "Associations").is_empty() {
        return Err(dependency("routeTable", &id));
    }
    r.remove(RTB, &id);
    for e in r.all(VPCE).map(|(k, _)| k.clone()).collect::<Vec<_>>() {
        if let Some(a) = r
            .get_mut(VPCE, &e)
            .and_then(|d| arr_mut(d, "RouteTableIds"))
        {
            a.retain(|x| x.as_str() != Some(id.as_str()));
        }
    }
    Ok(json!({}))
}

/// The destination of a route request: (member, value).
fn destination(rq: &Rq<'_>) -> Result<(&'static str, String), AwsError> {
    for m in [
        "DestinationCidrBlock",
        "DestinationPrefixListId",
        "DestinationIpv6CidrBlock",
    ] {
        if let Some(v) = rq.s(m) {
            if m == "DestinationCidrBlock" && parse_cidr(v).is_none() {
                return Err(invalid(format!(
                    "Value ({v}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block."
                )));
            }
            return Ok((m, v.to_string()));
        }
    }
    Err(missing("destinationCidrBlock"))
}

fn same_dest(route: &Value, member: &str, value: &str) -> bool {
    gs(route, member) == value
}

/// Validates the single target of a route and returns (member, id).
fn route_target(
    r: &Region,
    rq: &Rq<'_>,
    vpc_id: &str,
    rtb_id: &str,
) -> Result<(String, String), AwsError> {
    let given: Vec<(&str, &str)> = [
        "GatewayId",
        "NatGatewayId",
        "VpcEndpointId",
        "NetworkInterfaceId",
        "InstanceId",
        "TransitGatewayId",
        "VpcPeeringConnectionId",
        "EgressOnlyInternetGatewayId",
        "LocalGatewayId",
        "CarrierGatewayId",
        "CoreNetworkArn",
    ]
    .iter()
    .filter_map(|m| rq.s(m).map(|v| (*m, v)))
    .collect();
    let [(member, id)] = given.as_slice() else {
        return Err(err(
            "InvalidParameterCombination",
            "The request must contain exactly one of gatewayId, natGatewayId, vpcEndpointId, networkInterfaceId, instanceId, transitGatewayId, vpcPeeringConnectionId, egressOnlyInternetGatewayId, localGatewayId, carrierGatewayId, coreNetworkArn",
        ));
    };
    let (member, id) = (*member, *id);
    match member {
        "GatewayId" | "VpcEndpointId" if id.starts_with("igw-") => {
            let igw = r.need(IGW, id)?;
            if !arr(igw, "Attachments")
                .iter()
                .any(|a| gs(a, "VpcId") == vpc_id)
            {
                return Err(invalid(format!(
                    "route table {rtb_id} and network gateway {id} belong to different networks"
                )));
            }
            Ok(("GatewayId".into(), id.into()))
        }
        "GatewayId" | "VpcEndpointId" if id.starts_with("vpce-") => {
            let e = r.need(VPCE, id)?;
            if gs(e, "VpcId") != vpc_id {
                return Err(invalid(format!(
                    "route table {rtb_id} and network gateway {id} belong to different networks"
                )));
            }
            Ok(("GatewayId".into(), id.into()))
        }
        "GatewayId" if id.starts_with("vgw-") => Err(invalid(
            "Virtual private gateways are not modelled by ironsage: the route was not created.",
        )),
        "GatewayId" | "VpcEndpointId" => Err(err(
            "InvalidGatewayID.NotFound",
            format!("The gateway ID '{id}' does not exist"),
        )),
        "NatGatewayId" => {
            let n = r.need(NAT, id)?;
            if !live_nat(n) {
                return Err(not_found(NAT, id));
            }
            Ok(("NatGatewayId".into(), id.into()))
        }
        "NetworkInterfaceId" => {
            let e = r.need(ENI, id)?;
            if gs(e, "VpcId") != vpc_id {
                return Err(invalid(format!(
                    "route table {rtb_id} and interface {id} belong to different networks"
                )));
            }
            Ok(("NetworkInterfaceId".into(), id.into()))
        }
        "InstanceId" => Err(err(
            "InvalidInstanceID.NotFound",
            format!("The instance ID '{id}' does not exist"),
        )),
        other => Err(invalid(format!(
            "Route targets of type {other} are not modelled by ironsage: the route was not created."
        ))),
    }
}

fn check_prefix_list(rq: &Rq<'_>, member: &str, value: &str) -> Result<(), AwsError> {
    if member == "DestinationPrefixListId"
        && !super::vpce::prefix_lists(rq.region)
            .iter()
            .any(|(id, _)| id == value)
    {
        return Err(err(
            "InvalidPrefixListId.NotFound",
            format!("The prefix list ID '{value}' does not exist"),
        ));
    }
    Ok(())
}

pub(crate) fn create_route(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let rtb_id = rq.req("RouteTableId")?.to_string();
    let (dm, dv) = destination(rq)?;
    check_prefix_list(rq, dm, &dv)?;
    let rtb = r.need(RTB, &rtb_id)?;
    let vpc_id = gs(rtb, "VpcId").to_string();
    if arr(rtb, "Routes").iter().any(|x| same_dest(x, dm, &dv)) {
        return Err(err(
            "RouteAlreadyExists",
            format!("The route identified by {dv} already exists."),
        ));
    }
    let (tm, tv) = route_target(r, rq, &vpc_id, &rtb_id)?;
    let mut route = json!({"Origin": "CreateRoute", "State": "active"});
    set(&mut route, dm, json!(dv));
    set(&mut route, &tm, json!(tv));
    if let Some(routes) = r.get_mut(RTB, &rtb_id).and_then(|d| arr_mut(d, "Routes")) {
        routes.push(route);
    }
    Ok(json!({ "Return": true }))
}

pub(crate) fn replace_route(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let rtb_id = rq.req("RouteTableId")?.to_string();
    let (dm, dv) = destination(rq)?;
    let rtb = r.need(RTB, &rtb_id)?;
    let vpc_id = gs(rtb, "VpcId").to_string();
    let Some(idx) = arr(rtb, "Routes")
        .iter()
        .position(|x| same_dest(x, dm, &dv))
    else {
        return Err(err(
            "InvalidRoute.NotFound",
            format!(
                "There is no route defined for '{dv}' in the route table. Use CreateRoute instead."
            ),
        ));
    };
    if arr(rtb, "Routes")
        .get(idx)
        .is_some_and(|x| gs(x, "GatewayId") == "local")
        && rq.s("GatewayId") != Some("local")
    {
        return Err(invalid(format!(
            "The route identified by {dv} is the local route and cannot be replaced with a non-local target."
        )));
    }
    let (tm, tv) = route_target(r, rq, &vpc_id, &rtb_id)?;
    let mut route = json!({"Origin": "ReplaceRoute", "State": "active"});
    set(&mut route, dm, json!(dv));
    set(&mut route, &tm, json!(tv));
    if let Some(slot) = r
        .get_mut(RTB, &rtb_id)
        .and_then(|d| arr_mut(d, "Routes"))
        .and_then(|routes| routes.get_mut(idx))
    {
        *slot = route;
    }
    Ok(json!({}))
}

pub(crate) fn delete_route(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let rtb_id = rq.req("RouteTableId")?.to_string();
    let (dm, dv) = destination(rq)?;
    let rtb = r.need(RTB, &rtb_id)?;
    let Some(route) = arr(rtb, "Routes").iter().find(|x| same_dest(x, dm, &dv)) else {
        return Err(err(
            "InvalidRoute.NotFound",
            format!("no route with destination-cidr-block {dv} in route table {rtb_id}"),
        ));
    };
    if gs(route, "GatewayId") == "local" {
        return Err(invalid(format!(
            "cannot remove local route {dv} in route table {rtb_id}"
        )));
    }
    if dm == "DestinationPrefixListId" && gs(route, "GatewayId").starts_with("vpce-") {
        return Err(invalid(format!(
            "Route {dv} in route table {rtb_id} is managed by VPC endpoint {}: modify the endpoint's route tables instead.",
            gs(route, "GatewayId")
        )));
    }
    if let Some(routes) = r.get_mut(RTB, &rtb_id).and_then(|d| arr_mut(d, "Routes")) {
        routes.retain(|x| !same_dest(x, dm, &dv));
    }
    Ok(json!({}))
}

/// Routes targeting `target` become `blackhole`.
pub(crate) fn blackhole(r: &mut Region, target: &str) {
    for rtb in r.all(RTB).map(|(k, _)| k.clone()).collect::<Vec<_>>() {
        if let Some(routes) = r.get_mut(RTB, &rtb).and_then(|d| arr_mut(d, "Routes")) {
            for route in routes.iter_mut() {
                if ["GatewayId", "NatGatewayId", "NetworkInterfaceId"]
                    .iter()
                    .any(|m| gs(route, m) == target)
                {
                    set(route, "State", json!("blackhole"));
                }
            }
        }
    }
}

/// (route table id, index) of an association id.
fn find_assoc(r: &Region, assoc_id: &str) -> Result<(String, Value), AwsError> {
    r.all(RTB)
        .find_map(|(id, d)| {
            arr(d, "Associations")
                .iter()
                .find(|a| gs(a, "RouteTableAssociationId") == assoc_id)
                .map(|a| (id.clone(), a.clone()))
        })
        .ok_or_else(|| {
            err(
                "InvalidAssociationID.NotFound",
                format!("The association ID '{assoc_id}' does not exist"),
            )
        })
}

pub(crate) fn associate_route_table(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let rtb_id = rq.req("RouteTableId")?.to_string();
    let vpc_id = gs(r.need(RTB, &rtb_id)?, "VpcId").to_string();
    let (member, target) = match (rq.s("SubnetId"), rq.s("GatewayId")) {
        (Some(s), None) => {
            let sub = r.need(SUBNET, s)?;
            if gs(sub, "VpcId") != vpc_id {
                return Err(invalid(format!(
                    "Route table {rtb_id} and subnet {s} belong to different networks"
                )));
            }
            ("SubnetId", s.to_string())
        }
        (None, Some(g)) => {
            let igw = r.need(IGW, g)?;
            if !arr(igw, "Attachments")
                .iter()
                .any(|a| gs(a, "VpcId") == vpc_id)
            {
                return Err(invalid(format!(
                    "Route table {rtb_id} and gateway {g} belong to different networks"
                )));
            }
            ("GatewayId", g.to_string())
        }
        _ => {
            return Err(err(
                "InvalidParameterCombination",
                "The request must contain exactly one of subnetId or gatewayId",
            ))
        }
    };
    let taken = r.all(RTB).any(|(_, d)| {
        arr(d, "Associations")
            .iter()
            .any(|a| gs(a, member) == target)
    });
    if taken {
        return Err(err(
            "Resource.AlreadyAssociated",
            format!("the specified association for route table {rtb_id} conflicts with an existing association"),
        ));
    }
    let assoc_id = new_id("rtbassoc-");
    let mut assoc = json!({"Main": false, "RouteTableAssociationId": assoc_id,
        "RouteTableId": rtb_id, "AssociationState": {"State": "associated"}});
    set(&mut assoc, member, json!(target));
    if let Some(a) = r
        .get_mut(RTB, &rtb_id)
        .and_then(|d| arr_mut(d, "Associations"))
    {
        a.push(assoc);
    }
    Ok(json!({"AssociationId": assoc_id, "AssociationState": {"State": "associated"}}))
}

pub(crate) fn disassociate_route_table(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let assoc_id = rq.req("AssociationId")?.to_string();
    let (rtb_id, assoc) = find_assoc(r, &assoc_id)?;
    if is_main(&assoc) {
        return Err(invalid(format!(
            "cannot disassociate the main route table association {assoc_id}"
        )));
    }
    if let Some(a) = r
        .get_mut(RTB, &rtb_id)
        .and_then(|d| arr_mut(d, "Associations"))
    {
        a.retain(|x| gs(x, "RouteTableAssociationId") != assoc_id);
    }
    Ok(json!({}))
}

pub(crate) fn replace_route_table_association(
    r: &mut Region,
    rq: &Rq<'_>,
) -> Result<Value, AwsError> {
    let assoc_id = rq.req("AssociationId")?.to_string();
    let new_rtb = rq.req("RouteTableId")?.to_string();
    let (old_rtb, assoc) = find_assoc(r, &assoc_id)?;
    let new_vpc = gs(r.need(RTB, &new_rtb)?, "VpcId").to_string();
    let old_vpc = gs(r.need(RTB, &old_rtb)?, "VpcId").to_string();
    if new_vpc != old_vpc {
        return Err(invalid(format!(
            "Route table {new_rtb} and association {assoc_id} belong to different networks"
        )));
    }
    if let Some(a) = r
        .get_mut(RTB, &old_rtb)
        .and_then(|d| arr_mut(d, "Associations"))
    {
        a.retain(|x| gs(x, "RouteTableAssociationId") != assoc_id);
    }
    let id = new_id("rtbassoc-");
    let mut moved = assoc;
    set(&mut moved, "RouteTableAssociationId", json!(id));
    set(&mut moved, "RouteTableId", json!(new_rtb));
    if let Some(a) = r
        .get_mut(RTB, &new_rtb)
        .and_then(|d| arr_mut(d, "Associations"))
    {
        a.push(moved);
    }
    Ok(json!({"NewAssociationId": id, "AssociationState": {"State": "associated"}}))
}

// --------------------------------------------------------- internet gateways

pub(crate) fn create_igw(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let tags = spec_tags(rq.input, "internet-gateway")?;
    let id = new_id("igw-");
    let doc =
        json!({"Attachments": [], "InternetGatewayId": id, "OwnerId": rq.account, "Tags": tags});
    r.insert(IGW, &id, doc.clone());
    Ok(json!({ "InternetGateway": doc }))
}

pub(crate) fn describe_igws(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(
        r,
        rq,
        IGW,
        "InternetGatewayIds",
        "InternetGateways",
        |_, d| std::borrow::Cow::Borrowed(d),
    )
}

pub(crate) fn delete_igw(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("InternetGatewayId")?.to_string();
    if !arr(r.need(IGW, &id)?, "Attachments").is_empty() {
        return Err(dependency("internetGateway", &id));
    }
    r.remove(IGW, &id);
    Ok(json!({}))
}

pub(crate) fn attach_igw(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("InternetGatewayId")?.to_string();
    let vpc_id = rq.req("VpcId")?.to_string();
    let igw = r.need(IGW, &id)?;
    r.need(VPC, &vpc_id)?;
    if let Some(a) = arr(igw, "Attachments").first() {
        return Err(err(
            "Resource.AlreadyAssociated",
            format!(
                "resource {id} is already attached to network {}",
                gs(a, "VpcId")
            ),
        ));
    }
    let other = r.all(IGW).find(|(_, d)| {
        arr(d, "Attachments")
            .iter()
            .any(|a| gs(a, "VpcId") == vpc_id)
    });
    if let Some((other, _)) = other {
        return Err(err(
            "Resource.AlreadyAssociated",
            format!("Network {vpc_id} already has an internet gateway attached ({other})"),
        ));
    }
    if let Some(a) = r.get_mut(IGW, &id).and_then(|d| arr_mut(d, "Attachments")) {
        a.push(json!({"State": "available", "VpcId": vpc_id}));
    }
    // Routes that pointed at this gateway come back to life.
    for rtb in r.ids_where(RTB, "VpcId", &vpc_id) {
        if let Some(routes) = r.get_mut(RTB, &rtb).and_then(|d| arr_mut(d, "Routes")) {
            for route in routes.iter_mut().filter(|x| gs(x, "GatewayId") == id) {
                set(route, "State", json!("active"));
            }
        }
    }
    Ok(json!({}))
}

pub(crate) fn detach_igw(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("InternetGatewayId")?.to_string();
    let vpc_id = rq.req("VpcId")?.to_string();
    let igw = r.need(IGW, &id)?;
    if !arr(igw, "Attachments")
        .iter()
        .any(|a| gs(a, "VpcId") == vpc_id)
    {
        return Err(err(
            "Gateway.NotAttached",
            format!("resource {id} is not attached to network {vpc_id}"),
        ));
    }
    let mapped = r.all(EIP).any(|(_, a)| {
        let eni = gs(a, "NetworkInterfaceId");
        !eni.is_empty() && r.get(ENI, eni).is_some_and(|e| gs(e, "VpcId") == vpc_id)
    });
    if mapped {
        return Err(err(
            "DependencyViolation",
            format!("Network {vpc_id} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."),
        ));
    }
    if let Some(a) = r.get_mut(IGW, &id).and_then(|d| arr_mut(d, "Attachments")) {
        a.clear();
    }
    blackhole(r, &id);
    Ok(json!({}))
}

// --------------------------------------------------------------- Elastic IPs

/// Public addresses come from the documentation ranges (RFC 5737).
fn free_public_ip(r: &Region) -> Option<String> {
    let used: Vec<&str> = r.all(EIP).map(|(_, d)| gs(d, "PublicIp")).collect();
    ["198.51.100", "203.0.113"]
        .iter()
        .flat_map(|net| (1..=254).map(move |h| format!("{net}.{h}")))
        .find(|ip| !used.contains(&ip.as_str()))
}

pub(crate) fn allocate_address(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    if rq.s("Address").is_some() || rq.s("PublicIpv4Pool").is_some_and(|p| p != "amazon") {
        return Err(invalid(
            "Bring-your-own-IP pools are not modelled by ironsage: no address was allocated.",
        ));
    }
    let tags = spec_tags(rq.input, "elastic-ip")?;
    let ip = free_public_ip(r).ok_or_else(|| {
        err(
            "AddressLimitExceeded",
            "The maximum number of addresses has been reached.",
        )
    })?;
    let id = new_id("eipalloc-");
    let doc = json!({"AllocationId": id, "Domain": "vpc", "PublicIp": ip,
        "PublicIpv4Pool": "amazon", "NetworkBorderGroup": rq.region, "Tags": tags});
    r.insert(EIP, &id, doc);
    Ok(json!({"AllocationId": id, "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": rq.region, "Domain": "vpc", "PublicIp": ip}))
}

pub(crate) fn describe_addresses(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let ips = rq.strs("PublicIps");
    for ip in &ips {
        if !r.all(EIP).any(|(_, d)| gs(d, "PublicIp") == ip) {
            return Err(err(
                "InvalidAddress.NotFound",
                format!("Address '{ip}' not found."),
            ));
        }
    }
    let out = describe(r, rq, EIP, "AllocationIds", "Addresses", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })?;
    if ips.is_empty() {
        return Ok(out);
    }
    let kept: Vec<Value> = list(&out, "Addresses")
        .iter()
        .filter(|a| ips.iter().any(|ip| ip == gs(a, "PublicIp")))
        .cloned()
        .collect();
    Ok(json!({ "Addresses": kept }))
}

fn eip_by(r: &Region, rq: &Rq<'_>) -> Result<String, AwsError> {
    if let Some(id) = rq.s("AllocationId") {
        r.need(EIP, id)?;
        return Ok(id.to_string());
    }
    if let Some(ip) = rq.s("PublicIp") {
        return r
            .all(EIP)
            .find(|(_, d)| gs(d, "PublicIp") == ip)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| {
                err(
                    "InvalidAddress.NotFound",
                    format!("Address '{ip}' not found."),
                )
            });
    }
    Err(missing("AllocationId"))
}

fn unassociate(a: &mut Value) {
    if let Some(m) = a.as_object_mut() {
        for k in [
            "AssociationId",
            "NetworkInterfaceId",
            "NetworkInterfaceOwnerId",
            "PrivateIpAddress",
            "_nat",
        ] {
            m.remove(k);
        }
    }
}

pub(crate) fn release_address(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = eip_by(r, rq)?;
    let a = r.need(EIP, &id)?;
    if !gs(a, "AssociationId").is_empty() || !gs(a, "_nat").is_empty() {
        return Err(err(
            "InvalidIPAddress.InUse",
            format!("Address {} is in use.", gs(a, "PublicIp")),
        ));
    }
    r.remove(EIP, &id);
    Ok(json!({}))
}

/// Associates an address with an interface; returns the association id.
pub(crate) fn bind_address(r: &mut Region, alloc: &str, eni_id: &str, nat: Option<&str>) -> String {
    let assoc = new_id("eipassoc-");
    let eni = r.get(ENI, eni_id).cloned().unwrap_or(Value::Null);
    let ip = r
        .get(EIP, alloc)
        .map(|d| gs(d, "PublicIp").to_string())
        .unwrap_or_default();
    if let Some(a) = r.get_mut(EIP, alloc) {
        set(a, "AssociationId", json!(assoc));
        set(a, "NetworkInterfaceId", json!(eni_id));
        set(a, "NetworkInterfaceOwnerId", json!(gs(&eni, "OwnerId")));
        set(a, "PrivateIpAddress", json!(gs(&eni, "PrivateIpAddress")));
        if let Some(n) = nat {
            set(a, "_nat", json!(n));
        }
    }
    if let Some(e) = r.get_mut(ENI, eni_id) {
        set(
            e,
            "Association",
            json!({"AllocationId": alloc, "AssociationId": assoc, "IpOwnerId": "amazon",
                   "PublicIp": ip}),
        );
    }
    assoc
}

pub(crate) fn associate_address(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = eip_by(r, rq)?;
    if let Some(i) = rq.s("InstanceId") {
        return Err(err(
            "InvalidInstanceID.NotFound",
            format!("The instance ID '{i}' does not exist"),
        ));
    }
    let eni = rq.req("NetworkInterfaceId")?.to_string();
    r.need(ENI, &eni)?;
    let a = r.need(EIP, &id)?.clone();
    if !gs(&a, "_nat").is_empty() {
        return Err(err(
            "InvalidIPAddress.InUse",
            format!(
                "Address {} is in use by NAT gateway {}.",
                gs(&a, "PublicIp"),
                gs(&a, "_nat")
            ),
        ));
    }
    let allow = rq.input.get("AllowReassociation").and_then(Value::as_bool) == Some(true);
    if !gs(&a, "AssociationId").is_empty() && !allow {
        return Err(err(
            "Resource.AlreadyAssociated",
            format!(
                "resource {id} is already associated with associate-id {}",
                gs(&a, "AssociationId")
            ),
        ));
    }
    // One public address per interface: a previous one is unmapped.
    for other in r.ids_where(EIP, "NetworkInterfaceId", &eni) {
        if let Some(o) = r.get_mut(EIP, &other) {
            unassociate(o);
        }
    }
    let old_eni = gs(&a, "NetworkInterfaceId").to_string();
    if let Some(e) = r.get_mut(ENI, &old_eni) {
        if let Some(m) = e.as_object_mut() {
            m.remove("Association");
        }
    }
    let assoc = bind_address(r, &id, &eni, None);
    Ok(json!({ "AssociationId": assoc }))
}

pub(crate) fn disassociate_address(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let found = if let Some(assoc) = rq.s("AssociationId") {
        r.ids_where(EIP, "AssociationId", assoc)
            .into_iter()
            .next()
            .ok_or_else(|| {
                err(
                    "InvalidAssociationID.NotFound",
                    format!("The association ID '{assoc}' does not exist"),
                )
            })?
    } else {
        eip_by(r, rq)?
    };
    let a = r.need(EIP, &found)?.clone();
    if !gs(&a, "_nat").is_empty() {
        return Err(err(
            "InvalidIPAddress.InUse",
            format!(
                "Address {} is in use by NAT gateway {}.",
                gs(&a, "PublicIp"),
                gs(&a, "_nat")
            ),
        ));
    }
    if gs(&a, "AssociationId").is_empty() {
        return Err(err(
            "InvalidAssociationID.NotFound",
            format!("The address {} is not associated", gs(&a, "PublicIp")),
        ));
    }
    if let Some(e) = r.get_mut(ENI, gs(&a, "NetworkInterfaceId")) {
        if let Some(m) = e.as_object_mut() {
            m.remove("Association");
        }
    }
    if let Some(x) = r.get_mut(EIP, &found) {
        unassociate(x);
    }
    Ok(json!({}))
}

// -------------------------------------------------------------- NAT gateways

pub(crate) fn create_nat(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let subnet_id = rq.req("SubnetId")?.to_string();
    let sub = r.need(SUBNET, &subnet_id)?.clone();
    let vpc_id = gs(&sub, "VpcId").to_string();
    let public_nat = rq.s("ConnectivityType").unwrap_or("public") == "public";
    let alloc = rq.s("AllocationId").map(str::to_string);
    let tags = spec_tags(rq.input, "natgateway")?;
    if public_nat && alloc.is_none() {
        return Err(missing("AllocationId"));
    }
    if !public_nat && alloc.is_some() {
        return Err(invalid(
            "AllocationId cannot be specified for a private NAT gateway.",
        ));
    }
    if let Some(a) = &alloc {
        let e = r.need(EIP, a)?;
        if !gs(e, "AssociationId").is_empty() || !gs(e, "_nat").is_empty() {
            return Err(err(
                "Resource.AlreadyAssociated",
                format!("Elastic IP address [{a}] is already associated"),
            ));
        }
    }
    let id = new_id("nat-");
    let mut doc = json!({"CreateTime": rq.now, "NatGatewayAddresses": [], "NatGatewayId": id,
        "State": "available", "SubnetId": subnet_id, "VpcId": vpc_id, "Tags": tags,
        "ConnectivityType": if public_nat { "public" } else { "private" }});
    let has_igw = r.all(IGW).any(|(_, d)| {
        arr(d, "Attachments")
            .iter()
            .any(|a| gs(a, "VpcId") == vpc_id)
    });
    if public_nat && !has_igw {
        set(&mut doc, "State", json!("failed"));
        set(&mut doc, "FailureCode", json!("Gateway.NotAttached"));
        set(
            &mut doc,
            "FailureMessage",
            json!(format!("Network {vpc_id} has no Internet gateway attached")),
        );
    } else {
        let (eni, ip) = create_eni(
            r,
            rq,
            &subnet_id,
            &format!("Interface for NAT Gateway {id}"),
            "nat_gateway",
            &[],
        )?;
        let mut addr = json!({"NetworkInterfaceId": eni, "PrivateIp": ip, "IsPrimary": true,
            "Status": "succeeded"});
        if let Some(a) = &alloc {
            let assoc = bind_address(r, a, &eni, Some(&id));
            let pip = r
                .get(EIP, a)
                .map(|d| gs(d, "PublicIp").to_string())
                .unwrap_or_default();
            set(&mut addr, "AllocationId", json!(a));
            set(&mut addr, "PublicIp", json!(pip));
            set(&mut addr, "AssociationId", json!(assoc));
        }
        if let Some(list) = arr_mut(&mut doc, "NatGatewayAddresses") {
            list.push(addr);
        }
    }
    r.insert(NAT, &id, doc.clone());
    let mut out = public(&doc);
    set(&mut out, "State", json!("pending"));
    Ok(json!({ "NatGateway": out }))
}

pub(crate) fn describe_nats(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    // `Filter` is this operation's (older) member name for `Filters`.
    let mut input = rq.input.clone();
    if let (Some(f), Some(m)) = (input.get("Filter").cloned(), input.as_object_mut()) {
        m.insert("Filters".to_string(), f);
    }
    let rq2 = Rq {
        account: rq.account,
        region: rq.region,
        input: &input,
        now: rq.now.clone(),
    };
    describe(r, &rq2, NAT, "NatGatewayIds", "NatGateways", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

pub(crate) fn delete_nat(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("NatGatewayId")?.to_string();
    let nat = r.need(NAT, &id)?.clone();
    if gs(&nat, "State") == "deleted" {
        return Err(not_found(NAT, &id));
    }
    for a in arr(&nat, "NatGatewayAddresses") {
        let alloc = gs(a, "AllocationId");
        if let Some(e) = r.get_mut(EIP, alloc) {
            unassociate(e);
        }
        delete_eni(r, gs(a, "NetworkInterfaceId"));
    }
    blackhole(r, &id);
    if let Some(n) = r.get_mut(NAT, &id) {
        set(n, "State", json!("deleted"));
        set(n, "DeleteTime", json!(rq.now));
        if let Some(addrs) = arr_mut(n, "NatGatewayAddresses") {
            for a in addrs.iter_mut() {
                if let Some(m) = a.as_object_mut() {
                    m.remove("AssociationId");
                    m.insert("Status".into(), json!("succeeded"));
                }
            }
        }
    }
    Ok(json!({ "NatGatewayId": id }))
}

// -------------------------------------------------------------- DHCP options

const DHCP_KEYS: &[&str] = &[
    "domain-name",
    "domain-name-servers",
    "ntp-servers",
    "netbios-name-servers",
    "netbios-node-type",
    "ipv6-address-preferred-lease-time",
];

pub(crate) fn create_dhcp_options(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let mut confs = Vec::new();
    for c in list(rq.input, "DhcpConfigurations") {
        let key = s(c, "Key").unwrap_or("");
        if !DHCP_KEYS.contains(&key) {
            return Err(invalid(format!(
                "Value ({key}) for parameter key is invalid. Unknown DHCP option"
            )));
        }
        let vals: Vec<Value> = super::strs(c, "Values")
            .into_iter()
            .map(|v| json!({ "Value": v }))
            .collect();
        confs.push(json!({"Key": key, "Values": vals}));
    }
    let tags = spec_tags(rq.input, "dhcp-options")?;
    let id = new_id("dopt-");
    let doc = json!({"DhcpConfigurations": confs, "DhcpOptionsId": id, "OwnerId": rq.account, "Tags": tags});
    r.insert(DOPT, &id, doc.clone());
    Ok(json!({ "DhcpOptions": doc }))
}

pub(crate) fn describe_dhcp_options(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(r, rq, DOPT, "DhcpOptionsIds", "DhcpOptions", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

pub(crate) fn delete_dhcp_options(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("DhcpOptionsId")?.to_string();
    r.need(DOPT, &id)?;
    if !r.ids_where(VPC, "DhcpOptionsId", &id).is_empty() {
        return Err(dependency("dhcpOptions", &id));
    }
    r.remove(DOPT, &id);
    Ok(json!({}))
}

pub(crate) fn associate_dhcp_options(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let id = rq.req("DhcpOptionsId")?.to_string();
    let vpc_id = rq.req("VpcId")?.to_string();
    if id != "default" {
        r.need(DOPT, &id)?;
    }
    let vpc = r.need_mut(VPC, &vpc_id)?;
    set(vpc, "DhcpOptionsId", json!(id));
    Ok(json!({}))
}

// -------------------------------------------------------------- network ACLs

pub(crate) fn describe_acls(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    describe(r, rq, ACL, "NetworkAclIds", "NetworkAcls", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

// ----------------------------------------------------------------- flow logs

const DEFAULT_LOG_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

pub(crate) fn create_flow_logs(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let res_type = rq.req("ResourceType")?;
    let kind = match res_type {
        "VPC" => VPC,
        "Subnet" => SUBNET,
        "NetworkInterface" => ENI,
        other => {
            return Err(invalid(format!(
            "Flow logs on {other} resources are not modelled by ironsage: no flow log was created."
        )))
        }
    };
    let dest_type = rq.s("LogDestinationType").unwrap_or("cloud-watch-logs");
    let traffic = rq.s("TrafficType").unwrap_or("ALL");
    if !["ACCEPT", "REJECT", "ALL"].contains(&traffic) {
        return Err(invalid(format!(
            "Value ({traffic}) for parameter TrafficType is invalid."
        )));
    }
    let (group, dest) = match dest_type {
        "cloud-watch-logs" => {
            let group = match (rq.s("LogGroupName"), rq.s("LogDestination")) {
                (Some(g), _) => g.to_string(),
                (None, Some(d)) => d
                    .rsplit_once(":log-group:")
                    .map(|(_, g)| g.trim_end_matches(":*").to_string())
                    .ok_or_else(|| invalid(format!("Invalid log destination: {d}")))?,
                (None, None) => {
                    return Err(err(
                        "InvalidParameter",
                        "LogDestination or LogGroupName is required when LogDestinationType is cloud-watch-logs.",
                    ))
                }
            };
            if rq.s("DeliverLogsPermissionArn").is_none() {
                return Err(err(
                    "InvalidParameter",
                    "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.",
                ));
            }
            let dest = format!(
                "arn:aws:logs:{}:{}:log-group:{group}",
                rq.region, rq.account
            );
            (Some(group), dest)
        }
        "s3" | "kinesis-data-firehose" => {
            let d = rq.s("LogDestination").ok_or_else(|| {
                err(
                    "InvalidParameter",
                    format!("LogDestination can't be empty if LogDestinationType is {dest_type}."),
                )
            })?;
            (None, d.to_string())
        }
        other => {
            return Err(invalid(format!(
                "Value ({other}) for parameter LogDestinationType is invalid."
            )))
        }
    };
    let tags = spec_tags(rq.input, "vpc-flow-log")?;
    let mut ids = Vec::new();
    let mut failed = Vec::new();
    for res in rq.strs("ResourceIds") {
        if r.get(kind, &res).is_none() {
            let e = not_found(kind, &res);
            failed
                .push(json!({"Error": {"Code": e.code, "Message": e.message}, "ResourceId": res}));
            continue;
        }
        let dup = r.all(FLOW).any(|(_, f)| {
            gs(f, "ResourceId") == res
                && gs(f, "LogDestination") == dest
                && gs(f, "TrafficType") == traffic
        });
        if dup {
            failed.push(json!({"Error": {"Code": "FlowLogAlreadyExists",
                "Message": "Error. There is an existing Flow Log with the same configuration and log destination."},
                "ResourceId": res}));
            continue;
        }
        let id = new_id("fl-");
        let mut doc = json!({"CreationTime": rq.now, "DeliverLogsStatus": "SUCCESS",
            "FlowLogId": id, "FlowLogStatus": "ACTIVE", "ResourceId": res,
            "TrafficType": traffic, "LogDestinationType": dest_type, "LogDestination": dest,
            "LogFormat": rq.s("LogFormat").unwrap_or(DEFAULT_LOG_FORMAT), "Tags": tags,
            "MaxAggregationInterval": rq.input.get("MaxAggregationInterval").and_then(Value::as_i64).unwrap_or(600)});
        if let Some(g) = &group {
            set(&mut doc, "LogGroupName", json!(g));
        }
        if let Some(a) = rq.s("DeliverLogsPermissionArn") {
            set(&mut doc, "DeliverLogsPermissionArn", json!(a));
        }
        if let Some(d) = rq.input.get("DestinationOptions") {
            set(&mut doc, "DestinationOptions", d.clone());
        }
        r.insert(FLOW, &id, doc);
        ids.push(id);
    }
    let mut out = json!({"FlowLogIds": ids, "Unsuccessful": failed});
    if let Some(t) = rq.s("ClientToken") {
        set(&mut out, "ClientToken", json!(t));
    }
    Ok(out)
}

pub(crate) fn describe_flow_logs(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let mut input = rq.input.clone();
    if let (Some(f), Some(m)) = (input.get("Filter").cloned(), input.as_object_mut()) {
        m.insert("Filters".to_string(), f);
    }
    let rq2 = Rq {
        account: rq.account,
        region: rq.region,
        input: &input,
        now: rq.now.clone(),
    };
    describe(r, &rq2, FLOW, "FlowLogIds", "FlowLogs", |_, d| {
        std::borrow::Cow::Borrowed(d)
    })
}

pub(crate) fn delete_flow_logs(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let mut failed = Vec::new();
    for id in rq.strs("FlowLogIds") {
        if r.remove(FLOW, &id).is_none() {
            let e = not_found(FLOW, &id);
            failed.push(json!({"Error": {"Code": e.code, "Message": e.message}, "ResourceId": id}));
        }
    }
    Ok(json!({ "Unsuccessful": failed }))
}

// ---------------------------------------------------------------------- tags

pub(crate) fn create_tags(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let tags: Vec<(String, String)> = crate::util::tags(rq.input, "Tags");
    for (k, _) in &tags {
        if k.starts_with("aws:") {
            return Err(invalid(
                "Tag keys starting with 'aws:' are reserved for internal use",
            ));
        }
    }
    let resources = rq.strs("Resources");
    for id in &resources {
        let k = kind_of_id(id)
            .ok_or_else(|| err("InvalidID", format!("The ID '{id}' is not valid")))?;
        let doc = r.need_mut(k, id)?;
        let Some(list) = arr_mut(doc, k.tags_member) else {
            continue;
        };
        for (key, v) in &tags {
            list.retain(|t| gs(t, "Key") != key);
            list.push(json!({"Key": key, "Value": v}));
        }
        if list.len() > 50 {
            return Err(err(
                "TagLimitExceeded",
                "The maximum number of Tags for a resource has been reached.",
            ));
        }
    }
    Ok(json!({}))
}

pub(crate) fn delete_tags(r: &mut Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let tags: Vec<(String, Option<String>)> = list(rq.input, "Tags")
        .iter()
        .filter_map(|t| Some((s(t, "Key")?.to_string(), s(t, "Value").map(str::to_string))))
        .collect();
    for id in rq.strs("Resources") {
        let k = kind_of_id(&id)
            .ok_or_else(|| err("InvalidID", format!("The ID '{id}' is not valid")))?;
        let doc = r.need_mut(k, &id)?;
        let Some(list) = arr_mut(doc, k.tags_member) else {
            continue;
        };
        if tags.is_empty() {
            list.clear();
        }
        for (key, v) in &tags {
            list.retain(|t| {
                !(gs(t, "Key") == key && v.as_deref().is_none_or(|v| gs(t, "Value") == v))
            });
        }
    }
    Ok(json!({}))
}

pub(crate) fn describe_tags(r: &Region, rq: &Rq<'_>) -> Result<Value, AwsError> {
    let filters = Filters::parse(rq.input)?;
    let mut items = Vec::new();
    for k in KINDS {
        for (id, d) in r.all(*k) {
            for t in arr(d, k.tags_member) {
                let v = json!({"Key": gs(t, "Key"), "ResourceId": id,
                    "ResourceType": k.res_type, "Value": gs(t, "Value")});
                if filters.matches(&v) {
                    items.push((format!("{id}\u{1}{}", gs(t, "Key")), v));
                }
            }
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = paginate(items, rq.input)?;
    let mut out = json!({ "Tags": page });
    if let Some(n) = next {
        set(&mut out, "NextToken", json!(n));
    }
    Ok(out)
}
