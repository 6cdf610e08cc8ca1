//! EC2 networking: VPC, Subnet, RouteTable, Route, SubnetRouteTableAssociation,
//! InternetGateway, VPCGatewayAttachment, EIP, NatGateway, SecurityGroup,
//! SecurityGroupIngress/Egress, VPCEndpoint, DHCPOptions,
//! VPCDHCPOptionsAssociation, FlowLog. Physical ids are EC2's ids (as AWS:
//! a Route is `<rtb>|<destination>`, an EIP its public address).

use serde_json::{json, Map, Value};

use super::{
    ignore_missing, is_not_found, prop, req_prop, scalar, str_list, Created, PCtx, Provider,
};

// ---------------------------------------------------------------- helpers

/// `TagSpecifications` for `rtype` with the stack's and the resource's tags.
fn tag_spec(cx: &PCtx<'_>, props: &Value, rtype: &str, input: &mut Value) {
    let tags = cx.merged_tags(props);
    if !tags.is_empty() {
        input["TagSpecifications"] =
            json!([{"ResourceType": rtype, "Tags": super::kv_tags(&tags)}]);
    }
}

/// Applies a change of the `Tags` property to `id`.
fn retag(cx: &PCtx<'_>, id: &str, old: &Value, new: &Value) -> Result<(), String> {
    let before = cx.merged_tags(old);
    let after = cx.merged_tags(new);
    if before == after {
        return Ok(());
    }
    let gone: Vec<Value> = before
        .iter()
        .filter(|(k, _)| !after.iter().any(|(x, _)| x == k))
        .map(|(k, _)| json!({ "Key": k }))
        .collect();
    if !gone.is_empty() {
        cx.call(
            "ec2",
            "DeleteTags",
            json!({"Resources": [id], "Tags": gone}),
        )?;
    }
    if !after.is_empty() {
        cx.call(
            "ec2",
            "CreateTags",
            json!({"Resources": [id], "Tags": super::kv_tags(&after)}),
        )?;
    }
    Ok(())
}

/// A boolean property (`true`, `"true"`).
fn bool_prop(props: &Value, k: &str) -> Option<bool> {
    match props.get(k)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An integer property (`80`, `"80"`).
fn int_prop(props: &Value, k: &str) -> Option<i64> {
    match props.get(k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn unchanged(id: &str, a: &Map<String, Value>) -> Created {
    Created {
        physical_id: id.to_string(),
        attrs: a.clone(),
    }
}

// ---------------------------------------------------------------- VPC

pub(crate) struct Vpc;

fn vpc_dns(cx: &PCtx<'_>, id: &str, p: &Value, old: Option<&Value>) -> Result<(), String> {
    let support = bool_prop(p, "EnableDnsSupport").unwrap_or(true);
    let hostnames = bool_prop(p, "EnableDnsHostnames").unwrap_or(false);
    let (os, oh) = match old {
        Some(o) => (
            bool_prop(o, "EnableDnsSupport").unwrap_or(true),
            bool_prop(o, "EnableDnsHostnames").unwrap_or(false),
        ),
        None => (true, false),
    };
    // Hostnames need resolution: turn support on first, hostnames off first.
    if support != os && support {
        cx.call(
            "ec2",
            "ModifyVpcAttribute",
            json!({"VpcId": id, "EnableDnsSupport": {"Value": true}}),
        )?;
    }
    if hostnames != oh {
        cx.call(
            "ec2",
            "ModifyVpcAttribute",
            json!({"VpcId": id, "EnableDnsHostnames": {"Value": hostnames}}),
        )?;
    }
    if support != os && !support {
        cx.call(
            "ec2",
            "ModifyVpcAttribute",
            json!({"VpcId": id, "EnableDnsSupport": {"Value": false}}),
        )?;
    }
    Ok(())
}

impl Provider for Vpc {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "CidrBlock",
            "EnableDnsHostnames",
            "EnableDnsSupport",
            "InstanceTenancy",
            "Ipv4IpamPoolId",
            "Ipv4NetmaskLength",
            "Tags",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[
            "CidrBlock",
            "InstanceTenancy",
            "Ipv4IpamPoolId",
            "Ipv4NetmaskLength",
        ]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let cidr = req_prop(p, "CidrBlock")?;
        let mut input = json!({ "CidrBlock": cidr });
        for k in ["InstanceTenancy", "Ipv4IpamPoolId"] {
            if let Some(v) = prop(p, k) {
                input[k] = json!(v);
            }
        }
        tag_spec(cx, p, "vpc", &mut input);
        let out = cx.call("ec2", "CreateVpc", input)?;
        let id = s(&out, "/Vpc/VpcId").to_string();
        if let Err(e) = vpc_dns(cx, &id, p, None) {
            let _ = cx.call("ec2", "DeleteVpc", json!({ "VpcId": id }));
            return Err(e);
        }
        let filter = json!({"Filters": [{"Name": "vpc-id", "Values": [id]}]});
        let sgs = cx.call("ec2", "DescribeSecurityGroups", filter.clone())?;
        let sg = sgs
            .get("SecurityGroups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|g| s(g, "/GroupName") == "default")
            .map(|g| s(g, "/GroupId").to_string())
            .unwrap_or_default();
        let acls = cx.call("ec2", "DescribeNetworkAcls", filter)?;
        let acl = acls
            .get("NetworkAcls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| a.get("IsDefault").and_then(Value::as_bool) == Some(true))
            .map(|a| s(a, "/NetworkAclId").to_string())
            .unwrap_or_default();
        let assoc = s(&out, "/Vpc/CidrBlockAssociationSet/0/AssociationId").to_string();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[
                ("CidrBlock", json!(cidr)),
                ("CidrBlockAssociations", json!([assoc])),
                ("DefaultNetworkAcl", json!(acl)),
                ("DefaultSecurityGroup", json!(sg)),
                ("Ipv6CidrBlocks", json!([])),
                ("VpcId", json!(id)),
            ]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        vpc_dns(cx, id, new, Some(old))?;
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("ec2", "DeleteVpc", json!({ "VpcId": id })))
    }
}

// ---------------------------------------------------------------- Subnet

pub(crate) struct Subnet;

impl Provider for Subnet {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "AssignIpv6AddressOnCreation",
            "AvailabilityZone",
            "AvailabilityZoneId",
            "CidrBlock",
            "EnableDns64",
            "Ipv6CidrBlock",
            "MapPublicIpOnLaunch",
            "Tags",
            "VpcId",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[
            "AvailabilityZone",
            "AvailabilityZoneId",
            "CidrBlock",
            "Ipv6CidrBlock",
            "VpcId",
        ]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let vpc = req_prop(p, "VpcId")?;
        let cidr = req_prop(p, "CidrBlock")?;
        let mut input = json!({"VpcId": vpc, "CidrBlock": cidr});
        for k in ["AvailabilityZone", "AvailabilityZoneId", "Ipv6CidrBlock"] {
            if let Some(v) = prop(p, k) {
                input[k] = json!(v);
            }
        }
        tag_spec(cx, p, "subnet", &mut input);
        let out = cx.call("ec2", "CreateSubnet", input)?;
        let id = s(&out, "/Subnet/SubnetId").to_string();
        if let Err(e) = subnet_attrs(cx, &id, p, &Value::Null) {
            let _ = cx.call("ec2", "DeleteSubnet", json!({ "SubnetId": id }));
            return Err(e);
        }
        // The subnet's association with the VPC's default network ACL.
        let acls = cx.call(
            "ec2",
            "DescribeNetworkAcls",
            json!({"Filters": [{"Name": "vpc-id", "Values": [vpc]}]}),
        )?;
        let acl_assoc = acls
            .get("NetworkAcls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|a| a.get("Associations").and_then(Value::as_array))
            .flatten()
            .find(|x| s(x, "/SubnetId") == id)
            .map(|x| s(x, "/NetworkAclAssociationId").to_string())
            .unwrap_or_default();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[
                (
                    "AvailabilityZone",
                    json!(s(&out, "/Subnet/AvailabilityZone")),
                ),
                (
                    "AvailabilityZoneId",
                    json!(s(&out, "/Subnet/AvailabilityZoneId")),
                ),
                ("CidrBlock", json!(cidr)),
                ("Ipv6CidrBlocks", json!([])),
                ("NetworkAclAssociationId", json!(acl_assoc)),
                ("OutpostArn", json!("")),
                ("SubnetId", json!(id)),
                ("VpcId", json!(vpc)),
            ]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        subnet_attrs(cx, id, new, old)?;
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("ec2", "DeleteSubnet", json!({ "SubnetId": id })))
    }
}

fn subnet_attrs(cx: &PCtx<'_>, id: &str, p: &Value, old: &Value) -> Result<(), String> {
    for k in [
        "MapPublicIpOnLaunch",
        "AssignIpv6AddressOnCreation",
        "EnableDns64",
    ] {
        let want = bool_prop(p, k).unwrap_or(false);
        if want != bool_prop(old, k).unwrap_or(false) {
            cx.call(
                "ec2",
                "ModifySubnetAttribute",
                json!({"SubnetId": id, k: {"Value": want}}),
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- RouteTable

pub(crate) struct RouteTable;

impl Provider for RouteTable {
    fn properties(&self) -> &'static [&'static str] {
        &["Tags", "VpcId"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["VpcId"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut input = json!({ "VpcId": req_prop(p, "VpcId")? });
        tag_spec(cx, p, "route-table", &mut input);
        let out = cx.call("ec2", "CreateRouteTable", input)?;
        let id = s(&out, "/RouteTable/RouteTableId").to_string();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[("RouteTableId", json!(id))]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("ec2", "DeleteRouteTable", json!({ "RouteTableId": id })))
    }
}

// ---------------------------------------------------------------- Route

pub(crate) struct Route;

const ROUTE_DESTS: [&str; 3] = [
    "DestinationCidrBlock",
    "DestinationIpv6CidrBlock",
    "DestinationPrefixListId",
];
const ROUTE_TARGETS: [&str; 10] = [
    "CarrierGatewayId",
    "EgressOnlyInternetGatewayId",
    "GatewayId",
    "InstanceId",
    "LocalGatewayId",
    "NatGatewayId",
    "NetworkInterfaceId",
    "TransitGatewayId",
    "VpcEndpointId",
    "VpcPeeringConnectionId",
];

fn route_input(p: &Value) -> Result<(Value, String), String> {
    let rtb = req_prop(p, "RouteTableId")?;
    let mut input = json!({ "RouteTableId": rtb });
    let mut dest = None;
    for k in ROUTE_DESTS {
        if let Some(v) = prop(p, k) {
            input[k] = json!(v);
            dest.get_or_insert_with(|| v.to_string());
        }
    }
    let Some(dest) = dest else {
        return Err("Properties validation failed for resource with message: [#: #: only 1 subschema matches out of 2, #: required key [DestinationCidrBlock] not found]".into());
    };
    for k in ROUTE_TARGETS {
        if let Some(v) = prop(p, k) {
            input[k] = json!(v);
        }
    }
    Ok((input, format!("{rtb}|{dest}")))
}

impl Provider for Route {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "CarrierGatewayId",
            "CoreNetworkArn",
            "DestinationCidrBlock",
            "DestinationIpv6CidrBlock",
            "DestinationPrefixListId",
            "EgressOnlyInternetGatewayId",
            "GatewayId",
            "InstanceId",
            "LocalGatewayId",
            "NatGatewayId",
            "NetworkInterfaceId",
            "RouteTableId",
            "TransitGatewayId",
            "VpcEndpointId",
            "VpcPeeringConnectionId",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[
            "DestinationCidrBlock",
            "DestinationIpv6CidrBlock",
            "DestinationPrefixListId",
            "RouteTableId",
        ]
    }
    fn declared_id(&self, p: &Value) -> Option<String> {
        route_input(p).ok().map(|(_, id)| id)
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let (input, id) = route_input(p)?;
        cx.call("ec2", "CreateRoute", input)?;
        let cidr = prop(p, "DestinationCidrBlock").unwrap_or_default();
        Ok(Created {
            physical_id: id,
            attrs: attrs(&[("CidrBlock", json!(cidr))]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        let (input, _) = route_input(new)?;
        cx.call("ec2", "ReplaceRoute", input)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let mut input = json!({});
        match id.split_once('|') {
            Some((rtb, dest)) => {
                input["RouteTableId"] = json!(rtb);
                let member = ROUTE_DESTS
                    .iter()
                    .find(|k| prop(p, k) == Some(dest))
                    .copied()
                    .unwrap_or("DestinationCidrBlock");
                input[member] = json!(dest);
            }
            None => return Ok(()),
        }
        match cx.call("ec2", "DeleteRoute", input) {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) || e.contains("InvalidRoute.NotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

// ------------------------------------------------ SubnetRouteTableAssociation

pub(crate) struct SubnetRouteTableAssociation;

impl Provider for SubnetRouteTableAssociation {
    fn properties(&self) -> &'static [&'static str] {
        &["RouteTableId", "SubnetId"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["RouteTableId", "SubnetId"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let out = cx.call(
            "ec2",
            "AssociateRouteTable",
            json!({"RouteTableId": req_prop(p, "RouteTableId")?, "SubnetId": req_prop(p, "SubnetId")?}),
        )?;
        let id = s(&out, "/AssociationId").to_string();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[("Id", json!(id))]),
        })
    }
    fn update(
        &self,
        _cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        _new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call(
            "ec2",
            "DisassociateRouteTable",
            json!({ "AssociationId": id }),
        ))
    }
}

// ---------------------------------------------------------------- InternetGateway

pub(crate) struct InternetGateway;

impl Provider for InternetGateway {
    fn properties(&self) -> &'static [&'static str] {
        &["Tags"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut input = json!({});
        tag_spec(cx, p, "internet-gateway", &mut input);
        let out = cx.call("ec2", "CreateInternetGateway", input)?;
        let id = s(&out, "/InternetGateway/InternetGatewayId").to_string();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[("InternetGatewayId", json!(id))]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call(
            "ec2",
            "DeleteInternetGateway",
            json!({ "InternetGatewayId": id }),
        ))
    }
}

// ---------------------------------------------------------------- VPCGatewayAttachment

pub(crate) struct VpcGatewayAttachment;

impl Provider for VpcGatewayAttachment {
    fn properties(&self) -> &'static [&'static str] {
        &["InternetGatewayId", "VpcId", "VpnGatewayId"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["InternetGatewayId", "VpcId", "VpnGatewayId"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let vpc = req_prop(p, "VpcId")?;
        if prop(p, "VpnGatewayId").is_some() {
            return Err("Resource handler returned message: \"Virtual private gateways are not supported by ironsage\" (HandlerErrorCode: InvalidRequest)".into());
        }
        let igw = req_prop(p, "InternetGatewayId")?;
        cx.call(
            "ec2",
            "AttachInternetGateway",
            json!({"InternetGatewayId": igw, "VpcId": vpc}),
        )?;
        Ok(Created {
            physical_id: format!("IGW|{vpc}"),
            attrs: Map::new(),
        })
    }
    fn update(
        &self,
        _cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        _new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        _id: &str,
        p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let (Some(igw), Some(vpc)) = (prop(p, "InternetGatewayId"), prop(p, "VpcId")) else {
            return Ok(());
        };
        match cx.call(
            "ec2",
            "DetachInternetGateway",
            json!({"InternetGatewayId": igw, "VpcId": vpc}),
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) || e.contains("Gateway.NotAttached") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------- EIP

pub(crate) struct Eip;

impl Provider for Eip {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "Address",
            "Domain",
            "InstanceId",
            "IpamPoolId",
            "NetworkBorderGroup",
            "PublicIpv4Pool",
            "Tags",
            "TransferAddress",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[
            "Address",
            "Domain",
            "IpamPoolId",
            "NetworkBorderGroup",
            "TransferAddress",
        ]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut input = json!({ "Domain": prop(p, "Domain").unwrap_or("vpc") });
        for k in ["Address", "NetworkBorderGroup", "PublicIpv4Pool"] {
            if let Some(v) = prop(p, k) {
                input[k] = json!(v);
            }
        }
        tag_spec(cx, p, "elastic-ip", &mut input);
        let out = cx.call("ec2", "AllocateAddress", input)?;
        let alloc = s(&out, "/AllocationId").to_string();
        let ip = s(&out, "/PublicIp").to_string();
        if let Some(inst) = prop(p, "InstanceId") {
            if let Err(e) = cx.call(
                "ec2",
                "AssociateAddress",
                json!({"AllocationId": alloc, "InstanceId": inst}),
            ) {
                let _ = cx.call("ec2", "ReleaseAddress", json!({ "AllocationId": alloc }));
                return Err(e);
            }
        }
        // Ref gives the address (as on AWS).
        Ok(Created {
            physical_id: ip.clone(),
            attrs: attrs(&[("AllocationId", json!(alloc)), ("PublicIp", json!(ip))]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        if prop(old, "InstanceId") != prop(new, "InstanceId") {
            return Err("Resource handler returned message: \"Changing InstanceId of an EIP is not supported by ironsage\" (HandlerErrorCode: InvalidRequest)".into());
        }
        let alloc = a.get("AllocationId").map(scalar).unwrap_or_default();
        retag(cx, &alloc, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        _id: &str,
        _p: &Value,
        a: &Map<String, Value>,
    ) -> Result<(), String> {
        let Some(alloc) = a.get("AllocationId").map(scalar) else {
            return Ok(());
        };
        ignore_missing(cx.call("ec2", "ReleaseAddress", json!({ "AllocationId": alloc })))
    }
}

// ---------------------------------------------------------------- NatGateway

pub(crate) struct NatGateway;

impl Provider for NatGateway {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "AllocationId",
            "ConnectivityType",
            "MaxDrainDurationSeconds",
            "PrivateIpAddress",
            "SecondaryAllocationIds",
            "SecondaryPrivateIpAddressCount",
            "SecondaryPrivateIpAddresses",
            "SubnetId",
            "Tags",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[
            "AllocationId",
            "ConnectivityType",
            "MaxDrainDurationSeconds",
            "PrivateIpAddress",
            "SecondaryAllocationIds",
            "SecondaryPrivateIpAddressCount",
            "SecondaryPrivateIpAddresses",
            "SubnetId",
        ]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut input = json!({ "SubnetId": req_prop(p, "SubnetId")? });
        for k in ["AllocationId", "ConnectivityType", "PrivateIpAddress"] {
            if let Some(v) = prop(p, k) {
                input[k] = json!(v);
            }
        }
        tag_spec(cx, p, "natgateway", &mut input);
        let out = cx.call("ec2", "CreateNatGateway", input)?;
        let id = s(&out, "/NatGateway/NatGatewayId").to_string();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[("NatGatewayId", json!(id))]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("ec2", "DeleteNatGateway", json!({ "NatGatewayId": id })))
    }
}

// ---------------------------------------------------------------- SecurityGroup

pub(crate) struct SecurityGroup;

/// One CloudFormation rule (inline or standalone) as an EC2 `IpPermission`.
fn permission(rule: &Value, egress: bool) -> Value {
    let proto = rule.get("IpProtocol").map(scalar).unwrap_or("-1".into());
    let mut p = json!({ "IpProtocol": proto });
    if let Some(f) = int_prop(rule, "FromPort") {
        p["FromPort"] = json!(f);
    }
    if let Some(t) = int_prop(rule, "ToPort") {
        p["ToPort"] = json!(t);
    }
    let desc = prop(rule, "Description");
    let with_desc = |mut v: Value| {
        if let Some(d) = desc {
            v["Description"] = json!(d);
        }
        v
    };
    let (group_key, pl_key) = if egress {
        ("DestinationSecurityGroupId", "DestinationPrefixListId")
    } else {
        ("SourceSecurityGroupId", "SourcePrefixListId")
    };
    if let Some(c) = prop(rule, "CidrIp") {
        p["IpRanges"] = json!([with_desc(json!({ "CidrIp": c }))]);
    }
    if let Some(c) = prop(rule, "CidrIpv6") {
        p["Ipv6Ranges"] = json!([with_desc(json!({ "CidrIpv6": c }))]);
    }
    if let Some(c) = prop(rule, pl_key) {
        p["PrefixListIds"] = json!([with_desc(json!({ "PrefixListId": c }))]);
    }
    if let Some(g) = prop(rule, group_key) {
        let mut pair = json!({ "GroupId": g });
        if let Some(o) = prop(rule, "SourceSecurityGroupOwnerId") {
            pair["UserId"] = json!(o);
        }
        p["UserIdGroupPairs"] = json!([with_desc(pair)]);
    } else if let Some(n) = prop(rule, "SourceSecurityGroupName") {
        p["UserIdGroupPairs"] = json!([with_desc(json!({ "GroupName": n }))]);
    }
    p
}

fn rules(props: &Value, k: &str) -> Vec<Value> {
    props
        .get(k)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn default_egress() -> Value {
    json!({"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
}

/// Brings the group's inline rules from `old` to `new` (both may be empty).
fn sync_rules(cx: &PCtx<'_>, id: &str, old: &Value, new: &Value) -> Result<(), String> {
    for (k, egress, op_add, op_rm) in [
        (
            "SecurityGroupIngress",
            false,
            "AuthorizeSecurityGroupIngress",
            "RevokeSecurityGroupIngress",
        ),
        (
            "SecurityGroupEgress",
            true,
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupEgress",
        ),
    ] {
        let mut before: Vec<Value> = rules(old, k)
            .iter()
            .map(|r| permission(r, egress))
            .collect();
        let mut after: Vec<Value> = rules(new, k)
            .iter()
            .map(|r| permission(r, egress))
            .collect();
        if egress {
            // Without egress rules a group allows all outbound traffic.
            if before.is_empty() {
                before.push(default_egress());
            }
            if after.is_empty() {
                after.push(default_egress());
            }
        }
        let gone: Vec<Value> = before
            .iter()
            .filter(|r| !after.contains(r))
            .cloned()
            .collect();
        let added: Vec<Value> = after
            .iter()
            .filter(|r| !before.contains(r))
            .cloned()
            .collect();
        if !gone.is_empty() {
            match cx.call("ec2", op_rm, json!({"GroupId": id, "IpPermissions": gone})) {
                Ok(_) => {}
                Err(e) if e.contains("InvalidPermission.NotFound") => {}
                Err(e) => return Err(e),
            }
        }
        if !added.is_empty() {
            cx.call(
                "ec2",
                op_add,
                json!({"GroupId": id, "IpPermissions": added}),
            )?;
        }
    }
    Ok(())
}

impl Provider for SecurityGroup {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "GroupDescription",
            "GroupName",
            "SecurityGroupEgress",
            "SecurityGroupIngress",
            "Tags",
            "VpcId",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["GroupDescription", "GroupName", "VpcId"]
    }
    fn declared_id(&self, _p: &Value) -> Option<String> {
        None
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let desc = req_prop(p, "GroupDescription")?;
        let name = match prop(p, "GroupName") {
            Some(n) => n.to_string(),
            None => cx.gen_name(255, false),
        };
        let mut input = json!({"GroupName": name, "Description": desc});
        if let Some(v) = prop(p, "VpcId") {
            input["VpcId"] = json!(v);
        }
        tag_spec(cx, p, "security-group", &mut input);
        let out = cx.call("ec2", "CreateSecurityGroup", input)?;
        let id = s(&out, "/GroupId").to_string();
        if let Err(e) = sync_rules(cx, &id, &Value::Null, p) {
            let _ = cx.call("ec2", "DeleteSecurityGroup", json!({ "GroupId": id }));
            return Err(e);
        }
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[
                ("GroupId", json!(id)),
                ("VpcId", json!(prop(p, "VpcId").unwrap_or_default())),
            ]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        sync_rules(cx, id, old, new)?;
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("ec2", "DeleteSecurityGroup", json!({ "GroupId": id })))
    }
}

// ------------------------------------------------ SecurityGroupIngress/Egress

pub(crate) struct SecurityGroupIngress;
pub(crate) struct SecurityGroupEgress;

fn rule_create(cx: &PCtx<'_>, p: &Value, egress: bool) -> Result<Created, String> {
    let mut input = json!({ "IpPermissions": [permission(p, egress)] });
    match (prop(p, "GroupId"), prop(p, "GroupName")) {
        (Some(g), _) => input["GroupId"] = json!(g),
        (None, Some(n)) if !egress => input["GroupName"] = json!(n),
        _ => {
            req_prop(p, "GroupId")?;
        }
    }
    let op = if egress {
        "AuthorizeSecurityGroupEgress"
    } else {
        "AuthorizeSecurityGroupIngress"
    };
    let out = cx.call("ec2", op, input)?;
    let rule = out
        .pointer("/SecurityGroupRules/0")
        .cloned()
        .unwrap_or(Value::Null);
    let id = s(&rule, "/SecurityGroupRuleId").to_string();
    Ok(Created {
        physical_id: id.clone(),
        attrs: attrs(&[("Id", json!(id)), ("GroupId", json!(s(&rule, "/GroupId")))]),
    })
}

fn rule_delete(
    cx: &PCtx<'_>,
    id: &str,
    a: &Map<String, Value>,
    egress: bool,
) -> Result<(), String> {
    let group = a.get("GroupId").map(scalar).unwrap_or_default();
    let op = if egress {
        "RevokeSecurityGroupEgress"
    } else {
        "RevokeSecurityGroupIngress"
    };
    match cx.call(
        "ec2",
        op,
        json!({"GroupId": group, "SecurityGroupRuleIds": [id]}),
    ) {
        Ok(_) => Ok(()),
        Err(e)
            if is_not_found(&e)
                || e.contains("NotFound")
                || e.contains("InvalidSecurityGroupRuleId") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

const INGRESS_PROPS: &[&str] = &[
    "CidrIp",
    "CidrIpv6",
    "Description",
    "FromPort",
    "GroupId",
    "GroupName",
    "IpProtocol",
    "SourcePrefixListId",
    "SourceSecurityGroupId",
    "SourceSecurityGroupName",
    "SourceSecurityGroupOwnerId",
    "ToPort",
];
const EGRESS_PROPS: &[&str] = &[
    "CidrIp",
    "CidrIpv6",
    "Description",
    "DestinationPrefixListId",
    "DestinationSecurityGroupId",
    "FromPort",
    "GroupId",
    "IpProtocol",
    "ToPort",
];

impl Provider for SecurityGroupIngress {
    fn properties(&self) -> &'static [&'static str] {
        INGRESS_PROPS
    }
    fn create_only(&self) -> &'static [&'static str] {
        INGRESS_PROPS
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        rule_create(cx, p, false)
    }
    fn update(
        &self,
        _cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        _new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        a: &Map<String, Value>,
    ) -> Result<(), String> {
        rule_delete(cx, id, a, false)
    }
}

impl Provider for SecurityGroupEgress {
    fn properties(&self) -> &'static [&'static str] {
        EGRESS_PROPS
    }
    fn create_only(&self) -> &'static [&'static str] {
        EGRESS_PROPS
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        rule_create(cx, p, true)
    }
    fn update(
        &self,
        _cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        _new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        a: &Map<String, Value>,
    ) -> Result<(), String> {
        rule_delete(cx, id, a, true)
    }
}

// ---------------------------------------------------------------- VPCEndpoint

pub(crate) struct VpcEndpoint;

fn policy_text(p: &Value) -> Option<String> {
    p.get("PolicyDocument")
        .filter(|v| !v.is_null())
        .map(super::doc_text)
}

fn endpoint_attrs(cx: &PCtx<'_>, id: &str) -> Result<Map<String, Value>, String> {
    let out = cx.call(
        "ec2",
        "DescribeVpcEndpoints",
        json!({ "VpcEndpointIds": [id] }),
    )?;
    let e = out.pointer("/VpcEndpoints/0").cloned().unwrap_or_default();
    let dns: Vec<Value> = e
        .get("DnsEntries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| json!(format!("{}:{}", s(d, "/HostedZoneId"), s(d, "/DnsName"))))
        .collect();
    Ok(attrs(&[
        (
            "CreationTimestamp",
            e.get("CreationTimestamp").cloned().unwrap_or_default(),
        ),
        ("DnsEntries", Value::Array(dns)),
        ("Id", json!(id)),
        (
            "NetworkInterfaceIds",
            e.get("NetworkInterfaceIds").cloned().unwrap_or(json!([])),
        ),
    ]))
}

impl Provider for VpcEndpoint {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "DnsOptions",
            "IpAddressType",
            "PolicyDocument",
            "PrivateDnsEnabled",
            "RouteTableIds",
            "SecurityGroupIds",
            "ServiceName",
            "SubnetIds",
            "Tags",
            "VpcEndpointType",
            "VpcId",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["IpAddressType", "ServiceName", "VpcEndpointType", "VpcId"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut input = json!({
            "VpcId": req_prop(p, "VpcId")?,
            "ServiceName": req_prop(p, "ServiceName")?,
            "VpcEndpointType": prop(p, "VpcEndpointType").unwrap_or("Gateway"),
        });
        for k in ["RouteTableIds", "SubnetIds", "SecurityGroupIds"] {
            if p.get(k).is_some() {
                input[k] = json!(str_list(p, k));
            }
        }
        if let Some(b) = bool_prop(p, "PrivateDnsEnabled") {
            input["PrivateDnsEnabled"] = json!(b);
        }
        if let Some(d) = policy_text(p) {
            input["PolicyDocument"] = json!(d);
        }
        tag_spec(cx, p, "vpc-endpoint", &mut input);
        let out = cx.call("ec2", "CreateVpcEndpoint", input)?;
        let id = s(&out, "/VpcEndpoint/VpcEndpointId").to_string();
        let a = endpoint_attrs(cx, &id)?;
        Ok(Created {
            physical_id: id,
            attrs: a,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        let mut input = json!({ "VpcEndpointId": id });
        let mut any = false;
        for (k, add, rm) in [
            ("RouteTableIds", "AddRouteTableIds", "RemoveRouteTableIds"),
            ("SubnetIds", "AddSubnetIds", "RemoveSubnetIds"),
            (
                "SecurityGroupIds",
                "AddSecurityGroupIds",
                "RemoveSecurityGroupIds",
            ),
        ] {
            let (o, n) = (str_list(old, k), str_list(new, k));
            let added: Vec<&String> = n.iter().filter(|x| !o.contains(x)).collect();
            let gone: Vec<&String> = o.iter().filter(|x| !n.contains(x)).collect();
            if !added.is_empty() {
                input[add] = json!(added);
                any = true;
            }
            if !gone.is_empty() {
                input[rm] = json!(gone);
                any = true;
            }
        }
        if policy_text(old) != policy_text(new) {
            match policy_text(new) {
                Some(d) => input["PolicyDocument"] = json!(d),
                None => input["ResetPolicy"] = json!(true),
            }
            any = true;
        }
        if bool_prop(old, "PrivateDnsEnabled") != bool_prop(new, "PrivateDnsEnabled") {
            if let Some(b) = bool_prop(new, "PrivateDnsEnabled") {
                input["PrivateDnsEnabled"] = json!(b);
                any = true;
            }
        }
        if any {
            cx.call("ec2", "ModifyVpcEndpoint", input)?;
        }
        retag(cx, id, old, new)?;
        let attrs = endpoint_attrs(cx, id).unwrap_or_else(|_| a.clone());
        Ok(Created {
            physical_id: id.to_string(),
            attrs,
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let out = cx.call(
            "ec2",
            "DeleteVpcEndpoints",
            json!({ "VpcEndpointIds": [id] }),
        )?;
        match out.pointer("/Unsuccessful/0/Error") {
            Some(e) if !s(e, "/Code").ends_with("NotFound") => Err(format!(
                "Resource handler returned message: \"{} (Service: Ec2, Error Code: {})\" (HandlerErrorCode: GeneralServiceException)",
                s(e, "/Message"),
                s(e, "/Code")
            )),
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------- DHCPOptions

pub(crate) struct DhcpOptions;

const DHCP_KEYS: [(&str, &str); 5] = [
    ("DomainName", "domain-name"),
    ("DomainNameServers", "domain-name-servers"),
    ("NetbiosNameServers", "netbios-name-servers"),
    ("NetbiosNodeType", "netbios-node-type"),
    ("NtpServers", "ntp-servers"),
];

impl Provider for DhcpOptions {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "DomainName",
            "DomainNameServers",
            "Ipv6AddressPreferredLeaseTime",
            "NetbiosNameServers",
            "NetbiosNodeType",
            "NtpServers",
            "Tags",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[
            "DomainName",
            "DomainNameServers",
            "Ipv6AddressPreferredLeaseTime",
            "NetbiosNameServers",
            "NetbiosNodeType",
            "NtpServers",
        ]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut confs = Vec::new();
        for (prop_name, key) in DHCP_KEYS {
            let vals: Vec<String> = match p.get(prop_name) {
                Some(Value::Array(_)) => str_list(p, prop_name),
                Some(Value::Null) | None => continue,
                Some(v) => vec![scalar(v)],
            };
            confs.push(json!({"Key": key, "Values": vals}));
        }
        if let Some(v) = p.get("Ipv6AddressPreferredLeaseTime") {
            confs.push(json!({"Key": "ipv6-address-preferred-lease-time", "Values": [scalar(v)]}));
        }
        let mut input = json!({ "DhcpConfigurations": confs });
        tag_spec(cx, p, "dhcp-options", &mut input);
        let out = cx.call("ec2", "CreateDhcpOptions", input)?;
        let id = s(&out, "/DhcpOptions/DhcpOptionsId").to_string();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[("DhcpOptionsId", json!(id))]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("ec2", "DeleteDhcpOptions", json!({ "DhcpOptionsId": id })))
    }
}

// ------------------------------------------------ VPCDHCPOptionsAssociation

pub(crate) struct VpcDhcpOptionsAssociation;

impl Provider for VpcDhcpOptionsAssociation {
    fn properties(&self) -> &'static [&'static str] {
        &["DhcpOptionsId", "VpcId"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["VpcId"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let dopt = req_prop(p, "DhcpOptionsId")?;
        let vpc = req_prop(p, "VpcId")?;
        cx.call(
            "ec2",
            "AssociateDhcpOptions",
            json!({"DhcpOptionsId": dopt, "VpcId": vpc}),
        )?;
        Ok(Created {
            physical_id: format!("{dopt}|{vpc}"),
            attrs: Map::new(),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        _id: &str,
        _old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        let dopt = req_prop(new, "DhcpOptionsId")?;
        let vpc = req_prop(new, "VpcId")?;
        cx.call(
            "ec2",
            "AssociateDhcpOptions",
            json!({"DhcpOptionsId": dopt, "VpcId": vpc}),
        )?;
        Ok(unchanged(&format!("{dopt}|{vpc}"), a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        _id: &str,
        p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let Some(vpc) = prop(p, "VpcId") else {
            return Ok(());
        };
        // Back to the region's default set (as AWS's handler does).
        ignore_missing(cx.call(
            "ec2",
            "AssociateDhcpOptions",
            json!({"DhcpOptionsId": "default", "VpcId": vpc}),
        ))
    }
}

// ---------------------------------------------------------------- FlowLog

pub(crate) struct FlowLog;

const FLOW_PROPS: &[&str] = &[
    "DeliverCrossAccountRole",
    "DeliverLogsPermissionArn",
    "DestinationOptions",
    "LogDestination",
    "LogDestinationType",
    "LogFormat",
    "LogGroupName",
    "MaxAggregationInterval",
    "ResourceId",
    "ResourceType",
    "Tags",
    "TrafficType",
];

impl Provider for FlowLog {
    fn properties(&self) -> &'static [&'static str] {
        FLOW_PROPS
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[
            "DeliverCrossAccountRole",
            "DeliverLogsPermissionArn",
            "DestinationOptions",
            "LogDestination",
            "LogDestinationType",
            "LogFormat",
            "LogGroupName",
            "MaxAggregationInterval",
            "ResourceId",
            "ResourceType",
            "TrafficType",
        ]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut input = json!({
            "ResourceIds": [req_prop(p, "ResourceId")?],
            "ResourceType": req_prop(p, "ResourceType")?,
        });
        for k in [
            "DeliverCrossAccountRole",
            "DeliverLogsPermissionArn",
            "LogDestination",
            "LogDestinationType",
            "LogFormat",
            "LogGroupName",
            "TrafficType",
        ] {
            if let Some(v) = prop(p, k) {
                input[k] = json!(v);
            }
        }
        if let Some(n) = int_prop(p, "MaxAggregationInterval") {
            input["MaxAggregationInterval"] = json!(n);
        }
        if let Some(d) = p.get("DestinationOptions") {
            input["DestinationOptions"] = d.clone();
        }
        tag_spec(cx, p, "vpc-flow-log", &mut input);
        let out = cx.call("ec2", "CreateFlowLogs", input)?;
        if let Some(e) = out.pointer("/Unsuccessful/0/Error") {
            return Err(format!(
                "Resource handler returned message: \"{} (Service: Ec2, Error Code: {})\" (HandlerErrorCode: InvalidRequest)",
                s(e, "/Message"),
                s(e, "/Code")
            ));
        }
        let id = s(&out, "/FlowLogIds/0").to_string();
        Ok(Created {
            physical_id: id.clone(),
            attrs: attrs(&[("Id", json!(id))]),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        retag(cx, id, old, new)?;
        Ok(unchanged(id, a))
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let out = cx.call("ec2", "DeleteFlowLogs", json!({ "FlowLogIds": [id] }))?;
        match out.pointer("/Unsuccessful/0/Error") {
            Some(e) if !s(e, "/Code").contains("NotFound") => Err(format!(
                "Resource handler returned message: \"{} (Service: Ec2, Error Code: {})\" (HandlerErrorCode: GeneralServiceException)",
                s(e, "/Message"),
                s(e, "/Code")
            )),
            _ => Ok(()),
        }
    }
}
