//! Accounts over Graph (registration, profile, pywa's webhook registration calls) and the
//! admin API that adds accounts at runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openwaba_server::app::{start, Running};
use openwaba_server::config::Config;
use serde_json::{json, Value};

const TOKEN: &str = "test-token";
const PHONE: &str = "300000000000001";
const WABA: &str = "200000000000001";
const APP: &str = "400000000000001";

struct TestApp {
    base: String,
    http: reqwest::Client,
    running: Option<Running>,
    _dir: tempfile::TempDir,
}

async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
listen = "127.0.0.1:0"
data_dir = "{}"
admin_token = "admin"
[business]
id = "100000000000001"
access_tokens = ["{TOKEN}"]
[[business.wabas]]
id = "{WABA}"
[[business.wabas.phone_numbers]]
id = "{PHONE}"
number = "15550001111"
[[business.apps]]
id = "{APP}"
app_secret = "s3cret"
verify_token = "vt"
"#,
        dir.path().display()
    );
    let running = start(&Config::from_toml(&text).unwrap()).await.unwrap();
    TestApp {
        base: format!("http://{}", running.addr),
        http: reqwest::Client::new(),
        running: Some(running),
        _dir: dir,
    }
}

impl TestApp {
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
}

#[tokio::test]
async fn register_deregister_and_sending_from_a_deregistered_number() {
    let app = spawn_app().await;
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            &format!("/v23.0/{PHONE}/register"),
            TOKEN,
            Some(json!({"messaging_product": "whatsapp", "pin": "12"})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], 100);
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            &format!("/v23.0/{PHONE}/deregister"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!((s, b.clone()), (200, json!({"success": true})), "{b}");
    let (_, b) = app
        .call(
            reqwest::Method::GET,
            &format!("/v23.0/{PHONE}?fields=status"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(b["status"], "PENDING");
    let send = json!({"messaging_product": "whatsapp", "to": "5511987650001", "type": "text", "text": {"body": "x"}});
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            &format!("/v23.0/{PHONE}/messages"),
            TOKEN,
            Some(send.clone()),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], 133_010);
    let (s, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/v23.0/{PHONE}/register"),
            TOKEN,
            Some(json!({"messaging_product": "whatsapp", "pin": "123456"})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/v23.0/{PHONE}/messages"),
            TOKEN,
            Some(send),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn business_profile_round_trip_with_limits() {
    let app = spawn_app().await;
    let path = format!("/v23.0/{PHONE}/whatsapp_business_profile");
    let (s, _) = app
        .call(reqwest::Method::POST, &path, TOKEN, Some(json!({"messaging_product": "whatsapp", "about": "Open 9-5", "websites": ["https://shop.example"], "vertical": "RETAIL"})))
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .call(
            reqwest::Method::GET,
            &format!("{path}?fields=about,websites,vertical"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["about"], "Open 9-5");
    assert_eq!(b["data"][0]["websites"][0], "https://shop.example");
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            &path,
            TOKEN,
            Some(json!({"messaging_product": "whatsapp", "about": "x".repeat(140)})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn pywa_webhook_registration_calls() {
    let app = spawn_app().await;
    // App token from the app's credentials, as pywa gets it.
    let r = app
        .http
        .get(format!("{}/oauth/access_token?grant_type=client_credentials&client_id={APP}&client_secret=s3cret", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let app_token = b["access_token"].as_str().unwrap().to_owned();
    assert_eq!(b["token_type"], "bearer");
    let r = app
        .http
        .get(format!("{}/oauth/access_token?grant_type=client_credentials&client_id={APP}&client_secret=wrong", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // pywa passes everything in the query, with the app token.
    let r = app
        .http
        .post(format!(
            "{}/v23.0/{APP}/subscriptions?object=whatsapp_business_account&callback_url=https%3A%2F%2Fbot.example%2Fwebhook&verify_token=vt2&fields=messages&access_token={app_token}",
            app.base
        ))
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
    let (s, b) = app
        .call(
            reqwest::Method::GET,
            &format!("/v23.0/{WABA}/subscribed_apps"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["whatsapp_business_api_data"]["id"], APP);
    assert_eq!(
        b["data"][0]["override_callback_uri"],
        "https://bot.example/webhook"
    );
    let (s, _) = app
        .call(reqwest::Method::POST, &format!("/v23.0/{WABA}/subscribed_apps"), TOKEN, Some(json!({"override_callback_uri": "https://other.example/hook", "verify_token": "vt3"})))
        .await;
    assert_eq!(s, 200);
    let (_, b) = app
        .call(
            reqwest::Method::GET,
            &format!("/v23.0/{WABA}/subscribed_apps"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(
        b["data"][0]["override_callback_uri"],
        "https://other.example/hook"
    );
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v23.0/{WABA}/subscribed_apps"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn admin_adds_accounts_at_runtime() {
    let app = spawn_app().await;
    let (s, _) = app
        .call(
            reqwest::Method::POST,
            "/_admin/businesses",
            "not-admin",
            Some(json!({"name": "B2"})),
        )
        .await;
    assert_eq!(s, 401);
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            "/_admin/businesses",
            "admin",
            Some(json!({"name": "B2"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (bid, tok) = (
        b["id"].as_str().unwrap().to_owned(),
        b["access_token"].as_str().unwrap().to_owned(),
    );
    let (_, b) = app
        .call(
            reqwest::Method::POST,
            "/_admin/wabas",
            "admin",
            Some(json!({"business_id": bid, "timezone": "Asia/Kolkata"})),
        )
        .await;
    let waba = b["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            "/_admin/wabas",
            "admin",
            Some(json!({"business_id": bid, "timezone": "Mars/Base"})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (_, b) = app
        .call(
            reqwest::Method::POST,
            "/_admin/phone_numbers",
            "admin",
            Some(json!({"waba_id": waba, "number": "919876500001"})),
        )
        .await;
    let phone = b["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .call(reqwest::Method::GET, &format!("/v23.0/{phone}"), &tok, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["display_phone_number"], "+919876500001");
    // The first business does not see the new one's number.
    let (s, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/v23.0/{phone}"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!(s, 400);
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            "/_admin/apps",
            "admin",
            Some(json!({"business_id": bid})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(b["app_secret"].as_str().unwrap().len() >= 16);
    let (s, b) = app
        .call(
            reqwest::Method::POST,
            "/_admin/access_tokens",
            "admin",
            Some(json!({"business_id": bid})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/v23.0/{waba}/phone_numbers"),
            b["access_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(s, 200);
    drop(app.running);
}
