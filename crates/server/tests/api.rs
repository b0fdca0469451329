//! Black-box tests of the Graph API: a real server on a free port with a fresh data
//! directory, driven over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.post(&format!("/v23.0/{PHONE}/messages"), text(USER, "hi"))
        .await;
    let m = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("openwaba_http_requests_total 1"), "{m}");
    assert!(
        m.contains("openwaba_sends_total{outcome=\"failed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("openwaba_request_duration_seconds_count 1"),
        "{m}"
    );
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/v23.0/{PHONE}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_graph_error(&r.json().await.unwrap(), 104);
    let r = app
        .http
        .get(format!("{}/v23.0/{PHONE}", app.base))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_graph_error(&b, 190);
    let r = app
        .http
        .get(format!("{}/v23.0/{PHONE}?access_token={TOKEN}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn versioned_and_unversioned_paths_and_fields() {
    let app = spawn_app().await;
    for prefix in ["/v23.0", "/v19.0", ""] {
        let (s, b) = app.get(&format!("{prefix}/{PHONE}")).await;
        assert_eq!(s, 200, "{prefix}");
        assert_eq!(b["display_phone_number"], "+15550001111");
        assert_eq!(b["id"], PHONE);
    }
    let (_, b) = app
        .get(&format!(
            "/v23.0/{PHONE}?fields=id,throughput{{level}},messaging_limit_tier"
        ))
        .await;
    assert_eq!(b["throughput"]["level"], "HIGH");
    assert_eq!(b["messaging_limit_tier"], "TIER_1K");
    assert!(b.get("verified_name").is_none());
    let (s, b) = app.get(&format!("/v23.0/{WABA}/phone_numbers")).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["id"], PHONE);
}

#[tokio::test]
async fn objects_of_another_business_are_invisible() {
    let dir = tempfile::tempdir().unwrap();
    seed_other_business(dir.path(), None).await;
    let app = Options::default().throughput_mps(80).spawn_in(dir).await;
    let (base, http) = (&app.base, &app.http);
    for (method, path) in [
        ("GET", "/v23.0/902"),
        ("POST", "/v23.0/902/messages"),
        ("GET", "/v23.0/901/phone_numbers"),
        ("GET", "/v23.0/123456"),
    ] {
        let req = if method == "GET" {
            http.get(format!("{base}{path}"))
        } else {
            http.post(format!("{base}{path}")).json(&text(USER, "x"))
        };
        let r = req.bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], 100, "{path}");
        assert_eq!(b["error"]["error_subcode"], 33, "{path}");
        assert_eq!(b["error"]["type"], "GraphMethodException");
    }
    app.stop().await;
}

#[tokio::test]
async fn free_form_outside_the_window_is_accepted_then_failed_131047() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            text("+55 11 98765-0001", "hello"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["messaging_product"], "whatsapp");
    assert_eq!(b["contacts"][0]["input"], "+55 11 98765-0001");
    assert_eq!(b["contacts"][0]["wa_id"], USER);
    // Only a template's answer carries `message_status`.
    assert_eq!(
        b["messages"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["id"]
    );
    let id = b["messages"][0]["id"].as_str().unwrap();
    assert!(id.starts_with("wamid."));
    let m = app.stored(id);
    assert_eq!(m.status, "failed");
    assert_eq!(m.error_code, Some(131_047));
}

#[tokio::test]
async fn a_number_can_report_failures_synchronously() {
    let app = Options::default()
        .throughput_mps(80)
        .sync_failures(true)
        .spawn()
        .await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "hello"))
        .await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_047);
    assert_eq!(b["error"]["message"], "(#131047) Re-engagement message");
    assert_eq!(
        b["error"]["error_data"]["details"],
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    );
}

#[tokio::test]
async fn inside_the_window_a_reply_is_delivered_and_free() {
    let app = spawn_app().await;
    app.user_writes(USER).await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "hi there"))
        .await;
    assert_eq!(s, 200, "{b}");
    let m = app.stored(b["messages"][0]["id"].as_str().unwrap());
    assert_eq!(m.status, "delivered");
    // Today is per-message pricing: a free-form reply in the window is free.
    let pricing: Value = serde_json::from_str(m.pricing.as_deref().unwrap()).unwrap();
    assert_eq!(pricing["pricing_model"], "PMP");
    assert_eq!(pricing["type"], "free_customer_service");
    assert_eq!(pricing["category"], "service");
    assert_eq!(m.charge.as_deref(), Some("0"));
    let (s, b) = app
        .post(&format!("/{PHONE}/messages"), json!({"messaging_product": "whatsapp", "to": USER, "type": "image", "image": {"link": "https://example.com/a.jpg"}}))
        .await;
    assert_eq!(s, 200, "{b}");
    let m2 = app.stored(b["messages"][0]["id"].as_str().unwrap());
    assert_eq!(m2.status, "delivered");
    assert_eq!(m2.type_name, "image");
}

#[tokio::test]
async fn state_survives_a_restart() {
    let mut app = spawn_app().await;
    app.user_writes(USER).await;
    let (_, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "one"))
        .await;
    assert_eq!(
        app.stored(b["messages"][0]["id"].as_str().unwrap()).status,
        "delivered"
    );
    app.restart().await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "two"))
        .await;
    assert_eq!(s, 200);
    let second = app.stored(b["messages"][0]["id"].as_str().unwrap());
    assert_eq!(
        second.status, "delivered",
        "the window was rebuilt from the store"
    );
}

#[tokio::test]
async fn unknown_templates_are_404_132001() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), json!({"messaging_product": "whatsapp", "to": USER, "type": "template", "template": {"name": "nope", "language": {"code": "en_US"}}}))
        .await;
    assert_eq!(s, 404);
    assert_graph_error(&b, 132_001);
}

#[tokio::test]
async fn throughput_limit_is_130429_with_retry_after() {
    let app = Options::default().throughput_mps(5).spawn().await;
    let mut limited = 0;
    for i in 0..12 {
        let (s, b, h) = app
            .post_with_headers(
                &format!("/v23.0/{PHONE}/messages"),
                text(&format!("55119876500{i:02}"), "x"),
            )
            .await;
        if s == 400 {
            assert_graph_error(&b, 130_429);
            assert!(h.get("retry-after").is_some());
            limited += 1;
        } else {
            assert_eq!(s, 200);
        }
    }
    assert!(limited >= 5, "only {limited} limited");
}

#[tokio::test]
async fn pair_limit_is_131056() {
    let app = spawn_app().await;
    let mut last = (0, Value::Null);
    for _ in 0..46 {
        let (s, b) = app
            .post(&format!("/v23.0/{PHONE}/messages"), text(USER, "x"))
            .await;
        last = (s, b);
    }
    assert_eq!(last.0, 400);
    assert_graph_error(&last.1, 131_056);
}

#[tokio::test]
async fn bad_bodies_get_graph_errors_never_500() {
    let app = spawn_app().await;
    for body in [
        json!("not an object"),
        json!({"to": USER, "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "to": USER, "type": "hologram", "hologram": {}}),
        json!({"messaging_product": "whatsapp", "to": USER, "type": "text"}),
        json!({"messaging_product": "whatsapp", "to": "not-a-number", "type": "text", "text": {"body": "x"}}),
    ] {
        let (s, b) = app
            .post(&format!("/v23.0/{PHONE}/messages"), body.clone())
            .await;
        assert!((400..500).contains(&s), "{body} → {s}");
        assert!(b["error"]["code"].is_u64(), "{body} → {b}");
    }
    let r = app
        .http
        .post(format!("{}/v23.0/{PHONE}/messages", app.base))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn mark_as_read_succeeds() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(&format!("/v23.0/{PHONE}/messages"), json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X", "typing_indicator": {"type": "text"}}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(b, json!({"success": true}));
}

fn order_template(name: &str, lang: &str) -> Value {
    json!({
        "name": name, "language": lang, "category": "utility",
        "components": [
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.",
             "example": {"body_text": [["Ana", "860198"]]}},
            {"type": "FOOTER", "text": "Shop"}
        ]
    })
}

fn template_send(name: &str, params: &[&str]) -> Value {
    let p: Vec<Value> = params
        .iter()
        .map(|t| json!({"type": "text", "text": t}))
        .collect();
    json!({"messaging_product": "whatsapp", "to": USER, "type": "template",
           "template": {"name": name, "language": {"code": "en_US"},
                        "components": [{"type": "body", "parameters": p}]}})
}

#[tokio::test]
async fn template_lifecycle_create_list_send_pause_edit_delete() {
    let mut app = spawn_app().await;
    let (s, b) = app
        .post(
            &format!("/v23.0/{WABA}/message_templates"),
            order_template("order_shipped", "en_US"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "APPROVED");
    assert_eq!(b["category"], "UTILITY");
    let tid = b["id"].as_str().unwrap().to_owned();

    // The same name and language again is refused.
    let (s, b) = app
        .post(
            &format!("/v23.0/{WABA}/message_templates"),
            order_template("order_shipped", "en_US"),
        )
        .await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 100);

    // A parameter at the very start of the body is rejected by review, with a reason.
    let bad = json!({"name": "bad_one", "language": "en_US", "category": "utility",
                     "components": [{"type": "BODY", "text": "{{1}} is here", "example": {"body_text": [["x"]]}}]});
    let (s, b) = app
        .post(&format!("/v23.0/{WABA}/message_templates"), bad)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "REJECTED");

    // Listing filters accept plain values and JSON arrays; fields select.
    let (_, b) = app
        .get(&format!("/v23.0/{WABA}/message_templates?status=APPROVED"))
        .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    assert_eq!(b["data"][0]["name"], "order_shipped");
    assert!(b["data"][0]["components"].is_array());
    let (_, b) = app
        .get(&format!("/v23.0/{WABA}/message_templates?status=%5B%22APPROVED%22,%22REJECTED%22%5D&fields=name,status"))
        .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    assert!(b["data"][0].get("components").is_none());
    let (_, b) = app.get(&format!("/v23.0/{tid}?fields=name,category")).await;
    assert_eq!(
        b,
        json!({"name": "order_shipped", "category": "UTILITY", "id": tid})
    );

    // Sending: opt-in is needed outside a window (openwaba's own code), then it goes.
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_send("order_shipped", &["Ana", "42"]),
        )
        .await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 1_300_001);
    let (s, _) = app
        .admin(
            &format!("/_admin/wabas/{WABA}/consent"),
            json!({"wa_id": USER, "event": "opt_in"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_send("order_shipped", &["Ana", "42"]),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["messages"][0]["message_status"], "accepted");
    let m = app.stored(b["messages"][0]["id"].as_str().unwrap());
    assert_eq!(m.status, "delivered");
    assert_eq!(m.template_category.as_deref(), Some("UTILITY"));

    // Parameter count and unknown template.
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_send("order_shipped", &["Ana"]),
        )
        .await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 132_000);
    let (s, b) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_send("bad_one", &["x"]),
        )
        .await;
    assert_eq!(s, 404, "a rejected template cannot be sent");
    assert_graph_error(&b, 132_001);

    // Paused, disabled.
    for (status, code) in [("PAUSED", 132_015), ("DISABLED", 132_016)] {
        let (s, _) = app
            .admin(
                &format!("/_admin/templates/{tid}/status"),
                json!({"status": status}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, b) = app
            .post(
                &format!("/v23.0/{PHONE}/messages"),
                template_send("order_shipped", &["Ana", "42"]),
            )
            .await;
        assert_eq!(s, 400);
        assert_graph_error(&b, code);
    }
    app.admin(
        &format!("/_admin/templates/{tid}/status"),
        json!({"status": "APPROVED"}),
    )
    .await;

    // Templates survive a restart; edit; delete by name.
    app.restart().await;
    let (s, b) = app
        .post(&format!("/v23.0/{tid}"), json!({"components": [{"type": "BODY", "text": "Hello {{1}}, order {{2}} is on its way.", "example": {"body_text": [["Ana", "1"]]}}]}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!({"success": true}));
    let r = app
        .http
        .delete(format!(
            "{}/v23.0/{WABA}/message_templates?name=order_shipped&hsm_id={tid}",
            app.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, b) = app
        .get(&format!(
            "/v23.0/{WABA}/message_templates?name=order_shipped"
        ))
        .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn template_paging_emits_next_only_when_more_remains() {
    let app = spawn_app().await;
    for i in 0..5 {
        let t = json!({"name": format!("t{i}"), "language": "en_US", "category": "marketing",
                       "components": [{"type": "BODY", "text": format!("Offer number {i} for you")}]});
        let (s, _) = app
            .post(&format!("/v23.0/{WABA}/message_templates"), t)
            .await;
        assert_eq!(s, 200);
    }
    let (_, b) = app
        .get(&format!("/v23.0/{WABA}/message_templates?limit=2"))
        .await;
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    let next = b["paging"]["next"].as_str().unwrap().to_owned();
    let r: Value = app
        .http
        .get(&next)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"][0]["name"], "t2");
    let next = r["paging"]["next"].as_str().unwrap().to_owned();
    let r: Value = app
        .http
        .get(&next)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"].as_array().unwrap().len(), 1);
    assert!(r["paging"].get("next").is_none(), "{r}");
}

/// Templates list in the order they were created, even when a burst shares one millisecond:
/// on a frozen clock every creation happens at the same instant, and their ids are random.
#[tokio::test]
async fn templates_created_in_one_millisecond_list_in_creation_order() {
    let app = frozen_app("2026-03-02T10:00:00Z", "").await;
    let names: Vec<String> = (0..8).map(|i| format!("burst_{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let t = json!({"name": name, "language": "en_US", "category": "marketing",
                       "components": [{"type": "BODY", "text": format!("Offer number {i} for you")}]});
        let (s, b) = app
            .post(&format!("/v23.0/{WABA}/message_templates"), t)
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = app
        .get(&format!(
            "/v23.0/{WABA}/message_templates?limit=100&fields=name"
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(names_in_data(&b), names, "{b}");
}

#[tokio::test]
async fn a_promotional_utility_template_is_approved_as_marketing() {
    let app = spawn_app().await;
    let t = json!({"name": "flash", "language": "en_US", "category": "UTILITY",
                   "components": [{"type": "BODY", "text": "Big sale today: 50% off everything"}]});
    let (s, b) = app
        .post(&format!("/v23.0/{WABA}/message_templates"), t)
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "APPROVED");
    assert_eq!(b["category"], "MARKETING");
}

/// Graceful shutdown, as a client sees it: once a stop is asked for, no new connection is
/// accepted, a request already being read is still answered (and its message kept), an idle
/// keep-alive connection does not hold the stop up, and the stop ends once nothing is in
/// flight. The connections are served on threads of their own (`http::Lanes`), so the stop
/// must wait for each of them.
#[tokio::test]
async fn a_stop_finishes_the_request_in_flight_and_refuses_new_connections() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = spawn_app().await;
    app.user_writes(USER).await;
    let addr = app.running.as_ref().unwrap().addr;
    let body = text(USER, "sent while stopping").to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        format!(
            "POST /v23.0/{PHONE}/messages HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{head}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // A keep-alive connection that has had its answer and sits idle through the stop.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 64];
    let n = idle.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &first[..n]);
    // The request has been read up to half its body before the stop.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let stopping = tokio::spawn(app.running.take().unwrap().stop());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !stopping.is_finished(),
        "the stop ended with a request in flight"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "a new connection was accepted after the stop"
    );
    conn.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // hyper closes the connection after this answer, since the server is stopping.
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await
    .expect("the answer did not come")
    .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let reply: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let id = reply["messages"][0]["id"].as_str().unwrap().to_owned();
    tokio::time::timeout(std::time::Duration::from_secs(10), stopping)
        .await
        .expect("the stop did not end once nothing was in flight")
        .unwrap();
    // The idle connection was closed by the stop, not left open.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        idle.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the idle connection stayed open");
    // The message answered during the stop is in the store when the server starts again.
    app.restart().await;
    assert_eq!(app.stored(&id).id, id);
    app.stop().await;
}
