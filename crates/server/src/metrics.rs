//! Prometheus metrics, in the text exposition format, without a dependency: a handful of
//! counters and one latency histogram are all `/metrics` needs.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const BUCKETS_MS: [f64; 12] = [
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
];

#[derive(Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Sends by outcome.
    pub sent_delivered: AtomicU64,
    pub sent_failed: AtomicU64,
    pub sent_rejected: AtomicU64,
    latency_buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    /// Webhook POSTs answered 200, and the others (errors, timeouts, refusals).
    pub webhooks_delivered: AtomicU64,
    pub webhooks_failed_attempts: AtomicU64,
    pub webhooks_dead: AtomicU64,
    /// From an event's creation to its delivery, on the server's clock.
    lag_buckets: [AtomicU64; 12],
    lag_count: AtomicU64,
    lag_sum_ms: AtomicU64,
    /// From a simulated receipt's due instant to its report (how late the scheduler fired
    /// it): a receipt's webhook is caused at its due instant, so its cause-to-delivery time is
    /// this plus the delivery lag.
    receipt_lateness_buckets: [AtomicU64; 12],
    receipt_lateness_count: AtomicU64,
    receipt_lateness_sum_ms: AtomicU64,
}

/// Cumulative histogram buckets of `ms`.
fn observe(buckets: &[AtomicU64; 12], ms: f64) {
    for (i, b) in BUCKETS_MS.iter().enumerate() {
        if ms <= *b {
            buckets[i].fetch_add(1, Relaxed);
        }
    }
}

fn render_histogram(
    s: &mut String,
    name: &str,
    help: &str,
    buckets: &[AtomicU64; 12],
    count: u64,
    sum_s: f64,
) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (i, b) in BUCKETS_MS.iter().enumerate() {
        let _ = writeln!(
            s,
            "{name}_bucket{{le=\"{}\"}} {}",
            b / 1000.0,
            buckets[i].load(Relaxed)
        );
    }
    let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(s, "{name}_sum {sum_s}");
    let _ = writeln!(s, "{name}_count {count}");
}

impl Metrics {
    pub fn observe_latency(&self, seconds: f64) {
        observe(&self.latency_buckets, seconds * 1000.0);
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us
            .fetch_add((seconds * 1e6) as u64, Relaxed);
    }

    pub fn observe_webhook(&self, ok: bool) {
        if ok {
            self.webhooks_delivered.fetch_add(1, Relaxed);
        } else {
            self.webhooks_failed_attempts.fetch_add(1, Relaxed);
        }
    }

    pub fn observe_webhook_lag(&self, ms: i64) {
        let ms = ms.max(0);
        observe(&self.lag_buckets, ms as f64);
        self.lag_count.fetch_add(1, Relaxed);
        self.lag_sum_ms.fetch_add(ms as u64, Relaxed);
    }

    pub fn observe_receipt_lateness(&self, ms: i64) {
        let ms = ms.max(0);
        observe(&self.receipt_lateness_buckets, ms as f64);
        self.receipt_lateness_count.fetch_add(1, Relaxed);
        self.receipt_lateness_sum_ms.fetch_add(ms as u64, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# HELP openwaba_http_requests_total Graph API requests.\n# TYPE openwaba_http_requests_total counter\nopenwaba_http_requests_total {}", self.requests.load(Relaxed));
        let _ = writeln!(s, "# HELP openwaba_http_errors_total Graph API requests answered with an error.\n# TYPE openwaba_http_errors_total counter\nopenwaba_http_errors_total {}", self.errors.load(Relaxed));
        let _ = writeln!(s, "# HELP openwaba_sends_total Messages sent, by outcome.\n# TYPE openwaba_sends_total counter");
        for (o, v) in [
            ("delivered", &self.sent_delivered),
            ("failed", &self.sent_failed),
            ("rejected", &self.sent_rejected),
        ] {
            let _ = writeln!(
                s,
                "openwaba_sends_total{{outcome=\"{o}\"}} {}",
                v.load(Relaxed)
            );
        }
        render_histogram(
            &mut s,
            "openwaba_request_duration_seconds",
            "Graph API request latency.",
            &self.latency_buckets,
            self.latency_count.load(Relaxed),
            self.latency_sum_us.load(Relaxed) as f64 / 1e6,
        );
        let _ = writeln!(s, "# HELP openwaba_webhook_attempts_total Webhook POSTs, by result.\n# TYPE openwaba_webhook_attempts_total counter");
        for (r, v) in [
            ("delivered", &self.webhooks_delivered),
            ("failed", &self.webhooks_failed_attempts),
        ] {
            let _ = writeln!(
                s,
                "openwaba_webhook_attempts_total{{result=\"{r}\"}} {}",
                v.load(Relaxed)
            );
        }
        let _ = writeln!(s, "# HELP openwaba_webhooks_dead_total Webhook events dead-lettered.\n# TYPE openwaba_webhooks_dead_total counter\nopenwaba_webhooks_dead_total {}", self.webhooks_dead.load(Relaxed));
        render_histogram(
            &mut s,
            "openwaba_webhook_delivery_lag_seconds",
            "From a webhook event's cause to its delivery (HTTP 200).",
            &self.lag_buckets,
            self.lag_count.load(Relaxed),
            self.lag_sum_ms.load(Relaxed) as f64 / 1e3,
        );
        render_histogram(
            &mut s,
            "openwaba_receipt_lateness_seconds",
            "From a simulated receipt's due instant to its report.",
            &self.receipt_lateness_buckets,
            self.receipt_lateness_count.load(Relaxed),
            self.receipt_lateness_sum_ms.load(Relaxed) as f64 / 1e3,
        );
        s
    }
}
