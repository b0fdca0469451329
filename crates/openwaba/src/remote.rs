//! `openwaba sim …`, `openwaba clock …`, `openwaba invoice`, `openwaba budget …` and
//! `openwaba rates …`: a command-line client of a running server's simulator, clock and cost
//! API (the same calls as `/_sim`, `/_admin/clock` and `/_openwaba/v1`), so a test script or
//! a developer at a terminal needs no HTTP.

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
    /// Stops a virtual clock: time passes only when moved (as Stripe's test clocks).
    Freeze,
    /// Lets a frozen clock run on from where it stands.
    Thaw,
}

#[derive(clap::Subcommand)]
pub enum BudgetCommand {
    /// The month's spend and the budget.
    Show,
    /// Sets the monthly budget (in the WABA's currency).
    Set {
        /// The amount, an exact decimal such as 250.00.
        amount: String,
        /// Alert thresholds in percent (comma-separated).
        #[arg(long, default_value = "50,80,100")]
        thresholds: String,
        /// Refuse chargeable sends that would exceed it (error 1300002).
        #[arg(long)]
        hard_stop: bool,
    },
    /// Removes the budget.
    Remove,
}

#[derive(clap::Subcommand)]
pub enum RatesCommand {
    /// The cards of the WABA's rate book and which prices today.
    List,
    /// Loads a card in Meta's CSV layout, effective from a (WABA-local) date.
    Load {
        /// The CSV file.
        file: std::path::PathBuf,
        /// YYYY-MM-DD.
        #[arg(long)]
        effective_from: String,
        #[arg(long)]
        name: Option<String>,
        /// conversation | per_message | v0 (default: the family in force on the date).
        #[arg(long)]
        family: Option<String>,
        /// Volume tiers (`Market,Category,Volume-From,Rate`).
        #[arg(long)]
        tiers: Option<std::path::PathBuf>,
    },
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
        ClockCommand::Freeze | ClockCommand::Thaw => call(
            r,
            reqwest::Method::POST,
            "/_admin/clock",
            Some(json!({"freeze": matches!(c, ClockCommand::Freeze)})),
        ),
    }
}

/// `GET /_openwaba/v1/{waba}/invoices/{month}` (JSON; CSV and the table are rendered here).
pub fn invoice(r: &Remote, waba: &str, month: &str) -> Result<Value, String> {
    call(
        r,
        reqwest::Method::GET,
        &format!("/_openwaba/v1/{waba}/invoices/{month}"),
        None,
    )
}

/// The invoice for people: one aligned row per line, then the totals.
pub fn invoice_table(v: &Value) -> String {
    let s = |x: &Value| match x {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut rows = vec![[
        "market".to_owned(),
        "category".into(),
        "pricing".into(),
        "type".into(),
        "tier".into(),
        "unit rate".into(),
        "count".into(),
        "amount".into(),
    ]];
    for l in v["lines"].as_array().into_iter().flatten() {
        rows.push([
            s(&l["market"]),
            s(&l["category"]),
            s(&l["pricing_model"]),
            s(&l["pricing_type"]),
            s(&l["tier"]),
            s(&l["unit_rate"]),
            s(&l["count"]),
            s(&l["amount"]),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "Invoice of WABA {} for {} ({}, {})\n\n",
        s(&v["waba_id"]),
        s(&v["month"]),
        s(&v["timezone"]),
        s(&v["currency"])
    );
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i >= 5 {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nfree tier conversations {}   free entry points {}   unpriced {}\ntotal {} {}\n",
        s(&v["free_tier_conversations"]),
        s(&v["free_entry_points"]),
        s(&v["unpriced"]),
        s(&v["total"]),
        s(&v["currency"])
    ));
    out
}

pub fn budget(r: &Remote, waba: &str, c: BudgetCommand) -> Result<Value, String> {
    let path = format!("/_openwaba/v1/{waba}/budget");
    match c {
        BudgetCommand::Show => call(r, reqwest::Method::GET, &path, None),
        BudgetCommand::Set {
            amount,
            thresholds,
            hard_stop,
        } => call(
            r,
            reqwest::Method::PUT,
            &path,
            Some(json!({"amount": amount, "thresholds": thresholds, "hard_stop": hard_stop})),
        ),
        BudgetCommand::Remove => call(r, reqwest::Method::DELETE, &path, None),
    }
}

pub fn rates(r: &Remote, waba: &str, c: RatesCommand) -> Result<Value, String> {
    let path = format!("/_openwaba/v1/{waba}/rate_cards");
    match c {
        RatesCommand::List => call(r, reqwest::Method::GET, &path, None),
        RatesCommand::Load {
            file,
            effective_from,
            name,
            family,
            tiers,
        } => {
            let read = |p: &std::path::Path| {
                std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            };
            let mut body = json!({"csv": read(&file)?, "effective_from": effective_from});
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if let Some(f) = family {
                body["family"] = json!(f);
            }
            if let Some(t) = tiers {
                body["tiers_csv"] = json!(read(&t)?);
            }
            call(r, reqwest::Method::POST, &path, Some(body))
        }
    }
}

/// `POST /_openwaba/v1/{phone}/quote`: what a send would do and cost now, writing nothing.
/// The message is a template by name, a text, or any Cloud API body (`--json`).
pub fn quote(
    r: &Remote,
    phone: &str,
    to: &str,
    template: Option<String>,
    language: &str,
    text: Option<String>,
    raw: Option<String>,
) -> Result<Value, String> {
    let body = match (template, text, raw) {
        (Some(t), None, None) => json!({"to": to, "template": t, "language": language}),
        (None, Some(t), None) => {
            json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": t}})
        }
        (None, None, Some(j)) => {
            let mut v: Value =
                serde_json::from_str(&j).map_err(|e| format!("--json: not JSON: {e}"))?;
            v["to"] = json!(to);
            v
        }
        _ => return Err("give one of --template NAME, --text TEXT or --json BODY".into()),
    };
    call(
        r,
        reqwest::Method::POST,
        &format!("/_openwaba/v1/{phone}/quote"),
        Some(body),
    )
}
