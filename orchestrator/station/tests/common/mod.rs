//! What the station tests share: the repository's files, two stations'
//! configurations with their handoff keys, the fleet and the jobs, and how
//! a message in the in-memory broker is addressed.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use borderlane_core::io::{Channel, JobRequest};
use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_handoff::SigningKey;
use borderlane_model::{LaneMap, Ms, Side};
use borderlane_station::{HandoffKeys, StationConfig};
use borderlane_vda5050::MasterConfig;

pub const MIN: Ms = 60_000;
pub const T0: Ms = 1_790_000_000_000;
pub const LATENCY_MS: Ms = 5;

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The shipped map of the lane.
pub fn map() -> Arc<LaneMap> {
    let text = std::fs::read_to_string(repo("maps/bac_luan_ii.geojson")).unwrap();
    Arc::new(LaneMap::from_geojson(&text).unwrap())
}

/// The handoff keys of a test's two sides: each side's signing-key seed is
/// its byte repeated 32 times, and its key id the side's code with the
/// test's label.
#[derive(Clone, Copy)]
pub struct TestKeys {
    pub vn_byte: &'static str,
    pub cn_byte: &'static str,
    pub label: &'static str,
}

impl TestKeys {
    fn seed(&self, side: Side) -> String {
        match side {
            Side::Vn => self.vn_byte.repeat(32),
            Side::Cn => self.cn_byte.repeat(32),
        }
    }

    fn key_id(&self, side: Side) -> String {
        format!("{}-{}", side.to_string().to_lowercase(), self.label)
    }

    /// Side `side`'s keys: its own, and the other side's public key.
    pub fn of(&self, side: Side) -> HandoffKeys {
        let peer = side.other();
        HandoffKeys {
            key_id: self.key_id(side),
            key: self.seed(side),
            peer_key_id: self.key_id(peer),
            peer_key: SigningKey::from_hex(&self.key_id(peer), &self.seed(peer))
                .unwrap()
                .verifying_key()
                .to_hex(),
        }
    }
}

/// Four vehicles, two parked in each yard.
pub fn fleet() -> Vec<VehicleSpec> {
    ["VN_PARK_01", "VN_PARK_02", "CN_PARK_01", "CN_PARK_02"]
        .iter()
        .enumerate()
        .map(|(i, start)| VehicleSpec {
            serial: format!("igv-{i:03}"),
            start: start.to_string(),
        })
        .collect()
}

/// The territory station of `side`, taking the jobs that start there.
pub fn config(side: Side, keys: TestKeys) -> StationConfig {
    StationConfig {
        name: side.to_string().to_lowercase(),
        prefix: "borderlane/v1".into(),
        jobs_from: Some(side),
        core: CoreConfig {
            fleet: fleet(),
            territory: Some(side),
            ..CoreConfig::default()
        },
        vda5050: MasterConfig::default(),
        handoff: Some(keys.of(side)),
    }
}

/// A green job picking container number `i` up at `pickup`.
pub fn job(i: usize, pickup: &str) -> JobRequest {
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

/// Where a message in the in-memory broker goes.
pub enum To {
    Station(usize),
    Agent(usize),
}
