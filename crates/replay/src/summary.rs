//! Aggregates of a replay: the totals of the JSON report and every table of the human one.
//! Bounded in size by the number of markets, categories, months and versions, never by the
//! length of the log.

use openwaba_engine::{
    Category, Conversation, Currency, MarketId, Money, PricingModel, PricingVersion, SendOutcome,
    SendStatus, YearMonth,
};
use std::collections::BTreeMap;

/// A priced unit: a conversation under CBP (and every free entry point), a delivered
/// message outside any conversation under PMP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub units: u64,
    pub free: u64,
    /// Units whose rate was missing (only with `--allow-missing-rates`).
    pub unpriced: u64,
    pub charge: Money,
}

impl Line {
    fn add(&mut self, charge: Option<Money>) {
        self.units += 1;
        match charge {
            Some(c) if !c.is_zero() => self.charge += c,
            Some(_) => self.free += 1,
            None => self.unpriced += 1,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub currency: Option<Currency>,
    pub events: u64,
    pub messages: u64,
    pub delivered: u64,
    pub failed: u64,
    pub rejected: u64,
    pub consent_warnings: u64,
    pub charge: Money,
    /// Priced units whose rate was missing (only with `--allow-missing-rates`).
    pub unpriced: u64,
    /// Conversations opened, by category.
    pub conversations: BTreeMap<Category, u64>,
    pub failures: BTreeMap<u32, u64>,
    pub by_category: BTreeMap<Category, Line>,
    pub by_market: BTreeMap<MarketId, Line>,
    pub by_month: BTreeMap<YearMonth, Line>,
    pub by_model: BTreeMap<&'static str, Line>,
    /// Messages judged under each version.
    pub versions: BTreeMap<PricingVersion, u64>,
}

impl Summary {
    /// Records one send.
    pub fn record(&mut self, outcome: &SendOutcome, month: YearMonth) {
        self.messages += 1;
        *self.versions.entry(outcome.version).or_default() += 1;
        if outcome.consent_warning {
            self.consent_warnings += 1;
        }
        match outcome.status {
            SendStatus::Delivered => self.delivered += 1,
            SendStatus::Failed(f) => {
                self.failed += 1;
                *self.failures.entry(f.code()).or_default() += 1;
            }
            SendStatus::Rejected(r) => {
                self.rejected += 1;
                *self.failures.entry(r.code()).or_default() += 1;
            }
        }
        let unit = match (&outcome.opened, &outcome.pricing) {
            (Some(c), _) => Some((c.category, c.charge, c.version.model())),
            (None, Some(p)) if outcome.conversation.is_none() && p.model == PricingModel::Pmp => {
                Some((p.category, p.charge, PricingModel::Pmp))
            }
            _ => None,
        };
        if let Some((category, charge, model)) = unit {
            if let Some(c) = &outcome.opened {
                self.conversation(c);
            }
            match charge {
                Some(c) => self.charge += c,
                None => self.unpriced += 1,
            }
            self.by_category.entry(category).or_default().add(charge);
            self.by_market
                .entry(outcome.market)
                .or_default()
                .add(charge);
            self.by_month.entry(month).or_default().add(charge);
            self.by_model.entry(model.as_str()).or_default().add(charge);
        }
    }

    fn conversation(&mut self, c: &Conversation) {
        *self.conversations.entry(c.category).or_default() += 1;
    }

    /// Sum of the free and paid units.
    pub fn units(&self) -> Line {
        let mut l = Line::default();
        for v in self.by_model.values() {
            l.units += v.units;
            l.free += v.free;
            l.unpriced += v.unpriced;
            l.charge += v.charge;
        }
        l
    }
}

impl Line {
    /// Units with a non-zero charge.
    pub fn paid(&self) -> u64 {
        self.units - self.free - self.unpriced
    }
}
