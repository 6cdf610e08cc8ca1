"""Issue 4: SSE-KMS and SSE-S3 objects are really encrypted at rest, and the
bucket's key policy + IAM decide who can read them."""

import hashlib
import json
import os
import time

import botocore.exceptions
import pytest

from conftest import ACCOUNT
from test_foundation import make_user

MARKER = b"IRONSAGE-PLAINTEXT-MARKER-7f3a9c"


def files_containing(root, needle):
    hits = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            try:
                with open(p, "rb") as f:
                    prev = b""
                    for block in iter(lambda: f.read(1 << 20), b""):
                        if needle in prev[-len(needle):] + block:
                            hits.append(p)
                            break
                        prev = block
            except OSError:
                pass
    return hits


def test_no_plaintext_on_disk(server):
    s3 = server.client("s3")
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    s3.create_bucket(Bucket="sse-bucket")
    body = (MARKER + b" model weights ") * 10000
    r = s3.put_object(Bucket="sse-bucket", Key="kms.bin", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == key["Arn"]
    r = s3.put_object(Bucket="sse-bucket", Key="s3.bin", Body=body, ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="sse-bucket", Key="kms.bin")["Body"].read() == body
    head = s3.head_object(Bucket="sse-bucket", Key="kms.bin")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key["Arn"]
    assert files_containing(server.data_dir, MARKER) == []
    # With no encryption asked for, an object still gets SSE-S3 (every
    # bucket's base level, as on AWS since 2023): no plaintext either, and
    # the bucket reports that default.
    r = s3.put_object(Bucket="sse-bucket", Key="plain.bin", Body=body)
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket="sse-bucket", Key="plain.bin")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="sse-bucket", Key="plain.bin")["Body"].read() == body
    enc = s3.get_bucket_encryption(Bucket="sse-bucket")["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert files_containing(server.data_dir, MARKER) == []
    # Control: what S3 stores unencrypted (user metadata) is found by the
    # same scan.
    s3.put_object(Bucket="sse-bucket", Key="meta.bin", Body=b"x", Metadata={"note": MARKER.decode()})
    deadline = time.time() + 10
    while not files_containing(server.data_dir, MARKER) and time.time() < deadline:
        time.sleep(0.05)
    assert files_containing(server.data_dir, MARKER) != []


def test_kms_permission_needed_to_read(server):
    s3 = server.client("s3")
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    s3.create_bucket(Bucket="kms-guarded")
    s3.put_bucket_encryption(
        Bucket="kms-guarded",
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}, "BucketKeyEnabled": True}]},
    )
    s3.put_object(Bucket="kms-guarded", Key="secret", Body=b"classified")
    assert s3.head_object(Bucket="kms-guarded", Key="secret")["SSEKMSKeyId"] == key["Arn"]
    _, k = make_user(server, "no-kms", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    user = server.client("s3", ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    # HEAD reads metadata only: s3:GetObject suffices, as AWS documents.
    assert user.head_object(Bucket="kms-guarded", Key="secret")["SSEKMSKeyId"] == key["Arn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.get_object(Bucket="kms-guarded", Key="secret")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "kms:Decrypt" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.put_object(Bucket="kms-guarded", Key="new", Body=b"x")
    assert "kms:GenerateDataKey" in e.value.response["Error"]["Message"]
    # Granting KMS use through IAM (the default key policy delegates to the account) opens it.
    server.aws("iam", "put-user-policy", "--user-name", "no-kms", "--policy-name", "kms", "--policy-document", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key["Arn"]}]}))
    assert user.get_object(Bucket="kms-guarded", Key="secret")["Body"].read() == b"classified"


def test_one_gib_sse_kms_multipart_round_trip(server, tmp_path):
    kms = server.client("kms")
    key = kms.create_key()["KeyMetadata"]
    server.aws("kms", "create-alias", "--alias-name", "alias/big", "--target-key-id", key["KeyId"])
    server.aws("s3", "mb", "s3://big-sse")
    src = tmp_path / "one-gib.bin"
    h = hashlib.sha256()
    with open(src, "wb") as f:
        for _ in range(1024):
            block = os.urandom(1 << 20)
            h.update(block)
            f.write(block)
    server.aws("s3", "cp", str(src), "s3://big-sse/one-gib.bin", "--sse", "aws:kms", "--sse-kms-key-id", "alias/big", "--no-progress", timeout=900)
    _, head, _ = server.aws("s3api", "head-object", "--bucket", "big-sse", "--key", "one-gib.bin")
    assert head["ContentLength"] == 1 << 30 and head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key['KeyId']}"
    src.unlink()
    back = tmp_path / "back.bin"
    server.aws("s3", "cp", "s3://big-sse/one-gib.bin", str(back), "--no-progress", timeout=900)
    h2 = hashlib.sha256()
    with open(back, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h2.update(block)
    assert back.stat().st_size == 1 << 30
    assert h2.hexdigest() == h.hexdigest()
