//! A core, the master control and simulated VDA 5050 vehicles in one loop:
//! the vehicles deliver a batch of jobs and the verifier finds no conflict
//! in what they did.

mod common;

use borderlane_core::Event;
use borderlane_core::io::{Channel, Output};
use borderlane_model::{SafetyRules, Side};
use borderlane_vda5050::ProtocolVersion;
use borderlane_verify::Verifier;
use common::*;

fn run(version: ProtocolVersion, vehicles: usize, jobs: usize) -> Loop {
    let map = map("bac_luan_ii.geojson");
    let mut l = Loop::new(map.clone(), vehicles, version);
    for i in 0..jobs {
        let side = if i % 2 == 0 { Side::Vn } else { Side::Cn };
        let ch = [
            Channel::Green,
            Channel::Yellow,
            Channel::RedScan,
            Channel::RedInspection,
        ][i % 4];
        l.schedule_job(i as u64 * 60_000, job(&map, i, side, ch, 120_000));
    }
    l.run_until(6 * 3_600_000);
    l
}

fn delivered(l: &Loop) -> usize {
    l.outputs
        .iter()
        .filter(|o| matches!(o, Output::Event(Event::JobDelivered { .. })))
        .count()
}

#[test]
fn vda5050_vehicles_deliver_a_batch_of_jobs_without_conflict() {
    for version in [ProtocolVersion::V2_1, ProtocolVersion::V2_0] {
        let mut l = run(version, 6, 8);
        assert!(l.rejected.is_empty(), "rejected: {:?}", l.rejected);
        let v = Verifier::new(&l.map, SafetyRules::default());
        let plans = v.check_plans(&l.core.plans());
        assert!(plans.is_clean(), "plans: {plans}");
        let trace = v.check_trace(&l.trace());
        assert!(trace.is_clean(), "trace: {trace}");
        assert_eq!(delivered(&l), 8, "{:?}", l.core.stats());
        assert_eq!(l.core.open_jobs(), 0);
        assert!(l.agents.iter().all(|a| a.at_rest()));
        let count = |kind: &str, needle: &str| {
            l.wire
                .iter()
                .filter(|(_, t, p)| {
                    t.ends_with(kind) && String::from_utf8_lossy(p).contains(needle)
                })
                .count()
        };
        // Orders go out once per plan; the base grows by order updates.
        assert_eq!(count("/order", "\"orderUpdateId\":0"), 8);
        assert!(count("/order", "") > 8 * 10);
        assert_eq!(count("/instantActions", "cancelOrder"), 0);
        let rejected_inputs = l
            .outputs
            .iter()
            .filter(|o| matches!(o, Output::Event(Event::InputRejected { .. })))
            .count();
        assert_eq!(rejected_inputs, 0);
    }
}

#[test]
fn the_loop_is_deterministic() {
    let a = run(ProtocolVersion::V2_1, 4, 4);
    let b = run(ProtocolVersion::V2_1, 4, 4);
    assert_eq!(a.wire, b.wire);
    assert_eq!(a.inputs, b.inputs);
}

#[test]
fn a_larger_fleet_with_message_latency_stays_safe() {
    let map = map("bac_luan_ii.geojson");
    let mut l = Loop::new(map.clone(), 10, ProtocolVersion::V2_1);
    l.latency = 50;
    for i in 0..20 {
        let side = if i % 2 == 0 { Side::Vn } else { Side::Cn };
        l.schedule_job(i as u64 * 20_000, job(&map, i, side, Channel::Green, 0));
    }
    l.run_until(8 * 3_600_000);
    assert!(l.rejected.is_empty(), "rejected: {:?}", l.rejected);
    let v = Verifier::new(&l.map, SafetyRules::default());
    let trace = v.check_trace(&l.trace());
    assert!(trace.is_clean(), "trace: {trace}");
    assert_eq!(delivered(&l), 20, "{:?}", l.core.stats());
    assert_eq!(l.core.open_jobs(), 0);
}

#[test]
fn a_vehicle_that_loses_its_link_is_planned_around_and_comes_back() {
    let map = map("bac_luan_ii.geojson");
    let mut l = Loop::new(map.clone(), 6, ProtocolVersion::V2_1);
    for i in 0..6 {
        let side = if i % 2 == 0 { Side::Vn } else { Side::Cn };
        l.schedule_job(i as u64 * 60_000, job(&map, i, side, Channel::Green, 0));
    }
    l.run_until(600_000);
    l.drop_link(0);
    l.run_until(1_200_000);
    let lost = l.inputs.iter().any(
        |i| matches!(i, borderlane_core::Input::State(r) if r.vehicle == "igv-000" && r.link_lost),
    );
    assert!(lost, "the core was told the link is lost");
    l.reconnect(0);
    l.run_until(8 * 3_600_000);
    assert!(l.rejected.is_empty(), "rejected: {:?}", l.rejected);
    let v = Verifier::new(&l.map, SafetyRules::default());
    let trace = v.check_trace(&l.trace());
    assert!(trace.is_clean(), "trace: {trace}");
    assert_eq!(delivered(&l), 6, "{:?}", l.core.stats());
}

#[test]
fn edge_ids_are_unique_within_an_order() {
    // Plans drive into a spur and out again along the same map edge; each
    // traversal still has its own edgeId in the order.
    let l = run(ProtocolVersion::V2_1, 4, 4);
    let mut orders = 0;
    let mut repeated_map_edges = 0;
    for (_, topic, payload) in &l.wire {
        if !topic.ends_with("/order") {
            continue;
        }
        orders += 1;
        let order: serde_json::Value = serde_json::from_slice(payload).expect("JSON");
        let mut ids = std::collections::BTreeSet::new();
        let mut map_edges = std::collections::BTreeSet::new();
        for e in order["edges"].as_array().expect("edges") {
            let edge_id = e["edgeId"].as_str().expect("an edgeId").to_string();
            let (map_edge, _) = edge_id.rsplit_once(':').expect("a sequence suffix");
            if !map_edges.insert(map_edge.to_string()) {
                repeated_map_edges += 1;
            }
            assert!(ids.insert(edge_id.clone()), "{edge_id} twice in one order");
        }
    }
    assert!(orders > 0);
    assert!(repeated_map_edges > 0, "no order drove a map edge twice");
}
