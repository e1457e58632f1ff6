//! `borderlane replay`: feed a recording to a fresh orchestrator and compare,
//! or, with `--as-sim`, turn it into a simulator scenario.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use borderlane_record::as_sim::{find_map, map_reference};
use borderlane_record::{Recording, ReplayOptions, SimOptions, read_file, replay, to_scenario};
use clap::Args;

/// The exit code for a recording that cannot be read or replayed.
pub const EXIT_UNREADABLE: u8 = 2;
/// The exit code of `--check` when an output differs.
pub const EXIT_DIFFERENT: u8 = 1;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The MCAP recording, made with `serve --record` or `demo --record`.
    file: PathBuf,
    /// Exit non-zero at the first output that differs, printing it.
    #[arg(long)]
    check: bool,
    /// Replay only the inputs up to this many seconds after the start.
    #[arg(long, value_name = "SECONDS")]
    until: Option<f64>,
    /// Compare only the outputs about this vehicle (its serial number).
    #[arg(long, value_name = "ID")]
    vehicle: Option<String>,
    /// Write the recording's inputs as a scenario for `borderlane sim run`
    /// instead of replaying it: its jobs, operator commands, fleet and link
    /// losses.
    #[arg(long, conflicts_with_all = ["check", "vehicle"])]
    as_sim: bool,
    /// With --as-sim: the scenario file to write; without it the scenario
    /// is printed.
    #[arg(long, value_name = "SCENARIO.toml", requires = "as_sim")]
    out: Option<PathBuf>,
    /// With --as-sim: the map the scenario names. By default the recorded
    /// map is looked for in a `maps` folder of the folders that hold the
    /// scenario, the recording or the current folder, and else written
    /// beside the scenario.
    #[arg(long, value_name = "FILE", requires = "as_sim")]
    map: Option<PathBuf>,
}

pub fn run(args: ReplayArgs) -> ExitCode {
    let recording = match read_file(&args.file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    if recording.truncated {
        eprintln!(
            "note: {} ends before its summary (the recorder did not finish); replaying its {} complete entries",
            args.file.display(),
            recording.entries.len()
        );
    }
    let until = match args.until {
        Some(s) if s.is_finite() && s >= 0.0 => Some((s * 1000.0) as u64),
        Some(s) => {
            eprintln!("error: --until must be a number of seconds, at least 0 (got {s})");
            return ExitCode::from(EXIT_UNREADABLE);
        }
        None => None,
    };
    if args.as_sim {
        return as_sim(&args, &recording, until);
    }
    let options = ReplayOptions {
        check: args.check,
        until,
        vehicle: args.vehicle,
    };
    let outcome = match replay(&recording, &options) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let span_s = outcome.reached.saturating_sub(recording.start) as f64 / 1000.0;
    println!(
        "replayed {} inputs over {span_s:.1} s of recorded time; compared {} outputs; {} differ",
        outcome.inputs,
        outcome.outputs,
        outcome.differences.len()
    );
    if args.check {
        if let Some(first) = outcome.differences.first() {
            print!("{first}");
            return ExitCode::from(EXIT_DIFFERENT);
        }
    } else {
        for d in outcome.differences.iter().take(5) {
            print!("{d}");
        }
        if outcome.differences.len() > 5 {
            println!("... and {} more", outcome.differences.len() - 5);
        }
    }
    ExitCode::SUCCESS
}

/// The map a converted scenario names.
enum ScenarioMap {
    /// A map file that exists.
    Existing(PathBuf),
    /// The recorded map, to be written here.
    Recorded(PathBuf),
}

fn as_sim(args: &ReplayArgs, recording: &Recording, until: Option<u64>) -> ExitCode {
    let fail = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_UNREADABLE)
    };
    let chosen = match choose_map(args, recording) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let (ScenarioMap::Existing(map_file) | ScenarioMap::Recorded(map_file)) = &chosen;
    let map = match &args.out {
        Some(out) => map_reference(map_file, &folder_of(out)),
        None => std::path::absolute(map_file).unwrap_or_else(|_| map_file.clone()),
    };
    let name = args
        .file
        .file_stem()
        .map_or("recording".into(), |s| s.to_string_lossy().into_owned());
    let options = SimOptions { name, map, until };
    let conversion = match to_scenario(recording, &options) {
        Ok(c) => c,
        Err(e) => return fail(format!("{}: {e}", args.file.display())),
    };
    let text = match conversion.to_toml() {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    for note in &conversion.notes {
        eprintln!("note: {note}");
    }
    let Some(out) = &args.out else {
        print!("{text}");
        return ExitCode::SUCCESS;
    };
    if let Err(e) = std::fs::create_dir_all(folder_of(out)) {
        return fail(format!(
            "cannot create the folder of {}: {e}",
            out.display()
        ));
    }
    if let ScenarioMap::Recorded(path) = &chosen {
        if let Err(e) = std::fs::write(path, &recording.session.map_geojson) {
            return fail(format!("cannot write the map {}: {e}", path.display()));
        }
        println!("wrote the recorded map to {}", path.display());
    }
    if let Err(e) = std::fs::write(out, text) {
        return fail(format!("cannot write {}: {e}", out.display()));
    }
    let s = &conversion.scenario;
    println!(
        "wrote {}: {} jobs, {} operator commands, {} vehicles and {} link losses over {:.1} s; \
         run it with `borderlane sim run {}`",
        out.display(),
        s.jobs.len(),
        s.operator.len(),
        s.fleet.vehicles,
        s.faults.link_loss.len(),
        conversion.span_ms as f64 / 1000.0,
        out.display()
    );
    ExitCode::SUCCESS
}

/// `--map` as given; else the recorded map in a `maps` folder near the
/// scenario, the recording or the current folder; else the recorded map,
/// to be written beside the scenario.
fn choose_map(args: &ReplayArgs, recording: &Recording) -> Result<ScenarioMap, String> {
    if let Some(map) = &args.map {
        let text = std::fs::read_to_string(map)
            .map_err(|e| format!("--map {}: cannot read it: {e}", map.display()))?;
        if text != recording.session.map_geojson {
            eprintln!(
                "note: {} is not the map the recording was made on ({}); the scenario uses it",
                map.display(),
                recording.session.map_name
            );
        }
        return Ok(ScenarioMap::Existing(map.clone()));
    }
    let mut near = args
        .out
        .as_deref()
        .map(folder_of)
        .into_iter()
        .collect::<Vec<_>>();
    near.extend([folder_of(&args.file), PathBuf::from(".")]);
    if let Some(found) = find_map(recording, &near) {
        return Ok(ScenarioMap::Existing(found));
    }
    match &args.out {
        Some(out) => Ok(ScenarioMap::Recorded(out.with_extension("geojson"))),
        None => Err(format!(
            "the recording's map {} is not in a maps folder near the recording or the current folder: \
             give --map FILE, or --out FILE to write the recorded map beside the scenario",
            recording.session.map_name
        )),
    }
}

/// The folder a file is in, `.` for a bare file name.
fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
