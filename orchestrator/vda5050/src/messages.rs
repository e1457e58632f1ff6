//! The VDA 5050 version 2 messages, as serde types.
//!
//! Every field the official JSON schema marks as required is a plain field
//! here, so a message without it fails to parse; optional fields are
//! `Option`s that are left out when empty. Unknown fields are accepted, as
//! vehicles may send vendor extensions. Enumerations are Rust enums, so a
//! value outside the schema's list is a parse error too.

use serde::{Deserialize, Serialize};

/// Whether an action may run while the vehicle drives or other actions run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BlockingType {
    None,
    Soft,
    Hard,
}

/// One key/value parameter of an action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionParameter {
    pub key: String,
    pub value: serde_json::Value,
}

/// An action at a node, on an edge, or sent as an instant action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub action_type: String,
    /// The same as `action_type`; the 2.0.0 schema of `instantActions`
    /// names the field `actionName`, so instant actions of version 2.0 carry
    /// both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_name: Option<String>,
    pub action_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_description: Option<String>,
    pub blocking_type: BlockingType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_parameters: Vec<ActionParameter>,
}

impl Action {
    /// The value of parameter `key`, if the action has it.
    pub fn parameter(&self, key: &str) -> Option<&serde_json::Value> {
        self.action_parameters
            .iter()
            .find(|p| p.key == key)
            .map(|p| &p.value)
    }
}

/// A node's position in the map's frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodePosition {
    pub x: f64,
    pub y: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theta: Option<f64>,
    pub map_id: String,
}

/// A node of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub node_id: String,
    pub sequence_id: u64,
    pub released: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_position: Option<NodePosition>,
    pub actions: Vec<Action>,
}

/// An edge of an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub edge_id: String,
    pub sequence_id: u64,
    pub released: bool,
    pub start_node_id: String,
    pub end_node_id: String,
    /// Metres per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_speed: Option<f64>,
    /// Metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<f64>,
    pub actions: Vec<Action>,
}

/// The `order` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub header_id: u64,
    pub timestamp: String,
    pub version: String,
    pub manufacturer: String,
    pub serial_number: String,
    pub order_id: String,
    pub order_update_id: u64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// The `instantActions` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstantActions {
    pub header_id: u64,
    pub timestamp: String,
    pub version: String,
    pub manufacturer: String,
    pub serial_number: String,
    pub actions: Vec<Action>,
}

/// The state of an order's node, as the vehicle reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeState {
    pub node_id: String,
    pub sequence_id: u64,
    pub released: bool,
}

/// The state of an order's edge, as the vehicle reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeState {
    pub edge_id: String,
    pub sequence_id: u64,
    pub released: bool,
}

/// Where the vehicle is, in the map's frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgvPosition {
    pub x: f64,
    pub y: f64,
    pub theta: f64,
    pub map_id: String,
    pub position_initialized: bool,
}

/// A load the vehicle carries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Load {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_type: Option<String>,
}

/// How far an action has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionStatus {
    Waiting,
    Initializing,
    Running,
    Finished,
    Failed,
}

/// The state of one action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionState {
    pub action_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    pub action_status: ActionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_description: Option<String>,
}

/// The battery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatteryState {
    /// State of charge, percent.
    pub battery_charge: f64,
    pub charging: bool,
}

/// How bad an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorLevel {
    Warning,
    Fatal,
}

/// A key/value reference of an error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReference {
    pub reference_key: String,
    pub reference_value: String,
}

/// An error the vehicle reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VehicleError {
    pub error_type: String,
    pub error_level: ErrorLevel,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_references: Vec<ErrorReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// The vehicle's operating mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperatingMode {
    Automatic,
    Semiautomatic,
    Manual,
    Service,
    Teachin,
}

/// The emergency stop's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EStop {
    Autoack,
    Manual,
    Remote,
    None,
}

/// The safety state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafetyState {
    pub e_stop: EStop,
    pub field_violation: bool,
}

/// The `state` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub header_id: u64,
    pub timestamp: String,
    pub version: String,
    pub manufacturer: String,
    pub serial_number: String,
    pub order_id: String,
    pub order_update_id: u64,
    pub last_node_id: String,
    pub last_node_sequence_id: u64,
    pub driving: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_since_last_node: Option<f64>,
    pub operating_mode: OperatingMode,
    pub node_states: Vec<NodeState>,
    pub edge_states: Vec<EdgeState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agv_position: Option<AgvPosition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loads: Option<Vec<Load>>,
    pub action_states: Vec<ActionState>,
    pub battery_state: BatteryState,
    pub errors: Vec<VehicleError>,
    pub safety_state: SafetyState,
}

/// The connection state a vehicle (or its broker, for the last will)
/// announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionState {
    Online,
    Offline,
    Connectionbroken,
}

/// The `connection` message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub header_id: u64,
    pub timestamp: String,
    pub version: String,
    pub manufacturer: String,
    pub serial_number: String,
    pub connection_state: ConnectionState,
}

/// The `visualization` message: the vehicle's position, at a higher rate
/// than the state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Visualization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agv_position: Option<AgvPosition>,
}

/// What kind of vehicle it is (factsheet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeSpecification {
    pub series_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_description: Option<String>,
    pub agv_kinematic: String,
    pub agv_class: String,
    /// Kilograms.
    pub max_load_mass: f64,
    pub localization_types: Vec<String>,
    pub navigation_types: Vec<String>,
}

/// The vehicle's physical limits (factsheet), in metres, m/s and m/s².
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalParameters {
    pub speed_min: f64,
    pub speed_max: f64,
    pub acceleration_max: f64,
    pub deceleration_max: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_min: Option<f64>,
    pub height_max: f64,
    pub width: f64,
    pub length: f64,
}

/// Timing limits of the protocol (factsheet), in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    pub min_order_interval: f64,
    pub min_state_interval: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_state_interval: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visualization_interval: Option<f64>,
}

/// Protocol limits (factsheet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolLimits {
    pub max_string_lens: serde_json::Map<String, serde_json::Value>,
    pub max_array_lens: serde_json::Map<String, serde_json::Value>,
    pub timing: Timing,
}

/// An optional protocol parameter the vehicle supports (factsheet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionalParameter {
    pub parameter: String,
    pub support: String,
}

/// An action the vehicle can perform (factsheet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgvAction {
    pub action_type: String,
    pub action_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_description: Option<String>,
}

/// Protocol features (factsheet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolFeatures {
    pub optional_parameters: Vec<OptionalParameter>,
    pub agv_actions: Vec<AgvAction>,
}

/// The `factsheet` message: what the vehicle is and can do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Factsheet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    pub version: String,
    pub manufacturer: String,
    pub serial_number: String,
    pub type_specification: TypeSpecification,
    pub physical_parameters: PhysicalParameters,
    pub protocol_limits: ProtocolLimits,
    pub protocol_features: ProtocolFeatures,
    pub agv_geometry: serde_json::Map<String, serde_json::Value>,
    pub load_specification: serde_json::Map<String, serde_json::Value>,
}
