//! The Borderlane orchestrator core.
//!
//! Sans-IO and deterministic: the core is handed `(now, input)` and hands
//! back outputs and the time it next wants to be woken. It never reads a
//! clock, opens a socket, spawns a thread or lets hash-map order reach an
//! output, so the live service, the simulator and replay all drive the same
//! code and a run is a pure function of its inputs.

pub mod config;
mod core;
pub mod io;
pub mod kinematics;
pub mod planner;
pub mod reservations;
mod systems;
pub mod world;

pub use crate::config::{CoreConfig, VehicleSpec};
pub use crate::core::{Core, CoreError, JobView, Snapshot, VehicleView};
pub use crate::io::{Command, CommandStep, CrossingInput, CrossingOutput, Event, Input, Output};
