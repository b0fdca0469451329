//! # openwaba-store
//!
//! Durable state of the server: accounts (businesses, WABAs, numbers, apps, tokens), every
//! message the API accepted, and the consent events the engine needs to rebuild its state
//! after a restart.
//!
//! The interface is [`Store`]; [`sqlite::SqliteStore`] is the embedded default. Writes go
//! through one writer thread that **group-commits**: every write waiting when a transaction
//! starts joins it, and all of them are acknowledged after the single commit (one fsync for
//! many requests). A caller is answered only once its write is on disk, so a message
//! answered with 200 survives `kill -9`.
//!
//! Multi-node operation (PostgreSQL, next) will need every decision about one
//! (business number, user) pair to be serialized: records carry both keys, and the server
//! decides a pair under one lock, so a pair can later be pinned to a node or locked by key.

pub mod ledger;
pub mod records;
pub mod row;
pub mod sqlite;

pub use ledger::*;
pub use records::*;
pub use sqlite::SqliteStore;

use std::future::Future;
use std::pin::Pin;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    #[error("refused: {0}")]
    Duplicate(String),
    #[error("not a valid write: {0}")]
    Invalid(String),
    #[error("the store's writer has stopped")]
    WriterGone,
}

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What the server needs from storage. Writes are durable when their future resolves.
pub trait Store: Send + Sync + 'static {
    /// Applies the writes in one transaction (possibly shared with other callers').
    fn commit(&self, writes: Vec<Write>) -> StoreFuture<'_, ()>;
    /// Every account object, to load at start.
    fn accounts(&self) -> Result<Accounts, StoreError>;
    /// The engine's inputs in the order they were decided, to rebuild its state at start.
    fn engine_log(&self) -> Result<Vec<EngineInput>, StoreError>;
    /// Every message template.
    fn templates(&self) -> Result<Vec<TemplateRecord>, StoreError>;
    /// One stored message by its sequence number, if its id is `id` (the caller decodes
    /// `seq` from the wamid; the id check refuses a forged or mistyped one).
    fn message(&self, seq: i64, id: &str) -> Result<Option<MessageRecord>, StoreError>;
    /// One stored message by its sequence number, whatever its id (the server's own lookups,
    /// such as a receipt's status webhook).
    fn message_at(&self, seq: i64) -> Result<Option<MessageRecord>, StoreError>;
    /// Webhook events not yet delivered nor dead, in order.
    fn pending_webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Webhook events, newest first, optionally of one state and before a `seq`.
    fn webhooks(
        &self,
        state: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<WebhookRecord>, StoreError>;
    fn webhook(&self, seq: i64) -> Result<Option<WebhookRecord>, StoreError>;
    fn last_webhook_seq(&self) -> Result<i64, StoreError>;
    /// Messages whose delivered or read receipt has not been reported yet.
    fn awaiting_receipts(&self) -> Result<Vec<MessageRecord>, StoreError>;
    /// Simulated users' behaviour: (wa_id, settings JSON).
    fn sim_users(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// A server setting kept across restarts (such as the virtual clock's offset).
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// The highest message sequence number stored (0 when none), to continue from at start.
    fn last_message_seq(&self) -> Result<i64, StoreError>;
    /// One uploaded media by id (deleted media are gone).
    fn media(&self, id: &str) -> Result<Option<MediaRecord>, StoreError>;
    /// The ledger rollup rows of a WABA at `grain` with `from <= bucket < to`.
    fn ledger_rollup(
        &self,
        waba_id: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupRow>, StoreError>;
    /// The messaging rollup rows of a WABA at `grain` with `from <= bucket < to`.
    fn message_rollup(
        &self,
        waba_id: &str,
        grain: Grain,
        from: i64,
        to: i64,
    ) -> Result<Vec<MessageCountRow>, StoreError>;
    /// Ledger entries of a WABA with `from <= at < to` and `seq > after`, in `seq` order.
    fn ledger(
        &self,
        waba_id: &str,
        from: i64,
        to: i64,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Every rate card loaded at runtime, in loading order.
    fn rate_cards(&self) -> Result<Vec<RateCardRecord>, StoreError>;
    /// Every WABA budget.
    fn budgets(&self) -> Result<Vec<BudgetRecord>, StoreError>;
}
