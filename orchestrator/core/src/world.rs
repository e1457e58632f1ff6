//! The core's state: a bevy_ecs `World` of vehicles and jobs, and the
//! resources the systems share.
//!
//! Components are small plain data; every query whose order can reach an
//! output is collected and sorted by id before use.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc as Shared;

use bevy_ecs::prelude::*;
use borderlane_model::{ArcIx, LaneMap, Ms, NEVER, NodeIx, Side, Step, TimedPlan, VehicleId};

use crate::config::CoreConfig;
use crate::io::{Action, ActionKind, Channel, Input, Output};
use crate::planner::{Planner, Start};
use crate::reservations::ReservationTable;

/// A vehicle the core controls.
#[derive(Component, Clone, Debug)]
pub struct Vehicle {
    pub id: VehicleId,
    pub serial: String,
}

/// What the core last heard from a vehicle.
#[derive(Component, Clone, Debug)]
pub struct Status {
    pub node: NodeIx,
    pub battery_pct: f64,
    pub loaded: bool,
    pub broken: bool,
    pub link_lost: bool,
    /// Paused by an operator: it stays where it is until resumed.
    pub held: bool,
    pub driving: bool,
    pub last_report: Ms,
    /// Finished action ids reported for the current plan.
    pub finished: BTreeSet<u64>,
    /// The plan the vehicle last reported it follows.
    pub following: Option<u64>,
}

/// The vehicle's committed motion.
#[derive(Component, Clone, Debug, Default)]
pub struct Motion {
    pub active: Option<ActivePlan>,
    /// The vehicle is pinned where it stands (no plan could be found, it is
    /// broken, its link is lost, or the lane is paused); its pin is in the
    /// reservation table.
    pub pinned: Option<TimedPlan>,
    /// When to try again to plan a pinned or waiting vehicle.
    pub retry_at: Option<Ms>,
}

/// A committed timed plan and what the vehicle does along it.
#[derive(Clone, Debug)]
pub struct ActivePlan {
    pub id: u64,
    pub plan: TimedPlan,
    /// Actions at steps: (step index, action, index of the job stop it
    /// completes, if any).
    pub actions: Vec<(usize, Action, Option<usize>)>,
    /// Where the plan was cut short of its job's end by the plan horizon.
    pub cut: Option<Cut>,
}

/// A plan cut at the plan horizon: it ends at rest at a stop of its job,
/// at a place, and is extended from there (see `extend_plans`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The index of the job stop the plan ends at.
    pub stop: usize,
    /// When the plan reaches that stop.
    pub arrive: Ms,
    /// When to plan the rest of the job, if before `arrive`: the time the
    /// stop's end comes within the horizon. `NEVER` if it does so only
    /// after the vehicle is there (a dwell as long as the horizon): the
    /// plan is then extended once the stop is done, never during its work,
    /// so the work is not begun again.
    pub extend_at: Ms,
}

/// What the vehicle is working on.
#[derive(Component, Clone, Debug, Default)]
pub struct Task {
    pub job: Option<u64>,
    pub charging: bool,
    /// Not moved off a yard slot again before this time.
    pub clear_after: Ms,
    /// An operator sent the vehicle to park: its next rest is a parking
    /// place, not where it stands.
    pub to_parking: bool,
    /// The vehicle's job could not be planned, so it went to wait out of
    /// the way at a parking place; it tries its job again from there.
    pub aside: bool,
    /// Where the vehicle is in a crossing to the other side's territory.
    pub crossing: Crossing,
    /// Handed over, it broke down before the border: this side keeps its
    /// place in the table until a report shows it past the border.
    pub stranded: bool,
}

/// A vehicle's part in a cross-border handoff, for a core that plans one
/// side's territory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Crossing {
    #[default]
    None,
    /// Near side: its job crosses; ask the far side for a time at the
    /// border at `at`, for no earlier than `earliest`. It rests meanwhile.
    Ask { at: Ms, earliest: Ms },
    /// Near side: asked; it rests until the answer.
    Asked,
    /// Near side: its plan passes the border node at `at`, as granted;
    /// it is handed over at `commit_at`.
    Granted { at: Ms, commit_at: Ms },
    /// Near side: handed over. It drives its released plan to the border
    /// node, which it passes at `at`, and is no longer commanded here; it
    /// is forgotten once past and `transferred`.
    Leaving { at: Ms, transferred: bool },
    /// Far side: granted, reserved from the border node at `at` on, and
    /// not yet handed over: not commanded yet.
    Incoming { at: Ms },
}

impl Crossing {
    /// Whether this core may command the vehicle.
    pub fn commanded(self) -> bool {
        !matches!(self, Crossing::Leaving { .. } | Crossing::Incoming { .. })
    }

    /// Whether the vehicle waits for the far side before it may move for
    /// its job.
    pub fn waiting(self) -> bool {
        matches!(self, Crossing::Ask { .. } | Crossing::Asked)
    }
}

/// The border nodes of a core that plans one side's territory: where its
/// vehicles leave it, and where the other side's enter.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Borders {
    pub side: Option<Side>,
    pub exit: Option<NodeIx>,
    pub entry: Option<NodeIx>,
}

/// A container to move.
#[derive(Component, Clone, Debug)]
pub struct Job {
    pub key: u64,
    pub id: String,
    pub container: String,
    pub pickup: NodeIx,
    pub from: Side,
    pub channel: Channel,
    pub customs_ms: Ms,
    pub priority: u8,
    pub deadline: Option<Ms>,
    pub created: Ms,
    pub vehicle: Option<VehicleId>,
    pub drop: Option<NodeIx>,
    /// The stops of the job, fixed at assignment.
    pub stops: Vec<JobStop>,
    /// How many stops are done.
    pub done: usize,
    /// Not dispatched before this time (after a failed attempt).
    pub not_before: Ms,
}

#[derive(Clone, Debug)]
pub struct JobStop {
    pub kind: ActionKind,
    pub nodes: Vec<NodeIx>,
    pub dwell: Ms,
}

/// The current time, as given with the input being handled.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct Now(pub Ms);

#[derive(Resource, Debug, Default)]
pub struct Inbox(pub VecDeque<Input>);

#[derive(Resource, Debug, Default)]
pub struct Outbox(pub VecDeque<Output>);

#[derive(Resource, Clone)]
pub struct MapRes(pub Shared<LaneMap>);

#[derive(Resource, Clone)]
pub struct Settings(pub Shared<CoreConfig>);

/// The planner and the reservation table it plans against.
#[derive(Resource)]
pub struct Planning {
    pub planner: Planner,
    pub table: ReservationTable,
}

/// Serial number and job id lookups, and id counters.
#[derive(Resource, Debug, Default)]
pub struct Registry {
    /// Every vehicle of the fleet, started here or not, by serial.
    pub fleet: BTreeMap<String, VehicleId>,
    pub vehicles: BTreeMap<String, Entity>,
    pub by_id: BTreeMap<VehicleId, Entity>,
    pub jobs: BTreeMap<u64, Entity>,
    pub job_ids: BTreeMap<String, u64>,
    pub next_job: u64,
    pub next_plan: u64,
    pub next_action: u64,
}

/// Lane-wide state set by operators.
#[derive(Resource, Debug, Default)]
pub struct Lane {
    pub paused: bool,
    /// Blocked nodes, each with the pseudo-vehicle that holds it.
    pub blocked: BTreeMap<NodeIx, VehicleId>,
}

/// Work the systems hand to each other within one step.
#[derive(Resource, Debug, Default)]
pub struct Pending {
    /// Vehicles whose plans must be repaired, and why.
    pub repair: BTreeMap<VehicleId, String>,
    /// Whether a resource was freed, so waiting vehicles may retry now.
    pub freed: bool,
    /// Entry requests from the other side, to decide on after dispatch.
    pub entries: Vec<crate::io::CrossingInput>,
}

/// Counters the shells export as metrics.
#[derive(Resource, Debug, Default, Clone)]
pub struct Stats {
    pub plans: u64,
    pub plan_failures: u64,
    pub repairs: u64,
    pub rejected_inputs: u64,
    pub delivered: u64,
    /// Vehicles handed over to the other side, and adopted from it.
    pub handed_over: u64,
    pub adopted: u64,
}

impl Status {
    /// Whether the vehicle cannot be given a route: broken, its link lost,
    /// or paused by an operator.
    pub fn immobile(&self) -> bool {
        self.broken || self.link_lost || self.held
    }
}

/// Whether a vehicle waits to be planned again at its `retry_at`: it could
/// move, but is pinned where it stands, or has gone aside for its job and
/// arrived there. (On its way aside it follows its plan like any other.)
pub fn waits_for_retry(status: &Status, motion: &Motion, task: &Task, now: Ms) -> bool {
    !status.immobile()
        && task.crossing.commanded()
        && !task.crossing.waiting()
        && (motion.pinned.is_some() || task.aside && motion.at_rest(now))
}

impl Motion {
    /// Whether the vehicle stands at the end of its plan, or pinned at a
    /// node, or has no plan at all.
    pub fn at_rest(&self, now: Ms) -> bool {
        match (&self.active, &self.pinned) {
            (Some(a), _) => a
                .plan
                .steps
                .last()
                .is_some_and(|s| s.arrive <= now && s.depart == NEVER),
            (None, Some(p)) => p.steps.first().is_some_and(|s| s.arc.is_none()),
            (None, None) => true,
        }
    }
}

/// Pseudo-vehicle ids for blocked places count down from the top, so they
/// never meet a real vehicle's id.
pub fn block_id(n: NodeIx) -> VehicleId {
    VehicleId(u32::MAX - n.0)
}

/// Where a vehicle is at `now` according to its committed plan, or where it
/// is pinned.
pub fn start_of(motion: &Motion, status: &Status, now: Ms) -> Start {
    let plan = motion
        .pinned
        .as_ref()
        .or(motion.active.as_ref().map(|a| &a.plan));
    let Some(plan) = plan else {
        return Start::AtNode {
            node: status.node,
            time: now,
            stopped: true,
        };
    };
    position_in(plan, now).unwrap_or(Start::AtNode {
        node: status.node,
        time: now,
        stopped: true,
    })
}

/// Where a plan puts its vehicle at `now`.
pub fn position_in(plan: &TimedPlan, now: Ms) -> Option<Start> {
    let steps = &plan.steps;
    // The last step whose arc has been entered by now.
    // The last step whose arc has been entered by now; a vehicle whose
    // departure is due exactly now is still at its node.
    let i = steps
        .iter()
        .rposition(|s| s.enter < now || s.arc.is_none())?;
    let s = steps[i];
    if s.arrive <= now || s.arrive == NEVER && s.arc.is_none() {
        if now < s.depart {
            return Some(Start::AtNode {
                node: s.node,
                time: now,
                stopped: s.stops || now > s.arrive,
            });
        }
        // Departed but the next arc not yet entered cannot happen: depart is
        // the next step's enter. Treat as standing at the node.
        return Some(Start::AtNode {
            node: s.node,
            time: now,
            stopped: true,
        });
    }
    let arc: ArcIx = s.arc?;
    Some(Start::OnArc {
        arc,
        enter: s.enter,
        earliest: s.arrive.max(now),
    })
}

/// The plan that pins a vehicle where a start puts it, forever.
pub fn pin_plan(vehicle: VehicleId, start: Start, map: &LaneMap) -> TimedPlan {
    let step = match start {
        Start::AtNode { node, time, .. } => Step {
            node,
            arc: None,
            enter: time,
            arrive: time,
            depart: NEVER,
            stops: true,
        },
        Start::OnArc { arc, enter, .. } => Step {
            node: map.arc(arc).to,
            arc: Some(arc),
            enter,
            arrive: NEVER,
            depart: NEVER,
            stops: true,
        },
    };
    TimedPlan::new(vehicle, vec![step])
}
