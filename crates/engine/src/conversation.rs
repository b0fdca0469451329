//! Conversations (rules.md §3-5): 24-hour threads that Meta charges for under CBP.
//!
//! A conversation is assigned when a message is accepted; since a failed message opens
//! nothing, every conversation the engine records has a delivered opener and its charge is
//! final from the moment it opens. That is what lets `replay` stream its report.

use crate::category::{Category, ConversationType, PricingModel, PricingType};
use crate::market::MarketId;
use crate::money::Money;
use crate::time::Instant;
use crate::version::PricingVersion;
use crate::wa_id::WaId;
use std::fmt;

/// Meta's conversation ids are 32 lowercase hex digits. openwaba derives them from a
/// sequence number so that a replay is reproducible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationId(pub u64);

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:016x}{:016x}",
            splitmix64(self.0),
            splitmix64(self.0 ^ 0x5851_f42d_4c95_7f2d)
        )
    }
}

/// A conversation as it is reported: final once opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub business: WaId,
    pub user: WaId,
    pub category: Category,
    pub market: MarketId,
    pub opened_at: Instant,
    pub expires_at: Instant,
    pub kind: ConversationType,
    /// The terms it opened under; it keeps them across a version switch.
    pub version: PricingVersion,
    pub billable: bool,
    /// `None` only when the rate is missing and the caller allowed that.
    pub charge: Option<Money>,
}

impl Conversation {
    pub fn pricing_type(&self) -> PricingType {
        match self.kind {
            ConversationType::FreeEntryPoint => PricingType::FreeEntryPoint,
            ConversationType::FreeTier => PricingType::FreeTier,
            ConversationType::Regular if !self.billable => PricingType::FreeCustomerService,
            ConversationType::Regular => PricingType::Regular,
        }
    }
    pub fn model(&self) -> PricingModel {
        self.version.model()
    }
}

/// What a pair remembers of an open conversation: 16 bytes, because a replay over 100,000
/// users is bound by cache misses on the pair state. Expiries are whole minutes
/// (`ceil_to_minute`), so they are kept as minutes since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpenConversation {
    pub id: ConversationId,
    expires_minute: i32,
    pub category: Category,
    pub version: PricingVersion,
    pub billable: bool,
    pub pricing_type: PricingType,
}

impl OpenConversation {
    /// `expires_at` must be a whole minute (it always is: `ceil_to_minute`).
    pub fn new(
        id: ConversationId,
        category: Category,
        expires_at: Instant,
        version: PricingVersion,
        billable: bool,
        pricing_type: PricingType,
    ) -> Self {
        let minutes = expires_at.millis().div_euclid(60_000);
        OpenConversation {
            id,
            // Years past 6053 do not fit; such a conversation simply never expires.
            expires_minute: i32::try_from(minutes).unwrap_or(i32::MAX),
            category,
            version,
            billable,
            pricing_type,
        }
    }
    pub fn expires_at(&self) -> Instant {
        Instant::from_millis(i64::from(self.expires_minute) * 60_000)
    }
    pub fn is_open(&self, at: Instant) -> bool {
        at < self.expires_at()
    }
}
