//! # openwaba-engine
//!
//! The rules of the WhatsApp Business Platform's business messaging, as pure Rust: who may
//! send what and when, which conversation a message opens or joins, and what it costs under
//! each dated pricing version. No I/O, no async, no clock: every decision takes the instant
//! it is judged at, so replays are exact and servers can run it under a virtual clock.
//!
//! The rules implemented are those of `shared/spec/rules.md`; where Meta is silent, the
//! decision taken is documented next to the code and in `docs/decisions.md`.

pub mod category;
pub mod consent;
pub mod conversation;
pub mod country;
pub mod engine;
pub mod market;
pub mod money;
pub mod prefix;
pub mod rates;
pub mod template;
pub mod time;
pub mod version;
pub mod wa_id;
pub mod window;

pub use category::{Category, ConversationType, PricingModel, PricingType, TemplateCategory};
pub use consent::{Consent, ConsentMode};
pub use conversation::{Conversation, ConversationId};
pub use engine::{
    ConversationRef, Delivery, Engine, EngineConfig, Failure, MissingRates, Outbound, Policy,
    Pricing, Rejection, SendOutcome, SendStatus, NO_OPT_IN_CODE,
};
pub use market::{MarketId, MarketTable};
pub use money::{Currency, Money};
pub use rates::{BookEntry, CardFamily, CardId, RateBook, RateCard, RateError, Tier};
pub use time::{date_of_day, day_number, Instant, LocalCalendar, TimeZoneId, YearMonth};
pub use version::PricingVersion;
pub use wa_id::WaId;
pub use window::ServiceWindow;
