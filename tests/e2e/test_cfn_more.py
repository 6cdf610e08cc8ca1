"""Issue 6, continued: EC2 networking stacks, DeletionPolicy Retain, service
roles (iam:PassRole, the role's permissions decide), and kill -9 mid-create."""

import json
import time

from conftest import ACCOUNT
from test_cloudformation import wait
from test_foundation import make_user

VPC_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr:
    Type: String
    Default: 10.20.0.0/16
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref Cidr
      EnableDnsSupport: true
      EnableDnsHostnames: true
      Tags:
        - Key: Name
          Value: cfn-net
  SubnetA:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: !Select [0, !Cidr [!GetAtt Vpc.CidrBlock, 4, 8]]
      AvailabilityZone: !Select [0, !GetAZs ""]
  SubnetB:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: !Select [1, !Cidr [!GetAtt Vpc.CidrBlock, 4, 8]]
      AvailabilityZone: !Select [1, !GetAZs ""]
  RouteTableA:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref Vpc
  RouteTableB:
    Type: AWS::EC2::RouteTable
    Properties:
      VpcId: !Ref Vpc
  AssocA:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref SubnetA
      RouteTableId: !Ref RouteTableA
  AssocB:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties:
      SubnetId: !Ref SubnetB
      RouteTableId: !Ref RouteTableB
  S3Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      ServiceName: !Sub com.amazonaws.${AWS::Region}.s3
      VpcEndpointType: Gateway
      RouteTableIds: [!Ref RouteTableA, !Ref RouteTableB]
  EndpointSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: endpoint traffic from itself only
      VpcId: !Ref Vpc
  EndpointSgSelf:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !Ref EndpointSg
      IpProtocol: tcp
      FromPort: 443
      ToPort: 443
      SourceSecurityGroupId: !GetAtt EndpointSg.GroupId
  SsmEndpoint:
    Type: AWS::EC2::VPCEndpoint
    DependsOn: EndpointSgSelf
    Properties:
      VpcId: !Ref Vpc
      ServiceName: !Sub com.amazonaws.${AWS::Region}.ssm
      VpcEndpointType: Interface
      PrivateDnsEnabled: true
      SubnetIds: [!Ref SubnetA, !Ref SubnetB]
      SecurityGroupIds: [!Ref EndpointSg]
Outputs:
  VpcId:
    Value: !Ref Vpc
  VpcCidr:
    Value: !GetAtt Vpc.CidrBlock
  DefaultSg:
    Value: !GetAtt Vpc.DefaultSecurityGroup
  Subnets:
    Value: !Join [",", [!Ref SubnetA, !Ref SubnetB]]
  SubnetAZ:
    Value: !GetAtt SubnetA.AvailabilityZone
  S3EndpointId:
    Value: !Ref S3Endpoint
  SsmEndpointId:
    Value: !GetAtt SsmEndpoint.Id
  SsmDns:
    Value: !Select [0, !GetAtt SsmEndpoint.DnsEntries]
  SgId:
    Value: !GetAtt EndpointSg.GroupId
"""


def outputs_of(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_vpc_stack_matches_ec2_and_deletes_cleanly(server):
    server.aws("cloudformation", "create-stack", "--stack-name", "net", "--template-body", VPC_TEMPLATE)
    stack = wait(server, "net")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = outputs_of(stack)
    vpc_id = out["VpcId"]
    assert vpc_id.startswith("vpc-") and out["VpcCidr"] == "10.20.0.0/16"
    _, vpcs, _ = server.aws("ec2", "describe-vpcs", "--vpc-ids", vpc_id)
    vpc = vpcs["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.20.0.0/16" and {"Key": "Name", "Value": "cfn-net"} in vpc["Tags"]
    _, attr, _ = server.aws("ec2", "describe-vpc-attribute", "--vpc-id", vpc_id, "--attribute", "enableDnsHostnames")
    assert attr["EnableDnsHostnames"]["Value"] is True
    _, sgs, _ = server.aws("ec2", "describe-security-groups", "--filters", f"Name=vpc-id,Values={vpc_id}")
    by_name = {g["GroupName"]: g for g in sgs["SecurityGroups"]}
    assert by_name["default"]["GroupId"] == out["DefaultSg"]
    # The generated group name as CloudFormation makes it; only itself may reach 443.
    sg = next(g for g in sgs["SecurityGroups"] if g["GroupId"] == out["SgId"])
    assert sg["GroupName"].startswith("net-EndpointSg-")
    assert [(p["IpProtocol"], p["FromPort"], [u["GroupId"] for u in p["UserIdGroupPairs"]], p["IpRanges"])
            for p in sg["IpPermissions"]] == [("tcp", 443, [out["SgId"]], [])]
    # Subnets over !Cidr and !GetAZs, each with its own route table.
    subnet_ids = out["Subnets"].split(",")
    _, subs, _ = server.aws("ec2", "describe-subnets", "--subnet-ids", *subnet_ids)
    got = sorted((s["CidrBlock"], s["AvailabilityZone"], s["VpcId"]) for s in subs["Subnets"])
    assert got == [("10.20.0.0/24", "us-east-1a", vpc_id), ("10.20.1.0/24", "us-east-1b", vpc_id)]
    assert out["SubnetAZ"] == "us-east-1a"
    _, rtbs, _ = server.aws("ec2", "describe-route-tables", "--filters", f"Name=vpc-id,Values={vpc_id}")
    assoc = {a["SubnetId"]: t["RouteTableId"] for t in rtbs["RouteTables"] for a in t["Associations"] if "SubnetId" in a}
    assert set(assoc) == set(subnet_ids) and len(set(assoc.values())) == 2
    # The S3 gateway endpoint put its prefix-list route into both tables.
    for t in rtbs["RouteTables"]:
        if t["RouteTableId"] in assoc.values():
            assert any(r.get("GatewayId") == out["S3EndpointId"] for r in t["Routes"]), t
    _, eps, _ = server.aws("ec2", "describe-vpc-endpoints", "--vpc-endpoint-ids", out["S3EndpointId"], out["SsmEndpointId"])
    by_id = {e["VpcEndpointId"]: e for e in eps["VpcEndpoints"]}
    ssm_ep = by_id[out["SsmEndpointId"]]
    assert ssm_ep["VpcEndpointType"] == "Interface" and ssm_ep["PrivateDnsEnabled"] is True
    assert [g["GroupId"] for g in ssm_ep["Groups"]] == [out["SgId"]]
    first = ssm_ep["DnsEntries"][0]
    assert out["SsmDns"] == f"{first['HostedZoneId']}:{first['DnsName']}"
    _, res, _ = server.aws("cloudformation", "describe-stack-resources", "--stack-name", "net")
    phys = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in res["StackResources"]}
    assert phys["Vpc"] == vpc_id and phys["EndpointSg"] == out["SgId"]
    # Delete: reverse dependency order (the VPC last), nothing left.
    server.aws("cloudformation", "delete-stack", "--stack-name", "net")
    server.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "net")
    rc, _, err = server.aws("ec2", "describe-vpcs", "--vpc-ids", vpc_id, check=False)
    assert rc != 0 and "InvalidVpcID.NotFound" in err
    _, events, _ = server.aws("cloudformation", "describe-stack-events", "--stack-name", stack["StackId"])
    deleted = [e["LogicalResourceId"] for e in reversed(events["StackEvents"]) if e["ResourceStatus"] == "DELETE_COMPLETE"]
    assert deleted.index("Vpc") > max(deleted.index(x) for x in ("SubnetA", "SubnetB", "EndpointSg", "S3Endpoint", "SsmEndpoint"))
    assert deleted.index("EndpointSg") > deleted.index("SsmEndpoint")
    assert deleted.index("SubnetA") > deleted.index("AssocA")


def test_aws_specific_parameter_types_are_checked_against_ec2(server):
    _, vpc, _ = server.aws("ec2", "create-vpc", "--cidr-block", "10.70.0.0/16")
    vpc_id = vpc["Vpc"]["VpcId"]
    tpl = json.dumps({
        "Parameters": {"Vpc": {"Type": "AWS::EC2::VPC::Id"}, "Zones": {"Type": "List<AWS::EC2::AvailabilityZone::Name>"}},
        "Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "d", "VpcId": {"Ref": "Vpc"},
            "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"}]}}},
        "Outputs": {"Zones": {"Value": {"Fn::Join": ["|", {"Ref": "Zones"}]}}, "Sg": {"Value": {"Ref": "Sg"}}},
    })
    rc, _, err = server.aws("cloudformation", "create-stack", "--stack-name", "ptypes", "--template-body", tpl,
                            "--parameters", "ParameterKey=Vpc,ParameterValue=vpc-0000000000000dead",
                            "ParameterKey=Zones,ParameterValue=us-east-1a", check=False)
    assert rc != 0 and "parameter value vpc-0000000000000dead for parameter name Vpc does not exist" in err
    rc, _, err = server.aws("cloudformation", "create-stack", "--stack-name", "ptypes", "--template-body", tpl,
                            "--parameters", f"ParameterKey=Vpc,ParameterValue={vpc_id}",
                            "ParameterKey=Zones,ParameterValue=us-east-1a\\,us-east-9z", check=False)
    assert rc != 0 and "parameter value us-east-9z for parameter name Zones does not exist" in err
    server.aws("cloudformation", "create-stack", "--stack-name", "ptypes", "--template-body", tpl,
               "--parameters", f"ParameterKey=Vpc,ParameterValue={vpc_id}",
               "ParameterKey=Zones,ParameterValue=us-east-1a\\,us-east-1b")
    stack = wait(server, "ptypes")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = outputs_of(stack)
    assert out["Zones"] == "us-east-1a|us-east-1b"
    # Explicit egress replaces the default allow-all rule, as on AWS.
    _, sgs, _ = server.aws("ec2", "describe-security-groups", "--group-ids", out["Sg"])
    eg = sgs["SecurityGroups"][0]["IpPermissionsEgress"]
    assert [(p["IpProtocol"], p.get("FromPort"), [r["CidrIp"] for r in p["IpRanges"]]) for p in eg] == [("tcp", 443, ["10.0.0.0/8"])]
    server.aws("cloudformation", "delete-stack", "--stack-name", "ptypes")
    server.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "ptypes")
    server.aws("ec2", "delete-vpc", "--vpc-id", vpc_id)


def test_retain_keeps_the_parameter(server):
    tpl = json.dumps({"Resources": {
        "Kept": {"Type": "AWS::SSM::Parameter", "DeletionPolicy": "Retain",
                 "Properties": {"Name": "/retain/kept", "Type": "String", "Value": "stay"}},
        "Gone": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/retain/gone", "Type": "String", "Value": "go"}},
    }})
    server.aws("cloudformation", "create-stack", "--stack-name", "retainer", "--template-body", tpl)
    assert wait(server, "retainer")["StackStatus"] == "CREATE_COMPLETE"
    server.aws("cloudformation", "delete-stack", "--stack-name", "retainer")
    server.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "retainer")
    _, p, _ = server.aws("ssm", "get-parameter", "--name", "/retain/kept")
    assert p["Parameter"]["Value"] == "stay"
    rc, _, err = server.aws("ssm", "get-parameter", "--name", "/retain/gone", check=False)
    assert rc != 0 and "ParameterNotFound" in err
    _, events, _ = server.aws("cloudformation", "list-stacks", "--stack-status-filter", "DELETE_COMPLETE")
    stack_id = next(s["StackId"] for s in events["StackSummaries"] if s["StackName"] == "retainer")
    _, ev, _ = server.aws("cloudformation", "describe-stack-events", "--stack-name", stack_id)
    assert any(e["LogicalResourceId"] == "Kept" and e["ResourceStatus"] == "DELETE_SKIPPED" for e in ev["StackEvents"])



def test_stack_policy_refuses_update_of_protected_parameter(server):
    def tpl(value):
        return json.dumps({"Resources": {
            "Protected": {"Type": "AWS::SSM::Parameter",
                          "Properties": {"Name": "/policy/protected", "Type": "String", "Value": value}},
        }})
    policy = json.dumps({"Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "Update:*", "Principal": "*", "Resource": "LogicalResourceId/Protected"},
    ]})
    server.aws("cloudformation", "create-stack", "--stack-name", "guarded", "--template-body", tpl("old"),
               "--stack-policy-body", policy)
    assert wait(server, "guarded")["StackStatus"] == "CREATE_COMPLETE"
    server.aws("cloudformation", "update-stack", "--stack-name", "guarded", "--template-body", tpl("new"))
    assert wait(server, "guarded")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    _, ev, _ = server.aws("cloudformation", "describe-stack-events", "--stack-name", "guarded")
    reason = ("Action denied by stack policy: Statement [#2] does not allow [Update:Modify] "
              "for resource [LogicalResourceId/Protected]")
    assert any(e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS" and e.get("ResourceStatusReason") == reason
               for e in ev["StackEvents"])
    _, p, _ = server.aws("ssm", "get-parameter", "--name", "/policy/protected")
    assert p["Parameter"]["Value"] == "old"
    allow = json.dumps({"Statement": [{"Effect": "Allow", "Action": "Update:Modify", "Principal": "*",
                                       "Resource": "LogicalResourceId/Protected"}]})
    server.aws("cloudformation", "update-stack", "--stack-name", "guarded", "--template-body", tpl("new"),
               "--stack-policy-during-update-body", allow)
    assert wait(server, "guarded")["StackStatus"] == "UPDATE_COMPLETE"
    _, p, _ = server.aws("ssm", "get-parameter", "--name", "/policy/protected")
    assert p["Parameter"]["Value"] == "new"
    _, got, _ = server.aws("cloudformation", "get-stack-policy", "--stack-name", "guarded")
    assert json.loads(got["StackPolicyBody"]) == json.loads(policy)
    server.aws("cloudformation", "delete-stack", "--stack-name", "guarded")
    server.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "guarded")


TRUST_CFN = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def test_service_role_needs_pass_role_and_its_permissions_decide(server):
    # The service role may write parameters under /svc/ok/ only.
    server.aws("iam", "create-role", "--role-name", "cfn-exec", "--assume-role-policy-document", TRUST_CFN)
    server.aws("iam", "put-role-policy", "--role-name", "cfn-exec", "--policy-name", "p", "--policy-document", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"],
                                                  "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/svc/ok/*"}]}))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/cfn-exec"
    cfn_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"}]}
    no_pass, _ = make_user(server, "cfn-no-pass", cfn_only)
    with_pass, _ = make_user(server, "cfn-with-pass", {"Version": "2012-10-17", "Statement": cfn_only["Statement"] + [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role_arn}]})
    ok = json.dumps({"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/svc/ok/a", "Type": "String", "Value": "v"}}}})
    rc, _, err = server.aws("cloudformation", "create-stack", "--stack-name", "svc", "--template-body", ok,
                            "--role-arn", role_arn, env=no_pass, check=False)
    assert rc != 0 and "AccessDenied" in err
    assert f"User: arn:aws:iam::{ACCOUNT}:user/cfn-no-pass is not authorized to perform: iam:PassRole on resource: {role_arn}" in err
    # With PassRole: the role (not the user, who has no SSM rights) creates it.
    server.aws("cloudformation", "create-stack", "--stack-name", "svc", "--template-body", ok, "--role-arn", role_arn, env=with_pass)
    stack = wait(server, "svc")
    assert stack["StackStatus"] == "CREATE_COMPLETE" and stack["RoleARN"] == role_arn, stack
    _, p, _ = server.aws("ssm", "get-parameter", "--name", "/svc/ok/a")
    assert p["Parameter"]["Value"] == "v"
    # A resource outside the role's permissions fails with AccessDenied in the events.
    bad = json.dumps({"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/svc/no/a", "Type": "String", "Value": "v"}}}})
    server.aws("cloudformation", "create-stack", "--stack-name", "svc-bad", "--template-body", bad, "--role-arn", role_arn, env=with_pass)
    stack = wait(server, "svc-bad")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    _, ev, _ = server.aws("cloudformation", "describe-stack-events", "--stack-name", "svc-bad")
    failed = [e for e in ev["StackEvents"] if e["LogicalResourceId"] == "P" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and "AccessDenied" in failed[0]["ResourceStatusReason"], ev
    assert "assumed-role/cfn-exec/" in failed[0]["ResourceStatusReason"] and "ssm:PutParameter" in failed[0]["ResourceStatusReason"]
    rc, _, _ = server.aws("ssm", "get-parameter", "--name", "/svc/no/a", check=False)
    assert rc != 0
    server.aws("cloudformation", "delete-stack", "--stack-name", "svc", env=with_pass)
    server.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "svc")
    rc, _, _ = server.aws("ssm", "get-parameter", "--name", "/svc/ok/a", check=False)
    assert rc != 0


def hundred_resources(prefix):
    res = {}
    for i in range(80):
        res[f"P{i:03d}"] = {"Type": "AWS::SSM::Parameter",
                            "Properties": {"Name": f"{prefix}/p{i:03d}", "Type": "String", "Value": f"v{i}"}}
    for i in range(20):
        res[f"R{i:03d}"] = {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": f"kill9-role-{i:03d}",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}
    return json.dumps({"Resources": res})


def test_kill9_mid_create_reaches_terminal_state_without_orphans(server_factory):
    srv = server_factory()
    data_dir = srv.data_dir
    ssm = srv.client("ssm")
    cfn = srv.client("cloudformation")
    cfn.create_stack(StackName="big", TemplateBody=hundred_resources("/kill9"), Capabilities=["CAPABILITY_NAMED_IAM"])
    # Kill once a few resources exist.
    deadline = time.time() + 30
    while time.time() < deadline:
        n = len(ssm.get_parameters_by_path(Path="/kill9", Recursive=True).get("Parameters", []))
        if n >= 3:
            break
        time.sleep(0.005)
    status = cfn.describe_stacks(StackName="big")["Stacks"][0]["StackStatus"]
    srv.kill9()
    srv2 = server_factory(data_dir=data_dir)
    cfn = srv2.client("cloudformation")
    ssm = srv2.client("ssm")
    iam = srv2.client("iam")
    start = time.time()
    while True:
        st = cfn.describe_stacks(StackName="big")["Stacks"][0]
        if not st["StackStatus"].endswith("IN_PROGRESS"):
            break
        assert time.time() - start < 10, f"still {st['StackStatus']} (was {status} at the kill)"
        time.sleep(0.1)
    assert st["StackStatus"] in ("ROLLBACK_COMPLETE", "CREATE_COMPLETE"), st
    # No orphans: every parameter under the prefix is the stack's, every
    # kill9 role is the stack's.
    owned = {}
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName="big"):
        for r in page["StackResourceSummaries"]:
            if r["ResourceStatus"] != "DELETE_COMPLETE" and r.get("PhysicalResourceId"):
                owned[r["PhysicalResourceId"]] = r["ResourceStatus"]
    params = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/kill9", Recursive=True):
        params += [p["Name"] for p in page["Parameters"]]
    roles = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]
             if r["RoleName"].startswith("kill9-role-")]
    if st["StackStatus"] == "ROLLBACK_COMPLETE":
        assert params == [] and roles == [], (params, roles)
    else:
        assert len(params) == 80 and len(roles) == 20
        assert all(owned.get(p) == "CREATE_COMPLETE" for p in params)
        cfn.delete_stack(StackName="big")
        srv2.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "big")
        assert ssm.get_parameters_by_path(Path="/kill9", Recursive=True)["Parameters"] == []
