//! The live shell's ingest benchmark: one orchestrator (`borderlane serve`'s
//! loop, [`Orchestrator::start`]) takes the VDA 5050 state messages of 1,000
//! vehicles at 1 Hz from Mosquitto on loopback, beside a plain subscriber
//! to the same topics on the same broker, in the same run.
//!
//! ```sh
//! cargo bench -p borderlane-live --bench ingest
//! ```
//!
//! The broker is the one `BORDERLANE_MOSQUITTO` (`host:port`) names, with
//! its own settings, or else one the bench starts from the installed
//! `mosquitto` binary on a free port with `set_tcp_nodelay true`; with
//! neither, the bench says so and does nothing. Mosquitto's default leaves
//! Nagle's algorithm on, which holds small messages back for up to the
//! peer's delayed acknowledgement (tens of milliseconds on loopback); to see
//! what that costs, start one with its defaults (`mosquitto -p 18990`) and
//! run the bench with `BORDERLANE_MOSQUITTO=127.0.0.1:18990`. The vehicles
//! stand at the places of a map made for the bench (the shipped lane with a
//! parking field beside each yard, see `field.rs`); a few MQTT clients
//! publish their states, spread evenly over each second (see `fleet.rs`).
//!
//! After a warm-up in which every vehicle gets its first order, two windows
//! are measured: one in which the states change nothing but the breakdowns
//! (the master control reads and checks each, and hands the core only
//! those that change something), and one in which every state changes the
//! battery level, so every one of them reaches the core. For each window
//! the bench prints what the plain subscriber received against what the
//! orchestrator took in (its `mqtt_messages_total{direction="in",
//! kind="state"}`), and the time from a breakdown or repair state to the
//! order it causes, both as seen by a probe subscribed to the states and
//! the orders (state received to order received) and from the publish of
//! the state. The goals are to keep up with at least 80 % of what the plain
//! subscriber receives and a 99th percentile under 10 ms from state to
//! order.

mod field;
mod fleet;
mod mosquitto;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_live::clock::Clock;
use borderlane_live::config::{
    BrokerConfig, ExternalBroker, MetricsConfig, ServeConfig, TopicsConfig,
};
use borderlane_live::mqtt::DEFAULT_MAX_PACKET_BYTES;
use borderlane_live::scope::SideSel;
use borderlane_live::serve::Orchestrator;
use borderlane_model::{LaneMap, NodeKind};
use borderlane_vda5050::MasterConfig;
use fleet::{Cause, Clients, Fleet, Outcome, Sample};
use mosquitto::Mosquitto;
use prometheus::core::Collector;

/// Vehicles, half on each side.
const VEHICLES: usize = 1_000;
/// MQTT clients that publish the states.
const PUBLISHERS: usize = 4;
/// The length of each measured window.
const WINDOW: Duration = Duration::from_secs(20);
/// Time given to a change of the states' content before a window opens.
const SETTLE: Duration = Duration::from_secs(2);
/// Time given to the last measured states' orders after a window closes.
const GRACE: Duration = Duration::from_secs(1);
/// The longest wait for the orchestrator to connect or the fleet to warm up.
const PATIENCE: Duration = Duration::from_secs(90);
/// Clock ticks per second in `/proc/*/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;
/// The goals.
const GOAL_KEPT_UP: f64 = 0.80;
const GOAL_P99_MS: f64 = 10.0;

fn main() {
    // `cargo bench` passes `--bench`; the bench takes no other arguments.
    if let Err(e) = run() {
        eprintln!("ingest benchmark: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let Some(broker) = Mosquitto::find(&scratch)? else {
        println!(
            "ingest benchmark skipped: BORDERLANE_MOSQUITTO is not set and no mosquitto binary \
             was found (install the Debian package mosquitto, or set BORDERLANE_MOSQUITTO=host:port)"
        );
        return Ok(());
    };
    let load_at_start = loadavg();
    let setup = Setup::new(&scratch, &broker)?;
    let results = measure(&setup, &broker)?;
    print_report(&setup, &broker, &load_at_start, &results);
    Ok(())
}

/// The map, the fleet's places and the orchestrator's configuration.
struct Setup {
    lane: Arc<LaneMap>,
    /// Each vehicle's place: node id and position.
    places: Vec<(String, f64, f64)>,
    config: ServeConfig,
}

impl Setup {
    /// Writes the bench map to `scratch` and configures an orchestrator
    /// for it on `broker`.
    fn new(scratch: &Path, broker: &Mosquitto) -> Result<Setup, String> {
        let map = field::build(VEHICLES / 2)?;
        let map_path = scratch.join("ingest-map.geojson");
        std::fs::write(&map_path, &map.geojson)
            .map_err(|e| format!("{}: {e}", map_path.display()))?;
        let lane = borderlane_live::serve::load_map(&map_path).map_err(|e| e.to_string())?;
        let places = map
            .places
            .iter()
            .filter_map(|id| {
                let p = lane.node(lane.node_by_id(id)?).pos;
                Some((id.clone(), p.x, p.y))
            })
            .collect();
        let interface = format!("bench{}", std::process::id());
        let config = serve_config(&interface, broker, &map_path, &map.places);
        Ok(Setup {
            lane,
            places,
            config,
        })
    }
}

/// What a run measured.
struct Results {
    connected_in: Duration,
    warm: Warm,
    quiet: Window,
    churn: Window,
}

/// Starts the orchestrator and the bench's clients, warms up, measures both
/// windows and stops everything.
fn measure(setup: &Setup, broker: &Mosquitto) -> Result<Results, String> {
    let orchestrator_rt = runtime("orchestrator")?;
    let load_rt = runtime("bench-load")?;
    let started = Instant::now();
    let o = orchestrator_rt
        .block_on(Orchestrator::start(&setup.config, Clock::wall(), None))
        .map_err(|e| format!("the orchestrator did not start: {e}"))?;
    if !orchestrator_rt.block_on(o.wait_connected(PATIENCE)) {
        return Err("the orchestrator did not connect to Mosquitto".to_string());
    }
    let connected_in = started.elapsed();
    let vda = &setup.config.vda5050;
    let fleet = Arc::new(Fleet::new(
        &vda.interface_name,
        &vda.manufacturer,
        &setup.lane.name,
        &setup.places,
    ));
    let bench = Bench {
        orchestrator: &o,
        fleet: &fleet,
        broker_pid: broker.pid(),
    };
    let clients = load_rt.block_on(Clients::start(
        &fleet,
        &broker.host,
        broker.port,
        PUBLISHERS,
    ));
    let measured = load_rt.block_on(async {
        let warm = bench.warm_up().await?;
        let quiet = bench.window(false).await;
        let churn = bench.window(true).await;
        Ok::<_, String>((warm, quiet, churn))
    });
    fleet.stop();
    load_rt.block_on(clients.shutdown());
    orchestrator_rt.block_on(o.shutdown());
    let (warm, quiet, churn) = measured?;
    Ok(Results {
        connected_in,
        warm,
        quiet,
        churn,
    })
}

fn print_report(setup: &Setup, broker: &Mosquitto, load_at_start: &str, r: &Results) {
    let lane = &setup.lane;
    println!(
        "ingest benchmark: {} vehicles x 1 state/s, {PUBLISHERS} publishing clients, a plain \
         subscriber and a probe; Mosquitto at {}:{}, {}",
        setup.places.len(),
        broker.host,
        broker.port,
        broker.origin
    );
    println!(
        "machine: {} CPUs, load average {load_at_start} at the start, {} at the end",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    println!(
        "map: {} nodes, {} parking places; orchestrator started and connected in {:.1} s",
        lane.nodes.len(),
        lane.nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Parking)
            .count(),
        r.connected_in.as_secs_f64()
    );
    println!(
        "warm-up: every vehicle had its first order {:.1} s after the states began (the first \
         repair plans the whole fleet); the orchestrator was at most {} states behind the plain \
         subscriber",
        r.warm.all_ordered.as_secs_f64(),
        r.warm.worst_backlog
    );
    println!();
    print_window("quiet states (only breakdowns reach the core)", &r.quiet);
    print_window("every state reaches the core", &r.churn);
}

/// The configuration of the orchestrator under test: the whole lane, the
/// external broker, metrics on a free port, and the fleet at `places`.
fn serve_config(interface: &str, broker: &Mosquitto, map: &Path, places: &[String]) -> ServeConfig {
    ServeConfig {
        name: format!("orchestrator-{interface}"),
        side: SideSel::Both,
        map: map.to_path_buf(),
        broker: BrokerConfig::External(ExternalBroker {
            host: broker.host.clone(),
            port: broker.port,
            client_id: Some(format!("orchestrator-{interface}")),
            username: None,
            password: None,
            tls: None,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
        }),
        vda5050: MasterConfig {
            interface_name: interface.to_string(),
            ..MasterConfig::default()
        },
        metrics: MetricsConfig {
            listen: "127.0.0.1:0".to_string(),
        },
        topics: TopicsConfig {
            prefix: format!("{interface}/borderlane"),
        },
        ioc: None,
        core: CoreConfig::default(),
        handoff: None,
        state: None,
        fleet: places
            .iter()
            .enumerate()
            .map(|(i, start)| VehicleSpec {
                serial: format!("bench-{i:04}"),
                start: start.clone(),
            })
            .collect(),
    }
}

/// A runtime of two worker threads named `name`, so that their CPU time
/// can be told apart.
fn runtime(name: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// The counters a window is measured by.
struct Counters {
    at: Instant,
    published: u64,
    plain: u64,
    ingested: u64,
    orders_out: u64,
    steps: u64,
    step_seconds: f64,
    rejected: f64,
    /// CPU seconds of the orchestrator's threads, the bench's clients'
    /// threads and the broker (if the bench started it).
    cpu_orchestrator: f64,
    cpu_load: f64,
    cpu_broker: Option<f64>,
}

/// What one measured window came to.
struct Window {
    start: Counters,
    end: Counters,
    outcome: Outcome,
}

struct Warm {
    all_ordered: Duration,
    worst_backlog: i64,
}

/// Reads the counters of the orchestrator and the fleet, and drives the
/// warm-up and the windows.
struct Bench<'a> {
    orchestrator: &'a Orchestrator,
    fleet: &'a Arc<Fleet>,
    broker_pid: Option<u32>,
}

impl Bench<'_> {
    fn counters(&self) -> Counters {
        let m = self.orchestrator.metrics();
        let rejected = m
            .rejected
            .collect()
            .iter()
            .flat_map(|f| f.get_metric())
            .map(|c| c.get_counter().get_value())
            .sum();
        Counters {
            at: Instant::now(),
            published: self.fleet.published.load(Ordering::Relaxed),
            plain: self.fleet.plain_received.load(Ordering::Relaxed),
            ingested: m.messages.with_label_values(&["in", "state"]).get(),
            orders_out: m.messages.with_label_values(&["out", "order"]).get(),
            steps: m.plan_latency_seconds.get_sample_count(),
            step_seconds: m.plan_latency_seconds.get_sample_sum(),
            rejected,
            cpu_orchestrator: thread_cpu("orchestrator"),
            cpu_load: thread_cpu("bench-load"),
            cpu_broker: self.broker_pid.and_then(process_cpu),
        }
    }

    /// How many states the orchestrator has yet to take in of those the
    /// plain subscriber received.
    fn backlog(&self) -> i64 {
        let plain = self.fleet.plain_received.load(Ordering::Relaxed);
        let ingested = self
            .orchestrator
            .metrics()
            .messages
            .with_label_values(&["in", "state"])
            .get();
        plain as i64 - ingested as i64
    }

    /// Waits until every vehicle has had an order and the orchestrator has
    /// caught up with the plain subscriber.
    async fn warm_up(&self) -> Result<Warm, String> {
        let started = Instant::now();
        let n = self.fleet.len() as u64;
        let mut worst_backlog = 0;
        let mut all_ordered = None;
        let mut caught_up_since: Option<Instant> = None;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let backlog = self.backlog();
            worst_backlog = worst_backlog.max(backlog);
            if all_ordered.is_none() && self.fleet.with_order.load(Ordering::Relaxed) >= n {
                all_ordered = Some(started.elapsed());
            }
            caught_up_since = match (backlog <= 50, caught_up_since) {
                (true, Some(t)) => Some(t),
                (true, None) => Some(Instant::now()),
                (false, _) => None,
            };
            if let (Some(all_ordered), Some(t)) = (all_ordered, caught_up_since)
                && t.elapsed() >= SETTLE
            {
                return Ok(Warm {
                    all_ordered,
                    worst_backlog,
                });
            }
            if started.elapsed() > PATIENCE {
                return Err(format!(
                    "warm-up: after {} s, {} of {n} vehicles had an order and the orchestrator \
                     was {backlog} states behind",
                    PATIENCE.as_secs(),
                    self.fleet.with_order.load(Ordering::Relaxed)
                ));
            }
        }
    }

    /// Measures one window; with `churn`, every state changes the battery
    /// level.
    async fn window(&self, churn: bool) -> Window {
        self.fleet.set_churn(churn);
        tokio::time::sleep(SETTLE).await;
        self.fleet.start_measuring();
        let start = self.counters();
        tokio::time::sleep(WINDOW).await;
        let end = self.counters();
        self.fleet.stop_measuring();
        tokio::time::sleep(GRACE).await;
        Window {
            start,
            end,
            outcome: self.fleet.take_outcome(),
        }
    }
}

fn print_window(name: &str, w: &Window) {
    let (s, e) = (&w.start, &w.end);
    let secs = e.at.duration_since(s.at).as_secs_f64();
    let plain = e.plain - s.plain;
    let ingested = e.ingested - s.ingested;
    let kept_up = ingested as f64 / plain.max(1) as f64;
    let steps = e.steps - s.steps;
    let step_mean_us = (e.step_seconds - s.step_seconds) / steps.max(1) as f64 * 1e6;
    let cpu = |a: f64, b: f64| format!("{:.0} %", (b - a) / secs * 100.0);
    println!("== {name}, {secs:.1} s");
    println!(
        "states: {} published, {plain} received by the plain subscriber, {ingested} taken in by \
         the orchestrator: {:.1} % kept up (goal >= {:.0} %: {})",
        e.published - s.published,
        kept_up * 100.0,
        GOAL_KEPT_UP * 100.0,
        met(kept_up >= GOAL_KEPT_UP)
    );
    println!(
        "orchestrator: {steps} steps of the station, mean {step_mean_us:.0} us; {} orders out; {} \
         messages rejected; CPU: orchestrator {}, bench clients {}, Mosquitto {}",
        e.orders_out - s.orders_out,
        e.rejected - s.rejected,
        cpu(s.cpu_orchestrator, e.cpu_orchestrator),
        cpu(s.cpu_load, e.cpu_load),
        match (s.cpu_broker, e.cpu_broker) {
            (Some(a), Some(b)) => cpu(a, b),
            _ => "not measured".to_string(),
        }
    );
    let o = &w.outcome;
    println!(
        "breakdown and repair states timed: {} answered ({} by a new order, {} by an order \
         update), {} not answered; {} orders not paired with a timed state",
        o.samples.len(),
        o.samples.iter().filter(|s| !s.update).count(),
        o.samples.iter().filter(|s| s.update).count(),
        o.unanswered,
        o.unpaired
    );
    println!(
        "{:<36} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "latency, ms", "n", "p50", "p90", "p99", "max"
    );
    let rows = latency_rows(&o.samples);
    for (label, d) in &rows {
        let q = |p: f64| quantile(d, p).map_or("-".to_string(), |d| format!("{:.2}", ms(d)));
        println!(
            "{label:<36} {:>6} {:>8} {:>8} {:>8} {:>8}",
            d.len(),
            q(0.50),
            q(0.90),
            q(0.99),
            q(1.0)
        );
    }
    let p99 = quantile(&rows[0].1, 0.99).map(ms);
    println!(
        "goal: p99 from state to order < {GOAL_P99_MS} ms: {}",
        p99.map_or("not measured", |p| met(p < GOAL_P99_MS))
    );
    println!();
}

/// The latencies reported, each sorted; the first is the one the goal is
/// about: from the probe receiving a state to it receiving the order.
fn latency_rows(samples: &[Sample]) -> [(&'static str, Vec<Duration>); 5] {
    let seen = |s: &Sample| Some(s.answered.duration_since(s.seen?));
    let of = |cause: Cause| samples.iter().filter(move |s| s.cause == cause);
    let sorted = |mut d: Vec<Duration>| {
        d.sort();
        d
    };
    [
        (
            "state received -> order received",
            sorted(samples.iter().filter_map(seen).collect()),
        ),
        (
            "  of a breakdown (vehicle held)",
            sorted(of(Cause::Breakdown).filter_map(seen).collect()),
        ),
        (
            "  of a repair (vehicle to rest)",
            sorted(of(Cause::Repair).filter_map(seen).collect()),
        ),
        (
            "state published -> order received",
            sorted(
                samples
                    .iter()
                    .map(|s| s.answered.duration_since(s.published))
                    .collect(),
            ),
        ),
        (
            "state published -> state received",
            sorted(
                samples
                    .iter()
                    .filter_map(|s| Some(s.seen?.duration_since(s.published)))
                    .collect(),
            ),
        ),
    ]
}

fn met(yes: bool) -> &'static str {
    if yes { "met" } else { "NOT met" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The nearest-rank quantile `p` of sorted values.
fn quantile(sorted: &[Duration], p: f64) -> Option<Duration> {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// The one-, five- and fifteen-minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// User and system CPU seconds in a `/proc/.../stat` line.
fn stat_cpu(stat: &str) -> Option<f64> {
    // The fields after the command name, which is in parentheses: state is
    // the first, utime the twelfth, stime the thirteenth.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// CPU seconds of this process's threads named `name`.
fn thread_cpu(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|t| stat_cpu(&std::fs::read_to_string(t.path().join("stat")).ok()?))
        .sum()
}

/// CPU seconds of process `pid`.
fn process_cpu(pid: u32) -> Option<f64> {
    stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}
