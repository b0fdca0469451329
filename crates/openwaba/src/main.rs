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
    /// Replay an event log: what the platform would have accepted and charged.
    Replay(ReplayArgs),
    /// Write a large, realistic event log (JSON Lines) for benchmarks.
    GenLog(GenArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(a) => run_replay(a),
        Command::GenLog(a) => run_gen(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Usage(msg)) => {
            let _ = writeln!(io::stderr(), "openwaba: {msg}");
            ExitCode::from(2)
        }
    }
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
            RateBook::Single(card)
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
