//! The orchestrator and simulated VDA 5050 vehicles over the embedded
//! broker: jobs are completed with no conflict, a vehicle whose link breaks
//! is reported link-lost, and bad messages are rejected, counted and change
//! nothing.

mod common;

use std::time::Duration;

use borderlane_live::clock::Clock;
use borderlane_live::mqtt::{MqttClient, MqttSettings};
use borderlane_live::serve::Orchestrator;
use borderlane_model::SafetyRules;
use borderlane_verify::Verifier;
use common::{PATIENCE, http_get, job, lane_config, metric, start_vehicles};
use rumqttc::QoS;

/// The clock runs this many times faster than the wall clock, so that a
/// crossing takes about a minute; nothing below depends on how fast
/// anything happens.
const SPEED: f64 = 20.0;

async fn publisher(o: &Orchestrator, id: &str, clock: Clock) -> MqttClient {
    let b = o
        .broker()
        .expect("the orchestrator runs the embedded broker");
    let (c, _rx) = MqttClient::connect(
        &MqttSettings::new(b.connect_host(), b.port(), id),
        Vec::new(),
        clock,
    )
    .expect("client settings are valid");
    assert!(c.wait_subscribed(PATIENCE).await, "{id} connected");
    c
}

async fn metrics_text(o: &Orchestrator) -> String {
    let addr = o
        .metrics_url()
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()
        .expect("a socket address");
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_vehicles_complete_jobs_with_no_conflict() {
    let config = lane_config(4, "fleet");
    let map = borderlane_live::serve::load_map(&config.map).expect("the map");
    let clock = Clock::scaled(SPEED);
    let o = Orchestrator::start(&config, clock, None)
        .await
        .expect("the orchestrator starts");
    assert!(o.wait_connected(PATIENCE).await);
    let b = o.broker().expect("embedded").clone();
    let vehicles = start_vehicles(&config, &b.connect_host(), b.port(), clock).await;

    let feeder = publisher(&o, "feeder", clock).await;
    let jobs = [job(1, "VN", 1), job(2, "CN", 1), job(3, "VN", 2)];
    for j in &jobs {
        let payload = serde_json::to_vec(j).expect("a job encodes");
        assert!(feeder.publish("borderlane/v1/lane/jobs", payload, QoS::AtLeastOnce, false));
    }

    // Every set of plans the core has committed, looked at over and over
    // while the jobs run, is free of conflicts.
    let verifier = Verifier::new(&map, SafetyRules::default());
    let mut status = o.status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let mut checks = 0;
    loop {
        let plans = o.inspect(|core, _| core.plans()).await.expect("running");
        let report = verifier.check_plans(&plans);
        assert!(report.is_clean(), "plans: {report}");
        checks += 1;
        if status.borrow_and_update().jobs_done >= jobs.len() as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs not done: {:?}",
            *status.borrow()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(checks > 1);
    let stats = o.inspect(|core, _| core.stats()).await.expect("running");
    assert_eq!(stats.delivered, 3);

    let text = metrics_text(&o).await;
    let value = |name: &str, labels: &[&str]| metric(&text, name, labels);
    assert_eq!(
        value("borderlane_jobs_done_total", &[]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value("borderlane_crossings_total", &["direction=\"VN->CN\""]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value("borderlane_crossings_total", &["direction=\"CN->VN\""]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("borderlane_crossing_seconds_count", &[]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(value("borderlane_mqtt_connected", &[]), Some(1.0), "{text}");

    feeder.shutdown().await;
    for v in vehicles {
        v.shutdown().await;
    }
    o.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_whose_link_breaks_is_reported_link_lost() {
    let config = lane_config(2, "will");
    let clock = Clock::scaled(SPEED);
    let o = Orchestrator::start(&config, clock, None)
        .await
        .expect("the orchestrator starts");
    assert!(o.wait_connected(PATIENCE).await);
    let b = o.broker().expect("embedded").clone();
    let mut vehicles = start_vehicles(&config, &b.connect_host(), b.port(), clock).await;
    let serial = vehicles[0].serial().to_string();

    // The master control must have heard from the vehicle before it can
    // say where it lost it.
    let heard = common::heard_from(&o, &serial).await;
    assert!(heard, "no state from {serial}");

    vehicles.remove(0).kill().await;

    let state = common::wait_state(&o, &serial, |s| s == "link_lost").await;
    assert_eq!(state, "link_lost");
    let mut status = o.status();
    // The watch's guard must not outlive this statement: it would block
    // the orchestrator's loop.
    let counted = tokio::time::timeout(PATIENCE, status.wait_for(|s| s.link_lost == 1))
        .await
        .is_ok_and(|r| r.is_ok());
    assert!(counted, "{:?}", *o.status().borrow());
    let text = metrics_text(&o).await;
    assert_eq!(
        metric(&text, "borderlane_vehicles", &["state=\"link_lost\""]),
        Some(1.0),
        "{text}"
    );

    // The other vehicle still stands where it started, at rest.
    let plans = o.inspect(|core, _| core.plans()).await.expect("running");
    let map = borderlane_live::serve::load_map(&config.map).expect("the map");
    let report = Verifier::new(&map, SafetyRules::default()).check_plans(&plans);
    assert!(report.is_clean(), "{report}");

    for v in vehicles {
        v.shutdown().await;
    }
    o.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_rejected_counted_and_change_nothing() {
    let config = lane_config(1, "bad");
    let clock = Clock::wall();
    let o = Orchestrator::start(&config, clock, None)
        .await
        .expect("the orchestrator starts");
    assert!(o.wait_connected(PATIENCE).await);
    let b = o.broker().expect("embedded").clone();
    let vehicles = start_vehicles(&config, &b.connect_host(), b.port(), clock).await;
    let serial = vehicles[0].serial().to_string();
    let heard = common::heard_from(&o, &serial).await;
    assert!(heard, "no state from {serial}");

    let before = o
        .inspect(|core, _| (core.snapshot(), core.plans(), core.stats()))
        .await
        .expect("running");
    let rejected_before = o.status().borrow().rejected;

    let evil = publisher(&o, "evil", clock).await;
    let state_topic = format!("bad/v2/borderlane/{serial}/state");
    evil.publish(
        &state_topic,
        b"{\"headerId\": 1, ".to_vec(),
        QoS::AtLeastOnce,
        false,
    );
    evil.publish(&state_topic, b"[1, 2, 3]".to_vec(), QoS::AtLeastOnce, false);
    evil.publish(
        "borderlane/v1/lane/jobs",
        br#"{"id": "j-1", "container": 7}"#.to_vec(),
        QoS::AtLeastOnce,
        false,
    );
    evil.publish(
        "borderlane/v1/lane/operator",
        br#"{"command": "launch_rockets"}"#.to_vec(),
        QoS::AtLeastOnce,
        false,
    );

    let mut status = o.status();
    let counted = tokio::time::timeout(
        PATIENCE,
        status.wait_for(|s| s.rejected >= rejected_before + 4),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    assert!(counted, "{:?}", *o.status().borrow());

    let after = o
        .inspect(|core, _| (core.snapshot(), core.plans(), core.stats()))
        .await
        .expect("running");
    assert_eq!(before.0.vehicles, after.0.vehicles, "vehicles changed");
    assert_eq!(before.0.jobs, after.0.jobs, "jobs changed");
    assert_eq!(before.1, after.1, "plans changed");
    assert_eq!(before.2.rejected_inputs, after.2.rejected_inputs);

    let text = metrics_text(&o).await;
    assert!(
        metric(
            &text,
            "borderlane_rejected_messages_total",
            &["reason=\"malformed_json\""]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("borderlane_rejected_messages_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(total >= 4.0, "{text}");

    evil.shutdown().await;
    for v in vehicles {
        v.shutdown().await;
    }
    o.shutdown().await;
}
