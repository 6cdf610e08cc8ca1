//! AWS::CloudFormation::Stack (nested stacks through this engine) and
//! AWS::CloudFormation::WaitConditionHandle.

use serde_json::{Map, Value};

use super::{req_prop, scalar, Created, PCtx, Provider};

pub(crate) struct Stack;
pub(crate) struct WaitConditionHandle;

fn params(p: &Value) -> Vec<(String, String)> {
    p.get("Parameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(","),
                        other => scalar(other),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn own_tags(cx: &PCtx<'_>, p: &Value) -> Vec<(String, String)> {
    cx.merged_tags(p)
}

impl Provider for Stack {
    fn properties(&self) -> &'static [&'static str] {
        &[
            "NotificationARNs",
            "Parameters",
            "Tags",
            "TemplateURL",
            "TimeoutInMinutes",
        ]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[]
    }
    fn create(&self, cx: &PCtx<'_>, p: &Value) -> Result<Created, String> {
        let url = req_prop(p, "TemplateURL")?;
        let (id, outputs) = cx
            .engine
            .run_child_create(cx, &url, params(p), own_tags(cx, p))?;
        Ok(Created {
            physical_id: id,
            attrs: outputs,
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
        let url = req_prop(new, "TemplateURL")?;
        let outputs = cx
            .engine
            .run_child_update(cx, id, &url, params(new), own_tags(cx, new))?;
        Ok(Created {
            physical_id: id.to_string(),
            attrs: outputs,
        })
    }
    fn delete(
        &self,
        cx: &PCtx<'_>,
        id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        cx.engine.run_child_delete(cx, id)
    }
}

impl Provider for WaitConditionHandle {
    fn properties(&self) -> &'static [&'static str] {
        &[]
    }
    fn create_only(&self) -> &'static [&'static str] {
        &[]
    }
    fn create(&self, cx: &PCtx<'_>, _p: &Value) -> Result<Created, String> {
        let enc = |s: &str| {
            s.replace(':', "%3A")
                .replace('/', "%2F")
                .replace('|', "%7C")
        };
        let url = format!(
            "https://cloudformation-waitcondition-{}.s3.amazonaws.com/{}%7C{}%7C{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86399",
            cx.region,
            enc(cx.stack_id),
            cx.logical_id,
            crate::ids::request_id()
        );
        Ok(Created {
            physical_id: url,
            attrs: Map::new(),
        })
    }
    fn update(
        &self,
        _cx: &PCtx<'_>,
        id: &str,
        _o: &Value,
        _n: &Value,
        a: &Map<String, Value>,
    ) -> Result<Created, String> {
        Ok(Created {
            physical_id: id.to_string(),
            attrs: a.clone(),
        })
    }
    fn delete(
        &self,
        _cx: &PCtx<'_>,
        _id: &str,
        _p: &Value,
        _a: &Map<String, Value>,
    ) -> Result<(), String> {
        Ok(())
    }
}
