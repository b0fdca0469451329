//! A send's stored form: its message and its ledger entry as two JSON arrays in one row of
//! `sends` (migration 9), instead of a 21-column row in `messages` and an 18-column row in
//! `ledger`.
//!
//! Why: SQLite's cost of an insert grows with its columns (each is bound, copied into a
//! register and encoded into the record), and a second table is a second B-tree whose
//! right-hand pages every commit rewrites. Measured with callgrind (BENCHMARKS.md, eighth
//! session), the two inserts were most of the store writer's work per send. One row of two
//! text values costs a fraction of that, and the arrays are written here by hand: serde's
//! serializer, which scans every character for escapes, cost about what it saved (sixth
//! session). Why JSON and not a private binary format: the rows stay readable with SQLite's
//! own JSON operators, and the `messages` and `ledger` views (migration 9) show them with the
//! old columns, so a `sqlite3` shell sees what it always saw.
//!
//! Positions, not keys: an array carries no field names, so it is about as small as the
//! columns were. The views, [`MESSAGE_FIELDS`] and [`LEDGER_FIELDS`] name the positions;
//! the positions never move (a new field is appended).

use crate::ledger::LedgerEntry;
use crate::records::{MessageRecord, ShortText};
use crate::StoreError;
use serde::Deserialize;

/// The message array's fields, by position (the `messages` view's columns after `seq`, but
/// for `content` and `pricing`, which have columns of their own: they are JSON already, and
/// quoting them into the array would escape every one of their quotes).
pub const MESSAGE_FIELDS: [&str; 18] = [
    "id",
    "waba_id",
    "phone_number_id",
    "business",
    "recipient",
    "wa_id",
    "type_name",
    "template_category",
    "biz_opaque_callback_data",
    "context_message_id",
    "status",
    "error_code",
    "conversation_id",
    "conversation_category",
    "conversation_expires_at",
    "charge",
    "created_at",
    "receipt",
];

/// The ledger array's fields, by position (the `ledger` view's columns after `seq`). The
/// last six ([`LEDGER_SHARED`] of them) are what an entry shares with the message that booked
/// it: an entry stored in its message's row leaves them out when they are the message's (the
/// usual case, 80 bytes a send), and a reader takes them from the message.
pub const LEDGER_FIELDS: [&str; 17] = [
    "market",
    "country",
    "category",
    "model",
    "pricing_type",
    "direction",
    "amount",
    "currency",
    "card",
    "tier",
    "day",
    "waba_id",
    "phone_number_id",
    "business",
    "wa_id",
    "conversation_id",
    "at",
];

/// How many of [`LEDGER_FIELDS`] come from the message when an entry leaves them out.
pub const LEDGER_SHARED: usize = 6;

/// Writes one JSON array into a reused buffer.
struct Array<'b> {
    out: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> Array<'b> {
    fn start(out: &'b mut Vec<u8>) -> Array<'b> {
        out.push(b'[');
        Array { out, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.sep();
        json_string(self.out, s);
        self
    }

    fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    fn int(&mut self, i: i64) -> &mut Self {
        self.sep();
        self.out
            .extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        self
    }

    fn opt_int(&mut self, i: Option<i64>) -> &mut Self {
        match i {
            Some(i) => self.int(i),
            None => self.null(),
        }
    }

    fn null(&mut self) -> &mut Self {
        self.sep();
        self.out.extend_from_slice(b"null");
        self
    }

    fn end(&mut self) {
        self.out.push(b']');
    }
}

/// `s` as a JSON string: quoted, with `"`, `\` and control characters escaped (UTF-8 kept),
/// byte for byte as serde_json writes it. The common case, a short id or word with nothing to escape, is
/// one scan of 8 bytes at a time and one copy.
pub fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(at) = next_escape(bytes, start) {
        out.extend_from_slice(&bytes[start..at]);
        let b = bytes[at];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether `b` must be escaped in a JSON string.
fn must_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The index of the first byte at or after `from` that must be escaped. Eight bytes at a
/// time: a word has such a byte when one of its bytes is below 0x20, or equal to `"` or
/// `\` (the classic "has a zero byte" test on the word and its XORs; exact for whether,
/// not for which, so a hit is located byte by byte).
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let rest = bytes.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut at = from;
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hit = (w.wrapping_sub(0x20 * ONES) & !w & HIGH)
            | has_zero(w ^ (u64::from(b'"') * ONES))
            | has_zero(w ^ (u64::from(b'\\') * ONES));
        if hit != 0 {
            if let Some(i) = chunk.iter().position(|&b| must_escape(b)) {
                return Some(at + i);
            }
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| must_escape(b))
        .map(|i| at + i)
}

/// Appends `m`'s array (the fields of [`MESSAGE_FIELDS`], in order; not `content` nor
/// `pricing`) to `out`.
pub fn encode_message(out: &mut Vec<u8>, m: &MessageRecord) {
    let mut a = Array::start(out);
    a.str(&m.id)
        .str(&m.waba_id)
        .str(&m.phone_number_id)
        .str(&m.business)
        .str(&m.to)
        .str(&m.wa_id)
        .str(&m.type_name)
        .opt_str(m.template_category.as_deref())
        .opt_str(m.biz_opaque_callback_data.as_deref())
        .opt_str(m.context_message_id.as_deref())
        .str(&m.status)
        .opt_int(m.error_code.map(i64::from))
        .opt_str(m.conversation_id.as_deref())
        .opt_str(m.conversation_category.as_deref())
        .opt_int(m.conversation_expires_at)
        .opt_str(m.charge.as_deref())
        .int(m.created_at)
        .opt_str(m.receipt.as_deref())
        .end();
}

/// Appends `e`'s array to `out`: the fields of [`LEDGER_FIELDS`] in order, without the
/// last [`LEDGER_SHARED`] when they are those of `message` (the message stored in the same
/// row).
pub fn encode_ledger(out: &mut Vec<u8>, e: &LedgerEntry, message: Option<&MessageRecord>) {
    let mut a = Array::start(out);
    a.str(&e.market)
        .str(&e.country)
        .str(&e.category)
        .str(&e.model)
        .str(&e.pricing_type)
        .str(&e.direction)
        .opt_str(e.amount.as_deref())
        .str(&e.currency)
        .opt_str(e.card.as_deref())
        .opt_str(e.tier.as_deref())
        .int(e.day);
    let shared = message.is_some_and(|m| {
        e.waba_id == m.waba_id
            && e.phone_number_id == m.phone_number_id
            && e.business == m.business
            && e.wa_id == m.wa_id
            && e.conversation_id == m.conversation_id
            && e.at == m.created_at
    });
    if !shared {
        a.str(&e.waba_id)
            .str(&e.phone_number_id)
            .str(&e.business)
            .str(&e.wa_id)
            .opt_str(e.conversation_id.as_deref())
            .int(e.at);
    }
    a.end();
}

/// The message array as read: one element per [`MESSAGE_FIELDS`] entry.
#[derive(Deserialize)]
struct MessageArray(
    String,
    ShortText,
    ShortText,
    ShortText,
    ShortText,
    ShortText,
    ShortText,
    Option<ShortText>,
    Option<String>,
    Option<String>,
    ShortText,
    Option<u32>,
    Option<ShortText>,
    Option<ShortText>,
    Option<i64>,
    Option<ShortText>,
    i64,
    Option<ShortText>,
);

/// The ledger array as read: the entry's own fields, then those it shares with its message
/// unless it leaves them out.
struct LedgerArray {
    own: LedgerOwn,
    shared: Option<LedgerShared>,
}

type LedgerOwn = (
    ShortText,
    ShortText,
    ShortText,
    ShortText,
    ShortText,
    ShortText,
    Option<ShortText>,
    ShortText,
    Option<ShortText>,
    Option<ShortText>,
    i64,
);

type LedgerShared = (
    ShortText,
    ShortText,
    ShortText,
    ShortText,
    Option<ShortText>,
    i64,
);

impl<'de> Deserialize<'de> for LedgerArray {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = LedgerArray;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    "an array of {} or {} fields",
                    LEDGER_FIELDS.len() - LEDGER_SHARED,
                    LEDGER_FIELDS.len()
                )
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<LedgerArray, A::Error> {
                use serde::de::Error;
                let n = LEDGER_FIELDS.len() - LEDGER_SHARED;
                macro_rules! next {
                    ($i:expr) => {
                        seq.next_element()?
                            .ok_or_else(|| A::Error::invalid_length($i, &self))?
                    };
                }
                let own: LedgerOwn = (
                    next!(0),
                    next!(1),
                    next!(2),
                    next!(3),
                    next!(4),
                    next!(5),
                    next!(6),
                    next!(7),
                    next!(8),
                    next!(9),
                    next!(10),
                );
                let Some(waba_id) = seq.next_element()? else {
                    return Ok(LedgerArray { own, shared: None });
                };
                let shared: LedgerShared = (
                    waba_id,
                    next!(n + 1),
                    next!(n + 2),
                    next!(n + 3),
                    next!(n + 4),
                    next!(n + 5),
                );
                Ok(LedgerArray {
                    own,
                    shared: Some(shared),
                })
            }
        }
        d.deserialize_seq(Visitor)
    }
}

/// Parses `text` as `T`, or names the field (`what` `seq`'s `fields[i]`) that is not what
/// it must be.
fn parse<'de, T: Deserialize<'de>>(
    text: &'de str,
    what: &str,
    seq: i64,
    fields: &[&str],
) -> Result<T, StoreError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = match e.path().iter().next() {
            Some(serde_path_to_error::Segment::Seq { index }) => fields
                .get(*index)
                .map(|f| format!(" field {f}"))
                .unwrap_or_else(|| format!(" element {index}")),
            _ => String::new(),
        };
        StoreError::Corrupt(format!("{what} {seq}{field}: {}", e.inner()))
    })
}

/// The parts of a message stored outside its array: they are JSON already.
pub struct MessageJson {
    pub content: String,
    pub pricing: Option<String>,
}

/// The message stored as `text` (and `json`) for `seq`.
pub fn decode_message(
    seq: i64,
    text: &str,
    json: MessageJson,
) -> Result<MessageRecord, StoreError> {
    let a: MessageArray = parse(text, "message", seq, &MESSAGE_FIELDS)?;
    Ok(MessageRecord {
        seq,
        id: a.0,
        waba_id: a.1,
        phone_number_id: a.2,
        business: a.3,
        to: a.4,
        wa_id: a.5,
        type_name: a.6,
        template_category: a.7,
        content: json.content,
        biz_opaque_callback_data: a.8,
        context_message_id: a.9,
        status: a.10,
        error_code: a.11,
        conversation_id: a.12,
        conversation_category: a.13,
        conversation_expires_at: a.14,
        pricing: json.pricing,
        charge: a.15,
        created_at: a.16,
        receipt: a.17,
    })
}

/// The ledger entry stored as `text` for `seq`, in the row of `message` (if any): an entry
/// that left out the fields it shares with its message takes them from it.
pub fn decode_ledger(
    seq: i64,
    text: &str,
    message: Option<&MessageRecord>,
) -> Result<LedgerEntry, StoreError> {
    let a: LedgerArray = parse(text, "ledger entry", seq, &LEDGER_FIELDS)?;
    let (waba_id, phone_number_id, business, wa_id, conversation_id, at) = match (a.shared, message)
    {
        (Some(s), _) => s,
        (None, Some(m)) => (
            m.waba_id.clone(),
            m.phone_number_id.clone(),
            m.business.clone(),
            m.wa_id.clone(),
            m.conversation_id.clone(),
            m.created_at,
        ),
        (None, None) => {
            return Err(StoreError::Corrupt(format!(
                "ledger entry {seq} leaves out the fields of a message it has not"
            )))
        }
    };
    let o = a.own;
    Ok(LedgerEntry {
        seq,
        waba_id,
        phone_number_id,
        business,
        wa_id,
        market: o.0,
        country: o.1,
        category: o.2,
        model: o.3,
        pricing_type: o.4,
        direction: o.5,
        conversation_id,
        amount: o.6,
        currency: o.7,
        card: o.8,
        tier: o.9,
        at,
        day: o.10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(text: &str, n: Option<i64>) -> MessageRecord {
        MessageRecord {
            seq: 7,
            id: format!("wamid.{text}"),
            waba_id: "1".into(),
            phone_number_id: "2".into(),
            business: text.into(),
            to: text.into(),
            wa_id: "5511987650001".into(),
            type_name: "text".into(),
            template_category: n.map(|_| ShortText::new(text)),
            content: text.into(),
            biz_opaque_callback_data: Some(text.into()),
            context_message_id: None,
            status: "delivered".into(),
            error_code: n.map(|n| n.unsigned_abs() as u32),
            conversation_id: Some(text.into()),
            conversation_category: None,
            conversation_expires_at: n,
            pricing: Some(text.into()),
            charge: n.map(|n| ShortText::new(n.to_string())),
            created_at: n.unwrap_or(i64::MIN),
            receipt: Some("sent".into()),
        }
    }

    proptest! {
        /// Any text (quotes, backslashes, controls, non-ASCII) and any integer round-trip,
        /// and what is written is JSON that serde_json reads as the same strings.
        #[test]
        fn a_message_round_trips(text in any::<String>(), n in any::<Option<i64>>()) {
            let m = message(&text, n);
            let mut out = Vec::new();
            encode_message(&mut out, &m);
            let s = std::str::from_utf8(&out).unwrap();
            let json = MessageJson { content: m.content.clone(), pricing: m.pricing.clone() };
            prop_assert_eq!(decode_message(7, s, json).unwrap(), m);
            let v: Vec<serde_json::Value> = serde_json::from_str(s).unwrap();
            prop_assert_eq!(v.len(), MESSAGE_FIELDS.len());
            prop_assert_eq!(v[3].as_str(), Some(text.as_str()));
        }
    }

    fn entry(m: &MessageRecord) -> LedgerEntry {
        LedgerEntry {
            seq: m.seq,
            waba_id: m.waba_id.clone(),
            phone_number_id: m.phone_number_id.clone(),
            business: m.business.clone(),
            wa_id: m.wa_id.clone(),
            market: "Brazil".into(),
            country: "BR".into(),
            category: "utility".into(),
            model: "PMP".into(),
            pricing_type: "regular".into(),
            direction: "BUSINESS_INITIATED".into(),
            conversation_id: m.conversation_id.clone(),
            amount: Some("0.0080".into()),
            currency: "USD".into(),
            card: None,
            tier: Some("0:250000".into()),
            at: m.created_at,
            day: 20_000,
        }
    }

    /// An entry stored with its own message leaves out the six fields it shares with it and
    /// reads them back from it; one that differs from the message in any of them (or has no
    /// message) keeps all its fields.
    #[test]
    fn a_ledger_entry_leaves_out_only_what_its_message_holds() {
        let m = message("x", Some(3));
        let e = entry(&m);
        let mut out = Vec::new();
        encode_ledger(&mut out, &e, Some(&m));
        let short: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(short.len(), LEDGER_FIELDS.len() - LEDGER_SHARED);
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(decode_ledger(7, text, Some(&m)).unwrap(), e);
        let e2 = decode_ledger(7, text, None).unwrap_err();
        assert!(e2.to_string().contains("leaves out"), "{e2}");
        let differs: [fn(&mut LedgerEntry); 6] = [
            |e| e.waba_id = "other".into(),
            |e| e.phone_number_id = "other".into(),
            |e| e.business = "other".into(),
            |e| e.wa_id = "other".into(),
            |e| e.conversation_id = None,
            |e| e.at += 1,
        ];
        for change in differs {
            let mut e = entry(&m);
            change(&mut e);
            for with in [Some(&m), None] {
                out.clear();
                encode_ledger(&mut out, &e, with);
                let full: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
                assert_eq!(full.len(), LEDGER_FIELDS.len());
                let text = std::str::from_utf8(&out).unwrap();
                assert_eq!(decode_ledger(7, text, Some(&m)).unwrap(), e);
                assert_eq!(decode_ledger(7, text, None).unwrap(), e);
            }
        }
    }

    #[test]
    fn a_string_is_escaped_as_serde_json_escapes_it() {
        for s in [
            "",
            "plain",
            "a\"b\\c",
            "line\nbreak\ttab\r",
            "\u{1}\u{1f}",
            "é🙂",
            "twelve bytes\"and a quote past the first word",
            "0123456789abcdef\u{7f}\u{80}",
            "past the first word: \\ and \u{1f}",
            "\u{7}\u{8}\u{b}\u{c}\u{e}",
        ] {
            let mut out = Vec::new();
            json_string(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let m = message("x", Some(3));
        let mut out = Vec::new();
        encode_message(&mut out, &m);
        let mut v: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        v[1] = serde_json::json!(5);
        let json = || MessageJson {
            content: String::new(),
            pricing: None,
        };
        let e = decode_message(7, &serde_json::to_string(&v).unwrap(), json()).unwrap_err();
        assert!(e.to_string().contains("message 7 field waba_id"), "{e}");
        v[1] = serde_json::json!("1");
        v[15] = serde_json::json!([1]);
        let e = decode_message(7, &serde_json::to_string(&v).unwrap(), json()).unwrap_err();
        assert!(e.to_string().contains("field charge"), "{e}");
        let e = decode_ledger(9, "[1]", None).unwrap_err();
        assert!(e.to_string().contains("ledger entry 9 field market"), "{e}");
    }
}
