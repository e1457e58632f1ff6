//! The Borderlane simulator: simulated vehicles that execute exactly the
//! commands the orchestrator core emits and report back the way real
//! vehicles do, in virtual time, with every random draw from one seeded
//! generator.
//!
//! [`Harness`] is the smallest whole system: one core, its fleet, a queue of
//! timed inputs (jobs, operator commands, faults), and a record of what every
//! vehicle did, for the independent verifier.

pub mod border;
pub mod charts;
mod harness;
pub mod run;
pub mod scenario;
pub mod sweep;
pub mod vehicle;

pub use harness::{Harness, LogEntry, LogLine, TwoSided, VehicleStats};
