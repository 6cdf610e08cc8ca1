//! Amazon EC2 networking: VPCs, subnets, route tables, gateways, Elastic IPs,
//! NAT gateways, security groups, VPC endpoints, network interfaces, DHCP
//! options, network ACLs and flow logs (ec2 protocol).
//!
//! State is regional: every resource is one row `(kind, "<account>/<region>",
//! id)` whose document is the resource in its Describe output shape (member
//! names from the botocore model), plus a few internal members whose names
//! start with `_` (stripped on output). A region's resources are loaded once
//! into memory (`Region`, copy-on-write per resource) and every mutating
//! operation works on a copy: when it succeeds, exactly the changed rows are
//! written in one store transaction and the copy replaces the cached state;
//! when it fails, nothing changes. Describe calls filter the in-memory state.

mod filter;
mod net;
mod sg;
mod vpce;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ironsage_store::{ServiceStore, Store};
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::util::{list, s};
use crate::{internal, AwsError, Ctx, Service, Target};

pub use vpce::{endpoint_address, EndpointInfo, EndpointKind};

/// One resource document, shared between snapshots until modified.
type Doc = Arc<Value>;

/// Static facts about each resource kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// Row kind in the store.
    pub kind: &'static str,
    /// Id prefix (`vpc-`).
    pub prefix: &'static str,
    /// Resource type in ARNs and `DescribeTags` (`route-table`).
    pub res_type: &'static str,
    /// Not-found error code.
    pub nf_code: &'static str,
    /// Noun in the not-found message (`The vpc ID 'x' does not exist`).
    pub nf_noun: &'static str,
    /// Member holding tags.
    pub tags_member: &'static str,
}

macro_rules! kind {
    ($k:expr, $p:expr, $_id:expr, $rt:expr, $nf:expr, $noun:expr, $tags:expr) => {
        Kind {
            kind: $k,
            prefix: $p,
            res_type: $rt,
            nf_code: $nf,
            nf_noun: $noun,
            tags_member: $tags,
        }
    };
}

pub(crate) const VPC: Kind = kind!(
    "vpc",
    "vpc-",
    "VpcId",
    "vpc",
    "InvalidVpcID.NotFound",
    "vpc ID",
    "Tags"
);
pub(crate) const SUBNET: Kind = kind!(
    "subnet",
    "subnet-",
    "SubnetId",
    "subnet",
    "InvalidSubnetID.NotFound",
    "subnet ID",
    "Tags"
);
pub(crate) const RTB: Kind = kind!(
    "rtb",
    "rtb-",
    "RouteTableId",
    "route-table",
    "InvalidRouteTableID.NotFound",
    "routeTable ID",
    "Tags"
);
pub(crate) const IGW: Kind = kind!(
    "igw",
    "igw-",
    "InternetGatewayId",
    "internet-gateway",
    "InvalidInternetGatewayID.NotFound",
    "internetGateway ID",
    "Tags"
);
pub(crate) const EIP: Kind = kind!(
    "eip",
    "eipalloc-",
    "AllocationId",
    "elastic-ip",
    "InvalidAllocationID.NotFound",
    "allocation ID",
    "Tags"
);
pub(crate) const NAT: Kind = kind!(
    "nat",
    "nat-",
    "NatGatewayId",
    "natgateway",
    "NatGatewayNotFound",
    "",
    "Tags"
);
pub(crate) const SG: Kind = kind!(
    "sg",
    "sg-",
    "GroupId",
    "security-group",
    "InvalidGroup.NotFound",
    "security group",
    "Tags"
);
pub(crate) const VPCE: Kind = kind!(
    "vpce",
    "vpce-",
    "VpcEndpointId",
    "vpc-endpoint",
    "InvalidVpcEndpointId.NotFound",
    "Vpc Endpoint Id",
    "Tags"
);
pub(crate) const ENI: Kind = kind!(
    "eni",
    "eni-",
    "NetworkInterfaceId",
    "network-interface",
    "InvalidNetworkInterfaceID.NotFound",
    "networkInterface ID",
    "TagSet"
);
pub(crate) const DOPT: Kind = kind!(
    "dopt",
    "dopt-",
    "DhcpOptionsId",
    "dhcp-options",
    "InvalidDhcpOptionID.NotFound",
    "dhcpOption ID",
    "Tags"
);
pub(crate) const ACL: Kind = kind!(
    "acl",
    "acl-",
    "NetworkAclId",
    "network-acl",
    "InvalidNetworkAclID.NotFound",
    "networkAcl ID",
    "Tags"
);
pub(crate) const FLOW: Kind = kind!(
    "fl",
    "fl-",
    "FlowLogId",
    "vpc-flow-log",
    "InvalidFlowLogId.NotFound",
    "flow log ID",
    "Tags"
);

pub(crate) const KINDS: &[Kind] = &[
    VPC, SUBNET, RTB, IGW, EIP, NAT, SG, VPCE, ENI, DOPT, ACL, FLOW,
];

/// The kind of a resource id, by prefix.
pub(crate) fn kind_of_id(id: &str) -> Option<Kind> {
    KINDS.iter().copied().find(|k| id.starts_with(k.prefix))
}

/// A region's resources, by kind then id (ordered, so pagination is stable).
#[derive(Debug, Clone, Default)]
pub(crate) struct Region {
    res: BTreeMap<&'static str, BTreeMap<String, Doc>>,
}

impl Region {
    pub fn get(&self, k: Kind, id: &str) -> Option<&Value> {
        self.res.get(k.kind)?.get(id).map(|d| d.as_ref())
    }

    /// The resource or its kind's not-found error.
    pub fn need(&self, k: Kind, id: &str) -> Result<&Value, AwsError> {
        self.get(k, id).ok_or_else(|| not_found(k, id))
    }

    pub fn get_mut(&mut self, k: Kind, id: &str) -> Option<&mut Value> {
        self.res.get_mut(k.kind)?.get_mut(id).map(Arc::make_mut)
    }

    pub fn need_mut(&mut self, k: Kind, id: &str) -> Result<&mut Value, AwsError> {
        self.get_mut(k, id).ok_or_else(|| not_found(k, id))
    }

    pub fn insert(&mut self, k: Kind, id: &str, doc: Value) {
        self.res
            .entry(k.kind)
            .or_default()
            .insert(id.to_string(), Arc::new(doc));
    }

    pub fn remove(&mut self, k: Kind, id: &str) -> Option<Value> {
        self.res
            .get_mut(k.kind)?
            .remove(id)
            .map(|d| Arc::try_unwrap(d).unwrap_or_else(|a| (*a).clone()))
    }

    /// Every resource of a kind, ordered by id.
    pub fn all(&self, k: Kind) -> impl Iterator<Item = (&String, &Value)> {
        self.res
            .get(k.kind)
            .into_iter()
            .flat_map(|m| m.iter().map(|(id, d)| (id, d.as_ref())))
    }

    /// Ids of resources of a kind whose `member` equals `value`.
    pub fn ids_where(&self, k: Kind, member: &str, value: &str) -> Vec<String> {
        self.all(k)
            .filter(|(_, d)| d.get(member).and_then(Value::as_str) == Some(value))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Any resource of this id, whatever its kind.
    pub fn find_any(&self, id: &str) -> Option<(Kind, &Value)> {
        let k = kind_of_id(id)?;
        self.get(k, id).map(|d| (k, d))
    }
}

/// The EC2 service.
pub struct Ec2 {
    store: ServiceStore,
    regions: Mutex<HashMap<String, Arc<Region>>>,
    writer: Mutex<()>,
}

impl std::fmt::Debug for Ec2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2").finish_non_exhaustive()
    }
}

/// Everything an operation handler needs besides the state.
pub(crate) struct Rq<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub input: &'a Value,
    pub now: String,
}

impl Rq<'_> {
    pub fn s(&self, m: &str) -> Option<&str> {
        s(self.input, m)
    }

    pub fn req(&self, m: &str) -> Result<&str, AwsError> {
        self.s(m).ok_or_else(|| missing(m))
    }

    pub fn arn(&self, res_type: &str, id: &str) -> String {
        format!(
            "arn:aws:ec2:{}:{}:{res_type}/{id}",
            self.region, self.account
        )
    }

    /// Strings of a list member.
    pub fn strs(&self, m: &str) -> Vec<String> {
        strs(self.input, m)
    }
}

/// Strings of a list member.
pub(crate) fn strs(v: &Value, m: &str) -> Vec<String> {
    list(v, m)
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// An error with AWS's code; 400.
pub(crate) fn err(code: &str, msg: impl Into<String>) -> AwsError {
    AwsError::new(code, msg, 400)
}

pub(crate) fn invalid(msg: impl Into<String>) -> AwsError {
    err("InvalidParameterValue", msg)
}

pub(crate) fn missing(m: &str) -> AwsError {
    err(
        "MissingParameter",
        format!("The request must contain the parameter {m}"),
    )
}

pub(crate) fn not_found(k: Kind, id: &str) -> AwsError {
    match k.kind {
        "nat" => err(k.nf_code, format!("The Nat Gateway {id} was not found")),
        "sg" => err(
            k.nf_code,
            format!("The security group '{id}' does not exist"),
        ),
        "fl" => err(k.nf_code, format!("Flow Log '{id}' does not exist")),
        _ => err(
            k.nf_code,
            format!("The {} '{id}' does not exist", k.nf_noun),
        ),
    }
}

pub(crate) fn dependency(noun: &str, id: &str) -> AwsError {
    err(
        "DependencyViolation",
        format!("The {noun} '{id}' has dependencies and cannot be deleted."),
    )
}

/// A new id: prefix + 17 lowercase hex digits, as AWS issues them.
pub(crate) fn new_id(prefix: &str) -> String {
    hex_id(prefix, 17)
}

pub(crate) fn hex_id(prefix: &str, n: usize) -> String {
    let mut rng = rand::thread_rng();
    let hex: String = (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16usize)]))
        .collect();
    format!("{prefix}{hex}")
}

/// A stable 8-hex-digit id derived from text (FNV-1a), e.g. managed prefix lists.
pub(crate) fn stable_hex(text: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// Tags from `TagSpecifications` for `res_type`; a specification of another
/// resource type is refused as AWS does.
pub(crate) fn spec_tags(input: &Value, res_type: &str) -> Result<Value, AwsError> {
    let mut out = Vec::new();
    for spec in list(input, "TagSpecifications") {
        let rt = s(spec, "ResourceType").unwrap_or("");
        if rt != res_type {
            return Err(invalid(format!(
                "'{rt}' is not a valid taggable resource type for this operation."
            )));
        }
        for t in list(spec, "Tags") {
            let key = s(t, "Key").unwrap_or("");
            if key.starts_with("aws:") {
                return Err(invalid(
                    "Tag keys starting with 'aws:' are reserved for internal use",
                ));
            }
            out.retain(|o: &Value| o.get("Key").and_then(Value::as_str) != Some(key));
            out.push(json!({"Key": key, "Value": s(t, "Value").unwrap_or("")}));
        }
    }
    Ok(Value::Array(out))
}

/// Removes internal members (names starting with `_`) for output.
pub(crate) fn public(doc: &Value) -> Value {
    match doc {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Sets a member of an object document (no-op on non-objects).
pub(crate) fn set(doc: &mut Value, member: &str, v: Value) {
    if let Some(m) = doc.as_object_mut() {
        m.insert(member.to_string(), v);
    }
}

/// A string member.
pub(crate) fn gs<'a>(doc: &'a Value, member: &str) -> &'a str {
    doc.get(member).and_then(Value::as_str).unwrap_or("")
}

/// An array member (empty when absent).
pub(crate) fn arr<'a>(doc: &'a Value, member: &str) -> &'a [Value] {
    list(doc, member)
}

/// A mutable array member, created when absent.
pub(crate) fn arr_mut<'a>(doc: &'a mut Value, member: &str) -> Option<&'a mut Vec<Value>> {
    let m = doc.as_object_mut()?;
    let e = m
        .entry(member.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !e.is_array() {
        *e = Value::Array(Vec::new());
    }
    e.as_array_mut()
}

/// An `AttributeBooleanValue` input member (`{"Value": true}`).
pub(crate) fn attr_bool(input: &Value, member: &str) -> Option<bool> {
    input
        .get(member)
        .and_then(|v| v.get("Value"))
        .and_then(Value::as_bool)
}

/// Pages `items` by `MaxResults` / `NextToken` (the token is the last id
/// returned). Returns the page and the next token.
pub(crate) fn paginate(
    items: Vec<(String, Value)>,
    input: &Value,
) -> Result<(Vec<Value>, Option<String>), AwsError> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let after = match s(input, "NextToken") {
        Some(t) => Some(
            b64.decode(t.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| err("InvalidNextToken", format!("The token '{t}' is invalid.")))?,
        ),
        None => None,
    };
    let max = input.get("MaxResults").and_then(Value::as_i64);
    if let Some(m) = max {
        if !(5..=1000).contains(&m) {
            return Err(invalid(format!(
                "Value ( {m} ) for parameter maxResults is invalid. Expecting a value greater than 5 and less than 1000."
            )));
        }
    }
    let max = max.map(|m| m as usize).unwrap_or(usize::MAX);
    let mut page = Vec::new();
    let mut next = None;
    let mut iter = items
        .into_iter()
        .filter(|(id, _)| after.as_deref().is_none_or(|a| id.as_str() > a))
        .peekable();
    while let Some((id, v)) = iter.next() {
        page.push(v);
        if page.len() >= max {
            if iter.peek().is_some() {
                next = Some(b64.encode(id.as_bytes()));
            }
            break;
        }
    }
    Ok((page, next))
}

/// The common shape of a Describe over one kind: explicit ids (unknown ones
/// fail), filters, pagination; `render` turns a stored document into output.
pub(crate) fn describe(
    r: &Region,
    rq: &Rq<'_>,
    k: Kind,
    ids_member: &str,
    out_member: &str,
    render: impl for<'a> Fn(&Region, &'a Value) -> std::borrow::Cow<'a, Value>,
) -> Result<Value, AwsError> {
    let ids = rq.strs(ids_member);
    for id in &ids {
        if r.get(k, id).is_none() {
            return Err(not_found(k, id));
        }
    }
    let filters = filter::Filters::parse(rq.input)?;
    let mut items = Vec::new();
    let mut push = |id: &String, d: &Value| {
        let v = render(r, d);
        if filters.matches(v.as_ref()) {
            items.push((id.clone(), public(v.as_ref())));
        }
    };
    if ids.is_empty() {
        for (id, d) in r.all(k) {
            push(id, d);
        }
    } else {
        for id in &ids {
            if let Some(d) = r.get(k, id) {
                push(id, d);
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        items.dedup_by(|a, b| a.0 == b.0);
    }
    let (page, next) = paginate(items, rq.input)?;
    let mut out = Map::new();
    out.insert(out_member.to_string(), Value::Array(page));
    if let Some(n) = next {
        out.insert("NextToken".to_string(), json!(n));
    }
    Ok(Value::Object(out))
}

type ReadOp = fn(&Region, &Rq<'_>) -> Result<Value, AwsError>;
type WriteOp = fn(&mut Region, &Rq<'_>) -> Result<Value, AwsError>;

enum Handler {
    Read(ReadOp),
    Write(WriteOp),
}

fn handler(op: &str) -> Option<Handler> {
    use Handler::{Read, Write};
    Some(match op {
        "DescribeRegions" => Read(net::describe_regions),
        "DescribeAvailabilityZones" => Read(net::describe_azs),
        "DescribeAccountAttributes" => Read(net::describe_account_attributes),
        "CreateVpc" => Write(net::create_vpc),
        "DescribeVpcs" => Read(net::describe_vpcs),
        "DeleteVpc" => Write(net::delete_vpc),
        "ModifyVpcAttribute" => Write(net::modify_vpc_attribute),
        "DescribeVpcAttribute" => Read(net::describe_vpc_attribute),
        "AssociateVpcCidrBlock" => Write(net::associate_vpc_cidr),
        "DisassociateVpcCidrBlock" => Write(net::disassociate_vpc_cidr),
        "CreateSubnet" => Write(net::create_subnet),
        "DescribeSubnets" => Read(net::describe_subnets),
        "DeleteSubnet" => Write(net::delete_subnet),
        "ModifySubnetAttribute" => Write(net::modify_subnet_attribute),
        "CreateRouteTable" => Write(net::create_route_table),
        "DescribeRouteTables" => Read(net::describe_route_tables),
        "DeleteRouteTable" => Write(net::delete_route_table),
        "CreateRoute" => Write(net::create_route),
        "ReplaceRoute" => Write(net::replace_route),
        "DeleteRoute" => Write(net::delete_route),
        "AssociateRouteTable" => Write(net::associate_route_table),
        "DisassociateRouteTable" => Write(net::disassociate_route_table),
        "ReplaceRouteTableAssociation" => Write(net::replace_route_table_association),
        "CreateInternetGateway" => Write(net::create_igw),
        "DescribeInternetGateways" => Read(net::describe_igws),
        "DeleteInternetGateway" => Write(net::delete_igw),
        "AttachInternetGateway" => Write(net::attach_igw),
        "DetachInternetGateway" => Write(net::detach_igw),
        "AllocateAddress" => Write(net::allocate_address),
        "DescribeAddresses" => Read(net::describe_addresses),
        "ReleaseAddress" => Write(net::release_address),
        "AssociateAddress" => Write(net::associate_address),
        "DisassociateAddress" => Write(net::disassociate_address),
        "CreateNatGateway" => Write(net::create_nat),
        "DescribeNatGateways" => Read(net::describe_nats),
        "DeleteNatGateway" => Write(net::delete_nat),
        "DescribeNetworkInterfaces" => Read(net::describe_enis),
        "CreateDhcpOptions" => Write(net::create_dhcp_options),
        "DescribeDhcpOptions" => Read(net::describe_dhcp_options),
        "DeleteDhcpOptions" => Write(net::delete_dhcp_options),
        "AssociateDhcpOptions" => Write(net::associate_dhcp_options),
        "DescribeNetworkAcls" => Read(net::describe_acls),
        "CreateFlowLogs" => Write(net::create_flow_logs),
        "DescribeFlowLogs" => Read(net::describe_flow_logs),
        "DeleteFlowLogs" => Write(net::delete_flow_logs),
        "CreateTags" => Write(net::create_tags),
        "DeleteTags" => Write(net::delete_tags),
        "DescribeTags" => Read(net::describe_tags),
        "CreateSecurityGroup" => Write(sg::create_security_group),
        "DescribeSecurityGroups" => Read(sg::describe_security_groups),
        "DeleteSecurityGroup" => Write(sg::delete_security_group),
        "AuthorizeSecurityGroupIngress" => Write(sg::authorize_ingress),
        "AuthorizeSecurityGroupEgress" => Write(sg::authorize_egress),
        "RevokeSecurityGroupIngress" => Write(sg::revoke_ingress),
        "RevokeSecurityGroupEgress" => Write(sg::revoke_egress),
        "DescribeSecurityGroupRules" => Read(sg::describe_rules),
        "CreateVpcEndpoint" => Write(vpce::create_endpoint),
        "DescribeVpcEndpoints" => Read(vpce::describe_endpoints),
        "ModifyVpcEndpoint" => Write(vpce::modify_endpoint),
        "DeleteVpcEndpoints" => Write(vpce::delete_endpoints),
        "DescribeVpcEndpointServices" => Read(vpce::describe_services),
        "DescribePrefixLists" => Read(vpce::describe_prefix_lists),
        "DescribeManagedPrefixLists" => Read(vpce::describe_managed_prefix_lists),
        _ => return None,
    })
}

impl Ec2 {
    /// Opens the service over the shared store.
    pub fn open(store: &Arc<Store>) -> Result<Ec2, AwsError> {
        Ok(Ec2 {
            store: store.service("ec2"),
            regions: Mutex::new(HashMap::new()),
            writer: Mutex::new(()),
        })
    }

    fn scope(account: &str, region: &str) -> String {
        format!("{account}/{region}")
    }

    /// The region's current state, loaded from the store on first use.
    fn state(&self, scope: &str) -> Result<Arc<Region>, AwsError> {
        if let Some(r) = self.lock_regions()?.get(scope) {
            return Ok(Arc::clone(r));
        }
        let mut region = Region::default();
        for k in KINDS {
            for row in self.store.list(k.kind, scope, None).map_err(internal)? {
                region.insert(*k, &row.key, row.doc);
            }
        }
        let region = Arc::new(region);
        let mut map = self.lock_regions()?;
        let entry = map
            .entry(scope.to_string())
            .or_insert_with(|| Arc::clone(&region));
        Ok(Arc::clone(entry))
    }

    fn lock_regions(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<Region>>>, AwsError> {
        self.regions.lock().map_err(|_| poisoned())
    }

    /// Runs `f` on a copy of the region; on success writes the changed rows
    /// in one transaction and publishes the copy.
    fn mutate<T>(
        &self,
        scope: &str,
        f: impl FnOnce(&mut Region) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let _w = self.writer.lock().map_err(|_| poisoned())?;
        let old = self.state(scope)?;
        let mut new = (*old).clone();
        let out = f(&mut new)?;
        self.store
            .write(|tx| -> Result<(), ironsage_store::StoreError> {
                for k in KINDS {
                    let empty = BTreeMap::new();
                    let o = old.res.get(k.kind).unwrap_or(&empty);
                    let n = new.res.get(k.kind).unwrap_or(&empty);
                    for (id, doc) in n {
                        let same = o
                            .get(id)
                            .is_some_and(|od| Arc::ptr_eq(od, doc) || od == doc);
                        if !same {
                            tx.put(k.kind, scope, id, None, doc)?;
                        }
                    }
                    for id in o.keys() {
                        if !n.contains_key(id) {
                            tx.delete(k.kind, scope, id)?;
                        }
                    }
                }
                Ok(())
            })
            .map_err(internal)?
            .map_err(internal)?;
        self.lock_regions()?
            .insert(scope.to_string(), Arc::new(new));
        Ok(out)
    }

    /// The VPC endpoint `vpce_id` of `account` in `region`, for the gateway:
    /// requests arriving through it carry `aws:SourceVpce`/`aws:SourceVpc`
    /// and are checked against its policy.
    pub fn endpoint(&self, account: &str, region: &str, vpce_id: &str) -> Option<EndpointInfo> {
        let st = self.state(&Self::scope(account, region)).ok()?;
        st.get(VPCE, vpce_id).and_then(vpce::info)
    }

    /// Every VPC endpoint in every account and region, as
    /// (account, region, endpoint) — one store query.
    pub fn all_endpoints(&self) -> Result<Vec<(String, String, EndpointInfo)>, AwsError> {
        let mut out = Vec::new();
        for (scope, row) in self.store.list_all_scopes(VPCE.kind).map_err(internal)? {
            let Some((account, region)) = scope.split_once('/') else {
                continue;
            };
            if let Some(info) = vpce::info(&row.doc) {
                out.push((account.to_string(), region.to_string(), info));
            }
        }
        Ok(out)
    }

    /// Every VPC endpoint of `account` in `region`.
    pub fn endpoints_in(&self, account: &str, region: &str) -> Vec<EndpointInfo> {
        match self.state(&Self::scope(account, region)) {
            Ok(st) => st.all(VPCE).filter_map(|(_, d)| vpce::info(d)).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The VPC a resource id belongs to (for `ec2:Vpc` in authorization).
    fn vpc_of(&self, scope: &str, id: &str) -> Option<String> {
        let st = self.state(scope).ok()?;
        let (k, d) = st.find_any(id)?;
        if k.kind == "vpc" {
            return Some(id.to_string());
        }
        let v = gs(d, "VpcId");
        (!v.is_empty()).then(|| v.to_string())
    }
}

fn poisoned() -> AwsError {
    AwsError {
        code: "InternalError".to_string(),
        message: "An internal error has occurred".to_string(),
        status: 500,
        sender_fault: false,
        extra: Vec::new(),
    }
}

/// The resource type and id members an operation acts on, for IAM.
fn op_resources(op: &str) -> &'static [(&'static str, &'static str)] {
    match op {
        "DeleteVpc" | "ModifyVpcAttribute" | "AssociateVpcCidrBlock" => &[("vpc", "VpcId")],
        "CreateSubnet" | "CreateRouteTable" | "CreateSecurityGroup" => &[("vpc", "VpcId")],
        "DeleteSubnet" | "ModifySubnetAttribute" => &[("subnet", "SubnetId")],
        "DeleteRouteTable" | "CreateRoute" | "ReplaceRoute" | "DeleteRoute" => {
            &[("route-table", "RouteTableId")]
        }
        "AssociateRouteTable" => &[("route-table", "RouteTableId"), ("subnet", "SubnetId")],
        "ReplaceRouteTableAssociation" => &[("route-table", "RouteTableId")],
        "DeleteInternetGateway" => &[("internet-gateway", "InternetGatewayId")],
        "AttachInternetGateway" | "DetachInternetGateway" => {
            &[("internet-gateway", "InternetGatewayId"), ("vpc", "VpcId")]
        }
        "ReleaseAddress" => &[("elastic-ip", "AllocationId")],
        "AssociateAddress" => &[
            ("elastic-ip", "AllocationId"),
            ("network-interface", "NetworkInterfaceId"),
        ],
        "CreateNatGateway" => &[("subnet", "SubnetId"), ("elastic-ip", "AllocationId")],
        "DeleteNatGateway" => &[("natgateway", "NatGatewayId")],
        "DeleteSecurityGroup"
        | "AuthorizeSecurityGroupIngress"
        | "AuthorizeSecurityGroupEgress"
        | "RevokeSecurityGroupIngress"
        | "RevokeSecurityGroupEgress" => &[("security-group", "GroupId")],
        "CreateVpcEndpoint" => &[("vpc", "VpcId")],
        "ModifyVpcEndpoint" => &[("vpc-endpoint", "VpcEndpointId")],
        "DeleteDhcpOptions" => &[("dhcp-options", "DhcpOptionsId")],
        "AssociateDhcpOptions" => &[("dhcp-options", "DhcpOptionsId"), ("vpc", "VpcId")],
        _ => &[],
    }
}

/// Resource types created by an operation (`<type>/*` in the ARN).
fn op_creates(op: &str) -> Option<&'static str> {
    Some(match op {
        "CreateVpc" => "vpc",
        "CreateSubnet" => "subnet",
        "CreateRouteTable" => "route-table",
        "CreateInternetGateway" => "internet-gateway",
        "AllocateAddress" => "elastic-ip",
        "CreateNatGateway" => "natgateway",
        "CreateSecurityGroup" => "security-group",
        "CreateVpcEndpoint" => "vpc-endpoint",
        "CreateDhcpOptions" => "dhcp-options",
        "CreateFlowLogs" => "vpc-flow-log",
        _ => return None,
    })
}

impl Service for Ec2 {
    fn name(&self) -> &'static str {
        "ec2"
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError> {
        let action = format!("ec2:{op}");
        let account = ctx.caller.account.as_str();
        let scope = Self::scope(account, ctx.region);
        let arn = |t: &str, id: &str| format!("arn:aws:ec2:{}:{account}:{t}/{id}", ctx.region);
        let tag_ctx = |t: Target, tags: &[(String, String)]| {
            let mut t = t;
            if !tags.is_empty() {
                for (k, v) in tags {
                    t = t.with_context(format!("aws:RequestTag/{k}"), vec![v.clone()]);
                }
                t = t.with_context("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
            }
            t
        };
        let with_vpc = |t: Target, id: &str| match self.vpc_of(&scope, id) {
            Some(v) => t.with_context("ec2:Vpc", vec![arn("vpc", &v)]),
            None => t,
        };
        if op.starts_with("Describe") {
            return Ok(vec![Target::new(action, "*")]);
        }
        let mut out = Vec::new();
        match op {
            "CreateTags" | "DeleteTags" => {
                let tags = crate::util::tags(input, "Tags");
                for id in strs(input, "Resources") {
                    let t = kind_of_id(&id).map(|k| k.res_type).unwrap_or("*");
                    let res = if t == "*" {
                        "*".to_string()
                    } else {
                        arn(t, &id)
                    };
                    let tg = with_vpc(Target::new(&action, res), &id);
                    out.push(if op == "CreateTags" {
                        tag_ctx(tg, &tags)
                    } else {
                        tg.with_context(
                            "aws:TagKeys",
                            tags.iter().map(|(k, _)| k.clone()).collect(),
                        )
                    });
                }
            }
            "DeleteVpcEndpoints" => {
                for id in strs(input, "VpcEndpointIds") {
                    out.push(with_vpc(
                        Target::new(&action, arn("vpc-endpoint", &id)),
                        &id,
                    ));
                }
            }
            "DeleteFlowLogs" => {
                for id in strs(input, "FlowLogIds") {
                    out.push(Target::new(&action, arn("vpc-flow-log", &id)));
                }
            }
            "CreateFlowLogs" => {
                for id in strs(input, "ResourceIds") {
                    if let Some(k) = kind_of_id(&id) {
                        out.push(Target::new(&action, arn(k.res_type, &id)));
                    }
                }
            }
            "DisassociateRouteTable" | "DisassociateVpcCidrBlock" | "DisassociateAddress" => {
                out.push(Target::new(&action, "*"));
            }
            _ => {}
        }
        if let Some(t) = op_creates(op) {
            let mut specs = Vec::new();
            for spec in list(input, "TagSpecifications") {
                specs.extend(crate::util::tags(spec, "Tags"));
            }
            let mut tg = Target::new(&action, arn(t, "*"));
            if let Some(v) = s(input, "VpcId") {
                tg = tg.with_context("ec2:Vpc", vec![arn("vpc", v)]);
            }
            out.push(tag_ctx(tg, &specs));
        }
        for (t, member) in op_resources(op) {
            if let Some(id) = s(input, member) {
                out.push(with_vpc(Target::new(&action, arn(t, id)), id));
            }
        }
        if op == "CreateVpcEndpoint" || op == "ModifyVpcEndpoint" {
            for (t, m) in [
                ("subnet", "SubnetIds"),
                ("subnet", "AddSubnetIds"),
                ("security-group", "SecurityGroupIds"),
                ("security-group", "AddSecurityGroupIds"),
                ("route-table", "RouteTableIds"),
                ("route-table", "AddRouteTableIds"),
            ] {
                for id in strs(input, m) {
                    out.push(with_vpc(Target::new(&action, arn(t, &id)), &id));
                }
            }
        }
        if out.is_empty() {
            out.push(Target::new(&action, "*"));
        }
        Ok(out)
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        if input.get("DryRun").and_then(Value::as_bool) == Some(true) {
            return Err(AwsError::new(
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
                412,
            ));
        }
        let Some(h) = handler(op) else {
            return Err(AwsError::new(
                "NotImplemented",
                format!("The operation {op} is not implemented by ironsage yet."),
                501,
            ));
        };
        let scope = Self::scope(&ctx.caller.account, ctx.region);
        let rq = Rq {
            account: &ctx.caller.account,
            region: ctx.region,
            input: &input,
            now: crate::util::iso(ctx.now),
        };
        match h {
            Handler::Read(f) => f(self.state(&scope)?.as_ref(), &rq),
            Handler::Write(f) => self.mutate(&scope, |r| f(r, &rq)),
        }
    }
}
