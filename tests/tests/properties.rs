//! Property tests on both shipped maps: random fleets, job streams and
//! breakdowns. In every run the independent verifier finds no conflict in
//! the committed plans or in what the vehicles did, and no job is lost or
//! delivered twice.
//!
//! Liveness (every job delivered, the fleet at rest) is checked by the
//! ignored tests at the end: with crowded yards the dispatcher can still
//! leave jobs waiting for a slot that a resting vehicle occupies. That is
//! open work, and the tests say so rather than pass.

use borderlane_core::Input;
use borderlane_core::io::Channel;
use borderlane_model::{SafetyRules, Side};
use borderlane_sim::Harness;
use borderlane_tests::*;
use borderlane_verify::{Verifier, Violation};
use proptest::prelude::*;

const HOUR: u64 = 3_600_000;

#[derive(Clone, Debug)]
struct Case {
    single_lane: bool,
    vehicles: usize,
    jobs: Vec<(u64, bool, u8, u64)>,
    breakdowns: Vec<(usize, u64, u64)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        1usize..=60,
        prop::collection::vec(
            (0u64..2 * HOUR, any::<bool>(), 0u8..20, 20_000u64..180_000),
            1..40,
        ),
        prop::collection::vec((0usize..60, 0u64..2 * HOUR, 60_000u64..1_800_000), 0..3),
    )
        .prop_map(|(single_lane, vehicles, jobs, breakdowns)| Case {
            single_lane,
            vehicles,
            jobs,
            breakdowns,
        })
}

fn channel(roll: u8) -> Channel {
    // Roughly the published split: green 52 %, yellow 43 %, red 5 %.
    match roll {
        0..=9 => Channel::Green,
        10..=18 => Channel::Yellow,
        _ => Channel::RedScan,
    }
}

fn run(case: &Case, liveness: bool) -> Result<(), TestCaseError> {
    let name = if case.single_lane {
        "bac_luan_ii_single_lane.geojson"
    } else {
        "bac_luan_ii.geojson"
    };
    let map = map(name);
    let mut h = Harness::new(map.clone(), config(&map, case.vehicles)).unwrap();
    h.keep_log(false);
    for (i, &(at, vn, roll, customs)) in case.jobs.iter().enumerate() {
        let side = if vn { Side::Vn } else { Side::Cn };
        h.schedule(at, Input::Job(job(&map, i, side, channel(roll), customs)));
    }
    for &(v, at, repair) in &case.breakdowns {
        h.schedule_breakdown(&format!("igv-{:03}", v % case.vehicles), at, repair);
    }
    // Generous: the last job arrives within 2 h, a crossing takes minutes,
    // a breakdown lasts at most 30 min.
    h.run_until(14 * HOUR);

    let verifier = Verifier::new(&map, SafetyRules::default());
    let plans = verifier.check_plans(&h.core.plans());
    prop_assert!(plans.is_clean(), "plans: {plans}");
    let trace = verifier.check_trace(&h.trace());
    // A breakdown is an instant stop where the vehicle happened to be; that
    // is the fault itself, not a conflict.
    let conflicts: Vec<&Violation> = trace
        .violations
        .iter()
        .filter(|v| !matches!(v, Violation::Malformed { .. }))
        .collect();
    prop_assert!(conflicts.is_empty(), "trace: {trace}");
    // No job lost or duplicated: each is either delivered once or still open.
    prop_assert_eq!(
        h.core.stats().delivered as usize + h.core.open_jobs(),
        case.jobs.len()
    );
    if liveness {
        prop_assert_eq!(h.core.open_jobs(), 0, "jobs left undelivered");
        prop_assert!(h.fleet_at_rest(), "the fleet did not come to rest");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_fleets_jobs_and_breakdowns_stay_safe(case in case()) {
        run(&case, false)?;
    }
}

#[test]
#[ignore = "open: crowded yards can leave a job waiting for an occupied slot"]
fn random_fleets_jobs_and_breakdowns_all_finish() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    runner.run(&case(), |c| run(&c, true)).unwrap();
}

fn sixty() -> Case {
    let jobs = (0..80u64)
        .map(|i| (i * 60_000, i % 2 == 0, (i * 7 % 20) as u8, 60_000))
        .collect();
    Case {
        single_lane: true,
        vehicles: 60,
        jobs,
        breakdowns: vec![(3, 20 * 60_000, 900_000)],
    }
}

#[test]
fn sixty_vehicles_on_the_single_lane_map_stay_safe() {
    run(&sixty(), false).unwrap();
}

#[test]
#[ignore = "open: crowded yards can leave a job waiting for an occupied slot"]
fn sixty_vehicles_on_the_single_lane_map_finish() {
    run(&sixty(), true).unwrap();
}

#[test]
fn a_light_day_finishes() {
    let jobs = (0..30u64)
        .map(|i| (i * 240_000, i % 2 == 0, (i * 7 % 20) as u8, 60_000))
        .collect();
    run(
        &Case {
            single_lane: false,
            vehicles: 12,
            jobs,
            breakdowns: vec![(2, 30 * 60_000, 600_000)],
        },
        true,
    )
    .unwrap();
}
