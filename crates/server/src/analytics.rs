//! Meta's WABA analytics fields, answered from the ledger's rollups:
//! `conversation_analytics` (conversation-based pricing), `pricing_analytics` (per-message
//! pricing) and `analytics` (sent and delivered counts), in the shapes of
//! pricing-rules.md §6.
//!
//! Buckets are whole: `start` is rounded down and `end` up to the granularity's boundaries
//! (UTC half-hours; days and months at midnight in the WABA's time zone), and each data point
//! reports its bucket's bounds. Unlike Meta's, the figures are exact: they come from the
//! ledger that priced the traffic. `cost` is a JSON number written from the exact decimal
//! (its text is the decimal's, up to 15 significant digits).
//!
//! Conversations are reported for the traffic priced per conversation (also after the
//! 2025-07-01 switch, for conversations that span it) and messages for the traffic priced
//! per message: a query across the switch sees each part in its own field.

use crate::app::AppState;
use crate::field_expansion::{AnalyticsKind, AnalyticsQuery, Dimension, Granularity, Metric};
use crate::graph_error::GraphError;
use openwaba_engine::{date_of_day, Instant, TimeZoneId};
use openwaba_store::{Grain, RollupRow, HALF_HOUR_MS};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The most buckets one query may span (a year of half-hours).
const MAX_BUCKETS: i64 = 366 * 48;

/// The bucket range of a query at its granularity: `(grain, first, past-the-end)`.
fn bucket_range(q: &AnalyticsQuery, zone: TimeZoneId) -> Result<(Grain, i64, i64), GraphError> {
    let (start_ms, end_ms) = (q.start.saturating_mul(1000), q.end.saturating_mul(1000));
    let r = match q.granularity {
        Granularity::HalfHour => (
            Grain::HalfHour,
            start_ms.div_euclid(HALF_HOUR_MS),
            (end_ms + HALF_HOUR_MS - 1).div_euclid(HALF_HOUR_MS),
        ),
        Granularity::Daily | Granularity::Monthly => (
            Grain::Day,
            zone.day_number(Instant::from_millis(start_ms)),
            zone.day_number(Instant::from_millis(end_ms - 1)) + 1,
        ),
    };
    if r.2 - r.1 > MAX_BUCKETS {
        return Err(GraphError::invalid_parameter(format!(
            "start/end span {} buckets at this granularity; at most {MAX_BUCKETS} per query",
            r.2 - r.1
        )));
    }
    Ok(r)
}

/// A data point's time bucket: start and end in UNIX seconds, plus a sort key.
fn bucket_bounds(g: Granularity, zone: TimeZoneId, bucket: i64) -> (i64, i64) {
    match g {
        Granularity::HalfHour => (bucket * 1800, (bucket + 1) * 1800),
        Granularity::Daily => {
            let d = date_of_day(bucket);
            (
                zone.start_of_day(d).unix_seconds(),
                zone.start_of_day(d + chrono::Duration::days(1))
                    .unix_seconds(),
            )
        }
        Granularity::Monthly => {
            use chrono::Datelike;
            let d = date_of_day(bucket)
                .with_day(1)
                .unwrap_or(date_of_day(bucket));
            let next = if d.month() == 12 {
                chrono::NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
            } else {
                chrono::NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
            }
            .unwrap_or(d);
            (
                zone.start_of_day(d).unix_seconds(),
                zone.start_of_day(next).unix_seconds(),
            )
        }
    }
}

/// The bucket a rollup bucket is reported in (months group days).
fn report_bucket(g: Granularity, bucket: i64) -> i64 {
    match g {
        Granularity::Monthly => {
            use chrono::Datelike;
            let d = date_of_day(bucket);
            openwaba_engine::day_number(d.with_day(1).unwrap_or(d))
        }
        _ => bucket,
    }
}

/// A decimal as a JSON number whose text is the decimal's.
pub fn money_number(d: Decimal) -> Value {
    d.normalize()
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(json!(0))
}

/// The conversation category as `conversation_analytics` reports it. A free entry point is
/// reported as SERVICE with type FREE_ENTRY_POINT, as in Meta's own example.
fn conversation_category(c: &str) -> &'static str {
    match c {
        "marketing" => "MARKETING",
        "utility" => "UTILITY",
        "authentication" => "AUTHENTICATION",
        "authentication_international" => "AUTHENTICATION_INTERNATIONAL",
        "service" | "referral_conversion" => "SERVICE",
        _ => "UNKNOWN",
    }
}

fn pricing_category(c: &str) -> &'static str {
    match c {
        "marketing" => "MARKETING",
        "utility" => "UTILITY",
        "authentication" => "AUTHENTICATION",
        "authentication_international" => "AUTHENTICATION_INTERNATIONAL",
        "service" | "referral_conversion" => "SERVICE",
        _ => "UNKNOWN",
    }
}

/// What the filters of a query need to know about the WABA's numbers.
struct Numbers {
    /// phone number id → E.164 digits.
    digits: FxHashMap<String, String>,
}

impl Numbers {
    fn of(st: &AppState, waba_id: &str) -> Numbers {
        let digits = st
            .registry
            .read()
            .map(|r| {
                r.numbers_of(waba_id)
                    .into_iter()
                    .map(|p| (p.id.clone(), p.number.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Numbers { digits }
    }
    fn number(&self, phone_number_id: &str) -> String {
        self.digits
            .get(phone_number_id)
            .cloned()
            .unwrap_or_else(|| phone_number_id.to_owned())
    }
    /// Whether a number passes the `phone_numbers` filter (digits, or the number's id).
    fn selected(&self, q: &AnalyticsQuery, phone_number_id: &str) -> bool {
        q.phone_numbers.is_empty()
            || q.phone_numbers
                .iter()
                .any(|p| *p == self.number(phone_number_id) || p == phone_number_id)
    }
}

fn in_list(list: &[String], v: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == v)
}

/// A data point's key: its bucket and its dimension values, in the order requested.
type PointKey = (i64, Vec<(&'static str, String)>);

/// One data point being summed: its dimension values and totals.
#[derive(Default)]
struct Point {
    count: i64,
    cost: Decimal,
}

/// Answers one analytics field of a WABA.
pub fn answer(st: &AppState, waba_id: &str, q: &AnalyticsQuery) -> Result<Value, GraphError> {
    let zone = st
        .engines
        .read()
        .ok()
        .and_then(|e| e.get(waba_id).cloned())
        .and_then(|e| e.lock().ok().map(|e| e.zone()))
        .unwrap_or_default();
    match q.kind {
        AnalyticsKind::Conversation | AnalyticsKind::Pricing => priced(st, waba_id, zone, q),
        AnalyticsKind::Messaging => messaging(st, waba_id, zone, q),
    }
}

fn priced(
    st: &AppState,
    waba_id: &str,
    zone: TimeZoneId,
    q: &AnalyticsQuery,
) -> Result<Value, GraphError> {
    let (grain, from, to) = bucket_range(q, zone)?;
    let rows = st
        .store
        .ledger_rollup(waba_id, grain, from, to)
        .map_err(GraphError::internal)?;
    let numbers = Numbers::of(st, waba_id);
    let conversation = q.kind == AnalyticsKind::Conversation;
    let wanted_model = if conversation { "CBP" } else { "PMP" };
    // (bucket, dimension values) → totals; BTreeMap: points come out in time order.
    let mut points: BTreeMap<PointKey, Point> = BTreeMap::new();
    for RollupRow { bucket, key, count } in &rows {
        if key.model != wanted_model || !numbers.selected(q, &key.phone_number_id) {
            continue;
        }
        if !in_list(&q.country_codes, &key.country) {
            continue;
        }
        let mut dims: Vec<(&'static str, String)> = Vec::new();
        if conversation {
            let category = conversation_category(&key.category);
            let kind = key.pricing_type.as_str();
            if !in_list(&q.conversation_categories, category)
                || !in_list(&q.conversation_types, kind)
                || !in_list(&q.conversation_directions, &key.direction)
            {
                continue;
            }
            for d in &q.dimensions {
                match d {
                    Dimension::Phone => {
                        dims.push(("phone_number", numbers.number(&key.phone_number_id)))
                    }
                    Dimension::Country => dims.push(("country", key.country.clone())),
                    Dimension::ConversationType => {
                        dims.push(("conversation_type", kind.to_owned()))
                    }
                    Dimension::ConversationDirection => {
                        dims.push(("conversation_direction", key.direction.clone()))
                    }
                    Dimension::ConversationCategory => {
                        dims.push(("conversation_category", category.to_owned()))
                    }
                    _ => {}
                }
            }
        } else {
            let category = pricing_category(&key.category);
            let kind = key.pricing_type.to_ascii_uppercase();
            let fep_alias = key.category == "referral_conversion"
                && in_list(&q.pricing_categories, "REFERRAL_CONVERSION");
            if !(in_list(&q.pricing_categories, category) || fep_alias)
                || !in_list(&q.pricing_types, &kind)
            {
                continue;
            }
            for d in &q.dimensions {
                match d {
                    Dimension::Phone => {
                        dims.push(("phone_number", numbers.number(&key.phone_number_id)))
                    }
                    Dimension::Country => dims.push(("country", key.country.clone())),
                    Dimension::PricingType => dims.push(("pricing_type", kind.clone())),
                    Dimension::PricingCategory => {
                        dims.push(("pricing_category", category.to_owned()))
                    }
                    // "The tier property will be omitted for data points that represent
                    // free messages."
                    Dimension::Tier if kind == "REGULAR" && !key.tier.is_empty() => {
                        dims.push(("tier", key.tier.clone()))
                    }
                    _ => {}
                }
            }
        }
        let p = points
            .entry((report_bucket(q.granularity, *bucket), dims))
            .or_default();
        p.count += count;
        if let Ok(unit) = key.unit.parse::<Decimal>() {
            p.cost += unit * Decimal::from(*count);
        }
    }
    let metrics = if q.metric_types.is_empty() {
        vec![
            Metric::Cost,
            if conversation {
                Metric::Conversation
            } else {
                Metric::Volume
            },
        ]
    } else {
        q.metric_types.clone()
    };
    let data_points: Vec<Value> = points
        .into_iter()
        .map(|((bucket, dims), p)| {
            let (start, end) = bucket_bounds(q.granularity, zone, bucket);
            let mut o = Map::new();
            o.insert("start".into(), json!(start));
            o.insert("end".into(), json!(end));
            for (k, v) in dims {
                o.insert(k.into(), json!(v));
            }
            if metrics.contains(&Metric::Conversation) {
                o.insert("conversation".into(), json!(p.count));
            }
            if metrics.contains(&Metric::Volume) {
                o.insert("volume".into(), json!(p.count));
            }
            if metrics.contains(&Metric::Cost) {
                o.insert("cost".into(), money_number(p.cost));
            }
            Value::Object(o)
        })
        .collect();
    Ok(json!({"data": [{"data_points": data_points}]}))
}

fn messaging(
    st: &AppState,
    waba_id: &str,
    zone: TimeZoneId,
    q: &AnalyticsQuery,
) -> Result<Value, GraphError> {
    let (grain, from, to) = bucket_range(q, zone)?;
    let rows = st
        .store
        .message_rollup(waba_id, grain, from, to)
        .map_err(GraphError::internal)?;
    let numbers = Numbers::of(st, waba_id);
    // Every bucket of the range, also the empty ones, as Meta lists them.
    let mut points: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for b in from..to {
        points.entry(report_bucket(q.granularity, b)).or_default();
    }
    for r in &rows {
        if !numbers.selected(q, &r.phone_number_id) || !in_list(&q.country_codes, &r.country) {
            continue;
        }
        let p = points
            .entry(report_bucket(q.granularity, r.bucket))
            .or_default();
        p.0 += r.sent;
        p.1 += r.delivered;
    }
    let data_points: Vec<Value> = points
        .into_iter()
        .map(|(b, (sent, delivered))| {
            let (start, end) = bucket_bounds(q.granularity, zone, b);
            json!({"start": start, "end": end, "sent": sent, "delivered": delivered})
        })
        .collect();
    let phone_numbers: Vec<String> = if q.phone_numbers.is_empty() {
        let mut v: Vec<String> = numbers.digits.values().cloned().collect();
        v.sort();
        v
    } else {
        q.phone_numbers.clone()
    };
    let mut out = json!({
        "phone_numbers": phone_numbers,
        "granularity": match q.granularity {
            Granularity::HalfHour => "HALF_HOUR",
            Granularity::Daily => "DAY",
            Granularity::Monthly => "MONTH",
        },
        "data_points": data_points,
    });
    if !q.country_codes.is_empty() {
        out["country_codes"] = json!(q.country_codes);
    }
    Ok(out)
}
