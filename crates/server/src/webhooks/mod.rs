//! Webhook delivery: the outbox, the verification handshake, signed POSTs, retries and the
//! dead letters.
//!
//! Why it is shaped this way:
//! - **Durable first.** An event is written to the outbox in the same transaction as the
//!   change that causes it (a message, a receipt, a review). It enters the in-memory queue at
//!   once, in creation order, but may only be posted once that transaction has committed
//!   ([`Prepared::committed`]); a restart loads every pending row again. Delivery is
//!   therefore at-least-once: a crash between a 200 and the "delivered" mark repeats one POST.
//! - **In order per key.** Events with the same ordering key (an app, a number and a user)
//!   go one at a time: the next waits until the previous is delivered or dead. Other keys do
//!   not wait for it.
//! - **Only a 200 delivers.** Anything else, a timeout or a refused connection is retried:
//!   at once, then with exponential backoff and jitter (15 s doubling, at most 1 h), until
//!   the retry horizon after creation (7 days by default); then the event is dead-lettered
//!   and kept for the inspector.
//! - **Verified endpoints only.** Nothing is posted to a callback URL until it answered
//!   Meta's GET handshake with the challenge. An endpoint that fails it is asked again with
//!   backoff; its events wait, they are not lost.
//! - **The server's clock.** Due times are read on [`crate::clock`], so moving a virtual
//!   clock fires the retries that fall due.

pub mod encode;
pub mod payload;

use crate::app::AppState;
use axum::body::Bytes;
use openwaba_store::{WebhookRecord, Write};
use rand::Rng;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, Semaphore};

/// Settings of delivery (from the config).
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub retry_horizon_ms: i64,
    /// Concurrent POSTs per endpoint.
    pub concurrency: usize,
    pub timeout: std::time::Duration,
    /// Post every delivered event twice, to test a client's deduplication.
    pub duplicates: bool,
}

/// One attempt, as the inspector shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attempt {
    /// Clock milliseconds.
    pub at: i64,
    /// The HTTP status, if the endpoint answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Attempts kept per event (the first ones and the latest ones matter; the count is exact).
const ATTEMPTS_KEPT: usize = 32;

#[derive(Debug)]
struct Delivery {
    seq: i64,
    app_id: String,
    payload: Bytes,
    created_at: i64,
    next_attempt_at: i64,
    attempts: Vec<Attempt>,
    /// Its transaction has committed.
    durable: bool,
    in_flight: bool,
}

#[derive(Default)]
struct Queues {
    by_key: FxHashMap<Arc<str>, VecDeque<Delivery>>,
    /// (due, seq, key) of queue heads that may be due. Entries can be stale; a popped entry
    /// is checked against its queue's head.
    ready: BinaryHeap<Reverse<(i64, i64, Arc<str>)>>,
}

impl Queues {
    fn arm_head(&mut self, key: &Arc<str>) {
        if let Some(h) = self.by_key.get(key).and_then(|q| q.front()) {
            if h.durable && !h.in_flight {
                self.ready
                    .push(Reverse((h.next_attempt_at, h.seq, key.clone())));
            }
        }
    }
}

#[derive(Default)]
struct Endpoint {
    /// The callback URL that answered the handshake.
    verified_url: Option<String>,
    verifying: bool,
    next_verification_at: i64,
    failed_verifications: u32,
    permits: Option<Arc<Semaphore>>,
}

/// The dispatcher's shared state (one per server).
pub struct Webhooks {
    queues: Mutex<Queues>,
    endpoints: Mutex<FxHashMap<String, Endpoint>>,
    wake: Notify,
    last_seq: AtomicI64,
    pub settings: WebhookSettings,
    http: reqwest::Client,
}

/// Events prepared inside a change's transaction: their outbox writes, and what to do once
/// the transaction's outcome is known.
#[must_use]
pub struct Prepared {
    pub writes: Vec<Write>,
    seqs: Vec<(i64, Arc<str>)>,
}

impl Prepared {
    pub fn none() -> Prepared {
        Prepared {
            writes: Vec::new(),
            seqs: Vec::new(),
        }
    }

    /// Takes over another preparation's events (its writes must already be in the same
    /// transaction).
    pub fn absorb(&mut self, other: Prepared) {
        self.seqs.extend(other.seqs);
    }

    /// After the transaction: committed events become deliverable, others are dropped.
    pub fn committed(self, st: &AppState, ok: bool) {
        if self.seqs.is_empty() {
            return;
        }
        let w = &st.webhooks;
        if let Ok(mut q) = w.queues.lock() {
            for (seq, key) in &self.seqs {
                if let Some(queue) = q.by_key.get_mut(key) {
                    if ok {
                        if let Some(d) = queue.iter_mut().find(|d| d.seq == *seq) {
                            d.durable = true;
                        }
                    } else {
                        queue.retain(|d| d.seq != *seq);
                    }
                }
                q.arm_head(key);
            }
        }
        w.wake.notify_one();
    }
}

fn backoff_ms(failed_attempts: usize) -> i64 {
    // The first retry is immediate; then 15 s, 30 s, 1 min, … at most 1 h, ±20% jitter.
    if failed_attempts <= 1 {
        return 0;
    }
    let exp = (failed_attempts - 2).min(16) as u32;
    let base = (15_000i64 << exp).min(3_600_000);
    let jitter = rand::rng().random_range(-(base / 5)..=(base / 5));
    base + jitter
}

/// Whether app `a` receives `field` events of `business`'s WABAs: it is the business's, has
/// a callback URL and subscribes to the field.
fn takes(a: &openwaba_store::App, business: &str, field: &str) -> bool {
    a.business_id == business && a.callback_url.is_some() && a.subscribed_to(field)
}

impl Webhooks {
    pub fn new(settings: WebhookSettings, last_seq: i64) -> Webhooks {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .pool_max_idle_per_host(settings.concurrency.max(1))
            .user_agent("openwaba-webhooks/1.0 (like facebookexternalua)")
            .build()
            .unwrap_or_default();
        Webhooks {
            queues: Mutex::new(Queues::default()),
            endpoints: Mutex::new(FxHashMap::default()),
            wake: Notify::new(),
            last_seq: AtomicI64::new(last_seq),
            settings,
            http,
        }
    }

    /// Wakes the workers (the clock moved, the config changed).
    pub fn wake(&self) {
        self.wake.notify_waiters();
        self.wake.notify_one();
    }

    /// How many events wait for delivery.
    pub fn backlog(&self) -> usize {
        self.queues
            .lock()
            .map(|q| q.by_key.values().map(VecDeque::len).sum())
            .unwrap_or(0)
    }

    /// Whether an app of the WABA's business would receive a `field` event now (has a
    /// callback URL and subscribes to it): what [`Webhooks::prepare`] builds events for.
    pub fn subscribed(&self, st: &AppState, waba_id: &str, field: &str) -> bool {
        st.registry
            .read()
            .map(|r| {
                r.waba_business(waba_id)
                    .is_some_and(|business| r.apps.values().any(|a| takes(a, business, field)))
            })
            .unwrap_or(false)
    }

    /// Builds the event for every app of the WABA's business that has a callback URL: its
    /// outbox rows, queued (not yet deliverable) in creation order. `envelope` is called
    /// with each app's webhook API major version (`v24.0` → 24), once per distinct version,
    /// because the shape depends on it (v24.0 drops `conversation` outside free entry
    /// points).
    pub fn prepare(
        &self,
        st: &AppState,
        waba_id: &str,
        // Formatted only when an app subscribes: most sends of a test server have none.
        ordering_key: &dyn std::fmt::Display,
        field: &str,
        envelope: &dyn Fn(u32) -> Value,
        now: i64,
    ) -> Prepared {
        let apps: Vec<(String, u32)> = st
            .registry
            .read()
            .map(|r| {
                let Some(business) = r.waba_business(waba_id) else {
                    return Vec::new();
                };
                let mut v: Vec<(String, u32)> = r
                    .apps
                    .values()
                    .filter(|a| takes(a, business, field))
                    .map(|a| (a.id.clone(), payload::major_version(&a.webhook_version)))
                    .collect();
                v.sort();
                v
            })
            .unwrap_or_default();
        let mut prepared = Prepared::none();
        if apps.is_empty() {
            return prepared;
        }
        let mut bodies: Vec<(u32, Bytes, String)> = Vec::with_capacity(1);
        let Ok(mut q) = self.queues.lock() else {
            return prepared;
        };
        for (app_id, major) in apps {
            let (payload, text) = match bodies.iter().find(|(m, _, _)| *m == major) {
                Some((_, p, t)) => (p.clone(), t.clone()),
                None => {
                    let t = encode::ascii_json(&envelope(major));
                    let p = Bytes::from(t.clone());
                    bodies.push((major, p.clone(), t.clone()));
                    (p, t)
                }
            };
            let seq = self.last_seq.fetch_add(1, Ordering::Relaxed) + 1;
            let key: Arc<str> = format!("{app_id}|{ordering_key}").into();
            prepared.writes.push(Write::Webhook(Box::new(WebhookRecord {
                seq,
                app_id: app_id.clone(),
                ordering_key: key.to_string(),
                field: field.to_owned(),
                payload: text,
                created_at: now,
                next_attempt_at: now,
                state: "pending".into(),
                attempts: "[]".into(),
                delivered_at: None,
            })));
            q.by_key
                .entry(key.clone())
                .or_default()
                .push_back(Delivery {
                    seq,
                    app_id,
                    payload,
                    created_at: now,
                    next_attempt_at: now,
                    attempts: Vec::new(),
                    durable: false,
                    in_flight: false,
                });
            prepared.seqs.push((seq, key));
        }
        prepared
    }

    /// At start: the stored backlog, deliverable at once (it was committed).
    pub fn load(&self, records: Vec<WebhookRecord>) {
        let Ok(mut q) = self.queues.lock() else {
            return;
        };
        let mut keys = Vec::new();
        for r in records {
            let key: Arc<str> = r.ordering_key.as_str().into();
            let attempts: Vec<Attempt> = serde_json::from_str(&r.attempts).unwrap_or_default();
            q.by_key
                .entry(key.clone())
                .or_default()
                .push_back(Delivery {
                    seq: r.seq,
                    app_id: r.app_id,
                    payload: Bytes::from(r.payload),
                    created_at: r.created_at,
                    next_attempt_at: r.next_attempt_at,
                    attempts,
                    durable: true,
                    in_flight: false,
                });
            keys.push(key);
        }
        keys.dedup();
        for k in keys {
            q.arm_head(&k);
        }
    }

    /// The inspector's "redeliver": the stored event goes to the back of its key's queue,
    /// due now, whatever its state was.
    pub fn redeliver(&self, r: WebhookRecord, now: i64) {
        let key: Arc<str> = r.ordering_key.as_str().into();
        if let Ok(mut q) = self.queues.lock() {
            let queue = q.by_key.entry(key.clone()).or_default();
            if queue.iter().any(|d| d.seq == r.seq) {
                return;
            }
            queue.push_back(Delivery {
                seq: r.seq,
                app_id: r.app_id,
                payload: Bytes::from(r.payload),
                // The horizon counts from the redelivery.
                created_at: now,
                next_attempt_at: now,
                attempts: serde_json::from_str(&r.attempts).unwrap_or_default(),
                durable: true,
                in_flight: false,
            });
            q.arm_head(&key);
        }
        self.wake.notify_one();
    }
}

/// What a worker took from the queues.
struct Job {
    key: Arc<str>,
    seq: i64,
    app_id: String,
    payload: Bytes,
}

enum Next {
    Job(Job),
    /// Nothing due: sleep this long (ms) at most.
    Wait(i64),
}

fn take_due(w: &Webhooks, now: i64) -> Next {
    let Ok(mut q) = w.queues.lock() else {
        return Next::Wait(1_000);
    };
    loop {
        let Some(Reverse((due, seq, key))) = q.ready.peek().cloned() else {
            return Next::Wait(60_000);
        };
        if due > now {
            return Next::Wait(due - now);
        }
        q.ready.pop();
        let Some(head) = q.by_key.get_mut(&key).and_then(|queue| queue.front_mut()) else {
            continue;
        };
        if head.seq != seq || head.in_flight || !head.durable || head.next_attempt_at > now {
            continue;
        }
        head.in_flight = true;
        return Next::Job(Job {
            key,
            seq,
            app_id: head.app_id.clone(),
            payload: head.payload.clone(),
        });
    }
}

/// Puts a job back untried (its endpoint is not verified yet), due at `at`.
fn put_back(w: &Webhooks, job: &Job, at: i64) {
    if let Ok(mut q) = w.queues.lock() {
        if let Some(h) = q.by_key.get_mut(&job.key).and_then(|x| x.front_mut()) {
            if h.seq == job.seq {
                h.in_flight = false;
                h.next_attempt_at = at;
            }
        }
        q.arm_head(&job.key);
    }
}

/// Starts the delivery workers.
pub fn start(st: &Arc<AppState>) {
    let workers = (st.webhooks.settings.concurrency * 4).clamp(8, 256);
    for _ in 0..workers {
        tokio::spawn(worker(st.clone()));
    }
}

async fn worker(st: Arc<AppState>) {
    loop {
        let now = st.clock.now().millis();
        match take_due(&st.webhooks, now) {
            Next::Job(job) => deliver(&st, job).await,
            Next::Wait(ms) => {
                let ms = ms.clamp(1, 60_000) as u64;
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(ms)) => {}
                    _ = st.webhooks.wake.notified() => {}
                }
            }
        }
    }
}

/// The app's endpoint: URL, secret and verify token, as configured now.
fn endpoint_of(st: &AppState, app_id: &str) -> Option<(String, String, String)> {
    let r = st.registry.read().ok()?;
    let a = r.apps.get(app_id)?;
    Some((
        a.callback_url.clone()?,
        a.app_secret.clone(),
        a.verify_token.clone(),
    ))
}

/// Meta's handshake: GET with `hub.mode=subscribe`, the verify token and a challenge; only a
/// 200 whose body is the challenge verifies.
async fn handshake(w: &Webhooks, url: &str, verify_token: &str) -> Result<(), String> {
    let challenge = rand::rng().random_range(100_000_000u64..10_000_000_000);
    let challenge = challenge.to_string();
    let r = w
        .http
        .get(url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", verify_token),
            ("hub.challenge", challenge.as_str()),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.text().await.map_err(|e| e.to_string())?;
    if status == 200 && body.trim() == challenge {
        Ok(())
    } else {
        Err(format!(
            "the handshake got HTTP {status}, not 200 with the challenge"
        ))
    }
}

/// Makes sure the app's current URL is verified. `Err(at)`: not now, try the event again at
/// `at`.
async fn ensure_verified(
    st: &AppState,
    app_id: &str,
    url: &str,
    token: &str,
) -> Result<Arc<Semaphore>, i64> {
    let w = &st.webhooks;
    let now = st.clock.now().millis();
    {
        let Ok(mut eps) = w.endpoints.lock() else {
            return Err(now + 1_000);
        };
        let ep = eps.entry(app_id.to_owned()).or_default();
        let permits = ep
            .permits
            .get_or_insert_with(|| Arc::new(Semaphore::new(w.settings.concurrency.max(1))))
            .clone();
        if ep.verified_url.as_deref() == Some(url) {
            return Ok(permits);
        }
        if ep.verifying {
            return Err(now + 50);
        }
        if ep.next_verification_at > now {
            return Err(ep.next_verification_at);
        }
        ep.verifying = true;
    }
    let result = handshake(w, url, token).await;
    let now = st.clock.now().millis();
    let Ok(mut eps) = w.endpoints.lock() else {
        return Err(now + 1_000);
    };
    let ep = eps.entry(app_id.to_owned()).or_default();
    ep.verifying = false;
    match result {
        Ok(()) => {
            tracing::info!(app = %app_id, url = %url, "webhook endpoint verified");
            ep.verified_url = Some(url.to_owned());
            ep.failed_verifications = 0;
            Ok(ep
                .permits
                .get_or_insert_with(|| Arc::new(Semaphore::new(w.settings.concurrency.max(1))))
                .clone())
        }
        Err(e) => {
            ep.failed_verifications += 1;
            let wait = (1_000i64 << ep.failed_verifications.min(6)).min(60_000);
            ep.next_verification_at = now + wait;
            tracing::warn!(app = %app_id, url = %url, error = %e, "webhook endpoint not verified; nothing is posted to it");
            Err(ep.next_verification_at)
        }
    }
}

async fn post(
    w: &Webhooks,
    url: &str,
    secret: &str,
    payload: &Bytes,
) -> (Option<u16>, Option<String>) {
    let r = w
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Hub-Signature-256", encode::signature(secret, payload))
        .body(payload.clone())
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            // Read the body so the connection can be reused.
            let _ = r.bytes().await;
            (Some(status), None)
        }
        Err(e) => (
            None,
            Some(if e.is_timeout() {
                "timed out".to_owned()
            } else {
                e.to_string()
            }),
        ),
    }
}

async fn deliver(st: &Arc<AppState>, job: Job) {
    let w = &st.webhooks;
    let Some((url, secret, token)) = endpoint_of(st, &job.app_id) else {
        // The app lost its callback URL: the event waits for one.
        put_back(w, &job, st.clock.now().millis() + 60_000);
        return;
    };
    let permits = match ensure_verified(st, &job.app_id, &url, &token).await {
        Ok(p) => p,
        Err(at) => {
            put_back(w, &job, at);
            return;
        }
    };
    let Ok(_permit) = permits.acquire_owned().await else {
        put_back(w, &job, st.clock.now().millis() + 1_000);
        return;
    };
    let started = std::time::Instant::now();
    let at = st.clock.now().millis();
    let (status, error) = post(w, &url, &secret, &job.payload).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let ok = status == Some(200);
    if ok && w.settings.duplicates {
        let _ = post(w, &url, &secret, &job.payload).await;
    }
    st.metrics.observe_webhook(ok);
    let now = st.clock.now().millis();
    let attempt = Attempt {
        at,
        status,
        latency_ms,
        error,
    };
    let write = {
        let Ok(mut q) = w.queues.lock() else {
            return;
        };
        let Some(queue) = q.by_key.get_mut(&job.key) else {
            return;
        };
        let Some(head) = queue.front_mut().filter(|h| h.seq == job.seq) else {
            return;
        };
        head.in_flight = false;
        if head.attempts.len() >= ATTEMPTS_KEPT {
            head.attempts.remove(ATTEMPTS_KEPT / 2);
        }
        head.attempts.push(attempt);
        let failed = head
            .attempts
            .iter()
            .filter(|a| a.status != Some(200))
            .count();
        let (state, delivered_at) = if ok {
            st.metrics.observe_webhook_lag(now - head.created_at);
            ("delivered", Some(now))
        } else {
            let next = now + backoff_ms(failed);
            if next > head.created_at + w.settings.retry_horizon_ms {
                st.metrics.webhook_dead();
                tracing::warn!(seq = head.seq, app = %head.app_id, "webhook dead-lettered after the retry horizon");
                ("dead", None)
            } else {
                head.next_attempt_at = next;
                ("pending", None)
            }
        };
        let write = Write::WebhookAttempt {
            seq: head.seq,
            state: state.to_owned(),
            next_attempt_at: head.next_attempt_at,
            attempts: serde_json::to_string(&head.attempts).unwrap_or_else(|_| "[]".into()),
            delivered_at,
        };
        if state != "pending" {
            queue.pop_front();
            if queue.is_empty() {
                q.by_key.remove(&job.key);
            }
        }
        q.arm_head(&job.key);
        write
    };
    w.wake.notify_one();
    // The outcome is recorded without holding up the next delivery; if the process dies
    // before it is written, the event is posted again (at-least-once).
    let store = st.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.commit(vec![write]).await {
            tracing::error!(error = %e, "a webhook attempt could not be recorded");
        }
    });
}
