"""Issue 2: the foundation, driven by the real aws CLI and boto3."""

import json
import os
import random
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import botocore.exceptions
import pytest

import boto3

from conftest import ACCOUNT, REGION, ROOT_AK, ROOT_SK, binary

TRUST_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}],
    }
)
TRUST_SERVICE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def raw(server, method, path="/", body=b"", headers=None):
    req = urllib.request.Request(server.url + path, data=body if method != "GET" else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_health(server):
    h = server.health()
    assert h["status"] == "ok"
    assert "iam" in h["services"] and "sts" in h["services"]


def test_env_prints_working_exports(server):
    out = subprocess.run([binary(), "env", "--data-dir", server.data_dir], capture_output=True, text=True, check=True).stdout
    keys = [l.split("=")[0].replace("export ", "") for l in out.splitlines() if l.startswith("export ")]
    for k in ["AWS_ENDPOINT_URL", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_PROFILE", "AWS_DEFAULT_REGION"]:
        assert k in keys
    creds = os.path.join(server.data_dir, "credentials")
    assert oct(os.stat(creds).st_mode & 0o777) == "0o600"
    assert ROOT_AK in open(creds).read()


def test_get_caller_identity_is_root(server):
    _, out, _ = server.aws("sts", "get-caller-identity")
    assert out == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}


def test_wrong_secret_is_refused_and_changes_nothing(server):
    env = server.env(AWS_ACCESS_KEY_ID=ROOT_AK, AWS_SECRET_ACCESS_KEY="x" * 40)
    env.pop("AWS_PROFILE", None)
    rc, _, err = server.aws("iam", "create-role", "--role-name", "wrong-secret-role", "--assume-role-policy-document", TRUST_ACCOUNT, env=env, check=False)
    assert rc != 0
    assert "SignatureDoesNotMatch" in err
    iam = server.client("iam", sk="y" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_role(RoleName="wrong-secret-role")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    rc, _, err = server.aws("iam", "get-role", "--role-name", "wrong-secret-role", check=False)
    assert rc != 0 and "NoSuchEntity" in err


def test_unknown_access_key(server):
    sts = server.client("sts", ak="AKIANOTAREALKEY00000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_unsigned_request_is_refused(server):
    status, body = raw(server, "POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15", {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    assert b"MissingAuthenticationToken" in body
    status, body = raw(server, "POST", "/", b"{}", {"X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1"})
    assert status in (400, 403)
    assert b"MissingAuthenticationToken" in body


def test_presigned_url_and_tampering(server):
    sts = server.client("sts")
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=300, HttpMethod="GET")
    status, body = raw(server, "GET", url[len(server.url):])
    assert status == 200, body
    assert f"arn:aws:iam::{ACCOUNT}:root".encode() in body
    tampered = url.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
    status, body = raw(server, "GET", tampered[len(server.url):])
    assert status == 403
    assert b"SignatureDoesNotMatch" in body
    # S3-style presigned URL: a valid one reaches routing, a tampered one is refused.
    import botocore.config

    s3 = boto3.client(
        "s3", endpoint_url=server.url, aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK,
        region_name=REGION, config=botocore.config.Config(signature_version="s3v4"),
    )
    good = s3.generate_presigned_url("get_object", Params={"Bucket": "b1", "Key": "k.txt"}, ExpiresIn=300)
    status, body = raw(server, "GET", good[len(server.url):])
    assert status != 403, body
    bad = good.replace("k.txt", "other.txt")
    status, body = raw(server, "GET", bad[len(server.url):])
    assert status == 403
    assert b"SignatureDoesNotMatch" in body


def test_roles_crud_and_pagination(server):
    iam = server.client("iam")
    ids = {}
    for i in range(150):
        r = iam.create_role(RoleName=f"page-role-{i:03d}", AssumeRolePolicyDocument=TRUST_SERVICE, Path="/ml/")
        ids[r["Role"]["RoleName"]] = r["Role"]["RoleId"]
        assert r["Role"]["RoleId"].startswith("AROA")
    names = []
    marker = None
    pages = 0
    while True:
        kw = {"PathPrefix": "/ml/", "MaxItems": 40}
        if marker:
            kw["Marker"] = marker
        page = iam.list_roles(**kw)
        pages += 1
        names += [r["RoleName"] for r in page["Roles"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert pages == 4
    assert names == sorted(ids)
    # The CLI's own paginator walks every page.
    _, out, _ = server.aws("iam", "list-roles", "--path-prefix", "/ml/", "--page-size", "25")
    assert len(out["Roles"]) == 150
    _, out, _ = server.aws("iam", "get-role", "--role-name", "page-role-007")
    assert out["Role"]["RoleId"] == ids["page-role-007"]
    assert out["Role"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/ml/page-role-007"
    rc, _, err = server.aws("iam", "create-role", "--role-name", "page-role-007", "--assume-role-policy-document", TRUST_SERVICE, check=False)
    assert rc != 0 and "EntityAlreadyExists" in err


def test_policies_on_roles(server):
    server.aws("iam", "create-role", "--role-name", "pol-role", "--assume-role-policy-document", TRUST_SERVICE)
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    server.aws("iam", "put-role-policy", "--role-name", "pol-role", "--policy-name", "inline1", "--policy-document", doc)
    _, out, _ = server.aws("iam", "get-role-policy", "--role-name", "pol-role", "--policy-name", "inline1")
    assert out["PolicyDocument"]["Statement"][0]["Action"] == "s3:GetObject"
    server.aws("iam", "attach-role-policy", "--role-name", "pol-role", "--policy-arn", "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    _, out, _ = server.aws("iam", "list-attached-role-policies", "--role-name", "pol-role")
    assert out["AttachedPolicies"] == [{"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"}]
    rc, _, err = server.aws("iam", "delete-role", "--role-name", "pol-role", check=False)
    assert rc != 0 and "DeleteConflict" in err
    _, out, _ = server.aws("iam", "get-role", "--role-name", "pol-role")
    assert out["Role"]["RoleName"] == "pol-role"
    bad = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}'
    rc, _, err = server.aws("iam", "put-role-policy", "--role-name", "pol-role", "--policy-name", "bad", "--policy-document", bad, check=False)
    assert rc != 0 and "MalformedPolicyDocument" in err


def test_policy_versions_limit(server):
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]})
    _, out, _ = server.aws("iam", "create-policy", "--policy-name", "versioned", "--policy-document", doc)
    arn = out["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/versioned"
    for _ in range(4):
        server.aws("iam", "create-policy-version", "--policy-arn", arn, "--policy-document", doc, "--set-as-default")
    rc, _, err = server.aws("iam", "create-policy-version", "--policy-arn", arn, "--policy-document", doc, check=False)
    assert rc != 0
    assert "LimitExceeded" in err
    _, out, _ = server.aws("iam", "list-policy-versions", "--policy-arn", arn)
    assert len(out["Versions"]) == 5


def make_user(server, name, policy):
    """An IAM user with one inline policy and an access key; returns its CLI env."""
    server.aws("iam", "create-user", "--user-name", name)
    server.aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "p", "--policy-document", json.dumps(policy))
    _, out, _ = server.aws("iam", "create-access-key", "--user-name", name)
    k = out["AccessKey"]
    assert k["AccessKeyId"].startswith("AKIA") and k["Status"] == "Active"
    env = server.env(AWS_ACCESS_KEY_ID=k["AccessKeyId"], AWS_SECRET_ACCESS_KEY=k["SecretAccessKey"])
    env.pop("AWS_PROFILE")
    return env, k


ALLOW_ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


def test_root_cannot_assume_roles(server):
    server.aws("iam", "create-role", "--role-name", "rootless", "--assume-role-policy-document", TRUST_ACCOUNT)
    rc, _, err = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/rootless", "--role-session-name", "root", check=False)
    assert rc != 0 and "Roles may not be assumed by root accounts." in err


def test_assume_role_and_trust(server):
    alice, _ = make_user(server, "alice", ALLOW_ASSUME)
    _, me, _ = server.aws("sts", "get-caller-identity", env=alice)
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert me["UserId"].startswith("AIDA")
    _, out, _ = server.aws("iam", "create-role", "--role-name", "assumable", "--assume-role-policy-document", TRUST_ACCOUNT)
    role_id = out["Role"]["RoleId"]
    _, out, _ = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/assumable", "--role-session-name", "alice", env=alice)
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/assumable/alice"
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:alice"
    env = server.env(AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"], AWS_SESSION_TOKEN=c["SessionToken"])
    env.pop("AWS_PROFILE")
    _, me, _ = server.aws("sts", "get-caller-identity", env=env)
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/assumable/alice"
    assert me["UserId"] == f"{role_id}:alice"
    # A session key without its token is refused.
    sts = server.client("sts", ak=c["AccessKeyId"], sk=c["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    # The role has no permissions: IAM calls are denied with AWS's wording.
    rc, _, err = server.aws("iam", "list-roles", env=env, check=False)
    assert rc != 0
    assert f"User: arn:aws:sts::{ACCOUNT}:assumed-role/assumable/alice is not authorized to perform: iam:ListRoles" in err
    assert "because no identity-based policy allows the iam:ListRoles action" in err
    # DurationSeconds above MaxSessionDuration fails.
    rc, _, err = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/assumable", "--role-session-name", "xx", "--duration-seconds", "7200", env=alice, check=False)
    assert rc != 0 and "MaxSessionDuration" in err


def test_trust_policy_not_naming_caller_denies(server):
    bob, _ = make_user(server, "bob", ALLOW_ASSUME)
    server.aws("iam", "create-role", "--role-name", "svc-only", "--assume-role-policy-document", TRUST_SERVICE)
    rc, _, err = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/svc-only", "--role-session-name", "ss", env=bob, check=False)
    assert rc != 0
    assert "AccessDenied" in err
    assert f"User: arn:aws:iam::{ACCOUNT}:user/bob is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/svc-only" in err
    # A user without sts:AssumeRole cannot assume a role that trusts only the account.
    carol, _ = make_user(server, "carol", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    rc, _, err = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/assumable", "--role-session-name", "cc", env=carol, check=False)
    assert rc != 0 and "because no identity-based policy allows the sts:AssumeRole action" in err
    # A trust policy naming the user directly is enough on its own (same account).
    direct = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/carol"}, "Action": "sts:AssumeRole"}]}
    server.aws("iam", "create-role", "--role-name", "for-carol", "--assume-role-policy-document", json.dumps(direct))
    _, out, _ = server.aws("sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/for-carol", "--role-session-name", "cc", env=carol)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/for-carol/cc"


def test_unimplemented_operation_answers_501_and_server_keeps_serving(server):
    iam = server.client("iam")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_saml_provider(SAMLMetadataDocument="x" * 1000, Name="idp")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "CreateSAMLProvider" in e.value.response["Error"]["Message"]
    rc, _, err = server.aws("iam", "create-saml-provider", "--saml-metadata-document", "x" * 1000, "--name", "idp", check=False)
    assert rc != 0 and "CreateSAMLProvider" in err
    assert server.client("sts").get_caller_identity()["Account"] == ACCOUNT


def test_unknown_service_is_a_clear_error(server):
    c = server.client("route53")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.list_hosted_zones()
    assert "route53" in e.value.response["Error"]["Message"]


def test_garbage_bodies_get_4xx_and_no_panic(server):
    rnd = random.Random(7)
    sts = server.client("sts")
    for body in [bytes(rnd.getrandbits(8) for _ in range(4096)), b"Action=" + b"A" * (10 * 1024 * 1024), b"[" * 100000, b"<a>" * 50000]:
        for headers in [{"Content-Type": "application/x-www-form-urlencoded"}, {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"}]:
            status, _ = raw(server, "POST", "/", body, headers)
            assert 400 <= status < 500, status
    # Signed garbage reaches the protocol parsers.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = Credentials(ROOT_AK, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    for svc, headers, body in [
        ("iam", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=CreateRole&RoleName=%ZZ&&&=" + bytes(range(256))),
        ("kms", {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"}, b'{"KeyId": ' * 5000),
        ("iam", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=CreateRole&Version=2010-05-08&" + b"&".join(b"RoleName.member.%d=x" % i for i in range(20000))),
    ]:
        req = AWSRequest(method="POST", url=server.url + "/", data=body, headers=headers)
        SigV4Auth(creds, svc, REGION).add_auth(req)
        status, _ = raw(server, "POST", "/", body, dict(req.headers.items()))
        assert 400 <= status < 600 and status != 500, status
    assert sts.get_caller_identity()["Account"] == ACCOUNT


@pytest.mark.parametrize("how", ["restart", "kill9"])
def test_state_survives_restart(server_factory, how):
    s = server_factory()
    iam = s.client("iam")
    ids = {}
    for i in range(20):
        ids[f"durable-{i}"] = iam.create_role(RoleName=f"durable-{i}", AssumeRolePolicyDocument=TRUST_SERVICE)["Role"]["RoleId"]
    if how == "restart":
        s.stop()
    else:
        s.kill9()
    s2 = server_factory(data_dir=s.data_dir)
    iam2 = s2.client("iam")
    for name, rid in ids.items():
        assert iam2.get_role(RoleName=name)["Role"]["RoleId"] == rid
    # The management account and its keys are stable too.
    assert s2.client("sts").get_caller_identity()["Account"] == ACCOUNT
