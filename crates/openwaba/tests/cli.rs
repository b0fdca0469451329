//! Black-box tests of the `openwaba` binary: `replay` (formats, errors, streaming) and
//! `gen-log`. Every log and rate card is written inline into a temporary directory, so the
//! tests need nothing outside this repository.

// Test helpers fail loudly: the workspace lints against this are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_openwaba");

const HEADER: &str =
    "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service";

/// A card whose rates differ from every built-in one, so a charge shows which card was used.
fn custom_card() -> String {
    format!(
        "{HEADER}\n\
         Brazil,$US,0.0712,0.0333,0.0222,n/a,0.0111\n\
         India,$US,0.0107,0.0042,0.0041,0.0280,0.0031\n\
         Other,$US,0.0600,0.0340,0.0300,n/a,0.0150\n"
    )
}

const BR: &str = "5511987650001";
const IN: &str = "919876543210";
const BIZ: &str = "15550001111";

fn ev(at: &str, event: &str, user: &str, extra: &str) -> String {
    format!(r#"{{"at":"{at}","event":"{event}","business":"{BIZ}","user":"{user}"{extra}}}"#)
}

fn send(at: &str, user: &str, id: &str, rest: &str) -> String {
    ev(at, "send", user, &format!(r#","id":"{id}"{rest}"#))
}

/// June 2023 (policy v1, conversation-based pricing): every outcome a send can have.
fn sample_log() -> String {
    [
        ev("2023-06-05T00:00:00Z", "opt_in", BR, ""),
        ev("2023-06-05T09:00:00Z", "inbound", BR, ""),
        // 3: a service reply in the window: a free-tier service conversation.
        send("2023-06-05T09:30:00Z", BR, "m1", r#","kind":"text""#),
        // 4: a marketing template: the card's Brazil marketing rate.
        send(
            "2023-06-05T10:00:00Z",
            BR,
            "m2",
            r#","kind":"template","category":"marketing""#,
        ),
        // 5: a template to a user who never opted in: rejected.
        send(
            "2023-06-05T10:05:00Z",
            IN,
            "m3",
            r#","kind":"template","category":"marketing""#,
        ),
        // 6: free-form outside any window: failed, 131047.
        send("2023-06-05T10:10:00Z", IN, "m4", r#","kind":"text""#),
        // 7: undeliverable: failed, 131026.
        send(
            "2023-06-05T10:15:00Z",
            BR,
            "m5",
            r#","kind":"template","category":"utility","delivered":false"#,
        ),
        ev("2023-06-05T10:20:00Z", "opt_in", IN, ""),
        // 9: a utility template to India.
        send(
            "2023-06-05T10:25:00Z",
            IN,
            "m6",
            r#","kind":"template","category":"utility""#,
        ),
        // 10: free-form while two conversations are open: joins the later one, free.
        send(
            "2023-06-05T10:30:00Z",
            BR,
            r#"m7,\"x\""#,
            r#","kind":"image""#,
        ),
    ]
    .join("\n")
        + "\n"
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write temp file");
        p
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn openwaba");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        // Write from another thread so a full stdout pipe cannot deadlock us.
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    child.wait_with_output().expect("wait for openwaba")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and insists on success with a silent stderr.
fn ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let o = run(args, stdin);
    assert_eq!(
        o.status.code(),
        Some(0),
        "openwaba {args:?} failed: {}",
        stderr(&o)
    );
    assert!(
        o.stderr.is_empty(),
        "openwaba {args:?} wrote to stderr on success: {}",
        stderr(&o)
    );
    stdout(&o)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn num(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

fn assert_close(v: &Value, expected: f64, what: &str) {
    let got = num(v);
    assert!(
        (got - expected).abs() < 1e-9,
        "{what}: expected {expected}, got {got}"
    );
}

fn message<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["messages"]
        .as_array()
        .expect("messages is an array")
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no message {id}"))
}

fn sample_report(fx: &Fixture) -> (String, Value) {
    let log = fx.file("log.jsonl", &sample_log());
    let card = fx.file("card.csv", &custom_card());
    let text = ok(
        &["replay", "--format", "json", "--rates", p(&card), p(&log)],
        None,
    );
    let v = json(&text);
    (text, v)
}

// ---------------------------------------------------------------------------------------
// --format json

#[test]
fn json_report_has_the_contract_shape() {
    let fx = Fixture::new();
    let (_, r) = sample_report(&fx);
    let obj = r.as_object().expect("report is an object");
    for k in ["messages", "conversations", "totals"] {
        assert!(obj.contains_key(k), "report lacks `{k}`");
    }
    let messages = r["messages"].as_array().expect("messages array");
    let ids: Vec<&str> = messages
        .iter()
        .map(|m| m["id"].as_str().expect("id is a string"))
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3", "m4", "m5", "m6", "m7,\"x\""]);
    let lines: Vec<u64> = messages
        .iter()
        .map(|m| m["line"].as_u64().expect("line is an integer"))
        .collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 9, 10]);
    for m in messages {
        for k in ["id", "line", "status", "error", "conversation", "pricing"] {
            assert!(m.get(k).is_some(), "message lacks `{k}`: {m}");
        }
        let status = m["status"].as_str().expect("status string");
        assert!(
            ["delivered", "failed", "rejected"].contains(&status),
            "{status}"
        );
        if status == "delivered" {
            assert!(m["error"].is_null(), "{m}");
            let pr = &m["pricing"];
            for k in ["model", "category", "billable", "type", "charge"] {
                assert!(pr.get(k).is_some(), "pricing lacks `{k}`: {m}");
            }
            assert!(pr["billable"].is_boolean());
        } else {
            assert!(m["pricing"].is_null(), "not delivered, so no pricing: {m}");
            let e = &m["error"];
            assert!(e["code"].is_u64(), "{m}");
            assert!(e["reason"].is_string(), "{m}");
            assert!(e["title"].is_string(), "{m}");
        }
        let c = &m["conversation"];
        if !c.is_null() {
            for k in ["id", "category", "opened", "expires_at"] {
                assert!(c.get(k).is_some(), "conversation lacks `{k}`: {m}");
            }
        }
    }
    let convs = r["conversations"].as_array().expect("conversations array");
    assert_eq!(convs.len(), 3);
    for c in convs {
        for k in [
            "id",
            "business",
            "user",
            "category",
            "market",
            "opened_at",
            "expires_at",
            "type",
            "charge",
        ] {
            assert!(c.get(k).is_some(), "conversation lacks `{k}`: {c}");
        }
        assert!(
            ["REGULAR", "FREE_TIER", "FREE_ENTRY_POINT"]
                .contains(&c["type"].as_str().expect("type string")),
            "{c}"
        );
    }
    let t = &r["totals"];
    for k in [
        "currency",
        "charge",
        "messages",
        "delivered",
        "failed",
        "rejected",
        "conversations",
    ] {
        assert!(t.get(k).is_some(), "totals lacks `{k}`: {t}");
    }
    assert!(t["conversations"].is_object());
}

#[test]
fn json_report_values() {
    let fx = Fixture::new();
    let (text, r) = sample_report(&fx);

    // A service reply under the 2023 rules: a free-tier conversation, billable, charge 0.
    let m1 = message(&r, "m1");
    assert_eq!(m1["status"], "delivered");
    assert_eq!(m1["conversation"]["category"], "service");
    assert_eq!(m1["conversation"]["opened"], true);
    assert_eq!(m1["conversation"]["expires_at"], "2023-06-06T09:30:00Z");
    assert_eq!(m1["pricing"]["model"], "CBP");
    assert_eq!(m1["pricing"]["category"], "service");
    assert_eq!(m1["pricing"]["billable"], true);
    assert_close(&m1["pricing"]["charge"], 0.0, "m1 charge");

    // A marketing template with --rates: the card's Brazil marketing rate.
    let m2 = message(&r, "m2");
    assert_eq!(m2["status"], "delivered");
    assert_eq!(m2["conversation"]["category"], "marketing");
    assert_eq!(m2["conversation"]["opened"], true);
    assert_eq!(m2["conversation"]["expires_at"], "2023-06-06T10:00:00Z");
    assert_eq!(m2["pricing"]["category"], "marketing");
    assert_eq!(m2["pricing"]["type"], "regular");
    assert_close(&m2["pricing"]["charge"], 0.0712, "m2 charge");
    // Exact decimals, written as JSON numbers.
    assert!(text.contains("\"charge\":0.0712"), "{text}");

    let m3 = message(&r, "m3");
    assert_eq!(m3["status"], "rejected");
    assert_eq!(m3["error"]["reason"], "no_opt_in");
    assert!(m3["conversation"].is_null());

    let m4 = message(&r, "m4");
    assert_eq!(m4["status"], "failed");
    assert_eq!(m4["error"]["code"], 131047);
    assert_eq!(m4["error"]["reason"], "outside_customer_service_window");

    let m5 = message(&r, "m5");
    assert_eq!(m5["status"], "failed");
    assert_eq!(m5["error"]["code"], 131026);
    assert_eq!(m5["error"]["reason"], "undeliverable");

    let m6 = message(&r, "m6");
    assert_eq!(m6["pricing"]["category"], "utility");
    assert_close(
        &m6["pricing"]["charge"],
        0.0042,
        "m6 charge (India utility)",
    );

    // Free-form while a service and a marketing conversation are open: joins the most
    // recently opened one (rules.md), no charge.
    let m7 = message(&r, "m7,\"x\"");
    assert_eq!(m7["conversation"]["id"], m2["conversation"]["id"]);
    assert_eq!(m7["conversation"]["opened"], false);
    assert_close(&m7["pricing"]["charge"], 0.0, "m7 charge");

    let convs = r["conversations"].as_array().expect("conversations");
    let by_cat = |cat: &str| {
        convs
            .iter()
            .find(|c| c["category"] == cat)
            .unwrap_or_else(|| panic!("no {cat} conversation"))
    };
    let service = by_cat("service");
    assert_eq!(service["type"], "FREE_TIER");
    assert_eq!(service["id"], m1["conversation"]["id"]);
    assert_eq!(service["business"], BIZ);
    assert_eq!(service["user"], BR);
    assert_eq!(service["market"], "Brazil");
    assert_eq!(service["opened_at"], "2023-06-05T09:30:00Z");
    assert_eq!(service["expires_at"], "2023-06-06T09:30:00Z");
    assert_close(&service["charge"], 0.0, "service conversation charge");
    let marketing = by_cat("marketing");
    assert_eq!(marketing["type"], "REGULAR");
    assert_eq!(marketing["market"], "Brazil");
    assert_close(
        &marketing["charge"],
        0.0712,
        "marketing conversation charge",
    );
    let utility = by_cat("utility");
    assert_eq!(utility["market"], "India");
    assert_eq!(utility["user"], IN);

    let t = &r["totals"];
    assert_eq!(t["currency"], "USD");
    assert_close(&t["charge"], 0.0754, "total charge");
    assert_eq!(t["messages"], 7);
    assert_eq!(t["delivered"], 4);
    assert_eq!(t["failed"], 2);
    assert_eq!(t["rejected"], 1);
    assert_eq!(
        t["conversations"],
        serde_json::json!({"service": 1, "marketing": 1, "utility": 1})
    );
}

#[test]
fn line_numbers_count_blank_lines_and_crlf_is_accepted() {
    let fx = Fixture::new();
    let log = [
        ev("2023-06-05T09:00:00Z", "inbound", BR, ""),
        String::new(),
        send("2023-06-05T09:30:00Z", BR, "m1", r#","kind":"text""#),
    ]
    .join("\r\n")
        + "\r\n";
    let log = fx.file("crlf.jsonl", &log);
    let r = json(&ok(&["replay", "--format", "json", p(&log)], None));
    assert_eq!(message(&r, "m1")["line"], 3);
    assert_eq!(r["totals"]["messages"], 1);
}

#[test]
fn stdin_gives_the_same_report_as_the_file() {
    let fx = Fixture::new();
    let log_text = sample_log();
    let log = fx.file("log.jsonl", &log_text);
    let card = fx.file("card.csv", &custom_card());
    for format in ["json", "csv", "table"] {
        let from_file = ok(
            &["replay", "--format", format, "--rates", p(&card), p(&log)],
            None,
        );
        let from_stdin = ok(
            &["replay", "--format", format, "--rates", p(&card), "-"],
            Some(log_text.as_bytes()),
        );
        assert_eq!(from_file, from_stdin, "--format {format}");
    }
}

// ---------------------------------------------------------------------------------------
// --format csv

/// A minimal RFC 4180 reader (quoted fields, doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => field.push(c),
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                c => field.push(c),
            }
        }
    }
    assert!(!quoted, "unterminated quoted field");
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[test]
fn csv_has_a_header_and_one_row_per_send_matching_json() {
    let fx = Fixture::new();
    let log = fx.file("log.jsonl", &sample_log());
    let card = fx.file("card.csv", &custom_card());
    let csv = ok(
        &["replay", "--format", "csv", "--rates", p(&card), p(&log)],
        None,
    );
    let r = json(&ok(
        &["replay", "--format", "json", "--rates", p(&card), p(&log)],
        None,
    ));
    let rows = parse_csv(&csv);
    let header = &rows[0];
    let messages = r["messages"].as_array().expect("messages");
    assert_eq!(rows.len() - 1, messages.len(), "one row per send:\n{csv}");
    for row in &rows[1..] {
        assert_eq!(row.len(), header.len(), "ragged row {row:?}");
    }
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no `{name}` column in {header:?}"))
    };
    let (id, line, status, charge) = (col("id"), col("line"), col("status"), col("charge"));
    for (row, m) in rows[1..].iter().zip(messages) {
        assert_eq!(row[id], m["id"].as_str().expect("id"), "{row:?}");
        assert_eq!(
            row[line],
            m["line"].as_u64().expect("line").to_string(),
            "{row:?}"
        );
        assert_eq!(
            row[status],
            m["status"].as_str().expect("status"),
            "{row:?}"
        );
        let json_charge = &m["pricing"]["charge"];
        if json_charge.is_null() {
            assert_eq!(row[charge], "", "{row:?}");
        } else {
            let c: f64 = row[charge]
                .parse()
                .unwrap_or_else(|e| panic!("charge `{}`: {e}", row[charge]));
            assert!((c - num(json_charge)).abs() < 1e-9, "{row:?} vs {m}");
        }
    }
    // The Brazil marketing rate of the card appears as such.
    let m2 = rows[1..]
        .iter()
        .find(|r| r[id] == "m2")
        .expect("row for m2");
    assert_eq!(m2[charge], "0.0712");
}

// ---------------------------------------------------------------------------------------
// table and --compare

#[test]
fn table_reports_totals_by_category_market_month_and_versions() {
    let fx = Fixture::new();
    let log = fx.file("log.jsonl", &sample_log());
    let card = fx.file("card.csv", &custom_card());
    let text = ok(&["replay", "--rates", p(&card), p(&log)], None);
    let lower = text.to_lowercase();
    for needle in [
        "category",
        "market",
        "month",
        "version",
        "marketing",
        "utility",
        "service",
        "brazil",
        "india",
        "2023-06",
        "v1",
        "0.0754",
    ] {
        assert!(lower.contains(needle), "table lacks `{needle}`:\n{text}");
    }
    // Explicit --format table is the same as the default.
    let explicit = ok(
        &["replay", "--format", "table", "--rates", p(&card), p(&log)],
        None,
    );
    assert_eq!(text, explicit);
}

const VERSIONS: [&str; 6] = ["v0", "v1", "v1.1", "v2", "v2.2", "v3"];

#[test]
fn compare_table_has_a_column_per_version() {
    let fx = Fixture::new();
    let log = fx.file("log.jsonl", &sample_log());
    let text = ok(&["replay", "--compare", p(&log)], None);
    assert!(
        text.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols == VERSIONS
        }),
        "no header row with exactly {VERSIONS:?}:\n{text}"
    );
}

#[test]
fn compare_json_has_a_key_per_version() {
    let fx = Fixture::new();
    let log = fx.file("log.jsonl", &sample_log());
    let card = fx.file("card.csv", &custom_card());
    let r = json(&ok(
        &[
            "replay",
            "--compare",
            "--format",
            "json",
            "--rates",
            p(&card),
            p(&log),
        ],
        None,
    ));
    let runs = r.get("compare").unwrap_or(&r);
    let obj = runs.as_object().expect("an object of versions");
    for v in VERSIONS {
        let t = obj.get(v).unwrap_or_else(|| panic!("no `{v}` in {runs}"));
        assert_eq!(t["messages"], 7, "{v}: {t}");
        assert!(t.get("charge").is_some_and(Value::is_number), "{v}: {t}");
    }
    // Under v1 with the card, the same total as the plain replay.
    assert_close(&obj["v1"]["charge"], 0.0754, "v1 total");
}

// ---------------------------------------------------------------------------------------
// Unusable input: exit 2, a message naming the line and the field.

fn expect_failure(args: &[&str], stdin: Option<&[u8]>, needles: &[&str]) -> String {
    let o = run(args, stdin);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "openwaba {args:?} should exit 2; stderr: {err}"
    );
    for n in needles {
        assert!(
            err.contains(n),
            "stderr of {args:?} does not mention `{n}`: {err}"
        );
    }
    err
}

/// A log whose line 3 is `bad`, after two good lines.
fn log_with_bad_line_3(fx: &Fixture, bad: &str) -> PathBuf {
    let text = [
        ev("2023-06-05T09:00:00Z", "opt_in", BR, ""),
        ev("2023-06-05T09:10:00Z", "inbound", BR, ""),
        bad.to_owned(),
        send("2023-06-05T09:40:00Z", BR, "m9", r#","kind":"text""#),
    ]
    .join("\n")
        + "\n";
    fx.file("bad.jsonl", &text)
}

#[test]
fn bad_lines_exit_2_naming_line_and_field() {
    let at = "2023-06-05T09:30:00Z";
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "invalid JSON",
            r#"{"at":"2023-06-05T09:30:00Z","event":"send","#.to_owned(),
            &["line 3", "JSON"],
        ),
        (
            "not an object",
            r#"["inbound"]"#.to_owned(),
            &["line 3", "object"],
        ),
        (
            "missing field",
            ev(at, "send", BR, r#","kind":"text""#),
            &["line 3", "id", "missing"],
        ),
        (
            "missing at",
            format!(r#"{{"event":"inbound","business":"{BIZ}","user":"{BR}"}}"#),
            &["line 3", "`at`", "missing"],
        ),
        (
            "unknown event",
            ev(at, "call", BR, ""),
            &["line 3", "event", "call"],
        ),
        (
            "unknown category",
            send(at, BR, "m1", r#","kind":"template","category":"promo""#),
            &["line 3", "category", "promo"],
        ),
        (
            "template without category",
            send(at, BR, "m1", r#","kind":"template""#),
            &["line 3", "category"],
        ),
        (
            "malformed number",
            ev(at, "inbound", "+5511987650001", ""),
            &["line 3", "user", "+5511987650001"],
        ),
        (
            "malformed business number",
            format!(r#"{{"at":"{at}","event":"inbound","business":"1555-0001111","user":"{BR}"}}"#),
            &["line 3", "business", "1555-0001111"],
        ),
        (
            "bad timestamp",
            ev("2023-06-05 09:30", "inbound", BR, ""),
            &["line 3", "at", "2023-06-05 09:30"],
        ),
        (
            "impossible date",
            ev("2023-02-30T09:30:00Z", "inbound", BR, ""),
            &["line 3", "at"],
        ),
        (
            "time going backwards",
            ev("2023-06-05T09:05:00Z", "inbound", BR, ""),
            &["line 3", "at"],
        ),
        (
            "wrong type (delivered)",
            send(at, BR, "m1", r#","kind":"text","delivered":"yes""#),
            &["line 3", "delivered"],
        ),
        (
            "wrong type (id)",
            ev(at, "send", BR, r#","id":7,"kind":"text""#),
            &["line 3", "id"],
        ),
        (
            "wrong type (referral)",
            ev(at, "inbound", BR, r#","referral":1"#),
            &["line 3", "referral"],
        ),
        (
            "empty id",
            send(at, BR, "", r#","kind":"text""#),
            &["line 3", "id"],
        ),
    ];
    for (what, bad, needles) in cases {
        let fx = Fixture::new();
        let log = log_with_bad_line_3(&fx, &bad);
        let err = expect_failure(&["replay", "--format", "json", p(&log)], None, needles);
        assert!(!err.trim().is_empty(), "{what}: empty message");
        // The same from standard input.
        let text = std::fs::read(&log).expect("read log");
        expect_failure(&["replay", "-"], Some(&text), needles);
    }
}

#[test]
fn missing_rate_fails_naming_market_and_category() {
    let fx = Fixture::new();
    let log = fx.file(
        "log.jsonl",
        &[
            ev("2023-06-05T00:00:00Z", "opt_in", BR, ""),
            send(
                "2023-06-05T09:30:00Z",
                BR,
                "m1",
                r#","kind":"template","category":"marketing""#,
            ),
        ]
        .join("\n"),
    );
    let card = fx.file(
        "india.csv",
        &format!("{HEADER}\nIndia,$US,0.0107,0.0042,0.0041,0.0280,0.0031\n"),
    );
    expect_failure(
        &["replay", "--format", "json", "--rates", p(&card), p(&log)],
        None,
        &["Brazil", "marketing", "line 2"],
    );

    let r = json(&ok(
        &[
            "replay",
            "--format",
            "json",
            "--rates",
            p(&card),
            "--allow-missing-rates",
            p(&log),
        ],
        None,
    ));
    let m1 = message(&r, "m1");
    assert_eq!(m1["status"], "delivered");
    assert!(m1["pricing"]["charge"].is_null(), "{m1}");
    let conv = &r["conversations"][0];
    assert!(conv["charge"].is_null(), "{conv}");
    // "... and says so in the totals".
    let totals = r["totals"].as_object().expect("totals");
    assert!(
        totals.iter().any(|(k, v)| {
            (k.contains("unpriced") || k.contains("missing"))
                && !(v.is_null() || *v == 0 || *v == false)
        }),
        "the totals do not say a rate was missing: {}",
        r["totals"]
    );
}

#[test]
fn unknown_option_values_are_refused() {
    let fx = Fixture::new();
    let log = fx.file("log.jsonl", &sample_log());
    for (flag, value) in [
        ("--timezone", "Mars/Olympus_Mons"),
        ("--policy", "v9"),
        ("--consent", "maybe"),
        ("--format", "xml"),
    ] {
        let err = expect_failure(&["replay", flag, value, p(&log)], None, &[value]);
        assert!(
            err.contains(flag) || err.contains(flag.trim_start_matches('-')),
            "the message does not name {flag}: {err}"
        );
    }
    // Valid values are accepted.
    for (flag, value) in [
        ("--timezone", "America/Sao_Paulo"),
        ("--policy", "v2.2"),
        ("--policy", "auto"),
        ("--consent", "warn"),
        ("--consent", "off"),
    ] {
        ok(
            &[
                "replay",
                "--allow-missing-rates",
                flag,
                value,
                "--format",
                "json",
                p(&log),
            ],
            None,
        );
    }
}

#[test]
fn a_bad_rate_card_names_the_file_and_line() {
    let fx = Fixture::new();
    let log = fx.file("log.jsonl", &sample_log());
    let card = fx.file(
        "broken-card.csv",
        &format!(
            "{HEADER}\n\
             India,$US,0.0107,0.0042,0.0041,0.0280,0.0031\n\
             Brazil,$US,0.0712,abc,0.0222,n/a,0.0111\n"
        ),
    );
    expect_failure(
        &["replay", "--rates", p(&card), p(&log)],
        None,
        &["broken-card.csv", "line 3", "abc"],
    );
    let missing = fx.path("no-such-card.csv");
    expect_failure(
        &["replay", "--rates", p(&missing), p(&log)],
        None,
        &["no-such-card.csv"],
    );
}

#[test]
fn a_missing_log_file_is_an_error() {
    let fx = Fixture::new();
    let missing = fx.path("nope.jsonl");
    expect_failure(&["replay", p(&missing)], None, &["nope.jsonl"]);
}

#[test]
fn nothing_on_stderr_on_success_when_piped() {
    let fx = Fixture::new();
    let log_text = sample_log();
    let log = fx.file("log.jsonl", &log_text);
    let card = fx.file("card.csv", &custom_card());
    for args in [
        vec!["replay", p(&log)],
        vec!["replay", "--format", "json", "--rates", p(&card), p(&log)],
        vec!["replay", "--format", "csv", p(&log)],
        vec!["replay", "--compare", p(&log)],
        vec!["replay", "--compare", "--format", "json", p(&log)],
    ] {
        // `ok` asserts an empty stderr.
        ok(&args, None);
    }
    ok(&["replay", "-"], Some(log_text.as_bytes()));
}

#[test]
fn an_empty_log_is_an_empty_report() {
    let fx = Fixture::new();
    let log = fx.file("empty.jsonl", "");
    let r = json(&ok(&["replay", "--format", "json", p(&log)], None));
    assert_eq!(r["messages"], serde_json::json!([]));
    assert_eq!(r["conversations"], serde_json::json!([]));
    assert_eq!(r["totals"]["messages"], 0);
}

// ---------------------------------------------------------------------------------------
// gen-log

#[test]
fn gen_log_is_deterministic_and_replays() {
    let fx = Fixture::new();
    let a = run(&["gen-log", "--events", "3000", "--seed", "7"], None);
    let b = run(&["gen-log", "--events", "3000", "--seed", "7"], None);
    let c = run(&["gen-log", "--events", "3000", "--seed", "8"], None);
    for o in [&a, &b, &c] {
        assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
        assert!(o.stderr.is_empty(), "{}", stderr(o));
    }
    assert_eq!(a.stdout, b.stdout, "same seed, same bytes");
    assert_ne!(a.stdout, c.stdout, "another seed, another log");
    let text = stdout(&a);
    assert_eq!(text.lines().count(), 3000);

    // --output writes the same bytes as standard output.
    let out = fx.path("gen.jsonl");
    ok(
        &["gen-log", "--events", "3000", "--seed", "7", "-o", p(&out)],
        None,
    );
    assert_eq!(std::fs::read(&out).expect("read gen-log output"), a.stdout);

    // Every line is an object with the common fields.
    for l in text.lines().take(200) {
        let v = json(l);
        for k in ["at", "event", "business", "user"] {
            assert!(v[k].is_string(), "{l}");
        }
    }

    // It replays; one message per send, in order.
    let sends: Vec<String> = text
        .lines()
        .map(json)
        .filter(|v| v["event"] == "send")
        .map(|v| v["id"].as_str().expect("send id").to_owned())
        .collect();
    let r = json(&ok(
        &[
            "replay",
            "--format",
            "json",
            "--allow-missing-rates",
            p(&out),
        ],
        None,
    ));
    let ids: Vec<&str> = r["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, sends);
    assert_eq!(r["totals"]["messages"], sends.len());
    ok(&["replay", "--allow-missing-rates", p(&out)], None);
    ok(&["replay", "--compare", p(&out)], None);
}

// ---------------------------------------------------------------------------------------
// Streaming: peak memory does not grow with the length of the log.

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Replays `log` and returns the peak resident set (KiB) seen while it ran.
fn peak_rss_of_replay(log: &Path) -> u64 {
    let mut child = Command::new(BIN)
        .args([
            "replay",
            "--format",
            "table",
            "--allow-missing-rates",
            p(log),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn replay");
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(v) = vm_hwm_kib(pid) {
            peak = peak.max(v);
        }
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "replay of {} failed", log.display());
    assert!(peak > 0, "could not read VmHWM of the replay");
    peak
}

#[test]
fn replay_streams_in_constant_memory() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: skipping the memory test");
        return;
    }
    let fx = Fixture::new();
    let small = fx.path("small.jsonl");
    let big = fx.path("big.jsonl");
    for (events, path) in [("200000", &small), ("800000", &big)] {
        ok(
            &[
                "gen-log",
                "--events",
                events,
                "--users",
                "2000",
                "--seed",
                "11",
                "-o",
                p(path),
            ],
            None,
        );
    }
    let small_rss = peak_rss_of_replay(&small);
    let big_rss = peak_rss_of_replay(&big);
    assert!(
        (big_rss as f64) < 1.5 * small_rss as f64,
        "peak RSS grows with the log: {small_rss} KiB for 200k events, {big_rss} KiB for 800k"
    );
}

#[test]
fn a_json_array_is_not_an_event() {
    let fx = Fixture::new();
    let log = log_with_bad_line_3(
        &fx,
        &format!(r#"["2023-06-05T09:30:00Z","send","{BIZ}","{BR}","m1","text",null,true,null]"#),
    );
    expect_failure(&["replay", "--format", "json", p(&log)], None, &["line 3"]);
}
