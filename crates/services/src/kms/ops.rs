//! The KMS operations: authorization targets and handlers.

use std::sync::Arc;

use ironsage_crypto::{AsymSpec, OaepHash, SigningAlg};
use ironsage_policy::{Policy, PolicyKind};
use serde_json::{json, Map, Value};

use super::{
    add_context_keys, b64, context_pairs, default_key_policy, err, invalid_ciphertext,
    invalid_state, kms_internal, new_key_id, not_found, tget, tput, unb64, validation, Accept,
    AliasDoc, Grant, KeyDoc, Kms, Material, ALIAS, GRANT, KEY,
};
use crate::util::{boolean, int, list, s};
use crate::{AwsError, Ctx, Target};

fn scope(ctx: &Ctx<'_>) -> String {
    format!("{}/{}", ctx.caller.account, ctx.region)
}

fn req<'a>(input: &'a Value, m: &str) -> Result<&'a str, AwsError> {
    s(input, m).ok_or_else(|| validation(format!("{m} is required.")))
}

fn blob_in(input: &Value, m: &str) -> Result<Vec<u8>, AwsError> {
    let raw = req(input, m)?;
    unb64(raw).ok_or_else(|| validation(format!("{m} is not valid base64.")))
}

fn now() -> i64 {
    crate::util::now().unix_timestamp()
}

/// Ops whose `KeyId` may be an alias.
fn accepts_alias(op: &str) -> Accept {
    match op {
        "DescribeKey"
        | "Encrypt"
        | "Decrypt"
        | "ReEncrypt"
        | "GenerateDataKey"
        | "GenerateDataKeyWithoutPlaintext"
        | "GenerateDataKeyPair"
        | "GenerateDataKeyPairWithoutPlaintext"
        | "Sign"
        | "Verify"
        | "GetPublicKey"
        | "GenerateMac"
        | "VerifyMac" => Accept::AliasToo,
        _ => Accept::KeyOnly,
    }
}

// ---------------------------------------------------------------- targets

fn key_target_for(kms: &Kms, ctx: &Ctx<'_>, d: &KeyDoc, op: &str) -> Result<Target, AwsError> {
    let r = kms.key_ref(d)?;
    Ok(kms.key_target(&r, &format!("kms:{op}"), None, &ctx.caller.account, &[]))
}

pub(super) fn targets(
    kms: &Kms,
    ctx: &Ctx<'_>,
    op: &str,
    input: &Value,
) -> Result<Vec<Target>, AwsError> {
    let acct = ctx.caller.account.as_str();
    let region = ctx.region;
    let alias_arn = |name: &str| format!("arn:aws:kms:{region}:{acct}:{name}");
    match op {
        "CreateKey" => {
            let mut t = Target::new("kms:CreateKey", "*");
            let spec = s(input, "KeySpec")
                .or(s(input, "CustomerMasterKeySpec"))
                .unwrap_or("SYMMETRIC_DEFAULT");
            t = t
                .with_context("kms:KeySpec", vec![spec.into()])
                .with_context(
                    "kms:KeyUsage",
                    vec![s(input, "KeyUsage").unwrap_or("ENCRYPT_DECRYPT").into()],
                )
                .with_context(
                    "kms:KeyOrigin",
                    vec![s(input, "Origin").unwrap_or("AWS_KMS").into()],
                )
                .with_context(
                    "kms:MultiRegion",
                    vec![boolean(input, "MultiRegion").unwrap_or(false).to_string()],
                )
                .with_context(
                    "kms:BypassPolicyLockoutSafetyCheck",
                    vec![boolean(input, "BypassPolicyLockoutSafetyCheck")
                        .unwrap_or(false)
                        .to_string()],
                );
            let tags = kms_tags(input);
            if !tags.is_empty() {
                t = t.with_context("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
                for (k, v) in &tags {
                    t = t.with_context(format!("aws:RequestTag/{k}"), vec![v.clone()]);
                }
            }
            Ok(vec![t])
        }
        "ListKeys" | "ListAliases" | "GenerateRandom" | "ListRetirableGrants" => {
            if op == "ListAliases" {
                if let Some(k) = s(input, "KeyId") {
                    let d = kms.resolve_doc(acct, region, k, Accept::KeyOnly)?;
                    return Ok(vec![key_target_for(kms, ctx, &d, op)?]);
                }
            }
            Ok(vec![Target::new(format!("kms:{op}"), "*")])
        }
        "CreateAlias" | "UpdateAlias" | "DeleteAlias" => {
            let name = req(input, "AliasName")?;
            let mut out = vec![Target::new(format!("kms:{op}"), alias_arn(name))];
            if op != "CreateAlias" {
                if let Some(a) = kms.get::<AliasDoc>(ALIAS, &scope(ctx), name)? {
                    if let Ok(d) = kms.key_doc(acct, region, &a.target) {
                        out.push(key_target_for(kms, ctx, &d, op)?);
                    }
                }
            }
            if let Some(k) = s(input, "TargetKeyId") {
                let d = kms.resolve_doc(acct, region, k, Accept::KeyOnly)?;
                out.push(key_target_for(kms, ctx, &d, op)?);
            }
            Ok(out)
        }
        "Decrypt" => {
            let blob = blob_in(input, "CiphertextBlob")?;
            let d = match s(input, "KeyId") {
                Some(k) => kms.resolve_doc(acct, region, k, Accept::AliasToo)?,
                None => kms.blob_key_doc(acct, region, &blob)?,
            };
            let r = kms.key_ref(&d)?;
            let c = context_pairs(input.get("EncryptionContext"));
            let t = kms
                .key_target(&r, "kms:Decrypt", None, acct, &c)
                .with_context(
                    "kms:EncryptionAlgorithm",
                    vec![s(input, "EncryptionAlgorithm")
                        .unwrap_or("SYMMETRIC_DEFAULT")
                        .into()],
                );
            Ok(vec![t])
        }
        "ReEncrypt" => {
            let blob = blob_in(input, "CiphertextBlob")?;
            let src = match s(input, "SourceKeyId") {
                Some(k) => kms.resolve_doc(acct, region, k, Accept::AliasToo)?,
                None => kms.blob_key_doc(acct, region, &blob)?,
            };
            let dst = kms.resolve_doc(
                acct,
                region,
                req(input, "DestinationKeyId")?,
                Accept::AliasToo,
            )?;
            let sc = context_pairs(input.get("SourceEncryptionContext"));
            let dc = context_pairs(input.get("DestinationEncryptionContext"));
            Ok(vec![
                kms.key_target(&kms.key_ref(&src)?, "kms:ReEncryptFrom", None, acct, &sc),
                kms.key_target(&kms.key_ref(&dst)?, "kms:ReEncryptTo", None, acct, &dc),
            ])
        }
        "RetireGrant" if s(input, "KeyId").is_none() => {
            let token = req(input, "GrantToken")?;
            let g = find_grant_by_token(kms, ctx, token)?;
            let d = kms.key_doc(acct, region, &g.key_id)?;
            Ok(vec![key_target_for(kms, ctx, &d, op)?])
        }
        _ => {
            let Some(k) = s(input, "KeyId") else {
                return Ok(vec![Target::new(format!("kms:{op}"), "*")]);
            };
            let d = kms.resolve_doc(acct, region, k, accepts_alias(op))?;
            let r = kms.key_ref(&d)?;
            let c = context_pairs(input.get("EncryptionContext"));
            let mut t = kms.key_target(&r, &format!("kms:{op}"), None, acct, &c);
            match op {
                "Encrypt" => {
                    t = t.with_context(
                        "kms:EncryptionAlgorithm",
                        vec![s(input, "EncryptionAlgorithm")
                            .unwrap_or("SYMMETRIC_DEFAULT")
                            .into()],
                    );
                }
                "Sign" | "Verify" => {
                    if let Some(a) = s(input, "SigningAlgorithm") {
                        t = t.with_context("kms:SigningAlgorithm", vec![a.into()]);
                    }
                    t = t.with_context(
                        "kms:MessageType",
                        vec![s(input, "MessageType").unwrap_or("RAW").into()],
                    );
                }
                "CreateGrant" => {
                    let ops: Vec<String> = list(input, "Operations")
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect();
                    t = t.with_context("kms:GrantOperations", ops);
                    if let Some(g) = s(input, "GranteePrincipal") {
                        t = t.with_context("kms:GranteePrincipal", vec![g.into()]);
                    }
                    if let Some(g) = s(input, "RetiringPrincipal") {
                        t = t.with_context("kms:RetiringPrincipal", vec![g.into()]);
                    }
                    if let Some(c) = input.get("Constraints") {
                        let ctxs = c
                            .get("EncryptionContextEquals")
                            .or(c.get("EncryptionContextSubset"));
                        t = add_context_keys(t, &context_pairs(ctxs));
                    }
                }
                "TagResource" => {
                    let tags = kms_tags(input);
                    t = t
                        .with_context("aws:TagKeys", tags.iter().map(|(k, _)| k.clone()).collect());
                    for (k, v) in &tags {
                        t = t.with_context(format!("aws:RequestTag/{k}"), vec![v.clone()]);
                    }
                }
                "UntagResource" => {
                    let keys: Vec<String> = list(input, "TagKeys")
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect();
                    t = t.with_context("aws:TagKeys", keys);
                }
                "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
                    if let Some(ks) = s(input, "KeySpec") {
                        t = t.with_context("kms:DataKeySpec", vec![ks.into()]);
                    }
                }
                "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
                    if let Some(ks) = s(input, "KeyPairSpec") {
                        t = t.with_context("kms:DataKeyPairSpec", vec![ks.into()]);
                    }
                }
                _ => {}
            }
            // Key tags are resource tags.
            for (k, v) in &d.tags {
                t = t.with_context(format!("aws:ResourceTag/{k}"), vec![v.clone()]);
            }
            Ok(vec![t])
        }
    }
}

// ---------------------------------------------------------------- dispatch

pub(super) fn call(kms: &Kms, ctx: &Ctx<'_>, op: &str, i: &Value) -> Result<Value, AwsError> {
    match op {
        "CreateKey" => create_key(kms, ctx, i),
        "DescribeKey" => {
            let d = resolve(kms, ctx, i, Accept::AliasToo)?;
            Ok(json!({"KeyMetadata": metadata(&d)}))
        }
        "ListKeys" => list_keys(kms, ctx, i),
        "GetKeyPolicy" => {
            let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
            policy_name(i)?;
            Ok(json!({"Policy": d.policy, "PolicyName": "default"}))
        }
        "PutKeyPolicy" => put_key_policy(kms, ctx, i),
        "ListKeyPolicies" => {
            resolve(kms, ctx, i, Accept::KeyOnly)?;
            Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
        }
        "UpdateKeyDescription" => {
            let desc = s(i, "Description").unwrap_or_default().to_string();
            mutate(kms, ctx, i, |d| {
                d.description = desc;
                Ok(())
            })?;
            Ok(json!({}))
        }
        "EnableKey" => {
            mutate(kms, ctx, i, |d| {
                if d.state == "PendingDeletion" {
                    return Err(invalid_state(format!("{} is pending deletion.", d.arn)));
                }
                d.enabled = true;
                d.state = "Enabled".into();
                Ok(())
            })?;
            Ok(json!({}))
        }
        "DisableKey" => {
            mutate(kms, ctx, i, |d| {
                if d.state == "PendingDeletion" {
                    return Err(invalid_state(format!("{} is pending deletion.", d.arn)));
                }
                d.enabled = false;
                d.state = "Disabled".into();
                Ok(())
            })?;
            Ok(json!({}))
        }
        "ScheduleKeyDeletion" => schedule_deletion(kms, ctx, i),
        "CancelKeyDeletion" => {
            let d = mutate(kms, ctx, i, |d| {
                if d.state != "PendingDeletion" {
                    return Err(invalid_state(format!("{} is not pending deletion.", d.arn)));
                }
                d.state = "Disabled".into();
                d.enabled = false;
                d.deletion_date = None;
                d.pending_window = None;
                Ok(())
            })?;
            Ok(json!({"KeyId": d.arn}))
        }
        "EnableKeyRotation" => {
            let period = int(i, "RotationPeriodInDays").unwrap_or(365);
            if !(90..=2560).contains(&period) {
                return Err(validation(format!("1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560")));
            }
            mutate(kms, ctx, i, |d| {
                rotatable(d)?;
                d.rotation_period = Some(period);
                d.next_rotation = Some(now() + period * 86_400);
                Ok(())
            })?;
            Ok(json!({}))
        }
        "DisableKeyRotation" => {
            mutate(kms, ctx, i, |d| {
                rotatable(d)?;
                d.rotation_period = None;
                d.next_rotation = None;
                Ok(())
            })?;
            Ok(json!({}))
        }
        "GetKeyRotationStatus" => {
            let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
            let mut out =
                json!({"KeyRotationEnabled": d.rotation_period.is_some(), "KeyId": d.arn});
            if let (Some(p), Some(n)) = (d.rotation_period, d.next_rotation) {
                out["RotationPeriodInDays"] = json!(p);
                out["NextRotationDate"] = json!(n);
            }
            Ok(out)
        }
        "RotateKeyOnDemand" => {
            let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
            rotatable(&d)?;
            Kms::check_usable(&d)?;
            kms.rotate(&d, "ON_DEMAND", now())?;
            Ok(json!({"KeyId": d.key_id}))
        }
        "ListKeyRotations" => {
            let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
            let rows: Vec<Value> = d
                .rotations
                .iter()
                .map(|(t, k)| json!({"KeyId": d.key_id, "RotationDate": t, "RotationType": k}))
                .collect();
            let (page, next) = paginate(&rows, i)?;
            Ok(page_out("Rotations", page, next))
        }
        "TagResource" => {
            let tags = kms_tags(i);
            mutate(kms, ctx, i, |d| {
                for (k, v) in tags {
                    match d.tags.iter_mut().find(|(ek, _)| *ek == k) {
                        Some(e) => e.1 = v,
                        None => d.tags.push((k, v)),
                    }
                }
                if d.tags.len() > 50 {
                    return Err(err(
                        "TagException",
                        "Too many tags: a key can have at most 50.",
                    ));
                }
                Ok(())
            })?;
            Ok(json!({}))
        }
        "UntagResource" => {
            let keys: Vec<String> = list(i, "TagKeys")
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            mutate(kms, ctx, i, |d| {
                d.tags.retain(|(k, _)| !keys.contains(k));
                Ok(())
            })?;
            Ok(json!({}))
        }
        "ListResourceTags" => {
            let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
            let rows: Vec<Value> = d
                .tags
                .iter()
                .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
                .collect();
            let (page, next) = paginate(&rows, i)?;
            Ok(page_out("Tags", page, next))
        }
        "CreateAlias" => create_alias(kms, ctx, i),
        "UpdateAlias" => update_alias(kms, ctx, i),
        "DeleteAlias" => delete_alias(kms, ctx, i),
        "ListAliases" => list_aliases(kms, ctx, i),
        "Encrypt" => encrypt(kms, ctx, i),
        "Decrypt" => decrypt(kms, ctx, i),
        "ReEncrypt" => re_encrypt(kms, ctx, i),
        "GenerateDataKey" => generate_data_key(kms, ctx, i, true),
        "GenerateDataKeyWithoutPlaintext" => generate_data_key(kms, ctx, i, false),
        "GenerateDataKeyPair" => generate_data_key_pair(kms, ctx, i, true),
        "GenerateDataKeyPairWithoutPlaintext" => generate_data_key_pair(kms, ctx, i, false),
        "GenerateRandom" => {
            if let Some(store) = s(i, "CustomKeyStoreId") {
                return Err(no_custom_key_store(store));
            }
            let n = int(i, "NumberOfBytes").unwrap_or(0);
            if !(1..=1024).contains(&n) {
                return Err(validation(format!("1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024")));
            }
            Ok(json!({"Plaintext": b64(&ironsage_crypto::random_vec(n as usize))}))
        }
        "Sign" => sign(kms, ctx, i),
        "Verify" => verify(kms, ctx, i),
        "GetPublicKey" => get_public_key(kms, ctx, i),
        "GenerateMac" | "VerifyMac" => mac(kms, ctx, op, i),
        "CreateGrant" => create_grant(kms, ctx, i),
        "ListGrants" => list_grants(kms, ctx, i),
        "RevokeGrant" => {
            let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
            let id = req(i, "GrantId")?.to_string();
            delete_grant(kms, &d, &id)?;
            Ok(json!({}))
        }
        "RetireGrant" => {
            let g = match (s(i, "KeyId"), s(i, "GrantId")) {
                (Some(_), Some(id)) => {
                    let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
                    let scope = d.scope();
                    kms.get::<Grant>(GRANT, &scope, id)?
                        .filter(|g| g.key_id == d.key_id)
                        .ok_or_else(|| not_found(format!("Grant ID {id} not found")))?
                }
                _ => find_grant_by_token(kms, ctx, req(i, "GrantToken")?)?,
            };
            let d = kms.key_doc(&ctx.caller.account, ctx.region, &g.key_id)?;
            delete_grant(kms, &d, &g.grant_id)?;
            Ok(json!({}))
        }
        "ListRetirableGrants" => {
            let who = req(i, "RetiringPrincipal")?;
            let rows: Vec<Value> = kms
                .all::<Grant>(GRANT, &scope(ctx), None)?
                .iter()
                .filter(|g| g.retiring.as_deref() == Some(who))
                .map(grant_value)
                .collect();
            let (page, next) = paginate(&rows, i)?;
            Ok(page_out("Grants", page, next))
        }
        _ => Err(AwsError::new(
            "NotImplemented",
            format!("The operation {op} is not implemented by ironsage yet."),
            501,
        )),
    }
}

// ---------------------------------------------------------------- helpers

fn resolve(kms: &Kms, ctx: &Ctx<'_>, i: &Value, accept: Accept) -> Result<Arc<KeyDoc>, AwsError> {
    kms.resolve_doc(&ctx.caller.account, ctx.region, req(i, "KeyId")?, accept)
}

/// Applies `f` to the key named by `KeyId` inside one transaction.
fn mutate(
    kms: &Kms,
    ctx: &Ctx<'_>,
    i: &Value,
    f: impl FnOnce(&mut KeyDoc) -> Result<(), AwsError>,
) -> Result<KeyDoc, AwsError> {
    let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
    if d.key_manager == "AWS" {
        return Err(err(
            "NotAuthorizedException",
            format!("{} is an AWS managed key: it cannot be modified.", d.arn),
        ));
    }
    let scope = d.scope();
    kms.write(|tx| {
        let mut cur: KeyDoc = tget(tx, KEY, &scope, &d.key_id)?
            .ok_or_else(|| not_found(format!("Key '{}' does not exist", d.arn)))?;
        f(&mut cur)?;
        tput(tx, KEY, &scope, &cur.key_id, None, &cur)?;
        Ok(cur)
    })
}

fn rotatable(d: &KeyDoc) -> Result<(), AwsError> {
    if d.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(err(
            "UnsupportedOperationException",
            format!("{} does not support automatic key rotation: only symmetric encryption keys can be rotated.", d.arn),
        ));
    }
    if d.state == "Disabled" {
        return Err(err("DisabledException", format!("{} is disabled.", d.arn)));
    }
    if d.state == "PendingDeletion" {
        return Err(invalid_state(format!("{} is pending deletion.", d.arn)));
    }
    Ok(())
}

fn policy_name(i: &Value) -> Result<(), AwsError> {
    match s(i, "PolicyName") {
        None | Some("default") => Ok(()),
        Some(other) => Err(not_found(format!("No such policy exists: {other}"))),
    }
}

fn kms_tags(i: &Value) -> Vec<(String, String)> {
    list(i, "Tags")
        .iter()
        .filter_map(|t| {
            Some((
                s(t, "TagKey")?.to_string(),
                s(t, "TagValue").unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// `Limit` (1..=1000, default 100) / `Marker` pagination over rows.
fn paginate(rows: &[Value], i: &Value) -> Result<(Vec<Value>, Option<String>), AwsError> {
    let limit = int(i, "Limit").unwrap_or(100).clamp(1, 1000) as usize;
    let start = match s(i, "Marker") {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= rows.len())
            .ok_or_else(|| err("InvalidMarkerException", "Invalid marker"))?,
        None => 0,
    };
    let page: Vec<Value> = rows.iter().skip(start).take(limit).cloned().collect();
    let next = (start + page.len() < rows.len()).then(|| (start + page.len()).to_string());
    Ok((page, next))
}

fn page_out(member: &str, page: Vec<Value>, next: Option<String>) -> Value {
    let mut out = Map::new();
    out.insert(member.into(), Value::Array(page));
    out.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        out.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(out)
}

fn encryption_algorithms(d: &KeyDoc) -> Option<Vec<&'static str>> {
    match (d.key_usage.as_str(), d.key_spec.as_str()) {
        ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT") => Some(vec!["SYMMETRIC_DEFAULT"]),
        ("ENCRYPT_DECRYPT", _) => Some(vec!["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]),
        _ => None,
    }
}

fn signing_algorithms(d: &KeyDoc) -> Option<Vec<&'static str>> {
    if d.key_usage != "SIGN_VERIFY" {
        return None;
    }
    Some(match d.key_spec.as_str() {
        "ECC_NIST_P256" => vec!["ECDSA_SHA_256"],
        "ECC_NIST_P384" => vec!["ECDSA_SHA_384"],
        _ => vec![
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
        ],
    })
}

/// `KeyMetadata` as AWS returns it.
pub(crate) fn metadata(d: &KeyDoc) -> Value {
    let mut m = json!({
        "AWSAccountId": d.account,
        "KeyId": d.key_id,
        "Arn": d.arn,
        "CreationDate": d.created,
        "Enabled": d.enabled,
        "Description": d.description,
        "KeyUsage": d.key_usage,
        "KeyState": d.state,
        "Origin": d.origin,
        "KeyManager": d.key_manager,
        "CustomerMasterKeySpec": d.key_spec,
        "KeySpec": d.key_spec,
        "MultiRegion": false,
    });
    if let Some(a) = encryption_algorithms(d) {
        m["EncryptionAlgorithms"] = json!(a);
    }
    if let Some(a) = signing_algorithms(d) {
        m["SigningAlgorithms"] = json!(a);
    }
    if d.key_usage == "GENERATE_VERIFY_MAC" {
        m["MacAlgorithms"] = json!(["HMAC_SHA_256"]);
    }
    if let Some(t) = d.deletion_date {
        m["DeletionDate"] = json!(t);
    }
    m
}

fn asym_spec(spec: &str) -> Option<AsymSpec> {
    Some(match spec {
        "RSA_2048" => AsymSpec::Rsa2048,
        "RSA_3072" => AsymSpec::Rsa3072,
        "RSA_4096" => AsymSpec::Rsa4096,
        "ECC_NIST_P256" => AsymSpec::EccP256,
        "ECC_NIST_P384" => AsymSpec::EccP384,
        _ => return None,
    })
}

fn signing_alg(name: &str) -> Option<SigningAlg> {
    Some(match name {
        "RSASSA_PSS_SHA_256" => SigningAlg::RsaPssSha256,
        "RSASSA_PSS_SHA_384" => SigningAlg::RsaPssSha384,
        "RSASSA_PSS_SHA_512" => SigningAlg::RsaPssSha512,
        "RSASSA_PKCS1_V1_5_SHA_256" => SigningAlg::RsaPkcs1Sha256,
        "RSASSA_PKCS1_V1_5_SHA_384" => SigningAlg::RsaPkcs1Sha384,
        "RSASSA_PKCS1_V1_5_SHA_512" => SigningAlg::RsaPkcs1Sha512,
        "ECDSA_SHA_256" => SigningAlg::EcdsaSha256,
        "ECDSA_SHA_384" => SigningAlg::EcdsaSha384,
        _ => return None,
    })
}

fn parse_key_policy(text: &str) -> Result<Arc<Policy>, AwsError> {
    Policy::parse(text, PolicyKind::KeyPolicy)
        .map(Arc::new)
        .map_err(|e| err("MalformedPolicyDocumentException", e.message))
}

// ---------------------------------------------------------------- keys

fn create_key(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let acct = ctx.caller.account.clone();
    let region = ctx.region.to_string();
    let spec = s(i, "KeySpec")
        .or(s(i, "CustomerMasterKeySpec"))
        .unwrap_or("SYMMETRIC_DEFAULT")
        .to_string();
    let usage_given = s(i, "KeyUsage");
    let usage = usage_given.unwrap_or("ENCRYPT_DECRYPT").to_string();
    if s(i, "KeySpec").is_some() && s(i, "CustomerMasterKeySpec").is_some() {
        return Err(validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
        ));
    }
    if let Some(store) = s(i, "CustomKeyStoreId") {
        return Err(no_custom_key_store(store));
    }
    if let Some(o) = s(i, "Origin") {
        if o != "AWS_KMS" {
            return Err(err(
                "UnsupportedOperationException",
                format!("ironsage supports only Origin AWS_KMS, not {o}."),
            ));
        }
    }
    if boolean(i, "MultiRegion") == Some(true) {
        return Err(err(
            "UnsupportedOperationException",
            "ironsage does not support multi-Region keys.",
        ));
    }
    let ok = match spec.as_str() {
        "SYMMETRIC_DEFAULT" => usage == "ENCRYPT_DECRYPT",
        "RSA_2048" | "RSA_3072" | "RSA_4096" => {
            usage == "ENCRYPT_DECRYPT" || usage == "SIGN_VERIFY"
        }
        "ECC_NIST_P256" | "ECC_NIST_P384" => usage == "SIGN_VERIFY",
        "HMAC_256" => usage == "GENERATE_VERIFY_MAC",
        other => {
            return Err(err(
                "UnsupportedOperationException",
                format!("ironsage does not support KeySpec {other}."),
            ))
        }
    };
    if !ok {
        return Err(validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        )));
    }
    let policy = match s(i, "Policy") {
        Some(p) => {
            parse_key_policy(p)?;
            p.to_string()
        }
        None => default_key_policy(&acct),
    };
    let key_id = new_key_id();
    let arn = format!("arn:aws:kms:{region}:{acct}:key/{key_id}");
    let material: ironsage_crypto::Zeroizing<Vec<u8>> = match spec.as_str() {
        "SYMMETRIC_DEFAULT" | "HMAC_256" => {
            ironsage_crypto::Zeroizing::new(ironsage_crypto::random_vec(32))
        }
        other => {
            let a = asym_spec(other).ok_or_else(|| kms_internal("spec"))?;
            ironsage_crypto::generate_asymmetric(a)
                .map_err(|e| kms_internal(format!("key generation failed: {e}")))?
        }
    };
    let t = now();
    let d = KeyDoc {
        key_id: key_id.clone(),
        arn: arn.clone(),
        account: acct.clone(),
        region: region.clone(),
        created: t,
        enabled: true,
        state: "Enabled".into(),
        description: s(i, "Description").unwrap_or_default().to_string(),
        key_usage: usage,
        key_spec: spec,
        key_manager: "CUSTOMER".into(),
        origin: "AWS_KMS".into(),
        policy,
        deletion_date: None,
        pending_window: None,
        rotation_period: None,
        next_rotation: None,
        rotations: Vec::new(),
        materials: vec![Material {
            version: 1,
            wrapped: kms.wrap_material(&arn, 1, &material),
            created: t,
        }],
        tags: kms_tags(i),
    };
    let sc = d.scope();
    kms.write(|tx| tput(tx, KEY, &sc, &key_id, None, &d))?;
    Ok(json!({"KeyMetadata": metadata(&d)}))
}

fn list_keys(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let rows: Vec<Value> = kms
        .all::<KeyDoc>(KEY, &scope(ctx), None)?
        .iter()
        .filter(|d| !super::is_deleted(d))
        .map(|d| json!({"KeyId": d.key_id, "KeyArn": d.arn}))
        .collect();
    let (page, next) = paginate(&rows, i)?;
    Ok(page_out("Keys", page, next))
}

fn put_key_policy(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    policy_name(i)?;
    let text = req(i, "Policy")?.to_string();
    parse_key_policy(&text)?;
    mutate(kms, ctx, i, |d| {
        d.policy = text;
        Ok(())
    })?;
    Ok(json!({}))
}

fn schedule_deletion(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let days = int(i, "PendingWindowInDays").unwrap_or(30);
    if !(7..=30).contains(&days) {
        return Err(validation(format!("1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30")));
    }
    let when = now() + days * 86_400;
    let d = mutate(kms, ctx, i, |d| {
        if d.state == "PendingDeletion" {
            return Err(invalid_state(format!("{} is pending deletion.", d.arn)));
        }
        d.state = "PendingDeletion".into();
        d.enabled = false;
        d.deletion_date = Some(when);
        d.pending_window = Some(days);
        Ok(())
    })?;
    Ok(json!({
        "KeyId": d.arn,
        "DeletionDate": when,
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days,
    }))
}

// ---------------------------------------------------------------- aliases

fn check_alias_name(name: &str) -> Result<(), AwsError> {
    if !name.starts_with("alias/") || name.len() <= 6 {
        return Err(validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ));
    }
    if name.starts_with("alias/aws/") {
        return Err(err(
            "NotAuthorizedException",
            "Cannot create, update or delete an alias with the reserved prefix alias/aws/.",
        ));
    }
    Ok(())
}

fn alias_target_doc(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Arc<KeyDoc>, AwsError> {
    let d = kms.resolve_doc(
        &ctx.caller.account,
        ctx.region,
        req(i, "TargetKeyId")?,
        Accept::KeyOnly,
    )?;
    if d.account != ctx.caller.account || d.region != ctx.region {
        return Err(validation(
            "An alias must point to a key in the same account and Region.",
        ));
    }
    if d.key_manager == "AWS" {
        return Err(err(
            "NotAuthorizedException",
            format!(
                "{} is an AWS managed key: aliases cannot point to it.",
                d.arn
            ),
        ));
    }
    if d.state == "PendingDeletion" {
        return Err(invalid_state(format!("{} is pending deletion.", d.arn)));
    }
    Ok(d)
}

fn create_alias(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = req(i, "AliasName")?.to_string();
    check_alias_name(&name)?;
    let d = alias_target_doc(kms, ctx, i)?;
    let sc = scope(ctx);
    let arn = format!("arn:aws:kms:{}:{}:{name}", ctx.region, ctx.caller.account);
    let t = now();
    kms.write(|tx| {
        if tget::<AliasDoc>(tx, ALIAS, &sc, &name)?.is_some() {
            return Err(err(
                "AlreadyExistsException",
                format!("An alias with the name {arn} already exists"),
            ));
        }
        tput(
            tx,
            ALIAS,
            &sc,
            &name,
            Some(&d.key_id),
            &AliasDoc {
                name: name.clone(),
                target: d.key_id.clone(),
                created: t,
                updated: t,
            },
        )
    })?;
    Ok(json!({}))
}

fn update_alias(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = req(i, "AliasName")?.to_string();
    check_alias_name(&name)?;
    let d = alias_target_doc(kms, ctx, i)?;
    let sc = scope(ctx);
    let arn = format!("arn:aws:kms:{}:{}:{name}", ctx.region, ctx.caller.account);
    kms.write(|tx| {
        let mut a: AliasDoc = tget(tx, ALIAS, &sc, &name)?
            .ok_or_else(|| not_found(format!("Alias {arn} is not found.")))?;
        if let Some(old) = tget::<KeyDoc>(tx, KEY, &sc, &a.target)? {
            if old.key_usage != d.key_usage
                || (old.key_spec == "SYMMETRIC_DEFAULT") != (d.key_spec == "SYMMETRIC_DEFAULT")
            {
                return Err(validation(format!(
                    "{} key usage or key type differs from the alias's current key {}.",
                    d.arn, old.arn
                )));
            }
        }
        a.target = d.key_id.clone();
        a.updated = now();
        tput(tx, ALIAS, &sc, &name, Some(&d.key_id), &a)
    })?;
    Ok(json!({}))
}

fn delete_alias(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = req(i, "AliasName")?.to_string();
    check_alias_name(&name)?;
    let sc = scope(ctx);
    let arn = format!("arn:aws:kms:{}:{}:{name}", ctx.region, ctx.caller.account);
    kms.write(|tx| {
        if !tx.delete(ALIAS, &sc, &name).map_err(crate::internal)? {
            return Err(not_found(format!("Alias {arn} is not found.")));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

fn list_aliases(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let acct = &ctx.caller.account;
    let region = ctx.region;
    let filter = match s(i, "KeyId") {
        Some(k) => Some(
            kms.resolve_doc(acct, region, k, Accept::KeyOnly)?
                .key_id
                .clone(),
        ),
        None => None,
    };
    let stored = kms.all::<AliasDoc>(ALIAS, &scope(ctx), None)?;
    let mut rows: Vec<(String, Value)> = stored
        .iter()
        .filter(|a| filter.as_ref().is_none_or(|k| *k == a.target))
        .map(|a| {
            (
                a.name.clone(),
                json!({
                    "AliasName": a.name,
                    "AliasArn": format!("arn:aws:kms:{region}:{acct}:{}", a.name),
                    "TargetKeyId": a.target,
                    "CreationDate": a.created,
                    "LastUpdatedDate": a.updated,
                }),
            )
        })
        .collect();
    // AWS lists the AWS-managed aliases even before their keys exist.
    if filter.is_none() {
        for (svc, _) in super::AWS_MANAGED {
            let name = format!("alias/aws/{svc}");
            if !stored.iter().any(|a| a.name == name) {
                rows.push((
                    name.clone(),
                    json!({
                        "AliasName": name,
                        "AliasArn": format!("arn:aws:kms:{region}:{acct}:{name}"),
                    }),
                ));
            }
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<Value> = rows.into_iter().map(|(_, v)| v).collect();
    let (page, next) = paginate(&rows, i)?;
    Ok(page_out("Aliases", page, next))
}

// ---------------------------------------------------------------- crypto

/// No custom key stores (CloudHSM, external) exist here: one named is not
/// found, rather than ignored.
fn no_custom_key_store(id: &str) -> AwsError {
    err(
        "CustomKeyStoreNotFoundException",
        format!("Custom key store {id} does not exist: ironsage has no custom key stores."),
    )
}

fn usage_error(d: &KeyDoc, op: &str) -> AwsError {
    err(
        "InvalidKeyUsageException",
        format!(
            "{} key usage is {} (key spec {}): it cannot be used for {op}.",
            d.arn, d.key_usage, d.key_spec
        ),
    )
}

fn oaep(d: &KeyDoc, alg: Option<&str>) -> Result<OaepHash, AwsError> {
    match alg {
        Some("RSAES_OAEP_SHA_1") => Ok(OaepHash::Sha1),
        Some("RSAES_OAEP_SHA_256") => Ok(OaepHash::Sha256),
        _ => Err(usage_error(d, "this encryption algorithm")),
    }
}

fn encrypt(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let d = resolve(kms, ctx, i, Accept::AliasToo)?;
    let pt = ironsage_crypto::Zeroizing::new(blob_in(i, "Plaintext")?);
    if d.key_usage != "ENCRYPT_DECRYPT" {
        return Err(usage_error(&d, "Encrypt"));
    }
    let alg = s(i, "EncryptionAlgorithm").unwrap_or("SYMMETRIC_DEFAULT");
    let blob = if d.key_spec == "SYMMETRIC_DEFAULT" {
        if alg != "SYMMETRIC_DEFAULT" {
            return Err(usage_error(&d, alg));
        }
        let c = context_pairs(i.get("EncryptionContext"));
        kms.seal_with(&d, &pt, &c)?
    } else {
        Kms::check_usable(&d)?;
        let h = oaep(&d, s(i, "EncryptionAlgorithm"))?;
        let m = kms.material(&d, 1)?;
        ironsage_crypto::rsa_oaep_encrypt(&m, h, &pt)
            .map_err(|e| validation(format!("Plaintext cannot be encrypted: {e}")))?
    };
    Ok(json!({"CiphertextBlob": b64(&blob), "KeyId": d.arn, "EncryptionAlgorithm": alg}))
}

/// A decryption's key, plaintext and algorithm.
type Decrypted = (Arc<KeyDoc>, ironsage_crypto::Zeroizing<Vec<u8>>, String);

/// Decrypts with the key named by `key_member` or, for symmetric blobs, the
/// key the blob names; `IncorrectKeyException` if they differ.
fn decrypt_blob(
    kms: &Kms,
    ctx: &Ctx<'_>,
    i: &Value,
    key_member: &str,
    ctx_member: &str,
    alg: Option<&str>,
) -> Result<Decrypted, AwsError> {
    let blob = blob_in(i, "CiphertextBlob")?;
    let acct = &ctx.caller.account;
    let named = match s(i, key_member) {
        Some(k) => Some(kms.resolve_doc(acct, ctx.region, k, Accept::AliasToo)?),
        None => None,
    };
    if let Some(d) = named.as_ref().filter(|d| d.key_spec != "SYMMETRIC_DEFAULT") {
        if d.key_usage != "ENCRYPT_DECRYPT" {
            return Err(usage_error(d, "Decrypt"));
        }
        Kms::check_usable(d)?;
        let h = oaep(d, alg)?;
        let m = kms.material(d, 1)?;
        let pt =
            ironsage_crypto::rsa_oaep_decrypt(&m, h, &blob).map_err(|_| invalid_ciphertext())?;
        return Ok((Arc::clone(d), pt, alg.unwrap_or_default().to_string()));
    }
    if alg.is_some_and(|a| a != "SYMMETRIC_DEFAULT") {
        return Err(invalid_ciphertext());
    }
    let d = kms.blob_key_doc(acct, ctx.region, &blob)?;
    if let Some(n) = &named {
        if n.key_id != d.key_id || n.account != d.account {
            return Err(err(
                "IncorrectKeyException",
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ));
        }
    }
    let c = context_pairs(i.get(ctx_member));
    let pt = ironsage_crypto::Zeroizing::new(kms.open_with(&d, &blob, &c)?);
    Ok((d, pt, "SYMMETRIC_DEFAULT".into()))
}

fn decrypt(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let (d, pt, alg) = decrypt_blob(
        kms,
        ctx,
        i,
        "KeyId",
        "EncryptionContext",
        s(i, "EncryptionAlgorithm"),
    )?;
    Ok(json!({"KeyId": d.arn, "Plaintext": b64(&pt), "EncryptionAlgorithm": alg}))
}

fn re_encrypt(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let (src, pt, src_alg) = decrypt_blob(
        kms,
        ctx,
        i,
        "SourceKeyId",
        "SourceEncryptionContext",
        s(i, "SourceEncryptionAlgorithm"),
    )?;
    let dst = kms.resolve_doc(
        &ctx.caller.account,
        ctx.region,
        req(i, "DestinationKeyId")?,
        Accept::AliasToo,
    )?;
    if dst.key_usage != "ENCRYPT_DECRYPT" {
        return Err(usage_error(&dst, "ReEncrypt"));
    }
    let dst_alg = s(i, "DestinationEncryptionAlgorithm").unwrap_or("SYMMETRIC_DEFAULT");
    let blob = if dst.key_spec == "SYMMETRIC_DEFAULT" {
        let c = context_pairs(i.get("DestinationEncryptionContext"));
        kms.seal_with(&dst, &pt, &c)?
    } else {
        Kms::check_usable(&dst)?;
        let h = oaep(&dst, Some(dst_alg))?;
        let m = kms.material(&dst, 1)?;
        ironsage_crypto::rsa_oaep_encrypt(&m, h, &pt)
            .map_err(|e| validation(format!("Plaintext cannot be encrypted: {e}")))?
    };
    Ok(json!({
        "CiphertextBlob": b64(&blob),
        "SourceKeyId": src.arn,
        "KeyId": dst.arn,
        "SourceEncryptionAlgorithm": src_alg,
        "DestinationEncryptionAlgorithm": dst_alg,
    }))
}

fn generate_data_key(
    kms: &Kms,
    ctx: &Ctx<'_>,
    i: &Value,
    plaintext: bool,
) -> Result<Value, AwsError> {
    let d = resolve(kms, ctx, i, Accept::AliasToo)?;
    let n = match (s(i, "KeySpec"), int(i, "NumberOfBytes")) {
        (Some(_), Some(_)) => {
            return Err(validation(
                "Please specify either number of bytes or key spec, not both.",
            ))
        }
        (Some("AES_256"), None) => 32,
        (Some("AES_128"), None) => 16,
        (Some(other), None) => return Err(validation(format!("Unsupported KeySpec {other}."))),
        (None, Some(n)) if (1..=1024).contains(&n) => n as usize,
        (None, Some(n)) => {
            return Err(validation(format!("1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024")))
        }
        (None, None) => return Err(validation("Please specify either number of bytes or key spec.")),
    };
    if d.key_spec != "SYMMETRIC_DEFAULT" || d.key_usage != "ENCRYPT_DECRYPT" {
        return Err(usage_error(&d, "GenerateDataKey"));
    }
    let dk = ironsage_crypto::Zeroizing::new(ironsage_crypto::random_vec(n));
    let c = context_pairs(i.get("EncryptionContext"));
    let blob = kms.seal_with(&d, &dk, &c)?;
    let mut out = json!({"CiphertextBlob": b64(&blob), "KeyId": d.arn});
    if plaintext {
        out["Plaintext"] = json!(b64(&dk));
    }
    Ok(out)
}

/// A new asymmetric key pair for the caller's own use: the private key
/// (PKCS #8 DER) encrypted under a symmetric KMS key, the public key
/// (X.509 SubjectPublicKeyInfo DER) in the clear, and the private key in
/// the clear too unless `WithoutPlaintext`.
fn generate_data_key_pair(
    kms: &Kms,
    ctx: &Ctx<'_>,
    i: &Value,
    plaintext: bool,
) -> Result<Value, AwsError> {
    let op = if plaintext {
        "GenerateDataKeyPair"
    } else {
        "GenerateDataKeyPairWithoutPlaintext"
    };
    let d = resolve(kms, ctx, i, Accept::AliasToo)?;
    let name = req(i, "KeyPairSpec")?;
    let spec = asym_spec(name).ok_or_else(|| {
        err(
            "UnsupportedOperationException",
            format!("ironsage generates data key pairs of RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256 and ECC_NIST_P384, not {name}."),
        )
    })?;
    if i.get("Recipient").is_some() {
        return Err(err(
            "UnsupportedOperationException",
            "ironsage has no Nitro Enclaves: a Recipient attestation cannot be honoured.",
        ));
    }
    if d.key_spec != "SYMMETRIC_DEFAULT" || d.key_usage != "ENCRYPT_DECRYPT" {
        return Err(usage_error(&d, op));
    }
    Kms::check_usable(&d)?;
    let private = ironsage_crypto::generate_asymmetric(spec)
        .map_err(|e| kms_internal(format!("key generation failed: {e}")))?;
    let public = ironsage_crypto::public_key_der(spec, &private)
        .map_err(|e| kms_internal(format!("public key export failed: {e}")))?;
    let c = context_pairs(i.get("EncryptionContext"));
    let blob = kms.seal_with(&d, &private, &c)?;
    let mut out = json!({
        "PrivateKeyCiphertextBlob": b64(&blob),
        "PublicKey": b64(&public),
        "KeyId": d.arn,
        "KeyPairSpec": name,
    });
    if plaintext {
        out["PrivateKeyPlaintext"] = json!(b64(&private));
    }
    Ok(out)
}

fn asym_doc(
    kms: &Kms,
    ctx: &Ctx<'_>,
    i: &Value,
    usage: &str,
    op: &str,
) -> Result<(Arc<KeyDoc>, AsymSpec), AwsError> {
    let d = resolve(kms, ctx, i, Accept::AliasToo)?;
    let spec = asym_spec(&d.key_spec).ok_or_else(|| usage_error(&d, op))?;
    if d.key_usage != usage && usage != "*" {
        return Err(usage_error(&d, op));
    }
    Kms::check_usable(&d)?;
    Ok((d, spec))
}

fn sign_args(d: &KeyDoc, i: &Value) -> Result<(SigningAlg, String, Vec<u8>, bool), AwsError> {
    let name = req(i, "SigningAlgorithm")?.to_string();
    let alg = signing_alg(&name)
        .filter(|a| asym_spec(&d.key_spec).is_some_and(|sp| a.fits(sp)))
        .ok_or_else(|| usage_error(d, &name))?;
    let msg = blob_in(i, "Message")?;
    let digest = s(i, "MessageType") == Some("DIGEST");
    Ok((alg, name, msg, digest))
}

fn sign(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let (d, spec) = asym_doc(kms, ctx, i, "SIGN_VERIFY", "Sign")?;
    let (alg, name, msg, digest) = sign_args(&d, i)?;
    let m = kms.material(&d, 1)?;
    let sig = if digest {
        ironsage_crypto::sign_digest(spec, &m, alg, &msg)
    } else {
        ironsage_crypto::sign(spec, &m, alg, &msg)
    }
    .map_err(|e| validation(format!("Message cannot be signed: {e}")))?;
    Ok(json!({"KeyId": d.arn, "Signature": b64(&sig), "SigningAlgorithm": name}))
}

fn verify(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let (d, spec) = asym_doc(kms, ctx, i, "SIGN_VERIFY", "Verify")?;
    let (alg, name, msg, digest) = sign_args(&d, i)?;
    let sig = blob_in(i, "Signature")?;
    let m = kms.material(&d, 1)?;
    let ok = if digest {
        ironsage_crypto::verify_digest(spec, &m, alg, &msg, &sig)
    } else {
        ironsage_crypto::verify(spec, &m, alg, &msg, &sig)
    }
    .map_err(|e| validation(format!("Signature cannot be verified: {e}")))?;
    if !ok {
        return Err(err("KMSInvalidSignatureException", ""));
    }
    Ok(json!({"KeyId": d.arn, "SignatureValid": true, "SigningAlgorithm": name}))
}

fn get_public_key(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let (d, spec) = asym_doc(kms, ctx, i, "*", "GetPublicKey")?;
    let m = kms.material(&d, 1)?;
    let der = ironsage_crypto::public_key_der(spec, &m)
        .map_err(|e| kms_internal(format!("public key export failed: {e}")))?;
    let mut out = json!({
        "KeyId": d.arn,
        "PublicKey": b64(&der),
        "CustomerMasterKeySpec": d.key_spec,
        "KeySpec": d.key_spec,
        "KeyUsage": d.key_usage,
    });
    if let Some(a) = encryption_algorithms(&d) {
        out["EncryptionAlgorithms"] = json!(a);
    }
    if let Some(a) = signing_algorithms(&d) {
        out["SigningAlgorithms"] = json!(a);
    }
    Ok(out)
}

fn mac(kms: &Kms, ctx: &Ctx<'_>, op: &str, i: &Value) -> Result<Value, AwsError> {
    let d = resolve(kms, ctx, i, Accept::AliasToo)?;
    if d.key_usage != "GENERATE_VERIFY_MAC" {
        return Err(usage_error(&d, op));
    }
    Kms::check_usable(&d)?;
    let alg = req(i, "MacAlgorithm")?;
    if alg != "HMAC_SHA_256" {
        return Err(usage_error(&d, alg));
    }
    let msg = blob_in(i, "Message")?;
    let m = kms.material(&d, 1)?;
    if op == "GenerateMac" {
        let tag = ironsage_crypto::hmac_sha256(&m, &msg);
        return Ok(json!({"Mac": b64(&tag), "MacAlgorithm": alg, "KeyId": d.arn}));
    }
    let tag = blob_in(i, "Mac")?;
    if !ironsage_crypto::hmac_verify(&m, &msg, &tag) {
        return Err(err("KMSInvalidMacException", ""));
    }
    Ok(json!({"KeyId": d.arn, "MacValid": true, "MacAlgorithm": alg}))
}

// ---------------------------------------------------------------- grants

fn grant_value(g: &Grant) -> Value {
    let mut v = json!({
        "KeyId": g.key_arn,
        "GrantId": g.grant_id,
        "CreationDate": g.created,
        "GranteePrincipal": g.grantee,
        "IssuingAccount": format!("arn:aws:iam::{}:root", g.issuing_account),
        "Operations": g.operations,
    });
    if let Some(n) = &g.name {
        v["Name"] = json!(n);
    }
    if let Some(r) = &g.retiring {
        v["RetiringPrincipal"] = json!(r);
    }
    if let Some(c) = &g.constraints {
        v["Constraints"] = c.clone();
    }
    v
}

fn create_grant(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
    if d.state == "PendingDeletion" {
        return Err(invalid_state(format!("{} is pending deletion.", d.arn)));
    }
    let operations: Vec<String> = list(i, "Operations")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if operations.is_empty() {
        return Err(validation("Operations must name at least one operation."));
    }
    let grantee = req(i, "GranteePrincipal")?.to_string();
    let name = s(i, "Name").map(str::to_string);
    let retiring = s(i, "RetiringPrincipal").map(str::to_string);
    let constraints = i.get("Constraints").cloned();
    if boolean(i, "DryRun") == Some(true) {
        return Err(err(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        ));
    }
    let sc = d.scope();
    let existing = kms.all::<Grant>(GRANT, &sc, Some(&d.key_id))?;
    // CreateGrant is idempotent on the same name and parameters.
    if let Some(g) = existing.iter().find(|g| {
        name.is_some()
            && g.name == name
            && g.grantee == grantee
            && g.operations == operations
            && g.retiring == retiring
            && g.constraints == constraints
    }) {
        return Ok(json!({"GrantToken": g.token, "GrantId": g.grant_id}));
    }
    let grant_id: String = ironsage_crypto::random_bytes::<32>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let token = b64(&ironsage_crypto::random_vec(48));
    let g = Grant {
        grant_id: grant_id.clone(),
        token: token.clone(),
        key_id: d.key_id.clone(),
        key_arn: d.arn.clone(),
        name,
        grantee,
        retiring,
        operations,
        constraints,
        issuing_account: ctx.caller.account.clone(),
        created: now(),
    };
    kms.write(|tx| tput(tx, GRANT, &sc, &grant_id, Some(&d.key_id), &g))?;
    Ok(json!({"GrantToken": token, "GrantId": grant_id}))
}

fn list_grants(kms: &Kms, ctx: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let d = resolve(kms, ctx, i, Accept::KeyOnly)?;
    let rows: Vec<Value> = kms
        .all::<Grant>(GRANT, &d.scope(), Some(&d.key_id))?
        .iter()
        .filter(|g| s(i, "GrantId").is_none_or(|id| id == g.grant_id))
        .filter(|g| s(i, "GranteePrincipal").is_none_or(|p| p == g.grantee))
        .map(grant_value)
        .collect();
    let (page, next) = paginate(&rows, i)?;
    Ok(page_out("Grants", page, next))
}

fn find_grant_by_token(kms: &Kms, ctx: &Ctx<'_>, token: &str) -> Result<Grant, AwsError> {
    kms.all::<Grant>(GRANT, &scope(ctx), None)?
        .into_iter()
        .find(|g| ironsage_crypto::ct_eq(g.token.as_bytes(), token.as_bytes()))
        .ok_or_else(|| err("InvalidGrantTokenException", "Invalid grant token."))
}

fn delete_grant(kms: &Kms, d: &KeyDoc, id: &str) -> Result<(), AwsError> {
    let sc = d.scope();
    kms.write(|tx| {
        let g: Option<Grant> = tget(tx, GRANT, &sc, id)?;
        match g {
            Some(g) if g.key_id == d.key_id => {
                tx.delete(GRANT, &sc, id).map_err(crate::internal)?;
                Ok(())
            }
            _ => Err(not_found(format!("Grant ID {id} not found"))),
        }
    })
}
