//! `WaId`: a WhatsApp number as E.164 digits.
//!
//! Both users (`wa_id`) and business display numbers are E.164 digits without `+`. Storing
//! them as an integer makes every state lookup a hash of one word, which is what lets the
//! engine run at tens of millions of events per second.

use std::fmt;

/// E.164 digits, no `+`: 7 to 15 digits, the first one not 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaId(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaIdError {
    #[error("`{0}` is not a phone number in E.164 digits (expected 7 to 15 digits, no `+`, e.g. 5511987650001)")]
    Malformed(String),
}

impl WaId {
    pub fn parse(s: &str) -> Result<Self, WaIdError> {
        let b = s.as_bytes();
        if !(7..=15).contains(&b.len()) || b[0] == b'0' {
            return Err(WaIdError::Malformed(s.to_owned()));
        }
        let mut v: u64 = 0;
        for &c in b {
            if !c.is_ascii_digit() {
                return Err(WaIdError::Malformed(s.to_owned()));
            }
            v = v * 10 + u64::from(c - b'0');
        }
        Ok(WaId(v))
    }

    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Number of digits.
    pub fn len(self) -> u32 {
        self.0.checked_ilog10().unwrap_or(0) + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }

    /// The first `n` digits as a number (the whole number if it is shorter).
    pub fn prefix(self, n: u32) -> u64 {
        let len = self.len();
        if n >= len {
            self.0
        } else {
            self.0 / 10u64.pow(len - n)
        }
    }
}

impl fmt::Display for WaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_e164_digits() {
        let w = WaId::parse("5511987650001").unwrap();
        assert_eq!(w.to_string(), "5511987650001");
        assert_eq!(w.len(), 13);
        assert_eq!(w.prefix(2), 55);
        assert_eq!(w.prefix(4), 5511);
        assert_eq!(w.prefix(20), 5511987650001);
    }

    #[test]
    fn refuses_what_is_not_e164() {
        for s in [
            "",
            "+5511987650001",
            "05511987650001",
            "55 11 98765",
            "123456",
            "1234567890123456",
            "55119876500a1",
        ] {
            let e = WaId::parse(s).unwrap_err();
            assert!(e.to_string().contains(s), "{s}");
        }
    }
}
