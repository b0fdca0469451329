//! Work that falls due at an instant of the server's clock: a template's review outcome, a
//! simulated phone's delivery and read receipts, a webhook's next attempt.
//!
//! Why one queue: with a virtual clock, "advance 25 hours" must fire everything due in those
//! 25 hours in the order it fell due, each seeing the clock at its own instant, exactly as if
//! the time had passed. So every timer of the server lives here, and [`Scheduler::advance_to`]
//! walks the clock through them. Between moves, one task sleeps until the earliest due
//! instant (both clocks run at the system's pace).
//!
//! The queue is in memory. What must survive a restart is stored by its owner (a PENDING
//! template, an undelivered webhook), and the owner schedules it again at start.

use crate::app::AppState;
use crate::clock::ClockError;
use openwaba_engine::Instant;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// What falls due.
#[derive(Clone, Debug)]
pub enum Task {
    /// A template's review completes.
    TemplateReview { template_id: String },
    /// The simulated phone reports a message delivered or read.
    Receipt(crate::statuses::Receipt),
}

/// The tasks waiting, by the millisecond they fall due; within one, in the order they were
/// scheduled.
///
/// Why buckets and not a heap: under load the simulated phones owe ~100k receipts at any
/// moment, all due a fixed delay after their send, so they arrive in (nearly) due order and
/// many share a millisecond. A binary heap paid log(n) cache-missing moves per push and per
/// pop (measured: 3% of the server's CPU in `pop_due` alone); a B-tree of per-millisecond
/// vectors appends to the last bucket and hands a due bucket over whole.
#[derive(Default)]
struct Queue {
    buckets: BTreeMap<i64, Vec<Task>>,
    len: usize,
}

#[derive(Default)]
pub struct Scheduler {
    queue: Mutex<Queue>,
    wake: Notify,
    /// Held while tasks run, so the background loop and a clock move never interleave.
    running: tokio::sync::Mutex<()>,
}

impl Scheduler {
    /// Runs `task` once the clock reads `due` or later.
    pub fn at(&self, due: Instant, task: Task) {
        self.at_each([(due, task)]);
    }

    /// [`Scheduler::at`] for several tasks, under one taking of the queue's lock (a send
    /// schedules its two receipts together).
    pub fn at_each(&self, tasks: impl IntoIterator<Item = (Instant, Task)>) {
        if let Ok(mut q) = self.queue.lock() {
            let earliest = q.buckets.keys().next().copied();
            let mut wake = false;
            for (due, task) in tasks {
                q.buckets.entry(due.millis()).or_default().push(task);
                q.len += 1;
                wake |= earliest.is_none_or(|e| due.millis() < e);
            }
            if wake {
                self.wake.notify_one();
            }
        }
    }

    /// The earliest bucket due at `until` or before, whole.
    fn pop_due_bucket(&self, until: i64) -> Option<(i64, Vec<Task>)> {
        let mut q = self.queue.lock().ok()?;
        let first = q.buckets.first_entry()?;
        if *first.key() > until {
            return None;
        }
        let (due, tasks) = first.remove_entry();
        q.len -= tasks.len();
        Some((due, tasks))
    }

    fn earliest(&self) -> Option<i64> {
        self.queue.lock().ok()?.buckets.keys().next().copied()
    }

    /// How many tasks wait.
    pub fn len(&self) -> usize {
        self.queue.lock().map(|q| q.len).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The background loop: runs what is due, sleeps until the next due instant or a wake-up.
pub async fn run(st: Arc<AppState>) {
    loop {
        {
            let _guard = st.scheduler.running.lock().await;
            // Receipts due together are reported in one transaction (under load, hundreds
            // fall due per tick: one commit each was a third of the server's work).
            let mut receipts = Vec::new();
            while let Some((_, tasks)) = st.scheduler.pop_due_bucket(st.clock.now().millis()) {
                for task in tasks {
                    match task {
                        Task::Receipt(r) => {
                            receipts.push(r);
                            if receipts.len() >= RECEIPT_BATCH {
                                flush_receipts(&st, std::mem::take(&mut receipts));
                            }
                        }
                        task => {
                            flush_receipts(&st, std::mem::take(&mut receipts));
                            execute(&st, task).await;
                        }
                    }
                }
            }
            flush_receipts(&st, receipts);
        }
        let wait = st
            .scheduler
            .earliest()
            .map(|due| (due - st.clock.now().millis()).clamp(0, 60_000))
            .unwrap_or(60_000);
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait as u64)) => {}
            _ = st.scheduler.wake.notified() => {}
        }
    }
}

/// The most receipts one transaction reports: small enough that a burst of them (the
/// scheduler catching up) does not hold up the sends committed after it (see the store's
/// `MAX_BATCH`).
const RECEIPT_BATCH: usize = 128;

/// Reports due receipts in the background (not awaited: the loop goes on to what is due next,
/// and batches of many ticks commit together in the store's group commit).
fn flush_receipts(st: &Arc<AppState>, receipts: Vec<crate::statuses::Receipt>) {
    if receipts.is_empty() {
        return;
    }
    let st = st.clone();
    tokio::spawn(async move { crate::statuses::report_all(&st, receipts).await });
}

/// Moves a virtual clock to `target`, running every task due on the way at its own instant,
/// in order. Returns how many ran.
pub async fn advance_to(st: &Arc<AppState>, target: Instant) -> Result<usize, ClockError> {
    st.clock.check_move(target)?;
    let _guard = st.scheduler.running.lock().await;
    let mut ran = 0;
    // A task may schedule more at the instant it runs: they land in a new bucket, after.
    while let Some((due, tasks)) = st.scheduler.pop_due_bucket(target.millis()) {
        st.clock.move_to(Instant::from_millis(due))?;
        for task in tasks {
            execute(st, task).await;
            ran += 1;
        }
    }
    st.clock.move_to(target)?;
    crate::app::save_clock(st).await;
    st.scheduler.wake.notify_one();
    // Webhook retries that fell due are attempted now.
    st.webhooks.wake();
    Ok(ran)
}

async fn execute(st: &Arc<AppState>, task: Task) {
    match task {
        Task::TemplateReview { template_id } => {
            crate::templates::complete_review(st, &template_id).await
        }
        Task::Receipt(r) => crate::statuses::receipt_due(st, r).await,
    }
}
