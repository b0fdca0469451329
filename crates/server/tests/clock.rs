//! The virtual clock and the scheduler, seen from outside: the 2023 rules on a clock started
//! in 2023, the 24-hour window crossed by moving the clock, template review after a delay,
//! and the clock's position kept across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

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

/// Receipts that fall due together are decided in runs under one taking of their WABA's
/// locks (`statuses::report_all`). A burst longer than one run, interleaving two WABAs in
/// different time zones, must bring every message its delivered and read receipts, and
/// count each delivery once, on the day its WABA's zone gives (the same day as the send):
/// a run that spilled over into the other WABA would count it in the wrong zone.
#[tokio::test]
async fn a_burst_of_receipts_longer_than_one_locked_run_all_land() {
    let dir = tempfile::tempdir().unwrap();
    seed_other_business(dir.path(), Some(OTHER_TOKEN)).await;
    // 01:00 UTC: still the day before in São Paulo (WABA), already the day in UTC (OTHER_WABA).
    let app = Options::default()
        .top("clock = \"virtual\"\nclock_start = \"2025-08-01T01:00:00Z\"")
        .spawn_in(dir)
        .await;
    let (s, v) = app.admin("/_admin/clock", json!({"freeze": true})).await;
    assert_eq!(s, 200, "{v}");
    let businesses = [(PHONE, TOKEN, WABA), (OTHER_PHONE, OTHER_TOKEN, OTHER_WABA)];
    let mut wamids = Vec::new();
    for i in 0..70 {
        let (phone, token, _) = businesses[i % 2];
        let user = format!("55119876{i:05}");
        let behaviour = json!({"receipts": "auto", "delivered_after": "1s", "read_after": "1s"});
        app.phone_behaves(&user, behaviour).await;
        let inbound = format!("/_admin/phone_numbers/{phone}/inbound");
        let (s, v) = app.admin(&inbound, json!({"from": user})).await;
        assert_eq!(s, 200, "{v}");
        let path = format!("/v23.0/{phone}/messages");
        let (s, v) = app
            .call(Method::POST, &path, token, Some(text(&user, "On its way")))
            .await;
        assert_eq!(s, 200, "{v}");
        wamids.push((token, v["messages"][0]["id"].as_str().unwrap().to_owned()));
    }
    // Every send shares one instant, so all 70 receipts of each kind fall due in the same
    // millisecond. Moving the clock runs due tasks one by one; letting it run on leaves them
    // to the scheduler's loop, which reports them in one batch.
    let (s, v) = app.admin("/_admin/clock", json!({"freeze": false})).await;
    assert_eq!(s, 200, "{v}");
    let mut receipts = Vec::new();
    for _ in 0..400 {
        receipts.clear();
        for (token, id) in &wamids {
            let path = format!("/_openwaba/v1/messages/{id}");
            let (s, v) = app.call(Method::GET, &path, token, None).await;
            assert_eq!(s, 200, "{v}");
            receipts.push(v["receipt"].as_str().unwrap_or_default().to_owned());
        }
        if receipts.iter().all(|r| r == "read") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(receipts.iter().all(|r| r == "read"), "{receipts:?}");
    for (_, token, waba) in businesses {
        let path = format!(
            "/v23.0/{waba}?fields=analytics.start(1753920000).end(1754179200).granularity(DAY)"
        );
        let (s, v) = app.call(Method::GET, &path, token, None).await;
        assert_eq!(s, 200, "{v}");
        let points = v["analytics"]["data_points"].as_array().unwrap();
        let count = |p: &Value, field: &str| p[field].as_u64().unwrap();
        let total = |field: &str| -> u64 { points.iter().map(|p| count(p, field)).sum() };
        assert_eq!((total("sent"), total("delivered")), (35, 35), "{waba}: {v}");
        for p in points {
            assert_eq!(count(p, "sent"), count(p, "delivered"), "{waba}: {v}");
        }
    }
}
