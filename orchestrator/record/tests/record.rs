//! Recording a station and replaying the recording: a recording replays with
//! no difference, a changed planner is caught with a readable diff, and cut,
//! corrupt or foreign files give clear errors, never a panic.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use borderlane_core::io::{Channel, JobRequest};
use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_model::LaneMap;
use borderlane_record::{
    Entry, LocalRun, ReadError, Recorder, Recording, ReplayOptions, Session, read_bytes, replay,
};
use borderlane_station::StationConfig;
use borderlane_vda5050::{AgentConfig, BatteryModel, MasterConfig};

const MIN: u64 = 60_000;
/// A start time like a live one: milliseconds since the Unix epoch.
const T0: u64 = 1_790_000_000_000;

fn map_text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/bac_luan_ii.geojson");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn station_config() -> StationConfig {
    let fleet = ["VN_PARK_01", "CN_PARK_01", "VN_PARK_02"]
        .iter()
        .enumerate()
        .map(|(i, start)| VehicleSpec {
            serial: format!("igv-{i:03}"),
            start: start.to_string(),
        })
        .collect();
    StationConfig {
        name: "lane".into(),
        prefix: "borderlane/v1".into(),
        jobs_from: None,
        core: CoreConfig {
            fleet,
            ..CoreConfig::default()
        },
        vda5050: MasterConfig::default(),
        handoff: None,
    }
}

fn session(config: &StationConfig) -> Session {
    Session {
        format: borderlane_record::FORMAT_VERSION,
        borderlane: "test".into(),
        map_name: "bac_luan_ii.geojson".into(),
        map_geojson: map_text(),
        station: serde_json::to_value(config).unwrap(),
    }
}

fn job(i: usize, pickup: &str) -> JobRequest {
    JobRequest {
        id: format!("job-{i}"),
        container: format!("CONT{i:07}"),
        pickup: pickup.into(),
        channel: Channel::Green,
        customs_ms: 0,
        priority: 0,
        deadline: None,
    }
}

/// A short session: three vehicles, three jobs, some bad input.
fn run_into<W: std::io::Write + std::io::Seek>(recorder: Recorder<W>, until: u64) -> LocalRun<W> {
    let map = Arc::new(LaneMap::from_geojson(&map_text()).unwrap());
    let config = station_config();
    let agent = AgentConfig {
        battery: BatteryModel {
            drain_pct_per_km: 0.0,
            ..BatteryModel::default()
        },
        ..AgentConfig::default()
    };
    let mut run = LocalRun::new(map, config, agent, T0, Some(recorder)).unwrap();
    run.schedule_job(T0 + MIN, &job(0, "VN_SLOT_01"));
    run.schedule_job(T0 + 2 * MIN, &job(1, "CN_SLOT_02"));
    run.schedule_job(T0 + 3 * MIN, &job(2, "VN_SLOT_03"));
    run.schedule_message(T0 + 4 * MIN, "borderlane/v1/lane/jobs", b"{not json");
    run.run_until(until).unwrap();
    run
}

fn recording(until: u64) -> (Vec<u8>, usize) {
    let config = station_config();
    let recorder = Recorder::new(Cursor::new(Vec::new()), T0, &session(&config)).unwrap();
    let run = run_into(recorder, until);
    let outputs = run.outputs.len();
    let bytes = run.finish().unwrap().unwrap().into_inner();
    (bytes, outputs)
}

fn delivered(r: &Recording) -> usize {
    r.entries
        .iter()
        .filter(|(_, e)| matches!(e, Entry::Event(borderlane_core::Event::JobDelivered { .. })))
        .count()
}

#[test]
fn a_recording_replays_with_no_difference() {
    let (bytes, outputs) = recording(T0 + 90 * MIN);
    let r = read_bytes(&bytes).unwrap();
    assert!(!r.truncated);
    assert_eq!(r.start, T0);
    assert_eq!(
        delivered(&r),
        3,
        "the session should deliver its three jobs"
    );
    let out = replay(&r, &ReplayOptions::default()).unwrap();
    assert!(out.inputs > 100, "{} inputs", out.inputs);
    assert_eq!(out.outputs, outputs);
    assert!(out.differences.is_empty(), "{}", out.differences[0]);
}

#[test]
fn a_changed_planner_is_caught_with_a_readable_diff() {
    let (bytes, _) = recording(T0 + 30 * MIN);
    let mut r = read_bytes(&bytes).unwrap();
    // The planner keeps a wider gap between vehicles than when recorded.
    r.session.station["core"]["rules"]["headway_ms"] = serde_json::json!(9_000);
    let out = replay(
        &r,
        &ReplayOptions {
            check: true,
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    assert_eq!(out.differences.len(), 1, "--check stops at the first");
    let text = out.differences[0].to_string();
    assert!(text.starts_with("difference at t="), "{text}");
    assert!(
        text.contains("recorded:") && text.contains("replayed:"),
        "{text}"
    );
    // A field-level line: a JSON pointer, the recorded value, the replayed one.
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with('/') && l.contains(" -> ")),
        "{text}"
    );
}

#[test]
fn narrowing_to_a_vehicle_and_a_time_compares_less() {
    let (bytes, _) = recording(T0 + 30 * MIN);
    let r = read_bytes(&bytes).unwrap();
    let all = replay(&r, &ReplayOptions::default()).unwrap();
    let one = replay(
        &r,
        &ReplayOptions {
            vehicle: Some("igv-001".into()),
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    let early = replay(
        &r,
        &ReplayOptions {
            until: Some(10 * MIN),
            ..ReplayOptions::default()
        },
    )
    .unwrap();
    assert!(one.outputs > 0 && one.outputs < all.outputs);
    assert!(early.inputs < all.inputs && early.reached <= T0 + 10 * MIN);
    assert!(one.differences.is_empty() && early.differences.is_empty());
}

#[test]
fn a_recording_cut_short_reads_up_to_its_last_chunk() {
    let dir = std::env::temp_dir().join(format!("borderlane-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut.mcap");
    let config = station_config();
    let recorder = Recorder::create(&path, T0, &session(&config))
        .unwrap()
        .flush_every(0);
    // The run is left unfinished, as after a crash: no summary, no footer.
    let run = run_into(recorder, T0 + 20 * MIN);
    let bytes = std::fs::read(&path).unwrap();
    let r = read_bytes(&bytes).unwrap();
    assert!(r.truncated);
    assert!(!r.entries.is_empty());
    let out = replay(&r, &ReplayOptions::default()).unwrap();
    assert!(out.differences.is_empty(), "{}", out.differences[0]);
    drop(run);
    // Whatever the cut, reading never panics; it keeps a prefix or says why.
    let step = (bytes.len() / 300).max(1);
    for len in (0..bytes.len()).step_by(step) {
        match read_bytes(&bytes[..len]) {
            Ok(cut) => assert!(cut.entries.len() <= r.entries.len()),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corrupt_foreign_and_incompatible_files_are_named_as_such() {
    assert!(matches!(
        read_bytes(b"hello, world"),
        Err(ReadError::NotMcap)
    ));
    assert!(matches!(read_bytes(b""), Err(ReadError::NotMcap)));

    let (bytes, _) = recording(T0 + 10 * MIN);
    // Flipped bytes in the middle: an error or fewer entries, never a panic.
    for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() * 2 / 3] {
        let mut bad = bytes.clone();
        bad[at] ^= 0xff;
        if let Err(e) = read_bytes(&bad) {
            assert!(!e.to_string().is_empty());
        }
    }

    // Another program's MCAP file.
    let mut foreign = mcap::Writer::new(Cursor::new(Vec::new())).unwrap();
    let ch = foreign
        .add_channel(0, "/camera", "raw", &Default::default())
        .unwrap();
    foreign
        .write_to_known_channel(
            &mcap::records::MessageHeader {
                channel_id: ch,
                sequence: 1,
                log_time: 1,
                publish_time: 1,
            },
            b"pixels",
        )
        .unwrap();
    foreign.finish().unwrap();
    let foreign = foreign.into_inner().into_inner();
    let err = read_bytes(&foreign).unwrap_err();
    assert!(matches!(err, ReadError::Foreign(_)), "{err}");
    assert!(err.to_string().contains("/camera"), "{err}");

    // A recording from a future format.
    let config = station_config();
    let mut future = session(&config);
    future.format = 99;
    let recorder = Recorder::new(Cursor::new(Vec::new()), T0, &future).unwrap();
    let bytes = recorder.finish().unwrap().into_inner();
    let err = read_bytes(&bytes).unwrap_err();
    assert!(
        matches!(err, ReadError::Incompatible { found: 99, .. }),
        "{err}"
    );
}
