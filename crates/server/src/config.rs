//! Server configuration: a TOML file, then `OPENWABA_…` environment variables over it, then
//! defaults. Fixed values (ids, tokens, secrets) make tests and CI reproducible; what is not
//! fixed is generated on first start and kept in the data directory.

use crate::clock::ClockMode;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The default port: clear of the usual services (PostgreSQL 5432, Redis 6379, NATS 4222,
/// RabbitMQ 5672, MQTT 1883, HTTP 80/8080/3000/8000).
pub const DEFAULT_PORT: u16 = 4980;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Protects `/_admin/…`. Generated at first start when absent.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// Where clients reach the server, for media URLs (default `http://<listen address>`).
    #[serde(default)]
    pub public_url: Option<String>,
    /// Accounts to create (or update) at start.
    #[serde(default)]
    pub business: Option<BusinessConfig>,
    /// `real` (default) or `virtual`: see [`crate::clock`].
    #[serde(default = "default_clock")]
    pub clock: ClockMode,
    /// Where a virtual clock starts on a new data directory (RFC 3339; default: now).
    #[serde(default)]
    pub clock_start: Option<StartInstant>,
    /// How long template review takes (`0s`: the outcome is in the create response).
    #[serde(default)]
    pub template_review_delay: DurationSetting,
    /// How long a webhook is retried before it is dead-lettered (Meta: 7 days).
    #[serde(default = "default_retry_horizon")]
    pub webhook_retry_horizon: DurationSetting,
    /// Concurrent webhook POSTs per endpoint.
    #[serde(default = "default_webhook_concurrency")]
    pub webhook_concurrency: usize,
    /// How long a webhook POST may take before it counts as failed.
    #[serde(default = "default_webhook_timeout")]
    pub webhook_timeout: DurationSetting,
    /// Post every delivered webhook twice (to test a client's deduplication).
    #[serde(default)]
    pub webhook_duplicates: bool,
    /// Threads that serve the HTTP connections, each with a runtime of its own (default: one
    /// per core; see [`crate::http`]).
    #[serde(default = "default_http_threads")]
    pub http_threads: HttpThreads,
}

/// How many threads serve the HTTP connections: at least one.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "usize")]
pub struct HttpThreads(pub std::num::NonZeroUsize);

impl TryFrom<usize> for HttpThreads {
    type Error = String;
    fn try_from(n: usize) -> Result<HttpThreads, String> {
        std::num::NonZeroUsize::new(n)
            .map(HttpThreads)
            .ok_or_else(|| "must be at least 1".to_owned())
    }
}

impl std::str::FromStr for HttpThreads {
    type Err = String;
    fn from_str(s: &str) -> Result<HttpThreads, String> {
        let n: usize = s
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not a whole number"))?;
        HttpThreads::try_from(n).map_err(|e| format!("`{s}`: {e}"))
    }
}

fn default_http_threads() -> HttpThreads {
    HttpThreads(std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN))
}

fn default_webhook_concurrency() -> usize {
    16
}

fn default_webhook_timeout() -> DurationSetting {
    DurationSetting(std::time::Duration::from_secs(10))
}

fn default_clock() -> ClockMode {
    ClockMode::Real
}

/// An instant written in RFC 3339 (`2023-06-05T00:00:00Z`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub struct StartInstant(pub openwaba_engine::Instant);

impl TryFrom<String> for StartInstant {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for StartInstant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        openwaba_engine::Instant::parse_rfc3339(s)
            .map(StartInstant)
            .map_err(|_| format!("`{s}` is not an RFC 3339 instant such as 2023-06-05T00:00:00Z"))
    }
}

/// A duration written with a unit: `250ms`, `30s`, `5m`, `36h`, `7d`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(try_from = "String")]
pub struct DurationSetting(pub std::time::Duration);

impl DurationSetting {
    pub fn millis(&self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

impl TryFrom<String> for DurationSetting {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for DurationSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let bad = || format!("`{s}` is not a duration such as 250ms, 30s, 5m, 36h or 7d");
        let n: u64 = n.parse().map_err(|_| bad())?;
        let ms = match unit {
            "ms" => 1,
            "s" | "" if n == 0 => 1_000,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        n.checked_mul(ms)
            .map(|ms| DurationSetting(std::time::Duration::from_millis(ms)))
            .ok_or_else(bad)
    }
}

fn default_retry_horizon() -> DurationSetting {
    DurationSetting(std::time::Duration::from_secs(7 * 86_400))
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BusinessConfig {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub wabas: Vec<WabaConfig>,
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    #[serde(default)]
    pub access_tokens: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WabaConfig {
    pub id: Option<String>,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub currency: Option<String>,
    pub consent_mode: Option<String>,
    #[serde(default)]
    pub phone_numbers: Vec<PhoneNumberConfig>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberConfig {
    pub id: Option<String>,
    /// E.164 digits.
    pub number: String,
    pub verified_name: Option<String>,
    pub throughput_mps: Option<u32>,
    pub sync_failures: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    pub id: Option<String>,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    pub callback_url: Option<String>,
    pub webhook_version: Option<String>,
    /// Webhook fields the app subscribes to (default: all of them).
    pub fields: Option<Vec<String>>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("openwaba-data")
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            data_dir: default_data_dir(),
            admin_token: None,
            public_url: None,
            business: None,
            clock: default_clock(),
            clock_start: None,
            template_review_delay: DurationSetting::default(),
            webhook_retry_horizon: default_retry_horizon(),
            webhook_concurrency: default_webhook_concurrency(),
            webhook_timeout: default_webhook_timeout(),
            webhook_duplicates: false,
            http_threads: default_http_threads(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {name}: {what}")]
    Env { name: String, what: String },
}

impl Config {
    /// Reads `path` (if given), then applies the environment.
    pub fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                Config::from_toml(&text).map_err(|source| ConfigError::Parse {
                    path: p.display().to_string(),
                    source: Box::new(source),
                })?
            }
            None => Config::default(),
        };
        c.apply_env(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// `OPENWABA_LISTEN`, `OPENWABA_PORT`, `OPENWABA_DATA_DIR`, `OPENWABA_ADMIN_TOKEN`,
    /// `OPENWABA_ACCESS_TOKEN`, `OPENWABA_WABA_ID`, `OPENWABA_PHONE_NUMBER_ID`,
    /// `OPENWABA_PHONE_NUMBER`, `OPENWABA_TIMEZONE`, `OPENWABA_CONSENT`,
    /// `OPENWABA_THROUGHPUT_MPS`, `OPENWABA_APP_ID`, `OPENWABA_APP_SECRET`,
    /// `OPENWABA_VERIFY_TOKEN`, `OPENWABA_WEBHOOK_URL`, `OPENWABA_CLOCK`,
    /// `OPENWABA_CLOCK_START`, `OPENWABA_TEMPLATE_REVIEW_DELAY`,
    /// `OPENWABA_WEBHOOK_RETRY_HORIZON`, `OPENWABA_WEBHOOK_CONCURRENCY`,
    /// `OPENWABA_WEBHOOK_TIMEOUT`, `OPENWABA_WEBHOOK_DUPLICATES`, `OPENWABA_HTTP_THREADS`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let bad = |name: &str, what: String| ConfigError::Env {
            name: name.to_owned(),
            what,
        };
        if let Some(v) = get("OPENWABA_LISTEN") {
            self.listen = v.parse().map_err(|_| {
                bad(
                    "OPENWABA_LISTEN",
                    format!("`{v}` is not an address such as 127.0.0.1:4980"),
                )
            })?;
        }
        if let Some(v) = get("OPENWABA_PORT") {
            let port: u16 = v
                .parse()
                .map_err(|_| bad("OPENWABA_PORT", format!("`{v}` is not a port number")))?;
            self.listen.set_port(port);
        }
        if let Some(v) = get("OPENWABA_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("OPENWABA_ADMIN_TOKEN") {
            self.admin_token = Some(v);
        }
        if let Some(v) = get("OPENWABA_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = get("OPENWABA_CLOCK") {
            self.clock = v.parse().map_err(|e| bad("OPENWABA_CLOCK", e))?;
        }
        if let Some(v) = get("OPENWABA_CLOCK_START") {
            self.clock_start = Some(v.parse().map_err(|e| bad("OPENWABA_CLOCK_START", e))?);
        }
        if let Some(v) = get("OPENWABA_TEMPLATE_REVIEW_DELAY") {
            self.template_review_delay = v
                .parse()
                .map_err(|e| bad("OPENWABA_TEMPLATE_REVIEW_DELAY", e))?;
        }
        if let Some(v) = get("OPENWABA_WEBHOOK_DUPLICATES") {
            self.webhook_duplicates = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = get("OPENWABA_WEBHOOK_TIMEOUT") {
            self.webhook_timeout = v.parse().map_err(|e| bad("OPENWABA_WEBHOOK_TIMEOUT", e))?;
        }
        if let Some(v) = get("OPENWABA_WEBHOOK_CONCURRENCY") {
            self.webhook_concurrency = v.parse().map_err(|_| {
                bad(
                    "OPENWABA_WEBHOOK_CONCURRENCY",
                    format!("`{v}` is not a whole number"),
                )
            })?;
        }
        if let Some(v) = get("OPENWABA_HTTP_THREADS") {
            self.http_threads = v.parse().map_err(|e| bad("OPENWABA_HTTP_THREADS", e))?;
        }
        if let Some(v) = get("OPENWABA_WEBHOOK_RETRY_HORIZON") {
            self.webhook_retry_horizon = v
                .parse()
                .map_err(|e| bad("OPENWABA_WEBHOOK_RETRY_HORIZON", e))?;
        }
        let business = self.business.get_or_insert_with(BusinessConfig::default);
        if let Some(v) = get("OPENWABA_ACCESS_TOKEN") {
            if !business.access_tokens.contains(&v) {
                business.access_tokens.push(v);
            }
        }
        let touches_waba = [
            "OPENWABA_WABA_ID",
            "OPENWABA_PHONE_NUMBER_ID",
            "OPENWABA_PHONE_NUMBER",
            "OPENWABA_TIMEZONE",
            "OPENWABA_CONSENT",
            "OPENWABA_THROUGHPUT_MPS",
        ]
        .iter()
        .any(|k| get(k).is_some());
        if touches_waba {
            if business.wabas.is_empty() {
                business.wabas.push(WabaConfig::default());
            }
            let w = &mut business.wabas[0];
            if let Some(v) = get("OPENWABA_WABA_ID") {
                w.id = Some(v);
            }
            if let Some(v) = get("OPENWABA_TIMEZONE") {
                w.timezone = Some(v);
            }
            if let Some(v) = get("OPENWABA_CONSENT") {
                w.consent_mode = Some(v);
            }
            let touches_number = [
                "OPENWABA_PHONE_NUMBER_ID",
                "OPENWABA_PHONE_NUMBER",
                "OPENWABA_THROUGHPUT_MPS",
            ]
            .iter()
            .any(|k| get(k).is_some());
            if touches_number {
                if w.phone_numbers.is_empty() {
                    w.phone_numbers.push(PhoneNumberConfig {
                        number: "15550001111".into(),
                        ..PhoneNumberConfig::default()
                    });
                }
                let p = &mut w.phone_numbers[0];
                if let Some(v) = get("OPENWABA_PHONE_NUMBER_ID") {
                    p.id = Some(v);
                }
                if let Some(v) = get("OPENWABA_PHONE_NUMBER") {
                    p.number = v;
                }
                if let Some(v) = get("OPENWABA_THROUGHPUT_MPS") {
                    p.throughput_mps = Some(v.parse().map_err(|_| {
                        bad(
                            "OPENWABA_THROUGHPUT_MPS",
                            format!("`{v}` is not a whole number of messages per second"),
                        )
                    })?);
                }
            }
        }
        let touches_app = [
            "OPENWABA_APP_ID",
            "OPENWABA_APP_SECRET",
            "OPENWABA_VERIFY_TOKEN",
            "OPENWABA_WEBHOOK_URL",
        ]
        .iter()
        .any(|k| get(k).is_some());
        if touches_app {
            if business.apps.is_empty() {
                business.apps.push(AppConfig::default());
            }
            let a = &mut business.apps[0];
            if let Some(v) = get("OPENWABA_APP_ID") {
                a.id = Some(v);
            }
            if let Some(v) = get("OPENWABA_APP_SECRET") {
                a.app_secret = Some(v);
            }
            if let Some(v) = get("OPENWABA_VERIFY_TOKEN") {
                a.verify_token = Some(v);
            }
            if let Some(v) = get("OPENWABA_WEBHOOK_URL") {
                a.callback_url = Some(v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_then_env() {
        let mut c = Config::from_toml(
            r#"
listen = "127.0.0.1:0"
[business]
name = "Shop"
access_tokens = ["tok"]
[[business.wabas]]
id = "100"
timezone = "America/Sao_Paulo"
[[business.wabas.phone_numbers]]
id = "200"
number = "5511900000000"
throughput_mps = 1000
"#,
        )
        .unwrap();
        c.apply_env(|k| match k {
            "OPENWABA_CONSENT" => Some("warn".into()),
            "OPENWABA_ACCESS_TOKEN" => Some("tok2".into()),
            _ => None,
        })
        .unwrap();
        let b = c.business.unwrap();
        assert_eq!(b.access_tokens, ["tok", "tok2"]);
        assert_eq!(b.wabas[0].consent_mode.as_deref(), Some("warn"));
        assert_eq!(b.wabas[0].phone_numbers[0].throughput_mps, Some(1000));
    }

    #[test]
    fn unknown_keys_and_bad_env_are_refused() {
        assert!(Config::from_toml("lisen = \"x\"").is_err());
        let mut c = Config::default();
        let e = c
            .apply_env(|k| (k == "OPENWABA_PORT").then(|| "http".into()))
            .unwrap_err();
        assert!(e.to_string().contains("OPENWABA_PORT"));
        let e = c
            .apply_env(|k| (k == "OPENWABA_TEMPLATE_REVIEW_DELAY").then(|| "soon".into()))
            .unwrap_err();
        assert!(e.to_string().contains("OPENWABA_TEMPLATE_REVIEW_DELAY"));
        assert!(Config::from_toml("clock = \"sundial\"").is_err());
        assert!(Config::from_toml("clock_start = \"yesterday\"").is_err());
    }

    #[test]
    fn clock_and_durations() {
        let c = Config::from_toml(
            "clock = \"virtual\"\nclock_start = \"2023-06-05T00:00:00Z\"\ntemplate_review_delay = \"30s\"\nwebhook_retry_horizon = \"36h\"",
        )
        .unwrap();
        assert_eq!(c.clock, ClockMode::Virtual);
        assert_eq!(c.clock_start.unwrap().0.millis(), 1_685_923_200_000);
        assert_eq!(c.template_review_delay.millis(), 30_000);
        assert_eq!(c.webhook_retry_horizon.millis(), 36 * 3_600_000);
        assert_eq!(
            Config::default().webhook_retry_horizon.millis(),
            7 * 86_400_000
        );
        for (s, ms) in [
            ("0", 0),
            ("250ms", 250),
            ("5m", 300_000),
            ("7d", 604_800_000),
        ] {
            assert_eq!(s.parse::<DurationSetting>().unwrap().millis(), ms, "{s}");
        }
        for s in ["", "5", "1w", "-3s", "s"] {
            assert!(s.parse::<DurationSetting>().is_err(), "{s}");
        }
    }

    #[test]
    fn http_threads_are_at_least_one() {
        assert!(Config::default().http_threads.0.get() >= 1);
        assert_eq!(
            Config::from_toml("http_threads = 3")
                .unwrap()
                .http_threads
                .0
                .get(),
            3
        );
        let e = Config::from_toml("http_threads = 0").unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
        let mut c = Config::default();
        c.apply_env(|k| (k == "OPENWABA_HTTP_THREADS").then(|| "4".into()))
            .unwrap();
        assert_eq!(c.http_threads.0.get(), 4);
        for bad in ["0", "two", "-1", ""] {
            let e = c
                .apply_env(|k| (k == "OPENWABA_HTTP_THREADS").then(|| bad.into()))
                .unwrap_err();
            assert!(
                e.to_string().contains("OPENWABA_HTTP_THREADS"),
                "{bad}: {e}"
            );
        }
    }
}
