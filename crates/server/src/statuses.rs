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
use openwaba_store::{MessageRecord, Write};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A receipt the simulated phone owes.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub message: Arc<MessageRecord>,
    pub kind: StatusKind,
    /// The clock instant it falls due (ms), to measure how late it fires.
    pub due_ms: i64,
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

/// After an accepted message committed: its receipts, as its recipient behaves.
pub fn schedule_receipts(st: &AppState, m: Arc<MessageRecord>) {
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
    let receipt = |message: Arc<MessageRecord>, kind, due_ms| {
        (
            Instant::from_millis(due_ms),
            Task::Receipt(Receipt {
                message,
                kind,
                due_ms,
            }),
        )
    };
    let delivery = (!delivered).then(|| receipt(m.clone(), StatusKind::Delivered, base + d));
    let read = r.map(|r| receipt(m, StatusKind::Read, base + d + r));
    st.scheduler.at_each(delivery.into_iter().chain(read));
}

/// Reports a receipt now: the status event and the message's receipt state in one
/// transaction. A receipt that is not news (read already reported, delivered after read) is
/// dropped. Returns whether it was reported.
pub async fn report(st: &Arc<AppState>, m: &MessageRecord, kind: StatusKind) -> bool {
    let mut prepared = Prepared::none();
    prepare_run(st, &m.waba_id, [(m, kind)], st.clock.now(), &mut prepared);
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
        let waba = first.message.waba_id.as_str();
        let run = rest
            .iter()
            .take(LOCKED_RUN)
            .take_while(|r| r.message.waba_id == waba)
            .count();
        let (this, next) = rest.split_at(run);
        rest = next;
        for r in this {
            st.metrics.observe_receipt_lateness(now.millis() - r.due_ms);
        }
        let receipts = this.iter().map(|r| (&*r.message, r.kind));
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
    receipts: impl IntoIterator<Item = (&'m MessageRecord, StatusKind)>,
    now: Instant,
    out: &mut Prepared,
) {
    let Some(engine) = st.engines.read().ok().and_then(|e| e.get(waba_id).cloned()) else {
        return;
    };
    let Ok(engine) = engine.lock() else {
        return;
    };
    let news: Vec<(&MessageRecord, StatusKind, bool)> = {
        let Ok(mut states) = st.sim.receipt_state.lock() else {
            return;
        };
        receipts
            .into_iter()
            .filter_map(|(m, kind)| {
                is_news(st, &mut states, m, kind).map(|with_pricing| (m, kind, with_pricing))
            })
            .collect()
    };
    for (m, kind, with_pricing) in news {
        // Its status events first (none without a webhook app), then its own writes, all
        // straight into `out`. Pushed onto `prepare`'s list, which is empty without an app,
        // each receipt allocated a list and freed it (measured, BENCHMARKS.md, sixth session).
        let mut prepared = prepare(st, m, kind, with_pricing, now);
        out.writes.append(&mut prepared.writes);
        out.absorb(prepared);
        out.writes.push(Write::Receipt {
            seq: m.seq,
            receipt: openwaba_store::ShortText::const_new(kind.as_str()),
        });
        // The first receipt after `sent` (delivered, or read straight away) counts the
        // message as delivered in the messaging analytics.
        if with_pricing {
            let country = crate::ledger::country_of_record(m);
            let count = crate::ledger::message_count(engine.zone(), m, country, 0, 1);
            out.writes.push(Write::MessageCount(Box::new(count)));
        }
    }
}

/// Whether receipt `kind` of `m` is news, recording it in `states` if so; `Some(true)` when
/// it is the first after `sent` (pricing rides on it).
fn is_news(
    st: &AppState,
    states: &mut FxHashMap<i64, StatusKind>,
    m: &MessageRecord,
    kind: StatusKind,
) -> Option<bool> {
    let current = states.get(&m.seq).copied().or(match m.receipt.as_deref() {
        Some("sent") => Some(StatusKind::Sent),
        Some("delivered") => Some(StatusKind::Delivered),
        Some("read") => Some(StatusKind::Read),
        _ => None,
    })?;
    if kind <= current || kind == StatusKind::Failed {
        return None;
    }
    // Nothing follows a read, nor a delivery when no read is coming.
    let last =
        kind == StatusKind::Read || !matches!(st.sim.receipts(&m.wa_id), Receipts::Auto { .. });
    if last {
        states.remove(&m.seq);
    } else {
        states.insert(m.seq, kind);
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
        report(&st, &r.message, r.kind).await;
    });
}

/// At start: the receipts still owed.
pub fn reschedule(st: &AppState) {
    match st.store.awaiting_receipts() {
        Ok(v) => {
            for m in v {
                schedule_receipts(st, Arc::new(m));
            }
        }
        Err(e) => tracing::error!(error = %e, "owed receipts could not be read"),
    }
}
