//! The application: state, first-start bootstrap, engine rebuild, router and serving.

use crate::api;
use crate::clock::{Clock, ClockMode};
use crate::config::{Config, ConfigError};
use crate::ids;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::registry::Registry;
use openwaba_engine::{
    ConsentMode, Delivery, Engine, EngineConfig, MissingRates, Outbound, Policy, TemplateCategory,
    TimeZoneId, WaId,
};
use openwaba_store::{
    AccessToken, App, Business, EngineInput, PhoneNumber, SqliteStore, Store, StoreError, Waba,
    Write,
};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("WABA {waba}: {what}")]
    Waba { waba: String, what: String },
    #[error("cannot start the threads that serve HTTP: {0}")]
    Threads(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// Shared state of the server.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub registry: RwLock<Registry>,
    /// One engine per WABA; a send decides under its WABA's lock.
    pub engines: RwLock<FxHashMap<String, Arc<Mutex<Engine>>>>,
    /// Message templates by id.
    pub templates: RwLock<FxHashMap<String, crate::templates::TemplateEntry>>,
    pub limits: Mutex<Limits>,
    pub metrics: Metrics,
    pub clock: Arc<Clock>,
    /// Every timer of the server (see [`crate::scheduler`]).
    pub scheduler: crate::scheduler::Scheduler,
    /// How long template review takes.
    pub template_review_delay_ms: i64,
    /// Webhook delivery (see [`crate::webhooks`]).
    pub webhooks: crate::webhooks::Webhooks,
    /// The simulated customers (see [`crate::sim`]).
    pub sim: crate::sim::Sim,
    pub admin_token: String,
    /// The data directory (database, media, profiles).
    pub data_dir: std::path::PathBuf,
    /// Where clients reach the server (`public_url`, else the address it listens on): the
    /// base of media download URLs.
    pub public_url: std::sync::OnceLock<String>,
    /// Signs media download URLs (kept in `<data_dir>/media-secret`).
    pub media_secret: String,
    /// The last message sequence number given out (see `ids::wamid`).
    pub message_seq: std::sync::atomic::AtomicU64,
    /// Spend per WABA and month (see [`crate::ledger`]). Locked after a WABA's engine.
    pub spend: Mutex<crate::ledger::Spend>,
    /// Monthly budgets by WABA.
    pub budgets: RwLock<FxHashMap<String, crate::ledger::Budget>>,
}

impl AppState {
    /// The next message sequence number. Taken under the WABA's engine lock, so one WABA's
    /// messages are numbered in the order the engine decided them.
    pub fn next_message_seq(&self) -> u64 {
        self.message_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1
    }

    /// A stored message by its wamid.
    pub fn message(&self, id: &str) -> Result<Option<openwaba_store::MessageRecord>, StoreError> {
        match ids::wamid_seq(id).and_then(|s| i64::try_from(s).ok()) {
            Some(seq) => self.store.message(seq, id),
            None => Ok(None),
        }
    }
}

/// What a first start created, to print.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub business_id: String,
    pub waba_id: String,
    pub phone_number_id: String,
    pub phone_number: String,
    pub app_id: String,
    pub app_secret: String,
    pub verify_token: String,
    pub access_token: String,
    pub admin_token: String,
}

pub fn engine_for(w: &Waba) -> Result<Engine, StartError> {
    let bad = |what: String| StartError::Waba {
        waba: w.id.clone(),
        what,
    };
    let mut cfg = EngineConfig::builtin().map_err(|e| bad(e.to_string()))?;
    cfg.zone = TimeZoneId::parse(&w.timezone).map_err(|e| bad(e.to_string()))?;
    cfg.consent = w
        .consent_mode
        .parse::<ConsentMode>()
        .map_err(|e| bad(e.to_string()))?;
    cfg.policy = Policy::Auto;
    // A live send is never refused for want of a price: it is priced `null` and reported.
    cfg.missing_rates = MissingRates::Allow;
    Ok(Engine::new(cfg))
}

/// Creates what the configuration names (and, on a first start, one of everything), so that
/// `openwaba serve` with no arguments is ready to use.
async fn bootstrap(config: &Config, store: &dyn Store) -> Result<Option<Credentials>, StartError> {
    let existing = store.accounts()?;
    let first = existing.businesses.is_empty();
    let Some(bc) = config
        .business
        .clone()
        .or_else(|| first.then(Default::default))
    else {
        return Ok(None);
    };
    let mut writes = Vec::new();
    let business_id = bc
        .id
        .clone()
        .or_else(|| existing.businesses.first().map(|b| b.id.clone()))
        .unwrap_or_else(ids::object_id);
    writes.push(Write::Business(Business {
        id: business_id.clone(),
        name: bc
            .name
            .clone()
            .unwrap_or_else(|| "openwaba test business".into()),
    }));
    let mut wabas = bc.wabas.clone();
    if first && wabas.is_empty() {
        wabas.push(Default::default());
    }
    let mut creds = Credentials {
        business_id: business_id.clone(),
        waba_id: String::new(),
        phone_number_id: String::new(),
        phone_number: String::new(),
        app_id: String::new(),
        app_secret: String::new(),
        verify_token: String::new(),
        access_token: String::new(),
        admin_token: String::new(),
    };
    for (wi, w) in wabas.iter().enumerate() {
        if w.id.is_none() && !first {
            continue; // objects without fixed ids are created on the first start only
        }
        let waba = Waba {
            id: w.id.clone().unwrap_or_else(ids::object_id),
            business_id: business_id.clone(),
            name: w
                .name
                .clone()
                .unwrap_or_else(|| "openwaba test WABA".into()),
            timezone: w.timezone.clone().unwrap_or_else(|| "UTC".into()),
            currency: w.currency.clone().unwrap_or_else(|| "USD".into()),
            consent_mode: w.consent_mode.clone().unwrap_or_else(|| "enforce".into()),
        };
        engine_for(&waba)?; // refuse a bad time zone or consent mode now, with its name
        let mut numbers = w.phone_numbers.clone();
        if first && numbers.is_empty() {
            numbers.push(crate::config::PhoneNumberConfig {
                number: "15550001111".into(),
                ..Default::default()
            });
        }
        for (pi, p) in numbers.iter().enumerate() {
            if p.id.is_none() && !first {
                continue;
            }
            WaId::parse(&p.number).map_err(|e| StartError::Waba {
                waba: waba.id.clone(),
                what: e.to_string(),
            })?;
            let number = PhoneNumber {
                id: p.id.clone().unwrap_or_else(ids::object_id),
                waba_id: waba.id.clone(),
                number: p.number.clone(),
                verified_name: p
                    .verified_name
                    .clone()
                    .unwrap_or_else(|| "openwaba Test".into()),
                quality_rating: "GREEN".into(),
                messaging_limit_tier: "TIER_1K".into(),
                throughput_mps: p.throughput_mps.unwrap_or(80),
                sync_failures: p.sync_failures.unwrap_or(false),
                registered: true,
            };
            if wi == 0 && pi == 0 {
                creds.phone_number_id = number.id.clone();
                creds.phone_number = number.number.clone();
            }
            writes.push(Write::PhoneNumber(Box::new(number)));
        }
        if wi == 0 {
            creds.waba_id = waba.id.clone();
        }
        writes.push(Write::Waba(Box::new(waba)));
    }
    let mut apps = bc.apps.clone();
    if first && apps.is_empty() {
        apps.push(Default::default());
    }
    for (ai, a) in apps.iter().enumerate() {
        if a.id.is_none() && !first {
            continue;
        }
        let app = App {
            id: a.id.clone().unwrap_or_else(ids::object_id),
            business_id: business_id.clone(),
            app_secret: a.app_secret.clone().unwrap_or_else(|| ids::secret(32)),
            verify_token: a.verify_token.clone().unwrap_or_else(|| ids::secret(16)),
            callback_url: a.callback_url.clone(),
            webhook_version: a.webhook_version.clone().unwrap_or_else(|| "v23.0".into()),
            fields: a.fields.as_ref().map(|f| f.join(",")),
        };
        if ai == 0 {
            creds.app_id = app.id.clone();
            creds.app_secret = app.app_secret.clone();
            creds.verify_token = app.verify_token.clone();
        }
        writes.push(Write::App(Box::new(app)));
    }
    let mut tokens = bc.access_tokens.clone();
    if first && tokens.is_empty() {
        tokens.push(ids::access_token());
    }
    for t in &tokens {
        writes.push(Write::Token(AccessToken {
            token: t.clone(),
            business_id: business_id.clone(),
        }));
    }
    creds.access_token = tokens.first().cloned().unwrap_or_default();
    store.commit(writes).await?;
    Ok(first.then_some(creds))
}

/// Feeds the stored decisions back to fresh engines, so windows, conversations, free tiers
/// and consent are as they were before the restart.
fn rebuild(
    engines: &FxHashMap<String, Arc<Mutex<Engine>>>,
    store: &dyn Store,
) -> Result<(), StartError> {
    for input in store.engine_log()? {
        match input {
            EngineInput::User(e) => {
                let (Some(engine), Ok(user)) = (engines.get(&e.waba_id), WaId::parse(&e.wa_id))
                else {
                    continue;
                };
                let Ok(mut engine) = engine.lock() else {
                    continue;
                };
                let at = openwaba_engine::Instant::from_millis(e.at);
                let business = e.business.as_deref().and_then(|b| WaId::parse(b).ok());
                match e.kind.as_str() {
                    "inbound" | "inbound_referral" => {
                        if let Some(b) = business {
                            engine.inbound(at, b, user, e.kind == "inbound_referral");
                        }
                    }
                    "opt_in" => engine.opt_in(user),
                    "opt_out" => engine.opt_out(user),
                    "marketing_stop" => engine.marketing_stop(user),
                    "marketing_resume" => engine.marketing_resume(user),
                    _ => {}
                }
            }
            EngineInput::Message(m) => {
                let (Some(engine), Ok(business), Ok(user)) = (
                    engines.get(m.waba_id.as_str()),
                    WaId::parse(&m.business),
                    WaId::parse(&m.wa_id),
                ) else {
                    continue;
                };
                let outbound = match m
                    .template_category
                    .as_deref()
                    .map(str::parse::<TemplateCategory>)
                {
                    Some(Ok(c)) => Outbound::Template(c),
                    _ => Outbound::FreeForm,
                };
                let delivery = if m.error_code == Some(131_026) {
                    Delivery::Undeliverable
                } else {
                    Delivery::Delivered
                };
                if let Ok(mut engine) = engine.lock() {
                    let at = openwaba_engine::Instant::from_millis(m.created_at);
                    let _ = engine.send(at, business, user, outbound, delivery);
                }
            }
        }
    }
    Ok(())
}

/// Adds the rate cards loaded at runtime to the engines they apply to, in loading order (so
/// each card gets the same place in its book as before the restart).
fn load_rate_cards(
    engines: &FxHashMap<String, Arc<Mutex<Engine>>>,
    store: &dyn Store,
) -> Result<(), StartError> {
    for r in store.rate_cards()? {
        for (waba, engine) in engines {
            if r.waba_id.as_deref().is_some_and(|w| w != waba) {
                continue;
            }
            let Ok(mut engine) = engine.lock() else {
                continue;
            };
            match crate::costs::parse_card(&engine, &r) {
                Ok((from, family, card)) => {
                    engine.add_card(from, family, card);
                }
                Err(e) => {
                    tracing::warn!(card = %r.name, error = %e, "a stored rate card could not be read; skipped")
                }
            }
        }
    }
    Ok(())
}

/// The key under which a virtual clock's offset is kept.
const CLOCK_OFFSET: &str = "virtual_clock_offset_ms";

/// The configured clock. A virtual clock continues from where it was moved to (its stored
/// offset); a new one starts at `clock_start`, else now.
async fn clock_for(config: &Config, store: &dyn Store) -> Result<Clock, StartError> {
    Ok(match config.clock {
        ClockMode::Real => Clock::real(),
        ClockMode::Virtual => match store
            .setting(CLOCK_OFFSET)?
            .and_then(|v| v.parse::<i64>().ok())
        {
            Some(offset) => Clock::virtual_with_offset(offset),
            None => {
                let start = config
                    .clock_start
                    .map(|s| s.0)
                    .unwrap_or_else(|| Clock::real().now());
                let c = Clock::virtual_from(start);
                store
                    .commit(vec![Write::Setting {
                        key: CLOCK_OFFSET.into(),
                        value: c.offset_ms().to_string(),
                    }])
                    .await?;
                c
            }
        },
    })
}

/// Keeps a virtual clock's offset, so a restart continues from the moved clock.
pub async fn save_clock(st: &AppState) {
    if st.clock.mode() != ClockMode::Virtual {
        return;
    }
    let w = Write::Setting {
        key: CLOCK_OFFSET.into(),
        value: st.clock.offset_ms().to_string(),
    };
    if let Err(e) = st.store.commit(vec![w]).await {
        tracing::error!(error = %e, "the virtual clock's position could not be stored");
    }
}

/// Opens the store, creates what is missing, rebuilds the engines.
pub async fn build(config: &Config) -> Result<(Arc<AppState>, Option<Credentials>), StartError> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.data_dir)?);
    let clock = Arc::new(clock_for(config, store.as_ref()).await?);
    let mut creds = bootstrap(config, store.as_ref()).await?;
    let accounts = store.accounts()?;
    let admin_token = match &config.admin_token {
        Some(t) => t.clone(),
        None => {
            let path = config.data_dir.join("admin-token");
            match std::fs::read_to_string(&path) {
                Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
                _ => {
                    let t = ids::secret(32);
                    std::fs::write(&path, &t).map_err(|source| StoreError::DataDir {
                        path: path.display().to_string(),
                        source,
                    })?;
                    t
                }
            }
        }
    };
    if let Some(c) = creds.as_mut() {
        c.admin_token = admin_token.clone();
    }
    let media_secret = crate::media::load_secret(&config.data_dir)?;
    let mut engines = FxHashMap::default();
    for w in &accounts.wabas {
        engines.insert(w.id.clone(), Arc::new(Mutex::new(engine_for(w)?)));
    }
    load_rate_cards(&engines, store.as_ref())?;
    rebuild(&engines, store.as_ref())?;
    // The month's spend, from the ledger (its daily rollup): the one source of every figure.
    let mut spend = crate::ledger::Spend::default();
    for (waba, engine) in &engines {
        let Ok(mut e) = engine.lock() else { continue };
        let now = clock.now();
        let month = e.month_of(now);
        let first = chrono::NaiveDate::from_ymd_opt(month.year, u32::from(month.month), 1)
            .unwrap_or_default();
        let next = first + chrono::Months::new(1);
        let rows = store.ledger_rollup(
            waba,
            openwaba_store::Grain::Day,
            openwaba_engine::day_number(first),
            openwaba_engine::day_number(next),
        )?;
        let total = rows
            .iter()
            .filter_map(|r| {
                r.key
                    .unit
                    .parse::<rust_decimal::Decimal>()
                    .ok()
                    .map(|u| u * rust_decimal::Decimal::from(r.count))
            })
            .sum::<rust_decimal::Decimal>();
        if let Ok(m) = openwaba_engine::Money::parse(&total.normalize().to_string()) {
            spend.add(waba, month, m, None);
        }
    }
    let mut budgets = FxHashMap::default();
    for r in store.budgets()? {
        match crate::ledger::Budget::from_record(&r) {
            Some(b) => {
                if let Some(e) = engines
                    .get(&r.waba_id)
                    .and_then(|e| e.lock().ok().map(|mut e| e.month_of(clock.now())))
                {
                    spend.mark_alerted(&r.waba_id, e, &b);
                }
                budgets.insert(r.waba_id.clone(), b);
            }
            None => tracing::warn!(waba = %r.waba_id, "a stored budget could not be read; skipped"),
        }
    }
    let last_seq = store.last_message_seq()?;
    let last_webhook_seq = store.last_webhook_seq()?;
    let sim = crate::sim::Sim::default();
    sim.load(store.sim_users()?);
    let mut templates = FxHashMap::default();
    for record in store.templates()? {
        let id = record.id.clone();
        match crate::templates::TemplateEntry::from_record(record) {
            Some(e) => {
                templates.insert(id, e);
            }
            None => tracing::warn!(template = %id, "a stored template could not be read; skipped"),
        }
    }
    let state = AppState {
        templates: RwLock::new(templates),
        store,
        registry: RwLock::new(Registry::from_accounts(&accounts)),
        engines: RwLock::new(engines),
        limits: Mutex::new(Limits::default()),
        metrics: Metrics::default(),
        clock,
        scheduler: crate::scheduler::Scheduler::default(),
        template_review_delay_ms: config.template_review_delay.millis(),
        webhooks: crate::webhooks::Webhooks::new(
            crate::webhooks::WebhookSettings {
                retry_horizon_ms: config.webhook_retry_horizon.millis(),
                concurrency: config.webhook_concurrency.max(1),
                timeout: config.webhook_timeout.0,
                duplicates: config.webhook_duplicates,
            },
            last_webhook_seq,
        ),
        sim,
        admin_token,
        data_dir: config.data_dir.clone(),
        public_url: std::sync::OnceLock::new(),
        media_secret,
        message_seq: std::sync::atomic::AtomicU64::new(last_seq.max(0) as u64),
        spend: Mutex::new(spend),
        budgets: RwLock::new(budgets),
    };
    Ok((Arc::new(state), creds))
}

/// A running server: its address and a handle to stop it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub state: Arc<AppState>,
    pub credentials: Option<Credentials>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// Ends once the server has stopped and its requests in flight have finished.
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting, finishes requests in flight, and returns.
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let _ = self.task.await;
    }
}

/// Starts the server on `config.listen` (port 0 picks a free port).
pub async fn start(config: &Config) -> Result<Running, StartError> {
    let (state, credentials) = build(config).await?;
    crate::templates::schedule_pending_reviews(&state);
    crate::statuses::reschedule(&state);
    state.webhooks.load(state.store.pending_webhooks()?);
    crate::webhooks::start(&state);
    tokio::spawn(crate::scheduler::run(state.clone()));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen.to_string(),
        source,
    })?;
    let public = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let _ = state
        .public_url
        .set(public.trim_end_matches('/').to_owned());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = api::router(state.clone());
    let lanes = crate::http::Lanes::start(config.http_threads.0, &state, &app)
        .map_err(StartError::Threads)?;
    let task = tokio::spawn(async move {
        crate::http::serve(listener, lanes, async move {
            let _ = rx.await;
        })
        .await
    });
    Ok(Running {
        addr,
        state,
        credentials,
        shutdown: Some(tx),
        task,
    })
}
