//! One test per rule: plans that break exactly that rule are caught, and a
//! close variant that keeps it passes clean.

mod common;

use borderlane_model::{ArcIx, LaneMap, NEVER, NodeIx, SafetyRules, TimedPlan, VehicleId, ZoneIx};
use borderlane_verify::{Report, Verifier, Violation};
use common::*;

const A: VehicleId = VehicleId(1);
const B: VehicleId = VehicleId(2);

fn assert_clean(report: &Report) {
    assert!(report.is_clean(), "expected a clean report, got:\n{report}");
}

/// The plan many tests start from: vehicle `v` leaves parking place VN-P2 at
/// `t`, passes the waypoint VN-W1 at `t + 18 s` and rests at the yard slot
/// VN-Y1 from `t + 36 s`.
fn p2_to_yard(map: &LaneMap, v: u32, t: u64) -> TimedPlan {
    Plan::at(map, v, "VN-P2", 0)
        .wait_until(t)
        .route(&["VN-W1", "VN-Y1"])
        .rest()
        .build()
}

#[test]
fn the_test_lane_has_the_expected_driving_times() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    assert_eq!(verifier.min_traverse_ms(arc(&map, "VN-P2", "VN-W1")), YARD);
    assert_eq!(verifier.min_traverse_ms(arc(&map, "VN-W1", "VN-B1")), ROAD);
    assert_eq!(verifier.min_traverse_ms(arc(&map, "VN-B1", "BR-1")), BRIDGE);
    assert_eq!(verifier.rules(), rules());
}

#[test]
fn convoy_exactly_one_headway_apart_is_accepted() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    let crossing = ["VN-W1", "VN-B1", "BR-1", "CN-B1", "CN-W1"];
    let convoy = |gap: u64| {
        vec![
            Plan::at(&map, 1, "VN-P2", 0)
                .route(&crossing)
                .go("CN-Y1")
                .rest()
                .build(),
            Plan::at(&map, 2, "VN-P1", 0)
                .wait_until(gap)
                .route(&crossing)
                .go("CN-P1")
                .rest()
                .build(),
        ]
    };

    // Every node, every arc entry and every arc exit is exactly H apart.
    let report = verifier.check_plans(&convoy(H));
    assert_clean(&report);
    assert_eq!(report.min_headway_ms, Some(H));
    assert_eq!(report.checked_steps, 14);

    // One millisecond less and both the nodes and the arcs complain.
    let report = verifier.check_plans(&convoy(H - 1));
    assert!(report.count("node_overlap") > 0, "{report}");
    assert!(report.count("headway") > 0, "{report}");
    assert_eq!(report.min_headway_ms, Some(H - 1));
}

#[test]
fn node_overlap_is_caught() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    // A passes VN-W1 at 18 s and holds it until 30 s; B comes off the bridge
    // and passes VN-W1 on other arcs.
    let plans = |b_at_bridge_end: u64| {
        vec![
            p2_to_yard(&map, 1, 0),
            Plan::passing(&map, 2, "VN-B2", b_at_bridge_end)
                .route(&["VN-W1", "VN-P2"])
                .rest()
                .build(),
        ]
    };

    let report = verifier.check_plans(&plans(10_000));
    assert_eq!(
        report.violations,
        vec![Violation::NodeOverlap {
            node: node(&map, "VN-W1"),
            a: A,
            b: B,
            from: 24_400,
            to: 30_000,
        }],
        "{report}"
    );
    assert_eq!(report.min_headway_ms, Some(24_400 - 18_000));

    // B reaching VN-W1 at 30 s, just as A's hold ends, is fine.
    assert_clean(&verifier.check_plans(&plans(15_600)));
}

#[test]
fn entry_headway_is_caught() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    let onward = ["BR-1", "CN-B1", "CN-W1"];
    // Both plans start on the approach arc, so only the entry gap is short:
    // B enters 5 s after A but drives slowly enough to leave H after it.
    let plans = |b_enters: u64| {
        vec![
            Plan::on_arc(&map, 1, "VN-W1", "VN-B1", 0, ROAD)
                .route(&onward)
                .go("CN-Y1")
                .rest()
                .build(),
            Plan::on_arc(&map, 2, "VN-W1", "VN-B1", b_enters, ROAD + H)
                .route(&onward)
                .go("CN-P1")
                .rest()
                .build(),
        ]
    };

    let report = verifier.check_plans(&plans(5_000));
    assert_eq!(
        report.violations,
        vec![Violation::Headway {
            arc: arc(&map, "VN-W1", "VN-B1"),
            a: A,
            b: B,
            gap_ms: 5_000,
            at: 5_000,
        }],
        "{report}"
    );
    assert_clean(&verifier.check_plans(&plans(H)));
}

#[test]
fn overtaking_is_caught() {
    let map = lane();
    // Without a headway, overtaking is the only rule two vehicles on one arc
    // can break, so it shows alone.
    let no_headway = Verifier::new(&map, SafetyRules { headway_ms: 0 });
    let onward = ["BR-1", "CN-B1", "CN-W1"];
    let plans = |b_arrives: u64| {
        vec![
            Plan::on_arc(&map, 1, "VN-W1", "VN-B1", 0, 30_000)
                .route(&onward)
                .go("CN-Y1")
                .rest()
                .build(),
            Plan::on_arc(&map, 2, "VN-W1", "VN-B1", 12_000, b_arrives)
                .route(&onward)
                .go("CN-P1")
                .rest()
                .build(),
        ]
    };

    let report = no_headway.check_plans(&plans(26_400));
    assert_eq!(
        report.violations,
        vec![Violation::Overtaking {
            arc: arc(&map, "VN-W1", "VN-B1"),
            a: A,
            b: B,
            at: 26_400,
        }],
        "{report}"
    );
    assert_clean(&no_headway.check_plans(&plans(31_000)));

    // With the usual headway the same pass also crowds the bridge end, but
    // it is still reported as overtaking, once.
    let report = Verifier::new(&map, rules()).check_plans(&plans(26_400));
    assert_eq!(report.count("overtaking"), 1, "{report}");
    assert!(report.count("node_overlap") > 0, "{report}");
}

#[test]
fn opposite_directions_on_a_single_lane_are_caught() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());

    // B drives out of the yard on the single-lane road while A drives in.
    let report = verifier.check_plans(&[
        p2_to_yard(&map, 1, 0),
        Plan::at(&map, 2, "VN-Y1", 0)
            .wait_until(12_000)
            .route(&["VN-W1", "VN-P2"])
            .rest()
            .build(),
    ]);
    assert_eq!(
        report.violations,
        vec![Violation::OppositeDirections {
            edge: edge(&map, "VN-YARD-ROAD"),
            a: B,
            b: A,
            at: 18_000,
        }],
        "{report}"
    );

    // A waits until B has left the lane and the headway has passed.
    let report = verifier.check_plans(&[
        p2_to_yard(&map, 1, 12_000),
        Plan::at(&map, 2, "VN-Y1", 0)
            .route(&["VN-W1", "VN-P2"])
            .rest()
            .build(),
    ]);
    assert_clean(&report);
}

#[test]
fn zone_over_capacity_is_caught() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    let plans = |b_rests_at: &str| {
        vec![
            p2_to_yard(&map, 1, 0),
            Plan::passing(&map, 2, "VN-B2", 15_600)
                .route(&["VN-W1", b_rests_at])
                .rest()
                .build(),
        ]
    };

    // A rests at VN-Y1 and B at VN-P1: two vehicles in a zone for one.
    let report = verifier.check_plans(&plans("VN-P1"));
    assert_eq!(
        report.violations,
        vec![Violation::ZoneOverCapacity {
            zone: ZoneIx(0),
            at: 48_000,
            count: 2,
            capacity: 1,
        }],
        "{report}"
    );
    assert_clean(&verifier.check_plans(&plans("VN-P2")));
}

#[test]
fn speeding_is_caught_with_one_millisecond_of_tolerance() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    let plan = |ms: u64| {
        vec![
            Plan::at(&map, 1, "VN-P2", 0)
                .go_in("VN-W1", ms)
                .go("VN-Y1")
                .rest()
                .build(),
        ]
    };

    let report = verifier.check_plans(&plan(17_000));
    assert_eq!(
        report.violations,
        vec![Violation::Speeding {
            vehicle: A,
            arc: arc(&map, "VN-P2", "VN-W1"),
            min_ms: YARD,
            actual_ms: 17_000,
        }],
        "{report}"
    );
    assert_eq!(verifier.check_plans(&plan(YARD - 2)).count("speeding"), 1);
    assert_clean(&verifier.check_plans(&plan(YARD - 1)));
    assert_clean(&verifier.check_plans(&plan(YARD)));
}

/// Asserts that the report holds only malformed steps, at least one, all at
/// `step` and one of them giving a reason that contains `reason`.
fn assert_malformed(report: &Report, vehicle: Option<VehicleId>, step: usize, reason: &str) {
    assert!(!report.is_clean(), "expected a malformed plan");
    for v in &report.violations {
        match v {
            Violation::Malformed {
                vehicle: who,
                step: s,
                ..
            } => {
                assert_eq!((*who, *s), (vehicle, step), "{report}");
            }
            other => panic!("unexpected {other}\n{report}"),
        }
    }
    assert!(
        report
            .violations
            .iter()
            .any(|v| matches!(v, Violation::Malformed { reason: r, .. } if r.contains(reason))),
        "no reason mentions {reason:?}:\n{report}"
    );
}

#[test]
fn malformed_plans_are_caught() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    let base = || {
        Plan::at(&map, 1, "VN-P2", 0)
            .route(&["VN-W1", "VN-Y1"])
            .rest()
    };
    assert_clean(&verifier.check_plans(&[base().build()]));

    // Times going backwards.
    let plan = base().edit(0, |s| s.arrive = 5).build();
    let report = verifier.check_plans(&[plan]);
    assert_malformed(&report, Some(A), 0, "before it arrives");
    assert_eq!(report.violations.len(), 1, "{report}");

    // An arc that does not lead to the step's node.
    let wrong = arc(&map, "VN-W1", "VN-P1");
    let plan = base().edit(2, |s| s.arc = Some(wrong)).build();
    let report = verifier.check_plans(&[plan]);
    assert_malformed(&report, Some(A), 2, "does not lead to node VN-Y1");
    assert_eq!(report.violations.len(), 1, "{report}");

    // An arc that does not leave the previous node.
    let wrong = arc(&map, "VN-B2", "VN-W1");
    let plan = base().edit(1, |s| s.arc = Some(wrong)).build();
    let report = verifier.check_plans(&[plan]);
    assert_malformed(
        &report,
        Some(A),
        1,
        "does not leave the previous node VN-P2",
    );
    assert_eq!(report.violations.len(), 1, "{report}");

    // A step after the first with no arc.
    let plan = base().edit(1, |s| s.arc = None).build();
    let report = verifier.check_plans(&[plan]);
    assert_malformed(&report, Some(A), 1, "has no arc");

    // Entering an arc at another time than the previous departure.
    let plan = base()
        .edit(2, |s| {
            s.enter += 500;
            s.arrive += 500;
        })
        .build();
    let report = verifier.check_plans(&[plan]);
    assert_malformed(&report, Some(A), 2, "previous step departs");
    assert_eq!(report.violations.len(), 1, "{report}");

    // A step that does not stop but stays.
    let plan = base()
        .edit(1, |s| s.depart += 1_000)
        .edit(2, |s| {
            s.enter += 1_000;
            s.arrive += 1_000;
        })
        .build();
    let report = verifier.check_plans(&[plan]);
    assert_malformed(&report, Some(A), 1, "does not stop");
    assert_eq!(report.violations.len(), 1, "{report}");

    // Waiting on the bridge.
    let plan = Plan::at(&map, 1, "VN-P2", 0)
        .route(&["VN-W1", "VN-B1"])
        .wait_until(YARD + ROAD + 1_000)
        .route(&["BR-1", "CN-B1", "CN-W1", "CN-Y1"])
        .rest()
        .build();
    let report = verifier.check_plans(&[plan]);
    assert_malformed(&report, Some(A), 2, "may not wait");
    assert_eq!(report.violations.len(), 1, "{report}");

    // Never departing before the end of the plan.
    let plan = base().edit(1, |s| s.depart = NEVER).build();
    let report = verifier.check_plans(&[plan]);
    assert!(
        report.violations.iter().any(
            |v| matches!(v, Violation::Malformed { step: 1, reason, .. } if reason.contains("not the last step"))
        ),
        "{report}"
    );

    // A plan that names no vehicle.
    let report = verifier.check_plans(&[base().anonymous().build()]);
    assert_malformed(&report, None, 0, "names no vehicle");
    assert_eq!(report.violations.len(), 1, "{report}");

    // Two plans for one vehicle.
    let report = verifier.check_plans(&[base().build(), base().build()]);
    assert_malformed(&report, Some(A), 0, "second plan");
    assert_eq!(report.violations.len(), 1, "{report}");
}

#[test]
fn indices_off_the_map_are_malformed_not_a_panic() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    let plan = Plan::at(&map, 1, "VN-P2", 0)
        .route(&["VN-W1", "VN-Y1"])
        .rest()
        .edit(1, |s| s.node = NodeIx(999))
        .edit(2, |s| s.arc = Some(ArcIx(999)))
        .build();
    let report = verifier.check_plans(&[plan]);
    assert!(report.count("malformed") >= 2, "{report}");
    assert!(report.to_string().contains("not on the map"), "{report}");
}

#[test]
fn plans_must_end_at_rest_at_a_place_but_traces_need_not() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());

    // Ends at a place, but drives on through it.
    let through = Plan::at(&map, 1, "VN-P2", 0)
        .route(&["VN-W1", "VN-Y1"])
        .build();
    // Ends at rest, but at a waypoint.
    let waypoint = Plan::passing(&map, 2, "VN-B2", 60_000)
        .go("VN-W1")
        .rest()
        .build();
    let report = verifier.check_plans(&[through.clone(), waypoint.clone()]);
    assert_eq!(
        report.violations,
        vec![
            Violation::NoRest { vehicle: A },
            Violation::NoRest { vehicle: B },
        ],
        "{report}"
    );
    // An empty plan has no rest either.
    let report = verifier.check_plans(&[TimedPlan::new(A, Vec::new())]);
    assert_eq!(report.violations, vec![Violation::NoRest { vehicle: A }]);

    assert_clean(&verifier.check_trace(&[through, waypoint]));
    assert_clean(&verifier.check_trace(&[TimedPlan::new(A, Vec::new())]));
}

#[test]
fn a_trace_may_end_while_a_vehicle_is_on_the_bridge() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    // The trace was cut while the vehicle was past the VN bridge end.
    let trace = Plan::at(&map, 1, "VN-P2", 0)
        .route(&["VN-W1", "VN-B1"])
        .edit(2, |s| s.depart = NEVER)
        .build();
    assert_clean(&verifier.check_trace(std::slice::from_ref(&trace)));
    // As a committed plan the same steps wait on the bridge and never rest.
    let report = verifier.check_plans(&[trace]);
    assert_eq!(report.count("no_rest"), 1, "{report}");
    assert_eq!(report.count("malformed"), 2, "{report}");
}

#[test]
fn never_and_huge_headways_do_not_overflow() {
    let map = lane();
    let endless = Verifier::new(
        &map,
        SafetyRules {
            headway_ms: u64::MAX,
        },
    );
    let late = u64::MAX - 100_000;
    let plans = vec![
        Plan::at(&map, 1, "VN-P2", 0).rest().build(),
        Plan::at(&map, 2, "CN-Y1", 0).rest().build(),
        Plan::passing(&map, 3, "VN-B2", late)
            .route(&["VN-W1", "VN-P1"])
            .rest()
            .build(),
    ];
    let report = endless.check_plans(&plans);
    assert_clean(&report);
    assert_eq!(report.min_headway_ms, None);

    // A fourth vehicle resting at VN-P2 overlaps the first until never, and
    // one at VN-Y1 fills the zone that the third enters near the end of time.
    let mut more = plans.clone();
    more.push(Plan::at(&map, 4, "VN-P2", 5).rest().build());
    more.push(Plan::at(&map, 5, "VN-Y1", 0).rest().build());
    let report = endless.check_plans(&more);
    assert_eq!(
        report.violations,
        vec![
            Violation::NodeOverlap {
                node: node(&map, "VN-P2"),
                a: A,
                b: VehicleId(4),
                from: 5,
                to: NEVER,
            },
            Violation::ZoneOverCapacity {
                zone: ZoneIx(0),
                at: late + ROAD + YARD,
                count: 2,
                capacity: 1,
            },
        ],
        "{report}"
    );
    assert_eq!(report.min_headway_ms, Some(0));
    assert!(report.to_string().contains("until never"), "{report}");

    // The same near the end of time with the usual headway, in a trace.
    let usual = Verifier::new(&map, rules());
    let trace = vec![
        Plan::passing(&map, 1, "VN-B2", late)
            .go("VN-W1")
            .edit(1, |s| s.depart = NEVER)
            .build(),
        Plan::passing(&map, 2, "VN-B2", late + 1)
            .go("VN-W1")
            .edit(1, |s| s.depart = NEVER)
            .build(),
    ];
    let report = usual.check_trace(&trace);
    assert!(report.count("node_overlap") >= 1, "{report}");
    assert!(report.count("headway") >= 1, "{report}");
}

#[test]
fn reports_name_things_by_map_ids() {
    let map = lane();
    let verifier = Verifier::new(&map, rules());
    let report = verifier.check_plans(&[
        p2_to_yard(&map, 1, 0),
        Plan::passing(&map, 2, "VN-B2", 10_000)
            .route(&["VN-W1", "VN-P2"])
            .rest()
            .build(),
    ]);
    let text = report.to_string();
    assert!(text.starts_with("checked 6 steps: 1 violation"), "{text}");
    assert!(text.contains("igv-001 and igv-002"), "{text}");
    assert!(text.contains("node VN-W1"), "{text}");
    assert!(text.contains("t=24.400 s"), "{text}");

    let v = &report.violations[0];
    assert_eq!(v.named(&map).to_string(), report.describe(v).to_string());
    // Without a map a violation names things by index.
    assert!(
        v.to_string()
            .contains(&format!("node #{}", node(&map, "VN-W1").0))
    );

    let clean = verifier.check_plans(&[p2_to_yard(&map, 1, 0)]);
    assert_eq!(
        clean.to_string(),
        "checked 3 steps: clean; no two vehicles shared a node or arc"
    );

    let speeding = verifier.check_plans(&[Plan::at(&map, 1, "VN-P2", 0)
        .go_in("VN-W1", 1_000)
        .go("VN-Y1")
        .rest()
        .build()]);
    assert!(
        speeding
            .to_string()
            .contains("arc VN-P2-OUT (VN-P2 -> VN-W1) in 1.000 s"),
        "{speeding}"
    );
}
