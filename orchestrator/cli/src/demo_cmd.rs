//! `borderlane demo`: the embedded broker, one orchestrator for the whole
//! lane with its operation center, simulated VDA 5050 vehicles on MQTT and
//! a feeder of a scenario's containers, in one process, with a live status
//! line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use borderlane_ioc::Role;
use borderlane_live::demo::{Demo, DemoAccount, DemoLinkLoss, DemoOptions, parse_duration};
use borderlane_live::serve::Status;
use borderlane_live::signal::shutdown_signal;
use clap::Args;

/// The exit code for a failure of the machine (a port in use, say).
pub const EXIT_FAILED: u8 = 1;
/// The exit code for a bad scenario or option.
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many times faster than the wall clock the demo runs.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// How long to run, wall-clock time: 90, 90s, 15m or 2h. Without it
    /// the demo runs until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// The scenario whose fleet and containers to run.
    #[arg(long, default_value = "scenarios/baseline_2026.toml")]
    scenario: PathBuf,
    /// The seed of the scenario's draws, instead of its own.
    #[arg(long)]
    seed: Option<u64>,
    /// Where in the scenario's first day the demo begins: its containers
    /// from then on are fed, the first a few seconds after the start. The
    /// default, 8h, is the morning peak; 0 begins at midnight.
    #[arg(long, default_value = "8h", value_parser = parse_duration)]
    from: Duration,
    /// The embedded broker's port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where the metrics endpoint listens; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    metrics: String,
    /// Record the orchestrator's every input and output to this MCAP file,
    /// for `borderlane replay`.
    #[arg(long, value_name = "FILE.mcap")]
    record: Option<PathBuf>,
    /// The operation center's port on 127.0.0.1 (open the printed address
    /// in a browser); 0 picks a free one.
    #[arg(long, default_value_t = 8350)]
    ioc_port: u16,
    /// The operation center's operator account: signed in with it, one may
    /// pause and resume the lane or a vehicle, block places, cancel jobs.
    #[arg(long, value_name = "NAME:PASSWORD", default_value = DEFAULT_OPERATOR, value_parser = operator_account)]
    ioc_operator: DemoAccount,
    /// The operation center's viewer account: it sees everything and may
    /// not act. Anyone on this machine may look without signing in.
    #[arg(long, value_name = "NAME:PASSWORD", default_value = DEFAULT_VIEWER, value_parser = viewer_account)]
    ioc_viewer: DemoAccount,
    /// Make a vehicle lose its link to the broker for a while, as a network
    /// failure would (the broker publishes its last will): VEHICLE@AT:FOR,
    /// e.g. igv-003@4m:2m, 4 minutes after the start on the demo's clock,
    /// for 2 minutes. May be given more than once.
    #[arg(long, value_name = "VEHICLE@AT:FOR")]
    link_loss: Vec<DemoLinkLoss>,
    /// Run one orchestrator for the whole lane (its operation center shows
    /// every vehicle), instead of a VN and a CN orchestrator that hand
    /// vehicles over to each other at the border (the operation center
    /// shows the VN side).
    #[arg(long)]
    lane: bool,
}

/// The demo's operator account, unless `--ioc-operator` gives another.
const DEFAULT_OPERATOR: &str = "operator:operator";
/// The demo's viewer account, unless `--ioc-viewer` gives another.
const DEFAULT_VIEWER: &str = "viewer:viewer";

fn operator_account(text: &str) -> Result<DemoAccount, String> {
    DemoAccount::parse(text, Role::Operator)
}

fn viewer_account(text: &str) -> Result<DemoAccount, String> {
    DemoAccount::parse(text, Role::Viewer)
}

/// How to sign in with an account: its password is shown when it is the
/// default one.
fn sign_in(account: &DemoAccount, default: &str, flag: &str) -> String {
    let password = if format!("{}:{}", account.name, account.password) == default {
        format!("password {:?}", account.password)
    } else {
        format!("the password given with {flag}")
    };
    format!("{:?} ({password})", account.name)
}

pub fn run(args: DemoArgs) -> ExitCode {
    crate::serve_cmd::init_logging("warn,rumqttd=off");
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
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> ExitCode {
    let options = DemoOptions {
        scenario: args.scenario.clone(),
        speed: args.speed,
        seed: args.seed,
        broker_port: args.port,
        metrics_listen: args.metrics.clone(),
        record: args.record.clone(),
        ioc_port: args.ioc_port,
        accounts: vec![args.ioc_operator.clone(), args.ioc_viewer.clone()],
        link_losses: args.link_loss.clone(),
        two_sided: !args.lane,
        from_ms: u64::try_from(args.from.as_millis()).unwrap_or(u64::MAX),
    };
    let demo = match Demo::start(&options).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(if e.is_input() {
                EXIT_INVALID
            } else {
                EXIT_FAILED
            });
        }
    };
    let from_s = args.from.as_secs();
    println!(
        "borderlane demo: {} from {:02}:{:02} ({} vehicles, {} containers, speed x{})",
        args.scenario.display(),
        from_s / 3_600,
        from_s / 60 % 60,
        demo.vehicles(),
        demo.jobs().0,
        demo.clock().speed()
    );
    println!("broker:  {}", demo.broker_url());
    let metrics: Vec<String> = demo
        .metrics_urls()
        .iter()
        .map(|(name, url)| format!("{url} ({name})"))
        .collect();
    println!("metrics: {}", metrics.join(", "));
    println!("operation center: {}", demo.ioc_url());
    println!(
        "  sign in as operator {} to act, or as viewer {} to look",
        sign_in(&args.ioc_operator, DEFAULT_OPERATOR, "--ioc-operator"),
        sign_in(&args.ioc_viewer, DEFAULT_VIEWER, "--ioc-viewer"),
    );
    for l in &args.link_loss {
        println!("link loss: {l}");
    }
    match args.duration {
        Some(d) => println!("Running for {} s; Ctrl-C stops earlier.", d.as_secs_f64()),
        None => println!("Ctrl-C stops."),
    }
    let started = Instant::now();
    let tty = std::io::stdout().is_terminal();
    let every = if tty {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    };
    let mut ticker = tokio::time::interval(every);
    let until = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(until);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = &mut until => break,
            _ = ticker.tick() => {
                let line = status_line(&demo, started.elapsed());
                let mut out = std::io::stdout().lock();
                let _ = if tty {
                    write!(out, "\r{line}\x1b[K")
                } else {
                    writeln!(out, "{line}")
                };
                let _ = out.flush();
            }
        }
    }
    let line = status_line(&demo, started.elapsed());
    if tty {
        println!("\r{line}\x1b[K");
    } else {
        println!("{line}");
    }
    println!("Stopping.");
    demo.shutdown().await;
    ExitCode::SUCCESS
}

fn status_line(demo: &Demo, elapsed: Duration) -> String {
    let all = demo.statuses();
    let sum = |f: fn(&Status) -> u64| all.iter().map(|(_, s)| f(s)).sum::<u64>();
    let (total, fed) = demo.jobs();
    let secs = elapsed.as_secs();
    let vehicles: Vec<String> = all
        .iter()
        .map(|(name, s)| format!("{name} {}/{} driving", s.driving, s.vehicles))
        .collect();
    let delivered = if all.len() > 1 {
        let each: Vec<String> = all
            .iter()
            .map(|(name, s)| format!("{} in {name}", s.jobs_done))
            .collect();
        format!(" ({})", each.join(", "))
    } else {
        String::new()
    };
    format!(
        "{:02}:{:02}:{:02} | jobs {fed}/{total} fed, {} queued, {} active, {} done{delivered} | vehicles {}, {} link lost | messages {} in, {} out | rejected {}{}",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60,
        sum(|s| s.jobs_queued as u64),
        sum(|s| s.jobs_active as u64),
        sum(|s| s.jobs_done),
        vehicles.join(", "),
        sum(|s| s.link_lost as u64),
        sum(|s| s.messages_in),
        sum(|s| s.messages_out),
        sum(|s| s.rejected),
        if all.iter().all(|(_, s)| s.connected) {
            ""
        } else {
            " | MQTT down"
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_default_passwords_are_shown() {
        let operator = operator_account(DEFAULT_OPERATOR).expect("valid");
        assert_eq!(
            sign_in(&operator, DEFAULT_OPERATOR, "--ioc-operator"),
            "\"operator\" (password \"operator\")"
        );
        let own = operator_account("olga:s3cret").expect("valid");
        let shown = sign_in(&own, DEFAULT_OPERATOR, "--ioc-operator");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("\"olga\"") && shown.contains("--ioc-operator"),
            "{shown}"
        );
        assert_eq!(
            viewer_account(DEFAULT_VIEWER).map(|a| a.role),
            Ok(Role::Viewer)
        );
    }
}
