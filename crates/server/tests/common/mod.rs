//! The black-box harness shared by the server's integration tests: a real server on a free
//! port with a fresh data directory, driven over real HTTP (zero-to-production's
//! `spawn_app`).
//!
//! Every server gets the same business (`TOKEN`, `WABA`, `PHONE`, `APP`); [`Options`] changes
//! what a test needs changed (the number's throughput, synchronous failures, top-level TOML,
//! the app's webhook URL, TOML for more accounts), and [`seed_other_business`] puts a second
//! business in the store before the server starts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openwaba_server::app::{start, Running};
use openwaba_server::config::Config;
use openwaba_store::{AccessToken, Business, PhoneNumber, SqliteStore, Store, Waba, Write};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

pub const TOKEN: &str = "test-token";
pub const ADMIN: &str = "admin";
pub const BUSINESS: &str = "100000000000001";
pub const PHONE: &str = "300000000000001";
pub const WABA: &str = "200000000000001";
pub const APP: &str = "400000000000001";
pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const BUSINESS_NUMBER: &str = "15550001111";
/// The customer most tests talk to.
pub const USER: &str = "5511987650001";

/// The business [`seed_other_business`] adds: its WABA, number and (optional) token.
pub const OTHER_BUSINESS: &str = "900";
pub const OTHER_WABA: &str = "901";
pub const OTHER_PHONE: &str = "902";
pub const OTHER_TOKEN: &str = "other-token";

/// What a test changes in the shared configuration.
#[derive(Clone, Debug)]
pub struct Options {
    /// Extra top-level TOML (clock, delays, …).
    top: String,
    /// The app's webhook URL.
    callback_url: Option<String>,
    /// `PHONE`'s `throughput_mps` (1000 unless a test is about the limit).
    throughput_mps: u32,
    /// `PHONE`'s `sync_failures`.
    sync_failures: bool,
    /// TOML appended to the configuration (e.g. a second `[[business.wabas.phone_numbers]]`).
    more_toml: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            top: String::new(),
            callback_url: None,
            throughput_mps: 1000,
            sync_failures: false,
            more_toml: String::new(),
        }
    }
}

impl Options {
    /// Adds top-level TOML (e.g. `clock = "virtual"`).
    pub fn top(mut self, toml: &str) -> Self {
        self.top = toml.to_owned();
        self
    }

    pub fn callback_url(mut self, url: &str) -> Self {
        self.callback_url = Some(url.to_owned());
        self
    }

    pub fn throughput_mps(mut self, mps: u32) -> Self {
        self.throughput_mps = mps;
        self
    }

    pub fn sync_failures(mut self, on: bool) -> Self {
        self.sync_failures = on;
        self
    }

    /// Appends TOML after the business's configuration.
    pub fn more_toml(mut self, toml: &str) -> Self {
        self.more_toml = toml.to_owned();
        self
    }

    fn config(&self, dir: &std::path::Path) -> Config {
        let Self {
            top,
            callback_url,
            throughput_mps,
            sync_failures,
            more_toml,
        } = self;
        let callback = callback_url
            .as_ref()
            .map(|u| format!("callback_url = \"{u}\""))
            .unwrap_or_default();
        let text = format!(
            r#"
listen = "127.0.0.1:0"
data_dir = "{}"
admin_token = "{ADMIN}"
{top}
[business]
id = "{BUSINESS}"
name = "Shop"
access_tokens = ["{TOKEN}"]
[[business.wabas]]
id = "{WABA}"
timezone = "America/Sao_Paulo"
[[business.wabas.phone_numbers]]
id = "{PHONE}"
number = "{BUSINESS_NUMBER}"
throughput_mps = {throughput_mps}
sync_failures = {sync_failures}
[[business.apps]]
id = "{APP}"
app_secret = "{APP_SECRET}"
verify_token = "{VERIFY_TOKEN}"
{callback}
{more_toml}
"#,
            dir.display()
        );
        Config::from_toml(&text).unwrap()
    }

    /// A server on a fresh data directory.
    pub async fn spawn(self) -> TestApp {
        self.spawn_in(tempfile::tempdir().unwrap()).await
    }

    /// A server on `dir`, which may already hold data (see [`seed_other_business`]).
    pub async fn spawn_in(self, dir: tempfile::TempDir) -> TestApp {
        let running = start(&self.config(dir.path())).await.unwrap();
        TestApp {
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            running: Some(running),
            dir,
            options: self,
        }
    }
}

/// A server with the shared configuration.
pub async fn spawn_app() -> TestApp {
    Options::default().spawn().await
}

/// A server with `top` added to its TOML config (e.g. `clock = "virtual"`) and the app's
/// webhook URL.
pub async fn spawn_app_with(top: &str, callback_url: Option<&str>) -> TestApp {
    let mut options = Options::default().top(top);
    if let Some(url) = callback_url {
        options = options.callback_url(url);
    }
    options.spawn().await
}

/// Writes a second business straight into the store at `dir` (before a server starts on
/// it): `OTHER_BUSINESS` with `OTHER_WABA` and `OTHER_PHONE`, and `token` if given.
pub async fn seed_other_business(dir: &std::path::Path, token: Option<&str>) {
    let s = SqliteStore::open(dir).unwrap();
    let mut writes = vec![
        Write::Business(Business {
            id: OTHER_BUSINESS.into(),
            name: "Other".into(),
        }),
        Write::Waba(Box::new(Waba {
            id: OTHER_WABA.into(),
            business_id: OTHER_BUSINESS.into(),
            name: "W".into(),
            timezone: "UTC".into(),
            currency: "USD".into(),
            consent_mode: "enforce".into(),
        })),
        Write::PhoneNumber(Box::new(PhoneNumber {
            id: OTHER_PHONE.into(),
            waba_id: OTHER_WABA.into(),
            number: "15550002222".into(),
            verified_name: "X".into(),
            quality_rating: "GREEN".into(),
            messaging_limit_tier: "TIER_1K".into(),
            throughput_mps: 80,
            sync_failures: false,
            registered: true,
        })),
    ];
    if let Some(t) = token {
        writes.push(Write::Token(AccessToken {
            token: t.into(),
            business_id: OTHER_BUSINESS.into(),
        }));
    }
    s.commit(writes).await.unwrap();
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    options: Options,
}

impl TestApp {
    /// Stops the server (finishing requests in flight) and starts it again on the same data
    /// with the same configuration.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let running = start(&self.options.config(self.dir.path())).await.unwrap();
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    /// Stops the server, finishing requests in flight.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// Any call: status and JSON body (`Null` if the body is not JSON). Without `body` the
    /// request has none.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.send(method, path, token, body).await;
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// A Graph call with the business's token.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, TOKEN, Some(body)).await
    }

    /// [`Self::post`], with the response's headers (e.g. `Retry-After`).
    pub async fn post_with_headers(&self, path: &str, body: Value) -> (u16, Value, HeaderMap) {
        let r = self.send(Method::POST, path, TOKEN, Some(body)).await;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap_or(Value::Null), headers)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, TOKEN, None).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, TOKEN, None).await
    }

    /// An admin or simulator call.
    pub async fn admin(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, ADMIN, Some(body)).await
    }

    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, ADMIN, None).await
    }

    /// `user` writes to `PHONE` (the admin shortcut), opening the customer service window.
    pub async fn user_writes(&self, user: &str) {
        let (s, _) = self
            .admin(
                &format!("/_admin/phone_numbers/{PHONE}/inbound"),
                json!({"from": user}),
            )
            .await;
        assert_eq!(s, 200);
    }

    /// How `user`'s simulated phone behaves from now on (`POST /_sim/users/{user}`: receipts,
    /// their delays, reachability, name).
    pub async fn phone_behaves(&self, user: &str, behaviour: Value) {
        let (s, v) = self.admin(&format!("/_sim/users/{user}"), behaviour).await;
        assert_eq!(s, 200, "{v}");
    }

    /// The stored record of a sent message.
    pub fn stored(&self, id: &str) -> openwaba_store::MessageRecord {
        self.running
            .as_ref()
            .unwrap()
            .state
            .message(id)
            .unwrap()
            .expect("stored")
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

/// The `name` of each entry of a list answer's `data` (templates, rate cards), in order.
#[track_caller]
pub fn names_in_data(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array in {page}"))
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect()
}

/// `body` is a Graph error with `code`, a message, a type and a trace id.
#[track_caller]
pub fn assert_graph_error(body: &Value, code: u64) {
    let e = &body["error"];
    assert_eq!(e["code"], code, "{body}");
    assert!(e["message"].as_str().unwrap().len() > 3, "{body}");
    assert!(e["type"].is_string(), "{body}");
    assert!(
        e["fbtrace_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
}

/// A virtual, frozen clock at `start`: time moves only when the test moves it.
pub async fn frozen_app(start: &str, more_toml: &str) -> TestApp {
    frozen_app_with(Options::default(), start, more_toml).await
}

pub async fn frozen_app_with(options: Options, start: &str, more_toml: &str) -> TestApp {
    let app = options
        .top(&format!("clock = \"virtual\"\nclock_start = \"{start}\""))
        .more_toml(more_toml)
        .spawn()
        .await;
    let (s, v) = app.admin("/_admin/clock", json!({"freeze": true})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["frozen"], true);
    app
}

pub async fn clock_to(app: &TestApp, at: &str) {
    let (s, v) = app.admin("/_admin/clock", json!({"to": at})).await;
    assert_eq!(s, 200, "{v}");
}

/// Approved templates of the three categories.
pub async fn create_templates(app: &TestApp) {
    let templates = [
        json!({"name": "summer_sale", "language": "en_US", "category": "MARKETING",
               "components": [{"type": "BODY", "text": "Hi {{1}}, our summer sale starts today: 20% off everything in store!",
                               "example": {"body_text": [["Ana"]]}}]}),
        json!({"name": "order_shipped", "language": "en_US", "category": "UTILITY",
               "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.",
                               "example": {"body_text": [["Ana", "860198"]]}}]}),
        json!({"name": "login_code", "language": "en_US", "category": "AUTHENTICATION",
               "components": [{"type": "BODY", "add_security_recommendation": true},
                              {"type": "FOOTER", "code_expiration_minutes": 10},
                              {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code"}]}]}),
    ];
    for t in templates {
        let (s, v) = app
            .post(&format!("/v23.0/{WABA}/message_templates"), t)
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "APPROVED", "{v}");
    }
}

pub fn template_body(to: &str, category: &str) -> Value {
    let (name, components) = match category {
        "marketing" => (
            "summer_sale",
            json!([{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]),
        ),
        "utility" => (
            "order_shipped",
            json!([{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "860198"}]}]),
        ),
        _ => (
            "login_code",
            json!([{"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
                   {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "482913"}]}]),
        ),
    };
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
           "template": {"name": name, "language": {"code": "en_US"}, "components": components}})
}
