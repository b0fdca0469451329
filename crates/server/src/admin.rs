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
                "give either `advance` (a duration such as 25h) or `to` (an RFC 3339 instant)",
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
