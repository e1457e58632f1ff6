//! Operator commands: pausing the lane stops every vehicle and resuming
//! carries on; a blocked place is avoided until it is unblocked. The
//! verifier checks every run.

use borderlane_core::io::{Channel, Command, OperatorCommand, Output};
use borderlane_core::{Event, Input};
use borderlane_model::Side;
use borderlane_sim::{Harness, LogLine};
use borderlane_tests::*;

const MIN: u64 = 60_000;

fn fleet_with_jobs(
    vehicles: usize,
    jobs: usize,
) -> (std::sync::Arc<borderlane_model::LaneMap>, Harness) {
    let map = map("bac_luan_ii_single_lane.geojson");
    let mut h = Harness::new(map.clone(), config(&map, vehicles)).unwrap();
    for i in 0..jobs {
        let side = if i % 2 == 0 { Side::Vn } else { Side::Cn };
        h.schedule(
            i as u64 * MIN,
            Input::Job(job(&map, i, side, Channel::Green, 0)),
        );
    }
    (map, h)
}

fn outputs(log: &[LogLine]) -> Vec<(u64, &Output)> {
    log.iter()
        .filter_map(|l| match &l.entry {
            borderlane_sim::LogEntry::Out { output } => Some((l.t, output)),
            _ => None,
        })
        .collect()
}

#[test]
fn pause_stops_every_vehicle_and_resume_finishes_the_work() {
    let (map, mut h) = fleet_with_jobs(8, 10);
    h.schedule(12 * MIN, Input::Operator(OperatorCommand::PauseLane));
    h.schedule(40 * MIN, Input::Operator(OperatorCommand::ResumeLane));
    h.run_until(30 * MIN);
    // While paused: every vehicle was told to pause, and no vehicle gets a
    // new route.
    let pauses = outputs(h.log())
        .iter()
        .filter(|(_, o)| matches!(o, Output::Command(Command::Pause { .. })))
        .count();
    assert_eq!(pauses, 8);
    let drives_while_paused = outputs(h.log())
        .iter()
        .filter(|(t, o)| *t > 12 * MIN && matches!(o, Output::Command(Command::Drive { .. })))
        .count();
    assert_eq!(drives_while_paused, 0);
    let snap = h.core.snapshot();
    assert!(
        snap.vehicles.iter().all(|v| v.state != "driving"),
        "{:?}",
        snap.vehicles
    );
    h.run_until(6 * 60 * MIN);
    assert_safe(&map, &mut h);
    assert_eq!(h.core.open_jobs(), 0);
    assert!(h.log().iter().any(|l| matches!(
        &l.entry,
        borderlane_sim::LogEntry::Out {
            output: Output::Event(Event::LaneResumed)
        }
    )));
}

#[test]
fn a_blocked_place_is_never_entered_until_unblocked() {
    let (map, mut h) = fleet_with_jobs(8, 10);
    let border = map.node_by_id("BORDER_NB").unwrap();
    h.schedule(
        5 * MIN,
        Input::Operator(OperatorCommand::BlockPlace {
            node: "BORDER_NB".into(),
        }),
    );
    h.schedule(
        45 * MIN,
        Input::Operator(OperatorCommand::UnblockPlace {
            node: "BORDER_NB".into(),
        }),
    );
    h.run_until(6 * 60 * MIN);
    assert_safe(&map, &mut h);
    // Nobody passed the border northbound while it was blocked.
    for plan in h.trace() {
        for s in &plan.steps {
            if s.node == border {
                assert!(
                    s.arrive < 5 * MIN || s.arrive >= 45 * MIN,
                    "{:?} crossed the blocked border at {}",
                    plan.vehicle,
                    s.arrive
                );
            }
        }
    }
    assert_eq!(h.core.open_jobs(), 0);
}

#[test]
fn bad_operator_commands_are_rejected_and_change_nothing() {
    let (_, mut h) = fleet_with_jobs(2, 0);
    h.run_until(MIN / 2);
    let before = (h.core.reservations(), h.core.plans(), h.core.snapshot());
    h.schedule(
        MIN,
        Input::Operator(OperatorCommand::BlockPlace {
            node: "NOWHERE".into(),
        }),
    );
    h.schedule(
        MIN,
        Input::Operator(OperatorCommand::CancelJob {
            job: "job-99999".into(),
        }),
    );
    h.run_until(2 * MIN);
    let rejected: Vec<_> = outputs(h.log())
        .into_iter()
        .filter_map(|(_, o)| match o {
            Output::Event(Event::InputRejected { reason }) => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(rejected[0].contains("NOWHERE"), "{}", rejected[0]);
    assert!(rejected[1].contains("job-99999"), "{}", rejected[1]);
    assert_eq!(h.core.stats().rejected_inputs, 2);
    let mut after = (h.core.reservations(), h.core.plans(), h.core.snapshot());
    after.2.now_ms = before.2.now_ms;
    assert_eq!(before, after, "a rejected command changed the core's state");
}
