//! The customer service window (rules.md §2).
//!
//! A user's message opens, or restarts, a 24-hour window in which the business may send
//! free-form messages. It is counted from the user's last inbound message, exactly (no
//! rounding), and only inbound messages touch it: business messages never open or extend it.

use crate::time::Instant;

/// How long the window stays open after the user's last message.
pub const SERVICE_WINDOW_HOURS: i64 = 24;

/// `expires_at` is `i64::MIN` until the user writes (8 bytes instead of an `Option`'s 16:
/// pair state is kept small, see `OpenConversation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceWindow {
    expires_at: Instant,
}

const NEVER: Instant = Instant::from_millis(i64::MIN);

impl Default for ServiceWindow {
    fn default() -> Self {
        ServiceWindow { expires_at: NEVER }
    }
}

impl ServiceWindow {
    /// The user wrote at `at`: the window now runs until `at + 24h`.
    pub fn on_inbound(&mut self, at: Instant) {
        let until = at.plus_hours(SERVICE_WINDOW_HOURS);
        // A late-arriving older message never shortens the window.
        if self.expires_at < until {
            self.expires_at = until;
        }
    }

    /// Open while `at < expires_at`.
    pub fn is_open(&self, at: Instant) -> bool {
        at < self.expires_at
    }

    pub fn expires_at(&self) -> Option<Instant> {
        (self.expires_at != NEVER).then_some(self.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Instant {
        Instant::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn closed_until_the_user_writes() {
        let w = ServiceWindow::default();
        assert!(!w.is_open(t("2023-06-05T09:00:00Z")));
    }

    #[test]
    fn open_for_exactly_24_hours_from_the_last_inbound() {
        let mut w = ServiceWindow::default();
        w.on_inbound(t("2023-06-05T09:00:00Z"));
        assert!(w.is_open(t("2023-06-05T09:00:00Z")));
        assert!(w.is_open(t("2023-06-06T08:59:59.999Z")));
        assert!(!w.is_open(t("2023-06-06T09:00:00Z")));
        w.on_inbound(t("2023-06-05T20:00:00Z"));
        assert!(w.is_open(t("2023-06-06T19:59:59Z")));
        assert!(!w.is_open(t("2023-06-06T20:00:00Z")));
        // An older message does not shorten it.
        w.on_inbound(t("2023-06-05T10:00:00Z"));
        assert_eq!(w.expires_at(), Some(t("2023-06-06T20:00:00Z")));
    }
}
