//! The receiver of the webhook benchmark (bench/webhooks_load.sh): answers Meta's handshake,
//! then 200 at once to every POST, counting events by status. `GET /count` reports.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Default)]
struct Counts {
    posts: AtomicU64,
    sent: AtomicU64,
    delivered: AtomicU64,
    read: AtomicU64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(4989);
    let counts = Arc::new(Counts::default());
    let app = Router::new()
        .route(
            "/hook",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                q.get("hub.challenge").cloned().unwrap_or_default()
            })
            .post(
                |State(c): State<Arc<Counts>>, body: axum::body::Bytes| async move {
                    c.posts.fetch_add(1, Relaxed);
                    let b = &body[..];
                    let has = |s: &[u8]| b.windows(s.len()).any(|w| w == s);
                    if has(b"\"status\":\"sent\"") {
                        c.sent.fetch_add(1, Relaxed);
                    } else if has(b"\"status\":\"delivered\"") {
                        c.delivered.fetch_add(1, Relaxed);
                    } else if has(b"\"status\":\"read\"") {
                        c.read.fetch_add(1, Relaxed);
                    }
                    "ok"
                },
            ),
        )
        .route(
            "/count",
            get(|State(c): State<Arc<Counts>>| async move {
                Json(serde_json::json!({
                    "posts": c.posts.load(Relaxed), "sent": c.sent.load(Relaxed),
                    "delivered": c.delivered.load(Relaxed), "read": c.read.load(Relaxed),
                }))
            }),
        )
        .with_state(counts);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
