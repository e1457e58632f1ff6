//! The Borderlane command line.
//!
//! Each subcommand lives in its own module and returns the process exit
//! code; `main` only parses the arguments and dispatches. Later subcommands
//! (serve, demo, replay) are added as further variants of [`Command`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod map_cmd;
mod sim_cmd;

#[derive(Debug, Parser)]
#[command(
    name = "borderlane",
    version,
    about = "Orchestrator for driverless cargo vehicles on the Bac Luan II lane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with lane maps.
    Map(map_cmd::MapArgs),
    /// Run scenarios in the simulator.
    Sim(sim_cmd::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Map(args) => map_cmd::run(args),
        Command::Sim(args) => sim_cmd::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn map_check_parses() {
        let cli = Cli::try_parse_from(["borderlane", "map", "check", "x.geojson"]);
        assert!(cli.is_ok(), "{cli:?}");
        assert!(Cli::try_parse_from(["borderlane", "map", "check"]).is_err());
    }

    #[test]
    fn sim_run_parses() {
        let cli = Cli::try_parse_from([
            "borderlane",
            "sim",
            "run",
            "s.toml",
            "--seed",
            "7",
            "--days",
            "2",
            "--out",
            "o",
            "--events",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
        assert!(
            Cli::try_parse_from(["borderlane", "sim", "run", "s.toml", "--days", "0"]).is_err()
        );
        assert!(Cli::try_parse_from(["borderlane", "sim", "run", "s.toml", "--events"]).is_err());
    }
}
