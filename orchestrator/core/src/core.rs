//! The sans-IO facade: `handle(now, input)`, `handle_timeout(now)`,
//! `poll_output()`, `poll_timeout()`, in the manner of quinn-proto.

use std::sync::Arc as Shared;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{LogLevel, ScheduleBuildSettings, ScheduleLabel, SingleThreadedExecutor};
use borderlane_model::{LaneMap, Ms, NEVER, TimedPlan, VehicleId};

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

/// The orchestrator core.
pub struct Core {
    world: World,
    schedule: Schedule,
}

impl Core {
    pub fn new(map: Shared<LaneMap>, config: CoreConfig) -> Result<Core, CoreError> {
        let mut world = World::new();
        let planner = Planner::new(
            Shared::clone(&map),
            &config.profile,
            config.rules.headway_ms,
        );
        let mut table = ReservationTable::new(&map, config.rules.headway_ms);
        let mut registry = Registry::default();
        for (i, spec) in config.fleet.iter().enumerate() {
            let Some(node) = map.node_by_id(&spec.start) else {
                return Err(CoreError::UnknownStartNode {
                    vehicle: spec.serial.clone(),
                    node: spec.start.clone(),
                });
            };
            if registry.vehicles.contains_key(&spec.serial) {
                return Err(CoreError::DuplicateVehicle(spec.serial.clone()));
            }
            let id = VehicleId(i as u32);
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
                        driving: false,
                        last_report: 0,
                        finished: Default::default(),
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
        world.insert_resource(Settings(config));
        world.insert_resource(Planning { planner, table });
        world.insert_resource(registry);
        world.insert_resource(Lane::default());
        world.insert_resource(Pending::default());
        world.insert_resource(Stats::default());

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
                systems::repair_plans,
                systems::retry_waiting,
                systems::dispatch_jobs,
                systems::prune_table,
            )
                .chain(),
        );
        schedule
            .initialize(&mut world)
            .map_err(|e| CoreError::DuplicateVehicle(format!("schedule: {e}")))?;
        // Vehicles standing where they start rest there; wake to dispatch.
        Ok(Core { world, schedule })
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
        let mut q = self.world.query::<(&Motion, &Task, &Status)>();
        for (m, t, s) in q.iter(&self.world) {
            // The same vehicles `retry_waiting` retries.
            if let Some(r) = m.retry_at
                && m.pinned.is_some()
                && !s.broken
                && !s.link_lost
            {
                next = next.min(r.max(now + 1));
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
            .world
            .query::<&Job>()
            .iter(&self.world)
            .any(|j| j.vehicle.is_none());
        if queued && any_idle && !paused {
            next = next.min(now + tick);
        }
        (next != NEVER).then_some(next)
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

    /// The map the core plans on.
    pub fn map(&self) -> Shared<LaneMap> {
        Shared::clone(&self.world.resource::<MapRes>().0)
    }
}
