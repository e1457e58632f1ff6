//! Shared helpers for the workspace tests: the shipped maps, fleets and job
//! streams.

use std::path::PathBuf;
use std::sync::Arc;

use borderlane_core::io::{Channel, JobRequest};
use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_model::{LaneMap, NodeKind, Side};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads a shipped map by file name.
pub fn map(name: &str) -> Arc<LaneMap> {
    let path = root().join("maps").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Arc::new(LaneMap::from_geojson(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Places of one kind on one side, in map order.
pub fn places(map: &LaneMap, side: Side, kind: NodeKind) -> Vec<String> {
    map.nodes
        .iter()
        .filter(|n| n.kind == kind && n.side == Some(side))
        .map(|n| n.id.clone())
        .collect()
}

/// A fleet of `n` vehicles spread over both sides' parking places, then
/// chargers and yard slots.
pub fn fleet(map: &LaneMap, n: usize) -> Vec<VehicleSpec> {
    let mut starts = Vec::new();
    for kind in [NodeKind::Parking, NodeKind::Charger, NodeKind::YardSlot] {
        let vn = places(map, Side::Vn, kind);
        let cn = places(map, Side::Cn, kind);
        for i in 0..vn.len().max(cn.len()) {
            starts.extend(vn.get(i).cloned());
            starts.extend(cn.get(i).cloned());
        }
    }
    assert!(
        n <= starts.len(),
        "the map has {} places for {n} vehicles",
        starts.len()
    );
    starts
        .into_iter()
        .take(n)
        .enumerate()
        .map(|(i, start)| VehicleSpec {
            serial: format!("igv-{i:03}"),
            start,
        })
        .collect()
}

pub fn config(map: &LaneMap, vehicles: usize) -> CoreConfig {
    CoreConfig {
        fleet: fleet(map, vehicles),
        ..CoreConfig::default()
    }
}

/// A job moving container `i` from a yard slot on `from` to the other side.
pub fn job(map: &LaneMap, i: usize, from: Side, channel: Channel, customs_ms: u64) -> JobRequest {
    let slots = places(map, from, NodeKind::YardSlot);
    JobRequest {
        id: format!("job-{i:05}"),
        container: format!("CONT{i:07}"),
        pickup: slots[i % slots.len()].clone(),
        channel,
        customs_ms,
        priority: 0,
        deadline: None,
    }
}

/// Asserts that the verifier finds nothing wrong with the core's committed
/// plans nor with what the vehicles did.
pub fn assert_safe(map: &LaneMap, h: &mut borderlane_sim::Harness) {
    let v = borderlane_verify::Verifier::new(map, borderlane_model::SafetyRules::default());
    let plans = v.check_plans(&h.core.plans());
    assert!(plans.is_clean(), "plans: {plans}");
    let trace = v.check_trace(&h.trace());
    assert!(trace.is_clean(), "trace: {trace}");
}
