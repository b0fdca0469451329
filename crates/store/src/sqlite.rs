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
    // 9: a send is one row: its message and its ledger entry as JSON arrays (see `row`),
    // and receipts are one byte per message in rows of 1024 (see `ReceiptStates`). Measured
    // (BENCHMARKS.md, eighth session): the store writer's instructions per send fell from
    // ~45k to ~32k. The views keep the old columns for anyone reading the file with SQL
    // (with `json_extract`, which SQLite shells before 3.38 read too; `->>` is newer).
    r#"
CREATE TABLE sends (seq INTEGER PRIMARY KEY, message TEXT, ledger TEXT, pricing TEXT,
    content TEXT);
CREATE TABLE receipt_states (chunk INTEGER PRIMARY KEY, states BLOB NOT NULL);
INSERT INTO sends (seq, message, ledger, pricing, content)
SELECT m.seq,
    json_array(m.id, m.waba_id, m.phone_number_id, m.business, m.recipient, m.wa_id,
        m.type_name, m.template_category, m.biz_opaque_callback_data,
        m.context_message_id, m.status, m.error_code, m.conversation_id,
        m.conversation_category, m.conversation_expires_at, m.charge, m.created_at,
        COALESCE(r.receipt, m.receipt)),
    CASE WHEN l.seq IS NULL THEN NULL ELSE json_array(l.market, l.country, l.category, l.model,
        l.pricing_type, l.direction, l.amount, l.currency, l.card, l.tier, l.day, l.waba_id,
        l.phone_number_id, l.business, l.wa_id, l.conversation_id, l.at) END,
    m.pricing,
    m.content
FROM messages m LEFT JOIN receipts r ON r.seq = m.seq LEFT JOIN ledger l ON l.seq = m.seq;
INSERT INTO sends (seq, message, ledger)
SELECT l.seq, NULL, json_array(l.market, l.country, l.category, l.model, l.pricing_type,
    l.direction, l.amount, l.currency, l.card, l.tier, l.day, l.waba_id, l.phone_number_id,
    l.business, l.wa_id, l.conversation_id, l.at)
FROM ledger l WHERE l.seq NOT IN (SELECT seq FROM messages);
DROP TABLE receipts;
DROP TABLE ledger;
DROP TABLE messages;
CREATE VIEW messages AS SELECT s.seq AS seq, json_extract(s.message, '$[0]') AS id,
    json_extract(s.message, '$[1]') AS waba_id, json_extract(s.message, '$[2]') AS phone_number_id,
    json_extract(s.message, '$[3]') AS business, json_extract(s.message, '$[4]') AS recipient,
    json_extract(s.message, '$[5]') AS wa_id, json_extract(s.message, '$[6]') AS type_name,
    json_extract(s.message, '$[7]') AS template_category, s.content AS content,
    json_extract(s.message, '$[8]') AS biz_opaque_callback_data,
    json_extract(s.message, '$[9]') AS context_message_id,
    json_extract(s.message, '$[10]') AS status,
    CAST(json_extract(s.message, '$[11]') AS INTEGER) AS error_code,
    json_extract(s.message, '$[12]') AS conversation_id,
    json_extract(s.message, '$[13]') AS conversation_category,
    CAST(json_extract(s.message, '$[14]') AS INTEGER) AS conversation_expires_at,
    s.pricing AS pricing, json_extract(s.message, '$[15]') AS charge,
    CAST(json_extract(s.message, '$[16]') AS INTEGER) AS created_at,
    COALESCE(CASE substr(r.states, (s.seq & 1023) + 1, 1) WHEN X'01' THEN 'sent'
        WHEN X'02' THEN 'delivered' WHEN X'03' THEN 'read' END,
        json_extract(s.message, '$[17]')) AS receipt
FROM sends s LEFT JOIN receipt_states r ON r.chunk = s.seq >> 10 WHERE s.message IS NOT NULL;
CREATE VIEW ledger AS SELECT seq,
    COALESCE(json_extract(ledger, '$[11]'), json_extract(message, '$[1]')) AS waba_id,
    COALESCE(json_extract(ledger, '$[12]'), json_extract(message, '$[2]')) AS phone_number_id,
    COALESCE(json_extract(ledger, '$[13]'), json_extract(message, '$[3]')) AS business,
    COALESCE(json_extract(ledger, '$[14]'), json_extract(message, '$[5]')) AS wa_id,
    json_extract(ledger, '$[0]') AS market, json_extract(ledger, '$[1]') AS country,
    json_extract(ledger, '$[2]') AS category, json_extract(ledger, '$[3]') AS model,
    json_extract(ledger, '$[4]') AS pricing_type, json_extract(ledger, '$[5]') AS direction,
    CASE WHEN json_array_length(ledger) > 11 THEN json_extract(ledger, '$[15]')
        ELSE json_extract(message, '$[12]') END AS conversation_id,
    json_extract(ledger, '$[6]') AS amount, json_extract(ledger, '$[7]') AS currency,
    json_extract(ledger, '$[8]') AS card, json_extract(ledger, '$[9]') AS tier,
    CAST(COALESCE(json_extract(ledger, '$[16]'), json_extract(message, '$[16]')) AS INTEGER) AS at,
    CAST(json_extract(ledger, '$[10]') AS INTEGER) AS day
FROM sends WHERE ledger IS NOT NULL;
"#,
];

/// A ledger rollup row's key, borrowed from the transaction's writes: WABA, grain, bucket,
/// then [`RollupKey::dims`].
type LedgerKey<'a> = (&'a str, Grain, i64, [&'a str; 10]);

/// A messaging rollup row's key: WABA, grain, bucket, phone number id, country.
type MessageKey<'a> = (&'a str, Grain, i64, &'a str, &'a str);

/// Where an entry or count falls: its half hour and its (WABA-local) day.
type Buckets = (i64, i64);

/// Rollup deltas of one transaction, applied once per key just before it commits.
///
/// Measured (BENCHMARKS.md, callgrind): keyed by owned strings under SipHash, counting cost
/// ~6k instructions a message; the keys now borrow the batch's writes and hash with FxHash
/// (the keys are ours, not an attacker's). A write is counted once, under both its buckets;
/// the two grains' rows are made from the few distinct keys when the transaction ends
/// (counted once per grain, the ten dimensions were hashed and compared twice a send:
/// ~1.7k instructions).
#[derive(Default)]
struct Rollups<'a> {
    ledger: FxHashMap<(&'a str, Buckets, [&'a str; 10]), i64>,
    messages: FxHashMap<(&'a str, Buckets, &'a str, &'a str), (i64, i64)>,
}

impl<'a> Rollups<'a> {
    fn ledger(&mut self, e: &'a LedgerEntry) {
        let buckets = (e.at.div_euclid(HALF_HOUR_MS), e.day);
        *self
            .ledger
            .entry((&e.waba_id, buckets, RollupKey::dims(e)))
            .or_default() += 1;
    }

    fn message(&mut self, m: &'a MessageCount) {
        let buckets = (m.at.div_euclid(HALF_HOUR_MS), m.day);
        let v = self
            .messages
            .entry((&m.waba_id, buckets, &m.phone_number_id, &m.country))
            .or_default();
        v.0 += m.sent;
        v.1 += m.delivered;
    }

    /// The rows' deltas by grain: each counted key under its half hour and its day.
    fn by_grain(
        self,
    ) -> (
        FxHashMap<LedgerKey<'a>, i64>,
        FxHashMap<MessageKey<'a>, (i64, i64)>,
    ) {
        let mut ledger: FxHashMap<LedgerKey<'a>, i64> = FxHashMap::default();
        for ((waba, (half_hour, day), dims), n) in self.ledger {
            for (grain, bucket) in [(Grain::HalfHour, half_hour), (Grain::Day, day)] {
                *ledger.entry((waba, grain, bucket, dims)).or_default() += n;
            }
        }
        let mut messages: FxHashMap<MessageKey<'a>, (i64, i64)> = FxHashMap::default();
        for ((waba, (half_hour, day), phone, country), (sent, delivered)) in self.messages {
            for (grain, bucket) in [(Grain::HalfHour, half_hour), (Grain::Day, day)] {
                let v = messages
                    .entry((waba, grain, bucket, phone, country))
                    .or_default();
                v.0 += sent;
                v.1 += delivered;
            }
        }
        (ledger, messages)
    }

    fn flush(self, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        let (ledger, messages) = self.by_grain();
        if !ledger.is_empty() {
            let mut st = tx.prepare_cached("INSERT INTO ledger_rollup (waba_id, grain, bucket, phone_number_id, country, market, category, model, pricing_type, direction, tier, unit, currency, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT DO UPDATE SET count = count + excluded.count")?;
            // The columns follow `RollupKey::dims`' order, bound by position.
            for ((waba, grain, bucket, dims), n) in ledger {
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
        if !messages.is_empty() {
            let mut st = tx.prepare_cached("INSERT INTO message_rollup (waba_id, grain, bucket, phone_number_id, country, sent, delivered) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, delivered = delivered + excluded.delivered")?;
            for ((waba, grain, bucket, phone, country), (sent, delivered)) in messages {
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
        // One snapshot per read: a read of several statements (the receipt chunks, then the
        // messages) sees one state of the file, whatever the writer commits meanwhile.
        let snapshot = c.unchecked_transaction()?;
        let v = f(&snapshot)?;
        snapshot.finish()?;
        Ok(v)
    }
}

/// Copies the WAL into the database every 200 ms without blocking the writer (PASSIVE), so
/// commits never wait for a checkpoint: measured, inline checkpoints were the p99 (~50 ms).
/// After each round it raises `caught_up` for the writer (see [`writer_loop`]). Stops when the
/// database can no longer be reached.
///
/// Why 200 ms (BENCHMARKS.md, fourteenth session, on a virtio disk where a commit's flush
/// waits behind a checkpoint's): every 50 ms gave fewer slow commits and a lower typical p99
/// at 10,000 sends/s, but 11% less throughput (hot pages copied four times as often); every
/// 1,000 ms changed neither clearly.
fn checkpointer(c: Connection, caught_up: Arc<AtomicBool>) {
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        // The second pass copies only what was committed during the first, so the writer,
        // which acts within a batch of the signal, is left with almost nothing.
        for _ in 0..2 {
            let started = std::time::Instant::now();
            if c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .is_err()
            {
                return;
            }
            warn_if_slow("checkpoint", started, None);
        }
        caught_up.store(true, Ordering::Release);
    }
}

/// A store step longer than this is logged: a send waits for its commit, so a slow one is
/// a latency spike the operator should be able to tell from the network's.
const SLOW_STEP: std::time::Duration = std::time::Duration::from_millis(20);

/// `jobs`: the jobs a commit answered (a checkpoint has none, and logs no such field).
fn warn_if_slow(step: &'static str, started: std::time::Instant, jobs: Option<usize>) {
    let took = started.elapsed();
    if took >= SLOW_STEP {
        tracing::warn!(
            step,
            took_ms = took.as_millis() as u64,
            jobs = jobs.map(|n| n as u64),
            "slow store step"
        );
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
    let mut state = WriterState::default();
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
        let started = std::time::Instant::now();
        let result = if skip_writes.is_on() {
            Ok(())
        } else {
            apply(&mut c, &batch, &mut state)
        };
        warn_if_slow("commit", started, Some(batch.len()));
        match result {
            Ok(()) => {
                for j in batch {
                    let _ = j.done.send((Ok(()), j.writes));
                }
            }
            Err(_) => {
                // One bad write must not sink the others: retry each job alone.
                for j in batch {
                    let r = apply(&mut c, std::slice::from_ref(&j), &mut state);
                    let _ = j.done.send((r, j.writes));
                }
            }
        }
        // The signal is taken at once, used or not: acting on a stale one would leave the
        // writer everything committed since (measured: 6-9k pages, 7-13 ms under full load).
        if caught_up.swap(false, Ordering::Acquire) && last_reset.elapsed() >= WAL_RESET_INTERVAL {
            // A failure here only leaves the WAL longer; the background checkpointer goes on.
            let started = std::time::Instant::now();
            let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            warn_if_slow("WAL reset", started, None);
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

/// What the writer keeps from one transaction to the next.
#[derive(Default)]
struct WriterState {
    /// The buffers a send's two arrays are written into (reused, see `row`).
    message: Vec<u8>,
    ledger: Vec<u8>,
    receipts: ReceiptStates,
}

fn apply(c: &mut Connection, jobs: &[Job], state: &mut WriterState) -> Result<(), StoreError> {
    let result = apply_in_transaction(c, jobs, state);
    // A chunk this transaction changed is forgotten unless it committed: the next one that
    // needs it reads it again.
    state.receipts.finish(result.is_ok());
    result
}

fn apply_in_transaction(
    c: &mut Connection,
    jobs: &[Job],
    state: &mut WriterState,
) -> Result<(), StoreError> {
    let tx = c.transaction()?;
    {
        let mut rollups = Rollups::default();
        let mut hot = HotStatements::default();
        for j in jobs {
            for w in &j.writes {
                write(&tx, &mut hot, w, &mut rollups, state)?;
            }
        }
        hot.finish(&tx, state)?;
        state.receipts.write_changed(&tx)?;
        rollups.flush(&tx)?;
    }
    tx.commit()?;
    Ok(())
}

/// The statements every send runs, each taken from the statement cache once per
/// transaction rather than once per write (the cache's lookup hashes the SQL text), and the
/// ledger entries waiting for their message.
#[derive(Default)]
struct HotStatements<'c, 'w> {
    send: Option<rusqlite::CachedStatement<'c>>,
    /// Ledger entries not yet written, by the seq of the message that booked them. The
    /// server writes a send's entry just before its message, and both go into the message's
    /// row; an entry whose message is not in this transaction gets a row (or its row's
    /// ledger column) of its own when the transaction ends.
    ledger: FxHashMap<i64, &'w LedgerEntry>,
}

impl<'c, 'w> HotStatements<'c, 'w> {
    /// Inserts the send row of `m` (with its ledger entry, if it came before it).
    fn insert_send(
        &mut self,
        tx: &'c rusqlite::Transaction<'_>,
        m: &MessageRecord,
        state: &mut WriterState,
    ) -> Result<(), StoreError> {
        let entry = self.ledger.remove(&m.seq);
        state.message.clear();
        crate::row::encode_message(&mut state.message, m);
        let ledger = entry.map(|e| {
            state.ledger.clear();
            crate::row::encode_ledger(&mut state.ledger, e, Some(m));
            text(&state.ledger)
        });
        // A row may hold a ledger entry already (written without its message, as migration
        // 9 keeps such entries): the message fills it. A second message for one seq, or a
        // second entry, is refused.
        let st = hot(
            tx,
            &mut self.send,
            "INSERT INTO sends (seq, message, ledger, pricing, content) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (seq) DO UPDATE SET message = excluded.message, ledger = COALESCE(sends.ledger, excluded.ledger), pricing = excluded.pricing, content = excluded.content WHERE sends.message IS NULL AND (sends.ledger IS NULL OR excluded.ledger IS NULL)",
        )?;
        st.raw_bind_parameter(1, m.seq)?;
        st.raw_bind_parameter(2, text(&state.message))?;
        st.raw_bind_parameter(3, ledger)?;
        st.raw_bind_parameter(4, m.pricing.as_deref())?;
        st.raw_bind_parameter(5, m.content.as_str())?;
        if st.raw_execute()? == 0 {
            return Err(StoreError::Duplicate(format!(
                "message {} is stored already",
                m.seq
            )));
        }
        Ok(())
    }

    /// Writes the ledger entries whose message was not in the transaction: into the
    /// message's row if it has no entry yet, else a row of their own. A second entry for
    /// one message is refused, as the ledger's primary key refused it.
    fn finish(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        state: &mut WriterState,
    ) -> Result<(), StoreError> {
        if self.ledger.is_empty() {
            return Ok(());
        }
        let mut st = tx.prepare_cached("INSERT INTO sends (seq, message, ledger) VALUES (?1, NULL, ?2) ON CONFLICT (seq) DO UPDATE SET ledger = excluded.ledger WHERE sends.ledger IS NULL")?;
        let mut entries: Vec<&LedgerEntry> = self.ledger.values().copied().collect();
        entries.sort_unstable_by_key(|e| e.seq);
        for e in entries {
            // Its message, if already stored, is not at hand: the entry keeps all its fields.
            state.ledger.clear();
            crate::row::encode_ledger(&mut state.ledger, e, None);
            st.raw_bind_parameter(1, e.seq)?;
            st.raw_bind_parameter(2, text(&state.ledger))?;
            if st.raw_execute()? == 0 {
                return Err(StoreError::Duplicate(format!(
                    "message {} has a ledger entry already",
                    e.seq
                )));
            }
        }
        Ok(())
    }
}

/// The text the row encoder wrote (it writes UTF-8 only: Rust strings, ASCII punctuation
/// and digits).
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
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

/// How many messages' receipt states one row of `receipt_states` holds (a byte each: the
/// row is 1 KiB, within one page).
const RECEIPT_CHUNK: i64 = 1024;

/// The most chunks the writer keeps in memory: under load the receipts of a commit fall in
/// two or three (a second's and three seconds' old messages).
const RECEIPT_CHUNKS_CACHED: usize = 64;

/// Receipt states as the writer keeps them: one byte per message ([`receipt_code`]), 1024
/// messages to a row of `receipt_states`, keyed by `seq / 1024`.
///
/// Why not a row per message: a send is followed by two receipts (delivered, read), each was
/// an upsert into a `receipts` table, and measured with callgrind (BENCHMARKS.md, eighth
/// session) those two statements were ~7.8k instructions per send. The receipts of a group
/// commit fall in a few chunks, so a commit now writes a few 1 KiB rows, whatever the number
/// of receipts. A byte of 0 means no receipt since the message was stored: its own
/// `receipt` field holds the state.
#[derive(Default)]
struct ReceiptStates {
    /// Chunks as the last commit left them, plus the open transaction's changes.
    chunks: FxHashMap<i64, Box<[u8]>>,
    /// The chunks the open transaction changed.
    changed: Vec<i64>,
}

impl ReceiptStates {
    fn set(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        seq: i64,
        receipt: &str,
    ) -> Result<(), StoreError> {
        let code = receipt_code(receipt)
            .ok_or_else(|| StoreError::Invalid(format!("unknown receipt state {receipt:?}")))?;
        let (chunk, at) = (seq.div_euclid(RECEIPT_CHUNK), seq.rem_euclid(RECEIPT_CHUNK));
        if !self.chunks.contains_key(&chunk) {
            // Unchanged chunks are dropped when the cache is full (changed ones are kept
            // until the transaction ends, however many).
            if self.chunks.len() >= RECEIPT_CHUNKS_CACHED && self.chunks.len() > self.changed.len()
            {
                let changed = &self.changed;
                self.chunks.retain(|c, _| changed.contains(c));
            }
            let stored: Option<Vec<u8>> = tx
                .prepare_cached("SELECT states FROM receipt_states WHERE chunk = ?1")?
                .query_row([chunk], |r| r.get(0))
                .optional()?;
            let mut states = vec![0u8; RECEIPT_CHUNK as usize];
            if let Some(s) = stored {
                let n = s.len().min(states.len());
                states[..n].copy_from_slice(&s[..n]);
            }
            self.chunks.insert(chunk, states.into_boxed_slice());
        }
        if let Some(states) = self.chunks.get_mut(&chunk) {
            states[at as usize] = code;
        }
        if !self.changed.contains(&chunk) {
            self.changed.push(chunk);
        }
        Ok(())
    }

    fn write_changed(&self, tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
        if self.changed.is_empty() {
            return Ok(());
        }
        let mut st = tx.prepare_cached("INSERT INTO receipt_states (chunk, states) VALUES (?1, ?2) ON CONFLICT (chunk) DO UPDATE SET states = excluded.states")?;
        for chunk in &self.changed {
            if let Some(states) = self.chunks.get(chunk) {
                st.raw_bind_parameter(1, *chunk)?;
                st.raw_bind_parameter(2, &states[..])?;
                st.raw_execute()?;
            }
        }
        Ok(())
    }

    /// The open transaction ended: its changes are kept if it committed, forgotten if not.
    fn finish(&mut self, committed: bool) {
        if !committed {
            for c in &self.changed {
                self.chunks.remove(c);
            }
        }
        self.changed.clear();
    }
}

/// A receipt state's byte in `receipt_states`.
fn receipt_code(receipt: &str) -> Option<u8> {
    match receipt {
        "sent" => Some(1),
        "delivered" => Some(2),
        "read" => Some(3),
        _ => None,
    }
}

/// The receipt state a byte of `receipt_states` stands for (`None` for 0: none since the
/// message was stored).
fn receipt_word(code: u8) -> Option<&'static str> {
    match code {
        1 => Some("sent"),
        2 => Some("delivered"),
        3 => Some("read"),
        _ => None,
    }
}

/// Every stored receipt chunk, for reads of many messages.
fn receipt_chunks(c: &Connection) -> Result<FxHashMap<i64, Vec<u8>>, StoreError> {
    let mut s = c.prepare("SELECT chunk, states FROM receipt_states")?;
    let v = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// The receipt state recorded for `seq` in `chunks`, if any.
fn receipt_in(chunks: &FxHashMap<i64, Vec<u8>>, seq: i64) -> Option<&'static str> {
    let states = chunks.get(&seq.div_euclid(RECEIPT_CHUNK))?;
    receipt_word(*states.get(seq.rem_euclid(RECEIPT_CHUNK) as usize)?)
}

/// A stored message, its receipt state the latest recorded.
fn message_of(
    seq: i64,
    message: &str,
    json: crate::row::MessageJson,
    chunks: &FxHashMap<i64, Vec<u8>>,
) -> Result<MessageRecord, StoreError> {
    let mut m = crate::row::decode_message(seq, message, json)?;
    if let Some(r) = receipt_in(chunks, seq) {
        m.receipt = Some(ShortText::const_new(r));
    }
    Ok(m)
}

/// Column `i` of `r` as text, borrowed (a send's array is read without a copy).
fn text_column<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, StoreError> {
    r.get_ref(i)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("column {i} of a send: {e}")))
}

/// Every stored message in `seq` order, with its latest receipt, that `keep` keeps.
fn messages(
    c: &Connection,
    keep: impl Fn(&MessageRecord) -> bool,
) -> Result<Vec<MessageRecord>, StoreError> {
    let chunks = receipt_chunks(c)?;
    let mut s = c.prepare(
        "SELECT seq, message, content, pricing FROM sends WHERE message IS NOT NULL ORDER BY seq",
    )?;
    let mut rows = s.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let json = crate::row::MessageJson {
            content: r.get(2)?,
            pricing: r.get(3)?,
        };
        let m = message_of(r.get(0)?, text_column(r, 1)?, json, &chunks)?;
        if keep(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

fn write<'c, 'w>(
    tx: &'c rusqlite::Transaction<'_>,
    hot_statements: &mut HotStatements<'c, 'w>,
    w: &'w Write,
    rollups: &mut Rollups<'w>,
    state: &mut WriterState,
) -> Result<(), StoreError> {
    match w {
        Write::Ledger(e) => {
            if hot_statements.ledger.insert(e.seq, e).is_some() {
                return Err(StoreError::Duplicate(format!(
                    "two ledger entries for message {}",
                    e.seq
                )));
            }
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
        Write::Message(m) => hot_statements.insert_send(tx, m, state)?,
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
        Write::Receipt { seq, receipt } => state.receipts.set(tx, *seq, receipt)?,
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
            let messages = messages(c, |_| true)?;
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
        Ok(self.message_at(seq)?.filter(|m| m.id == id))
    }

    fn message_at(&self, seq: i64) -> Result<Option<MessageRecord>, StoreError> {
        self.read(|c| {
            let Some((text, json)) = c
                .query_row(
                    "SELECT message, content, pricing FROM sends WHERE seq = ?1 AND message IS NOT NULL",
                    [seq],
                    |r| {
                        let json = crate::row::MessageJson {
                            content: r.get(1)?,
                            pricing: r.get(2)?,
                        };
                        Ok((r.get::<_, String>(0)?, json))
                    },
                )
                .optional()?
            else {
                return Ok(None);
            };
            let mut m = crate::row::decode_message(seq, &text, json)?;
            let states: Option<Vec<u8>> = c
                .query_row(
                    "SELECT states FROM receipt_states WHERE chunk = ?1",
                    [seq.div_euclid(RECEIPT_CHUNK)],
                    |r| r.get(0),
                )
                .optional()?;
            let code = states.and_then(|s| s.get(seq.rem_euclid(RECEIPT_CHUNK) as usize).copied());
            if let Some(r) = code.and_then(receipt_word) {
                m.receipt = Some(ShortText::const_new(r));
            }
            Ok(Some(m))
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
            messages(c, |m| {
                matches!(m.receipt.as_deref(), Some("sent") | Some("delivered"))
            })
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
            Ok(c.query_row(
                // Over every row: a row holding only a ledger entry takes its seq too.
                "SELECT COALESCE(MAX(seq), 0) FROM sends",
                [],
                |r| r.get(0),
            )?)
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
            // The filters read the arrays in SQL (SQLite parses each once per row), so only
            // the entries returned are decoded. An entry that leaves out the fields it shares
            // with its message (see `row`) has them in the message: WABA at 1, instant at 16.
            let mut s = c.prepare_cached("SELECT seq, ledger, message, content, pricing FROM sends WHERE seq > ?1 AND ledger IS NOT NULL AND COALESCE(ledger ->> 11, message ->> 1) = ?2 AND COALESCE(ledger ->> 16, message ->> 16) >= ?3 AND COALESCE(ledger ->> 16, message ->> 16) < ?4 ORDER BY seq LIMIT ?5")?;
            let mut rows = s.query(params![after, waba_id, from, to, limit])?;
            let mut v = Vec::new();
            while let Some(r) = rows.next()? {
                let seq = r.get(0)?;
                let message = match r.get_ref(2)?.as_str_or_null() {
                    Ok(Some(text)) => {
                        let json = crate::row::MessageJson {
                            content: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                            pricing: r.get(4)?,
                        };
                        Some(crate::row::decode_message(seq, text, json)?)
                    }
                    _ => None,
                };
                v.push(crate::row::decode_ledger(
                    seq,
                    text_column(r, 1)?,
                    message.as_ref(),
                )?);
            }
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

    /// A stored value of the wrong type is an error naming its field: not a panic, and not
    /// a silently empty field.
    #[tokio::test]
    async fn a_stored_field_of_the_wrong_type_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        s.commit(vec![Write::Message(std::sync::Arc::new(msg(1, "m1", 10)))])
            .await
            .unwrap();
        let raw = rusqlite::Connection::open(dir.path().join("openwaba.db")).unwrap();
        raw.execute(
            "UPDATE sends SET message = json_set(message, '$[1]', 5, '$[15]', json('[1]')) WHERE seq = 1",
            [],
        )
        .unwrap();
        let e = s.message(1, "m1").unwrap_err().to_string();
        assert!(e.contains("field waba_id"), "{e}");
        raw.execute(
            "UPDATE sends SET message = json_set(message, '$[1]', '1') WHERE seq = 1",
            [],
        )
        .unwrap();
        let e = s.message(1, "m1").unwrap_err().to_string();
        assert!(e.contains("field charge"), "{e}");
        raw.execute(
            "UPDATE sends SET message = json_set(message, '$[15]', NULL) WHERE seq = 1",
            [],
        )
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

    /// Every field of every message and ledger entry of one transaction reads back as
    /// written, through values that repeat, change, go from a value to NULL and back, and
    /// return to an earlier row's value; the ledger entries come after their messages here
    /// (the server writes them before), and through the views SQL reads the same values.
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
        // The views show the arrays as the old columns.
        let raw = rusqlite::Connection::open(dir.path().join("openwaba.db")).unwrap();
        let via_view = raw
            .query_row(
                "SELECT id, waba_id, recipient, template_category, content, error_code, conversation_expires_at, pricing, charge, created_at, receipt FROM messages WHERE seq = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, i64>(9)?,
                        r.get::<_, Option<String>>(10)?,
                    ))
                },
            )
            .unwrap();
        let m = &messages[0];
        assert_eq!(
            via_view,
            (
                m.id.clone(),
                m.waba_id.to_string(),
                m.to.to_string(),
                m.template_category.as_ref().map(|c| c.to_string()),
                m.content.clone(),
                m.error_code.map(i64::from),
                m.conversation_expires_at,
                m.pricing.clone(),
                m.charge.as_ref().map(|c| c.to_string()),
                m.created_at,
                m.receipt.as_ref().map(|c| c.to_string()),
            )
        );
        let (market, amount, tier, day): (String, Option<String>, Option<String>, i64) = raw
            .query_row(
                "SELECT market, amount, tier, day FROM ledger WHERE seq = 2",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (market.as_str(), amount, tier.as_deref(), day),
            ("India", None, Some("1"), entries[1].day)
        );
    }

    /// The server writes a send's ledger entry just before its message: both land in one
    /// row. A second entry for a message is refused (as the ledger's primary key refused
    /// it), and so is a message whose seq is taken.
    #[tokio::test]
    async fn a_ledger_entry_joins_its_message_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let e = entry(1, 10, "2", "utility", Some("0.0080"));
        s.commit(vec![
            Write::Ledger(Box::new(e.clone())),
            Write::Message(std::sync::Arc::new(msg(1, "m1", 10))),
        ])
        .await
        .unwrap();
        let raw = rusqlite::Connection::open(dir.path().join("openwaba.db")).unwrap();
        let rows: i64 = raw
            .query_row("SELECT count(*) FROM sends", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        assert_eq!(s.ledger("w", 0, 100, 0, 10).unwrap(), vec![e.clone()]);
        let again = s.commit(vec![Write::Ledger(Box::new(e.clone()))]).await;
        assert!(matches!(again, Err(StoreError::Duplicate(_))), "{again:?}");
        let twice = s
            .commit(vec![
                Write::Ledger(Box::new(entry(5, 10, "2", "utility", None))),
                Write::Ledger(Box::new(entry(5, 10, "2", "utility", None))),
            ])
            .await;
        assert!(matches!(twice, Err(StoreError::Duplicate(_))), "{twice:?}");
        // A ledger entry for a message stored in an earlier transaction joins its row.
        s.commit(vec![Write::Message(std::sync::Arc::new(msg(2, "m2", 20)))])
            .await
            .unwrap();
        let later = entry(2, 20, "2", "service", None);
        s.commit(vec![Write::Ledger(Box::new(later.clone()))])
            .await
            .unwrap();
        assert_eq!(
            s.ledger("w", 0, 100, 0, 10).unwrap(),
            vec![e.clone(), later.clone()]
        );
        assert_eq!(s.message(2, "m2").unwrap().unwrap(), msg(2, "m2", 20));
        // An entry stored without its message (as migration 9 keeps such entries) takes its
        // seq, which the message then fills; a second message for it is refused.
        let alone = entry(3, 30, "2", "marketing", Some("0.0625"));
        s.commit(vec![Write::Ledger(Box::new(alone.clone()))])
            .await
            .unwrap();
        assert_eq!(s.last_message_seq().unwrap(), 3);
        s.commit(vec![Write::Message(std::sync::Arc::new(msg(3, "m3", 30)))])
            .await
            .unwrap();
        assert_eq!(s.message(3, "m3").unwrap().unwrap(), msg(3, "m3", 30));
        assert_eq!(s.ledger("w", 0, 100, 0, 10).unwrap(), vec![e, later, alone]);
        let dup = s
            .commit(vec![Write::Message(std::sync::Arc::new(msg(3, "m3", 30)))])
            .await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    }

    /// An entry that shares its message's WABA, number, user, conversation and instant is
    /// stored without them and read back whole: through `ledger` (whose filters then read the
    /// message) and through the `ledger` view.
    #[tokio::test]
    async fn an_entry_stored_with_its_message_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let m = msg(1, "m1", 1_000);
        let mut e = entry(1, 1_000, "2", "utility", Some("0.0080"));
        e.waba_id = m.waba_id.clone();
        e.conversation_id = m.conversation_id.clone();
        s.commit(vec![
            Write::Ledger(Box::new(e.clone())),
            Write::Message(std::sync::Arc::new(m.clone())),
        ])
        .await
        .unwrap();
        let raw = rusqlite::Connection::open(dir.path().join("openwaba.db")).unwrap();
        let (fields, waba, conversation, at): (i64, String, String, i64) = raw
            .query_row(
                "SELECT json_array_length(s.ledger), l.waba_id, l.conversation_id, l.at FROM sends s JOIN ledger l ON l.seq = s.seq",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (fields, waba.as_str(), conversation.as_str(), at),
            (11, "1", "c", 1_000)
        );
        assert_eq!(s.ledger("1", 1_000, 1_001, 0, 10).unwrap(), vec![e.clone()]);
        assert!(s.ledger("1", 0, 1_000, 0, 10).unwrap().is_empty());
        assert!(s.ledger("w", 0, 2_000, 0, 10).unwrap().is_empty());
    }

    /// A receipt written in a transaction that fails leaves nothing: not in the file, and
    /// not in the writer's memory of its chunk, which the next receipt of that chunk reads.
    #[tokio::test]
    async fn a_receipt_of_a_failed_transaction_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let sent = |seq: i64| {
            let mut m = msg(seq, &format!("m{seq}"), seq);
            m.receipt = Some("sent".into());
            Write::Message(std::sync::Arc::new(m))
        };
        s.commit(vec![sent(1), sent(2)]).await.unwrap();
        let failed = s
            .commit(vec![
                Write::Receipt {
                    seq: 1,
                    receipt: "read".into(),
                },
                sent(2),
            ])
            .await;
        assert!(failed.is_err());
        s.commit(vec![Write::Receipt {
            seq: 2,
            receipt: "delivered".into(),
        }])
        .await
        .unwrap();
        let receipt = |seq: i64| s.message(seq, &format!("m{seq}")).unwrap().unwrap().receipt;
        assert_eq!(receipt(1).as_deref(), Some("sent"));
        assert_eq!(receipt(2).as_deref(), Some("delivered"));
        let unknown = s
            .commit(vec![Write::Receipt {
                seq: 1,
                receipt: "lost".into(),
            }])
            .await;
        assert!(
            matches!(unknown, Err(StoreError::Invalid(_))),
            "{unknown:?}"
        );
    }

    /// A data directory written before migration 9 (messages, ledger and receipts in their
    /// own tables) opens with every message, entry and receipt as it was.
    #[tokio::test]
    async fn a_store_from_before_the_send_rows_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = connect(&dir.path().join("openwaba.db")).unwrap();
            for (i, m) in MIGRATIONS.iter().enumerate().take(8) {
                c.execute_batch(m).unwrap();
                c.pragma_update(None, "user_version", (i + 1) as i64)
                    .unwrap();
            }
            c.execute_batch(
                r#"
INSERT INTO messages (seq, id, waba_id, phone_number_id, business, recipient, wa_id, type_name,
    template_category, content, biz_opaque_callback_data, context_message_id, status, error_code,
    conversation_id, conversation_category, conversation_expires_at, pricing, charge, created_at,
    receipt)
VALUES (1, 'm1', '1', '2', '15550001111', '+55 11 98765-0001', '5511987650001', 'text', NULL,
    '{"body":"a \"quoted\" line\nnext"}', NULL, NULL, 'delivered', NULL, 'c', 'service',
    86400010, '{"billable":true}', '0.0300', 10, 'sent'),
    (2, 'm2', '1', '2', '15550001111', '5511987650001', '5511987650001', 'template', 'utility',
    '{"name":"t"}', 'opaque', 'wamid.ctx', 'failed', 131047, NULL, NULL, NULL, NULL, NULL, 20,
    NULL);
INSERT INTO receipts (seq, receipt) VALUES (1, 'read');
INSERT INTO ledger (seq, waba_id, phone_number_id, business, wa_id, market, country, category,
    model, pricing_type, direction, conversation_id, amount, currency, card, tier, at, day)
VALUES (1, 'w', '2', '15550001111', '5511987650001', 'Brazil', 'BR', 'utility', 'CBP',
    'REGULAR', 'BUSINESS_INITIATED', 'c1', '0.0080', 'USD', 'card', NULL, 10, 0),
    (7, 'w', '2', '15550001111', '5511987650001', 'Brazil', 'BR', 'utility', 'CBP',
    'REGULAR', 'BUSINESS_INITIATED', NULL, NULL, 'USD', NULL, '1', 30, 0);
"#,
            )
            .unwrap();
        }
        let s = SqliteStore::open(dir.path()).unwrap();
        let m1 = s.message(1, "m1").unwrap().unwrap();
        assert_eq!(m1.content, "{\"body\":\"a \\\"quoted\\\" line\\nnext\"}");
        assert_eq!(m1.receipt.as_deref(), Some("read"));
        assert_eq!(m1.pricing.as_deref(), Some("{\"billable\":true}"));
        let m2 = s.message(2, "m2").unwrap().unwrap();
        assert_eq!(
            (m2.error_code, m2.receipt, m2.template_category.as_deref()),
            (Some(131047), None, Some("utility"))
        );
        let mut e1 = entry(1, 10, "2", "utility", Some("0.0080"));
        e1.day = 0;
        let mut e7 = entry(7, 30, "2", "utility", None);
        (e7.conversation_id, e7.card, e7.tier, e7.day) = (None, None, Some("1".into()), 0);
        assert_eq!(s.ledger("w", 0, 100, 0, 10).unwrap(), vec![e1, e7]);
        // The entry without a message keeps seq 7: the next message is numbered after it.
        assert_eq!(s.last_message_seq().unwrap(), 7);
        assert_eq!(s.engine_log().unwrap().len(), 2);
        assert!(s.awaiting_receipts().unwrap().is_empty());
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
                // Five entries a transaction; in each, keys repeat in one half hour and in
                // one day but not the other, so both grains merge counts.
                for i in 0..50i64 {
                    let writes = (0..5i64)
                        .map(|j| {
                            let seq = t * 1000 + i * 5 + j + 1;
                            let base = ((t * 1000 + i * 5) * 7_919_000) % (40 * 86_400_000);
                            let at = 1_685_577_600_000 + base + (j % 2) * 3 * HALF_HOUR_MS;
                            let cat = ["marketing", "utility", "service"][(i % 3) as usize];
                            let phone = if j < 3 { "p1" } else { "p2" };
                            let amount = if i % 5 == 0 { None } else { Some("0.0625") };
                            Write::Ledger(Box::new(entry(seq, at, phone, cat, amount)))
                        })
                        .collect();
                    s.commit(writes).await.unwrap();
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
