//! A simulated lane feeding an operation center, as the live shell will:
//! the simulator harness of `scenarios/baseline_2026.toml`, stepped in
//! virtual time, its view published and the operators' actions given to
//! its core as inputs.

// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use borderlane_core::{CoreConfig, Input};
use borderlane_ioc::{Ioc, LiveView, ViewHistory, view_from_core_at};
use borderlane_model::{LaneMap, Ms};
use borderlane_sim::Harness;
use borderlane_sim::run::{draw, fleet, load_map};
use borderlane_sim::scenario::Scenario;

pub const HOUR: Ms = 3_600_000;

pub struct Lane {
    pub harness: Harness,
    pub history: ViewHistory,
    pub map: Arc<LaneMap>,
}

impl Lane {
    /// The baseline scenario's first day, its containers queued.
    pub fn baseline() -> Lane {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/baseline_2026.toml");
        let scenario = Scenario::load(&path).expect("the baseline scenario loads");
        let map = load_map(&scenario).expect("its map loads");
        let config = CoreConfig {
            fleet: fleet(&map, scenario.fleet.vehicles).expect("the fleet fits"),
            ..CoreConfig::default()
        };
        let drawn = draw(&scenario, &map, scenario.seed, 1).expect("the demand is drawn");
        let mut harness = Harness::new(Arc::clone(&map), config).expect("the core starts");
        harness.keep_log(false);
        for (at, job) in drawn.jobs {
            harness.schedule(at, Input::Job(job));
        }
        Lane {
            harness,
            history: ViewHistory::new(),
            map,
        }
    }

    /// Gives the core the actions operators asked for, at the present
    /// virtual time.
    pub fn apply_actions(&mut self, ioc: &Ioc) {
        let now = self.harness.now();
        for action in ioc.take_actions() {
            self.harness.schedule(now, Input::Operator(action.command));
        }
    }

    /// Runs to `end`, building a view every `every` ms of virtual time (and
    /// at `end`), and publishes the last one if there is an operation
    /// center.
    pub fn run_to(&mut self, end: Ms, every: Ms, ioc: Option<&Ioc>) -> LiveView {
        let mut t = self.harness.now();
        loop {
            t = (t + every).min(end);
            self.harness.run_until(t);
            let view = view_from_core_at(&mut self.harness.core, t, &mut self.history);
            if let Some(ioc) = ioc {
                for alarm in self.history.take_alarms() {
                    ioc.push_alarm(alarm);
                }
            }
            if t >= end {
                if let Some(ioc) = ioc {
                    ioc.publish(view.clone());
                }
                return view;
            }
        }
    }
}
