//! What `/metrics` costs a send (see BENCHMARKS.md, fifteenth session): a send's counts (the
//! request, its outcome, its latency, and its two receipts' lateness), made by two threads at
//! once as the two tokio workers make them. Time is wall time per send and thread.

use criterion::{criterion_group, criterion_main, Criterion};
use openwaba_server::metrics::{Metrics, SendOutcome};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn one_send(m: &Metrics) {
    m.request();
    m.observe_latency(black_box(0.004));
    m.sent(SendOutcome::Delivered);
    m.observe_receipt_lateness(black_box(2));
    m.observe_receipt_lateness(black_box(2));
}

fn bench(c: &mut Criterion) {
    c.bench_function("a send's metrics, two threads at once", |b| {
        b.iter_custom(|iters| {
            let m = Metrics::default();
            let started = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| (0..iters).for_each(|_| one_send(&m)));
                }
            });
            started.elapsed()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
