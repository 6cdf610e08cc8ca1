//! VPC endpoints as network addresses: every endpoint EC2 knows gets a
//! listener on its own loopback IP (`ec2::endpoint_address`) and the server's
//! port. A request that arrives there carries an [`Arrival`] (as a request
//! extension), which the authorizer turns into `aws:SourceVpce` /
//! `aws:SourceVpc` and an evaluation of the endpoint's policy; a request that
//! arrives on the main address carries neither.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ironsage_services::ec2::endpoint_address;
use tokio::task::JoinHandle;

use crate::app::App;

/// How a request reached the server: through which VPC endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// `vpce-…`.
    pub vpce_id: String,
    /// The endpoint's VPC.
    pub vpc_id: String,
    /// The account that owns the endpoint.
    pub account: String,
    /// The endpoint's region.
    pub region: String,
}

/// How often the listener set is reconciled with EC2's endpoints.
const SYNC_EVERY: Duration = Duration::from_millis(200);

/// Keeps one listener per VPC endpoint, forever.
pub async fn run(app: Arc<App>, port: u16) {
    let mut live: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        sync(&app, port, &mut live).await;
        tokio::time::sleep(SYNC_EVERY).await;
    }
}

async fn sync(app: &Arc<App>, port: u16, live: &mut HashMap<String, JoinHandle<()>>) {
    let endpoints = match app.ec2.all_endpoints() {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot list VPC endpoints");
            return;
        }
    };
    let wanted: HashMap<String, Arrival> = endpoints
        .into_iter()
        .map(|(account, region, info)| {
            (
                info.id.clone(),
                Arrival {
                    vpce_id: info.id,
                    vpc_id: info.vpc_id,
                    account,
                    region,
                },
            )
        })
        .collect();
    live.retain(|id, task| {
        let keep = wanted.contains_key(id) && !task.is_finished();
        if !keep {
            task.abort();
        }
        keep
    });
    for (id, arrival) in wanted {
        if live.contains_key(&id) {
            continue;
        }
        let addr = SocketAddr::new(IpAddr::V4(endpoint_address(&id)), port);
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(endpoint = %id, %addr, "VPC endpoint listening");
                let app = Arc::clone(app);
                live.insert(
                    id,
                    tokio::spawn(async move {
                        let _ = crate::serve_with(app, listener, Some(arrival)).await;
                    }),
                );
            }
            Err(e) => {
                tracing::warn!(endpoint = %id, %addr, error = %e, "cannot listen for VPC endpoint")
            }
        }
    }
}

/// The `AWS_ENDPOINT_URL_<SERVICE>` variable for an endpoint service name
/// (`com.amazonaws.us-east-1.sagemaker.runtime` → `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`),
/// using the SDKs' service ids.
pub fn endpoint_env_var(service_name: &str) -> Option<String> {
    let mut parts = service_name.splitn(4, '.');
    let (_, _, _, svc) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let id = match svc {
        "sagemaker.api" => "SAGEMAKER",
        "sagemaker.runtime" => "SAGEMAKER_RUNTIME",
        "logs" => "CLOUDWATCH_LOGS",
        "monitoring" => "CLOUDWATCH",
        "ecr.api" => "ECR",
        "git-codecommit" | "codecommit" => "CODECOMMIT",
        "servicecatalog" => "SERVICE_CATALOG",
        "elasticfilesystem" => "EFS",
        "events" => "EVENTBRIDGE",
        other if !other.contains('.') => {
            return Some(format!(
                "AWS_ENDPOINT_URL_{}",
                other.to_ascii_uppercase().replace('-', "_")
            ))
        }
        _ => return None,
    };
    Some(format!("AWS_ENDPOINT_URL_{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars() {
        assert_eq!(
            endpoint_env_var("com.amazonaws.us-east-1.s3").as_deref(),
            Some("AWS_ENDPOINT_URL_S3")
        );
        assert_eq!(
            endpoint_env_var("com.amazonaws.us-east-1.sagemaker.runtime").as_deref(),
            Some("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
        );
        assert_eq!(
            endpoint_env_var("com.amazonaws.us-east-1.logs").as_deref(),
            Some("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        );
        assert_eq!(endpoint_env_var("nonsense"), None);
    }
}
