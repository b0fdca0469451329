//! The JSON of webhook events, in Meta's shapes (cloud-api.md §7, pricing-rules.md §5).
//!
//! Every event has the `whatsapp_business_account` envelope with one entry (the WABA) and one
//! change. `messages` and `user_preferences` values carry `metadata` (the business number);
//! template updates carry none.

use openwaba_engine::Failure;
use openwaba_store::MessageRecord;
use serde_json::{json, Map, Value};

/// The envelope around one change.
pub fn envelope(waba_id: &str, field: &str, value: Value, time_s: Option<i64>) -> Value {
    let mut entry = json!({"id": waba_id, "changes": [{"value": value, "field": field}]});
    if let Some(t) = time_s {
        entry["time"] = json!(t);
    }
    json!({"object": "whatsapp_business_account", "entry": [entry]})
}

/// `metadata` of a business number.
pub fn metadata(display_phone_number: &str, phone_number_id: &str) -> Value {
    json!({"display_phone_number": display_phone_number, "phone_number_id": phone_number_id})
}

/// A receipt a status webhook reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl StatusKind {
    /// Every kind, in the order a message goes through them.
    pub const ALL: [StatusKind; 4] = [
        StatusKind::Sent,
        StatusKind::Delivered,
        StatusKind::Read,
        StatusKind::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            StatusKind::Sent => "sent",
            StatusKind::Delivered => "delivered",
            StatusKind::Read => "read",
            StatusKind::Failed => "failed",
        }
    }

    /// The kind named `s` ([`StatusKind::as_str`]'s word).
    pub fn parse(s: &str) -> Option<StatusKind> {
        StatusKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The Graph API version of an app's webhooks, as a number (`v23.0` → 23).
pub fn major_version(v: &str) -> u32 {
    v.trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(23)
}

/// Meta's error object of a failed status.
pub fn error_object(code: u32) -> Value {
    let (title, details) = match Failure::from_code(code) {
        Some(f) => (f.title(), f.details()),
        None => (
            "Something went wrong",
            "The message could not be delivered.",
        ),
    };
    json!({
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    })
}

/// Rounds up to the next whole minute (Meta's conversation expiries are on minutes).
fn ceil_to_minute_s(ms: i64) -> i64 {
    (ms + 59_999).div_euclid(60_000) * 60
}

/// The `statuses[]` object of a message for one receipt, following Meta's presence rules:
/// `conversation` and `pricing` on `sent` and on the first of delivered/read (`with_pricing`),
/// `expiration_timestamp` only on `sent`; from webhook v24.0, no `conversation` outside a free
/// entry point; `errors` only on `failed`.
pub fn status_object(
    m: &MessageRecord,
    kind: StatusKind,
    at_ms: i64,
    with_pricing: bool,
    webhook_major: u32,
) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id));
    o.insert("status".into(), json!(kind.as_str()));
    o.insert(
        "timestamp".into(),
        json!(at_ms.div_euclid(1000).to_string()),
    );
    o.insert("recipient_id".into(), json!(m.wa_id));
    if let Some(b) = &m.biz_opaque_callback_data {
        o.insert("biz_opaque_callback_data".into(), json!(b));
    }
    if kind == StatusKind::Failed {
        o.insert(
            "errors".into(),
            json!([error_object(m.error_code.unwrap_or(131_000))]),
        );
        return Value::Object(o);
    }
    let pricing: Option<Value> = m
        .pricing
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    if with_pricing {
        if let Some(mut p) = pricing {
            let pmp = p["pricing_model"] == "PMP";
            let free_entry = p["type"] == "free_entry_point"
                || p["category"] == "referral_conversion"
                || m.conversation_category.as_deref() == Some("referral_conversion");
            if !pmp {
                // `pricing.type` is a PMP field.
                if let Some(x) = p.as_object_mut() {
                    x.remove("type");
                }
            }
            let conversation = match (&m.conversation_id, pmp) {
                (Some(id), _) => Some((
                    id.to_string(),
                    m.conversation_category
                        .as_deref()
                        .unwrap_or("service")
                        .to_owned(),
                    m.conversation_expires_at,
                )),
                // Under PMP up to v23.0, Meta sends a conversation per message.
                (None, true) => Some((
                    openwaba_engine::ConversationId(m.seq as u64 ^ 0x00C0_FFEE).to_string(),
                    p["category"].as_str().unwrap_or("service").to_owned(),
                    Some(m.created_at + 86_400_000),
                )),
                (None, false) => None,
            };
            let keep_conversation = webhook_major < 24 || free_entry;
            if let (Some((id, origin, expires)), true) = (conversation, keep_conversation) {
                let mut c = json!({"id": id, "origin": {"type": origin}});
                if kind == StatusKind::Sent {
                    if let Some(e) = expires {
                        c["expiration_timestamp"] = json!(ceil_to_minute_s(e).to_string());
                    }
                    // Keep Meta's key order: id, expiration_timestamp, origin.
                    c = json!({"id": c["id"], "expiration_timestamp": c["expiration_timestamp"], "origin": c["origin"]});
                }
                o.insert("conversation".into(), c);
            }
            o.insert("pricing".into(), p);
        }
    }
    Value::Object(o)
}

/// The business-scoped user id of the 2026 rollout (`contacts[].user_id`), which pywa 4.5
/// reads on every message and status. Meta's are opaque; ours is derived from the number so
/// it is stable: the calling-code prefix, a dot, and a scrambled number.
pub fn user_id(wa_id: &str) -> String {
    let n: u64 = wa_id.parse().unwrap_or(0);
    let cc = &wa_id[..wa_id.len().min(2)];
    format!(
        "{cc}.{}",
        (n ^ 0x5bd1_e995).wrapping_mul(0x9E37_79B9) % 10_000_000_000_000_000
    )
}

/// The `value` of a `messages` change carrying one status (with the recipient's contact, as
/// Meta sends since the business-scoped user ids).
pub fn status_value(metadata: Value, status: Value) -> Value {
    let wa_id = status["recipient_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    json!({
        "messaging_product": "whatsapp",
        "metadata": metadata,
        "contacts": [{"wa_id": wa_id, "user_id": user_id(&wa_id)}],
        "statuses": [status],
    })
}

/// The `value` of a `messages` change carrying one inbound message.
pub fn inbound_value(metadata: Value, name: &str, wa_id: &str, message: Value) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "metadata": metadata,
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id, "user_id": user_id(wa_id)}],
        "messages": [message],
    })
}

/// The `value` of a `user_preferences` change.
pub fn preferences_value(metadata: Value, name: &str, wa_id: &str, stop: bool, at_s: i64) -> Value {
    let (detail, value) = if stop {
        ("User requested to stop marketing messages", "stop")
    } else {
        ("User requested to resume marketing messages", "resume")
    };
    json!({
        "messaging_product": "whatsapp",
        "metadata": metadata,
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id, "user_id": user_id(wa_id)}],
        "user_preferences": [{"wa_id": wa_id, "detail": detail, "category": "marketing_messages", "value": value, "timestamp": at_s}],
    })
}

/// The `value` of a `message_template_status_update` change.
pub fn template_status_value(
    template_id: &str,
    name: &str,
    language: &str,
    category: &str,
    event: &str,
    reason: Option<&str>,
) -> Value {
    let id: Value = template_id
        .parse::<u64>()
        .map(|n| json!(n))
        .unwrap_or_else(|_| json!(template_id));
    let mut v = json!({
        "event": event,
        "message_template_id": id,
        "message_template_name": name,
        "message_template_language": language,
        "reason": reason.map_or(Value::Null, |r| json!(r)),
        "message_template_category": category,
    });
    if event == "APPROVED" {
        v["reason"] = json!("NONE");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_kind_parses_from_its_word_and_nothing_else() {
        for k in StatusKind::ALL {
            assert_eq!(StatusKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(StatusKind::parse("Read"), None);
        assert_eq!(StatusKind::parse(""), None);
    }
}
