//! Prometheus metrics, in the text exposition format, without a dependency: a handful of
//! counters and three histograms are all `/metrics` needs. What every request counts is
//! kept per thread (see [`Shard`]) and summed when `/metrics` is read.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

const BUCKETS_MS: [f64; 12] = [
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
];

/// A histogram as it is written: one count per bucket (the last for what is over every
/// bound) and the sum. An observation adds to one bucket; Prometheus's cumulative buckets
/// and the count are summed when `/metrics` is read, which is rare. Measured (BENCHMARKS.md,
/// fifteenth session): the cumulative form added to every bucket at or above the value, up
/// to 12 atomic additions an observation, and a send observes three (its latency, then its
/// two receipts' lateness).
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len() + 1],
    /// In microseconds, whatever the histogram measures.
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, ms: f64) {
        let i = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_us.fetch_add((ms * 1000.0) as u64, Relaxed);
    }
}

/// The per-request counters, one set per shard: both tokio workers count every request, and
/// one shared set of atomics would move its cache line between their cores at each.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    requests: AtomicU64,
    errors: AtomicU64,
    sent_delivered: AtomicU64,
    sent_failed: AtomicU64,
    sent_rejected: AtomicU64,
    latency: Histogram,
}

/// Shards: more than the worker threads of the machines openwaba runs on, so that threads
/// rarely share one; a thread that does only shares a line again.
const SHARDS: usize = 8;

/// This thread's shard, given round robin the first time a thread counts.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

/// A send's outcome, as `/metrics` counts it.
#[derive(Clone, Copy)]
pub enum SendOutcome {
    Delivered,
    Failed,
    Rejected,
}

#[derive(Default)]
pub struct Metrics {
    shards: [Shard; SHARDS],
    /// Webhook POSTs answered 200, and the others (errors, timeouts, refusals).
    webhooks_delivered: AtomicU64,
    webhooks_failed_attempts: AtomicU64,
    webhooks_dead: AtomicU64,
    /// From an event's creation to its delivery, on the server's clock.
    lag: Histogram,
    /// From a simulated receipt's due instant to its report (how late the scheduler fired
    /// it): a receipt's webhook is caused at its due instant, so its cause-to-delivery time is
    /// this plus the delivery lag.
    receipt_lateness: Histogram,
}

fn render_histogram(s: &mut String, name: &str, help: &str, hs: &[&Histogram]) {
    let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (i, b) in BUCKETS_MS.iter().enumerate() {
        cumulative += hs.iter().map(|h| h.buckets[i].load(Relaxed)).sum::<u64>();
        let _ = writeln!(s, "{name}_bucket{{le=\"{}\"}} {cumulative}", b / 1000.0);
    }
    let count = cumulative
        + hs.iter()
            .map(|h| h.buckets[BUCKETS_MS.len()].load(Relaxed))
            .sum::<u64>();
    let sum = hs.iter().map(|h| h.sum_us.load(Relaxed)).sum::<u64>() as f64 / 1e6;
    let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(s, "{name}_sum {sum}");
    let _ = writeln!(s, "{name}_count {count}");
}

impl Metrics {
    fn shard(&self) -> &Shard {
        &self.shards[shard_index()]
    }

    /// A Graph API request.
    pub fn request(&self) {
        self.shard().requests.fetch_add(1, Relaxed);
    }

    /// A Graph API request answered with an error.
    pub fn error(&self) {
        self.shard().errors.fetch_add(1, Relaxed);
    }

    pub fn sent(&self, outcome: SendOutcome) {
        let s = self.shard();
        match outcome {
            SendOutcome::Delivered => &s.sent_delivered,
            SendOutcome::Failed => &s.sent_failed,
            SendOutcome::Rejected => &s.sent_rejected,
        }
        .fetch_add(1, Relaxed);
    }

    pub fn observe_latency(&self, seconds: f64) {
        self.shard().latency.observe(seconds * 1000.0);
    }

    pub fn observe_webhook(&self, ok: bool) {
        if ok {
            self.webhooks_delivered.fetch_add(1, Relaxed);
        } else {
            self.webhooks_failed_attempts.fetch_add(1, Relaxed);
        }
    }

    /// A webhook event given up on after its retry horizon.
    pub fn webhook_dead(&self) {
        self.webhooks_dead.fetch_add(1, Relaxed);
    }

    pub fn observe_webhook_lag(&self, ms: i64) {
        self.lag.observe(ms.max(0) as f64);
    }

    pub fn observe_receipt_lateness(&self, ms: i64) {
        self.receipt_lateness.observe(ms.max(0) as f64);
    }

    /// A per-request counter summed over the shards.
    fn total(&self, counter: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards.iter().map(|s| counter(s).load(Relaxed)).sum()
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# HELP openwaba_http_requests_total Graph API requests.\n# TYPE openwaba_http_requests_total counter\nopenwaba_http_requests_total {}", self.total(|s| &s.requests));
        let _ = writeln!(s, "# HELP openwaba_http_errors_total Graph API requests answered with an error.\n# TYPE openwaba_http_errors_total counter\nopenwaba_http_errors_total {}", self.total(|s| &s.errors));
        let _ = writeln!(s, "# HELP openwaba_sends_total Messages sent, by outcome.\n# TYPE openwaba_sends_total counter");
        for (o, v) in [
            ("delivered", self.total(|s| &s.sent_delivered)),
            ("failed", self.total(|s| &s.sent_failed)),
            ("rejected", self.total(|s| &s.sent_rejected)),
        ] {
            let _ = writeln!(s, "openwaba_sends_total{{outcome=\"{o}\"}} {v}");
        }
        render_histogram(
            &mut s,
            "openwaba_request_duration_seconds",
            "Graph API request latency.",
            &self.shards.iter().map(|s| &s.latency).collect::<Vec<_>>(),
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
            &[&self.lag],
        );
        render_histogram(
            &mut s,
            "openwaba_receipt_lateness_seconds",
            "From a simulated receipt's due instant to its report.",
            &[&self.receipt_lateness],
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
            .trim()
    }

    /// What Prometheus reads: cumulative buckets, `+Inf` equal to the count, and the sum, for
    /// values on a bound, between bounds, and over every bound.
    #[test]
    fn histograms_render_cumulative_buckets_from_one_count_each() {
        let m = Metrics::default();
        for seconds in [0.0002, 0.001, 0.003, 0.003, 2.5] {
            m.observe_latency(seconds);
        }
        m.observe_receipt_lateness(-5);
        m.observe_receipt_lateness(30);
        let text = m.render();
        let name = "openwaba_request_duration_seconds";
        let bucket = |le: &str| line(&text, &format!("{name}_bucket{{le=\"{le}\"}} "));
        assert_eq!(bucket("0.00025"), "1");
        assert_eq!(bucket("0.0005"), "1");
        assert_eq!(bucket("0.001"), "2");
        assert_eq!(bucket("0.002"), "2");
        assert_eq!(bucket("0.005"), "4");
        assert_eq!(bucket("1"), "4");
        assert_eq!(bucket("+Inf"), "5");
        assert_eq!(line(&text, &format!("{name}_count ")), "5");
        assert_eq!(line(&text, &format!("{name}_sum ")), "2.5072");
        let name = "openwaba_receipt_lateness_seconds";
        // A negative lateness counts as 0 ms.
        assert_eq!(
            line(&text, &format!("{name}_bucket{{le=\"0.00025\"}} ")),
            "1"
        );
        assert_eq!(line(&text, &format!("{name}_bucket{{le=\"0.025\"}} ")), "1");
        assert_eq!(line(&text, &format!("{name}_bucket{{le=\"0.05\"}} ")), "2");
        assert_eq!(line(&text, &format!("{name}_count ")), "2");
        assert_eq!(line(&text, &format!("{name}_sum ")), "0.03");
    }

    /// Threads count into their own shards; `/metrics` shows the sum of all of them.
    #[test]
    fn counts_from_many_threads_are_summed() {
        let m = Metrics::default();
        std::thread::scope(|s| {
            for _ in 0..(SHARDS + 3) {
                s.spawn(|| {
                    for _ in 0..1000 {
                        m.request();
                        m.sent(SendOutcome::Delivered);
                        m.observe_latency(0.004);
                    }
                    m.error();
                    m.sent(SendOutcome::Rejected);
                });
            }
        });
        let n = (SHARDS + 3) as u64;
        let text = m.render();
        assert_eq!(
            line(&text, "openwaba_http_requests_total "),
            (1000 * n).to_string()
        );
        assert_eq!(line(&text, "openwaba_http_errors_total "), n.to_string());
        assert_eq!(
            line(&text, "openwaba_sends_total{outcome=\"delivered\"} "),
            (1000 * n).to_string()
        );
        assert_eq!(
            line(&text, "openwaba_sends_total{outcome=\"rejected\"} "),
            n.to_string()
        );
        assert_eq!(
            line(&text, "openwaba_sends_total{outcome=\"failed\"} "),
            "0"
        );
        assert_eq!(
            line(&text, "openwaba_request_duration_seconds_count "),
            (1000 * n).to_string()
        );
    }
}
