//! Timed plans and the safety rules they must keep.
//!
//! A [`TimedPlan`] is a vehicle's route with a time slot on every node and arc
//! of it. The rules below are the contract between the planner, which must
//! produce plans that keep them, and the verifier, which checks them with code
//! of its own. Both read the same definitions, written out here once:
//!
//! * **Node.** Step `s` occupies its node during `[s.arrive, s.depart + H)`,
//!   where `H` is [`SafetyRules::headway_ms`]; a step that stays forever
//!   (`depart == NEVER`) occupies it from `arrive` on. No two vehicles may
//!   occupy one node at overlapping times.
//! * **Arc, same direction.** Step `s` with `arc = Some(a)` traverses arc `a`
//!   during `[s.enter, s.arrive]`. Two traversals of one arc keep their order
//!   and are at least `H` apart both at entry and at exit: no overtaking, no
//!   tailgating.
//! * **Single lane, opposite directions.** The two arcs of a bidirectional
//!   edge are never used at overlapping times: a traversal of one may start
//!   only `H` after the last traversal of the other has ended.
//! * **Zone.** At every instant, the number of distinct vehicles occupying
//!   some member node of a zone is at most the zone's capacity.
//! * **Kinematics.** No arc is traversed faster than its speed limit allows.
//! * **Waiting.** A vehicle waits only at nodes where vehicles may wait
//!   ([`NodeKind::may_wait`]: never on the bridge), except at the first step
//!   of a plan that starts standing there (stopped on the bridge by a fault
//!   ahead), which it leaves as soon as the way is free.
//! * **Rest.** A plan ends at a place where the vehicle may wait indefinitely
//!   (its last step has `depart == NEVER` at a [`NodeKind::is_place`] node), so
//!   vehicles that wait never block one another in a cycle.
//!
//! [`NodeKind::is_place`]: crate::map::NodeKind::is_place
//! [`NodeKind::may_wait`]: crate::map::NodeKind::may_wait

use serde::{Deserialize, Serialize};

use crate::map::{ArcIx, NodeIx};

/// Time in milliseconds since the start of a run (virtual or wall time; the
/// core cannot tell which).
pub type Ms = u64;

/// The departure time of a step that never departs.
pub const NEVER: Ms = u64::MAX;

/// A vehicle's compact identity inside the orchestrator. Ordering by this id
/// is the tie-break wherever vehicles are iterated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VehicleId(pub u32);

impl std::fmt::Display for VehicleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "igv-{:03}", self.0)
    }
}

/// One node of a timed plan, with the arc that leads to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The node reached by this step.
    pub node: NodeIx,
    /// The arc taken to reach `node`; `None` for the first step of a plan.
    pub arc: Option<ArcIx>,
    /// When the vehicle entered `arc` (equal to the previous step's `depart`,
    /// except for a first step that starts on an arc).
    pub enter: Ms,
    /// When the vehicle's front reaches `node`.
    pub arrive: Ms,
    /// When the vehicle leaves `node`; [`NEVER`] if it stays.
    pub depart: Ms,
    /// Whether the vehicle comes to a stop at `node` (braking on `arc` and
    /// accelerating again on the next arc). A step that does not stop has
    /// `depart == arrive`.
    pub stops: bool,
}

/// A vehicle's route with time slots: a sequence of steps along connected
/// arcs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimedPlan {
    pub vehicle: Option<VehicleId>,
    pub steps: Vec<Step>,
}

impl TimedPlan {
    pub fn new(vehicle: VehicleId, steps: Vec<Step>) -> TimedPlan {
        TimedPlan {
            vehicle: Some(vehicle),
            steps,
        }
    }

    /// The time the plan reaches its last node, if it has one.
    pub fn end_arrival(&self) -> Option<Ms> {
        self.steps.last().map(|s| s.arrive)
    }
}

/// The separation every plan and every executed trace must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyRules {
    /// Minimum time headway between two vehicles at one node or on one arc,
    /// and the clearance between opposite uses of a single lane.
    ///
    /// The default follows the road-capacity rule `(length + gap) / speed +
    /// reaction`: a 15.6 m vehicle, a 30 m gap, 15 km/h on the bridge and one
    /// second of reaction give about 12 s.
    pub headway_ms: Ms,
}

impl Default for SafetyRules {
    fn default() -> SafetyRules {
        SafetyRules { headway_ms: 12_000 }
    }
}
