//! Throughput (130429) and pair (131056) limits: token buckets, judged at the instant given.
//!
//! - Per business number: `mps` messages a second, a burst of one second's worth.
//! - Per (number, user): one message every 6 s, with bursts of up to 45 borrowed from the
//!   future (rules.md §10).

use openwaba_engine::{Instant, WaId};
use rustc_hash::FxHashMap;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    /// Takes a token if there is one; else returns the seconds until one is back.
    fn take(&mut self, now: Instant, rate_per_s: f64, capacity: f64) -> Result<(), u64> {
        let elapsed = (now.millis() - self.at_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate_per_s).min(capacity);
        self.at_ms = self.at_ms.max(now.millis());
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / rate_per_s).ceil().max(1.0) as u64)
        }
    }

    /// Whether the bucket has refilled by `now`: it then limits nothing that a fresh one
    /// would not, so it can be forgotten.
    fn is_full_at(&self, now: Instant, rate_per_s: f64, capacity: f64) -> bool {
        let elapsed = (now.millis() - self.at_ms).max(0) as f64 / 1000.0;
        self.tokens + elapsed * rate_per_s >= capacity
    }
}

pub const PAIR_INTERVAL_S: f64 = 6.0;
pub const PAIR_BURST: f64 = 45.0;

/// The fewest pairs at which forgotten pairs are swept out (see [`Limits::sweep_pairs`]).
const PAIR_SWEEP_MIN: usize = 4096;

#[derive(Default)]
pub struct Limits {
    numbers: FxHashMap<String, Bucket>,
    /// Keyed by (business number, user) as numbers: no allocation per message.
    pairs: FxHashMap<(u64, u64), Bucket>,
    /// The number of pairs at which the next sweep runs.
    next_sweep: usize,
}

pub enum Limited {
    Throughput { retry_after: u64 },
    Pair { retry_after: u64 },
}

impl Limits {
    /// Counts one message of `number` to `user` at `now`, or says which limit it hits.
    pub fn admit(
        &mut self,
        now: Instant,
        number: &str,
        pair: (WaId, WaId),
        mps: u32,
    ) -> Result<(), Limited> {
        let mps = f64::from(mps.max(1));
        let fresh = Bucket {
            tokens: mps,
            at_ms: now.millis(),
        };
        let mut probe = self.numbers.get(number).copied().unwrap_or(fresh);
        probe
            .take(now, mps, mps)
            .map_err(|retry_after| Limited::Throughput { retry_after })?;
        let pb = self
            .pairs
            .entry((pair.0.as_u64(), pair.1.as_u64()))
            .or_insert(Bucket {
                tokens: PAIR_BURST,
                at_ms: now.millis(),
            });
        pb.take(now, 1.0 / PAIR_INTERVAL_S, PAIR_BURST)
            .map_err(|retry_after| Limited::Pair { retry_after })?;
        if self.pairs.len() >= self.next_sweep.max(PAIR_SWEEP_MIN) {
            self.sweep_pairs(now);
        }
        // Only a message that passes both limits uses a throughput token.
        match self.numbers.get_mut(number) {
            Some(nb) => *nb = probe,
            None => {
                self.numbers.insert(number.to_owned(), probe);
            }
        }
        Ok(())
    }

    /// Forgets the pairs whose buckets have refilled: a pair is kept for every user a number
    /// ever wrote to otherwise, which under real traffic grows without end. A full bucket
    /// (270 s after its last message at most) is what a new pair starts with, so forgetting
    /// it changes no answer. The next sweep waits until the map has doubled from what this
    /// one kept, so sweeping (a pass over the map's capacity) costs O(1) per message over
    /// time.
    fn sweep_pairs(&mut self, now: Instant) {
        self.pairs
            .retain(|_, b| !b.is_full_at(now, 1.0 / PAIR_INTERVAL_S, PAIR_BURST));
        self.next_sweep = 2 * self.pairs.len();
        // After a spike, give the memory back: the map needs no more than it will hold
        // before the next sweep.
        self.pairs.shrink_to(self.next_sweep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pair of the business number and the `i`th user.
    fn u(i: u64) -> (WaId, WaId) {
        (
            WaId::parse("15550001111").unwrap(),
            WaId::parse(&(5511900000000 + i).to_string()).unwrap(),
        )
    }

    #[test]
    fn pairs_that_have_refilled_are_forgotten_and_the_others_still_limit() {
        let mut l = Limits::default();
        let t = Instant::from_millis(1_000_000);
        // User 99,999 uses up its burst; many users get one message each: one pair short
        // of a sweep.
        for _ in 0..45 {
            assert!(l.admit(t, "n", u(99_999), 1_000_000).is_ok());
        }
        for i in 1..PAIR_SWEEP_MIN as u64 - 1 {
            assert!(l.admit(t, "n", u(i), 1_000_000).is_ok());
        }
        assert_eq!(l.pairs.len(), PAIR_SWEEP_MIN - 1);
        // 100 s later the one-message pairs have refilled (44 + 100/6 tokens), user 99,999's
        // has not (100/6). User 0's first message makes the sweep's count: it forgets the
        // full ones and keeps the other two.
        let later = Instant::from_millis(1_000_000 + 100_000);
        assert!(l.admit(later, "n", u(0), 1_000_000).is_ok());
        assert_eq!(l.pairs.len(), 2);
        // User 99,999 still has only what 100 s gave back: 16 messages, then limited.
        for _ in 0..16 {
            assert!(l.admit(later, "n", u(99_999), 1_000_000).is_ok());
        }
        assert!(matches!(
            l.admit(later, "n", u(99_999), 1_000_000),
            Err(Limited::Pair { .. })
        ));
        // User 0's burst still counts from its first message: 45, then limited.
        for _ in 1..45 {
            assert!(l.admit(later, "n", u(0), 1_000_000).is_ok());
        }
        assert!(matches!(
            l.admit(later, "n", u(0), 1_000_000),
            Err(Limited::Pair { retry_after: 6 })
        ));
    }

    #[test]
    fn throughput_and_pair_limits() {
        let mut l = Limits::default();
        let t = Instant::from_millis(1_000_000);
        for i in 0..10 {
            assert!(l.admit(t, "n", u(i), 10).is_ok());
        }
        assert!(matches!(
            l.admit(t, "n", u(99), 10),
            Err(Limited::Throughput { .. })
        ));
        let later = Instant::from_millis(1_001_000);
        assert!(l.admit(later, "n", u(99), 10).is_ok());

        let mut l = Limits::default();
        for _ in 0..45 {
            assert!(l.admit(t, "n", u(0), 1000).is_ok());
        }
        assert!(matches!(
            l.admit(t, "n", u(0), 1000),
            Err(Limited::Pair { retry_after: 6 })
        ));
        assert!(l
            .admit(Instant::from_millis(1_006_000), "n", u(0), 1000)
            .is_ok());
    }
}
