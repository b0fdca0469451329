//! Benchmark of Meta's `conversation_analytics` over a large ledger (BENCHMARKS.md,
//! "Analytics").
//!
//! 1. Writes `--rows` ledger entries (default 10,000,000) for one WABA through the store's
//!    own writer, the path a send takes, so the rollups are built exactly as in service.
//!    in time order, as in service. The traffic: one month (June 2023, São Paulo time), 4 numbers, 24 countries, the four
//!    categories, the three conversation types, both directions.
//! 2. Checks the rollups against the ledger (row counts).
//! 3. Starts the real server on that data directory and times `GET /{waba}?fields=
//!    conversation_analytics…` over HTTP: DAILY for the month, three dimensions, `--queries`
//!    times, and reports p50/p99/max. For scale it also times the same answer computed by a
//!    GROUP BY over the raw ledger rows.
//!
//! `cargo run --release -p openwaba-server --example analytics_bench -- --rows 10000000`

use openwaba_server::app::start;
use openwaba_server::config::Config;
use openwaba_store::{
    AccessToken, Business, LedgerEntry, PhoneNumber, SqliteStore, Store, Waba, Write,
};
use std::sync::Arc;
use std::time::Instant;

const WABA: &str = "200000000000001";
const TOKEN: &str = "bench-token";
const ZONE: &str = "America/Sao_Paulo";

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const COUNTRIES: [(&str, &str, &str); 24] = [
    ("BR", "Brazil", "5511"),
    ("IN", "India", "9198"),
    ("DE", "Germany", "4915"),
    ("US", "North America", "1212"),
    ("ID", "Indonesia", "6281"),
    ("AR", "Argentina", "5491"),
    ("GB", "United Kingdom", "4477"),
    ("MX", "Mexico", "5255"),
    ("CO", "Colombia", "5730"),
    ("ES", "Spain", "3461"),
    ("IT", "Italy", "3934"),
    ("FR", "France", "3361"),
    ("NG", "Nigeria", "2348"),
    ("EG", "Egypt", "2010"),
    ("TR", "Turkey", "9053"),
    ("PK", "Pakistan", "9230"),
    ("MY", "Malaysia", "6012"),
    ("ZA", "South Africa", "2782"),
    ("SA", "Saudi Arabia", "9665"),
    ("AE", "United Arab Emirates", "9715"),
    ("IL", "Israel", "9725"),
    ("CL", "Chile", "5699"),
    ("PE", "Peru", "5199"),
    ("NL", "Netherlands", "3161"),
];

/// A deterministic xorshift stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// Entry `seq` of `rows`: bookings arrive in time order, as they do in service (each is
/// written when its message is accepted), spread evenly over the 30 days.
fn entry(
    rng: &mut Rng,
    seq: i64,
    rows: u64,
    month_start_ms: i64,
    zone: openwaba_engine::TimeZoneId,
) -> LedgerEntry {
    let (country, market, prefix) = COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize];
    let phone = rng.below(4);
    let at =
        month_start_ms + (((seq - 1) as u128 * 30 * 86_400_000) / u128::from(rows.max(1))) as i64;
    let (category, kind, direction, amount) = match rng.below(20) {
        0..=5 => ("marketing", "REGULAR", "BUSINESS_INITIATED", Some("0.0625")),
        6..=9 => ("utility", "REGULAR", "BUSINESS_INITIATED", Some("0.035")),
        10..=11 => (
            "authentication",
            "REGULAR",
            "BUSINESS_INITIATED",
            Some("0.0315"),
        ),
        12..=16 => ("service", "REGULAR", "USER_INITIATED", Some("0.03")),
        17..=18 => ("service", "FREE_TIER", "USER_INITIATED", Some("0")),
        _ => (
            "referral_conversion",
            "FREE_ENTRY_POINT",
            "USER_INITIATED",
            Some("0"),
        ),
    };
    LedgerEntry {
        seq,
        waba_id: WABA.into(),
        phone_number_id: format!("30000000000000{phone}").into(),
        business: format!("1555000000{phone}").into(),
        wa_id: format!("{prefix}{:08}", rng.below(100_000_000)).into(),
        market: market.into(),
        country: country.into(),
        category: category.into(),
        model: "CBP".into(),
        pricing_type: kind.into(),
        direction: direction.into(),
        conversation_id: Some(format!("{seq:032x}").into()),
        amount: amount.map(Into::into),
        currency: "USD".into(),
        card: Some("built-in cbp-2023-06-usd".into()),
        tier: None,
        at,
        day: zone.day_number(openwaba_engine::Instant::from_millis(at)),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows = arg("--rows", 10_000_000);
    let queries = arg("--queries", 50);
    let dir = tempfile::tempdir()?;
    let zone = openwaba_engine::TimeZoneId::parse(ZONE)?;
    let month_start = zone.start_of_day(chrono::NaiveDate::from_ymd_opt(2023, 6, 1).ok_or("date")?);
    let month_end = zone.start_of_day(chrono::NaiveDate::from_ymd_opt(2023, 7, 1).ok_or("date")?);

    {
        let store = Arc::new(SqliteStore::open(dir.path())?);
        let mut accounts = vec![
            Write::Business(Business {
                id: "100000000000001".into(),
                name: "Bench".into(),
            }),
            Write::Waba(Box::new(Waba {
                id: WABA.into(),
                business_id: "100000000000001".into(),
                name: "Bench WABA".into(),
                timezone: ZONE.into(),
                currency: "USD".into(),
                consent_mode: "enforce".into(),
            })),
            Write::Token(AccessToken {
                token: TOKEN.into(),
                business_id: "100000000000001".into(),
            }),
        ];
        for p in 0..4 {
            accounts.push(Write::PhoneNumber(Box::new(PhoneNumber {
                id: format!("30000000000000{p}"),
                waba_id: WABA.into(),
                number: format!("1555000000{p}"),
                verified_name: "Bench".into(),
                quality_rating: "GREEN".into(),
                messaging_limit_tier: "TIER_UNLIMITED".into(),
                throughput_mps: 1000,
                sync_failures: false,
                registered: true,
            })));
        }
        store.commit(accounts).await?;
        let t = Instant::now();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let batch = 4096u64;
        let mut seq = 0i64;
        let mut pending = Vec::new();
        while (seq as u64) < rows {
            let n = batch.min(rows - seq as u64);
            let writes: Vec<Write> = (0..n)
                .map(|_| {
                    seq += 1;
                    Write::Ledger(Box::new(entry(
                        &mut rng,
                        seq,
                        rows,
                        month_start.millis(),
                        zone,
                    )))
                })
                .collect();
            let s = store.clone();
            pending.push(tokio::spawn(async move { s.commit(writes).await }));
            if pending.len() >= 4 {
                pending.remove(0).await??;
            }
        }
        for p in pending {
            p.await??;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "wrote {rows} ledger rows in {secs:.1} s ({:.0} rows/s, rollups maintained by the writer)",
            rows as f64 / secs
        );
        let daily = store.ledger_rollup(WABA, openwaba_store::Grain::Day, i64::MIN, i64::MAX)?;
        let halves =
            store.ledger_rollup(WABA, openwaba_store::Grain::HalfHour, i64::MIN, i64::MAX)?;
        let total: i64 = daily.iter().map(|r| r.count).sum();
        let total_h: i64 = halves.iter().map(|r| r.count).sum();
        assert_eq!(total as u64, rows, "daily rollup counts equal the ledger");
        assert_eq!(
            total_h as u64, rows,
            "half-hour rollup counts equal the ledger"
        );
        println!(
            "rollups: {} daily rows, {} half-hour rows (both sum to {rows})",
            daily.len(),
            halves.len()
        );
    }

    // The same answer from the raw rows, for scale.
    {
        let c = rusqlite::Connection::open(dir.path().join("openwaba.db"))?;
        let t = Instant::now();
        let n: i64 = c.query_row(
            "SELECT count(*) FROM (SELECT day, category, pricing_type, country, count(*), sum(CAST(amount AS REAL)) FROM ledger WHERE waba_id = ?1 AND at >= ?2 AND at < ?3 GROUP BY day, category, pricing_type, country)",
            rusqlite::params![WABA, month_start.millis(), month_end.millis()],
            |r| r.get(0),
        )?;
        println!(
            "raw GROUP BY over the ledger: {n} groups in {:.0} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
    }

    let config = Config::from_toml(&format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nadmin_token = \"admin\"\n",
        dir.path().display()
    ))?;
    let running = start(&config).await.map_err(|e| e.to_string())?;
    let http = reqwest::Client::new();
    let fields = format!(
        "conversation_analytics.start({}).end({}).granularity(DAILY).dimensions([\"CONVERSATION_CATEGORY\",\"CONVERSATION_TYPE\",\"COUNTRY\"])",
        month_start.unix_seconds(),
        month_end.unix_seconds()
    );
    let url = format!("http://{}/v23.0/{WABA}", running.addr);
    let mut times = Vec::new();
    let mut points = 0;
    let mut conversations = 0i64;
    for _ in 0..queries {
        let t = Instant::now();
        let r = http
            .get(&url)
            .query(&[("fields", fields.as_str())])
            .bearer_auth(TOKEN)
            .send()
            .await?;
        let status = r.status();
        let v: serde_json::Value = r.json().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if !status.is_success() {
            return Err(format!("query failed: {v}").into());
        }
        let dp = v["conversation_analytics"]["data"][0]["data_points"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        points = dp.len();
        conversations = dp.iter().filter_map(|p| p["conversation"].as_i64()).sum();
    }
    assert_eq!(
        conversations as u64, rows,
        "the answer counts every ledger row"
    );
    times.sort_by(f64::total_cmp);
    println!(
        "conversation_analytics DAILY, 3 dimensions, over {rows} ledger rows: {points} data points; {queries} queries over HTTP: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or_default()
    );
    running.stop().await;
    Ok(())
}
