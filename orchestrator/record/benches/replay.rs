//! Replay speed: a recorded session of a station and its vehicles, replayed
//! against a fresh station. The figure to write down is recorded time over
//! replay time (the issue asks for at least 1,000 times real time).

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use borderlane_core::io::{Channel, JobRequest};
use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_model::LaneMap;
use borderlane_record::{LocalRun, Recorder, ReplayOptions, Session, read_bytes, replay};
use borderlane_station::StationConfig;
use borderlane_vda5050::{AgentConfig, MasterConfig};
use criterion::{Criterion, criterion_group, criterion_main};

const T0: u64 = 1_790_000_000_000;
const HOUR: u64 = 3_600_000;

fn recording(hours: u64) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/bac_luan_ii.geojson");
    let text = std::fs::read_to_string(path).unwrap();
    let map = Arc::new(LaneMap::from_geojson(&text).unwrap());
    let starts = [
        "VN_PARK_01",
        "CN_PARK_01",
        "VN_PARK_02",
        "CN_PARK_02",
        "VN_PARK_03",
        "CN_PARK_03",
    ];
    let config = StationConfig {
        name: "lane".into(),
        prefix: "borderlane/v1".into(),
        jobs_from: None,
        core: CoreConfig {
            fleet: starts
                .iter()
                .enumerate()
                .map(|(i, s)| VehicleSpec {
                    serial: format!("igv-{i:03}"),
                    start: s.to_string(),
                })
                .collect(),
            ..CoreConfig::default()
        },
        vda5050: MasterConfig::default(),
    };
    let session = Session {
        format: borderlane_record::FORMAT_VERSION,
        borderlane: "bench".into(),
        map_name: "bac_luan_ii.geojson".into(),
        map_geojson: text,
        station: serde_json::to_value(&config).unwrap(),
    };
    let recorder = Recorder::new(Cursor::new(Vec::new()), T0, &session).unwrap();
    let mut run = LocalRun::new(map, config, AgentConfig::default(), T0, Some(recorder)).unwrap();
    // About 130 containers a day, both ways, as baseline_2026.
    let every = 11 * 60_000;
    let mut i = 0;
    while (i as u64) * every < hours * HOUR {
        let side = if i % 2 == 0 { "VN" } else { "CN" };
        let job = JobRequest {
            id: format!("job-{i}"),
            container: format!("CONT{i:07}"),
            pickup: format!("{side}_SLOT_{:02}", i % 10 + 1),
            channel: Channel::Green,
            customs_ms: 0,
            priority: 0,
            deadline: None,
        };
        run.schedule_job(T0 + i as u64 * every, &job);
        i += 1;
    }
    run.run_until(T0 + hours * HOUR).unwrap();
    run.finish().unwrap().unwrap().into_inner()
}

fn bench(c: &mut Criterion) {
    let hours = 4;
    let bytes = recording(hours);
    let rec = read_bytes(&bytes).unwrap();
    let started = Instant::now();
    let out = replay(&rec, &ReplayOptions::default()).unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(out.differences.is_empty());
    eprintln!(
        "replay of {hours} h ({} inputs, {} outputs, {} KiB): {:.3} s, {:.0} times real time",
        out.inputs,
        out.outputs,
        bytes.len() / 1024,
        secs,
        (hours * 3600) as f64 / secs
    );
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.bench_function("replay_4h_6_vehicles", |b| {
        b.iter(|| replay(&rec, &ReplayOptions::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
