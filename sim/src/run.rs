//! Runs a [`Scenario`]: draws its containers and faults from one seeded
//! generator, feeds them to a [`Harness`] and sums up what happened in a
//! [`Report`].
//!
//! Every random draw comes from one `ChaCha8Rng` seeded with the run's seed,
//! in a fixed order (the containers in time order, then the random
//! breakdowns vehicle by vehicle), so a scenario and a seed always give the
//! same inputs, the same event log and the same report. Only the wall-clock
//! time, which the command line measures and fills in, differs between runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use borderlane_core::io::{Channel, Event, JobRequest};
use borderlane_core::{CoreConfig, Input, Output, VehicleSpec};
use borderlane_model::{LaneMap, Ms, NodeKind, Side};
use borderlane_verify::Verifier;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::harness::{Harness, LogEntry, LogLine};
use crate::scenario::{Scenario, ScenarioError, serials};

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
    /// From the core queueing a container to its delivery on the far side.
    pub crossing_time_s: Percentiles,
    /// What one lane direction can carry, vehicles an hour: one vehicle per
    /// minimum headway (the road-capacity rule `(length + gap) / speed +
    /// reaction` is what sets the headway).
    pub lane_capacity_per_hour: f64,
    /// The most containers delivered in one clock hour, both ways.
    pub peak_hour_throughput: usize,
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
    pub breakdowns: usize,
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub vn_to_cn: usize,
    pub cn_to_vn: usize,
    pub total: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Report {
    /// Whether a safety invariant broke: a conflict or a lost container.
    pub fn unsafe_run(&self) -> bool {
        self.conflicts > 0 || self.jobs_lost > 0
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
             crossing time: p50 {}, p95 {}, p99 {}, max {}\n\
             throughput: peak hour {} containers; lane capacity {:.0} vehicles/h each way\n\
             safety: {} conflicts, smallest headway {}\n\
             faults: {} breakdowns, {} plan repairs, {} plan failures, {} deadlocked vehicles\n\
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
            self.peak_hour_throughput,
            self.lane_capacity_per_hour,
            self.conflicts,
            headway,
            self.breakdowns,
            self.repairs,
            self.plan_failures,
            self.deadlocks,
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

/// A finished run: its report and the harness, whose log holds every line.
pub struct Outcome {
    pub report: Report,
    pub harness: Harness,
}

/// The inputs a scenario draws for one seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// Containers, in arrival order.
    pub jobs: Vec<(Ms, JobRequest)>,
    /// Breakdowns: vehicle, time, repair time.
    pub breakdowns: Vec<(String, Ms, Ms)>,
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
    let d = &s.demand;
    let c = &s.customs;
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
                t += exponential(&mut rng, rate);
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
                    let s = uniform(&mut rng, c.inspection_s_min, c.inspection_s_max);
                    (Channel::RedInspection, (s * SECOND) as Ms)
                } else {
                    let s = uniform(&mut rng, c.scan_s_min, c.scan_s_max);
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
    let mut breakdowns: Vec<(String, Ms, Ms)> = s
        .faults
        .breakdown
        .iter()
        .map(|b| {
            (
                b.vehicle.clone(),
                (b.at_s * SECOND) as Ms,
                (b.repair_s * SECOND) as Ms,
            )
        })
        .collect();
    if let Some(mtbf_h) = s.faults.random_mtbf_h {
        let end = f64::from(days) * 24.0;
        let repair = (s.faults.random_repair_s * SECOND) as Ms;
        for serial in serials(s.fleet.vehicles) {
            let mut t = 0.0;
            loop {
                t += exponential(&mut rng, 1.0 / mtbf_h);
                if t >= end {
                    break;
                }
                breakdowns.push((serial.clone(), (t * HOUR as f64) as Ms, repair));
            }
        }
    }
    Ok(Drawn { jobs, breakdowns })
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
    let config = CoreConfig {
        fleet: fleet(&map, s.fleet.vehicles)?,
        ..CoreConfig::default()
    };
    let rules = config.rules;
    let drawn = draw(s, &map, seed, days)?;
    let mut h = Harness::new(Arc::clone(&map), config)
        .map_err(|e| ScenarioError::Invalid(format!("fleet: {e}")))?;
    // The log is kept so that each container's crossing time can be taken
    // from the events; the digest covers it either way.
    h.keep_log(true);
    let requested = drawn.jobs.len();
    for (at, job) in drawn.jobs {
        h.schedule(at, Input::Job(job));
    }
    for (vehicle, at, repair) in &drawn.breakdowns {
        h.schedule_breakdown(vehicle, *at, *repair);
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
    while t < end + DRAIN_MS && h.core.open_jobs() > 0 {
        t += DRAIN_STEP_MS;
        advance(&mut h, t);
    }

    let verifier = Verifier::new(&map, rules);
    let plans = verifier.check_plans(&h.core.plans());
    let trace = verifier.check_trace(&h.trace());
    let malformed = trace.count("malformed");
    let conflicts = plans.violations.len() + trace.violations.len() - malformed;
    let open = h.core.open_jobs();
    let snapshot = h.core.snapshot();
    let deadlocks = if open > 0 {
        snapshot
            .vehicles
            .iter()
            .filter(|v| v.state == "held")
            .count()
    } else {
        0
    };
    let stats = h.core.stats();
    let report = Report {
        scenario: s.name.clone(),
        seed,
        days,
        vehicles: s.fleet.vehicles,
        containers_requested: requested,
        containers_delivered: tally.delivered,
        crossing_time_s: percentiles(&mut tally.crossing_ms),
        lane_capacity_per_hour: 3_600_000.0 / rules.headway_ms as f64,
        peak_hour_throughput: tally.per_hour.values().copied().max().unwrap_or(0),
        conflicts,
        trace_malformed: malformed,
        min_headway_s: trace.min_headway_ms.map(|ms| ms as f64 / SECOND),
        jobs_lost: requested.saturating_sub(tally.delivered.total + open),
        open_jobs: open,
        jobs_unfinished: open,
        deadlocks,
        breakdowns: tally.breakdowns,
        plans: stats.plans,
        plan_failures: stats.plan_failures,
        repairs: stats.repairs,
        rejected_inputs: stats.rejected_inputs,
        sim_seconds: h.now() as f64 / SECOND,
        wall_seconds: 0.0,
        event_log_sha256: h.digest(),
    };
    Ok(Outcome { report, harness: h })
}

/// What the events of a run add up to, read as the run goes.
#[derive(Default)]
struct Tally {
    /// Log lines already read.
    read: usize,
    queued: BTreeMap<String, Ms>,
    crossing_ms: Vec<Ms>,
    delivered: Delivered,
    /// Deliveries by clock hour since the start.
    per_hour: BTreeMap<Ms, usize>,
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
                Event::JobDelivered { job, side, .. } => {
                    if let Some(q) = self.queued.remove(job) {
                        self.crossing_ms.push(line.t - q);
                    }
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
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut v: Vec<Ms> = (1..=100).map(|i| i * 1_000).collect();
        let p = percentiles(&mut v);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(percentiles(&mut []), Percentiles::default());
    }
}
