//! The sans-IO facade: `handle(now, input)`, `handle_timeout(now)`,
//! `poll_output()`, `poll_timeout()`, in the manner of quinn-proto.

use std::sync::Arc as Shared;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings, ScheduleLabel, SingleThreadedExecutor};
use borderlane_model::{LaneMap, Ms, NEVER, NodeIx, NodeKind, Side, TimedPlan, VehicleId};

use crate::config::CoreConfig;
use crate::io::{Input, Output};
use crate::planner::{Planner, Start};
use crate::reservations::ReservationTable;
use crate::systems;
use crate::world::*;

#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
struct Step;

/// Why a core could not be built.
#[derive(Debug, PartialEq, Eq)]
pub enum CoreError {
    UnknownStartNode { vehicle: String, node: String },
    DuplicateVehicle(String),
    StartsClash { vehicle: String, node: String },
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::UnknownStartNode { vehicle, node } => {
                write!(
                    f,
                    "vehicle {vehicle}: start node {node:?} is not on the map"
                )
            }
            CoreError::DuplicateVehicle(v) => write!(f, "vehicle {v} is listed twice in the fleet"),
            CoreError::StartsClash { vehicle, node } => {
                write!(
                    f,
                    "vehicle {vehicle}: start node {node:?} is taken by another vehicle"
                )
            }
        }
    }
}

impl std::error::Error for CoreError {}

/// What [`Core::snapshot`] shows.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Snapshot {
    pub now_ms: Ms,
    pub vehicles: Vec<VehicleView>,
    pub jobs: Vec<JobView>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VehicleView {
    pub vehicle: String,
    /// One of driving, idle, charging, held, paused, broken, link_lost.
    /// A vehicle paused by an operator, or standing while the lane is
    /// paused, is `paused`.
    pub state: String,
    /// The node it is at, or driving towards.
    pub node: String,
    pub battery_pct: f64,
    pub loaded: bool,
    pub job: Option<String>,
    pub plan_ends_ms: Option<Ms>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct JobView {
    pub job: String,
    pub container: String,
    pub pickup: String,
    pub drop: Option<String>,
    pub vehicle: Option<String>,
    pub stops_done: usize,
    pub stops: usize,
    pub not_before_ms: Ms,
}

/// The orchestrator core.
pub struct Core {
    world: World,
    schedule: Schedule,
    /// The queries `poll_timeout` runs after every step, built once: a
    /// query state made afresh each time costs more than the scan.
    timeout_vehicles: QueryState<(&'static Motion, &'static Task, &'static Status)>,
    timeout_jobs: QueryState<&'static Job>,
}

impl Core {
    pub fn new(map: Shared<LaneMap>, config: CoreConfig) -> Result<Core, CoreError> {
        let mut world = World::new();
        let mut planner = Planner::new(
            Shared::clone(&map),
            &config.profile,
            config.rules.headway_ms,
        );
        planner.set_territory(config.territory);
        let borders = borders_of(&map, config.territory);
        let mut table = ReservationTable::new(&map, config.rules.headway_ms);
        let mut registry = Registry::default();
        for (i, spec) in config.fleet.iter().enumerate() {
            let Some(node) = map.node_by_id(&spec.start) else {
                return Err(CoreError::UnknownStartNode {
                    vehicle: spec.serial.clone(),
                    node: spec.start.clone(),
                });
            };
            if registry.fleet.contains_key(&spec.serial) {
                return Err(CoreError::DuplicateVehicle(spec.serial.clone()));
            }
            let id = VehicleId(i as u32);
            registry.fleet.insert(spec.serial.clone(), id);
            // A core for one side starts the vehicles that start there; the
            // others enter through a crossing.
            if config
                .territory
                .is_some_and(|me| map.node(node).side != Some(me))
            {
                continue;
            }
            let pin = pin_plan(
                id,
                Start::AtNode {
                    node,
                    time: 0,
                    stopped: true,
                },
                &map,
            );
            if !table.conflicts(&map, &pin).is_empty() {
                return Err(CoreError::StartsClash {
                    vehicle: spec.serial.clone(),
                    node: spec.start.clone(),
                });
            }
            table.reserve(&map, &pin);
            let e = world
                .spawn((
                    Vehicle {
                        id,
                        serial: spec.serial.clone(),
                    },
                    Status {
                        node,
                        battery_pct: 100.0,
                        loaded: false,
                        broken: false,
                        link_lost: false,
                        held: false,
                        driving: false,
                        last_report: 0,
                        finished: Default::default(),
                        following: None,
                    },
                    Motion {
                        active: None,
                        pinned: Some(pin),
                        retry_at: None,
                    },
                    Task::default(),
                ))
                .id();
            registry.vehicles.insert(spec.serial.clone(), e);
            registry.by_id.insert(id, e);
        }
        world.insert_resource(Now(0));
        world.insert_resource(Inbox::default());
        world.insert_resource(Outbox::default());
        world.insert_resource(MapRes(map));
        world.insert_resource(Settings(Shared::new(config)));
        world.insert_resource(Planning { planner, table });
        world.insert_resource(registry);
        world.insert_resource(Lane::default());
        world.insert_resource(Pending::default());
        world.insert_resource(Stats::default());
        world.insert_resource(borders);

        let mut schedule = Schedule::new(Step);
        schedule.set_executor(SingleThreadedExecutor::new());
        schedule.set_build_settings(ScheduleBuildSettings {
            ambiguity_detection: LogLevel::Error,
            ..Default::default()
        });
        schedule.add_systems(
            (
                systems::ingest_inputs,
                systems::advance_jobs,
                systems::extend_plans,
                systems::repair_plans,
                systems::retry_waiting,
                systems::dispatch_jobs,
                systems::clear_yard_slots,
                systems::step_crossings,
                systems::prune_table,
            )
                .chain(),
        );
        schedule
            .initialize(&mut world)
            .map_err(|e| CoreError::DuplicateVehicle(format!("schedule: {e}")))?;
        let timeout_vehicles = world.query::<(&Motion, &Task, &Status)>();
        let timeout_jobs = world.query::<&Job>();
        // Vehicles standing where they start rest there; wake to dispatch.
        Ok(Core {
            world,
            schedule,
            timeout_vehicles,
            timeout_jobs,
        })
    }

    /// Hands the core one input received at `now`.
    pub fn handle(&mut self, now: Ms, input: Input) {
        self.world.resource_mut::<Inbox>().0.push_back(input);
        self.step(now);
    }

    /// Wakes the core at `now` (at or after the time `poll_timeout` gave).
    pub fn handle_timeout(&mut self, now: Ms) {
        self.step(now);
    }

    fn step(&mut self, now: Ms) {
        let t = self.world.resource::<Now>().0.max(now);
        self.world.resource_mut::<Now>().0 = t;
        self.schedule.run(&mut self.world);
    }

    /// The next output, in the order the core produced them.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.world.resource_mut::<Outbox>().0.pop_front()
    }

    /// When the core next wants to be woken, if ever.
    pub fn poll_timeout(&mut self) -> Option<Ms> {
        let now = self.world.resource::<Now>().0;
        let paused = self.world.resource::<Lane>().paused;
        let tick = self.world.resource::<Settings>().0.tick_ms;
        let mut next = NEVER;
        let mut any_idle = false;
        let headway = self.headway();
        for (m, t, s) in self.timeout_vehicles.iter(&self.world) {
            // Crossings that are due: a request to send, a hand-over, a
            // vehicle to forget once past the border.
            match t.crossing {
                Crossing::Ask { at, .. } => next = next.min(at.max(now + 1)),
                Crossing::Granted { commit_at, .. } => next = next.min(commit_at.max(now + 1)),
                Crossing::Leaving {
                    at,
                    transferred: true,
                } if !t.stranded => next = next.min(at.saturating_add(headway).max(now + 1)),
                _ => {}
            }
            // The same vehicles `retry_waiting` retries.
            if let Some(r) = m.retry_at
                && waits_for_retry(s, m, t, now)
            {
                next = next.min(r.max(now + 1));
            }
            // A plan cut at the horizon, to be extended before its end.
            if let Some(cut) = m.active.as_ref().and_then(|a| a.cut)
                && cut.extend_at != NEVER
                && now < cut.arrive
            {
                next = next.min(cut.extend_at.max(now + 1));
            }
            if let Some(a) = &m.active
                && let Some(last) = a.plan.steps.last()
            {
                if last.arrive > now {
                    next = next.min(last.arrive);
                } else if t.job.is_none() && !t.charging && !s.broken {
                    any_idle = true;
                }
            }
            if m.active.is_none() && m.pinned.is_some() && t.job.is_none() && !s.broken {
                any_idle = true;
            }
        }
        let queued = self
            .timeout_jobs
            .iter(&self.world)
            .any(|j| j.vehicle.is_none());
        if queued && any_idle && !paused {
            next = next.min(now + tick);
        }
        (next != NEVER).then_some(next)
    }

    fn headway(&self) -> Ms {
        self.world.resource::<Settings>().0.rules.headway_ms
    }

    /// The current time as the core knows it.
    pub fn now(&self) -> Ms {
        self.world.resource::<Now>().0
    }

    /// Every committed plan and pin, by vehicle id, for the verifier.
    pub fn plans(&mut self) -> Vec<TimedPlan> {
        let mut q = self.world.query::<(&Vehicle, &Motion)>();
        let mut v: Vec<(VehicleId, TimedPlan)> = q
            .iter(&self.world)
            .filter_map(|(veh, m)| {
                m.active
                    .as_ref()
                    .map(|a| a.plan.clone())
                    .or(m.pinned.clone())
                    .map(|p| (veh.id, p))
            })
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// Whether this core holds the vehicle now: a territory core holds
    /// the vehicles on its side and those crossing to or from it, and
    /// forgets one handed over once it is past the border.
    pub fn holds(&self, serial: &str) -> bool {
        self.world
            .resource::<Registry>()
            .vehicles
            .contains_key(serial)
    }

    /// The number of reservations in the table.
    pub fn reservations(&self) -> usize {
        self.world.resource::<Planning>().table.len()
    }

    /// The core's counters.
    pub fn stats(&self) -> Stats {
        self.world.resource::<Stats>().clone()
    }

    /// Jobs not yet delivered.
    pub fn open_jobs(&mut self) -> usize {
        self.world.query::<&Job>().iter(&self.world).count()
    }

    /// A view of every vehicle and open job, sorted by id, for operators,
    /// reports and diagnostics.
    pub fn snapshot(&mut self) -> Snapshot {
        let map = Shared::clone(&self.world.resource::<MapRes>().0);
        let now = self.now();
        let paused = self.world.resource::<Lane>().paused;
        let mut vehicles: Vec<(VehicleId, VehicleView)> = self
            .world
            .query::<(&Vehicle, &Status, &Motion, &Task)>()
            .iter(&self.world)
            .map(|(v, s, m, t)| {
                let state = if s.broken {
                    "broken"
                } else if s.link_lost {
                    "link_lost"
                } else if s.held || (m.pinned.is_some() && m.active.is_none() && paused) {
                    "paused"
                } else if m.pinned.is_some() && m.active.is_none() {
                    "held"
                } else if m
                    .active
                    .as_ref()
                    .is_some_and(|a| a.plan.end_arrival().is_some_and(|e| e > now))
                {
                    "driving"
                } else if t.charging {
                    "charging"
                } else {
                    "idle"
                };
                let plan = m.pinned.as_ref().or(m.active.as_ref().map(|a| &a.plan));
                let at = plan.and_then(|p| crate::world::position_in(p, now));
                let node = match at {
                    Some(Start::AtNode { node, .. }) => node,
                    Some(Start::OnArc { arc, .. }) => map.arc(arc).to,
                    None => s.node,
                };
                let view = VehicleView {
                    vehicle: v.serial.clone(),
                    state: state.to_string(),
                    node: map.node(node).id.clone(),
                    battery_pct: s.battery_pct,
                    loaded: s.loaded,
                    job: None,
                    plan_ends_ms: m.active.as_ref().and_then(|a| a.plan.end_arrival()),
                };
                (v.id, view)
            })
            .collect();
        vehicles.sort_by_key(|(id, _)| *id);
        let by_id: std::collections::BTreeMap<VehicleId, usize> = vehicles
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id, i))
            .collect();
        let mut jobs: Vec<(u64, JobView)> = self
            .world
            .query::<&Job>()
            .iter(&self.world)
            .map(|j| {
                let view = JobView {
                    job: j.id.clone(),
                    container: j.container.clone(),
                    pickup: map.node(j.pickup).id.clone(),
                    drop: j.drop.map(|d| map.node(d).id.clone()),
                    vehicle: j
                        .vehicle
                        .and_then(|v| by_id.get(&v))
                        .map(|&i| vehicles[i].1.vehicle.clone()),
                    stops_done: j.done,
                    stops: j.stops.len(),
                    not_before_ms: j.not_before,
                };
                (j.key, view)
            })
            .collect();
        jobs.sort_by_key(|(k, _)| *k);
        for (_, j) in &jobs {
            if let Some(v) = &j.vehicle
                && let Some((_, view)) = vehicles.iter_mut().find(|(_, w)| &w.vehicle == v)
            {
                view.job = Some(j.job.clone());
            }
        }
        Snapshot {
            now_ms: now,
            vehicles: vehicles.into_iter().map(|(_, v)| v).collect(),
            jobs: jobs.into_iter().map(|(_, j)| j).collect(),
        }
    }

    /// The map the core plans on.
    pub fn map(&self) -> Shared<LaneMap> {
        Shared::clone(&self.world.resource::<MapRes>().0)
    }
}

/// The border nodes a core for `side` hands vehicles over at: the one its
/// vehicles reach from its own side, and the one the other side's reach it
/// through.
fn borders_of(map: &LaneMap, side: Option<Side>) -> Borders {
    let Some(me) = side else {
        return Borders::default();
    };
    let from_side = |b: NodeIx, s: Side| {
        map.in_arcs(b)
            .iter()
            .any(|&a| map.node(map.arc(a).from).side == Some(s))
    };
    let borders: Vec<NodeIx> = map
        .node_ixs()
        .filter(|&n| map.node(n).kind == NodeKind::Border)
        .collect();
    Borders {
        side,
        exit: borders.iter().copied().find(|&b| from_side(b, me)),
        entry: borders.iter().copied().find(|&b| from_side(b, me.other())),
    }
}
