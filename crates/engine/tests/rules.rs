//! Black-box tests of shared/spec/rules.md, rule by rule, through the engine's public API.
//!
//! Every test uses a small rate card of its own (the layout of shared/scenarios/rates-test.csv,
//! plus the two v0 columns and a few markets) so that every charge is known exactly.

// The helpers below are test code outside `#[test]` functions: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

use openwaba_engine::{
    Category, ConsentMode, ConversationId, ConversationType, Delivery, Engine, EngineConfig,
    Failure, Instant, MarketTable, MissingRates, Money, Outbound, Policy, PricingModel,
    PricingType, PricingVersion, RateBook, RateCard, RateError, Rejection, SendOutcome, SendStatus,
    TemplateCategory, TimeZoneId, WaId, NO_OPT_IN_CODE,
};

/// rates-test.csv, plus Indonesia (which has an authentication-international rate) and the
/// two v0 columns. France is deliberately absent (missing-rate tests).
const CARD: &str = "\
Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service,Business-Initiated,User-Initiated
Brazil,$US,0.0600,0.0300,0.0200,n/a,0.0100,0.0500,0.0250
India,$US,0.0100,0.0040,0.0040,0.0280,0.0030,0.0090,0.0045
Indonesia,$US,0.0411,0.0200,0.0300,0.1360,0.0190,0.0400,0.0200
Germany,$US,0.1400,0.0800,0.0700,n/a,0.0800,0.1300,0.0700
North America,$US,0.0250,0.0150,0.0135,n/a,0.0090,0.0200,0.0100
Rest of Latin America,$US,0.0740,0.0110,0.0110,n/a,0.0100,0.0700,0.0100
Rest of Asia Pacific,$US,0.0730,0.0110,0.0110,n/a,0.0100,0.0700,0.0100
Other,$US,0.0600,0.0340,0.0300,n/a,0.0150,0.0500,0.0150
";

/// shared/scenarios/rates-test.csv verbatim: no v0 columns.
const RATES_TEST_CSV: &str = "\
Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service
Brazil,$US,0.0600,0.0300,0.0200,n/a,0.0100
India,$US,0.0100,0.0040,0.0040,0.0280,0.0030
Germany,$US,0.1400,0.0800,0.0700,n/a,0.0800
North America,$US,0.0250,0.0150,0.0135,n/a,0.0090
Rest of Latin America,$US,0.0740,0.0110,0.0110,n/a,0.0100
Rest of Asia Pacific,$US,0.0730,0.0110,0.0110,n/a,0.0100
Other,$US,0.0600,0.0340,0.0300,n/a,0.0150
";

const BIZ: &str = "15550001111";
const BIZ2: &str = "15550002222";
const BRAZIL: &str = "5511987650001";
const BRAZIL2: &str = "5511987650002";
const INDIA: &str = "919876500001";
const INDONESIA: &str = "628121234567";
const US: &str = "12125550100";
const CANADA: &str = "14165550100";
const FRANCE: &str = "33612345678";

const FF: Outbound = Outbound::FreeForm;
const MKT: Outbound = Outbound::Template(TemplateCategory::Marketing);
const UTIL: Outbound = Outbound::Template(TemplateCategory::Utility);
const AUTH: Outbound = Outbound::Template(TemplateCategory::Authentication);

fn t(s: &str) -> Instant {
    Instant::parse_rfc3339(s).unwrap()
}

/// `at` shifted by `delta` milliseconds.
fn ms(at: Instant, delta: i64) -> Instant {
    Instant::from_millis(at.millis() + delta)
}

fn money(s: &str) -> Money {
    Money::parse(s).unwrap()
}

fn wa(s: &str) -> WaId {
    WaId::parse(s).unwrap()
}

fn card_config(card: RateCard) -> EngineConfig {
    EngineConfig {
        zone: TimeZoneId::UTC,
        policy: Policy::Auto,
        consent: ConsentMode::Enforce,
        markets: MarketTable::builtin(),
        rates: RateBook::single(card),
        missing_rates: MissingRates::Fail,
        authentication_international: false,
        conversation_seed: 1,
    }
}

fn config_from(csv: &str) -> EngineConfig {
    let markets = MarketTable::builtin();
    card_config(RateCard::from_csv("test-card", csv, &markets).unwrap())
}

fn config() -> EngineConfig {
    config_from(CARD)
}

fn zoned(zone: &str) -> EngineConfig {
    EngineConfig {
        zone: TimeZoneId::parse(zone).unwrap(),
        ..config()
    }
}

/// One WABA under test, sending from `BIZ` unless told otherwise.
struct Waba {
    e: Engine,
}

impl Waba {
    fn new(cfg: EngineConfig) -> Waba {
        Waba {
            e: Engine::new(cfg),
        }
    }
    fn utc() -> Waba {
        Waba::new(config())
    }
    fn inbound(&mut self, at: Instant, user: &str) {
        self.e.inbound(at, wa(BIZ), wa(user), false);
    }
    fn referral(&mut self, at: Instant, user: &str) {
        self.e.inbound(at, wa(BIZ), wa(user), true);
    }
    fn opt_in(&mut self, user: &str) {
        self.e.opt_in(wa(user));
    }
    fn send(&mut self, at: Instant, user: &str, msg: Outbound) -> SendOutcome {
        self.send_from(at, BIZ, user, msg, Delivery::Delivered)
    }
    fn undelivered(&mut self, at: Instant, user: &str, msg: Outbound) -> SendOutcome {
        self.send_from(at, BIZ, user, msg, Delivery::Undeliverable)
    }
    fn send_from(
        &mut self,
        at: Instant,
        biz: &str,
        user: &str,
        msg: Outbound,
        delivery: Delivery,
    ) -> SendOutcome {
        self.e.send(at, wa(biz), wa(user), msg, delivery).unwrap()
    }
}

/// The message was delivered and opened a conversation of `category` charged `charge`.
#[track_caller]
fn assert_opened(o: &SendOutcome, category: Category, charge: &str) -> ConversationId {
    assert_eq!(o.status, SendStatus::Delivered, "{o:?}");
    let c = o.conversation.unwrap();
    assert!(c.opened, "expected a new conversation: {o:?}");
    assert_eq!(c.category, category, "{o:?}");
    let p = o.pricing.unwrap();
    assert_eq!(p.category, category, "{o:?}");
    assert_eq!(p.charge, Some(money(charge)), "{o:?}");
    let conv = o.opened.as_ref().unwrap();
    assert_eq!(conv.id, c.id);
    assert_eq!(conv.category, category);
    assert_eq!(conv.expires_at, c.expires_at);
    assert_eq!(conv.charge, Some(money(charge)));
    c.id
}

/// The message was delivered into the already open conversation `id`, for nothing.
#[track_caller]
fn assert_joined(o: &SendOutcome, id: ConversationId) {
    assert_eq!(o.status, SendStatus::Delivered, "{o:?}");
    let c = o.conversation.unwrap();
    assert!(!c.opened, "expected to join {id:?}: {o:?}");
    assert_eq!(c.id, id, "{o:?}");
    assert_eq!(o.pricing.unwrap().charge, Some(Money::ZERO), "{o:?}");
    assert!(o.opened.is_none(), "{o:?}");
}

/// Accepted, then failed: no conversation, no price.
#[track_caller]
fn assert_failed(o: &SendOutcome, f: Failure) {
    assert_eq!(o.status, SendStatus::Failed(f), "{o:?}");
    assert!(o.conversation.is_none(), "{o:?}");
    assert!(o.pricing.is_none(), "{o:?}");
    assert!(o.opened.is_none(), "{o:?}");
}

#[track_caller]
fn assert_rejected(o: &SendOutcome) {
    assert_eq!(o.status, SendStatus::Rejected(Rejection::NoOptIn), "{o:?}");
    assert!(o.conversation.is_none(), "{o:?}");
    assert!(o.pricing.is_none(), "{o:?}");
    assert!(o.opened.is_none(), "{o:?}");
}

/// Delivered under per-message pricing, outside any conversation.
#[track_caller]
fn assert_pmp(o: &SendOutcome, category: Category, kind: PricingType, charge: &str) {
    assert_eq!(o.status, SendStatus::Delivered, "{o:?}");
    assert!(o.conversation.is_none(), "{o:?}");
    assert!(o.opened.is_none(), "{o:?}");
    let p = o.pricing.unwrap();
    assert_eq!(p.model, PricingModel::Pmp, "{o:?}");
    assert_eq!(p.category, category, "{o:?}");
    assert_eq!(p.kind, kind, "{o:?}");
    assert_eq!(p.charge, Some(money(charge)), "{o:?}");
    assert_eq!(p.billable, kind == PricingType::Regular, "{o:?}");
}

fn expiry(o: &SendOutcome) -> Instant {
    o.conversation.unwrap().expires_at
}

// ---------------------------------------------------------------------------------------
// §3 Meta's worked examples and the opening rules
// ---------------------------------------------------------------------------------------

#[test]
fn meta_example_marketing_conversation_then_service_conversation() {
    let mut w = Waba::utc();
    let h0 = t("2023-06-05T00:00:00Z");
    let h = |n| h0.plus_hours(n);
    w.opt_in(BRAZIL);

    // h0: a marketing template opens a marketing conversation.
    let m = w.send(h(0), BRAZIL, MKT);
    assert_eq!(m.version, PricingVersion::V1);
    let marketing = assert_opened(&m, Category::Marketing, "0.06");
    assert_eq!(expiry(&m), h(24));
    let p = m.pricing.unwrap();
    assert_eq!(p.model, PricingModel::Cbp);
    assert!(p.billable);

    // h4: the user writes; h5: a free-form message joins the marketing conversation.
    w.inbound(h(4), BRAZIL);
    let r = w.send(h(5), BRAZIL, FF);
    assert_joined(&r, marketing);
    assert_eq!(r.conversation.unwrap().category, Category::Marketing);
    assert_eq!(r.pricing.unwrap().category, Category::Marketing);
    assert_eq!(expiry(&r), h(24));

    // h24: marketing expires; h25: a free-form message opens a service conversation (free
    // tier under v1: billable, costs 0).
    let s = w.send(h(25), BRAZIL, FF);
    let service = assert_opened(&s, Category::Service, "0");
    assert_ne!(service, marketing);
    assert_eq!(expiry(&s), h(49));
    assert!(s.pricing.unwrap().billable);
    assert_eq!(s.pricing.unwrap().kind, PricingType::FreeTier);
    assert_eq!(s.opened.as_ref().unwrap().kind, ConversationType::FreeTier);

    // h26: joins it.
    let s2 = w.send(h(26), BRAZIL, FF);
    assert_joined(&s2, service);
    assert_eq!(s2.conversation.unwrap().category, Category::Service);
}

#[test]
fn meta_example_marketing_then_utility_conversation() {
    let mut w = Waba::utc();
    let h0 = t("2023-06-05T00:00:00Z");
    let h = |n| h0.plus_hours(n);
    w.opt_in(BRAZIL);

    let marketing = assert_opened(&w.send(h(0), BRAZIL, MKT), Category::Marketing, "0.06");
    // h4: a utility template opens its own conversation although marketing is open.
    let u = w.send(h(4), BRAZIL, UTIL);
    let utility = assert_opened(&u, Category::Utility, "0.03");
    assert_ne!(utility, marketing);
    assert_eq!(expiry(&u), h(28));
    // h10: utility joins utility; marketing is still open alongside.
    let u2 = w.send(h(10), BRAZIL, UTIL);
    assert_joined(&u2, utility);
    assert_eq!(u2.conversation.unwrap().category, Category::Utility);
    assert_joined(&w.send(h(10), BRAZIL, MKT), marketing);
    // Authentication opens a third one.
    let a = assert_opened(
        &w.send(h(11), BRAZIL, AUTH),
        Category::Authentication,
        "0.02",
    );
    assert!(a != marketing && a != utility);
}

#[test]
fn service_does_not_stop_a_template_but_a_template_conversation_stops_service() {
    let mut w = Waba::utc();
    let h0 = t("2023-06-05T00:00:00Z");
    let h = |n| h0.plus_hours(n);
    w.inbound(h(0), BRAZIL);
    let service = assert_opened(&w.send(h(1), BRAZIL, FF), Category::Service, "0");
    // A template answer during a service conversation opens its own conversation.
    let utility = assert_opened(&w.send(h(2), BRAZIL, UTIL), Category::Utility, "0.03");
    // A free-form message joins the most recently opened conversation (decision).
    assert_joined(&w.send(h(3), BRAZIL, FF), utility);
    let marketing = assert_opened(&w.send(h(4), BRAZIL, MKT), Category::Marketing, "0.06");
    assert_joined(&w.send(h(5), BRAZIL, FF), marketing);
    assert!(service != utility && utility != marketing);

    // With only a template conversation open, free-form joins it: no service conversation.
    let mut w = Waba::utc();
    w.opt_in(BRAZIL2);
    let u = assert_opened(&w.send(h(0), BRAZIL2, UTIL), Category::Utility, "0.03");
    w.inbound(h(1), BRAZIL2);
    assert_joined(&w.send(h(2), BRAZIL2, FF), u);
    // Once it expires, free-form opens a service conversation.
    assert_opened(&w.send(h(24), BRAZIL2, FF), Category::Service, "0");
}

#[test]
fn conversations_and_windows_are_per_business_number_consent_per_waba() {
    let mut w = Waba::utc();
    let h0 = t("2023-06-05T00:00:00Z");
    let h = |n| h0.plus_hours(n);
    w.opt_in(BRAZIL); // one opt-in for the WABA, both numbers
    let d = Delivery::Delivered;
    let a = w.send_from(h(0), BIZ, BRAZIL, MKT, d);
    let b = w.send_from(h(1), BIZ2, BRAZIL, MKT, d);
    let a_id = assert_opened(&a, Category::Marketing, "0.06");
    let b_id = assert_opened(&b, Category::Marketing, "0.06");
    assert_ne!(a_id, b_id);
    // The user writes to the first number only.
    w.e.inbound(h(2), wa(BIZ), wa(BRAZIL), false);
    assert!(w.e.service_window_open(h(3), wa(BIZ), wa(BRAZIL)));
    assert!(!w.e.service_window_open(h(3), wa(BIZ2), wa(BRAZIL)));
    assert_failed(
        &w.send_from(h(3), BIZ2, BRAZIL, FF, d),
        Failure::OutsideServiceWindow,
    );
    assert_joined(&w.send_from(h(3), BIZ, BRAZIL, FF, d), a_id);
    assert_joined(&w.send_from(h(4), BIZ2, BRAZIL, MKT, d), b_id);
}

// ---------------------------------------------------------------------------------------
// §2 / §4 boundaries
// ---------------------------------------------------------------------------------------

#[test]
fn service_window_is_open_until_one_millisecond_before_24h() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T09:00:00Z");
    w.inbound(at, BRAZIL);
    let last = ms(at.plus_hours(24), -1);
    assert!(w.e.service_window_open(last, wa(BIZ), wa(BRAZIL)));
    assert!(!w
        .e
        .service_window_open(at.plus_hours(24), wa(BIZ), wa(BRAZIL)));
    let s = w.send(last, BRAZIL, FF);
    assert_opened(&s, Category::Service, "0");
    // Closed at exactly 24h, even with the service conversation still open.
    assert_failed(
        &w.send(at.plus_hours(24), BRAZIL, FF),
        Failure::OutsideServiceWindow,
    );
}

#[test]
fn window_counts_from_the_last_inbound_and_outbound_never_extends_it() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T09:00:00Z");
    w.inbound(at, BRAZIL);
    w.inbound(at.plus_hours(10), BRAZIL);
    // Open until 10h + 24h, not 24h.
    let s = w.send(at.plus_hours(24), BRAZIL, FF);
    assert_eq!(s.status, SendStatus::Delivered);
    // Business messages in between do not extend it.
    w.send(at.plus_hours(30), BRAZIL, FF);
    assert_eq!(
        w.send(ms(at.plus_hours(34), -1), BRAZIL, FF).status,
        SendStatus::Delivered
    );
    assert_failed(
        &w.send(at.plus_hours(34), BRAZIL, FF),
        Failure::OutsideServiceWindow,
    );
}

#[test]
fn a_message_exactly_at_conversation_expiry_opens_a_new_one() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let at = t("2023-06-05T08:00:00Z");
    let first = w.send(at, BRAZIL, MKT);
    let id = assert_opened(&first, Category::Marketing, "0.06");
    assert_eq!(expiry(&first), at.plus_hours(24));
    let joined = w.send(ms(at.plus_hours(24), -1), BRAZIL, MKT);
    assert_joined(&joined, id);
    assert_eq!(expiry(&joined), at.plus_hours(24));
    let next = w.send(at.plus_hours(24), BRAZIL, MKT);
    let id2 = assert_opened(&next, Category::Marketing, "0.06");
    assert_ne!(id, id2);
    assert_eq!(expiry(&next), at.plus_hours(48));
}

#[test]
fn expiry_is_rounded_up_to_the_minute() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let m1 = w.send(t("2023-06-05T10:00:30Z"), BRAZIL, MKT);
    let id = assert_opened(&m1, Category::Marketing, "0.06");
    assert_eq!(expiry(&m1), t("2023-06-06T10:01:00Z"));
    assert_eq!(
        m1.opened.as_ref().unwrap().opened_at,
        t("2023-06-05T10:00:30Z")
    );
    // 24h15s later: still inside the rounded expiry.
    let m2 = w.send(t("2023-06-06T10:00:45Z"), BRAZIL, MKT);
    assert_joined(&m2, id);
    assert_eq!(expiry(&m2), t("2023-06-06T10:01:00Z"));
    let m3 = w.send(t("2023-06-06T10:01:00Z"), BRAZIL, MKT);
    assert_opened(&m3, Category::Marketing, "0.06");
    assert_eq!(expiry(&m3), t("2023-06-07T10:01:00Z"));
    // Sub-second: 1 ms past a minute also rounds up.
    let m4 = w.send(t("2023-06-08T00:00:00.001Z"), BRAZIL, UTIL);
    assert_eq!(expiry(&m4), t("2023-06-09T00:01:00Z"));
}

// ---------------------------------------------------------------------------------------
// §1 / §6 free tier, by WABA-local month
// ---------------------------------------------------------------------------------------

fn nth_user(i: usize) -> String {
    format!("55119{i:08}")
}

#[test]
fn free_tier_is_the_first_1000_service_conversations_of_the_local_month() {
    let mut w = Waba::new(zoned("America/Sao_Paulo"));
    let start = t("2023-06-01T12:00:00Z");
    // Template conversations are never in the free tier, and do not use it up.
    w.opt_in(BRAZIL);
    assert_opened(&w.send(start, BRAZIL, MKT), Category::Marketing, "0.06");
    assert_opened(&w.send(start, BRAZIL, UTIL), Category::Utility, "0.03");
    assert_opened(
        &w.send(start, BRAZIL, AUTH),
        Category::Authentication,
        "0.02",
    );
    for i in 0..1000 {
        let user = nth_user(i);
        let at = ms(start, i as i64 * 60_000);
        w.inbound(at, &user);
        let o = w.send(ms(at, 30_000), &user, FF);
        assert_opened(&o, Category::Service, "0");
        assert_eq!(o.pricing.unwrap().kind, PricingType::FreeTier, "#{i}");
        assert!(o.pricing.unwrap().billable);
    }
    // 02:00Z on July 1st is still June 30th in São Paulo: the 1,001st is charged.
    let late = t("2023-07-01T02:00:00Z");
    assert_eq!(w.e.month_of(late).to_string(), "2023-06");
    w.inbound(late, "5511988880001");
    let o = w.send(ms(late, 60_000), "5511988880001", FF);
    let june = assert_opened(&o, Category::Service, "0.01");
    assert_eq!(o.pricing.unwrap().kind, PricingType::Regular);
    assert_eq!(o.opened.as_ref().unwrap().kind, ConversationType::Regular);
    assert!(o.pricing.unwrap().billable);
    // 03:00Z is July 1st local: a new month, a new free tier.
    let july = t("2023-07-01T03:00:00Z");
    assert_eq!(w.e.month_of(july).to_string(), "2023-07");
    w.inbound(july, "5511988880002");
    let o = w.send(ms(july, 60_000), "5511988880002", FF);
    assert_opened(&o, Category::Service, "0");
    assert_eq!(o.pricing.unwrap().kind, PricingType::FreeTier);
    // The charged June conversation stays open into July, and is joined for nothing.
    assert_joined(&w.send(ms(july, 120_000), "5511988880001", FF), june);
}

// ---------------------------------------------------------------------------------------
// §5 free entry point
// ---------------------------------------------------------------------------------------

#[track_caller]
fn assert_fep(o: &SendOutcome, expires_at: Instant) -> ConversationId {
    let id = assert_opened(o, Category::ReferralConversion, "0");
    let p = o.pricing.unwrap();
    assert!(!p.billable, "{o:?}");
    assert_eq!(p.kind, PricingType::FreeEntryPoint);
    assert_eq!(
        o.opened.as_ref().unwrap().kind,
        ConversationType::FreeEntryPoint
    );
    assert!(!o.opened.as_ref().unwrap().billable);
    assert_eq!(expiry(o), expires_at);
    id
}

#[test]
fn fep_opens_for_a_reply_one_millisecond_before_the_deadline() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T10:00:00Z");
    w.referral(at, BRAZIL);
    let reply = ms(at.plus_hours(24), -1);
    let o = w.send(reply, BRAZIL, UTIL);
    // ceil_to_minute(reply + 72h)
    assert_fep(&o, at.plus_hours(96));
}

#[test]
fn fep_does_not_open_for_a_reply_at_the_deadline() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T10:00:00Z");
    w.opt_in(BRAZIL);
    w.referral(at, BRAZIL);
    let o = w.send(at.plus_hours(24), BRAZIL, UTIL);
    assert_opened(&o, Category::Utility, "0.03");
    assert!(o.pricing.unwrap().billable);
}

#[test]
fn fep_lasts_72h_under_v1() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let at = t("2023-06-05T10:00:00Z");
    w.referral(at, BRAZIL);
    let reply = at.plus_hours(1);
    let o = w.send(reply, BRAZIL, FF);
    assert_eq!(o.version, PricingVersion::V1);
    let fep = assert_fep(&o, reply.plus_hours(72));
    let inside = w.send(ms(reply.plus_hours(72), -1), BRAZIL, MKT);
    assert_joined(&inside, fep);
    assert_eq!(
        inside.conversation.unwrap().category,
        Category::ReferralConversion
    );
    assert!(!inside.pricing.unwrap().billable);
    assert_opened(
        &w.send(reply.plus_hours(72), BRAZIL, MKT),
        Category::Marketing,
        "0.06",
    );
}

#[test]
fn fep_lasts_24h_under_v0() {
    let fixed = EngineConfig {
        policy: Policy::Fixed(PricingVersion::V0),
        ..config()
    };
    for (cfg, day) in [
        (fixed, "2023-06-05T10:00:00Z"),
        (config(), "2023-03-06T10:00:00Z"),
    ] {
        let mut w = Waba::new(cfg);
        w.opt_in(BRAZIL);
        let at = t(day);
        w.referral(at, BRAZIL);
        let reply = at.plus_hours(1);
        let o = w.send(reply, BRAZIL, FF);
        assert_eq!(o.version, PricingVersion::V0);
        let fep = assert_fep(&o, reply.plus_hours(24));
        // The window has closed (at + 24h) but the FEP is still open: a template joins it.
        assert_joined(&w.send(ms(reply.plus_hours(24), -1), BRAZIL, UTIL), fep);
        let after = w.send(reply.plus_hours(24), BRAZIL, MKT);
        assert_opened(&after, Category::BusinessInitiated, "0");
        assert_eq!(after.pricing.unwrap().kind, PricingType::FreeTier);
    }
}

#[test]
fn fep_closes_other_conversations_and_messages_inside_join_it_free() {
    let mut w = Waba::utc();
    let h0 = t("2023-06-05T00:00:00Z");
    let h = |n| h0.plus_hours(n);
    w.opt_in(BRAZIL);
    let marketing = assert_opened(&w.send(h(0), BRAZIL, MKT), Category::Marketing, "0.06");
    let utility = assert_opened(&w.send(h(1), BRAZIL, UTIL), Category::Utility, "0.03");
    w.referral(h(2), BRAZIL);
    let fep = assert_fep(&w.send(h(3), BRAZIL, FF), h(75));
    // Everything inside joins the FEP, free: not the marketing or utility conversations.
    for (i, msg) in [MKT, UTIL, AUTH, FF].into_iter().enumerate() {
        let o = w.send(h(4 + i as i64), BRAZIL, msg);
        assert_joined(&o, fep);
        assert_ne!(o.conversation.unwrap().id, marketing);
        assert_ne!(o.conversation.unwrap().id, utility);
        assert_eq!(
            o.conversation.unwrap().category,
            Category::ReferralConversion
        );
        let p = o.pricing.unwrap();
        assert_eq!(p.category, Category::ReferralConversion);
        assert!(!p.billable);
        assert_eq!(p.kind, PricingType::FreeEntryPoint);
    }
    // The CSW still governs free-form messages inside the FEP.
    assert_failed(&w.send(h(27), BRAZIL, FF), Failure::OutsideServiceWindow);
    assert_joined(&w.send(ms(h(75), -1), BRAZIL, MKT), fep);
    // Once it expires, conversations open again.
    let m2 = assert_opened(&w.send(h(75), BRAZIL, MKT), Category::Marketing, "0.06");
    assert_ne!(m2, marketing);
}

#[test]
fn an_undelivered_reply_does_not_use_up_the_fep() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T10:00:00Z");
    w.referral(at, BRAZIL);
    assert_failed(
        &w.undelivered(at.plus_hours(1), BRAZIL, FF),
        Failure::Undeliverable,
    );
    assert_fep(&w.send(at.plus_hours(2), BRAZIL, FF), at.plus_hours(74));

    // Nor does a reply that fails for another reason (131050).
    let mut w = Waba::utc();
    w.e.marketing_stop(wa(BRAZIL2));
    w.referral(at, BRAZIL2);
    assert_failed(
        &w.send(at.plus_hours(1), BRAZIL2, MKT),
        Failure::MarketingOptedOut,
    );
    assert_fep(&w.send(at.plus_hours(2), BRAZIL2, UTIL), at.plus_hours(74));
}

#[test]
fn fep_under_per_message_pricing_makes_every_message_free() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let at = t("2025-08-04T10:00:00Z");
    w.referral(at, BRAZIL);
    let reply = at.plus_hours(1);
    for (i, msg) in [MKT, AUTH, UTIL].into_iter().enumerate() {
        let o = w.send(reply.plus_hours(i as i64 * 30), BRAZIL, msg);
        assert_eq!(o.status, SendStatus::Delivered);
        assert_eq!(o.version, PricingVersion::V3);
        let p = o.pricing.unwrap();
        assert_eq!(p.model, PricingModel::Pmp, "{o:?}");
        assert_eq!(p.kind, PricingType::FreeEntryPoint, "{o:?}");
        assert_eq!(p.category, Category::ReferralConversion);
        assert!(!p.billable);
        assert_eq!(p.charge, Some(Money::ZERO));
    }
    // 72h after the reply: charged again.
    assert_pmp(
        &w.send(reply.plus_hours(72), BRAZIL, MKT),
        Category::Marketing,
        PricingType::Regular,
        "0.06",
    );
}

// ---------------------------------------------------------------------------------------
// §6 versions
// ---------------------------------------------------------------------------------------

#[test]
fn versions_switch_at_local_midnight() {
    let mut kolkata = Waba::new(zoned("Asia/Kolkata"));
    assert_eq!(
        kolkata.e.version_at(t("2024-10-31T18:29:59.999Z")),
        PricingVersion::V1_1
    );
    assert_eq!(
        kolkata.e.version_at(t("2024-10-31T18:30:00Z")),
        PricingVersion::V2
    );
    // 2024-10-31T19:00Z is 2024-11-01 00:30 in Kolkata: v2, service is free.
    let at = t("2024-10-31T19:00:00Z");
    kolkata.inbound(ms(at, -60_000), BRAZIL);
    let o = kolkata.send(at, BRAZIL, FF);
    assert_eq!(o.version, PricingVersion::V2);
    assert_opened(&o, Category::Service, "0");
    assert!(!o.pricing.unwrap().billable);
    assert!(!o.opened.as_ref().unwrap().billable);

    // The same instant in UTC is still October: v1.1, service in the (billable) free tier.
    let mut utc = Waba::utc();
    utc.inbound(ms(at, -60_000), BRAZIL);
    let o = utc.send(at, BRAZIL, FF);
    assert_eq!(o.version, PricingVersion::V1_1);
    assert_opened(&o, Category::Service, "0");
    assert!(o.pricing.unwrap().billable);
    assert_eq!(o.pricing.unwrap().kind, PricingType::FreeTier);
}

#[test]
fn v2_service_is_free_and_templates_still_charged() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let at = t("2024-11-05T09:00:00Z");
    w.inbound(at, BRAZIL);
    let s = w.send(ms(at, 300_000), BRAZIL, FF);
    assert_opened(&s, Category::Service, "0");
    assert!(!s.pricing.unwrap().billable);
    let m = w.send(ms(at, 600_000), BRAZIL, MKT);
    assert_opened(&m, Category::Marketing, "0.06");
    assert!(m.pricing.unwrap().billable);
}

#[test]
fn a_cbp_utility_conversation_keeps_its_terms_across_the_switch_to_pmp() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let m1 = w.send(t("2025-06-30T20:00:00Z"), BRAZIL, UTIL);
    assert_eq!(m1.version, PricingVersion::V2_2);
    let utility = assert_opened(&m1, Category::Utility, "0.03");
    assert_eq!(m1.pricing.unwrap().model, PricingModel::Cbp);
    assert_eq!(expiry(&m1), t("2025-07-01T20:00:00Z"));

    // 2025-07-01, v3 in force, but the CBP conversation is still open: CBP, free.
    let m2 = w.send(t("2025-07-01T10:00:00Z"), BRAZIL, UTIL);
    assert_eq!(m2.version, PricingVersion::V3);
    assert_joined(&m2, utility);
    assert_eq!(m2.pricing.unwrap().model, PricingModel::Cbp);
    assert_eq!(m2.pricing.unwrap().category, Category::Utility);

    // A marketing template has no CBP conversation to join: PMP.
    assert_pmp(
        &w.send(t("2025-07-01T11:00:00Z"), BRAZIL, MKT),
        Category::Marketing,
        PricingType::Regular,
        "0.06",
    );

    // At its expiry, PMP applies to utility too.
    assert_pmp(
        &w.send(t("2025-07-01T20:00:00Z"), BRAZIL, UTIL),
        Category::Utility,
        PricingType::Regular,
        "0.03",
    );
    assert_pmp(
        &w.send(t("2025-07-01T21:00:00Z"), BRAZIL, UTIL),
        Category::Utility,
        PricingType::Regular,
        "0.03",
    );
}

// ---------------------------------------------------------------------------------------
// v0
// ---------------------------------------------------------------------------------------

#[test]
fn v0_business_initiated_and_user_initiated() {
    let mut w = Waba::utc();
    let h0 = t("2023-03-06T00:00:00Z");
    let h = |n| h0.plus_hours(n);
    w.opt_in(BRAZIL);
    // A template outside the window: business_initiated.
    let b = w.send(h(0), BRAZIL, MKT);
    assert_eq!(b.version, PricingVersion::V0);
    let bi = assert_opened(&b, Category::BusinessInitiated, "0");
    assert_eq!(b.pricing.unwrap().model, PricingModel::Cbp);
    assert_eq!(b.pricing.unwrap().kind, PricingType::FreeTier);
    assert_eq!(expiry(&b), h(24));
    // The user replies; the business's free-form answer joins it.
    w.inbound(h(1), BRAZIL);
    assert_joined(&w.send(h(2), BRAZIL, FF), bi);
    // Another template of another category joins too: two kinds, not four categories.
    assert_joined(&w.send(h(3), BRAZIL, UTIL), bi);

    // A reply inside the window with nothing open: user_initiated.
    let mut w = Waba::utc();
    w.inbound(h(0), BRAZIL2);
    let u = w.send(h(1), BRAZIL2, FF);
    let ui = assert_opened(&u, Category::UserInitiated, "0");
    assert_joined(&w.send(h(2), BRAZIL2, UTIL), ui);
    assert_joined(&w.send(h(3), BRAZIL2, MKT), ui);
}

#[test]
fn v0_free_tier_is_1000_conversations_of_either_kind() {
    let mut w = Waba::utc();
    let start = t("2023-03-01T00:00:00Z");
    for i in 0..1000 {
        let user = nth_user(i);
        let at = ms(start, i as i64 * 60_000);
        let o = if i < 600 {
            w.opt_in(&user);
            w.send(at, &user, MKT)
        } else {
            w.inbound(at, &user);
            w.send(ms(at, 1000), &user, FF)
        };
        let cat = if i < 600 {
            Category::BusinessInitiated
        } else {
            Category::UserInitiated
        };
        assert_opened(&o, cat, "0");
        assert_eq!(o.pricing.unwrap().kind, PricingType::FreeTier);
    }
    let later = t("2023-03-10T00:00:00Z");
    w.opt_in(BRAZIL);
    let b = w.send(later, BRAZIL, UTIL);
    assert_opened(&b, Category::BusinessInitiated, "0.05");
    assert_eq!(b.pricing.unwrap().kind, PricingType::Regular);
    w.inbound(later, BRAZIL2);
    assert_opened(
        &w.send(later, BRAZIL2, FF),
        Category::UserInitiated,
        "0.025",
    );
    w.inbound(later, INDIA);
    assert_opened(&w.send(later, INDIA, FF), Category::UserInitiated, "0.0045");
    // April: the free tier resets.
    let april = t("2023-04-01T00:00:00Z");
    let a = w.send(april, BRAZIL, MKT);
    assert_opened(&a, Category::BusinessInitiated, "0");
    assert_eq!(a.pricing.unwrap().kind, PricingType::FreeTier);
}

// ---------------------------------------------------------------------------------------
// v3 per-message pricing
// ---------------------------------------------------------------------------------------

#[test]
fn pmp_charges_marketing_and_authentication_always_utility_outside_the_window() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let at = t("2025-08-04T08:00:00Z");
    let reg = PricingType::Regular;
    let free = PricingType::FreeCustomerService;
    // Outside the window.
    assert_pmp(&w.send(at, BRAZIL, MKT), Category::Marketing, reg, "0.06");
    assert_pmp(&w.send(at, BRAZIL, MKT), Category::Marketing, reg, "0.06");
    assert_pmp(
        &w.send(at, BRAZIL, AUTH),
        Category::Authentication,
        reg,
        "0.02",
    );
    assert_pmp(&w.send(at, BRAZIL, UTIL), Category::Utility, reg, "0.03");
    assert_failed(&w.send(at, BRAZIL, FF), Failure::OutsideServiceWindow);
    // Inside the window.
    let inside = at.plus_hours(2);
    w.inbound(at.plus_hours(1), BRAZIL);
    assert_pmp(&w.send(inside, BRAZIL, UTIL), Category::Utility, free, "0");
    assert_pmp(
        &w.send(inside, BRAZIL, MKT),
        Category::Marketing,
        reg,
        "0.06",
    );
    assert_pmp(
        &w.send(inside, BRAZIL, AUTH),
        Category::Authentication,
        reg,
        "0.02",
    );
    assert_pmp(&w.send(inside, BRAZIL, FF), Category::Service, free, "0");
    // Window closed again (1h + 24h): utility charged.
    assert_pmp(
        &w.send(at.plus_hours(25), BRAZIL, UTIL),
        Category::Utility,
        reg,
        "0.03",
    );
    // Another market, its own rate.
    w.opt_in(INDIA);
    assert_pmp(
        &w.send(at.plus_hours(26), INDIA, MKT),
        Category::Marketing,
        reg,
        "0.01",
    );
}

#[test]
fn pmp_volume_tiers_are_graduated_and_reset_by_local_month() {
    let markets = MarketTable::builtin();
    let card = RateCard::from_csv("test-card", CARD, &markets)
        .unwrap()
        .with_tiers_csv(
            "test-tiers",
            "Market,Category,Volume-From,Rate\nBrazil,Utility,3,0.02\nBrazil,Utility,5,0.01\n",
            &markets,
        )
        .unwrap();
    let cfg = EngineConfig {
        zone: TimeZoneId::parse("America/Sao_Paulo").unwrap(),
        ..card_config(card)
    };
    let mut w = Waba::new(cfg);
    w.opt_in(BRAZIL);
    w.opt_in(INDIA);
    let reg = PricingType::Regular;
    let util = |w: &mut Waba, at: &str, user: &str| w.send(t(at), user, UTIL);
    let o = util(&mut w, "2025-08-04T10:00:00Z", BRAZIL);
    assert_pmp(&o, Category::Utility, reg, "0.03");
    let o = util(&mut w, "2025-08-04T11:00:00Z", BRAZIL);
    assert_pmp(&o, Category::Utility, reg, "0.03");
    // A free utility message inside the window is not a charged message: it does not count.
    w.inbound(t("2025-08-04T12:00:00Z"), BRAZIL);
    let o = util(&mut w, "2025-08-04T12:30:00Z", BRAZIL);
    assert_pmp(&o, Category::Utility, PricingType::FreeCustomerService, "0");
    for (at, rate) in [
        ("2025-08-06T10:00:00Z", "0.02"),
        ("2025-08-06T11:00:00Z", "0.02"),
        ("2025-08-06T12:00:00Z", "0.01"),
        ("2025-08-06T13:00:00Z", "0.01"),
    ] {
        let o = util(&mut w, at, BRAZIL);
        assert_pmp(&o, Category::Utility, reg, rate);
    }
    // Tiers are per market: India is at its list rate.
    let o = util(&mut w, "2025-08-06T14:00:00Z", INDIA);
    assert_pmp(&o, Category::Utility, reg, "0.004");
    // Marketing has no tiers.
    assert_pmp(
        &w.send(t("2025-08-06T15:00:00Z"), BRAZIL, MKT),
        Category::Marketing,
        reg,
        "0.06",
    );
    // 02:59:59Z on September 1st is still August in São Paulo (UTC-3).
    let o = util(&mut w, "2025-09-01T02:59:59Z", BRAZIL);
    assert_pmp(&o, Category::Utility, reg, "0.01");
    // September 1st local: the count resets.
    for at in ["2025-09-01T03:00:00Z", "2025-09-01T04:00:00Z"] {
        let o = util(&mut w, at, BRAZIL);
        assert_pmp(&o, Category::Utility, reg, "0.03");
    }
    let o = util(&mut w, "2025-09-01T05:00:00Z", BRAZIL);
    assert_pmp(&o, Category::Utility, reg, "0.02");
}

// ---------------------------------------------------------------------------------------
// §2 / §8 / §9b errors
// ---------------------------------------------------------------------------------------

#[test]
fn free_form_outside_the_window_fails_131047() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T10:00:00Z");
    let o = w.send(at, BRAZIL, FF);
    assert_failed(&o, Failure::OutsideServiceWindow);
    let f = Failure::OutsideServiceWindow;
    assert_eq!(f.code(), 131047);
    assert_eq!(f.title(), "Re-engagement message");
    assert_eq!(
        f.details(),
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    );
    // Even with an open template conversation.
    w.opt_in(BRAZIL);
    assert_opened(&w.send(at, BRAZIL, MKT), Category::Marketing, "0.06");
    assert_failed(&w.send(at.plus_hours(1), BRAZIL, FF), f);
    // Free-form fails regardless of opt-in: it is never a consent rejection.
    let mut w = Waba::utc();
    assert_failed(&w.send(at, BRAZIL2, FF), f);
}

#[test]
fn marketing_stopped_fails_131050_and_resume_makes_it_deliverable() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T10:00:00Z");
    w.opt_in(BRAZIL);
    w.e.marketing_stop(wa(BRAZIL));
    assert!(w.e.consent_of(wa(BRAZIL)).marketing_stopped);
    let f = Failure::MarketingOptedOut;
    assert_failed(&w.send(at, BRAZIL, MKT), f);
    assert_eq!(f.code(), 131050);
    assert_eq!(
        f.title(),
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business"
    );
    // Only marketing.
    assert_opened(&w.send(at, BRAZIL, UTIL), Category::Utility, "0.03");
    // Also inside a window.
    w.inbound(at.plus_hours(1), BRAZIL);
    assert_failed(&w.send(at.plus_hours(2), BRAZIL, MKT), f);
    w.e.marketing_resume(wa(BRAZIL));
    assert!(!w.e.consent_of(wa(BRAZIL)).marketing_stopped);
    assert_opened(
        &w.send(at.plus_hours(3), BRAZIL, MKT),
        Category::Marketing,
        "0.06",
    );
}

#[test]
fn marketing_to_us_numbers_fails_131049_from_2025_04_01() {
    let mut w = Waba::utc();
    w.opt_in(US);
    w.opt_in(CANADA);
    let f = Failure::EcosystemLimit;
    assert_eq!(f.code(), 131049);
    assert_eq!(
        f.title(),
        "This message was not delivered to maintain healthy ecosystem engagement."
    );
    let o = w.send(t("2025-03-31T23:59:59.999Z"), US, MKT);
    assert_opened(&o, Category::Marketing, "0.025");
    // From 2025-04-01, even with the marketing conversation still open.
    let o = w.send(t("2025-04-01T00:00:00Z"), US, MKT);
    assert_eq!(o.version, PricingVersion::V2_2);
    assert_failed(&o, f);
    // Not to a Canadian +1 number, and not other categories.
    let o = w.send(t("2025-04-02T08:00:00Z"), CANADA, MKT);
    assert_opened(&o, Category::Marketing, "0.025");
    let o = w.send(t("2025-04-02T08:00:00Z"), US, UTIL);
    assert_opened(&o, Category::Utility, "0.015");
    // Still under per-message pricing.
    assert_failed(&w.send(t("2025-08-04T08:00:00Z"), US, MKT), f);

    // Judged at local midnight: 03:59Z on April 1st is still March 31st in New York.
    let mut ny = Waba::new(zoned("America/New_York"));
    ny.opt_in(US);
    let o = ny.send(t("2025-04-01T03:59:59Z"), US, MKT);
    assert_eq!(o.status, SendStatus::Delivered);
    let mut ny = Waba::new(zoned("America/New_York"));
    ny.opt_in(US);
    assert_failed(&ny.send(t("2025-04-01T04:00:00Z"), US, MKT), f);
}

#[test]
fn undeliverable_fails_131026_opens_nothing_and_the_next_message_opens() {
    let mut w = Waba::utc();
    w.opt_in(BRAZIL);
    let at = t("2023-06-05T08:00:00Z");
    let f = Failure::Undeliverable;
    assert_eq!(f.code(), 131026);
    assert_failed(&w.undelivered(at, BRAZIL, MKT), f);
    let o = w.send(at.plus_hours(1), BRAZIL, MKT);
    let id = assert_opened(&o, Category::Marketing, "0.06");
    assert_eq!(expiry(&o), at.plus_hours(25));
    // An undelivered message inside an open conversation: failed, reports no conversation.
    assert_failed(&w.undelivered(at.plus_hours(2), BRAZIL, MKT), f);
    assert_joined(&w.send(at.plus_hours(3), BRAZIL, MKT), id);
    // Same for service.
    w.inbound(at, BRAZIL2);
    assert_failed(&w.undelivered(at, BRAZIL2, FF), f);
    assert_opened(&w.send(at, BRAZIL2, FF), Category::Service, "0");
}

#[test]
fn failures_are_reported_in_the_order_of_checks() {
    let mut w = Waba::utc();
    w.opt_in(US);
    let at = t("2025-05-05T08:00:00Z");
    // 131047 before 131026.
    assert_failed(&w.undelivered(at, US, FF), Failure::OutsideServiceWindow);
    // 131049 before 131026.
    assert_failed(&w.undelivered(at, US, MKT), Failure::EcosystemLimit);
    // 131050 before 131049 and 131026.
    w.e.marketing_stop(wa(US));
    assert_failed(&w.undelivered(at, US, MKT), Failure::MarketingOptedOut);
    assert_failed(&w.send(at, US, MKT), Failure::MarketingOptedOut);
    // Missing opt-in is refused synchronously, before any of them.
    w.e.opt_out(wa(US));
    assert_rejected(&w.undelivered(at, US, MKT));
    assert_rejected(&w.undelivered(at, US, UTIL));
}

#[test]
fn no_opt_in_is_rejected_under_enforce() {
    let mut w = Waba::utc();
    let at = t("2023-06-05T08:00:00Z");
    for msg in [MKT, UTIL, AUTH] {
        let o = w.send(at, BRAZIL, msg);
        assert_rejected(&o);
        assert!(!o.consent_warning);
    }
    let r = Rejection::NoOptIn;
    assert_eq!(r.code(), NO_OPT_IN_CODE);
    assert_eq!(r.reason(), "no_opt_in");
    // Not a Meta code.
    assert!(![131047, 131050, 131049, 131026, 131056, 130429].contains(&r.code()));
    w.opt_in(BRAZIL);
    assert!(w.e.consent_of(wa(BRAZIL)).opted_in);
    assert_opened(&w.send(at, BRAZIL, MKT), Category::Marketing, "0.06");
    // Opt-out withdraws it.
    w.e.opt_out(wa(BRAZIL));
    assert!(!w.e.consent_of(wa(BRAZIL)).opted_in);
    assert_rejected(&w.send(at.plus_hours(1), BRAZIL, UTIL));
    // Even joining an open conversation needs it outside a window.
    assert_rejected(&w.send(at.plus_hours(1), BRAZIL, MKT));
}

#[test]
fn warn_mode_sends_with_a_warning_and_off_ignores_consent() {
    let at = t("2023-06-05T08:00:00Z");
    let mut warn = Waba::new(EngineConfig {
        consent: ConsentMode::Warn,
        ..config()
    });
    let o = warn.send(at, BRAZIL, MKT);
    assert!(o.consent_warning);
    assert_opened(&o, Category::Marketing, "0.06");
    warn.opt_in(BRAZIL);
    let o = warn.send(at, BRAZIL, UTIL);
    assert!(!o.consent_warning);
    assert_opened(&o, Category::Utility, "0.03");
    // A free-form message never carries a consent warning.
    warn.inbound(at, BRAZIL2);
    let o = warn.send(at, BRAZIL2, FF);
    assert!(!o.consent_warning);

    let mut off = Waba::new(EngineConfig {
        consent: ConsentMode::Off,
        ..config()
    });
    let o = off.send(at, BRAZIL, MKT);
    assert!(!o.consent_warning);
    assert_opened(&o, Category::Marketing, "0.06");
}

#[test]
fn a_user_who_wrote_first_needs_no_opt_in() {
    for mode in [ConsentMode::Enforce, ConsentMode::Warn] {
        let mut w = Waba::new(EngineConfig {
            consent: mode,
            ..config()
        });
        let at = t("2023-06-05T08:00:00Z");
        w.inbound(at, BRAZIL);
        let o = w.send(at.plus_hours(1), BRAZIL, MKT);
        assert!(!o.consent_warning);
        assert_opened(&o, Category::Marketing, "0.06");
        let o = w.send(ms(at.plus_hours(24), -1), BRAZIL, UTIL);
        assert!(!o.consent_warning);
        assert_opened(&o, Category::Utility, "0.03");
        // Once the window has closed, opt-in is needed again.
        let o = w.send(at.plus_hours(24), BRAZIL, AUTH);
        match mode {
            ConsentMode::Enforce => assert_rejected(&o),
            _ => {
                assert!(o.consent_warning);
                assert_opened(&o, Category::Authentication, "0.02");
            }
        }
    }
}

#[test]
fn a_missing_rate_fails_naming_market_and_category() {
    let mut w = Waba::utc();
    w.opt_in(FRANCE);
    let at = t("2023-06-05T08:00:00Z");
    let e =
        w.e.send(at, wa(BIZ), wa(FRANCE), MKT, Delivery::Delivered)
            .unwrap_err();
    match &e {
        RateError::Missing {
            market, category, ..
        } => {
            assert_eq!(market, "France");
            assert_eq!(*category, Category::Marketing);
        }
        other => panic!("expected RateError::Missing, got {other:?}"),
    }
    let s = e.to_string();
    assert!(s.contains("France") && s.contains("marketing"), "{s}");
    // Per-message pricing too.
    let e =
        w.e.send(
            t("2025-08-04T08:00:00Z"),
            wa(BIZ),
            wa(FRANCE),
            UTIL,
            Delivery::Delivered,
        )
        .unwrap_err();
    assert!(
        matches!(e, RateError::Missing { ref market, category: Category::Utility, .. } if market == "France")
    );

    // A card without the v0 columns cannot price a v0 conversation once the free tier (which
    // costs nothing, so needs no rate) is used up.
    let mut v0 = Waba::new(config_from(RATES_TEST_CSV));
    let start = t("2023-03-01T00:00:00Z");
    for i in 0..1000 {
        let user = nth_user(i);
        v0.inbound(ms(start, i as i64 * 1000), &user);
        let o = v0.send(ms(start, i as i64 * 1000), &user, FF);
        assert_opened(&o, Category::UserInitiated, "0");
    }
    v0.opt_in(BRAZIL);
    let e =
        v0.e.send(
            t("2023-03-06T08:00:00Z"),
            wa(BIZ),
            wa(BRAZIL),
            MKT,
            Delivery::Delivered,
        )
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("Brazil") && s.contains("business_initiated"),
        "{s}"
    );
}

#[test]
fn a_missing_rate_allowed_is_priced_none() {
    let mut w = Waba::new(EngineConfig {
        missing_rates: MissingRates::Allow,
        ..config()
    });
    w.opt_in(FRANCE);
    let o = w.send(t("2023-06-05T08:00:00Z"), FRANCE, MKT);
    assert_eq!(o.status, SendStatus::Delivered);
    let c = o.conversation.unwrap();
    assert!(c.opened);
    assert_eq!(c.category, Category::Marketing);
    assert_eq!(o.pricing.unwrap().charge, None);
    assert_eq!(o.opened.as_ref().unwrap().charge, None);
    // Joining it is still free.
    assert_joined(&w.send(t("2023-06-05T09:00:00Z"), FRANCE, MKT), c.id);
    let o = w.send(t("2025-08-04T08:00:00Z"), FRANCE, AUTH);
    assert_eq!(o.status, SendStatus::Delivered);
    assert_eq!(o.pricing.unwrap().model, PricingModel::Pmp);
    assert_eq!(o.pricing.unwrap().charge, None);
}

// ---------------------------------------------------------------------------------------
// v1.1 authentication-international
// ---------------------------------------------------------------------------------------

#[test]
fn authentication_international_in_india_from_2024_07_01() {
    let mut w = Waba::new(EngineConfig {
        authentication_international: true,
        ..config()
    });
    for u in [INDIA, INDONESIA, BRAZIL] {
        w.opt_in(u);
    }
    // Indonesia from 2024-06-01; not under v1.
    assert_opened(
        &w.send(t("2024-05-31T12:00:00Z"), INDONESIA, AUTH),
        Category::Authentication,
        "0.03",
    );
    assert_opened(
        &w.send(t("2024-06-01T12:00:00Z"), INDONESIA, AUTH),
        Category::AuthenticationInternational,
        "0.136",
    );
    // Before 2024-07-01 (v1.1 already in force): plain authentication in India.
    let o = w.send(t("2024-06-30T12:00:00Z"), INDIA, AUTH);
    assert_eq!(o.version, PricingVersion::V1_1);
    let auth = assert_opened(&o, Category::Authentication, "0.004");
    // Same slot: an authentication template while it is open joins it.
    assert_joined(&w.send(t("2024-07-01T11:00:00Z"), INDIA, AUTH), auth);
    // From 2024-07-01: the international rate.
    let o = w.send(t("2024-07-01T12:00:00Z"), INDIA, AUTH);
    let intl = assert_opened(&o, Category::AuthenticationInternational, "0.028");
    assert_joined(&w.send(t("2024-07-01T13:00:00Z"), INDIA, AUTH), intl);
    // Other categories are unaffected.
    assert_opened(
        &w.send(t("2024-07-01T13:00:00Z"), INDIA, UTIL),
        Category::Utility,
        "0.004",
    );
    // A market without the rate on the card: plain authentication.
    assert_opened(
        &w.send(t("2024-07-01T13:00:00Z"), BRAZIL, AUTH),
        Category::Authentication,
        "0.02",
    );
    // Per-message pricing.
    assert_pmp(
        &w.send(t("2025-08-04T08:00:00Z"), INDIA, AUTH),
        Category::AuthenticationInternational,
        PricingType::Regular,
        "0.028",
    );

    // Not eligible: plain authentication.
    let mut plain = Waba::utc();
    plain.opt_in(INDIA);
    assert_opened(
        &plain.send(t("2024-07-02T12:00:00Z"), INDIA, AUTH),
        Category::Authentication,
        "0.004",
    );
}

// ---------------------------------------------------------------------------------------
// §9b a failed or rejected message changes no state
// ---------------------------------------------------------------------------------------

#[test]
fn failed_and_rejected_messages_change_no_state() {
    const NO_WINDOW: &str = "5511987650009";
    const STOPPED: &str = "5511987650008";
    const NO_OPT_IN: &str = "5511987650007";
    enum Step {
        Inbound(&'static str, bool),
        Send(&'static str, Outbound),
    }
    let script: Vec<(&str, Step)> = vec![
        ("2023-06-05T08:00:00Z", Step::Send(BRAZIL, MKT)),
        ("2023-06-05T09:00:00Z", Step::Inbound(BRAZIL2, false)),
        ("2023-06-05T09:30:00Z", Step::Send(BRAZIL2, FF)),
        ("2023-06-05T10:00:00Z", Step::Send(INDIA, UTIL)),
        ("2023-06-05T11:00:00Z", Step::Send(BRAZIL2, UTIL)),
        ("2023-06-06T09:00:00Z", Step::Send(BRAZIL, MKT)),
        ("2023-06-07T10:00:00Z", Step::Inbound(BRAZIL, true)),
        ("2023-06-07T11:00:00Z", Step::Send(BRAZIL, FF)),
        ("2023-06-07T12:00:00Z", Step::Send(BRAZIL, MKT)),
        ("2025-05-05T08:00:00Z", Step::Send(CANADA, MKT)),
        ("2025-05-05T09:00:00Z", Step::Send(US, UTIL)),
        ("2025-08-04T08:00:00Z", Step::Send(INDIA, UTIL)),
        ("2025-08-04T09:00:00Z", Step::Send(INDIA, UTIL)),
    ];
    let setup = |w: &mut Waba| {
        for u in [BRAZIL, BRAZIL2, INDIA, US, CANADA, NO_WINDOW, STOPPED] {
            w.opt_in(u);
        }
        w.e.marketing_stop(wa(STOPPED));
    };
    let mut clean = Waba::utc();
    let mut noisy = Waba::utc();
    setup(&mut clean);
    setup(&mut noisy);
    let mut failed = 0;
    for (at, step) in &script {
        let at = t(at);
        match step {
            Step::Inbound(u, referral) => {
                clean.e.inbound(at, wa(BIZ), wa(u), *referral);
                noisy.e.inbound(at, wa(BIZ), wa(u), *referral);
            }
            Step::Send(u, msg) => {
                // Noise first, 1 ms before: every one of these must fail or be refused.
                let before = ms(at, -1);
                let mut noise = vec![
                    noisy.undelivered(before, u, *msg),
                    noisy.send(before, NO_WINDOW, FF),
                    noisy.send(before, STOPPED, MKT),
                    noisy.send(before, NO_OPT_IN, UTIL),
                ];
                if before >= t("2025-04-01T00:00:00Z") {
                    noise.push(noisy.send(before, US, MKT));
                }
                for o in &noise {
                    assert_ne!(o.status, SendStatus::Delivered, "{o:?}");
                    assert!(o.conversation.is_none() && o.pricing.is_none() && o.opened.is_none());
                }
                failed += noise.len();
                let a = clean.send(at, u, *msg);
                let b = noisy.send(at, u, *msg);
                assert_eq!(a, b, "at {at}");
                assert_eq!(a.status, SendStatus::Delivered, "{a:?}");
            }
        }
    }
    assert!(failed > 0);
}
