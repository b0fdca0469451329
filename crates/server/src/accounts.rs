//! Accounts over Graph and over openwaba's admin API.
//!
//! Graph: phone-number registration, the business profile, and the webhook registration calls
//! pywa makes (`oauth/access_token`, `/{app-id}/subscriptions`, `/{waba-id}/subscribed_apps`).
//! Admin (`/_admin/…`): businesses, WABAs, numbers, apps and tokens added at runtime.
//!
//! Decisions: an app access token is `{app-id}|{app-secret}`, as Meta's are, and sees its
//! business's objects; `/{waba-id}/subscribed_apps` with `override_callback_uri` sets the
//! callback of the business's first app (openwaba keeps one callback per app); the business
//! profile is kept as a JSON file per number in the data directory.

use crate::app::{engine_for, AppState};
use crate::graph_error::GraphError;
use crate::ids;
use openwaba_engine::WaId;
use openwaba_store::{AccessToken, App, Business, PhoneNumber, Waba, Write};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn stored(e: openwaba_store::StoreError) -> GraphError {
    GraphError::engine(131_000, "Something went wrong", &e.to_string(), 500)
}

/// The business of an app token `{app-id}|{app-secret}`.
pub fn app_token_business(st: &AppState, token: &str) -> Option<String> {
    let (app_id, secret) = token.split_once('|')?;
    let reg = st.registry.read().ok()?;
    let app = reg.apps.get(app_id)?;
    (app.app_secret == secret).then(|| app.business_id.clone())
}

/// `GET /oauth/access_token?grant_type=client_credentials&client_id=…&client_secret=…`
/// (no token needed: the secret is the credential).
pub fn oauth_access_token(st: &AppState, q: &HashMap<String, String>) -> Result<Value, GraphError> {
    if q.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err(GraphError::invalid_parameter(
            "grant_type must be client_credentials",
        ));
    }
    let id = q
        .get("client_id")
        .ok_or_else(|| GraphError::missing_parameter("client_id is required"))?;
    let secret = q
        .get("client_secret")
        .ok_or_else(|| GraphError::missing_parameter("client_secret is required"))?;
    let token = format!("{id}|{secret}");
    match app_token_business(st, &token) {
        Some(_) => Ok(json!({"access_token": token, "token_type": "bearer"})),
        None => Err(GraphError::invalid_parameter(
            "Error validating client secret.",
        )),
    }
}

/// The webhook fields a subscription names: comma-separated (as pywa sends them) or a JSON
/// array; an empty list means every field.
fn fields_list(raw: &str) -> Result<Option<String>, GraphError> {
    let names: Vec<String> = match serde_json::from_str::<Vec<String>>(raw) {
        Ok(v) => v,
        Err(_) => raw.split(',').map(|s| s.trim().to_owned()).collect(),
    };
    let names: Vec<String> = names.into_iter().filter(|s| !s.is_empty()).collect();
    if let Some(bad) = names
        .iter()
        .find(|n| !n.bytes().all(|c| c.is_ascii_lowercase() || c == b'_'))
    {
        return Err(GraphError::invalid_value(format!(
            "fields: `{bad}` is not a webhook field name"
        )));
    }
    Ok((!names.is_empty()).then(|| names.join(",")))
}

async fn save_app(st: &AppState, app: App) -> Result<(), GraphError> {
    st.store
        .commit(vec![Write::App(Box::new(app.clone()))])
        .await
        .map_err(stored)?;
    if let Ok(mut r) = st.registry.write() {
        r.apps.insert(app.id.clone(), app);
    }
    // Events waiting for a (new) callback URL go now; a new URL is verified first.
    st.webhooks.wake();
    Ok(())
}

/// `POST /{app-id}/subscriptions?object=whatsapp_business_account&callback_url=…&verify_token=…`.
pub async fn app_subscriptions(
    st: &AppState,
    business: &str,
    app_id: &str,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Result<Value, GraphError> {
    let mut app = st
        .registry
        .read()
        .ok()
        .and_then(|r| r.apps.get(app_id).cloned())
        .filter(|a| a.business_id == business)
        .ok_or_else(|| GraphError::unknown_object(app_id, "post"))?;
    // Parameters arrive in the query (pywa) or as a form/JSON body.
    let mut params = q.clone();
    if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
        for (k, v) in o {
            if let Some(s) = v.as_str() {
                params.insert(k, s.to_owned());
            }
        }
    } else if let Ok(text) = std::str::from_utf8(body) {
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = pair.split_once('=') {
                params.insert(k.to_owned(), v.replace('+', " "));
            }
        }
    }
    if let Some(o) = params.get("object") {
        if o != "whatsapp_business_account" {
            return Err(GraphError::invalid_value(format!(
                "object `{o}`: openwaba serves whatsapp_business_account"
            )));
        }
    }
    let url = params
        .get("callback_url")
        .ok_or_else(|| GraphError::missing_parameter("callback_url is required"))?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(GraphError::invalid_value(format!(
            "callback_url `{url}` is not an http(s) URL"
        )));
    }
    app.callback_url = Some(url.clone());
    if let Some(t) = params.get("verify_token") {
        app.verify_token = t.clone();
    }
    if let Some(f) = params.get("fields") {
        app.fields = fields_list(f)?;
    }
    save_app(st, app).await?;
    Ok(json!({"success": true}))
}

/// `GET|POST|DELETE /{waba-id}/subscribed_apps`.
pub async fn subscribed_apps(
    st: &AppState,
    business: &str,
    method: &axum::http::Method,
    q: &HashMap<String, String>,
    body: &[u8],
) -> Result<Value, GraphError> {
    let apps: Vec<App> = st
        .registry
        .read()
        .map(|r| {
            let mut v: Vec<App> = r
                .apps
                .values()
                .filter(|a| a.business_id == business)
                .cloned()
                .collect();
            v.sort_by(|a, b| a.id.cmp(&b.id));
            v
        })
        .unwrap_or_default();
    match *method {
        axum::http::Method::GET => Ok(json!({"data": apps.iter().map(|a| {
            let mut item = json!({
                "whatsapp_business_api_data": {"id": a.id, "name": "openwaba app", "link": ""},
            });
            // Present only when set (a string), as in the OAS examples; never `null`.
            if let Some(url) = &a.callback_url {
                item["override_callback_uri"] = json!(url);
            }
            item
        }).collect::<Vec<_>>()})),
        axum::http::Method::POST => {
            let mut params = q.clone();
            if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
                for (k, v) in o {
                    if let Some(s) = v.as_str() {
                        params.insert(k, s.to_owned());
                    }
                }
            }
            if let (Some(url), Some(mut app)) =
                (params.get("override_callback_uri"), apps.first().cloned())
            {
                app.callback_url = Some(url.clone());
                if let Some(t) = params.get("verify_token") {
                    app.verify_token = t.clone();
                }
                save_app(st, app).await?;
            }
            Ok(json!({"success": true}))
        }
        _ => {
            if let Some(mut app) = apps.first().cloned() {
                app.callback_url = None;
                save_app(st, app).await?;
            }
            Ok(json!({"success": true}))
        }
    }
}

async fn save_number(st: &AppState, p: PhoneNumber) -> Result<(), GraphError> {
    st.store
        .commit(vec![Write::PhoneNumber(Box::new(p.clone()))])
        .await
        .map_err(stored)?;
    if let Ok(mut r) = st.registry.write() {
        r.phone_numbers.insert(p.id.clone(), Arc::new(p));
    }
    Ok(())
}

/// `POST /{phone-number-id}/register` `{"messaging_product":"whatsapp","pin":"123456"}`.
pub async fn register(st: &AppState, mut p: PhoneNumber, body: &[u8]) -> Result<Value, GraphError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::invalid_parameter(format!("the body is not JSON: {e}")))?;
    if v.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        ));
    }
    let pin = v
        .get("pin")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::missing_parameter("pin is required"))?;
    if pin.len() != 6 || !pin.bytes().all(|c| c.is_ascii_digit()) {
        return Err(GraphError::invalid_parameter(
            "Invalid PIN format: the PIN is 6 digits.",
        ));
    }
    p.registered = true;
    save_number(st, p).await?;
    Ok(json!({"success": true}))
}

/// `POST /{phone-number-id}/deregister`.
pub async fn deregister(st: &AppState, mut p: PhoneNumber) -> Result<Value, GraphError> {
    if !p.registered {
        let mut e = GraphError::invalid_parameter(
            "Phone number not registered on the WhatsApp Business Platform.",
        );
        e.subcode = Some(2_207_051);
        return Err(e);
    }
    p.registered = false;
    save_number(st, p).await?;
    Ok(json!({"success": true}))
}

const PROFILE_FIELDS: [&str; 7] = [
    "about",
    "address",
    "description",
    "email",
    "profile_picture_url",
    "websites",
    "vertical",
];

fn profile_path(st: &AppState, phone_id: &str) -> std::path::PathBuf {
    st.data_dir
        .join("profiles")
        .join(format!("{phone_id}.json"))
}

/// `GET /{phone-number-id}/whatsapp_business_profile`.
pub fn get_profile(st: &AppState, phone_id: &str, fields: Option<&[String]>) -> Value {
    let stored: Value = std::fs::read(profile_path(st, phone_id))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    let mut out = serde_json::Map::new();
    for f in PROFILE_FIELDS {
        if fields.is_some_and(|w| !w.iter().any(|x| x == f)) {
            continue;
        }
        if let Some(v) = stored.get(f) {
            out.insert(f.to_owned(), v.clone());
        }
    }
    out.insert("messaging_product".into(), json!("whatsapp"));
    json!({"data": [Value::Object(out)]})
}

/// `POST /{phone-number-id}/whatsapp_business_profile`, with Meta's limits.
pub fn update_profile(st: &AppState, phone_id: &str, body: &[u8]) -> Result<Value, GraphError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::invalid_parameter(format!("the body is not JSON: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| GraphError::invalid_parameter("the body must be a JSON object"))?;
    if o.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        ));
    }
    let path = profile_path(st, phone_id);
    let mut current: serde_json::Map<String, Value> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let limit = |k: &str, max: usize| -> Result<(), GraphError> {
        match o.get(k) {
            Some(Value::String(s)) if s.chars().count() > max => Err(GraphError::invalid_value(
                format!("{k} is at most {max} characters"),
            )),
            Some(Value::String(_)) | None => Ok(()),
            Some(_) => Err(GraphError::invalid_parameter(format!(
                "{k} must be a string"
            ))),
        }
    };
    limit("about", 139)?;
    limit("address", 256)?;
    limit("description", 512)?;
    limit("email", 128)?;
    limit("vertical", 64)?;
    if let Some(w) = o.get("websites") {
        let list = w
            .as_array()
            .ok_or_else(|| GraphError::invalid_parameter("websites must be an array"))?;
        if list.len() > 2
            || list.iter().any(|x| {
                !x.as_str()
                    .is_some_and(|s| s.starts_with("http://") || s.starts_with("https://"))
            })
        {
            return Err(GraphError::invalid_value(
                "websites: at most 2 http(s) URLs",
            ));
        }
    }
    for f in PROFILE_FIELDS {
        if let Some(v) = o.get(f) {
            current.insert(f.to_owned(), v.clone());
        }
    }
    let write = || -> std::io::Result<()> {
        let dir = st.data_dir.join("profiles");
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!("{phone_id}.json.tmp"));
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(Value::Object(current.clone()).to_string().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)
    };
    write()
        .map_err(|e| GraphError::engine(131_000, "Something went wrong", &e.to_string(), 500))?;
    Ok(json!({"success": true}))
}

// ---- admin: accounts at runtime ---------------------------------------------------------

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// The body's `business_id`, which must name an existing business.
fn existing_business(st: &AppState, v: &Value) -> Result<String, GraphError> {
    let business = s(v, "business_id")
        .ok_or_else(|| GraphError::missing_parameter("business_id is required"))?;
    let known = st
        .registry
        .read()
        .map(|r| r.businesses.contains_key(&business))
        .unwrap_or(false);
    if known {
        Ok(business)
    } else {
        Err(GraphError::unknown_object(&business, "post"))
    }
}

/// `POST /_admin/businesses` `{"name"}` → the business and a fresh access token.
pub async fn admin_business(st: &AppState, v: &Value) -> Result<Value, GraphError> {
    let b = Business {
        id: s(v, "id").unwrap_or_else(ids::object_id),
        name: s(v, "name").unwrap_or_else(|| "business".into()),
    };
    let token = AccessToken {
        token: ids::access_token(),
        business_id: b.id.clone(),
    };
    st.store
        .commit(vec![
            Write::Business(b.clone()),
            Write::Token(token.clone()),
        ])
        .await
        .map_err(stored)?;
    if let Ok(mut r) = st.registry.write() {
        r.businesses.insert(b.id.clone(), b.clone());
        r.tokens.insert(token.token.clone(), b.id.clone());
    }
    Ok(json!({"id": b.id, "access_token": token.token}))
}

/// `POST /_admin/access_tokens` `{"business_id"}` → a new token.
pub async fn admin_token(st: &AppState, v: &Value) -> Result<Value, GraphError> {
    let business = existing_business(st, v)?;
    let token = AccessToken {
        token: s(v, "token").unwrap_or_else(ids::access_token),
        business_id: business.clone(),
    };
    st.store
        .commit(vec![Write::Token(token.clone())])
        .await
        .map_err(stored)?;
    if let Ok(mut r) = st.registry.write() {
        r.tokens.insert(token.token.clone(), business);
    }
    Ok(json!({"access_token": token.token}))
}

/// `POST /_admin/wabas` `{"business_id", "timezone", "currency", "consent_mode"}`.
pub async fn admin_waba(st: &AppState, v: &Value) -> Result<Value, GraphError> {
    let business = existing_business(st, v)?;
    let w = Waba {
        id: s(v, "id").unwrap_or_else(ids::object_id),
        business_id: business,
        name: s(v, "name").unwrap_or_else(|| "WABA".into()),
        timezone: s(v, "timezone").unwrap_or_else(|| "UTC".into()),
        currency: s(v, "currency").unwrap_or_else(|| "USD".into()),
        consent_mode: s(v, "consent_mode").unwrap_or_else(|| "enforce".into()),
    };
    // An existing WABA keeps its engine (its windows, conversations, counters and loaded
    // rate cards): posting it again with the same settings is a no-op; changing how its
    // history is judged (time zone, consent mode, currency) is refused, not half-applied.
    let existing = st
        .registry
        .read()
        .ok()
        .and_then(|r| r.wabas.get(&w.id).cloned());
    if let Some(old) = existing {
        if (
            &old.timezone,
            &old.currency,
            &old.consent_mode,
            &old.business_id,
        ) == (&w.timezone, &w.currency, &w.consent_mode, &w.business_id)
        {
            return Ok(json!({"id": old.id}));
        }
        return Err(GraphError::invalid_parameter(format!(
            "WABA {} exists (time zone {}, currency {}, consent {}, business {}): its settings cannot be changed at runtime, because its history was judged under them",
            old.id, old.timezone, old.currency, old.consent_mode, old.business_id
        )));
    }
    let engine = engine_for(&w).map_err(|e| GraphError::invalid_value(e.to_string()))?;
    st.store
        .commit(vec![Write::Waba(Box::new(w.clone()))])
        .await
        .map_err(stored)?;
    if let Ok(mut e) = st.engines.write() {
        e.insert(w.id.clone(), Arc::new(Mutex::new(engine)));
    }
    if let Ok(mut r) = st.registry.write() {
        r.wabas.insert(w.id.clone(), w.clone());
    }
    Ok(json!({"id": w.id}))
}

/// `POST /_admin/phone_numbers` `{"waba_id", "number", "throughput_mps", "sync_failures"}`.
pub async fn admin_number(st: &AppState, v: &Value) -> Result<Value, GraphError> {
    let waba =
        s(v, "waba_id").ok_or_else(|| GraphError::missing_parameter("waba_id is required"))?;
    if !st
        .registry
        .read()
        .map(|r| r.wabas.contains_key(&waba))
        .unwrap_or(false)
    {
        return Err(GraphError::unknown_object(&waba, "post"));
    }
    let number =
        s(v, "number").ok_or_else(|| GraphError::missing_parameter("number is required"))?;
    WaId::parse(&number).map_err(|e| GraphError::invalid_value(format!("number: {e}")))?;
    if st
        .registry
        .read()
        .map(|r| r.phone_numbers.values().any(|p| p.number == number))
        .unwrap_or(false)
    {
        return Err(GraphError::invalid_value(format!(
            "number {number} is already registered"
        )));
    }
    let p = PhoneNumber {
        id: s(v, "id").unwrap_or_else(ids::object_id),
        waba_id: waba,
        number,
        verified_name: s(v, "verified_name").unwrap_or_else(|| "openwaba Test".into()),
        quality_rating: "GREEN".into(),
        messaging_limit_tier: "TIER_1K".into(),
        throughput_mps: v
            .get("throughput_mps")
            .and_then(Value::as_u64)
            .map(|n| n.min(u64::from(u32::MAX)) as u32)
            .unwrap_or(80),
        sync_failures: v
            .get("sync_failures")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        registered: true,
    };
    save_number(st, p.clone()).await?;
    Ok(json!({"id": p.id}))
}

/// `POST /_admin/apps` `{"business_id", "app_secret", "verify_token", "callback_url"}`.
pub async fn admin_app(st: &AppState, v: &Value) -> Result<Value, GraphError> {
    // An existing app is updated: the fields not given keep their values.
    let existing = s(v, "id").and_then(|id| {
        st.registry
            .read()
            .ok()
            .and_then(|r| r.apps.get(&id).cloned())
    });
    let app = match existing {
        Some(old) => App {
            app_secret: s(v, "app_secret").unwrap_or(old.app_secret),
            verify_token: s(v, "verify_token").unwrap_or(old.verify_token),
            callback_url: s(v, "callback_url").or(old.callback_url),
            webhook_version: s(v, "webhook_version").unwrap_or(old.webhook_version),
            fields: match s(v, "fields") {
                Some(f) => fields_list(&f)?,
                None => old.fields.clone(),
            },
            ..old
        },
        None => App {
            id: s(v, "id").unwrap_or_else(ids::object_id),
            business_id: existing_business(st, v)?,
            app_secret: s(v, "app_secret").unwrap_or_else(|| ids::secret(32)),
            verify_token: s(v, "verify_token").unwrap_or_else(|| ids::secret(16)),
            callback_url: s(v, "callback_url"),
            webhook_version: s(v, "webhook_version").unwrap_or_else(|| "v23.0".into()),
            fields: s(v, "fields")
                .map(|f| fields_list(&f))
                .transpose()?
                .flatten(),
        },
    };
    save_app(st, app.clone()).await?;
    Ok(json!({"id": app.id, "app_secret": app.app_secret, "verify_token": app.verify_token}))
}
