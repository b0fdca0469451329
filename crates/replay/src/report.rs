//! The three report formats of `openwaba replay`.
//!
//! `json` is the contract of `shared/spec/replay.md`. It is written as the log is read:
//! each message as soon as it is decided, each conversation into a temporary file as soon
//! as it opens (its charge is final then), copied after the messages. Memory stays bounded
//! by open state whatever the length of the log.

use crate::event::Event;
use crate::summary::{Line, Summary};
use openwaba_engine::{Conversation, Engine, MarketTable, PricingVersion, SendOutcome, SendStatus};
use std::fmt::Write as _;
use std::io::{self, BufWriter, Read, Seek, Write};

/// Writes a JSON string literal (with escapes).
pub(crate) fn json_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping, into our buffer; writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn money_or_null(out: &mut Vec<u8>, m: Option<openwaba_engine::Money>) {
    match m {
        Some(m) => {
            let _ = write!(out, "{m}");
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// Per-message output.
pub trait Sink {
    fn message(&mut self, ev: &Event<'_>, o: &SendOutcome, engine: &Engine) -> io::Result<()>;
    fn finish(self: Box<Self>, summary: &Summary, engine: &Engine) -> io::Result<()>;
}

/// The JSON report.
pub struct JsonSink<W: Write> {
    out: BufWriter<W>,
    buf: Vec<u8>,
    conversations: BufWriter<std::fs::File>,
    first_message: bool,
    first_conversation: bool,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        out.write_all(b"{\"messages\":[")?;
        Ok(JsonSink {
            out,
            buf: Vec::with_capacity(512),
            conversations: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            first_message: true,
            first_conversation: true,
        })
    }

    fn conversation(&mut self, c: &Conversation, markets: &MarketTable) -> io::Result<()> {
        let b = &mut self.buf;
        b.clear();
        if !self.first_conversation {
            b.push(b',');
        }
        self.first_conversation = false;
        let _ = write!(
            b,
            "\n{{\"id\":\"{}\",\"business\":\"{}\",\"user\":\"{}\",\"category\":\"{}\",\"market\":",
            c.id, c.business, c.user, c.category
        );
        json_str(b, markets.name(c.market));
        let _ = write!(
            b,
            ",\"opened_at\":\"{}\",\"expires_at\":\"{}\",\"type\":\"{}\",\"version\":\"{}\",\"pricing_model\":\"{}\",\"billable\":{},\"charge\":",
            c.opened_at, c.expires_at, c.kind.as_str(), c.version, c.model().as_str(), c.billable
        );
        money_or_null(b, c.charge);
        b.push(b'}');
        self.conversations.write_all(b)
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn message(&mut self, ev: &Event<'_>, o: &SendOutcome, engine: &Engine) -> io::Result<()> {
        let (line, id, at, business, user) = (ev.line, ev.send_id(), ev.at, ev.business, ev.user);
        if let Some(c) = &o.opened {
            self.conversation(c, engine.markets())?;
        }
        let b = &mut self.buf;
        b.clear();
        if !self.first_message {
            b.push(b',');
        }
        self.first_message = false;
        b.extend_from_slice(b"\n{\"id\":");
        json_str(b, id);
        let status = match o.status {
            SendStatus::Delivered => "delivered",
            SendStatus::Failed(_) => "failed",
            SendStatus::Rejected(_) => "rejected",
        };
        let _ = write!(b, ",\"line\":{line},\"at\":\"{at}\",\"business\":\"{business}\",\"user\":\"{user}\",\"market\":");
        json_str(b, engine.markets().name(o.market));
        let _ = write!(
            b,
            ",\"version\":\"{}\",\"status\":\"{status}\",\"error\":",
            o.version
        );
        let err = match o.status {
            SendStatus::Delivered => None,
            SendStatus::Failed(f) => Some((f.code(), f.reason(), f.title(), f.details())),
            SendStatus::Rejected(r) => Some((r.code(), r.reason(), r.title(), r.details())),
        };
        match err {
            None => b.extend_from_slice(b"null"),
            Some((code, reason, title, details)) => {
                let _ = write!(b, "{{\"code\":{code},\"reason\":\"{reason}\",\"title\":");
                json_str(b, title);
                b.extend_from_slice(b",\"details\":");
                json_str(b, details);
                b.push(b'}');
            }
        }
        b.extend_from_slice(b",\"conversation\":");
        match &o.conversation {
            None => b.extend_from_slice(b"null"),
            Some(c) => {
                let _ = write!(
                    b,
                    "{{\"id\":\"{}\",\"category\":\"{}\",\"opened\":{},\"expires_at\":\"{}\"}}",
                    c.id, c.category, c.opened, c.expires_at
                );
            }
        }
        b.extend_from_slice(b",\"pricing\":");
        match &o.pricing {
            None => b.extend_from_slice(b"null"),
            Some(p) => {
                let _ = write!(
                    b,
                    "{{\"model\":\"{}\",\"category\":\"{}\",\"billable\":{},\"type\":\"{}\",\"charge\":",
                    p.model.as_str(), p.category, p.billable, p.kind.as_str()
                );
                money_or_null(b, p.charge);
                b.push(b'}');
            }
        }
        if o.consent_warning {
            b.extend_from_slice(b",\"warnings\":[\"no_opt_in\"]");
        }
        b.push(b'}');
        self.out.write_all(b)
    }

    fn finish(mut self: Box<Self>, summary: &Summary, engine: &Engine) -> io::Result<()> {
        self.out.write_all(b"\n],\"conversations\":[")?;
        let mut file = self
            .conversations
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.seek(io::SeekFrom::Start(0))?;
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            self.out.write_all(&chunk[..n])?;
        }
        self.out.write_all(b"\n],\"totals\":")?;
        let mut b = Vec::new();
        totals_json(&mut b, summary, engine.markets());
        self.out.write_all(&b)?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

fn line_json(b: &mut Vec<u8>, l: &Line) {
    let _ = write!(
        b,
        "{{\"count\":{},\"free\":{},\"paid\":{},\"unpriced\":{},\"charge\":{}}}",
        l.units,
        l.free,
        l.paid(),
        l.unpriced,
        l.charge
    );
}

/// The `totals` object: the contract's fields, then openwaba's breakdowns.
pub fn totals_json(b: &mut Vec<u8>, s: &Summary, markets: &MarketTable) {
    let currency = s
        .currency
        .map(|c| c.to_string())
        .unwrap_or_else(|| "USD".into());
    let _ = write!(
        b,
        "{{\"currency\":\"{currency}\",\"charge\":{},\"messages\":{},\"delivered\":{},\"failed\":{},\"rejected\":{},\"conversations\":{{",
        s.charge, s.messages, s.delivered, s.failed, s.rejected
    );
    for (i, (c, n)) in s.conversations().enumerate() {
        let _ = write!(b, "{}\"{}\":{}", if i > 0 { "," } else { "" }, c, n);
    }
    let units = s.units();
    let _ = write!(
        b,
        "}},\"free\":{},\"paid\":{},\"unpriced\":{},\"consent_warnings\":{},\"failures\":{{",
        units.free,
        units.paid(),
        s.unpriced,
        s.consent_warnings
    );
    for (i, (code, n)) in s.failures.iter().enumerate() {
        let _ = write!(b, "{}\"{}\":{}", if i > 0 { "," } else { "" }, code, n);
    }
    b.extend_from_slice(b"},\"by_category\":{");
    for (i, (c, l)) in s.by_category().enumerate() {
        let _ = write!(b, "{}\"{}\":", if i > 0 { "," } else { "" }, c);
        line_json(b, &l);
    }
    b.extend_from_slice(b"},\"by_market\":{");
    for (i, (m, l)) in s.by_market(markets).enumerate() {
        if i > 0 {
            b.push(b',');
        }
        json_str(b, markets.name(m));
        b.push(b':');
        line_json(b, &l);
    }
    b.extend_from_slice(b"},\"by_month\":{");
    for (i, (m, l)) in s.by_month().enumerate() {
        let _ = write!(b, "{}\"{}\":", if i > 0 { "," } else { "" }, m);
        line_json(b, &l);
    }
    b.extend_from_slice(b"},\"by_pricing_model\":{");
    for (i, (m, l)) in s.by_model().enumerate() {
        let _ = write!(b, "{}\"{}\":", if i > 0 { "," } else { "" }, m.as_str());
        line_json(b, &l);
    }
    b.extend_from_slice(b"},\"versions\":{");
    for (i, (v, n)) in s.versions().enumerate() {
        let _ = write!(b, "{}\"{}\":{}", if i > 0 { "," } else { "" }, v, n);
    }
    b.extend_from_slice(b"}}");
}

/// One CSV row per message.
pub struct CsvSink<W: Write> {
    out: BufWriter<W>,
    buf: Vec<u8>,
}

impl<W: Write> CsvSink<W> {
    pub fn new(out: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, out);
        out.write_all(b"line,id,at,business,user,market,version,status,error_code,error_reason,conversation_id,conversation_category,conversation_opened,expires_at,pricing_model,pricing_category,billable,pricing_type,charge,warning\n")?;
        Ok(CsvSink {
            out,
            buf: Vec::with_capacity(256),
        })
    }
}

fn csv_field(b: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        b.push(b'"');
        b.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        b.push(b'"');
    } else {
        b.extend_from_slice(s.as_bytes());
    }
}

impl<W: Write> Sink for CsvSink<W> {
    fn message(&mut self, ev: &Event<'_>, o: &SendOutcome, engine: &Engine) -> io::Result<()> {
        let (line, id, at, business, user) = (ev.line, ev.send_id(), ev.at, ev.business, ev.user);
        let b = &mut self.buf;
        b.clear();
        let _ = write!(b, "{line},");
        csv_field(b, id);
        let _ = write!(b, ",{at},{business},{user},");
        csv_field(b, engine.markets().name(o.market));
        let (status, code, reason) = match o.status {
            SendStatus::Delivered => ("delivered", String::new(), ""),
            SendStatus::Failed(f) => ("failed", f.code().to_string(), f.reason()),
            SendStatus::Rejected(r) => ("rejected", r.code().to_string(), r.reason()),
        };
        let _ = write!(b, ",{},{status},{code},{reason},", o.version);
        match &o.conversation {
            Some(c) => {
                let _ = write!(b, "{},{},{},{},", c.id, c.category, c.opened, c.expires_at);
            }
            None => b.extend_from_slice(b",,,,"),
        }
        match &o.pricing {
            Some(p) => {
                let _ = write!(
                    b,
                    "{},{},{},{},",
                    p.model.as_str(),
                    p.category,
                    p.billable,
                    p.kind.as_str()
                );
                if let Some(c) = p.charge {
                    let _ = write!(b, "{c}");
                }
            }
            None => b.extend_from_slice(b",,,,"),
        }
        b.push(b',');
        if o.consent_warning {
            b.extend_from_slice(b"no_opt_in");
        }
        b.push(b'\n');
        self.out.write_all(b)
    }

    fn finish(mut self: Box<Self>, _summary: &Summary, _engine: &Engine) -> io::Result<()> {
        self.out.flush()
    }
}

/// The human report: aggregates only.
pub struct TableSink<W: Write> {
    out: W,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W) -> Self {
        TableSink { out }
    }
}

fn table(title: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "{title}");
    let fmt_row = |cells: &[String], s: &mut String| {
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if i == 0 {
                let _ = write!(s, "  {c}{}", " ".repeat(pad));
            } else {
                let _ = write!(s, "  {}{c}", " ".repeat(pad));
            }
        }
        s.push('\n');
    };
    fmt_row(
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
        &mut s,
    );
    for r in rows {
        fmt_row(r, &mut s);
    }
    s.push('\n');
    s
}

fn line_rows<K>(
    items: impl Iterator<Item = (K, Line)>,
    name: impl Fn(K) -> String,
) -> Vec<Vec<String>> {
    items
        .map(|(k, l)| {
            vec![
                name(k),
                l.units.to_string(),
                l.free.to_string(),
                l.paid().to_string(),
                l.unpriced.to_string(),
                l.charge.to_string(),
            ]
        })
        .collect()
}

/// Renders the human report of one run.
pub fn render_table(s: &Summary, markets: &MarketTable) -> String {
    let currency = s
        .currency
        .map(|c| c.to_string())
        .unwrap_or_else(|| "USD".into());
    let mut out = String::new();
    let u = s.units();
    let _ = writeln!(
        out,
        "openwaba replay: {} events, {} messages",
        s.events, s.messages
    );
    let _ = writeln!(
        out,
        "  delivered {}   failed {}   rejected {}   consent warnings {}",
        s.delivered, s.failed, s.rejected, s.consent_warnings
    );
    let _ = writeln!(
        out,
        "  total charge {} {currency}   ({} priced: {} free, {} paid{})\n",
        s.charge,
        u.units,
        u.free,
        u.paid(),
        if s.unpriced > 0 {
            format!(", {} without a rate", s.unpriced)
        } else {
            String::new()
        }
    );
    let head = ["", "priced", "free", "paid", "no rate", "charge"];
    out += &table(
        "By category",
        &head,
        &line_rows(s.by_category(), |k| k.to_string()),
    );
    out += &table(
        "By market",
        &head,
        &line_rows(s.by_market(markets), |k| markets.name(k).to_owned()),
    );
    out += &table(
        "By month (WABA time zone)",
        &head,
        &line_rows(s.by_month(), |k| k.to_string()),
    );
    out += &table(
        "By pricing model",
        &head,
        &line_rows(s.by_model(), |k| k.as_str().to_owned()),
    );
    let rows: Vec<Vec<String>> = s
        .versions()
        .map(|(v, n)| vec![v.to_string(), n.to_string()])
        .collect();
    out += &table("Policy versions applied", &["", "messages"], &rows);
    if !s.failures.is_empty() {
        let rows: Vec<Vec<String>> = s
            .failures
            .iter()
            .map(|(c, n)| vec![c.to_string(), n.to_string()])
            .collect();
        out += &table(
            "Failed and rejected, by error code",
            &["code", "messages"],
            &rows,
        );
    }
    out
}

impl<W: Write> Sink for TableSink<W> {
    fn message(&mut self, _: &Event<'_>, _: &SendOutcome, _: &Engine) -> io::Result<()> {
        Ok(())
    }
    fn finish(mut self: Box<Self>, summary: &Summary, engine: &Engine) -> io::Result<()> {
        self.out
            .write_all(render_table(summary, engine.markets()).as_bytes())?;
        self.out.flush()
    }
}

/// `--compare`: the same log under each version, side by side.
pub fn render_compare(runs: &[(PricingVersion, Summary)], markets: &MarketTable) -> String {
    let _ = markets;
    let mut header = vec![String::new()];
    header.extend(runs.iter().map(|(v, _)| v.to_string()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&Summary) -> String| {
        let mut r = vec![name.to_owned()];
        r.extend(runs.iter().map(|(_, s)| f(s)));
        rows.push(r);
    };
    row("total charge", &|s| s.charge.to_string());
    row("delivered", &|s| s.delivered.to_string());
    row("failed", &|s| s.failed.to_string());
    row("rejected", &|s| s.rejected.to_string());
    row("priced units", &|s| s.units().units.to_string());
    row("free units", &|s| s.units().free.to_string());
    row("units without a rate", &|s| s.unpriced.to_string());
    let mut cats: Vec<_> = runs
        .iter()
        .flat_map(|(_, s)| s.by_category().map(|(c, _)| c).collect::<Vec<_>>())
        .collect();
    cats.sort();
    cats.dedup();
    for c in cats {
        row(&format!("{c} charge"), &|s| {
            s.by_category()
                .find(|(k, _)| *k == c)
                .map(|(_, l)| l.charge.to_string())
                .unwrap_or_else(|| "-".into())
        });
    }
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    let currency = runs
        .first()
        .and_then(|(_, s)| s.currency)
        .map(|c| c.to_string())
        .unwrap_or_else(|| "USD".into());
    table(&format!("The same log under each pricing version ({currency}; every event judged by that version)"), &h, &rows)
}
