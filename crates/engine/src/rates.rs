//! Rate cards: what a conversation or a message costs, by market and category.
//!
//! Cards are data, never code. A card is read from Meta's CSV layout
//! (`Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service`,
//! or the v0 layout `Market,Currency,Business-Initiated,User-Initiated`), optionally after
//! Meta's preamble lines. `n/a` or an empty cell means "no rate": asking for it is an error
//! that names the market and category, never a silent 0.
//!
//! Per-message pricing adds volume tiers for utility and authentication. They are card data
//! too, in a second CSV (`Market,Category,Volume-From,Rate`): from the `Volume-From`-th
//! charged message of the month (1-based) at that market–category pair, `Rate` applies.

use crate::category::Category;
use crate::market::{MarketId, MarketTable};
use crate::money::{Currency, Money};
use crate::version::PricingVersion;
use chrono::NaiveDate;
use rustc_hash::FxHashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("rate card {source_name}, line {line}: {what}")]
    Malformed {
        source_name: String,
        line: usize,
        what: String,
    },
    #[error("no {category} rate for market {market} on rate card {card}")]
    Missing {
        market: String,
        category: Category,
        card: String,
    },
}

/// A volume tier: the first and last monthly message counts it covers, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tier {
    pub from: u64,
    pub to: Option<u64>,
}

impl std::fmt::Display for Tier {
    /// Meta's `pricing_analytics` spelling: `<LOWER>:<UPPER|MAX>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to {
            Some(to) => write!(f, "{}:{}", self.from, to),
            None => write!(f, "{}:MAX", self.from),
        }
    }
}

/// One rate card in one currency.
#[derive(Debug, Clone)]
pub struct RateCard {
    name: String,
    currency: Currency,
    /// `rates[market][category]`.
    rates: Vec<[Option<Money>; 8]>,
    /// Graduated volume tiers: `(first message count, rate)` sorted by count.
    tiers: FxHashMap<(MarketId, Category), Vec<(u64, Money)>>,
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_owned()),
            _ => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

fn column_category(name: &str) -> Option<Category> {
    let n = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    Some(match n.as_str() {
        "marketing" => Category::Marketing,
        "utility" => Category::Utility,
        "authentication" => Category::Authentication,
        "authentication_international" => Category::AuthenticationInternational,
        "service" => Category::Service,
        "business_initiated" => Category::BusinessInitiated,
        "user_initiated" => Category::UserInitiated,
        _ => return None,
    })
}

impl RateCard {
    /// Reads a card in Meta's CSV layout. `source_name` names the card in errors.
    pub fn from_csv(
        source_name: &str,
        text: &str,
        markets: &MarketTable,
    ) -> Result<RateCard, RateError> {
        let bad = |line: usize, what: String| RateError::Malformed {
            source_name: source_name.to_owned(),
            line,
            what,
        };
        let mut columns: Option<Vec<Option<Category>>> = None;
        let mut card = RateCard {
            name: source_name.to_owned(),
            currency: Currency::USD,
            rates: vec![[None; 8]; markets.len()],
            tiers: FxHashMap::default(),
        };
        let mut currency: Option<Currency> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim_start_matches('\u{feff}').trim();
            if raw.is_empty() {
                continue;
            }
            let cells = split_csv(raw);
            let Some(cols) = &columns else {
                // Meta's files start with a title and notes; the header starts with Market.
                if cells[0].eq_ignore_ascii_case("market") {
                    if cells.len() < 3 || !cells[1].eq_ignore_ascii_case("currency") {
                        return Err(bad(
                            line,
                            "the header must be `Market,Currency,<category>,…`".into(),
                        ));
                    }
                    let mut cs = vec![None, None];
                    for c in &cells[2..] {
                        let cat = column_category(c).ok_or_else(|| {
                            bad(line, format!("`{c}` is not a rate column (expected Marketing, Utility, Authentication, Authentication-International, Service, Business-Initiated or User-Initiated)"))
                        })?;
                        cs.push(Some(cat));
                    }
                    columns = Some(cs);
                }
                continue;
            };
            if cells.len() != cols.len() {
                return Err(bad(
                    line,
                    format!("{} cells where the header has {}", cells.len(), cols.len()),
                ));
            }
            let market = markets
                .by_name(&cells[0])
                .map_err(|e| bad(line, e.to_string()))?;
            let cur = Currency::parse(&cells[1]).map_err(|e| bad(line, e.to_string()))?;
            match currency {
                Some(c) if c != cur => {
                    return Err(bad(
                        line,
                        format!(
                            "currency {cur} differs from the card's {c}: one card, one currency"
                        ),
                    ))
                }
                _ => currency = Some(cur),
            }
            for (cell, cat) in cells.iter().zip(cols.iter()).skip(2) {
                let Some(cat) = cat else { continue };
                let v = cell.trim();
                if v.is_empty() || v.eq_ignore_ascii_case("n/a") || v == "-" {
                    continue;
                }
                let m = Money::parse(v)
                    .map_err(|e| bad(line, format!("{} for {}: {e}", cat, &cells[0])))?;
                card.rates[market.index()][cat.index()] = Some(m);
            }
        }
        if columns.is_none() {
            return Err(bad(1, "no header line `Market,Currency,…` found".into()));
        }
        card.currency = currency.unwrap_or(Currency::USD);
        Ok(card)
    }

    /// Adds graduated volume tiers from a `Market,Category,Volume-From,Rate` CSV.
    pub fn with_tiers_csv(
        mut self,
        source_name: &str,
        text: &str,
        markets: &MarketTable,
    ) -> Result<RateCard, RateError> {
        let bad = |line: usize, what: String| RateError::Malformed {
            source_name: source_name.to_owned(),
            line,
            what,
        };
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim();
            if raw.is_empty() || (raw.to_ascii_lowercase().starts_with("market,")) {
                continue;
            }
            let cells = split_csv(raw);
            if cells.len() != 4 {
                return Err(bad(
                    line,
                    "expected `Market,Category,Volume-From,Rate`".into(),
                ));
            }
            let market = markets
                .by_name(&cells[0])
                .map_err(|e| bad(line, e.to_string()))?;
            let cat = column_category(&cells[1])
                .filter(|c| {
                    matches!(
                        c,
                        Category::Utility
                            | Category::Authentication
                            | Category::AuthenticationInternational
                    )
                })
                .ok_or_else(|| {
                    bad(
                        line,
                        format!(
                            "`{}` has no volume tiers (only utility and authentication do)",
                            cells[1]
                        ),
                    )
                })?;
            let from: u64 = cells[2].parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                bad(
                    line,
                    format!("`{}` is not a message count (1 or more)", cells[2]),
                )
            })?;
            let rate = Money::parse(&cells[3]).map_err(|e| bad(line, e.to_string()))?;
            let v = self.tiers.entry((market, cat)).or_default();
            v.push((from, rate));
            v.sort_by_key(|(f, _)| *f);
        }
        Ok(self)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The list rate for a market and category, if the card has one.
    pub fn rate(&self, market: MarketId, category: Category) -> Option<Money> {
        self.rates.get(market.index())?[category.index()]
    }

    /// The rate of the `nth` (1-based) charged message of the month at a market–category
    /// pair: the tier it falls in, or the list rate when the card has no tiers for it.
    pub fn tiered_rate(&self, market: MarketId, category: Category, nth: u64) -> Option<Money> {
        if let Some(tiers) = self.tiers.get(&(market, category)) {
            if let Some((_, r)) = tiers.iter().rev().find(|(from, _)| *from <= nth) {
                return Some(*r);
            }
        }
        self.rate(market, category)
    }

    /// The volume tier the `nth` charged message falls in: its first and last message
    /// counts (`None`: no upper bound). A card without tiers has one tier, `1..`.
    pub fn tier_of(&self, market: MarketId, category: Category, nth: u64) -> Tier {
        let Some(tiers) = self.tiers.get(&(market, category)) else {
            return Tier { from: 1, to: None };
        };
        let i = tiers.iter().rposition(|(from, _)| *from <= nth);
        match i {
            Some(i) => Tier {
                from: tiers[i].0,
                to: tiers.get(i + 1).map(|(f, _)| f - 1),
            },
            None => Tier {
                from: 1,
                to: tiers.first().map(|(f, _)| f.saturating_sub(1)),
            },
        }
    }

    pub fn has_tiers(&self) -> bool {
        !self.tiers.is_empty()
    }
}

/// A card's place in a [`RateBook`]: what a charge records to say which card priced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardId(pub u16);

/// The versions a card can price. A card is printed for one pricing model: the v0 card
/// (business- and user-initiated), the four-category conversation cards, or the per-message
/// cards; a card loaded at runtime belongs to the family in force on its effective date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardFamily {
    V0,
    Conversations,
    PerMessage,
    /// One card for every version (`replay --rates`).
    Any,
}

impl CardFamily {
    pub fn of(version: PricingVersion) -> CardFamily {
        match version {
            PricingVersion::V0 => CardFamily::V0,
            PricingVersion::V3 => CardFamily::PerMessage,
            _ => CardFamily::Conversations,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CardFamily::V0 => "v0",
            CardFamily::Conversations => "conversation",
            CardFamily::PerMessage => "per_message",
            CardFamily::Any => "any",
        }
    }
    fn prices(self, version: PricingVersion) -> bool {
        self == CardFamily::Any || self == CardFamily::of(version)
    }
}

/// One card of the book and the first (WABA-local) date it prices.
#[derive(Debug, Clone)]
pub struct BookEntry {
    pub id: CardId,
    pub effective_from: NaiveDate,
    pub family: CardFamily,
    pub card: RateCard,
}

/// Which card prices an event: among the cards of the event's pricing family, the one with
/// the latest effective date on or before the event's date (the earliest of the family when
/// the event predates them all, as in a what-if replay of 2023 traffic under the 2025
/// rules). Cards are only ever added, so a [`CardId`] recorded with a charge stays valid.
#[derive(Debug, Clone)]
pub struct RateBook {
    entries: Vec<BookEntry>,
}

const CBP_2022: &str = include_str!("../data/cbp-2022-02-usd.csv");
const CBP_2023: &str = include_str!("../data/cbp-2023-06-usd.csv");
const PMP_2025: &str = include_str!("../data/pmp-2025-07-usd.csv");

impl RateBook {
    /// The cards shipped with openwaba (see `data/PROVENANCE.md`).
    pub fn builtin(markets: &MarketTable) -> Result<RateBook, RateError> {
        let mut book = RateBook {
            entries: Vec::new(),
        };
        book.add(
            PricingVersion::V0.effective_from(),
            CardFamily::V0,
            RateCard::from_csv("built-in cbp-2022-02-usd", CBP_2022, markets)?,
        );
        book.add(
            PricingVersion::V1.effective_from(),
            CardFamily::Conversations,
            RateCard::from_csv("built-in cbp-2023-06-usd", CBP_2023, markets)?,
        );
        book.add(
            PricingVersion::V3.effective_from(),
            CardFamily::PerMessage,
            RateCard::from_csv("built-in pmp-2025-07-usd", PMP_2025, markets)?,
        );
        Ok(book)
    }

    /// One card for every event, whatever its version or date.
    pub fn single(card: RateCard) -> RateBook {
        let mut book = RateBook {
            entries: Vec::new(),
        };
        book.add(NaiveDate::MIN, CardFamily::Any, card);
        book
    }

    /// Adds a card effective from a date, for the family in force on that date (or `family`
    /// when given). Later events of that family on or after the date are priced by it.
    pub fn add(&mut self, effective_from: NaiveDate, family: CardFamily, card: RateCard) -> CardId {
        let id = CardId(u16::try_from(self.entries.len()).unwrap_or(u16::MAX));
        self.entries.push(BookEntry {
            id,
            effective_from,
            family,
            card,
        });
        id
    }

    /// Every card, in the order they were added.
    pub fn entries(&self) -> &[BookEntry] {
        &self.entries
    }

    pub fn get(&self, id: CardId) -> Option<&RateCard> {
        self.entries.get(usize::from(id.0)).map(|e| &e.card)
    }

    /// The card that prices an event of `version` on `date`.
    pub fn card_for(
        &self,
        version: PricingVersion,
        date: NaiveDate,
    ) -> Option<(CardId, &RateCard)> {
        let family = self.entries.iter().filter(|e| e.family.prices(version));
        let best = family
            .clone()
            .filter(|e| e.effective_from <= date)
            .max_by_key(|e| (e.effective_from, e.id))
            .or_else(|| family.min_by_key(|e| (e.effective_from, e.id)));
        best.map(|e| (e.id, &e.card))
    }

    /// The currency of charges: the first card's (built-in cards are all USD).
    pub fn currency(&self) -> Currency {
        self.entries
            .first()
            .map(|e| e.card.currency())
            .unwrap_or(Currency::USD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_metas_layout_with_preamble() {
        let m = MarketTable::builtin();
        let text = "Cost per conversation in USD, effective June 1, 2023\nNote: whatever, with commas\n\nMarket,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nIndonesia,$US,0.0411,0.0200,0.0300,0.1360,0.0190\n\"Rest of Central & Eastern Europe\",$US,0.0860,0.0212,0.0212,n/a,0\n";
        let c = RateCard::from_csv("t", text, &m).unwrap();
        let id = m.by_name("Indonesia").unwrap();
        assert_eq!(
            c.rate(id, Category::AuthenticationInternational)
                .unwrap()
                .to_string(),
            "0.136"
        );
        let ce = m.by_name("Rest of Central & Eastern Europe").unwrap();
        assert_eq!(c.rate(ce, Category::AuthenticationInternational), None);
        assert_eq!(c.rate(ce, Category::Service).unwrap(), Money::ZERO);
        assert_eq!(c.currency(), Currency::USD);
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn builtin_cards_load() {
        let m = MarketTable::builtin();
        let b = RateBook::builtin(&m).unwrap();
        let br = m.by_name("Brazil").unwrap();
        let rate = |v, date, market, c| {
            b.card_for(v, d(date))
                .unwrap()
                .1
                .rate(market, c)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            rate(PricingVersion::V1, "2023-06-05", br, Category::Marketing),
            "0.0625"
        );
        assert_eq!(
            rate(
                PricingVersion::V0,
                "2023-01-05",
                br,
                Category::BusinessInitiated
            ),
            "0.05"
        );
        let na = m.by_name("North America").unwrap();
        assert_eq!(
            rate(PricingVersion::V3, "2025-07-05", na, Category::Utility),
            "0.0034"
        );
        // A what-if replay of 2023 traffic under v3 still finds the per-message card.
        assert_eq!(
            rate(PricingVersion::V3, "2023-06-05", na, Category::Utility),
            "0.0034"
        );
    }

    #[test]
    fn a_card_loaded_later_prices_its_family_from_its_date_on() {
        let m = MarketTable::builtin();
        let mut b = RateBook::builtin(&m).unwrap();
        let card = RateCard::from_csv(
            "pmp-2026-01",
            "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nNorth America,$US,0.0250,0.0030,0.0030,n/a,0\n",
            &m,
        )
        .unwrap();
        let id = b.add(d("2026-01-01"), CardFamily::PerMessage, card);
        let na = m.by_name("North America").unwrap();
        let (before, _) = b.card_for(PricingVersion::V3, d("2025-12-31")).unwrap();
        let (after, c) = b.card_for(PricingVersion::V3, d("2026-01-01")).unwrap();
        assert_ne!(before, id);
        assert_eq!(after, id);
        assert_eq!(c.rate(na, Category::Utility).unwrap().to_string(), "0.003");
        // Conversation-priced events are not touched by a per-message card.
        let (cbp, _) = b.card_for(PricingVersion::V2, d("2026-01-01")).unwrap();
        assert_ne!(cbp, id);
    }

    #[test]
    fn tiers_have_bounds() {
        let m = MarketTable::builtin();
        let card = RateCard::from_csv(
            "t",
            "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\nBrazil,$US,0.0625,0.0068,0.0068,n/a,0\n",
            &m,
        )
        .unwrap()
        .with_tiers_csv("t", "Brazil,Utility,100,0.0060\nBrazil,Utility,1000,0.0050\n", &m)
        .unwrap();
        let br = m.by_name("Brazil").unwrap();
        assert_eq!(card.tier_of(br, Category::Utility, 5).to_string(), "1:99");
        assert_eq!(
            card.tier_of(br, Category::Utility, 100).to_string(),
            "100:999"
        );
        assert_eq!(
            card.tier_of(br, Category::Utility, 5000).to_string(),
            "1000:MAX"
        );
        assert_eq!(
            card.tier_of(br, Category::Marketing, 5).to_string(),
            "1:MAX"
        );
    }

    #[test]
    fn errors_name_line_and_field() {
        let m = MarketTable::builtin();
        let e = RateCard::from_csv(
            "card.csv",
            "Market,Currency,Marketing\nBrazil,$US,abc\n",
            &m,
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("card.csv") && s.contains("line 2") && s.contains("marketing"),
            "{s}"
        );
        let e =
            RateCard::from_csv("c", "Market,Currency,Marketing\nAtlantis,$US,1\n", &m).unwrap_err();
        assert!(e.to_string().contains("Atlantis"));
        let e = RateCard::from_csv(
            "c",
            "Market,Currency,Marketing\nBrazil,$US,1\nIndia,INR,1\n",
            &m,
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 3"));
        let e = RateCard::from_csv("c", "Market,Currency,Promo\n", &m).unwrap_err();
        assert!(e.to_string().contains("Promo"));
        assert!(RateCard::from_csv("c", "nothing here\n", &m).is_err());
    }

    /// The shipped cards are the project's shared data, copied: they must not drift.
    #[test]
    fn shipped_cards_match_shared_rates() {
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/rates");
        if !shared.is_dir() {
            return; // a clone without ../shared: nothing to compare with
        }
        for (name, text) in [
            ("cbp-2022-02-usd.csv", CBP_2022),
            ("cbp-2023-06-usd.csv", CBP_2023),
            ("pmp-2025-07-usd.csv", PMP_2025),
            ("markets.csv", include_str!("../data/markets.csv")),
        ] {
            let theirs = std::fs::read_to_string(shared.join(name)).unwrap();
            assert_eq!(
                theirs, text,
                "crates/engine/data/{name} differs from shared/rates/{name}"
            );
        }
    }

    #[test]
    fn graduated_tiers() {
        let m = MarketTable::builtin();
        let c = RateCard::from_csv("c", "Market,Currency,Utility\nIndia,INR,0.10\n", &m)
            .unwrap()
            .with_tiers_csv(
                "t",
                "Market,Category,Volume-From,Rate\nIndia,Utility,3,0.08\nIndia,Utility,5,0.05\n",
                &m,
            )
            .unwrap();
        let india = m.by_name("India").unwrap();
        let rates: Vec<String> = (1..=6)
            .map(|n| {
                c.tiered_rate(india, Category::Utility, n)
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(rates, ["0.1", "0.1", "0.08", "0.08", "0.05", "0.05"]);
        assert!(c
            .clone()
            .with_tiers_csv("t", "India,Marketing,1,0.1\n", &m)
            .is_err());
    }
}
