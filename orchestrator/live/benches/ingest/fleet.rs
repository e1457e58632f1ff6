//! The bench's side of the broker: a thousand vehicles' state messages
//! published by a few MQTT clients, a plain subscriber that only counts
//! them, and a probe that times the orders they cause.
//!
//! The vehicles stand at their places. Each sends one state a second, the
//! sends of the fleet spread evenly over the second, and echoes in it the
//! last order it received (orderId, orderUpdateId, the order's last node),
//! as a VDA 5050 vehicle does; otherwise the master control would resend
//! the order every few seconds. On a fixed schedule a vehicle reports a
//! fatal error in one state and clears it in the next. The core answers
//! each of these states with a plan (the broken vehicle is held where it
//! stands; the repaired one rests at its place) and the master control with
//! an order or an order update on the vehicle's `order` topic: that pair is
//! what the latency is measured on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use borderlane_vda5050::format_timestamp;
use borderlane_vda5050::messages::{
    AgvPosition, BatteryState, EStop, ErrorLevel, OperatingMode, Order, SafetyState, State,
    VehicleError,
};
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Packet, Publish, QoS,
    SubscribeFilter,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Every this many states, a vehicle breaks down (and is repaired with the
/// next one): with 1,000 vehicles, 50 of the 1,000 states a second cause an
/// order.
pub const BREAKDOWN_EVERY: u64 = 40;

/// The prefix of every serial number; the vehicle's index follows.
const SERIAL_PREFIX: &str = "bench-";

/// What a state that causes an order reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A fatal error: the core holds the vehicle where it stands.
    Breakdown,
    /// The error is gone: the core plans the vehicle to rest again.
    Repair,
}

/// One vehicle as the publishers see it.
struct Vehicle {
    serial: String,
    state_topic: String,
    node: String,
    x: f64,
    y: f64,
    header_id: u64,
    /// The last order received: its id, update id and last node's sequence.
    order: Option<(String, u64, u64)>,
    broken: bool,
}

/// A state that should cause an order, not yet answered.
struct Pending {
    header_id: u64,
    cause: Cause,
    published: Instant,
    /// When the probe received the state itself.
    seen: Option<Instant>,
}

/// A state and the order it caused.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub cause: Cause,
    pub published: Instant,
    pub seen: Option<Instant>,
    pub answered: Instant,
    /// Whether the order was an update of the vehicle's order (else a new
    /// order).
    pub update: bool,
}

#[derive(Default)]
struct Latency {
    /// Per vehicle, in the order they were published.
    pending: Vec<VecDeque<Pending>>,
    samples: Vec<Sample>,
    /// Orders that arrived with no state of their vehicle pending.
    unpaired: u64,
}

/// What the measured states of one window came to.
pub struct Outcome {
    pub samples: Vec<Sample>,
    /// Measured states that caused no order (yet).
    pub unanswered: usize,
    pub unpaired: u64,
}

/// The state shared by the publishers, the subscribers and the bench.
pub struct Fleet {
    interface: String,
    manufacturer: String,
    map_id: String,
    vehicles: Mutex<Vec<Vehicle>>,
    latency: Mutex<Latency>,
    /// States published, received by the plain subscriber, orders received
    /// by the probe.
    pub published: AtomicU64,
    pub plain_received: AtomicU64,
    pub orders_received: AtomicU64,
    /// Vehicles that have received at least one order.
    pub with_order: AtomicU64,
    /// Whether states that cause an order are timed.
    measuring: AtomicBool,
    /// Whether every state changes the battery level by 1 %, so that the
    /// master control hands every one of them to the core.
    churn: AtomicBool,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Fleet {
    /// A fleet standing at `places` (`(node id, x, y)`), one vehicle each.
    pub fn new(
        interface: &str,
        manufacturer: &str,
        map_id: &str,
        places: &[(String, f64, f64)],
    ) -> Fleet {
        let vehicles: Vec<Vehicle> = places
            .iter()
            .enumerate()
            .map(|(i, (node, x, y))| {
                let serial = serial(i);
                Vehicle {
                    state_topic: format!("{interface}/v2/{manufacturer}/{serial}/state"),
                    serial,
                    node: node.clone(),
                    x: *x,
                    y: *y,
                    header_id: 0,
                    order: None,
                    broken: false,
                }
            })
            .collect();
        let latency = Latency {
            pending: vehicles.iter().map(|_| VecDeque::new()).collect(),
            ..Latency::default()
        };
        Fleet {
            interface: interface.to_string(),
            manufacturer: manufacturer.to_string(),
            map_id: map_id.to_string(),
            vehicles: Mutex::new(vehicles),
            latency: Mutex::new(latency),
            published: AtomicU64::new(0),
            plain_received: AtomicU64::new(0),
            orders_received: AtomicU64::new(0),
            with_order: AtomicU64::new(0),
            measuring: AtomicBool::new(false),
            churn: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.vehicles).len()
    }

    /// A topic filter for one kind of message of every vehicle.
    fn filter(&self, kind: &str) -> String {
        format!("{}/v2/{}/+/{kind}", self.interface, self.manufacturer)
    }

    /// Starts timing the states that cause an order, forgetting any
    /// pending from before.
    pub fn start_measuring(&self) {
        let mut l = lock(&self.latency);
        l.pending.iter_mut().for_each(VecDeque::clear);
        l.samples.clear();
        l.unpaired = 0;
        self.measuring.store(true, Ordering::SeqCst);
    }

    /// Stops timing new states; those already published may still be
    /// answered until [`Fleet::take_outcome`].
    pub fn stop_measuring(&self) {
        self.measuring.store(false, Ordering::SeqCst);
    }

    /// The samples so far, and how many measured states are unanswered.
    pub fn take_outcome(&self) -> Outcome {
        let mut l = lock(&self.latency);
        let unanswered = l.pending.iter().map(VecDeque::len).sum();
        l.pending.iter_mut().for_each(VecDeque::clear);
        Outcome {
            samples: std::mem::take(&mut l.samples),
            unanswered,
            unpaired: std::mem::take(&mut l.unpaired),
        }
    }

    pub fn set_churn(&self, on: bool) {
        self.churn.store(on, Ordering::SeqCst);
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// The next state of vehicle `i`, its `n`th, and what it should cause.
    fn next_state(&self, i: usize, n: u64) -> (String, Vec<u8>, Option<(u64, Cause)>) {
        let mut vehicles = lock(&self.vehicles);
        let v = &mut vehicles[i];
        let phase = (n + i as u64) % BREAKDOWN_EVERY;
        let broken = phase == 0;
        let cause = match (v.broken, broken) {
            (false, true) => Some(Cause::Breakdown),
            (true, false) => Some(Cause::Repair),
            _ => None,
        };
        v.broken = broken;
        v.header_id += 1;
        let (order_id, order_update_id, last_seq) = v.order.clone().unwrap_or_default();
        let battery = if self.churn.load(Ordering::Relaxed) && n % 2 == 1 {
            81.0
        } else {
            80.0
        };
        let state = State {
            header_id: v.header_id,
            timestamp: format_timestamp(wall_ms()),
            version: "2.1.0".to_string(),
            manufacturer: self.manufacturer.clone(),
            serial_number: v.serial.clone(),
            order_id,
            order_update_id,
            last_node_id: v.node.clone(),
            last_node_sequence_id: last_seq,
            driving: false,
            paused: Some(false),
            distance_since_last_node: None,
            operating_mode: OperatingMode::Automatic,
            node_states: Vec::new(),
            edge_states: Vec::new(),
            agv_position: Some(AgvPosition {
                x: v.x,
                y: v.y,
                theta: 0.0,
                map_id: self.map_id.clone(),
                position_initialized: true,
            }),
            loads: Some(Vec::new()),
            action_states: Vec::new(),
            battery_state: BatteryState {
                battery_charge: battery,
                charging: false,
            },
            errors: if broken {
                vec![VehicleError {
                    error_type: "driveFault".to_string(),
                    error_level: ErrorLevel::Fatal,
                    error_references: Vec::new(),
                    error_description: Some("a breakdown of the ingest benchmark".to_string()),
                }]
            } else {
                Vec::new()
            },
            safety_state: SafetyState {
                e_stop: EStop::None,
                field_violation: false,
            },
        };
        let payload = serde_json::to_vec(&state).unwrap_or_default();
        (
            v.state_topic.clone(),
            payload,
            cause.map(|c| (v.header_id, c)),
        )
    }

    /// Notes a state about to be published that should cause an order.
    fn expect_order(&self, i: usize, header_id: u64, cause: Cause, published: Instant) {
        if self.measuring.load(Ordering::SeqCst) {
            lock(&self.latency).pending[i].push_back(Pending {
                header_id,
                cause,
                published,
                seen: None,
            });
        }
    }

    /// The probe received a state.
    fn state_seen(&self, at: Instant, topic: &str, payload: &[u8]) {
        let (Some(i), Some(header_id)) = (vehicle_index(topic), header_id(payload)) else {
            return;
        };
        let mut l = lock(&self.latency);
        if let Some(p) = l
            .pending
            .get_mut(i)
            .and_then(|q| q.iter_mut().find(|p| p.header_id == header_id))
        {
            p.seen.get_or_insert(at);
        }
    }

    /// The probe received an order: the vehicle takes it, and the oldest
    /// state of the vehicle waiting for an order is answered.
    fn order_seen(&self, at: Instant, topic: &str, payload: &[u8]) {
        self.orders_received.fetch_add(1, Ordering::Relaxed);
        let Some(i) = vehicle_index(topic) else {
            return;
        };
        let mut update = false;
        if let Ok(order) = serde_json::from_slice::<Order>(payload) {
            update = order.order_update_id > 0;
            let last_seq = order.nodes.iter().map(|n| n.sequence_id).max().unwrap_or(0);
            let mut vehicles = lock(&self.vehicles);
            if let Some(v) = vehicles.get_mut(i) {
                if v.order.is_none() {
                    self.with_order.fetch_add(1, Ordering::Relaxed);
                }
                v.order = Some((order.order_id, order.order_update_id, last_seq));
            }
        }
        let mut l = lock(&self.latency);
        match l.pending.get_mut(i).and_then(VecDeque::pop_front) {
            Some(p) => l.samples.push(Sample {
                cause: p.cause,
                published: p.published,
                seen: p.seen,
                answered: at,
                update,
            }),
            None if self.measuring.load(Ordering::SeqCst) => l.unpaired += 1,
            None => {}
        }
    }
}

fn serial(i: usize) -> String {
    format!("{SERIAL_PREFIX}{i:04}")
}

/// The vehicle a topic `{interface}/v2/{manufacturer}/{serial}/{kind}` is
/// about.
fn vehicle_index(topic: &str) -> Option<usize> {
    topic
        .rsplit('/')
        .nth(1)?
        .strip_prefix(SERIAL_PREFIX)?
        .parse()
        .ok()
}

/// The headerId of a state as the publishers write it: the first field.
fn header_id(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(b"{\"headerId\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn client(host: &str, port: u16, id: &str) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, host, port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(o, 1_024);
    // One connection carries the states of hundreds of vehicles, each of
    // which would send its one state a second at once on a connection of
    // its own: Nagle's algorithm must not hold them back to batch them.
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    (client, eventloop)
}

/// Drives a client's event loop, handing every received publish to
/// `on_publish` with the time it came out of the loop. `ready` is told once
/// the broker acknowledged the connection, and the subscription if
/// `subscribing`.
fn drive(
    fleet: Arc<Fleet>,
    mut eventloop: EventLoop,
    subscribing: bool,
    ready: oneshot::Sender<()>,
    mut on_publish: impl FnMut(Instant, Publish) + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ready = Some(ready);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => on_publish(Instant::now(), p),
                Ok(Event::Incoming(Packet::ConnAck(_))) if !subscribing => {
                    ready.take().map(|r| r.send(()));
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    ready.take().map(|r| r.send(()));
                }
                Ok(_) => {}
                Err(e) => {
                    if fleet.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    eprintln!("bench MQTT client: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    })
}

/// The bench's MQTT clients, running.
pub struct Clients {
    clients: Vec<AsyncClient>,
    tasks: Vec<JoinHandle<()>>,
}

impl Clients {
    /// Connects the plain subscriber and the probe and waits for their
    /// subscriptions, then connects `publishers` publishers and starts
    /// them: vehicle `i` sends at `i / n` of every second.
    pub async fn start(fleet: &Arc<Fleet>, host: &str, port: u16, publishers: usize) -> Clients {
        let tag = std::process::id();
        let mut clients = Vec::new();
        let mut tasks = Vec::new();
        let mut ready = Vec::new();

        let (plain, eventloop) = client(host, port, &format!("bench-plain-{tag}"));
        let _ = plain
            .subscribe(fleet.filter("state"), QoS::AtMostOnce)
            .await;
        let (tx, rx) = oneshot::channel();
        let f = Arc::clone(fleet);
        tasks.push(drive(
            Arc::clone(fleet),
            eventloop,
            true,
            tx,
            move |_, _| {
                f.plain_received.fetch_add(1, Ordering::Relaxed);
            },
        ));
        clients.push(plain);
        ready.push(rx);

        let (probe, eventloop) = client(host, port, &format!("bench-probe-{tag}"));
        let _ = probe
            .subscribe_many([
                SubscribeFilter::new(fleet.filter("state"), QoS::AtMostOnce),
                SubscribeFilter::new(fleet.filter("order"), QoS::AtMostOnce),
            ])
            .await;
        let (tx, rx) = oneshot::channel();
        let f = Arc::clone(fleet);
        tasks.push(drive(
            Arc::clone(fleet),
            eventloop,
            true,
            tx,
            move |at, p| {
                if p.topic.ends_with("/state") {
                    f.state_seen(at, &p.topic, &p.payload);
                } else if p.topic.ends_with("/order") {
                    f.order_seen(at, &p.topic, &p.payload);
                }
            },
        ));
        clients.push(probe);
        ready.push(rx);

        let n = fleet.len();
        let mut publishing = Vec::new();
        for p in 0..publishers {
            let (c, eventloop) = client(host, port, &format!("bench-pub{p}-{tag}"));
            let (tx, rx) = oneshot::channel();
            tasks.push(drive(Arc::clone(fleet), eventloop, false, tx, |_, _| {}));
            ready.push(rx);
            publishing.push(c.clone());
            clients.push(c);
        }
        for r in ready {
            let _ = r.await;
        }
        let start = tokio::time::Instant::now() + Duration::from_millis(100);
        let slot = Duration::from_secs(1) / n as u32;
        for (p, c) in publishing.into_iter().enumerate() {
            let mine: Vec<usize> = (p..n).step_by(publishers).collect();
            tasks.push(tokio::spawn(publish(
                Arc::clone(fleet),
                c,
                mine,
                start + slot * p as u32,
                slot * publishers as u32,
            )));
        }
        Clients { clients, tasks }
    }

    /// Disconnects every client and stops its task.
    pub async fn shutdown(self) {
        for c in &self.clients {
            let _ = c.try_disconnect();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Publishes the states of `mine`, one every `every` from `start` on,
/// round and round, until the fleet stops.
async fn publish(
    fleet: Arc<Fleet>,
    client: AsyncClient,
    mine: Vec<usize>,
    start: tokio::time::Instant,
    every: Duration,
) {
    let mut ticks = tokio::time::interval_at(start, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for k in 0u64.. {
        ticks.tick().await;
        if fleet.stop.load(Ordering::SeqCst) {
            return;
        }
        let round = k / mine.len() as u64;
        let i = mine[(k % mine.len() as u64) as usize];
        let (topic, payload, cause) = fleet.next_state(i, round);
        let published = Instant::now();
        if let Some((header_id, cause)) = cause {
            fleet.expect_order(i, header_id, cause, published);
        }
        if client
            .publish(topic, QoS::AtMostOnce, false, payload)
            .await
            .is_ok()
        {
            fleet.published.fetch_add(1, Ordering::Relaxed);
        }
    }
}
