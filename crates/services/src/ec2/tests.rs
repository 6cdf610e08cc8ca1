use std::sync::Arc;

use ironsage_store::Store;
use serde_json::{json, Value};

use super::*;
use crate::{Caller, Ctx, PrincipalKind, Service};

const ACCT: &str = "111122223333";
const REGION: &str = "us-east-1";

fn setup() -> (tempfile::TempDir, Arc<Store>, Ec2) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("state.db"),
        ironsage_store::Durability::Normal,
    )
    .unwrap();
    let ec2 = Ec2::open(&store).unwrap();
    (dir, store, ec2)
}

fn caller() -> Caller {
    Caller {
        account: ACCT.into(),
        kind: PrincipalKind::Root,
        access_key_id: "AKIAEXAMPLE".into(),
        session: None,
    }
}

fn run(ec2: &Ec2, op: &str, input: Value) -> Result<Value, AwsError> {
    let c = caller();
    let ctx = Ctx {
        caller: &c,
        region: REGION,
        request_id: "r",
        now: crate::util::now(),
    };
    ec2.targets(&ctx, op, &input)?;
    ec2.call(&ctx, op, input)
}

fn ok(ec2: &Ec2, op: &str, input: Value) -> Value {
    match run(ec2, op, input) {
        Ok(v) => v,
        Err(e) => panic!("{op} failed: {e}"),
    }
}

fn code(r: Result<Value, AwsError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.code,
    }
}

fn name_tag(rt: &str, name: &str) -> Value {
    json!([{"ResourceType": rt, "Tags": [{"Key": "Name", "Value": name}]}])
}

fn ids(v: &Value, list: &str, id: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[id].as_str().unwrap().to_string())
        .collect()
}

/// Everything in the region, for "nothing changed" checks.
fn snapshot(ec2: &Ec2) -> Vec<Value> {
    [
        ("DescribeVpcs", "Vpcs"),
        ("DescribeSubnets", "Subnets"),
        ("DescribeRouteTables", "RouteTables"),
        ("DescribeInternetGateways", "InternetGateways"),
        ("DescribeAddresses", "Addresses"),
        ("DescribeNatGateways", "NatGateways"),
        ("DescribeSecurityGroups", "SecurityGroups"),
        ("DescribeVpcEndpoints", "VpcEndpoints"),
        ("DescribeNetworkInterfaces", "NetworkInterfaces"),
    ]
    .iter()
    .map(|(op, m)| ok(ec2, op, json!({}))[*m].clone())
    .collect()
}

#[test]
fn regions_zones_account() {
    let (_d, _s, ec2) = setup();
    let z = ok(&ec2, "DescribeAvailabilityZones", json!({}));
    let zs = z["AvailabilityZones"].as_array().unwrap();
    assert_eq!(zs.len(), 6);
    assert_eq!(zs[0]["ZoneName"], "us-east-1a");
    assert_eq!(zs[0]["ZoneId"], "use1-az1");
    assert_eq!(zs[5]["ZoneName"], "us-east-1f");
    assert_eq!(zs[0]["State"], "available");
    let f = ok(
        &ec2,
        "DescribeAvailabilityZones",
        json!({"Filters": [{"Name": "zone-name", "Values": ["us-east-1b"]}]}),
    );
    assert_eq!(f["AvailabilityZones"].as_array().unwrap().len(), 1);
    let r = ok(
        &ec2,
        "DescribeRegions",
        json!({"RegionNames": ["eu-west-1"]}),
    );
    assert_eq!(r["Regions"][0]["Endpoint"], "ec2.eu-west-1.amazonaws.com");
    let a = ok(&ec2, "DescribeAccountAttributes", json!({}));
    let attrs = a["AccountAttributes"].as_array().unwrap();
    assert!(attrs
        .iter()
        .any(|x| x["AttributeName"] == "supported-platforms"
            && x["AttributeValues"][0]["AttributeValue"] == "VPC"));
    assert!(attrs.iter().any(|x| x["AttributeName"] == "default-vpc"
        && x["AttributeValues"][0]["AttributeValue"] == "none"));
}

#[test]
fn vpc_validation_defaults_and_dry_run() {
    let (_d, store, ec2) = setup();
    assert_eq!(
        code(run(&ec2, "CreateVpc", json!({"CidrBlock": "10.0.0.0/8"}))),
        "InvalidVpc.Range"
    );
    assert_eq!(
        code(run(&ec2, "CreateVpc", json!({"CidrBlock": "10.0.0.0/29"}))),
        "InvalidVpc.Range"
    );
    let e = run(
        &ec2,
        "CreateVpc",
        json!({"CidrBlock": "10.0.0.0/16", "DryRun": true}),
    )
    .unwrap_err();
    assert_eq!((e.code.as_str(), e.status), ("DryRunOperation", 412));
    assert!(ok(&ec2, "DescribeVpcs", json!({}))["Vpcs"]
        .as_array()
        .unwrap()
        .is_empty());
    let v = ok(&ec2, "CreateVpc", json!({"CidrBlock": "10.0.0.0/16"}));
    let vpc = v["Vpc"]["VpcId"].as_str().unwrap().to_string();
    assert_eq!(vpc.len(), 4 + 17);
    // Main route table with the local route, default SG, default ACL, DHCP options.
    let rt = ok(
        &ec2,
        "DescribeRouteTables",
        json!({"Filters": [{"Name": "vpc-id", "Values": [vpc]},
                           {"Name": "association.main", "Values": ["true"]}]}),
    );
    let rts = rt["RouteTables"].as_array().unwrap();
    assert_eq!(rts.len(), 1);
    assert_eq!(rts[0]["Routes"][0]["GatewayId"], "local");
    assert_eq!(rts[0]["Routes"][0]["DestinationCidrBlock"], "10.0.0.0/16");
    let sg = ok(
        &ec2,
        "DescribeSecurityGroups",
        json!({"Filters": [{"Name": "group-name", "Values": ["default"]}]}),
    );
    let g = &sg["SecurityGroups"][0];
    let gid = g["GroupId"].as_str().unwrap();
    assert_eq!(g["IpPermissions"][0]["IpProtocol"], "-1");
    assert_eq!(g["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"], gid);
    assert_eq!(
        g["IpPermissionsEgress"][0]["IpRanges"][0]["CidrIp"],
        "0.0.0.0/0"
    );
    assert!(g.get("_rules").is_none());
    let acl = ok(&ec2, "DescribeNetworkAcls", json!({}));
    assert_eq!(acl["NetworkAcls"][0]["IsDefault"], true);
    let dopt = ok(&ec2, "DescribeDhcpOptions", json!({}));
    assert_eq!(
        dopt["DhcpOptions"][0]["DhcpConfigurations"][0]["Values"][0]["Value"],
        "ec2.internal"
    );
    // DNS attributes.
    let a = ok(
        &ec2,
        "DescribeVpcAttribute",
        json!({"VpcId": vpc, "Attribute": "enableDnsHostnames"}),
    );
    assert_eq!(a["EnableDnsHostnames"]["Value"], false);
    ok(
        &ec2,
        "ModifyVpcAttribute",
        json!({"VpcId": vpc, "EnableDnsHostnames": {"Value": true}}),
    );
    let a = ok(
        &ec2,
        "DescribeVpcAttribute",
        json!({"VpcId": vpc, "Attribute": "enableDnsHostnames"}),
    );
    assert_eq!(a["EnableDnsHostnames"]["Value"], true);
    // Secondary CIDR adds a local route; overlap refused.
    let c = ok(
        &ec2,
        "AssociateVpcCidrBlock",
        json!({"VpcId": vpc, "CidrBlock": "10.1.0.0/16"}),
    );
    assert_eq!(
        code(run(
            &ec2,
            "AssociateVpcCidrBlock",
            json!({"VpcId": vpc, "CidrBlock": "10.1.128.0/17"})
        )),
        "InvalidVpc.Range"
    );
    let rt = ok(&ec2, "DescribeRouteTables", json!({}));
    assert_eq!(rt["RouteTables"][0]["Routes"].as_array().unwrap().len(), 2);
    ok(
        &ec2,
        "DisassociateVpcCidrBlock",
        json!({"AssociationId": c["CidrBlockAssociation"]["AssociationId"]}),
    );
    // Unknown ids.
    let e = run(&ec2, "DescribeVpcs", json!({"VpcIds": ["vpc-123"]})).unwrap_err();
    assert_eq!(e.code, "InvalidVpcID.NotFound");
    assert_eq!(e.message, "The vpc ID 'vpc-123' does not exist");
    // Persisted: a fresh service over the same store sees the VPC.
    let again = Ec2::open(&store).unwrap();
    let v2 = ok(&again, "DescribeVpcs", json!({"VpcIds": [vpc]}));
    assert_eq!(v2["Vpcs"][0]["CidrBlock"], "10.0.0.0/16");
    ok(&ec2, "DeleteVpc", json!({"VpcId": vpc}));
    assert!(ok(&ec2, "DescribeRouteTables", json!({}))["RouteTables"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(
        ok(&ec2, "DescribeSecurityGroups", json!({}))["SecurityGroups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn full_network_build_describe_and_teardown() {
    let (_d, _s, ec2) = setup();
    let vpc = ok(
        &ec2,
        "CreateVpc",
        json!({"CidrBlock": "10.20.0.0/16", "TagSpecifications": name_tag("vpc", "env-vpc")}),
    )["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    for a in ["EnableDnsSupport", "EnableDnsHostnames"] {
        ok(
            &ec2,
            "ModifyVpcAttribute",
            json!({"VpcId": vpc, a: {"Value": true}}),
        );
    }
    let subnet = |cidr: &str, az: &str, name: &str| {
        ok(
            &ec2,
            "CreateSubnet",
            json!({"VpcId": vpc, "CidrBlock": cidr, "AvailabilityZone": az,
                   "TagSpecifications": name_tag("subnet", name)}),
        )["Subnet"]
            .clone()
    };
    let p1 = subnet("10.20.0.0/19", "us-east-1a", "private-sn-1a");
    let p2 = subnet("10.20.32.0/19", "us-east-1b", "private-sn-2a");
    let u1 = subnet("10.20.128.0/24", "us-east-1a", "public-sn-1a");
    let u2 = ok(
        &ec2,
        "CreateSubnet",
        json!({"VpcId": vpc, "CidrBlock": "10.20.129.0/24", "AvailabilityZoneId": "use1-az2",
               "TagSpecifications": name_tag("subnet", "public-sn-2a")}),
    )["Subnet"]
        .clone();
    assert_eq!(u2["AvailabilityZone"], "us-east-1b");
    assert_eq!(p1["AvailableIpAddressCount"], 8192 - 5);
    let (p1, p2, u1, u2) = (
        p1["SubnetId"].as_str().unwrap().to_string(),
        p2["SubnetId"].as_str().unwrap().to_string(),
        u1["SubnetId"].as_str().unwrap().to_string(),
        u2["SubnetId"].as_str().unwrap().to_string(),
    );
    // Overlap and range errors.
    let e = run(
        &ec2,
        "CreateSubnet",
        json!({"VpcId": vpc, "CidrBlock": "10.20.0.0/24"}),
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidSubnet.Conflict");
    assert_eq!(
        e.message,
        "The CIDR '10.20.0.0/24' conflicts with another subnet"
    );
    assert_eq!(
        code(run(
            &ec2,
            "CreateSubnet",
            json!({"VpcId": vpc, "CidrBlock": "10.99.0.0/24"})
        )),
        "InvalidSubnet.Range"
    );
    ok(
        &ec2,
        "ModifySubnetAttribute",
        json!({"SubnetId": u1, "MapPublicIpOnLaunch": {"Value": true}}),
    );
    // Internet gateway, one per VPC.
    let igw = ok(&ec2, "CreateInternetGateway", json!({}))["InternetGateway"]["InternetGatewayId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &ec2,
        "AttachInternetGateway",
        json!({"InternetGatewayId": igw, "VpcId": vpc}),
    );
    let igw2 = ok(&ec2, "CreateInternetGateway", json!({}))["InternetGateway"]["InternetGatewayId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        code(run(
            &ec2,
            "AttachInternetGateway",
            json!({"InternetGatewayId": igw2, "VpcId": vpc})
        )),
        "Resource.AlreadyAssociated"
    );
    ok(
        &ec2,
        "DeleteInternetGateway",
        json!({"InternetGatewayId": igw2}),
    );
    // Public route table.
    let pub_rt = ok(&ec2, "CreateRouteTable", json!({"VpcId": vpc}))["RouteTable"]["RouteTableId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &ec2,
        "CreateRoute",
        json!({"RouteTableId": pub_rt, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}),
    );
    assert_eq!(
        code(run(
            &ec2,
            "CreateRoute",
            json!({"RouteTableId": pub_rt, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw})
        )),
        "RouteAlreadyExists"
    );
    for s in [&u1, &u2] {
        ok(
            &ec2,
            "AssociateRouteTable",
            json!({"RouteTableId": pub_rt, "SubnetId": s}),
        );
    }
    // EIPs + NATs.
    let eips: Vec<Value> = (0..2)
        .map(|_| ok(&ec2, "AllocateAddress", json!({"Domain": "vpc"})))
        .collect();
    assert!(eips[0]["PublicIp"]
        .as_str()
        .unwrap()
        .starts_with("198.51.100."));
    assert_ne!(eips[0]["PublicIp"], eips[1]["PublicIp"]);
    let mut nats = Vec::new();
    for (s, e) in [(&u1, &eips[0]), (&u2, &eips[1])] {
        let n = ok(
            &ec2,
            "CreateNatGateway",
            json!({"SubnetId": s, "AllocationId": e["AllocationId"]}),
        );
        assert_eq!(n["NatGateway"]["State"], "pending");
        nats.push(
            n["NatGateway"]["NatGatewayId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let d = ok(
        &ec2,
        "DescribeNatGateways",
        json!({"NatGatewayIds": [nats[0]]}),
    );
    assert_eq!(d["NatGateways"][0]["State"], "available");
    assert_eq!(
        d["NatGateways"][0]["NatGatewayAddresses"][0]["PublicIp"],
        eips[0]["PublicIp"]
    );
    let a = ok(
        &ec2,
        "DescribeAddresses",
        json!({"AllocationIds": [eips[0]["AllocationId"]]}),
    );
    assert!(a["Addresses"][0]["AssociationId"]
        .as_str()
        .unwrap()
        .starts_with("eipassoc-"));
    assert_eq!(
        code(run(
            &ec2,
            "ReleaseAddress",
            json!({"AllocationId": eips[0]["AllocationId"]})
        )),
        "InvalidIPAddress.InUse"
    );
    // Private route tables with NAT routes.
    let mut priv_rts = Vec::new();
    for (s, n) in [(&p1, &nats[0]), (&p2, &nats[1])] {
        let rt = ok(
            &ec2,
            "CreateRouteTable",
            json!({"VpcId": vpc,
            "TagSpecifications": name_tag("route-table", "private-rt")}),
        )["RouteTable"]["RouteTableId"]
            .as_str()
            .unwrap()
            .to_string();
        ok(
            &ec2,
            "CreateRoute",
            json!({"RouteTableId": rt, "DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": n}),
        );
        ok(
            &ec2,
            "AssociateRouteTable",
            json!({"RouteTableId": rt, "SubnetId": s}),
        );
        priv_rts.push(rt);
    }
    // S3 gateway endpoint → prefix-list routes in the private tables.
    let s3 = ok(
        &ec2,
        "CreateVpcEndpoint",
        json!({"VpcId": vpc, "ServiceName": "com.amazonaws.us-east-1.s3",
               "VpcEndpointType": "Gateway", "RouteTableIds": priv_rts}),
    )["VpcEndpoint"]
        .clone();
    let s3_id = s3["VpcEndpointId"].as_str().unwrap().to_string();
    let pls = ok(
        &ec2,
        "DescribePrefixLists",
        json!({"Filters": [{"Name": "prefix-list-name", "Values": ["com.amazonaws.us-east-1.s3"]}]}),
    );
    let pl = pls["PrefixLists"][0]["PrefixListId"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = ok(
        &ec2,
        "DescribeRouteTables",
        json!({"RouteTableIds": [priv_rts[0]]}),
    );
    let routes = rt["RouteTables"][0]["Routes"].as_array().unwrap();
    assert!(routes
        .iter()
        .any(|r| r["DestinationPrefixListId"] == pl && r["GatewayId"] == s3_id));
    assert!(s3["PolicyDocument"]
        .as_str()
        .unwrap()
        .contains("\"Principal\":\"*\""));
    // Endpoint SG allowing only itself.
    // AWS: group names cannot start with `sg-`.
    assert_eq!(
        code(run(
            &ec2,
            "CreateSecurityGroup",
            json!({"GroupName": "sg-vpce-env", "Description": "x", "VpcId": vpc})
        )),
        "InvalidParameterValue"
    );
    let sg = ok(
        &ec2,
        "CreateSecurityGroup",
        json!({"GroupName": "vpce-env", "Description": "endpoints", "VpcId": vpc,
               "TagSpecifications": name_tag("security-group", "vpce-sg")}),
    );
    let sg_id = sg["GroupId"].as_str().unwrap().to_string();
    assert_eq!(
        code(run(
            &ec2,
            "CreateSecurityGroup",
            json!({"GroupName": "vpce-env", "Description": "x", "VpcId": vpc})
        )),
        "InvalidGroup.Duplicate"
    );
    let self_rule = json!({"GroupId": sg_id, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "UserIdGroupPairs": [{"GroupId": sg_id}]}]});
    let auth = ok(&ec2, "AuthorizeSecurityGroupIngress", self_rule.clone());
    let rule_id = auth["SecurityGroupRules"][0]["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rule_id.starts_with("sgr-"));
    assert_eq!(
        code(run(&ec2, "AuthorizeSecurityGroupIngress", self_rule)),
        "InvalidPermission.Duplicate"
    );
    let cidr_rule = json!({"GroupId": sg_id, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": "10.20.0.0/16", "Description": "vpc"}]}]});
    ok(&ec2, "AuthorizeSecurityGroupIngress", cidr_rule.clone());
    ok(&ec2, "RevokeSecurityGroupIngress", cidr_rule.clone());
    assert_eq!(
        code(run(&ec2, "RevokeSecurityGroupIngress", cidr_rule)),
        "InvalidPermission.NotFound"
    );
    let g = ok(&ec2, "DescribeSecurityGroups", json!({"GroupIds": [sg_id]}));
    let perms = g["SecurityGroups"][0]["IpPermissions"].as_array().unwrap();
    assert_eq!(perms.len(), 1);
    assert_eq!(perms[0]["FromPort"], 443);
    assert_eq!(perms[0]["UserIdGroupPairs"][0]["GroupId"], sg_id);
    let rules = ok(
        &ec2,
        "DescribeSecurityGroupRules",
        json!({"Filters": [{"Name": "group-id", "Values": [sg_id]}]}),
    );
    assert_eq!(rules["SecurityGroupRules"].as_array().unwrap().len(), 2);
    // Interface endpoints with ENIs and DNS entries.
    let mut ifaces = Vec::new();
    for svc in ["sts", "sagemaker.api", "kms"] {
        let e = ok(
            &ec2,
            "CreateVpcEndpoint",
            json!({"VpcId": vpc, "ServiceName": format!("com.amazonaws.us-east-1.{svc}"),
                   "VpcEndpointType": "Interface", "SubnetIds": [p1, p2],
                   "SecurityGroupIds": [sg_id], "PrivateDnsEnabled": true,
                   "TagSpecifications": name_tag("vpc-endpoint", &format!("vpce-{svc}"))}),
        )["VpcEndpoint"]
            .clone();
        assert_eq!(e["NetworkInterfaceIds"].as_array().unwrap().len(), 2);
        let dns: Vec<&str> = e["DnsEntries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["DnsName"].as_str().unwrap())
            .collect();
        // Regional, two zonal, private DNS, and the loopback address of its own.
        assert_eq!(dns.len(), 5);
        assert!(dns[0].ends_with(".us-east-1.vpce.amazonaws.com"), "{dns:?}");
        let id = e["VpcEndpointId"].as_str().unwrap();
        assert_eq!(dns[4], super::endpoint_address(id).to_string());
        assert!(dns[4].starts_with("127.") && dns[4] != "127.0.0.1");
        ifaces.push((
            svc,
            e["VpcEndpointId"].as_str().unwrap().to_string(),
            dns.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ));
    }
    assert!(ifaces[0]
        .2
        .contains(&"sts.us-east-1.amazonaws.com".to_string()));
    assert!(ifaces[1]
        .2
        .contains(&"api.sagemaker.us-east-1.amazonaws.com".to_string()));
    assert_eq!(
        code(run(
            &ec2,
            "CreateVpcEndpoint",
            json!({"VpcId": vpc, "ServiceName": "com.amazonaws.us-east-1.sts",
            "VpcEndpointType": "Interface", "SubnetIds": [p1], "PrivateDnsEnabled": true})
        )),
        "InvalidParameter"
    );
    assert_eq!(
        code(run(
            &ec2,
            "CreateVpcEndpoint",
            json!({"VpcId": vpc, "ServiceName": "com.amazonaws.us-east-1.nope",
            "VpcEndpointType": "Interface", "SubnetIds": [p1]})
        )),
        "InvalidServiceName"
    );
    let eni = ok(
        &ec2,
        "DescribeNetworkInterfaces",
        json!({"Filters": [{"Name": "subnet-id", "Values": [p1]}]}),
    );
    let enis = eni["NetworkInterfaces"].as_array().unwrap();
    assert_eq!(enis.len(), 3);
    assert_eq!(
        enis.iter()
            .filter(|e| e["InterfaceType"] == "vpc_endpoint")
            .count(),
        3
    );
    let ips: Vec<&str> = enis
        .iter()
        .map(|e| e["PrivateIpAddress"].as_str().unwrap())
        .collect();
    assert!(ips.iter().all(|ip| ip.starts_with("10.20.")));
    let sub = ok(&ec2, "DescribeSubnets", json!({"SubnetIds": [p1]}));
    assert_eq!(sub["Subnets"][0]["AvailableIpAddressCount"], 8192 - 5 - 3);
    // Gateway API.
    let info = ec2.endpoint(ACCT, REGION, &s3_id).unwrap();
    assert_eq!(info.kind, EndpointKind::Gateway);
    assert_eq!(info.vpc_id, vpc);
    assert_eq!(info.service_name, "com.amazonaws.us-east-1.s3");
    assert_eq!(ec2.endpoints_in(ACCT, REGION).len(), 4);
    assert!(ec2.endpoint(ACCT, "eu-west-1", &s3_id).is_none());
    // Describe with filters and pagination.
    let f = |op: &str, filters: Value| ok(&ec2, op, json!({ "Filters": filters }));
    let private = f(
        "DescribeSubnets",
        json!([{"Name": "vpc-id", "Values": [vpc]}, {"Name": "tag:Name", "Values": ["private-*"]}]),
    );
    assert_eq!(ids(&private, "Subnets", "SubnetId").len(), 2);
    let az_a = f(
        "DescribeSubnets",
        json!([{"Name": "availability-zone", "Values": ["us-east-1a"]}]),
    );
    let mut got = ids(&az_a, "Subnets", "SubnetId");
    got.sort();
    let mut want = vec![p1.clone(), u1.clone()];
    want.sort();
    assert_eq!(got, want);
    let svc = f(
        "DescribeVpcEndpoints",
        json!([{"Name": "service-name", "Values": ["com.amazonaws.us-east-1.s3"]}]),
    );
    assert_eq!(
        ids(&svc, "VpcEndpoints", "VpcEndpointId"),
        vec![s3_id.clone()]
    );
    let iface = f(
        "DescribeVpcEndpoints",
        json!([{"Name": "vpc-endpoint-type", "Values": ["Interface"]}, {"Name": "vpc-id", "Values": [vpc]}]),
    );
    assert_eq!(iface["VpcEndpoints"].as_array().unwrap().len(), 3);
    let main = f(
        "DescribeRouteTables",
        json!([{"Name": "association.main", "Values": ["true"]}]),
    );
    assert_eq!(main["RouteTables"].as_array().unwrap().len(), 1);
    let att = f(
        "DescribeInternetGateways",
        json!([{"Name": "attachment.vpc-id", "Values": [vpc]}]),
    );
    assert_eq!(
        ids(&att, "InternetGateways", "InternetGatewayId"),
        vec![igw.clone()]
    );
    let tagged = f(
        "DescribeRouteTables",
        json!([{"Name": "tag-key", "Values": ["Name"]}]),
    );
    assert_eq!(tagged["RouteTables"].as_array().unwrap().len(), 2);
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"MaxResults": 5});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = ok(&ec2, "DescribeNetworkInterfaces", input);
        let n = page["NetworkInterfaces"].as_array().unwrap().len();
        assert!(n <= 5);
        seen.extend(ids(&page, "NetworkInterfaces", "NetworkInterfaceId"));
        match page.get("NextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8, "6 endpoint ENIs + 2 NAT ENIs");
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 8);
    let tags = ok(
        &ec2,
        "DescribeTags",
        json!({"Filters": [{"Name": "resource-type", "Values": ["subnet"]}]}),
    );
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 4);
    // Out-of-order deletes fail and change nothing.
    let before = snapshot(&ec2);
    let dv = |op: &str, input: Value| {
        let e = run(&ec2, op, input).unwrap_err();
        assert_eq!(e.code, "DependencyViolation", "{op}: {e}");
    };
    dv("DeleteVpc", json!({"VpcId": vpc}));
    dv("DeleteSubnet", json!({"SubnetId": p1}));
    dv("DeleteSubnet", json!({"SubnetId": u1}));
    dv("DeleteInternetGateway", json!({"InternetGatewayId": igw}));
    dv(
        "DetachInternetGateway",
        json!({"InternetGatewayId": igw, "VpcId": vpc}),
    );
    dv("DeleteRouteTable", json!({"RouteTableId": pub_rt}));
    dv("DeleteSecurityGroup", json!({"GroupId": sg_id}));
    assert_eq!(snapshot(&ec2), before);
    // Tear down in dependency order.
    let mut all_vpce: Vec<String> = ifaces.iter().map(|(_, id, _)| id.clone()).collect();
    all_vpce.push(s3_id.clone());
    all_vpce.push("vpce-0123456789abcdef0".into());
    let del = ok(
        &ec2,
        "DeleteVpcEndpoints",
        json!({ "VpcEndpointIds": all_vpce }),
    );
    assert_eq!(del["Unsuccessful"].as_array().unwrap().len(), 1);
    let rt = ok(
        &ec2,
        "DescribeRouteTables",
        json!({"RouteTableIds": [priv_rts[0]]}),
    );
    assert!(!rt["RouteTables"][0]["Routes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r.get("DestinationPrefixListId").is_some()));
    for n in &nats {
        assert_eq!(
            ok(&ec2, "DeleteNatGateway", json!({"NatGatewayId": n}))["NatGatewayId"],
            *n
        );
    }
    let d = ok(
        &ec2,
        "DescribeNatGateways",
        json!({"Filter": [{"Name": "state", "Values": ["deleted"]}]}),
    );
    assert_eq!(d["NatGateways"].as_array().unwrap().len(), 2);
    let rt = ok(
        &ec2,
        "DescribeRouteTables",
        json!({"RouteTableIds": [priv_rts[0]]}),
    );
    assert!(rt["RouteTables"][0]["Routes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["State"] == "blackhole"));
    for e in &eips {
        ok(
            &ec2,
            "ReleaseAddress",
            json!({"AllocationId": e["AllocationId"]}),
        );
    }
    let all_rt = ok(
        &ec2,
        "DescribeRouteTables",
        json!({"Filters": [{"Name": "vpc-id", "Values": [vpc]}]}),
    );
    for t in all_rt["RouteTables"].as_array().unwrap() {
        for a in t["Associations"].as_array().unwrap() {
            if a["Main"] != true {
                ok(
                    &ec2,
                    "DisassociateRouteTable",
                    json!({"AssociationId": a["RouteTableAssociationId"]}),
                );
            }
        }
    }
    for t in priv_rts.iter().chain([&pub_rt]) {
        ok(&ec2, "DeleteRouteTable", json!({ "RouteTableId": t }));
    }
    ok(
        &ec2,
        "DetachInternetGateway",
        json!({"InternetGatewayId": igw, "VpcId": vpc}),
    );
    ok(
        &ec2,
        "DeleteInternetGateway",
        json!({"InternetGatewayId": igw}),
    );
    dv("DeleteVpc", json!({"VpcId": vpc}));
    ok(&ec2, "DeleteSecurityGroup", json!({"GroupId": sg_id}));
    for s in [&p1, &p2, &u1, &u2] {
        ok(&ec2, "DeleteSubnet", json!({ "SubnetId": s }));
    }
    ok(&ec2, "DeleteVpc", json!({"VpcId": vpc}));
    assert!(ok(&ec2, "DescribeVpcs", json!({}))["Vpcs"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(
        ok(&ec2, "DescribeNetworkInterfaces", json!({}))["NetworkInterfaces"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        ok(&ec2, "DescribeSecurityGroups", json!({}))["SecurityGroups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(ok(&ec2, "DescribeNatGateways", json!({}))["NatGateways"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn wire_serialization_and_targets() {
    let (_d, _s, ec2) = setup();
    let vpc = ok(
        &ec2,
        "CreateVpc",
        json!({"CidrBlock": "10.0.0.0/16",
        "TagSpecifications": name_tag("vpc", "v")}),
    )["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let model = ironsage_model::model("ec2").unwrap();
    let op = model.operation("DescribeSecurityGroups").unwrap();
    let out = ok(&ec2, "DescribeSecurityGroups", json!({}));
    let resp = ironsage_wire::serialize_output(model, op, &out, "req-1");
    let body = String::from_utf8(resp.body).unwrap();
    assert!(body.contains("<securityGroupInfo>"), "{body}");
    assert!(body.contains("<ipPermissionsEgress>"), "{body}");
    assert!(
        body.contains("<groups>") || body.contains("<groupId>"),
        "{body}"
    );
    assert!(!body.contains("_rules"), "{body}");
    let op = model.operation("DescribeVpcs").unwrap();
    let out = ok(&ec2, "DescribeVpcs", json!({}));
    let body =
        String::from_utf8(ironsage_wire::serialize_output(model, op, &out, "r").body).unwrap();
    assert!(body.contains(&format!("<vpcId>{vpc}</vpcId>")), "{body}");
    assert!(
        body.contains("<tagSet><item><key>Name</key><value>v</value></item></tagSet>"),
        "{body}"
    );
    assert!(!body.contains("_dns"), "{body}");
    // IAM targets.
    let c = caller();
    let ctx = Ctx {
        caller: &c,
        region: REGION,
        request_id: "r",
        now: crate::util::now(),
    };
    let t = ec2
        .targets(
            &ctx,
            "CreateSubnet",
            &json!({"VpcId": vpc, "CidrBlock": "10.0.0.0/24",
            "TagSpecifications": name_tag("subnet", "s")}),
        )
        .unwrap();
    let res: Vec<&str> = t.iter().map(|x| x.resource.as_str()).collect();
    assert!(
        res.contains(&"arn:aws:ec2:us-east-1:111122223333:subnet/*"),
        "{res:?}"
    );
    assert!(
        res.contains(&format!("arn:aws:ec2:us-east-1:111122223333:vpc/{vpc}").as_str()),
        "{res:?}"
    );
    assert!(t.iter().all(|x| x.action == "ec2:CreateSubnet"));
    let sub = t.iter().find(|x| x.resource.ends_with("subnet/*")).unwrap();
    assert!(sub
        .context
        .iter()
        .any(|(k, v)| k == "aws:RequestTag/Name" && v == &vec!["s".to_string()]));
    assert!(sub.context.iter().any(|(k, _)| k == "ec2:Vpc"));
    let d = ec2.targets(&ctx, "DescribeSubnets", &json!({})).unwrap();
    assert_eq!(
        (d[0].action.as_str(), d[0].resource.as_str()),
        ("ec2:DescribeSubnets", "*")
    );
}

#[test]
fn describe_subnets_over_1000_is_fast() {
    let (_d, _s, ec2) = setup();
    let mut vpcs = Vec::new();
    for i in 0..4 {
        vpcs.push(
            ok(
                &ec2,
                "CreateVpc",
                json!({"CidrBlock": format!("10.{i}.0.0/16")}),
            )["Vpc"]["VpcId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let t0 = std::time::Instant::now();
    for n in 0..1000u32 {
        let vpc = &vpcs[(n % 4) as usize];
        let third = n / 4;
        ok(
            &ec2,
            "CreateSubnet",
            json!({"VpcId": vpc, "CidrBlock": format!("10.{}.{third}.0/24", n % 4),
            "AvailabilityZone": format!("us-east-1{}", ['a', 'b', 'c'][(n % 3) as usize]),
            "TagSpecifications": name_tag("subnet", &format!("sn-{n}"))}),
        );
    }
    let create = t0.elapsed();
    let input = json!({"Filters": [{"Name": "vpc-id", "Values": [vpcs[1]]},
        {"Name": "tag:Name", "Values": ["sn-1*"]}, {"Name": "availability-zone", "Values": ["us-east-1b"]}]});
    ok(&ec2, "DescribeSubnets", input.clone());
    let runs = 20;
    let t1 = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..runs {
        n = ok(&ec2, "DescribeSubnets", input.clone())["Subnets"]
            .as_array()
            .unwrap()
            .len();
    }
    let per = t1.elapsed() / runs;
    let t2 = std::time::Instant::now();
    let rt = ok(
        &ec2,
        "DescribeRouteTables",
        json!({"Filters": [{"Name": "vpc-id", "Values": [vpcs[0]]}]}),
    );
    let rt_time = t2.elapsed();
    assert_eq!(rt["RouteTables"].as_array().unwrap().len(), 1);
    println!("1000 CreateSubnet: {create:?} total ({:?}/call); DescribeSubnets with 3 filters over 1000: {per:?} ({n} matches); DescribeRouteTables: {rt_time:?}", create / 1000);
    assert!(n > 0);
    // Debug build; the release-build target is 5 ms.
    assert!(per < std::time::Duration::from_millis(100), "{per:?}");
}

#[test]
fn endpoint_policy_modify_dhcp_flow_logs() {
    let (_d, _s, ec2) = setup();
    let vpc = ok(&ec2, "CreateVpc", json!({"CidrBlock": "10.0.0.0/16"}))["Vpc"]["VpcId"]
        .as_str()
        .unwrap()
        .to_string();
    let rt1 = ok(&ec2, "CreateRouteTable", json!({"VpcId": vpc}))["RouteTable"]["RouteTableId"]
        .as_str()
        .unwrap()
        .to_string();
    let rt2 = ok(&ec2, "CreateRouteTable", json!({"VpcId": vpc}))["RouteTable"]["RouteTableId"]
        .as_str()
        .unwrap()
        .to_string();
    let bad = run(
        &ec2,
        "CreateVpcEndpoint",
        json!({"VpcId": vpc, "ServiceName": "com.amazonaws.us-east-1.s3",
        "RouteTableIds": [rt1], "PolicyDocument": "{\"Statement\": 5}"}),
    );
    assert_eq!(code(bad), "InvalidPolicyDocument");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#;
    let e = ok(
        &ec2,
        "CreateVpcEndpoint",
        json!({"VpcId": vpc, "ServiceName": "com.amazonaws.us-east-1.s3",
        "RouteTableIds": [rt1], "PolicyDocument": policy}),
    )["VpcEndpoint"]
        .clone();
    let id = e["VpcEndpointId"].as_str().unwrap().to_string();
    assert_eq!(e["VpcEndpointType"], "Gateway");
    assert_eq!(e["PolicyDocument"], policy);
    ok(
        &ec2,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": id, "AddRouteTableIds": [rt2], "RemoveRouteTableIds": [rt1]}),
    );
    let has_pl = |rt: &str| {
        ok(&ec2, "DescribeRouteTables", json!({"RouteTableIds": [rt]}))["RouteTables"][0]["Routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.get("DestinationPrefixListId").is_some())
    };
    assert!(!has_pl(&rt1));
    assert!(has_pl(&rt2));
    ok(
        &ec2,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": id, "ResetPolicy": true}),
    );
    let info = ec2.endpoint(ACCT, REGION, &id).unwrap();
    assert_eq!(info.route_table_ids, vec![rt2.clone()]);
    let d = ok(
        &ec2,
        "DescribeVpcEndpoints",
        json!({"VpcEndpointIds": [id]}),
    );
    assert_eq!(d["VpcEndpoints"][0]["PolicyDocument"], vpce::DEFAULT_POLICY);
    // Services listed include what ironsage serves.
    let s = ok(&ec2, "DescribeVpcEndpointServices", json!({}));
    let names: Vec<&str> = s["ServiceNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for n in [
        "com.amazonaws.us-east-1.s3",
        "com.amazonaws.us-east-1.sts",
        "com.amazonaws.us-east-1.sagemaker.api",
        "com.amazonaws.us-east-1.sagemaker.runtime",
        "com.amazonaws.us-east-1.kms",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    // Private DNS needs the VPC's DNS attributes.
    let sn = ok(
        &ec2,
        "CreateSubnet",
        json!({"VpcId": vpc, "CidrBlock": "10.0.1.0/24"}),
    )["Subnet"]["SubnetId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        code(run(
            &ec2,
            "CreateVpcEndpoint",
            json!({"VpcId": vpc, "ServiceName": "com.amazonaws.us-east-1.kms",
        "VpcEndpointType": "Interface", "SubnetIds": [sn]})
        )),
        "InvalidParameter"
    );
    // DHCP options.
    let dopt = ok(
        &ec2,
        "CreateDhcpOptions",
        json!({"DhcpConfigurations": [{"Key": "domain-name", "Values": ["corp.internal"]},
        {"Key": "domain-name-servers", "Values": ["AmazonProvidedDNS"]}]}),
    )["DhcpOptions"]["DhcpOptionsId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &ec2,
        "AssociateDhcpOptions",
        json!({"DhcpOptionsId": dopt, "VpcId": vpc}),
    );
    assert_eq!(
        code(run(
            &ec2,
            "DeleteDhcpOptions",
            json!({"DhcpOptionsId": dopt})
        )),
        "DependencyViolation"
    );
    assert_eq!(
        ok(&ec2, "DescribeVpcs", json!({}))["Vpcs"][0]["DhcpOptionsId"],
        dopt
    );
    // Flow logs.
    let fl = ok(
        &ec2,
        "CreateFlowLogs",
        json!({"ResourceIds": [vpc, "vpc-0000000000000000a"], "ResourceType": "VPC",
        "TrafficType": "ALL", "LogGroupName": "/vpcflowlogs/e-vpc-flow-logs",
        "DeliverLogsPermissionArn": "arn:aws:iam::111122223333:role/flow"}),
    );
    assert_eq!(fl["FlowLogIds"].as_array().unwrap().len(), 1);
    assert_eq!(
        fl["Unsuccessful"][0]["Error"]["Code"],
        "InvalidVpcID.NotFound"
    );
    let d = ok(
        &ec2,
        "DescribeFlowLogs",
        json!({"Filter": [{"Name": "resource-id", "Values": [vpc]}]}),
    );
    assert_eq!(
        d["FlowLogs"][0]["LogGroupName"],
        "/vpcflowlogs/e-vpc-flow-logs"
    );
    assert_eq!(
        d["FlowLogs"][0]["LogDestination"],
        "arn:aws:logs:us-east-1:111122223333:log-group:/vpcflowlogs/e-vpc-flow-logs"
    );
    // Tags.
    ok(
        &ec2,
        "CreateTags",
        json!({"Resources": [vpc, sn], "Tags": [{"Key": "env", "Value": "dev"}]}),
    );
    let t = ok(
        &ec2,
        "DescribeTags",
        json!({"Filters": [{"Name": "key", "Values": ["env"]}]}),
    );
    assert_eq!(t["Tags"].as_array().unwrap().len(), 2);
    ok(
        &ec2,
        "DeleteTags",
        json!({"Resources": [sn], "Tags": [{"Key": "env"}]}),
    );
    let t = ok(
        &ec2,
        "DescribeTags",
        json!({"Filters": [{"Name": "key", "Values": ["env"]}]}),
    );
    assert_eq!(t["Tags"][0]["ResourceId"], vpc);
    assert_eq!(
        code(run(
            &ec2,
            "CreateTags",
            json!({"Resources": ["subnet-0000000000000000a"], "Tags": [{"Key": "a", "Value": "b"}]})
        )),
        "InvalidSubnetID.NotFound"
    );
}
