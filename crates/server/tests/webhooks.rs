//! Webhooks end to end: a real receiver (axum on a free port) that answers Meta's handshake,
//! checks every signature and records every event, driven by the simulated customer and the
//! virtual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Receiver {
    events: Mutex<Vec<(std::time::Instant, Value)>>,
    bad_signatures: AtomicUsize,
    non_ascii: AtomicUsize,
    /// Answer 500 to this many POSTs first.
    fail_first: AtomicUsize,
    posts: AtomicUsize,
    handshakes: AtomicUsize,
    /// Refuse the handshake.
    never_verify: bool,
    secret: String,
}

async fn verify(
    State(r): State<Arc<Receiver>>,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    r.handshakes.fetch_add(1, Ordering::SeqCst);
    if !r.never_verify
        && q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && q.get("hub.verify_token").map(String::as_str) == Some(VERIFY_TOKEN)
    {
        (
            StatusCode::OK,
            q.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, "Forbidden".into())
    }
}

async fn event(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    r.posts.fetch_add(1, Ordering::SeqCst);
    let mut mac = Hmac::<Sha256>::new_from_slice(r.secret.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex(&mac.finalize().into_bytes()));
    if headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    if !body.is_ascii() {
        r.non_ascii.fetch_add(1, Ordering::SeqCst);
    }
    if r.fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    r.events
        .lock()
        .unwrap()
        .push((std::time::Instant::now(), v));
    StatusCode::OK
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn spawn_receiver(r: Receiver) -> (String, Arc<Receiver>) {
    let r = Arc::new(r);
    let app = axum::Router::new()
        .route("/hook", axum::routing::get(verify).post(event))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (format!("http://{addr}/hook"), r)
}

fn receiver() -> Receiver {
    Receiver {
        secret: APP_SECRET.into(),
        ..Receiver::default()
    }
}

/// The `value` of every recorded change of `field`.
fn values(r: &Receiver, field: &str) -> Vec<Value> {
    r.events
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, e)| e["entry"].as_array().cloned().unwrap_or_default())
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["field"] == field)
        .map(|c| c["value"].clone())
        .collect()
}

fn statuses(r: &Receiver) -> Vec<Value> {
    values(r, "messages")
        .into_iter()
        .flat_map(|v| v["statuses"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Adds an app of the business, at runtime, that takes only `messages` events at `url`.
async fn add_messages_app(app: &TestApp, url: &str) {
    let (s, b) = app
        .admin(
            "/_admin/apps",
            json!({"business_id": BUSINESS, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN,
                   "callback_url": url, "fields": "messages"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..300 {
        if ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn the_local_loop_inbound_statuses_window_and_free_entry_point() {
    let (url, rx) = spawn_receiver(receiver()).await;
    let app = spawn_app_with(
        "clock = \"virtual\"\nclock_start = \"2025-08-04T12:00:00Z\"",
        Some(&url),
    )
    .await;
    // Receipts only when the test says so (the clock is moved by hand).
    app.phone_behaves(
        USER,
        json!({"receipts": "auto", "delivered_after": "1s", "read_after": "2s", "name": "Lucía"}),
    )
    .await;

    // 1. The customer writes, with accents and an emoji.
    let (s, b) = app
        .admin(
            "/_sim/messages",
            json!({"from": USER, "text": "Olá! Quero o café ☕ 👍"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let inbound_id = b["messages"][0]["id"].as_str().unwrap().to_owned();
    wait_for("the inbound message", || {
        !values(&rx, "messages").is_empty()
    })
    .await;
    let v = &values(&rx, "messages")[0];
    assert_eq!(
        v["metadata"],
        json!({"display_phone_number": BUSINESS_NUMBER, "phone_number_id": PHONE})
    );
    assert_eq!(v["contacts"][0]["profile"], json!({"name": "Lucía"}));
    assert_eq!(v["contacts"][0]["wa_id"], USER);
    assert!(v["contacts"][0]["user_id"]
        .as_str()
        .unwrap()
        .starts_with("55."));
    assert_eq!(v["messages"][0]["text"]["body"], "Olá! Quero o café ☕ 👍");
    assert_eq!(v["messages"][0]["id"], inbound_id);
    assert_eq!(rx.handshakes.load(Ordering::SeqCst), 1);

    // 2. The bot answers with a reply button; sent, delivered, read follow on the clock.
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            json!({"messaging_product": "whatsapp", "to": USER, "type": "interactive",
            "biz_opaque_callback_data": "order-7",
            "interactive": {"type": "button", "body": {"text": "Confirmar?"},
              "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Sim"}}]}}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let bot_id = b["messages"][0]["id"].as_str().unwrap().to_owned();
    wait_for("sent", || statuses(&rx).len() == 1).await;
    app.advance("3s").await;
    wait_for("delivered and read", || statuses(&rx).len() == 3).await;
    let st = statuses(&rx);
    let kinds: Vec<&str> = st.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["sent", "delivered", "read"]);
    for s in &st {
        assert_eq!(s["id"], bot_id);
        assert_eq!(s["recipient_id"], USER);
        assert_eq!(s["biz_opaque_callback_data"], "order-7");
    }
    // PMP (2025), webhook v23.0: a free service message inside the window.
    assert_eq!(
        st[0]["pricing"],
        json!({"billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service"})
    );
    assert!(st[0]["conversation"]["expiration_timestamp"].is_string());
    assert_eq!(st[1]["pricing"], st[0]["pricing"]);
    assert!(st[1]["conversation"].get("expiration_timestamp").is_none());
    assert!(st[2].get("pricing").is_none() && st[2].get("conversation").is_none());

    // 3. The customer taps the button.
    let (s, _) = app
        .admin("/_sim/messages", json!({"from": USER, "type": "interactive", "context": {"id": bot_id},
            "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Sim"}}}))
        .await;
    assert_eq!(s, 200);
    wait_for("the tap", || {
        values(&rx, "messages")
            .iter()
            .filter(|v| v.get("messages").is_some())
            .count()
            == 2
    })
    .await;
    let tap = values(&rx, "messages")
        .into_iter()
        .filter(|v| v.get("messages").is_some())
        .nth(1)
        .unwrap();
    assert_eq!(
        tap["messages"][0]["context"],
        json!({"from": BUSINESS_NUMBER, "id": bot_id})
    );
    assert_eq!(
        tap["messages"][0]["interactive"]["button_reply"]["id"],
        "yes"
    );

    // 4–5. 25 hours later a free-form message is accepted, then fails with 131047.
    app.advance("25h").await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "Ainda aí?"))
        .await;
    assert_eq!(s, 200, "{b}");
    let late = b["messages"][0]["id"].as_str().unwrap().to_owned();
    wait_for("the failure", || {
        statuses(&rx).iter().any(|s| s["id"] == late)
    })
    .await;
    let failed = statuses(&rx).into_iter().find(|s| s["id"] == late).unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["errors"][0]["code"], 131047);
    assert_eq!(failed["errors"][0]["title"], "Re-engagement message");
    assert_eq!(failed["errors"][0]["error_data"]["details"], "Message failed to send because more than 24 hours have passed since the customer last replied to this number.");
    assert!(failed.get("pricing").is_none());

    // 7. A click-to-WhatsApp entry opens a free entry point: the reply is free.
    let (s, _) = app
        .admin("/_sim/messages", json!({"from": USER, "text": "Vi o anúncio", "referral": {"source_url": "https://fb.me/x", "source_id": "1", "source_type": "ad", "headline": "Café"}}))
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            text(USER, "Bem-vinda!"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let fep = b["messages"][0]["id"].as_str().unwrap().to_owned();
    wait_for("the FEP sent status", || {
        statuses(&rx).iter().any(|s| s["id"] == fep)
    })
    .await;
    let sent = statuses(&rx).into_iter().find(|s| s["id"] == fep).unwrap();
    assert_eq!(sent["pricing"]["type"], "free_entry_point", "{sent}");
    assert_eq!(
        sent["conversation"]["origin"]["type"],
        "referral_conversion"
    );

    // 8. Every event was signed right and ASCII-only.
    assert_eq!(rx.bad_signatures.load(Ordering::SeqCst), 0);
    assert_eq!(rx.non_ascii.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_failing_receiver_gets_everything_once_it_recovers_with_growing_spacing() {
    let mut r = receiver();
    r.fail_first = AtomicUsize::new(3);
    let (url, rx) = spawn_receiver(r).await;
    let app = spawn_app_with("clock = \"virtual\"", Some(&url)).await;
    for i in 0..3 {
        let (s, _) = app
            .admin(
                "/_sim/messages",
                json!({"from": USER, "text": format!("m{i}")}),
            )
            .await;
        assert_eq!(s, 200);
    }
    // Attempt 1 fails, attempt 2 (immediate) fails; then 15 s, 30 s apart (±20%).
    wait_for("two attempts", || rx.posts.load(Ordering::SeqCst) >= 2).await;
    let (_, list) = app.admin_get("/_admin/webhooks?state=pending").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3, "{list}");
    app.advance("20s").await;
    wait_for("a third attempt", || rx.posts.load(Ordering::SeqCst) >= 3).await;
    app.advance("40s").await;
    wait_for("all three delivered", || values(&rx, "messages").len() == 3).await;
    let bodies: Vec<String> = values(&rx, "messages")
        .iter()
        .map(|v| {
            v["messages"][0]["text"]["body"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(bodies, ["m0", "m1", "m2"], "in order, none lost");
    // The inspector shows the attempts of the first event with their growing gaps.
    // Outcomes are recorded just after each 200: wait until all three are.
    let mut list = Value::Null;
    for _ in 0..150 {
        list = app.admin_get("/_admin/webhooks?state=delivered").await.1;
        if list["data"].as_array().is_some_and(|d| d.len() == 3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let first = list["data"].as_array().unwrap().last().unwrap().clone();
    let attempts = first["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4, "{first}");
    assert_eq!(attempts[0]["status"], 500);
    assert_eq!(attempts[3]["status"], 200);
    let at: Vec<i64> = attempts.iter().map(|a| a["at"].as_i64().unwrap()).collect();
    assert!(
        at[1] - at[0] < 1_000,
        "the first retry is immediate: {at:?}"
    );
    assert!(at[2] - at[1] >= 12_000, "{at:?}");
    assert!(at[3] - at[2] > at[2] - at[1], "spacing grows: {at:?}");

    // Redelivery through the inspector posts it again.
    let id = first["id"].as_i64().unwrap();
    let before = rx.posts.load(Ordering::SeqCst);
    let (s, _) = app
        .admin(&format!("/_admin/webhooks/{id}/redeliver"), json!({}))
        .await;
    assert_eq!(s, 200);
    wait_for("the redelivery", || {
        rx.posts.load(Ordering::SeqCst) > before
    })
    .await;
}

#[tokio::test]
async fn an_endpoint_that_never_verifies_receives_nothing() {
    let mut r = receiver();
    r.never_verify = true;
    let (url, rx) = spawn_receiver(r).await;
    let app = spawn_app_with("", Some(&url)).await;
    let (s, _) = app
        .admin("/_sim/messages", json!({"from": USER, "text": "hi"}))
        .await;
    assert_eq!(s, 200);
    wait_for("a handshake", || rx.handshakes.load(Ordering::SeqCst) >= 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rx.posts.load(Ordering::SeqCst), 0);
    let (_, list) = app.admin_get("/_admin/webhooks?state=pending").await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "kept, not lost: {list}"
    );
}

#[tokio::test]
async fn a_wrong_app_secret_fails_the_receivers_check() {
    let mut r = receiver();
    r.secret = "another-secret".into();
    let (url, rx) = spawn_receiver(r).await;
    let app = spawn_app_with("", Some(&url)).await;
    app.admin("/_sim/messages", json!({"from": USER, "text": "hi"}))
        .await;
    wait_for("a refused post", || {
        rx.bad_signatures.load(Ordering::SeqCst) >= 1
    })
    .await;
    assert!(values(&rx, "messages").is_empty());
}

#[tokio::test]
async fn undelivered_events_survive_a_restart() {
    let mut r = receiver();
    r.fail_first = AtomicUsize::new(usize::MAX);
    let (url, rx) = spawn_receiver(r).await;
    let mut app = spawn_app_with("clock = \"virtual\"", Some(&url)).await;
    app.admin(
        "/_sim/messages",
        json!({"from": USER, "text": "before the crash"}),
    )
    .await;
    wait_for("a failed attempt", || rx.posts.load(Ordering::SeqCst) >= 1).await;
    app.restart().await;
    rx.fail_first.store(0, Ordering::SeqCst);
    app.advance("1h").await;
    wait_for("delivery after restart", || {
        values(&rx, "messages").len() == 1
    })
    .await;
    assert_eq!(
        values(&rx, "messages")[0]["messages"][0]["text"]["body"],
        "before the crash"
    );
}

/// A receipt's status events are written with it, in the store's outbox: the delivered and
/// read events of a message wait there while the app is down, and reach it after a restart.
#[tokio::test]
async fn receipt_status_events_are_durable_and_survive_a_restart() {
    let mut r = receiver();
    r.fail_first = AtomicUsize::new(usize::MAX);
    let (url, rx) = spawn_receiver(r).await;
    let mut app = spawn_app_with("clock = \"virtual\"", Some(&url)).await;
    app.admin("/_sim/messages", json!({"from": USER, "text": "oi"}))
        .await;
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            json!({"messaging_product": "whatsapp", "to": USER, "type": "text",
              "text": {"body": "olá"}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["messages"][0]["id"].as_str().unwrap().to_owned();
    app.advance("3s").await;
    // The inbound message, then sent, delivered and read, all in the outbox.
    let mut pending = 0;
    for _ in 0..150 {
        let (_, list) = app.admin_get("/_admin/webhooks?state=pending").await;
        pending = list["data"].as_array().map_or(0, Vec::len);
        if pending == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(pending, 4);
    app.restart().await;
    rx.fail_first.store(0, Ordering::SeqCst);
    app.advance("1h").await;
    wait_for("the statuses after restart", || statuses(&rx).len() == 3).await;
    let st = statuses(&rx);
    let kinds: Vec<&str> = st.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["sent", "delivered", "read"]);
    assert!(st.iter().all(|s| s["id"] == id));
}

#[tokio::test]
async fn template_review_and_marketing_stop_reach_the_app() {
    let (url, rx) = spawn_receiver(receiver()).await;
    let app = spawn_app_with("", Some(&url)).await;
    let (s, b) = app
        .post(
            &format!("/v23.0/{WABA}/message_templates"),
            json!({"name": "promo", "language": "pt_BR", "category": "marketing",
            "components": [{"type": "BODY", "text": "Promoção de café ☕ hoje!"}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id: u64 = b["id"].as_str().unwrap().parse().unwrap();
    app.admin(
        &format!("/_sim/users/{USER}/marketing"),
        json!({"action": "stop"}),
    )
    .await;
    wait_for("two events", || rx.events.lock().unwrap().len() == 2).await;
    let t = &values(&rx, "message_template_status_update")[0];
    assert_eq!(t["event"], "APPROVED");
    assert_eq!(t["message_template_id"], id);
    assert_eq!(t["message_template_name"], "promo");
    assert!(
        t.get("metadata").is_none(),
        "template updates carry no metadata"
    );
    let p = &values(&rx, "user_preferences")[0];
    assert_eq!(p["user_preferences"][0]["value"], "stop");
    assert_eq!(p["metadata"]["phone_number_id"], PHONE);
}

/// The status payloads of a 2023 CBP marketing conversation and a 2024 free service
/// conversation, field by field against the shapes in pricing-rules.md §5.
#[tokio::test]
async fn cbp_2023_and_service_2024_status_payloads() {
    for (start, expect_pricing, origin) in [
        (
            "2023-06-05T12:00:00Z",
            json!({"billable": true, "pricing_model": "CBP", "category": "marketing"}),
            "marketing",
        ),
        (
            "2024-11-05T12:00:00Z",
            json!({"billable": false, "pricing_model": "CBP", "category": "service"}),
            "service",
        ),
    ] {
        let (url, rx) = spawn_receiver(receiver()).await;
        let app = spawn_app_with(
            &format!("clock = \"virtual\"\nclock_start = \"{start}\""),
            Some(&url),
        )
        .await;
        let body = if origin == "marketing" {
            let (s, b) = app
                .post(
                    &format!("/v23.0/{WABA}/message_templates"),
                    json!({"name": "promo", "language": "en_US", "category": "marketing",
                    "components": [{"type": "BODY", "text": "Our summer sale starts today!"}]}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            app.admin(
                &format!("/_admin/wabas/{WABA}/consent"),
                json!({"wa_id": USER, "event": "opt_in"}),
            )
            .await;
            json!({"messaging_product": "whatsapp", "to": USER, "type": "template",
                   "template": {"name": "promo", "language": {"code": "en_US"}}})
        } else {
            app.admin("/_sim/messages", json!({"from": USER, "text": "hi"}))
                .await;
            text(USER, "hello")
        };
        let (s, b) = app.post(&format!("/v23.0/{PHONE}/messages"), body).await;
        assert_eq!(s, 200, "{b}");
        let id = b["messages"][0]["id"].as_str().unwrap().to_owned();
        app.advance("5s").await;
        wait_for("three statuses", || statuses(&rx).len() == 3).await;
        let st = statuses(&rx);
        let sent = &st[0];
        assert_eq!(sent["id"], id);
        assert_eq!(sent["status"], "sent");
        assert_eq!(sent["recipient_id"], USER);
        assert!(sent["timestamp"].as_str().unwrap().parse::<i64>().is_ok());
        assert_eq!(sent["pricing"], expect_pricing, "{start}");
        let c = &sent["conversation"];
        assert_eq!(c["id"].as_str().unwrap().len(), 32);
        assert_eq!(c["origin"], json!({"type": origin}));
        let ts: i64 = sent["timestamp"].as_str().unwrap().parse().unwrap();
        let exp: i64 = c["expiration_timestamp"].as_str().unwrap().parse().unwrap();
        assert_eq!(exp % 60, 0, "expiries fall on minutes");
        assert!(
            (ts + 86_400..=ts + 86_400 + 60).contains(&exp),
            "{ts} {exp}"
        );
        let delivered = &st[1];
        assert_eq!(delivered["status"], "delivered");
        assert_eq!(delivered["pricing"], expect_pricing);
        assert_eq!(
            delivered["conversation"],
            json!({"id": c["id"], "origin": {"type": origin}})
        );
        assert_eq!(st[2]["status"], "read");
        assert!(st[2].get("pricing").is_none() && st[2].get("conversation").is_none());
    }
}

/// Each app gets the shape of its own webhook version: from v24.0 `conversation` is dropped
/// outside free entry points, up to v23.0 it stays (PMP, 2025).
#[tokio::test]
async fn each_app_gets_the_shape_of_its_webhook_version() {
    let (url23, rx23) = spawn_receiver(receiver()).await;
    let mut r24 = receiver();
    r24.secret = "secret-24".into();
    let (url24, rx24) = spawn_receiver(r24).await;
    let app = spawn_app_with(
        "clock = \"virtual\"\nclock_start = \"2025-08-04T12:00:00Z\"",
        Some(&url23),
    )
    .await;
    let (s, b) = app
        .admin(
            "/_admin/apps",
            json!({"business_id": "100000000000001", "app_secret": "secret-24",
                   "verify_token": VERIFY_TOKEN, "callback_url": url24, "webhook_version": "v24.0"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.admin("/_sim/messages", json!({"from": USER, "text": "oi"}))
        .await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "olá"))
        .await;
    assert_eq!(s, 200, "{b}");
    wait_for("both sent statuses", || {
        !statuses(&rx23).is_empty() && !statuses(&rx24).is_empty()
    })
    .await;
    let (s23, s24) = (&statuses(&rx23)[0], &statuses(&rx24)[0]);
    assert!(s23["conversation"].is_object(), "{s23}");
    assert!(s24.get("conversation").is_none(), "{s24}");
    assert_eq!(s23["pricing"], s24["pricing"]);
    assert_eq!(rx24.bad_signatures.load(Ordering::SeqCst), 0);
}

/// The admin shortcuts are the simulator's paths: an inbound message and a marketing stop
/// made through `/_admin` reach the app like those made through `/_sim`.
#[tokio::test]
async fn admin_inbound_and_consent_reach_the_app_too() {
    let (url, rx) = spawn_receiver(receiver()).await;
    let app = spawn_app_with("", Some(&url)).await;
    let (s, b) = app
        .admin(
            &format!("/_admin/phone_numbers/{PHONE}/inbound"),
            json!({"from": USER, "text": "quero pedir"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let inbound_id = b["id"].clone();
    assert!(inbound_id.as_str().unwrap().starts_with("wamid."));
    let (s, _) = app
        .admin(
            &format!("/_admin/wabas/{WABA}/consent"),
            json!({"wa_id": USER, "event": "marketing_stop"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .admin(
            &format!("/_admin/wabas/{WABA}/consent"),
            json!({"wa_id": "not a number", "event": "opt_in"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    wait_for("both events", || rx.events.lock().unwrap().len() == 2).await;
    let m = &values(&rx, "messages")[0];
    assert_eq!(m["messages"][0]["text"]["body"], "quero pedir");
    assert_eq!(m["messages"][0]["id"], inbound_id);
    let p = &values(&rx, "user_preferences")[0];
    assert_eq!(p["user_preferences"][0]["value"], "stop");
}

/// An app receives only the fields it subscribed to (config, `/_admin/apps` or pywa's
/// `/{app-id}/subscriptions?fields=…`); a bad field name is refused.
#[tokio::test]
async fn apps_receive_only_their_subscribed_fields() {
    let (url_all, rx_all) = spawn_receiver(receiver()).await;
    let (url_msgs, rx_msgs) = spawn_receiver(receiver()).await;
    let app = spawn_app_with("", Some(&url_all)).await;
    add_messages_app(&app, &url_msgs).await;
    let (s, b) = app
        .admin(
            "/_admin/apps",
            json!({"business_id": BUSINESS, "callback_url": "http://127.0.0.1:9/x", "fields": "Messages!"}),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = app
        .post(
            &format!("/v23.0/{WABA}/message_templates"),
            json!({"name": "promo", "language": "en_US", "category": "marketing",
            "components": [{"type": "BODY", "text": "Our summer sale starts today!"}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.admin("/_sim/messages", json!({"from": USER, "text": "hi"}))
        .await;
    wait_for("all fields to the first app", || {
        rx_all.events.lock().unwrap().len() == 2
    })
    .await;
    wait_for("messages to the second", || {
        !values(&rx_msgs, "messages").is_empty()
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(values(&rx_all, "message_template_status_update").len(), 1);
    assert!(values(&rx_msgs, "message_template_status_update").is_empty());
    assert_eq!(rx_msgs.events.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_app_that_subscribes_after_a_send_gets_its_receipts() {
    // No app when the message is sent: its receipts wait without the message (statuses.rs),
    // and the app added before they fall due gets them built from the stored message.
    let app = spawn_app_with("clock = \"virtual\"", None).await;
    app.user_writes(USER).await;
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            json!({"messaging_product": "whatsapp", "to": USER, "type": "text",
              "biz_opaque_callback_data": "late-app", "text": {"body": "olá"}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["messages"][0]["id"].as_str().unwrap().to_owned();
    let (url, rx) = spawn_receiver(receiver()).await;
    add_messages_app(&app, &url).await;
    app.advance("3s").await;
    wait_for("delivered and read", || statuses(&rx).len() == 2).await;
    let st = statuses(&rx);
    let kinds: Vec<&str> = st.iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["delivered", "read"]);
    for s in &st {
        assert_eq!(s["id"], id);
        assert_eq!(s["recipient_id"], USER);
        assert_eq!(s["biz_opaque_callback_data"], "late-app");
    }
    // Pricing rides on the first receipt after `sent`, as when the app was there all along.
    assert!(st[0]["pricing"].is_object(), "{}", st[0]);
    assert!(st[1].get("pricing").is_none(), "{}", st[1]);
    assert_eq!(rx.bad_signatures.load(Ordering::SeqCst), 0);
}

/// The simulated phone told to report a receipt: only `delivered` and `read` are receipts
/// (`sent` is a status word too, but the phone does not send it); a receipt already
/// reported is not news.
#[tokio::test]
async fn a_receipt_told_to_the_phone_must_be_delivered_or_read() {
    let (url, rx) = spawn_receiver(receiver()).await;
    let app = spawn_app_with("clock = \"virtual\"", Some(&url)).await;
    app.phone_behaves(USER, json!({"receipts": "manual"})).await;
    app.user_writes(USER).await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "olá"))
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["messages"][0]["id"].as_str().unwrap().to_owned();
    for word in ["sent", "failed", "READ", "bogus"] {
        let (s, v) = app
            .admin(&format!("/_sim/messages/{id}/{word}"), json!({}))
            .await;
        assert_eq!(s, 400, "{word}: {v}");
        assert_graph_error(&v, 131_009);
    }
    let (s, v) = app
        .admin(&format!("/_sim/messages/{id}/read"), json!({}))
        .await;
    assert_eq!((s, &v["reported"]), (200, &json!(true)), "{v}");
    let (s, v) = app
        .admin(&format!("/_sim/messages/{id}/read"), json!({}))
        .await;
    assert_eq!((s, &v["reported"]), (200, &json!(false)), "{v}");
    wait_for("sent and read", || statuses(&rx).len() == 2).await;
    let kinds: Vec<String> = statuses(&rx)
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["sent", "read"]);
}
