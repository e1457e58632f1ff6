//! The plan horizon: a red-channel job inspected for hours does not keep
//! the lane after the inspection reserved while the inspection lasts, and
//! is still carried out whole, its stops once each, with one core for the
//! lane and with one per side. A plan that cannot be extended on the way
//! is kept as it is.

use std::sync::Arc;

use borderlane_core::io::{Channel, Event};
use borderlane_core::{CoreConfig, Input, Output};
use borderlane_model::{LaneMap, Ms, NEVER, NodeKind, Side, TimedPlan};
use borderlane_sim::border::LinkModel;
use borderlane_sim::{Harness, LogEntry};
use borderlane_tests::*;

const INSPECTION_MS: Ms = 3 * 3_600_000;
/// The horizon under test (off by default).
const HORIZON_MS: Ms = 1_800_000;
/// A look at the plans ten minutes in: the vehicle has picked the
/// container and is at the inspection bay, or on its way there.
const LOOK_MS: Ms = 600_000;
/// Time for a plan made at the look to reach its end beyond the horizon:
/// the drive from one stop to the next one.
const SLACK_MS: Ms = 600_000;

fn harness(map: &Arc<LaneMap>, horizon: Ms, two_sided: bool) -> Harness {
    let config = CoreConfig {
        plan_horizon_ms: horizon,
        ..config(map, 4)
    };
    let mut h = if two_sided {
        Harness::two_sided(Arc::clone(map), config, LinkModel::default(), 1).unwrap()
    } else {
        Harness::new(Arc::clone(map), config).unwrap()
    };
    h.schedule(
        0,
        Input::Job(job(map, 0, Side::Vn, Channel::RedInspection, INSPECTION_MS)),
    );
    h
}

/// The latest time any committed plan reaches a node, and whether one
/// passes a border node.
fn reach(map: &LaneMap, plans: &[TimedPlan]) -> (Ms, bool) {
    let latest = plans
        .iter()
        .flat_map(|p| &p.steps)
        .map(|s| s.arrive)
        .filter(|&t| t != NEVER)
        .max()
        .unwrap_or(0);
    let border = plans
        .iter()
        .flat_map(|p| &p.steps)
        .any(|s| map.node(s.node).kind == NodeKind::Border);
    (latest, border)
}

/// Runs the job to the end and checks it was done whole and once: one
/// pick, one delivery, the inspection bay held for the inspection and not
/// for a second one.
fn completes(map: &LaneMap, h: &mut Harness) {
    h.keep_log(true);
    h.run_until(8 * 3_600_000);
    assert_safe(map, h);
    assert_eq!(h.open_jobs(), 0);
    let count = |want: fn(&Event) -> bool| {
        h.log()
            .iter()
            .filter(|l| matches!(&l.entry, LogEntry::Out { output: Output::Event(e) } if want(e)))
            .count()
    };
    assert_eq!(count(|e| matches!(e, Event::ContainerPicked { .. })), 1);
    assert_eq!(count(|e| matches!(e, Event::JobDelivered { .. })), 1);
    let stays: Vec<Ms> = h
        .trace()
        .iter()
        .flat_map(|p| &p.steps)
        .filter(|s| map.node(s.node).kind == NodeKind::InspectionBay && s.depart != NEVER)
        .map(|s| s.depart - s.arrive)
        .filter(|&d| d > 0)
        .collect();
    assert_eq!(stays.len(), 1, "stays at an inspection bay: {stays:?}");
    assert!(
        (INSPECTION_MS..INSPECTION_MS + SLACK_MS).contains(&stays[0]),
        "the inspection bay was held {} ms",
        stays[0]
    );
}

#[test]
fn a_long_inspection_does_not_reserve_the_lane_after_it() {
    let map = map("bac_luan_ii.geojson");
    let horizon = HORIZON_MS;

    // Planned whole, the job holds the bridge hours ahead.
    let mut whole = harness(&map, 0, false);
    whole.run_until(LOOK_MS);
    let (latest, border) = reach(&map, &whole.plans());
    assert!(border && latest > INSPECTION_MS, "{latest} ms");

    let mut h = harness(&map, horizon, false);
    h.run_until(LOOK_MS);
    let (latest, border) = reach(&map, &h.plans());
    assert!(!border, "a plan passes the border during the inspection");
    assert!(latest <= LOOK_MS + horizon + SLACK_MS, "{latest} ms");
    completes(&map, &mut h);
}

#[test]
fn a_long_inspection_asks_to_cross_once_it_is_done() {
    let map = map("bac_luan_ii.geojson");
    let horizon = HORIZON_MS;

    // Asked for at once, the crossing is granted, and the far side's lane
    // reserved, for after the inspection.
    let mut whole = harness(&map, 0, true);
    whole.run_until(LOOK_MS);
    let (latest, border) = reach(&map, &whole.plans());
    assert!(border && latest > INSPECTION_MS, "{latest} ms");

    let mut h = harness(&map, horizon, true);
    h.run_until(LOOK_MS);
    let (latest, border) = reach(&map, &h.plans());
    assert!(!border, "a plan passes the border during the inspection");
    assert!(latest <= LOOK_MS + horizon + SLACK_MS, "{latest} ms");
    completes(&map, &mut h);
    assert_eq!(h.link_stats().map(|s| s.containers_redelivered), Some(0));
}

/// Seed 27 of the 400-seed property sweep (tests/properties.rs), with the
/// horizon on: one vehicle on the single-lane map and 16 jobs. Its plans
/// are extended while it drives to the stop they were cut at; when an
/// extension found no plan, the vehicle used to be replanned like a
/// repaired one (held where it was, or sent aside), and job-00008 was
/// never delivered. An extension that fails now leaves the plan it had.
#[test]
fn an_extension_that_finds_no_plan_keeps_the_plan_it_had() {
    let map = map("bac_luan_ii_single_lane.geojson");
    let config = CoreConfig {
        plan_horizon_ms: HORIZON_MS,
        ..config(&map, 1)
    };
    let mut h = Harness::new(Arc::clone(&map), config).unwrap();
    h.keep_log(true);
    // (arrival, from Vietnam, channel, customs), as the sweep drew them.
    let jobs: [(Ms, bool, Channel, Ms); 16] = [
        (2_511_739, false, Channel::Green, 29_725),
        (2_737_982, true, Channel::Green, 172_738),
        (5_026_818, true, Channel::Yellow, 167_709),
        (1_120_393, true, Channel::Green, 108_560),
        (2_360_475, false, Channel::Green, 152_515),
        (3_559_284, true, Channel::Green, 153_700),
        (3_090_447, false, Channel::Yellow, 101_911),
        (2_658_449, false, Channel::Yellow, 106_914),
        (4_361_146, true, Channel::RedScan, 168_205),
        (5_095_618, false, Channel::Green, 50_563),
        (6_601_922, true, Channel::Yellow, 45_804),
        (910_681, false, Channel::Yellow, 20_040),
        (5_729_059, true, Channel::Green, 24_009),
        (1_717_443, true, Channel::Green, 89_366),
        (3_888_971, false, Channel::Green, 104_225),
        (619_156, true, Channel::Green, 161_653),
    ];
    for (i, &(at, vn, channel, customs)) in jobs.iter().enumerate() {
        let side = if vn { Side::Vn } else { Side::Cn };
        h.schedule(at, Input::Job(job(&map, i, side, channel, customs)));
    }
    h.run_until(14 * 3_600_000);
    assert_safe(&map, &mut h);
    assert_eq!(
        h.core.open_jobs(),
        0,
        "jobs left undelivered: {:?}",
        h.core.snapshot().jobs
    );
    assert_eq!(h.core.stats().delivered as usize, jobs.len());
    assert!(h.fleet_at_rest(), "the fleet did not come to rest");
    // A plan was cut at the horizon and extended: it ended at the drop
    // slot, a stop short of its job's end (with one vehicle a parking
    // place is always free for the rest after a drop).
    let rests: Vec<NodeKind> = h
        .log()
        .iter()
        .filter_map(|l| match &l.entry {
            LogEntry::Out {
                output: Output::Event(Event::PlanCommitted { rest, .. }),
            } => map.node_by_id(rest).map(|n| map.node(n).kind),
            _ => None,
        })
        .collect();
    let cut = rests.iter().position(|&k| k == NodeKind::YardSlot);
    assert!(
        cut.is_some_and(|i| i + 1 < rests.len()),
        "no plan was cut at the horizon and extended: {rests:?}"
    );
}
