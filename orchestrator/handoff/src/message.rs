//! The protocol's messages.

use borderlane_core::io::Channel;
use borderlane_model::{Ms, Side};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The topic a side publishes its handoff messages to the other side on.
pub fn topic(from: Side, to: Side) -> String {
    format!(
        "borderlane/v1/handoff/{}/{}",
        side_name(from),
        side_name(to)
    )
}

pub(crate) fn side_name(side: Side) -> &'static str {
    match side {
        Side::Vn => "vn",
        Side::Cn => "cn",
    }
}

/// One protocol message with its routing and ordering data. This is what
/// is signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Envelope {
    /// The protocol version, `1`.
    pub version: u32,
    pub from: Side,
    pub to: Side,
    /// The handoff this message belongs to, chosen by the side that asks
    /// for entry and unique on that side.
    pub handoff: String,
    /// The sender's sequence number within the handoff, from 1, one more
    /// for every new message it sends in that handoff. A re-sent message
    /// keeps its number and its body.
    pub seq: u32,
    /// When the sender sent this copy, ms since the Unix epoch. A copy
    /// re-sent more than a minute after the first carries the time it was
    /// re-sent, so that it is not stale on arrival.
    pub sent_ms: Ms,
    pub body: Body,
}

/// What a message says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Body {
    /// The near side asks to send a vehicle across, with what the far
    /// side's customs need to decide before it arrives.
    #[serde(rename_all = "camelCase")]
    EntryRequest {
        vehicle: String,
        job: String,
        container: String,
        manifest: String,
        e_seal: ESeal,
        /// The customs channel the sending side gave the container.
        sending_channel: Channel,
        /// The sending side's inspection result, if it inspected.
        inspection_result: Option<String>,
        /// The earliest time the vehicle can pass the border node.
        earliest_border_ms: Ms,
    },
    /// The far side reserved its lane from the border node on and grants a
    /// crossing slot: the vehicle passes the border node within the window.
    #[serde(rename_all = "camelCase")]
    Grant {
        vehicle: String,
        window_start_ms: Ms,
        window_end_ms: Ms,
        /// The receiving customs' decision, which routes the vehicle on
        /// arrival.
        receiving_channel: Channel,
    },
    /// The far side will not take the vehicle.
    #[serde(rename_all = "camelCase")]
    Refusal {
        vehicle: String,
        reason: RefusalReason,
        detail: String,
    },
    /// The near side hands the vehicle over: it released its base up to
    /// the border node, and this is the order's continuation.
    #[serde(rename_all = "camelCase")]
    Handover {
        vehicle: String,
        order: OrderContinuation,
    },
    /// The far side confirms the vehicle now follows its orders.
    #[serde(rename_all = "camelCase")]
    Accepted { vehicle: String },
    /// The near side has let go of the vehicle and its reservations.
    #[serde(rename_all = "camelCase")]
    Released { vehicle: String },
    /// The near side withdraws its request (the vehicle will not come).
    #[serde(rename_all = "camelCase")]
    Withdrawn { vehicle: String, detail: String },
}

impl Body {
    /// The vehicle the message is about.
    pub fn vehicle(&self) -> &str {
        match self {
            Body::EntryRequest { vehicle, .. }
            | Body::Grant { vehicle, .. }
            | Body::Refusal { vehicle, .. }
            | Body::Handover { vehicle, .. }
            | Body::Accepted { vehicle }
            | Body::Released { vehicle }
            | Body::Withdrawn { vehicle, .. } => vehicle,
        }
    }

    /// The message's kind, as named on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::EntryRequest { .. } => "entryRequest",
            Body::Grant { .. } => "grant",
            Body::Refusal { .. } => "refusal",
            Body::Handover { .. } => "handover",
            Body::Accepted { .. } => "accepted",
            Body::Released { .. } => "released",
            Body::Withdrawn { .. } => "withdrawn",
        }
    }
}

/// An electronic seal on the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ESeal {
    pub id: String,
    pub state: ESealState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ESealState {
    Intact,
    Broken,
}

/// Why the far side refuses a vehicle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RefusalReason {
    /// Entries are closed for a period.
    BorderClosed,
    /// No slot on the far side's lane within the planning horizon.
    NoCapacity,
    /// The receiving customs hold the container.
    CustomsHold,
    /// The request is not acceptable as sent (unknown vehicle, say).
    Invalid,
}

/// What the far side needs to continue the vehicle's VDA 5050 order
/// without a stop: a new orderId would be refused until the vehicle's
/// current order is done (VDA 5050 2.1, §6.6.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OrderContinuation {
    pub order_id: String,
    pub order_update_id: u64,
    /// The border node, the last node of the released base.
    pub border_node: String,
    pub border_sequence_id: u64,
    /// The next headerId to use on the vehicle's order topic.
    pub next_header_id: u64,
}

/// The JSON Schemas of the wire format, by file name.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    let to_value = |s: schemars::Schema| serde_json::to_value(s).unwrap_or_default();
    vec![
        (
            "envelope.schema.json",
            to_value(schemars::schema_for!(Envelope)),
        ),
        (
            "signed.schema.json",
            to_value(schemars::schema_for!(crate::Signed)),
        ),
    ]
}
