//! openwaba's own admin API beyond accounts: the clock. Everything here needs the admin
//! token, and answers errors in Graph's envelope like the rest of the server.

use crate::api::{admin_authorized, admin_body, error_response};
use crate::app::AppState;
use crate::clock::{ClockError, ClockMode};
use crate::config::DurationSetting;
use crate::graph_error::GraphError;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openwaba_engine::Instant;
use serde_json::{json, Value};
use std::sync::Arc;

fn clock_json(st: &AppState) -> Value {
    json!({
        "mode": match st.clock.mode() { ClockMode::Real => "real", ClockMode::Virtual => "virtual" },
        "now": st.clock.now().to_string(),
        "now_ms": st.clock.now().millis(),
        "frozen": st.clock.is_frozen(),
        "scheduled": st.scheduler.len(),
    })
}

/// `GET /_admin/clock`: the server's time and how many timers wait.
pub async fn clock_get(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !admin_authorized(&st, &headers) {
        return error_response(&GraphError::invalid_token());
    }
    Json(clock_json(&st)).into_response()
}

/// `POST /_admin/clock` with `{"advance": "25h"}` or `{"to": "2023-06-06T00:00:00Z"}`: moves a
/// virtual clock forward, firing every timer due on the way in order, and answers when they
/// have run.
pub async fn clock_move(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match admin_body(&st, &headers, &body) {
        Ok(v) => v,
        Err(e) => return error_response(&e),
    };
    // `freeze: true` stops the clock where it is (before any move), `false` lets it run on.
    let freeze = match v.get("freeze") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return error_response(&GraphError::invalid_value(format!(
                "freeze: `{other}` is not true or false"
            )))
        }
    };
    if let Some(f) = freeze {
        if let Err(e) = st.clock.set_frozen(f) {
            return error_response(&GraphError::invalid_parameter(e.to_string()));
        }
        if v.get("advance").is_none() && v.get("to").is_none() {
            crate::app::save_clock(&st).await;
            return Json(clock_json(&st)).into_response();
        }
    }
    let target = match (
        v.get("advance").and_then(Value::as_str),
        v.get("to").and_then(Value::as_str),
    ) {
        (Some(d), None) => match d.parse::<DurationSetting>() {
            Ok(d) => Instant::from_millis(st.clock.now().millis().saturating_add(d.millis())),
            Err(e) => return error_response(&GraphError::invalid_value(format!("advance: {e}"))),
        },
        (None, Some(t)) => match Instant::parse_rfc3339(t) {
            Ok(t) => t,
            Err(_) => {
                return error_response(&GraphError::invalid_value(format!(
                    "to: `{t}` is not an RFC 3339 instant such as 2023-06-06T00:00:00Z"
                )))
            }
        },
        _ => {
            return error_response(&GraphError::invalid_parameter(
                "give `advance` (a duration such as 25h), `to` (an RFC 3339 instant) or `freeze` (true or false)",
            ))
        }
    };
    match crate::scheduler::advance_to(&st, target).await {
        Ok(ran) => {
            let mut body = clock_json(&st);
            body["ran"] = json!(ran);
            Json(body).into_response()
        }
        Err(e @ (ClockError::Real | ClockError::Backwards { .. })) => {
            error_response(&GraphError::invalid_parameter(e.to_string()))
        }
    }
}

fn webhook_json(r: &openwaba_store::WebhookRecord) -> Value {
    let attempts: Value = serde_json::from_str(&r.attempts).unwrap_or_else(|_| json!([]));
    json!({
        "id": r.seq,
        "app_id": r.app_id,
        "ordering_key": r.ordering_key,
        "field": r.field,
        "state": r.state,
        "created_at": Instant::from_millis(r.created_at).to_string(),
        "next_attempt_at": (r.state == "pending").then(|| Instant::from_millis(r.next_attempt_at).to_string()),
        "delivered_at": r.delivered_at.map(|t| Instant::from_millis(t).to_string()),
        "attempts": attempts,
        "payload": serde_json::from_str::<Value>(&r.payload).unwrap_or(Value::Null),
    })
}

fn store_error(e: openwaba_store::StoreError) -> Response {
    error_response(&GraphError::engine(
        131_000,
        "Something went wrong",
        &e.to_string(),
        500,
    ))
}

/// `GET /_admin/webhooks?state=pending|delivered|dead&before=ID&limit=N`: webhook events,
/// newest first, with their attempts (time, HTTP status, latency, error). `paging.before`
/// continues the list.
pub async fn webhooks_list(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !admin_authorized(&st, &headers) {
        return error_response(&GraphError::invalid_token());
    }
    let state = q.get("state").map(String::as_str);
    if let Some(s) = state {
        if !matches!(s, "pending" | "delivered" | "dead") {
            return error_response(&GraphError::invalid_value(format!(
                "state: `{s}` is not pending, delivered or dead"
            )));
        }
    }
    let before = match q.get("before").map(|b| b.parse::<i64>()) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(_)) => return error_response(&GraphError::invalid_value("before: a webhook id")),
    };
    let limit = match q.get("limit").map(|l| l.parse::<u32>()) {
        None => 50,
        Some(Ok(l)) if (1..=1000).contains(&l) => l,
        Some(_) => return error_response(&GraphError::invalid_value("limit: 1 to 1000")),
    };
    match st.store.webhooks(state, before, limit) {
        Ok(rows) => {
            let data: Vec<Value> = rows.iter().map(webhook_json).collect();
            let mut body = json!({"data": data, "backlog": st.webhooks.backlog()});
            if rows.len() == limit as usize {
                if let Some(last) = rows.last() {
                    body["paging"] = json!({"before": last.seq});
                }
            }
            Json(body).into_response()
        }
        Err(e) => store_error(e),
    }
}

fn seq_param(seq: &str) -> Result<i64, GraphError> {
    seq.parse::<i64>()
        .map_err(|_| GraphError::invalid_value(format!("`{seq}` is not a webhook id")))
}

/// `GET /_admin/webhooks/{id}`.
pub async fn webhook_get(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(seq): axum::extract::Path<String>,
) -> Response {
    if !admin_authorized(&st, &headers) {
        return error_response(&GraphError::invalid_token());
    }
    let seq = match seq_param(&seq) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    match st.store.webhook(seq) {
        Ok(Some(r)) => Json(webhook_json(&r)).into_response(),
        Ok(None) => error_response(&GraphError::unknown_object(&seq.to_string(), "get")),
        Err(e) => store_error(e),
    }
}

/// `POST /_admin/webhooks/{id}/redeliver`: posts the event again (delivered or dead alike),
/// after the events already waiting for the same user.
pub async fn webhook_redeliver(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    axum::extract::Path(seq): axum::extract::Path<String>,
) -> Response {
    if !admin_authorized(&st, &headers) {
        return error_response(&GraphError::invalid_token());
    }
    let seq = match seq_param(&seq) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let r = match st.store.webhook(seq) {
        Ok(Some(r)) => r,
        Ok(None) => return error_response(&GraphError::unknown_object(&seq.to_string(), "post")),
        Err(e) => return store_error(e),
    };
    let now = st.clock.now().millis();
    let write = openwaba_store::Write::WebhookAttempt {
        seq,
        state: "pending".into(),
        next_attempt_at: now,
        attempts: r.attempts.clone(),
        delivered_at: None,
    };
    if let Err(e) = st.store.commit(vec![write]).await {
        return store_error(e);
    }
    st.webhooks.redeliver(r, now);
    Json(json!({"success": true})).into_response()
}
