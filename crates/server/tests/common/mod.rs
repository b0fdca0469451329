//! The black-box harness shared by the server's integration tests: a real server on a free
//! port with a fresh data directory, driven over real HTTP (zero-to-production's
//! `spawn_app`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openwaba_server::app::{start, Running};
use openwaba_server::config::Config;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token";
pub const ADMIN: &str = "admin";
pub const PHONE: &str = "300000000000001";
pub const WABA: &str = "200000000000001";
pub const APP: &str = "400000000000001";
pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const BUSINESS_NUMBER: &str = "15550001111";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    /// Extra top-level TOML (clock, delays, …) and the app's webhook URL.
    top: String,
    callback_url: Option<String>,
}

fn config(dir: &std::path::Path, top: &str, callback_url: Option<&str>) -> Config {
    let callback = callback_url
        .map(|u| format!("callback_url = \"{u}\""))
        .unwrap_or_default();
    let text = format!(
        r#"
listen = "127.0.0.1:0"
data_dir = "{}"
admin_token = "{ADMIN}"
{top}
[business]
id = "100000000000001"
name = "Shop"
access_tokens = ["{TOKEN}"]
[[business.wabas]]
id = "{WABA}"
timezone = "America/Sao_Paulo"
[[business.wabas.phone_numbers]]
id = "{PHONE}"
number = "{BUSINESS_NUMBER}"
throughput_mps = 1000
[[business.apps]]
id = "{APP}"
app_secret = "{APP_SECRET}"
verify_token = "{VERIFY_TOKEN}"
{callback}
"#,
        dir.display()
    );
    Config::from_toml(&text).unwrap()
}

/// A server with `top` added to its TOML config (e.g. `clock = "virtual"`).
pub async fn spawn_app_with(top: &str, callback_url: Option<&str>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let running = start(&config(dir.path(), top, callback_url)).await.unwrap();
    TestApp {
        base: format!("http://{}", running.addr),
        http: reqwest::Client::new(),
        running: Some(running),
        dir,
        top: top.to_owned(),
        callback_url: callback_url.map(str::to_owned),
    }
}

impl TestApp {
    /// Stops the server (finishing requests in flight) and starts it again on the same data.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let running = start(&config(
            self.dir.path(),
            &self.top,
            self.callback_url.as_deref(),
        ))
        .await
        .unwrap();
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// A Graph call with the business's token.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, TOKEN, Some(body))
            .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, TOKEN, None).await
    }

    /// An admin or simulator call.
    pub async fn admin(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, ADMIN, Some(body))
            .await
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, ADMIN, None).await
    }

    /// Moves the virtual clock forward by a duration such as `25h`.
    pub async fn advance(&self, by: &str) -> Value {
        let (s, v) = self.admin("/_admin/clock", json!({"advance": by})).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    pub async fn now_ms(&self) -> i64 {
        let (s, v) = self.admin_get("/_admin/clock").await;
        assert_eq!(s, 200, "{v}");
        v["now_ms"].as_i64().unwrap()
    }
}

pub fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text", "text": {"body": body}})
}
