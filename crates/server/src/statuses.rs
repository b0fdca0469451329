//! A sent message's life as its status webhooks tell it: `sent` (or `failed`) when the API
//! accepts it, then `delivered` and `read` as the simulated phone reports them.
//!
//! The `sent`/`failed` event is written with the message itself. Receipts are timers of the
//! scheduler, at the delays of the recipient's behaviour ([`crate::sim::Receipts`]); each
//! writes its event with the message's new receipt state, so after a restart the receipts
//! still owed are scheduled again from the store.

use crate::app::AppState;
use crate::scheduler::Task;
use crate::sim::Receipts;
use crate::webhooks::payload::{self, StatusKind};
use crate::webhooks::Prepared;
use openwaba_engine::Instant;
use openwaba_store::{MessageRecord, ShortText, Write};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A receipt the simulated phone owes.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub target: ReceiptTarget,
    pub kind: StatusKind,
    /// The clock instant it falls due (ms), to measure how late it fires.
    pub due_ms: i64,
    /// Whether a read receipt is scheduled after this one (decided with the schedule).
    pub read_follows: bool,
}

/// The message a receipt is about: what reporting the receipt needs, copied out of it.
///
/// Why not the message itself: under load ~150k messages wait for a receipt at any moment
/// (3 s of sends). Held whole (its record, id, content and pricing) they kept ~100 MB alive,
/// each freed cold and by another thread than the one that allocated it. The record is kept
/// only when an app took the WABA's status webhooks when the message was sent (they are
/// built from it); for an app that subscribes later it is read back from the store.
#[derive(Clone, Debug)]
pub struct ReceiptTarget {
    pub seq: i64,
    pub waba_id: ShortText,
    pub phone_number_id: ShortText,
    pub wa_id: ShortText,
    pub created_at: i64,
    /// The receipt stored with the message (`sent` or `delivered`; none when it failed).
    pub stored: Option<StatusKind>,
    /// The recipient's country, for the messaging count.
    pub country: ShortText,
    pub record: Option<Arc<MessageRecord>>,
}

impl ReceiptTarget {
    /// `m`'s target, keeping `m` itself if `keep_record`.
    pub fn of(m: &Arc<MessageRecord>, country: ShortText, keep_record: bool) -> ReceiptTarget {
        ReceiptTarget {
            seq: m.seq,
            waba_id: m.waba_id.clone(),
            phone_number_id: m.phone_number_id.clone(),
            wa_id: m.wa_id.clone(),
            created_at: m.created_at,
            stored: m
                .receipt
                .as_deref()
                .and_then(StatusKind::parse)
                .filter(|k| *k != StatusKind::Failed),
            country,
            record: keep_record.then(|| m.clone()),
        }
    }

    fn counted(&self) -> crate::ledger::CountedMessage<'_> {
        crate::ledger::CountedMessage {
            waba_id: &self.waba_id,
            phone_number_id: &self.phone_number_id,
            created_at: self.created_at,
        }
    }
}

fn metadata_of(m: &MessageRecord) -> serde_json::Value {
    payload::metadata(&m.business, &m.phone_number_id)
}

/// The ordering key of a user's events on a number.
pub fn ordering_key(phone_number_id: &str, wa_id: &str) -> String {
    OrderingKey(phone_number_id, wa_id).to_string()
}

/// [`ordering_key`], formatted only if a webhook needs it.
pub struct OrderingKey<'a>(pub &'a str, pub &'a str);

impl std::fmt::Display for OrderingKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|{}", self.0, self.1)
    }
}

/// The status event of a message for `kind`, prepared for the message's transaction.
pub fn prepare(
    st: &AppState,
    m: &MessageRecord,
    kind: StatusKind,
    with_pricing: bool,
    at: Instant,
) -> Prepared {
    let envelope = |major: u32| {
        let status = payload::status_object(m, kind, at.millis(), with_pricing, major);
        payload::envelope(
            &m.waba_id,
            "messages",
            payload::status_value(metadata_of(m), status),
            None,
        )
    };
    st.webhooks.prepare(
        st,
        &m.waba_id,
        &OrderingKey(&m.phone_number_id, &m.wa_id),
        "messages",
        &envelope,
        at.millis(),
    )
}

/// After an accepted message committed: its receipts, as its recipient behaves. `country`
/// is the recipient's ([`crate::ledger::country_text`]); `status_webhooks`: an app takes
/// the WABA's status webhooks (the caller knows it from the `sent` event it just built), so
/// the receipts keep the message to build theirs from.
pub fn schedule_receipts(
    st: &AppState,
    m: &Arc<MessageRecord>,
    country: ShortText,
    status_webhooks: bool,
) {
    if m.receipt.as_deref() != Some("sent") && m.receipt.as_deref() != Some("delivered") {
        return;
    }
    let behaviour = st.sim.receipts(&m.wa_id);
    let base = m.created_at;
    let delivered = m.receipt.as_deref() == Some("delivered");
    let (d, r) = match behaviour {
        Receipts::Manual => return,
        Receipts::Auto {
            delivered_after_ms,
            read_after_ms,
        } => (delivered_after_ms, Some(read_after_ms)),
        Receipts::NeverRead { delivered_after_ms } => (delivered_after_ms, None),
    };
    let target = ReceiptTarget::of(m, country, status_webhooks);
    let receipt = |target, kind, due_ms, read_follows| {
        (
            Instant::from_millis(due_ms),
            Task::Receipt(Receipt {
                target,
                kind,
                due_ms,
                read_follows,
            }),
        )
    };
    let delivery =
        (!delivered).then(|| receipt(target.clone(), StatusKind::Delivered, base + d, r.is_some()));
    let read = r.map(|r| receipt(target, StatusKind::Read, base + d + r, false));
    st.scheduler.at_each(delivery.into_iter().chain(read));
}

/// Reports a receipt now (the simulated phone told to, `/_sim`): the status event and the
/// message's receipt state in one transaction. A receipt that is not news (read already
/// reported, delivered after read) is dropped. Returns whether it was reported.
pub async fn report(st: &Arc<AppState>, m: MessageRecord, kind: StatusKind) -> bool {
    let read_follows = matches!(st.sim.receipts(&m.wa_id), Receipts::Auto { .. });
    let m = Arc::new(m);
    let country = crate::ledger::country_of_record(&m);
    let target = ReceiptTarget::of(&m, country, true);
    report_one(st, &target, kind, read_follows).await
}

/// Reports one receipt now, in a transaction of its own.
async fn report_one(
    st: &Arc<AppState>,
    target: &ReceiptTarget,
    kind: StatusKind,
    read_follows: bool,
) -> bool {
    let mut prepared = Prepared::none();
    prepare_run(
        st,
        &target.waba_id,
        [(target, kind, read_follows)],
        st.clock.now(),
        &mut prepared,
    );
    commit(st, prepared).await
}

/// Commits prepared receipts in one transaction and releases their events; `false` if there
/// was nothing to commit or the commit failed.
async fn commit(st: &AppState, mut prepared: Prepared) -> bool {
    if prepared.writes.is_empty() {
        return false;
    }
    let writes = std::mem::take(&mut prepared.writes);
    let ok = st.store.commit(writes).await.is_ok();
    prepared.committed(st, ok);
    ok
}

/// Reports many due receipts in one transaction (the scheduler's batch): one commit and one
/// wake-up of the store's writer instead of one per receipt.
///
/// The locks a receipt is decided under are taken once per run of up to [`LOCKED_RUN`]
/// receipts of one WABA, not once per receipt: taken per receipt, the engine's lock, which
/// every send also takes, showed as contended (`lock_contended` under the per-receipt
/// function of then, `prepare_report`, in `perf record --call-graph dwarf`; BENCHMARKS.md).
pub async fn report_all(st: &Arc<AppState>, due: Vec<Receipt>) {
    let now = st.clock.now();
    let mut all = Prepared::none();
    // A receipt writes its state and, for the first, a count: sized once, not grown.
    all.writes.reserve(2 * due.len());
    let mut rest = due.as_slice();
    while let Some(first) = rest.first() {
        let waba = first.target.waba_id.as_str();
        let run = rest
            .iter()
            .take(LOCKED_RUN)
            .take_while(|r| r.target.waba_id == waba)
            .count();
        let (this, next) = rest.split_at(run);
        rest = next;
        for r in this {
            st.metrics.observe_receipt_lateness(now.millis() - r.due_ms);
        }
        let receipts = this.iter().map(|r| (&r.target, r.kind, r.read_follows));
        prepare_run(st, waba, receipts, now, &mut all);
    }
    commit(st, all).await;
}

/// The most receipts decided under one taking of the engine's lock: a send to the same WABA
/// waits for at most this many (about a microsecond each under load with no webhook app,
/// more when their events are built).
const LOCKED_RUN: usize = 32;

/// Adds to `out` the writes of `receipts`, all of the WABA `waba_id`: for each that is news,
/// its status event, its receipt state and, for the first after `sent`, a messaging count.
///
/// All are decided under the WABA's engine lock, like the sends that made the messages (one
/// order per user). Which are news is decided under the receipt states' lock too, which is
/// then released: it is one lock for every WABA, and must not wait on the events' building.
/// Nothing is added if the WABA is unknown or a lock is poisoned.
fn prepare_run<'m>(
    st: &AppState,
    waba_id: &str,
    receipts: impl IntoIterator<Item = (&'m ReceiptTarget, StatusKind, bool)>,
    now: Instant,
    out: &mut Prepared,
) {
    let Some(engine) = st.engines.read().ok().and_then(|e| e.get(waba_id).cloned()) else {
        return;
    };
    let Ok(engine) = engine.lock() else {
        return;
    };
    let news: Vec<(&ReceiptTarget, StatusKind, bool)> = {
        let Ok(mut states) = st.sim.receipt_state.lock() else {
            return;
        };
        receipts
            .into_iter()
            .filter_map(|(t, kind, read_follows)| {
                is_news(&mut states, t, kind, read_follows)
                    .map(|with_pricing| (t, kind, with_pricing))
            })
            .collect()
    };
    // Whether the status events are built at all: without an app there is nothing to build
    // them for, nor a message to read.
    let webhooks = !news.is_empty() && st.webhooks.subscribed(st, waba_id, "messages");
    for (t, kind, with_pricing) in news {
        // Its status events first, then its own writes, all straight into `out`. Pushed
        // onto `prepare`'s list, each receipt allocated a list and freed it (measured,
        // BENCHMARKS.md, sixth session).
        if webhooks {
            let read;
            let m = match &t.record {
                Some(m) => Some(&**m),
                None => {
                    read = st.store.message_at(t.seq);
                    match &read {
                        Ok(m) => m.as_ref(),
                        Err(e) => {
                            tracing::error!(error = %e, seq = t.seq, "a receipt's message could not be read: its status event is not sent");
                            None
                        }
                    }
                }
            };
            if let Some(m) = m {
                let mut prepared = prepare(st, m, kind, with_pricing, now);
                out.writes.append(&mut prepared.writes);
                out.absorb(prepared);
            }
        }
        out.writes.push(Write::Receipt {
            seq: t.seq,
            receipt: openwaba_store::ShortText::const_new(kind.as_str()),
        });
        // The first receipt after `sent` (delivered, or read straight away) counts the
        // message as delivered in the messaging analytics.
        if with_pricing {
            let count =
                crate::ledger::message_count(engine.zone(), t.counted(), t.country.clone(), 0, 1);
            out.writes.push(Write::MessageCount(Box::new(count)));
        }
    }
}

/// Whether receipt `kind` of `t` is news, recording it in `states` if so; `Some(true)` when
/// it is the first after `sent` (pricing rides on it). `read_follows`: a read receipt is
/// still to come after this one.
fn is_news(
    states: &mut FxHashMap<i64, StatusKind>,
    t: &ReceiptTarget,
    kind: StatusKind,
    read_follows: bool,
) -> Option<bool> {
    let current = states.get(&t.seq).copied().or(t.stored)?;
    if kind <= current || kind == StatusKind::Failed {
        return None;
    }
    // Nothing follows a read, nor a delivery when no read is coming.
    if kind == StatusKind::Read || !read_follows {
        states.remove(&t.seq);
    } else {
        states.insert(t.seq, kind);
    }
    Some(current == StatusKind::Sent)
}

/// The scheduler's call for an automatic receipt.
pub async fn receipt_due(st: &Arc<AppState>, r: Receipt) {
    let st = st.clone();
    // Not awaited by the scheduler: receipts of many messages commit together.
    tokio::spawn(async move {
        st.metrics
            .observe_receipt_lateness(st.clock.now().millis() - r.due_ms);
        report_one(&st, &r.target, r.kind, r.read_follows).await;
    });
}

/// At start: the receipts still owed.
pub fn reschedule(st: &AppState) {
    match st.store.awaiting_receipts() {
        Ok(v) => {
            for m in v {
                let country = crate::ledger::country_of_record(&m);
                let status_webhooks = st.webhooks.subscribed(st, &m.waba_id, "messages");
                schedule_receipts(st, &Arc::new(m), country, status_webhooks);
            }
        }
        Err(e) => tracing::error!(error = %e, "owed receipts could not be read"),
    }
}
