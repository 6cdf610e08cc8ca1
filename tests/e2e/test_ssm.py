"""Issue 4 (SSM part): Parameter Store with SecureString through KMS."""

import os

from conftest import ACCOUNT
from test_s3_sse import files_containing


def test_secure_string_round_trip_and_at_rest(server):
    secret = "IRONSAGE-SSM-SECRET-4c1d"
    _, out, _ = server.aws("ssm", "put-parameter", "--name", "/sm-mlops/dev/db-password", "--type", "SecureString", "--value", secret)
    assert out["Version"] == 1
    _, out, _ = server.aws("ssm", "get-parameter", "--name", "/sm-mlops/dev/db-password", "--with-decryption")
    p = out["Parameter"]
    assert p["Value"] == secret and p["Type"] == "SecureString"
    assert p["ARN"] == f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/sm-mlops/dev/db-password"
    _, out, _ = server.aws("ssm", "get-parameter", "--name", "/sm-mlops/dev/db-password")
    assert out["Parameter"]["Value"] != secret
    assert files_containing(server.data_dir, secret.encode()) == []
    rc, _, err = server.aws("ssm", "put-parameter", "--name", "/sm-mlops/dev/db-password", "--type", "SecureString", "--value", "x", check=False)
    assert rc != 0 and "ParameterAlreadyExists" in err
    server.aws("ssm", "put-parameter", "--name", "/sm-mlops/dev/db-password", "--type", "SecureString", "--value", "v2", "--overwrite")
    server.aws("ssm", "put-parameter", "--name", "/sm-mlops/dev/vpc-id", "--type", "String", "--value", "vpc-123")
    server.aws("ssm", "put-parameter", "--name", "/sm-mlops/prod/vpc-id", "--type", "String", "--value", "vpc-456")
    _, out, _ = server.aws("ssm", "get-parameters-by-path", "--path", "/sm-mlops", "--recursive", "--with-decryption")
    values = {p["Name"]: p["Value"] for p in out["Parameters"]}
    assert values == {"/sm-mlops/dev/db-password": "v2", "/sm-mlops/dev/vpc-id": "vpc-123", "/sm-mlops/prod/vpc-id": "vpc-456"}
    _, out, _ = server.aws("ssm", "get-parameter-history", "--name", "/sm-mlops/dev/db-password", "--with-decryption")
    assert [h["Value"] for h in out["Parameters"]] == [secret, "v2"]
    rc, _, err = server.aws("ssm", "get-parameter", "--name", "/nope", check=False)
    assert rc != 0 and "ParameterNotFound" in err
