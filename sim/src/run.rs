//! Runs a [`Scenario`]: draws its containers and faults from one seeded
//! generator, feeds them to a [`Harness`] and sums up what happened in a
//! [`Report`].
//!
//! Every random draw comes from one `ChaCha8Rng` seeded with the run's seed,
//! in a fixed order (the containers in time order, then the random
//! breakdowns vehicle by vehicle, the random link losses vehicle by vehicle
//! and each vehicle's starting charge), so a scenario and a seed always give the
//! same inputs, the same event log and the same report. Only the wall-clock
//! time, which the command line measures and fills in, differs between runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use borderlane_core::io::{Channel, Event, JobRequest, OperatorCommand};
use borderlane_core::world::Stats;
use borderlane_core::{CoreConfig, Input, Output, VehicleSpec};
use borderlane_model::{LaneMap, Ms, NEVER, NodeIx, NodeKind, Side, TimedPlan, ZoneKind};
use borderlane_verify::Verifier;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::harness::{Harness, LogEntry, LogLine};
use crate::scenario::{Customs, Demand, Scenario, ScenarioError, Where, ms, serials};

const SECOND: f64 = 1_000.0;
const HOUR: Ms = 3_600_000;
const DAY: Ms = 24 * HOUR;
/// After the last day, the run goes on without new containers for at most
/// this long, so that the containers under way can arrive.
pub const DRAIN_MS: Ms = 6 * HOUR;
/// The drain is run in steps this long, to stop soon after the last
/// container arrives.
const DRAIN_STEP_MS: Ms = 10 * 60_000;

/// What a run found. Everything but `wall_seconds` is a pure function of the
/// scenario, the seed and the number of days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub days: u32,
    pub vehicles: usize,
    pub containers_requested: usize,
    pub containers_delivered: Delivered,
    /// From the loaded vehicle passing its own yard's gate on the way out to
    /// passing the far yard's gate on the way in, customs stops included.
    pub crossing_time_s: Percentiles,
    /// The same, each way.
    pub crossing_time_by_direction_s: ByDirection<Percentiles>,
    /// From the core queueing a container to its delivery on the far side:
    /// the wait for a vehicle, the pick, the crossing and the drop.
    pub job_time_s: Percentiles,
    /// What one lane direction can carry, vehicles an hour: one vehicle per
    /// minimum headway `H`, `3_600_000 / headway_ms` (300 at 12 s).
    ///
    /// This is the bridge lane's true capacity under the rules the planner
    /// keeps and the verifier checks. The road-capacity rule `(length +
    /// gap) / speed + reaction` sets `H`: 15.6 m, a 30 m gap and 1 s at the
    /// bridge's 15 km/h give 11.9 s, rounded up to 12 s, so the vehicle's
    /// length and the speed limit are inside `H` and do not bind again
    /// (the vehicle itself clears a point in 3.7 s). Each bridge lane is
    /// one-way, so no single-lane rule makes the two directions take
    /// turns, and no zone has a member on the bridge. A vehicle never
    /// waits on the bridge, so it holds each bridge node for exactly `H`
    /// (`[arrive, depart + H)` with `depart == arrive`), and two passes of
    /// one arc need `H` at entry and at exit: vehicles can cross the
    /// border node every `H`, and no closer. A map with a single-lane
    /// bridge, or a zone on it, would carry less than this figure.
    pub lane_capacity_per_hour: f64,
    /// The most containers delivered in one clock hour, both ways.
    pub peak_hour_throughput: usize,
    /// The most containers delivered in one clock hour, each way.
    pub peak_hour_delivered: ByDirection<usize>,
    /// The most vehicles (loaded or not) that crossed the border in one
    /// clock hour, each way: the figure to hold against
    /// `lane_capacity_per_hour`.
    pub peak_hour_bridge_crossings: ByDirection<usize>,
    /// The larger of the two directions' peak-hour bridge crossings as a
    /// fraction of `lane_capacity_per_hour`.
    pub lane_capacity_used: f64,
    /// The share of vehicle-time spent on a container, from its assignment
    /// to its delivery.
    pub vehicle_utilisation: f64,
    /// The share of charger-time a vehicle spent charging on it.
    pub charger_utilisation: f64,
    /// Charges (or battery swaps) finished.
    pub charges: u32,
    /// The lowest charge any vehicle had, percent.
    pub battery_lowest_pct: f64,
    /// How many times a vehicle's charge ran out: must be 0.
    pub battery_depleted: u32,
    /// Steps vehicles reached later than their plan said because the plan
    /// asked for more than the physics allow: 0 when plans are executable.
    pub late_steps: u64,
    /// Breaches of the safety rules in the committed plans and in what the
    /// vehicles actually did.
    pub conflicts: usize,
    /// Steps of the vehicles' record the verifier could not read; not
    /// counted as conflicts.
    pub trace_malformed: usize,
    /// The smallest gap between two vehicles following one another, as
    /// driven.
    pub min_headway_s: Option<f64>,
    /// Containers neither delivered nor still open: must be 0.
    pub jobs_lost: usize,
    /// Containers not yet delivered at the end of the run.
    pub open_jobs: usize,
    /// Containers still open when the drain ended.
    pub jobs_unfinished: usize,
    /// Vehicles held without a plan while containers are still open at the
    /// end of the run; 0 when the fleet is at rest or still working.
    pub deadlocks: usize,
    /// Commands to a vehicle from an orchestrator that did not command it
    /// at the time (two orchestrators only): must be 0.
    pub ownership_violations: u64,
    /// The handoffs between the two orchestrators, when there are two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoffs: Option<HandoffReport>,
    pub breakdowns: usize,
    /// Links lost (and regained).
    pub link_losses: u32,
    /// Commands the core sent to a vehicle whose link was lost.
    pub commands_while_lost: u64,
    /// Places taken out of service.
    pub outages: usize,
    pub plans: u64,
    pub plan_failures: u64,
    pub repairs: u64,
    pub rejected_inputs: u64,
    /// Virtual time simulated, including the drain.
    pub sim_seconds: f64,
    /// Wall-clock time of the run; filled in by the command line, 0 here.
    pub wall_seconds: f64,
    /// The SHA-256 of the whole event log.
    pub event_log_sha256: String,
}

/// What the two orchestrators said to each other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HandoffReport {
    /// Vehicles handed over to the other side, and adopted from it.
    pub handed_over: u64,
    pub adopted: u64,
    /// Times a vehicle reached the border node before the far side's
    /// orders reached it, and stopped there.
    pub border_stops: u32,
    /// Messages sent, lost, duplicated, cut off by a partition, delivered,
    /// and refused by the receiving gate.
    pub messages_sent: u64,
    pub messages_lost: u64,
    pub messages_duplicated: u64,
    pub messages_partitioned: u64,
    pub messages_delivered: u64,
    pub messages_rejected: u64,
    /// Protocol calls the state machines refused.
    pub protocol_errors: u64,
    /// Handoffs that completed (the far side accepted) and that were
    /// rolled back before a commit (refused, no answer, withdrawn).
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub rolled_back: u64,
    /// Handoffs still open on either side's records at the end.
    #[serde(default)]
    pub open_at_end: u64,
    /// Orchestrator restarts, and the journal entries their cores replayed.
    #[serde(default)]
    pub restarts: u64,
    #[serde(default)]
    pub replayed: u64,
    /// Messages, vehicle states and wake-ups lost while a side was down.
    #[serde(default)]
    pub lost_while_down: u64,
    /// Border stops with both sides up and the link whole since the
    /// commit: a vehicle stopped on the bridge because of the protocol.
    #[serde(default)]
    pub unexcused_border_stops: u32,
    /// Containers delivered more than once, and containers open on both
    /// sides' records at the end (the harness's custody ledger).
    #[serde(default)]
    pub containers_redelivered: u64,
    #[serde(default)]
    pub containers_on_both_sides: u64,
    /// Writes to a side's database that failed (nothing was sent after).
    #[serde(default)]
    pub store_errors: u64,
    /// Vehicles left standing on the bridge at the end.
    #[serde(default)]
    pub on_bridge_at_end: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub vn_to_cn: usize,
    pub cn_to_vn: usize,
    pub total: usize,
}

/// A figure for each direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByDirection<T> {
    pub vn_to_cn: T,
    pub cn_to_vn: T,
}

impl<T> ByDirection<T> {
    fn get_mut(&mut self, from: Side) -> &mut T {
        match from {
            Side::Vn => &mut self.vn_to_cn,
            Side::Cn => &mut self.cn_to_vn,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Report {
    /// Whether a safety invariant broke: a conflict, a lost container, or
    /// a vehicle commanded by a side that did not command it.
    pub fn unsafe_run(&self) -> bool {
        self.conflicts > 0
            || self.jobs_lost > 0
            || self.ownership_violations > 0
            || self
                .handoffs
                .is_some_and(|h| h.containers_redelivered > 0 || h.containers_on_both_sides > 0)
    }

    /// A few lines for a person.
    pub fn summary(&self) -> String {
        let d = &self.containers_delivered;
        let c = &self.crossing_time_s;
        let headway = self
            .min_headway_s
            .map_or("none shared a place".to_string(), |s| format!("{s:.1} s"));
        format!(
            "scenario {} (seed {}, {} day{}, {} vehicles)\n\
             containers: {} requested, {} delivered ({} VN->CN, {} CN->VN), {} unfinished, {} lost\n\
             crossing time (gate to gate): p50 {}, p95 {}, p99 {}, max {}\n\
             job time (queued to delivered): p50 {}, p95 {}\n\
             throughput: peak hour {} containers; bridge peak {} vehicles/h VN->CN, {} CN->VN, \
             {:.0} % of the lane capacity of {:.0} vehicles/h each way\n\
             fleet: {:.0} % of vehicle time on a container; chargers {:.0} % busy, {} charges, \
             lowest battery {:.0} %\n\
             safety: {} conflicts, smallest headway {}\n\
             faults: {} breakdowns, {} links lost, {} outages, {} plan repairs, {} plan failures, \
             {} deadlocked vehicles\n\
             {}\
             simulated {:.1} h in {:.1} s; event log sha256 {}\n",
            self.scenario,
            self.seed,
            self.days,
            if self.days == 1 { "" } else { "s" },
            self.vehicles,
            self.containers_requested,
            d.total,
            d.vn_to_cn,
            d.cn_to_vn,
            self.jobs_unfinished,
            self.jobs_lost,
            minutes(c.p50),
            minutes(c.p95),
            minutes(c.p99),
            minutes(c.max),
            minutes(self.job_time_s.p50),
            minutes(self.job_time_s.p95),
            self.peak_hour_throughput,
            self.peak_hour_bridge_crossings.vn_to_cn,
            self.peak_hour_bridge_crossings.cn_to_vn,
            self.lane_capacity_used * 100.0,
            self.lane_capacity_per_hour,
            self.vehicle_utilisation * 100.0,
            self.charger_utilisation * 100.0,
            self.charges,
            self.battery_lowest_pct,
            self.conflicts,
            headway,
            self.breakdowns,
            self.link_losses,
            self.outages,
            self.repairs,
            self.plan_failures,
            self.deadlocks,
            self.handoffs.map_or(String::new(), |h| format!(
                "handoffs: {} vehicles handed over, {} border stops, {} ownership violations; \
                 {} messages sent, {} lost, {} cut off, {} refused by the gate\n",
                h.handed_over,
                h.border_stops,
                self.ownership_violations,
                h.messages_sent,
                h.messages_lost,
                h.messages_partitioned,
                h.messages_rejected,
            ) + &if h.restarts > 0 {
                format!(
                    "restarts: {} (from the database, {} journal entries replayed), \
                     {} messages and states lost while down; handoffs {} completed, \
                     {} rolled back, {} open\n",
                    h.restarts,
                    h.replayed,
                    h.lost_while_down,
                    h.completed,
                    h.rolled_back,
                    h.open_at_end,
                )
            } else {
                String::new()
            }),
            self.sim_seconds / 3_600.0,
            self.wall_seconds,
            self.event_log_sha256,
        )
    }
}

fn minutes(s: f64) -> String {
    format!("{:.1} min", s / 60.0)
}

/// How far a run has got, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub now_ms: Ms,
    /// The end of the demand days; the drain may go past it.
    pub end_ms: Ms,
    pub delivered: usize,
}

/// A finished run: its report, the series behind its charts and the
/// harness, whose log holds every line.
pub struct Outcome {
    pub report: Report,
    pub series: Series,
    pub harness: Harness,
}

/// Figures over the run's time, for charts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Series {
    /// Containers delivered in each clock hour from the start, each way.
    pub delivered_per_hour: Vec<ByDirection<usize>>,
    /// Vehicles that crossed the border in each clock hour, each way.
    pub bridge_crossings_per_hour: Vec<ByDirection<usize>>,
    /// The spacing of the queue samples, ms.
    pub queue_sample_ms: Ms,
    /// Vehicles standing in each side's stop-line queue, sampled.
    pub stop_line_queue: Vec<ByDirection<usize>>,
    /// Vehicles in each side's scan lanes, sampled.
    pub scan_lanes: Vec<ByDirection<usize>>,
    /// Every container's crossing time, gate to gate, seconds, in delivery
    /// order.
    pub crossing_s: Vec<f64>,
}

/// The inputs a scenario draws for one seed, with those it sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// Containers, in arrival order: those drawn from the demand and the
    /// scenario's own `[[jobs]]`.
    pub jobs: Vec<(Ms, JobRequest)>,
    /// Breakdowns: vehicle, time, repair time, where.
    pub breakdowns: Vec<(String, Ms, Ms, Where)>,
    /// Link losses: vehicle, time, length.
    pub link_losses: Vec<(String, Ms, Ms)>,
    /// Each vehicle's charge at the start, percent, in fleet order: drawn,
    /// unless `[[fleet.start]]` sets it.
    pub battery_pct: Vec<f64>,
    /// Partitions drawn at random: from, until.
    pub partitions: Vec<(Ms, Ms)>,
    /// Restarts, drawn and set: side, time, how long it is down.
    pub restarts: Vec<(Side, Ms, Ms)>,
}

/// Reads a scenario's map.
pub fn load_map(s: &Scenario) -> Result<Arc<LaneMap>, ScenarioError> {
    let shown = s.map.display();
    let text = std::fs::read_to_string(&s.map)
        .map_err(|e| ScenarioError::Map(format!("map = {shown:?}: cannot read the map: {e}")))?;
    let map = LaneMap::from_geojson(&text)
        .map_err(|e| ScenarioError::Map(format!("map = {shown:?}: {e}")))?;
    Ok(Arc::new(map))
}

/// The fleet: vehicles on the parking places of both sides in turn, then on
/// the chargers.
pub fn fleet(map: &LaneMap, vehicles: usize) -> Result<Vec<VehicleSpec>, ScenarioError> {
    let mut starts = Vec::new();
    for kind in [NodeKind::Parking, NodeKind::Charger] {
        let vn = places(map, Side::Vn, kind);
        let cn = places(map, Side::Cn, kind);
        for i in 0..vn.len().max(cn.len()) {
            starts.extend(vn.get(i).cloned());
            starts.extend(cn.get(i).cloned());
        }
    }
    if vehicles > starts.len() {
        return Err(ScenarioError::Invalid(format!(
            "fleet.vehicles = {vehicles} is more than the map's {} parking places and chargers",
            starts.len()
        )));
    }
    Ok(serials(vehicles)
        .into_iter()
        .zip(starts)
        .map(|(serial, start)| VehicleSpec { serial, start })
        .collect())
}

/// The scenario's fleet: the vehicles of `[[fleet.start]]` where they say,
/// or else [`fleet`]'s.
pub fn fleet_of(map: &LaneMap, s: &Scenario) -> Result<Vec<VehicleSpec>, ScenarioError> {
    if s.fleet.start.is_empty() {
        return fleet(map, s.fleet.vehicles);
    }
    // The count may have been changed since the file was read (a sweep).
    s.validate_fleet()?;
    s.fleet
        .start
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if map.node_by_id(&v.node).is_none() {
                return Err(ScenarioError::Invalid(format!(
                    "fleet.start[{i}].node = {:?} is not a node of the map",
                    v.node
                )));
            }
            Ok(VehicleSpec {
                serial: v.serial.clone(),
                start: v.node.clone(),
            })
        })
        .collect()
}

fn places(map: &LaneMap, side: Side, kind: NodeKind) -> Vec<String> {
    map.nodes
        .iter()
        .filter(|n| n.kind == kind && n.side == Some(side))
        .map(|n| n.id.clone())
        .collect()
}

/// Draws the containers and breakdowns of `days` days.
pub fn draw(s: &Scenario, map: &LaneMap, seed: u64, days: u32) -> Result<Drawn, ScenarioError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let slots = [Side::Vn, Side::Cn].map(|side| places(map, side, NodeKind::YardSlot));
    if slots.iter().any(Vec::is_empty) {
        return Err(ScenarioError::Map(format!(
            "map = {:?}: each side needs at least one yard slot",
            s.map.display()
        )));
    }
    let mut jobs = match &s.demand {
        Some(d) => draw_demand(&mut rng, d, &s.customs, &slots, days),
        None => Vec::new(),
    };
    add_jobs(s, map, &mut jobs)?;
    let f = &s.faults;
    let mut breakdowns: Vec<(String, Ms, Ms, Where)> = f
        .breakdown
        .iter()
        .map(|b| {
            (
                b.vehicle.clone(),
                (b.at_s * SECOND) as Ms,
                (b.repair_s * SECOND) as Ms,
                b.place,
            )
        })
        .collect();
    let mut link_losses: Vec<(String, Ms, Ms)> = f
        .link_loss
        .iter()
        .map(|l| {
            (
                l.vehicle.clone(),
                (l.at_s * SECOND) as Ms,
                (l.for_s * SECOND) as Ms,
            )
        })
        .collect();
    // Random faults, vehicle by vehicle: the times from an exponential
    // draw with the mean time between failures, the lengths uniformly
    // between half and one and a half times their mean.
    let end = f64::from(days) * 24.0;
    let mut random = |mtbf_h: Option<f64>, mean_s: f64, out: &mut Vec<(String, Ms, Ms)>| {
        let Some(mtbf_h) = mtbf_h else { return };
        for serial in s.serials() {
            let mut t = 0.0;
            loop {
                t += exponential(&mut rng, 1.0 / mtbf_h);
                if t >= end {
                    break;
                }
                let len = uniform(&mut rng, 0.5 * mean_s, 1.5 * mean_s);
                out.push((
                    serial.clone(),
                    (t * HOUR as f64) as Ms,
                    (len * SECOND) as Ms,
                ));
            }
        }
    };
    let mut drawn_breakdowns = Vec::new();
    random(f.random_mtbf_h, f.random_repair_s, &mut drawn_breakdowns);
    breakdowns.extend(
        drawn_breakdowns
            .into_iter()
            .map(|(v, at, repair)| (v, at, repair, Where::Road)),
    );
    random(
        f.random_link_loss_mtbf_h,
        f.random_link_loss_s,
        &mut link_losses,
    );
    let b = &s.battery;
    let mut battery_pct: Vec<f64> = (0..s.fleet.vehicles)
        .map(|_| uniform(&mut rng, b.start_pct_min, b.start_pct_max))
        .collect();
    for (pct, v) in battery_pct.iter_mut().zip(&s.fleet.start) {
        if let Some(set) = v.battery_pct {
            *pct = set;
        }
    }
    // Random partitions and restarts, drawn last so that the draws above
    // are the same with or without them.
    let mut window = |r: &Option<crate::scenario::RandomFaults>| -> Vec<(Ms, Ms)> {
        let Some(r) = r else { return Vec::new() };
        (0..r.count)
            .map(|_| {
                let at = uniform(&mut rng, r.from_s, r.to_s);
                let len = uniform(&mut rng, 0.5 * r.length_s, 1.5 * r.length_s);
                ((at * SECOND) as Ms, (len * SECOND).max(1.0) as Ms)
            })
            .collect()
    };
    let partitions = window(&f.random_partitions);
    let mut restarts: Vec<(Side, Ms, Ms)> = window(&f.random_restarts)
        .into_iter()
        .map(|(at, down)| {
            let side = if rng.random_bool(0.5) {
                Side::Vn
            } else {
                Side::Cn
            };
            (side, at, down)
        })
        .collect();
    restarts.extend(
        f.restart
            .iter()
            .map(|r| (r.side, (r.at_s * SECOND) as Ms, (r.down_s * SECOND) as Ms)),
    );
    restarts.sort_by_key(|&(side, at, _)| (at, side));
    Ok(Drawn {
        jobs,
        breakdowns,
        link_losses,
        battery_pct,
        partitions,
        restarts,
    })
}

/// Draws the containers of `days` days of demand, in time order.
fn draw_demand(
    rng: &mut ChaCha8Rng,
    d: &Demand,
    c: &Customs,
    slots: &[Vec<String>; 2],
    days: u32,
) -> Vec<(Ms, JobRequest)> {
    let weight: f64 = d.hourly_profile.iter().sum();
    let mut jobs = Vec::new();
    for day in 0..u64::from(days) {
        let weekend = matches!(day % 7, 5 | 6);
        let per_day =
            d.containers_per_day * d.peak_factor * if weekend { d.weekend_factor } else { 1.0 };
        for (hour, w) in d.hourly_profile.iter().enumerate() {
            // Within an hour the rate is constant, so the gaps between
            // arrivals are exponential; the process starts afresh each hour.
            let rate = per_day * w / weight;
            if rate <= 0.0 {
                continue;
            }
            let start = day * DAY + hour as u64 * HOUR;
            let mut t = 0.0;
            loop {
                t += exponential(rng, rate);
                if t >= 1.0 {
                    break;
                }
                let at = start + (t * HOUR as f64) as Ms;
                let n = jobs.len();
                let from = if rng.random::<f64>() < d.vn_to_cn_share {
                    Side::Vn
                } else {
                    Side::Cn
                };
                let side_slots = &slots[usize::from(from == Side::Cn)];
                let pickup = side_slots[rng.random_range(0..side_slots.len())].clone();
                let u = rng.random::<f64>();
                let (channel, customs_ms) = if u < c.green {
                    (Channel::Green, 0)
                } else if u < c.green + c.yellow {
                    (Channel::Yellow, 0)
                } else if rng.random::<f64>() < c.red_inspection_share {
                    let s = uniform(rng, c.inspection_s_min, c.inspection_s_max);
                    (Channel::RedInspection, (s * SECOND) as Ms)
                } else {
                    let s = uniform(rng, c.scan_s_min, c.scan_s_max);
                    (Channel::RedScan, (s * SECOND) as Ms)
                };
                jobs.push((
                    at,
                    JobRequest {
                        id: format!("job-{n:05}"),
                        container: format!("BLNU{n:07}"),
                        pickup,
                        channel,
                        customs_ms,
                        priority: 0,
                        deadline: None,
                    },
                ));
            }
        }
    }
    jobs
}

/// Adds the scenario's own jobs to the drawn ones, keeping time order,
/// after checking their pickups and ids.
fn add_jobs(
    s: &Scenario,
    map: &LaneMap,
    jobs: &mut Vec<(Ms, JobRequest)>,
) -> Result<(), ScenarioError> {
    if s.jobs.is_empty() {
        return Ok(());
    }
    let drawn: std::collections::BTreeSet<String> =
        jobs.iter().map(|(_, j)| j.id.clone()).collect();
    for (i, job) in s.jobs.iter().enumerate() {
        let is_slot = map
            .node_by_id(&job.pickup)
            .is_some_and(|n| map.node(n).kind == NodeKind::YardSlot);
        if !is_slot {
            return Err(ScenarioError::Invalid(format!(
                "jobs[{i}].pickup = {:?} is not a yard slot of the map",
                job.pickup
            )));
        }
        if drawn.contains(&job.id) {
            return Err(ScenarioError::Invalid(format!(
                "jobs[{i}].id = {:?} is also the id of a container drawn from [demand]",
                job.id
            )));
        }
        jobs.push(job.request());
    }
    jobs.sort_by_key(|(at, _)| *at);
    Ok(())
}

/// An exponential draw with the given rate (per unit of time).
fn exponential(rng: &mut ChaCha8Rng, rate: f64) -> f64 {
    let u: f64 = rng.random();
    -(1.0 - u).ln() / rate
}

fn uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Runs a scenario and returns its report (with `wall_seconds` 0).
pub fn run_scenario(s: &Scenario, seed: u64, days: u32) -> Result<Report, ScenarioError> {
    run_with(s, seed, days, &mut |_| {}).map(|o| o.report)
}

/// Runs a scenario for `days` days of demand and a drain of at most
/// [`DRAIN_MS`], calling `progress` after every simulated hour (and every
/// step of the drain).
pub fn run_with(
    s: &Scenario,
    seed: u64,
    days: u32,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, ScenarioError> {
    if days == 0 {
        return Err(ScenarioError::Invalid("days = 0 must be at least 1".into()));
    }
    let map = load_map(s)?;
    let mut config = CoreConfig {
        fleet: fleet_of(&map, s)?,
        profile: s.vehicle.profile(),
        ..CoreConfig::default()
    };
    s.core.apply(&mut config);
    let rules = config.rules;
    let fleet_serials: Vec<String> = config.fleet.iter().map(|v| v.serial.clone()).collect();
    let drawn = draw(s, &map, seed, days)?;
    let built = if s.orchestrators.split {
        Harness::two_sided(
            Arc::clone(&map),
            config,
            {
                let mut link = s.orchestrators.link(&s.faults);
                link.partitions.extend(
                    drawn
                        .partitions
                        .iter()
                        .map(|&(at, len)| (at, at.saturating_add(len))),
                );
                link
            },
            seed,
        )
    } else {
        Harness::new(Arc::clone(&map), config)
    };
    let mut h = built.map_err(|e| ScenarioError::Invalid(format!("fleet: {e}")))?;
    h.set_battery(s.battery.clone(), &drawn.battery_pct);
    for (i, o) in s.faults.outage.iter().enumerate() {
        if map.node_by_id(&o.node).is_none() {
            return Err(ScenarioError::Invalid(format!(
                "faults.outage[{i}].node = {:?} is not a node of the map",
                o.node
            )));
        }
        let at = (o.at_s * SECOND) as Ms;
        let node = o.node.clone();
        h.schedule(
            at,
            Input::Operator(OperatorCommand::BlockPlace { node: node.clone() }),
        );
        h.schedule(
            at + (o.for_s * SECOND) as Ms,
            Input::Operator(OperatorCommand::UnblockPlace { node }),
        );
    }
    for (i, o) in s.operator.iter().enumerate() {
        if let Some(node) = o.node().filter(|n| map.node_by_id(n).is_none()) {
            return Err(ScenarioError::Invalid(format!(
                "operator[{i}].node = {node:?} is not a node of the map"
            )));
        }
        h.schedule(ms(o.at_s), Input::Operator(o.command.clone()));
    }
    // The log is kept so that each container's crossing time can be taken
    // from the events; the digest covers it either way.
    h.keep_log(true);
    let requested = drawn.jobs.len();
    for (at, job) in drawn.jobs {
        h.schedule(at, Input::Job(job));
    }
    for (vehicle, at, repair, place) in &drawn.breakdowns {
        h.schedule_breakdown_at(vehicle, *at, *repair, *place);
    }
    for (vehicle, at, for_ms) in &drawn.link_losses {
        h.schedule_link_loss(vehicle, *at, *for_ms);
    }
    for &(side, at, down) in &drawn.restarts {
        h.schedule_restart(side, at, down)
            .map_err(|e| ScenarioError::Invalid(format!("faults.restart: {e}")))?;
    }

    let end = u64::from(days) * DAY;
    let mut tally = Tally::default();
    let mut t = 0;
    let mut advance = |h: &mut Harness, t: Ms| {
        h.run_until(t);
        tally.read(h.log());
        progress(Progress {
            now_ms: t,
            end_ms: end,
            delivered: tally.delivered.total,
        });
    };
    // The demand days an hour at a time, then the drain in short steps
    // until no container is open.
    while t < end {
        t = (t + HOUR).min(end);
        advance(&mut h, t);
    }
    while t < end + DRAIN_MS && h.open_jobs() > 0 {
        t += DRAIN_STEP_MS;
        advance(&mut h, t);
    }

    let verifier = Verifier::new(&map, rules);
    let plans = verifier.check_plans(&h.plans());
    let trace = verifier.check_trace(&h.trace());
    let malformed = trace.count("malformed");
    let conflicts = plans.violations.len() + trace.violations.len() - malformed;
    let open = h.open_jobs();
    let deadlocks = if open > 0 {
        h.cores_mut()
            .into_iter()
            .map(|c| {
                c.snapshot()
                    .vehicles
                    .iter()
                    .filter(|v| v.state == "held")
                    .count()
            })
            .sum()
    } else {
        0
    };
    let stats = h
        .cores_mut()
        .into_iter()
        .map(|c| c.stats())
        .fold(Stats::default(), |a, b| Stats {
            plans: a.plans + b.plans,
            plan_failures: a.plan_failures + b.plan_failures,
            repairs: a.repairs + b.repairs,
            rejected_inputs: a.rejected_inputs + b.rejected_inputs,
            delivered: a.delivered + b.delivered,
            handed_over: a.handed_over + b.handed_over,
            adopted: a.adopted + b.adopted,
        });
    let link = h.link_stats();
    let sim_ms = h.now();
    tally.close(sim_ms);
    let traced = Traced::read(&map, &h.trace(), &fleet_serials, &tally.deliveries, sim_ms);
    let vstats = h.vehicle_stats();
    let chargers = map
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Charger)
        .count();
    let lane_capacity_per_hour = 3_600_000.0 / rules.headway_ms as f64;
    let hours = (sim_ms.div_ceil(HOUR)) as usize;
    let mut delivered_per_hour = vec![ByDirection::default(); hours];
    for (&hour, d) in &tally.per_hour_dir {
        if let Some(slot) = delivered_per_hour.get_mut(hour as usize) {
            *slot = *d;
        }
    }
    let peak = |v: &[ByDirection<usize>]| ByDirection {
        vn_to_cn: v.iter().map(|d| d.vn_to_cn).max().unwrap_or(0),
        cn_to_vn: v.iter().map(|d| d.cn_to_vn).max().unwrap_or(0),
    };
    let peak_bridge = peak(&traced.bridge_per_hour);
    let mut all_crossing: Vec<Ms> = traced.crossing_ms.iter().map(|(_, ms)| *ms).collect();
    let mut by_dir: ByDirection<Vec<Ms>> = ByDirection::default();
    for &(from, ms) in &traced.crossing_ms {
        by_dir.get_mut(from).push(ms);
    }
    let vehicle_time = sim_ms as f64 * s.fleet.vehicles as f64;
    let report = Report {
        scenario: s.name.clone(),
        seed,
        days,
        vehicles: s.fleet.vehicles,
        containers_requested: requested,
        containers_delivered: tally.delivered,
        crossing_time_s: percentiles(&mut all_crossing),
        crossing_time_by_direction_s: ByDirection {
            vn_to_cn: percentiles(&mut by_dir.vn_to_cn),
            cn_to_vn: percentiles(&mut by_dir.cn_to_vn),
        },
        job_time_s: percentiles(&mut tally.job_ms),
        lane_capacity_per_hour,
        peak_hour_throughput: tally.per_hour.values().copied().max().unwrap_or(0),
        peak_hour_delivered: peak(&delivered_per_hour),
        peak_hour_bridge_crossings: peak_bridge,
        lane_capacity_used: peak_bridge.vn_to_cn.max(peak_bridge.cn_to_vn) as f64
            / lane_capacity_per_hour,
        vehicle_utilisation: if vehicle_time > 0.0 {
            tally.busy_ms as f64 / vehicle_time
        } else {
            0.0
        },
        charger_utilisation: if chargers > 0 && sim_ms > 0 {
            vstats.iter().map(|v| v.charged_ms).sum::<Ms>() as f64
                / (chargers as f64 * sim_ms as f64)
        } else {
            0.0
        },
        charges: vstats.iter().map(|v| v.charges).sum(),
        battery_lowest_pct: vstats
            .iter()
            .map(|v| v.lowest_battery_pct)
            .fold(100.0, f64::min),
        battery_depleted: vstats.iter().map(|v| v.depleted).sum(),
        late_steps: vstats.iter().map(|v| v.late_steps).sum(),
        conflicts,
        trace_malformed: malformed,
        min_headway_s: trace.min_headway_ms.map(|ms| ms as f64 / SECOND),
        jobs_lost: requested.saturating_sub(tally.delivered.total + open),
        open_jobs: open,
        jobs_unfinished: open,
        deadlocks,
        ownership_violations: h.ownership_violations(),
        handoffs: link.map(|l| HandoffReport {
            handed_over: stats.handed_over,
            adopted: stats.adopted,
            border_stops: vstats.iter().map(|v| v.border_stops).sum(),
            messages_sent: l.sent,
            messages_lost: l.lost,
            messages_duplicated: l.duplicated,
            messages_partitioned: l.partitioned,
            messages_delivered: l.delivered,
            messages_rejected: l.rejected,
            protocol_errors: l.protocol_errors,
            completed: l.completed,
            rolled_back: l.rolled_back,
            open_at_end: l.open_at_end,
            restarts: l.restarts,
            replayed: l.replayed,
            lost_while_down: l.lost_while_down,
            unexcused_border_stops: l.unexcused_border_stops,
            containers_redelivered: l.containers_redelivered,
            containers_on_both_sides: l.containers_on_both_sides,
            store_errors: l.store_errors,
            on_bridge_at_end: l.on_bridge_at_end,
        }),
        breakdowns: tally.breakdowns,
        link_losses: vstats.iter().map(|v| v.link_losses).sum(),
        commands_while_lost: vstats.iter().map(|v| v.commands_while_lost).sum(),
        outages: s.faults.outage.len(),
        plans: stats.plans,
        plan_failures: stats.plan_failures,
        repairs: stats.repairs,
        rejected_inputs: stats.rejected_inputs,
        sim_seconds: sim_ms as f64 / SECOND,
        wall_seconds: 0.0,
        event_log_sha256: h.digest(),
    };
    let series = Series {
        delivered_per_hour,
        bridge_crossings_per_hour: traced.bridge_per_hour,
        queue_sample_ms: QUEUE_SAMPLE_MS,
        stop_line_queue: traced.stop_line_queue,
        scan_lanes: traced.scan_lanes,
        crossing_s: traced
            .crossing_ms
            .iter()
            .map(|(_, ms)| *ms as f64 / SECOND)
            .collect(),
    };
    Ok(Outcome {
        report,
        series,
        harness: h,
    })
}

/// How often the queues are sampled for the charts.
const QUEUE_SAMPLE_MS: Ms = 5 * 60_000;

/// A delivered container: who carried it, from which side, and when it was
/// picked and delivered.
#[derive(Clone, Debug)]
struct Delivery {
    vehicle: String,
    from: Side,
    picked: Ms,
    delivered: Ms,
}

/// What the vehicles' traces show: crossing times gate to gate, border
/// crossings per hour and the queues over time.
struct Traced {
    /// The origin side and crossing time of each delivered container.
    crossing_ms: Vec<(Side, Ms)>,
    bridge_per_hour: Vec<ByDirection<usize>>,
    stop_line_queue: Vec<ByDirection<usize>>,
    scan_lanes: Vec<ByDirection<usize>>,
}

impl Traced {
    /// `serials` names the vehicles in fleet order.
    fn read(
        map: &LaneMap,
        traces: &[TimedPlan],
        serials: &[String],
        deliveries: &[Delivery],
        end: Ms,
    ) -> Traced {
        // The gates of each direction: the origin yard's way out and the
        // far yard's way in.
        let gates = [Side::Vn, Side::Cn].map(|from| map.gate_route(from, from.other()));
        let is_gate: Vec<bool> = map.nodes.iter().map(|n| n.kind == NodeKind::Gate).collect();
        // Each vehicle's passes of the gates, in time order.
        let passes: BTreeMap<String, Vec<(Ms, NodeIx)>> = traces
            .iter()
            .map(|t| {
                let serial = t
                    .vehicle
                    .and_then(|v| serials.get(v.0 as usize))
                    .cloned()
                    .unwrap_or_default();
                let mut p: Vec<(Ms, NodeIx)> = t
                    .steps
                    .iter()
                    .filter(|s| is_gate[s.node.ix()] && s.arrive != NEVER)
                    .map(|s| (s.arrive, s.node))
                    .collect();
                p.sort();
                (serial, p)
            })
            .collect();
        let mut crossing_ms = Vec::new();
        for d in deliveries {
            let Some((out, inn, _)) = gates[usize::from(d.from == Side::Cn)] else {
                continue;
            };
            let Some(p) = passes.get(&d.vehicle) else {
                continue;
            };
            let window = &p[p.partition_point(|(t, _)| *t < d.picked)
                ..p.partition_point(|(t, _)| *t <= d.delivered)];
            let left = window
                .iter()
                .rev()
                .find(|(_, n)| *n == out)
                .map(|(t, _)| *t);
            let came = window.iter().find(|(_, n)| *n == inn).map(|(t, _)| *t);
            if let (Some(a), Some(b)) = (left, came)
                && b >= a
            {
                crossing_ms.push((d.from, b - a));
            }
        }

        let hours = end.div_ceil(HOUR) as usize;
        let mut bridge_per_hour = vec![ByDirection::default(); hours];
        let samples = (end / QUEUE_SAMPLE_MS) as usize + 1;
        let mut stop_diff = [vec![0i64; samples + 1], vec![0i64; samples + 1]];
        let mut scan_diff = [vec![0i64; samples + 1], vec![0i64; samples + 1]];
        let queue_node: Vec<Option<Side>> = map
            .nodes
            .iter()
            .map(|n| {
                n.zones
                    .iter()
                    .any(|z| map.zone(*z).kind == ZoneKind::StopLineQueue)
                    .then_some(n.side)
                    .flatten()
            })
            .collect();
        for t in traces {
            for s in &t.steps {
                let node = map.node(s.node);
                if node.kind == NodeKind::Border && s.arrive != NEVER {
                    let from = s.arc.map(|a| map.side_of(map.arc(a).from));
                    if let (Some(from), Some(slot)) =
                        (from, bridge_per_hour.get_mut((s.arrive / HOUR) as usize))
                    {
                        *slot.get_mut(from) += 1;
                    }
                }
                let diff = if node.kind == NodeKind::ScanLane {
                    node.side
                        .map(|side| &mut scan_diff[usize::from(side == Side::Cn)])
                } else {
                    queue_node[s.node.ix()]
                        .map(|side| &mut stop_diff[usize::from(side == Side::Cn)])
                };
                if let Some(diff) = diff
                    && s.arrive != NEVER
                {
                    // The vehicle stands there during [arrive, depart).
                    let leave = if s.depart == NEVER {
                        end
                    } else {
                        s.depart.min(end)
                    };
                    let first = s.arrive.div_ceil(QUEUE_SAMPLE_MS) as usize;
                    let past = leave.div_ceil(QUEUE_SAMPLE_MS) as usize;
                    if first < past.min(samples) {
                        diff[first] += 1;
                        diff[past.min(samples)] -= 1;
                    }
                }
            }
        }
        let series = |d: &[Vec<i64>; 2]| -> Vec<ByDirection<usize>> {
            let (mut a, mut b) = (0i64, 0i64);
            (0..samples)
                .map(|i| {
                    a += d[0][i];
                    b += d[1][i];
                    ByDirection {
                        vn_to_cn: a.max(0) as usize,
                        cn_to_vn: b.max(0) as usize,
                    }
                })
                .collect()
        };
        Traced {
            crossing_ms,
            bridge_per_hour,
            stop_line_queue: series(&stop_diff),
            scan_lanes: series(&scan_diff),
        }
    }
}

/// What the events of a run add up to, read as the run goes.
#[derive(Default)]
struct Tally {
    /// Log lines already read.
    read: usize,
    queued: BTreeMap<String, Ms>,
    job_ms: Vec<Ms>,
    delivered: Delivered,
    /// Deliveries by clock hour since the start.
    per_hour: BTreeMap<Ms, usize>,
    /// Deliveries by clock hour since the start, each way.
    per_hour_dir: BTreeMap<Ms, ByDirection<usize>>,
    /// Containers picked and not yet delivered: vehicle, side, time.
    picked: BTreeMap<String, (String, Side, Ms)>,
    deliveries: Vec<Delivery>,
    /// Containers assigned and not yet delivered: since when.
    assigned: BTreeMap<String, Ms>,
    /// Vehicle-time spent on containers, ms.
    busy_ms: Ms,
    /// Whether each vehicle last reported itself broken.
    broken: BTreeMap<String, bool>,
    breakdowns: usize,
}

impl Tally {
    fn read(&mut self, log: &[LogLine]) {
        for line in &log[self.read..] {
            let event = match &line.entry {
                LogEntry::Out {
                    output: Output::Event(event),
                } => event,
                // A breakdown is seen in the vehicle's own report: the first
                // report that says it is broken after one that did not.
                LogEntry::In {
                    input: Input::State(r),
                } => {
                    let was = self.broken.insert(r.vehicle.clone(), r.broken);
                    if r.broken && was != Some(true) {
                        self.breakdowns += 1;
                    }
                    continue;
                }
                _ => continue,
            };
            match event {
                Event::JobQueued { job } => {
                    self.queued.insert(job.clone(), line.t);
                }
                Event::JobAssigned { job, .. } => {
                    // A container assigned again (after a breakdown, say)
                    // ends the earlier assignment.
                    if let Some(since) = self.assigned.insert(job.clone(), line.t) {
                        self.busy_ms += line.t - since;
                    }
                }
                Event::JobCancelled { job } => {
                    if let Some(since) = self.assigned.remove(job) {
                        self.busy_ms += line.t - since;
                    }
                }
                Event::ContainerPicked {
                    job, vehicle, side, ..
                } => {
                    self.picked
                        .insert(job.clone(), (vehicle.clone(), *side, line.t));
                }
                Event::JobDelivered { job, side, .. } => {
                    if let Some(q) = self.queued.remove(job) {
                        self.job_ms.push(line.t - q);
                    }
                    if let Some(since) = self.assigned.remove(job) {
                        self.busy_ms += line.t - since;
                    }
                    if let Some((vehicle, from, picked)) = self.picked.remove(job) {
                        self.deliveries.push(Delivery {
                            vehicle,
                            from,
                            picked,
                            delivered: line.t,
                        });
                    }
                    *self
                        .per_hour_dir
                        .entry(line.t / HOUR)
                        .or_default()
                        .get_mut(side.other()) += 1;
                    // Delivered in China means it came from Vietnam.
                    match side {
                        Side::Cn => self.delivered.vn_to_cn += 1,
                        Side::Vn => self.delivered.cn_to_vn += 1,
                    }
                    self.delivered.total += 1;
                    *self.per_hour.entry(line.t / 3_600_000).or_default() += 1;
                }
                _ => {}
            }
        }
        self.read = log.len();
    }

    /// Counts the assignments still open at the end of the run.
    fn close(&mut self, end: Ms) {
        for since in std::mem::take(&mut self.assigned).into_values() {
            self.busy_ms += end.saturating_sub(since);
        }
    }
}

/// Nearest-rank percentiles, in seconds; all 0 when there is nothing.
fn percentiles(ms: &mut [Ms]) -> Percentiles {
    if ms.is_empty() {
        return Percentiles::default();
    }
    ms.sort_unstable();
    let rank = |p: f64| {
        let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
        ms[i] as f64 / SECOND
    };
    Percentiles {
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
        max: ms[ms.len() - 1] as f64 / SECOND,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut v: Vec<Ms> = (1..=100).map(|i| i * 1_000).collect();
        let p = percentiles(&mut v);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(percentiles(&mut []), Percentiles::default());
    }

    /// Some drawn demand, two set jobs, a scan lane closed for a while and
    /// three named vehicles.
    const SET: &str = r#"
name = "set"
map = "../maps/bac_luan_ii.geojson"
[fleet]
vehicles = 3
[[fleet.start]]
serial = "alpha"
node = "VN_PARK_W1"
[[fleet.start]]
serial = "beta"
node = "CN_PARK_W1"
battery_pct = 90
[[fleet.start]]
serial = "gamma"
node = "VN_PARK_W2"
[demand]
containers_per_day = 20
[[jobs]]
at_s = 3600
id = "set-1"
container = "BLNU9000001"
pickup = "VN_SLOT_03"
channel = "green"
[[jobs]]
at_s = 7200
id = "set-2"
container = "BLNU9000002"
pickup = "CN_SLOT_01"
channel = "red_scan"
customs_s = 90
[[operator]]
at_s = 3000
command = "block_place"
node = "VN_SCAN_1"
[[operator]]
at_s = 9000
command = "unblock_place"
node = "VN_SCAN_1"
"#;

    fn set(text: &str) -> Scenario {
        Scenario::parse(text, Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn set_jobs_commands_and_fleet_run_with_the_drawn_demand() {
        let s = set(SET);
        let map = load_map(&s).unwrap();
        let drawn = draw(&s, &map, 1, 1).unwrap();
        let mut only_drawn = s.clone();
        only_drawn.jobs.clear();
        let without = draw(&only_drawn, &map, 1, 1).unwrap();
        // The set jobs join the drawn ones in time order and change no draw.
        let ids = |d: &Drawn| d.jobs.iter().map(|(_, j)| j.id.clone()).collect::<Vec<_>>();
        let mut kept = ids(&drawn);
        kept.retain(|id| !id.starts_with("set-"));
        assert_eq!(kept, ids(&without));
        assert_eq!(drawn.jobs.len(), without.jobs.len() + 2);
        assert!(drawn.jobs.is_sorted_by_key(|(at, _)| *at));
        assert_eq!(drawn.battery_pct[1], 90.0);
        assert_eq!(drawn.battery_pct[0], without.battery_pct[0]);

        let o = run_with(&s, 1, 1, &mut |_| {}).unwrap();
        let r = &o.report;
        assert_eq!(r.containers_requested, drawn.jobs.len());
        assert_eq!(
            r.containers_delivered.total,
            drawn.jobs.len(),
            "{}",
            r.summary()
        );
        assert!(!r.unsafe_run(), "{}", r.summary());
        // Crossing times are read from the named vehicles' traces.
        assert!(r.crossing_time_s.p50 > 0.0, "{}", r.summary());
        let blocked = o.harness.log().iter().any(|l| {
            l.t == 3_000_000
                && matches!(&l.entry, LogEntry::Out { output: Output::Event(Event::PlaceBlocked { node }) } if node == "VN_SCAN_1")
        });
        assert!(blocked);
        let serials: Vec<String> = o
            .harness
            .vehicle_stats()
            .into_iter()
            .map(|v| v.serial)
            .collect();
        assert_eq!(serials, ["alpha", "beta", "gamma"]);
    }

    #[test]
    fn places_the_map_does_not_have_are_named() {
        for (from, to, says) in [
            (
                "pickup = \"VN_SLOT_03\"",
                "pickup = \"VN_PARK_W3\"",
                "jobs[0].pickup = \"VN_PARK_W3\" is not a yard slot",
            ),
            (
                "node = \"CN_PARK_W1\"",
                "node = \"NOWHERE\"",
                "fleet.start[1].node = \"NOWHERE\" is not a node",
            ),
            (
                "node = \"VN_SCAN_1\"",
                "node = \"VN_SCAN_9\"",
                "operator[0].node = \"VN_SCAN_9\" is not a node",
            ),
            (
                "id = \"set-1\"",
                "id = \"job-00000\"",
                "jobs[0].id = \"job-00000\" is also the id of a container drawn",
            ),
        ] {
            assert!(SET.contains(from), "{from}");
            let e = run_scenario(&set(&SET.replacen(from, to, 1)), 1, 1).unwrap_err();
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
        // A fleet size changed after reading, as a sweep does, must match
        // the placed vehicles.
        let mut resized = set(SET);
        resized.fleet.vehicles = 5;
        let e = run_scenario(&resized, 1, 1).unwrap_err();
        assert!(e.to_string().contains("fleet.start has 3 vehicles"), "{e}");
    }
}
