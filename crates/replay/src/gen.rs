//! A generator of large, realistic event logs, for benchmarks and soak tests
//! (`openwaba gen-log`).
//!
//! Users are spread over the main markets. Each event picks a user; what happens depends on
//! where that user is: a conversation starts with an inbound message (sometimes from an
//! ad), the business answers with free-form messages while the window is open and with
//! templates otherwise; users opt in, opt out and stop marketing now and then; about 1% of
//! sends are undeliverable. Time advances so that the log spans `days` days. Deterministic
//! for a seed.

use std::io::{self, Write};

/// A small, fast, seedable PRNG (xorshift64*); no dependency, same stream on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Debug)]
pub struct GenOptions {
    pub events: u64,
    pub users: u64,
    pub seed: u64,
    /// First instant, Unix seconds.
    pub start: i64,
    /// Span of the log, in days.
    pub days: u64,
    /// Business numbers of the WABA.
    pub businesses: u64,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            events: 10_000,
            users: 1_000,
            seed: 1,
            // 2025-05-01T00:00:00Z: CBP, the US block, then the switch to PMP.
            start: 1_746_057_600,
            days: 92,
            businesses: 2,
        }
    }
}

const PREFIXES: [(&str, u64); 8] = [
    ("5511", 9), // Brazil
    ("9198", 8), // India
    ("4915", 9), // Germany
    ("1212", 7), // United States
    ("1416", 7), // Canada
    ("6281", 9), // Indonesia
    ("5491", 8), // Argentina
    ("4477", 8), // United Kingdom
];

fn user_number(i: u64) -> String {
    let (p, digits) = PREFIXES[(i % PREFIXES.len() as u64) as usize];
    format!("{p}{:0width$}", i, width = digits as usize)
}

fn rfc3339(secs: i64) -> String {
    openwaba_engine::Instant::from_unix_seconds(secs).to_string()
}

/// Writes `opts.events` events as JSON Lines.
pub fn generate<W: Write>(opts: &GenOptions, out: W) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let mut rng = Rng::new(opts.seed);
    let users = opts.users.max(1);
    let span_ms = opts.days.max(1) as u128 * 86_400_000;
    // Per user: last inbound (seconds) and whether they opted in.
    let mut last_inbound: Vec<i64> = vec![i64::MIN; users as usize];
    let mut opted: Vec<bool> = vec![false; users as usize];
    let mut at_s;
    let mut msg: u64 = 0;
    let mut line = String::with_capacity(256);
    for i in 0..opts.events {
        at_s =
            opts.start + ((u128::from(i) * span_ms / u128::from(opts.events.max(1))) / 1000) as i64;
        let u = rng.below(users);
        let user = user_number(u);
        // A user mostly talks to one of the WABA's numbers.
        let business = format!("1555000{:04}", u % opts.businesses.max(1));
        let ts = rfc3339(at_s);
        let window_open = last_inbound[u as usize] > at_s - 86_400;
        line.clear();
        let roll = rng.below(100);
        use std::fmt::Write as _;
        if !opted[u as usize] && roll < 60 {
            opted[u as usize] = true;
            let _ = write!(
                line,
                r#"{{"at":"{ts}","event":"opt_in","business":"{business}","user":"{user}"}}"#
            );
        } else if roll < 2 {
            let ev = [
                "marketing_stop",
                "marketing_resume",
                "opt_out",
                "marketing_resume",
            ][rng.below(4) as usize];
            if ev == "opt_out" {
                opted[u as usize] = false;
            }
            let _ = write!(
                line,
                r#"{{"at":"{ts}","event":"{ev}","business":"{business}","user":"{user}"}}"#
            );
        } else if roll < 30 {
            last_inbound[u as usize] = at_s;
            let referral = if rng.chance(5) {
                r#","referral":true"#
            } else {
                ""
            };
            let _ = write!(
                line,
                r#"{{"at":"{ts}","event":"inbound","business":"{business}","user":"{user}"{referral}}}"#
            );
        } else {
            msg += 1;
            let delivered = if rng.chance(1) {
                r#","delivered":false"#
            } else {
                ""
            };
            let template = !window_open || rng.chance(25);
            if template {
                let cat = match rng.below(10) {
                    0..=3 => "marketing",
                    4..=7 => "utility",
                    _ => "authentication",
                };
                let _ = write!(
                    line,
                    r#"{{"at":"{ts}","event":"send","business":"{business}","user":"{user}","id":"wamid.{msg}","kind":"template","category":"{cat}"{delivered}}}"#
                );
            } else {
                let kind =
                    ["text", "text", "image", "interactive", "document"][rng.below(5) as usize];
                let _ = write!(
                    line,
                    r#"{{"at":"{ts}","event":"send","business":"{business}","user":"{user}","id":"wamid.{msg}","kind":"{kind}"{delivered}}}"#
                );
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()
}
