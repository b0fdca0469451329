//! Golden JSON: the server's main responses have the key structure of the response examples
//! in Meta's OpenAPI description of the Cloud API (the same keys, values of the same JSON
//! types; ids and texts differ). The examples are in `tests/golden/*.json`, each with the OAS
//! path, operation and example it was copied from (`_source`) and the keys the server may
//! add, with why (`_extra_keys`). `tests/oas/validate.py` holds the files equal to the OAS
//! (`--write-golden` rewrites them). A real server on a free port, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A second number that reports failures synchronously (131047 as a Graph error).
const SYNC_PHONE: &str = "300000000000002";
const STRANGER: &str = "5511987650099";

// ---- the golden files and the comparison ---------------------------------------------------

struct Golden {
    name: &'static str,
    example: Value,
    /// Place (`/messages/*`: each element of `messages`) → keys the server may add there.
    extra: HashMap<String, Vec<String>>,
}

fn golden(name: &'static str) -> Golden {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["_source"].as_array().is_some_and(|s| !s.is_empty()),
        "{name}: `_source` names the OAS operation the example came from"
    );
    let extra = v["_extra_keys"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(place, e)| {
                    assert!(
                        e["why"].is_string(),
                        "{name}: extra keys at {place} need a why"
                    );
                    let keys = e["keys"].as_array().unwrap();
                    (
                        place.clone(),
                        keys.iter()
                            .map(|k| k.as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Golden {
        name,
        example: v["example"].clone(),
        extra,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences of structure between `want` (the OAS example) and `got` (the server's):
/// objects must have the same keys (less the allowed extras), values the same JSON type;
/// every element of an array has the structure of the example's first element.
fn shape_diff(
    want: &Value,
    got: &Value,
    at: &str,
    extra: &HashMap<String, Vec<String>>,
    out: &mut Vec<String>,
) {
    let shown = if at.is_empty() { "/" } else { at };
    if json_type(want) != json_type(got) {
        out.push(format!(
            "{shown}: the OAS has {}, the server sent {} ({got})",
            json_type(want),
            json_type(got)
        ));
        return;
    }
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let allowed = extra.get(at).map(Vec::as_slice).unwrap_or(&[]);
            for k in w.keys().filter(|k| !g.contains_key(*k)) {
                out.push(format!("{shown}: key `{k}` is missing"));
            }
            for k in g
                .keys()
                .filter(|k| !w.contains_key(*k) && !allowed.contains(k))
            {
                out.push(format!("{shown}: key `{k}` is not in the OAS example"));
            }
            for (k, wv) in w {
                if let Some(gv) = g.get(k) {
                    shape_diff(wv, gv, &format!("{at}/{k}"), extra, out);
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => match w.first() {
            Some(first) if g.is_empty() => out.push(format!(
                "{shown}: empty, the OAS example has {}",
                json_type(first)
            )),
            Some(first) => {
                for gv in g {
                    shape_diff(first, gv, &format!("{at}/*"), extra, out);
                }
            }
            None if !g.is_empty() => out.push(format!("{shown}: the OAS example is empty")),
            None => {}
        },
        _ => {}
    }
}

#[track_caller]
fn assert_shape(g: &Golden, what: &str, got: &Value) {
    let mut out = Vec::new();
    shape_diff(&g.example, got, "", &g.extra, &mut out);
    assert!(
        out.is_empty(),
        "{what}: not the structure of {} ({}):\n  {}\nserver: {got}",
        g.name,
        g.example,
        out.join("\n  ")
    );
}

#[test]
fn the_comparison_sees_missing_extra_and_retyped_keys() {
    let g = golden("send_message.json");
    let ok = json!({"messaging_product": "whatsapp", "contacts": [{"input": "1", "wa_id": "1"}],
                    "messages": [{"id": "wamid.A", "message_status": "accepted"}]});
    assert_shape(&g, "ok", &ok);
    let mut out = Vec::new();
    let bad = json!({"messaging_product": "whatsapp", "contacts": [{"input": "1", "wa_id": 1}],
                     "messages": [{"id": "wamid.A", "extra": true}], "more": null});
    shape_diff(&g.example, &bad, "", &g.extra, &mut out);
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(
        out.iter().any(|o| o.contains("/contacts/*/wa_id")),
        "{out:?}"
    );
    assert!(out.iter().any(|o| o.contains("`extra`")), "{out:?}");
    assert!(out.iter().any(|o| o.contains("`more`")), "{out:?}");
    let mut out = Vec::new();
    shape_diff(
        &g.example,
        &json!({"messaging_product": "whatsapp", "contacts": [], "messages": [{}]}),
        "",
        &g.extra,
        &mut out,
    );
    assert_eq!(out.len(), 2, "{out:?}");
}

// ---- the server ----------------------------------------------------------------------------

/// The shared server, with a second number that reports failures synchronously.
async fn spawn_with_sync_phone() -> TestApp {
    Options::default()
        .more_toml(&format!(
            r#"
[[business.wabas.phone_numbers]]
id = "{SYNC_PHONE}"
number = "15550002222"
sync_failures = true
"#
        ))
        .spawn()
        .await
}

impl TestApp {
    /// A call with the business's token that must answer `status`; its body.
    async fn expect(&self, status: u16, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, b) = self.call(method.clone(), path, TOKEN, body).await;
        assert_eq!(s, status, "{method} {path}: {b}");
        b
    }
}

fn send(to: &str, kind: &str, payload: Value) -> Value {
    let mut b = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind});
    b[kind] = payload;
    b
}

const MESSAGES: &str = "/v23.0/300000000000001/messages";

fn order_template() -> Value {
    json!({"name": "order_shipped", "language": "en_US", "category": "utility",
           "components": [
               {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.",
                "example": {"body_text": [["Ana", "860198"]]}},
               {"type": "FOOTER", "text": "Shop"}]})
}

// ---- the responses -------------------------------------------------------------------------

#[tokio::test]
async fn send_responses_have_the_oas_shape() {
    let app = spawn_with_sync_phone().await;
    let g = golden("send_message.json");
    app.user_writes(USER).await;
    for (what, body) in [
        ("text", send(USER, "text", json!({"body": "hello"}))),
        (
            "image by link",
            send(USER, "image", json!({"link": "https://example.com/a.jpg"})),
        ),
        (
            "location",
            send(
                USER,
                "location",
                json!({"latitude": 37.758056, "longitude": -122.425332, "name": "HQ"}),
            ),
        ),
        (
            "reaction",
            send(
                USER,
                "reaction",
                json!({"message_id": "wamid.X", "emoji": "\u{1F600}"}),
            ),
        ),
        (
            "interactive button",
            send(
                USER,
                "interactive",
                json!({"type": "button", "body": {"text": "Pick"},
                   "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}}]}}),
            ),
        ),
        (
            "contacts",
            json!({"messaging_product": "whatsapp", "to": USER, "type": "contacts",
                   "contacts": [{"name": {"formatted_name": "John Smith", "first_name": "John"},
                                 "phones": [{"phone": "+1 650 555 1234", "type": "WORK"}]}]}),
        ),
        // Outside the window: accepted (200), fails later (131047 by webhook).
        (
            "text outside the window",
            send(STRANGER, "text", json!({"body": "hi"})),
        ),
    ] {
        let b = app.expect(200, Method::POST, MESSAGES, Some(body)).await;
        assert_shape(&g, what, &b);
    }

    app.expect(
        200,
        Method::POST,
        "/v23.0/200000000000001/message_templates",
        Some(order_template()),
    )
    .await;
    let b = app
        .expect(
            200,
            Method::POST,
            MESSAGES,
            Some(send(
                USER,
                "template",
                json!({"name": "order_shipped", "language": {"code": "en_US"},
                       "components": [{"type": "body", "parameters": [
                           {"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}]}]}),
            )),
        )
        .await;
    assert_shape(&g, "template", &b);

    let b = app
        .expect(
            200,
            Method::POST,
            MESSAGES,
            Some(json!({"messaging_product": "whatsapp", "status": "read",
                        "message_id": "wamid.X", "typing_indicator": {"type": "text"}})),
        )
        .await;
    assert_shape(&golden("mark_read.json"), "read receipt", &b);
    app.stop().await;
}

#[tokio::test]
async fn media_responses_have_the_oas_shape() {
    let app = spawn_with_sync_phone().await;
    let png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0];
    let form = Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", "image/png")
        .part(
            "file",
            Part::bytes(png)
                .file_name("a.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let r = app
        .http
        .post(format!("{}/v23.0/{PHONE}/media", app.base))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_shape(&golden("media_upload.json"), "upload", &b);
    let id = b["id"].as_str().unwrap().to_owned();

    let b = app
        .expect(200, Method::GET, &format!("/v23.0/{id}"), None)
        .await;
    assert_shape(&golden("media_url.json"), "media URL", &b);
    let b = app
        .expect(200, Method::DELETE, &format!("/v23.0/{id}"), None)
        .await;
    assert_shape(&golden("success.json"), "media delete", &b);
    app.stop().await;
}

#[tokio::test]
async fn template_responses_have_the_oas_shape() {
    let app = spawn_with_sync_phone().await;
    let b = app
        .expect(
            200,
            Method::POST,
            &format!("/v23.0/{WABA}/message_templates"),
            Some(order_template()),
        )
        .await;
    assert_shape(&golden("template_create.json"), "create", &b);
    let id = b["id"].as_str().unwrap().to_owned();
    let ok = golden("success.json");
    let b = app
        .expect(200, Method::POST, &format!("/v23.0/{id}"),
            Some(json!({"components": [{"type": "BODY", "text": "Hello {{1}}, order {{2}} is on its way.",
                                        "example": {"body_text": [["Ana", "1"]]}}]})))
        .await;
    assert_shape(&ok, "edit", &b);
    let b = app
        .expect(
            200,
            Method::DELETE,
            &format!("/v23.0/{WABA}/message_templates?name=order_shipped"),
            None,
        )
        .await;
    assert_shape(&ok, "delete by name", &b);
    app.stop().await;
}

#[tokio::test]
async fn account_responses_have_the_oas_shape() {
    let app = spawn_with_sync_phone().await;
    let b = app
        .expect(200, Method::GET, &format!("/v23.0/{PHONE}"), None)
        .await;
    assert_shape(&golden("phone_number.json"), "phone number", &b);

    let ok = golden("success.json");
    for (what, method, path, body) in [
        (
            "deregister",
            Method::POST,
            format!("/v23.0/{PHONE}/deregister"),
            None,
        ),
        (
            "register",
            Method::POST,
            format!("/v23.0/{PHONE}/register"),
            Some(json!({"messaging_product": "whatsapp", "pin": "123456"})),
        ),
        (
            "profile update",
            Method::POST,
            format!("/v23.0/{PHONE}/whatsapp_business_profile"),
            Some(
                json!({"messaging_product": "whatsapp", "about": "Fresh fruit", "vertical": "RETAIL"}),
            ),
        ),
        (
            "subscribe",
            Method::POST,
            format!("/v23.0/{WABA}/subscribed_apps"),
            None,
        ),
        (
            "unsubscribe",
            Method::DELETE,
            format!("/v23.0/{WABA}/subscribed_apps"),
            None,
        ),
    ] {
        let b = app.expect(200, method, &path, body).await;
        assert_shape(&ok, what, &b);
    }
    app.stop().await;
}

#[tokio::test]
async fn errors_have_the_oas_envelope() {
    let app = spawn_with_sync_phone().await;
    let plain = golden("error_envelope.json");
    let with_subcode = golden("error_envelope_subcode.json");

    // 100: a body that is not JSON.
    let r = app
        .http
        .post(format!("{}{MESSAGES}", app.base))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_shape(&plain, "100 bad JSON", &r.json().await.unwrap());

    // 104 (no token) and 190 (a bad one).
    for (what, token, status) in [("104", None, 400), ("190", Some("nope"), 401)] {
        let mut req = app.http.get(format!("{}/v23.0/{PHONE}", app.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{what}");
        assert_shape(&plain, what, &r.json().await.unwrap());
    }

    // 131047 on a number that reports failures synchronously, 132001, 132000.
    let b = app
        .expect(
            400,
            Method::POST,
            &format!("/v23.0/{SYNC_PHONE}/messages"),
            Some(send(STRANGER, "text", json!({"body": "hi"}))),
        )
        .await;
    assert_eq!(b["error"]["code"], 131_047);
    assert_shape(&plain, "131047", &b);
    let b = app
        .expect(
            404,
            Method::POST,
            MESSAGES,
            Some(send(
                USER,
                "template",
                json!({"name": "nope", "language": {"code": "en_US"}}),
            )),
        )
        .await;
    assert_shape(&plain, "132001", &b);
    app.expect(
        200,
        Method::POST,
        &format!("/v23.0/{WABA}/message_templates"),
        Some(order_template()),
    )
    .await;
    app.user_writes(USER).await;
    let b = app
        .expect(
            400,
            Method::POST,
            MESSAGES,
            Some(send(
                USER,
                "template",
                json!({"name": "order_shipped", "language": {"code": "en_US"},
                       "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}),
            )),
        )
        .await;
    assert_eq!(b["error"]["code"], 132_000);
    assert_shape(&plain, "132000", &b);

    // With a subcode: deregistering twice (100/2207051), an unknown object (100/33).
    app.expect(
        200,
        Method::POST,
        &format!("/v23.0/{PHONE}/deregister"),
        None,
    )
    .await;
    let b = app
        .expect(
            400,
            Method::POST,
            &format!("/v23.0/{PHONE}/deregister"),
            None,
        )
        .await;
    assert_eq!(b["error"]["error_subcode"], 2_207_051);
    assert_shape(&with_subcode, "100/2207051", &b);
    let b = app
        .expect(400, Method::GET, "/v23.0/999999/phone_numbers", None)
        .await;
    assert_eq!(b["error"]["error_subcode"], 33);
    assert_shape(&with_subcode, "100/33", &b);
    app.stop().await;
}
