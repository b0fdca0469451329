//! Consent: the opt-in registry and the user's marketing preference (rules.md §8).
//!
//! Meta requires opt-in before a business initiates a conversation but never checks it.
//! openwaba does, per WABA and user, in one of three modes. Consent matters only for
//! templates sent while no service window is open: a user who writes first needs none.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConsentMode {
    /// A template outside the window to a user without opt-in is refused (default).
    #[default]
    Enforce,
    /// It is sent, and the outcome carries a warning.
    Warn,
    /// Consent is not checked.
    Off,
}

impl ConsentMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsentMode::Enforce => "enforce",
            ConsentMode::Warn => "warn",
            ConsentMode::Off => "off",
        }
    }
}

impl fmt::Display for ConsentMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a consent mode (expected enforce, warn or off)")]
pub struct UnknownConsentMode(pub String);

impl FromStr for ConsentMode {
    type Err = UnknownConsentMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "enforce" => Ok(ConsentMode::Enforce),
            "warn" => Ok(ConsentMode::Warn),
            "off" => Ok(ConsentMode::Off),
            _ => Err(UnknownConsentMode(s.to_owned())),
        }
    }
}

/// What a WABA knows of one user's consent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Consent {
    pub opted_in: bool,
    /// The user stopped marketing messages (`user_preferences` value `stop`).
    pub marketing_stopped: bool,
}
