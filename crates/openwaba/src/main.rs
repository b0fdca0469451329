//! The `openwaba` command.

use clap::{Parser, Subcommand, ValueEnum};
use openwaba_engine::{
    ConsentMode, EngineConfig, MarketTable, MissingRates, Policy, PricingVersion, RateBook,
    RateCard, TimeZoneId,
};
use openwaba_replay::{gen, report, Format, ReplayError};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod remote;

#[derive(Parser)]
#[command(
    name = "openwaba",
    version,
    about = "A self-hosted implementation of the WhatsApp Business Platform's business-messaging model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Cloud-API-compatible server (embedded SQLite in the data directory).
    Serve(ServeArgs),
    /// Replay an event log: what the platform would have accepted and charged.
    Replay(ReplayArgs),
    /// Write a large, realistic event log (JSON Lines) for benchmarks.
    GenLog(GenArgs),
    /// Play the customer on a running server: send, tap, stop marketing, receipts.
    Sim {
        #[command(flatten)]
        remote: remote::Remote,
        #[command(subcommand)]
        command: remote::SimCommand,
    },
    /// Show or move a running server's virtual clock.
    Clock {
        #[command(flatten)]
        remote: remote::Remote,
        #[command(subcommand)]
        command: remote::ClockCommand,
    },
    /// A WABA's monthly statement from a running server's ledger.
    Invoice {
        #[command(flatten)]
        remote: remote::Remote,
        /// The WABA id.
        #[arg(long)]
        waba: String,
        /// The month, YYYY-MM (in the WABA's time zone).
        #[arg(long)]
        month: String,
        #[arg(long, value_enum, default_value = "table")]
        format: FormatArg,
    },
    /// Show, set or remove a WABA's monthly budget on a running server.
    Budget {
        #[command(flatten)]
        remote: remote::Remote,
        #[arg(long)]
        waba: String,
        #[command(subcommand)]
        command: remote::BudgetCommand,
    },
    /// What a send would do and cost now on a running server (writes nothing).
    Quote {
        #[command(flatten)]
        remote: remote::Remote,
        /// The business phone number id.
        #[arg(long)]
        phone: String,
        /// The user's number.
        #[arg(long)]
        to: String,
        /// A template by name.
        #[arg(long)]
        template: Option<String>,
        #[arg(long, default_value = "en_US")]
        language: String,
        /// A text message.
        #[arg(long)]
        text: Option<String>,
        /// Any Cloud API message body (JSON).
        #[arg(long)]
        json: Option<String>,
    },
    /// List or load a WABA's rate cards on a running server.
    Rates {
        #[command(flatten)]
        remote: remote::Remote,
        #[arg(long)]
        waba: String,
        #[command(subcommand)]
        command: remote::RatesCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Json,
    Csv,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The log (JSON Lines), or - for standard input.
    file: PathBuf,
    /// Report format: table (for people), json (the contract), csv (one row per message).
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
    /// A rate card in Meta's CSV layout, used for every priced event
    /// (default: the built-in card of the version in force).
    #[arg(long, value_name = "FILE")]
    rates: Option<PathBuf>,
    /// Volume tiers for the card (`Market,Category,Volume-From,Rate`), per-message pricing.
    #[arg(long, value_name = "FILE", requires = "rates")]
    tiers: Option<PathBuf>,
    /// auto, or one of v0, v1, v1.1, v2, v2.2, v3 for every event.
    #[arg(long, default_value = "auto")]
    policy: String,
    /// The WABA's IANA time zone: month and policy boundaries.
    #[arg(long, default_value = "UTC", value_name = "TZ")]
    timezone: String,
    /// Opt-in enforcement: enforce, warn or off.
    #[arg(long, default_value = "enforce")]
    consent: String,
    /// Run the log under each policy version and show the costs side by side.
    #[arg(long)]
    compare: bool,
    /// Price events whose market has no rate as null instead of stopping.
    #[arg(long)]
    allow_missing_rates: bool,
    /// The business is eligible for authentication-international rates (v1.1+).
    #[arg(long)]
    authentication_international: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// A TOML configuration file (see README); `OPENWABA_…` variables override it.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:4980).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Data directory (default ./openwaba-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
    /// `real`, or `virtual`: a clock that starts at --clock-start and can be moved forward
    /// through POST /_admin/clock.
    #[arg(long, value_name = "real|virtual")]
    clock: Option<openwaba_server::clock::ClockMode>,
    /// Where a virtual clock starts on a new data directory (RFC 3339, e.g.
    /// 2023-06-05T09:00:00Z).
    #[arg(long, value_name = "INSTANT")]
    clock_start: Option<openwaba_server::config::StartInstant>,
}

#[derive(clap::Args)]
struct GenArgs {
    /// Number of events.
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Number of distinct users.
    #[arg(long, default_value_t = 1_000)]
    users: u64,
    /// Seed: the same seed writes the same log.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First instant (RFC 3339).
    #[arg(long, default_value = "2025-05-01T00:00:00Z")]
    start: String,
    /// Days the log spans.
    #[arg(long, default_value_t = 92)]
    days: u64,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// An error of the command line: says what is wrong, exits 2.
struct Usage(String);

impl From<io::Error> for Usage {
    fn from(e: io::Error) -> Self {
        Usage(e.to_string())
    }
}

/// Measured (BENCHMARKS.md): under load glibc's malloc and free were ~15% of the server's
/// CPU; mimalloc's per-thread free lists cut that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => run_serve(a),
        Command::Replay(a) => run_replay(a),
        Command::GenLog(a) => run_gen(a),
        Command::Sim { remote, command } => print_remote(remote::sim(&remote, command)),
        Command::Clock { remote, command } => print_remote(remote::clock(&remote, command)),
        Command::Invoice {
            remote,
            waba,
            month,
            format,
        } => remote::invoice(&remote, &waba, &month)
            .map_err(Usage)
            .map(|v| {
                let text = match format {
                    FormatArg::Json => format!("{v:#}\n"),
                    FormatArg::Csv => openwaba_server::costs::invoice_csv(&v),
                    FormatArg::Table => remote::invoice_table(&v),
                };
                let _ = io::stdout().write_all(text.as_bytes());
            }),
        Command::Budget {
            remote,
            waba,
            command,
        } => print_remote(remote::budget(&remote, &waba, command)),
        Command::Rates {
            remote,
            waba,
            command,
        } => print_remote(remote::rates(&remote, &waba, command)),
        Command::Quote {
            remote,
            phone,
            to,
            template,
            language,
            text,
            json,
        } => print_remote(remote::quote(
            &remote, &phone, &to, template, &language, text, json,
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Usage(msg)) => {
            let _ = writeln!(io::stderr(), "openwaba: {msg}");
            ExitCode::from(2)
        }
    }
}

fn print_remote(r: Result<serde_json::Value, String>) -> Result<(), Usage> {
    let v = r.map_err(Usage)?;
    let _ = writeln!(io::stdout(), "{v}");
    Ok(())
}

fn read_file(path: &PathBuf, what: &str) -> Result<String, Usage> {
    std::fs::read_to_string(path)
        .map_err(|e| Usage(format!("cannot read {what} {}: {e}", path.display())))
}

fn engine_config(a: &ReplayArgs) -> Result<EngineConfig, Usage> {
    let markets = MarketTable::builtin();
    let rates = match &a.rates {
        None => RateBook::builtin(&markets).map_err(|e| Usage(e.to_string()))?,
        Some(p) => {
            let name = p.display().to_string();
            let mut card = RateCard::from_csv(&name, &read_file(p, "rate card")?, &markets)
                .map_err(|e| Usage(e.to_string()))?;
            if let Some(t) = &a.tiers {
                card = card
                    .with_tiers_csv(
                        &t.display().to_string(),
                        &read_file(t, "volume tiers")?,
                        &markets,
                    )
                    .map_err(|e| Usage(e.to_string()))?;
            }
            RateBook::single(card)
        }
    };
    let policy = if a.policy.eq_ignore_ascii_case("auto") {
        Policy::Auto
    } else {
        Policy::Fixed(
            a.policy
                .parse::<PricingVersion>()
                .map_err(|e| Usage(format!("--policy: {e}")))?,
        )
    };
    Ok(EngineConfig {
        zone: TimeZoneId::parse(&a.timezone).map_err(|e| Usage(format!("--timezone: {e}")))?,
        policy,
        consent: a
            .consent
            .parse::<ConsentMode>()
            .map_err(|e| Usage(format!("--consent: {e}")))?,
        markets,
        rates,
        missing_rates: if a.allow_missing_rates {
            MissingRates::Allow
        } else {
            MissingRates::Fail
        },
        authentication_international: a.authentication_international,
        conversation_seed: 1,
    })
}

/// The log, with a progress bar on a terminal (nothing when stderr is piped).
fn open_input(path: &PathBuf) -> Result<(Box<dyn Read>, Option<indicatif::ProgressBar>), Usage> {
    let (reader, len): (Box<dyn Read>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let f =
            File::open(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    if !io::stderr().is_terminal() {
        return Ok((reader, None));
    }
    let bar = match len {
        Some(n) => {
            let b = indicatif::ProgressBar::new(n);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} replay {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b
        }
        None => indicatif::ProgressBar::new_spinner(),
    };
    let wrapped = bar.wrap_read(reader);
    Ok((Box::new(wrapped), Some(bar)))
}

fn replay_error(e: ReplayError) -> Usage {
    Usage(e.to_string())
}

fn run_replay(a: ReplayArgs) -> Result<(), Usage> {
    let config = engine_config(&a)?;
    let (input, bar) = open_input(&a.file)?;
    let stdout = io::stdout().lock();
    let result = if a.compare {
        openwaba_replay::compare(input, config).map(|(runs, engine)| {
            let mut out = stdout;
            let text = match a.format {
                FormatArg::Json => {
                    let mut b = Vec::from(&b"{\"compare\":{"[..]);
                    for (i, (v, s)) in runs.iter().enumerate() {
                        if i > 0 {
                            b.push(b',');
                        }
                        b.extend_from_slice(format!("\"{v}\":").as_bytes());
                        report::totals_json(&mut b, s, engine.markets());
                    }
                    b.extend_from_slice(b"}}\n");
                    String::from_utf8_lossy(&b).into_owned()
                }
                _ => report::render_compare(&runs, engine.markets()),
            };
            out.write_all(text.as_bytes())
        })
    } else {
        let format = match a.format {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Csv => Format::Csv,
        };
        openwaba_replay::replay(input, config, format, stdout).map(|_| Ok(()))
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Ok(Err(e)) => Err(Usage(e.to_string())),
        Err(ReplayError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(replay_error(e)),
    }
}

fn run_gen(a: GenArgs) -> Result<(), Usage> {
    let start = openwaba_engine::Instant::parse_rfc3339(&a.start)
        .map_err(|e| Usage(format!("--start: {e}")))?;
    let opts = gen::GenOptions {
        events: a.events,
        users: a.users,
        seed: a.seed,
        start: start.unix_seconds(),
        days: a.days,
        ..gen::GenOptions::default()
    };
    match &a.output {
        Some(p) => {
            let f =
                File::create(p).map_err(|e| Usage(format!("cannot write {}: {e}", p.display())))?;
            gen::generate(&opts, f)?;
        }
        None => match gen::generate(&opts, io::stdout().lock()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            r => r?,
        },
    }
    Ok(())
}

fn run_serve(a: ServeArgs) -> Result<(), Usage> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENWABA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match a.log_format.as_str() {
        "json" => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
        "text" => tracing_subscriber::fmt().with_env_filter(filter).init(),
        other => {
            return Err(Usage(format!(
                "--log-format: `{other}` is not text or json"
            )))
        }
    }
    let mut config = openwaba_server::config::Config::load(a.config.as_deref())
        .map_err(|e| Usage(e.to_string()))?;
    if let Some(l) = a.listen {
        config.listen = l;
    }
    if let Some(d) = a.data_dir {
        config.data_dir = d;
    }
    if let Some(c) = a.clock {
        config.clock = c;
    }
    if let Some(t) = a.clock_start {
        config.clock_start = Some(t);
        if a.clock.is_none() {
            config.clock = openwaba_server::clock::ClockMode::Virtual;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Usage(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let running = openwaba_server::app::start(&config).await.map_err(|e| Usage(e.to_string()))?;
        let base = format!("http://{}", running.addr);
        tracing::info!(address = %running.addr, data_dir = %config.data_dir.display(), "openwaba is listening");
        if let Some(c) = &running.credentials {
            let _ = writeln!(
                io::stdout(),
                "openwaba: first start, created in {dir}:\n  business        {b}\n  WABA            {w}\n  phone number    +{n} (id {p})\n  app             {app} (secret {sec}, webhook verify token {vt})\n  access token    {t}\n  admin token     {adm}\n\nTry it (opt the user in, then send a text inside a service window or a template):\n  curl -s {base}/v23.0/{p}/messages \\\n    -H 'Authorization: Bearer {t}' -H 'Content-Type: application/json' \\\n    -d '{{\"messaging_product\":\"whatsapp\",\"to\":\"5511987650001\",\"type\":\"text\",\"text\":{{\"body\":\"hello\"}}}}'\n",
                dir = config.data_dir.display(),
                b = c.business_id,
                w = c.waba_id,
                n = c.phone_number,
                p = c.phone_number_id,
                app = c.app_id,
                sec = c.app_secret,
                vt = c.verify_token,
                t = c.access_token,
                adm = c.admin_token,
            );
        }
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        running.stop().await;
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
