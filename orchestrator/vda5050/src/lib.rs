//! VDA 5050 version 2 on the wire, without the wire.
//!
//! This crate turns the core's commands into VDA 5050 orders and instant
//! actions, and the vehicles' state, connection and factsheet messages into
//! the core's inputs ([`Master`]); it also holds a simulated VDA 5050
//! vehicle ([`Agent`]). Neither reads a clock, opens a socket or spawns a
//! thread: the caller passes the time in as `now` (milliseconds; in live use
//! milliseconds since the Unix epoch, from which message timestamps are
//! formatted) and moves the bytes of each [`Publish`] itself.
//!
//! Topics are `{interfaceName}/v2/{manufacturer}/{serialNumber}/{kind}`.
//! Everything is published with QoS 0 except `connection`, which is QoS 1
//! and retained (and is the last will).

pub mod agent;
mod clock;
mod config;
mod master;
pub mod messages;
mod order;
mod reject;
mod topic;

pub use agent::{Agent, AgentConfig, AgentError, BatteryModel};
pub use clock::{format_timestamp, parse_timestamp};
pub use config::MasterConfig;
pub use master::{FactsheetSummary, Kept, KeptLink, Master, OrderState};
pub use reject::{RejectReason, Rejected};
pub use topic::{Topic, TopicKind};

use serde::{Deserialize, Serialize};

/// The version of VDA 5050 spoken on the wire.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum ProtocolVersion {
    /// Version 2.0.0.
    #[serde(rename = "2.0.0")]
    V2_0,
    /// Version 2.1.0.
    #[default]
    #[serde(rename = "2.1.0")]
    V2_1,
}

impl ProtocolVersion {
    /// The version as it is written in every message.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2_0 => "2.0.0",
            ProtocolVersion::V2_1 => "2.1.0",
        }
    }

    /// The major version as it is written in the topic (`v2`).
    pub fn topic_segment(self) -> &'static str {
        "v2"
    }
}

/// The MQTT quality of service of a publication or subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Qos {
    /// QoS 0.
    AtMostOnce,
    /// QoS 1.
    AtLeastOnce,
}

/// One MQTT message to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: Qos,
    pub retain: bool,
}
