//! AWS::SSM::Parameter.

use serde_json::{json, Map, Value};

use super::{ignore_missing, prop, req_prop, scalar, Created, PCtx, Provider};

pub(crate) struct Parameter;

fn put_input(name: &str, p: &Value, overwrite: bool) -> Value {
    let mut input = json!({
        "Name": name,
        "Value": p.get("Value").map(scalar).unwrap_or_default(),
        "Type": prop(p, "Type").unwrap_or("String"),
    });
    for k in [
        "Description",
        "AllowedPattern",
        "Tier",
        "DataType",
        "Policies",
    ] {
        if let Some(v) = p.get(k) {
            input[k] = Value::String(scalar(v));
        }
    }
    if overwrite {
        input["Overwrite"] = json!(true);
    }
    input
}

impl Provider for Parameter {
    fn declared_id(&self, p: &Value) -> Option<String> {
        prop(p, "Name").map(str::to_string)
    }
    fn properties(&self) -> &'static [&'static str] {
        &[
            "AllowedPattern",
            "DataType",
            "Description",
            "Name",
            "Policies",
            "Tags",
            "Tier",
            "Type",
            "Value",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &["Name"]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        req_prop(p, "Value")?;
        req_prop(p, "Type")?;
        let name = match prop(p, "Name") {
            Some(n) => n.to_string(),
            None => super::gen_name("CFN", cx.logical_id, 128, false),
        };
        let mut input = put_input(&name, p, false);
        // Resource tags: the SSM Tags property is a map.
        let mut tags: Vec<(String, String)> = cx.tags.to_vec();
        if let Some(m) = p.get("Tags").and_then(Value::as_object) {
            for (k, v) in m {
                tags.retain(|(x, _)| x != k);
                tags.push((k.clone(), scalar(v)));
            }
        }
        if !tags.is_empty() {
            input["Tags"] = super::kv_tags(&tags);
        }
        cx.call("ssm", "PutParameter", input)?;
        let mut attrs = Map::new();
        attrs.insert("Type".into(), json!(prop(p, "Type").unwrap_or("String")));
        attrs.insert(
            "Value".into(),
            json!(p.get("Value").map(scalar).unwrap_or_default()),
        );
        Ok(Created {
            physical_id: name,
            attrs,
        })
    }
    fn update(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _old: &Value,
        new: &Value,
        _a: &Map<String, Value>,
    ) -> Result<Created, String> {
        cx.call("ssm", "PutParameter", put_input(id, new, true))?;
        let mut attrs = Map::new();
        attrs.insert("Type".into(), json!(prop(new, "Type").unwrap_or("String")));
        attrs.insert(
            "Value".into(),
            json!(new.get("Value").map(scalar).unwrap_or_default()),
        );
        Ok(Created {
            physical_id: id.to_string(),
            attrs,
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        ignore_missing(cx.call("ssm", "DeleteParameter", json!({"Name": id})))
    }
}
