//! Recordings turned into simulator scenarios: the shipped recordings give
//! scenarios that parse, run clean and carry the recorded jobs and operator
//! commands; a link lost and regained becomes a link loss.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use borderlane_core::io::{Channel, Event, JobRequest, OperatorCommand};
use borderlane_core::{CoreConfig, Output, VehicleSpec};
use borderlane_model::{LaneMap, Ms, NEVER, NodeKind};
use borderlane_record::{
    Conversion, Entry, LocalRun, Recorder, Recording, Session, SimOptions, read_bytes, read_file,
    to_scenario,
};
use borderlane_sim::run::{Outcome, run_with};
use borderlane_sim::scenario::{Scenario, ms};
use borderlane_sim::{LogEntry, LogLine};
use borderlane_station::StationConfig;
use borderlane_vda5050::{AgentConfig, MasterConfig};

const T0: Ms = 1_790_000_000_000;
const MIN: Ms = 60_000;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn options(name: &str) -> SimOptions {
    SimOptions {
        name: name.into(),
        map: std::path::absolute(repo("maps/bac_luan_ii.geojson")).unwrap(),
        until: None,
    }
}

/// Converts, writes the scenario as TOML, reads it back and runs it.
fn convert_and_run(r: &Recording, name: &str) -> (Conversion, Scenario, Outcome) {
    let c = to_scenario(r, &options(name)).unwrap();
    let text = c.to_toml().unwrap();
    let parsed = Scenario::parse(&text, Path::new("/")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        parsed, c.scenario,
        "the TOML reads back as the same scenario"
    );
    let outcome = run_with(&parsed, parsed.seed, parsed.days, &mut |_| {}).unwrap();
    let report = &outcome.report;
    assert!(
        report.sim_seconds * 1_000.0 >= c.span_ms as f64,
        "the run covers the recording"
    );
    assert!(!report.unsafe_run(), "{}", report.summary());
    assert_eq!(report.conflicts, 0, "{}", report.summary());
    assert_eq!(report.deadlocks, 0, "{}", report.summary());
    (c, parsed, outcome)
}

/// The ids of the jobs the recorded orchestrator queued, in order.
fn queued(r: &Recording) -> Vec<String> {
    r.entries
        .iter()
        .filter_map(|(_, e)| match e {
            Entry::Event(Event::JobQueued { job }) => Some(job.clone()),
            _ => None,
        })
        .collect()
}

fn events(log: &[LogLine]) -> impl Iterator<Item = (Ms, &Event)> {
    log.iter().filter_map(|l| match &l.entry {
        LogEntry::Out {
            output: Output::Event(e),
        } => Some((l.t, e)),
        _ => None,
    })
}

fn delivered(log: &[LogLine]) -> Vec<String> {
    events(log)
        .filter_map(|(_, e)| match e {
            Event::JobDelivered { job, .. } => Some(job.clone()),
            _ => None,
        })
        .collect()
}

fn recorded_config(r: &Recording) -> StationConfig {
    serde_json::from_value(r.session.station.clone()).unwrap()
}

#[test]
fn normal_day_becomes_a_scenario_that_delivers_its_jobs() {
    let r = read_file(&repo("tests/recordings/normal_day.mcap")).unwrap();
    let (c, s, outcome) = convert_and_run(&r, "normal_day");
    let jobs = queued(&r);
    assert!(!jobs.is_empty());
    let ids: Vec<&str> = s.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, jobs);
    assert_eq!(outcome.report.containers_requested, jobs.len());
    let mut got = delivered(outcome.harness.log());
    got.sort();
    let mut want = jobs.clone();
    want.sort();
    assert_eq!(got, want, "every recorded job is delivered");
    // The fleet is the recorded one, vehicle by vehicle.
    let config = recorded_config(&r);
    let fleet: Vec<(&str, &str)> = s
        .fleet
        .start
        .iter()
        .map(|v| (v.serial.as_str(), v.node.as_str()))
        .collect();
    let recorded: Vec<(&str, &str)> = config
        .core
        .fleet
        .iter()
        .map(|v| (v.serial.as_str(), v.start.as_str()))
        .collect();
    assert_eq!(fleet, recorded);
    assert!(s.fleet.start.iter().all(|v| v.battery_pct.is_some()));
    assert!(s.operator.is_empty());
    // Every vehicle goes offline as the session ends, and never comes
    // back: no link loss, and a note that says so.
    assert!(s.faults.link_loss.is_empty());
    assert!(
        c.notes.iter().any(|n| n.contains("not back")),
        "{:?}",
        c.notes
    );
}

#[test]
fn the_border_closure_is_blocked_and_unblocked_in_the_simulator() {
    let r = read_file(&repo("tests/recordings/border_closure.mcap")).unwrap();
    let config = recorded_config(&r);
    let operator_topic = format!("{}/{}/operator", config.prefix, config.name);
    // The commands as recorded, over MQTT or from the operation center,
    // with their times.
    let recorded: Vec<(f64, OperatorCommand)> = r
        .entries
        .iter()
        .filter_map(|(t, e)| {
            let command = match e {
                Entry::MqttIn(m) if m.topic == operator_topic => {
                    serde_json::from_value(m.payload.json()?).ok()?
                }
                Entry::Operator(o) => o.command.clone(),
                _ => return None,
            };
            Some(((t - r.start) as f64 / 1_000.0, command))
        })
        .collect();
    assert_eq!(recorded.len(), 4, "two blocks and two unblocks");
    let (_, s, outcome) = convert_and_run(&r, "border_closure");
    let commands: Vec<(f64, OperatorCommand)> = s
        .operator
        .iter()
        .map(|o| (o.at_s, o.command.clone()))
        .collect();
    assert_eq!(commands, recorded);
    let log = outcome.harness.log();
    for (at_s, command) in &recorded {
        let seen =
            events(log).any(|(t, e)| {
                t == ms(*at_s)
                    && match (command, e) {
                        (OperatorCommand::BlockPlace { node }, Event::PlaceBlocked { node: n })
                        | (
                            OperatorCommand::UnblockPlace { node },
                            Event::PlaceUnblocked { node: n },
                        ) => n == node,
                        _ => false,
                    }
            });
        assert!(
            seen,
            "{command:?} at {at_s} s is not in the simulator's log"
        );
    }
    // While the border is closed no vehicle reaches it.
    let map = LaneMap::from_geojson(&r.session.map_geojson).unwrap();
    let closed = ms(recorded[0].0)..ms(recorded[3].0);
    for trace in outcome.harness.trace() {
        for step in &trace.steps {
            let at_border = map.node(step.node).kind == NodeKind::Border;
            assert!(
                !(at_border && step.arrive != NEVER && closed.contains(&step.arrive)),
                "a vehicle reached {} at {} ms, while the border was closed",
                map.node(step.node).id,
                step.arrive
            );
        }
    }
    assert_eq!(
        delivered(log),
        queued(&r),
        "the container is carried across once the border opens"
    );
}

#[test]
fn until_converts_only_the_start_of_a_recording() {
    let r = read_file(&repo("tests/recordings/border_closure.mcap")).unwrap();
    let c = to_scenario(
        &r,
        &SimOptions {
            until: Some(10 * MIN),
            ..options("early")
        },
    )
    .unwrap();
    assert!(c.span_ms <= 10 * MIN);
    let blocks = c
        .scenario
        .operator
        .iter()
        .filter(|o| matches!(o.command, OperatorCommand::BlockPlace { .. }))
        .count();
    assert_eq!((c.scenario.operator.len(), blocks), (2, 2));
}

/// A session of three vehicles in which `igv-001`'s link breaks at
/// `lost` and comes back at `back`: the broker publishes its last will,
/// the vehicle reconnects.
fn link_loss_recording(lost: Ms, back: Ms, end: Ms) -> Recording {
    let text = std::fs::read_to_string(repo("maps/bac_luan_ii.geojson")).unwrap();
    let map = Arc::new(LaneMap::from_geojson(&text).unwrap());
    let fleet = ["VN_PARK_01", "CN_PARK_01", "VN_PARK_02"]
        .iter()
        .enumerate()
        .map(|(i, start)| VehicleSpec {
            serial: format!("igv-{i:03}"),
            start: start.to_string(),
        })
        .collect();
    let config = StationConfig {
        name: "lane".into(),
        prefix: "borderlane/v1".into(),
        jobs_from: None,
        core: CoreConfig {
            fleet,
            ..CoreConfig::default()
        },
        vda5050: MasterConfig::default(),
        handoff: None,
    };
    let session = Session {
        format: borderlane_record::FORMAT_VERSION,
        borderlane: "test".into(),
        map_name: "bac_luan_ii.geojson".into(),
        map_geojson: text,
        station: serde_json::to_value(&config).unwrap(),
    };
    let recorder = Recorder::new(Cursor::new(Vec::new()), T0, &session).unwrap();
    let mut run = LocalRun::new(map, config, AgentConfig::default(), T0, Some(recorder)).unwrap();
    let job = JobRequest {
        id: "job-1".into(),
        container: "CONT0000001".into(),
        pickup: "CN_SLOT_02".into(),
        channel: Channel::Green,
        customs_ms: 0,
        priority: 0,
        deadline: None,
    };
    run.schedule_job(T0 + MIN, &job);
    // Two inputs the orchestrator refuses: a job from a parking place and
    // a block of a place the map does not have.
    run.schedule_job(
        T0 + MIN + 1,
        &JobRequest {
            id: "job-bad".into(),
            pickup: "VN_PARK_01".into(),
            ..job.clone()
        },
    );
    run.schedule_operator(
        T0 + MIN + 2,
        OperatorCommand::BlockPlace {
            node: "NOWHERE".into(),
        },
    );
    run.run_until(lost).unwrap();
    run.agents[1].drop_link();
    let will = run.agents[1].last_will();
    run.schedule_message(lost, &will.topic, &will.payload);
    run.run_until(back).unwrap();
    run.agents[1].reconnect(back);
    run.run_until(end).unwrap();
    read_bytes(&run.finish().unwrap().unwrap().into_inner()).unwrap()
}

#[test]
fn a_link_lost_and_regained_becomes_a_link_loss() {
    let (lost, back) = (T0 + 2 * MIN, T0 + 5 * MIN);
    let r = link_loss_recording(lost, back, T0 + 30 * MIN);
    let (_, s, outcome) = convert_and_run(&r, "link_loss");
    let [loss] = s.faults.link_loss.as_slice() else {
        panic!("{:?}", s.faults.link_loss);
    };
    assert_eq!(loss.vehicle, "igv-001");
    assert_eq!(ms(loss.at_s), lost - T0);
    // The vehicle's ONLINE reaches the station after the local latency.
    let length = ms(loss.for_s);
    assert!(
        (back - lost..back - lost + 1_000).contains(&length),
        "{length} ms"
    );
    assert_eq!(
        outcome.report.link_losses,
        1,
        "{}",
        outcome.report.summary()
    );
    assert_eq!(delivered(outcome.harness.log()), vec!["job-1".to_string()]);
}

#[test]
fn inputs_the_orchestrator_refused_are_left_out_with_a_note() {
    let r = link_loss_recording(T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN);
    let c = to_scenario(&r, &options("refused")).unwrap();
    let ids: Vec<&str> = c.scenario.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["job-1"]);
    assert!(c.scenario.operator.is_empty());
    let said = |what: &str| c.notes.iter().any(|n| n.contains(what));
    assert!(said("job \"job-bad\""), "{:?}", c.notes);
    assert!(
        said("operator command the orchestrator rejected"),
        "{:?}",
        c.notes
    );
}
