//! AWS::KMS::Key and AWS::KMS::Alias.

use serde_json::{json, Map, Value};

use super::{
    doc_text, ignore_missing, is_not_found, prop, req_prop, scalar, Created, PCtx, Provider,
};

pub(crate) struct Key;
pub(crate) struct Alias;

fn kms_tags(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect(),
    )
}

fn truthy(v: Option<&Value>) -> Option<bool> {
    v.map(|v| match v {
        Value::Bool(b) => *b,
        other => scalar(other).eq_ignore_ascii_case("true"),
    })
}

impl Provider for Key {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "Description",
            "EnableKeyRotation",
            "Enabled",
            "KeyPolicy",
            "KeySpec",
            "KeyUsage",
            "MultiRegion",
            "PendingWindowInDays",
            "Tags",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["KeySpec", "KeyUsage", "MultiRegion"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let mut input = json!({});
        if let Some(v) = p.get("KeyPolicy") {
            input["Policy"] = Value::String(doc_text(v));
        }
        for k in ["Description", "KeySpec", "KeyUsage"] {
            if let Some(v) = p.get(k) {
                input[k] = Value::String(scalar(v));
            }
        }
        if truthy(p.get("MultiRegion")) == Some(true) {
            input["MultiRegion"] = json!(true);
        }
        let tags = cx.merged_tags(p);
        if !tags.is_empty() {
            input["Tags"] = kms_tags(&tags);
        }
        let out = cx.call("kms", "CreateKey", input)?;
        let id = out
            .pointer("/KeyMetadata/KeyId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let arn = out
            .pointer("/KeyMetadata/Arn")
            .cloned()
            .unwrap_or(Value::Null);
        let rest = (|| {
            if truthy(p.get("EnableKeyRotation")) == Some(true) {
                cx.call("kms", "EnableKeyRotation", json!({"KeyId": id}))?;
            }
            if truthy(p.get("Enabled")) == Some(false) {
                cx.call("kms", "DisableKey", json!({"KeyId": id}))?;
            }
            Ok::<(), String>(())
        })();
        if let Err(e) = rest {
            let _ = cx.call(
                "kms",
                "ScheduleKeyDeletion",
                json!({"KeyId": id, "PendingWindowInDays": 7}),
            );
            return Err(e);
        }
        let mut attrs = Map::new();
        attrs.insert("Arn".into(), arn);
        attrs.insert("KeyId".into(), json!(id));
        Ok(Created {
            physical_id: id,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        if old.get("KeyPolicy") != new.get("KeyPolicy") {
            if let Some(v) = new.get("KeyPolicy") {
                cx.call(
                    "kms",
                    "PutKeyPolicy",
                    json!({"KeyId": id, "PolicyName": "default", "Policy": doc_text(v)}),
                )?;
            }
        }
        if old.get("Description") != new.get("Description") {
            let d = new.get("Description").map(scalar).unwrap_or_default();
            cx.call(
                "kms",
                "UpdateKeyDescription",
                json!({"KeyId": id, "Description": d}),
            )?;
        }
        let (o, n) = (
            truthy(old.get("EnableKeyRotation")).unwrap_or(false),
            truthy(new.get("EnableKeyRotation")).unwrap_or(false),
        );
        if o != n {
            let op = if n {
                "EnableKeyRotation"
            } else {
                "DisableKeyRotation"
            };
            cx.call("kms", op, json!({"KeyId": id}))?;
        }
        let (o, n) = (
            truthy(old.get("Enabled")).unwrap_or(true),
            truthy(new.get("Enabled")).unwrap_or(true),
        );
        if o != n {
            let op = if n { "EnableKey" } else { "DisableKey" };
            cx.call("kms", op, json!({"KeyId": id}))?;
        }
        if old.get("Tags") != new.get("Tags") {
            let tags = cx.merged_tags(new);
            let gone = cx.removed_tag_keys(old, &tags);
            if !gone.is_empty() {
                cx.call(
                    "kms",
                    "UntagResource",
                    json!({"KeyId": id, "TagKeys": gone}),
                )?;
            }
            if !tags.is_empty() {
                cx.call(
                    "kms",
                    "TagResource",
                    json!({"KeyId": id, "Tags": kms_tags(&tags)}),
                )?;
            }
        }
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        let days = p
            .get("PendingWindowInDays")
            .map(scalar)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(30);
        match cx.call(
            "kms",
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": days}),
        ) {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) || e.contains("is pending deletion") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Provider for Alias {
    fn properties(&self) -> &'static [&'static str] {
        &["AliasName", "TargetKeyId"]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["AliasName"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let name = req_prop(p, "AliasName")?;
        let target = req_prop(p, "TargetKeyId")?;
        cx.call(
            "kms",
            "CreateAlias",
            json!({"AliasName": name, "TargetKeyId": target}),
        )?;
        Ok(Created {
            physical_id: name,
            attrs: Map::new(),
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        new: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        let target = prop(new, "TargetKeyId").unwrap_or_default();
        cx.call(
            "kms",
            "UpdateAlias",
            json!({"AliasName": id, "TargetKeyId": target}),
        )?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("kms", "DeleteAlias", json!({"AliasName": id})))
    }
}
