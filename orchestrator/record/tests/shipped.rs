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
    assert!(files.len() >= 2, "{files:?}");
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
