//! Property tests of the event parser.
//!
//! `parse_event` reads a line with a hand-written fast path (`scan_flat`) and falls back to
//! serde_json for anything it does not handle. These properties hold the two to the same
//! reading: random JSON-ish lines (valid events in random field order, random whitespace
//! and escapes, unknown extra fields with nested values and numbers, nulls, duplicate keys,
//! garbled bytes) are parsed and compared with
//! - a reference built from `serde_json::Value` (independent of both paths), and
//! - the same line with one extra unknown numeric field, which always forces the serde path.
//!
//! Any byte string must be refused or accepted without a panic.

// Test helpers fail loudly: the workspace lints against this are for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use openwaba_engine::{Instant, Outbound, TemplateCategory, WaId};
use openwaba_replay::event::{parse_event, Event, EventKind, LogError};
use openwaba_replay::{for_each_event, ReplayError};
use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

// ---------------------------------------------------------------------------------------
// A JSON model, rendered with random whitespace and escapes.

#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Num(&'static str),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// How a line is written. Decisions come from a small PRNG seeded by the test case, so a
/// case is reproducible from its seed.
struct Style {
    state: u64,
    /// Escape characters that need no escape, now and then.
    gratuitous_escapes: bool,
    /// Only printable ASCII: everything else escaped, spaces as the only whitespace.
    ascii_only: bool,
    /// Whitespace between tokens may include tabs and line breaks.
    newlines: bool,
}

impl Style {
    fn new(seed: u64, ascii_only: bool, newlines: bool) -> Style {
        let mut s = Style {
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            gratuitous_escapes: false,
            ascii_only,
            newlines,
        };
        s.gratuitous_escapes = s.below(3) == 0;
        s
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn ws(&mut self, out: &mut Vec<u8>) {
        const ALL: [&str; 9] = ["", "", "", " ", "  ", "\t", "\n", "\r\n", " \t "];
        const SPACES: [&str; 4] = ["", "", " ", "  "];
        let w = if self.ascii_only || !self.newlines {
            SPACES[self.below(SPACES.len() as u64) as usize]
        } else {
            ALL[self.below(ALL.len() as u64) as usize]
        };
        out.extend_from_slice(w.as_bytes());
    }

    fn escape_u(out: &mut Vec<u8>, c: char, upper: bool) {
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            let s = if upper {
                format!("\\u{:04X}", u)
            } else {
                format!("\\u{:04x}", u)
            };
            out.extend_from_slice(s.as_bytes());
        }
    }

    fn string(&mut self, out: &mut Vec<u8>, s: &str) {
        out.push(b'"');
        for c in s.chars() {
            let upper = self.below(2) == 0;
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' if self.below(2) == 0 => out.extend_from_slice(b"\\n"),
                '\t' if self.below(2) == 0 => out.extend_from_slice(b"\\t"),
                '\r' if self.below(2) == 0 => out.extend_from_slice(b"\\r"),
                '\u{8}' if self.below(2) == 0 => out.extend_from_slice(b"\\b"),
                '\u{c}' if self.below(2) == 0 => out.extend_from_slice(b"\\f"),
                c if (c as u32) < 0x20 => Self::escape_u(out, c, upper),
                c if self.ascii_only && !(' '..='~').contains(&c) => Self::escape_u(out, c, upper),
                '/' if self.gratuitous_escapes && self.below(3) == 0 => {
                    out.extend_from_slice(b"\\/")
                }
                c if self.gratuitous_escapes && self.below(5) == 0 => Self::escape_u(out, c, upper),
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        out.push(b'"');
    }

    fn value(&mut self, out: &mut Vec<u8>, v: &J) {
        match v {
            J::Null => out.extend_from_slice(b"null"),
            J::Bool(true) => out.extend_from_slice(b"true"),
            J::Bool(false) => out.extend_from_slice(b"false"),
            J::Num(n) => out.extend_from_slice(n.as_bytes()),
            J::Str(s) => self.string(out, s),
            J::Arr(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.ws(out);
                    self.value(out, item);
                    self.ws(out);
                }
                out.push(b']');
            }
            J::Obj(entries) => self.object(out, entries),
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, entries: &[(String, J)]) {
        self.ws(out);
        out.push(b'{');
        self.ws(out);
        for (i, (k, v)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
                self.ws(out);
            }
            self.string(out, k);
            self.ws(out);
            out.push(b':');
            self.ws(out);
            self.value(out, v);
            self.ws(out);
        }
        out.push(b'}');
        self.ws(out);
    }
}

fn render(entries: &[(String, J)], seed: u64, ascii_only: bool, newlines: bool) -> Vec<u8> {
    let mut out = Vec::new();
    Style::new(seed, ascii_only, newlines).object(&mut out, entries);
    out
}

// ---------------------------------------------------------------------------------------
// Strategies.

const NUMBERS: [&str; 10] = [
    "0",
    "-0",
    "1",
    "-17",
    "3.25",
    "1e3",
    "-2.5E-3",
    "1E+2",
    "0.000001",
    "123456789012345678901234",
];

const AT_OK: [&str; 7] = [
    "2023-06-05T09:30:00Z",
    "2024-02-29T23:59:59.999Z",
    "2023-06-05T09:30:00+02:00",
    "2023-06-05t09:30:00z",
    "2025-07-01T00:00:00.5-03:00",
    "2023-06-05T09:30:00.123456Z",
    "2023-06-05 09:30:00Z",
];
const AT_BAD: [&str; 9] = [
    "2023-06-05",
    "2023-02-29T00:00:00Z",
    "2023-06-05T24:00:00Z",
    "",
    "yesterday",
    "2023-06-05T09:30:00",
    "2023-06-05T09:30:00+2:00",
    "2023-06-05T09:30:00.Z",
    "\u{ff12}023-06-05T09:30:00Z",
];
const EVENT_OK: [&str; 6] = [
    "inbound",
    "send",
    "opt_in",
    "opt_out",
    "marketing_stop",
    "marketing_resume",
];
const EVENT_BAD: [&str; 5] = ["call", "Send", "", "send ", "opt-in"];
const NUMBER_OK: [&str; 5] = [
    "15550001111",
    "5511987650001",
    "4915112345678",
    "1234567",
    "123456789012345",
];
const NUMBER_BAD: [&str; 7] = [
    "+5511987650001",
    "05511987650001",
    "123456",
    "1234567890123456",
    "55 11 98765",
    "",
    "\u{ff15}511987650001",
];
const ID_OK: [&str; 7] = [
    "m1",
    "wamid.HBgM",
    "m\"2",
    "a\\b",
    "\u{e9}",
    "\u{1F600}",
    "x/y",
];
const KIND_OK: [&str; 5] = ["text", "template", "image", "interactive", "Template"];
const CATEGORY_OK: [&str; 5] = [
    "marketing",
    "utility",
    "authentication",
    "MARKETING",
    "Utility",
];
const CATEGORY_BAD: [&str; 4] = ["promo", "", "authentication_international", "service"];

const KNOWN: [&str; 9] = [
    "at",
    "event",
    "business",
    "user",
    "id",
    "kind",
    "category",
    "delivered",
    "referral",
];
const BOOL_FIELDS: [&str; 2] = ["delivered", "referral"];

const EXTRA_KEYS: [&str; 14] = [
    "extra",
    "x",
    "AT",
    "Event",
    "at ",
    " user",
    "kind2",
    "",
    "\u{e9}t\u{e9}",
    "\u{1F600}",
    "a\"b",
    "a\\b",
    "\u{0}",
    "nested",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,8}",
        "[\\x00-\\x1f\"\\\\/a-z\u{e9}\u{1F600}]{0,6}",
        "[a-z0-9._-]{0,10}",
    ]
}

fn scalar() -> impl Strategy<Value = J> {
    prop_oneof![
        2 => Just(J::Null),
        2 => any::<bool>().prop_map(J::Bool),
        2 => prop::sample::select(&NUMBERS[..]).prop_map(J::Num),
        4 => text().prop_map(J::Str),
    ]
}

fn nested() -> impl Strategy<Value = J> {
    scalar().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(J::Arr),
            prop::collection::vec((text(), inner), 0..4).prop_map(J::Obj),
        ]
    })
}

/// A value of the wrong type for a string field.
fn not_a_string() -> impl Strategy<Value = J> {
    prop_oneof![
        any::<bool>().prop_map(J::Bool),
        prop::sample::select(&NUMBERS[..]).prop_map(J::Num),
        prop::collection::vec(scalar(), 0..3).prop_map(J::Arr),
        prop::collection::vec((text(), scalar()), 0..3).prop_map(J::Obj),
    ]
}

/// A string field: absent, a good value, a bad value, any string, null or another type.
fn string_field(
    good: &'static [&'static str],
    bad: &'static [&'static str],
    absent: u32,
) -> impl Strategy<Value = Option<J>> {
    prop_oneof![
        absent => Just(None),
        60 => prop::sample::select(good).prop_map(|s| Some(J::Str(s.to_owned()))),
        3 => prop::sample::select(bad).prop_map(|s| Some(J::Str(s.to_owned()))),
        1 => text().prop_map(|s| Some(J::Str(s))),
        1 => Just(Some(J::Null)),
        1 => not_a_string().prop_map(Some),
    ]
}

fn bool_field() -> impl Strategy<Value = Option<J>> {
    prop_oneof![
        16 => Just(None),
        16 => any::<bool>().prop_map(|b| Some(J::Bool(b))),
        1 => Just(Some(J::Null)),
        1 => prop::sample::select(&["true", "false", "yes", ""][..])
            .prop_map(|s| Some(J::Str(s.to_owned()))),
        1 => prop::sample::select(&NUMBERS[..]).prop_map(|n| Some(J::Num(n))),
        1 => prop::collection::vec(scalar(), 0..2).prop_map(|v| Some(J::Arr(v))),
    ]
}

fn known_value(name: &'static str) -> BoxedStrategy<Option<J>> {
    match name {
        "at" => string_field(&AT_OK, &AT_BAD, 1).boxed(),
        "event" => prop_oneof![
            3 => string_field(&["send"], &EVENT_BAD, 1),
            2 => string_field(&["inbound"], &EVENT_BAD, 1),
            2 => string_field(&EVENT_OK, &EVENT_BAD, 1),
        ]
        .boxed(),
        "business" | "user" => string_field(&NUMBER_OK, &NUMBER_BAD, 1).boxed(),
        "id" => string_field(&ID_OK, &[""], 1).boxed(),
        "kind" => string_field(&KIND_OK, &[""], 1).boxed(),
        "category" => string_field(&CATEGORY_OK, &CATEGORY_BAD, 60).boxed(),
        _ => bool_field().boxed(),
    }
}

/// The entries of one line, shuffled: known fields, unknown extras, sometimes a repeated key.
fn entries() -> impl Strategy<Value = Vec<(String, J)>> {
    let known: Vec<BoxedStrategy<Option<(String, J)>>> = KNOWN
        .iter()
        .map(|&k| {
            known_value(k)
                .prop_map(move |v| v.map(|v| (k.to_owned(), v)))
                .boxed()
        })
        .collect();
    let extras = prop::collection::vec(
        (
            prop_oneof![
                3 => prop::sample::select(&EXTRA_KEYS[..]).prop_map(str::to_owned),
                1 => text(),
            ],
            prop_oneof![3 => scalar(), 1 => nested()],
        ),
        0..3,
    );
    let extras = prop_oneof![2 => Just(Vec::new()), 1 => extras];
    let duplicate = prop::option::weighted(
        0.08,
        prop::sample::select(&KNOWN[..]).prop_flat_map(|k| {
            known_value(k).prop_map(move |v| (k.to_owned(), v.unwrap_or(J::Null)))
        }),
    );
    (known, extras, duplicate)
        .prop_map(|(known, extras, duplicate)| {
            let mut all: Vec<(String, J)> = known.into_iter().flatten().collect();
            all.extend(extras);
            all.extend(duplicate);
            all
        })
        .prop_shuffle()
}

/// Changes a few bytes: truncates, deletes, inserts or replaces (printable ASCII only).
fn garble(mut b: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(pos, op, byte) in edits {
        let byte = b' ' + byte % 95;
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let i = pos % b.len();
        match op % 4 {
            0 => b.truncate(i),
            1 => {
                b.remove(i);
            }
            2 => b.insert(i, byte),
            _ => b[i] = byte,
        }
    }
    b
}

// ---------------------------------------------------------------------------------------
// The reference: serde_json::Value and the engine's own value parsers.

/// An object's entries in order, repeated keys kept.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry::<String, Value>()? {
                    v.push(e);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug)]
enum Expected {
    /// serde_json does not read the line as JSON.
    NotJson,
    /// JSON, but not an object.
    NotObject,
    /// A known key appears twice: refused, for whatever reason.
    Duplicate,
    /// Refused, naming one of these fields.
    Fault(Vec<&'static str>),
    /// Accepted as this event.
    Event {
        at: Instant,
        business: WaId,
        user: WaId,
        kind: EventKind<'static>,
    },
    /// JSON that serde_json::Value cannot hold (a huge number, a lone surrogate): no verdict.
    Unknown,
}

fn reference(bytes: &[u8]) -> Expected {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        // Valid JSON by RFC 8259's grammar that Value cannot hold: a number out of f64's
        // range, a lone surrogate escape (serde_json skips both in ignored fields).
        Err(e)
            if [
                "number out of range",
                "surrogate",
                "unexpected end of hex escape",
            ]
            .iter()
            .any(|m| e.to_string().contains(m)) =>
        {
            return Expected::Unknown
        }
        Err(_) => return Expected::NotJson,
    };
    if !value.is_object() {
        return Expected::NotObject;
    }
    let Entries(entries) = serde_json::from_slice(bytes).expect("an object has entries");
    let mut seen = HashSet::new();
    for (k, _) in &entries {
        if KNOWN.contains(&k.as_str()) && !seen.insert(k.clone()) {
            return Expected::Duplicate;
        }
    }
    let fields: HashMap<&str, &Value> = entries
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    // Types first: a wrong type is reported before any value is judged.
    let type_faults: Vec<&'static str> = KNOWN
        .iter()
        .copied()
        .filter(|k| match fields.get(k) {
            None => false,
            Some(v) if BOOL_FIELDS.contains(k) => !v.is_boolean(),
            Some(v) => !v.is_string(),
        })
        .collect();
    if !type_faults.is_empty() {
        return Expected::Fault(type_faults);
    }
    let s = |k: &str| fields.get(k).and_then(|v| v.as_str());
    let b = |k: &str| fields.get(k).and_then(|v| v.as_bool());
    let mut faults = Vec::new();
    let at = s("at").and_then(|v| Instant::parse_rfc3339(v).ok());
    if at.is_none() {
        faults.push("at");
    }
    let business = s("business").and_then(|v| WaId::parse(v).ok());
    if business.is_none() {
        faults.push("business");
    }
    let user = s("user").and_then(|v| WaId::parse(v).ok());
    if user.is_none() {
        faults.push("user");
    }
    let kind = match s("event") {
        Some("inbound") => Some(EventKind::Inbound {
            referral: b("referral").unwrap_or(false),
        }),
        Some("opt_in") => Some(EventKind::OptIn),
        Some("opt_out") => Some(EventKind::OptOut),
        Some("marketing_stop") => Some(EventKind::MarketingStop),
        Some("marketing_resume") => Some(EventKind::MarketingResume),
        Some("send") => {
            let id = s("id").filter(|id| !id.is_empty());
            if id.is_none() {
                faults.push("id");
            }
            let message = match s("kind") {
                None | Some("") => {
                    faults.push("kind");
                    None
                }
                Some("template") => {
                    let c = s("category").and_then(|c| c.parse::<TemplateCategory>().ok());
                    if c.is_none() {
                        faults.push("category");
                    }
                    c.map(Outbound::Template)
                }
                Some(_) => {
                    if s("category").is_some() {
                        faults.push("category");
                    }
                    Some(Outbound::FreeForm)
                }
            };
            match (id, message) {
                (Some(id), Some(message)) => Some(EventKind::Send {
                    id: Cow::Owned(id.to_owned()),
                    message,
                    delivered: b("delivered").unwrap_or(true),
                }),
                _ => None,
            }
        }
        _ => {
            faults.push("event");
            None
        }
    };
    match (faults.is_empty(), at, business, user, kind) {
        (true, Some(at), Some(business), Some(user), Some(kind)) => Expected::Event {
            at,
            business,
            user,
            kind,
        },
        _ => Expected::Fault(faults),
    }
}

/// Holds `parse_event`'s verdict on `bytes` against the reference.
fn check_against_reference(line: u64, bytes: &[u8]) -> Result<(), TestCaseError> {
    let got = parse_event(line, bytes);
    let show = || String::from_utf8_lossy(bytes).into_owned();
    if let Err(e) = &got {
        prop_assert_eq!(e.line, line, "wrong line in {:?} for {:?}", e, show());
        prop_assert!(!e.message.is_empty());
    }
    match reference(bytes) {
        Expected::Unknown => {}
        Expected::NotJson | Expected::NotObject => match got {
            Ok(ev) => prop_assert!(
                false,
                "accepted a line serde_json does not read as an object: {:?} -> {:?}",
                show(),
                ev
            ),
            Err(e) => prop_assert_eq!(e.field, None, "{:?} for {:?}", e, show()),
        },
        Expected::Duplicate => {
            prop_assert!(
                got.is_err(),
                "accepted a repeated key: {:?} -> {:?}",
                show(),
                got
            );
        }
        Expected::Fault(fields) => match got {
            Ok(ev) => prop_assert!(
                false,
                "accepted {:?} as {:?}; expected a fault in one of {:?}",
                show(),
                ev,
                fields
            ),
            Err(e) => prop_assert!(
                e.field.is_some_and(|f| fields.contains(&f)),
                "{:?} for {:?}: expected a fault in one of {:?}",
                e,
                show(),
                fields
            ),
        },
        Expected::Event {
            at,
            business,
            user,
            kind,
        } => match got {
            Err(e) => prop_assert!(false, "refused {:?}: {:?}", show(), e),
            Ok(ev) => {
                prop_assert_eq!(ev.line, line);
                prop_assert_eq!(ev.at, at);
                prop_assert_eq!(ev.business, business);
                prop_assert_eq!(ev.user, user);
                prop_assert_eq!(ev.kind, kind, "for {:?}", show());
            }
        },
    }
    Ok(())
}

/// Only the parts of an error that do not depend on byte positions.
fn verdict<'a>(r: &Result<Event<'a>, LogError>) -> Result<Event<'a>, (u64, Option<&'static str>)> {
    match r {
        Ok(e) => Ok(e.clone()),
        Err(e) => Err((e.line, e.field)),
    }
}

// ---------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Well-formed JSON lines: parse_event agrees with the reference built from Value.
    #[test]
    fn agrees_with_the_serde_value_reference(
        entries in entries(),
        seed in any::<u64>(),
        ascii_only in any::<bool>(),
        line in 1u64..1_000_000,
    ) {
        let bytes = render(&entries, seed, ascii_only, true);
        check_against_reference(line, &bytes)?;
    }

    /// The fast path and the serde path read a line the same way: one unknown numeric
    /// field more (which the fast path never takes) changes nothing.
    #[test]
    fn fast_path_and_serde_path_agree(
        entries in entries(),
        seed in any::<u64>(),
        ascii_only in any::<bool>(),
        at_front in any::<bool>(),
    ) {
        let plain = render(&entries, seed, ascii_only, true);
        let mut forced_entries = entries.clone();
        let forcing = ("~serde".to_owned(), J::Num("0"));
        if at_front {
            forced_entries.insert(0, forcing);
        } else {
            forced_entries.push(forcing);
        }
        let forced = render(&forced_entries, seed, ascii_only, true);
        let a = parse_event(3, &plain);
        let b = parse_event(3, &forced);
        prop_assert_eq!(
            verdict(&a),
            verdict(&b),
            "{:?} vs {:?}",
            String::from_utf8_lossy(&plain),
            String::from_utf8_lossy(&forced)
        );
    }

    /// Garbled lines (truncated, bytes deleted, inserted or replaced): never a panic, and
    /// still the reference's verdict.
    #[test]
    fn garbled_lines_agree_with_the_reference(
        entries in entries(),
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let bytes = garble(render(&entries, seed, true, false), &edits);
        check_against_reference(17, &bytes)?;
    }

    /// Any bytes: no panic, and an error names the line it was given.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = parse_event(9, &bytes) {
            prop_assert_eq!(e.line, 9);
        }
        let _ = for_each_event(&bytes[..], |_| Ok(()));
    }

    /// Token soup close to JSON: no panic; where serde_json reads an object, the reference.
    #[test]
    fn json_token_soup(tokens in prop::collection::vec(prop::sample::select(&[
        "{", "}", "[", "]", ":", ",", " ", "\"", "\\", "\\u00", "\\u", "41", "d800", "\"at\"",
        "\"event\"", "\"business\"", "\"user\"", "\"id\"", "\"kind\"", "\"category\"",
        "\"delivered\"", "\"referral\"", "\"x\"", "\"2023-06-05T09:30:00Z\"", "\"send\"",
        "\"inbound\"", "\"15550001111\"", "\"5511987650001\"", "\"m1\"", "\"text\"",
        "\"template\"", "\"marketing\"", "true", "false", "null", "0", "-1.5e3", "tru", "nul",
    ][..]), 0..40)) {
        let bytes = tokens.concat().into_bytes();
        check_against_reference(5, &bytes)?;
    }

    /// A log of generated lines: for_each_event yields the events parse_event accepts, in
    /// order, and stops at the first refused line (or the first step back in time) with
    /// its number.
    #[test]
    fn for_each_event_follows_parse_event(
        lines in prop::collection::vec((entries(), any::<u64>(), 0u8..8), 0..12),
    ) {
        let rendered: Vec<Vec<u8>> = lines
            .iter()
            .map(|(e, seed, blank)| if *blank == 0 { Vec::new() } else { render(e, *seed, false, false) })
            .collect();
        let log = rendered.join(&b'\n');
        let mut expected: Vec<String> = Vec::new();
        let mut expected_error: Option<u64> = None;
        let mut previous: Option<Instant> = None;
        for (i, l) in rendered.iter().enumerate() {
            let n = i as u64 + 1;
            let t = l.trim_ascii();
            if t.is_empty() {
                continue;
            }
            match parse_event(n, t) {
                Err(_) => {
                    expected_error = Some(n);
                    break;
                }
                Ok(ev) => {
                    if previous.is_some_and(|p| ev.at < p) {
                        expected_error = Some(n);
                        break;
                    }
                    previous = Some(ev.at);
                    expected.push(format!("{ev:?}"));
                }
            }
        }
        let mut got: Vec<String> = Vec::new();
        let r = for_each_event(&log[..], |ev| {
            got.push(format!("{ev:?}"));
            Ok(())
        });
        prop_assert_eq!(&got, &expected);
        match (r, expected_error) {
            (Ok(n), None) => prop_assert_eq!(n, expected.len() as u64),
            (Err(ReplayError::Log(e)), Some(n)) => prop_assert_eq!(e.line, n),
            (Err(ReplayError::OutOfOrder { line, .. }), Some(n)) => prop_assert_eq!(line, n),
            (r, e) => prop_assert!(false, "got {:?}, expected an error on line {:?}", r, e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Disagreements found by the properties above, kept as examples. (The first, control
// characters and invalid UTF-8 in unknown keys taken by the fast path, was fixed in
// 6e36b80; the second is still open, hence ignored.)

const TAIL: &str = r#""at":"2023-06-05T09:30:00Z","event":"opt_in","business":"15550001111","user":"5511987650001"}"#;

#[test]
fn fast_path_refuses_what_serde_refuses_in_keys() {
    for key in [&b"x\ty"[..], b"x\x01", b"x\xffy", b"\xc3"] {
        let mut line = b"{\"".to_vec();
        line.extend_from_slice(key);
        line.extend_from_slice(b"\":true,");
        line.extend_from_slice(TAIL.as_bytes());
        assert!(serde_json::from_slice::<Value>(&line).is_err());
        let got = parse_event(1, &line);
        assert!(
            got.is_err(),
            "accepted {:?}: {:?}",
            String::from_utf8_lossy(&line),
            got
        );
    }
}

#[test]
fn a_json_array_is_not_an_event() {
    let line = br#"["2023-06-05T09:30:00Z","opt_in","15550001111","5511987650001",null,null,null,null,null]"#;
    let got = parse_event(1, line);
    assert!(got.is_err(), "accepted an array: {got:?}");
}

#[test]
fn examples_of_each_path() {
    // Fast path: flat, no escapes.
    let flat = format!("{{{TAIL}");
    let e = parse_event(1, flat.as_bytes()).expect("fast path");
    assert_eq!(e.kind, EventKind::OptIn);
    // Escaped key and value: serde path, same event.
    let e2 = parse_event(
        1,
        br#"{"a\u0074":"2023-06-05T09:30:00Z","event":"opt\u005fin","business":"15550001111","user":"5511987650001"}"#,
    )
    .expect("serde path");
    assert_eq!(e, e2);
    // Null is absence, on both paths.
    let nulls = format!(r#"{{"referral":null,"x":[1,{{"y":null}}],{TAIL}"#);
    let e3 = parse_event(1, nulls.as_bytes()).expect("null referral");
    assert_eq!(e3, e);
    // A repeated known key is refused, even with the same value.
    let dup = format!(r#"{{"event":"opt_in",{TAIL}"#);
    assert!(parse_event(1, dup.as_bytes()).is_err());
    // A repeated unknown key is fine.
    let ok = format!(r#"{{"x":true,"x":false,{TAIL}"#);
    assert!(parse_event(1, ok.as_bytes()).is_ok());
}
