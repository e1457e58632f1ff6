//! A simulated VDA 5050 vehicle, sans-IO.
//!
//! The agent accepts orders and order updates by the rules of VDA 5050 2.1
//! §6.6.2, drives along the released base at the lower of each edge's speed
//! limit and its own top speed (loaded or empty), with the core's
//! kinematics ([`VehicleProfile::drive_ms`]), stops at the decision point
//! when nothing more is released, carries out node actions for their
//! duration, and honours `cancelOrder`, `startPause` and `stopPause`. It
//! publishes `connection` (ONLINE) and a `factsheet` when it starts, and a
//! `state` on every node reached, every change of an action, and at least
//! every `state_interval_ms`.
//!
//! Simplifications: the vehicle decides when it enters an edge whether it
//! will stop at the edge's end, and takes that back only if the base is
//! extended before it would have had to start braking; a pause or a cancel
//! while driving stops it at the end of the edge it is on.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc as Shared;

use borderlane_core::kinematics::{Load as LoadKind, VehicleProfile};
use borderlane_model::{ArcIx, LaneMap, Ms, NEVER, NodeIx, NodeKind, Step};
use serde::{Deserialize, Serialize};

use crate::clock::format_timestamp;
use crate::messages::{
    Action, ActionState, ActionStatus, AgvAction, AgvPosition, BatteryState, Connection,
    ConnectionState, EStop, EdgeState, ErrorLevel, ErrorReference, Factsheet, InstantActions, Load,
    NodeState, OperatingMode, OptionalParameter, Order, PhysicalParameters, ProtocolFeatures,
    ProtocolLimits, SafetyState, State, Timing, TypeSpecification, VehicleError,
};
use crate::order::{DURATION_KEY, INSPECT_ACTION, SCAN_ACTION};
use crate::topic::{Topic, TopicKind, topic};
use crate::{ProtocolVersion, Publish, Qos};

/// How the battery drains and charges.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatteryModel {
    /// Charge at start, percent.
    pub start_pct: f64,
    /// Charge used per kilometre driven, percent.
    pub drain_pct_per_km: f64,
    /// Charge gained per minute at a charger, percent.
    pub charge_pct_per_min: f64,
}

impl Default for BatteryModel {
    fn default() -> BatteryModel {
        BatteryModel {
            start_pct: 100.0,
            drain_pct_per_km: 0.5,
            charge_pct_per_min: 1.0,
        }
    }
}

/// What a simulated vehicle is and where it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    pub interface_name: String,
    pub manufacturer: String,
    pub serial: String,
    pub version: ProtocolVersion,
    /// The node the vehicle stands at when it starts.
    pub start_node: String,
    pub profile: VehicleProfile,
    pub battery: BatteryModel,
    /// The longest time between two state messages, ms.
    pub state_interval_ms: Ms,
    /// How long a pick or drop takes without a `duration` parameter, ms.
    pub default_action_ms: Ms,
    /// The `mapId` of reported positions; empty for the map's name.
    pub map_id: String,
}

impl Default for AgentConfig {
    fn default() -> AgentConfig {
        AgentConfig {
            interface_name: "borderlane".to_string(),
            manufacturer: "borderlane".to_string(),
            serial: String::new(),
            version: ProtocolVersion::V2_1,
            start_node: String::new(),
            profile: VehicleProfile::default(),
            battery: BatteryModel::default(),
            state_interval_ms: 5_000,
            default_action_ms: 90_000,
            map_id: String::new(),
        }
    }
}

/// Why an agent could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("vehicle {serial}: start node {node:?} is not on the map")]
    UnknownStartNode { serial: String, node: String },
}

/// A node of the order still ahead of the vehicle.
#[derive(Clone, Debug)]
struct PlanNode {
    node_id: String,
    node: NodeIx,
    seq: u64,
    released: bool,
    actions: Vec<Action>,
}

/// An edge of the order still ahead of (or under) the vehicle.
#[derive(Clone, Debug)]
struct PlanEdge {
    edge_id: String,
    arc: ArcIx,
    seq: u64,
    released: bool,
}

/// The vehicle on an edge.
#[derive(Clone, Debug)]
struct Drive {
    arc: ArcIx,
    from_stop: bool,
    to_stop: bool,
    /// Whether it stops only because the end is the decision point.
    stop_for_base: bool,
    entered: Ms,
    arrive: Ms,
}

/// A node action being carried out.
#[derive(Clone, Debug)]
struct Running {
    action: Action,
    /// When it ends; `None` while paused.
    ends: Option<Ms>,
    /// What is left of it while paused.
    left: Ms,
}

/// A simulated VDA 5050 vehicle.
pub struct Agent {
    map: Shared<LaneMap>,
    config: AgentConfig,
    map_id: String,
    now: Ms,
    order_id: String,
    order_update_id: u64,
    /// Nodes ahead, in order; they and `edges` alternate edge, node.
    nodes: VecDeque<PlanNode>,
    edges: VecDeque<PlanEdge>,
    last_node: NodeIx,
    last_seq: u64,
    /// Whether the vehicle stands still at `last_node`.
    stopped: bool,
    drive: Option<Drive>,
    queued: VecDeque<Action>,
    running: Option<Running>,
    action_states: Vec<ActionState>,
    /// The id of a `cancelOrder` still being carried out.
    cancelling: Option<String>,
    load: Option<String>,
    battery: f64,
    charging: bool,
    paused: bool,
    broken: bool,
    online: bool,
    errors: Vec<VehicleError>,
    header_out: BTreeMap<TopicKind, u64>,
    next_state: Ms,
    outbox: VecDeque<Publish>,
    trace: Vec<Step>,
}

impl Agent {
    /// A vehicle standing at its start node at `now`; it announces itself
    /// (connection ONLINE, factsheet, state) at once.
    pub fn new(map: Shared<LaneMap>, config: AgentConfig, now: Ms) -> Result<Agent, AgentError> {
        let Some(start) = map.node_by_id(&config.start_node) else {
            return Err(AgentError::UnknownStartNode {
                serial: config.serial.clone(),
                node: config.start_node.clone(),
            });
        };
        let map_id = if config.map_id.is_empty() {
            map.name.clone()
        } else {
            config.map_id.clone()
        };
        let mut agent = Agent {
            battery: config.battery.start_pct.clamp(0.0, 100.0),
            map,
            config,
            map_id,
            now,
            order_id: String::new(),
            order_update_id: 0,
            nodes: VecDeque::new(),
            edges: VecDeque::new(),
            last_node: start,
            last_seq: 0,
            stopped: true,
            drive: None,
            queued: VecDeque::new(),
            running: None,
            action_states: Vec::new(),
            cancelling: None,
            load: None,
            charging: false,
            paused: false,
            broken: false,
            online: true,
            errors: Vec::new(),
            header_out: BTreeMap::new(),
            next_state: now,
            outbox: VecDeque::new(),
            trace: vec![Step {
                node: start,
                arc: None,
                enter: now,
                arrive: now,
                depart: NEVER,
                stops: true,
            }],
        };
        agent.publish_connection(now, ConnectionState::Online);
        agent.publish_factsheet(now);
        agent.publish_state(now);
        Ok(agent)
    }

    /// The vehicle's serial number.
    pub fn serial(&self) -> &str {
        &self.config.serial
    }

    /// The topics the vehicle subscribes to: its `order` and
    /// `instantActions`.
    pub fn subscriptions(&self) -> Vec<(String, Qos)> {
        vec![
            (self.topic(TopicKind::Order), Qos::AtMostOnce),
            (self.topic(TopicKind::InstantActions), Qos::AtMostOnce),
        ]
    }

    /// The last will to register with the broker: connection
    /// CONNECTIONBROKEN, retained, QoS 1.
    pub fn last_will(&self) -> Publish {
        let header_id = self
            .header_out
            .get(&TopicKind::Connection)
            .copied()
            .unwrap_or(0);
        let message = Connection {
            header_id,
            timestamp: format_timestamp(self.now),
            version: self.config.version.as_str().to_string(),
            manufacturer: self.config.manufacturer.clone(),
            serial_number: self.config.serial.clone(),
            connection_state: ConnectionState::Connectionbroken,
        };
        Publish {
            topic: self.topic(TopicKind::Connection),
            payload: serde_json::to_vec(&message).unwrap_or_default(),
            qos: Qos::AtLeastOnce,
            retain: true,
        }
    }

    /// The link to the broker breaks: nothing the vehicle publishes gets
    /// out until [`Agent::reconnect`], and it drives on along its base. The
    /// broker publishes the last will.
    pub fn drop_link(&mut self) {
        self.online = false;
        self.outbox.clear();
    }

    /// The vehicle goes offline on purpose, announcing connection OFFLINE
    /// first.
    pub fn disconnect(&mut self, now: Ms) {
        self.advance(now);
        self.publish_connection(now, ConnectionState::Offline);
        self.online = false;
    }

    /// The link is back: connection ONLINE and a fresh state.
    pub fn reconnect(&mut self, now: Ms) {
        self.advance(now);
        self.online = true;
        self.publish_connection(now, ConnectionState::Online);
        self.publish_state(now);
    }

    /// A fault stops the vehicle at the end of the edge it is on (or where
    /// it stands) until [`Agent::repair`]; it reports a FATAL error.
    pub fn break_down(&mut self, now: Ms) {
        self.advance(now);
        self.broken = true;
        self.stop_at_edge_end(now);
        self.errors.push(VehicleError {
            error_type: "breakdown".to_string(),
            error_level: ErrorLevel::Fatal,
            error_references: Vec::new(),
            error_description: Some("the vehicle is broken and waits for repair".to_string()),
        });
        self.publish_state(now);
    }

    /// The fault is repaired.
    pub fn repair(&mut self, now: Ms) {
        self.advance(now);
        self.broken = false;
        self.errors.retain(|e| e.error_type != "breakdown");
        self.advance(now);
        self.publish_state(now);
    }

    /// What the vehicle did so far: one step per node reached, for the
    /// verifier.
    pub fn trace(&self) -> &[Step] {
        &self.trace
    }

    /// The node it last reached.
    pub fn last_node(&self) -> &str {
        &self.map.node(self.last_node).id
    }

    /// Whether it stands still with nothing left to do.
    pub fn at_rest(&self) -> bool {
        self.drive.is_none()
            && self.nodes.is_empty()
            && self.running.is_none()
            && self.queued.is_empty()
    }

    /// Whether its link to the broker is up.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// Whether it carries a load.
    pub fn loaded(&self) -> bool {
        self.load.is_some()
    }

    /// Reads one message from the master control (its `order` or
    /// `instantActions`). Anything wrong is reported as an error in the next
    /// state, as VDA 5050 asks.
    pub fn handle_message(&mut self, now: Ms, topic_name: &str, payload: &[u8]) {
        self.advance(now);
        let kind = Topic::split(topic_name)
            .filter(|t| {
                t.interface_name == self.config.interface_name
                    && t.manufacturer == self.config.manufacturer
                    && t.serial_number == self.config.serial
            })
            .and_then(|t| TopicKind::parse(t.kind));
        match kind {
            Some(TopicKind::Order) => match serde_json::from_slice::<Order>(payload) {
                Ok(o) if self.addressed_to_me(&o.manufacturer, &o.serial_number) => {
                    self.on_order(now, o)
                }
                Ok(_) => self.warn("validationError", "order for another vehicle", Vec::new()),
                Err(e) => self.warn("validationError", &e.to_string(), Vec::new()),
            },
            Some(TopicKind::InstantActions) => {
                match serde_json::from_slice::<InstantActions>(payload) {
                    Ok(m) if self.addressed_to_me(&m.manufacturer, &m.serial_number) => {
                        for a in m.actions {
                            self.on_instant(now, a);
                        }
                    }
                    Ok(_) => self.warn(
                        "validationError",
                        "instant actions for another vehicle",
                        Vec::new(),
                    ),
                    Err(e) => self.warn("validationError", &e.to_string(), Vec::new()),
                }
            }
            _ => return,
        }
        self.advance(now);
        self.publish_state(now);
    }

    fn addressed_to_me(&self, manufacturer: &str, serial: &str) -> bool {
        manufacturer == self.config.manufacturer && serial == self.config.serial
    }

    fn warn(&mut self, error_type: &str, description: &str, refs: Vec<ErrorReference>) {
        self.errors.retain(|e| e.error_type != error_type);
        self.errors.push(VehicleError {
            error_type: error_type.to_string(),
            error_level: ErrorLevel::Warning,
            error_references: refs,
            error_description: Some(description.to_string()),
        });
    }

    fn clear_order_warnings(&mut self) {
        self.errors.retain(|e| {
            !matches!(
                e.error_type.as_str(),
                "validationError" | "orderError" | "orderUpdateError" | "noRouteError"
            )
        });
    }

    /// Whether the vehicle still has an order to carry out or wait on.
    fn busy(&self) -> bool {
        !self.nodes.is_empty()
            || self.drive.is_some()
            || self.action_states.iter().any(|a| {
                !matches!(
                    a.action_status,
                    ActionStatus::Finished | ActionStatus::Failed
                )
            })
    }

    /// The decision point: the last base node, and its sequence id.
    fn decision_point(&self) -> (NodeIx, u64) {
        self.nodes
            .iter()
            .rev()
            .find(|n| n.released)
            .map_or((self.last_node, self.last_seq), |n| (n.node, n.seq))
    }

    fn on_order(&mut self, now: Ms, o: Order) {
        let refs = vec![ErrorReference {
            reference_key: "orderId".to_string(),
            reference_value: o.order_id.clone(),
        }];
        let (nodes, edges) = match self.resolve(&o) {
            Ok(x) => x,
            Err(why) => return self.warn("orderError", &why, refs),
        };
        let Some(first) = nodes.first().cloned() else {
            return self.warn("validationError", "the order has no nodes", refs);
        };
        if o.order_id != self.order_id || self.cancelling.is_some() && o.order_id.is_empty() {
            // A new order.
            if self.busy() {
                return self.warn(
                    "orderError",
                    "a new order while the current one still has nodes or actions to go",
                    refs,
                );
            }
            if first.node != self.last_node {
                return self.warn(
                    "noRouteError",
                    "the order's first node is not where the vehicle stands",
                    refs,
                );
            }
            self.clear_order_warnings();
            self.order_id = o.order_id;
            self.order_update_id = o.order_update_id;
            self.action_states.clear();
            self.last_seq = first.seq;
            for a in &first.actions {
                self.queue_action(a.clone());
            }
            self.nodes = nodes.into_iter().skip(1).collect();
            self.edges = edges.into();
        } else {
            if o.order_update_id < self.order_update_id {
                return self.warn(
                    "orderUpdateError",
                    "the orderUpdateId is lower than the current one",
                    refs,
                );
            }
            if o.order_update_id == self.order_update_id {
                return;
            }
            let (dp, dp_seq) = self.decision_point();
            if first.node != dp || first.seq != dp_seq {
                return self.warn(
                    "orderUpdateError",
                    "the update's first node is not the decision point",
                    refs,
                );
            }
            self.clear_order_warnings();
            self.order_update_id = o.order_update_id;
            // The horizon is replaced; the stitching node stays as it was.
            self.nodes.retain(|n| n.released);
            self.edges.retain(|e| e.released);
            self.nodes.extend(nodes.into_iter().skip(1));
            self.edges.extend(edges);
            for a in self.nodes.iter().flat_map(|n| n.actions.iter()) {
                if !self
                    .action_states
                    .iter()
                    .any(|s| s.action_id == a.action_id)
                {
                    self.action_states.push(ActionState {
                        action_id: a.action_id.clone(),
                        action_type: Some(a.action_type.clone()),
                        action_status: ActionStatus::Waiting,
                        result_description: None,
                    });
                }
            }
            // An extended base may spare the stop at the old decision point.
            self.maybe_skip_stop(now);
            return;
        }
        for a in self.nodes.iter().flat_map(|n| n.actions.iter()) {
            self.action_states.push(ActionState {
                action_id: a.action_id.clone(),
                action_type: Some(a.action_type.clone()),
                action_status: ActionStatus::Waiting,
                result_description: None,
            });
        }
    }

    /// Checks an order's nodes, edges and actions against the map and the
    /// vehicle's abilities.
    fn resolve(&self, o: &Order) -> Result<(Vec<PlanNode>, Vec<PlanEdge>), String> {
        if o.edges.len() + 1 != o.nodes.len() {
            return Err(format!(
                "{} nodes need {} edges, not {}",
                o.nodes.len(),
                o.nodes.len().saturating_sub(1),
                o.edges.len()
            ));
        }
        let mut nodes = Vec::with_capacity(o.nodes.len());
        for n in &o.nodes {
            let Some(ix) = self.map.node_by_id(&n.node_id) else {
                return Err(format!("node {:?} is not on the map", n.node_id));
            };
            for a in &n.actions {
                if !matches!(
                    a.action_type.as_str(),
                    "pick" | "drop" | "startCharging" | "stopCharging"
                ) && a.action_type != SCAN_ACTION
                    && a.action_type != INSPECT_ACTION
                {
                    return Err(format!("action type {:?} is not supported", a.action_type));
                }
            }
            nodes.push(PlanNode {
                node_id: n.node_id.clone(),
                node: ix,
                seq: n.sequence_id,
                released: n.released,
                actions: n.actions.clone(),
            });
        }
        let mut edges = Vec::with_capacity(o.edges.len());
        for (i, e) in o.edges.iter().enumerate() {
            let (a, b) = (&nodes[i], &nodes[i + 1]);
            if e.start_node_id != a.node_id || e.end_node_id != b.node_id {
                return Err(format!(
                    "edge {:?} does not join nodes {:?} and {:?}",
                    e.edge_id, a.node_id, b.node_id
                ));
            }
            if a.seq.checked_add(1) != Some(e.sequence_id) || a.seq.checked_add(2) != Some(b.seq) {
                return Err(format!("edge {:?}: sequence ids out of order", e.edge_id));
            }
            let Some(arc) = self.map.out_arcs(a.node).iter().copied().find(|&x| {
                self.map.arc(x).to == b.node
                    && self.map.arc_edge(x).id == crate::order::map_edge_id(&e.edge_id)
            }) else {
                return Err(format!(
                    "edge {:?} cannot be driven from {:?} to {:?}",
                    e.edge_id, a.node_id, b.node_id
                ));
            };
            if e.released && !(a.released && b.released) {
                return Err(format!(
                    "edge {:?} is released but a node next to it is not",
                    e.edge_id
                ));
            }
            edges.push(PlanEdge {
                edge_id: e.edge_id.clone(),
                arc,
                seq: e.sequence_id,
                released: e.released,
            });
        }
        Ok((nodes, edges))
    }

    fn on_instant(&mut self, now: Ms, a: Action) {
        let mut state = ActionState {
            action_id: a.action_id.clone(),
            action_type: Some(a.action_type.clone()),
            action_status: ActionStatus::Finished,
            result_description: None,
        };
        match a.action_type.as_str() {
            "startPause" => self.pause(now),
            "stopPause" => self.resume(now),
            "cancelOrder" => {
                if !self.busy() || self.cancelling.is_some() {
                    state.action_status = ActionStatus::Failed;
                    self.warn(
                        "noOrderToCancel",
                        "there is no order to cancel",
                        vec![ErrorReference {
                            reference_key: "actionId".to_string(),
                            reference_value: a.action_id.clone(),
                        }],
                    );
                } else {
                    self.cancel(now);
                    if self.drive.is_some() {
                        state.action_status = ActionStatus::Running;
                        self.cancelling = Some(a.action_id.clone());
                    }
                }
            }
            "factsheetRequest" => self.publish_factsheet(now),
            "stateRequest" => {}
            _ => state.action_status = ActionStatus::Failed,
        }
        self.action_states.retain(|s| s.action_id != a.action_id);
        self.action_states.push(state);
    }

    fn pause(&mut self, now: Ms) {
        self.paused = true;
        if let Some(r) = self.running.as_mut()
            && let Some(end) = r.ends.take()
        {
            r.left = end.saturating_sub(now);
        }
        self.stop_at_edge_end(now);
    }

    fn resume(&mut self, now: Ms) {
        self.paused = false;
        if let Some(r) = self.running.as_mut()
            && r.ends.is_none()
        {
            r.ends = Some(now.saturating_add(r.left));
        }
    }

    /// Cancels the order: everything not yet started fails, and the vehicle
    /// stops where it stands or at the end of the edge it is on.
    fn cancel(&mut self, now: Ms) {
        let keep = self.drive.is_some();
        if keep {
            self.nodes.truncate(1);
            self.edges.truncate(1);
            if let Some(n) = self.nodes.front_mut() {
                n.actions.clear();
            }
        } else {
            self.nodes.clear();
            self.edges.clear();
        }
        self.queued.clear();
        self.running = None;
        for s in &mut self.action_states {
            if !matches!(
                s.action_status,
                ActionStatus::Finished | ActionStatus::Failed
            ) {
                s.action_status = ActionStatus::Failed;
            }
        }
        self.stop_at_edge_end(now);
    }

    /// Makes a vehicle on an edge stop at its end.
    fn stop_at_edge_end(&mut self, now: Ms) {
        let Some(d) = self.drive.as_ref() else {
            return;
        };
        if d.to_stop {
            return;
        }
        let (arc, from_stop, entered) = (d.arc, d.from_stop, d.entered);
        let t = self.arc_time(arc, from_stop, true);
        if let Some(d) = self.drive.as_mut() {
            d.to_stop = true;
            d.stop_for_base = false;
            d.arrive = entered.saturating_add(t).max(now);
        }
    }

    /// After the base was extended: a vehicle braking only for the old
    /// decision point drives on if it has not yet started to brake.
    fn maybe_skip_stop(&mut self, now: Ms) {
        let Some(d) = self.drive.clone() else {
            return;
        };
        if !d.to_stop || !d.stop_for_base || self.paused || self.broken {
            return;
        }
        let end = self.map.arc(d.arc).to;
        let Some(next) = self.nodes.front() else {
            return;
        };
        if next.node != end || !next.actions.is_empty() {
            return;
        }
        let Some(after) = self.nodes.get(1) else {
            return;
        };
        if !after.released {
            return;
        }
        if let Some(brake) = self.brake_point(d.arc, d.from_stop, d.entered)
            && now < brake
        {
            let t = self.arc_time(d.arc, d.from_stop, false);
            if let Some(d) = self.drive.as_mut() {
                d.to_stop = false;
                d.stop_for_base = false;
                d.arrive = d.entered.saturating_add(t);
            }
        }
    }

    fn speed(&self, arc: ArcIx) -> f64 {
        let load = if self.load.is_some() {
            LoadKind::Loaded
        } else {
            LoadKind::Empty
        };
        self.map
            .arc_edge(arc)
            .speed_limit_mps
            .min(self.config.profile.top_speed(load))
    }

    fn arc_time(&self, arc: ArcIx, from_stop: bool, to_stop: bool) -> Ms {
        let e = self.map.arc_edge(arc);
        self.config
            .profile
            .drive_ms(e.length_m, self.speed(arc), from_stop, to_stop)
    }

    /// The last moment the vehicle can still decide not to stop at the end
    /// of `arc`: when it would start braking. `None` on an edge too short to
    /// reach full speed.
    fn brake_point(&self, arc: ArcIx, from_stop: bool, entered: Ms) -> Option<Ms> {
        let p = &self.config.profile;
        let v = self.speed(arc);
        let len = self.map.arc_edge(arc).length_m;
        let d_acc = if from_stop {
            v * v / (2.0 * p.accel_mps2)
        } else {
            0.0
        };
        let d_dec = v * v / (2.0 * p.decel_mps2);
        if len.is_nan() || len < d_acc + d_dec {
            return None;
        }
        Some(entered.saturating_add(p.drive_ms(len - d_dec, v, from_stop, false)))
    }

    fn queue_action(&mut self, a: Action) {
        self.action_states.retain(|s| s.action_id != a.action_id);
        self.action_states.push(ActionState {
            action_id: a.action_id.clone(),
            action_type: Some(a.action_type.clone()),
            action_status: ActionStatus::Waiting,
            result_description: None,
        });
        self.queued.push_back(a);
    }

    fn set_status(&mut self, id: &str, status: ActionStatus) {
        if let Some(s) = self.action_states.iter_mut().find(|s| s.action_id == id) {
            s.action_status = status;
        }
    }

    fn duration(&self, a: &Action) -> Ms {
        let given = a
            .parameter(DURATION_KEY)
            .and_then(|v| v.as_f64())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| (s * 1000.0).round() as Ms);
        match a.action_type.as_str() {
            "pick" | "drop" => given.unwrap_or(self.config.default_action_ms),
            _ => given.unwrap_or(0),
        }
    }

    /// Wakes the vehicle at `now`.
    pub fn handle_timeout(&mut self, now: Ms) {
        self.advance(now);
        if now >= self.next_state {
            self.publish_state(now);
        }
    }

    /// Carries out everything due by `now`, event by event.
    fn advance(&mut self, now: Ms) {
        let now = now.max(self.now);
        for _ in 0..100_000 {
            let Some(t) = self.next_event().filter(|&t| t <= now) else {
                break;
            };
            let t = t.max(self.now);
            self.charge_until(t);
            self.now = t;
            if !self.step(t) {
                break;
            }
        }
        self.charge_until(now);
        self.now = now;
    }

    fn charge_until(&mut self, t: Ms) {
        if self.charging && self.drive.is_none() && t > self.now {
            let gained = self.config.battery.charge_pct_per_min * (t - self.now) as f64 / 60_000.0;
            self.battery = (self.battery + gained).min(100.0);
        }
    }

    /// When the next thing happens on its own, if anything will.
    fn next_event(&self) -> Option<Ms> {
        if let Some(d) = &self.drive {
            return Some(d.arrive);
        }
        if self.broken {
            return None;
        }
        if let Some(r) = &self.running {
            return r.ends;
        }
        if self.paused {
            return None;
        }
        if !self.queued.is_empty() {
            return Some(self.now);
        }
        if self.cancelling.is_some() {
            return Some(self.now);
        }
        if self.can_depart() {
            return Some(self.now);
        }
        None
    }

    fn can_depart(&self) -> bool {
        !self.paused
            && !self.broken
            && self.running.is_none()
            && self.queued.is_empty()
            && self.edges.front().is_some_and(|e| e.released)
            && self.nodes.front().is_some_and(|n| n.released)
    }

    /// Handles one event at `t`; false if nothing happened.
    fn step(&mut self, t: Ms) -> bool {
        if let Some(d) = self.drive.clone()
            && d.arrive <= t
        {
            self.arrive(t, d);
            return true;
        }
        if self.broken {
            return false;
        }
        if let Some(r) = self.running.clone() {
            if r.ends.is_some_and(|e| e <= t) {
                self.finish(t, r.action);
                return true;
            }
            return false;
        }
        if self.paused {
            return false;
        }
        if let Some(a) = self.queued.pop_front() {
            let d = self.duration(&a);
            self.set_status(&a.action_id, ActionStatus::Running);
            self.running = Some(Running {
                action: a,
                ends: Some(t.saturating_add(d)),
                left: d,
            });
            self.publish_state(t);
            return true;
        }
        if let Some(id) = self.cancelling.take() {
            self.set_status(&id, ActionStatus::Finished);
            self.publish_state(t);
            return true;
        }
        if self.can_depart() {
            self.depart(t);
            return true;
        }
        false
    }

    fn depart(&mut self, t: Ms) {
        let Some(e) = self.edges.front().cloned() else {
            return;
        };
        let from_stop = self.stopped;
        let next = self.nodes.front();
        let has_actions = next.is_some_and(|n| !n.actions.is_empty());
        let decision = !self.nodes.get(1).is_some_and(|n| n.released);
        let to_stop = has_actions || decision;
        let arrive = t.saturating_add(self.arc_time(e.arc, from_stop, to_stop));
        self.charging = false;
        if let Some(last) = self.trace.last_mut() {
            last.depart = t;
        }
        self.drive = Some(Drive {
            arc: e.arc,
            from_stop,
            to_stop,
            stop_for_base: to_stop && !has_actions,
            entered: t,
            arrive,
        });
        self.stopped = false;
        self.publish_state(t);
    }

    fn arrive(&mut self, t: Ms, d: Drive) {
        self.drive = None;
        let len = self.map.arc_edge(d.arc).length_m;
        self.battery =
            (self.battery - self.config.battery.drain_pct_per_km * len / 1000.0).clamp(0.0, 100.0);
        self.edges.pop_front();
        let reached = self.nodes.pop_front();
        self.last_node = self.map.arc(d.arc).to;
        self.stopped = d.to_stop;
        self.trace.push(Step {
            node: self.last_node,
            arc: Some(d.arc),
            enter: d.entered,
            arrive: t,
            depart: NEVER,
            stops: d.to_stop,
        });
        if let Some(n) = reached {
            self.last_seq = n.seq;
            if self.cancelling.is_none() {
                for a in n.actions {
                    self.queued.push_back(a);
                }
            }
        }
        if self.cancelling.is_some() {
            self.nodes.clear();
            self.edges.clear();
        }
        if !self.stopped && !self.can_depart() {
            // Nothing released ahead after all: it stops here.
            self.stopped = true;
            if let Some(last) = self.trace.last_mut() {
                last.stops = true;
            }
        }
        self.publish_state(t);
    }

    fn finish(&mut self, t: Ms, a: Action) {
        self.running = None;
        match a.action_type.as_str() {
            "pick" => {
                self.load = Some(
                    a.parameter("loadId")
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_string(),
                )
            }
            "drop" => self.load = None,
            "startCharging" => {
                self.charging = self.map.node(self.last_node).kind == NodeKind::Charger
            }
            "stopCharging" => self.charging = false,
            _ => {}
        }
        self.set_status(&a.action_id, ActionStatus::Finished);
        self.publish_state(t);
    }

    /// When the vehicle next wants `handle_timeout`.
    pub fn poll_timeout(&self) -> Option<Ms> {
        let event = self.next_event();
        Some(event.map_or(self.next_state, |e| e.min(self.next_state)))
    }

    /// The next message to publish.
    pub fn poll_publish(&mut self) -> Option<Publish> {
        self.outbox.pop_front()
    }

    fn topic(&self, kind: TopicKind) -> String {
        topic(
            &self.config.interface_name,
            self.config.version,
            &self.config.manufacturer,
            &self.config.serial,
            kind,
        )
    }

    fn next_header(&mut self, kind: TopicKind) -> u64 {
        let h = self.header_out.entry(kind).or_insert(0);
        let id = *h;
        *h += 1;
        id
    }

    fn push(&mut self, kind: TopicKind, payload: Vec<u8>, qos: Qos, retain: bool) {
        if self.online {
            let topic = self.topic(kind);
            self.outbox.push_back(Publish {
                topic,
                payload,
                qos,
                retain,
            });
        }
    }

    fn publish_connection(&mut self, now: Ms, state: ConnectionState) {
        let message = Connection {
            header_id: self.next_header(TopicKind::Connection),
            timestamp: format_timestamp(now),
            version: self.config.version.as_str().to_string(),
            manufacturer: self.config.manufacturer.clone(),
            serial_number: self.config.serial.clone(),
            connection_state: state,
        };
        let payload = serde_json::to_vec(&message).unwrap_or_default();
        self.push(TopicKind::Connection, payload, Qos::AtLeastOnce, true);
    }

    /// The factsheet this vehicle announces, stamped with `now` and
    /// `header_id`.
    pub fn factsheet(&self, now: Ms, header_id: u64) -> Factsheet {
        let p = self.config.profile;
        let scopes = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let node_action = |t: &str| AgvAction {
            action_type: t.to_string(),
            action_scopes: scopes(&["NODE"]),
            action_description: None,
        };
        let instant_action = |t: &str| AgvAction {
            action_type: t.to_string(),
            action_scopes: scopes(&["INSTANT"]),
            action_description: None,
        };
        Factsheet {
            header_id: Some(header_id),
            timestamp: Some(format_timestamp(now)),
            version: self.config.version.as_str().to_string(),
            manufacturer: self.config.manufacturer.clone(),
            serial_number: self.config.serial.clone(),
            type_specification: TypeSpecification {
                series_name: "IGV".to_string(),
                series_description: Some("Intelligent guided vehicle for containers".into()),
                agv_kinematic: "DIFF".to_string(),
                agv_class: "CARRIER".to_string(),
                max_load_mass: 40_000.0,
                localization_types: vec!["NATURAL".to_string()],
                navigation_types: vec!["AUTONOMOUS".to_string()],
            },
            physical_parameters: PhysicalParameters {
                speed_min: 0.0,
                speed_max: p.max_speed_empty_mps,
                acceleration_max: p.accel_mps2,
                deceleration_max: p.decel_mps2,
                height_min: None,
                height_max: 3.0,
                width: 3.0,
                length: p.length_m,
            },
            protocol_limits: ProtocolLimits {
                max_string_lens: serde_json::Map::new(),
                max_array_lens: serde_json::Map::new(),
                timing: Timing {
                    min_order_interval: 0.0,
                    min_state_interval: 0.0,
                    default_state_interval: Some(self.config.state_interval_ms as f64 / 1000.0),
                    visualization_interval: None,
                },
            },
            protocol_features: ProtocolFeatures {
                optional_parameters: vec![OptionalParameter {
                    parameter: "order.nodes.nodePosition".to_string(),
                    support: "SUPPORTED".to_string(),
                }],
                agv_actions: vec![
                    node_action("pick"),
                    node_action("drop"),
                    node_action("startCharging"),
                    node_action(SCAN_ACTION),
                    node_action(INSPECT_ACTION),
                    instant_action("cancelOrder"),
                    instant_action("startPause"),
                    instant_action("stopPause"),
                    instant_action("factsheetRequest"),
                ],
            },
            agv_geometry: serde_json::Map::new(),
            load_specification: serde_json::Map::new(),
        }
    }

    fn publish_factsheet(&mut self, now: Ms) {
        let header_id = self.next_header(TopicKind::Factsheet);
        let f = self.factsheet(now, header_id);
        let payload = serde_json::to_vec(&f).unwrap_or_default();
        self.push(TopicKind::Factsheet, payload, Qos::AtMostOnce, true);
    }

    /// The state the vehicle would report at `now`.
    pub fn state(&self, now: Ms, header_id: u64) -> State {
        let pos = match &self.drive {
            Some(d) => {
                let span = d.arrive.saturating_sub(d.entered).max(1) as f64;
                let f = (now.saturating_sub(d.entered) as f64 / span).clamp(0.0, 1.0);
                let arc = self.map.arc(d.arc);
                let e = self.map.edge(arc.edge);
                let along = if arc.forward { f } else { 1.0 - f };
                self.map.point_on_edge(arc.edge, along * e.length_m)
            }
            None => self.map.node(self.last_node).pos,
        };
        State {
            header_id,
            timestamp: format_timestamp(now),
            version: self.config.version.as_str().to_string(),
            manufacturer: self.config.manufacturer.clone(),
            serial_number: self.config.serial.clone(),
            order_id: self.order_id.clone(),
            order_update_id: self.order_update_id,
            last_node_id: self.map.node(self.last_node).id.clone(),
            last_node_sequence_id: self.last_seq,
            driving: self.drive.is_some(),
            paused: Some(self.paused),
            distance_since_last_node: None,
            operating_mode: OperatingMode::Automatic,
            node_states: self
                .nodes
                .iter()
                .map(|n| NodeState {
                    node_id: n.node_id.clone(),
                    sequence_id: n.seq,
                    released: n.released,
                })
                .collect(),
            edge_states: self
                .edges
                .iter()
                .map(|e| EdgeState {
                    edge_id: e.edge_id.clone(),
                    sequence_id: e.seq,
                    released: e.released,
                })
                .collect(),
            agv_position: Some(AgvPosition {
                x: pos.x,
                y: pos.y,
                theta: 0.0,
                map_id: self.map_id.clone(),
                position_initialized: true,
            }),
            loads: Some(
                self.load
                    .iter()
                    .map(|id| Load {
                        load_id: Some(id.clone()),
                        load_type: Some("container".to_string()),
                    })
                    .collect(),
            ),
            action_states: self.action_states.clone(),
            battery_state: BatteryState {
                battery_charge: (self.battery * 10.0).round() / 10.0,
                charging: self.charging,
            },
            errors: self.errors.clone(),
            safety_state: SafetyState {
                e_stop: EStop::None,
                field_violation: false,
            },
        }
    }

    fn publish_state(&mut self, now: Ms) {
        let header_id = self.next_header(TopicKind::State);
        let s = self.state(now, header_id);
        let payload = serde_json::to_vec(&s).unwrap_or_default();
        self.push(TopicKind::State, payload, Qos::AtMostOnce, false);
        self.next_state = now.saturating_add(self.config.state_interval_ms.max(1));
    }
}
