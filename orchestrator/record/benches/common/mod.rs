//! A recorded session of a station and six simulated vehicles, shared by
//! the benchmarks.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use borderlane_core::io::{Channel, JobRequest};
use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_model::LaneMap;
use borderlane_record::{LocalRun, Recorder, Session};
use borderlane_station::StationConfig;
use borderlane_vda5050::{AgentConfig, MasterConfig};

const T0: u64 = 1_790_000_000_000;
const HOUR: u64 = 3_600_000;

/// The MCAP bytes of `hours` hours of the lane: six vehicles, a container
/// every 11 minutes, both ways in turn.
pub fn recording(hours: u64) -> Vec<u8> {
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
        handoff: None,
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
