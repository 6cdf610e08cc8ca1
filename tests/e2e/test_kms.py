"""Issue 4 (KMS part): real encryption, key policies enforced with IAM."""

import base64
import json
import os

import botocore.exceptions
import pytest

from conftest import ACCOUNT
from test_foundation import make_user


def test_encrypt_decrypt_round_trip_and_tamper(server, tmp_path):
    _, key, _ = server.aws("kms", "create-key", "--description", "e2e")
    meta = key["KeyMetadata"]
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["KeyState"] == "Enabled" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    server.aws("kms", "create-alias", "--alias-name", "alias/e2e", "--target-key-id", meta["KeyId"])
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"secret model weights \x00\x01\x02")
    _, enc, _ = server.aws("kms", "encrypt", "--key-id", "alias/e2e", "--plaintext", f"fileb://{plain}", "--encryption-context", "purpose=e2e")
    blob = base64.b64decode(enc["CiphertextBlob"])
    assert b"secret model weights" not in blob
    ct = tmp_path / "ct.bin"
    ct.write_bytes(blob)
    _, dec, _ = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{ct}", "--encryption-context", "purpose=e2e")
    assert base64.b64decode(dec["Plaintext"]) == plain.read_bytes()
    assert dec["KeyId"] == meta["Arn"]
    # Wrong context and a one-byte change both fail as AWS does.
    rc, _, err = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{ct}", "--encryption-context", "purpose=other", check=False)
    assert rc != 0 and "InvalidCiphertextException" in err
    tampered = bytearray(blob)
    tampered[-5] ^= 1
    ct.write_bytes(bytes(tampered))
    rc, _, err = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{ct}", "--encryption-context", "purpose=e2e", check=False)
    assert rc != 0 and "InvalidCiphertextException" in err
    # Key material is wrapped: the raw database never holds it in plaintext
    # (checked indirectly: the master key file is private).
    assert oct(os.stat(os.path.join(server.data_dir, "master.key")).st_mode & 0o777) == "0o600"


def test_key_policy_and_iam_together(server):
    kms = server.client("kms")
    key_id = kms.create_key(Description="guarded")["KeyMetadata"]["KeyId"]
    env, k = make_user(server, "kms-user", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}]})
    user_kms = server.client("kms", ak=k["AccessKeyId"], sk=k["SecretAccessKey"])
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_kms.decrypt(CiphertextBlob=blob)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "kms:Decrypt" in e.value.response["Error"]["Message"]
    # A key policy that does not delegate to the account denies even IAM admins.
    lonely = {"Version": "2012-10-17", "Statement": [{"Sid": "OnlyRoot", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody-here"}, "Action": "kms:*", "Resource": "*"}]}
    key2 = kms.create_key(Policy=json.dumps(lonely), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]["KeyId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        user_kms.encrypt(KeyId=key2, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_disabled_and_pending_deletion_keys(server):
    kms = server.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "DisabledException"
    kms.enable_key(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key_id)
    kms.enable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_data_key_pair_round_trip(server):
    """GenerateDataKeyPair: the encrypted private key decrypts (with its context) to the
    plaintext one; the public key is DER SubjectPublicKeyInfo; the WithoutPlaintext form keeps it back."""
    kms = server.client("kms")
    key_id = kms.create_key(Description="pairs")["KeyMetadata"]["KeyId"]
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256", EncryptionContext={"use": "sign"})
    assert out["KeyPairSpec"] == "ECC_NIST_P256"
    assert out["PublicKey"][:2] == b"\x30\x59"  # SEQUENCE of a P-256 SubjectPublicKeyInfo (91 bytes)
    back = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext={"use": "sign"})
    assert back["Plaintext"] == out["PrivateKeyPlaintext"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])
    assert e.value.response["Error"]["Code"] == "InvalidCiphertextException"
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="RSA_2048")
    assert "PrivateKeyPlaintext" not in bare and len(bare["PublicKey"]) > 256
