//! Recordings of an orchestrator, and their replay.
//!
//! A recording is an MCAP file: one channel per kind of entry, JSON
//! messages with a JSON Schema each, so it opens in Foxglove and in the
//! `mcap` command-line tools. The first message, on `/session`, holds what
//! a replay needs to build the same station: the map's GeoJSON and the
//! station's configuration. Every later message is an input the station
//! was given (an MQTT message with its receive time, a timer, an operator's
//! command) or an output it produced (a message it published, an event).
//!
//! [`replay`] feeds the inputs to a fresh [`Station`] in virtual time and
//! compares what it produces with what was recorded; [`to_scenario`] turns
//! a recording's inputs into a simulator scenario.
//!
//! [`Station`]: borderlane_station::Station

pub mod as_sim;
mod format;
pub mod local;
mod reader;
mod replay;
mod writer;

pub use as_sim::{AsSimError, Conversion, SimOptions, to_scenario};
pub use format::{Entry, FORMAT_VERSION, MqttIn, MqttOut, OperatorIn, Payload, Session};
pub use local::{LocalError, LocalRun};
pub use reader::{ReadError, Recording, Step, read_bytes, read_file};
pub use replay::{Difference, ReplayError, ReplayOptions, ReplayOutcome, drain, replay};
pub use writer::{Recorder, WriteError};
