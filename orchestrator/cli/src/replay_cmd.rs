//! `borderlane replay`: feed a recording to a fresh orchestrator and compare.

use std::path::PathBuf;
use std::process::ExitCode;

use borderlane_record::{ReplayOptions, read_file, replay};
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
