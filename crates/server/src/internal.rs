//! Service-to-service calls: one service acting on a caller's behalf
//! (CloudFormation providers, Service Catalog launches) goes through the same
//! validation and authorization as a request from the socket, with
//! `aws:CalledVia` / `aws:ViaAWSService` naming the calling service.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ironsage_services::{ids, AwsError, Caller, Ctx, Internal};
use serde_json::Value;

use crate::app::App;

/// The largest payload an internal call reads (CloudFormation's template
/// URL limit is 1 MB).
const MAX_INTERNAL_BODY: u64 = 1 << 20;

impl Internal for App {
    fn invoke(
        &self,
        caller: &Caller,
        region: &str,
        via: Option<&str>,
        service: &str,
        op: &str,
        input: Value,
    ) -> Result<Value, AwsError> {
        let info = ironsage_model::service_info(service).ok_or_else(|| {
            AwsError::new("InternalFailure", format!("unknown service {service}"), 500)
        })?;
        let svc = self
            .services
            .get(info.name)
            .cloned()
            .ok_or_else(|| AwsError::not_implemented(info.service_id, op))?;
        let request_id = ids::request_id();
        let now = time::OffsetDateTime::now_utc();
        let ctx = Ctx {
            caller,
            region,
            request_id: &request_id,
            now,
        };
        let mut targets = svc.targets(&ctx, op, &input)?;
        if let Some(via) = via {
            for t in &mut targets {
                t.context
                    .push(("aws:CalledVia".into(), vec![via.to_string()]));
                t.context
                    .push(("aws:CalledViaFirst".into(), vec![via.to_string()]));
                t.context
                    .push(("aws:CalledViaLast".into(), vec![via.to_string()]));
                t.context
                    .push(("aws:ViaAWSService".into(), vec!["true".into()]));
            }
        }
        let env = crate::authz::RequestEnv {
            // The calling service's own address: this machine.
            source_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            arrival: None,
            secure_transport: true,
            region,
            now,
        };
        crate::authz::authorize(self, info, caller, &targets, &env, &request_id)?;
        if !svc.streams() {
            return svc.call(&ctx, op, input);
        }
        // A streamed payload (S3 GetObject) comes back as base64 `Body`,
        // bounded: internal callers read templates and small documents.
        let reply = svc.call_stream(&ctx, op, input, None)?;
        let mut out = reply.output;
        if let Some(body) = reply.body {
            if body.length > MAX_INTERNAL_BODY {
                return Err(AwsError::new(
                    "ValidationError",
                    format!(
                        "The object is {} bytes; at most {MAX_INTERNAL_BODY} can be read here.",
                        body.length
                    ),
                    400,
                ));
            }
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(body.reader, MAX_INTERNAL_BODY + 1),
                &mut bytes,
            )
            .map_err(|e| {
                AwsError::new("InternalFailure", format!("reading the payload: {e}"), 500)
            })?;
            use base64::Engine;
            out["Body"] = Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        Ok(out)
    }
}

/// Binds `app` as the internal invoker of every service that needs one.
pub fn bind(app: &Arc<App>) {
    let weak: std::sync::Weak<dyn Internal> = {
        let strong: Arc<dyn Internal> = app.clone();
        Arc::downgrade(&strong)
    };
    app.internal.bind(weak);
}
