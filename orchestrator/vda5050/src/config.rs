//! The master control's configuration.

use borderlane_model::Ms;
use serde::{Deserialize, Serialize};

use crate::ProtocolVersion;

/// How the master control talks to its vehicles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MasterConfig {
    /// The first level of every topic.
    pub interface_name: String,
    /// The vehicles' manufacturer, the third level of every topic.
    pub manufacturer: String,
    /// The protocol version written in every message.
    pub version: ProtocolVersion,
    /// How long before a plan has a vehicle enter an arc the arc and its
    /// end node are released into the base, ms. It must cover the time the
    /// vehicle needs to brake, or it stops at every node.
    pub release_lead_ms: Ms,
    /// How often an order the vehicle has not yet confirmed in its state is
    /// sent again, ms.
    pub resend_ms: Ms,
    /// Larger inbound payloads are rejected, bytes.
    pub max_payload_bytes: usize,
    /// Inbound messages whose timestamp is further than this from `now` are
    /// rejected, ms.
    pub max_clock_skew_ms: Ms,
    /// At most this many messages per vehicle are accepted in any second;
    /// more are rejected as a flood.
    pub max_messages_per_second: u32,
    /// The `mapId` written in node positions; empty for the map's name.
    pub map_id: String,
    /// A reported position further than this from every node does not
    /// match a node, metres.
    pub map_match_max_m: f64,
}

impl Default for MasterConfig {
    fn default() -> MasterConfig {
        MasterConfig {
            interface_name: "borderlane".to_string(),
            manufacturer: "borderlane".to_string(),
            version: ProtocolVersion::V2_1,
            release_lead_ms: 30_000,
            resend_ms: 5_000,
            max_payload_bytes: 256 * 1024,
            max_clock_skew_ms: 30_000,
            max_messages_per_second: 50,
            map_id: String::new(),
            map_match_max_m: 25.0,
        }
    }
}
