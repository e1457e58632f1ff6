//! The recordings shipped in `tests/recordings/`, made with
//! `borderlane demo --record`, replay with no difference. When a change to
//! the planner is meant to change decisions, re-record them (see
//! `tests/recordings/README.md`) and review the difference like code.

use std::path::PathBuf;

use borderlane_core::Event;
use borderlane_record::{Entry, ReplayOptions, read_file, replay};

fn recordings() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/recordings");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "mcap"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_recording_replays_with_no_difference() {
    let files = recordings();
    assert!(files.len() >= 3, "{files:?}");
    for path in files {
        let r = read_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!r.truncated, "{} was not finished", path.display());
        let out = replay(&r, &ReplayOptions::default()).unwrap();
        assert!(
            out.inputs > 1_000,
            "{}: {} inputs",
            path.display(),
            out.inputs
        );
        assert!(
            out.differences.is_empty(),
            "{}: {} differences; the first:\n{}",
            path.display(),
            out.differences.len(),
            out.differences[0]
        );
    }
}

#[test]
fn the_border_closure_recording_holds_the_closure() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/recordings/border_closure.mcap");
    let r = read_file(&path).unwrap();
    let blocked: Vec<&str> = r
        .entries
        .iter()
        .filter_map(|(_, e)| match e {
            Entry::Event(Event::PlaceBlocked { node }) => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(blocked, ["BORDER_NB", "BORDER_SB"]);
    let unblocked = r
        .entries
        .iter()
        .filter(|(_, e)| matches!(e, Entry::Event(Event::PlaceUnblocked { .. })))
        .count();
    assert_eq!(unblocked, 2);
}

#[test]
fn the_link_loss_recording_holds_the_loss_and_the_return() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/recordings/link_loss.mcap");
    let r = read_file(&path).unwrap();
    let connection = |i: usize| match &r.entries[i].1 {
        Entry::MqttIn(m) if m.topic.ends_with("/igv-010/connection") => m
            .payload
            .json()
            .and_then(|j| j["connectionState"].as_str().map(String::from)),
        _ => None,
    };
    // The core's events from entry `a` on, up to entry `b`.
    let events = |a: usize, b: usize| -> Vec<&Event> {
        r.entries[a..b]
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Event(ev) => Some(ev),
                _ => None,
            })
            .collect()
    };
    let picked = r
        .entries
        .iter()
        .position(|(_, e)| {
            matches!(e, Entry::Event(Event::ContainerPicked { vehicle, .. }) if vehicle == "igv-010")
        })
        .expect("igv-010 picks a container up");
    // Carrying it, the vehicle loses its link: the broker publishes its
    // last will and the core holds the vehicle where it was last seen.
    let lost = (picked..r.entries.len())
        .find(|&i| connection(i).as_deref() == Some("CONNECTIONBROKEN"))
        .expect("the last will, after the pick-up");
    // Three minutes later (on the demo's clock) it is back.
    let back = (lost..r.entries.len())
        .find(|&i| connection(i).as_deref() == Some("ONLINE"))
        .expect("the vehicle back online");
    let away_ms = r.entries[back].0 - r.entries[lost].0;
    assert!((175_000..190_000).contains(&away_ms), "{away_ms} ms");
    let while_lost = events(lost, back);
    assert!(
        while_lost
            .iter()
            .any(|e| matches!(e, Event::VehicleHeld { vehicle, .. } if vehicle == "igv-010")),
        "{while_lost:?}"
    );
    assert!(
        !while_lost
            .iter()
            .any(|e| matches!(e, Event::PlanCommitted { vehicle, .. } if vehicle == "igv-010")),
        "no plan for a vehicle out of reach: {while_lost:?}"
    );
    // Then the core replans it first of all.
    let first_repair = events(back, r.entries.len())
        .into_iter()
        .find_map(|e| match e {
            Event::Repaired { cause, vehicles } if vehicles.iter().any(|v| v == "igv-010") => {
                Some(cause.as_str())
            }
            _ => None,
        });
    assert_eq!(first_repair, Some("igv-010 is back"));
}
