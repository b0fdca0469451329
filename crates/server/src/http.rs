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
/// connection's `Arc`, whose count only the thread serving the connection touches. Cloning
/// the server-wide `Arc<AppState>` and router for every request instead made both threads
/// add to and subtract from the same two counts at every request, moving their cache lines
/// between the cores.
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

/// The threads that serve connections. Each runs a single-threaded tokio runtime of its own
/// and keeps every connection it is handed, so a request is always polled on the thread
/// that read it, and so is its answer when its commit wakes it.
///
/// Why not the one multi-threaded runtime: there, a request woken by the store's writer
/// could be polled by either worker, and its connection's buffers and task then moved
/// between the cores. Measured (BENCHMARKS.md, sixteenth and seventeenth sessions):
/// per-thread runtimes served ~4-8% more sends a second (`bench/serve_ab.sh`: B/A medians
/// of 1.00 to 1.11 in six alternated runs on two boxes, 1.04 or more in five).
///
/// The acceptor stays on the main runtime with the background tasks (scheduler, webhooks)
/// and hands connections out round robin: one listening socket, so a second server cannot
/// silently share the port as it could with a listener per thread (`SO_REUSEPORT`).
pub struct Lanes {
    lanes: Vec<Lane>,
}

struct Lane {
    connections: tokio::sync::mpsc::UnboundedSender<std::net::TcpStream>,
    /// Fires when the thread has finished its connections, after `connections` is dropped.
    finished: tokio::sync::oneshot::Receiver<()>,
}

impl Lanes {
    /// Starts `threads` threads serving `st` and `router`. An error (a thread or runtime the
    /// system refused) is reported at start, not found later as a server that answers
    /// nothing.
    pub fn start(
        threads: std::num::NonZeroUsize,
        st: &Arc<AppState>,
        router: &axum::Router,
    ) -> std::io::Result<Lanes> {
        let mut lanes = Vec::with_capacity(threads.get());
        for _ in 0..threads.get() {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (connections, handed) = tokio::sync::mpsc::unbounded_channel();
            let (done, finished) = tokio::sync::oneshot::channel();
            let (st, router) = (st.clone(), router.clone());
            std::thread::Builder::new()
                .name("ow-http".into())
                .spawn(move || {
                    rt.block_on(serve_handed(handed, st, router));
                    // Tasks a request spawned and left running end with the runtime.
                    drop(rt);
                    let _ = done.send(());
                })?;
            lanes.push(Lane {
                connections,
                finished,
            });
        }
        Ok(Lanes { lanes })
    }
}

/// One thread's loop: serves each connection handed to it until the acceptor stops, then
/// lets the requests in flight finish.
async fn serve_handed(
    mut handed: tokio::sync::mpsc::UnboundedReceiver<std::net::TcpStream>,
    st: Arc<AppState>,
    router: axum::Router,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = hyper::server::conn::http1::Builder::new();
    while let Some(stream) = handed.recv().await {
        let stream = match tokio::net::TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "a connection could not be taken over");
                continue;
            }
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
    graceful.shutdown().await;
}

/// Accepts on `listener` and hands each connection to the next of `lanes` until `shutdown`
/// completes, then stops accepting and waits until every lane has let its requests in
/// flight finish (as `axum::serve(...).with_graceful_shutdown` does).
pub async fn serve(
    listener: tokio::net::TcpListener,
    lanes: Lanes,
    shutdown: impl Future<Output = ()>,
) {
    let Lanes { lanes } = lanes;
    let mut shutdown = std::pin::pin!(shutdown);
    let mut next = 0;
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
        // Out of this runtime's reactor, into the lane's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "a connection could not be handed over");
                continue;
            }
        };
        next = (next + 1) % lanes.len();
        if lanes[next].connections.send(stream).is_err() {
            tracing::error!("an HTTP thread has stopped; its connection was closed");
        }
    }
    drop(listener);
    // Closing every lane's channel first lets the threads finish their connections together.
    let (channels, finishing): (Vec<_>, Vec<_>) = lanes
        .into_iter()
        .map(|lane| (lane.connections, lane.finished))
        .unzip();
    drop(channels);
    for finished in finishing {
        let _ = finished.await;
    }
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
