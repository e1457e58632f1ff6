//! The shared vocabulary of Borderlane.
//!
//! This crate holds the data every other part agrees on: the lane map (nodes,
//! edges, zones) with its local metric frame and spatial index, the timed plans
//! the planner produces, and the safety rules those plans must keep. It has no
//! clock, no sockets and no threads; it parses bytes it is handed and nothing
//! more.

pub mod map;
pub mod plan;

pub use map::{
    Arc, ArcIx, Direction, Edge, EdgeIx, EdgeKind, LaneMap, MapError, Node, NodeIx, NodeKind, Side,
    Zone, ZoneIx, ZoneKind,
};
pub use plan::{Ms, NEVER, SafetyRules, Step, TimedPlan, VehicleId};
