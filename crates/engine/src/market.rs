//! Markets: the country (or group of countries) a user's number is priced in.
//!
//! Meta prices by the calling code of the user's number, with a longest-prefix match so
//! that the NANP numbers of the Caribbean (+1 809, +1 876, …) leave North America. The
//! table is data (`data/markets.csv`, Meta's market list); a number no row matches is in
//! `Other`.

use crate::wa_id::WaId;
use rustc_hash::FxHashMap;
use std::fmt;

/// An index into a [`MarketTable`]: cheap to copy, compare and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MarketId(u16);

impl MarketId {
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// The name every table has for numbers no prefix matches.
pub const OTHER: &str = "Other";

use crate::prefix::{PrefixTrie, MAX_PREFIX};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    #[error("markets table line {line}: {what}")]
    Malformed { line: usize, what: String },
    #[error("`{0}` is not a market (the names come from the markets table, e.g. Brazil, North America, Rest of Africa, Other)")]
    Unknown(String),
}

/// Calling-code prefixes to markets.
#[derive(Debug, Clone)]
pub struct MarketTable {
    names: Vec<String>,
    by_name: FxHashMap<String, MarketId>,
    /// Longest prefix wins (see [`crate::prefix`]).
    prefixes: PrefixTrie<MarketId>,
    other: MarketId,
}

const BUILTIN_MARKETS: &str = include_str!("../data/markets.csv");

impl MarketTable {
    /// Meta's market table, shipped in the binary.
    pub fn builtin() -> MarketTable {
        // The shipped file is tested below; should it ever be broken, an empty table still
        // prices every number as Other rather than failing at start.
        Self::from_csv(BUILTIN_MARKETS).unwrap_or_else(|_| Self::empty())
    }

    fn empty() -> MarketTable {
        let mut t = MarketTable {
            names: Vec::new(),
            by_name: FxHashMap::default(),
            prefixes: PrefixTrie::default(),
            other: MarketId(0),
        };
        t.other = t.intern(OTHER);
        t
    }

    fn intern(&mut self, name: &str) -> MarketId {
        if let Some(id) = self.by_name.get(name) {
            return *id;
        }
        let id = MarketId(self.names.len() as u16);
        self.names.push(name.to_owned());
        self.by_name.insert(name.to_owned(), id);
        id
    }

    /// Parses `calling_code_prefix,market` lines (a header line is allowed).
    pub fn from_csv(text: &str) -> Result<MarketTable, MarketError> {
        let mut t = Self::empty();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim();
            if raw.is_empty() || (i == 0 && raw.starts_with("calling_code_prefix")) {
                continue;
            }
            let (code, name) = raw.split_once(',').ok_or_else(|| MarketError::Malformed {
                line,
                what: "expected `calling_code_prefix,market`".into(),
            })?;
            let code = code.trim();
            let name = name.trim().trim_matches('"');
            if !PrefixTrie::<MarketId>::is_prefix(code) {
                return Err(MarketError::Malformed {
                    line,
                    what: format!(
                        "`{code}` is not a calling-code prefix (1 to {MAX_PREFIX} digits)"
                    ),
                });
            }
            if name.is_empty() {
                return Err(MarketError::Malformed {
                    line,
                    what: "the market name is empty".into(),
                });
            }
            let id = t.intern(name);
            // A later row for the same prefix replaces the earlier one.
            t.prefixes.insert(code, id);
        }
        Ok(t)
    }

    /// The market of a number: the longest matching prefix, else Other.
    pub fn resolve(&self, number: WaId) -> MarketId {
        self.prefixes.resolve(number).unwrap_or(self.other)
    }

    pub fn name(&self, id: MarketId) -> &str {
        self.names
            .get(id.index())
            .map(String::as_str)
            .unwrap_or(OTHER)
    }

    pub fn by_name(&self, name: &str) -> Result<MarketId, MarketError> {
        self.by_name
            .get(name)
            .copied()
            .or_else(|| {
                self.by_name
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            })
            .ok_or_else(|| MarketError::Unknown(name.to_owned()))
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = MarketId> {
        (0..self.names.len() as u16).map(MarketId)
    }
}

impl fmt::Display for MarketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "market#{}", self.0)
    }
}

/// NANP area codes that are not the United States: Canada, and the Caribbean and Atlantic
/// countries that share +1. Everything else under +1 is a US number (states, DC and the
/// US territories), for the US marketing block of v2.2.
const NON_US_NANP_AREA_CODES: &[u16] = &[
    // Canada
    204, 226, 236, 249, 250, 257, 263, 289, 306, 343, 354, 365, 367, 368, 382, 387, 403, 416, 418,
    428, 431, 437, 438, 450, 460, 468, 474, 506, 514, 519, 548, 579, 581, 584, 587, 600, 604, 613,
    622, 639, 647, 672, 683, 705, 709, 742, 753, 778, 780, 782, 807, 819, 825, 867, 873, 879, 902,
    905, 942, // Caribbean and Atlantic countries
    242, 246, 264, 268, 284, 345, 441, 473, 649, 658, 664, 721, 758, 767, 784, 809, 829, 849, 868,
    869, 876,
];

/// Whether a number is a US number: +1 with a US area code.
pub fn is_us_number(number: WaId) -> bool {
    if number.len() != 11 || number.prefix(1) != 1 {
        return false;
    }
    let area = (number.prefix(4) % 1000) as u16;
    !NON_US_NANP_AREA_CODES.contains(&area)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market(t: &MarketTable, n: &str) -> String {
        t.name(t.resolve(WaId::parse(n).unwrap())).to_owned()
    }

    #[test]
    fn longest_prefix_wins() {
        let t = MarketTable::builtin();
        assert_eq!(market(&t, "5511987650001"), "Brazil");
        assert_eq!(market(&t, "12125550100"), "North America");
        assert_eq!(market(&t, "14165550100"), "North America");
        assert_eq!(market(&t, "18765550100"), "Rest of Latin America");
        assert_eq!(market(&t, "18095550100"), "Rest of Latin America");
        assert_eq!(market(&t, "17875550100"), "Rest of Latin America");
        assert_eq!(market(&t, "919876500001"), "India");
        assert_eq!(market(&t, "6421555010"), "Rest of Asia Pacific");
        assert_eq!(market(&t, "97150000000"), "United Arab Emirates");
        assert_eq!(market(&t, "97250000000"), "Israel");
        assert_eq!(market(&t, "97450000000"), "Rest of Middle East");
        assert_eq!(market(&t, "2348012345678"), "Nigeria");
        assert_eq!(market(&t, "2631234567"), "Other");
        assert_eq!(market(&t, "79161234567"), "Russia");
    }

    #[test]
    fn builtin_table_has_every_market_of_rules_md() {
        let t = MarketTable::from_csv(BUILTIN_MARKETS).unwrap();
        assert_eq!(t.len(), 24 + 1 + 6 + 1);
    }

    #[test]
    fn us_numbers_are_told_from_canada_and_the_caribbean() {
        assert!(is_us_number(WaId::parse("12125550100").unwrap()));
        assert!(is_us_number(WaId::parse("16505551234").unwrap()));
        assert!(!is_us_number(WaId::parse("14165550100").unwrap()));
        assert!(!is_us_number(WaId::parse("16045550100").unwrap()));
        assert!(!is_us_number(WaId::parse("18765550100").unwrap()));
        assert!(!is_us_number(WaId::parse("5511987650001").unwrap()));
    }

    #[test]
    fn malformed_tables_name_the_line() {
        let e =
            MarketTable::from_csv("calling_code_prefix,market\n55,Brazil\n5x,Oops\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
    }
}
