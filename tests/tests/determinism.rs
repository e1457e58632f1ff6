//! The same inputs give byte-identical outputs.

use borderlane_core::Input;
use borderlane_core::io::Channel;
use borderlane_model::Side;
use borderlane_sim::Harness;
use borderlane_tests::*;

fn run(vehicles: usize, jobs: usize, shift: u64) -> (String, usize) {
    let map = map("bac_luan_ii_single_lane.geojson");
    let mut h = Harness::new(map.clone(), config(&map, vehicles)).unwrap();
    for i in 0..jobs {
        let side = if i % 3 == 0 { Side::Cn } else { Side::Vn };
        let ch = [
            Channel::Green,
            Channel::Yellow,
            Channel::RedScan,
            Channel::RedInspection,
        ][i % 4];
        h.schedule(
            i as u64 * 45_000 + shift,
            Input::Job(job(&map, i, side, ch, 90_000)),
        );
    }
    h.schedule_breakdown("igv-002", 600_000, 600_000);
    h.run_until(10 * 3_600_000);
    (h.digest(), h.log().len())
}

#[test]
fn same_inputs_same_bytes() {
    let a = run(20, 40, 0);
    let b = run(20, 40, 0);
    assert_eq!(a, b);
    assert!(
        a.1 > 100,
        "the run did too little to mean anything: {} log lines",
        a.1
    );
}

#[test]
fn different_inputs_different_bytes() {
    assert_ne!(run(20, 40, 0).0, run(20, 40, 1_000).0);
}
