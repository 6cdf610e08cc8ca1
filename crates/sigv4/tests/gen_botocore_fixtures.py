#!/usr/bin/env python3
"""Generate botocore-signed request fixtures for the ironsage-sigv4 tests.

Run from anywhere: `python3 crates/sigv4/tests/gen_botocore_fixtures.py`. Writes one JSON
file per request into crates/sigv4/tests/fixtures/. The output is committed so that
`cargo test` needs no Python. Time is frozen by patching botocore.auth.get_current_datetime.

Each fixture: name, method, path (raw, as on the wire), query (raw, no '?'), headers
([name, value] pairs in wire order), body_b64, access_key_id, secret_access_key,
session_token (or null), now (the signing time, RFC 3339), s3 (bool: S3 URI rules),
and decoded_b64 / trailers for aws-chunked bodies.
"""

import base64
import datetime
import io
import json
import os
from unittest import mock
from urllib.parse import urlsplit

import botocore
from botocore.auth import (
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

NOW = datetime.datetime(2026, 11, 27, 7, 30, 0)
AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE//////////wEaDEXAMPLETOKEN+abc/def=="
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
ENDPOINT = "http://localhost:4566"


def sign(auth, method, url, body=b"", headers=None, context=None):
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    if context:
        req.context.update(context)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        auth.add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    headers = [[k, v] for k, v in prepared.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ["Host", parts.netloc])
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return parts.path, parts.query, headers, body


def write(name, auth_kind, creds, method, path, query, headers, body, s3, extra=None):
    fixture = {
        "name": name,
        "generator": f"botocore {botocore.__version__} {auth_kind}",
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body_b64": base64.b64encode(body).decode(),
        "access_key_id": creds.access_key,
        "secret_access_key": creds.secret_key,
        "session_token": creds.token,
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "s3": s3,
    }
    fixture.update(extra or {})
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(fixture, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    creds = Credentials(AKID, SECRET)
    temp = Credentials("ASIAIOSFODNN7EXAMPLE", SECRET, TOKEN)

    # STS (query protocol): form-encoded POST.
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    p, q, h, b = sign(
        SigV4Auth(creds, "sts", "us-east-1"), "POST", ENDPOINT + "/", body,
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    write("sts_get_caller_identity", "SigV4Auth", creds, "POST", p, q, h, b, False)

    # STS with a session token.
    p, q, h, b = sign(
        SigV4Auth(temp, "sts", "us-east-1"), "POST", ENDPOINT + "/", body,
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    write("sts_session_token", "SigV4Auth", temp, "POST", p, q, h, b, False)

    # KMS (JSON protocol) with X-Amz-Target.
    body = json.dumps({"KeyId": "alias/my key", "Plaintext": "aGVsbG8="}).encode()
    p, q, h, b = sign(
        SigV4Auth(creds, "kms", "eu-west-1"), "POST", ENDPOINT + "/", body,
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"},
    )
    write("kms_encrypt", "SigV4Auth", creds, "POST", p, q, h, b, False)

    # A REST-JSON style path with characters that get double-encoded (non-S3 rules).
    p, q, h, b = sign(
        SigV4Auth(creds, "lambda", "us-east-1"), "GET",
        ENDPOINT + "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af/configuration?Qualifier=%24LATEST",
    )
    write("lambda_double_encoded_path", "SigV4Auth", creds, "GET", p, q, h, b, False)

    # S3 PUT over http: body hashed into X-Amz-Content-SHA256, CRC32 checksum header.
    data = b"hello ironsage\n" * 10
    p, q, h, b = sign(
        S3SigV4Auth(creds, "s3", "us-east-1"), "PUT",
        ENDPOINT + "/my-bucket/dir/a%20b%2Bc~%21.txt", data,
        {
            "Content-Type": "text/plain",
            "x-amz-checksum-crc32": base64.b64encode(
                (__import__("zlib").crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
            ).decode(),
            "x-amz-sdk-checksum-algorithm": "CRC32",
            "x-amz-meta-Note": "  spaced   value  ",
        },
    )
    write("s3_put_object", "S3SigV4Auth", creds, "PUT", p, q, h, b, True)

    # S3 ListObjectsV2 with a query string.
    p, q, h, b = sign(
        S3SigV4Auth(temp, "s3", "us-east-1"), "GET",
        ENDPOINT + "/my-bucket?list-type=2&prefix=dir%2F&delimiter=%2F&encoding-type=url",
    )
    write("s3_list_objects_session_token", "S3SigV4Auth", temp, "GET", p, q, h, b, True)

    # S3 presigned GET.
    p, q, h, b = sign(
        S3SigV4QueryAuth(creds, "s3", "us-east-1", expires=3600), "GET",
        ENDPOINT + "/my-bucket/dir/report%202026.csv",
    )
    write("s3_presigned_get", "S3SigV4QueryAuth", creds, "GET", p, q, h, b, True,
          {"expires": 3600})

    # S3 presigned GET with a session token.
    p, q, h, b = sign(
        S3SigV4QueryAuth(temp, "s3", "us-east-1", expires=900), "GET",
        ENDPOINT + "/my-bucket/key",
    )
    write("s3_presigned_get_session_token", "S3SigV4QueryAuth", temp, "GET", p, q, h, b, True,
          {"expires": 900})

    # Non-S3 presigned (e.g. an RDS/EKS-style token URL).
    p, q, h, b = sign(
        SigV4QueryAuth(creds, "sts", "us-east-1", expires=60), "GET",
        ENDPOINT + "/?Action=GetCallerIdentity&Version=2011-06-15",
    )
    write("sts_presigned", "SigV4QueryAuth", creds, "GET", p, q, h, b, False, {"expires": 60})

    # S3 PUT as botocore sends it over https: aws-chunked, unsigned payload, CRC32 trailer.
    data = bytes(range(256)) * 300  # 76800 bytes, two chunks at 64 KiB
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data), checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32", chunk_size=65536,
    )
    encoded = wrapper.read()
    trailer_line = encoded.rsplit(b"0\r\n", 1)[1].strip().decode()
    name, value = trailer_line.split(":", 1)
    p, q, h, b = sign(
        S3SigV4Auth(creds, "s3", "us-east-1"), "PUT",
        "https://localhost:4566/my-bucket/big.bin", encoded,
        {
            "Content-Encoding": "aws-chunked",
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "x-amz-sdk-checksum-algorithm": "CRC32",
        },
        {"checksum": {"request_algorithm": {"in": "trailer", "name": "x-amz-checksum-crc32",
                                            "algorithm": "crc32"}}},
    )
    write("s3_put_unsigned_trailer", "S3SigV4Auth", creds, "PUT", p, q, h, b, True,
          {"decoded_b64": base64.b64encode(data).decode(), "trailers": [[name, value]]})

    main_v2(creds, temp)


OUT_V2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures_v2")
HTTP_DATE = "Fri, 27 Nov 2026 07:30:00 GMT"
EXPIRES = str(int(NOW.replace(tzinfo=datetime.timezone.utc).timestamp()) + 3600)


def sign_v2(auth, method, url, body=b"", headers=None, auth_path=None):
    """Signs with S3's Signature Version 2 (HmacV1Auth / HmacV1QueryAuth), time frozen."""
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    if auth_path is not None:
        req.auth_path = auth_path
    date = EXPIRES if isinstance(auth, HmacV1QueryAuth) else HTTP_DATE
    with mock.patch.object(type(auth), "_get_date", return_value=date):
        auth.add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    headers = [[k, v] for k, v in prepared.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ["Host", parts.netloc])
    return parts.path, parts.query, headers, prepared.body or b""


def write_v2(name, auth_kind, creds, method, signed, virtual_bucket=None):
    path, query, headers, body = signed
    fixture = {
        "name": name,
        "generator": f"botocore {botocore.__version__} {auth_kind}",
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "access_key_id": creds.access_key,
        "secret_access_key": creds.secret_key,
        "session_token": creds.token,
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "virtual_bucket": virtual_bucket,
    }
    os.makedirs(OUT_V2, exist_ok=True)
    with open(os.path.join(OUT_V2, name + ".json"), "w") as f:
        json.dump(fixture, f, indent=2, sort_keys=True)
        f.write("\n")


def main_v2(creds, temp):
    # boto3's default presigned URLs for S3 in us-east-1.
    write_v2("v2_presigned_get", "HmacV1QueryAuth", creds, "GET", sign_v2(
        HmacV1QueryAuth(creds), "GET", ENDPOINT + "/my-bucket/dir/report%202026.csv"))
    write_v2("v2_presigned_put_typed", "HmacV1QueryAuth", creds, "PUT", sign_v2(
        HmacV1QueryAuth(creds), "PUT", ENDPOINT + "/my-bucket/upload.txt", b"",
        {"Content-Type": "text/plain"}))
    write_v2("v2_presigned_session_token", "HmacV1QueryAuth", temp, "GET", sign_v2(
        HmacV1QueryAuth(temp), "GET", ENDPOINT + "/my-bucket/k?versionId=3HL4kqtJ"))
    # Header auth: a bucket-level request (botocore signs `/bucket/`), a PUT with
    # content headers, x-amz-* headers and a sub-resource, a virtual-host request.
    write_v2("v2_header_list_bucket", "HmacV1Auth", creds, "GET", sign_v2(
        HmacV1Auth(creds), "GET", ENDPOINT + "/my-bucket?encoding-type=url&prefix=a%20b",
        auth_path="/my-bucket/"))
    write_v2("v2_header_put_acl", "HmacV1Auth", creds, "PUT", sign_v2(
        HmacV1Auth(creds), "PUT", ENDPOINT + "/my-bucket/a%20b%2Bc.txt?acl", b"<x/>",
        {"Content-Type": "application/xml", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
         "x-amz-acl": "private", "x-amz-meta-Note": "  spaced  ", "X-Amz-Meta-Two": "b"}))
    write_v2("v2_header_virtual_host", "HmacV1Auth", creds, "GET", sign_v2(
        HmacV1Auth(creds), "GET", "http://my-bucket.s3.localhost:4566/photos/puppy.jpg",
        auth_path="/my-bucket/photos/puppy.jpg"), virtual_bucket="my-bucket")


if __name__ == "__main__":
    main()
