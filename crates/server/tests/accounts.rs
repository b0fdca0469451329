//! Accounts over Graph (registration, profile, pywa's webhook registration calls) and the
//! admin API that adds accounts at runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn register_deregister_and_sending_from_a_deregistered_number() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/register"),
            json!({"messaging_product": "whatsapp", "pin": "12"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], 100);
    let (s, b) = app
        .call(
            Method::POST,
            &format!("/v23.0/{PHONE}/deregister"),
            TOKEN,
            None,
        )
        .await;
    assert_eq!((s, b.clone()), (200, json!({"success": true})), "{b}");
    let (_, b) = app.get(&format!("/v23.0/{PHONE}?fields=status")).await;
    assert_eq!(b["status"], "PENDING");
    let send = json!({"messaging_product": "whatsapp", "to": "5511987650001", "type": "text", "text": {"body": "x"}});
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), send.clone())
        .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], 133_010);
    let (s, _) = app
        .post(
            &format!("/v23.0/{PHONE}/register"),
            json!({"messaging_product": "whatsapp", "pin": "123456"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app.post(&format!("/v23.0/{PHONE}/messages"), send).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn business_profile_round_trip_with_limits() {
    let app = spawn_app().await;
    let path = format!("/v23.0/{PHONE}/whatsapp_business_profile");
    let (s, _) = app
        .post(&path, json!({"messaging_product": "whatsapp", "about": "Open 9-5", "websites": ["https://shop.example"], "vertical": "RETAIL"}))
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .get(&format!("{path}?fields=about,websites,vertical"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["about"], "Open 9-5");
    assert_eq!(b["data"][0]["websites"][0], "https://shop.example");
    let (s, b) = app
        .post(
            &path,
            json!({"messaging_product": "whatsapp", "about": "x".repeat(140)}),
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
        .get(format!("{}/oauth/access_token?grant_type=client_credentials&client_id={APP}&client_secret={APP_SECRET}", app.base))
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
    let (s, b) = app.get(&format!("/v23.0/{WABA}/subscribed_apps")).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["whatsapp_business_api_data"]["id"], APP);
    assert_eq!(
        b["data"][0]["override_callback_uri"],
        "https://bot.example/webhook"
    );
    let (s, _) = app
        .post(
            &format!("/v23.0/{WABA}/subscribed_apps"),
            json!({"override_callback_uri": "https://other.example/hook", "verify_token": "vt3"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, b) = app.get(&format!("/v23.0/{WABA}/subscribed_apps")).await;
    assert_eq!(
        b["data"][0]["override_callback_uri"],
        "https://other.example/hook"
    );
    let (s, _) = app.delete(&format!("/v23.0/{WABA}/subscribed_apps")).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn admin_adds_accounts_at_runtime() {
    let app = spawn_app().await;
    let (s, _) = app
        .call(
            Method::POST,
            "/_admin/businesses",
            "not-admin",
            Some(json!({"name": "B2"})),
        )
        .await;
    assert_eq!(s, 401);
    let (s, b) = app.admin("/_admin/businesses", json!({"name": "B2"})).await;
    assert_eq!(s, 200, "{b}");
    let (bid, tok) = (
        b["id"].as_str().unwrap().to_owned(),
        b["access_token"].as_str().unwrap().to_owned(),
    );
    let (_, b) = app
        .admin(
            "/_admin/wabas",
            json!({"business_id": bid, "timezone": "Asia/Kolkata"}),
        )
        .await;
    let waba = b["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .admin(
            "/_admin/wabas",
            json!({"business_id": bid, "timezone": "Mars/Base"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    // The same WABA again: a no-op; with another time zone: refused (its engine stays).
    let (s, b) = app
        .admin(
            "/_admin/wabas",
            json!({"id": waba, "business_id": bid, "timezone": "Asia/Kolkata"}),
        )
        .await;
    assert_eq!((s, b["id"].as_str()), (200, Some(waba.as_str())), "{b}");
    let (s, b) = app
        .admin(
            "/_admin/wabas",
            json!({"id": waba, "business_id": bid, "timezone": "UTC"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    assert_graph_error(&b, 100);
    assert!(
        b["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("Asia/Kolkata"),
        "{b}"
    );
    let (_, b) = app
        .admin(
            "/_admin/phone_numbers",
            json!({"waba_id": waba, "number": "919876500001"}),
        )
        .await;
    let phone = b["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .call(Method::GET, &format!("/v23.0/{phone}"), &tok, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["display_phone_number"], "+919876500001");
    // The first business does not see the new one's number.
    let (s, _) = app.get(&format!("/v23.0/{phone}")).await;
    assert_eq!(s, 400);
    let (s, b) = app.admin("/_admin/apps", json!({"business_id": bid})).await;
    assert_eq!(s, 200);
    assert!(b["app_secret"].as_str().unwrap().len() >= 16);
    let (s, b) = app
        .admin("/_admin/access_tokens", json!({"business_id": bid}))
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .call(
            Method::GET,
            &format!("/v23.0/{waba}/phone_numbers"),
            b["access_token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(s, 200);
    drop(app.running);
}
