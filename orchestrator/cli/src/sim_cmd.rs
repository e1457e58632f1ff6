//! `borderlane sim`: runs scenarios in the simulator.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use borderlane_sim::run::{Outcome, Progress, Report, run_with};
use borderlane_sim::scenario::{Scenario, ScenarioError};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// The exit code for a file that cannot be read or written.
pub const EXIT_IO: u8 = 1;
/// The exit code for a scenario that is not valid.
pub const EXIT_INVALID: u8 = 2;
/// The exit code for a run in which a safety invariant broke.
pub const EXIT_UNSAFE: u8 = 3;

#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(subcommand)]
    action: SimAction,
}

#[derive(Debug, Subcommand)]
enum SimAction {
    /// Runs a scenario for its days of demand, then up to 6 hours more
    /// without new containers, and prints a summary. Exits with 3 if a
    /// safety invariant broke, 2 if the scenario is not valid.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// The seed of the random draws, instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// The number of days, instead of the scenario's.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    days: Option<u32>,
    /// A folder to write report.json (and events.jsonl) into.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write every input and output of the core to events.jsonl in
    /// the --out folder.
    #[arg(long, requires = "out")]
    events: bool,
}

pub fn run(args: SimArgs) -> ExitCode {
    match args.action {
        SimAction::Run(args) => run_scenario(&args),
    }
}

fn run_scenario(args: &RunArgs) -> ExitCode {
    let shown = args.scenario.display();
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e @ ScenarioError::Unreadable(_)) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_IO);
        }
        Err(e) => {
            eprintln!("{shown}: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let days = args.days.unwrap_or(scenario.days);

    let bar = progress_bar(days);
    let started = Instant::now();
    let outcome = run_with(&scenario, seed, days, &mut |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.now_ms.min(p.end_ms) / 60_000);
            bar.set_message(format!("{} delivered", p.delivered));
        }
    });
    let wall = started.elapsed().as_secs_f64();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let Outcome {
        mut report,
        harness,
    } = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{shown}: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    report.wall_seconds = wall;

    // A closed stdout (for example a pipe into `head`) does not fail the run.
    let _ = write!(std::io::stdout(), "{}", report.summary());
    if let Some(dir) = &args.out {
        let lines = args.events.then(|| harness.log());
        if let Err(e) = write_out(dir, &report, lines) {
            eprintln!("{}: {e:#}", dir.display());
            return ExitCode::from(EXIT_IO);
        }
    }
    if report.unsafe_run() {
        eprintln!(
            "{shown}: a safety invariant broke: {} conflicts, {} containers lost",
            report.conflicts, report.jobs_lost
        );
        return ExitCode::from(EXIT_UNSAFE);
    }
    ExitCode::SUCCESS
}

/// A bar over the simulated minutes of the demand days, on a terminal only.
fn progress_bar(days: u32) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(u64::from(days) * 24 * 60);
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} simulated min, {msg}",
    )
    .map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    Some(bar)
}

fn write_out(
    dir: &Path,
    report: &Report,
    events: Option<&[borderlane_sim::LogLine]>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).context("cannot create the folder")?;
    let path = dir.join("report.json");
    let mut json = serde_json::to_string_pretty(report)?;
    json.push('\n');
    std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(lines) = events {
        let path = dir.join("events.jsonl");
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut w = BufWriter::new(file);
        for line in lines {
            serde_json::to_writer(&mut w, line)?;
            w.write_all(b"\n")?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
