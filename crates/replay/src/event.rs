//! The event log: JSON Lines, one event per line (`shared/spec/replay.md`).
//!
//! Parsing is the hot path of `openwaba replay`, so a line is first read into a borrowed
//! struct (no allocation unless a string has escapes). Only when that fails is the line
//! parsed again, slowly, to say which field is wrong: the message names the line and field.

use openwaba_engine::{Instant, Outbound, TemplateCategory, WaId};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// One event of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// 1-based line number in the log.
    pub line: u64,
    pub at: Instant,
    pub business: WaId,
    pub user: WaId,
    pub kind: EventKind<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind<'a> {
    Inbound {
        referral: bool,
    },
    Send {
        id: Cow<'a, str>,
        message: Outbound,
        delivered: bool,
    },
    OptIn,
    OptOut,
    MarketingStop,
    MarketingResume,
}

impl Event<'_> {
    /// The message id of a send (empty for other events).
    pub fn send_id(&self) -> &str {
        match &self.kind {
            EventKind::Send { id, .. } => id,
            _ => "",
        }
    }
}

/// A line that cannot be used, with where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogError {
    pub line: u64,
    pub field: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "line {}: field `{}`: {}", self.line, field, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for LogError {}

/// A string field that borrows from the line unless it has escapes. (serde's own
/// `Option<Cow<str>>` always allocates, which cost a third of the replay's time.)
#[derive(Debug, PartialEq)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Raw<'a> {
    #[serde(borrow)]
    at: Option<Text<'a>>,
    #[serde(borrow)]
    event: Option<Text<'a>>,
    #[serde(borrow)]
    business: Option<Text<'a>>,
    #[serde(borrow)]
    user: Option<Text<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    category: Option<Text<'a>>,
    delivered: Option<bool>,
    referral: Option<bool>,
}

const FIELDS: [(&str, &str); 9] = [
    ("at", "string"),
    ("event", "string"),
    ("business", "string"),
    ("user", "string"),
    ("id", "string"),
    ("kind", "string"),
    ("category", "string"),
    ("delivered", "boolean"),
    ("referral", "boolean"),
];

fn explain_not_object(line: u64, bytes: &[u8]) -> LogError {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(e) => LogError {
            line,
            field: None,
            message: format!("not valid JSON ({e})"),
        },
        Ok(_) => LogError {
            line,
            field: None,
            message: "expected a JSON object, one event per line".into(),
        },
    }
}

/// Explains a line serde refused: not JSON, not an object, or which field has a wrong type.
fn explain(line: u64, bytes: &[u8], err: serde_json::Error) -> LogError {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return LogError {
                line,
                field: None,
                message: format!("not valid JSON ({e})"),
            }
        }
    };
    let Some(obj) = value.as_object() else {
        return LogError {
            line,
            field: None,
            message: "expected a JSON object, one event per line".into(),
        };
    };
    for (name, ty) in FIELDS {
        let ok = match obj.get(name) {
            None | Some(serde_json::Value::Null) => true,
            Some(v) if ty == "string" => v.is_string(),
            Some(v) => v.is_boolean(),
        };
        if !ok {
            return LogError {
                line,
                field: Some(name),
                message: format!(
                    "expected a {ty}, found {}",
                    obj.get(name).map(|v| v.to_string()).unwrap_or_default()
                ),
            };
        }
    }
    LogError {
        line,
        field: None,
        message: format!("unusable event ({err})"),
    }
}

fn required<'s>(
    line: u64,
    field: &'static str,
    v: &'s Option<Text<'_>>,
) -> Result<&'s str, LogError> {
    v.as_ref().map(|t| t.0.as_ref()).ok_or_else(|| LogError {
        line,
        field: Some(field),
        message: "missing".into(),
    })
}

fn wa_id(line: u64, field: &'static str, v: &Option<Text<'_>>) -> Result<WaId, LogError> {
    WaId::parse(required(line, field, v)?).map_err(|e| LogError {
        line,
        field: Some(field),
        message: e.to_string(),
    })
}

/// The first `"` or `\\`: field names and values are short, and a plain loop beats
/// memchr's set-up on them (measured).
fn find_quote(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'"' || c == b'\\')
}

const KNOWN: [&[u8]; 9] = [
    b"at",
    b"event",
    b"business",
    b"user",
    b"id",
    b"kind",
    b"category",
    b"delivered",
    b"referral",
];

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The fast path: a flat JSON object whose values are strings without escapes or control
/// characters, booleans or null. Anything else (escapes, numbers, nested values, duplicate
/// keys, any syntax error) returns `None` and the line goes to serde_json, so the fast path
/// accepts a subset of what serde accepts and reads it the same way (a property test holds
/// it to that).
fn scan_flat(line: &str) -> Option<Raw<'_>> {
    // The line is valid UTF-8 (checked by the caller); here: no control characters (a tab
    // between tokens is legal JSON, but rare enough to leave to serde). String values are
    // sliced out of `line` at ASCII quotes, which are always character boundaries.
    let b = line.as_bytes();
    if b.iter().fold(false, |ctrl, &c| ctrl | (c < 0x20)) {
        return None;
    }
    let mut raw = Raw::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(raw);
    }
    loop {
        // Key.
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let ks = i + 1;
        let ke = ks + find_quote(&b[ks..])?;
        if b[ke] != b'"' {
            return None;
        }
        let key = &b[ks..ke];
        i = skip_ws(b, ke + 1);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        // Value.
        enum V<'a> {
            S(&'a str),
            B(bool),
            Null,
        }
        let v = match *b.get(i)? {
            b'"' => {
                let vs = i + 1;
                let ve = vs + find_quote(&b[vs..])?;
                if b[ve] != b'"' {
                    return None;
                }
                i = ve + 1;
                V::S(line.get(vs..ve)?)
            }
            b't' if b[i..].starts_with(b"true") => {
                i += 4;
                V::B(true)
            }
            b'f' if b[i..].starts_with(b"false") => {
                i += 5;
                V::B(false)
            }
            b'n' if b[i..].starts_with(b"null") => {
                i += 4;
                V::Null
            }
            _ => return None,
        };
        match (key, v) {
            // An unknown key is ignored whatever its value.
            (k, _) if !KNOWN.contains(&k) => {}
            (b"at", V::S(s)) if raw.at.is_none() => raw.at = Some(Text(Cow::Borrowed(s))),
            (b"event", V::S(s)) if raw.event.is_none() => raw.event = Some(Text(Cow::Borrowed(s))),
            (b"business", V::S(s)) if raw.business.is_none() => {
                raw.business = Some(Text(Cow::Borrowed(s)))
            }
            (b"user", V::S(s)) if raw.user.is_none() => raw.user = Some(Text(Cow::Borrowed(s))),
            (b"id", V::S(s)) if raw.id.is_none() => raw.id = Some(Text(Cow::Borrowed(s))),
            (b"kind", V::S(s)) if raw.kind.is_none() => raw.kind = Some(Text(Cow::Borrowed(s))),
            (b"category", V::S(s)) if raw.category.is_none() => {
                raw.category = Some(Text(Cow::Borrowed(s)))
            }
            (b"delivered", V::B(x)) if raw.delivered.is_none() => raw.delivered = Some(x),
            (b"referral", V::B(x)) if raw.referral.is_none() => raw.referral = Some(x),
            // A known key repeated, null or of the wrong type: serde decides.
            _ => return None,
        }
        i = skip_ws(b, i);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return (skip_ws(b, i + 1) == b.len()).then_some(raw),
            _ => return None,
        }
    }
}

/// Parses one line of the log.
pub fn parse_event(line: u64, bytes: &[u8]) -> Result<Event<'_>, LogError> {
    let text = std::str::from_utf8(bytes).map_err(|e| LogError {
        line,
        field: None,
        message: format!(
            "not UTF-8 text (invalid byte at column {})",
            e.valid_up_to() + 1
        ),
    })?;
    // serde would also read a struct from an array: only objects are events.
    if !text.trim_start().starts_with('{') {
        return Err(explain_not_object(line, bytes));
    }
    let mut raw: Raw<'_> = match scan_flat(text) {
        Some(r) => r,
        None => serde_json::from_str(text).map_err(|e| explain(line, bytes, e))?,
    };
    let at_s = required(line, "at", &raw.at)?;
    let at = Instant::parse_rfc3339(at_s).map_err(|e| LogError {
        line,
        field: Some("at"),
        message: e.to_string(),
    })?;
    let event = required(line, "event", &raw.event)?;
    let business = wa_id(line, "business", &raw.business)?;
    let user = wa_id(line, "user", &raw.user)?;
    let kind = match event {
        "inbound" => EventKind::Inbound {
            referral: raw.referral.unwrap_or(false),
        },
        "send" => {
            let id = required(line, "id", &raw.id)?;
            if id.is_empty() {
                return Err(LogError {
                    line,
                    field: Some("id"),
                    message: "must not be empty".into(),
                });
            }
            let kind = required(line, "kind", &raw.kind)?;
            let message = if kind == "template" {
                let c = required(line, "category", &raw.category)?;
                let cat: TemplateCategory = c.parse().map_err(|e: openwaba_engine::category::UnknownCategory| LogError {
                    line,
                    field: Some("category"),
                    message: e.to_string(),
                })?;
                Outbound::Template(cat)
            } else if kind.is_empty() {
                return Err(LogError {
                    line,
                    field: Some("kind"),
                    message: "must be `template` or a non-template type such as `text`".into(),
                });
            } else {
                if raw.category.is_some() {
                    return Err(LogError {
                        line,
                        field: Some("category"),
                        message: format!("only templates have a category (kind is `{kind}`)"),
                    });
                }
                Outbound::FreeForm
            };
            let id = raw.id.take().map(|t| t.0).unwrap_or_default();
            EventKind::Send {
                id,
                message,
                delivered: raw.delivered.unwrap_or(true),
            }
        }
        "opt_in" => EventKind::OptIn,
        "opt_out" => EventKind::OptOut,
        "marketing_stop" => EventKind::MarketingStop,
        "marketing_resume" => EventKind::MarketingResume,
        other => {
            return Err(LogError {
                line,
                field: Some("event"),
                message: format!("`{other}` is not an event (expected inbound, send, opt_in, opt_out, marketing_stop or marketing_resume)"),
            })
        }
    };
    Ok(Event {
        line,
        at,
        business,
        user,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        parse_event(7, s.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_event() {
        let e = parse_event(1, br#"{"at":"2023-06-05T09:30:00Z","event":"send","business":"15550001111","user":"5511987650001","id":"m1","kind":"template","category":"marketing","delivered":false}"#).unwrap();
        assert_eq!(
            e.kind,
            EventKind::Send {
                id: "m1".into(),
                message: Outbound::Template(TemplateCategory::Marketing),
                delivered: false
            }
        );
        let e = parse_event(2, br#"{"at":"2023-06-05T09:30:00Z","event":"inbound","business":"15550001111","user":"5511987650001","referral":true,"extra":{"x":[1,2]}}"#).unwrap();
        assert_eq!(e.kind, EventKind::Inbound { referral: true });
        let e = parse_event(3, br#"{"at":"2023-06-05T09:30:00Z","event":"send","business":"15550001111","user":"5511987650001","id":"m\"2","kind":"image"}"#).unwrap();
        assert!(
            matches!(e.kind, EventKind::Send { ref id, message: Outbound::FreeForm, delivered: true } if id == "m\"2")
        );
        for (ev, k) in [
            ("opt_in", EventKind::OptIn),
            ("opt_out", EventKind::OptOut),
            ("marketing_stop", EventKind::MarketingStop),
            ("marketing_resume", EventKind::MarketingResume),
        ] {
            let line = format!(
                r#"{{"at":"2023-06-05T09:30:00Z","event":"{ev}","business":"15550001111","user":"5511987650001"}}"#
            );
            assert_eq!(parse_event(1, line.as_bytes()).unwrap().kind, k);
        }
    }

    #[test]
    fn errors_name_line_and_field() {
        let base = r#""at":"2023-06-05T09:30:00Z","business":"15550001111","user":"5511987650001""#;
        assert!(err("not json").starts_with("line 7: not valid JSON"));
        assert!(err("[1,2]").contains("expected a JSON object"));
        assert!(err(&format!("{{{base}}}")).contains("field `event`: missing"));
        assert!(err(&format!(r#"{{{base},"event":"call"}}"#)).contains("`call` is not an event"));
        assert!(err(&format!(r#"{{{base},"event":"send","kind":"text"}}"#))
            .contains("field `id`: missing"));
        assert!(err(&format!(
            r#"{{{base},"event":"send","id":"m","kind":"template"}}"#
        ))
        .contains("field `category`: missing"));
        assert!(err(&format!(
            r#"{{{base},"event":"send","id":"m","kind":"template","category":"promo"}}"#
        ))
        .contains("field `category`: `promo` is not a template category"));
        assert!(err(&format!(
            r#"{{{base},"event":"send","id":"m","kind":"text","delivered":"yes"}}"#
        ))
        .contains("field `delivered`: expected a boolean"));
        assert!(err(&format!(
            r#"{{{base},"event":"send","id":7,"kind":"text"}}"#
        ))
        .contains("field `id`: expected a string"));
        assert!(err(r#"{"at":"2023-06-05","event":"opt_in","business":"15550001111","user":"5511987650001"}"#).contains("field `at`"));
        assert!(err(r#"{"at":"2023-06-05T09:30:00Z","event":"opt_in","business":"+15550001111","user":"5511987650001"}"#).contains("field `business`"));
        assert!(err(r#"{"at":"2023-06-05T09:30:00Z","event":"opt_in","business":"15550001111","user":"55-11"}"#).contains("field `user`"));
    }
}
