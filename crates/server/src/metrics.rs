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
}

impl Metrics {
    pub fn observe_latency(&self, seconds: f64) {
        let ms = seconds * 1000.0;
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                self.latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_us
            .fetch_add((seconds * 1e6) as u64, Relaxed);
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
        let _ = writeln!(s, "# HELP openwaba_request_duration_seconds Graph API request latency.\n# TYPE openwaba_request_duration_seconds histogram");
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(
                s,
                "openwaba_request_duration_seconds_bucket{{le=\"{}\"}} {}",
                b / 1000.0,
                self.latency_buckets[i].load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            s,
            "openwaba_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            s,
            "openwaba_request_duration_seconds_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(s, "openwaba_request_duration_seconds_count {count}");
        s
    }
}
