//! Aggregates of a replay: the totals of the JSON report and every table of the human one.
//! Bounded in size by the number of markets, categories, months and versions, never by the
//! length of the log. Kept in arrays indexed by category, market, model and version: the
//! summary is updated for every message, and map lookups showed in the profile.

use openwaba_engine::{
    Category, Currency, MarketId, Money, PricingModel, PricingVersion, SendOutcome, SendStatus,
    YearMonth,
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

    /// Units with a non-zero charge.
    pub fn paid(&self) -> u64 {
        self.units - self.free - self.unpriced
    }

    fn merge(&mut self, o: &Line) {
        self.units += o.units;
        self.free += o.free;
        self.unpriced += o.unpriced;
        self.charge += o.charge;
    }
}

const MODELS: [PricingModel; 2] = [PricingModel::Cbp, PricingModel::Pmp];

fn model_index(m: PricingModel) -> usize {
    match m {
        PricingModel::Cbp => 0,
        PricingModel::Pmp => 1,
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
    /// Failed and rejected messages by error code.
    pub failures: BTreeMap<u32, u64>,
    conversations: [u64; 8],
    by_category: [Line; 8],
    by_market: Vec<Line>,
    /// Sorted by month; a replay's months only grow, so the last entry is the hot one.
    by_month: Vec<(YearMonth, Line)>,
    by_model: [Line; 2],
    versions: [u64; 6],
}

impl Summary {
    /// An empty summary whose charges are in `currency`.
    pub fn new(currency: Currency) -> Summary {
        Summary {
            currency: Some(currency),
            ..Summary::default()
        }
    }

    /// Records one send.
    pub fn record(&mut self, outcome: &SendOutcome, month: YearMonth) {
        self.messages += 1;
        self.versions[outcome.version.index()] += 1;
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
            (Some(c), _) => {
                self.conversations[c.category.index()] += 1;
                Some((c.category, c.charge, c.version.model()))
            }
            (None, Some(p)) if outcome.conversation.is_none() && p.model == PricingModel::Pmp => {
                Some((p.category, p.charge, PricingModel::Pmp))
            }
            _ => None,
        };
        let Some((category, charge, model)) = unit else {
            return;
        };
        match charge {
            Some(c) => self.charge += c,
            None => self.unpriced += 1,
        }
        self.by_category[category.index()].add(charge);
        let m = outcome.market.index();
        if self.by_market.len() <= m {
            self.by_market.resize(m + 1, Line::default());
        }
        self.by_market[m].add(charge);
        self.month_line(month).add(charge);
        self.by_model[model_index(model)].add(charge);
    }

    fn month_line(&mut self, month: YearMonth) -> &mut Line {
        let i = match self.by_month.last() {
            Some((last, _)) if *last == month => self.by_month.len() - 1,
            _ => match self.by_month.binary_search_by_key(&month, |(m, _)| *m) {
                Ok(i) => i,
                Err(i) => {
                    self.by_month.insert(i, (month, Line::default()));
                    i
                }
            },
        };
        &mut self.by_month[i].1
    }

    /// Conversations opened, by category (only categories that have some).
    pub fn conversations(&self) -> impl Iterator<Item = (Category, u64)> + '_ {
        Category::ALL
            .into_iter()
            .map(|c| (c, self.conversations[c.index()]))
            .filter(|(_, n)| *n > 0)
    }
    pub fn by_category(&self) -> impl Iterator<Item = (Category, Line)> + '_ {
        Category::ALL
            .into_iter()
            .map(|c| (c, self.by_category[c.index()]))
            .filter(|(_, l)| l.units > 0)
    }
    pub fn by_market<'a>(
        &'a self,
        markets: &'a openwaba_engine::MarketTable,
    ) -> impl Iterator<Item = (MarketId, Line)> + 'a {
        markets
            .ids()
            .filter_map(|m| self.by_market.get(m.index()).map(|l| (m, *l)))
            .filter(|(_, l)| l.units > 0)
    }
    pub fn by_month(&self) -> impl Iterator<Item = (YearMonth, Line)> + '_ {
        self.by_month.iter().copied()
    }
    pub fn by_model(&self) -> impl Iterator<Item = (PricingModel, Line)> + '_ {
        MODELS
            .into_iter()
            .map(|m| (m, self.by_model[model_index(m)]))
            .filter(|(_, l)| l.units > 0)
    }
    /// Messages judged under each version (only versions that judged some).
    pub fn versions(&self) -> impl Iterator<Item = (PricingVersion, u64)> + '_ {
        PricingVersion::ALL
            .into_iter()
            .map(|v| (v, self.versions[v.index()]))
            .filter(|(_, n)| *n > 0)
    }

    /// Sum of the free and paid units.
    pub fn units(&self) -> Line {
        let mut l = Line::default();
        for m in &self.by_model {
            l.merge(m);
        }
        l
    }
}
