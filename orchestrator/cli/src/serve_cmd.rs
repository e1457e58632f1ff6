//! `borderlane serve`: live control of vehicles over MQTT with VDA 5050.

use std::path::PathBuf;
use std::process::ExitCode;

use borderlane_live::clock::Clock;
use borderlane_live::config::ServeConfig;
use borderlane_live::serve::Orchestrator;
use borderlane_live::signal::shutdown_signal;
use clap::Args;

/// The exit code for a failure of the machine (a port in use, say).
pub const EXIT_FAILED: u8 = 1;
/// The exit code for a configuration that is not valid.
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The orchestrator's configuration file (TOML), e.g. config/lane.toml.
    #[arg(long)]
    config: PathBuf,
    /// Record the orchestrator's every input and output to this MCAP file,
    /// for `borderlane replay`.
    #[arg(long, value_name = "FILE.mcap")]
    record: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    init_logging("info,rumqttd=off");
    let config = match ServeConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    runtime.block_on(async move {
        let started =
            Orchestrator::start_recording(&config, Clock::wall(), None, args.record.as_deref())
                .await;
        let orchestrator = match started {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {}: {e}", args.config.display());
                return ExitCode::from(if e.is_config() {
                    EXIT_INVALID
                } else {
                    EXIT_FAILED
                });
            }
        };
        println!(
            "borderlane serve: {} (side {}, {} vehicles)",
            config.name,
            config.side,
            config.fleet.len()
        );
        if let Some(url) = orchestrator.broker_url() {
            println!("broker:  {url}");
        }
        println!("metrics: {}", orchestrator.metrics_url());
        if let Some(url) = orchestrator.ioc_url() {
            println!("operation center: {url}");
        }
        if let Some(state) = &config.state {
            println!("state:   {}", state.database.display());
        }
        println!("Ctrl-C stops.");
        let failed = tokio::select! {
            _ = shutdown_signal() => None,
            why = orchestrator.failed() => Some(why),
        };
        orchestrator.shutdown().await;
        match failed {
            Some(why) => {
                eprintln!("error: {}: stopped: {why}", args.config.display());
                ExitCode::from(EXIT_FAILED)
            }
            None => ExitCode::SUCCESS,
        }
    })
}

/// Sends log lines to standard error, filtered by `RUST_LOG` or else by
/// `default_filter`.
pub fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
