//! Costs, seen from outside: the ledger agrees with `openwaba replay` to the cent on the same
//! traffic, quotes equal the sends that follow them, budgets stop what they must (also under
//! concurrent sends), invoices add up, and rate cards loaded at runtime price from their date.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use openwaba_engine::{EngineConfig, MissingRates, TimeZoneId};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::str::FromStr;

/// The WABA's numbers the generated logs use (`openwaba_replay::gen`: `1555000{:04}`).
const GEN_NUMBERS: [(&str, &str); 2] = [
    ("300000000000010", "15550000000"),
    ("300000000000011", "15550000001"),
];

fn gen_numbers_toml() -> String {
    GEN_NUMBERS
        .iter()
        .map(|(id, n)| {
            format!(
                "[[business.wabas.phone_numbers]]\nid = \"{id}\"\nnumber = \"{n}\"\nthroughput_mps = 1000\n"
            )
        })
        .collect()
}

fn phone_of(number: &str) -> &'static str {
    GEN_NUMBERS
        .iter()
        .find(|(_, n)| *n == number)
        .map(|(id, _)| *id)
        .unwrap_or(PHONE)
}

async fn set_reachable(app: &TestApp, user: &str, reachable: bool) {
    app.phone_behaves(user, json!({"reachable": reachable}))
        .await;
}

/// Drives one replay-log event through the API; for a send, returns `(log id, wamid or the
/// error code)`.
async fn drive(app: &TestApp, ev: &Value) -> Option<(String, Result<String, u64>)> {
    let at = ev["at"].as_str().unwrap();
    clock_to(app, at).await;
    let user = ev["user"].as_str().unwrap();
    let phone = phone_of(ev["business"].as_str().unwrap());
    match ev["event"].as_str().unwrap() {
        "inbound" => {
            let referral = ev["referral"].as_bool().unwrap_or(false);
            let (s, v) = app
                .admin(
                    &format!("/_admin/phone_numbers/{phone}/inbound"),
                    json!({"from": user, "referral": referral}),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            None
        }
        "send" => {
            let delivered = ev["delivered"].as_bool().unwrap_or(true);
            if !delivered {
                set_reachable(app, user, false).await;
            }
            let body = match ev["kind"].as_str().unwrap() {
                "template" => template_body(user, ev["category"].as_str().unwrap()),
                _ => text(user, "Thanks, we are on it"),
            };
            let (s, v) = app.post(&format!("/v23.0/{phone}/messages"), body).await;
            if !delivered {
                set_reachable(app, user, true).await;
            }
            let id = ev["id"].as_str().unwrap().to_owned();
            if s == 200 {
                Some((id, Ok(v["messages"][0]["id"].as_str().unwrap().to_owned())))
            } else {
                Some((id, Err(v["error"]["code"].as_u64().unwrap())))
            }
        }
        consent => {
            let (s, v) = app
                .admin(
                    &format!("/_admin/wabas/{WABA}/consent"),
                    json!({"wa_id": user, "event": consent}),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            None
        }
    }
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => Decimal::from_str(s).unwrap(),
        Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap(),
        _ => Decimal::ZERO,
    }
}

/// The replay report of a log under the server's settings (the WABA's zone, built-in cards,
/// missing rates priced `null` as the server does).
fn replay_report(log: &str) -> Value {
    let mut cfg = EngineConfig::builtin().unwrap();
    cfg.zone = TimeZoneId::parse("America/Sao_Paulo").unwrap();
    cfg.missing_rates = MissingRates::Allow;
    let mut out = Vec::new();
    openwaba_replay::replay(log.as_bytes(), cfg, openwaba_replay::Format::Json, &mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// Drives a generated log (2025-05-01 for 92 days: conversation-based pricing, the US
/// marketing block, the switch to per-message pricing) through the API on a frozen virtual
/// clock, and compares every message and the totals with `openwaba replay` of the same log:
/// they must agree to the cent. The invoices of the months, the ledger and the replay total
/// are one figure.
#[tokio::test]
async fn the_ledger_agrees_with_replay_to_the_cent() {
    let opts = openwaba_replay::gen::GenOptions {
        events: 700,
        users: 60,
        seed: 7,
        start: 1_746_057_600, // 2025-05-01T00:00:00Z
        days: 92,
        businesses: 2,
    };
    let mut log = Vec::new();
    openwaba_replay::gen::generate(&opts, &mut log).unwrap();
    let log = String::from_utf8(log).unwrap();
    let report = replay_report(&log);

    let app = frozen_app("2025-04-30T23:00:00Z", &gen_numbers_toml()).await;
    create_templates(&app).await;
    let mut sent: HashMap<String, Result<String, u64>> = HashMap::new();
    for line in log.lines() {
        let ev: Value = serde_json::from_str(line).unwrap();
        if let Some((id, r)) = drive(&app, &ev).await {
            sent.insert(id, r);
        }
    }

    // Message by message: status, conversation and charge.
    let mut compared = 0;
    for m in report["messages"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        let got = &sent[id];
        match m["status"].as_str().unwrap() {
            "rejected" => {
                assert_eq!(got, &Err(m["error"]["code"].as_u64().unwrap()), "{m}");
                continue;
            }
            status => {
                let wamid = got.as_ref().unwrap_or_else(|e| panic!("{id}: {e} for {m}"));
                let (s, d) = app.get(&format!("/_openwaba/v1/messages/{wamid}")).await;
                assert_eq!(s, 200, "{d}");
                assert_eq!(d["status"], status, "{id}: {m} vs {d}");
                if status == "failed" {
                    assert_eq!(d["error_code"], m["error"]["code"], "{id}");
                    assert!(
                        d["ledger"].is_null(),
                        "a failed message is never booked: {d}"
                    );
                    continue;
                }
                assert_eq!(
                    d["conversation"]["category"], m["conversation"]["category"],
                    "{id}: {m} vs {d}"
                );
                let expected = m["pricing"]["charge"].clone();
                if expected.is_null() {
                    assert!(d["charge"].is_null(), "{id}: {m} vs {d}");
                } else {
                    assert_eq!(dec(&d["charge"]), dec(&expected), "{id}: {m} vs {d}");
                }
                compared += 1;
            }
        }
    }
    assert!(
        compared > 300,
        "only {compared} delivered messages compared"
    );

    // Totals: replay = ledger = invoices.
    let replay_total = dec(&report["totals"]["charge"]);
    assert!(replay_total > Decimal::ZERO);
    let (s, l) = app
        .get(&format!("/_openwaba/v1/{WABA}/ledger?limit=10000"))
        .await;
    assert_eq!(s, 200, "{l}");
    let ledger_total: Decimal = l["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| dec(&e["amount"]))
        .sum();
    let mut invoice_total = Decimal::ZERO;
    for month in ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08"] {
        let (s, inv) = app
            .get(&format!("/_openwaba/v1/{WABA}/invoices/{month}"))
            .await;
        assert_eq!(s, 200, "{inv}");
        let lines: Decimal = inv["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| dec(&l["amount"]))
            .sum();
        assert_eq!(lines, dec(&inv["total"]), "{inv}");
        invoice_total += dec(&inv["total"]);
    }
    assert_eq!(ledger_total, replay_total);
    // The same ledger as CSV: one row per entry, the same total.
    let csv = get_csv(&app, "ledger?format=csv").await;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "seq,at,phone_number_id,business,wa_id,market,country,category,pricing_model,pricing_type,direction,conversation_id,amount,currency,card,tier"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), l["data"].as_array().unwrap().len());
    let csv_total: Decimal = rows
        .iter()
        .filter(|r| !r[12].is_empty())
        .map(|r| Decimal::from_str(r[12]).unwrap())
        .sum();
    assert_eq!(csv_total, replay_total);
    assert_eq!(invoice_total, replay_total);
    // Conversations: one ledger entry per CBP conversation.
    let cbp = l["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["pricing_model"] == "CBP")
        .count();
    let conversations = report["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["pricing_model"] == "CBP")
        .count();
    assert_eq!(cbp, conversations);
    app.stop().await;
}

/// A quote, then the send: on randomized traffic (inbound, referrals, consent, unreachable
/// users, the three template categories and free-form, over days), the quote says what the
/// send then does: accepted or not, the error, the conversation, the category, the price.
#[tokio::test]
async fn a_quote_is_what_the_send_then_does() {
    let app = frozen_app("2023-06-01T09:00:00Z", "").await;
    create_templates(&app).await;
    let users = [
        "5511987650001",
        "919876500001",
        "4915112345678",
        "12125550100",
        "6281234567890",
    ];
    let mut rng = openwaba_replay::gen::Rng::new(42);
    let mut now = openwaba_engine::Instant::parse_rfc3339("2023-06-01T10:00:00Z").unwrap();
    let mut checked = 0;
    for _ in 0..600 {
        now =
            openwaba_engine::Instant::from_millis(now.millis() + rng.below(14 * 3_600_000) as i64);
        clock_to(&app, &now.to_string()).await;
        let user = users[rng.below(users.len() as u64) as usize];
        match rng.below(10) {
            0 | 1 => {
                let referral = rng.chance(20);
                app.admin(
                    &format!("/_admin/phone_numbers/{PHONE}/inbound"),
                    json!({"from": user, "referral": referral}),
                )
                .await;
            }
            2 => {
                let ev = [
                    "opt_in",
                    "opt_in",
                    "opt_out",
                    "marketing_stop",
                    "marketing_resume",
                ][rng.below(5) as usize];
                app.admin(
                    &format!("/_admin/wabas/{WABA}/consent"),
                    json!({"wa_id": user, "event": ev}),
                )
                .await;
            }
            3 => set_reachable(&app, user, !rng.chance(50)).await,
            _ => {
                let body = match rng.below(4) {
                    0 => text(user, "hello"),
                    1 => template_body(user, "marketing"),
                    2 => template_body(user, "utility"),
                    _ => template_body(user, "authentication"),
                };
                let (s, q) = app
                    .post(&format!("/_openwaba/v1/{PHONE}/quote"), body.clone())
                    .await;
                assert_eq!(s, 200, "{q}");
                let (s, v) = app.post(&format!("/v23.0/{PHONE}/messages"), body).await;
                assert_eq!(q["accepted"], s == 200, "{q} vs {v}");
                if s != 200 {
                    assert_eq!(q["error"]["code"], v["error"]["code"], "{q} vs {v}");
                    continue;
                }
                let wamid = v["messages"][0]["id"].as_str().unwrap();
                let (_, d) = app.get(&format!("/_openwaba/v1/messages/{wamid}")).await;
                assert_eq!(q["status"], d["status"], "{q} vs {d}");
                if d["status"] == "failed" {
                    assert_eq!(q["error"]["code"], d["error_code"], "{q} vs {d}");
                    continue;
                }
                assert_eq!(
                    q["conversation"]["id"], d["conversation"]["id"],
                    "{q} vs {d}"
                );
                assert_eq!(
                    q["conversation"]["category"], d["conversation"]["category"],
                    "{q} vs {d}"
                );
                assert_eq!(q["pricing"]["type"], d["pricing"]["type"], "{q} vs {d}");
                assert_eq!(q["category"], d["pricing"]["category"], "{q} vs {d}");
                if d["charge"].is_null() {
                    // A market the card has no rate for: unpriced, not free.
                    assert_eq!(q["unpriced"], true, "{q} vs {d}");
                    assert_eq!(q["free"], false, "{q} vs {d}");
                } else {
                    assert_eq!(dec(&q["price"]["amount"]), dec(&d["charge"]), "{q} vs {d}");
                    assert_eq!(q["free"], dec(&d["charge"]).is_zero(), "{q} vs {d}");
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked > 60,
        "only {checked} quotes compared with a delivered send"
    );
    app.stop().await;
}

/// A hard-stopped budget: of many concurrent chargeable sends, exactly those that fit pass;
/// the rest get openwaba's budget error naming the budget; free messages still pass; the
/// thresholds alert once.
#[tokio::test]
async fn no_chargeable_send_passes_a_stopped_budget_even_when_concurrent() {
    let app = frozen_app("2023-06-05T09:00:00Z", "").await;
    create_templates(&app).await;
    // Brazil marketing: 0.0625 per conversation. 0.50 allows exactly 8 conversations.
    let (s, b) = app
        .call(
            reqwest::Method::PUT,
            &format!("/_openwaba/v1/{WABA}/budget"),
            TOKEN,
            Some(json!({"amount": "0.50", "thresholds": [50, 100], "hard_stop": true})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let users: Vec<String> = (0..40).map(|i| format!("55119876{i:05}")).collect();
    for u in &users {
        app.admin(
            &format!("/_admin/wabas/{WABA}/consent"),
            json!({"wa_id": u, "event": "opt_in"}),
        )
        .await;
    }
    let mut tasks = Vec::new();
    for u in users.clone() {
        let http = reqwest::Client::new();
        let url = format!("{}/v23.0/{PHONE}/messages", app.base);
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(TOKEN)
                .json(&template_body(&u, "marketing"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut passed = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        if s == 200 {
            passed += 1;
        } else {
            assert_graph_error(&v, 1_300_002);
            let details = v["error"]["error_data"]["details"].as_str().unwrap();
            assert!(
                details.contains("0.5") && details.contains(WABA),
                "{details}"
            );
        }
    }
    assert_eq!(passed, 8, "exactly the sends that fit in the budget pass");
    let (_, b) = app.get(&format!("/_openwaba/v1/{WABA}/budget")).await;
    assert_eq!(dec(&b["spent"]), Decimal::from_str("0.5").unwrap(), "{b}");
    // A free message (a reply inside the window: a free-tier service conversation) passes.
    app.user_writes(&users[39]).await;
    let (s, v) = app
        .post(&format!("/v23.0/{PHONE}/messages"), text(&users[39], "hi"))
        .await;
    assert_eq!(s, 200, "{v}");
    // The quote says the same as the send.
    let (_, q) = app
        .post(
            &format!("/_openwaba/v1/{PHONE}/quote"),
            template_body(&users[30], "marketing"),
        )
        .await;
    assert_eq!(q["accepted"], false, "{q}");
    assert_eq!(q["error"]["code"], 1_300_002, "{q}");
    // After a restart the month's spend comes back from the ledger: still stopped.
    let mut app = app;
    app.restart().await;
    let (_, b) = app.get(&format!("/_openwaba/v1/{WABA}/budget")).await;
    assert_eq!(dec(&b["spent"]), Decimal::from_str("0.5").unwrap(), "{b}");
    let (s, v) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_body(&users[31], "marketing"),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_graph_error(&v, 1_300_002);
    // Raising the budget lets sends through again.
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/_openwaba/v1/{WABA}/budget"),
            TOKEN,
            Some(json!({"amount": "1.00", "hard_stop": true})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_body(&users[30], "marketing"),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.stop().await;
}

/// Budget thresholds send openwaba's own webhook field once each, with the figures.
#[tokio::test]
async fn budget_thresholds_alert_once_each() {
    // The app's endpoint is not up: events wait in the outbox, where the test reads them.
    let options = Options::default().callback_url("http://127.0.0.1:9/webhook");
    let app = frozen_app_with(options, "2023-06-05T09:00:00Z", "").await;
    create_templates(&app).await;
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/_openwaba/v1/{WABA}/budget"),
            TOKEN,
            Some(json!({"amount": "0.25", "thresholds": "50,100"})),
        )
        .await;
    assert_eq!(s, 200);
    for i in 0..6 {
        let u = format!("55119876{i:05}");
        app.admin(
            &format!("/_admin/wabas/{WABA}/consent"),
            json!({"wa_id": u, "event": "opt_in"}),
        )
        .await;
        let (s, v) = app
            .post(
                &format!("/v23.0/{PHONE}/messages"),
                template_body(&u, "marketing"),
            )
            .await;
        assert_eq!(s, 200, "no hard stop: {v}");
    }
    let r = app.running.as_ref().unwrap();
    let alerts: Vec<Value> = r
        .state
        .store
        .webhooks(None, None, 100)
        .unwrap()
        .into_iter()
        .filter(|w| w.field == "openwaba_budget_alert")
        .map(|w| serde_json::from_str(&w.payload).unwrap())
        .collect();
    // 0.125 of 0.25 after the second send (50%), 0.25 after the fourth (100%): one alert
    // each, none after.
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let values: Vec<&Value> = alerts
        .iter()
        .map(|a| &a["entry"][0]["changes"][0]["value"])
        .collect();
    let mut thresholds: Vec<u64> = values
        .iter()
        .map(|v| v["threshold_percent"].as_u64().unwrap())
        .collect();
    thresholds.sort();
    assert_eq!(thresholds, [50, 100]);
    for v in &values {
        assert_eq!(v["waba_id"], WABA);
        assert_eq!(v["month"], "2023-06");
        assert_eq!(v["budget"], "0.25");
        assert_eq!(v["currency"], "USD");
    }
    assert_eq!(
        alerts[0]["entry"][0]["changes"][0]["field"],
        "openwaba_budget_alert"
    );
    let (_, b) = app.get(&format!("/_openwaba/v1/{WABA}/budget")).await;
    assert_eq!(dec(&b["spent"]), Decimal::from_str("0.375").unwrap(), "{b}");
    assert_eq!(
        dec(&b["budget"]["remaining"]),
        Decimal::from_str("-0.125").unwrap(),
        "{b}"
    );
    app.stop().await;
}

/// A card loaded at runtime prices its family from its effective date; the ledger says which
/// card priced each charge; a bad card is refused with its line.
#[tokio::test]
async fn a_runtime_rate_card_prices_from_its_date_and_is_named_on_the_charge() {
    let app = frozen_app("2023-06-05T09:00:00Z", "").await;
    create_templates(&app).await;
    let card = "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nBrazil,$US,0.0700,0.0400,0.0350,n/a,0.0320\n";
    let url = format!(
        "{}/_openwaba/v1/{WABA}/rate_cards?name=brazil-july&effective_from=2023-07-01",
        app.base
    );
    let r = reqwest::Client::new()
        .post(&url)
        .bearer_auth(TOKEN)
        .body(card)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let bad = reqwest::Client::new()
        .post(&url)
        .bearer_auth(TOKEN)
        .body("Market,Currency,Marketing\nBrazil,$US,abc\n")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let e: Value = bad.json().await.unwrap();
    assert!(
        e["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{e}"
    );

    let (_, cards) = app.get(&format!("/_openwaba/v1/{WABA}/rate_cards")).await;
    assert!(names_in_data(&cards).contains(&"brazil-july"), "{cards}");

    app.admin(
        &format!("/_admin/wabas/{WABA}/consent"),
        json!({"wa_id": USER, "event": "opt_in"}),
    )
    .await;
    let (_, v) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_body(USER, "marketing"),
        )
        .await;
    let june = v["messages"][0]["id"].as_str().unwrap().to_owned();
    clock_to(&app, "2023-07-02T09:00:00Z").await;
    let (_, v) = app
        .post(
            &format!("/v23.0/{PHONE}/messages"),
            template_body(USER, "marketing"),
        )
        .await;
    let july = v["messages"][0]["id"].as_str().unwrap().to_owned();
    let (_, a) = app.get(&format!("/_openwaba/v1/messages/{june}")).await;
    let (_, b) = app.get(&format!("/_openwaba/v1/messages/{july}")).await;
    assert_eq!(a["ledger"]["card"], "built-in cbp-2023-06-usd", "{a}");
    assert_eq!(
        dec(&a["ledger"]["amount"]),
        Decimal::from_str("0.0625").unwrap()
    );
    assert_eq!(b["ledger"]["card"], "brazil-july", "{b}");
    assert_eq!(
        dec(&b["ledger"]["amount"]),
        Decimal::from_str("0.07").unwrap()
    );
    // The card survives a restart.
    let mut app = app;
    app.restart().await;
    let (_, cards) = app.get(&format!("/_openwaba/v1/{WABA}/rate_cards")).await;
    assert!(cards.to_string().contains("brazil-july"), "{cards}");
    app.stop().await;
}

/// The invoice as JSON and CSV, and `analytics` counts of sent and delivered messages.
#[tokio::test]
async fn invoices_in_json_and_csv() {
    let app = frozen_app("2023-06-05T09:00:00Z", "").await;
    create_templates(&app).await;
    for (i, cat) in ["marketing", "marketing", "utility", "authentication"]
        .iter()
        .enumerate()
    {
        let u = format!("55119876{i:05}");
        app.admin(
            &format!("/_admin/wabas/{WABA}/consent"),
            json!({"wa_id": u, "event": "opt_in"}),
        )
        .await;
        let (s, v) = app
            .post(&format!("/v23.0/{PHONE}/messages"), template_body(&u, cat))
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, inv) = app
        .get(&format!("/_openwaba/v1/{WABA}/invoices/2023-06"))
        .await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(inv["currency"], "USD");
    // 2 × 0.0625 + 0.035 + 0.0315 (Brazil, June 2023 card)
    assert_eq!(
        dec(&inv["total"]),
        Decimal::from_str("0.1915").unwrap(),
        "{inv}"
    );
    let marketing = inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["category"] == "marketing")
        .unwrap();
    assert_eq!(marketing["count"], 2);
    assert_eq!(marketing["unit_rate"], "0.0625");
    assert_eq!(marketing["market"], "Brazil");
    let csv = get_csv(&app, "invoices/2023-06?format=csv").await;
    assert!(csv.starts_with("month,market,category,pricing_model,pricing_type,tier,unit_rate,count,amount,currency\n"), "{csv}");
    assert!(
        csv.contains("2023-06,Brazil,marketing,CBP,REGULAR,,0.0625,2,0.125,USD"),
        "{csv}"
    );
    assert!(
        csv.trim_end().ends_with("2023-06,TOTAL,,,,,,4,0.1915,USD"),
        "{csv}"
    );
    let (s, e) = app
        .get(&format!("/_openwaba/v1/{WABA}/invoices/2023-13"))
        .await;
    assert_eq!(s, 400);
    assert_graph_error(&e, 100);
    // Another business's token sees nothing of this WABA.
    let (s, _) = app
        .call(
            reqwest::Method::GET,
            &format!("/_openwaba/v1/{WABA}/invoices/2023-06"),
            "nope",
            None,
        )
        .await;
    assert_eq!(s, 401);
    app.stop().await;
}

/// GET `/_openwaba/v1/{WABA}/{rel}` with the business token: a CSV answer's text.
async fn get_csv(app: &TestApp, rel: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{}/_openwaba/v1/{WABA}/{rel}", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    r.text().await.unwrap()
}
