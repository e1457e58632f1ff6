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

fn drives_of<'a>(log: &'a [LogLine], vehicle: &str) -> Vec<(u64, &'a Output)> {
    outputs(log)
        .into_iter()
        .filter(|(_, o)| matches!(o, Output::Command(Command::Drive { vehicle: v, .. }) if v == vehicle))
        .collect()
}

fn rejections(log: &[LogLine]) -> Vec<String> {
    outputs(log)
        .into_iter()
        .filter_map(|(_, o)| match o {
            Output::Event(Event::InputRejected { reason }) => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_paused_vehicle_stays_put_while_the_others_work_on() {
    let (map, mut h) = fleet_with_jobs(6, 12);
    let pause = 3 * MIN;
    let resume = 60 * MIN;
    h.schedule(
        pause,
        Input::Operator(OperatorCommand::PauseVehicle {
            vehicle: "igv-000".into(),
        }),
    );
    h.schedule(
        resume,
        Input::Operator(OperatorCommand::ResumeVehicle {
            vehicle: "igv-000".into(),
        }),
    );
    h.run_until(50 * MIN);
    let told_to_pause = outputs(h.log()).iter().any(|(t, o)| {
        *t == pause
            && matches!(o, Output::Command(Command::Pause { vehicle }) if vehicle == "igv-000")
    });
    assert!(told_to_pause, "igv-000 was not told to pause");
    assert!(
        drives_of(h.log(), "igv-000")
            .iter()
            .all(|(t, _)| *t <= pause),
        "igv-000 got a route while paused"
    );
    let snap = h.core.snapshot();
    let v0 = snap
        .vehicles
        .iter()
        .find(|v| v.vehicle == "igv-000")
        .unwrap();
    assert_eq!(v0.state, "paused");
    assert!(
        v0.job.is_none(),
        "a paused vehicle keeps no queued job: {v0:?}"
    );
    // The others deliver meanwhile.
    let delivered_while_paused = outputs(h.log())
        .iter()
        .filter(|(t, o)| *t > pause && matches!(o, Output::Event(Event::JobDelivered { .. })))
        .count();
    assert!(delivered_while_paused > 0);
    h.run_until(8 * 60 * MIN);
    assert_safe(&map, &mut h);
    assert_eq!(h.core.open_jobs(), 0);
    assert!(
        drives_of(h.log(), "igv-000")
            .iter()
            .any(|(t, _)| *t >= resume),
        "igv-000 never moved again after it was resumed"
    );
}

#[test]
fn a_reprioritised_job_goes_first() {
    let map = map("bac_luan_ii.geojson");
    let mut h = Harness::new(map.clone(), config(&map, 1)).unwrap();
    // The one vehicle takes the first job at once; the others queue behind.
    for i in 0..4 {
        h.schedule(
            i as u64 * MIN,
            Input::Job(job(&map, i, Side::Vn, Channel::Green, 0)),
        );
    }
    h.schedule(
        4 * MIN,
        Input::Operator(OperatorCommand::Reprioritise {
            job: "job-00003".into(),
            priority: 9,
        }),
    );
    h.run_until(12 * 60 * MIN);
    let assigned: Vec<String> = outputs(h.log())
        .into_iter()
        .filter_map(|(_, o)| match o {
            Output::Event(Event::JobAssigned { job, .. }) => Some(job.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        assigned,
        ["job-00000", "job-00003", "job-00001", "job-00002"],
        "the reprioritised job should come second, after the one already under way"
    );
    assert_safe(&map, &mut h);
    assert_eq!(h.core.open_jobs(), 0);
}

#[test]
fn an_idle_vehicle_is_sent_to_a_charger_and_then_to_park() {
    let map = map("bac_luan_ii.geojson");
    let mut h = Harness::new(map.clone(), config(&map, 2)).unwrap();
    let send = |cmd| Input::Operator(cmd);
    h.schedule(
        MIN,
        send(OperatorCommand::SendToCharger {
            vehicle: "igv-000".into(),
        }),
    );
    h.run_until(20 * MIN);
    let node_kind = |h: &mut Harness| {
        let snap = h.core.snapshot();
        let v = snap
            .vehicles
            .iter()
            .find(|v| v.vehicle == "igv-000")
            .unwrap()
            .clone();
        map.node(map.node_by_id(&v.node).unwrap()).kind
    };
    assert_eq!(node_kind(&mut h), borderlane_model::NodeKind::Charger);
    h.schedule(
        21 * MIN,
        send(OperatorCommand::SendToParking {
            vehicle: "igv-000".into(),
        }),
    );
    h.run_until(40 * MIN);
    assert_eq!(node_kind(&mut h), borderlane_model::NodeKind::Parking);
    assert_safe(&map, &mut h);
    let sent: Vec<String> = outputs(h.log())
        .into_iter()
        .filter_map(|(_, o)| match o {
            Output::Event(Event::VehicleSent { to, .. }) => Some(to.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["charger", "parking"]);
}

#[test]
fn vehicle_commands_on_unknown_or_busy_vehicles_are_rejected() {
    let (_, mut h) = fleet_with_jobs(1, 1);
    h.run_until(6 * MIN - 1);
    let before = h.core.plans();
    for cmd in [
        OperatorCommand::PauseVehicle {
            vehicle: "igv-999".into(),
        },
        OperatorCommand::SendToCharger {
            vehicle: "igv-000".into(),
        },
        OperatorCommand::SendToParking {
            vehicle: "igv-000".into(),
        },
        OperatorCommand::Reprioritise {
            job: "job-77777".into(),
            priority: 1,
        },
    ] {
        h.schedule(6 * MIN, Input::Operator(cmd));
    }
    h.run_until(6 * MIN);
    let rejected = rejections(h.log());
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert!(rejected[0].contains("igv-999"), "{}", rejected[0]);
    assert!(rejected[1].contains("not idle"), "{}", rejected[1]);
    assert!(rejected[2].contains("not at rest"), "{}", rejected[2]);
    assert!(rejected[3].contains("job-77777"), "{}", rejected[3]);
    assert_eq!(before, h.core.plans(), "a rejected command changed a plan");
}
