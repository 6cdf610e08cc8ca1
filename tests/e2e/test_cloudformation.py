"""Issue 6: templates that deploy for real through the stock aws CLI."""

import json
import os
import time

import botocore.exceptions
import pytest

from conftest import ACCOUNT
from test_foundation import make_user

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")


def wait(server, name, *terminal, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, out, _ = server.aws("cloudformation", "describe-stacks", "--stack-name", name)
        status = out["Stacks"][0]["StackStatus"]
        if status in terminal or not status.endswith("IN_PROGRESS"):
            return out["Stacks"][0]
        time.sleep(0.2)
    raise AssertionError(f"{name} still in progress")


def test_nested_stack_from_s3_url_and_real_resources(server):
    server.aws("s3", "mb", "s3://cfn-templates")
    server.aws("s3", "cp", os.path.join(TEMPLATES, "child.yaml"), "s3://cfn-templates/ml/child.yaml")
    server.aws("s3", "cp", os.path.join(TEMPLATES, "parent.yaml"), "s3://cfn-templates/ml/parent.yaml")
    # IAM resources with explicit names need CAPABILITY_NAMED_IAM, as AWS words it.
    rc, _, err = server.aws("cloudformation", "create-stack", "--stack-name", "ml-env",
                            "--template-url", "https://s3.us-east-1.amazonaws.com/cfn-templates/ml/parent.yaml",
                            "--parameters", "ParameterKey=EnvName,ParameterValue=smml",
                            "ParameterKey=ChildUrl,ParameterValue=https://cfn-templates.s3.amazonaws.com/ml/child.yaml", check=False)
    assert rc != 0 and "InsufficientCapabilitiesException" in err and "Requires capabilities : [CAPABILITY_NAMED_IAM]" in err
    rc, _, err = server.aws("cloudformation", "create-stack", "--stack-name", "ml-env",
                            "--template-url", "https://s3.us-east-1.amazonaws.com/cfn-templates/ml/parent.yaml",
                            "--parameters", "ParameterKey=EnvName,ParameterValue=smml", "ParameterKey=EnvType,ParameterValue=qa",
                            "ParameterKey=ChildUrl,ParameterValue=x", "--capabilities", "CAPABILITY_NAMED_IAM", check=False)
    assert rc != 0 and "EnvType" in err and "AllowedValues" in err
    server.aws("cloudformation", "create-stack", "--stack-name", "ml-env",
               "--template-url", "https://s3.us-east-1.amazonaws.com/cfn-templates/ml/parent.yaml",
               "--parameters", "ParameterKey=EnvName,ParameterValue=smml",
               "ParameterKey=ChildUrl,ParameterValue=https://cfn-templates.s3.amazonaws.com/ml/child.yaml",
               "--capabilities", "CAPABILITY_NAMED_IAM", "--disable-rollback")
    stack = wait(server, "ml-env")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    _, table, _ = server.aws("cloudformation", "describe-stacks", "--stack-name", "ml-env", "--output", "table",
                             "--query", "Stacks[0].Outputs[*].[OutputKey, OutputValue]")
    assert "RoleArn" in table and f"arn:aws:iam::{ACCOUNT}:role/smml-dev-scientist" in table
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    bucket = outputs["BucketName"]
    assert bucket.startswith("ml-env-databucket-")
    assert outputs["KeyArn"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    # The resources are real: the bucket encrypts with the child's key, the
    # role can be assumed and its policy decides.
    s3 = server.client("s3")
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == outputs["KeyArn"]
    s3.put_object(Bucket=bucket, Key="train.csv", Body=b"a,b\n")
    assert s3.head_object(Bucket=bucket, Key="train.csv")["SSEKMSKeyId"] == outputs["KeyArn"]
    user_env, _ = make_user(server, "cfn-assumer", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
    _, creds, _ = server.aws("sts", "assume-role", "--role-arn", outputs["RoleArn"], "--role-session-name", "sci", env=user_env)
    c = creds["Credentials"]
    sci = server.client("s3", ak=c["AccessKeyId"], sk=c["SecretAccessKey"], token=c["SessionToken"])
    assert sci.get_object(Bucket=bucket, Key="train.csv")["Body"].read() == b"a,b\n"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sci.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    _, p, _ = server.aws("ssm", "get-parameter", "--name", "/smml/dev/subnet-cidrs")
    assert p["Parameter"]["Value"] == "10.0.0.0/20,10.0.16.0/20,10.0.32.0/20,10.0.48.0/20"
    _, out, _ = server.aws("cloudformation", "list-exports")
    assert {"Name": "smml-dev-data-bucket", "Value": bucket} == {k: v for k, v in out["Exports"][0].items() if k in ("Name", "Value")}
    _, res, _ = server.aws("cloudformation", "describe-stack-resources", "--stack-name", "ml-env")
    assert {r["LogicalResourceId"] for r in res["StackResources"]} == {"Child", "DataBucket", "ScientistRole", "Subnets"}
    # An export in use blocks deletion.
    importer = {"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Fn::ImportValue": "smml-dev-data-bucket"}}}}}
    server.aws("cloudformation", "create-stack", "--stack-name", "importer", "--template-body", json.dumps(importer))
    assert wait(server, "importer")["StackStatus"] == "CREATE_COMPLETE"
    server.aws("cloudformation", "delete-stack", "--stack-name", "ml-env")
    stack = wait(server, "ml-env")
    assert stack["StackStatus"] == "DELETE_FAILED" or "in use" in json.dumps(stack)
    server.aws("cloudformation", "delete-stack", "--stack-name", "importer")
    server.aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", "importer")


def test_failures_roll_back_and_report(server):
    bad = {"Resources": {
        "Ok": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/rollback/ok", "Type": "String", "Value": "v"}},
        "Bad": {"Type": "AWS::SSM::Parameter", "DependsOn": "Ok", "Properties": {"Name": "/aws/reserved", "Type": "String", "Value": "v"}}}}
    server.aws("cloudformation", "create-stack", "--stack-name", "rolls-back", "--template-body", json.dumps(bad))
    stack = wait(server, "rolls-back")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    rc, _, err = server.aws("ssm", "get-parameter", "--name", "/rollback/ok", check=False)
    assert rc != 0 and "ParameterNotFound" in err
    server.aws("cloudformation", "create-stack", "--stack-name", "stays-failed", "--template-body", json.dumps(bad), "--disable-rollback")
    stack = wait(server, "stays-failed")
    assert stack["StackStatus"] == "CREATE_FAILED"
    _, ev, _ = server.aws("cloudformation", "describe-stack-events", "--stack-name", "stays-failed")
    failed = [e for e in ev["StackEvents"] if e.get("ResourceStatus") == "CREATE_FAILED" and e["LogicalResourceId"] == "Bad"]
    assert failed and failed[0]["ResourceStatusReason"]
    # Unsupported types fail up front, naming them.
    unsupported = {"Resources": {"L": {"Type": "AWS::Logs::LogGroup"}, "X": {"Type": "AWS::Foo::Bar"}}}
    rc, _, err = server.aws("cloudformation", "create-stack", "--stack-name", "nope", "--template-body", json.dumps(unsupported), check=False)
    assert rc != 0 and "Unrecognized resource types" in err and "AWS::Foo::Bar" in err
    # A malformed template points at its line.
    rc, _, err = server.aws("cloudformation", "validate-template", "--template-body", "Resources:\n  A:\n    Type: AWS::SSM::Parameter\n  A:\n    Type: x\n", check=False)
    assert rc != 0 and "line 4" in err


def test_package_and_deploy(server, tmp_path):
    server.aws("s3", "mb", "s3://cfn-packages")
    child = tmp_path / "child.yaml"
    child.write_text(open(os.path.join(TEMPLATES, "child.yaml")).read())
    main = tmp_path / "main.yaml"
    main.write_text(
        "Parameters:\n  EnvName:\n    Type: String\nResources:\n  Keys:\n    Type: AWS::CloudFormation::Stack\n"
        "    Properties:\n      TemplateURL: ./child.yaml\n      Parameters:\n        EnvName: !Ref EnvName\n"
        "  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Sub \"${EnvName}-deployed\"\n"
        "      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: sagemaker.amazonaws.com}, Action: 'sts:AssumeRole'}]}\n"
        "Outputs:\n  KeyArn:\n    Value: !GetAtt Keys.Outputs.KeyArn\n"
    )
    packaged = tmp_path / "packaged.yaml"
    server.aws("cloudformation", "package", "--template-file", str(main), "--s3-bucket", "cfn-packages", "--s3-prefix", "pkg",
               "--output-template-file", str(packaged))
    assert "TemplateURL" in packaged.read_text()
    server.aws("cloudformation", "deploy", "--template-file", str(packaged), "--stack-name", "deployed",
               "--capabilities", "CAPABILITY_NAMED_IAM", "--parameter-overrides", "EnvName=dep", timeout=180)
    _, out, _ = server.aws("cloudformation", "describe-stacks", "--stack-name", "deployed")
    assert out["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    _, role, _ = server.aws("iam", "get-role", "--role-name", "dep-deployed")
    assert role["Role"]["RoleName"] == "dep-deployed"
    rc, out, err = server.aws("cloudformation", "deploy", "--template-file", str(packaged), "--stack-name", "deployed",
                              "--capabilities", "CAPABILITY_NAMED_IAM", "--parameter-overrides", "EnvName=dep", check=False, timeout=180)
    assert "No changes to deploy" in (out or "") + err
