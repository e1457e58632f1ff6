//! `borderlane demo`: the embedded broker, one orchestrator for the whole
//! lane, simulated VDA 5050 vehicles on MQTT and a feeder of a scenario's
//! containers, in one process, with a live status line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use borderlane_live::demo::{Demo, DemoOptions};
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
}

/// Reads `90`, `90s`, `15m` or `2h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 15m or 2h"))?;
    let secs = match unit {
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3_600.0,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is too long"))
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
    println!(
        "borderlane demo: {} ({} vehicles, {} containers, speed x{})",
        args.scenario.display(),
        demo.vehicles(),
        demo.jobs().0,
        demo.clock().speed()
    );
    println!("broker:  {}", demo.broker_url());
    println!("metrics: {}", demo.metrics_url());
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
    let s = demo.status().borrow().clone();
    let (total, fed) = demo.jobs();
    let secs = elapsed.as_secs();
    format!(
        "{:02}:{:02}:{:02} | jobs {fed}/{total} fed, {} queued, {} active, {} done | vehicles {}/{} driving, {} link lost | messages {} in, {} out | rejected {}{}",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60,
        s.jobs_queued,
        s.jobs_active,
        s.jobs_done,
        s.driving,
        s.vehicles,
        s.link_lost,
        s.messages_in,
        s.messages_out,
        s.rejected,
        if s.connected { "" } else { " | MQTT down" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-3s").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }
}
