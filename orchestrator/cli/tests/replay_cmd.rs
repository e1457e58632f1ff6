//! `borderlane replay`: a shipped recording replays clean; a planner that
//! decides differently makes `--check` fail with a readable diff; bad files
//! give clear errors.

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use borderlane_record::{Recorder, read_file};

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
