//! Property tests of shared/spec/rules.md over random event logs: a few users in several
//! markets, two business numbers, inbound messages with and without referral, sends of every
//! kind (delivered or not), consent and marketing-preference changes, at non-decreasing
//! times that start anywhere from late 2022 to late 2025, so that every pricing version and
//! every switch between them is exercised.
//!
//! Every expectation is recomputed here from the log and the rules, independently of the
//! engine's own state.

// Helpers outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use chrono::{NaiveDate, TimeZone};
use openwaba_engine::{
    Category, ConsentMode, ConversationId, Delivery, Engine, EngineConfig, Failure, Instant,
    MarketTable, MissingRates, Money, Outbound, Policy, PricingModel, PricingVersion, RateBook,
    RateCard, RateError, Rejection, SendOutcome, SendStatus, TemplateCategory, TimeZoneId, WaId,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::collections::HashMap;

/// Covers every market the users below are in, with every column (v0 kinds included), so
/// that no send ever lacks a rate.
const CARD: &str = "\
Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service,Business-Initiated,User-Initiated
Brazil,$US,0.0600,0.0300,0.0200,n/a,0.0100,0.0500,0.0250
India,$US,0.0100,0.0040,0.0040,0.0280,0.0030,0.0090,0.0045
Germany,$US,0.1400,0.0800,0.0700,n/a,0.0800,0.1300,0.0700
North America,$US,0.0250,0.0150,0.0135,n/a,0.0090,0.0200,0.0100
";

/// Brazil ×2, India, a US number, a Canadian number, Germany.
const USERS: [&str; 6] = [
    "5511987650001",
    "5511987650002",
    "919876500001",
    "12125550100",
    "14165550100",
    "4915112345678",
];
const US_USER: usize = 3;
const BUSINESSES: [&str; 2] = ["15550001111", "15550002222"];
const ZONES: [&str; 3] = ["UTC", "America/Sao_Paulo", "Asia/Kolkata"];

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Inbound {
        biz: usize,
        user: usize,
        referral: bool,
    },
    Send {
        biz: usize,
        user: usize,
        msg: Outbound,
        delivered: bool,
    },
    OptIn(usize),
    OptOut(usize),
    MarketingStop(usize),
    MarketingResume(usize),
}

#[derive(Clone, Debug)]
struct Log {
    zone: usize,
    consent: ConsentMode,
    authentication_international: bool,
    events: Vec<(Instant, Ev)>,
}

fn outbound() -> impl Strategy<Value = Outbound> {
    prop_oneof![
        3 => Just(Outbound::FreeForm),
        2 => Just(Outbound::Template(TemplateCategory::Marketing)),
        2 => Just(Outbound::Template(TemplateCategory::Utility)),
        1 => Just(Outbound::Template(TemplateCategory::Authentication)),
    ]
}

fn event() -> impl Strategy<Value = Ev> {
    let user = 0..USERS.len();
    let biz = 0..BUSINESSES.len();
    prop_oneof![
        5 => (biz.clone(), user.clone(), prop::bool::weighted(0.3))
            .prop_map(|(biz, user, referral)| Ev::Inbound { biz, user, referral }),
        10 => (biz, user.clone(), outbound(), prop::bool::weighted(0.85))
            .prop_map(|(biz, user, msg, delivered)| Ev::Send { biz, user, msg, delivered }),
        2 => user.clone().prop_map(Ev::OptIn),
        1 => user.clone().prop_map(Ev::OptOut),
        1 => user.clone().prop_map(Ev::MarketingStop),
        1 => user.prop_map(Ev::MarketingResume),
    ]
}

/// Time between two events: often nothing or exactly on a boundary of the rules (24h, 72h,
/// 1 ms either side), sometimes weeks.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => Just(0i64),
        1 => Just(1i64),
        8 => 1..HOUR,
        6 => 0..2 * DAY,
        1 => Just(DAY - 1),
        2 => Just(DAY),
        1 => Just(DAY + 1),
        1 => Just(3 * DAY - 1),
        1 => Just(3 * DAY),
        3 => 0..45 * DAY,
    ]
}

fn log() -> impl Strategy<Value = Log> {
    let start = t("2022-11-01T00:00:00Z").millis()..t("2025-10-01T00:00:00Z").millis();
    (
        0..ZONES.len(),
        prop_oneof![
            Just(ConsentMode::Enforce),
            Just(ConsentMode::Warn),
            Just(ConsentMode::Off)
        ],
        any::<bool>(),
        start,
        prop::collection::vec(any::<bool>(), USERS.len()),
        prop::collection::vec((gap(), event()), 1..100),
    )
        .prop_map(|(zone, consent, ai, start, opted, steps)| {
            let mut at = start;
            let mut events: Vec<(Instant, Ev)> = opted
                .iter()
                .enumerate()
                .filter(|(_, o)| **o)
                .map(|(u, _)| (Instant::from_millis(start), Ev::OptIn(u)))
                .collect();
            for (dt, ev) in steps {
                at += dt;
                events.push((Instant::from_millis(at), ev));
            }
            Log {
                zone,
                consent,
                authentication_international: ai,
                events,
            }
        })
}

fn t(s: &str) -> Instant {
    Instant::parse_rfc3339(s).unwrap()
}

fn wa(s: &str) -> WaId {
    WaId::parse(s).unwrap()
}

fn engine(log: &Log) -> Engine {
    let markets = MarketTable::builtin();
    let card = RateCard::from_csv("property-card", CARD, &markets).unwrap();
    Engine::new(EngineConfig {
        zone: TimeZoneId::parse(ZONES[log.zone]).unwrap(),
        policy: Policy::Auto,
        consent: log.consent,
        markets,
        rates: RateBook::single(card),
        missing_rates: MissingRates::Fail,
        authentication_international: log.authentication_international,
        conversation_seed: 1,
    })
}

/// Runs a log through a fresh engine: one entry per event, `Some` for sends.
fn run(log: &Log) -> Vec<Option<Result<SendOutcome, RateError>>> {
    let mut e = engine(log);
    log.events
        .iter()
        .map(|&(at, ev)| match ev {
            Ev::Inbound {
                biz,
                user,
                referral,
            } => {
                e.inbound(at, wa(BUSINESSES[biz]), wa(USERS[user]), referral);
                None
            }
            Ev::Send {
                biz,
                user,
                msg,
                delivered,
            } => {
                let delivery = if delivered {
                    Delivery::Delivered
                } else {
                    Delivery::Undeliverable
                };
                Some(e.send(at, wa(BUSINESSES[biz]), wa(USERS[user]), msg, delivery))
            }
            Ev::OptIn(u) => {
                e.opt_in(wa(USERS[u]));
                None
            }
            Ev::OptOut(u) => {
                e.opt_out(wa(USERS[u]));
                None
            }
            Ev::MarketingStop(u) => {
                e.marketing_stop(wa(USERS[u]));
                None
            }
            Ev::MarketingResume(u) => {
                e.marketing_resume(wa(USERS[u]));
                None
            }
        })
        .collect()
}

/// Every send of the log with its outcome; the card covers every market, so a rate error
/// fails the property.
fn sends(log: &Log) -> Result<Vec<(Instant, Ev, SendOutcome)>, TestCaseError> {
    let mut out = Vec::new();
    for (&(at, ev), r) in log.events.iter().zip(run(log)) {
        if let Some(r) = r {
            match r {
                Ok(o) => out.push((at, ev, o)),
                Err(e) => return Err(TestCaseError::fail(format!("rate error at {at}: {e}"))),
            }
        }
    }
    Ok(out)
}

/// The slot a conversation category occupies: authentication and its international rate
/// variant share one.
fn slot(c: Category) -> usize {
    match c {
        Category::Marketing => 0,
        Category::Utility => 1,
        Category::Authentication | Category::AuthenticationInternational => 2,
        Category::Service => 3,
        Category::BusinessInitiated => 4,
        Category::UserInitiated => 5,
        Category::ReferralConversion => 6,
    }
}

/// Per pair: the last conversation opened in each slot (index 6: the free entry point), with
/// its expiry.
type Slots = [Option<(ConversationId, Instant)>; 7];

fn ceil_to_minute(ms: i64) -> Instant {
    Instant::from_millis((ms + MINUTE - 1).div_euclid(MINUTE) * MINUTE)
}

fn local_date(zone: usize, at: Instant) -> NaiveDate {
    let tz: chrono_tz::Tz = ZONES[zone].parse().unwrap();
    tz.timestamp_millis_opt(at.millis())
        .single()
        .unwrap()
        .date_naive()
}

/// The state the rules need, recomputed from the log alone.
#[derive(Default)]
struct Oracle {
    /// Last inbound per (business, user).
    last_inbound: HashMap<(usize, usize), Instant>,
    opted_in: [bool; USERS.len()],
    stopped: [bool; USERS.len()],
}

impl Oracle {
    fn window_open(&self, at: Instant, biz: usize, user: usize) -> bool {
        self.last_inbound
            .get(&(biz, user))
            .is_some_and(|last| at < last.plus_hours(24))
    }
    fn apply(&mut self, at: Instant, ev: Ev) {
        match ev {
            Ev::Inbound { biz, user, .. } => {
                self.last_inbound.insert((biz, user), at);
            }
            Ev::OptIn(u) => self.opted_in[u] = true,
            Ev::OptOut(u) => self.opted_in[u] = false,
            Ev::MarketingStop(u) => self.stopped[u] = true,
            Ev::MarketingResume(u) => self.stopped[u] = false,
            Ev::Send { .. } => {}
        }
    }
}

fn cases() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    /// At most one open conversation per category slot and pair; none opens while a free
    /// entry point is open, which closes all others; a message only ever joins a
    /// conversation that is open, and reports its expiry.
    #[test]
    fn never_two_open_conversations_of_one_category(log in log()) {
        let mut open: HashMap<(usize, usize), Slots> = HashMap::new();
        for (at, ev, o) in sends(&log)? {
            let Ev::Send { biz, user, .. } = ev else { continue };
            let Some(c) = o.conversation else { continue };
            let slots = open.entry((biz, user)).or_insert([None; 7]);
            let fep = slots[6].filter(|(_, exp)| at < *exp);
            if c.opened {
                prop_assert!(
                    fep.is_none(),
                    "{at}: opened {:?} while the free entry point {:?} is open", c, fep
                );
                let s = slot(c.category);
                if let Some((id, exp)) = slots[s] {
                    prop_assert!(
                        at >= exp,
                        "{at}: opened {:?} while {:?} of its slot is open until {exp}", c, id
                    );
                }
                let hours = match c.category {
                    Category::ReferralConversion if o.version == PricingVersion::V0 => 24,
                    Category::ReferralConversion => 72,
                    _ => 24,
                };
                prop_assert_eq!(c.expires_at, ceil_to_minute(at.plus_hours(hours).millis()));
                if c.category == Category::ReferralConversion {
                    // It closes every other conversation of the pair.
                    *slots = [None; 7];
                }
                slots[s] = Some((c.id, c.expires_at));
            } else {
                let joined = match fep {
                    Some(f) => Some(f),
                    None => slots[..6]
                        .iter()
                        .flatten()
                        .find(|(id, exp)| *id == c.id && at < *exp)
                        .copied(),
                };
                prop_assert_eq!(
                    joined.map(|(id, _)| id),
                    Some(c.id),
                    "{}: joined {:?}, which is not open for the pair", at, c
                );
                prop_assert_eq!(joined.map(|(_, exp)| exp), Some(c.expires_at));
            }
        }
    }

    /// A failed or rejected message is never charged and opens nothing; a delivered one is
    /// always priced.
    #[test]
    fn failed_or_rejected_messages_are_never_charged(log in log()) {
        for (at, _, o) in sends(&log)? {
            if o.status == SendStatus::Delivered {
                prop_assert!(o.pricing.is_some(), "{at}: delivered without pricing: {o:?}");
            } else {
                prop_assert!(o.pricing.is_none(), "{at}: {o:?}");
                prop_assert!(o.conversation.is_none(), "{at}: {o:?}");
                prop_assert!(o.opened.is_none(), "{at}: {o:?}");
            }
        }
    }

    /// The total charged is the sum of the conversations' charges (booked on their opening
    /// message) plus the per-message charges of messages outside any conversation; joining
    /// a conversation costs nothing.
    #[test]
    fn total_is_conversation_charges_plus_per_message_charges(log in log()) {
        let mut total = Money::ZERO;
        let mut conversations = Money::ZERO;
        let mut per_message = Money::ZERO;
        let mut opened = 0usize;
        for (at, _, o) in sends(&log)? {
            let Some(p) = o.pricing else { continue };
            let charge = p.charge;
            prop_assert!(charge.is_some(), "{at}: the card covers every market: {o:?}");
            let charge = charge.unwrap_or(Money::ZERO);
            total += charge;
            match (o.conversation, &o.opened) {
                (Some(c), Some(conv)) => {
                    prop_assert!(c.opened);
                    prop_assert_eq!(conv.id, c.id);
                    prop_assert_eq!(conv.opened_at, at);
                    prop_assert_eq!(conv.charge, Some(charge));
                    conversations += conv.charge.unwrap_or(Money::ZERO);
                    opened += 1;
                }
                (Some(c), None) => {
                    prop_assert!(!c.opened);
                    prop_assert_eq!(charge, Money::ZERO, "{}: joining is free: {:?}", at, o);
                }
                (None, None) => {
                    prop_assert_eq!(p.model, PricingModel::Pmp, "{}: CBP without a conversation: {:?}", at, o);
                    per_message += charge;
                }
                (None, Some(_)) => prop_assert!(false, "{at}: opened without a conversation: {o:?}"),
            }
        }
        prop_assert_eq!(total, conversations + per_message, "{} conversations", opened);
    }

    /// A quote before every send equals the send that follows it, and quoting changes
    /// nothing: the outcomes of a run with a quote before every send equal a plain run.
    #[test]
    fn a_quote_is_what_the_send_then_does(log in log()) {
        let plain = run(&log);
        let mut e = engine(&log);
        for (&(at, ev), expected) in log.events.iter().zip(plain) {
            match ev {
                Ev::Send { biz, user, msg, delivered } => {
                    let delivery = if delivered { Delivery::Delivered } else { Delivery::Undeliverable };
                    let (b, u) = (wa(BUSINESSES[biz]), wa(USERS[user]));
                    let quoted = e.quote(at, b, u, msg, delivery);
                    let again = e.quote(at, b, u, msg, delivery);
                    let sent = e.send(at, b, u, msg, delivery);
                    prop_assert_eq!(&quoted, &again);
                    prop_assert_eq!(&quoted, &sent);
                    prop_assert_eq!(Some(sent), expected);
                }
                Ev::Inbound { biz, user, referral } => e.inbound(at, wa(BUSINESSES[biz]), wa(USERS[user]), referral),
                Ev::OptIn(u) => e.opt_in(wa(USERS[u])),
                Ev::OptOut(u) => e.opt_out(wa(USERS[u])),
                Ev::MarketingStop(u) => e.marketing_stop(wa(USERS[u])),
                Ev::MarketingResume(u) => e.marketing_resume(wa(USERS[u])),
            }
        }
    }

    /// The engine is a pure function of the log.
    #[test]
    fn replaying_a_log_twice_gives_identical_outcomes(log in log()) {
        let a = run(&log);
        let b = run(&log);
        prop_assert_eq!(a, b);
    }

    /// A free-form message outside the window (open iff t < last inbound + 24h, from the
    /// pair's inbound events) always fails with 131047; inside it, never.
    #[test]
    fn free_form_outside_the_window_always_fails_131047(log in log()) {
        let mut oracle = Oracle::default();
        let outcomes = run(&log);
        let mut e = engine(&log);
        for (&(at, ev), r) in log.events.iter().zip(outcomes) {
            if let (Ev::Send { biz, user, msg: Outbound::FreeForm, .. }, Some(r)) = (ev, r) {
                let o = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let open = oracle.window_open(at, biz, user);
                if open {
                    prop_assert_ne!(o.status, SendStatus::Failed(Failure::OutsideServiceWindow), "{}", at);
                } else {
                    prop_assert_eq!(o.status, SendStatus::Failed(Failure::OutsideServiceWindow), "{}", at);
                }
            }
            if let Ev::Inbound { biz, user, referral } = ev {
                e.inbound(at, wa(BUSINESSES[biz]), wa(USERS[user]), referral);
                // The engine's own view of the window agrees, 1 ms before and at 24h.
                let end = at.plus_hours(24);
                let before = Instant::from_millis(end.millis() - 1);
                let (b, u) = (wa(BUSINESSES[biz]), wa(USERS[user]));
                prop_assert!(e.service_window_open(before, b, u));
                prop_assert!(!e.service_window_open(end, b, u));
            }
            oracle.apply(at, ev);
        }
    }

    /// Every send's status is the one the order of checks of rules.md §9b gives, computed
    /// from the log alone: opt-in (synchronous), then 131047, 131050, 131049, 131026. The
    /// version is the one in force on the WABA-local date.
    #[test]
    fn statuses_follow_the_order_of_checks(log in log()) {
        let mut oracle = Oracle::default();
        let us_block = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
        for (&(at, ev), r) in log.events.iter().zip(run(&log)) {
            if let (Ev::Send { biz, user, msg, delivered }, Some(r)) = (ev, r) {
                let o = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let date = local_date(log.zone, at);
                prop_assert_eq!(o.version, PricingVersion::in_force_on(date));
                let window = oracle.window_open(at, biz, user);
                let template = matches!(msg, Outbound::Template(_));
                let marketing = msg == Outbound::Template(TemplateCategory::Marketing);
                let needs_opt_in = template && !window && !oracle.opted_in[user];
                let expected = if needs_opt_in && log.consent == ConsentMode::Enforce {
                    SendStatus::Rejected(Rejection::NoOptIn)
                } else if !template && !window {
                    SendStatus::Failed(Failure::OutsideServiceWindow)
                } else if marketing && oracle.stopped[user] {
                    SendStatus::Failed(Failure::MarketingOptedOut)
                } else if marketing && user == US_USER && date >= us_block {
                    SendStatus::Failed(Failure::EcosystemLimit)
                } else if !delivered {
                    SendStatus::Failed(Failure::Undeliverable)
                } else {
                    SendStatus::Delivered
                };
                prop_assert_eq!(o.status, expected, "{} {:?}", at, ev);
                prop_assert_eq!(
                    o.consent_warning,
                    needs_opt_in && log.consent == ConsentMode::Warn,
                    "{} {:?}", at, ev
                );
            }
            oracle.apply(at, ev);
        }
    }
}
