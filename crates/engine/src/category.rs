//! Categories: of a template, of a conversation, of a price.
//!
//! A template carries one of three categories. A conversation (or, under per-message
//! pricing, a priced message) has one of the categories Meta reports in webhooks and
//! analytics, which adds `service`, the free entry point (`referral_conversion`), the
//! authentication-international rate variant and the two v0 kinds.

use std::fmt;
use std::str::FromStr;

/// The category a business declares for a template (and is billed at, at time of use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a template category (expected marketing, utility or authentication)")]
pub struct UnknownCategory(pub String);

impl FromStr for TemplateCategory {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("marketing") {
            Ok(TemplateCategory::Marketing)
        } else if s.eq_ignore_ascii_case("utility") {
            Ok(TemplateCategory::Utility)
        } else if s.eq_ignore_ascii_case("authentication") {
            Ok(TemplateCategory::Authentication)
        } else {
            Err(UnknownCategory(s.to_owned()))
        }
    }
}

impl TemplateCategory {
    pub const fn category(self) -> Category {
        match self {
            TemplateCategory::Marketing => Category::Marketing,
            TemplateCategory::Utility => Category::Utility,
            TemplateCategory::Authentication => Category::Authentication,
        }
    }
}

/// A conversation's or a price's category, as Meta spells it in webhooks
/// (`conversation.origin.type`, `pricing.category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
    /// The rate variant of authentication for eligible businesses based abroad (v1.1).
    AuthenticationInternational,
    Service,
    /// Free entry point conversation.
    ReferralConversion,
    /// v0: a template sent outside the customer service window.
    BusinessInitiated,
    /// v0: a reply inside the customer service window.
    UserInitiated,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Marketing,
        Category::Utility,
        Category::Authentication,
        Category::AuthenticationInternational,
        Category::Service,
        Category::ReferralConversion,
        Category::BusinessInitiated,
        Category::UserInitiated,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "marketing",
            Category::Utility => "utility",
            Category::Authentication => "authentication",
            Category::AuthenticationInternational => "authentication_international",
            Category::Service => "service",
            Category::ReferralConversion => "referral_conversion",
            Category::BusinessInitiated => "business_initiated",
            Category::UserInitiated => "user_initiated",
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }

    /// The slot a conversation of this category occupies for its pair: at most one open
    /// conversation per slot. Authentication-international is a rate variant of
    /// authentication, so they share a slot.
    pub(crate) const fn slot(self) -> usize {
        match self {
            Category::Marketing => 0,
            Category::Utility => 1,
            Category::Authentication | Category::AuthenticationInternational => 2,
            Category::Service => 3,
            Category::BusinessInitiated => 4,
            Category::UserInitiated => 5,
            // The free entry point lives outside the slots: it is exclusive.
            Category::ReferralConversion => 6,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_lowercase().replace('-', "_");
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == norm)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

/// How a conversation is billed, as analytics report it (`conversation_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversationType {
    Regular,
    FreeTier,
    FreeEntryPoint,
}

impl ConversationType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ConversationType::Regular => "REGULAR",
            ConversationType::FreeTier => "FREE_TIER",
            ConversationType::FreeEntryPoint => "FREE_ENTRY_POINT",
        }
    }
}

/// `pricing.pricing_model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PricingModel {
    /// Conversation-based pricing (until 2025-06-30).
    Cbp,
    /// Per-message pricing (from 2025-07-01).
    Pmp,
}

impl PricingModel {
    pub const fn as_str(self) -> &'static str {
        match self {
            PricingModel::Cbp => "CBP",
            PricingModel::Pmp => "PMP",
        }
    }
}

/// `pricing.type`. Meta defines it under PMP; openwaba also reports it under CBP (see
/// `docs/decisions.md`), with `free_tier` for conversations inside the monthly free tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PricingType {
    Regular,
    FreeCustomerService,
    FreeEntryPoint,
    FreeTier,
}

impl PricingType {
    pub const fn as_str(self) -> &'static str {
        match self {
            PricingType::Regular => "regular",
            PricingType::FreeCustomerService => "free_customer_service",
            PricingType::FreeEntryPoint => "free_entry_point",
            PricingType::FreeTier => "free_tier",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_categories_parse_and_refuse() {
        assert_eq!(
            "Marketing".parse::<TemplateCategory>().unwrap(),
            TemplateCategory::Marketing
        );
        let e = "promo".parse::<TemplateCategory>().unwrap_err();
        assert!(e.to_string().contains("promo"));
        assert!("service".parse::<TemplateCategory>().is_err());
    }

    #[test]
    fn categories_accept_both_spellings_of_authentication_international() {
        assert_eq!(
            "authentication-international".parse::<Category>().unwrap(),
            Category::AuthenticationInternational
        );
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
    }
}
