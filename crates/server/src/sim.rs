//! The simulated customer: a phone that writes to the business, taps its buttons, stops
//! marketing, goes unreachable and sends receipts, so a bot can be tested with no phone.
//!
//! Everything here is openwaba's own API under `/_sim`, protected by the admin token, apart
//! from the Graph surface on purpose. What the user does goes through the engine (an inbound
//! message opens the customer service window; a click-to-WhatsApp `referral` opens a free
//! entry point) and reaches the bot as Meta's webhook, written in the same transaction.

use crate::api::{admin_authorized, admin_body, error_response};
use crate::app::AppState;
use crate::graph_error::GraphError;
use crate::ids;
use crate::statuses;
use crate::webhooks::payload::{self, StatusKind};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use openwaba_engine::WaId;
use openwaba_store::{PhoneNumber, UserEvent, Write};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, RwLock};

/// How a simulated phone reports what it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "receipts", rename_all = "snake_case")]
pub enum Receipts {
    /// Delivered after a delay, read after another.
    Auto {
        delivered_after_ms: i64,
        read_after_ms: i64,
    },
    /// Delivered, never read.
    NeverRead { delivered_after_ms: i64 },
    /// Only when told through `/_sim/messages/{id}/delivered|read`.
    Manual,
}

impl Default for Receipts {
    fn default() -> Self {
        Receipts::Auto {
            delivered_after_ms: 1_000,
            read_after_ms: 2_000,
        }
    }
}

/// A simulated user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimUser {
    pub name: Option<String>,
    #[serde(flatten)]
    pub receipts: Receipts,
    /// When false, sends to this user fail with 131026.
    pub reachable: bool,
}

impl Default for SimUser {
    fn default() -> Self {
        SimUser {
            name: None,
            receipts: Receipts::default(),
            reachable: true,
        }
    }
}

/// The simulated users, and the receipts in flight.
#[derive(Default)]
pub struct Sim {
    users: RwLock<FxHashMap<String, SimUser>>,
    /// The latest receipt of messages whose next automatic receipt is pending.
    pub receipt_state: Mutex<FxHashMap<i64, StatusKind>>,
}

impl Sim {
    pub fn load(&self, rows: Vec<(String, String)>) {
        if let Ok(mut u) = self.users.write() {
            for (wa_id, settings) in rows {
                if let Ok(s) = serde_json::from_str(&settings) {
                    u.insert(wa_id, s);
                }
            }
        }
    }

    pub fn user(&self, wa_id: &str) -> SimUser {
        self.users
            .read()
            .ok()
            .and_then(|u| u.get(wa_id).cloned())
            .unwrap_or_default()
    }

    /// Reads a user's settings without copying them (on every send and receipt).
    fn with_user<T>(&self, wa_id: &str, f: impl FnOnce(Option<&SimUser>) -> T) -> T {
        match self.users.read() {
            Ok(u) => f(u.get(wa_id)),
            Err(_) => f(None),
        }
    }

    pub fn receipts(&self, wa_id: &str) -> Receipts {
        self.with_user(wa_id, |u| u.map(|u| u.receipts).unwrap_or_default())
    }

    pub fn reachable(&self, wa_id: &str) -> bool {
        self.with_user(wa_id, |u| u.is_none_or(|u| u.reachable))
    }

    fn name(&self, wa_id: &str) -> String {
        self.user(wa_id).name.unwrap_or_else(|| {
            let tail = &wa_id[wa_id.len().saturating_sub(4)..];
            format!("Customer {tail}")
        })
    }
}

type St = State<Arc<AppState>>;

pub fn wa_id_of(v: &str, field: &str) -> Result<WaId, GraphError> {
    WaId::parse(v.trim_start_matches('+'))
        .map_err(|e| GraphError::invalid_value(format!("{field}: {e}")))
}

/// The business number a simulated message goes to: `to` (a phone number id or its digits),
/// else the only number there is.
fn number_for(st: &AppState, to: Option<&str>) -> Result<PhoneNumber, GraphError> {
    let reg = st
        .registry
        .read()
        .map_err(|_| GraphError::invalid_parameter("registry unavailable"))?;
    match to {
        Some(t) => reg
            .phone_numbers
            .values()
            .find(|p| p.id == t || p.number == t.trim_start_matches('+'))
            .map(|p| (**p).clone())
            .ok_or_else(|| GraphError::invalid_value(format!("to: no business number `{t}` here"))),
        None => {
            let mut all: Vec<&PhoneNumber> = reg.phone_numbers.values().map(|p| &**p).collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            match all.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(GraphError::invalid_value("there is no business number")),
                _ => Err(GraphError::missing_parameter(
                    "to: several business numbers exist; name one (phone number id or digits)",
                )),
            }
        }
    }
}

const INBOUND_TYPES: &[&str] = &[
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "button",
    "interactive",
];

fn default_mime(kind: &str) -> &'static str {
    match kind {
        "image" => "image/jpeg",
        "audio" => "audio/ogg",
        "video" => "video/mp4",
        "sticker" => "image/webp",
        _ => "application/pdf",
    }
}

/// `POST /_sim/messages`: the user sends a message. Body: `from`, optional `to`, `name`, and
/// Meta's inbound shape (`type` plus its object; `"text": "hi"` is short for a text), with
/// optional `context: {"id": wamid}` (a reply, a button tap) and `referral` (a
/// click-to-WhatsApp ad). Media without an `id` get one, with `data` (base64) or a small
/// placeholder as their bytes.
pub async fn send(State(st): St, headers: HeaderMap, body: Bytes) -> Response {
    match send_inner(&st, &headers, &body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

async fn send_inner(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, GraphError> {
    let v = admin_body(st, headers, body)?;
    let from = v
        .get("from")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::missing_parameter("from: the user's number is required"))?;
    let user = wa_id_of(from, "from")?;
    let phone = number_for(st, v.get("to").and_then(Value::as_str))?;
    if let Some(name) = v.get("name").and_then(Value::as_str) {
        let mut u = st.sim.user(&user.to_string());
        u.name = Some(name.to_owned());
        save_user(st, &user.to_string(), u).await?;
    }
    // The type and its object.
    let (kind, mut object) = match (v.get("type").and_then(Value::as_str), v.get("text")) {
        (None | Some("text"), Some(Value::String(t))) => ("text".to_owned(), json!({"body": t})),
        (Some(k), _) => {
            let o = v.get(k).cloned().ok_or_else(|| {
                GraphError::missing_parameter(format!("{k}: the `{k}` object is required"))
            })?;
            (k.to_owned(), o)
        }
        (None, _) => {
            return Err(GraphError::missing_parameter(
                "type is required (or `text`)",
            ))
        }
    };
    if !INBOUND_TYPES.contains(&kind.as_str()) {
        return Err(GraphError::invalid_value(format!(
            "type `{kind}` is not one of {}",
            INBOUND_TYPES.join(", ")
        )));
    }
    if !object.is_object() && kind != "contacts" {
        return Err(GraphError::invalid_value(format!(
            "{kind}: must be an object"
        )));
    }
    if matches!(
        kind.as_str(),
        "image" | "audio" | "video" | "document" | "sticker"
    ) && object.get("id").is_none()
    {
        use base64::Engine as _;
        let bytes = match object.get("data").and_then(Value::as_str) {
            Some(d) => base64::engine::general_purpose::STANDARD
                .decode(d)
                .map_err(|e| GraphError::invalid_value(format!("{kind}.data: not base64: {e}")))?,
            None => format!("openwaba simulated {kind}").into_bytes(),
        };
        let mime = object
            .get("mime_type")
            .and_then(Value::as_str)
            .unwrap_or(default_mime(&kind))
            .to_owned();
        let filename = object
            .get("filename")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let m = crate::media::store_bytes(st, &phone, mime, &bytes, filename).await?;
        if let Some(o) = object.as_object_mut() {
            o.remove("data");
            o.insert("mime_type".into(), json!(m.mime_type));
            o.insert("sha256".into(), json!(m.sha256));
            o.insert("id".into(), json!(m.id));
            o.insert(
                "url".into(),
                json!(crate::media::download_url(st, &m, None)),
            );
        }
    }
    let referral = v.get("referral").filter(|r| r.is_object()).cloned();
    let context = v
        .get("context")
        .and_then(|c| c.get("id"))
        .and_then(Value::as_str);
    let id = user_writes(st, &phone, user, &kind, object, context, referral).await?;
    Ok(json!({"messaging_product": "whatsapp", "messages": [{"id": id}]}))
}

/// A user's action on a WABA, in one place: applied to the engine under the WABA's lock, then
/// its user event (what the engine is rebuilt from) and its webhook, if any, written in one
/// transaction.
pub async fn record_user_event(
    st: &AppState,
    event: UserEvent,
    apply: impl FnOnce(&mut openwaba_engine::Engine),
    webhook: Option<(&str, &str, &Value)>,
) -> Result<(), GraphError> {
    let engine = st
        .engines
        .read()
        .ok()
        .and_then(|e| e.get(&event.waba_id).cloned())
        .ok_or_else(|| GraphError::unknown_object(&event.waba_id, "post"))?;
    let now = st.clock.now();
    let (prepared, commit) = {
        let mut e = engine
            .lock()
            .map_err(|_| GraphError::invalid_parameter("engine unavailable"))?;
        apply(&mut e);
        let mut prepared = match webhook {
            Some((key, field, envelope)) => st.webhooks.prepare(
                st,
                &event.waba_id,
                &key,
                field,
                &|_| envelope.clone(),
                now.millis(),
            ),
            None => crate::webhooks::Prepared::none(),
        };
        let mut writes = std::mem::take(&mut prepared.writes);
        writes.push(Write::User(Box::new(event)));
        (prepared, st.store.commit(writes))
    };
    let ok = commit.await;
    prepared.committed(st, ok.is_ok());
    ok.map_err(|e| GraphError::engine(131_000, "Something went wrong", &e.to_string(), 500))
}

/// The user writes to the business number: the message (Meta's inbound shape, `kind` and its
/// `object`) opens the customer service window (a `referral` also a free entry point) and
/// reaches the apps as a `messages` webhook. Returns the message's id.
pub async fn user_writes(
    st: &AppState,
    phone: &PhoneNumber,
    user: WaId,
    kind: &str,
    object: Value,
    context: Option<&str>,
    referral: Option<Value>,
) -> Result<String, GraphError> {
    let business = wa_id_of(&phone.number, "business number")?;
    let now = st.clock.now();
    let wa_id = user.to_string();
    let id = ids::wamid(&wa_id, false, st.next_message_seq());
    let mut message = json!({
        "from": wa_id,
        "id": id,
        "timestamp": now.millis().div_euclid(1000).to_string(),
        "type": kind,
    });
    if let Some(ctx) = context {
        message["context"] = json!({"from": phone.number, "id": ctx});
    }
    message[kind] = object;
    let is_referral = referral.is_some();
    if let Some(r) = referral {
        message["referral"] = r;
    }
    let value = payload::inbound_value(
        payload::metadata(&phone.number, &phone.id),
        &st.sim.name(&wa_id),
        &wa_id,
        message,
    );
    let envelope = payload::envelope(&phone.waba_id, "messages", value, None);
    let event = UserEvent {
        waba_id: phone.waba_id.clone(),
        business: Some(phone.number.clone()),
        wa_id: wa_id.clone(),
        kind: if is_referral {
            "inbound_referral"
        } else {
            "inbound"
        }
        .into(),
        at: now.millis(),
    };
    let key = statuses::ordering_key(&phone.id, &wa_id);
    record_user_event(
        st,
        event,
        |e| e.inbound(now, business, user, is_referral),
        Some((&key, "messages", &envelope)),
    )
    .await?;
    Ok(id)
}

/// The user stops or resumes marketing messages: the engine's preference and the
/// `user_preferences` webhook (its metadata names `phone`).
pub async fn set_marketing(
    st: &AppState,
    phone: &PhoneNumber,
    user: WaId,
    stop: bool,
) -> Result<(), GraphError> {
    let now = st.clock.now();
    let wa_id = user.to_string();
    let value = payload::preferences_value(
        payload::metadata(&phone.number, &phone.id),
        &st.sim.name(&wa_id),
        &wa_id,
        stop,
        now.millis().div_euclid(1000),
    );
    let envelope = payload::envelope(&phone.waba_id, "user_preferences", value, None);
    let event = UserEvent {
        waba_id: phone.waba_id.clone(),
        business: None,
        wa_id: wa_id.clone(),
        kind: if stop {
            "marketing_stop"
        } else {
            "marketing_resume"
        }
        .into(),
        at: now.millis(),
    };
    let key = statuses::ordering_key(&phone.id, &wa_id);
    record_user_event(
        st,
        event,
        |e| {
            if stop {
                e.marketing_stop(user)
            } else {
                e.marketing_resume(user)
            }
        },
        Some((&key, "user_preferences", &envelope)),
    )
    .await
}

async fn save_user(st: &AppState, wa_id: &str, u: SimUser) -> Result<(), GraphError> {
    let settings = serde_json::to_string(&u).unwrap_or_default();
    st.store
        .commit(vec![Write::SimUser {
            wa_id: wa_id.to_owned(),
            settings,
        }])
        .await
        .map_err(|e| GraphError::engine(131_000, "Something went wrong", &e.to_string(), 500))?;
    if let Ok(mut users) = st.sim.users.write() {
        users.insert(wa_id.to_owned(), u);
    }
    Ok(())
}

fn duration_field(v: &Value, field: &str) -> Result<Option<i64>, GraphError> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s
            .parse::<crate::config::DurationSetting>()
            .map(|d| Some(d.millis()))
            .map_err(|e| GraphError::invalid_value(format!("{field}: {e}"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| GraphError::invalid_value(format!("{field}: milliseconds ≥ 0"))),
        Some(_) => Err(GraphError::invalid_value(format!(
            "{field}: a duration such as \"2s\""
        ))),
    }
}

/// `GET /_sim/users/{wa_id}`.
pub async fn get_user(State(st): St, Path(wa_id): Path<String>, headers: HeaderMap) -> Response {
    if !admin_authorized(&st, &headers) {
        return error_response(&GraphError::invalid_token());
    }
    match wa_id_of(&wa_id, "wa_id") {
        Ok(u) => Json(json!(st.sim.user(&u.to_string()))).into_response(),
        Err(e) => error_response(&e),
    }
}

/// `POST /_sim/users/{wa_id}` with any of `name`, `receipts` (`auto`, `never_read`,
/// `manual`), `delivered_after`, `read_after` (durations) and `reachable`.
pub async fn set_user(
    State(st): St,
    Path(wa_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let v = admin_body(&st, &headers, &body)?;
        let user = wa_id_of(&wa_id, "wa_id")?.to_string();
        let mut u = st.sim.user(&user);
        if let Some(n) = v.get("name").and_then(Value::as_str) {
            u.name = Some(n.to_owned());
        }
        if let Some(r) = v.get("reachable") {
            u.reachable = r
                .as_bool()
                .ok_or_else(|| GraphError::invalid_value("reachable: true or false"))?;
        }
        let (d0, r0) = match u.receipts {
            Receipts::Auto {
                delivered_after_ms,
                read_after_ms,
            } => (delivered_after_ms, read_after_ms),
            Receipts::NeverRead { delivered_after_ms } => (delivered_after_ms, 2_000),
            Receipts::Manual => (1_000, 2_000),
        };
        let d = duration_field(&v, "delivered_after")?.unwrap_or(d0);
        let r = duration_field(&v, "read_after")?.unwrap_or(r0);
        let mode = v
            .get("receipts")
            .and_then(Value::as_str)
            .unwrap_or(match u.receipts {
                Receipts::Auto { .. } => "auto",
                Receipts::NeverRead { .. } => "never_read",
                Receipts::Manual => "manual",
            });
        u.receipts = match mode {
            "auto" => Receipts::Auto {
                delivered_after_ms: d,
                read_after_ms: r,
            },
            "never_read" => Receipts::NeverRead {
                delivered_after_ms: d,
            },
            "manual" => Receipts::Manual,
            other => {
                return Err(GraphError::invalid_value(format!(
                    "receipts: `{other}` is not auto, never_read or manual"
                )))
            }
        };
        save_user(&st, &user, u.clone()).await?;
        Ok(json!(u))
    }
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

/// `POST /_sim/users/{wa_id}/marketing` `{"action": "stop"|"resume", "to": …}`: the user stops
/// or resumes marketing messages (the `user_preferences` webhook).
pub async fn marketing(
    State(st): St,
    Path(wa_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        let v = admin_body(&st, &headers, &body)?;
        let user = wa_id_of(&wa_id, "wa_id")?;
        let stop = match v.get("action").and_then(Value::as_str) {
            Some("stop") => true,
            Some("resume") => false,
            _ => {
                return Err(GraphError::invalid_value(
                    "action: `stop` or `resume` is required",
                ))
            }
        };
        let phone = number_for(&st, v.get("to").and_then(Value::as_str))?;
        set_marketing(&st, &phone, user, stop).await?;
        Ok(json!({"success": true}))
    }
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_response(&e),
    }
}

/// `POST /_sim/messages/{wamid}/{delivered|read}`: a receipt now, for users whose receipts
/// are manual (or to hurry an automatic one).
pub async fn receipt(
    State(st): St,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !admin_authorized(&st, &headers) {
        return error_response(&GraphError::invalid_token());
    }
    let kind = match StatusKind::parse(&kind) {
        Some(k @ (StatusKind::Delivered | StatusKind::Read)) => k,
        _ => {
            return error_response(&GraphError::invalid_value(format!(
                "`{kind}` is not a receipt: delivered or read"
            )))
        }
    };
    let m = match st.message(&id) {
        Ok(Some(m)) => m,
        Ok(None) => return error_response(&GraphError::unknown_object(&id, "post")),
        Err(e) => {
            return error_response(&GraphError::engine(
                131_000,
                "Something went wrong",
                &e.to_string(),
                500,
            ))
        }
    };
    let reported = statuses::report(&st, m, kind).await;
    Json(json!({"success": true, "reported": reported})).into_response()
}
