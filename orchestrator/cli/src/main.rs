//! The Borderlane command line.
//!
//! Each subcommand lives in its own module and returns the process exit
//! code; `main` only parses the arguments and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo_cmd;
mod map_cmd;
mod replay_cmd;
mod serve_cmd;
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
    /// Control vehicles live over MQTT with VDA 5050, as configured in a
    /// TOML file (config/lane.toml, config/vn.toml, config/cn.toml).
    Serve(serve_cmd::ServeArgs),
    /// Run the embedded broker, an orchestrator with its operation center
    /// (a web page at the printed address) and simulated VDA 5050 vehicles
    /// on MQTT with a scenario's containers, in real time or faster,
    /// showing a live status line.
    Demo(demo_cmd::DemoArgs),
    /// Feed a recording (`serve --record`, `demo --record`) to a fresh
    /// orchestrator in virtual time and compare every output with the
    /// recorded one.
    Replay(replay_cmd::ReplayArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Map(args) => map_cmd::run(args),
        Command::Sim(args) => sim_cmd::run(args),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Replay(args) => replay_cmd::run(args),
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

    #[test]
    fn serve_and_demo_parse() {
        let cli = Cli::try_parse_from(["borderlane", "serve", "--config", "config/lane.toml"]);
        assert!(cli.is_ok(), "{cli:?}");
        assert!(Cli::try_parse_from(["borderlane", "serve"]).is_err());
        let cli = Cli::try_parse_from([
            "borderlane",
            "demo",
            "--speed",
            "30",
            "--duration",
            "10m",
            "--scenario",
            "s.toml",
            "--ioc-port",
            "0",
            "--ioc-operator",
            "olga:pw",
            "--link-loss",
            "igv-003@4m:2m",
            "--link-loss",
            "igv-004@5m:30s",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
        assert!(Cli::try_parse_from(["borderlane", "demo", "--duration", "soon"]).is_err());
        assert!(Cli::try_parse_from(["borderlane", "demo", "--link-loss", "igv-003"]).is_err());
        assert!(Cli::try_parse_from(["borderlane", "demo", "--ioc-viewer", "nopassword"]).is_err());
    }
}
