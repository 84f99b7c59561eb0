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
        without_nagle(&stream);
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

/// Turns Nagle's algorithm off for an accepted connection: it holds back a small write
/// while an earlier one is unacknowledged, and the client's delayed acknowledgement
/// then holds it up to 40 ms. A socket that is written two frames in a row (a
/// `message.ack` and the event it stored, typing and a message) waited that long for
/// the second: the fan-out bench sending on the socket measured p99 45.8 ms against
/// 2.7 ms over HTTP. Frames are written whole, so nothing is gained by coalescing.
fn without_nagle(stream: &tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
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

#[cfg(test)]
mod tests {
    use super::without_nagle;
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn an_accepted_connection_writes_without_nagle() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let ((accepted, _), _client) =
            tokio::join!(async { listener.accept().await.unwrap() }, client);
        assert!(
            !accepted.nodelay().unwrap(),
            "the kernel's default is Nagle on"
        );
        without_nagle(&accepted);
        assert!(accepted.nodelay().unwrap());
    }
}
