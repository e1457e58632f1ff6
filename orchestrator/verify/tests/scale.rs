//! Large inputs: many vehicles over many laps are checked quickly, the same
//! way every time, and independently of the order the plans come in.

mod common;

use std::time::{Duration, Instant};

use borderlane_model::{LaneMap, Ms, TimedPlan};
use borderlane_verify::Verifier;
use common::*;

/// One lap from VN-P2 over the bridge to the CN yard and back.
const LAP: [&str; 11] = [
    "VN-W1", "VN-B1", "BR-1", "CN-B1", "CN-W1", "CN-Y1", "CN-B2", "BR-2", "VN-B2", "VN-W1", "VN-P2",
];

/// A trace of `vehicles` vehicles driving `laps` laps at the speed limit,
/// leaving VN-P2 `spacing` apart.
fn laps(map: &LaneMap, vehicles: u32, laps: usize, spacing: Ms) -> Vec<TimedPlan> {
    (0..vehicles)
        .map(|v| {
            let start = Ms::from(v) * spacing;
            let mut plan = Plan::passing(map, v + 1, "VN-P2", start);
            for _ in 0..laps {
                plan = plan.route(&LAP);
            }
            plan.build()
        })
        .collect()
}

#[test]
fn a_staggered_fleet_over_many_laps_is_clean() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    // VN-W1 is passed twice a lap, 18 s after leaving VN-P2 and 18 s before
    // coming back to it. Leaving 24 s apart interleaves those passes exactly
    // one headway apart, and seven vehicles fit in one lap.
    let trace = laps(&map, 7, 300, 24_000);
    let report = verifier.check_trace(&trace);
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.checked_steps, 7 * (1 + 300 * LAP.len()));
    assert_eq!(report.min_headway_ms, Some(H));
}

#[test]
fn sixty_vehicles_with_thousands_of_steps_are_checked_quickly_and_deterministically() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    // Sixty vehicles 12 s apart do not fit in a lap: they catch up with one
    // another and break the rules all over.
    let trace = laps(&map, 60, 200, H);
    let started = Instant::now();
    let report = verifier.check_trace(&trace);
    let took = started.elapsed();
    assert_eq!(report.checked_steps, 60 * (1 + 200 * LAP.len()));
    assert!(!report.is_clean());
    assert!(report.count("node_overlap") > 0);
    assert!(took < Duration::from_secs(20), "checking took {took:?}");

    // The same input gives the same report, whatever the order of the plans.
    let mut reversed = trace.clone();
    reversed.reverse();
    assert_eq!(verifier.check_trace(&trace), report);
    assert_eq!(verifier.check_trace(&reversed), report);
}
