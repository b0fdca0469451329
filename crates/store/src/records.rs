//! The records the store keeps. Plain data: ids are Graph's numeric strings, instants are
//! milliseconds since the epoch, JSON payloads are kept as text.

use serde::{Deserialize, Serialize};

/// A short text field of the records every send writes (ids, numbers, and words such as
/// `delivered` or `PMP`): up to 24 bytes are kept inline, so making, cloning and dropping a
/// send's message, ledger entry and counts does not go through the allocator. Measured
/// (BENCHMARKS.md): ~25 of a send's ~84 allocations were these fields.
pub type ShortText = compact_str::CompactString;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Business {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waba {
    pub id: String,
    pub business_id: String,
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// ISO 4217.
    pub currency: String,
    /// enforce | warn | off
    pub consent_mode: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber {
    pub id: String,
    pub waba_id: String,
    /// E.164 digits, no `+`.
    pub number: String,
    pub verified_name: String,
    pub quality_rating: String,
    pub messaging_limit_tier: String,
    /// Messages per second before 130429.
    pub throughput_mps: u32,
    /// Report 131047/131026/131049/131050 as synchronous errors instead of failed statuses.
    pub sync_failures: bool,
    pub registered: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    pub business_id: String,
    pub app_secret: String,
    pub verify_token: String,
    pub callback_url: Option<String>,
    pub webhook_version: String,
    /// The webhook fields the app subscribed to, comma-separated (`messages,…`); `None`:
    /// every field.
    pub fields: Option<String>,
}

impl App {
    /// Whether the app receives webhooks of `field`.
    pub fn subscribed_to(&self, field: &str) -> bool {
        self.fields
            .as_deref()
            .is_none_or(|f| f.split(',').any(|x| x.trim() == field))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub token: String,
    pub business_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accounts {
    pub businesses: Vec<Business>,
    pub wabas: Vec<Waba>,
    pub phone_numbers: Vec<PhoneNumber>,
    pub apps: Vec<App>,
    pub tokens: Vec<AccessToken>,
}

/// A message the API accepted (answered 200), with the engine's decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The store's sequence number: the order of decisions, and the key the `wamid` encodes
    /// (see the server's `ids` module), so a lookup by id needs no index on random text.
    pub seq: i64,
    pub id: String,
    pub waba_id: ShortText,
    pub phone_number_id: ShortText,
    /// The business number, E.164 digits.
    pub business: ShortText,
    /// `to` as the client sent it.
    pub to: ShortText,
    pub wa_id: ShortText,
    pub type_name: ShortText,
    /// The template's category, for templates.
    pub template_category: Option<ShortText>,
    /// The type-specific object as sent (JSON).
    pub content: String,
    pub biz_opaque_callback_data: Option<String>,
    pub context_message_id: Option<String>,
    /// delivered | failed
    pub status: ShortText,
    pub error_code: Option<u32>,
    pub conversation_id: Option<ShortText>,
    pub conversation_category: Option<ShortText>,
    pub conversation_expires_at: Option<i64>,
    /// The pricing object (JSON), if any.
    pub pricing: Option<String>,
    /// Exact decimal, in the WABA's currency.
    pub charge: Option<ShortText>,
    pub created_at: i64,
    /// The last receipt reported by webhook: sent | delivered | read (none when failed).
    pub receipt: Option<ShortText>,
}

/// One webhook event for one app, in the outbox until the app's endpoint answers 200.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// Order of creation; the inspector's id.
    pub seq: i64,
    pub app_id: String,
    /// Events with the same key are delivered in `seq` order, one at a time (a user's events
    /// per number).
    pub ordering_key: String,
    /// `messages`, `message_template_status_update`, `user_preferences`, …
    pub field: String,
    /// The exact body that is signed and posted (ASCII-only JSON).
    pub payload: String,
    pub created_at: i64,
    pub next_attempt_at: i64,
    /// pending | delivered | dead
    pub state: String,
    /// JSON array of `{at, status, latency_ms, error}`.
    pub attempts: String,
    pub delivered_at: Option<i64>,
}

/// What a user did that the engine must remember: consent changes (per WABA) and inbound
/// messages (per business number, which open the service window).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvent {
    pub waba_id: String,
    /// The business number (E.164 digits) for inbound messages.
    pub business: Option<String>,
    pub wa_id: String,
    /// opt_in | opt_out | marketing_stop | marketing_resume | inbound | inbound_referral
    pub kind: String,
    pub at: i64,
}

/// A message template of a WABA, per language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRecord {
    pub id: String,
    pub waba_id: String,
    pub name: String,
    pub language: String,
    /// APPROVED, REJECTED, PAUSED, …
    pub status: String,
    /// The category applied (after review).
    pub category: String,
    pub rejected_reason: Option<String>,
    /// The template as Graph lists it (JSON).
    pub definition: String,
    pub created_at: i64,
}

/// A file uploaded with `POST /{phone-number-id}/media`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRecord {
    /// Graph's numeric id.
    pub id: String,
    pub phone_number_id: String,
    pub waba_id: String,
    /// The MIME type (without parameters), lower case.
    pub mime_type: String,
    /// Base64 of the SHA-256 of the bytes, as Graph shows it.
    pub sha256: String,
    pub file_size: i64,
    /// The file name the client sent, if any.
    pub filename: Option<String>,
    /// Where the bytes are, relative to the data directory.
    pub path: String,
    pub created_at: i64,
}

/// One write of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    Business(Business),
    // Boxed (with `User`): accounts and user events are written rarely, and the largest
    // variant sets the size of every `Write` a send pushes and moves (168 bytes unboxed).
    Waba(Box<Waba>),
    PhoneNumber(Box<PhoneNumber>),
    App(Box<App>),
    Token(AccessToken),
    /// Shared with the server, which keeps the record for the receipts it owes.
    Message(std::sync::Arc<MessageRecord>),
    User(Box<UserEvent>),
    Template(Box<TemplateRecord>),
    DeleteTemplate {
        id: String,
    },
    Media(Box<MediaRecord>),
    DeleteMedia {
        id: String,
    },
    /// A webhook event enters the outbox.
    Webhook(Box<WebhookRecord>),
    /// A delivery attempt's outcome.
    WebhookAttempt {
        seq: i64,
        state: String,
        next_attempt_at: i64,
        attempts: String,
        delivered_at: Option<i64>,
    },
    /// A message's latest receipt (sent, delivered, read).
    Receipt {
        seq: i64,
        receipt: ShortText,
    },
    /// A simulated user's behaviour (JSON).
    SimUser {
        wa_id: String,
        settings: String,
    },
    /// A server setting (see `Store::setting`).
    Setting {
        key: String,
        value: String,
    },
    /// A ledger entry (and, by the writer, its rollups).
    Ledger(Box<crate::ledger::LedgerEntry>),
    /// A message counted for the messaging analytics.
    MessageCount(Box<crate::ledger::MessageCount>),
    /// A rate card loaded at runtime.
    RateCard(Box<crate::ledger::RateCardRecord>),
    /// A WABA's budget set (or replaced).
    Budget(Box<crate::ledger::BudgetRecord>),
    /// A WABA's budget removed.
    DeleteBudget {
        waba_id: String,
    },
}

impl Write {
    /// The sequence number of a message write, if this is one.
    pub fn message_seq(&self) -> Option<i64> {
        match self {
            Write::Message(m) => Some(m.seq),
            _ => None,
        }
    }
}

/// What the engine is fed again at start, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineInput {
    Message(Box<MessageRecord>),
    User(UserEvent),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A send pushes and moves several `Write`s, each the size of the largest variant: the
    /// rarely written accounts are boxed so that they do not set it (168 bytes unboxed).
    #[test]
    fn a_write_stays_small() {
        let size = std::mem::size_of::<Write>();
        assert!(size <= 96, "Write is {size} bytes");
    }

    /// The short text of a send's records lives inline: the words and ids a send writes are
    /// no allocation at all (the point of `ShortText`).
    #[test]
    fn a_sends_short_text_is_inline() {
        for s in [
            "300000000000001",
            "15550001111",
            "5511987650001",
            "delivered",
            "free_customer_service",
            "BUSINESS_INITIATED",
            "Rest of Western Europe",
        ] {
            assert!(!ShortText::new(s).is_heap_allocated(), "{s}");
        }
    }
}
