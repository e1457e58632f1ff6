//! A tiny but valid lane and a builder of timed plans on it, shared by the
//! integration tests.
//!
//! The lane, with every edge 100 m long:
//!
//! ```text
//! outbound:  VN-W1 -> VN-B1 => BR-1 => CN-B1 -> CN-W1 -> CN-Y1 (yard slot)
//!                                                   \-> CN-P1 (parking)
//! return:    CN-Y1 -> CN-B2 => BR-2 => VN-B2 -> VN-W1
//! VN side:   VN-Y1 (yard slot) <-> VN-W1   (single lane, both directions)
//!            VN-W1 -> VN-P1 (parking) -> VN-W1
//!            VN-W1 -> VN-P2 (parking) -> VN-W1
//! ```
//!
//! `VN-YARD-ROAD` (VN-Y1 to VN-W1) is the one bidirectional road edge; the
//! bridge edges (`=>`, 15 km/h) join each bank's bridge end to a border
//! node; the zone `VN-PARKING` holds `VN-Y1` and `VN-P1` and has capacity 1.
//! Driving times at the limit: 18 s on a 20 km/h edge, 14.4 s at 25 km/h and
//! 24 s on the bridge.

#![allow(dead_code)]

use borderlane_model::map::{EdgePart, MapParts, NodePart, ZonePart};
use borderlane_model::{
    Direction, EdgeKind, LaneMap, Ms, NEVER, NodeKind, SafetyRules, Side, Step, TimedPlan,
    VehicleId, ZoneKind,
};
use nalgebra::Vector2;

/// The headway of the default rules.
pub const H: Ms = 12_000;
/// Time at the limit on a 100 m edge at 20 km/h.
pub const YARD: Ms = 18_000;
/// Time at the limit on a 100 m edge at 25 km/h.
pub const ROAD: Ms = 14_400;
/// Time at the limit on a 100 m bridge edge at 15 km/h.
pub const BRIDGE: Ms = 24_000;

pub fn rules() -> SafetyRules {
    SafetyRules { headway_ms: H }
}

pub fn lane() -> LaneMap {
    let node = |id: &str, kind: NodeKind, side: Option<Side>, x: f64, y: f64| NodePart {
        id: id.to_string(),
        kind,
        side,
        pos: Vector2::new(x, y),
    };
    let edge = |id: &str, kind: EdgeKind, from: &str, to: &str, direction, kmh: f64| EdgePart {
        id: id.to_string(),
        kind,
        from: from.to_string(),
        to: to.to_string(),
        direction,
        length_m: Some(100.0),
        speed_limit_kmh: kmh,
        geometry: Vec::new(),
    };
    use Direction::{Bidirectional, OneWay};
    use EdgeKind::{Bridge, Road, Yard};
    use NodeKind::{Border, BridgeEnd, Parking, Waypoint, YardSlot};
    let (vn, cn) = (Some(Side::Vn), Some(Side::Cn));
    let parts = MapParts {
        name: "tiny-lane".to_string(),
        nodes: vec![
            node("VN-Y1", YardSlot, vn, 0.0, 0.0),
            node("VN-P1", Parking, vn, 0.0, 100.0),
            node("VN-P2", Parking, vn, 100.0, 100.0),
            node("VN-W1", Waypoint, vn, 100.0, 0.0),
            node("VN-B1", BridgeEnd, vn, 200.0, 0.0),
            node("BR-1", Border, None, 300.0, 0.0),
            node("CN-B1", BridgeEnd, cn, 400.0, 0.0),
            node("CN-W1", Waypoint, cn, 500.0, 0.0),
            node("CN-Y1", YardSlot, cn, 600.0, 0.0),
            node("CN-P1", Parking, cn, 500.0, -100.0),
            node("CN-B2", BridgeEnd, cn, 400.0, -50.0),
            node("BR-2", Border, None, 300.0, -50.0),
            node("VN-B2", BridgeEnd, vn, 200.0, -50.0),
        ],
        edges: vec![
            edge("VN-YARD-ROAD", Road, "VN-Y1", "VN-W1", Bidirectional, 20.0),
            edge("VN-P1-IN", Yard, "VN-W1", "VN-P1", OneWay, 20.0),
            edge("VN-P1-OUT", Yard, "VN-P1", "VN-W1", OneWay, 20.0),
            edge("VN-P2-IN", Yard, "VN-W1", "VN-P2", OneWay, 20.0),
            edge("VN-P2-OUT", Yard, "VN-P2", "VN-W1", OneWay, 20.0),
            edge("VN-APPROACH", Road, "VN-W1", "VN-B1", OneWay, 25.0),
            edge("BRIDGE-1-VN", Bridge, "VN-B1", "BR-1", OneWay, 15.0),
            edge("BRIDGE-1-CN", Bridge, "BR-1", "CN-B1", OneWay, 15.0),
            edge("CN-EXIT", Road, "CN-B1", "CN-W1", OneWay, 25.0),
            edge("CN-YARD-IN", Yard, "CN-W1", "CN-Y1", OneWay, 20.0),
            edge("CN-P1-IN", Yard, "CN-W1", "CN-P1", OneWay, 20.0),
            edge("CN-YARD-OUT", Yard, "CN-Y1", "CN-B2", OneWay, 20.0),
            edge("BRIDGE-2-CN", Bridge, "CN-B2", "BR-2", OneWay, 15.0),
            edge("BRIDGE-2-VN", Bridge, "BR-2", "VN-B2", OneWay, 15.0),
            edge("VN-RETURN", Road, "VN-B2", "VN-W1", OneWay, 25.0),
        ],
        zones: vec![ZonePart {
            id: "VN-PARKING".to_string(),
            kind: ZoneKind::Parking,
            side: Side::Vn,
            capacity: 1,
            members: vec!["VN-Y1".to_string(), "VN-P1".to_string()],
            outline: Vec::new(),
        }],
        ..MapParts::default()
    };
    LaneMap::from_parts(parts).expect("the test lane is valid")
}

/// Builds a timed plan step by step, by node id.
pub struct Plan<'m> {
    map: &'m LaneMap,
    vehicle: Option<VehicleId>,
    steps: Vec<Step>,
}

impl<'m> Plan<'m> {
    /// A plan that starts standing at `node` at time `at`.
    pub fn at(map: &'m LaneMap, vehicle: u32, node: &str, at: Ms) -> Plan<'m> {
        Plan {
            map,
            vehicle: Some(VehicleId(vehicle)),
            steps: vec![Step {
                node: map.node_by_id(node).expect("known node"),
                arc: None,
                enter: at,
                arrive: at,
                depart: at,
                stops: true,
            }],
        }
    }

    /// A plan that starts on the arc from `from` to `to`, entered at `enter`,
    /// reaching `to` without stopping at `arrive`.
    pub fn on_arc(
        map: &'m LaneMap,
        vehicle: u32,
        from: &str,
        to: &str,
        enter: Ms,
        arrive: Ms,
    ) -> Plan<'m> {
        let from = map.node_by_id(from).expect("known node");
        let to = map.node_by_id(to).expect("known node");
        Plan {
            map,
            vehicle: Some(VehicleId(vehicle)),
            steps: vec![Step {
                node: to,
                arc: Some(map.arc_between(from, to).expect("known arc")),
                enter,
                arrive,
                depart: arrive,
                stops: false,
            }],
        }
    }

    /// A plan that starts passing through `node` at `at` without stopping.
    pub fn passing(map: &'m LaneMap, vehicle: u32, node: &str, at: Ms) -> Plan<'m> {
        let mut plan = Plan::at(map, vehicle, node, at);
        plan.steps[0].stops = false;
        plan
    }

    /// Stays at the current node until `t`.
    pub fn wait_until(mut self, t: Ms) -> Plan<'m> {
        let last = self.steps.last_mut().expect("a step");
        last.depart = t;
        last.stops = true;
        self
    }

    /// Drives on to `node`, taking `ms` on the arc, without stopping there.
    pub fn go_in(mut self, node: &str, ms: Ms) -> Plan<'m> {
        let last = *self.steps.last().expect("a step");
        let to = self.map.node_by_id(node).expect("known node");
        let arc = self.map.arc_between(last.node, to).expect("known arc");
        let enter = last.depart;
        self.steps.push(Step {
            node: to,
            arc: Some(arc),
            enter,
            arrive: enter + ms,
            depart: enter + ms,
            stops: false,
        });
        self
    }

    /// Drives on to `node` at the speed limit.
    pub fn go(self, node: &str) -> Plan<'m> {
        let last = *self.steps.last().expect("a step");
        let to = self.map.node_by_id(node).expect("known node");
        let arc = self.map.arc_between(last.node, to).expect("known arc");
        let ms = at_limit(self.map, arc);
        self.go_in(node, ms)
    }

    /// Drives along several nodes at the speed limit.
    pub fn route(self, nodes: &[&str]) -> Plan<'m> {
        nodes.iter().fold(self, |plan, node| plan.go(node))
    }

    /// Comes to rest at the current node for good.
    pub fn rest(mut self) -> Plan<'m> {
        let last = self.steps.last_mut().expect("a step");
        last.depart = NEVER;
        last.stops = true;
        self
    }

    /// The same plan with no vehicle named.
    pub fn anonymous(mut self) -> Plan<'m> {
        self.vehicle = None;
        self
    }

    /// Changes one step in place.
    pub fn edit(mut self, step: usize, change: impl FnOnce(&mut Step)) -> Plan<'m> {
        change(&mut self.steps[step]);
        self
    }

    pub fn build(self) -> TimedPlan {
        TimedPlan {
            vehicle: self.vehicle,
            steps: self.steps,
        }
    }
}

/// The time an arc takes at its speed limit, rounded up to the millisecond.
pub fn at_limit(map: &LaneMap, arc: borderlane_model::ArcIx) -> Ms {
    let e = map.arc_edge(arc);
    (e.length_m / e.speed_limit_mps * 1000.0).ceil() as Ms
}

pub fn node(map: &LaneMap, id: &str) -> borderlane_model::NodeIx {
    map.node_by_id(id).expect("known node")
}

pub fn arc(map: &LaneMap, from: &str, to: &str) -> borderlane_model::ArcIx {
    map.arc_between(node(map, from), node(map, to))
        .expect("known arc")
}

pub fn edge(map: &LaneMap, id: &str) -> borderlane_model::EdgeIx {
    let ix = map
        .edges
        .iter()
        .position(|e| e.id == id)
        .expect("known edge");
    borderlane_model::EdgeIx(ix as u32)
}
