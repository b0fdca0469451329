//! The ledger: every charge the engine books, and every free one, as a row written in the
//! same transaction as its message, plus the rollups that answer analytics fast.
//!
//! Why rollups: Meta-style analytics group a month of traffic by day and a few dimensions.
//! Over ten million ledger rows a `GROUP BY` scan takes seconds; the rollups hold one row
//! per (bucket, dimension values, unit price) with a count, so a month is a few thousand
//! rows. They are maintained by the store's writer in the transaction that writes the
//! ledger rows, so they can never disagree with it (a crash loses both or neither), and the
//! writer coalesces a whole group commit into one upsert per key.
//!
//! Two grains are kept: UTC half-hours (`HALF_HOUR` granularity) and the WABA's local days
//! (`DAILY`, and `MONTHLY` by summing days), so day and month boundaries follow the WABA's
//! time zone exactly, including zones whose offset is not a whole hour. A row's unit price
//! is part of its key and amounts are `unit × count`: money stays an exact decimal (SQLite
//! would sum text prices as floats).

use serde::{Deserialize, Serialize};

use crate::records::ShortText;

/// Half-hour buckets: `at` (ms) divided by this.
pub const HALF_HOUR_MS: i64 = 30 * 60 * 1000;

/// One booked charge (or free message/conversation) of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The sequence number of the message that booked it (one entry per message at most).
    pub seq: i64,
    pub waba_id: ShortText,
    pub phone_number_id: ShortText,
    /// The business number, E.164 digits.
    pub business: ShortText,
    pub wa_id: ShortText,
    pub market: ShortText,
    /// ISO 3166-1 alpha-2, empty when the number's country is unknown.
    pub country: ShortText,
    /// The priced category: marketing, utility, authentication,
    /// authentication_international, service, referral_conversion, business_initiated,
    /// user_initiated.
    pub category: ShortText,
    /// CBP | PMP
    pub model: ShortText,
    /// CBP: REGULAR | FREE_TIER | FREE_ENTRY_POINT (the conversation type).
    /// PMP: regular | free_customer_service | free_entry_point.
    pub pricing_type: ShortText,
    /// BUSINESS_INITIATED | USER_INITIATED
    pub direction: ShortText,
    pub conversation_id: Option<ShortText>,
    /// Exact decimal in `currency`; `None` when the card had no rate.
    pub amount: Option<ShortText>,
    pub currency: ShortText,
    /// The name of the card that priced it (none for free entries).
    pub card: Option<ShortText>,
    /// PMP volume tier, `<LOWER>:<UPPER|MAX>`.
    pub tier: Option<ShortText>,
    pub at: i64,
    /// The WABA-local day (days since 1970-01-01 in the WABA's zone) of `at`.
    pub day: i64,
}

/// The grain of a rollup bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Grain {
    /// `at / HALF_HOUR_MS` (UTC half-hours).
    HalfHour,
    /// The WABA-local day number.
    Day,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::HalfHour => "H",
            Grain::Day => "D",
        }
    }
}

/// The dimensions a ledger rollup row is keyed by (besides WABA, grain and bucket).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RollupKey {
    pub phone_number_id: String,
    pub country: String,
    pub market: String,
    pub category: String,
    pub model: String,
    pub pricing_type: String,
    pub direction: String,
    /// Empty when none.
    pub tier: String,
    /// The unit price as booked; empty when unpriced.
    pub unit: String,
    pub currency: String,
}

impl RollupKey {
    /// The dimensions of `e`'s rollup row, borrowed, in the order of the fields (tier and
    /// unit empty when none). The store's writer keys a transaction's counts by them.
    pub fn dims(e: &LedgerEntry) -> [&str; 10] {
        [
            &e.phone_number_id,
            &e.country,
            &e.market,
            &e.category,
            &e.model,
            &e.pricing_type,
            &e.direction,
            e.tier.as_deref().unwrap_or_default(),
            e.amount.as_deref().unwrap_or_default(),
            &e.currency,
        ]
    }
}

/// One rollup row: how many ledger entries of `key` fell in `bucket`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupRow {
    pub bucket: i64,
    pub key: RollupKey,
    pub count: i64,
}

/// A message counted for the messaging `analytics` field: `sent` when accepted and sent,
/// `delivered` when its delivered receipt is reported. Bucketed by the message's send time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCount {
    pub waba_id: ShortText,
    pub phone_number_id: ShortText,
    pub country: ShortText,
    pub at: i64,
    pub day: i64,
    pub sent: i64,
    pub delivered: i64,
}

/// One row of the messaging rollup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCountRow {
    pub bucket: i64,
    pub phone_number_id: String,
    pub country: String,
    pub sent: i64,
    pub delivered: i64,
}

/// A rate card loaded at runtime, kept so it prices again after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateCardRecord {
    /// Loading order (assigned by the store; ignored on write).
    pub seq: i64,
    /// The WABA it applies to; `None`: every WABA.
    pub waba_id: Option<String>,
    pub name: String,
    /// `YYYY-MM-DD`, WABA-local.
    pub effective_from: String,
    /// conversation | per_message | v0
    pub family: String,
    /// Meta's CSV layout, as uploaded.
    pub csv: String,
    pub tiers_csv: Option<String>,
    pub created_at: i64,
}

/// A WABA's monthly budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetRecord {
    pub waba_id: String,
    /// Exact decimal in `currency`.
    pub amount: String,
    pub currency: String,
    /// Alert thresholds in percent of the budget, ascending (`50,80,100`).
    pub thresholds: String,
    /// Refuse chargeable sends that would exceed the budget.
    pub hard_stop: bool,
}
