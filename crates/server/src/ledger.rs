//! Booking: what a send adds to the ledger, and a WABA's monthly spend against its budget.
//!
//! The engine decides a send; this module turns its outcome into the ledger entry written
//! in the same transaction as the message, so the ledger is the single source of every
//! figure openwaba reports (analytics, invoices, budgets). What is booked:
//! - under conversation-based pricing, one entry per conversation, by the message that
//!   opened it (charged, free tier, free entry point or free service);
//! - under per-message pricing, one entry per delivered message (charged or free).
//!
//! A message that fails is never booked. Delivery is decided when the message is accepted
//! (the simulated phone is reachable or not), so the entry carries the acceptance instant:
//! the same instant `openwaba replay` prices the same log at, which is what lets the two
//! agree to the cent.
//!
//! Spend is kept in memory per (WABA, local month) and updated under the WABA's engine
//! lock, the lock every send of the WABA is decided under: a hard-stopped budget is checked
//! and charged atomically, so concurrent sends cannot slip past it.

use crate::graph_error::GraphError;
use compact_str::ToCompactString;
use openwaba_engine::{
    Category, ConversationType, Engine, Money, Outbound, PricingModel, SendOutcome, SendStatus,
    YearMonth,
};
use openwaba_store::{BudgetRecord, LedgerEntry, MessageCount, MessageRecord, ShortText};
use rustc_hash::FxHashMap;
use serde_json::{json, Value};

/// openwaba's own error code for a send refused by a hard-stopped budget (documented in
/// docs/errors.md, outside Meta's ranges like the opt-in code).
pub const BUDGET_EXCEEDED_CODE: u32 = 1_300_002;

/// The webhook field of openwaba's own budget alerts.
pub const BUDGET_ALERT_FIELD: &str = "openwaba_budget_alert";

/// A WABA's monthly budget, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    pub amount: Money,
    pub currency: String,
    /// Percentages, ascending.
    pub thresholds: Vec<u32>,
    pub hard_stop: bool,
}

impl Budget {
    pub fn from_record(r: &BudgetRecord) -> Option<Budget> {
        Some(Budget {
            amount: Money::parse(&r.amount).ok()?,
            currency: r.currency.clone(),
            thresholds: parse_thresholds(&r.thresholds).ok()?,
            hard_stop: r.hard_stop,
        })
    }

    pub fn to_record(&self, waba_id: &str) -> BudgetRecord {
        BudgetRecord {
            waba_id: waba_id.to_owned(),
            amount: self.amount.to_string(),
            currency: self.currency.clone(),
            thresholds: self
                .thresholds
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
            hard_stop: self.hard_stop,
        }
    }

    /// The amount at a threshold percentage, exact.
    fn at_threshold(&self, percent: u32) -> Money {
        let d = self.amount.decimal() * rust_decimal::Decimal::from(percent)
            / rust_decimal::Decimal::from(100u32);
        Money::parse(&d.normalize().to_string()).unwrap_or(self.amount)
    }
}

/// `50,80,100` or a JSON array of numbers: ascending, deduplicated, each 1..=1000.
pub fn parse_thresholds(s: &str) -> Result<Vec<u32>, String> {
    let mut v = Vec::new();
    for part in s
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
    {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let n: u32 = p
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| format!("thresholds: `{p}` is not a percentage (1 to 1000)"))?;
        v.push(n);
    }
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// Spend per (WABA, local month), and the highest threshold already alerted.
#[derive(Default)]
pub struct Spend {
    spent: FxHashMap<(String, YearMonth), Money>,
    alerted: FxHashMap<(String, YearMonth), u32>,
}

impl Spend {
    pub fn spent(&self, waba_id: &str, month: YearMonth) -> Money {
        self.spent
            .get(&(waba_id.to_owned(), month))
            .copied()
            .unwrap_or(Money::ZERO)
    }

    /// Adds a charge; returns the thresholds of `budget` it crossed (to alert once each).
    pub fn add(
        &mut self,
        waba_id: &str,
        month: YearMonth,
        charge: Money,
        budget: Option<&Budget>,
    ) -> Vec<u32> {
        let key = (waba_id.to_owned(), month);
        let total = {
            let s = self.spent.entry(key.clone()).or_insert(Money::ZERO);
            *s += charge;
            *s
        };
        let Some(b) = budget else {
            return Vec::new();
        };
        let done = self.alerted.get(&key).copied().unwrap_or(0);
        let crossed: Vec<u32> = b
            .thresholds
            .iter()
            .copied()
            .filter(|t| *t > done && total.decimal() >= b.at_threshold(*t).decimal())
            .collect();
        if let Some(max) = crossed.last() {
            self.alerted.insert(key, *max);
        }
        crossed
    }

    /// After a restart or a budget change: thresholds already reached count as alerted.
    pub fn mark_alerted(&mut self, waba_id: &str, month: YearMonth, budget: &Budget) {
        let total = self.spent(waba_id, month);
        let reached = budget
            .thresholds
            .iter()
            .copied()
            .filter(|t| total.decimal() >= budget.at_threshold(*t).decimal())
            .max()
            .unwrap_or(0);
        self.alerted.insert((waba_id.to_owned(), month), reached);
    }
}

/// What a delivered send costs (its own charge; 0 for joins and free messages).
pub fn charge_of(outcome: &SendOutcome) -> Money {
    match outcome.status {
        SendStatus::Delivered => outcome
            .pricing
            .and_then(|p| p.charge)
            .unwrap_or(Money::ZERO),
        _ => Money::ZERO,
    }
}

/// The error of a send a hard-stopped budget refuses.
pub fn budget_exceeded(
    waba_id: &str,
    month: YearMonth,
    budget: &Budget,
    spent: Money,
    charge: Money,
) -> GraphError {
    GraphError::engine(
        BUDGET_EXCEEDED_CODE,
        "Budget exceeded",
        &format!(
            "This message would cost {charge} {cur} and bring WABA {waba_id}'s spend for {month} to {} {cur}, over its monthly budget of {} {cur} (hard stop). Free messages still pass; raise or remove the budget with PUT /_openwaba/v1/{waba_id}/budget.",
            spent + charge,
            budget.amount,
            cur = budget.currency,
        ),
        400,
    )
}

/// The conversation direction of a booked entry: who started what was charged.
fn direction(outcome: &SendOutcome, outbound: Outbound) -> &'static str {
    let category = outcome.pricing.map(|p| p.category);
    match category {
        Some(Category::Service | Category::UserInitiated | Category::ReferralConversion) => {
            "USER_INITIATED"
        }
        _ if outbound == Outbound::FreeForm => "USER_INITIATED",
        _ => "BUSINESS_INITIATED",
    }
}

/// The ledger entry a send books, if any (see the module documentation).
/// The ledger entry of a send (none for a failure, or a message that books nothing);
/// `country` is the recipient's ([`country_text`]).
pub fn entry(
    engine: &mut Engine,
    record: &MessageRecord,
    country: ShortText,
    outcome: &SendOutcome,
    outbound: Outbound,
) -> Option<LedgerEntry> {
    if outcome.status != SendStatus::Delivered {
        return None;
    }
    let pricing = outcome.pricing?;
    let pricing_type = match pricing.model {
        PricingModel::Cbp => match &outcome.opened {
            Some(c) => match c.kind {
                ConversationType::Regular => "REGULAR",
                ConversationType::FreeTier => "FREE_TIER",
                ConversationType::FreeEntryPoint => "FREE_ENTRY_POINT",
            },
            None => return None,
        },
        PricingModel::Pmp => pricing.kind.as_str(),
    };
    let at = openwaba_engine::Instant::from_millis(record.created_at);
    let card = pricing
        .card
        .and_then(|id| engine.config().rates.get(id))
        .map(|c| ShortText::new(c.name()));
    Some(LedgerEntry {
        seq: record.seq,
        waba_id: record.waba_id.clone(),
        phone_number_id: record.phone_number_id.clone(),
        business: record.business.clone(),
        wa_id: record.wa_id.clone(),
        market: ShortText::new(engine.markets().name(outcome.market)),
        country,
        category: ShortText::const_new(pricing.category.as_str()),
        model: ShortText::const_new(pricing.model.as_str()),
        pricing_type: ShortText::const_new(pricing_type),
        direction: ShortText::const_new(direction(outcome, outbound)),
        conversation_id: outcome.conversation.map(|c| c.id.to_compact_string()),
        amount: pricing.charge.map(|c| c.to_compact_string()),
        currency: ShortText::new(engine.currency().as_str()),
        card,
        tier: pricing.tier.map(|t| t.to_compact_string()),
        at: record.created_at,
        day: openwaba_engine::day_number(engine.local_date(at)),
    })
}

/// A user's ISO 3166-1 country code, empty when the number's country is unknown.
pub fn country_text(user: openwaba_engine::WaId) -> ShortText {
    openwaba_engine::country::country_of(user)
        .map(|c| ShortText::new(c.as_str()))
        .unwrap_or_default()
}

/// The messaging count of a message: sent when accepted and sent, delivered on its receipt;
/// `country` is the recipient's ([`country_text`], [`country_of_record`]).
pub fn message_count(
    zone: openwaba_engine::TimeZoneId,
    of: CountedMessage<'_>,
    country: ShortText,
    sent: i64,
    delivered: i64,
) -> MessageCount {
    MessageCount {
        waba_id: of.waba_id.clone(),
        phone_number_id: of.phone_number_id.clone(),
        country,
        at: of.created_at,
        day: zone.day_number(openwaba_engine::Instant::from_millis(of.created_at)),
        sent,
        delivered,
    }
}

/// What of a message its messaging count is keyed by (a receipt has these without the
/// message).
#[derive(Clone, Copy)]
pub struct CountedMessage<'a> {
    pub waba_id: &'a ShortText,
    pub phone_number_id: &'a ShortText,
    pub created_at: i64,
}

impl<'a> From<&'a MessageRecord> for CountedMessage<'a> {
    fn from(m: &'a MessageRecord) -> Self {
        CountedMessage {
            waba_id: &m.waba_id,
            phone_number_id: &m.phone_number_id,
            created_at: m.created_at,
        }
    }
}

/// The recipient's country of a stored message (empty when unknown).
pub fn country_of_record(record: &MessageRecord) -> ShortText {
    openwaba_engine::WaId::parse(&record.wa_id)
        .map(country_text)
        .unwrap_or_default()
}

/// The `openwaba_budget_alert` webhook value.
pub fn alert_value(
    waba_id: &str,
    month: YearMonth,
    budget: &Budget,
    threshold: u32,
    spent: Money,
) -> Value {
    json!({
        "event": "BUDGET_THRESHOLD_REACHED",
        "waba_id": waba_id,
        "month": month.to_string(),
        "threshold_percent": threshold,
        "budget": budget.amount.to_string(),
        "spent": spent.to_string(),
        "currency": budget.currency,
        "hard_stop": budget.hard_stop,
    })
}
