"""Issue 5: the environment's network built by hand with the aws CLI,
described with filters, and torn down in dependency order."""

import json


def ec2(server, *args, check=True):
    return server.aws("ec2", *args, check=check)


def tag(name):
    return f"ResourceType=%s,Tags=[{{Key=Name,Value={name}}}]"


def test_build_describe_and_tear_down_network(server):
    _, out, _ = ec2(server, "describe-availability-zones", "--query", "AvailabilityZones[].ZoneName")
    assert out[:2] == ["us-east-1a", "us-east-1b"]
    _, vpc, _ = ec2(server, "create-vpc", "--cidr-block", "10.20.0.0/16", "--tag-specifications", tag("ml-vpc") % "vpc")
    vpc_id = vpc["Vpc"]["VpcId"]
    assert vpc_id.startswith("vpc-")
    ec2(server, "modify-vpc-attribute", "--vpc-id", vpc_id, "--enable-dns-hostnames", '{"Value":true}')
    subnets = {}
    for name, cidr, az in [("private-a", "10.20.0.0/19", "us-east-1a"), ("private-b", "10.20.32.0/19", "us-east-1b"),
                           ("public-a", "10.20.128.0/20", "us-east-1a"), ("public-b", "10.20.144.0/20", "us-east-1b")]:
        _, sn, _ = ec2(server, "create-subnet", "--vpc-id", vpc_id, "--cidr-block", cidr, "--availability-zone", az,
                       "--tag-specifications", tag(name) % "subnet")
        subnets[name] = sn["Subnet"]["SubnetId"]
        assert sn["Subnet"]["AvailableIpAddressCount"] > 0
    rc, _, err = ec2(server, "create-subnet", "--vpc-id", vpc_id, "--cidr-block", "10.20.16.0/20", check=False)
    assert rc != 0 and "InvalidSubnet.Conflict" in err
    _, igw, _ = ec2(server, "create-internet-gateway")
    igw_id = igw["InternetGateway"]["InternetGatewayId"]
    ec2(server, "attach-internet-gateway", "--internet-gateway-id", igw_id, "--vpc-id", vpc_id)
    _, igw2, _ = ec2(server, "create-internet-gateway")
    rc, _, err = ec2(server, "attach-internet-gateway", "--internet-gateway-id", igw2["InternetGateway"]["InternetGatewayId"], "--vpc-id", vpc_id, check=False)
    assert rc != 0 and "Resource.AlreadyAssociated" in err
    ec2(server, "delete-internet-gateway", "--internet-gateway-id", igw2["InternetGateway"]["InternetGatewayId"])
    _, pub_rt, _ = ec2(server, "create-route-table", "--vpc-id", vpc_id)
    pub_rt_id = pub_rt["RouteTable"]["RouteTableId"]
    ec2(server, "create-route", "--route-table-id", pub_rt_id, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", igw_id)
    rc, _, err = ec2(server, "create-route", "--route-table-id", pub_rt_id, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", igw_id, check=False)
    assert rc != 0 and "RouteAlreadyExists" in err
    nats, private_rts = [], []
    for suffix in ["a", "b"]:
        ec2(server, "associate-route-table", "--route-table-id", pub_rt_id, "--subnet-id", subnets[f"public-{suffix}"])
        _, eip, _ = ec2(server, "allocate-address", "--domain", "vpc")
        _, nat, _ = ec2(server, "create-nat-gateway", "--subnet-id", subnets[f"public-{suffix}"], "--allocation-id", eip["AllocationId"])
        nats.append((nat["NatGateway"]["NatGatewayId"], eip["AllocationId"]))
        _, rt, _ = ec2(server, "create-route-table", "--vpc-id", vpc_id)
        rt_id = rt["RouteTable"]["RouteTableId"]
        ec2(server, "create-route", "--route-table-id", rt_id, "--destination-cidr-block", "0.0.0.0/0", "--nat-gateway-id", nat["NatGateway"]["NatGatewayId"])
        ec2(server, "associate-route-table", "--route-table-id", rt_id, "--subnet-id", subnets[f"private-{suffix}"])
        private_rts.append(rt_id)
    _, sg, _ = ec2(server, "create-security-group", "--group-name", "endpoints", "--description", "only itself", "--vpc-id", vpc_id)
    sg_id = sg["GroupId"]
    ec2(server, "authorize-security-group-ingress", "--group-id", sg_id, "--ip-permissions", json.dumps([{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg_id}]}]))
    rc, _, err = ec2(server, "authorize-security-group-ingress", "--group-id", sg_id, "--ip-permissions", json.dumps([{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg_id}]}]), check=False)
    assert rc != 0 and "InvalidPermission.Duplicate" in err
    _, s3e, _ = ec2(server, "create-vpc-endpoint", "--vpc-id", vpc_id, "--service-name", "com.amazonaws.us-east-1.s3", "--route-table-ids", *private_rts)
    s3e_id = s3e["VpcEndpoint"]["VpcEndpointId"]
    _, rts, _ = ec2(server, "describe-route-tables", "--route-table-ids", private_rts[0])
    assert any(r.get("DestinationPrefixListId", "").startswith("pl-") and r.get("GatewayId") == s3e_id for r in rts["RouteTables"][0]["Routes"])
    iface = []
    for svc in ["sts", "sagemaker.api", "sagemaker.runtime", "kms", "ssm", "logs"]:
        _, e, _ = ec2(server, "create-vpc-endpoint", "--vpc-id", vpc_id, "--vpc-endpoint-type", "Interface", "--service-name", f"com.amazonaws.us-east-1.{svc}",
                      "--subnet-ids", subnets["private-a"], subnets["private-b"], "--security-group-ids", sg_id, "--private-dns-enabled")
        assert e["VpcEndpoint"]["DnsEntries"], svc
        iface.append(e["VpcEndpoint"]["VpcEndpointId"])
    # Describe with the filters clients and CloudFormation use.
    _, out, _ = ec2(server, "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc_id}", "Name=tag:Name,Values=private-*")
    assert sorted(s["SubnetId"] for s in out["Subnets"]) == sorted([subnets["private-a"], subnets["private-b"]])
    _, out, _ = ec2(server, "describe-subnets", "--filters", "Name=availability-zone,Values=us-east-1b", f"Name=vpc-id,Values={vpc_id}")
    assert len(out["Subnets"]) == 2
    _, out, _ = ec2(server, "describe-vpc-endpoints", "--filters", "Name=service-name,Values=com.amazonaws.us-east-1.kms")
    assert len(out["VpcEndpoints"]) == 1 and out["VpcEndpoints"][0]["VpcEndpointType"] == "Interface"
    _, out, _ = ec2(server, "describe-route-tables", "--filters", f"Name=vpc-id,Values={vpc_id}", "Name=association.main,Values=true")
    assert len(out["RouteTables"]) == 1
    _, out, _ = ec2(server, "describe-vpc-endpoint-services")
    assert "com.amazonaws.us-east-1.s3" in out["ServiceNames"]
    # Out-of-order deletes fail and change nothing.
    rc, _, err = ec2(server, "delete-vpc", "--vpc-id", vpc_id, check=False)
    assert rc != 0 and "DependencyViolation" in err
    rc, _, err = ec2(server, "delete-internet-gateway", "--internet-gateway-id", igw_id, check=False)
    assert rc != 0 and "DependencyViolation" in err
    _, out, _ = ec2(server, "describe-vpcs", "--vpc-ids", vpc_id)
    assert out["Vpcs"][0]["State"] == "available"
    # Tear down in dependency order.
    ec2(server, "delete-vpc-endpoints", "--vpc-endpoint-ids", s3e_id, *iface)
    for nat_id, _ in nats:
        ec2(server, "delete-nat-gateway", "--nat-gateway-id", nat_id)
    for _, alloc in nats:
        ec2(server, "release-address", "--allocation-id", alloc)
    ec2(server, "detach-internet-gateway", "--internet-gateway-id", igw_id, "--vpc-id", vpc_id)
    ec2(server, "delete-internet-gateway", "--internet-gateway-id", igw_id)
    for sn in subnets.values():
        ec2(server, "delete-subnet", "--subnet-id", sn)
    for rt in [pub_rt_id, *private_rts]:
        ec2(server, "delete-route-table", "--route-table-id", rt)
    ec2(server, "delete-security-group", "--group-id", sg_id)
    ec2(server, "delete-vpc", "--vpc-id", vpc_id)
    _, out, _ = ec2(server, "describe-vpcs", "--filters", "Name=tag:Name,Values=ml-vpc")
    assert out["Vpcs"] == []
