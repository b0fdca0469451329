#![allow(clippy::expect_used)] // a benchmark stops loudly on a broken setup
//! Replay throughput (see BENCHMARKS.md).
//!
//! - `engine_only`: the rules engine on pre-parsed events (no JSON, no I/O).
//! - `parse_and_engine`: JSON Lines from memory through the parser and the engine, with the
//!   aggregates of the table report: what `openwaba replay` does minus reading the file.
//!
//! The log comes from the same generator as `openwaba gen-log`. Sizes can be set with
//! OPENWABA_BENCH_EVENTS and OPENWABA_BENCH_USERS.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openwaba_engine::{Engine, EngineConfig, MissingRates};
use openwaba_replay::event::{parse_event, Event};
use openwaba_replay::{apply, for_each_event, gen, summary::Summary};
use std::hint::black_box;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> EngineConfig {
    let mut c = EngineConfig::builtin().expect("built-in cards load");
    c.missing_rates = MissingRates::Allow;
    c
}

fn bench(c: &mut Criterion) {
    let events = env_u64("OPENWABA_BENCH_EVENTS", 1_000_000);
    let users = env_u64("OPENWABA_BENCH_USERS", 10_000);
    let mut log = Vec::new();
    gen::generate(
        &gen::GenOptions {
            events,
            users,
            seed: 7,
            ..gen::GenOptions::default()
        },
        &mut log,
    )
    .expect("generate");
    let parsed: Vec<Event<'_>> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| parse_event(i as u64 + 1, l).expect("generated log parses"))
        .collect();

    let mut g = c.benchmark_group(format!("replay/{events}ev/{users}users"));
    g.throughput(Throughput::Elements(events));
    g.sample_size(10);
    g.bench_function("engine_only", |b| {
        b.iter(|| {
            let mut engine = Engine::new(config());
            let mut delivered = 0u64;
            for ev in &parsed {
                if let Ok(Some(o)) = apply(&mut engine, ev) {
                    delivered += u64::from(o.pricing.is_some());
                }
            }
            black_box(delivered)
        })
    });
    g.bench_function("parse_and_engine", |b| {
        b.iter(|| {
            let mut engine = Engine::new(config());
            let mut summary = Summary::default();
            for_each_event(&log[..], |ev| {
                if let Ok(Some(o)) = apply(&mut engine, ev) {
                    let month = engine.month_of(ev.at);
                    summary.record(&o, month);
                }
                Ok(())
            })
            .expect("replay");
            black_box(summary.delivered)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
