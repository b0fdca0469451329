//! `openwaba serve` as a user runs it: the real binary, real HTTP, `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openwaba_store::{SqliteStore, Store};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `openwaba serve` on `port` with the tests' fixed ids and tokens, plus `extra` arguments;
/// stdout piped (the first-start banner) or discarded.
fn serve_with(dir: &std::path::Path, port: u16, extra: &[&str], stdout: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_openwaba"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .env("OPENWABA_ACCESS_TOKEN", "tok")
        .env("OPENWABA_ADMIN_TOKEN", "admin")
        .env("OPENWABA_WABA_ID", "200000000000001")
        .env("OPENWABA_PHONE_NUMBER_ID", "300000000000001")
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn serve(dir: &std::path::Path, port: u16) -> Child {
    serve_with(dir, port, &[], Stdio::piped())
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz"))
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not start");
}

/// `openwaba serve` on a virtual clock started at `clock_start`, output discarded.
fn serve_virtual(dir: &std::path::Path, port: u16, clock_start: &str) -> Child {
    serve_with(dir, port, &["--clock-start", clock_start], Stdio::null())
}

/// Runs the `openwaba` command line against the server on `port`: (exit code, stdout, stderr).
fn cli(port: u16, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_openwaba"))
        .args(args)
        .args(["--server", &format!("http://127.0.0.1:{port}")])
        .env("OPENWABA_ADMIN_TOKEN", "admin")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_message_answered_200_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve(dir.path(), port);
    wait_ready(port);
    let http = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let r = http
        .post(format!(
            "{base}/_admin/phone_numbers/300000000000001/inbound"
        ))
        .bearer_auth("admin")
        .json(&json!({"from": "5511987650001"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{base}/v23.0/300000000000001/messages"))
        .bearer_auth("tok")
        .json(&json!({"messaging_product": "whatsapp", "to": "5511987650001", "type": "text", "text": {"body": "ol\u{e1} \u{1f44b}"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().unwrap()["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().unwrap();

    let store = SqliteStore::open(dir.path()).unwrap();
    let m = store
        .message(seq_of(&id), &id)
        .unwrap()
        .expect("the acknowledged message is on disk");
    assert_eq!(m.status, "delivered");
    assert!(m.content.contains("ol\u{e1}"));
    drop(store);

    // And the server picks up where it was: the window is still open after a restart.
    let port = free_port();
    let mut child = serve(dir.path(), port);
    wait_ready(port);
    let r = http
        .post(format!("http://127.0.0.1:{port}/v23.0/300000000000001/messages"))
        .bearer_auth("tok")
        .json(&json!({"messaging_product": "whatsapp", "to": "5511987650001", "type": "text", "text": {"body": "again"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let id2 = r.json::<Value>().unwrap()["messages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    child.kill().unwrap();
    child.wait().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let m2 = store.message(seq_of(&id2), &id2).unwrap().unwrap();
    assert_eq!(
        m2.status, "delivered",
        "the window was rebuilt from the store"
    );
}

#[test]
fn first_start_prints_credentials_and_a_curl_example() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_openwaba"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("access token"), "{text}");
    assert!(text.contains("curl -s http://127.0.0.1:"), "{text}");
    let token = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("access token"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.starts_with("EAA"));
    // The same data directory keeps the same token.
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_openwaba"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "http://127.0.0.1:{port}/v23.0/me?access_token={token}"
        ))
        .send()
        .unwrap();
    assert_ne!(r.status(), 401, "the token still works after a restart");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The store key a wamid carries.
fn seq_of(id: &str) -> i64 {
    openwaba_server::ids::wamid_seq(id).unwrap() as i64
}

/// `openwaba sim` and `openwaba clock` against a running server: the customer writes, the
/// window is open; 25 hours later a free-form message fails with 131047.
#[test]
fn the_sim_and_clock_commands_drive_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_virtual(dir.path(), port, "2024-03-01T10:00:00Z");
    wait_ready(port);
    let cli = |args: &[&str]| cli(port, args);
    let (code, out, err) = cli(&["sim", "send", "--from", "5511987650001", "oi"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("wamid."), "{out}");
    let send = |body: &str| {
        let http = reqwest::blocking::Client::new();
        let v: Value = http
            .post(format!("http://127.0.0.1:{port}/v23.0/300000000000001/messages"))
            .bearer_auth("tok")
            .json(&json!({"messaging_product": "whatsapp", "to": "5511987650001", "type": "text", "text": {"body": body}}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["messages"][0]["id"].as_str().unwrap().to_owned()
    };
    let inside = send("inside");
    let (code, out, _) = cli(&["clock", "advance", "25h"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("2024-03-02T11:00"), "{out}");
    let outside = send("outside");
    let (code, _, err) = cli(&["clock", "set", "2024-01-01T00:00:00Z"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("forward"), "{err}");
    let (code, _, err) = cli(&[
        "sim",
        "user",
        "5511987650001",
        "--receipts",
        "manual",
        "--reachable",
        "false",
    ]);
    assert_eq!(code, Some(0), "{err}");
    child.kill().unwrap();
    child.wait().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let a = store.message(seq_of(&inside), &inside).unwrap().unwrap();
    let b = store.message(seq_of(&outside), &outside).unwrap().unwrap();
    assert_eq!(a.status, "delivered");
    assert_eq!((b.status.as_str(), b.error_code), ("failed", Some(131_047)));
    assert!(
        a.created_at < 1_709_300_000_000,
        "stored at the virtual instant: {}",
        a.created_at
    );
}

/// `openwaba invoice`, `budget`, `rates` and `clock freeze|thaw` against a running server.
#[test]
fn the_cost_commands_drive_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_virtual(dir.path(), port, "2023-06-05T10:00:00Z");
    wait_ready(port);
    let cli = |args: &[&str]| cli(port, args);
    let (code, out, err) = cli(&["clock", "freeze"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"frozen\":true"), "{out}");
    // The customer writes; the business answers: a free-tier service conversation (June 2023).
    let (code, _, err) = cli(&["sim", "send", "--from", "5511987650001", "oi"]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/v23.0/300000000000001/messages"))
        .bearer_auth("tok")
        .json(&json!({"messaging_product": "whatsapp", "to": "5511987650001", "type": "text", "text": {"body": "olá"}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(v["messages"][0]["id"].is_string(), "{v}");
    // A quote: a reply inside the open window joins the service conversation, free.
    let (code, out, err) = cli(&[
        "quote",
        "--phone",
        "300000000000001",
        "--to",
        "5511987650001",
        "--text",
        "more",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let q: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(q["accepted"], true, "{q}");
    assert_eq!(q["free_reason"], "joins_open_conversation", "{q}");
    let (code, _, err) = cli(&[
        "quote",
        "--phone",
        "300000000000001",
        "--to",
        "5511987650001",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--template"), "{err}");
    let invoice = ["invoice", "--waba", "200000000000001", "--month", "2023-06"];
    let (code, out, err) = cli(&[&invoice[..], &["--format", "csv"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("2023-06,Brazil,service,CBP,FREE_TIER,,0,1,0,USD"),
        "{out}"
    );
    let (code, out, _) = cli(&invoice);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("free tier conversations 1") && out.contains("total 0 USD"),
        "{out}"
    );
    let (code, out, _) = cli(&[&invoice[..], &["--format", "json"]].concat());
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["free_tier_conversations"], 1);
    let (code, _, err) = cli(&["invoice", "--waba", "200000000000001", "--month", "June"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("YYYY-MM"), "{err}");

    let budget = ["budget", "--waba", "200000000000001"];
    let (code, out, err) = cli(&[&budget[..], &["set", "100.00", "--hard-stop"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"hard_stop\":true"), "{out}");
    let (code, out, _) = cli(&[&budget[..], &["show"]].concat());
    assert_eq!(code, Some(0));
    assert!(out.contains("\"spent\":\"0\""), "{out}");

    let card = dir.path().join("card.csv");
    std::fs::write(
        &card,
        "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nBrazil,$US,0.07,0.04,0.035,n/a,0.032\n",
    )
    .unwrap();
    let rates = ["rates", "--waba", "200000000000001"];
    let (code, _, err) = cli(&[
        &rates[..],
        &[
            "load",
            card.to_str().unwrap(),
            "--effective-from",
            "2023-07-01",
            "--name",
            "brazil-july",
        ],
    ]
    .concat());
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = cli(&[&rates[..], &["list"]].concat());
    assert_eq!(code, Some(0));
    assert!(
        out.contains("brazil-july") && out.contains("built-in cbp-2023-06-usd"),
        "{out}"
    );
    let (code, out, _) = cli(&["clock", "thaw"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"frozen\":false"), "{out}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A webhook receiver on a plain TCP socket: answers the handshake with the challenge, and
/// POSTs with `status` (500 or 200, switchable), recording the bodies it answered 200.
struct Hook {
    url: String,
    answer: std::sync::Arc<std::sync::atomic::AtomicU16>,
    posts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    accepted: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn hook() -> Hook {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::Ordering::SeqCst;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let h = Hook {
        url,
        answer: Default::default(),
        posts: Default::default(),
        accepted: Default::default(),
    };
    h.answer.store(500, SeqCst);
    let (answer, posts, accepted) = (h.answer.clone(), h.posts.clone(), h.accepted.clone());
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let (status, reply) = if line.starts_with("GET") {
                let challenge = line
                    .split("hub.challenge=")
                    .nth(1)
                    .and_then(|s| s.split(['&', ' ']).next())
                    .unwrap_or("")
                    .to_owned();
                (200, challenge)
            } else {
                posts.fetch_add(1, SeqCst);
                let status = answer.load(SeqCst);
                if status == 200 {
                    accepted
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                }
                (status, String::new())
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    h
}

/// Events the server had not delivered when it was killed (`kill -9`) are delivered after it
/// starts again.
#[test]
fn undelivered_webhooks_survive_kill_9() {
    use std::sync::atomic::Ordering::SeqCst;
    let h = hook();
    let dir = tempfile::tempdir().unwrap();
    let start = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_openwaba"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--clock",
                "virtual",
                "--data-dir",
            ])
            .arg(dir.path())
            .env("OPENWABA_ACCESS_TOKEN", "tok")
            .env("OPENWABA_ADMIN_TOKEN", "admin")
            .env("OPENWABA_PHONE_NUMBER_ID", "300000000000001")
            .env("OPENWABA_APP_ID", "400000000000001")
            .env("OPENWABA_APP_SECRET", "s3cret")
            .env("OPENWABA_VERIFY_TOKEN", "vt")
            .env("OPENWABA_WEBHOOK_URL", &h.url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let http = reqwest::blocking::Client::new();
    let port = free_port();
    let mut child = start(port);
    wait_ready(port);
    for text in ["first", "second"] {
        let r = http
            .post(format!("http://127.0.0.1:{port}/_sim/messages"))
            .bearer_auth("admin")
            .json(&json!({"from": "5511987650001", "text": text}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.posts.load(SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        h.posts.load(SeqCst) >= 2,
        "the receiver was tried (and answered 500)"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    h.answer.store(200, SeqCst);
    let port = free_port();
    let mut child = start(port);
    wait_ready(port);
    let r = http
        .post(format!("http://127.0.0.1:{port}/_admin/clock"))
        .bearer_auth("admin")
        .json(&json!({"advance": "1h"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.accepted.lock().unwrap().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let got = h.accepted.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].contains("\"body\":\"first\"") && got[1].contains("\"body\":\"second\""),
        "in order: {got:?}"
    );
}
