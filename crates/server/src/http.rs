//! The HTTP server: hyper's HTTP/1.1 connections (what `axum::serve` offered with axum's
//! default features), graceful shutdown, and one decision per request: a send goes
//! straight to the Graph handler ([`crate::api::graph_call`]), anything else through the
//! axum router ([`crate::api::router`]).
//!
//! Why not `axum::serve` and the router for everything: measured with callgrind (BENCHMARKS.md,
//! eighth session), a hello-world behind `axum::serve` and a router costs 23.9k instructions
//! per request, the same answer from hyper's `service_fn` 12.8k: the router's per-request
//! machinery (its boxed, cloned services, the fallback, the layered futures) costs about
//! what hyper does for a whole request. A send is the one call worth the difference (the
//! API's throughput is sends), and the Graph handler already reads the whole request
//! itself, so sends skip the router; every other path keeps it.

use crate::api::{graph_call, BodyError};
use crate::app::AppState;
use axum::body::Body;
use axum::http::{Method, Request, Response};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use tower::ServiceExt as _;

/// Whether a request is a send: `POST /{phone-number-id}/messages`, with or without a
/// version. The router's own paths (`/_sim/messages`, …) start with `_`, Graph ids never do.
fn is_send(method: &Method, path: &str) -> bool {
    method == Method::POST
        && path
            .trim_end_matches('/')
            .rsplit_once('/')
            .is_some_and(|(head, last)| {
                last == "messages" && !head.is_empty() && !head.starts_with("/_")
            })
}

/// What a connection's requests are served with. Each request's future must own what it
/// uses (hyper's `Service::call` gives it no borrow), so it takes a clone of this
/// connection's `Arc`, whose count only the core running the connection touches. Cloning
/// the server-wide `Arc<AppState>` and router for every request instead made both tokio
/// workers add to and subtract from the same two counts at every request, moving their cache
/// lines between the cores.
struct Served {
    st: Arc<AppState>,
    router: axum::Router,
}

/// One request: a send to the Graph handler, anything else to the router.
async fn handle(served: &Served, req: Request<Incoming>) -> Response<Body> {
    if !is_send(req.method(), req.uri().path()) {
        return match served.router.clone().oneshot(req.map(Body::new)).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let (parts, body) = req.into_parts();
    // The router's `DefaultBodyLimit`, applied here as the router would.
    let body = http_body_util::Limited::new(body, crate::media::MAX_REQUEST_BYTES)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e as BodyError);
    graph_call(&served.st, parts, body).await
}

/// Serves `listener` until `shutdown` completes, then stops accepting and lets the requests
/// in flight finish (as `axum::serve(...).with_graceful_shutdown` does).
pub async fn serve(
    listener: tokio::net::TcpListener,
    st: Arc<AppState>,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper::server::conn::http1::Builder::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let served = Arc::new(Served {
            st: st.clone(),
            router: router.clone(),
        });
        let service = hyper::service::service_fn(move |req| {
            let served = served.clone();
            async move { Ok::<_, Infallible>(handle(&served, req).await) }
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// An error from `accept`: a connection that died before it was accepted is nothing; any
/// other (out of file descriptors, say) is logged and waited out, as `axum::serve` does.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str) -> bool {
        let uri: axum::http::Uri = uri.parse().unwrap();
        is_send(&method, uri.path())
    }

    #[test]
    fn only_graph_sends_skip_the_router() {
        assert!(request(Method::POST, "/v23.0/300000000000001/messages"));
        assert!(request(Method::POST, "/300000000000001/messages"));
        assert!(request(Method::POST, "/300000000000001/messages/"));
        assert!(request(
            Method::POST,
            "/v23.0/300000000000001/messages?access_token=t"
        ));
        assert!(!request(Method::GET, "/v23.0/300000000000001/messages"));
        assert!(!request(Method::POST, "/_sim/messages"));
        assert!(!request(Method::POST, "/messages"));
        assert!(!request(Method::POST, "/v23.0/300000000000001/media"));
        assert!(!request(Method::POST, "/_sim/messages/wamid.x/read"));
    }
}
