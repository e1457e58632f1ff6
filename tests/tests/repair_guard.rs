//! Reports that put two broken vehicles at one node, which no plan can
//! have allowed, leave the core answering: the repair that pins them both
//! there ends, and the core goes on planning the others.

use std::sync::mpsc;
use std::time::Duration;

use borderlane_core::io::{Channel, Command, Output, VehicleReport};
use borderlane_core::{Core, Input};
use borderlane_model::Side;
use borderlane_tests::*;

fn broken_at(vehicle: &str, node: &str) -> Input {
    Input::State(VehicleReport {
        vehicle: vehicle.into(),
        plan_id: None,
        last_step: None,
        last_node: node.into(),
        driving: false,
        battery_pct: 80.0,
        loaded: false,
        broken: true,
        link_lost: false,
        finished_actions: vec![],
    })
}

#[test]
fn two_broken_vehicles_reported_at_one_node_do_not_stall_the_core() {
    let (done, finished) = mpsc::channel();
    // Run apart, so that a core that never returns fails the test instead
    // of hanging it.
    std::thread::spawn(move || {
        let map = map("bac_luan_ii.geojson");
        let mut core = Core::new(map.clone(), config(&map, 4)).unwrap();
        // igv-000 and igv-002 start on the VN side; both say they broke
        // down on the same yard lane node.
        core.handle(1_000, broken_at("igv-000", "VN_Y_TW1"));
        core.handle(1_000, broken_at("igv-002", "VN_Y_TW1"));
        while core.poll_output().is_some() {}
        // A CN job still gets a CN vehicle and a route.
        core.handle(2_000, Input::Job(job(&map, 0, Side::Cn, Channel::Green, 0)));
        let mut driven = Vec::new();
        while let Some(out) = core.poll_output() {
            if let Output::Command(Command::Drive { vehicle, .. }) = out {
                driven.push(vehicle);
            }
        }
        let _ = done.send(driven);
    });
    let driven = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("the core answers");
    assert!(
        driven.iter().any(|v| v == "igv-001" || v == "igv-003"),
        "{driven:?}"
    );
}
