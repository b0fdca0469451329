//! A fixed-rate load generator for `POST /messages` (bench/serve_load.sh), to read latency
//! percentiles at a given load: wrk runs closed-loop (as fast as possible), which measures
//! throughput but not the latency a steady load sees.
//!
//! usage: loadgen URL RATE_PER_S SECONDS USERS TOKEN
//!
//! With `LOADGEN_TRACE` set, it also prints every 100 ms window of due times whose p99 is
//! over 5 ms, to tell a stall (a few consecutive windows far over) from a steady tail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let url = a.get(1).cloned().expect("URL");
    let rate: u64 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let secs: u64 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let users: u64 = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let token = a.get(5).cloned().unwrap_or_else(|| "bench-token".into());
    let workers = 64u64;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(workers as usize)
        .build()
        .unwrap();
    let start = Instant::now() + Duration::from_millis(100);
    let total = rate * secs;
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, url, token, errors) =
            (client.clone(), url.clone(), token.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = w;
            while i < total {
                // Open loop: request i is due at start + i/rate, whatever happened before.
                let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
                tokio::time::sleep_until(due.into()).await;
                let user = 5_511_900_000_000u64 + (i * 7) % users;
                // One in four is a template (`order_update`, made by bench/serve_load.sh).
                let body = if i % 4 == 0 {
                    format!(r#"{{"messaging_product":"whatsapp","to":"{user}","type":"template","template":{{"name":"order_update","language":{{"code":"en_US"}},"components":[{{"type":"body","parameters":[{{"type":"text","text":"Ana"}},{{"type":"text","text":"{i}"}}]}}]}}}}"#)
                } else {
                    format!(r#"{{"messaging_product":"whatsapp","to":"{user}","type":"text","text":{{"body":"Your order has shipped"}}}}"#)
                };
                let r = client.post(&url).bearer_auth(&token).header("content-type", "application/json").body(body).send().await;
                match r {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Latency from when the request was due (includes queueing: no coordinated
                // omission), with the window of its due time.
                lat.push(((due - start).as_millis() as u64 / 100, due.elapsed().as_micros() as u64));
                i += workers;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    if std::env::var_os("LOADGEN_TRACE").is_some() {
        trace(&all);
    }
    let mut all: Vec<u64> = all.into_iter().map(|(_, l)| l).collect();
    all.sort_unstable();
    let p = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "rate={rate}/s sent={} errors={} achieved={:.0}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms p99.9={:.2}ms max={:.2}ms",
        all.len(),
        errors.load(Ordering::Relaxed),
        all.len() as f64 / elapsed,
        p(0.5),
        p(0.9),
        p(0.99),
        p(0.999),
        p(1.0)
    );
}

/// Prints the 100 ms windows (by due time) whose p99 latency is over 5 ms.
fn trace(all: &[(u64, u64)]) {
    let mut windows = std::collections::BTreeMap::<u64, Vec<u64>>::new();
    for &(w, l) in all {
        windows.entry(w).or_default().push(l);
    }
    for (w, mut l) in windows {
        l.sort_unstable();
        let p99 = l[l.len() * 99 / 100];
        if p99 > 5_000 {
            eprintln!(
                "t={:.1}s n={} p50={:.1}ms p99={:.1}ms max={:.1}ms",
                w as f64 / 10.0,
                l.len(),
                l[l.len() / 2] as f64 / 1000.0,
                p99 as f64 / 1000.0,
                l[l.len() - 1] as f64 / 1000.0
            );
        }
    }
}
