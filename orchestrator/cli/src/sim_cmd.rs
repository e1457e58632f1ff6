//! `borderlane sim`: runs scenarios in the simulator.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use borderlane_sim::run::{Outcome, Progress, Report, Series, run_with};
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
    /// Runs a scenario over many seeds (and, optionally, several fleet
    /// sizes) on every core of the machine, and prints a table of means
    /// with 95 % confidence intervals: the tool for sizing the fleet.
    Sweep(SweepArgs),
    /// Runs a scenario for a number of days (7 by default) a few times and
    /// prints how many times faster than real time the simulation runs.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Days of demand to simulate in each run.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    days: u32,
    /// How many times to run it; the best, median and worst are shown.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// The seed, instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// How many seeds to run for each fleet size.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    seeds: u64,
    /// The first seed; the sweep runs this one and the next ones.
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Fleet sizes to compare, comma-separated, instead of the scenario's.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=500))]
    vehicles: Vec<u64>,
    /// The number of days, instead of the scenario's.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    days: Option<u32>,
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
    /// A folder to write report.json, the charts (SVG), index.html (and
    /// events.jsonl) into.
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
        SimAction::Sweep(args) => sweep(&args),
        SimAction::Bench(args) => bench(&args),
    }
}

fn run_scenario(args: &RunArgs) -> ExitCode {
    let shown = args.scenario.display();
    let scenario = match load(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
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
        series,
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
        if let Err(e) = write_out(dir, &report, &series, lines) {
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

/// Reads a scenario, printing why it cannot be used: the exit code is 1 for
/// a file that cannot be read and 2 for one that is not a valid scenario.
fn load(path: &Path) -> Result<Scenario, ExitCode> {
    Scenario::load(path).map_err(|e| match e {
        ScenarioError::Unreadable(_) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_IO)
        }
        e => {
            eprintln!("{}: {e}", path.display());
            ExitCode::from(EXIT_INVALID)
        }
    })
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
    series: &Series,
    events: Option<&[borderlane_sim::LogLine]>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).context("cannot create the folder")?;
    let path = dir.join("report.json");
    let mut json = serde_json::to_string_pretty(report)?;
    json.push('\n');
    std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
    let charts = borderlane_sim::charts::charts(report, series)
        .map_err(|e| anyhow::anyhow!("cannot draw the charts: {e}"))?;
    for (name, svg) in &charts {
        let path = dir.join(name);
        std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let path = dir.join("index.html");
    std::fs::write(&path, borderlane_sim::charts::index_html(report, &charts))
        .with_context(|| format!("cannot write {}", path.display()))?;
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

fn sweep(args: &SweepArgs) -> ExitCode {
    let shown = args.scenario.display();
    let scenario = match load(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let days = args.days.unwrap_or(scenario.days);
    let fleets: Vec<usize> = if args.vehicles.is_empty() {
        vec![scenario.fleet.vehicles]
    } else {
        args.vehicles.iter().map(|&v| v as usize).collect()
    };
    // Every (fleet, seed) run is independent; threads take them in turn and
    // the results go back into their slot, so the table does not depend on
    // which thread ran what.
    let runs: Vec<(usize, u64)> = fleets
        .iter()
        .flat_map(|&f| (0..args.seeds).map(move |i| (f, args.first_seed + i)))
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(runs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Report, String>>>> =
        runs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(fleet, seed)) = runs.get(i) else {
                        break;
                    };
                    let mut s = scenario.clone();
                    s.fleet.vehicles = fleet;
                    let r = borderlane_sim::run::run_scenario(&s, seed, days)
                        .map_err(|e| e.to_string());
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let mut reports: Vec<Report> = Vec::with_capacity(runs.len());
    for slot in results {
        match slot.into_inner().ok().flatten() {
            Some(Ok(r)) => reports.push(r),
            Some(Err(e)) => {
                eprintln!("{shown}: {e}");
                return ExitCode::from(EXIT_INVALID);
            }
            None => {
                eprintln!("{shown}: a run did not finish");
                return ExitCode::from(EXIT_IO);
            }
        }
    }
    print!("{}", sweep_table(&scenario.name, days, &fleets, &reports));
    println!("{} runs on {threads} threads in {wall:.1} s", reports.len());
    if reports.iter().any(Report::unsafe_run) {
        eprintln!("{shown}: a safety invariant broke in at least one run");
        return ExitCode::from(EXIT_UNSAFE);
    }
    ExitCode::SUCCESS
}

/// The sweep's table: one row per fleet size, means over seeds with 95 %
/// intervals.
fn sweep_table(name: &str, days: u32, fleets: &[usize], reports: &[Report]) -> String {
    use borderlane_sim::sweep::MeanCi;
    let mut out = format!(
        "sweep of {name}, {days} day(s), 95 % confidence intervals over seeds\n\
         {:>8}  {:>5}  {:>18}  {:>18}  {:>18}  {:>9}  {:>10}\n",
        "vehicles",
        "runs",
        "delivered/day",
        "job time p50 min",
        "job time p95 min",
        "conflicts",
        "unfinished"
    );
    for &fleet in fleets {
        let rows: Vec<&Report> = reports.iter().filter(|r| r.vehicles == fleet).collect();
        let of =
            |f: &dyn Fn(&Report) -> f64| MeanCi::of(&rows.iter().map(|r| f(r)).collect::<Vec<_>>());
        let delivered = of(&|r| r.containers_delivered.total as f64 / f64::from(days));
        // The job time (queued to delivered) is what the fleet size
        // changes: a container waits for a vehicle; the drive gate to gate
        // takes the same time with any fleet.
        let p50 = of(&|r| r.job_time_s.p50 / 60.0);
        let p95 = of(&|r| r.job_time_s.p95 / 60.0);
        let conflicts: usize = rows.iter().map(|r| r.conflicts).sum();
        let unfinished: usize = rows.iter().map(|r| r.jobs_unfinished).sum();
        out += &format!(
            "{fleet:>8}  {:>5}  {:>18}  {:>18}  {:>18}  {conflicts:>9}  {unfinished:>10}\n",
            rows.len(),
            format!("{delivered:.1}"),
            format!("{p50:.1}"),
            format!("{p95:.1}"),
        );
    }
    out
}

/// Runs a scenario several times and prints the speed against real time.
fn bench(args: &BenchArgs) -> ExitCode {
    let shown = args.scenario.display();
    let scenario = match load(&args.scenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let mut walls = Vec::new();
    let mut last: Option<Report> = None;
    for run in 1..=args.runs {
        let started = Instant::now();
        let report = match borderlane_sim::run::run_scenario(&scenario, seed, args.days) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{shown}: {e}");
                return ExitCode::from(EXIT_INVALID);
            }
        };
        let wall = started.elapsed().as_secs_f64();
        println!(
            "run {run}: {:.1} simulated h in {wall:.2} s, {:.0}x real time, {} containers delivered",
            report.sim_seconds / 3_600.0,
            report.sim_seconds / wall,
            report.containers_delivered.total
        );
        walls.push(wall);
        last = Some(report);
    }
    let Some(report) = last else {
        return ExitCode::SUCCESS;
    };
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    let speed = |w: f64| report.sim_seconds / w;
    println!(
        "{} ({} days, seed {seed}): wall time best {:.2} s, median {median:.2} s, worst {:.2} s; \
         {:.0}x / {:.0}x / {:.0}x faster than real time",
        report.scenario,
        args.days,
        walls[0],
        walls[walls.len() - 1],
        speed(walls[0]),
        speed(median),
        speed(walls[walls.len() - 1]),
    );
    if report.unsafe_run() {
        eprintln!("{shown}: a safety invariant broke");
        return ExitCode::from(EXIT_UNSAFE);
    }
    ExitCode::SUCCESS
}
