//! The server's clock. Every rule, expiry, receipt delay, retry and media URL reads time from
//! here, never from the system directly, so a test can live in 2023 or skip a day.
//!
//! A virtual clock runs at the system's pace from the instant it was started at (a bot under
//! test sees time pass normally) and can be moved forward at any moment. It never moves
//! back: the rules assume time only grows, as Meta's does. Moving it is the scheduler's job
//! ([`crate::scheduler`]), which fires what falls due on the way, in order; Stripe's test
//! clocks are the model.

use openwaba_engine::Instant;
use std::sync::atomic::{AtomicI64, Ordering};

/// Which clock a server runs on (`clock = "real" | "virtual"` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    Real,
    Virtual,
}

impl std::str::FromStr for ClockMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "real" => Ok(ClockMode::Real),
            "virtual" => Ok(ClockMode::Virtual),
            _ => Err(format!("`{s}` is not a clock: use `real` or `virtual`")),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the server runs on the real clock; start it with --clock virtual to move time")]
    Real,
    #[error("the clock only moves forward: {target} is before now ({now})")]
    Backwards { target: String, now: String },
}

/// System time plus an offset that only grows. The real clock is the same with the offset
/// fixed at zero.
#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    offset_ms: AtomicI64,
    /// A frozen virtual clock reads this instant until moved or thawed (`i64::MIN`: it
    /// runs). Frozen, time passes only when a test moves it, as with Stripe's test clocks:
    /// replaying a log instant by instant gives exactly the log's instants.
    frozen_at: AtomicI64,
}

const RUNNING: i64 = i64::MIN;

fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Clock {
    pub fn real() -> Clock {
        Clock {
            mode: ClockMode::Real,
            offset_ms: AtomicI64::new(0),
            frozen_at: AtomicI64::new(RUNNING),
        }
    }

    /// A virtual clock that reads `start` now.
    pub fn virtual_from(start: Instant) -> Clock {
        Clock::virtual_with_offset(start.millis() - system_ms())
    }

    /// A virtual clock `offset_ms` ahead of (or behind) the system's, as stored at the last
    /// move: after a restart, time has passed for the virtual clock as for the real one.
    pub fn virtual_with_offset(offset_ms: i64) -> Clock {
        Clock {
            mode: ClockMode::Virtual,
            offset_ms: AtomicI64::new(offset_ms),
            frozen_at: AtomicI64::new(RUNNING),
        }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Acquire)
    }

    pub fn now(&self) -> Instant {
        let frozen = self.frozen_at.load(Ordering::Acquire);
        if frozen != RUNNING {
            return Instant::from_millis(frozen);
        }
        Instant::from_millis(system_ms() + self.offset_ms())
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen_at.load(Ordering::Acquire) != RUNNING
    }

    /// Stops (or restarts) a virtual clock where it reads now.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), ClockError> {
        if self.mode == ClockMode::Real {
            return Err(ClockError::Real);
        }
        let now = self.now().millis();
        if frozen {
            let _ =
                self.frozen_at
                    .compare_exchange(RUNNING, now, Ordering::AcqRel, Ordering::Acquire);
        } else if self.frozen_at.swap(RUNNING, Ordering::AcqRel) != RUNNING {
            // It runs on from where it stood.
            self.offset_ms.store(now - system_ms(), Ordering::Release);
        }
        Ok(())
    }

    /// Moves the clock to `target` if it is later than now (an earlier target is a no-op: the
    /// clock may have passed it while the caller worked).
    pub(crate) fn move_to(&self, target: Instant) -> Result<(), ClockError> {
        if self.mode == ClockMode::Real {
            return Err(ClockError::Real);
        }
        if self.is_frozen() {
            self.frozen_at.fetch_max(target.millis(), Ordering::AcqRel);
            self.offset_ms
                .store(self.now().millis() - system_ms(), Ordering::Release);
            return Ok(());
        }
        let want = target.millis() - system_ms();
        self.offset_ms.fetch_max(want, Ordering::AcqRel);
        Ok(())
    }

    /// Checks that a move to `target` is allowed, before the scheduler starts it.
    pub fn check_move(&self, target: Instant) -> Result<(), ClockError> {
        if self.mode == ClockMode::Real {
            return Err(ClockError::Real);
        }
        let now = self.now();
        if target < now {
            return Err(ClockError::Backwards {
                target: target.to_string(),
                now: now.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_stands_still_until_moved_and_runs_on_from_there() {
        let start = Instant::from_millis(1_685_923_200_000);
        let c = Clock::virtual_from(start);
        c.set_frozen(true).unwrap();
        let t = c.now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(c.now(), t);
        let later = Instant::from_millis(t.millis() + 3_600_000);
        c.move_to(later).unwrap();
        assert_eq!(c.now(), later);
        c.set_frozen(false).unwrap();
        assert!(c.now() >= later && c.now().millis() < later.millis() + 1_000);
        assert_eq!(Clock::real().set_frozen(true), Err(ClockError::Real));
    }

    #[test]
    fn the_real_clock_cannot_be_moved() {
        let c = Clock::real();
        assert_eq!(c.check_move(c.now()), Err(ClockError::Real));
        assert_eq!(c.move_to(c.now()), Err(ClockError::Real));
    }

    #[test]
    fn a_virtual_clock_starts_where_asked_runs_and_only_moves_forward() {
        let start = Instant::from_millis(1_685_923_200_000); // 2023-06-05T00:00:00Z
        let c = Clock::virtual_from(start);
        let now = c.now().millis();
        assert!((start.millis()..start.millis() + 1_000).contains(&now));
        let later = Instant::from_millis(start.millis() + 25 * 3_600_000);
        c.move_to(later).unwrap();
        assert!(c.now() >= later);
        assert!(matches!(
            c.check_move(start),
            Err(ClockError::Backwards { .. })
        ));
        // A move to the past is ignored, never applied.
        c.move_to(start).unwrap();
        assert!(c.now() >= later);
    }
}
