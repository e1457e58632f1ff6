//! The core's configuration: the fleet, the safety rules and the timings of
//! the work at each stop.

use borderlane_model::{Ms, SafetyRules, Side};
use serde::{Deserialize, Serialize};

use crate::kinematics::VehicleProfile;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoreConfig {
    pub rules: SafetyRules,
    pub profile: VehicleProfile,
    /// The vehicles this core controls, in the order their ids are given.
    pub fleet: Vec<VehicleSpec>,
    /// How often the core looks at its queue while work is waiting, ms.
    pub tick_ms: Ms,
    /// How far a vehicle may run behind its plan before it is replanned, ms.
    pub late_tolerance_ms: Ms,
    /// How long a crane takes to put a container on a vehicle, ms.
    pub pick_ms: Ms,
    /// How long a crane takes to take it off, ms.
    pub drop_ms: Ms,
    /// Below this charge an idle vehicle goes to a charger first, percent.
    pub battery_low_pct: f64,
    /// A charging vehicle is available again from this charge on, percent.
    pub battery_ready_pct: f64,
    /// How long a vehicle with no plan to its goal waits before it tries
    /// again, ms.
    pub retry_ms: Ms,
    /// At most this many queued jobs are considered in one dispatch round.
    pub dispatch_window: usize,
    /// The side whose territory this core plans, or `None` for the whole
    /// lane. With a side, the core starts only the vehicles of the fleet
    /// that start there, plans up to the border node, and hands vehicles
    /// over through [`crate::CrossingOutput`] and [`crate::CrossingInput`].
    pub territory: Option<Side>,
    /// How long before a crossing vehicle leaves the last place it may wait
    /// before the bridge it is handed over, ms.
    pub commit_lead_ms: Ms,
    /// The latest a far side grants an entry after the time asked, ms.
    pub grant_horizon_ms: Ms,
    /// How much later than its earliest a vehicle asks to pass the border,
    /// so that the grant is back before it must leave, ms.
    pub crossing_slack_ms: Ms,
    /// How far ahead a committed plan reaches, ms; 0 plans every job whole.
    /// A plan is cut at the first stop of its job at a place (a yard slot,
    /// parking place, charger or inspection bay) that it reaches or leaves
    /// later than this from now: the vehicle rests there, and its plan is
    /// extended before it gets there, or once its work there is done. A
    /// core for one side's territory does not cut a plan that crosses the
    /// border: the grant covers it whole.
    pub plan_horizon_ms: Ms,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleSpec {
    pub serial: String,
    /// The node the vehicle stands at when the core starts.
    pub start: String,
}

impl Default for CoreConfig {
    fn default() -> CoreConfig {
        CoreConfig {
            rules: SafetyRules::default(),
            profile: VehicleProfile::default(),
            fleet: Vec::new(),
            tick_ms: 1_000,
            late_tolerance_ms: 5_000,
            pick_ms: 90_000,
            drop_ms: 90_000,
            battery_low_pct: 25.0,
            battery_ready_pct: 90.0,
            retry_ms: 60_000,
            dispatch_window: 64,
            territory: None,
            commit_lead_ms: 30_000,
            grant_horizon_ms: 600_000,
            crossing_slack_ms: 2_000,
            // Off: with a horizon, bridge_breakdown (split) shows conflicts
            // and one case of the 400-seed sweep leaves a job undelivered.
            plan_horizon_ms: 0,
        }
    }
}
