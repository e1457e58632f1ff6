//! What goes into the core and what comes out of it.
//!
//! These are the core's own types: the live shell encodes them as VDA 5050
//! messages, the simulator hands them to simulated vehicles, and replay
//! compares them byte for byte. Every id on this boundary is a string from
//! the map or the fleet, never an internal index.

use borderlane_model::{Ms, Side};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One input to the core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// A vehicle's state, as it reports it.
    State(VehicleReport),
    /// A container to move across the border.
    Job(JobRequest),
    /// An operator's command from the operation center.
    Operator(OperatorCommand),
    /// What the cross-border handoff protocol says about a crossing (a core
    /// that plans one side's territory only).
    Crossing(CrossingInput),
}

/// A step of the cross-border handoff, as the shell's protocol machinery
/// tells it to the core. The near side is the side the vehicle leaves, the
/// far side the side it enters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "crossing", rename_all = "snake_case")]
pub enum CrossingInput {
    /// Near side: the far side granted the vehicle passing the border node
    /// at `at_ms`.
    Granted { vehicle: String, at_ms: Ms },
    /// Near side: the handoff ended without a crossing (refused, timed
    /// out, withdrawn): the vehicle stays on this side and asks again later.
    Kept { vehicle: String, reason: String },
    /// Near side: the far side adopted the vehicle; it, its job and its
    /// container are the far side's.
    Transferred { vehicle: String },
    /// Far side: a vehicle asks to enter, carrying a container, no earlier
    /// than `earliest_border_ms`.
    Entry {
        vehicle: String,
        job: String,
        container: String,
        /// The sending side's customs channel.
        channel: Channel,
        earliest_border_ms: Ms,
    },
    /// Far side: the entry is over without a crossing; drop its slot.
    Cancelled { vehicle: String },
    /// Far side: the vehicle is handed over; this side commands it now.
    Adopted { vehicle: String },
}

/// A vehicle's report of itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VehicleReport {
    /// The vehicle's serial number.
    pub vehicle: String,
    /// The plan it is executing, if any.
    pub plan_id: Option<u64>,
    /// The index of the last step of that plan it reached.
    pub last_step: Option<usize>,
    /// The id of the last node it reached.
    pub last_node: String,
    /// Whether it is moving.
    pub driving: bool,
    /// State of charge, percent.
    pub battery_pct: f64,
    /// Whether it carries a container.
    pub loaded: bool,
    /// Whether a fault stops it until repaired.
    pub broken: bool,
    /// Whether the vehicle's link is lost (reported by the shell, not by
    /// the vehicle).
    #[serde(default)]
    pub link_lost: bool,
    /// Actions of the current plan the vehicle has finished.
    pub finished_actions: Vec<u64>,
}

/// Customs channel of a container.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Released without checks.
    Green,
    /// Documents checked while the vehicle drives on; no stop.
    Yellow,
    /// An X-ray scan in a scan lane.
    RedScan,
    /// A physical inspection in an inspection bay.
    RedInspection,
}

/// A container to carry from a yard slot on one side to the other side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobRequest {
    pub id: String,
    pub container: String,
    /// The yard slot the container waits at.
    pub pickup: String,
    pub channel: Channel,
    /// How long the customs step takes (scan or inspection), ms.
    #[serde(default)]
    pub customs_ms: Ms,
    /// Higher goes first.
    #[serde(default)]
    pub priority: u8,
    /// When the container should be delivered, if it has a deadline.
    #[serde(default)]
    pub deadline: Option<Ms>,
}

/// What an operator can tell the core.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum OperatorCommand {
    /// Close a node to all traffic (debris on the bridge, say).
    BlockPlace {
        node: String,
    },
    UnblockPlace {
        node: String,
    },
    /// Stop every vehicle where it is.
    PauseLane,
    ResumeLane,
    CancelJob {
        job: String,
    },
    /// Stop one vehicle where it is until resumed; others plan around it.
    PauseVehicle {
        vehicle: String,
    },
    ResumeVehicle {
        vehicle: String,
    },
    /// Change a job's priority (higher goes first).
    Reprioritise {
        job: String,
        priority: u8,
    },
    /// Send an idle vehicle to a charger on its side.
    SendToCharger {
        vehicle: String,
    },
    /// Send an idle vehicle (or one resting at a charger) to a parking
    /// place on its side.
    SendToParking {
        vehicle: String,
    },
}

/// One output of the core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum Output {
    Command(Command),
    Event(Event),
    /// A step of a cross-border handoff for the shell's protocol machinery.
    Crossing(CrossingOutput),
}

/// What a core that plans one side's territory asks of the handoff
/// protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "crossing", rename_all = "snake_case")]
pub enum CrossingOutput {
    /// Near side: ask the far side for a time to pass the border node.
    Request {
        vehicle: String,
        job: String,
        container: String,
        channel: Channel,
        earliest_border_ms: Ms,
    },
    /// Near side: the vehicle is released up to the border node, which it
    /// passes at `border_ms`; hand it over. This side no longer commands it.
    Commit { vehicle: String, border_ms: Ms },
    /// Near side: the granted time cannot be kept; give it back.
    Withdraw { vehicle: String, reason: String },
    /// Far side: the lane from the border node on is reserved for the
    /// vehicle passing the border node at `at_ms`.
    Grant {
        vehicle: String,
        at_ms: Ms,
        receiving_channel: Channel,
    },
    /// Far side: no entry.
    Refuse { vehicle: String, reason: String },
}

/// A command to one vehicle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Drive this timed route; replaces any earlier one.
    Drive {
        vehicle: String,
        plan_id: u64,
        steps: Vec<CommandStep>,
    },
    /// Stop as soon as the kinematics allow and stay.
    Pause { vehicle: String },
    /// Continue after a pause.
    Resume { vehicle: String },
}

/// One node of a timed route, with the edge that leads to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandStep {
    pub node: String,
    pub edge: Option<String>,
    /// When to enter the edge.
    pub enter_ms: Ms,
    /// When to reach the node.
    pub arrive_ms: Ms,
    /// When to leave it; `None` to stay.
    pub depart_ms: Option<Ms>,
    /// Whether to stop at the node.
    pub stops: bool,
    /// What to do there.
    pub action: Option<Action>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Action {
    pub id: u64,
    pub kind: ActionKind,
    pub duration_ms: Ms,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionKind {
    Pick { container: String },
    Drop { container: String },
    Scan,
    Inspect,
    Charge,
}

/// Something that happened, for logs, metrics and the operation center.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    JobQueued {
        job: String,
    },
    JobAssigned {
        job: String,
        vehicle: String,
        drop: String,
    },
    ContainerPicked {
        job: String,
        vehicle: String,
        container: String,
        side: Side,
    },
    JobDelivered {
        job: String,
        vehicle: String,
        container: String,
        side: Side,
    },
    JobCancelled {
        job: String,
    },
    PlanCommitted {
        vehicle: String,
        plan_id: u64,
        steps: usize,
        rest: String,
        ends_ms: Ms,
    },
    Repaired {
        cause: String,
        vehicles: Vec<String>,
    },
    VehicleHeld {
        vehicle: String,
        node: String,
    },
    VehicleBroken {
        vehicle: String,
        node: String,
    },
    VehicleRepaired {
        vehicle: String,
    },
    LanePaused,
    LaneResumed,
    VehiclePaused {
        vehicle: String,
    },
    VehicleResumed {
        vehicle: String,
    },
    JobReprioritised {
        job: String,
        priority: u8,
    },
    VehicleSent {
        vehicle: String,
        /// `charger` or `parking`.
        to: String,
    },
    PlaceBlocked {
        node: String,
    },
    PlaceUnblocked {
        node: String,
    },
    InputRejected {
        reason: String,
    },
}
