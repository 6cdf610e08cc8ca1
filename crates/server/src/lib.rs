//! The ironsage gateway: one port, every service.
//!
//! A request's path from socket to storage and back:
//! 1. [`serve`] accepts a connection (hyper, HTTP/1.1) and hands each request to
//!    [`gateway::handle`].
//! 2. `classify`: internal routes (`/_ironsage/*`), then the service — the
//!    SigV4 credential scope's signing name, narrowed by `X-Amz-Target`, and
//!    S3 virtual-host addressing rewritten to path style.
//! 3. `authenticate`: SigV4 (header or presigned) verified against the access
//!    key's secret from the credential registry; session tokens and expiry.
//! 4. `ironsage-wire` resolves the operation and parses/validates the input
//!    from the botocore model.
//! 5. `authorize` ([`authz`]): the service's targets (action, resource,
//!    resource policy) are evaluated by `ironsage-policy` against the caller's
//!    policies. Always on.
//! 6. The service handler runs (one store transaction per mutation) and the
//!    output is serialized per the protocol.

pub mod app;
pub mod authz;
pub mod endpoints;
pub mod gateway;
pub mod internal;
pub mod post;
pub mod stream;

pub use app::{App, Config};

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Binds the listener (so callers learn the real port before serving).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves connections on `listener` until the process ends, and a listener
/// per VPC endpoint on the same port (see [`endpoints`]).
pub async fn serve(app: Arc<App>, listener: TcpListener) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    tokio::spawn(endpoints::run(Arc::clone(&app), port));
    serve_with(app, listener, None).await
}

/// Serves connections on `listener`; requests are tagged with `arrival` (the
/// VPC endpoint they came through) when given.
pub async fn serve_with(
    app: Arc<App>,
    listener: TcpListener,
    arrival: Option<endpoints::Arrival>,
) -> std::io::Result<()> {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let arrival = arrival.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let app = Arc::clone(&app);
                if let Some(a) = &arrival {
                    req.extensions_mut().insert(a.clone());
                }
                async move { Ok::<_, std::convert::Infallible>(gateway::handle(app, req, peer).await) }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
