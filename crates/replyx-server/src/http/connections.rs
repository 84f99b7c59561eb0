//! Accepting HTTP connections: HTTP/1.1 with upgrades (WebSockets), and a deadline for
//! each request's head. `axum::serve` has no timer, so a client could hold a connection
//! forever by sending half a request line; here hyper closes a connection whose request
//! line and headers have not all arrived within `REPLYX_HTTP_HEADER_TIMEOUT` (measured
//! from when the server starts waiting for them: a new connection, or the end of the
//! previous response on a kept-alive one). Bodies have their own deadline
//! (`body_deadline`). An upgraded socket has left hyper, so neither cuts it.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Serves `router` on `listener` until `stop` fires; then stops accepting, lets each
/// connection finish the request it is on (hyper's graceful shutdown) and returns once
/// every connection has ended.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    on_accept_error(e).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        // `ConnectInfo` as `into_make_service_with_connect_info` would insert it.
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
        let stop = stop.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                // Timeouts and clients going away mid-request: routine, not errors.
                tracing::debug!(error = %e, %peer, "http connection ended");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Errors of `accept` that concern one connection are skipped; others (out of file
/// descriptors) would repeat at once, so the loop pauses before accepting again, as
/// hyper's and axum's servers do.
async fn on_accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
