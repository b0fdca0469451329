//! The virtual clock and the scheduler, seen from outside: the 2023 rules on a clock started
//! in 2023, the 24-hour window crossed by moving the clock, template review after a delay,
//! and the clock's position kept across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;

fn order_template(name: &str) -> serde_json::Value {
    json!({
        "name": name, "language": "en_US", "category": "utility",
        "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.",
                        "example": {"body_text": [["Ana", "860198"]]}}]
    })
}

#[tokio::test]
async fn a_virtual_clock_starts_where_asked_and_crosses_the_window() {
    let app = spawn_app_with(
        "clock = \"virtual\"\nclock_start = \"2023-06-05T12:00:00Z\"",
        None,
    )
    .await;
    let t0 = app.now_ms().await;
    assert!((1_685_966_400_000..1_685_966_460_000).contains(&t0), "{t0}");

    let (s, _) = app
        .admin(
            &format!("/_admin/phone_numbers/{PHONE}/inbound"),
            json!({"from": USER}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "inside"))
        .await;
    assert_eq!(s, 200, "{b}");

    // 23h59m later the window is still open; 24h later it is closed (a failed status).
    let v = app.advance("23h").await;
    assert_eq!(v["mode"], "virtual");
    let (s, _) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            text(USER, "still inside"),
        )
        .await;
    assert_eq!(s, 200);
    app.advance("1h").await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "outside"))
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["messages"][0]["id"].as_str().unwrap();
    let r = app.running.as_ref().unwrap();
    let stored = r.state.message(id).unwrap().unwrap();
    assert_eq!(stored.status, "failed");
    assert_eq!(stored.error_code, Some(131_047));
    // Stored at the virtual instant, under the 2023 rules (conversation-based pricing).
    assert!(stored.created_at >= t0 + 24 * 3_600_000);
    assert!(stored.created_at < 1_686_200_000_000);

    // The clock never goes back, and a malformed move says what is wrong.
    let (s, b) = app
        .admin("/_admin/clock", json!({"to": "2023-06-01T00:00:00Z"}))
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("forward"),
        "{b}"
    );
    let (s, b) = app.admin("/_admin/clock", json!({"advance": "soon"})).await;
    assert_eq!(s, 400);
    assert!(
        b["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("advance"),
        "{b}"
    );
}

#[tokio::test]
async fn the_real_clock_cannot_be_moved_and_needs_the_admin_token() {
    let app = spawn_app_with("", None).await;
    let (s, b) = app.admin("/_admin/clock", json!({"advance": "1h"})).await;
    assert_eq!(s, 400);
    assert!(
        b["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("real clock"),
        "{b}"
    );
    let (s, _) = app.post("/_admin/clock", json!({"advance": "1h"})).await;
    assert_eq!(s, 401, "the business token is not the admin token");
}

#[tokio::test]
async fn template_review_completes_after_the_configured_delay() {
    let mut app =
        spawn_app_with("clock = \"virtual\"\ntemplate_review_delay = \"10m\"", None).await;
    let (s, b) = app
        .post(
            &format!("/v23.0/{WABA}/message_templates"),
            order_template("order_shipped"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "PENDING");
    let id = b["id"].as_str().unwrap().to_owned();
    // An identical second template also waits, and will be refused as a duplicate.
    let mut dup = order_template("order_shipped_again");
    dup["language"] = json!("en_US");
    let (_, b2) = app
        .post(&format!("/v23.0/{WABA}/message_templates"), dup)
        .await;
    assert_eq!(b2["status"], "PENDING");
    let dup_id = b2["id"].as_str().unwrap().to_owned();

    // A PENDING template does not send.
    let send = json!({"messaging_product": "whatsapp", "to": USER, "type": "template",
        "template": {"name": "order_shipped", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "1"}]}]}});
    app.admin(
        &format!("/_admin/wabas/{WABA}/consent"),
        json!({"wa_id": USER, "event": "opt_in"}),
    )
    .await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), send.clone())
        .await;
    assert_eq!((s, &b["error"]["code"]), (404, &json!(132001)), "{b}");

    // The review survives a restart: it is rescheduled from the stored PENDING template.
    app.restart().await;
    let v = app.advance("9m").await;
    assert_eq!(v["ran"], 0);
    let (_, t) = app.get(&format!("/v23.0/{id}")).await;
    assert_eq!(t["status"], "PENDING");
    let v = app.advance("2m").await;
    assert_eq!(v["ran"], 2, "{v}");
    let (_, t) = app.get(&format!("/v23.0/{id}")).await;
    assert_eq!(t["status"], "APPROVED", "{t}");
    let (_, t) = app.get(&format!("/v23.0/{dup_id}")).await;
    assert_eq!(t["status"], "REJECTED", "{t}");
    let (s, b) = app.post(&format!("/v23.0/{PHONE}/messages"), send).await;
    assert_eq!(s, 200, "{b}");
}
