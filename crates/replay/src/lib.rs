//! # openwaba-replay
//!
//! Runs an event log through the rules engine and reports, for every business message,
//! what the platform would have done and charged (`shared/spec/replay.md`).
//!
//! It streams: a line is parsed, judged and written before the next is read, so memory is
//! bounded by the open state (windows, conversations, consent) and not by the log's length.

pub mod event;
pub mod gen;
pub mod report;
pub mod summary;

use event::{parse_event, Event, EventKind, LogError};
use openwaba_engine::{Delivery, Engine, EngineConfig, Instant, Policy, PricingVersion, RateError};
use report::{CsvSink, JsonSink, Sink, TableSink};
use std::io::{self, Read, Write};
use summary::Summary;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Table,
    Json,
    Csv,
}

/// Why a replay stopped. Everything but `Io` is the input's fault (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Log(#[from] LogError),
    #[error("line {line}: field `at`: {at} is earlier than the previous event ({previous}); the log must be in time order")]
    OutOfOrder {
        line: u64,
        at: Instant,
        previous: Instant,
    },
    #[error("line {line}: {source} (load a card that has it with --rates, or pass --allow-missing-rates)")]
    MissingRate { line: u64, source: RateError },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl ReplayError {
    /// True when the input, not the machine, is at fault.
    pub fn is_input_error(&self) -> bool {
        !matches!(self, ReplayError::Io(_))
    }
}

/// Feeds one event to an engine and, for a send, returns its outcome.
pub fn apply(
    engine: &mut Engine,
    ev: &Event<'_>,
) -> Result<Option<openwaba_engine::SendOutcome>, RateError> {
    Ok(match &ev.kind {
        EventKind::Inbound { referral } => {
            engine.inbound(ev.at, ev.business, ev.user, *referral);
            None
        }
        EventKind::Send {
            message, delivered, ..
        } => {
            let d = if *delivered {
                Delivery::Delivered
            } else {
                Delivery::Undeliverable
            };
            Some(engine.send(ev.at, ev.business, ev.user, *message, d)?)
        }
        EventKind::OptIn => {
            engine.opt_in(ev.user);
            None
        }
        EventKind::OptOut => {
            engine.opt_out(ev.user);
            None
        }
        EventKind::MarketingStop => {
            engine.marketing_stop(ev.user);
            None
        }
        EventKind::MarketingResume => {
            engine.marketing_resume(ev.user);
            None
        }
    })
}

/// Longest line accepted (a guard against a file that is not a log at all).
const MAX_LINE: usize = 64 << 20;

/// Reads the log line by line, calling `f` with each event. Blank lines are skipped.
/// Checks that `at` never goes back.
///
/// Lines are cut straight out of a large read buffer (no per-line copy): at millions of
/// events per second, copying each line cost more than judging it.
pub fn for_each_event<R: Read>(
    mut input: R,
    mut f: impl FnMut(&Event<'_>) -> Result<(), ReplayError>,
) -> Result<u64, ReplayError> {
    let mut buf = vec![0u8; 1 << 20];
    let (mut start, mut end) = (0usize, 0usize);
    let mut line: u64 = 0;
    let mut previous: Option<Instant> = None;
    let mut events = 0;
    let mut eof = false;
    loop {
        let (text, next) = match memchr::memchr(b'\n', &buf[start..end]) {
            Some(pos) => (start..start + pos, start + pos + 1),
            None if eof => {
                if start == end {
                    break;
                }
                (start..end, end)
            }
            None => {
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                if end == buf.len() {
                    if buf.len() >= MAX_LINE {
                        return Err(ReplayError::Log(LogError {
                            line: line + 1,
                            field: None,
                            message: format!(
                                "longer than {} MiB: not an event log",
                                MAX_LINE >> 20
                            ),
                        }));
                    }
                    buf.resize(buf.len() * 2, 0);
                }
                let n = loop {
                    match input.read(&mut buf[end..]) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        r => break r?,
                    }
                };
                if n == 0 {
                    eof = true;
                }
                end += n;
                continue;
            }
        };
        line += 1;
        let bytes = trim_ascii(&buf[text]);
        start = next;
        if bytes.is_empty() {
            continue;
        }
        let ev = parse_event(line, bytes)?;
        if let Some(p) = previous {
            if ev.at < p {
                return Err(ReplayError::OutOfOrder {
                    line,
                    at: ev.at,
                    previous: p,
                });
            }
        }
        previous = Some(ev.at);
        events += 1;
        f(&ev)?;
    }
    Ok(events)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Replays a log under one configuration, writing the report in `format` to `out`.
pub fn replay<R: Read, W: Write>(
    input: R,
    config: EngineConfig,
    format: Format,
    out: W,
) -> Result<Summary, ReplayError> {
    let mut engine = Engine::new(config);
    let mut sink: Box<dyn Sink + '_> = match format {
        Format::Json => Box::new(JsonSink::new(out)?),
        Format::Csv => Box::new(CsvSink::new(out)?),
        Format::Table => Box::new(TableSink::new(out)),
    };
    let mut summary = Summary::new(engine.currency());
    summary.events = for_each_event(input, |ev| {
        if let Some(o) = apply(&mut engine, ev).map_err(|source| ReplayError::MissingRate {
            line: ev.line,
            source,
        })? {
            let month = engine.month_of(ev.at);
            summary.record(&o, month);
            sink.message(ev, &o, &engine)?;
        }
        Ok(())
    })?;
    sink.finish(&summary, &engine)?;
    Ok(summary)
}

/// `--compare`: one pass over the log, one engine per pricing version, each judging every
/// event by its own version. Works on standard input too.
pub fn compare<R: Read>(
    input: R,
    config: EngineConfig,
) -> Result<(Vec<(PricingVersion, Summary)>, Engine), ReplayError> {
    let mut engines: Vec<(PricingVersion, Engine, Summary)> = PricingVersion::ALL
        .into_iter()
        .map(|v| {
            let mut c = config.clone();
            c.policy = Policy::Fixed(v);
            // A comparison shows what each version's card lacks instead of stopping.
            c.missing_rates = openwaba_engine::MissingRates::Allow;
            let e = Engine::new(c);
            let s = Summary::new(e.currency());
            (v, e, s)
        })
        .collect();
    let events = for_each_event(input, |ev| {
        for (_, engine, summary) in engines.iter_mut() {
            if let Some(o) = apply(engine, ev).map_err(|source| ReplayError::MissingRate {
                line: ev.line,
                source,
            })? {
                let month = engine.month_of(ev.at);
                summary.record(&o, month);
            }
        }
        Ok(())
    })?;
    let reference = Engine::new(config);
    Ok((
        engines
            .into_iter()
            .map(|(v, _, mut s)| {
                s.events = events;
                (v, s)
            })
            .collect(),
        reference,
    ))
}
