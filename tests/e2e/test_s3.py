"""Issue 4 (S3 part): the stock aws CLI's s3 commands and boto3's own transfer
behaviours against real bytes on disk."""

import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import zlib

import boto3
import botocore.config
import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig

from conftest import ACCOUNT, ROOT_AK, ROOT_SK
from test_foundation import make_user


def write(path, size, seed=1):
    import random

    r = random.Random(seed)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(r.randbytes(n))
            left -= n
    return path


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def test_cli_s3_commands(server, tmp_path):
    server.aws("s3", "mb", "s3://cli-bucket")
    src = tmp_path / "src"
    (src / "x" / "y").mkdir(parents=True)
    write(src / "small.bin", 1000)
    write(src / "x" / "mid.bin", 3_000_000, 2)
    write(src / "x" / "y" / "multi.bin", 20_000_000, 3)  # above the CLI's 8 MiB multipart threshold
    # sync compares sizes and whole-second times (as S3 records them): files
    # written in the same second as their upload would look newer.
    past = time.time() - 3600
    for p in src.rglob("*.bin"):
        os.utime(p, (past, past))
    server.aws("s3", "cp", str(src), "s3://cli-bucket/up/", "--recursive", "--no-progress")
    _, out, _ = server.aws("s3", "ls", "s3://cli-bucket/up/", "--recursive")
    listed = sorted(line.split()[-1] for line in out.splitlines())
    assert listed == ["up/small.bin", "up/x/mid.bin", "up/x/y/multi.bin"]
    down = tmp_path / "down"
    server.aws("s3", "cp", "s3://cli-bucket/up/", str(down), "--recursive", "--no-progress")
    for rel in ["small.bin", "x/mid.bin", "x/y/multi.bin"]:
        assert sha(down / rel) == sha(src / rel)
    # Multipart ETag as AWS computes it.
    _, head, _ = server.aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "up/x/y/multi.bin")
    assert head["ETag"].strip('"').endswith("-3") and head["ContentLength"] == 20_000_000
    # sync uploads only what changed.
    _, out, _ = server.aws("s3", "sync", str(src), "s3://cli-bucket/up/", "--no-progress")
    assert not (out or "").strip()
    write(src / "small.bin", 1001, 9)
    _, out, _ = server.aws("s3", "sync", str(src), "s3://cli-bucket/up/", "--no-progress")
    assert "small.bin" in out and "mid.bin" not in out
    # presign: a plain HTTP GET returns the bytes.
    _, url, _ = server.aws("s3", "presign", "s3://cli-bucket/up/x/mid.bin", "--expires-in", "60")
    with urllib.request.urlopen(url.strip(), timeout=30) as r:
        assert hashlib.sha256(r.read()).hexdigest() == sha(src / "x" / "mid.bin")
    rc, _, err = server.aws("s3", "rb", "s3://cli-bucket", check=False)
    assert rc != 0 and "BucketNotEmpty" in err
    server.aws("s3", "rm", "s3://cli-bucket/up/x", "--recursive")
    _, out, _ = server.aws("s3", "ls", "s3://cli-bucket/up/", "--recursive")
    assert [line.split()[-1] for line in out.splitlines()] == ["up/small.bin"]
    server.aws("s3", "rb", "s3://cli-bucket", "--force")
    rc, _, err = server.aws("s3api", "head-bucket", "--bucket", "cli-bucket", check=False)
    assert rc != 0 and "404" in err


def test_boto3_transfers_and_paginator(server, tmp_path):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="boto-bucket")
    big = write(tmp_path / "big.bin", 40_000_000, 4)
    cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, max_concurrency=4)
    s3.upload_file(str(big), "boto-bucket", "model/big.bin", Config=cfg)
    s3.download_file("boto-bucket", "model/big.bin", str(tmp_path / "back.bin"), Config=cfg)
    assert sha(tmp_path / "back.bin") == sha(big)
    # boto3's multipart upload sends CRC32 part checksums (the default since
    # botocore 1.36): the object carries S3's composite checksum of them, and
    # a full GET with checksum mode reads back whole (boto3 leaves `-N`
    # composites unvalidated, as on AWS).
    parts = [big.read_bytes()[i:i + cfg.multipart_chunksize] for i in range(0, 40_000_000, cfg.multipart_chunksize)]
    crcs = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    composite = base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode() + f"-{len(parts)}"
    head = s3.head_object(Bucket="boto-bucket", Key="model/big.bin", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (composite, "COMPOSITE")
    attrs = s3.get_object_attributes(Bucket="boto-bucket", Key="model/big.bin", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"] == {"ChecksumCRC32": composite, "ChecksumType": "COMPOSITE"}
    full = s3.get_object(Bucket="boto-bucket", Key="model/big.bin", ChecksumMode="ENABLED")
    assert hashlib.sha256(full["Body"].read()).hexdigest() == sha(big)
    # A full-object CRC32 the client computed itself (FULL_OBJECT type).
    whole = base64.b64encode(zlib.crc32(big.read_bytes()).to_bytes(4, "big")).decode()
    s3.upload_file(str(big), "boto-bucket", "model/full.bin", Config=cfg, ExtraArgs={"ChecksumCRC32": whole})
    head = s3.head_object(Bucket="boto-bucket", Key="model/full.bin", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (whole, "FULL_OBJECT")
    got = s3.get_object(Bucket="boto-bucket", Key="model/big.bin", Range="bytes=10-19")
    with open(big, "rb") as f:
        f.seek(10)
        assert got["Body"].read() == f.read(10)
    assert got["ContentRange"] == "bytes 10-19/40000000"
    # A part by its number (what multipart downloaders such as the CRT's ask for).
    second = s3.get_object(Bucket="boto-bucket", Key="model/big.bin", PartNumber=2, ChecksumMode="ENABLED")
    assert second["PartsCount"] == len(parts) and second["Body"].read() == parts[1]
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 206
    # A single-part object carries its full CRC32 (botocore sends one by default);
    # ranged reads of it — download_file's parts, a Range GET — must not carry it,
    # or boto3's response validation rejects them.
    single = write(tmp_path / "single.bin", 20_000_000, 5)
    with open(single, "rb") as f:
        s3.put_object(Bucket="boto-bucket", Key="single.bin", Body=f)
    assert s3.head_object(Bucket="boto-bucket", Key="single.bin", ChecksumMode="ENABLED").get("ChecksumCRC32")
    s3.download_file("boto-bucket", "single.bin", str(tmp_path / "single.back"), Config=cfg)
    assert sha(tmp_path / "single.back") == sha(single)
    part = s3.get_object(Bucket="boto-bucket", Key="single.bin", Range="bytes=-16")
    assert "ChecksumCRC32" not in part and len(part["Body"].read()) == 16
    # Large spans are read from disk with direct I/O and read-ahead: a long
    # range from an unaligned offset, of a single-part and of a multipart
    # object, comes back byte-exact.
    for key, src in (("single.bin", single), ("model/big.bin", big)):
        got = s3.get_object(Bucket="boto-bucket", Key=key, Range="bytes=5000001-14000000")
        with open(src, "rb") as f:
            f.seek(5_000_001)
            assert got["Body"].read() == f.read(9_000_000), key
    for i in range(5000):
        s3.put_object(Bucket="boto-bucket", Key=f"many/{i:05d}", Body=b"x")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="boto-bucket", Prefix="many/", PaginationConfig={"PageSize": 1000}):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == [f"many/{i:05d}" for i in range(5000)]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="boto-bucket", Key="nope")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_s3_permissions_enforced(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="guarded-bucket")
    s3.put_object(Bucket="guarded-bucket", Key="k", Body=b"data")
    _, k = make_user(server, "s3reader", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    user = server.client("s3", ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    assert user.get_object(Bucket="guarded-bucket", Key="k")["Body"].read() == b"data"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user.put_object(Bucket="guarded-bucket", Key="k2", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert (
        f'User: arn:aws:iam::{ACCOUNT}:user/s3reader is not authorized to perform: s3:PutObject on resource: '
        f'"arn:aws:s3:::guarded-bucket/k2" because no identity-based policy allows the s3:PutObject action'
    ) in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="guarded-bucket", Key="k2")
    # A configuration body is checked against its declared Content-MD5 (and x-amz-checksum-*).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_tagging(Bucket="guarded-bucket", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]},
                              ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert e.value.response["Error"]["Code"] == "BadDigest"
    s3.put_bucket_tagging(Bucket="guarded-bucket", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert s3.get_bucket_tagging(Bucket="guarded-bucket")["TagSet"] == [{"Key": "a", "Value": "b"}]
    # x-amz-expected-bucket-owner guards against writing to or reading from another account's bucket.
    assert s3.get_object(Bucket="guarded-bucket", Key="k", ExpectedBucketOwner=ACCOUNT)["Body"].read() == b"data"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="guarded-bucket", Key="k", ExpectedBucketOwner="999988887777")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_aws_chunked_unsigned_trailer_upload(server):
    """The framing botocore uses over https: aws-chunked with a CRC32 trailer."""
    import base64
    import zlib

    from botocore.auth import SigV4Auth as S3SigV4Auth  # keeps the declared x-amz-content-sha256
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from conftest import REGION, ROOT_AK, ROOT_SK

    server.client("s3").create_bucket(Bucket="chunked-bucket")
    data = bytes(range(256)) * 1000  # 256,000 bytes
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = b"".join(b"%x\r\n" % len(c) + c + b"\r\n" for c in chunks) + b"0\r\nx-amz-checksum-crc32:" + crc.encode() + b"\r\n\r\n"
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "Content-Length": str(len(body)),
    }
    url = f"{server.url}/chunked-bucket/obj"
    req = AWSRequest(method="PUT", url=url, data=body, headers=headers)
    S3SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", REGION).add_auth(req)
    r = urllib.request.Request(url, data=body, method="PUT", headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            assert resp.status == 200
    except urllib.error.HTTPError as e:
        raise AssertionError(e.read()) from e
    got = server.client("s3").get_object(Bucket="chunked-bucket", Key="obj")
    assert got["ContentLength"] == len(data)
    assert got["Body"].read() == data
    # A tampered frame (declared length longer than the data) is refused and stores nothing.
    bad = body.replace(b"10000\r\n", b"10001\r\n", 1)
    req = AWSRequest(method="PUT", url=f"{server.url}/chunked-bucket/bad", data=bad, headers={**headers, "Content-Length": str(len(bad))})
    S3SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", REGION).add_auth(req)
    r = urllib.request.Request(f"{server.url}/chunked-bucket/bad", data=bad, method="PUT", headers=dict(req.headers.items()))
    try:
        urllib.request.urlopen(r, timeout=30)
        raise AssertionError("tampered chunked body accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("s3").head_object(Bucket="chunked-bucket", Key="bad")
    # A trailing CRC32 that does not match the data: BadDigest, nothing stored.
    wrong = base64.b64encode((zlib.crc32(data) ^ 1).to_bytes(4, "big")).decode()
    bad = body.replace(crc.encode(), wrong.encode())
    req = AWSRequest(method="PUT", url=f"{server.url}/chunked-bucket/badsum", data=bad, headers=headers)
    S3SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", REGION).add_auth(req)
    r = urllib.request.Request(f"{server.url}/chunked-bucket/badsum", data=bad, method="PUT", headers=dict(req.headers.items()))
    try:
        urllib.request.urlopen(r, timeout=30)
        raise AssertionError("bad trailing checksum accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400 and b"BadDigest" in e.read()
    with pytest.raises(botocore.exceptions.ClientError):
        server.client("s3").head_object(Bucket="chunked-bucket", Key="badsum")


def test_declared_payload_hash_is_checked(server):
    """A body whose SHA-256 is not the signed x-amz-content-sha256 is refused
    (small bodies read whole, large ones streamed) and nothing is stored;
    UNSIGNED-PAYLOAD and a matching hash are accepted, byte-exact."""
    from botocore.auth import SigV4Auth as S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from conftest import REGION, ROOT_AK, ROOT_SK

    s3 = server.client("s3")
    s3.create_bucket(Bucket="hash-bucket")

    def put(key, data, declared):
        url = f"{server.url}/hash-bucket/{key}"
        headers = {"X-Amz-Content-SHA256": declared, "Content-Length": str(len(data))}
        req = AWSRequest(method="PUT", url=url, data=data, headers=headers)
        S3SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", REGION).add_auth(req)
        r = urllib.request.Request(url, data=data, method="PUT", headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return resp.status, b""
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    for size in (1000, 300_000):
        data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        other = hashlib.sha256(data + b"!").hexdigest()
        status, body = put(f"bad-{size}", data, other)
        assert status == 400 and b"XAmzContentSHA256Mismatch" in body, (size, body)
        with pytest.raises(botocore.exceptions.ClientError):
            s3.head_object(Bucket="hash-bucket", Key=f"bad-{size}")
        assert put(f"good-{size}", data, hashlib.sha256(data).hexdigest())[0] == 200
        assert put(f"unsigned-{size}", data, "UNSIGNED-PAYLOAD")[0] == 200
        for key in (f"good-{size}", f"unsigned-{size}"):
            assert s3.get_object(Bucket="hash-bucket", Key=key)["Body"].read() == data


def test_block_public_access_defaults_and_public_policies(server):
    """New buckets block public access and disable ACLs (S3 since April 2023): a public
    bucket policy is refused with S3's message until the bucket's block is lifted."""
    server.aws("s3api", "create-bucket", "--bucket", "site-bucket")
    _, pab, _ = server.aws("s3api", "get-public-access-block", "--bucket", "site-bucket")
    assert pab["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    _, own, _ = server.aws("s3api", "get-bucket-ownership-controls", "--bucket", "site-bucket")
    assert own["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    public = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site-bucket/*"}]})
    rc, _, err = server.aws("s3api", "put-bucket-policy", "--bucket", "site-bucket", "--policy", public, check=False)
    assert rc != 0
    assert (f'An error occurred (AccessDenied) when calling the PutBucketPolicy operation: User: arn:aws:iam::{ACCOUNT}:root '
            'is not authorized to perform: s3:PutBucketPolicy on resource: "arn:aws:s3:::site-bucket" because public '
            'policies are blocked by the BlockPublicPolicy block public access setting.') in err
    rc, _, err = server.aws("s3api", "get-bucket-policy", "--bucket", "site-bucket", check=False)
    assert rc != 0 and "NoSuchBucketPolicy" in err
    # Pinned to a VPC endpoint, the same grant is not public and is accepted.
    pinned = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site-bucket/*",
         "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}}]})
    server.aws("s3api", "put-bucket-policy", "--bucket", "site-bucket", "--policy", pinned)
    _, st, _ = server.aws("s3api", "get-bucket-policy-status", "--bucket", "site-bucket")
    assert st == {"PolicyStatus": {"IsPublic": False}}
    # Lifting the block lets the public policy in, and it grants: a user with no
    # identity policy of its own reads through it.
    server.aws("s3api", "delete-public-access-block", "--bucket", "site-bucket")
    server.aws("s3api", "put-bucket-policy", "--bucket", "site-bucket", "--policy", public)
    _, st, _ = server.aws("s3api", "get-bucket-policy-status", "--bucket", "site-bucket")
    assert st == {"PolicyStatus": {"IsPublic": True}}
    s3 = server.client("s3")
    s3.put_object(Bucket="site-bucket", Key="index.html", Body=b"<h1>hi</h1>")
    _, k = make_user(server, "visitor", {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]})
    visitor = server.client("s3", ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    assert visitor.get_object(Bucket="site-bucket", Key="index.html")["Body"].read() == b"<h1>hi</h1>"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        visitor.put_object(Bucket="site-bucket", Key="x", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_acls_disabled_by_default(server, tmp_path):
    """Reading an ACL answers the owner's full control (botocore parses the xsi:type
    grantee); setting any other ACL fails with S3's error, and nothing is written."""
    server.aws("s3api", "create-bucket", "--bucket", "acl-bucket")
    _, acl, _ = server.aws("s3api", "get-bucket-acl", "--bucket", "acl-bucket")
    owner = acl["Owner"]["ID"]
    assert len(owner) == 64
    assert acl["Grants"] == [{"Grantee": {"ID": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]
    f = tmp_path / "page.html"
    f.write_bytes(b"<p>hello</p>")
    rc, _, err = server.aws("s3api", "put-object", "--bucket", "acl-bucket", "--key", "page.html",
                            "--body", str(f), "--acl", "public-read", check=False)
    assert rc != 0
    assert "An error occurred (AccessControlListNotSupported) when calling the PutObject operation: The bucket does not allow ACLs" in err
    rc, _, _ = server.aws("s3api", "head-object", "--bucket", "acl-bucket", "--key", "page.html", check=False)
    assert rc != 0
    server.aws("s3", "cp", str(f), "s3://acl-bucket/page.html", "--acl", "bucket-owner-full-control")
    _, oacl, _ = server.aws("s3api", "get-object-acl", "--bucket", "acl-bucket", "--key", "page.html")
    assert oacl["Grants"] == acl["Grants"]
    rc, _, err = server.aws("s3api", "create-bucket", "--bucket", "acl-bucket-2", "--acl", "public-read", check=False)
    assert rc != 0 and "InvalidBucketAclWithObjectOwnership" in err


def test_keys_with_special_characters_round_trip_through_every_listing(server):
    """botocore asks ListObjects(V2)/ListObjectVersions for url-encoded keys and decodes
    them (with unquote_plus) only when the answer says EncodingType=url."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="odd-keys")
    keys = ["a b+c/ü.txt", "plus+sign", "pct%41", "tab\there", "amp&lt", "q?x=1"]
    for k in keys:
        s3.put_object(Bucket="odd-keys", Key=k, Body=b"x")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="odd-keys")["Contents"]) == sorted(keys)
    assert sorted(o["Key"] for o in s3.list_objects(Bucket="odd-keys")["Contents"]) == sorted(keys)
    assert sorted(v["Key"] for v in s3.list_object_versions(Bucket="odd-keys")["Versions"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket="odd-keys", Delimiter="/")["CommonPrefixes"] == [{"Prefix": "a b+c/"}]
    for k in ["up load/1", "up+load"]:
        s3.create_multipart_upload(Bucket="odd-keys", Key=k)
    r = s3.list_multipart_uploads(Bucket="odd-keys", Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["up+load"]
    assert r["CommonPrefixes"] == [{"Prefix": "up load/"}]
    # Asked explicitly, the encoding is the caller's to undo (botocore has no decoder here).
    r = s3.list_multipart_uploads(Bucket="odd-keys", Delimiter="/", EncodingType="url")
    assert r["EncodingType"] == "url"
    assert [u["Key"] for u in r["Uploads"]] == ["up%2Bload"]
    assert r["CommonPrefixes"] == [{"Prefix": "up%20load/"}]


def _raw(method, url, body=None, headers=None):
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, u.path + ("?" + u.query if u.query else ""), body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read()


def test_sigv2_presigned_urls_and_header_signing(server):
    """boto3's default presigned URLs for S3 in us-east-1 are SigV2
    (AWSAccessKeyId/Signature/Expires); they work, expire, and authorize as their signer."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="v2-bucket")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "v2-bucket", "Key": "up load.txt"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in put_url and "Signature=" in put_url
    assert _raw("PUT", put_url, b"via a presigned PUT")[0] == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "v2-bucket", "Key": "up load.txt"}, ExpiresIn=300)
    assert _raw("GET", get_url) == (200, b"via a presigned PUT")
    # Tampered, expired: refused with S3's errors.
    status, body = _raw("GET", get_url.replace("up%20load", "other"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    old = s3.generate_presigned_url("get_object", Params={"Bucket": "v2-bucket", "Key": "up load.txt"}, ExpiresIn=-5)
    status, body = _raw("GET", old)
    assert status == 403 and b"<Message>Request has expired</Message>" in body
    # Header-signed SigV2 (signature_version="s3"): objects, listings, sub-resources.
    v2 = boto3.client("s3", endpoint_url=server.url, aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK,
                      region_name="us-east-1", config=botocore.config.Config(signature_version="s3"))
    v2.put_object(Bucket="v2-bucket", Key="a+b c.txt", Body=b"v2 header", Metadata={"note": "x"})
    assert v2.get_object(Bucket="v2-bucket", Key="a+b c.txt")["Body"].read() == b"v2 header"
    assert sorted(o["Key"] for o in v2.list_objects(Bucket="v2-bucket")["Contents"]) == ["a+b c.txt", "up load.txt"]
    assert v2.get_bucket_acl(Bucket="v2-bucket")["Grants"][0]["Permission"] == "FULL_CONTROL"
    wrong = boto3.client("s3", endpoint_url=server.url, aws_access_key_id=ROOT_AK, aws_secret_access_key="wrong",
                         region_name="us-east-1", config=botocore.config.Config(signature_version="s3"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        wrong.list_objects(Bucket="v2-bucket")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    # A SigV2 signer is authorized like any other: a read-only user cannot write.
    _, k = make_user(server, "v2reader", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    reader = server.client("s3", ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    url = reader.generate_presigned_url("get_object", Params={"Bucket": "v2-bucket", "Key": "a+b c.txt"}, ExpiresIn=300)
    assert _raw("GET", url) == (200, b"v2 header")
    url = reader.generate_presigned_url("put_object", Params={"Bucket": "v2-bucket", "Key": "nope"}, ExpiresIn=300)
    status, body = _raw("PUT", url, b"x")
    assert status == 403 and b"is not authorized to perform: s3:PutObject" in body


def test_every_sdk_checksum_algorithm(server):
    """Every checksum the pinned boto3 computes without the CRT (CRC32, SHA1,
    SHA256, SHA512) is verified, stored, and returned with ChecksumMode=ENABLED."""
    import base64
    import zlib
    s3 = server.client("s3")
    s3.create_bucket(Bucket="sums-bucket")
    body = b"checksummed " * 1000
    digests = {
        "SHA256": hashlib.sha256(body).digest(),
        "SHA1": hashlib.sha1(body).digest(),
        "SHA512": hashlib.sha512(body).digest(),
        "CRC32": zlib.crc32(body).to_bytes(4, "big"),
    }
    for algo, digest in digests.items():
        s3.put_object(Bucket="sums-bucket", Key=algo, Body=body, ChecksumAlgorithm=algo)
        got = s3.head_object(Bucket="sums-bucket", Key=algo, ChecksumMode="ENABLED")
        assert f"Checksum{algo}" in got, got
        assert got[f"Checksum{algo}"] == base64.b64encode(digest).decode()
        assert s3.get_object(Bucket="sums-bucket", Key=algo, ChecksumMode="ENABLED")["Body"].read() == body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="sums-bucket", Key="bad", Body=body,
                      ChecksumSHA256=base64.b64encode(hashlib.sha256(b"other").digest()).decode())
    assert e.value.response["Error"]["Code"] == "BadDigest"
    # A client that sends no checksum (older SDKs, curl): S3 adds its default CRC64NVME.
    bare = boto3.client("s3", endpoint_url=server.url, aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK,
                        region_name="us-east-1",
                        config=botocore.config.Config(request_checksum_calculation="when_required"))
    sent = bare.put_object(Bucket="sums-bucket", Key="no-sum", Body=body)
    assert "ChecksumCRC32" not in sent and sent.get("ChecksumType") == "FULL_OBJECT"
    got = s3.head_object(Bucket="sums-bucket", Key="no-sum", ChecksumMode="ENABLED")
    assert got["ChecksumCRC64NVME"] == sent["ChecksumCRC64NVME"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="sums-bucket", Key="bad", Body=body,
                      ChecksumSHA512=base64.b64encode(hashlib.sha512(b"other").digest()).decode())
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert "SHA512" in e.value.response["Error"]["Message"]


def _post_form(url, fields, file_name, data):
    """POSTs an HTML upload form (multipart/form-data), the file last, as a browser does."""
    boundary = "----ironsageFormBoundary7MA4YWxk"
    body = b""
    for k, v in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


TAGGING = "<Tagging><TagSet><Tag><Key>stage</Key><Value>raw data</Value></Tag></TagSet></Tagging>"


def test_browser_upload_with_a_presigned_post_policy(server):
    """boto3's generate_presigned_post: the signed policy's conditions bind the form,
    the signer's IAM permissions decide, and the file lands as an object."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="post-bucket")
    v4 = boto3.client("s3", endpoint_url=server.url, aws_access_key_id=ROOT_AK, aws_secret_access_key=ROOT_SK,
                      region_name="us-east-1", config=botocore.config.Config(signature_version="s3v4"))
    post = v4.generate_presigned_post(
        "post-bucket", "uploads/${filename}",
        Fields={"Content-Type": "text/plain", "success_action_status": "201", "x-amz-meta-owner": "ana",
                "tagging": TAGGING},
        Conditions=[{"Content-Type": "text/plain"}, {"success_action_status": "201"},
                    {"x-amz-meta-owner": "ana"}, {"tagging": TAGGING}, ["content-length-range", 1, 1000]],
        ExpiresIn=300)
    status, body, headers = _post_form(post["url"], post["fields"], "notes.txt", b"hello from a browser")
    assert status == 201, body
    assert b"<Key>uploads/notes.txt</Key>" in body and b"<Bucket>post-bucket</Bucket>" in body
    got = s3.get_object(Bucket="post-bucket", Key="uploads/notes.txt")
    assert got["Body"].read() == b"hello from a browser"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"owner": "ana"}
    tags = s3.get_object_tagging(Bucket="post-bucket", Key="uploads/notes.txt")["TagSet"]
    assert tags == [{"Key": "stage", "Value": "raw data"}]
    assert headers["ETag"] == got["ETag"]

    def refused(fields, data=b"x", name="a.txt"):
        status, body, _ = _post_form(post["url"], fields, name, data)
        return status, body.decode()

    # A field changed from what the policy allows, one it does not name, a forged signature.
    status, body = refused({**post["fields"], "Content-Type": "text/html"})
    assert status == 403 and "Policy Condition failed" in body and "Content-Type" in body
    status, body = refused({**post["fields"], "x-amz-meta-extra": "1"})
    assert status == 403 and "Extra input fields: x-amz-meta-extra" in body
    assert post["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    status, body = refused({"key": "anon.txt"})
    assert status == 403 and "<Code>AccessDenied</Code>" in body
    status, body = refused({**post["fields"], "x-amz-signature": "0" * 64})
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body
    # boto3's default form for us-east-1 is SigV2 (AWSAccessKeyId, signature); default answer 204.
    v2 = s3.generate_presigned_post("post-bucket", "v2.txt", ExpiresIn=300)
    assert "AWSAccessKeyId" in v2["fields"]
    status, body, _ = _post_form(v2["url"], v2["fields"], "v2.txt", b"legacy form")
    assert status == 204, body
    assert s3.get_object(Bucket="post-bucket", Key="v2.txt")["Body"].read() == b"legacy form"
    status, body = refused({**v2["fields"], "signature": "AAAA" + v2["fields"]["signature"][4:]})
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body
    # content-length-range: too large stores nothing.
    status, body = refused(post["fields"], data=b"y" * 1001, name="big.txt")
    assert status == 400 and "<Code>EntityTooLarge</Code>" in body
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="post-bucket", Key="uploads/big.txt")
    # The signer's own permissions decide, as for any PutObject.
    _, k = make_user(server, "s3poster", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    reader = server.client("s3", ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    theirs = reader.generate_presigned_post("post-bucket", "x.txt", ExpiresIn=300)
    status, body = refused(theirs["fields"], name="x.txt")
    assert status == 403 and "is not authorized to perform: s3:PutObject" in body
