//! Meta's analytics fields on a known traffic set, checked number by number: categories,
//! types and countries; month and day boundaries in a WABA whose time zone is not UTC
//! (America/Sao_Paulo, UTC−3); the free tier crossing 1,000 conversations; a free entry
//! point; a span across the 2025-07-01 switch to per-message pricing; filters, metrics,
//! granularities; and Graph's error for malformed expansions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::{json, Value};

/// Seconds of an RFC 3339 instant.
fn ts(s: &str) -> i64 {
    openwaba_engine::Instant::parse_rfc3339(s)
        .unwrap()
        .unix_seconds()
}

async fn opt_in(app: &TestApp, user: &str) {
    let (s, v) = app
        .admin(
            &format!("/_admin/wabas/{WABA}/consent"),
            json!({"wa_id": user, "event": "opt_in"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn send_template(app: &TestApp, user: &str, category: &str) {
    let (s, v) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_body(user, category),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn inbound(app: &TestApp, user: &str, referral: bool) {
    let (s, v) = app
        .admin(
            &format!("/_admin/phone_numbers/{PHONE}/inbound"),
            json!({"from": user, "referral": referral}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn reply(app: &TestApp, user: &str) {
    let (s, v) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(user, "Olá! 👋"))
        .await;
    assert_eq!(s, 200, "{v}");
}

/// `GET /{waba}?fields=…`: the field's `data[0].data_points`.
async fn points(app: &TestApp, fields: &str) -> Vec<Value> {
    let (s, v) = app
        .get(&format!("/v23.0/{WABA}?fields={}", urlencode(fields)))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], WABA);
    let field = fields.split('.').next().unwrap();
    v[field]["data"][0]["data_points"]
        .as_array()
        .unwrap()
        .clone()
}

/// `GET /{waba}?fields=analytics…`: the messaging counts of `span` (unix seconds) at
/// `granularity`, the whole answer.
async fn messaging(app: &TestApp, span: (i64, i64), granularity: &str) -> Value {
    let (s, v) = app
        .get(&format!(
            "/v23.0/{WABA}?fields={}",
            urlencode(&format!(
                "analytics.start({}).end({}).granularity({granularity})",
                span.0, span.1
            ))
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The point whose dimension keys have these values.
fn find<'a>(points: &'a [Value], want: &[(&str, &str)]) -> &'a Value {
    points
        .iter()
        .find(|p| want.iter().all(|(k, v)| p[*k] == *v))
        .unwrap_or_else(|| panic!("no point {want:?} in {points:#?}"))
}

fn cost(p: &Value) -> String {
    p["cost"].to_string()
}

/// June 2023 (conversation-based pricing, built-in June 2023 card) and June–July 2025.
async fn traffic() -> TestApp {
    let app = frozen_app("2023-06-01T12:00:00Z", "").await;
    create_templates(&app).await;
    // One conversation of each template category, in three countries.
    for u in ["5511987650001", "919876500001", "4915112345678"] {
        opt_in(&app, u).await;
    }
    send_template(&app, "5511987650001", "marketing").await; // BR 0.0625
    send_template(&app, "919876500001", "utility").await; // IN 0.0042
    send_template(&app, "4915112345678", "authentication").await; // DE 0.0768
                                                                  // 1,001 user-initiated service conversations in Brazil: the first 1,000 of the month are
                                                                  // the free tier, the 1,001st costs Brazil's service rate, 0.0300.
    clock_to(&app, "2023-06-10T12:00:00Z").await;
    for i in 0..1001u32 {
        if i % 500 == 0 {
            // Under the number's 1,000 messages per second.
            clock_to(&app, &format!("2023-06-10T12:00:{:02}Z", i / 500 + 1)).await;
        }
        let u = format!("55219{i:08}");
        inbound(&app, &u, false).await;
        reply(&app, &u).await;
    }
    // A free entry point: a click-to-WhatsApp ad, then the reply.
    clock_to(&app, "2023-06-15T12:00:00Z").await;
    inbound(&app, "5531987650002", true).await;
    reply(&app, "5531987650002").await;
    // Either side of the local month boundary: 23:30 on June 30 in São Paulo is already
    // July 1 in UTC; 00:30 on July 1 is July in both.
    opt_in(&app, "919876500002").await;
    opt_in(&app, "919876500003").await;
    clock_to(&app, "2023-07-01T02:30:00Z").await;
    send_template(&app, "919876500002", "marketing").await; // IN 0.0099, June (local)
    clock_to(&app, "2023-07-01T03:30:00Z").await;
    send_template(&app, "919876500003", "marketing").await; // IN 0.0099, July (local)

    // 2025: a CBP utility conversation opened on June 30 that a July template joins; then
    // per-message pricing in Argentina (July 2025 card).
    clock_to(&app, "2025-06-30T23:00:00Z").await; // 20:00 local, June 30
    opt_in(&app, "5511987650004").await;
    send_template(&app, "5511987650004", "utility").await; // CBP BR utility 0.0350
    clock_to(&app, "2025-07-01T13:00:00Z").await;
    send_template(&app, "5511987650004", "utility").await; // joins: CBP, no new charge
    for u in ["5491187650001", "5491187650002"] {
        opt_in(&app, u).await;
    }
    send_template(&app, "5491187650001", "marketing").await; // AR 0.0618
    send_template(&app, "5491187650002", "utility").await; // AR 0.0289
    inbound(&app, "5491187650003", false).await;
    reply(&app, "5491187650003").await; // free customer service (service)
    send_template(&app, "5491187650003", "utility").await; // utility in the window: free
    inbound(&app, "5491187650004", true).await;
    reply(&app, "5491187650004").await; // free entry point
    app
}

#[tokio::test]
async fn analytics_on_a_known_traffic_set() {
    let app = traffic().await;
    let june = (ts("2023-06-01T03:00:00Z"), ts("2023-07-01T03:00:00Z"));

    // Monthly, by category, type and country: every figure.
    let p = points(
        &app,
        &format!(
            "conversation_analytics.start({}).end({}).granularity(MONTHLY).phone_numbers([]).dimensions([\"CONVERSATION_CATEGORY\",\"CONVERSATION_TYPE\",\"COUNTRY\"])",
            june.0, june.1
        ),
    )
    .await;
    assert_eq!(p.len(), 7, "{p:#?}");
    for point in &p {
        assert_eq!(point["start"], june.0, "{point}");
        assert_eq!(point["end"], june.1, "{point}");
    }
    let expect = [
        ("MARKETING", "REGULAR", "BR", 1, "0.0625"),
        ("MARKETING", "REGULAR", "IN", 1, "0.0099"),
        ("UTILITY", "REGULAR", "IN", 1, "0.0042"),
        ("AUTHENTICATION", "REGULAR", "DE", 1, "0.0768"),
        ("SERVICE", "FREE_TIER", "BR", 1000, "0.0"),
        ("SERVICE", "REGULAR", "BR", 1, "0.03"),
        ("SERVICE", "FREE_ENTRY_POINT", "BR", 1, "0.0"),
    ];
    for (category, kind, country, n, c) in expect {
        let point = find(
            &p,
            &[
                ("conversation_category", category),
                ("conversation_type", kind),
                ("country", country),
            ],
        );
        assert_eq!(point["conversation"], n, "{point}");
        assert_eq!(cost(point), c, "{point}");
        assert!(point.get("phone_number").is_none(), "{point}");
    }

    // Directions, and the phone dimension (the number's digits).
    let p = points(
        &app,
        &format!(
            "conversation_analytics.start({}).end({}).granularity(MONTHLY).dimensions([CONVERSATION_DIRECTION,PHONE])",
            june.0, june.1
        ),
    )
    .await;
    let business = find(
        &p,
        &[
            ("conversation_direction", "BUSINESS_INITIATED"),
            ("phone_number", BUSINESS_NUMBER),
        ],
    );
    assert_eq!(business["conversation"], 4);
    assert_eq!(cost(business), "0.1534");
    let user = find(&p, &[("conversation_direction", "USER_INITIATED")]);
    assert_eq!(user["conversation"], 1002);
    assert_eq!(cost(user), "0.03");

    // Daily at the month boundary: 23:30 local on June 30 is June 30's bucket (which starts
    // at local midnight, 03:00 UTC), 00:30 local on July 1 is July 1's.
    let p = points(
        &app,
        &format!(
            "conversation_analytics.start({}).end({}).granularity(DAILY).dimensions([COUNTRY])",
            ts("2023-06-30T03:00:00Z"),
            ts("2023-07-02T03:00:00Z")
        ),
    )
    .await;
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_eq!(p[0]["start"], ts("2023-06-30T03:00:00Z"));
    assert_eq!(p[0]["end"], ts("2023-07-01T03:00:00Z"));
    assert_eq!(p[0]["country"], "IN");
    assert_eq!(p[0]["conversation"], 1);
    assert_eq!(p[1]["start"], ts("2023-07-01T03:00:00Z"));
    assert_eq!(p[1]["conversation"], 1);

    // Filters and metrics: Indian marketing only, conversations only (no cost).
    let p = points(
        &app,
        &format!(
            "conversation_analytics.start({}).end({}).granularity(MONTHLY).conversation_categories([MARKETING]).country_codes([\"IN\"]).metric_types([CONVERSATION])",
            june.0, june.1
        ),
    )
    .await;
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["conversation"], 1);
    assert!(p[0].get("cost").is_none());
    // FREE_ENTRY (the filter's spelling) selects FREE_ENTRY_POINT.
    let p = points(
        &app,
        &format!(
            "conversation_analytics.start({}).end({}).granularity(MONTHLY).conversation_types([FREE_ENTRY]).dimensions([CONVERSATION_TYPE])",
            june.0, june.1
        ),
    )
    .await;
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["conversation_type"], "FREE_ENTRY_POINT");
    assert_eq!(p[0]["cost"], 0.0);

    // Half-hours: the Brazilian marketing conversation of 12:00 UTC on June 1.
    let p = points(
        &app,
        &format!(
            "conversation_analytics.start({}).end({}).granularity(HALF_HOUR)",
            ts("2023-06-01T11:00:00Z"),
            ts("2023-06-01T13:00:00Z")
        ),
    )
    .await;
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["start"], ts("2023-06-01T12:00:00Z"));
    assert_eq!(p[0]["end"], ts("2023-06-01T12:30:00Z"));
    assert_eq!(p[0]["conversation"], 3);
    assert_eq!(cost(&p[0]), "0.1435");

    // Across the switch: conversation analytics see the June 2025 CBP conversation (the
    // July template joined it); pricing analytics see July's per-message traffic.
    let mid2025 = (ts("2025-06-01T03:00:00Z"), ts("2025-08-01T03:00:00Z"));
    let p = points(
        &app,
        &format!(
            "conversation_analytics.start({}).end({}).granularity(MONTHLY).dimensions([CONVERSATION_CATEGORY])",
            mid2025.0, mid2025.1
        ),
    )
    .await;
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["conversation_category"], "UTILITY");
    assert_eq!(p[0]["conversation"], 1);
    assert_eq!(cost(&p[0]), "0.035");
    assert_eq!(p[0]["start"], ts("2025-06-01T03:00:00Z"));

    let p = points(
        &app,
        &format!(
            "pricing_analytics.start({}).end({}).granularity(MONTHLY).dimensions([PRICING_CATEGORY,PRICING_TYPE,COUNTRY,TIER])",
            mid2025.0, mid2025.1
        ),
    )
    .await;
    assert_eq!(p.len(), 5, "{p:#?}");
    let m = find(
        &p,
        &[
            ("pricing_category", "MARKETING"),
            ("pricing_type", "REGULAR"),
        ],
    );
    assert_eq!(
        (
            m["volume"].as_i64(),
            cost(m).as_str(),
            m["tier"].as_str(),
            m["country"].as_str()
        ),
        (Some(1), "0.0618", Some("1:MAX"), Some("AR"))
    );
    assert_eq!(m["start"], ts("2025-07-01T03:00:00Z"));
    let u = find(
        &p,
        &[("pricing_category", "UTILITY"), ("pricing_type", "REGULAR")],
    );
    assert_eq!(
        (u["volume"].as_i64(), cost(u).as_str()),
        (Some(1), "0.0289")
    );
    for (category, kind) in [
        ("SERVICE", "FREE_CUSTOMER_SERVICE"),
        ("UTILITY", "FREE_CUSTOMER_SERVICE"),
        ("SERVICE", "FREE_ENTRY_POINT"),
    ] {
        let f = find(
            &p,
            &[("pricing_category", category), ("pricing_type", kind)],
        );
        assert_eq!(f["volume"], 1, "{f}");
        assert_eq!(f["cost"], 0.0, "{f}");
        assert!(f.get("tier").is_none(), "free messages have no tier: {f}");
    }
    // Pricing filters.
    let p = points(
        &app,
        &format!(
            "pricing_analytics.start({}).end({}).granularity(DAILY).pricing_types([REGULAR]).metric_types([VOLUME])",
            mid2025.0, mid2025.1
        ),
    )
    .await;
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0]["volume"], 2);
    assert!(p[0].get("cost").is_none());

    // Messaging counts: June 2023 sent and delivered (receipts not yet reported: the clock
    // is frozen, so only the sends count so far… except those delivered while it moved).
    let v = messaging(&app, june, "MONTH").await;
    let a = &v["analytics"];
    assert_eq!(a["granularity"], "MONTH");
    assert_eq!(a["phone_numbers"], json!([BUSINESS_NUMBER]));
    let dp = &a["data_points"][0];
    // 3 templates + 1,001 replies + the FEP reply + the June 30 (local) marketing template.
    assert_eq!(dp["sent"], 1006, "{a}");
    assert!(dp["delivered"].as_i64().unwrap() <= 1006);
    app.stop().await;
}

/// Malformed expansions get Graph's error 100 with a message that says what is wrong.
#[tokio::test]
async fn malformed_expansions_get_error_100() {
    let app = spawn_app().await;
    for (fields, says) in [
        ("conversation_analytics.start(1685602800", "unclosed"),
        (
            "conversation_analytics.start(1685602800).end(1688194800)",
            "granularity",
        ),
        (
            "conversation_analytics.start(abc).end(1).granularity(DAILY)",
            "start",
        ),
        (
            "conversation_analytics.start(5).end(1).granularity(DAILY)",
            "end",
        ),
        (
            "conversation_analytics.start(1).end(5).granularity(WEEKLY)",
            "WEEKLY",
        ),
        (
            "conversation_analytics.start(1).end(5).granularity(DAILY).dimensions([TIER])",
            "TIER",
        ),
        (
            "pricing_analytics.start(1).end(5).granularity(DAILY).foo(1)",
            "foo",
        ),
        (
            "conversation_analytics.start(0).end(99999999999).granularity(HALF_HOUR)",
            "buckets",
        ),
    ] {
        let (s, v) = app
            .get(&format!("/v23.0/{WABA}?fields={}", urlencode(fields)))
            .await;
        assert_eq!(s, 400, "{fields}: {v}");
        assert_graph_error(&v, 100);
        let details = v["error"]["error_data"]["details"].as_str().unwrap();
        assert!(details.contains(says), "{fields}: {details}");
    }
    // Plain fields still work beside an analytics field.
    let (s, v) = app
        .get(&format!(
            "/v23.0/{WABA}?fields=id,name,{}",
            urlencode("analytics.start(1685602800).end(1685689200).granularity(DAY)")
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["name"].as_str().is_some(), "{v}");
    assert_eq!(
        v["analytics"]["data_points"].as_array().unwrap().len(),
        2,
        "{v}"
    );
    app.stop().await;
}

/// A message counts as delivered once, even when its user switches to manual receipts after
/// its delivery and read receipts were scheduled (the read then follows a delivery it knows
/// was not the last).
#[tokio::test]
async fn a_message_counts_as_delivered_once_when_receipts_change_midway() {
    let app = spawn_app_with(
        "clock = \"virtual\"\nclock_start = \"2025-08-04T12:00:00Z\"",
        None,
    )
    .await;
    inbound(&app, USER, false).await;
    app.phone_behaves(
        USER,
        json!({"receipts": "auto", "delivered_after": "1s", "read_after": "2s"}),
    )
    .await;
    reply(&app, USER).await;
    // Switched before either receipt falls due: both were scheduled with the send.
    app.phone_behaves(USER, json!({"receipts": "manual"})).await;
    app.advance("1h").await;
    // The day in the WABA's own time zone: summed over the points of two UTC days.
    let span = (ts("2025-08-03T00:00:00Z"), ts("2025-08-06T00:00:00Z"));
    let counts = || async {
        let v = messaging(&app, span, "DAY").await;
        let points = v["analytics"]["data_points"].as_array().unwrap().clone();
        let sum = |k: &str| points.iter().map(|p| p[k].as_i64().unwrap()).sum::<i64>();
        (sum("sent"), sum("delivered"))
    };
    let mut seen = (0, 0);
    for _ in 0..100 {
        seen = counts().await;
        if seen.1 > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Let a second count, if any, land too.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    seen = (seen.0, counts().await.1);
    assert_eq!(seen, (1, 1));
    app.stop().await;
}
