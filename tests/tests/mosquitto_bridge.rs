//! Two Mosquitto brokers, one per side, bridged with the shipped
//! configurations (`config/mosquitto/vn.conf` and `cn.conf`, their ports
//! and persistence directory moved into a scratch directory): signed
//! handoff messages cross both ways with their exact bytes and pass the
//! receiving side's gate; VDA 5050, job topics and a message published into
//! the other side's outbound handoff topic stay where they were published.
//! And a VN orchestrator on the VN broker and a CN one on the CN broker
//! hand simulated vehicles over both ways through that bridge (with the
//! vehicles' topics bridged too, which the shipped files leave to the
//! deployment).
//!
//! Mosquitto is taken from `PATH` or `/usr/sbin/mosquitto`; without it the
//! test says so and passes without doing anything (CI installs it).

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use borderlane_core::io::Channel;
use borderlane_handoff::{
    Admitted, Body, ESeal, ESealState, Envelope, Gate, GateConfig, OrderContinuation, SigningKey,
    sign, topic,
};
use borderlane_model::{Ms, Side};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long any one step may take.
const PATIENCE: Duration = Duration::from_secs(10);
/// How often an unanswered handoff message is sent again.
const RESEND: Duration = Duration::from_millis(200);
/// When every message in this test was sent, ms since the Unix epoch.
const SENT_MS: Ms = 1_904_284_800_000;
/// The bridge's client id on the CN broker, as vn.conf sets it.
const BRIDGE_ID: &str = "borderlane-bridge-vn";

fn mosquitto() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("mosquitto"));
    on_path
        .chain([PathBuf::from("/usr/sbin/mosquitto")])
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A shipped configuration with the broker listening on `listen`, its
/// bridge (if it has one) connecting to `bridge_to`, and persistence in
/// `dir`.
fn rewrite(shipped: &str, listen: u16, bridge_to: Option<u16>, dir: &Path) -> String {
    let (mut listeners, mut addresses) = (0, 0);
    let mut out = String::new();
    for line in shipped.lines() {
        let line = if line.starts_with("listener ") {
            listeners += 1;
            format!("listener {listen} 127.0.0.1")
        } else if let (Some(port), true) = (bridge_to, line.starts_with("address ")) {
            addresses += 1;
            format!("address 127.0.0.1:{port}")
        } else if line.starts_with("persistence_location ") {
            format!("persistence_location {}/", dir.display())
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    assert_eq!(listeners, 1, "one listener in:\n{shipped}");
    assert_eq!(
        addresses,
        usize::from(bridge_to.is_some()),
        "a bridge address in:\n{shipped}"
    );
    out
}

/// A running broker; killed when dropped, also when the test fails, and
/// then its log is printed.
struct Broker {
    name: &'static str,
    port: u16,
    child: Child,
    log: PathBuf,
}

impl Broker {
    fn start(binary: &Path, dir: &Path, name: &'static str, config: &str, port: u16) -> Broker {
        let conf = dir.join(format!("{name}.conf"));
        let log = dir.join(format!("{name}.log"));
        std::fs::write(&conf, config).expect("writes the configuration");
        let output = File::create(&log).expect("creates the log");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(output.try_clone().expect("the log"))
            .stderr(output)
            .spawn()
            .expect("mosquitto starts");
        let mut broker = Broker {
            name,
            port,
            child,
            log,
        };
        broker.wait_listening();
        broker
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} broker exited ({status}):\n{}", self.name, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "{} broker not listening:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- {} broker log ---\n{}", self.name, self.log());
        }
    }
}

/// What a client's connection reports.
#[derive(Debug)]
enum Incoming {
    Subscribed,
    Message { topic: String, payload: Vec<u8> },
}

/// An MQTT client on one broker, with its event loop running.
struct Client {
    client: AsyncClient,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    task: JoinHandle<()>,
}

impl Client {
    /// Connects and, if `filter` is given, subscribes and waits until the
    /// broker confirms.
    async fn connect(broker: &Broker, id: &str, filter: Option<&str>) -> Client {
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (tx, incoming) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let seen = match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => Incoming::Subscribed,
                    Ok(Event::Incoming(Packet::Publish(p))) => Incoming::Message {
                        topic: p.topic,
                        payload: p.payload.to_vec(),
                    },
                    Ok(_) => continue,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.send(seen).is_err() {
                    return;
                }
            }
        });
        let mut c = Client {
            client,
            incoming,
            task,
        };
        if let Some(filter) = filter {
            c.client
                .subscribe(filter, QoS::AtLeastOnce)
                .await
                .expect("subscribes");
            let subscribed = c.next(|seen| matches!(seen, Incoming::Subscribed)).await;
            assert!(subscribed.is_some(), "{id}: no SUBACK for {filter}");
        }
        c
    }

    async fn publish(&self, topic: &str, payload: &[u8]) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .await
            .expect("publishes");
    }

    /// The next report that `wanted` accepts, skipping others, within the
    /// patience.
    async fn next(&mut self, wanted: impl Fn(&Incoming) -> bool) -> Option<Incoming> {
        tokio::time::timeout(PATIENCE, async {
            while let Some(seen) = self.incoming.recv().await {
                if wanted(&seen) {
                    return Some(seen);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }

    /// The next message, within `wait`.
    async fn message_within(&mut self, wait: Duration) -> Option<(String, Vec<u8>)> {
        match tokio::time::timeout(wait, self.incoming.recv()).await {
            Ok(Some(Incoming::Message { topic, payload })) => Some((topic, payload)),
            _ => None,
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A side's signing key, from a fixed seed.
fn key(side: Side) -> SigningKey {
    let (id, seed) = match side {
        Side::Vn => ("vn-test", "11".repeat(32)),
        Side::Cn => ("cn-test", "22".repeat(32)),
    };
    SigningKey::from_hex(id, &seed).expect("a valid seed")
}

fn envelope(from: Side, seq: u32, body: Body) -> Envelope {
    Envelope {
        version: 1,
        from,
        to: from.other(),
        handoff: format!("{}-h-0001", from.code().to_lowercase()),
        seq,
        sent_ms: SENT_MS,
        body,
    }
}

/// The first and the second message a side sends in its handoff.
fn messages(from: Side) -> [Envelope; 2] {
    let vehicle = format!("{}-igv-01", from.code().to_lowercase());
    match from {
        Side::Vn => [
            envelope(
                from,
                1,
                Body::EntryRequest {
                    vehicle: vehicle.clone(),
                    job: "job-0001".into(),
                    container: "MSCU1234567".into(),
                    manifest: "VN-MAN-2030-000123".into(),
                    e_seal: ESeal {
                        id: "ES-889201".into(),
                        state: ESealState::Intact,
                    },
                    sending_channel: Channel::Green,
                    inspection_result: None,
                    earliest_border_ms: SENT_MS + 40_000,
                },
            ),
            envelope(
                from,
                2,
                Body::Handover {
                    vehicle,
                    order: OrderContinuation {
                        order_id: "order-7".into(),
                        order_update_id: 3,
                        border_node: "BORDER_VN_CN".into(),
                        border_sequence_id: 14,
                        next_header_id: 42,
                    },
                },
            ),
        ],
        Side::Cn => [
            envelope(
                from,
                1,
                Body::Grant {
                    vehicle: vehicle.clone(),
                    window_start_ms: SENT_MS + 40_000,
                    window_end_ms: SENT_MS + 52_000,
                    receiving_channel: Channel::Yellow,
                },
            ),
            envelope(from, 2, Body::Accepted { vehicle }),
        ],
    }
}

fn topic_name(from: Side) -> String {
    topic(from, from.other())
}

/// Messages published on the near side that must not reach the far side.
fn local_traffic(near: Side) -> Vec<(String, Vec<u8>)> {
    let side = near.code().to_lowercase();
    vec![
        (
            format!("uagv/v2/borderlane/{side}-igv-01/order"),
            br#"{"headerId":1,"orderId":"order-7"}"#.to_vec(),
        ),
        (
            format!("uagv/v2/borderlane/{side}-igv-01/state"),
            br#"{"headerId":9,"driving":true}"#.to_vec(),
        ),
        (format!("borderlane/v1/{side}/jobs"), b"{}".to_vec()),
        // Into the other side's outbound topic: only the other side's
        // broker may carry it.
        (topic_name(near.other()), b"not from here".to_vec()),
    ]
}

/// One direction: `near` sends its handoff's two messages to `far`.
async fn cross(near: (&Broker, Side), far: &Broker) {
    let (near_broker, side) = (near.0, near.1);
    let name = side.code().to_lowercase();
    let publisher = Client::connect(near_broker, &format!("{name}-orchestrator"), None).await;
    let mut watcher = Client::connect(far, &format!("{name}-watcher-far"), Some("#")).await;
    let mut gate = Gate::new(GateConfig::new(side.other()), key(side).verifying_key());
    let [first, second] = messages(side);
    let first_bytes = sign(&key(side), &first);
    let second_bytes = sign(&key(side), &second);
    let handoff_topic = topic_name(side);

    // The first message is sent again until it arrives, as the protocol
    // does until it is answered: the first copy may race the bridge's
    // subscription.
    let deadline = Instant::now() + PATIENCE;
    let received = loop {
        publisher.publish(&handoff_topic, &first_bytes).await;
        if let Some(m) = watcher.message_within(RESEND).await {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "{handoff_topic}: nothing crossed to the {} broker",
            far.name
        );
    };
    assert_eq!(received, (handoff_topic.clone(), first_bytes.clone()));
    assert_eq!(gate.admit(SENT_MS, &received.1), Ok(Admitted::New(first)));

    for (t, payload) in local_traffic(side) {
        publisher.publish(&t, &payload).await;
    }
    publisher.publish(&handoff_topic, &second_bytes).await;
    // Whatever the bridge carried reaches the far broker in the order it
    // was published, so everything published on the near side before the
    // second message has arrived when it does.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (t, payload) = watcher
            .message_within(deadline.saturating_duration_since(Instant::now()))
            .await
            .unwrap_or_else(|| panic!("{handoff_topic}: the second message did not cross"));
        assert_eq!(
            t, handoff_topic,
            "only handoff messages from {name} cross to {}",
            far.name
        );
        if payload == first_bytes {
            // A copy sent again before the first one was seen.
            assert!(matches!(
                gate.admit(SENT_MS, &payload),
                Ok(Admitted::Duplicate(_))
            ));
            continue;
        }
        assert_eq!(payload, second_bytes, "the exact bytes");
        assert_eq!(gate.admit(SENT_MS, &payload), Ok(Admitted::New(second)));
        break;
    }
}

/// Waits for the bridge to announce itself up on the VN broker.
async fn wait_bridge_up(vn: &Broker) {
    let state = format!("$SYS/broker/connection/{BRIDGE_ID}/state");
    let mut monitor = Client::connect(vn, "vn-monitor", Some(&state)).await;
    let up = monitor
        .next(|seen| matches!(seen, Incoming::Message { payload, .. } if payload == b"1"))
        .await;
    assert!(up.is_some(), "{state} never said 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_topics_and_only_they_cross_the_bridge_both_ways() {
    let Some(binary) = mosquitto() else {
        println!("mosquitto is not installed (PATH, /usr/sbin): skipping the bridge test");
        return;
    };
    let dir = tempfile::tempdir().expect("a scratch directory");
    #[cfg(unix)]
    {
        // Started as root, Mosquitto drops to its own user, which must be
        // able to write its persistence file here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("opens the directory");
    }
    let shipped = |name: &str| {
        let path = borderlane_tests::root().join("config/mosquitto").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let (vn_port, cn_port) = (free_port(), free_port());
    let cn = Broker::start(
        &binary,
        dir.path(),
        "CN",
        &rewrite(&shipped("cn.conf"), cn_port, None, dir.path()),
        cn_port,
    );
    let vn = Broker::start(
        &binary,
        dir.path(),
        "VN",
        &rewrite(&shipped("vn.conf"), vn_port, Some(cn_port), dir.path()),
        vn_port,
    );

    tokio::time::timeout(Duration::from_secs(45), async {
        wait_bridge_up(&vn).await;
        cross((&vn, Side::Vn), &cn).await;
        cross((&cn, Side::Cn), &vn).await;
    })
    .await
    .expect("the test finishes in time");
}

/// The interface name of the vehicles in the orchestrators' test: their
/// topics are bridged too, standing in for vehicles both sides can reach.
const VEHICLES: &str = "bridged";

/// A side's orchestrator on its own broker, with the demo keys.
fn side_config(side: Side, port: u16) -> borderlane_live::config::ServeConfig {
    use borderlane_live::config::{
        BrokerConfig, ExternalBroker, HandoffSection, MetricsConfig, ServeConfig, TopicsConfig,
    };
    let keys = borderlane_live::demo::demo_keys(side);
    let fleet = ["VN_PARK_01", "CN_PARK_01", "VN_PARK_02", "CN_PARK_02"]
        .iter()
        .enumerate()
        .map(|(i, start)| borderlane_core::VehicleSpec {
            serial: format!("igv-{i:02}"),
            start: start.to_string(),
        })
        .collect();
    ServeConfig {
        name: format!("orchestrator-{side}"),
        side: match side {
            Side::Vn => borderlane_live::scope::SideSel::Vn,
            Side::Cn => borderlane_live::scope::SideSel::Cn,
        },
        map: borderlane_tests::root().join("maps/bac_luan_ii.geojson"),
        broker: BrokerConfig::External(ExternalBroker {
            host: "127.0.0.1".into(),
            port,
            client_id: None,
            username: None,
            password: None,
            tls: None,
            max_packet_bytes: borderlane_live::mqtt::DEFAULT_MAX_PACKET_BYTES,
        }),
        vda5050: borderlane_vda5050::MasterConfig {
            interface_name: VEHICLES.into(),
            max_clock_skew_ms: 3_600_000,
            ..borderlane_vda5050::MasterConfig::default()
        },
        metrics: MetricsConfig {
            listen: "127.0.0.1:0".into(),
        },
        topics: TopicsConfig::default(),
        ioc: None,
        core: borderlane_core::CoreConfig::default(),
        handoff: Some(HandoffSection::inline(keys)),
        state: None,
        fleet,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orchestrator_on_each_broker_hands_vehicles_over_both_ways() {
    use borderlane_live::clock::Clock;
    use borderlane_live::mqtt::{MqttClient, MqttSettings};
    use borderlane_live::serve::Orchestrator;
    let Some(binary) = mosquitto() else {
        println!("mosquitto is not installed (PATH, /usr/sbin): skipping the bridge test");
        return;
    };
    let dir = tempfile::tempdir().expect("a scratch directory");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("opens the directory");
    }
    let shipped = |name: &str| {
        let path = borderlane_tests::root().join("config/mosquitto").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let (vn_port, cn_port) = (free_port(), free_port());
    let _cn_broker = Broker::start(
        &binary,
        dir.path(),
        "CN",
        &rewrite(&shipped("cn.conf"), cn_port, None, dir.path()),
        cn_port,
    );
    // The vehicles use the VN broker; their topics cross the bridge too
    // (a deployment matter, PROTOCOL.md section 9), the handoff as shipped.
    let vn_conf = format!(
        "{}topic {VEHICLES}/# both 0\n",
        rewrite(&shipped("vn.conf"), vn_port, Some(cn_port), dir.path())
    );
    let vn_broker = Broker::start(&binary, dir.path(), "VN", &vn_conf, vn_port);
    wait_bridge_up(&vn_broker).await;

    let clock = Clock::scaled(30.0);
    let vn_config = side_config(Side::Vn, vn_port);
    let vn = Orchestrator::start(&vn_config, clock, None)
        .await
        .expect("VN starts");
    let cn = Orchestrator::start(&side_config(Side::Cn, cn_port), clock, None)
        .await
        .expect("CN starts");
    assert!(vn.wait_connected(PATIENCE * 3).await && cn.wait_connected(PATIENCE * 3).await);
    let map = borderlane_live::serve::load_map(&vn_config.map).expect("the map");
    let base = MqttSettings::new("127.0.0.1", vn_port, "unused");
    let mut vehicles = Vec::new();
    for v in &vn_config.fleet {
        let agent = borderlane_live::demo::agent_config(&vn_config.vda5050, v, &vn_config.core);
        let sim = borderlane_live::vehicle::SimVehicle::spawn(
            std::sync::Arc::clone(&map),
            agent,
            &base,
            clock,
        )
        .expect("the vehicle starts");
        assert!(sim.wait_connected(PATIENCE * 3).await);
        vehicles.push(sim);
    }
    // One container each way, each published on its side's broker.
    for (i, (side, port)) in [("VN", vn_port), ("CN", cn_port)].into_iter().enumerate() {
        let (feeder, _rx) = MqttClient::connect(
            &MqttSettings::new("127.0.0.1", port, format!("feeder-{side}")),
            Vec::new(),
            clock,
        )
        .expect("valid settings");
        assert!(feeder.wait_subscribed(PATIENCE * 3).await);
        let job = borderlane_core::io::JobRequest {
            id: format!("job-{i}"),
            container: format!("CONT{i:07}"),
            pickup: format!("{side}_SLOT_01"),
            channel: Channel::Green,
            customs_ms: 0,
            priority: 0,
            deadline: None,
        };
        feeder.publish(
            &format!("borderlane/v1/{}/jobs", side.to_lowercase()),
            serde_json::to_vec(&job).expect("a job"),
            QoS::AtLeastOnce,
            false,
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        feeder.shutdown().await;
    }
    let deadline = Instant::now() + PATIENCE * 24;
    loop {
        let (v, c) = (vn.status().borrow().clone(), cn.status().borrow().clone());
        if v.jobs_done == 1 && c.jobs_done == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered both ways: VN {v:?}, CN {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for v in vehicles {
        v.shutdown().await;
    }
    cn.shutdown().await;
    vn.shutdown().await;
}
