//! The server's clock. Every rule reads time from here, never from the system directly, so
//! the virtual clock of the next milestone can replace it.

use openwaba_engine::Instant;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The system's clock.
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Instant::from_millis(ms)
    }
}
