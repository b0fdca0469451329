//! Server configuration: a TOML file, then `OPENWABA_…` environment variables over it, then
//! defaults. Fixed values (ids, tokens, secrets) make tests and CI reproducible; what is not
//! fixed is generated on first start and kept in the data directory.

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
    /// `OPENWABA_VERIFY_TOKEN`, `OPENWABA_WEBHOOK_URL`.
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
    }
}
