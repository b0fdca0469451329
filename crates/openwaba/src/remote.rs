//! `openwaba sim …` and `openwaba clock …`: a command-line client of a running server's
//! simulator and clock (the same calls as `/_sim` and `/_admin/clock`), so a test script or a
//! developer at a terminal can play the customer without writing HTTP.

use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Remote {
    /// The server (env OPENWABA_URL).
    #[arg(
        long,
        global = true,
        env = "OPENWABA_URL",
        default_value = "http://127.0.0.1:4980"
    )]
    pub server: String,
    /// The admin token (env OPENWABA_ADMIN_TOKEN; else read from --data-dir/admin-token).
    #[arg(
        long,
        global = true,
        env = "OPENWABA_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Where to find the admin token when it is not given.
    #[arg(long, global = true, default_value = "openwaba-data")]
    pub data_dir: std::path::PathBuf,
}

#[derive(clap::Subcommand)]
pub enum SimCommand {
    /// The user writes a text (or, with --json, any inbound shape of `/_sim/messages`).
    Send {
        /// The user's number.
        #[arg(long)]
        from: String,
        /// The business number (phone number id or digits), when there are several.
        #[arg(long)]
        to: Option<String>,
        /// Reply to (or tap a button of) this message.
        #[arg(long)]
        context: Option<String>,
        /// The body as JSON (type and its object), instead of a text.
        #[arg(long)]
        json: Option<String>,
        /// The text.
        text: Option<String>,
    },
    /// Sets how the user behaves: receipts, delays, reachability, name.
    User {
        wa_id: String,
        #[arg(long, value_parser = ["auto", "never_read", "manual"])]
        receipts: Option<String>,
        #[arg(long)]
        delivered_after: Option<String>,
        #[arg(long)]
        read_after: Option<String>,
        #[arg(long)]
        reachable: Option<bool>,
        #[arg(long)]
        name: Option<String>,
    },
    /// The user stops or resumes marketing messages.
    Marketing {
        wa_id: String,
        #[arg(value_parser = ["stop", "resume"])]
        action: String,
    },
    /// The user's phone reports a message delivered or read.
    Receipt {
        message_id: String,
        #[arg(value_parser = ["delivered", "read"])]
        receipt: String,
    },
}

#[derive(clap::Subcommand)]
pub enum ClockCommand {
    /// The server's time.
    Show,
    /// Moves a virtual clock forward by a duration (25h, 90m, 7d).
    Advance { by: String },
    /// Moves a virtual clock forward to an instant (RFC 3339).
    Set { to: String },
}

fn token(r: &Remote) -> Result<String, String> {
    if let Some(t) = &r.admin_token {
        return Ok(t.clone());
    }
    let path = r.data_dir.join("admin-token");
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_owned())
        .map_err(|e| {
            format!(
                "no admin token: give --admin-token or OPENWABA_ADMIN_TOKEN ({} : {e})",
                path.display()
            )
        })
}

fn call(
    r: &Remote,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let token = token(r)?;
    let url = format!("{}{path}", r.server.trim_end_matches('/'));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut req = reqwest::Client::new()
            .request(method, &url)
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(v)
        } else {
            let detail = v["error"]["error_data"]["details"]
                .as_str()
                .or(v["error"]["message"].as_str())
                .unwrap_or("")
                .to_owned();
            Err(format!("{url}: HTTP {status}: {detail}"))
        }
    })
}

pub fn sim(r: &Remote, c: SimCommand) -> Result<Value, String> {
    match c {
        SimCommand::Send {
            from,
            to,
            context,
            json: raw,
            text,
        } => {
            let mut body = match (raw, text) {
                (Some(j), _) => serde_json::from_str::<Value>(&j)
                    .map_err(|e| format!("--json: not JSON: {e}"))?,
                (None, Some(t)) => json!({"text": t}),
                (None, None) => return Err("give a text, or --json".into()),
            };
            body["from"] = json!(from);
            if let Some(t) = to {
                body["to"] = json!(t);
            }
            if let Some(c) = context {
                body["context"] = json!({"id": c});
            }
            call(r, reqwest::Method::POST, "/_sim/messages", Some(body))
        }
        SimCommand::User {
            wa_id,
            receipts,
            delivered_after,
            read_after,
            reachable,
            name,
        } => {
            let mut body = json!({});
            for (k, v) in [
                ("receipts", receipts),
                ("delivered_after", delivered_after),
                ("read_after", read_after),
                ("name", name),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if let Some(b) = reachable {
                body["reachable"] = json!(b);
            }
            call(
                r,
                reqwest::Method::POST,
                &format!("/_sim/users/{wa_id}"),
                Some(body),
            )
        }
        SimCommand::Marketing { wa_id, action } => call(
            r,
            reqwest::Method::POST,
            &format!("/_sim/users/{wa_id}/marketing"),
            Some(json!({"action": action})),
        ),
        SimCommand::Receipt {
            message_id,
            receipt,
        } => call(
            r,
            reqwest::Method::POST,
            &format!("/_sim/messages/{message_id}/{receipt}"),
            None,
        ),
    }
}

pub fn clock(r: &Remote, c: ClockCommand) -> Result<Value, String> {
    match c {
        ClockCommand::Show => call(r, reqwest::Method::GET, "/_admin/clock", None),
        ClockCommand::Advance { by } => call(
            r,
            reqwest::Method::POST,
            "/_admin/clock",
            Some(json!({"advance": by})),
        ),
        ClockCommand::Set { to } => call(
            r,
            reqwest::Method::POST,
            "/_admin/clock",
            Some(json!({"to": to})),
        ),
    }
}
