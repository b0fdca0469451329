//! The engine: one WABA's rules applied to a stream of events.
//!
//! [`Engine`] keeps the state the rules need (service windows, open conversations, free
//! entry points, consent, free-tier and volume counters) in memory, keyed by
//! (business number, user). Every method takes the instant it is judged at; the engine
//! never reads a clock. The same decisions serve `openwaba replay` and, later, every send of
//! the server.
//!
//! A send is decided in the order of rules.md §9b: synchronous rejections first (here:
//! missing opt-in), then the failures the platform reports asynchronously (131047, 131050,
//! 131049, 131026, in that order), then conversation assignment and pricing. A rejected or
//! failed message changes no state.

use crate::category::{Category, ConversationType, PricingModel, PricingType, TemplateCategory};
use crate::consent::{Consent, ConsentMode};
use crate::conversation::{Conversation, ConversationId, OpenConversation};
use crate::market::{is_us_number, MarketId, MarketTable};
use crate::money::{Currency, Money};
use crate::rates::{CardId, RateBook, RateError, Tier};
use crate::time::{Instant, LocalCalendar, TimeZoneId, YearMonth};
use crate::version::{FreeTier, PricingVersion, FREE_TIER_CONVERSATIONS};
use crate::wa_id::WaId;
use crate::window::ServiceWindow;
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// Which pricing version judges an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// The version in force on the event's local date.
    #[default]
    Auto,
    /// One version for every event (what-if replays).
    Fixed(PricingVersion),
}

/// What to do when a priced event's market has no rate on the card.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingRates {
    /// Stop with an error naming the market and category (default).
    #[default]
    Fail,
    /// Price it `None` and go on.
    Allow,
}

/// A WABA's settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub zone: TimeZoneId,
    pub policy: Policy,
    pub consent: ConsentMode,
    pub markets: MarketTable,
    pub rates: RateBook,
    pub missing_rates: MissingRates,
    /// The business is eligible for, and based outside the markets of, the
    /// authentication-international rate (v1.1). Off by default.
    pub authentication_international: bool,
    /// First conversation sequence number (ids are derived from it).
    pub conversation_seed: u64,
}

impl EngineConfig {
    /// UTC, automatic policy, consent enforced, the built-in market table and cards.
    pub fn builtin() -> Result<EngineConfig, RateError> {
        let markets = MarketTable::builtin();
        let rates = RateBook::builtin(&markets)?;
        Ok(EngineConfig {
            zone: TimeZoneId::UTC,
            policy: Policy::Auto,
            consent: ConsentMode::Enforce,
            markets,
            rates,
            missing_rates: MissingRates::Fail,
            authentication_international: false,
            conversation_seed: 1,
        })
    }
}

/// What the business sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// Any non-template message (text, image, interactive, …).
    FreeForm,
    /// An approved template of a category (at time of use).
    Template(TemplateCategory),
}

/// Whether the platform could reach the user's phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// Error 131026.
    Undeliverable,
}

/// Refused synchronously by the API: nothing is recorded as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// A template outside the service window to a user without opt-in (consent `enforce`).
    NoOptIn,
}

/// openwaba's own error code for a missing opt-in: not a Meta code (Meta never checks
/// opt-in), chosen outside every range Meta uses. Documented in docs/errors.md.
pub const NO_OPT_IN_CODE: u32 = 1_300_001;

impl Rejection {
    pub const fn code(self) -> u32 {
        match self {
            Rejection::NoOptIn => NO_OPT_IN_CODE,
        }
    }
    pub const fn reason(self) -> &'static str {
        match self {
            Rejection::NoOptIn => "no_opt_in",
        }
    }
    pub const fn title(self) -> &'static str {
        match self {
            Rejection::NoOptIn => "Recipient has not opted in",
        }
    }
    pub const fn details(self) -> &'static str {
        match self {
            Rejection::NoOptIn => "Template messages outside a customer service window need the recipient's opt-in. Record it (opt_in) or send inside a customer service window.",
        }
    }
}

/// Accepted by the API, then reported `failed`: never charged, opens nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 131047: a free-form message outside the service window.
    OutsideServiceWindow,
    /// 131050: a marketing template to a user who stopped marketing messages.
    MarketingOptedOut,
    /// 131049: not delivered to maintain healthy ecosystem engagement (US marketing, v2.2).
    EcosystemLimit,
    /// 131026: the user's phone could not be reached.
    Undeliverable,
}

impl Failure {
    /// The failure a stored error code stands for.
    pub const fn from_code(code: u32) -> Option<Failure> {
        match code {
            131_047 => Some(Failure::OutsideServiceWindow),
            131_050 => Some(Failure::MarketingOptedOut),
            131_049 => Some(Failure::EcosystemLimit),
            131_026 => Some(Failure::Undeliverable),
            _ => None,
        }
    }

    pub const fn code(self) -> u32 {
        match self {
            Failure::OutsideServiceWindow => 131_047,
            Failure::MarketingOptedOut => 131_050,
            Failure::EcosystemLimit => 131_049,
            Failure::Undeliverable => 131_026,
        }
    }
    pub const fn reason(self) -> &'static str {
        match self {
            Failure::OutsideServiceWindow => "outside_customer_service_window",
            Failure::MarketingOptedOut => "marketing_opted_out",
            Failure::EcosystemLimit => "ecosystem_limit",
            Failure::Undeliverable => "undeliverable",
        }
    }
    /// Meta's title, byte for byte.
    pub const fn title(self) -> &'static str {
        match self {
            Failure::OutsideServiceWindow => "Re-engagement message",
            Failure::MarketingOptedOut => "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business",
            Failure::EcosystemLimit => "This message was not delivered to maintain healthy ecosystem engagement.",
            Failure::Undeliverable => "Message Undeliverable.",
        }
    }
    /// Meta's `error_data.details`.
    pub const fn details(self) -> &'static str {
        match self {
            Failure::OutsideServiceWindow => "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            Failure::MarketingOptedOut => "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business",
            Failure::EcosystemLimit => "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
            Failure::Undeliverable => "Message failed to send because of an unknown error. The recipient's phone number may not be a WhatsApp phone number, or the message could not be delivered.",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    Delivered,
    Failed(Failure),
    Rejected(Rejection),
}

/// The conversation a message belongs to, as its status webhook reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationRef {
    pub id: ConversationId,
    pub category: Category,
    /// True only on the message that opened it.
    pub opened: bool,
    pub expires_at: Instant,
}

/// The `pricing` object of a delivered message, plus what it was charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pricing {
    pub model: PricingModel,
    pub category: Category,
    pub billable: bool,
    pub kind: PricingType,
    /// CBP: the conversation's charge on its opening message, 0 on the others.
    /// PMP: the message's own charge. `None` when the rate is missing and allowed.
    pub charge: Option<Money>,
    /// The card that priced a charge taken from a card (none for free messages).
    pub card: Option<CardId>,
    /// PMP: the volume tier of a charged template.
    pub tier: Option<Tier>,
}

/// Everything the platform would have done with one send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendOutcome {
    pub version: PricingVersion,
    pub market: MarketId,
    pub status: SendStatus,
    pub conversation: Option<ConversationRef>,
    pub pricing: Option<Pricing>,
    /// The conversation this message opened, complete and final.
    pub opened: Option<Conversation>,
    /// Consent mode `warn` let through a template without opt-in.
    pub consent_warning: bool,
}

/// State per (business number, user).
#[derive(Clone, Debug)]
struct PairState {
    market: MarketId,
    us: bool,
    window: ServiceWindow,
    /// Set by an inbound message with a referral: the deadline of the reply that opens a
    /// free entry point. The first delivered business message consumes it.
    referral_deadline: Option<Instant>,
    fep: Option<OpenConversation>,
    /// One open conversation per category slot (see `Category::slot`).
    slots: [Option<OpenConversation>; 6],
}

impl PairState {
    fn new(markets: &MarketTable, user: WaId) -> Self {
        PairState {
            market: markets.resolve(user),
            us: is_us_number(user),
            window: ServiceWindow::default(),
            referral_deadline: None,
            fep: None,
            slots: [None; 6],
        }
    }

    fn expire(&mut self, at: Instant) {
        for s in &mut self.slots {
            if s.is_some_and(|c| !c.is_open(at)) {
                *s = None;
            }
        }
        if self.fep.is_some_and(|c| !c.is_open(at)) {
            self.fep = None;
        }
        if self.referral_deadline.is_some_and(|d| at >= d) {
            self.referral_deadline = None;
        }
    }

    /// The most recently opened conversation: ids are handed out in opening order.
    fn most_recent(&self) -> Option<OpenConversation> {
        self.slots.iter().flatten().max_by_key(|c| c.id).copied()
    }
}

/// The dates from which the authentication-international rate applies, by market.
fn authentication_international_start(market: &str) -> NaiveDate {
    let (y, m) = match market {
        "Indonesia" => (2024, 6),
        "India" => (2024, 7),
        _ => (2025, 2),
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
}

/// One WABA's rules engine: the WABA-wide state and every pair's state.
pub struct Engine {
    waba: Waba,
    users: FxHashMap<WaId, UserState>,
}

/// Everything known of one user of the WABA: consent, and the state of each pair the user
/// has with the WABA's numbers. Keyed by user so that a send costs one hash lookup (one
/// likely cache miss) for both; most users talk to one number, kept inline.
#[derive(Clone, Default)]
struct UserState {
    consent: Consent,
    pairs: SmallVec<[(WaId, PairState); 1]>,
}

impl UserState {
    fn pair(&mut self, markets: &MarketTable, business: WaId, user: WaId) -> &mut PairState {
        let i = match self.pairs.iter().position(|(b, _)| *b == business) {
            Some(i) => i,
            None => {
                self.pairs.push((business, PairState::new(markets, user)));
                self.pairs.len() - 1
            }
        };
        &mut self.pairs[i].1
    }
}

/// Everything of the engine that is not per pair: settings, calendar, consent, counters.
/// Kept apart from the pairs so that a send looks its pair up once and borrows both.
struct Waba {
    cfg: EngineConfig,
    calendar: LocalCalendar,
    free_tier_used: FxHashMap<YearMonth, u32>,
    volume: FxHashMap<(YearMonth, MarketId, Category), u64>,
    auth_intl_start: Vec<NaiveDate>,
    next_conversation: u64,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        let auth_intl_start = cfg
            .markets
            .ids()
            .map(|m| authentication_international_start(cfg.markets.name(m)))
            .collect();
        Engine {
            waba: Waba {
                calendar: LocalCalendar::new(cfg.zone),
                next_conversation: cfg.conversation_seed,
                cfg,
                free_tier_used: FxHashMap::default(),
                volume: FxHashMap::default(),
                auth_intl_start,
            },
            users: FxHashMap::default(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.waba.cfg
    }
    pub fn markets(&self) -> &MarketTable {
        &self.waba.cfg.markets
    }
    pub fn currency(&self) -> Currency {
        self.waba.cfg.rates.currency()
    }

    /// The version that judges an event at `at`.
    pub fn version_at(&mut self, at: Instant) -> PricingVersion {
        self.waba.version_at(at)
    }

    /// The WABA-local date of an instant.
    pub fn local_date(&mut self, at: Instant) -> NaiveDate {
        self.waba.calendar.date(at)
    }

    /// The WABA's time zone.
    pub fn zone(&self) -> TimeZoneId {
        self.waba.cfg.zone
    }

    /// Adds a rate card that prices its family from `effective_from` (WABA-local) on.
    pub fn add_card(
        &mut self,
        effective_from: NaiveDate,
        family: crate::rates::CardFamily,
        card: crate::rates::RateCard,
    ) -> CardId {
        self.waba.cfg.rates.add(effective_from, family, card)
    }

    /// The WABA-local month of an instant.
    pub fn month_of(&mut self, at: Instant) -> YearMonth {
        self.waba.calendar.month(at)
    }

    /// Number of (business, user) pairs with state.
    pub fn pairs(&self) -> usize {
        self.users.values().map(|u| u.pairs.len()).sum()
    }

    /// The user wrote to the business. `referral`: from a click-to-WhatsApp ad or a Page
    /// call-to-action on a mobile client, which starts the free entry point's 24h deadline.
    pub fn inbound(&mut self, at: Instant, business: WaId, user: WaId, referral: bool) {
        let markets = &self.waba.cfg.markets;
        let p = self
            .users
            .entry(user)
            .or_default()
            .pair(markets, business, user);
        p.expire(at);
        p.window.on_inbound(at);
        if referral {
            p.referral_deadline = Some(at.plus_hours(24));
        }
    }

    pub fn opt_in(&mut self, user: WaId) {
        self.users.entry(user).or_default().consent.opted_in = true;
    }
    pub fn opt_out(&mut self, user: WaId) {
        self.users.entry(user).or_default().consent.opted_in = false;
    }
    pub fn marketing_stop(&mut self, user: WaId) {
        self.users
            .entry(user)
            .or_default()
            .consent
            .marketing_stopped = true;
    }
    pub fn marketing_resume(&mut self, user: WaId) {
        self.users
            .entry(user)
            .or_default()
            .consent
            .marketing_stopped = false;
    }
    pub fn consent_of(&self, user: WaId) -> Consent {
        self.users.get(&user).map(|u| u.consent).unwrap_or_default()
    }

    /// Whether the service window of a pair is open at `at`.
    pub fn service_window_open(&self, at: Instant, business: WaId, user: WaId) -> bool {
        self.users.get(&user).is_some_and(|u| {
            u.pairs
                .iter()
                .any(|(b, p)| *b == business && p.window.is_open(at))
        })
    }

    /// What [`Engine::send`] would decide, changing nothing: the same outcome (conversation
    /// id included) that the send will produce if it is made next. It runs the send and
    /// puts back the little state a send can touch (the user's state and the WABA's
    /// counters), so a quote can never drift from the real decision.
    pub fn quote(
        &mut self,
        at: Instant,
        business: WaId,
        user: WaId,
        message: Outbound,
        delivery: Delivery,
    ) -> Result<SendOutcome, RateError> {
        let user_before = self.users.get(&user).cloned();
        let counters = (
            self.waba.free_tier_used.clone(),
            self.waba.volume.clone(),
            self.waba.next_conversation,
        );
        let outcome = self.send(at, business, user, message, delivery);
        match user_before {
            Some(u) => {
                self.users.insert(user, u);
            }
            None => {
                self.users.remove(&user);
            }
        }
        (
            self.waba.free_tier_used,
            self.waba.volume,
            self.waba.next_conversation,
        ) = counters;
        outcome
    }

    /// Decides one send: accepted or not, which conversation, what price. The only error
    /// is a missing rate under [`MissingRates::Fail`].
    pub fn send(
        &mut self,
        at: Instant,
        business: WaId,
        user: WaId,
        message: Outbound,
        delivery: Delivery,
    ) -> Result<SendOutcome, RateError> {
        let Engine { waba, users } = self;
        let version = waba.version_at(at);
        let u = users.entry(user).or_default();
        let consent = u.consent;
        let p = u.pair(&waba.cfg.markets, business, user);
        p.expire(at);
        let window_open = p.window.is_open(at);
        let mut outcome = SendOutcome {
            version,
            market: p.market,
            status: SendStatus::Delivered,
            conversation: None,
            pricing: None,
            opened: None,
            consent_warning: false,
        };

        // Synchronous: opt-in, for templates that would initiate outside the window.
        if matches!(message, Outbound::Template(_)) && !window_open && !consent.opted_in {
            match waba.cfg.consent {
                ConsentMode::Enforce => {
                    outcome.status = SendStatus::Rejected(Rejection::NoOptIn);
                    return Ok(outcome);
                }
                ConsentMode::Warn => outcome.consent_warning = true,
                ConsentMode::Off => {}
            }
        }

        // Accepted, then failed.
        let marketing = message == Outbound::Template(TemplateCategory::Marketing);
        let failure = if message == Outbound::FreeForm && !window_open {
            Some(Failure::OutsideServiceWindow)
        } else if marketing && consent.marketing_stopped {
            Some(Failure::MarketingOptedOut)
        } else if marketing && version.blocks_us_marketing() && p.us {
            Some(Failure::EcosystemLimit)
        } else if delivery == Delivery::Undeliverable {
            Some(Failure::Undeliverable)
        } else {
            None
        };
        if let Some(f) = failure {
            outcome.status = SendStatus::Failed(f);
            return Ok(outcome);
        }

        // Delivered. The first delivered message after a referral consumes it.
        let referral = p.referral_deadline.take();
        if let Some(fep) = p.fep {
            join(&mut outcome, &fep);
            return Ok(outcome);
        }
        if referral.is_some_and(|deadline| at < deadline) {
            waba.open_free_entry_point(p, &mut outcome, at, business, user);
            return Ok(outcome);
        }

        match version.model() {
            PricingModel::Cbp => {
                waba.cbp_attach(p, &mut outcome, at, business, user, message, window_open)?
            }
            PricingModel::Pmp => {
                // A CBP conversation that spans the switch keeps its terms.
                let joinable = match message {
                    Outbound::Template(c) => p.slots[c.category().slot()],
                    Outbound::FreeForm => p.most_recent(),
                };
                match joinable {
                    Some(c) => join(&mut outcome, &c),
                    None => waba.pmp_price(&mut outcome, at, message, window_open)?,
                }
            }
        }
        Ok(outcome)
    }
}

impl Waba {
    fn version_at(&mut self, at: Instant) -> PricingVersion {
        match self.cfg.policy {
            Policy::Fixed(v) => v,
            Policy::Auto => PricingVersion::in_force_on(self.calendar.date(at)),
        }
    }

    fn new_conversation_id(&mut self) -> ConversationId {
        let id = ConversationId(self.next_conversation);
        self.next_conversation += 1;
        id
    }

    fn open_free_entry_point(
        &mut self,
        p: &mut PairState,
        outcome: &mut SendOutcome,
        at: Instant,
        business: WaId,
        user: WaId,
    ) {
        let version = outcome.version;
        let id = self.new_conversation_id();
        let expires_at = at
            .plus_hours(version.free_entry_point_hours())
            .ceil_to_minute();
        let open = OpenConversation::new(
            id,
            Category::ReferralConversion,
            expires_at,
            version,
            false,
            PricingType::FreeEntryPoint,
        );
        // It closes every other open conversation of the pair; those already charged stay
        // charged (decision, rules.md §5).
        p.slots = [None; 6];
        p.fep = Some(open);
        outcome.opened = Some(Conversation {
            id,
            business,
            user,
            category: Category::ReferralConversion,
            market: outcome.market,
            opened_at: at,
            expires_at,
            kind: ConversationType::FreeEntryPoint,
            version,
            billable: false,
            charge: Some(Money::ZERO),
        });
        outcome.conversation = Some(ConversationRef {
            id,
            category: Category::ReferralConversion,
            opened: true,
            expires_at,
        });
        outcome.pricing = Some(Pricing {
            model: version.model(),
            category: Category::ReferralConversion,
            billable: false,
            kind: PricingType::FreeEntryPoint,
            charge: Some(Money::ZERO),
            card: None,
            tier: None,
        });
    }

    /// The category a template of `c` is priced at: authentication becomes
    /// authentication-international for an eligible business in a market that has the rate.
    fn priced_category(
        &mut self,
        c: TemplateCategory,
        version: PricingVersion,
        market: MarketId,
        at: Instant,
    ) -> Category {
        if c == TemplateCategory::Authentication
            && self.cfg.authentication_international
            && version.has_authentication_international()
            && self
                .cfg
                .rates
                .card_for(version, self.calendar.date(at))
                .and_then(|(_, card)| card.rate(market, Category::AuthenticationInternational))
                .is_some()
        {
            let start = self
                .auth_intl_start
                .get(market.index())
                .copied()
                .unwrap_or(NaiveDate::MAX);
            if self.calendar.date(at) >= start {
                return Category::AuthenticationInternational;
            }
        }
        c.category()
    }

    /// The charge of the `nth` charged event of the month at a market–category pair, the
    /// card that priced it and its tier.
    fn rate(
        &mut self,
        version: PricingVersion,
        at: Instant,
        market: MarketId,
        category: Category,
        nth: u64,
    ) -> Result<(Option<Money>, Option<CardId>, Tier), RateError> {
        let date = self.calendar.date(at);
        let found = self.cfg.rates.card_for(version, date);
        let priced = found.and_then(|(id, card)| {
            card.tiered_rate(market, category, nth)
                .map(|r| (r, id, card.tier_of(market, category, nth)))
        });
        match priced {
            Some((r, id, tier)) => Ok((Some(r), Some(id), tier)),
            None if self.cfg.missing_rates == MissingRates::Allow => {
                Ok((None, found.map(|(id, _)| id), Tier { from: 1, to: None }))
            }
            None => Err(RateError::Missing {
                market: self.cfg.markets.name(market).to_owned(),
                category,
                card: found
                    .map(|(_, c)| c.name().to_owned())
                    .unwrap_or_else(|| "(none)".to_owned()),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn cbp_attach(
        &mut self,
        p: &mut PairState,
        outcome: &mut SendOutcome,
        at: Instant,
        business: WaId,
        user: WaId,
        message: Outbound,
        window_open: bool,
    ) -> Result<(), RateError> {
        let version = outcome.version;
        let market = outcome.market;
        let category = if version.two_kinds() {
            if let Some(c) = p.most_recent() {
                join(outcome, &c);
                return Ok(());
            }
            if window_open {
                Category::UserInitiated
            } else {
                Category::BusinessInitiated
            }
        } else {
            let category = match message {
                Outbound::Template(c) => self.priced_category(c, version, market, at),
                Outbound::FreeForm => Category::Service,
            };
            let existing = match message {
                Outbound::Template(_) => p.slots[category.slot()],
                Outbound::FreeForm => p.most_recent(),
            };
            if let Some(c) = existing {
                join(outcome, &c);
                return Ok(());
            }
            category
        };

        // Open a conversation of `category`, priced by the terms in force now.
        let month = self.calendar.month(at);
        let free_tier = match version.free_tier() {
            FreeTier::AnyConversation => true,
            FreeTier::ServiceConversations => category == Category::Service,
            FreeTier::None => false,
        };
        let (kind, billable, charge, card) =
            if category == Category::Service && version.service_free() {
                (ConversationType::Regular, false, Some(Money::ZERO), None)
            } else if free_tier
                && self.free_tier_used.get(&month).copied().unwrap_or(0) < FREE_TIER_CONVERSATIONS
            {
                *self.free_tier_used.entry(month).or_default() += 1;
                (ConversationType::FreeTier, true, Some(Money::ZERO), None)
            } else {
                let (charge, card, _) = self.rate(version, at, market, category, 1)?;
                (ConversationType::Regular, true, charge, card)
            };
        let id = self.new_conversation_id();
        let expires_at = at.plus_hours(24).ceil_to_minute();
        let conv = Conversation {
            id,
            business,
            user,
            category,
            market,
            opened_at: at,
            expires_at,
            kind,
            version,
            billable,
            charge,
        };
        let open = OpenConversation::new(
            id,
            category,
            expires_at,
            version,
            billable,
            conv.pricing_type(),
        );
        p.slots[category.slot()] = Some(open);
        outcome.conversation = Some(ConversationRef {
            id,
            category,
            opened: true,
            expires_at,
        });
        outcome.pricing = Some(Pricing {
            model: version.model(),
            category,
            billable,
            kind: open.pricing_type,
            charge,
            card,
            tier: None,
        });
        outcome.opened = Some(conv);
        Ok(())
    }

    fn pmp_price(
        &mut self,
        outcome: &mut SendOutcome,
        at: Instant,
        message: Outbound,
        window_open: bool,
    ) -> Result<(), RateError> {
        let version = outcome.version;
        let market = outcome.market;
        let free = |category| Pricing {
            model: PricingModel::Pmp,
            category,
            billable: false,
            kind: PricingType::FreeCustomerService,
            charge: Some(Money::ZERO),
            card: None,
            tier: None,
        };
        outcome.pricing = Some(match message {
            Outbound::FreeForm => free(Category::Service),
            Outbound::Template(TemplateCategory::Utility) if window_open => free(Category::Utility),
            Outbound::Template(c) => {
                let category = self.priced_category(c, version, market, at);
                let month = self.calendar.month(at);
                let count = self.volume.entry((month, market, category)).or_default();
                *count += 1;
                let nth = *count;
                let (charge, card, tier) = self.rate(version, at, market, category, nth)?;
                Pricing {
                    model: PricingModel::Pmp,
                    category,
                    billable: true,
                    kind: PricingType::Regular,
                    charge,
                    card,
                    tier: Some(tier),
                }
            }
        });
        Ok(())
    }
}

/// The message joins an open conversation: it reports the conversation's id, expiry and
/// terms, and is charged nothing (the opener carried the charge).
fn join(outcome: &mut SendOutcome, c: &OpenConversation) {
    outcome.conversation = Some(ConversationRef {
        id: c.id,
        category: c.category,
        opened: false,
        expires_at: c.expires_at(),
    });
    outcome.pricing = Some(Pricing {
        model: c.version.model(),
        category: c.category,
        billable: c.billable,
        kind: c.pricing_type,
        charge: Some(Money::ZERO),
        card: None,
        tier: None,
    });
}
