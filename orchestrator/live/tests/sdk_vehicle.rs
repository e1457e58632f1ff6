//! Interoperability: a VDA 5050 vehicle this project did not write, the
//! vehicle side of the `vda5050-sdk` package from PyPI
//! (`tests/interop/sdk_vehicle.py`), takes our orders over MQTT and carries
//! a container across, on the embedded broker and on Mosquitto.
//!
//! Set `BORDERLANE_SDK_PYTHON` to a Python with `vda5050-sdk[mqtt]==0.2.0`
//! installed and, for the Mosquitto case, `BORDERLANE_MOSQUITTO` to its
//! `host:port`; without them the tests say so and pass. `.ci/run` sets
//! both.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use borderlane_core::VehicleSpec;
use borderlane_live::clock::Clock;
use borderlane_live::mqtt::{MqttClient, MqttSettings};
use borderlane_live::serve::Orchestrator;
use borderlane_model::SafetyRules;
use borderlane_verify::Verifier;
use common::{PATIENCE, job, lane_config};
use rumqttc::QoS;

const SPEED: f64 = 20.0;

struct Vehicle(Child);

impl Drop for Vehicle {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sdk_python() -> Option<String> {
    let p = std::env::var("BORDERLANE_SDK_PYTHON").ok()?;
    (!p.is_empty()).then_some(p)
}

async fn carries_a_container(broker: Option<(String, u16)>) {
    let Some(python) = sdk_python() else {
        eprintln!(
            "note: BORDERLANE_SDK_PYTHON is not set; the vda5050-sdk vehicle test is skipped"
        );
        return;
    };
    // The SDK's topics always start `uagv/v2/`.
    let mut config = lane_config(1, "uagv");
    config.vda5050.manufacturer = "sdkvendor".into();
    // The SDK stamps its messages from the wall clock, not from the clock
    // it is given, while this test runs the orchestrator's clock faster.
    config.vda5050.max_clock_skew_ms = 24 * 3_600_000;
    config.fleet = vec![VehicleSpec {
        serial: "sdk-1".into(),
        start: "VN_PARK_01".into(),
    }];
    let map = borderlane_live::serve::load_map(&config.map).expect("the map");
    let clock = Clock::scaled(SPEED);
    let o = Orchestrator::start(&config, clock, broker.clone())
        .await
        .expect("the orchestrator starts");
    assert!(o.wait_connected(PATIENCE).await);
    let (host, port) = match (&broker, o.broker()) {
        (Some(at), _) => at.clone(),
        (None, Some(b)) => (b.connect_host(), b.port()),
        (None, None) => unreachable!("no broker"),
    };
    let start = map.node(map.node_by_id("VN_PARK_01").expect("a node"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/sdk_vehicle.py"
    );
    let _vehicle = Vehicle(
        Command::new(&python)
            .arg(script)
            .args(["--broker", &format!("mqtt://{host}:{port}")])
            .args(["--manufacturer", "sdkvendor", "--serial", "sdk-1"])
            .args(["--node", "VN_PARK_01"])
            .args([
                "--x",
                &start.pos.x.to_string(),
                "--y",
                &start.pos.y.to_string(),
            ])
            .args(["--map-id", &map.name])
            .args(["--origin-ms", &clock.origin_ms().to_string()])
            .args(["--speed", &SPEED.to_string()])
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SDK vehicle starts"),
    );
    // The vehicle is known once its first state arrives.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while o
        .inspect(|_, m| m.last_state("sdk-1").is_none())
        .await
        .expect("running")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no state from the SDK vehicle"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (feeder, _rx) = MqttClient::connect(
        &MqttSettings::new(host, port, "interop-feeder"),
        Vec::new(),
        clock,
    )
    .expect("client settings");
    assert!(feeder.wait_subscribed(PATIENCE).await);
    let payload = serde_json::to_vec(&job(1, "VN", 1)).expect("a job");
    assert!(feeder.publish("borderlane/v1/lane/jobs", payload, QoS::AtLeastOnce, false));

    let verifier = Verifier::new(&map, SafetyRules::default());
    let mut status = o.status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let plans = o.inspect(|core, _| core.plans()).await.expect("running");
        assert!(verifier.check_plans(&plans).is_clean());
        if status.borrow_and_update().jobs_done >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the SDK vehicle did not deliver: {:?}",
            *status.borrow()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let stats = o.inspect(|core, _| core.stats()).await.expect("running");
    assert_eq!(stats.delivered, 1);
    o.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_vehicle_carries_a_container_over_the_embedded_broker() {
    carries_a_container(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_vehicle_carries_a_container_over_mosquitto() {
    let Some(at) = std::env::var("BORDERLANE_MOSQUITTO")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("note: BORDERLANE_MOSQUITTO is not set; the Mosquitto case is skipped");
        return;
    };
    let (host, port) = at
        .rsplit_once(':')
        .expect("BORDERLANE_MOSQUITTO is host:port");
    carries_a_container(Some((host.to_string(), port.parse().expect("a port")))).await;
}
