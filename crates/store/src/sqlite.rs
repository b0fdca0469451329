//! The embedded SQLite store: one file in the data directory, WAL journal, migrations at
//! open, and a writer thread that group-commits.

use crate::ledger::*;
use crate::records::*;
use crate::{Store, StoreError, StoreFuture};
use rusqlite::{params, Connection, OptionalExtension};
use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE businesses (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE wabas (id TEXT PRIMARY KEY, business_id TEXT NOT NULL, name TEXT NOT NULL,
    timezone TEXT NOT NULL, currency TEXT NOT NULL, consent_mode TEXT NOT NULL);
CREATE TABLE phone_numbers (id TEXT PRIMARY KEY, waba_id TEXT NOT NULL, number TEXT NOT NULL UNIQUE,
    verified_name TEXT NOT NULL, quality_rating TEXT NOT NULL, messaging_limit_tier TEXT NOT NULL,
    throughput_mps INTEGER NOT NULL, sync_failures INTEGER NOT NULL, registered INTEGER NOT NULL);
CREATE TABLE apps (id TEXT PRIMARY KEY, business_id TEXT NOT NULL, app_secret TEXT NOT NULL,
    verify_token TEXT NOT NULL, callback_url TEXT, webhook_version TEXT NOT NULL);
CREATE TABLE access_tokens (token TEXT PRIMARY KEY, business_id TEXT NOT NULL);
CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    waba_id TEXT NOT NULL, phone_number_id TEXT NOT NULL, business TEXT NOT NULL, recipient TEXT NOT NULL,
    wa_id TEXT NOT NULL, type_name TEXT NOT NULL, template_category TEXT, content TEXT NOT NULL,
    biz_opaque_callback_data TEXT, context_message_id TEXT, status TEXT NOT NULL, error_code INTEGER,
    conversation_id TEXT, conversation_category TEXT, conversation_expires_at INTEGER,
    pricing TEXT, charge TEXT, created_at INTEGER NOT NULL);
CREATE TABLE user_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, waba_id TEXT NOT NULL,
    business TEXT, wa_id TEXT NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL);
"#,
    r#"
CREATE TABLE templates (id TEXT PRIMARY KEY, waba_id TEXT NOT NULL, name TEXT NOT NULL,
    language TEXT NOT NULL, status TEXT NOT NULL, category TEXT NOT NULL, rejected_reason TEXT,
    definition TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (waba_id, name, language));
"#,
    r#"
CREATE TABLE media (id TEXT PRIMARY KEY, phone_number_id TEXT NOT NULL, waba_id TEXT NOT NULL,
    mime_type TEXT NOT NULL, sha256 TEXT NOT NULL, file_size INTEGER NOT NULL, filename TEXT,
    path TEXT NOT NULL, created_at INTEGER NOT NULL);
"#,
    // Measured (BENCHMARKS.md): the UNIQUE index on random `wamid` text put each message on
    // its own random index page, ~4 KiB of WAL per message. The wamid now encodes `seq`, so
    // the table is keyed by it alone and appends; AUTOINCREMENT's bookkeeping row goes too.
    r#"
CREATE TABLE messages_v4 (seq INTEGER PRIMARY KEY, id TEXT NOT NULL,
    waba_id TEXT NOT NULL, phone_number_id TEXT NOT NULL, business TEXT NOT NULL, recipient TEXT NOT NULL,
    wa_id TEXT NOT NULL, type_name TEXT NOT NULL, template_category TEXT, content TEXT NOT NULL,
    biz_opaque_callback_data TEXT, context_message_id TEXT, status TEXT NOT NULL, error_code INTEGER,
    conversation_id TEXT, conversation_category TEXT, conversation_expires_at INTEGER,
    pricing TEXT, charge TEXT, created_at INTEGER NOT NULL);
INSERT INTO messages_v4 SELECT * FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
"#,
    r#"
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"#,
    // Webhooks: the outbox is written in the transaction of the change that causes it. Only
    // pending rows are indexed (a partial index), so the index stays as small as the backlog.
    // The payload, written once, lives in its own table: each attempt rewrites only the
    // small outbox row.
    r#"
CREATE TABLE webhook_outbox (seq INTEGER PRIMARY KEY, app_id TEXT NOT NULL,
    ordering_key TEXT NOT NULL, field TEXT NOT NULL,
    created_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, state TEXT NOT NULL,
    attempts TEXT NOT NULL, delivered_at INTEGER);
CREATE TABLE webhook_payloads (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (seq) WHERE state = 'pending';
ALTER TABLE messages ADD COLUMN receipt TEXT;
ALTER TABLE apps ADD COLUMN fields TEXT;
CREATE TABLE sim_users (wa_id TEXT PRIMARY KEY, settings TEXT NOT NULL);
"#,
    // 7: the ledger, keyed by the booking message's sequence number, and its rollups (see
    // `ledger`): WITHOUT ROWID so a rollup row lives in its key's B-tree, read in bucket order.
    r#"
CREATE TABLE ledger (seq INTEGER PRIMARY KEY, waba_id TEXT NOT NULL,
    phone_number_id TEXT NOT NULL, business TEXT NOT NULL, wa_id TEXT NOT NULL,
    market TEXT NOT NULL, country TEXT NOT NULL, category TEXT NOT NULL, model TEXT NOT NULL,
    pricing_type TEXT NOT NULL, direction TEXT NOT NULL, conversation_id TEXT, amount TEXT,
    currency TEXT NOT NULL, card TEXT, tier TEXT, at INTEGER NOT NULL, day INTEGER NOT NULL);
CREATE TABLE ledger_rollup (waba_id TEXT NOT NULL, grain TEXT NOT NULL, bucket INTEGER NOT NULL,
    phone_number_id TEXT NOT NULL, country TEXT NOT NULL, market TEXT NOT NULL,
    category TEXT NOT NULL, model TEXT NOT NULL, pricing_type TEXT NOT NULL,
    direction TEXT NOT NULL, tier TEXT NOT NULL, unit TEXT NOT NULL, currency TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (waba_id, grain, bucket, phone_number_id, country, market, category, model,
        pricing_type, direction, tier, unit, currency)) WITHOUT ROWID;
CREATE TABLE message_rollup (waba_id TEXT NOT NULL, grain TEXT NOT NULL, bucket INTEGER NOT NULL,
    phone_number_id TEXT NOT NULL, country TEXT NOT NULL, sent INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    PRIMARY KEY (waba_id, grain, bucket, phone_number_id, country)) WITHOUT ROWID;
CREATE TABLE rate_cards (seq INTEGER PRIMARY KEY, waba_id TEXT, name TEXT NOT NULL,
    effective_from TEXT NOT NULL, family TEXT NOT NULL, csv TEXT NOT NULL, tiers_csv TEXT,
    created_at INTEGER NOT NULL);
CREATE TABLE budgets (waba_id TEXT PRIMARY KEY, amount TEXT NOT NULL, currency TEXT NOT NULL,
    thresholds TEXT NOT NULL, hard_stop INTEGER NOT NULL);
"#,
    // 8: a message's receipts (delivered, read) in a narrow table of their own. Measured
    // (BENCHMARKS.md): an UPDATE of `messages.receipt` re-encoded the whole ~550-byte row
    // and dirtied a page of messages sent seconds before, two per message; here a receipt
    // is a 10-byte row, and a second's receipts share a few pages. `messages.receipt` keeps
    // the state the message was stored with (and what older versions wrote).
    r#"
CREATE TABLE receipts (seq INTEGER PRIMARY KEY, receipt TEXT NOT NULL);
"#,
];

/// A ledger rollup row's key, borrowed from the transaction's writes: WABA, grain, bucket,
/// then [`RollupKey::dims`].
type LedgerKey<'a> = (&'a str, Grain, i64, [&'a str; 10]);

/// A messaging rollup row's key: WABA, grain, bucket, phone number id, country.
type MessageKey<'a> = (&'a str, Grain, i64, &'a str, &'a str);

/// Rollup deltas of one transaction, applied once per key just before it commits.
///
/// Measured (BENCHMARKS.md, callgrind): keyed by owned strings under SipHash, counting cost
/// ~6k instructions a message; the keys now borrow the batch's writes and hash with FxHash
/// (the keys are ours, not an attacker's).
#[derive(Default)]
struct Rollups<'a> {
    ledger: FxHashMap<LedgerKey<'a>, i64>,
    messages: FxHashMap<MessageKey<'a>, (i64, i64)>,
}

impl<'a> Rollups<'a> {
    fn ledger(&mut self, e: &'a LedgerEntry) {
        let dims = RollupKey::dims(e);
        for (grain, bucket) in [
            (Grain::HalfHour, e.at.div_euclid(HALF_HOUR_MS)),
            (Grain::Day, e.day),
        ] {
            *self
                .ledger
                .entry((&e.waba_id, grain, bucket, dims))
                .or_default() += 1;
        }
    }

    fn message(&mut self, m: &'a MessageCount) {
        for (grain, bucket) in [
            (Grain::HalfHour, m.at.div_euclid(HALF_HOUR_MS)),
            (Grain::Day, m.day),
        ] {
            let v = self
                .messages
                .entry((&m.waba_id, grain, bucket, &m.phone_number_id, &m.country))
                .or_default();
            v.0 += m.sent;
            v.1 += m.delivered;
        }
    }

    fn flush(self, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        if !self.ledger.is_empty() {
            let mut st = tx.prepare_cached("INSERT INTO ledger_rollup (waba_id, grain, bucket, phone_number_id, country, market, category, model, pricing_type, direction, tier, unit, currency, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT DO UPDATE SET count = count + excluded.count")?;
            // The columns follow `RollupKey::dims`' order, bound by position.
            for ((waba, grain, bucket, dims), n) in self.ledger {
                st.raw_bind_parameter(1, waba)?;
                st.raw_bind_parameter(2, grain.as_str())?;
                st.raw_bind_parameter(3, bucket)?;
                for (i, dim) in dims.into_iter().enumerate() {
                    st.raw_bind_parameter(4 + i, dim)?;
                }
                st.raw_bind_parameter(4 + dims.len(), n)?;
                st.raw_execute()?;
            }
        }
        if !self.messages.is_empty() {
            let mut st = tx.prepare_cached("INSERT INTO message_rollup (waba_id, grain, bucket, phone_number_id, country, sent, delivered) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, delivered = delivered + excluded.delivered")?;
            for ((waba, grain, bucket, phone, country), (sent, delivered)) in self.messages {
                st.execute(params![
                    waba,
                    grain.as_str(),
                    bucket,
                    phone,
                    country,
                    sent,
                    delivered
                ])?;
            }
        }
        Ok(())
    }
}

/// The most writes one transaction takes before it commits and starts another.
///
/// Measured (BENCHMARKS.md, p99 at 20,000 sends/s with receipts on, 5 alternated runs): at
/// 4096 a burst of due receipts could become one long transaction that the sends queued
/// behind it waited for (p99 6.0-14.4 ms, p99.9 up to 36 ms); at 512 such a burst commits in
/// several and sends join the next one (p99 5.9-8.0 ms, p99.9 up to 20 ms). An fsync per 512
/// writes costs no measurable throughput.
const MAX_BATCH: usize = 512;

struct Job {
    writes: Vec<Write>,
    /// The outcome, and the writes handed back: they are freed by the task that made them,
    /// not by the writer. Measured (BENCHMARKS.md): freeing a batch's records on the writer
    /// thread put every free on mimalloc's cross-thread path, in the one thread every
    /// commit waits for.
    done: oneshot::Sender<(Result<(), StoreError>, Vec<Write>)>,
}

pub struct SqliteStore {
    /// The writer's queue. `Sender` is `Sync` (since Rust 1.72), so tasks send without a
    /// lock of ours: the `Mutex` that was here cost a lock and an unlock per commit, and the
    /// two tokio workers could wait on each other for it.
    jobs: mpsc::Sender<Job>,
    reader: Mutex<Connection>,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let c = Connection::open(path)?;
    // WAL: readers never block the writer. synchronous=FULL: a commit is on disk when it
    // returns, which is what lets the API answer 200 only for durable messages.
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    // Measured under load (BENCHMARKS.md): a larger page cache and memory-mapped reads stop
    // the writer from re-reading pages through read(2), and fewer, larger checkpoints cut
    // its write amplification.
    c.pragma_update(None, "cache_size", -65_536)?;
    c.pragma_update(None, "mmap_size", 268_435_456)?;
    // Checkpoints run on their own thread (see `checkpointer`), never in a commit's path.
    c.pragma_update(None, "wal_autocheckpoint", 0)?;
    c.pragma_update(None, "temp_store", "MEMORY")?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(c)
}

fn migrate(c: &mut Connection) -> Result<(), StoreError> {
    let done: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, m) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
        let tx = c.transaction()?;
        tx.execute_batch(m)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `openwaba.db` in `dir`, runs migrations, starts the writer.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join("openwaba.db");
        let mut writer = connect(&path)?;
        migrate(&mut writer)?;
        let reader = connect(&path)?;
        let checkpoints = connect(&path)?;
        let caught_up = Arc::new(AtomicBool::new(false));
        let flag = caught_up.clone();
        // Thread names fit Linux's 15 characters, so `top -H` and `perf` tell them apart.
        std::thread::Builder::new()
            .name("ow-checkpointer".into())
            .spawn(move || checkpointer(checkpoints, flag))
            .map_err(|source| StoreError::DataDir {
                path: "checkpoint thread".into(),
                source,
            })?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ow-store-writer".into())
            .spawn(move || writer_loop(writer, rx, caught_up))
            .map_err(|source| StoreError::DataDir {
                path: "writer thread".into(),
                source,
            })?;
        Ok(SqliteStore {
            jobs: tx,
            reader: Mutex::new(reader),
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let c = self.reader.lock().map_err(|_| StoreError::WriterGone)?;
        f(&c)
    }
}

/// Copies the WAL into the database every 200 ms without blocking the writer (PASSIVE), so
/// commits never wait for a checkpoint: measured, inline checkpoints were the p99 (~50 ms).
/// After each round it raises `caught_up` for the writer (see [`writer_loop`]). Stops when the
/// database can no longer be reached.
fn checkpointer(c: Connection, caught_up: Arc<AtomicBool>) {
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        // The second pass copies only what was committed during the first, so the writer,
        // which acts within a batch of the signal, is left with almost nothing.
        for _ in 0..2 {
            if c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .is_err()
            {
                return;
            }
        }
        caught_up.store(true, Ordering::Release);
    }
}

/// How often, at most, the writer finishes the checkpointer's work itself.
const WAL_RESET_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Takes every job waiting, applies them in one transaction, commits once, answers all.
///
/// Why the writer also checkpoints: SQLite writes the WAL from its start again only after a
/// checkpoint has copied *every* frame, and under a steady stream of commits the background
/// checkpointer never catches the last one, so the WAL grew without end (measured: 47 MB/s,
/// each commit paying for new blocks and the file's size). So, at most twice a second and
/// just after the checkpointer has finished a round, the writer copies what that round left,
/// between two batches (nothing is being written, the answers have gone out); the next
/// commit then reuses the file. Right after a round that is a few dozen pages.
fn writer_loop(mut c: Connection, rx: mpsc::Receiver<Job>, caught_up: Arc<AtomicBool>) {
    let mut last_reset = std::time::Instant::now();
    let skip_writes = SkipWrites::from_env();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let mut n = batch[0].writes.len();
        while n < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.writes.len();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        let result = if skip_writes.is_on() {
            Ok(())
        } else {
            apply(&mut c, &batch)
        };
        match result {
            Ok(()) => {
                for j in batch {
                    let _ = j.done.send((Ok(()), j.writes));
                }
            }
            Err(_) => {
                // One bad write must not sink the others: retry each job alone.
                for j in batch {
                    let r = apply(&mut c, std::slice::from_ref(&j));
                    let _ = j.done.send((r, j.writes));
                }
            }
        }
        // The signal is taken at once, used or not: acting on a stale one would leave the
        // writer everything committed since (measured: 6-9k pages, 7-13 ms under full load).
        if caught_up.swap(false, Ordering::Acquire) && last_reset.elapsed() >= WAL_RESET_INTERVAL {
            // A failure here only leaves the WAL longer; the background checkpointer goes on.
            let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            last_reset = std::time::Instant::now();
        }
    }
}

/// The benchmark's switch that turns the store off (feature `bench-skip-writes`; see
/// bench/serve_store_share.sh): on while the file named by `OPENWABA_BENCH_SKIP_WRITES_FLAG`
/// exists. Without the feature it is never on and costs nothing.
struct SkipWrites {
    #[cfg(feature = "bench-skip-writes")]
    flag: Option<std::path::PathBuf>,
}

impl SkipWrites {
    fn from_env() -> SkipWrites {
        SkipWrites {
            #[cfg(feature = "bench-skip-writes")]
            flag: std::env::var_os("OPENWABA_BENCH_SKIP_WRITES_FLAG").map(Into::into),
        }
    }

    #[cfg(feature = "bench-skip-writes")]
    fn is_on(&self) -> bool {
        self.flag.as_deref().is_some_and(Path::exists)
    }

    #[cfg(not(feature = "bench-skip-writes"))]
    fn is_on(&self) -> bool {
        false
    }
}

fn apply(c: &mut Connection, jobs: &[Job]) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    {
        let mut rollups = Rollups::default();
        let mut hot = HotStatements::default();
        for j in jobs {
            for w in &j.writes {
                write(&tx, &mut hot, w, &mut rollups)?;
            }
        }
        rollups.flush(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// The statements every send runs (message, ledger entry, receipt), each taken from the
/// statement cache once per transaction rather than once per write. Measured (BENCHMARKS.md,
/// callgrind): the cache's lookup (hashing the SQL text) and its return (clearing every
/// binding) cost ~10k instructions a message.
#[derive(Default)]
struct HotStatements<'c, 'w> {
    message: Option<Hot<'c, &'w MessageRecord>>,
    ledger: Option<Hot<'c, &'w LedgerEntry>>,
    receipt: Option<rusqlite::CachedStatement<'c>>,
}

/// A hot statement and the row its parameters hold.
///
/// Why: a statement keeps its bindings from one execution to the next (`sqlite3_reset` does
/// not clear them), and consecutive rows of a transaction share most of their values (the
/// WABA, the number, the category, the currency, ...). Binding a text copies it into
/// SQLite's memory; measured (BENCHMARKS.md, seventh session), the binding of a message and
/// its ledger entry was ~12k instructions a send. So a row binds only the values that
/// differ from the row before it.
struct Hot<'c, R> {
    statement: rusqlite::CachedStatement<'c>,
    /// The row whose values the parameters hold: `None` when they may hold anything (a
    /// statement fresh from the cache, whose bindings the cache cleared, or a row whose
    /// binding did not finish).
    bound: Option<R>,
}

/// The statement in `slot`, prepared (from the connection's cache) on first use.
fn hot<'s, 'c>(
    tx: &'c rusqlite::Transaction<'_>,
    slot: &'s mut Option<rusqlite::CachedStatement<'c>>,
    sql: &str,
) -> Result<&'s mut rusqlite::CachedStatement<'c>, StoreError> {
    let statement = match slot.take() {
        Some(s) => s,
        None => tx.prepare_cached(sql)?,
    };
    Ok(slot.insert(statement))
}

/// [`hot`] for a statement that binds only what changed (see [`Hot`]).
fn hot_row<'s, 'c, R>(
    tx: &'c rusqlite::Transaction<'_>,
    slot: &'s mut Option<Hot<'c, R>>,
    sql: &str,
) -> Result<&'s mut Hot<'c, R>, StoreError> {
    let hot = match slot.take() {
        Some(h) => h,
        None => Hot {
            statement: tx.prepare_cached(sql)?,
            bound: None,
        },
    };
    Ok(slot.insert(hot))
}

/// Binds `value` to parameter `i` (1-based) unless it holds `value` already: `bound` is the
/// value of the row the parameters hold, if they hold one.
fn bind<T: rusqlite::ToSql + PartialEq + Copy>(
    statement: &mut rusqlite::Statement<'_>,
    i: usize,
    value: T,
    bound: Option<T>,
) -> rusqlite::Result<()> {
    if bound == Some(value) {
        return Ok(());
    }
    statement.raw_bind_parameter(i, value)
}

/// Inserts a message, binding only what differs from the row before (see [`Hot`]).
fn insert_message<'w>(
    hot: &mut Hot<'_, &'w MessageRecord>,
    m: &'w MessageRecord,
) -> Result<(), StoreError> {
    // Cleared first: if a binding fails, the parameters hold neither row.
    let b = hot.bound.take();
    let st = &mut hot.statement;
    bind(st, 1, m.seq, b.map(|b| b.seq))?;
    bind(st, 2, m.id.as_str(), b.map(|b| b.id.as_str()))?;
    bind(st, 3, m.waba_id.as_str(), b.map(|b| b.waba_id.as_str()))?;
    bind(
        st,
        4,
        m.phone_number_id.as_str(),
        b.map(|b| b.phone_number_id.as_str()),
    )?;
    bind(st, 5, m.business.as_str(), b.map(|b| b.business.as_str()))?;
    bind(st, 6, m.to.as_str(), b.map(|b| b.to.as_str()))?;
    bind(st, 7, m.wa_id.as_str(), b.map(|b| b.wa_id.as_str()))?;
    bind(st, 8, m.type_name.as_str(), b.map(|b| b.type_name.as_str()))?;
    bind(
        st,
        9,
        m.template_category.as_deref(),
        b.map(|b| b.template_category.as_deref()),
    )?;
    bind(st, 10, m.content.as_str(), b.map(|b| b.content.as_str()))?;
    bind(
        st,
        11,
        m.biz_opaque_callback_data.as_deref(),
        b.map(|b| b.biz_opaque_callback_data.as_deref()),
    )?;
    bind(
        st,
        12,
        m.context_message_id.as_deref(),
        b.map(|b| b.context_message_id.as_deref()),
    )?;
    bind(st, 13, m.status.as_str(), b.map(|b| b.status.as_str()))?;
    bind(st, 14, m.error_code, b.map(|b| b.error_code))?;
    bind(
        st,
        15,
        m.conversation_id.as_deref(),
        b.map(|b| b.conversation_id.as_deref()),
    )?;
    bind(
        st,
        16,
        m.conversation_category.as_deref(),
        b.map(|b| b.conversation_category.as_deref()),
    )?;
    bind(
        st,
        17,
        m.conversation_expires_at,
        b.map(|b| b.conversation_expires_at),
    )?;
    bind(
        st,
        18,
        m.pricing.as_deref(),
        b.map(|b| b.pricing.as_deref()),
    )?;
    bind(st, 19, m.charge.as_deref(), b.map(|b| b.charge.as_deref()))?;
    bind(st, 20, m.created_at, b.map(|b| b.created_at))?;
    bind(
        st,
        21,
        m.receipt.as_deref(),
        b.map(|b| b.receipt.as_deref()),
    )?;
    // The parameters now hold `m`, whether or not the insert succeeds.
    hot.bound = Some(m);
    hot.statement.raw_execute()?;
    Ok(())
}

/// Inserts a ledger entry, binding only what differs from the entry before (see [`Hot`]).
fn insert_ledger_entry<'w>(
    hot: &mut Hot<'_, &'w LedgerEntry>,
    e: &'w LedgerEntry,
) -> Result<(), StoreError> {
    let b = hot.bound.take();
    let st = &mut hot.statement;
    bind(st, 1, e.seq, b.map(|b| b.seq))?;
    bind(st, 2, e.waba_id.as_str(), b.map(|b| b.waba_id.as_str()))?;
    bind(
        st,
        3,
        e.phone_number_id.as_str(),
        b.map(|b| b.phone_number_id.as_str()),
    )?;
    bind(st, 4, e.business.as_str(), b.map(|b| b.business.as_str()))?;
    bind(st, 5, e.wa_id.as_str(), b.map(|b| b.wa_id.as_str()))?;
    bind(st, 6, e.market.as_str(), b.map(|b| b.market.as_str()))?;
    bind(st, 7, e.country.as_str(), b.map(|b| b.country.as_str()))?;
    bind(st, 8, e.category.as_str(), b.map(|b| b.category.as_str()))?;
    bind(st, 9, e.model.as_str(), b.map(|b| b.model.as_str()))?;
    bind(
        st,
        10,
        e.pricing_type.as_str(),
        b.map(|b| b.pricing_type.as_str()),
    )?;
    bind(
        st,
        11,
        e.direction.as_str(),
        b.map(|b| b.direction.as_str()),
    )?;
    bind(
        st,
        12,
        e.conversation_id.as_deref(),
        b.map(|b| b.conversation_id.as_deref()),
    )?;
    bind(st, 13, e.amount.as_deref(), b.map(|b| b.amount.as_deref()))?;
    bind(st, 14, e.currency.as_str(), b.map(|b| b.currency.as_str()))?;
    bind(st, 15, e.card.as_deref(), b.map(|b| b.card.as_deref()))?;
    bind(st, 16, e.tier.as_deref(), b.map(|b| b.tier.as_deref()))?;
    bind(st, 17, e.at, b.map(|b| b.at))?;
    bind(st, 18, e.day, b.map(|b| b.day))?;
    hot.bound = Some(e);
    hot.statement.raw_execute()?;
    Ok(())
}

fn write<'c, 'w>(
    tx: &'c rusqlite::Transaction<'_>,
    hot_statements: &mut HotStatements<'c, 'w>,
    w: &'w Write,
    rollups: &mut Rollups<'w>,
) -> Result<(), StoreError> {
    match w {
        Write::Ledger(e) => {
            let hot = hot_row(tx, &mut hot_statements.ledger, "INSERT INTO ledger (seq, waba_id, phone_number_id, business, wa_id, market, country, category, model, pricing_type, direction, conversation_id, amount, currency, card, tier, at, day) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)")?;
            insert_ledger_entry(hot, e)?;
            rollups.ledger(e);
        }
        Write::MessageCount(m) => rollups.message(m),
        Write::RateCard(r) => {
            tx.prepare_cached("INSERT INTO rate_cards (waba_id, name, effective_from, family, csv, tiers_csv, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                .execute(params![r.waba_id, r.name, r.effective_from, r.family, r.csv, r.tiers_csv, r.created_at])?;
        }
        Write::Budget(b) => {
            tx.prepare_cached("INSERT OR REPLACE INTO budgets (waba_id, amount, currency, thresholds, hard_stop) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![b.waba_id, b.amount, b.currency, b.thresholds, b.hard_stop])?;
        }
        Write::DeleteBudget { waba_id } => {
            tx.prepare_cached("DELETE FROM budgets WHERE waba_id = ?1")?
                .execute([waba_id])?;
        }
        Write::Business(b) => {
            tx.prepare_cached("INSERT OR REPLACE INTO businesses (id, name) VALUES (?1, ?2)")?
                .execute(params![b.id, b.name])?;
        }
        Write::Waba(w) => {
            tx.prepare_cached("INSERT OR REPLACE INTO wabas (id, business_id, name, timezone, currency, consent_mode) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                .execute(params![w.id, w.business_id, w.name, w.timezone, w.currency, w.consent_mode])?;
        }
        Write::PhoneNumber(p) => {
            tx.prepare_cached("INSERT OR REPLACE INTO phone_numbers (id, waba_id, number, verified_name, quality_rating, messaging_limit_tier, throughput_mps, sync_failures, registered) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?
                .execute(params![p.id, p.waba_id, p.number, p.verified_name, p.quality_rating, p.messaging_limit_tier, p.throughput_mps, p.sync_failures, p.registered])?;
        }
        Write::App(a) => {
            tx.prepare_cached("INSERT OR REPLACE INTO apps (id, business_id, app_secret, verify_token, callback_url, webhook_version, fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                .execute(params![a.id, a.business_id, a.app_secret, a.verify_token, a.callback_url, a.webhook_version, a.fields])?;
        }
        Write::Token(t) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO access_tokens (token, business_id) VALUES (?1, ?2)",
            )?
            .execute(params![t.token, t.business_id])?;
        }
        Write::Message(m) => {
            let hot = hot_row(tx, &mut hot_statements.message, "INSERT INTO messages (seq, id, waba_id, phone_number_id, business, recipient, wa_id, type_name, template_category, content, biz_opaque_callback_data, context_message_id, status, error_code, conversation_id, conversation_category, conversation_expires_at, pricing, charge, created_at, receipt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)")?;
            insert_message(hot, m)?;
        }
        Write::Template(t) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO templates (id, waba_id, name, language, status, category, rejected_reason, definition, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![t.id, t.waba_id, t.name, t.language, t.status, t.category, t.rejected_reason, t.definition, t.created_at])?;
        }
        Write::DeleteTemplate { id } => {
            tx.prepare_cached("DELETE FROM templates WHERE id = ?1")?
                .execute([id])?;
        }
        Write::Media(m) => {
            tx.prepare_cached(
                "INSERT INTO media (id, phone_number_id, waba_id, mime_type, sha256, file_size, filename, path, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![m.id, m.phone_number_id, m.waba_id, m.mime_type, m.sha256, m.file_size, m.filename, m.path, m.created_at])?;
        }
        Write::DeleteMedia { id } => {
            tx.prepare_cached("DELETE FROM media WHERE id = ?1")?
                .execute([id])?;
        }
        Write::Webhook(o) => {
            tx.prepare_cached("INSERT INTO webhook_outbox (seq, app_id, ordering_key, field, created_at, next_attempt_at, state, attempts, delivered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")?
                .execute(params![o.seq, o.app_id, o.ordering_key, o.field, o.created_at, o.next_attempt_at, o.state, o.attempts, o.delivered_at])?;
            tx.prepare_cached("INSERT INTO webhook_payloads (seq, payload) VALUES (?1, ?2)")?
                .execute(params![o.seq, payload_blob(&o.payload)])?;
        }
        Write::WebhookAttempt {
            seq,
            state,
            next_attempt_at,
            attempts,
            delivered_at,
        } => {
            tx.prepare_cached("UPDATE webhook_outbox SET state = ?2, next_attempt_at = ?3, attempts = ?4, delivered_at = ?5 WHERE seq = ?1")?
                .execute(params![seq, state, next_attempt_at, attempts, delivered_at])?;
        }
        Write::Receipt { seq, receipt } => {
            hot(tx, &mut hot_statements.receipt, "INSERT INTO receipts (seq, receipt) VALUES (?1, ?2) ON CONFLICT (seq) DO UPDATE SET receipt = excluded.receipt")?
                .execute(params![seq, receipt.as_str()])?;
        }
        Write::SimUser { wa_id, settings } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO sim_users (wa_id, settings) VALUES (?1, ?2)",
            )?
            .execute(params![wa_id, settings])?;
        }
        Write::Setting { key, value } => {
            tx.prepare_cached("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)")?
                .execute(params![key, value])?;
        }
        Write::User(e) => {
            tx.prepare_cached(
                "INSERT INTO user_events (waba_id, business, wa_id, kind, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![e.waba_id, e.business, e.wa_id, e.kind, e.at])?;
        }
    }
    Ok(())
}

/// A message's columns, its latest receipt included, read from [`MESSAGES`].
const MESSAGE_COLUMNS: &str = "m.seq, m.id, m.waba_id, m.phone_number_id, m.business, m.recipient, m.wa_id, m.type_name, m.template_category, m.content, m.biz_opaque_callback_data, m.context_message_id, m.status, m.error_code, m.conversation_id, m.conversation_category, m.conversation_expires_at, m.pricing, m.charge, m.created_at, COALESCE(r.receipt, m.receipt)";
/// Messages with their receipts (migration 8).
const MESSAGES: &str = "messages m LEFT JOIN receipts r ON r.seq = m.seq";

const WEBHOOK_COLUMNS: &str = "o.seq, o.app_id, o.ordering_key, o.field, p.payload, o.created_at, o.next_attempt_at, o.state, o.attempts, o.delivered_at";
const WEBHOOK_FROM: &str = "webhook_outbox o JOIN webhook_payloads p ON p.seq = o.seq";

/// A webhook payload as stored: LZ4 with its size prepended (a BLOB). Status payloads are
/// ~1 KiB of repetitive JSON and were most of the WAL bytes under webhook load (measured,
/// BENCHMARKS.md); compressed they are ~3x smaller. Text rows (written before) read as is.
fn payload_blob(payload: &str) -> Vec<u8> {
    lz4_flex::compress_prepend_size(payload.as_bytes())
}

fn payload_of(v: rusqlite::types::ValueRef<'_>) -> rusqlite::Result<String> {
    use rusqlite::types::{FromSqlError, ValueRef};
    match v {
        ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => lz4_flex::decompress_size_prepended(b)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
            .and_then(|bytes| {
                String::from_utf8(bytes).map_err(|e| FromSqlError::Other(Box::new(e)))
            })
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    4,
                    rusqlite::types::Type::Blob,
                    Box::new(e),
                )
            }),
        _ => Err(rusqlite::Error::InvalidColumnType(
            4,
            "payload".into(),
            rusqlite::types::Type::Null,
        )),
    }
}

fn webhook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookRecord> {
    Ok(WebhookRecord {
        seq: r.get(0)?,
        app_id: r.get(1)?,
        ordering_key: r.get(2)?,
        field: r.get(3)?,
        payload: payload_of(r.get_ref(4)?)?,
        created_at: r.get(5)?,
        next_attempt_at: r.get(6)?,
        state: r.get(7)?,
        attempts: r.get(8)?,
        delivered_at: r.get(9)?,
    })
}

/// A text column as a record's [`ShortText`] (rusqlite reads `String`s; the orphan rule
/// keeps `FromSql` off a foreign type). A value that is not text gets the error `String`
/// would have (its column named), by reading it again as one.
fn short(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<ShortText> {
    match r.get_ref(i)?.as_str() {
        Ok(s) => Ok(ShortText::new(s)),
        Err(_) => r.get::<_, String>(i).map(ShortText::from),
    }
}

/// A nullable text column as a record's [`ShortText`], as [`short`] does.
fn short_opt(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<ShortText>> {
    match r.get_ref(i)?.as_str_or_null() {
        Ok(s) => Ok(s.map(ShortText::new)),
        Err(_) => r
            .get::<_, Option<String>>(i)
            .map(|s| s.map(ShortText::from)),
    }
}

fn message_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRecord> {
    Ok(MessageRecord {
        seq: r.get(0)?,
        id: r.get(1)?,
        waba_id: short(r, 2)?,
        phone_number_id: short(r, 3)?,
        business: short(r, 4)?,
        to: short(r, 5)?,
        wa_id: short(r, 6)?,
        type_name: short(r, 7)?,
        template_category: short_opt(r, 8)?,
        content: r.get(9)?,
        biz_opaque_callback_data: r.get(10)?,
        context_message_id: r.get(11)?,
        status: short(r, 12)?,
        error_code: r.get(13)?,
        conversation_id: short_opt(r, 14)?,
        conversation_category: short_opt(r, 15)?,
        conversation_expires_at: r.get(16)?,
        pricing: r.get(17)?,
        charge: short_opt(r, 18)?,
        created_at: r.get(19)?,
        receipt: short_opt(r, 20)?,
    })
}

impl Store for SqliteStore {
    fn commit(&self, writes: Vec<Write>) -> StoreFuture<'_, ()> {
        let (done, wait) = oneshot::channel();
        let sent = self
            .jobs
            .send(Job { writes, done })
            .map_err(|_| StoreError::WriterGone);
        Box::pin(async move {
            sent?;
            let (result, writes) = wait.await.map_err(|_| StoreError::WriterGone)?;
            drop(writes);
            result
        })
    }

    fn accounts(&self) -> Result<Accounts, StoreError> {
        self.read(|c| {
            let mut a = Accounts::default();
            let mut s = c.prepare("SELECT id, name FROM businesses ORDER BY id")?;
            a.businesses = s
                .query_map([], |r| Ok(Business { id: r.get(0)?, name: r.get(1)? }))?
                .collect::<Result<_, _>>()?;
            let mut s = c.prepare("SELECT id, business_id, name, timezone, currency, consent_mode FROM wabas ORDER BY id")?;
            a.wabas = s
                .query_map([], |r| {
                    Ok(Waba { id: r.get(0)?, business_id: r.get(1)?, name: r.get(2)?, timezone: r.get(3)?, currency: r.get(4)?, consent_mode: r.get(5)? })
                })?
                .collect::<Result<_, _>>()?;
            let mut s = c.prepare("SELECT id, waba_id, number, verified_name, quality_rating, messaging_limit_tier, throughput_mps, sync_failures, registered FROM phone_numbers ORDER BY id")?;
            a.phone_numbers = s
                .query_map([], |r| {
                    Ok(PhoneNumber {
                        id: r.get(0)?, waba_id: r.get(1)?, number: r.get(2)?, verified_name: r.get(3)?,
                        quality_rating: r.get(4)?, messaging_limit_tier: r.get(5)?, throughput_mps: r.get(6)?,
                        sync_failures: r.get(7)?, registered: r.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut s = c.prepare("SELECT id, business_id, app_secret, verify_token, callback_url, webhook_version, fields FROM apps ORDER BY id")?;
            a.apps = s
                .query_map([], |r| {
                    Ok(App { id: r.get(0)?, business_id: r.get(1)?, app_secret: r.get(2)?, verify_token: r.get(3)?, callback_url: r.get(4)?, webhook_version: r.get(5)?, fields: r.get(6)? })
                })?
                .collect::<Result<_, _>>()?;
            let mut s = c.prepare("SELECT token, business_id FROM access_tokens ORDER BY token")?;
            a.tokens = s
                .query_map([], |r| Ok(AccessToken { token: r.get(0)?, business_id: r.get(1)? }))?
                .collect::<Result<_, _>>()?;
            Ok(a)
        })
    }

    fn engine_log(&self) -> Result<Vec<EngineInput>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES} ORDER BY m.seq"
            ))?;
            let messages: Vec<MessageRecord> =
                s.query_map([], message_row)?.collect::<Result<_, _>>()?;
            let mut s = c.prepare(
                "SELECT waba_id, business, wa_id, kind, at FROM user_events ORDER BY seq",
            )?;
            let consents: Vec<UserEvent> = s
                .query_map([], |r| {
                    Ok(UserEvent {
                        waba_id: r.get(0)?,
                        business: r.get(1)?,
                        wa_id: r.get(2)?,
                        kind: r.get(3)?,
                        at: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            // Merge by instant; at equal instants a user's event first (it was recorded before any
            // send could depend on it).
            let mut out = Vec::with_capacity(messages.len() + consents.len());
            let (mut m, mut e) = (
                messages.into_iter().peekable(),
                consents.into_iter().peekable(),
            );
            loop {
                let take_consent = match (m.peek(), e.peek()) {
                    (None, None) => break,
                    (Some(_), None) => false,
                    (None, Some(_)) => true,
                    (Some(a), Some(b)) => b.at <= a.created_at,
                };
                if take_consent {
                    if let Some(x) = e.next() {
                        out.push(EngineInput::User(x));
                    }
                } else if let Some(x) = m.next() {
                    out.push(EngineInput::Message(Box::new(x)));
                }
            }
            Ok(out)
        })
    }

    fn templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare("SELECT id, waba_id, name, language, status, category, rejected_reason, definition, created_at FROM templates ORDER BY created_at, id")?;
            let v = s
                .query_map([], |r| {
                    Ok(TemplateRecord {
                        id: r.get(0)?,
                        waba_id: r.get(1)?,
                        name: r.get(2)?,
                        language: r.get(3)?,
                        status: r.get(4)?,
                        category: r.get(5)?,
                        rejected_reason: r.get(6)?,
                        definition: r.get(7)?,
                        created_at: r.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn message(&self, seq: i64, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {MESSAGE_COLUMNS} FROM {MESSAGES} WHERE m.seq = ?1 AND m.id = ?2"),
                params![seq, id],
                message_row,
            )
            .optional()?)
        })
    }

    fn pending_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE o.state = 'pending' ORDER BY o.seq"
            ))?;
            let v = s.query_map([], webhook_row)?.collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn webhooks(
        &self,
        state: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<WebhookRecord>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE (?1 IS NULL OR o.state = ?1) AND o.seq < ?2 ORDER BY o.seq DESC LIMIT ?3"
            ))?;
            let v = s
                .query_map(
                    params![state, before.unwrap_or(i64::MAX), limit],
                    webhook_row,
                )?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn webhook(&self, seq: i64) -> Result<Option<WebhookRecord>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE o.seq = ?1"),
                [seq],
                webhook_row,
            )
            .optional()?)
        })
    }

    fn last_webhook_seq(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM webhook_outbox",
                [],
                |r| r.get(0),
            )?)
        })
    }

    fn awaiting_receipts(&self) -> Result<Vec<MessageRecord>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM {MESSAGES} WHERE COALESCE(r.receipt, m.receipt) IN ('sent', 'delivered') ORDER BY m.seq"
            ))?;
            let v = s.query_map([], message_row)?.collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn sim_users(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare("SELECT wa_id, settings FROM sim_users")?;
            let v = s
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    fn last_message_seq(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT COALESCE(MAX(seq), 0) FROM messages", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    fn media(&self, id: &str) -> Result<Option<MediaRecord>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT id, phone_number_id, waba_id, mime_type, sha256, file_size, filename, path, created_at FROM media WHERE id = ?1",
                [id],
                |r| {
                    Ok(MediaRecord {
                        id: r.get(0)?,
                        phone_number_id: r.get(1)?,
                        waba_id: r.get(2)?,
                        mime_type: r.get(3)?,
                        sha256: r.get(4)?,
                        file_size: r.get(5)?,
                        filename: r.get(6)?,
                        path: r.get(7)?,
                        created_at: r.get(8)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn ledger_rollup(
        &self,
        waba_id: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupRow>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare_cached("SELECT bucket, phone_number_id, country, market, category, model, pricing_type, direction, tier, unit, currency, count FROM ledger_rollup WHERE waba_id = ?1 AND grain = ?2 AND bucket >= ?3 AND bucket < ?4")?;
            let v = s
                .query_map(params![waba_id, grain.as_str(), from, to], |r| {
                    Ok(RollupRow {
                        bucket: r.get(0)?,
                        key: RollupKey {
                            phone_number_id: r.get(1)?,
                            country: r.get(2)?,
                            market: r.get(3)?,
                            category: r.get(4)?,
                            model: r.get(5)?,
                            pricing_type: r.get(6)?,
                            direction: r.get(7)?,
                            tier: r.get(8)?,
                            unit: r.get(9)?,
                            currency: r.get(10)?,
                        },
                        count: r.get(11)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn message_rollup(
        &self,
        waba_id: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> Result<Vec<MessageCountRow>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare_cached("SELECT bucket, phone_number_id, country, sent, delivered FROM message_rollup WHERE waba_id = ?1 AND grain = ?2 AND bucket >= ?3 AND bucket < ?4")?;
            let v = s
                .query_map(params![waba_id, grain.as_str(), from, to], |r| {
                    Ok(MessageCountRow {
                        bucket: r.get(0)?,
                        phone_number_id: r.get(1)?,
                        country: r.get(2)?,
                        sent: r.get(3)?,
                        delivered: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn ledger(
        &self,
        waba_id: &str,
        from: i64,
        to: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare_cached("SELECT seq, waba_id, phone_number_id, business, wa_id, market, country, category, model, pricing_type, direction, conversation_id, amount, currency, card, tier, at, day FROM ledger WHERE seq > ?1 AND waba_id = ?2 AND at >= ?3 AND at < ?4 ORDER BY seq LIMIT ?5")?;
            let v = s
                .query_map(params![after, waba_id, from, to, limit], |r| {
                    Ok(LedgerEntry {
                        seq: r.get(0)?,
                        waba_id: short(r, 1)?,
                        phone_number_id: short(r, 2)?,
                        business: short(r, 3)?,
                        wa_id: short(r, 4)?,
                        market: short(r, 5)?,
                        country: short(r, 6)?,
                        category: short(r, 7)?,
                        model: short(r, 8)?,
                        pricing_type: short(r, 9)?,
                        direction: short(r, 10)?,
                        conversation_id: short_opt(r, 11)?,
                        amount: short_opt(r, 12)?,
                        currency: short(r, 13)?,
                        card: short_opt(r, 14)?,
                        tier: short_opt(r, 15)?,
                        at: r.get(16)?,
                        day: r.get(17)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn rate_cards(&self) -> Result<Vec<RateCardRecord>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare("SELECT seq, waba_id, name, effective_from, family, csv, tiers_csv, created_at FROM rate_cards ORDER BY seq")?;
            let v = s
                .query_map([], |r| {
                    Ok(RateCardRecord {
                        seq: r.get(0)?,
                        waba_id: r.get(1)?,
                        name: r.get(2)?,
                        effective_from: r.get(3)?,
                        family: r.get(4)?,
                        csv: r.get(5)?,
                        tiers_csv: r.get(6)?,
                        created_at: r.get(7)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    fn budgets(&self) -> Result<Vec<BudgetRecord>, StoreError> {
        self.read(|c| {
            let mut s = c.prepare(
                "SELECT waba_id, amount, currency, thresholds, hard_stop FROM budgets ORDER BY waba_id",
            )?;
            let v = s
                .query_map([], |r| {
                    Ok(BudgetRecord {
                        waba_id: r.get(0)?,
                        amount: r.get(1)?,
                        currency: r.get(2)?,
                        thresholds: r.get(3)?,
                        hard_stop: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn msg(seq: i64, id: &str, at: i64) -> MessageRecord {
        MessageRecord {
            seq,
            id: id.into(),
            waba_id: "1".into(),
            phone_number_id: "2".into(),
            business: "15550001111".into(),
            to: "+55 11 98765-0001".into(),
            wa_id: "5511987650001".into(),
            type_name: "text".into(),
            template_category: None,
            content: r#"{"body":"hi"}"#.into(),
            biz_opaque_callback_data: None,
            context_message_id: None,
            status: "delivered".into(),
            error_code: None,
            conversation_id: Some("c".into()),
            conversation_category: Some("service".into()),
            conversation_expires_at: Some(at + 86_400_000),
            pricing: None,
            charge: Some("0.0300".into()),
            created_at: at,
            receipt: None,
        }
    }

    /// A stored value of the wrong type is an error naming its column, as it was when these
    /// fields were read as `String`: not a panic, and not a silently empty field.
    #[tokio::test]
    async fn a_short_text_column_that_is_not_text_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.commit(vec![Write::Message(std::sync::Arc::new(msg(1, "m1", 10)))])
            .await
            .unwrap();
        let raw = rusqlite::Connection::open(dir.path().join("openwaba.db")).unwrap();
        raw.execute(
            "UPDATE messages SET waba_id = x'00ff', charge = x'01' WHERE seq = 1",
            [],
        )
        .unwrap();
        let e = s.message(1, "m1").unwrap_err().to_string();
        assert!(e.contains("waba_id"), "{e}");
        raw.execute("UPDATE messages SET waba_id = '1' WHERE seq = 1", [])
            .unwrap();
        let e = s.message(1, "m1").unwrap_err().to_string();
        assert!(e.contains("charge"), "{e}");
        raw.execute("UPDATE messages SET charge = NULL WHERE seq = 1", [])
            .unwrap();
        let m = s.message(1, "m1").unwrap().unwrap();
        assert_eq!((m.waba_id.as_str(), m.charge), ("1", None));
    }

    #[tokio::test]
    async fn writes_survive_reopening_and_keep_their_order() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            s.commit(vec![
                Write::Business(Business {
                    id: "b".into(),
                    name: "Shop".into(),
                }),
                Write::Token(AccessToken {
                    token: "t".into(),
                    business_id: "b".into(),
                }),
            ])
            .await
            .unwrap();
            s.commit(vec![Write::Message(std::sync::Arc::new(msg(1, "m1", 10)))])
                .await
                .unwrap();
            s.commit(vec![Write::User(Box::new(UserEvent {
                waba_id: "1".into(),
                business: Some("15550001111".into()),
                wa_id: "5511987650001".into(),
                kind: "opt_in".into(),
                at: 5,
            }))])
            .await
            .unwrap();
            s.commit(vec![Write::Message(std::sync::Arc::new(msg(2, "m2", 20)))])
                .await
                .unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        let a = s.accounts().unwrap();
        assert_eq!(a.businesses[0].name, "Shop");
        assert_eq!(a.tokens[0].token, "t");
        let log = s.engine_log().unwrap();
        assert_eq!(log.len(), 3);
        assert!(
            matches!(&log[0], EngineInput::User(e) if e.kind == "opt_in" && e.business.as_deref() == Some("15550001111"))
        );
        assert!(matches!(&log[1], EngineInput::Message(m) if m.id == "m1"));
        assert_eq!(
            s.message(2, "m2").unwrap().unwrap().charge.as_deref(),
            Some("0.0300")
        );
        assert!(
            s.message(2, "m1").unwrap().is_none(),
            "seq and id must agree"
        );
        assert!(s.message(9, "m2").unwrap().is_none());
        assert_eq!(s.last_message_seq().unwrap(), 2);
    }

    #[tokio::test]
    async fn many_concurrent_writers_are_all_committed() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
        let mut tasks = Vec::new();
        for i in 0..200 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.commit(vec![Write::Message(std::sync::Arc::new(msg(
                    i + 1,
                    &format!("m{i}"),
                    i,
                )))])
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(s.engine_log().unwrap().len(), 200);
    }

    /// Under a steady stream of commits the WAL is written from its start again (the
    /// writer's own checkpoints, see `writer_loop`) instead of growing with every commit.
    #[tokio::test]
    async fn the_wal_does_not_grow_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let started = std::time::Instant::now();
        let mut seq = 0;
        while started.elapsed() < std::time::Duration::from_millis(3_500) {
            seq += 1;
            s.commit(vec![Write::Message(std::sync::Arc::new(msg(
                seq,
                &format!("m{seq}"),
                seq,
            )))])
            .await
            .unwrap();
        }
        // Each commit appends at least one 4 KiB page (plus its 24-byte header) to the WAL.
        let appended = seq as u64 * 4_120;
        let wal = std::fs::metadata(dir.path().join("openwaba.db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < appended / 2,
            "the WAL holds {wal} bytes after {seq} commits ({appended} bytes appended)"
        );
        assert_eq!(s.last_message_seq().unwrap(), seq);
    }

    /// A message's receipts live in their own table; every read sees the latest, and a
    /// reopened store knows which messages still owe one.
    #[tokio::test]
    async fn receipts_are_read_with_their_message_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            let mut writes = Vec::new();
            for seq in 1..=3 {
                let mut m = msg(seq, &format!("m{seq}"), seq);
                m.receipt = Some("sent".into());
                writes.push(Write::Message(std::sync::Arc::new(m)));
            }
            s.commit(writes).await.unwrap();
            s.commit(vec![
                Write::Receipt {
                    seq: 1,
                    receipt: "delivered".into(),
                },
                Write::Receipt {
                    seq: 2,
                    receipt: "delivered".into(),
                },
            ])
            .await
            .unwrap();
            s.commit(vec![Write::Receipt {
                seq: 2,
                receipt: "read".into(),
            }])
            .await
            .unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        let receipt = |seq: i64| s.message(seq, &format!("m{seq}")).unwrap().unwrap().receipt;
        assert_eq!(receipt(1).as_deref(), Some("delivered"));
        assert_eq!(receipt(2).as_deref(), Some("read"));
        assert_eq!(receipt(3).as_deref(), Some("sent"));
        let owed: Vec<(i64, Option<ShortText>)> = s
            .awaiting_receipts()
            .unwrap()
            .into_iter()
            .map(|m| (m.seq, m.receipt))
            .collect();
        assert_eq!(
            owed,
            vec![(1, Some("delivered".into())), (3, Some("sent".into()))]
        );
        let log = s.engine_log().unwrap();
        assert!(log
            .iter()
            .any(|e| matches!(e, EngineInput::Message(m) if m.seq == 2 && m.receipt.as_deref() == Some("read"))));
    }

    #[tokio::test]
    async fn a_bad_write_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.commit(vec![Write::Message(std::sync::Arc::new(msg(1, "dup", 1)))])
            .await
            .unwrap();
        let a = s.commit(vec![Write::Message(std::sync::Arc::new(msg(1, "dup", 2)))]);
        let b = s.commit(vec![Write::Message(std::sync::Arc::new(msg(3, "ok", 3)))]);
        let (a, b) = tokio::join!(a, b);
        assert!(a.is_err());
        assert!(b.is_ok());
        assert!(s.message(3, "ok").unwrap().is_some());
    }

    /// `MAX_BATCH` caps how many writes the writer gathers from the queue, never a job:
    /// a job larger than it commits whole, or not at all when one of its writes fails, and
    /// the small jobs queued around it all commit.
    #[tokio::test]
    async fn a_job_larger_than_a_batch_commits_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
        let big = |from: i64, bad_last: bool| {
            let mut writes: Vec<Write> = (0..2 * MAX_BATCH as i64 + 1)
                .map(|i| {
                    Write::Message(std::sync::Arc::new(msg(
                        from + i,
                        &format!("b{}", from + i),
                        i,
                    )))
                })
                .collect();
            if bad_last {
                // The same seq as the job's first write: the primary key rejects it.
                writes.push(Write::Message(std::sync::Arc::new(msg(from, "dup", 0))));
            }
            writes
        };
        let mut tasks = Vec::new();
        for i in 0..50i64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.commit(vec![Write::Message(std::sync::Arc::new(msg(
                    100_000 + i,
                    &format!("s{i}"),
                    i,
                )))])
                .await
            }));
        }
        let (whole, failed) = tokio::join!(s.commit(big(1, false)), s.commit(big(10_000, true)));
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        whole.unwrap();
        assert!(failed.is_err());
        let n = 2 * MAX_BATCH as i64 + 1;
        assert!(s.message(1, "b1").unwrap().is_some());
        assert!(s.message(n, &format!("b{n}")).unwrap().is_some());
        assert!(
            s.message(10_000, "b10000").unwrap().is_none(),
            "a failed job leaves nothing"
        );
        assert!(s.message(10_001, "b10001").unwrap().is_none());
        assert_eq!(s.engine_log().unwrap().len(), n as usize + 50);
    }

    #[tokio::test]
    async fn media_are_stored_read_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let m = MediaRecord {
            id: "4490709327384033".into(),
            phone_number_id: "2".into(),
            waba_id: "1".into(),
            mime_type: "image/png".into(),
            sha256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
            file_size: 0,
            filename: Some("a.png".into()),
            path: "media/4490709327384033".into(),
            created_at: 7,
        };
        {
            let s = SqliteStore::open(dir.path()).unwrap();
            s.commit(vec![Write::Media(Box::new(m.clone()))])
                .await
                .unwrap();
            assert_eq!(s.media(&m.id).unwrap().as_ref(), Some(&m));
            // The same id twice is refused.
            assert!(s
                .commit(vec![Write::Media(Box::new(m.clone()))])
                .await
                .is_err());
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.media(&m.id).unwrap().as_ref(), Some(&m));
        s.commit(vec![Write::DeleteMedia { id: m.id.clone() }])
            .await
            .unwrap();
        assert!(s.media(&m.id).unwrap().is_none());
        assert!(s.media("nope").unwrap().is_none());
    }

    fn entry(seq: i64, at: i64, phone: &str, category: &str, amount: Option<&str>) -> LedgerEntry {
        LedgerEntry {
            seq,
            waba_id: "w".into(),
            phone_number_id: phone.into(),
            business: "15550001111".into(),
            wa_id: "5511987650001".into(),
            market: "Brazil".into(),
            country: "BR".into(),
            category: category.into(),
            model: "CBP".into(),
            pricing_type: "REGULAR".into(),
            direction: "BUSINESS_INITIATED".into(),
            conversation_id: Some(format!("c{seq}").into()),
            amount: amount.map(Into::into),
            currency: "USD".into(),
            card: Some("card".into()),
            tier: None,
            at,
            day: at.div_euclid(86_400_000),
        }
    }

    /// Rows of one transaction bind only what differs from the row before (`Hot`): every
    /// column of every row still reads back as written, through values that repeat, change,
    /// go from a value to NULL and back, and return to an earlier row's value.
    #[tokio::test]
    async fn consecutive_rows_of_one_commit_keep_every_column() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let full = |seq: i64, id: &str| MessageRecord {
            template_category: Some("utility".into()),
            biz_opaque_callback_data: Some("opaque".into()),
            context_message_id: Some("wamid.ctx".into()),
            error_code: Some(131047),
            pricing: Some(r#"{"billable":true}"#.into()),
            receipt: Some("sent".into()),
            ..msg(seq, id, 1_000)
        };
        let sparse = |seq: i64, id: &str| MessageRecord {
            waba_id: "9".into(),
            phone_number_id: "8".into(),
            business: "15550002222".into(),
            to: "5511987650002".into(),
            wa_id: "5511987650002".into(),
            type_name: "template".into(),
            content: r#"{"name":"t"}"#.into(),
            status: "failed".into(),
            conversation_id: None,
            conversation_category: None,
            conversation_expires_at: None,
            charge: None,
            ..msg(seq, id, 2_000)
        };
        let messages = vec![
            full(1, "m1"),
            sparse(2, "m2"),
            full(3, "m3"),
            full(4, "m4"),
            MessageRecord {
                wa_id: "5511987650009".into(),
                ..full(5, "m5")
            },
            sparse(6, "m6"),
        ];
        let mut second = entry(2, 2_000, "8", "marketing", None);
        second.waba_id = "w".into();
        second.market = "India".into();
        second.country = "IN".into();
        second.conversation_id = None;
        second.card = None;
        second.tier = Some("1".into());
        let entries = vec![
            entry(1, 1_000, "2", "utility", Some("0.0080")),
            second,
            entry(3, 3_000, "2", "utility", Some("0.0080")),
            entry(4, 3_000, "2", "utility", Some("0.0090")),
        ];
        let mut writes: Vec<Write> = messages
            .iter()
            .map(|m| Write::Message(std::sync::Arc::new(m.clone())))
            .collect();
        writes.extend(entries.iter().map(|e| Write::Ledger(Box::new(e.clone()))));
        s.commit(writes).await.unwrap();
        for m in &messages {
            assert_eq!(
                s.message(m.seq, &m.id).unwrap().as_ref(),
                Some(m),
                "message {}",
                m.seq
            );
        }
        assert_eq!(s.ledger("w", 0, 10_000, 0, 100).unwrap(), entries);
    }

    /// Rollups written by concurrent group commits equal a GROUP BY over the ledger rows.
    #[tokio::test]
    async fn rollups_agree_with_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
        let mut tasks = Vec::new();
        for t in 0..8i64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..250i64 {
                    let seq = t * 1000 + i + 1;
                    let at = 1_685_577_600_000 + (seq * 7_919_000) % (40 * 86_400_000);
                    let cat = ["marketing", "utility", "service"][(seq % 3) as usize];
                    let phone = if seq % 2 == 0 { "p1" } else { "p2" };
                    let amount = if seq % 5 == 0 { None } else { Some("0.0625") };
                    s.commit(vec![Write::Ledger(Box::new(entry(
                        seq, at, phone, cat, amount,
                    )))])
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let rows = s
            .ledger_rollup("w", Grain::Day, i64::MIN, i64::MAX)
            .unwrap();
        let halves = s
            .ledger_rollup("w", Grain::HalfHour, i64::MIN, i64::MAX)
            .unwrap();
        let entries = s.ledger("w", i64::MIN, i64::MAX, 0, 100_000).unwrap();
        assert_eq!(entries.len(), 2000);
        // The expected key is spelled out field by field, not taken from `RollupKey::dims`,
        // so that dimensions bound in the wrong order fail here.
        let mut expected: HashMap<(i64, RollupKey), i64> = HashMap::new();
        for e in &entries {
            let key = RollupKey {
                phone_number_id: e.phone_number_id.to_string(),
                country: e.country.to_string(),
                market: e.market.to_string(),
                category: e.category.to_string(),
                model: e.model.to_string(),
                pricing_type: e.pricing_type.to_string(),
                direction: e.direction.to_string(),
                tier: e.tier.as_deref().unwrap_or_default().to_owned(),
                unit: e.amount.as_deref().unwrap_or_default().to_owned(),
                currency: e.currency.to_string(),
            };
            *expected.entry((e.day, key)).or_default() += 1;
        }
        let got: HashMap<(i64, RollupKey), i64> = rows
            .into_iter()
            .map(|r| ((r.bucket, r.key), r.count))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(halves.iter().map(|r| r.count).sum::<i64>(), 2000);
        // A month of days is a bucket range.
        let june = s.ledger_rollup("w", Grain::Day, 19_509, 19_539).unwrap();
        let in_june = entries
            .iter()
            .filter(|e| (19_509..19_539).contains(&e.day))
            .count() as i64;
        assert_eq!(june.iter().map(|r| r.count).sum::<i64>(), in_june);
    }
}
