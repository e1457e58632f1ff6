//! `borderlane map`: commands on lane maps.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use borderlane_model::{LaneMap, MapError};
use clap::{Args, Subcommand};

/// The exit code for a file that cannot be read.
pub const EXIT_UNREADABLE: u8 = 1;
/// The exit code for a file that is not a valid map.
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Args)]
pub struct MapArgs {
    #[command(subcommand)]
    action: MapAction,
}

#[derive(Debug, Subcommand)]
enum MapAction {
    /// Reads and validates a GeoJSON map, then prints its summary. Every
    /// problem found is printed to stderr, one per line, naming the feature.
    Check {
        /// The GeoJSON map file.
        file: PathBuf,
    },
}

pub fn run(args: MapArgs) -> ExitCode {
    match args.action {
        MapAction::Check { file } => check(&file),
    }
}

/// Reads and validates a map file, printing what was found.
fn check(file: &Path) -> ExitCode {
    let shown = file.display();
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{shown}: cannot read the file: {e}");
            return ExitCode::from(EXIT_UNREADABLE);
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("{shown}: not a valid GeoJSON FeatureCollection: the file is not UTF-8 text");
        return ExitCode::from(EXIT_INVALID);
    };
    match LaneMap::from_geojson(&text) {
        Ok(map) => {
            // A closed stdout (for example a pipe into `head`) is not an
            // error of the map.
            let _ = write!(std::io::stdout(), "{}", map.summary());
            ExitCode::SUCCESS
        }
        Err(MapError::Syntax(msg)) => {
            eprintln!("{shown}: not a valid GeoJSON FeatureCollection: {msg}");
            ExitCode::from(EXIT_INVALID)
        }
        Err(MapError::Invalid(issues)) => {
            let mut err = std::io::stderr().lock();
            for issue in &issues {
                let _ = writeln!(err, "{shown}: {issue}");
            }
            let _ = writeln!(
                err,
                "{shown}: the map is invalid ({} issue{})",
                issues.len(),
                if issues.len() == 1 { "" } else { "s" }
            );
            ExitCode::from(EXIT_INVALID)
        }
    }
}
