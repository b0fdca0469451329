//! The baseline of the load test (bench/serve_load.sh): a bare axum server that answers
//! every POST with a small JSON body, on the same runtime settings as `openwaba serve`.

use axum::{routing::post, Json, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(4988);
    let app = Router::new().fallback(post(|_body: axum::body::Bytes| async {
        Json(serde_json::json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.x"}]}))
    }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
