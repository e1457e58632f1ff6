//! The shipped scenarios run clean, a scenario and a seed always give the
//! same run, and bad scenario files are rejected naming the field.

use std::path::{Path, PathBuf};

use borderlane_core::io::{Channel, Command, Event};
use borderlane_core::{Input, Output};
use borderlane_sim::run::{Report, draw, load_map, run_scenario, run_with};
use borderlane_sim::scenario::{Scenario, ScenarioError};
use borderlane_sim::{LogEntry, LogLine};
use borderlane_tests::root;

/// Scenarios that ask for more than the lane can carry: they must run
/// safely, but containers are still waiting when the run ends.
const OVERLOADED: [&str; 2] = ["huu_nghi_scale", "saturation"];

fn scenarios_dir() -> PathBuf {
    root().join("scenarios")
}

fn load(name: &str) -> Scenario {
    let path = scenarios_dir().join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every scenario file shipped in scenarios/.
fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("the scenarios folder")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_same_scenario_and_seed_give_the_same_run() {
    let s = load("bridge_breakdown.toml");
    let a = run_scenario(&s, 7, 1).unwrap();
    let b = run_scenario(&s, 7, 1).unwrap();
    assert_eq!(a.event_log_sha256, b.event_log_sha256);
    // The wall-clock time is the one field allowed to differ.
    let (mut a, mut b) = (a, b);
    a.wall_seconds = 0.0;
    b.wall_seconds = 0.0;
    assert_eq!(a, b);
    assert!(a.containers_requested > 50, "{a:?}");
}

#[test]
fn different_seeds_give_different_runs() {
    let s = load("baseline_2026.toml");
    let a = run_scenario(&s, 1, 1).unwrap();
    let b = run_scenario(&s, 2, 1).unwrap();
    assert_ne!(a.event_log_sha256, b.event_log_sha256);
}

#[test]
fn fault_scenarios_are_deterministic_too() {
    for name in ["comm_loss.toml", "outages.toml"] {
        let s = load(name);
        let a = run_scenario(&s, 3, 1).unwrap();
        let b = run_scenario(&s, 3, 1).unwrap();
        let c = run_scenario(&s, 4, 1).unwrap();
        assert_eq!(a.event_log_sha256, b.event_log_sha256, "{name}");
        assert_ne!(a.event_log_sha256, c.event_log_sha256, "{name}");
    }
}

#[test]
fn every_shipped_scenario_runs_clean_for_a_day() {
    let files = shipped();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in [
        "baseline_2026",
        "target_2030",
        "huu_nghi_scale",
        "peak_season",
        "bridge_breakdown",
        "comm_loss",
        "outages",
        "single_lane",
        "saturation",
        "border_closure",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let readme = std::fs::read_to_string(scenarios_dir().join("README.md")).unwrap();
    for (path, name) in files.iter().zip(&names) {
        assert!(
            readme.contains(&format!("`{name}.toml`")),
            "{name} has no line in scenarios/README.md"
        );
        let s = Scenario::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let r = run_scenario(&s, s.seed, 1).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let shown = path.display();
        assert!(r.containers_requested > 0, "{shown}: {r:?}");
        assert_eq!(r.conflicts, 0, "{shown}: {r:?}");
        assert_eq!(r.jobs_lost, 0, "{shown}: {r:?}");
        // A breakdown on the bridge stops the broken vehicle there, and the
        // core restarts the vehicles held up behind it on the bridge from a
        // stop at the arc's end: both are waits on the bridge, which the
        // verifier reports as malformed steps (not conflicts). Under
        // overload the core's repair sometimes holds a vehicle on the
        // bridge too. Anywhere else there are none.
        let on_bridge = s
            .faults
            .breakdown
            .iter()
            .filter(|b| b.place == borderlane_sim::scenario::Where::Bridge)
            .count();
        // A vehicle committed while the far side is down waits at the
        // border node until the restarted far side adopts it (PROTOCOL.md
        // section 9): a border stop, and the only wait on the bridge there.
        let restarts = !s.faults.restart.is_empty() || s.faults.random_restarts.is_some();
        if OVERLOADED.contains(&name.as_str()) {
            assert!(r.trace_malformed <= 4, "{shown}: {r:?}");
        } else if restarts {
            let h = r.handoffs.expect("a run with restarts is two-sided");
            assert!(h.restarts > 0, "{shown}: {h:?}");
            assert_eq!(h.unexcused_border_stops, 0, "{shown}: {h:?}");
            assert!(
                r.trace_malformed <= h.border_stops as usize,
                "{shown}: {r:?}"
            );
        } else if on_bridge == 0 {
            assert_eq!(r.trace_malformed, 0, "{shown}: {r:?}");
        } else {
            assert!(
                r.trace_malformed <= on_bridge * r.vehicles,
                "{shown}: {r:?}"
            );
        }
        assert_eq!(r.late_steps, 0, "{shown}: plans the vehicles cannot drive");
        assert_eq!(r.battery_depleted, 0, "{shown}: {r:?}");
        assert!(!r.unsafe_run(), "{shown}: {r:?}");
        assert!(r.min_headway_s.is_some_and(|h| h >= 12.0), "{shown}: {r:?}");
        if OVERLOADED.contains(&name.as_str()) {
            // The lane works flat out: a large share of the demand is
            // carried and the rest is still queued, not lost.
            assert!(r.jobs_unfinished > 0, "{shown}: {r:?}");
            assert!(
                r.containers_delivered.total * 3 > r.containers_requested,
                "{shown}: {r:?}"
            );
        } else {
            assert_eq!(r.jobs_unfinished, 0, "{shown}: {r:?}");
            assert_eq!(r.deadlocks, 0, "{shown}: {r:?}");
            assert_eq!(
                r.containers_delivered.total, r.containers_requested,
                "{shown}: {r:?}"
            );
        }
    }
}

#[test]
fn the_report_measures_the_lane() {
    let s = load("target_2030.toml");
    let r = run_scenario(&s, s.seed, 1).unwrap();
    let d = r.containers_delivered;
    assert_eq!(d.vn_to_cn + d.cn_to_vn, d.total);
    assert!(d.vn_to_cn > 100 && d.cn_to_vn > 100, "{d:?}");
    // Gate to gate is about 3.2 km at 20 km/h loaded and 15 km/h on the
    // bridge: about 10 minutes without customs stops, and never less.
    let c = r.crossing_time_s;
    assert!((540.0..720.0).contains(&c.p50), "{c:?}");
    assert!(c.p50 <= c.p95 && c.p95 <= c.p99 && c.p99 <= c.max, "{c:?}");
    for dir in [
        r.crossing_time_by_direction_s.vn_to_cn,
        r.crossing_time_by_direction_s.cn_to_vn,
    ] {
        assert!(dir.p50 >= 540.0, "{dir:?}");
    }
    // Physical inspections take 1 to 4 hours between the gates.
    assert!(c.max > 3_600.0, "{c:?}");
    // The container's whole time includes the wait, the pick and the drop.
    assert!(r.job_time_s.p50 > c.p50 + 180.0, "{r:?}");
    assert_eq!(r.lane_capacity_per_hour, 300.0);
    let peak = r.peak_hour_bridge_crossings;
    assert!(peak.vn_to_cn > 0 && peak.cn_to_vn > 0, "{peak:?}");
    assert!((r.lane_capacity_used - peak.vn_to_cn.max(peak.cn_to_vn) as f64 / 300.0).abs() < 1e-9);
    assert!(
        r.peak_hour_delivered.vn_to_cn + r.peak_hour_delivered.cn_to_vn >= r.peak_hour_throughput,
        "{r:?}"
    );
    assert!((0.05..0.9).contains(&r.vehicle_utilisation), "{r:?}");
    assert!((0.0..=1.0).contains(&r.charger_utilisation), "{r:?}");
    assert_eq!(r.min_headway_s, Some(12.0));
}

#[test]
fn saturation_finds_what_the_lane_carries() {
    let s = load("saturation.toml");
    let r = run_scenario(&s, s.seed, 1).unwrap();
    // For two hours containers arrive faster than a bridge lane can take
    // them, in both directions.
    let per_lane_hour = r.containers_requested as f64 / 2.0 / 2.0;
    assert!(per_lane_hour > r.lane_capacity_per_hour, "{r:?}");
    // The lane carries them safely, each with one controller, none lost,
    // and the fleet does not jam.
    assert_eq!(r.conflicts, 0, "{r:?}");
    assert_eq!(r.jobs_lost, 0, "{r:?}");
    assert_eq!(r.deadlocks, 0, "{r:?}");
    assert_eq!(r.ownership_violations, 0, "{r:?}");
    assert_eq!(r.min_headway_s, Some(12.0), "{r:?}");
    // The busier bridge lane's peak hour: 172 of 300 vehicles with 140
    // vehicles on the large-yards map (12 % on the shipped map with 48);
    // the fleet's round trip is what limits it now, see
    // scenarios/README.md.
    assert!(r.lane_capacity_used >= 0.55, "{r:?}");
    assert!(r.lane_capacity_used <= 1.0, "{r:?}");
    let peak = r.peak_hour_bridge_crossings;
    assert!(
        peak.vn_to_cn.min(peak.cn_to_vn) as f64 >= 0.5 * 300.0,
        "{r:?}"
    );
    assert!(r.peak_hour_throughput >= 200, "{r:?}");
}

fn run_logged(s: &Scenario) -> (Report, Vec<LogLine>, Vec<bool>) {
    let o = run_with(s, s.seed, 1, &mut |_| {}).unwrap();
    let charging = o.harness.charging();
    (o.report, o.harness.log().to_vec(), charging)
}

fn drives(
    log: &[LogLine],
) -> impl Iterator<Item = (u64, &str, &Vec<borderlane_core::CommandStep>)> {
    log.iter().filter_map(|l| match &l.entry {
        LogEntry::Out {
            output: Output::Command(Command::Drive { vehicle, steps, .. }),
        } => Some((l.t, vehicle.as_str(), steps)),
        _ => None,
    })
}

#[test]
fn batteries_drain_and_are_recharged() {
    let mut s = load("target_2030.toml");
    s.battery.start_pct_min = 30.0;
    s.battery.start_pct_max = 40.0;
    let (r, log, _) = run_logged(&s);
    assert!(r.charges >= 10, "{r:?}");
    assert!(r.charger_utilisation > 0.02, "{r:?}");
    assert_eq!(r.battery_depleted, 0, "{r:?}");
    assert_eq!(r.jobs_unfinished, 0, "{r:?}");
    // Each vehicle's reported charge falls while it works and comes back
    // to 100 % on a charger.
    let mut last: std::collections::BTreeMap<&str, f64> = Default::default();
    let (mut fell, mut rose_to_full) = (0, 0);
    for l in &log {
        if let LogEntry::In {
            input: Input::State(v),
        } = &l.entry
        {
            if let Some(&before) = last.get(v.vehicle.as_str()) {
                if v.battery_pct < before {
                    fell += 1;
                }
                if v.battery_pct == 100.0 && before < 100.0 {
                    rose_to_full += 1;
                }
            }
            last.insert(&v.vehicle, v.battery_pct);
        }
    }
    assert!(fell > 100, "{fell}");
    assert!(rose_to_full >= 10, "{rose_to_full}");
    // The core sends vehicles low on charge to chargers.
    let to_charger = drives(&log)
        .filter(|(_, _, steps)| {
            steps.last().is_some_and(|st| {
                st.action
                    .as_ref()
                    .is_some_and(|a| a.kind == borderlane_core::io::ActionKind::Charge)
            })
        })
        .count();
    assert!(to_charger >= 10, "{to_charger}");
}

#[test]
fn a_battery_swap_is_quicker_than_a_charge() {
    let mut s = load("target_2030.toml");
    s.battery.start_pct_min = 30.0;
    s.battery.start_pct_max = 40.0;
    let charged = run_scenario(&s, s.seed, 1).unwrap();
    s.battery.swap = true;
    let swapped = run_scenario(&s, s.seed, 1).unwrap();
    assert!(swapped.charges >= 10, "{swapped:?}");
    assert!(
        swapped.charger_utilisation * 3.0 < charged.charger_utilisation,
        "swap {} against charge {}",
        swapped.charger_utilisation,
        charged.charger_utilisation
    );
}

#[test]
fn nothing_charges_at_a_charger_out_of_service() {
    let s = load("outages.toml");
    let (r, log, _) = run_logged(&s);
    assert_eq!(r.outages, 3);
    assert_eq!(r.conflicts, 0, "{r:?}");
    let blocked: Vec<(u64, String)> = log
        .iter()
        .filter_map(|l| match &l.entry {
            LogEntry::Out {
                output: Output::Event(Event::PlaceBlocked { node }),
            } => Some((l.t, node.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(blocked.len(), 3, "{blocked:?}");
    // No plan committed while a place is out of service goes through it.
    for o in &s.faults.outage {
        let (from, to) = ((o.at_s * 1e3) as u64, ((o.at_s + o.for_s) * 1e3) as u64);
        let mut after = 0;
        for (t, vehicle, steps) in drives(&log) {
            if t <= from || t >= to {
                continue;
            }
            after += 1;
            for st in steps {
                let during = st.arrive_ms < to
                    && st.depart_ms.is_none_or(|d| d > from)
                    && st.arrive_ms > from;
                assert!(
                    !(st.node == o.node && during),
                    "{vehicle} is sent to {} at {} while it is out of service",
                    o.node,
                    st.arrive_ms
                );
            }
        }
        assert!(after > 0, "no plans while {} was out", o.node);
    }
    // Vehicles still charged on the charger left in service.
    assert!(r.charges > 0, "{r:?}");
}

#[test]
fn a_vehicle_without_its_link_is_held_and_the_others_go_on() {
    let s = load("comm_loss.toml");
    let (r, log, _) = run_logged(&s);
    assert!(r.link_losses >= 2, "{r:?}");
    assert_eq!(r.conflicts, 0, "{r:?}");
    assert_eq!(r.jobs_unfinished, 0, "{r:?}");
    // igv-011 loses its link from 15:00 on, for 30 minutes.
    let lost = log
        .iter()
        .find_map(|l| match &l.entry {
            LogEntry::In {
                input: Input::State(v),
            } if v.vehicle == "igv-011" && v.link_lost && l.t >= 54_000_000 => Some(l.t),
            _ => None,
        })
        .expect("igv-011 loses its link");
    let back = log
        .iter()
        .find_map(|l| match &l.entry {
            LogEntry::In {
                input: Input::State(v),
            } if v.vehicle == "igv-011" && !v.link_lost && l.t > lost => Some(l.t),
            _ => None,
        })
        .expect("igv-011 comes back");
    assert_eq!(back - lost, 1_800_000);
    let held = log.iter().any(|l| {
        l.t == lost
            && matches!(&l.entry, LogEntry::Out { output: Output::Event(Event::VehicleHeld { vehicle, .. }) } if vehicle == "igv-011")
    });
    assert!(held, "igv-011 is held when its link is lost");
    // While it is away it is sent no route that moves it, and the others
    // are planned and deliver.
    let mut others = 0;
    for (t, vehicle, steps) in drives(&log) {
        if t > lost && t < back {
            if vehicle == "igv-011" {
                assert!(steps.len() <= 1, "igv-011 sent a route while away");
            } else {
                others += 1;
            }
        }
    }
    assert!(others > 0);
    let delivered_meanwhile = log
        .iter()
        .filter(|l| {
            l.t > lost
                && l.t < back
                && matches!(
                    &l.entry,
                    LogEntry::Out {
                        output: Output::Event(Event::JobDelivered { .. })
                    }
                )
        })
        .count();
    assert!(delivered_meanwhile > 0);
    // After it is back it is planned again.
    assert!(drives(&log).any(|(t, v, steps)| t >= back && v == "igv-011" && steps.len() > 1));
}

/// Links lost anywhere off the bridge (yard aisles, queues, places) for
/// two days over several seeds: vehicles stopped on a through road block
/// others for a while, and the fleet untangles itself once they are back.
/// Before jobs that could not be planned sent their vehicle aside to wait,
/// and vehicles that found no plan were tried first at the next attempt,
/// seed 3 ended with the whole fleet held.
#[test]
fn links_lost_on_through_roads_never_deadlock_the_fleet() {
    let s = load("comm_loss.toml");
    for seed in [1, 2, 3] {
        let r = run_scenario(&s, seed, 2).expect("runs");
        assert_eq!(r.conflicts, 0, "seed {seed}: {r:?}");
        assert_eq!(r.deadlocks, 0, "seed {seed}: {r:?}");
        assert_eq!(r.jobs_unfinished, 0, "seed {seed}: {r:?}");
        assert!(r.link_losses > 50, "seed {seed}: {r:?}");
    }
}

/// How many vehicles drive onto the bridge at `node` (its first node in
/// one direction) between `from` and `to`, as they really drove.
fn onto_bridge(s: &Scenario, node: &str, from: u64, to: u64) -> usize {
    let o = run_with(s, s.seed, 1, &mut |_| {}).unwrap();
    let map = load_map(s).unwrap();
    let node = map.node_by_id(node).unwrap();
    o.harness
        .trace()
        .iter()
        .flat_map(|plan| &plan.steps)
        .filter(|step| step.node == node && step.arrive > from && step.arrive < to)
        .count()
}

/// While entries to China are closed (10:00 to 12:00), no vehicle drives
/// onto the northbound bridge, while traffic towards Vietnam goes on; once
/// they open, the waiting vehicles cross. Without the closure, vehicles
/// would have crossed northbound in that window.
#[test]
fn no_vehicle_enters_the_bridge_towards_a_closed_border() {
    let s = load("border_closure.toml");
    let r = run_scenario(&s, s.seed, 1).unwrap();
    assert_eq!(r.conflicts, 0, "{r:?}");
    assert_eq!(r.deadlocks, 0, "{r:?}");
    assert_eq!(r.jobs_unfinished, 0, "{r:?}");
    // A vehicle past the stop line at 10:00 reaches the bridge within a
    // minute.
    let (closed, open) = (36_000_000 + 60_000, 43_200_000);
    assert_eq!(onto_bridge(&s, "VN_BRIDGE_END_NB", closed, open), 0);
    assert!(onto_bridge(&s, "CN_BRIDGE_END_SB", closed, open) > 0);
    assert!(onto_bridge(&s, "VN_BRIDGE_END_NB", open, open + 3_600_000) > 0);
    let mut open_all_day = s.clone();
    open_all_day.operator.clear();
    assert!(onto_bridge(&open_all_day, "VN_BRIDGE_END_NB", closed, open) > 0);
}

#[test]
fn a_breakdown_on_the_bridge_holds_the_lane_behind_it() {
    let s = load("bridge_breakdown.toml");
    let (r, log, _) = run_logged(&s);
    assert_eq!(r.conflicts, 0, "{r:?}");
    let broken = log
        .iter()
        .find_map(|l| match &l.entry {
            LogEntry::Out {
                output: Output::Event(Event::VehicleBroken { vehicle, node }),
            } if vehicle == "igv-004" && l.t >= 54_000_000 => Some(node.clone()),
            _ => None,
        })
        .expect("igv-004 breaks down");
    assert!(
        broken.contains("BRIDGE_END") || broken.starts_with("BORDER"),
        "igv-004 broke down at {broken}"
    );
}

#[test]
fn breakdowns_happen_in_the_breakdown_scenario() {
    let s = load("bridge_breakdown.toml");
    let r = run_scenario(&s, s.seed, 1).unwrap();
    assert!(r.breakdowns >= 1, "{r:?}");
}

#[test]
fn the_drawn_demand_follows_the_scenario() {
    // Four weeks: 20 weekdays and 8 weekend days at 0.7.
    let s = load("baseline_2026.toml");
    let map = load_map(&s).unwrap();
    let d = draw(&s, &map, 11, 28).unwrap();
    let n = d.jobs.len() as f64;
    let expected = 130.0 * (20.0 + 8.0 * 0.7);
    assert!((n / expected - 1.0).abs() < 0.05, "{n} against {expected}");
    assert!(d.jobs.windows(2).all(|w| w[0].0 <= w[1].0));
    let from_vn = d
        .jobs
        .iter()
        .filter(|(_, j)| j.pickup.starts_with("VN_"))
        .count();
    assert!((from_vn as f64 / n - 0.5).abs() < 0.05, "{from_vn} of {n}");
    let green = d
        .jobs
        .iter()
        .filter(|(_, j)| j.channel == Channel::Green)
        .count();
    assert!((green as f64 / n - 0.52).abs() < 0.05, "{green} of {n}");
    for (_, j) in &d.jobs {
        match j.channel {
            Channel::Green | Channel::Yellow => assert_eq!(j.customs_ms, 0),
            Channel::RedScan => assert!((20_000..=180_000).contains(&j.customs_ms)),
            Channel::RedInspection => assert!((3_600_000..=14_400_000).contains(&j.customs_ms)),
        }
    }
    // The night is quieter than the day.
    let hour = |h: u64| {
        d.jobs
            .iter()
            .filter(|(t, _)| t / 3_600_000 % 24 == h)
            .count()
    };
    assert!(
        hour(3) * 3 < hour(10),
        "{} at 03:00, {} at 10:00",
        hour(3),
        hour(10)
    );
}

fn bad(text: &str) -> String {
    match Scenario::parse(text, Path::new(".")) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => {
            assert!(
                matches!(e, ScenarioError::Syntax(_) | ScenarioError::Invalid(_)),
                "{e:?}"
            );
            e.to_string()
        }
    }
}

#[test]
fn bad_scenarios_are_rejected_naming_the_field() {
    let good = std::fs::read_to_string(scenarios_dir().join("baseline_2026.toml")).unwrap();
    assert!(Scenario::parse(&good, Path::new(".")).is_ok());

    let unknown = bad(&good.replace("[fleet]", "[fleet]\nspeed_kmh = 30"));
    assert!(unknown.contains("speed_kmh"), "{unknown}");
    assert!(unknown.contains("line"), "{unknown}");

    let top = bad(&format!("colour = \"red\"\n{good}"));
    assert!(top.contains("colour"), "{top}");

    let share = bad(&good.replace("vn_to_cn_share = 0.5", "vn_to_cn_share = 1.5"));
    assert!(
        share.contains("demand.vn_to_cn_share = 1.5 is outside 0..=1"),
        "{share}"
    );

    let split = bad(&good.replace("green = 0.52", "green = 0.6"));
    assert!(split.contains("customs.green"), "{split}");

    let profile = bad(&good.replace(
        "weekend_factor = 0.7",
        "weekend_factor = 0.7\nhourly_profile = [1, 2, 3]",
    ));
    assert!(profile.contains("demand.hourly_profile"), "{profile}");

    let vehicle = bad(&format!(
        "{good}\n[[faults.breakdown]]\nvehicle = \"igv-012\"\nat_s = 0\nrepair_s = 60\n"
    ));
    assert!(vehicle.contains("faults.breakdown[0].vehicle"), "{vehicle}");

    // Every section rejects fields it does not know, naming them.
    for (section, field) in [
        ("[vehicle]", "top_speed"),
        ("[battery]", "capacity_kwh"),
        ("[customs]", "orange"),
        ("[demand]", "containers_per_week"),
        ("[faults]", "random_flat_tyres"),
        (
            "[[faults.link_loss]]\nvehicle = \"igv-001\"\nat_s = 0\nfor_s = 1",
            "lost",
        ),
        (
            "[[faults.outage]]\nnode = \"VN_SCAN_1\"\nat_s = 0\nfor_s = 1",
            "why",
        ),
        (
            "[[faults.breakdown]]\nvehicle = \"igv-001\"\nat_s = 0\nrepair_s = 1",
            "tow_s",
        ),
    ] {
        let text = if good.contains(section) {
            good.replace(section, &format!("{section}\n{field} = 1"))
        } else {
            format!("{good}\n{section}\n{field} = 1\n")
        };
        let e = bad(&text);
        assert!(e.contains(field), "{section}: {e}");
    }

    let place = bad(&format!(
        "{good}\n[[faults.breakdown]]\nvehicle = \"igv-001\"\nat_s = 0\nrepair_s = 1\nwhere = \"river\"\n"
    ));
    assert!(place.contains("river"), "{place}");

    for (text, field) in [
        (
            "[vehicle]\nspeed_loaded_kmh = 0",
            "vehicle.speed_loaded_kmh = 0",
        ),
        (
            "[battery]\nstart_pct_max = 120",
            "battery.start_pct_max = 120",
        ),
        (
            "[battery]\ncharge_pct_per_h = -1",
            "battery.charge_pct_per_h",
        ),
        (
            "[[faults.link_loss]]\nvehicle = \"igv-099\"\nat_s = 0\nfor_s = 60",
            "faults.link_loss[0].vehicle",
        ),
        (
            "[[faults.link_loss]]\nvehicle = \"igv-001\"\nat_s = 0\nfor_s = 0",
            "faults.link_loss[0].for_s",
        ),
        (
            "[[faults.outage]]\nnode = \"VN_SCAN_1\"\nat_s = -5\nfor_s = 60",
            "faults.outage[0].at_s",
        ),
    ] {
        let e = bad(&format!("{good}\n{text}\n"));
        assert!(e.contains(field), "{text}: {e}");
    }

    // A node the map does not have is found when the map is read.
    let s = Scenario::parse(
        &format!("{good}\n[[faults.outage]]\nnode = \"VN_SCAN_9\"\nat_s = 0\nfor_s = 60\n"),
        &scenarios_dir(),
    )
    .unwrap();
    let e = run_scenario(&s, 1, 1).unwrap_err().to_string();
    assert!(e.contains("faults.outage[0].node = \"VN_SCAN_9\""), "{e}");
}
