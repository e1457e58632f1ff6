//! The shipped scenarios run clean, a scenario and a seed always give the
//! same run, and bad scenario files are rejected naming the field.

use std::path::{Path, PathBuf};

use borderlane_core::io::Channel;
use borderlane_sim::run::{draw, load_map, run_scenario};
use borderlane_sim::scenario::{Scenario, ScenarioError};
use borderlane_tests::root;

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
fn every_shipped_scenario_runs_clean_for_a_day() {
    let files = shipped();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let r = run_scenario(&s, s.seed, 1).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let shown = path.display();
        assert!(r.containers_requested > 0, "{shown}: {r:?}");
        assert_eq!(r.conflicts, 0, "{shown}: {r:?}");
        assert_eq!(r.jobs_lost, 0, "{shown}: {r:?}");
        assert_eq!(r.jobs_unfinished, 0, "{shown}: {r:?}");
        assert_eq!(r.deadlocks, 0, "{shown}: {r:?}");
        assert_eq!(
            r.containers_delivered.total, r.containers_requested,
            "{shown}: {r:?}"
        );
        assert!(!r.unsafe_run(), "{shown}: {r:?}");
    }
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
}
