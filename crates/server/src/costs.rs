//! openwaba's own cost API, beyond Meta's: quotes, the ledger, invoices, budgets and rate
//! cards, under `/_openwaba/v1/`. Documented in docs/costs.md.
//!
//! Authentication: a Graph access token (scoped to its business's WABAs and numbers, as on
//! the Graph API) or the admin token (every WABA). Errors use Graph's envelope. Money is
//! written as decimal strings (exact); only Meta-compatible fields use JSON numbers.

use crate::api::{error_response, validate_send, ValidatedSend};
use crate::app::AppState;
use crate::graph_error::GraphError;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use openwaba_engine::{
    CardFamily, ConversationType, Delivery, Engine, Money, Outbound, PricingModel, PricingType,
    RateCard, SendOutcome, SendStatus, WaId,
};
use openwaba_store::{RateCardRecord, Write};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

type St = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_openwaba/v1/{phone}/quote", post(quote))
        .route("/_openwaba/v1/messages/{id}", get(message))
        .route("/_openwaba/v1/{waba}/ledger", get(ledger))
        .route("/_openwaba/v1/{waba}/invoices/{month}", get(invoice))
        .route(
            "/_openwaba/v1/{waba}/budget",
            get(budget_get).put(budget_put).delete(budget_delete),
        )
        .route(
            "/_openwaba/v1/{waba}/rate_cards",
            get(cards_list).post(cards_load),
        )
}

fn respond(r: Result<Value, GraphError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

fn internal(e: impl std::fmt::Display) -> GraphError {
    GraphError::internal(e)
}

/// The business the request may act for: `None` for the admin token (every business).
fn caller(
    st: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<String>, GraphError> {
    if crate::api::admin_authorized(st, headers) {
        return Ok(None);
    }
    crate::api::authenticate(st, headers, query).map(Some)
}

/// A WABA the caller may see.
fn visible_waba(
    st: &AppState,
    caller: &Option<String>,
    id: &str,
    verb: &str,
) -> Result<openwaba_store::Waba, GraphError> {
    let reg = st
        .registry
        .read()
        .map_err(|_| GraphError::unknown_object(id, verb))?;
    let w = match caller {
        Some(b) => reg.visible_waba(b, id),
        None => reg.wabas.get(id),
    };
    w.cloned()
        .ok_or_else(|| GraphError::unknown_object(id, verb))
}

/// The caller's WABA `id`: the credentials checked, then the WABA's visibility to them.
fn caller_waba(
    st: &AppState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    id: &str,
    verb: &str,
) -> Result<openwaba_store::Waba, GraphError> {
    let who = caller(st, headers, query)?;
    visible_waba(st, &who, id, verb)
}

fn engine_of(st: &AppState, waba_id: &str) -> Result<Arc<Mutex<Engine>>, GraphError> {
    st.engines
        .read()
        .ok()
        .and_then(|e| e.get(waba_id).cloned())
        .ok_or_else(|| GraphError::unknown_object(waba_id, "get"))
}

// ---------------------------------------------------------------------------------------------
// Quote
// ---------------------------------------------------------------------------------------------

/// Why a delivered message costs nothing, or `None` when it is charged.
fn free_reason(o: &SendOutcome) -> Option<&'static str> {
    let p = o.pricing?;
    if p.kind == PricingType::FreeEntryPoint {
        return Some("free_entry_point");
    }
    match p.model {
        PricingModel::Cbp => match &o.opened {
            None => Some("joins_open_conversation"),
            Some(c) if c.kind == ConversationType::FreeTier => Some("free_tier"),
            Some(c) if c.charge.is_some_and(Money::is_zero) && !c.billable => Some("service_free"),
            Some(_) => None,
        },
        PricingModel::Pmp => match p.kind {
            PricingType::FreeCustomerService => Some("customer_service_window"),
            _ => None,
        },
    }
}

/// The quote of a send: the engine's decision (see [`Engine::quote`]) as JSON.
fn quote_json(st: &AppState, engine: &mut Engine, v: &Subject, outcome: &SendOutcome) -> Value {
    let market = engine.markets().name(outcome.market).to_owned();
    let country = openwaba_engine::country::country_of(v.wa_id).map(|c| c.to_string());
    let (status, error) = match outcome.status {
        SendStatus::Delivered => ("delivered", Value::Null),
        SendStatus::Failed(f) => (
            "failed",
            json!({"code": f.code(), "title": f.title(), "details": f.details(), "reported": if v.phone.sync_failures { "synchronously" } else { "as a failed status webhook" }}),
        ),
        SendStatus::Rejected(r) => (
            "rejected",
            json!({"code": r.code(), "title": r.title(), "details": r.details(), "reported": "synchronously"}),
        ),
    };
    let accepted = match outcome.status {
        SendStatus::Delivered => true,
        SendStatus::Failed(_) => !v.phone.sync_failures,
        SendStatus::Rejected(_) => false,
    };
    let delivered = outcome.status == SendStatus::Delivered;
    let conversation = outcome.conversation.filter(|_| delivered).map(|c| {
        json!({
            "id": c.id.to_string(),
            "category": c.category.as_str(),
            "opens": c.opened,
            "expires_at": c.expires_at.to_string(),
        })
    });
    let pricing = outcome.pricing.filter(|_| delivered);
    let card = pricing
        .and_then(|p| p.card)
        .and_then(|id| engine.config().rates.get(id))
        .map(|c| c.name().to_owned());
    let charge = pricing.and_then(|p| p.charge);
    let currency = engine.currency().to_string();
    let mut out = json!({
        "accepted": accepted,
        "status": status,
        "error": error,
        "recipient": {"wa_id": v.wa_id.to_string(), "market": market, "country": country},
        "message": {"type": v.type_name, "template_category": v.category},
        "pricing_version": outcome.version.to_string(),
        "conversation": conversation,
        "category": pricing.map(|p| p.category.as_str()),
        "pricing": pricing.map(|p| json!({
            "pricing_model": p.model.as_str(), "type": p.kind.as_str(), "billable": p.billable,
            "category": p.category.as_str(),
        })),
        "free": delivered && charge.is_some_and(Money::is_zero),
        "free_reason": if delivered { free_reason(outcome) } else { None },
        "price": charge.filter(|_| delivered).map(|c| json!({"amount": c.to_string(), "currency": currency})),
        "unpriced": delivered && pricing.is_some() && charge.is_none(),
        "card": card,
        "tier": pricing.and_then(|p| p.tier).map(|t| t.to_string()),
    });
    if let Some(b) = st
        .budgets
        .read()
        .ok()
        .and_then(|b| b.get(&v.phone.waba_id).cloned())
    {
        let now = st.clock.now();
        let month = engine.month_of(now);
        let spent = st
            .spend
            .lock()
            .map(|s| s.spent(&v.phone.waba_id, month))
            .unwrap_or(Money::ZERO);
        let after = spent + crate::ledger::charge_of(outcome);
        let over = after.decimal() > b.amount.decimal();
        if over && b.hard_stop && !crate::ledger::charge_of(outcome).is_zero() {
            let e = crate::ledger::budget_exceeded(
                &v.phone.waba_id,
                month,
                &b,
                spent,
                crate::ledger::charge_of(outcome),
            );
            out["accepted"] = json!(false);
            out["status"] = json!("rejected");
            out["error"] = json!({"code": e.code, "title": e.title, "details": e.details, "reported": "synchronously"});
        }
        out["budget"] = json!({
            "month": month.to_string(), "amount": b.amount.to_string(), "currency": b.currency,
            "spent": spent.to_string(), "after": after.to_string(), "hard_stop": b.hard_stop,
        });
    }
    out
}

/// `POST /_openwaba/v1/{phone-number-id}/quote`: what the send of this body would do now,
/// writing nothing. The body is a Cloud API message, or the short form
/// `{"to": "…", "template": "name", "language": "en_US"}`.
async fn quote(
    State(st): St,
    Path(phone): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(quote_inner(&st, &phone, &query, &headers, &body))
}

fn quote_inner(
    st: &AppState,
    phone_id: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, GraphError> {
    let who = caller(st, headers, query)?;
    let business = match &who {
        Some(b) => b.clone(),
        None => st
            .registry
            .read()
            .ok()
            .and_then(|r| {
                let p = r.phone_numbers.get(phone_id)?;
                r.waba_business(&p.waba_id).map(str::to_owned)
            })
            .ok_or_else(|| GraphError::unknown_object(phone_id, "post"))?,
    };
    let refused = |e: GraphError| {
        json!({
            "accepted": false, "status": "rejected",
            "error": {"code": e.code, "title": e.title, "details": e.details, "reported": "synchronously"},
        })
    };
    let short = serde_json::from_slice::<Value>(body)
        .ok()
        .map(|v| short_form(st, &business, phone_id, &v))
        .transpose();
    let v: Subject = match short {
        Ok(Some(Some(s))) => s,
        Err(e) if e.code == 100 && e.subcode == Some(33) => return Err(e),
        Err(e) => return Ok(refused(e)),
        Ok(_) => match validate_send(st, &business, phone_id, body) {
            Ok(Some(v)) => v.into(),
            Ok(None) => {
                return Err(GraphError::invalid_parameter(
                    "a mark-as-read is free and changes nothing: there is nothing to quote",
                ))
            }
            // The number is not the caller's: as on the API.
            Err(e) if e.code == 100 && e.subcode == Some(33) => return Err(e),
            // Refused before the engine: the send would get this error.
            Err(e) => return Ok(refused(e)),
        },
    };
    let engine = engine_of(st, &v.phone.waba_id)?;
    let now = st.clock.now();
    let business_number =
        WaId::parse(&v.phone.number).map_err(|e| GraphError::invalid_value(e.to_string()))?;
    let delivery = if st.sim.reachable(&v.wa_id.to_string()) {
        Delivery::Delivered
    } else {
        Delivery::Undeliverable
    };
    let mut engine = engine.lock().map_err(internal)?;
    let outcome = engine
        .quote(now, business_number, v.wa_id, v.outbound, delivery)
        .map_err(|e| GraphError::invalid_parameter(e.to_string()))?;
    Ok(quote_json(st, &mut engine, &v, &outcome))
}

/// What a quote is about: the number, the recipient, and what the engine sees of the message.
struct Subject {
    phone: Arc<openwaba_store::PhoneNumber>,
    wa_id: WaId,
    type_name: &'static str,
    category: Option<&'static str>,
    outbound: Outbound,
}

impl From<ValidatedSend> for Subject {
    fn from(v: ValidatedSend) -> Subject {
        Subject {
            phone: v.phone,
            wa_id: v.msg.wa_id,
            type_name: v.msg.type_name,
            category: v.category,
            outbound: v.outbound,
        }
    }
}

/// The short form `{"to": "…", "template": "name", "language": "en_US"}`: the template is
/// checked by name, language and status (what decides its category), not its parameters.
fn short_form(
    st: &AppState,
    business: &str,
    phone_id: &str,
    v: &Value,
) -> Result<Option<Subject>, GraphError> {
    let Some(name) = v.get("template").and_then(Value::as_str) else {
        return Ok(None);
    };
    let language = v.get("language").and_then(Value::as_str).unwrap_or("en_US");
    let phone = st
        .registry
        .read()
        .ok()
        .and_then(|r| r.visible_number_shared(business, phone_id).cloned())
        .ok_or_else(|| GraphError::unknown_object(phone_id, "post"))?;
    let to = v
        .get("to")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::missing_parameter("to is required"))?;
    let wa_id = crate::sim::wa_id_of(to, "to")?;
    let (category, _) = crate::templates::for_send(st, &phone.waba_id, name, language)?;
    Ok(Some(Subject {
        phone,
        wa_id,
        type_name: "template",
        category: Some(openwaba_engine::template::category_as_str(category)),
        outbound: Outbound::Template(category),
    }))
}

// ---------------------------------------------------------------------------------------------
// Messages and the ledger
// ---------------------------------------------------------------------------------------------

/// `GET /_openwaba/v1/messages/{wamid}`: what was decided for a message and what it booked.
async fn message(
    State(st): St,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    respond((|| {
        let who = caller(&st, &headers, &query)?;
        let m = st
            .message(&id)
            .map_err(internal)?
            .ok_or_else(|| GraphError::unknown_object(&id, "get"))?;
        visible_waba(&st, &who, &m.waba_id, "get")
            .map_err(|_| GraphError::unknown_object(&id, "get"))?;
        let entry = st
            .store
            .ledger(&m.waba_id, m.created_at, m.created_at + 1, m.seq - 1, 1)
            .map_err(internal)?
            .into_iter()
            .find(|e| e.seq == m.seq);
        Ok(json!({
            "id": m.id, "waba_id": m.waba_id, "phone_number_id": m.phone_number_id,
            "to": m.wa_id, "type": m.type_name, "template_category": m.template_category,
            "status": m.status, "error_code": m.error_code, "receipt": m.receipt,
            "conversation": m.conversation_id.as_ref().map(|c| json!({
                "id": c, "category": m.conversation_category,
                "expires_at": m.conversation_expires_at.map(|t| openwaba_engine::Instant::from_millis(t).to_string()),
            })),
            "pricing": m.pricing.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok()),
            "charge": m.charge,
            "created_at": openwaba_engine::Instant::from_millis(m.created_at).to_string(),
            "ledger": entry.map(|e| ledger_json(&e)),
        }))
    })())
}

fn ledger_json(e: &openwaba_store::LedgerEntry) -> Value {
    json!({
        "seq": e.seq, "phone_number_id": e.phone_number_id, "business": e.business,
        "wa_id": e.wa_id, "market": e.market, "country": e.country, "category": e.category,
        "pricing_model": e.model, "pricing_type": e.pricing_type, "direction": e.direction,
        "conversation_id": e.conversation_id, "amount": e.amount, "currency": e.currency,
        "card": e.card, "tier": e.tier,
        "at": openwaba_engine::Instant::from_millis(e.at).to_string(),
    })
}

fn instant_param(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, GraphError> {
    match query.get(name) {
        None => Ok(None),
        Some(v) => {
            if let Ok(n) = v.parse::<i64>() {
                return Ok(Some(n * 1000));
            }
            openwaba_engine::Instant::parse_rfc3339(v)
                .map(|i| Some(i.millis()))
                .map_err(|_| {
                    GraphError::invalid_parameter(format!(
                        "{name}: `{v}` is neither a UNIX timestamp nor an RFC 3339 instant"
                    ))
                })
        }
    }
}

/// A body of the cost API: JSON, or a CSV document.
enum Answer {
    Json(Value),
    Csv(String),
}

/// The most rows one CSV export holds; narrow `since`/`until` beyond it.
const MAX_CSV_ROWS: usize = 1_000_000;

const LEDGER_CSV_HEADER: &str = "seq,at,phone_number_id,business,wa_id,market,country,category,pricing_model,pricing_type,direction,conversation_id,amount,currency,card,tier\n";

fn ledger_csv_row(out: &mut String, e: &openwaba_store::LedgerEntry) {
    let at = openwaba_engine::Instant::from_millis(e.at).to_string();
    let seq = e.seq.to_string();
    let cells: [&str; 16] = [
        &seq,
        &at,
        &e.phone_number_id,
        &e.business,
        &e.wa_id,
        &e.market,
        &e.country,
        &e.category,
        &e.model,
        &e.pricing_type,
        &e.direction,
        e.conversation_id.as_deref().unwrap_or_default(),
        e.amount.as_deref().unwrap_or_default(),
        &e.currency,
        e.card.as_deref().unwrap_or_default(),
        e.tier.as_deref().unwrap_or_default(),
    ];
    out.push_str(
        &cells
            .iter()
            .map(|c| csv_cell(c))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
}

/// `GET /_openwaba/v1/{waba}/ledger?since=&until=&after=&limit=[&format=csv]`: entries in
/// booking order; `paging.after` continues. As CSV, every entry of the range at once (at most
/// a million: narrow `since`/`until` beyond that).
async fn ledger(
    State(st): St,
    Path(waba): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let csv = match query.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return error_response(&GraphError::invalid_parameter(format!(
                "format: `{f}` is not json or csv"
            )))
        }
    };
    let r = (|| {
        let w = caller_waba(&st, &headers, &query, &waba, "get")?;
        let since = instant_param(&query, "since")?.unwrap_or(i64::MIN);
        let until = instant_param(&query, "until")?.unwrap_or(i64::MAX);
        let mut after = match query.get("after") {
            Some(a) => a.parse::<i64>().map_err(|_| {
                GraphError::invalid_parameter(format!("after: `{a}` is not a ledger seq"))
            })?,
            None => 0,
        };
        let limit = match query.get("limit") {
            Some(l) => l
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    GraphError::invalid_parameter(format!("limit: `{l}` is not 1 to 10000"))
                })?,
            None => 1000,
        };
        if csv {
            let mut out = String::from(LEDGER_CSV_HEADER);
            let mut n = 0;
            loop {
                let rows = st
                    .store
                    .ledger(&w.id, since, until, after, 10_000)
                    .map_err(internal)?;
                for e in &rows {
                    ledger_csv_row(&mut out, e);
                }
                n += rows.len();
                if n > MAX_CSV_ROWS {
                    return Err(GraphError::invalid_parameter(format!(
                        "more than {MAX_CSV_ROWS} ledger entries: narrow since/until"
                    )));
                }
                match rows.last() {
                    Some(last) if rows.len() == 10_000 => after = last.seq,
                    _ => break,
                }
            }
            return Ok(Answer::Csv(out));
        }
        let rows = st
            .store
            .ledger(&w.id, since, until, after, limit)
            .map_err(internal)?;
        let mut out = json!({"data": rows.iter().map(ledger_json).collect::<Vec<_>>()});
        if rows.len() == limit as usize {
            if let Some(last) = rows.last() {
                out["paging"] = json!({"after": last.seq});
            }
        }
        Ok(Answer::Json(out))
    })();
    match r {
        Ok(Answer::Json(v)) => Json(v).into_response(),
        Ok(Answer::Csv(text)) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(e) => error_response(&e),
    }
}

// ---------------------------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------------------------

/// A `YYYY-MM` month.
fn parse_month(s: &str) -> Result<NaiveDate, GraphError> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 7)
        .ok_or_else(|| GraphError::invalid_parameter(format!("month: `{s}` is not YYYY-MM")))
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// An invoice line's key: currency, market, category, pricing model, pricing type, tier,
/// unit rate.
type LineKey = (String, String, String, String, String, String, String);

/// One invoice line: a market × category × pricing type at one unit rate.
#[derive(Default)]
struct Line {
    count: i64,
    amount: Decimal,
}

/// The monthly statement of a WABA, from the ledger's daily rollup.
pub fn invoice_json(
    st: &AppState,
    waba: &openwaba_store::Waba,
    month: &str,
) -> Result<Value, GraphError> {
    let first = parse_month(month)?;
    let (from, to) = (
        openwaba_engine::day_number(first),
        openwaba_engine::day_number(next_month(first)),
    );
    let rows = st
        .store
        .ledger_rollup(&waba.id, openwaba_store::Grain::Day, from, to)
        .map_err(internal)?;
    // (currency, market, category, model, type, tier, unit) → count, amount
    let mut lines: BTreeMap<LineKey, Line> = BTreeMap::new();
    let mut totals: BTreeMap<String, Decimal> = BTreeMap::new();
    let (mut free_tier, mut free_entry_points, mut unpriced, mut items) = (0i64, 0i64, 0i64, 0i64);
    for r in rows {
        let k = r.key;
        let unit = k.unit.parse::<Decimal>().ok();
        let amount = unit.map(|u| u * Decimal::from(r.count)).unwrap_or_default();
        match k.pricing_type.as_str() {
            "FREE_TIER" => free_tier += r.count,
            "FREE_ENTRY_POINT" | "free_entry_point" => free_entry_points += r.count,
            _ => {}
        }
        if unit.is_none() {
            unpriced += r.count;
        }
        items += r.count;
        *totals.entry(k.currency.clone()).or_default() += amount;
        let line = lines
            .entry((
                k.currency,
                k.market,
                k.category,
                k.model,
                k.pricing_type,
                k.tier,
                k.unit,
            ))
            .or_default();
        line.count += r.count;
        line.amount += amount;
    }
    let lines: Vec<Value> = lines
        .into_iter()
        .map(|((currency, market, category, model, kind, tier, unit), l)| {
            json!({
                "market": market, "category": category, "pricing_model": model,
                "pricing_type": kind, "tier": (!tier.is_empty()).then_some(tier),
                "unit_rate": (!unit.is_empty()).then(|| unit.clone()),
                "count": l.count, "amount": l.amount.normalize().to_string(), "currency": currency,
                "unit": if model == "CBP" { "conversation" } else { "message" },
            })
        })
        .collect();
    let total = if totals.len() <= 1 {
        totals
            .values()
            .next()
            .copied()
            .unwrap_or_default()
            .normalize()
            .to_string()
    } else {
        "mixed currencies: see totals".into()
    };
    Ok(json!({
        "waba_id": waba.id,
        "month": month,
        "timezone": waba.timezone,
        "currency": totals.keys().next().cloned().unwrap_or_else(|| waba.currency.clone()),
        "period": {
            "start": waba_zone(waba).start_of_day(first).to_string(),
            "end": waba_zone(waba).start_of_day(next_month(first)).to_string(),
        },
        "lines": lines,
        "free_tier_conversations": free_tier,
        "free_entry_points": free_entry_points,
        "unpriced": unpriced,
        "items": items,
        "total": total,
        "totals": totals.iter().map(|(c, a)| json!({"currency": c, "amount": a.normalize().to_string()})).collect::<Vec<_>>(),
    }))
}

fn waba_zone(w: &openwaba_store::Waba) -> openwaba_engine::TimeZoneId {
    openwaba_engine::TimeZoneId::parse(&w.timezone).unwrap_or_default()
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The invoice as CSV: one row per line, then the total.
pub fn invoice_csv(inv: &Value) -> String {
    let mut out = String::from(
        "month,market,category,pricing_model,pricing_type,tier,unit_rate,count,amount,currency\n",
    );
    let month = inv["month"].as_str().unwrap_or_default();
    let s = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_default();
    for l in inv["lines"].as_array().into_iter().flatten() {
        let row = [
            month.to_owned(),
            s(&l["market"]),
            s(&l["category"]),
            s(&l["pricing_model"]),
            s(&l["pricing_type"]),
            s(&l["tier"]),
            s(&l["unit_rate"]),
            l["count"].to_string(),
            s(&l["amount"]),
            s(&l["currency"]),
        ];
        out.push_str(
            &row.iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out.push_str(&format!(
        "{month},TOTAL,,,,,,{},{},{}\n",
        inv["items"],
        csv_cell(&s(&inv["total"])),
        s(&inv["currency"])
    ));
    out
}

/// `GET /_openwaba/v1/{waba}/invoices/{YYYY-MM}[?format=csv]`.
async fn invoice(
    State(st): St,
    Path((waba, month)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let r = (|| {
        let w = caller_waba(&st, &headers, &query, &waba, "get")?;
        invoice_json(&st, &w, &month)
    })();
    match (r, query.get("format").map(String::as_str)) {
        (Ok(v), Some("csv")) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            invoice_csv(&v),
        )
            .into_response(),
        (Ok(_), Some(f)) if f != "json" => error_response(&GraphError::invalid_parameter(format!(
            "format: `{f}` is not json or csv"
        ))),
        (r, _) => respond(r),
    }
}

// ---------------------------------------------------------------------------------------------
// Budgets
// ---------------------------------------------------------------------------------------------

fn budget_json(st: &AppState, waba: &openwaba_store::Waba) -> Result<Value, GraphError> {
    let engine = engine_of(st, &waba.id)?;
    let month = engine.lock().map_err(internal)?.month_of(st.clock.now());
    let spent = st
        .spend
        .lock()
        .map(|s| s.spent(&waba.id, month))
        .unwrap_or(Money::ZERO);
    let b = st
        .budgets
        .read()
        .ok()
        .and_then(|b| b.get(&waba.id).cloned());
    Ok(json!({
        "waba_id": waba.id,
        "month": month.to_string(),
        "spent": spent.to_string(),
        "budget": b.map(|b| json!({
            "amount": b.amount.to_string(), "currency": b.currency,
            "thresholds": b.thresholds, "hard_stop": b.hard_stop,
            "remaining": (b.amount.decimal() - spent.decimal()).normalize().to_string(),
        })),
    }))
}

async fn budget_get(
    State(st): St,
    Path(waba): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    respond((|| {
        let w = caller_waba(&st, &headers, &query, &waba, "get")?;
        budget_json(&st, &w)
    })())
}

/// `PUT /_openwaba/v1/{waba}/budget` `{"amount": "100.00", "thresholds": [50, 80, 100],
/// "hard_stop": true}`.
async fn budget_put(
    State(st): St,
    Path(waba): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let w = caller_waba(&st, &headers, &query, &waba, "post")?;
        let v = crate::api::json_body(&body)?;
        let amount = match v.get("amount") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(GraphError::missing_parameter(
                    "amount is required: the monthly budget, e.g. \"100.00\"",
                ))
            }
        };
        let amount = Money::parse(&amount)
            .ok()
            .filter(|m| m.decimal() >= Decimal::ZERO)
            .ok_or_else(|| {
                GraphError::invalid_parameter(format!(
                    "amount: `{amount}` is not a non-negative decimal amount"
                ))
            })?;
        let currency = match v.get("currency").and_then(Value::as_str) {
            Some(c) if !c.eq_ignore_ascii_case(&w.currency) => {
                return Err(GraphError::invalid_parameter(format!(
                    "currency: the budget is in the WABA's currency, {}, not {c}",
                    w.currency
                )))
            }
            _ => w.currency.clone(),
        };
        let thresholds = match v.get("thresholds") {
            None | Some(Value::Null) => vec![50, 80, 100],
            Some(t) => {
                let raw = match t {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                crate::ledger::parse_thresholds(&raw).map_err(GraphError::invalid_parameter)?
            }
        };
        let hard_stop = match v.get("hard_stop") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(GraphError::invalid_parameter(format!(
                    "hard_stop: `{other}` is not true or false"
                )))
            }
        };
        let budget = crate::ledger::Budget {
            amount,
            currency,
            thresholds,
            hard_stop,
        };
        // Under the WABA's lock: no send is being decided against the old budget.
        let engine = engine_of(&st, &w.id)?;
        let commit = {
            let mut e = engine.lock().map_err(internal)?;
            let month = e.month_of(st.clock.now());
            if let Ok(mut s) = st.spend.lock() {
                s.mark_alerted(&w.id, month, &budget);
            }
            if let Ok(mut b) = st.budgets.write() {
                b.insert(w.id.clone(), budget.clone());
            }
            st.store
                .commit(vec![Write::Budget(Box::new(budget.to_record(&w.id)))])
        };
        commit.await.map_err(internal)?;
        budget_json(&st, &w)
    }
    .await;
    respond(r)
}

async fn budget_delete(
    State(st): St,
    Path(waba): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let r = async {
        let w = caller_waba(&st, &headers, &query, &waba, "delete")?;
        if let Ok(mut b) = st.budgets.write() {
            b.remove(&w.id);
        }
        st.store
            .commit(vec![Write::DeleteBudget {
                waba_id: w.id.clone(),
            }])
            .await
            .map_err(internal)?;
        Ok(json!({"success": true}))
    }
    .await;
    respond(r)
}

// ---------------------------------------------------------------------------------------------
// Rate cards
// ---------------------------------------------------------------------------------------------

/// A stored card, parsed for an engine: its effective date, family and card.
pub fn parse_card(
    engine: &Engine,
    r: &RateCardRecord,
) -> Result<(NaiveDate, CardFamily, RateCard), String> {
    let from = NaiveDate::parse_from_str(&r.effective_from, "%Y-%m-%d").map_err(|_| {
        format!(
            "effective_from: `{}` is not a date (YYYY-MM-DD)",
            r.effective_from
        )
    })?;
    let family = match r.family.as_str() {
        "v0" => CardFamily::V0,
        "conversation" => CardFamily::Conversations,
        "per_message" => CardFamily::PerMessage,
        other => {
            return Err(format!(
                "family: `{other}` is not v0, conversation or per_message"
            ))
        }
    };
    let mut card =
        RateCard::from_csv(&r.name, &r.csv, engine.markets()).map_err(|e| e.to_string())?;
    if let Some(t) = &r.tiers_csv {
        card = card
            .with_tiers_csv(&format!("{} tiers", r.name), t, engine.markets())
            .map_err(|e| e.to_string())?;
    }
    Ok((from, family, card))
}

async fn cards_list(
    State(st): St,
    Path(waba): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    respond((|| {
        let w = caller_waba(&st, &headers, &query, &waba, "get")?;
        let engine = engine_of(&st, &w.id)?;
        let mut e = engine.lock().map_err(internal)?;
        let today = e.local_date(st.clock.now());
        let version = e.version_at(st.clock.now());
        let rates = &e.config().rates;
        // Which card of each family prices an event today.
        let in_force: Vec<openwaba_engine::CardId> = [
            openwaba_engine::PricingVersion::V0,
            openwaba_engine::PricingVersion::V2,
            openwaba_engine::PricingVersion::V3,
        ]
        .iter()
        .filter_map(|v| rates.card_for(*v, today).map(|(id, _)| id))
        .collect();
        let current = rates.card_for(version, today).map(|(id, _)| id);
        let cards: Vec<Value> = rates
            .entries()
            .iter()
            .map(|c| {
                json!({
                    "id": c.id.0, "name": c.card.name(), "family": c.family.as_str(),
                    "effective_from": c.effective_from.to_string(),
                    "currency": c.card.currency().to_string(),
                    "in_force": in_force.contains(&c.id),
                    "prices_today": current == Some(c.id),
                })
            })
            .collect();
        Ok(json!({
            "today": today.to_string(), "pricing_version": version.to_string(), "data": cards,
        }))
    })())
}

/// `POST /_openwaba/v1/{waba}/rate_cards?name=…&effective_from=YYYY-MM-DD[&family=…]` with
/// the card in Meta's CSV layout as the body (or JSON `{name, effective_from, family, csv,
/// tiers_csv}`). The family defaults to the one in force on the effective date.
async fn cards_load(
    State(st): St,
    Path(waba): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let w = caller_waba(&st, &headers, &query, &waba, "post")?;
        let json_body = serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(Value::is_object);
        let field = |k: &str| -> Option<String> {
            json_body
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| query.get(k).cloned())
        };
        let csv = match &json_body {
            Some(_) => field("csv").ok_or_else(|| {
                GraphError::missing_parameter("csv is required: the card in Meta's layout")
            })?,
            None => String::from_utf8(body.to_vec())
                .map_err(|_| GraphError::invalid_parameter("the card is not UTF-8 text"))?,
        };
        let effective_from = field("effective_from").ok_or_else(|| {
            GraphError::missing_parameter("effective_from is required (YYYY-MM-DD, WABA-local)")
        })?;
        let date = NaiveDate::parse_from_str(&effective_from, "%Y-%m-%d").map_err(|_| {
            GraphError::invalid_parameter(format!(
                "effective_from: `{effective_from}` is not a date (YYYY-MM-DD)"
            ))
        })?;
        let family = field("family").unwrap_or_else(|| {
            CardFamily::of(openwaba_engine::PricingVersion::in_force_on(date))
                .as_str()
                .to_owned()
        });
        let name = field("name").unwrap_or_else(|| format!("{family}-{effective_from}"));
        let engine = engine_of(&st, &w.id)?;
        let commit = {
            let mut e = engine.lock().map_err(internal)?;
            let record = RateCardRecord {
                seq: 0,
                waba_id: Some(w.id.clone()),
                name,
                effective_from,
                family,
                csv,
                tiers_csv: field("tiers_csv"),
                created_at: st.clock.now().millis(),
            };
            let (from, family, card) =
                parse_card(&e, &record).map_err(GraphError::invalid_parameter)?;
            if card.currency().to_string() != w.currency {
                return Err(GraphError::invalid_parameter(format!(
                    "the card is in {}, the WABA bills in {}: load a card of the WABA's currency",
                    card.currency(),
                    w.currency
                )));
            }
            let id = e.add_card(from, family, card);
            (id, st.store.commit(vec![Write::RateCard(Box::new(record))]))
        };
        let (id, commit) = commit;
        commit.await.map_err(internal)?;
        Ok(json!({"id": id.0, "success": true}))
    }
    .await;
    respond(r)
}
