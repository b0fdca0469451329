//! Pricing policy versions: which rules and prices are in force on a given local date.
//!
//! Meta changes its rules at 00:00 in the WABA's time zone. Each version is cumulative: it
//! is the previous one plus one change. A conversation keeps the terms of the version it
//! opened under, even after a switch.

use crate::category::PricingModel;
use chrono::NaiveDate;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PricingVersion {
    /// 2022-02-01: CBP with two kinds (business- and user-initiated), 1,000 free of either.
    V0,
    /// 2023-06-01: four categories; 1,000 free service conversations a month; FEP 72h.
    V1,
    /// 2024-06-01: authentication-international rates for eligible businesses.
    V1_1,
    /// 2024-11-01: every service conversation is free.
    V2,
    /// 2025-04-01: marketing templates to US numbers are not delivered (131049).
    V2_2,
    /// 2025-07-01: per-message pricing.
    V3,
}

impl PricingVersion {
    pub const ALL: [PricingVersion; 6] = [
        PricingVersion::V0,
        PricingVersion::V1,
        PricingVersion::V1_1,
        PricingVersion::V2,
        PricingVersion::V2_2,
        PricingVersion::V3,
    ];

    /// Position in [`PricingVersion::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            PricingVersion::V0 => "v0",
            PricingVersion::V1 => "v1",
            PricingVersion::V1_1 => "v1.1",
            PricingVersion::V2 => "v2",
            PricingVersion::V2_2 => "v2.2",
            PricingVersion::V3 => "v3",
        }
    }

    /// The first local date on which the version is in force.
    pub fn effective_from(self) -> NaiveDate {
        let (y, m) = match self {
            PricingVersion::V0 => (2022, 2),
            PricingVersion::V1 => (2023, 6),
            PricingVersion::V1_1 => (2024, 6),
            PricingVersion::V2 => (2024, 11),
            PricingVersion::V2_2 => (2025, 4),
            PricingVersion::V3 => (2025, 7),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
    }

    /// The version in force on a local date. Dates before v0 get v0: it is the oldest
    /// model openwaba knows.
    pub fn in_force_on(date: NaiveDate) -> PricingVersion {
        let mut v = PricingVersion::V0;
        for cand in PricingVersion::ALL {
            if date >= cand.effective_from() {
                v = cand;
            }
        }
        v
    }

    pub fn model(self) -> PricingModel {
        if self >= PricingVersion::V3 {
            PricingModel::Pmp
        } else {
            PricingModel::Cbp
        }
    }

    /// v0 has two conversation kinds instead of four categories.
    pub fn two_kinds(self) -> bool {
        self == PricingVersion::V0
    }

    /// How long a free entry point lasts once the business's reply opens it.
    pub fn free_entry_point_hours(self) -> i64 {
        if self == PricingVersion::V0 {
            24
        } else {
            72
        }
    }

    /// Service conversations are free for everybody (v2 onwards).
    pub fn service_free(self) -> bool {
        self >= PricingVersion::V2
    }

    /// Whether the 1,000-a-month free tier exists, and for which conversations.
    pub fn free_tier(self) -> FreeTier {
        match self {
            PricingVersion::V0 => FreeTier::AnyConversation,
            PricingVersion::V1 | PricingVersion::V1_1 => FreeTier::ServiceConversations,
            _ => FreeTier::None,
        }
    }

    /// Marketing templates to US numbers fail with 131049 (v2.2 onwards).
    pub fn blocks_us_marketing(self) -> bool {
        self >= PricingVersion::V2_2
    }

    /// Authentication-international rates exist (v1.1 onwards).
    pub fn has_authentication_international(self) -> bool {
        self >= PricingVersion::V1_1
    }
}

/// The monthly free tier of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeTier {
    None,
    ServiceConversations,
    AnyConversation,
}

/// Conversations per WABA per local month inside the free tier.
pub const FREE_TIER_CONVERSATIONS: u32 = 1_000;

impl fmt::Display for PricingVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a pricing version (expected v0, v1, v1.1, v2, v2.2 or v3)")]
pub struct UnknownVersion(pub String);

impl FromStr for PricingVersion {
    type Err = UnknownVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s2 = s.to_ascii_lowercase();
        PricingVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s2)
            .ok_or_else(|| UnknownVersion(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn versions_switch_on_their_first_day() {
        assert_eq!(
            PricingVersion::in_force_on(d(2023, 5, 31)),
            PricingVersion::V0
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2023, 6, 1)),
            PricingVersion::V1
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2024, 6, 1)),
            PricingVersion::V1_1
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2024, 10, 31)),
            PricingVersion::V1_1
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2024, 11, 1)),
            PricingVersion::V2
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2025, 4, 1)),
            PricingVersion::V2_2
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2025, 6, 30)),
            PricingVersion::V2_2
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2025, 7, 1)),
            PricingVersion::V3
        );
        assert_eq!(
            PricingVersion::in_force_on(d(2020, 1, 1)),
            PricingVersion::V0
        );
    }

    #[test]
    fn parse_round_trips_and_refuses() {
        for v in PricingVersion::ALL {
            assert_eq!(v.as_str().parse::<PricingVersion>().unwrap(), v);
        }
        assert!("v4"
            .parse::<PricingVersion>()
            .unwrap_err()
            .to_string()
            .contains("v4"));
    }
}
