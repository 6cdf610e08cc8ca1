"""Issue 5: traffic that really comes through VPC endpoints — the guide's
security checks, exactly."""

import json
import subprocess
import time

from conftest import ACCOUNT, binary


def test_bucket_reachable_only_through_its_endpoint(server, tmp_path):
    _, vpc, _ = server.aws("ec2", "create-vpc", "--cidr-block", "10.30.0.0/16")
    vpc_id = vpc["Vpc"]["VpcId"]
    _, rt, _ = server.aws("ec2", "create-route-table", "--vpc-id", vpc_id)
    bucket = "data-behind-endpoint"
    endpoint_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                                                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}
    _, vpce, _ = server.aws("ec2", "create-vpc-endpoint", "--vpc-id", vpc_id, "--service-name", "com.amazonaws.us-east-1.s3",
                            "--route-table-ids", rt["RouteTable"]["RouteTableId"], "--policy-document", json.dumps(endpoint_policy))
    vpce_id = vpce["VpcEndpoint"]["VpcEndpointId"]
    server.aws("s3", "mb", f"s3://{bucket}")
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    server.aws("s3api", "put-object", "--bucket", bucket, "--key", "train.csv", "--body", str(data))
    bucket_policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyOutsideVpce", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"StringNotEquals": {"aws:SourceVpce": vpce_id}}}]}
    server.aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", json.dumps(bucket_policy))

    out = subprocess.run([binary(), "endpoints", "env", "--vpc", vpc_id, "--data-dir", server.data_dir], capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("export AWS_ENDPOINT_URL_S3="))
    url = line.split("=", 1)[1].split()[0]
    assert url.startswith("http://127.") and vpce_id in line
    inside = server.env(AWS_ENDPOINT_URL_S3=url)
    # The listener for a new endpoint comes up within moments.
    for _ in range(50):
        rc, out, err = server.aws("s3", "ls", f"s3://{bucket}", env=inside, check=False)
        if rc == 0:
            break
        time.sleep(0.1)
    assert rc == 0, err
    assert "train.csv" in out
    rc, _, err = server.aws("s3", "ls", env=inside, check=False)
    assert rc != 0 and "AccessDenied" in err and "VPC endpoint policy" in err
    rc, _, err = server.aws("s3", "mb", "s3://not-through-this-endpoint", env=inside, check=False)
    assert rc != 0 and "AccessDenied" in err
    # Directly, not through the endpoint: the bucket policy's explicit deny.
    rc, _, err = server.aws("s3", "ls", f"s3://{bucket}", check=False)
    assert rc != 0 and "AccessDenied" in err and "explicit deny in a resource-based policy" in err
