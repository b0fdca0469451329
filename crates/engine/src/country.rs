//! Countries: the ISO 3166-1 alpha-2 country a user's number belongs to.
//!
//! Meta's analytics report each data point's `country` (`"US"`, `"BR"`, …) and filter by
//! `country_codes`, so the simulator must tell the country of every user's number. Markets
//! ([`crate::market`]) are not enough: a market groups countries ("Rest of Africa",
//! "North America") for pricing, while analytics need the country itself.
//!
//! As for markets, the country is the longest calling-code prefix that matches the number,
//! and the table is data, not code (`data/countries.csv`, one row per ITU E.164 calling code
//! in use), so that a renumbering is a one-line change. Longest-prefix matching is what
//! splits the codes that several countries share:
//!
//! - `+1`, the North American Numbering Plan, is the United States by default; rows of
//!   four digits (`1` and the area code) take Canada's area codes and the Caribbean and
//!   Atlantic countries and territories out of it (`1876` Jamaica, `1809` Dominican
//!   Republic, `1787` Puerto Rico, …).
//! - `+7` is Russia, except `76` and `77`, Kazakhstan.
//! - A few others likewise: `262` Réunion with Mayotte's `262269` and `262639`, `47` Norway
//!   with Svalbard's `4779`, `599` Curaçao with the Caribbean Netherlands' `5993`/`5994`/
//!   `5997`, `358` Finland with Åland's `35818`.
//!
//! A number no row matches (international networks such as `+882`, or a code not in use)
//! has no country.

use crate::wa_id::WaId;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// An ISO 3166-1 alpha-2 code, two ASCII uppercase letters, Copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    #[error("`{0}` is not a country code (expected an ISO 3166-1 alpha-2 code, two letters, e.g. US, BR, IN)")]
    NotACountryCode(String),
    #[error("countries table line {line}: {what}")]
    Malformed { line: usize, what: String },
}

impl CountryCode {
    /// Parses two ASCII letters, in either case; the code is kept in uppercase.
    pub fn parse(s: &str) -> Result<CountryCode, CountryError> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Ok(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => Err(CountryError::NotACountryCode(s.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Always ASCII letters by construction, so always UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for CountryCode {
    type Err = CountryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CountryCode::parse(s)
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use crate::prefix::{PrefixTrie, MAX_PREFIX};

const BUILTIN_COUNTRIES: &str = include_str!("../data/countries.csv");

/// Calling-code prefixes to countries (longest prefix wins, see [`crate::prefix`]).
#[derive(Debug, Clone)]
pub struct CountryTable {
    prefixes: PrefixTrie<CountryCode>,
}

impl CountryTable {
    /// The shipped table (`data/countries.csv`), parsed once.
    pub fn builtin() -> &'static CountryTable {
        static BUILTIN: OnceLock<CountryTable> = OnceLock::new();
        // The shipped file is tested below; should it ever be broken, an empty table gives
        // every number no country rather than failing at start.
        BUILTIN.get_or_init(|| Self::from_csv(BUILTIN_COUNTRIES).unwrap_or_else(|_| Self::empty()))
    }

    fn empty() -> CountryTable {
        CountryTable {
            prefixes: PrefixTrie::default(),
        }
    }

    /// Parses `calling_code_prefix,country` lines (a header line is allowed). A prefix may
    /// appear only once.
    pub fn from_csv(text: &str) -> Result<CountryTable, CountryError> {
        let mut t = Self::empty();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim();
            if raw.is_empty() || (i == 0 && raw.starts_with("calling_code_prefix")) {
                continue;
            }
            let (code, country) = raw.split_once(',').ok_or_else(|| CountryError::Malformed {
                line,
                what: "expected `calling_code_prefix,country`".into(),
            })?;
            let code = code.trim();
            let country = country.trim().trim_matches('"');
            if !PrefixTrie::<CountryCode>::is_prefix(code) {
                return Err(CountryError::Malformed {
                    line,
                    what: format!(
                        "`{code}` is not a calling-code prefix (1 to {MAX_PREFIX} digits)"
                    ),
                });
            }
            let country = CountryCode::parse(country).map_err(|e| CountryError::Malformed {
                line,
                what: e.to_string(),
            })?;
            if let Some(previous) = t.prefixes.insert(code, country) {
                return Err(CountryError::Malformed {
                    line,
                    what: format!("prefix `{code}` is already given to {previous}"),
                });
            }
        }
        Ok(t)
    }

    /// The country of a number: the longest matching prefix, if any.
    pub fn resolve(&self, number: WaId) -> Option<CountryCode> {
        self.prefixes.resolve(number)
    }

    /// Number of prefixes (rows) in the table.
    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
}

/// Shorthand: `CountryTable::builtin().resolve(number)`.
pub fn country_of(number: WaId) -> Option<CountryCode> {
    CountryTable::builtin().resolve(number)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn country(n: &str) -> Option<String> {
        country_of(WaId::parse(n).unwrap()).map(|c| c.to_string())
    }

    #[test]
    fn longest_prefix_wins() {
        for (number, expected) in [
            ("12125550100", "US"),
            ("14165550100", "CA"),
            ("18765550100", "JM"),
            ("18095550100", "DO"),
            ("17875550100", "PR"),
            ("5511987650001", "BR"),
            ("919876500001", "IN"),
            ("97150000000", "AE"),
            ("97250000000", "IL"),
            ("2348012345678", "NG"),
            ("2631234567", "ZW"),
            ("79161234567", "RU"),
            ("77011234567", "KZ"),
            ("6281234567890", "ID"),
            ("447911123456", "GB"),
            ("4915112345678", "DE"),
        ] {
            assert_eq!(country(number).as_deref(), Some(expected), "{number}");
        }
    }

    /// Every row of the shipped table, as the start of a number: the country is that of the
    /// longest row the number starts with, found by brute force over the file.
    #[test]
    fn the_trie_finds_the_longest_row_of_the_file() {
        let rows: Vec<(&str, &str)> = BUILTIN_COUNTRIES
            .lines()
            .skip(1)
            .filter_map(|l| l.trim().split_once(','))
            .map(|(p, c)| (p.trim(), c.trim().trim_matches('"')))
            .collect();
        assert!(rows.len() > 200, "{} rows", rows.len());
        for (prefix, _) in &rows {
            for tail in ["", "0", "5", "99", "1234567", "9876543210"] {
                let number = format!("{prefix}{tail}");
                let Ok(n) = WaId::parse(&number) else {
                    continue;
                };
                let expected = rows
                    .iter()
                    .filter(|(p, _)| number.starts_with(p))
                    .max_by_key(|(p, _)| p.len())
                    .map(|(_, c)| c.to_string());
                assert_eq!(country_of(n).map(|c| c.to_string()), expected, "{number}");
            }
        }
    }

    #[test]
    fn unknown_prefixes_have_no_country() {
        // +882: international networks; +28x is spare.
        assert_eq!(country("8823456789012"), None);
        assert_eq!(country("2801234567"), None);
    }

    #[test]
    fn builtin_table_parses() {
        let t = CountryTable::from_csv(BUILTIN_COUNTRIES).unwrap();
        assert!(t.len() > 200, "{}", t.len());
        assert_eq!(CountryTable::builtin().len(), t.len());
    }

    #[test]
    fn malformed_tables_name_the_line() {
        let e = CountryTable::from_csv("calling_code_prefix,country\n55,BR\n5x,XX\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = CountryTable::from_csv("calling_code_prefix,country\n55,BRA\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = CountryTable::from_csv("55,BR\n55,AR\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn country_codes_parse_in_either_case() {
        assert_eq!(CountryCode::parse("br").unwrap().as_str(), "BR");
        assert_eq!(
            CountryCode::parse("Br").unwrap(),
            CountryCode::parse("BR").unwrap()
        );
        let e = CountryCode::parse("BRA").unwrap_err();
        assert!(e.to_string().contains("BRA"), "{e}");
        assert!(CountryCode::parse("B1").is_err());
        assert!(CountryCode::parse("").is_err());
    }
}
