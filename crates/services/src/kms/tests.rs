use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::{Caller, Ctx, PrincipalKind, Service};

pub(crate) const ACCT: &str = "111122223333";
pub(crate) const REGION: &str = "us-east-1";

pub(crate) fn setup() -> (tempfile::TempDir, Arc<Store>, Kms) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("state.db"),
        ironsage_store::Durability::Normal,
    )
    .unwrap();
    let kms = Kms::open(&store, dir.path()).unwrap();
    (dir, store, kms)
}

pub(crate) fn caller() -> Caller {
    Caller {
        account: ACCT.into(),
        kind: PrincipalKind::Root,
        access_key_id: "AKIAEXAMPLE".into(),
        session: None,
    }
}

/// Runs `f` as the test caller (the account's root) in the test region.
fn as_caller<T>(f: impl FnOnce(&Ctx<'_>) -> T) -> T {
    let c = caller();
    f(&Ctx {
        caller: &c,
        region: REGION,
        request_id: "r",
        now: crate::util::now(),
    })
}

pub(crate) fn run(kms: &Kms, op: &str, input: Value) -> Result<Value, AwsError> {
    as_caller(|ctx| {
        kms.targets(ctx, op, &input)?;
        kms.call(ctx, op, input)
    })
}

/// The authorization targets of `op` for the test caller.
fn targets_of(kms: &Kms, op: &str, input: Value) -> Vec<crate::Target> {
    as_caller(|ctx| kms.targets(ctx, op, &input)).unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, AwsError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code,
    }
}

fn new_key(kms: &Kms, input: Value) -> String {
    run(kms, "CreateKey", input).unwrap()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn enc(kms: &Kms, key: &str, pt: &[u8], ctx: Value) -> String {
    run(
        kms,
        "Encrypt",
        json!({"KeyId": key, "Plaintext": b64(pt), "EncryptionContext": ctx}),
    )
    .unwrap()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string()
}

fn dec(kms: &Kms, blob: &str, ctx: Value) -> Result<Vec<u8>, AwsError> {
    run(
        kms,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    )
    .map(|v| unb64(v["Plaintext"].as_str().unwrap()).unwrap())
}

#[test]
fn create_describe_list() {
    let (_d, _s, kms) = setup();
    let out = run(
        &kms,
        "CreateKey",
        json!({"Description": "d1", "Tags": [{"TagKey": "team", "TagValue": "ml"}]}),
    )
    .unwrap();
    let m = &out["KeyMetadata"];
    let id = m["KeyId"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(
        m["Arn"],
        json!(format!("arn:aws:kms:{REGION}:{ACCT}:key/{id}"))
    );
    assert_eq!(m["AWSAccountId"], ACCT);
    assert_eq!(m["KeyState"], "Enabled");
    assert_eq!(m["KeyManager"], "CUSTOMER");
    assert_eq!(m["Origin"], "AWS_KMS");
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(m["MultiRegion"], false);
    let d = run(&kms, "DescribeKey", json!({"KeyId": m["Arn"]})).unwrap();
    assert_eq!(d["KeyMetadata"]["Description"], "d1");
    for _ in 0..2 {
        new_key(&kms, json!({}));
    }
    let p1 = run(&kms, "ListKeys", json!({"Limit": 2})).unwrap();
    assert_eq!(p1["Keys"].as_array().unwrap().len(), 2);
    assert_eq!(p1["Truncated"], true);
    let p2 = run(
        &kms,
        "ListKeys",
        json!({"Limit": 2, "Marker": p1["NextMarker"]}),
    )
    .unwrap();
    assert_eq!(p2["Keys"].as_array().unwrap().len(), 1);
    assert_eq!(p2["Truncated"], false);
    let tags = run(&kms, "ListResourceTags", json!({"KeyId": id})).unwrap();
    assert_eq!(tags["Tags"], json!([{"TagKey": "team", "TagValue": "ml"}]));
    assert_eq!(
        code(run(
            &kms,
            "DescribeKey",
            json!({"KeyId": "00000000-0000-4000-8000-000000000000"})
        )),
        "NotFoundException"
    );
    // Default key policy.
    let p = run(
        &kms,
        "GetKeyPolicy",
        json!({"KeyId": id, "PolicyName": "default"}),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(p["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCT}:root")
    );
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
}

#[test]
fn encrypt_decrypt_context_tamper() {
    let (_d, _s, kms) = setup();
    let id = new_key(&kms, json!({}));
    let blob = enc(
        &kms,
        &id,
        b"top secret",
        json!({"purpose": "test", "a": "b"}),
    );
    assert_eq!(
        dec(&kms, &blob, json!({"a": "b", "purpose": "test"})).unwrap(),
        b"top secret"
    );
    assert_eq!(
        code(dec(&kms, &blob, json!({"purpose": "other", "a": "b"}))),
        "InvalidCiphertextException"
    );
    assert_eq!(
        code(dec(&kms, &blob, json!({}))),
        "InvalidCiphertextException"
    );
    let raw = unb64(&blob).unwrap();
    for pos in [0usize, 5, 20, 30, 40, raw.len() - 1] {
        let mut bad = raw.clone();
        bad[pos] ^= 1;
        assert_eq!(
            code(dec(&kms, &b64(&bad), json!({"purpose": "test", "a": "b"}))),
            "InvalidCiphertextException",
            "byte {pos}"
        );
    }
    // KeyId mismatch.
    let other = new_key(&kms, json!({}));
    assert_eq!(
        code(run(
            &kms,
            "Decrypt",
            json!({"CiphertextBlob": blob, "KeyId": other, "EncryptionContext": {"purpose": "test", "a": "b"}})
        )),
        "IncorrectKeyException"
    );
    // Data keys.
    let gdk = run(
        &kms,
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256"}),
    )
    .unwrap();
    let pt = unb64(gdk["Plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(pt.len(), 32);
    assert_eq!(
        dec(&kms, gdk["CiphertextBlob"].as_str().unwrap(), json!({})).unwrap(),
        pt
    );
    let g2 = run(
        &kms,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": id, "NumberOfBytes": 16}),
    )
    .unwrap();
    assert!(g2.get("Plaintext").is_none());
    assert_eq!(
        dec(&kms, g2["CiphertextBlob"].as_str().unwrap(), json!({}))
            .unwrap()
            .len(),
        16
    );
    assert_eq!(
        code(run(&kms, "GenerateDataKey", json!({"KeyId": id}))),
        "ValidationException"
    );
    let r = run(&kms, "GenerateRandom", json!({"NumberOfBytes": 64})).unwrap();
    assert_eq!(unb64(r["Plaintext"].as_str().unwrap()).unwrap().len(), 64);
    // ReEncrypt.
    let re = run(&kms, "ReEncrypt", json!({"CiphertextBlob": blob, "SourceEncryptionContext": {"purpose": "test", "a": "b"}, "DestinationKeyId": other})).unwrap();
    assert_eq!(
        dec(&kms, re["CiphertextBlob"].as_str().unwrap(), json!({})).unwrap(),
        b"top secret"
    );
}

#[test]
fn disable_and_deletion_states() {
    let (_d, _s, kms) = setup();
    let id = new_key(&kms, json!({}));
    let arn = format!("arn:aws:kms:{REGION}:{ACCT}:key/{id}");
    let blob = enc(&kms, &id, b"x", json!({}));
    run(&kms, "DisableKey", json!({"KeyId": id})).unwrap();
    let e = run(
        &kms,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"y")}),
    )
    .unwrap_err();
    assert_eq!(e.code, "DisabledException");
    assert_eq!(e.message, format!("{arn} is disabled."));
    assert_eq!(code(dec(&kms, &blob, json!({}))), "DisabledException");
    run(&kms, "EnableKey", json!({"KeyId": id})).unwrap();
    assert_eq!(dec(&kms, &blob, json!({})).unwrap(), b"x");
    assert_eq!(
        code(run(
            &kms,
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 5})
        )),
        "ValidationException"
    );
    let s = run(
        &kms,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .unwrap();
    assert_eq!(s["KeyState"], "PendingDeletion");
    let e = dec(&kms, &blob, json!({})).unwrap_err();
    assert_eq!(e.code, "KMSInvalidStateException");
    assert_eq!(e.message, format!("{arn} is pending deletion."));
    assert_eq!(
        code(run(&kms, "EnableKey", json!({"KeyId": id}))),
        "KMSInvalidStateException"
    );
    let d = run(&kms, "DescribeKey", json!({"KeyId": id})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeyState"], "PendingDeletion");
    assert!(d["KeyMetadata"]["DeletionDate"].is_i64());
    run(&kms, "CancelKeyDeletion", json!({"KeyId": id})).unwrap();
    // AWS leaves a cancelled key disabled.
    assert_eq!(code(dec(&kms, &blob, json!({}))), "DisabledException");
    run(&kms, "EnableKey", json!({"KeyId": id})).unwrap();
    assert_eq!(dec(&kms, &blob, json!({})).unwrap(), b"x");
    assert_eq!(
        code(run(&kms, "CancelKeyDeletion", json!({"KeyId": id}))),
        "KMSInvalidStateException"
    );
}

#[test]
fn rotation_keeps_old_ciphertexts() {
    let (_d, _s, kms) = setup();
    let id = new_key(&kms, json!({}));
    let old = enc(&kms, &id, b"v1 data", json!({}));
    run(&kms, "EnableKeyRotation", json!({"KeyId": id})).unwrap();
    let st = run(&kms, "GetKeyRotationStatus", json!({"KeyId": id})).unwrap();
    assert_eq!(st["KeyRotationEnabled"], true);
    assert_eq!(st["RotationPeriodInDays"], 365);
    run(&kms, "RotateKeyOnDemand", json!({"KeyId": id})).unwrap();
    let new = enc(&kms, &id, b"v2 data", json!({}));
    assert_eq!(parse_blob(&unb64(&old).unwrap()).unwrap().version, 1);
    assert_eq!(parse_blob(&unb64(&new).unwrap()).unwrap().version, 2);
    assert_eq!(dec(&kms, &old, json!({})).unwrap(), b"v1 data");
    assert_eq!(dec(&kms, &new, json!({})).unwrap(), b"v2 data");
    let rot = run(&kms, "ListKeyRotations", json!({"KeyId": id})).unwrap();
    assert_eq!(rot["Rotations"][0]["RotationType"], "ON_DEMAND");
    run(&kms, "DisableKeyRotation", json!({"KeyId": id})).unwrap();
    assert_eq!(
        run(&kms, "GetKeyRotationStatus", json!({"KeyId": id})).unwrap()["KeyRotationEnabled"],
        false
    );
}

#[test]
fn aliases() {
    let (_d, _s, kms) = setup();
    let a = new_key(&kms, json!({}));
    let b = new_key(&kms, json!({}));
    run(
        &kms,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": a}),
    )
    .unwrap();
    assert_eq!(
        code(run(
            &kms,
            "CreateAlias",
            json!({"AliasName": "alias/app", "TargetKeyId": b})
        )),
        "AlreadyExistsException"
    );
    assert_eq!(
        code(run(
            &kms,
            "CreateAlias",
            json!({"AliasName": "alias/aws/mine", "TargetKeyId": a})
        )),
        "NotAuthorizedException"
    );
    assert_eq!(
        code(run(
            &kms,
            "CreateAlias",
            json!({"AliasName": "app2", "TargetKeyId": a})
        )),
        "ValidationException"
    );
    // Encrypt through the alias name and the alias ARN.
    let blob = enc(&kms, "alias/app", b"via alias", json!({}));
    assert_eq!(parse_blob(&unb64(&blob).unwrap()).unwrap().key_id, a);
    let blob2 = enc(
        &kms,
        &format!("arn:aws:kms:{REGION}:{ACCT}:alias/app"),
        b"z",
        json!({}),
    );
    assert_eq!(parse_blob(&unb64(&blob2).unwrap()).unwrap().key_id, a);
    // Key-management operations do not take aliases.
    assert_eq!(
        code(run(&kms, "DisableKey", json!({"KeyId": "alias/app"}))),
        "NotFoundException"
    );
    run(
        &kms,
        "UpdateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": b}),
    )
    .unwrap();
    let d = run(&kms, "DescribeKey", json!({"KeyId": "alias/app"})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeyId"], json!(b));
    let l = run(&kms, "ListAliases", json!({"KeyId": b})).unwrap();
    assert_eq!(l["Aliases"].as_array().unwrap().len(), 1);
    assert_eq!(l["Aliases"][0]["AliasName"], "alias/app");
    let all = run(&kms, "ListAliases", json!({})).unwrap();
    let names: Vec<&str> = all["Aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"alias/app") && names.contains(&"alias/aws/s3"));
    run(&kms, "DeleteAlias", json!({"AliasName": "alias/app"})).unwrap();
    assert_eq!(
        code(run(&kms, "DescribeKey", json!({"KeyId": "alias/app"}))),
        "NotFoundException"
    );
    assert_eq!(
        code(run(&kms, "DeleteAlias", json!({"AliasName": "alias/app"}))),
        "NotFoundException"
    );
}

#[test]
fn key_material_never_in_plaintext_in_the_database() {
    let (dir, store, kms) = setup();
    let id = new_key(&kms, json!({}));
    let d = kms.key_doc(ACCT, REGION, &id).unwrap();
    let material = kms.material(&d, 1).unwrap();
    assert_eq!(material.len(), 32);
    drop(store);
    let mut bytes = Vec::new();
    for f in ["state.db", "state.db-wal"] {
        if let Ok(b) = std::fs::read(dir.path().join(f)) {
            bytes.extend(b);
        }
    }
    assert!(!bytes.is_empty());
    assert!(!bytes.windows(32).any(|w| w == &material[..]));
    let b64m = b64(&material);
    assert!(!bytes.windows(b64m.len()).any(|w| w == b64m.as_bytes()));
}

#[test]
fn key_policies_and_targets() {
    let (_d, _s, kms) = setup();
    let id = new_key(&kms, json!({}));
    assert_eq!(
        code(run(
            &kms,
            "PutKeyPolicy",
            json!({"KeyId": id, "PolicyName": "default", "Policy": "{\"Statement\": 5}"})
        )),
        "MalformedPolicyDocumentException"
    );
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:Decrypt", "Resource": "*"}]}).to_string();
    run(
        &kms,
        "PutKeyPolicy",
        json!({"KeyId": id, "PolicyName": "default", "Policy": policy}),
    )
    .unwrap();
    assert_eq!(
        run(&kms, "GetKeyPolicy", json!({"KeyId": id})).unwrap()["Policy"],
        json!(policy)
    );
    let t = targets_of(
        &kms,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": "eA==", "EncryptionContext": {"k": "v"}}),
    );
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].action, "kms:Encrypt");
    let arn = format!("arn:aws:kms:{REGION}:{ACCT}:key/{id}");
    assert_eq!(t[0].resource, arn);
    assert_eq!(t[0].resource_account.as_deref(), Some(ACCT));
    let (pid, _) = t[0].resource_policy.as_ref().unwrap();
    assert_eq!(pid, &format!("{arn} (key policy)"));
    assert!(t[0]
        .context
        .contains(&("kms:EncryptionContext:k".into(), vec!["v".into()])));
    assert!(t[0]
        .context
        .contains(&("kms:CallerAccount".into(), vec![ACCT.into()])));
    // Internal API.
    let r = kms.resolve_key(ACCT, REGION, &arn).unwrap();
    let kt = kms.key_target(
        &r,
        "kms:GenerateDataKey",
        Some("s3.us-east-1.amazonaws.com"),
        ACCT,
        &[],
    );
    assert!(kt.context.contains(&(
        "kms:ViaService".into(),
        vec!["s3.us-east-1.amazonaws.com".into()]
    )));
    assert!(kt.resource_policy.is_some());
    let (dk, blob) = kms
        .generate_data_key(&r, &[("b".into(), "k".into())])
        .unwrap();
    assert_eq!(kms.key_for_blob(ACCT, REGION, &blob).unwrap().key_id, id);
    let (kr, pt) = kms
        .decrypt(ACCT, REGION, &blob, &[("b".into(), "k".into())])
        .unwrap();
    assert_eq!(pt, dk);
    assert_eq!(kr.arn, arn);
    assert_eq!(
        kms.decrypt(ACCT, REGION, &blob, &[]).unwrap_err().code,
        "InvalidCiphertextException"
    );
    // Decrypt targets name the key from the blob.
    let t = targets_of(&kms, "Decrypt", json!({"CiphertextBlob": b64(&blob)}));
    assert_eq!(t[0].resource, arn);
    assert_eq!(
        code(as_caller(|ctx| {
            kms.targets(ctx, "Decrypt", &json!({"CiphertextBlob": b64(b"garbage")}))
                .map(|_| json!(null))
        })),
        "InvalidCiphertextException"
    );
}

#[test]
fn aws_managed_keys() {
    let (_d, _s, kms) = setup();
    let k1 = kms.aws_managed_key(ACCT, REGION, "ssm").unwrap();
    let k2 = kms.aws_managed_key(ACCT, REGION, "ssm").unwrap();
    assert_eq!(k1.key_id, k2.key_id);
    let d = run(&kms, "DescribeKey", json!({"KeyId": "alias/aws/ssm"})).unwrap();
    assert_eq!(d["KeyMetadata"]["KeyManager"], "AWS");
    assert_eq!(d["KeyMetadata"]["KeyId"], json!(k1.key_id));
    let p = run(&kms, "GetKeyPolicy", json!({"KeyId": k1.key_id})).unwrap();
    assert!(p["Policy"]
        .as_str()
        .unwrap()
        .contains("ssm.us-east-1.amazonaws.com"));
    assert_eq!(
        code(run(&kms, "DisableKey", json!({"KeyId": k1.key_id}))),
        "NotAuthorizedException"
    );
    let blob = kms.encrypt(&k1, b"p", &[]).unwrap();
    assert_eq!(kms.decrypt(ACCT, REGION, &blob, &[]).unwrap().1, b"p");
}

#[test]
fn asymmetric_and_hmac_keys() {
    let (_d, _s, kms) = setup();
    let ec = new_key(
        &kms,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    let msg = b64(b"hello");
    let s = run(
        &kms,
        "Sign",
        json!({"KeyId": ec, "Message": msg, "SigningAlgorithm": "ECDSA_SHA_256"}),
    )
    .unwrap();
    let v = run(&kms, "Verify", json!({"KeyId": ec, "Message": msg, "SigningAlgorithm": "ECDSA_SHA_256", "Signature": s["Signature"]})).unwrap();
    assert_eq!(v["SignatureValid"], true);
    assert_eq!(
        code(run(
            &kms,
            "Verify",
            json!({"KeyId": ec, "Message": b64(b"hellp"), "SigningAlgorithm": "ECDSA_SHA_256", "Signature": s["Signature"]})
        )),
        "KMSInvalidSignatureException"
    );
    assert_eq!(
        code(run(&kms, "Encrypt", json!({"KeyId": ec, "Plaintext": msg}))),
        "InvalidKeyUsageException"
    );
    let pk = run(&kms, "GetPublicKey", json!({"KeyId": ec})).unwrap();
    assert_eq!(pk["SigningAlgorithms"], json!(["ECDSA_SHA_256"]));
    assert_eq!(
        code(run(&kms, "CreateKey", json!({"KeySpec": "ECC_NIST_P256"}))),
        "ValidationException"
    );
    let rsa = new_key(
        &kms,
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    );
    let c = run(
        &kms,
        "Encrypt",
        json!({"KeyId": rsa, "Plaintext": msg, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    )
    .unwrap();
    let p = run(&kms, "Decrypt", json!({"KeyId": rsa, "CiphertextBlob": c["CiphertextBlob"], "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"})).unwrap();
    assert_eq!(p["Plaintext"], json!(msg));
    let h = new_key(
        &kms,
        json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}),
    );
    let m = run(
        &kms,
        "GenerateMac",
        json!({"KeyId": h, "Message": msg, "MacAlgorithm": "HMAC_SHA_256"}),
    )
    .unwrap();
    let v = run(
        &kms,
        "VerifyMac",
        json!({"KeyId": h, "Message": msg, "MacAlgorithm": "HMAC_SHA_256", "Mac": m["Mac"]}),
    )
    .unwrap();
    assert_eq!(v["MacValid"], true);
}

#[test]
fn grants() {
    let (_d, _s, kms) = setup();
    let id = new_key(&kms, json!({}));
    let g = run(&kms, "CreateGrant", json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:role/R", "RetiringPrincipal": "arn:aws:iam::111122223333:role/Admin", "Operations": ["Decrypt", "GenerateDataKey"], "Name": "g1"})).unwrap();
    let again = run(&kms, "CreateGrant", json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:role/R", "RetiringPrincipal": "arn:aws:iam::111122223333:role/Admin", "Operations": ["Decrypt", "GenerateDataKey"], "Name": "g1"})).unwrap();
    assert_eq!(g["GrantId"], again["GrantId"]);
    let l = run(&kms, "ListGrants", json!({"KeyId": id})).unwrap();
    assert_eq!(l["Grants"].as_array().unwrap().len(), 1);
    assert_eq!(
        l["Grants"][0]["Operations"],
        json!(["Decrypt", "GenerateDataKey"])
    );
    let r = run(
        &kms,
        "ListRetirableGrants",
        json!({"RetiringPrincipal": "arn:aws:iam::111122223333:role/Admin"}),
    )
    .unwrap();
    assert_eq!(r["Grants"].as_array().unwrap().len(), 1);
    let kr = kms.resolve_key(ACCT, REGION, &id).unwrap();
    assert_eq!(
        kms.grants(&kr).unwrap()[0].grantee,
        "arn:aws:iam::111122223333:role/R"
    );
    run(&kms, "RetireGrant", json!({"GrantToken": g["GrantToken"]})).unwrap();
    assert!(
        run(&kms, "ListGrants", json!({"KeyId": id})).unwrap()["Grants"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let g2 = run(&kms, "CreateGrant", json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:role/R", "Operations": ["Encrypt"]})).unwrap();
    run(
        &kms,
        "RevokeGrant",
        json!({"KeyId": id, "GrantId": g2["GrantId"]}),
    )
    .unwrap();
    assert_eq!(
        code(run(
            &kms,
            "RevokeGrant",
            json!({"KeyId": id, "GrantId": g2["GrantId"]})
        )),
        "NotFoundException"
    );
}

#[test]
fn data_key_pairs_decrypt_to_the_private_key_of_their_public_key() {
    let (_d, _s, kms) = setup();
    let id = new_key(&kms, json!({}));
    let ctx = json!({"app": "signer"});
    for (spec, asym) in [
        ("ECC_NIST_P256", ironsage_crypto::AsymSpec::EccP256),
        ("RSA_2048", ironsage_crypto::AsymSpec::Rsa2048),
    ] {
        let out = run(
            &kms,
            "GenerateDataKeyPair",
            json!({"KeyId": id, "KeyPairSpec": spec, "EncryptionContext": ctx}),
        )
        .unwrap();
        assert_eq!(out["KeyPairSpec"], spec);
        let private = unb64(out["PrivateKeyPlaintext"].as_str().unwrap()).unwrap();
        let public = unb64(out["PublicKey"].as_str().unwrap()).unwrap();
        let blob = out["PrivateKeyCiphertextBlob"].as_str().unwrap();
        // The blob is an ordinary ciphertext of the key, bound to the context.
        assert_eq!(dec(&kms, blob, ctx.clone()).unwrap(), private);
        assert_eq!(
            code(dec(&kms, blob, json!({}))),
            "InvalidCiphertextException"
        );
        assert_eq!(
            ironsage_crypto::public_key_der(asym, &private).unwrap(),
            public
        );
    }
    let out = run(
        &kms,
        "GenerateDataKeyPairWithoutPlaintext",
        json!({"KeyId": id, "KeyPairSpec": "ECC_NIST_P384"}),
    )
    .unwrap();
    assert!(out.get("PrivateKeyPlaintext").is_none());
    assert!(dec(
        &kms,
        out["PrivateKeyCiphertextBlob"].as_str().unwrap(),
        json!({})
    )
    .is_ok());
    assert_eq!(
        code(run(
            &kms,
            "GenerateDataKeyPair",
            json!({"KeyId": id, "KeyPairSpec": "SM2"})
        )),
        "UnsupportedOperationException"
    );
    let signing = new_key(
        &kms,
        json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}),
    );
    assert_eq!(
        code(run(
            &kms,
            "GenerateDataKeyPair",
            json!({"KeyId": signing, "KeyPairSpec": "RSA_2048"})
        )),
        "InvalidKeyUsageException"
    );
    // The pair spec is a condition key.
    let t = targets_of(
        &kms,
        "GenerateDataKeyPair",
        json!({"KeyId": id, "KeyPairSpec": "RSA_2048"}),
    );
    assert_eq!(t[0].action, "kms:GenerateDataKeyPair");
    assert!(t[0]
        .context
        .iter()
        .any(|(k, v)| k == "kms:DataKeyPairSpec" && v == &["RSA_2048".to_string()]));
}

#[test]
fn custom_key_stores_are_not_found_rather_than_ignored() {
    let (_d, _s, kms) = setup();
    for (op, input) in [
        (
            "CreateKey",
            json!({"CustomKeyStoreId": "cks-1234567890abcdef0", "Origin": "AWS_CLOUDHSM"}),
        ),
        (
            "GenerateRandom",
            json!({"NumberOfBytes": 8, "CustomKeyStoreId": "cks-1234567890abcdef0"}),
        ),
    ] {
        assert_eq!(
            code(run(&kms, op, input)),
            "CustomKeyStoreNotFoundException",
            "{op}"
        );
    }
    assert!(run(&kms, "ListKeys", json!({})).unwrap()["Keys"]
        .as_array()
        .unwrap()
        .is_empty());
}
