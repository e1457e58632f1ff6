//! `borderlane replay`: a shipped recording replays clean; a planner that
//! decides differently makes `--check` fail with a readable diff; bad files
//! give clear errors; `--as-sim` writes a scenario that `sim run` runs.

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use borderlane_record::{Recorder, read_file};
use borderlane_sim::scenario::Scenario;

fn borderlane() -> Command {
    Command::new(env!("CARGO_BIN_EXE_borderlane"))
}

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/recordings")
        .join(name)
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("borderlane-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_shipped_recording_replays_clean() {
    let out = borderlane()
        .args(["replay", "--check"])
        .arg(shipped("normal_day.mcap"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 differ"), "{stdout}");
}

#[test]
fn a_changed_planner_fails_the_check_with_a_readable_diff() {
    // The same recording, but the station it describes plans a crane's
    // pick as a minute, not a minute and a half: every plan through a
    // pick-up changes.
    let mut r = read_file(&shipped("normal_day.mcap")).unwrap();
    r.session.station["core"]["pick_ms"] = serde_json::json!(60_000);
    let mut rec = Recorder::new(Cursor::new(Vec::new()), r.start, &r.session).unwrap();
    for (t, e) in &r.entries {
        rec.record(*t, e).unwrap();
    }
    let path = temp("changed.mcap");
    std::fs::write(&path, rec.finish().unwrap().into_inner()).unwrap();
    let out = borderlane()
        .args(["replay", "--check"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("difference at t="), "{stdout}");
    assert!(
        stdout.contains("recorded: ") && stdout.contains("replayed: "),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with('/') && l.contains(" -> ")),
        "{stdout}"
    );
}

#[test]
fn bad_files_give_clear_errors() {
    let garbage = temp("garbage.mcap");
    std::fs::write(&garbage, b"this is not a recording").unwrap();
    let missing = temp("missing.mcap");
    for (path, says) in [(&garbage, "not an MCAP file"), (&missing, "cannot read")] {
        let out = borderlane().arg("replay").arg(path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

#[test]
fn as_sim_writes_a_scenario_that_sim_runs() {
    let out = temp("as_sim/border_closure.toml");
    let converted = borderlane()
        .args(["replay", "--as-sim", "--out"])
        .arg(&out)
        .arg(shipped("border_closure.mcap"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&converted.stdout);
    assert!(
        converted.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&converted.stderr)
    );
    assert!(stdout.contains("4 operator commands"), "{stdout}");
    let s = Scenario::load(&out).unwrap();
    assert!(s.map.ends_with("maps/bac_luan_ii.geojson"), "{:?}", s.map);
    assert_eq!(s.operator.len(), 4);
    let run = borderlane()
        .args(["sim", "run"])
        .arg(&out)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{report}");
    let n = s.jobs.len();
    assert!(
        report.contains(&format!("{n} requested, {n} delivered")),
        "{report}"
    );
}

#[test]
fn as_sim_without_a_map_nearby_writes_the_recorded_one() {
    let dir = temp("lonely");
    std::fs::create_dir_all(&dir).unwrap();
    let recording = dir.join("closure.mcap");
    std::fs::copy(shipped("border_closure.mcap"), &recording).unwrap();
    // Printed, the scenario has no map file to name.
    let printed = borderlane()
        .args(["replay", "--as-sim", "closure.mcap"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&printed.stderr);
    assert_eq!(printed.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--map"), "{stderr}");
    // Written, it gets the recorded map beside it.
    let written = borderlane()
        .args([
            "replay",
            "--as-sim",
            "--out",
            "incident.toml",
            "closure.mcap",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(written.status.success(), "{written:?}");
    let s = Scenario::load(&dir.join("incident.toml")).unwrap();
    assert_eq!(s.map, dir.join("incident.geojson"));
    let run = borderlane()
        .args(["sim", "run", "incident.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    // It converts; it does not also replay.
    let both = borderlane()
        .args(["replay", "--as-sim", "--check", "closure.mcap"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&both.stderr).contains("cannot be used with"));
}
