//! `borderlane demo`: the whole live system in one process.
//!
//! It starts the embedded broker, one orchestrator for the whole lane with
//! its operation center or, with `two_sided`, the two sides' orchestrators
//! (VN, with the operation center, and CN), which hand vehicles over to
//! each other at the border with the demo keys of `config/vn.toml` and
//! `config/cn.toml`; one simulated VDA 5050 vehicle per vehicle of the
//! scenario's fleet (each a real MQTT client with its own last will), and a
//! job feeder that publishes each of the scenario's containers on the jobs
//! topic of the orchestrator that takes it, as their arrival times come. Everything runs
//! on one clock, which may run faster than the wall clock (`speed`).
//! Vehicles may be made to lose their link to the broker for a while
//! ([`DemoLinkLoss`]).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use borderlane_core::io::JobRequest;
use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_handoff::SigningKey;
use borderlane_ioc::{IocConfig, Role, User};
use borderlane_model::{Ms, Side};
use borderlane_sim::scenario::{Scenario, ScenarioError};
use borderlane_station::HandoffKeys;
use borderlane_vda5050::{AgentConfig, MasterConfig};
use rumqttc::QoS;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::{BrokerError, DEFAULT_MAX_PAYLOAD_BYTES, EmbeddedBroker, EmbeddedSettings};
use crate::clock::Clock;
use crate::config::{BrokerConfig, HandoffSection, MetricsConfig, ServeConfig, TopicsConfig};
use crate::mqtt::{MqttClient, MqttError, MqttSettings};
use crate::scope::SideSel;
use crate::serve::{Orchestrator, ServeError, Status};
use crate::shell_topics::ShellTopics;
use crate::vehicle::{LinkLoss, SimVehicle, VehicleError};

/// How long each part may take to connect to the broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// No container arrives sooner than this (on the demo's clock) after the
/// start, so that the vehicles have reported first.
const FIRST_JOB_AFTER_MS: Ms = 5_000;

/// What to run.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub scenario: PathBuf,
    /// How many times faster than the wall clock the demo's clock runs.
    pub speed: f64,
    /// The seed of the scenario's draws, instead of its own.
    pub seed: Option<u64>,
    /// The broker's port; 0 picks a free one.
    pub broker_port: u16,
    /// Where the metrics endpoint listens; port 0 picks a free one.
    pub metrics_listen: String,
    /// Record the orchestrator's inputs and outputs to this MCAP file.
    pub record: Option<PathBuf>,
    /// The operation center's port on the loopback interface; 0 picks a
    /// free one.
    pub ioc_port: u16,
    /// Who may sign in to the operation center.
    pub accounts: Vec<DemoAccount>,
    /// Vehicles that lose their link to the broker, and when.
    pub link_losses: Vec<DemoLinkLoss>,
    /// Run a VN and a CN orchestrator that hand vehicles over, instead of
    /// one for the whole lane.
    pub two_sided: bool,
    /// Where in the scenario the demo begins, ms from its start: only the
    /// containers that arrive from then on are fed.
    pub from_ms: Ms,
}

/// An account of the demo's operation center.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoAccount {
    pub name: String,
    pub password: String,
    pub role: Role,
}

impl DemoAccount {
    /// Reads `NAME:PASSWORD`, both not empty (the password may hold ':').
    pub fn parse(text: &str, role: Role) -> Result<DemoAccount, String> {
        match text.split_once(':') {
            Some((name, password)) if !name.trim().is_empty() && !password.is_empty() => {
                Ok(DemoAccount {
                    name: name.trim().to_string(),
                    password: password.to_string(),
                    role,
                })
            }
            _ => Err(format!(
                "{text:?}: expected NAME:PASSWORD, both not empty, e.g. operator:operator"
            )),
        }
    }
}

/// A vehicle of the demo losing its link to the broker: written
/// `VEHICLE@AT:FOR`, as `igv-003@4m:2m`: vehicle igv-003 loses its link 4
/// minutes after the start, on the demo's clock, for 2 minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoLinkLoss {
    pub vehicle: String,
    /// When, on the demo's clock, after its start.
    pub at_ms: Ms,
    /// For how long.
    pub for_ms: Ms,
}

impl FromStr for DemoLinkLoss {
    type Err = String;

    fn from_str(text: &str) -> Result<DemoLinkLoss, String> {
        let form = |why: &str| format!("{text:?}: {why}; write VEHICLE@AT:FOR, e.g. igv-003@4m:2m");
        let (vehicle, times) = text
            .rsplit_once('@')
            .ok_or_else(|| form("no '@' after the vehicle"))?;
        let (at, length) = times
            .split_once(':')
            .ok_or_else(|| form("no ':' between the time and the length"))?;
        let vehicle = vehicle.trim();
        if vehicle.is_empty() {
            return Err(form("the vehicle is missing"));
        }
        let ms = |what: &str, t: &str| {
            parse_duration(t)
                .map(|d| d.as_millis().min(u128::from(Ms::MAX / 4)) as Ms)
                .map_err(|e| form(&format!("{what}: {e}")))
        };
        Ok(DemoLinkLoss {
            vehicle: vehicle.to_string(),
            at_ms: ms("the time", at)?,
            for_ms: ms("the length", length)?,
        })
    }
}

impl fmt::Display for DemoLinkLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} loses its link at {} for {}",
            self.vehicle,
            clock_text(self.at_ms),
            clock_text(self.for_ms)
        )
    }
}

/// `ms` as `1h02m03s`, `4m00s` or `12s`.
fn clock_text(ms: Ms) -> String {
    let s = ms / 1_000;
    match (s / 3_600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, sec) => format!("{h}h{min:02}m{sec:02}s"),
    }
}

/// Reads `90`, `90s`, `15m` or `2h` (a number, with a fraction if need
/// be, and a unit: seconds when none is given).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 15m or 2h"))?;
    let secs = match unit {
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3_600.0,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is too long"))
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("--speed {0}: must be a number above 0 and at most 1000")]
    Speed(f64),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Vehicle(#[from] VehicleError),
    #[error("job feeder: {0}")]
    Feeder(#[from] MqttError),
    #[error("{0} did not connect to the broker within {1} s")]
    NotConnected(String, u64),
    #[error("--link-loss {0}: {1}")]
    LinkLoss(String, String),
    #[error("operation center accounts: {0}")]
    Accounts(String),
}

impl DemoError {
    /// Whether the options or the scenario are at fault.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            DemoError::Scenario(_)
                | DemoError::Speed(_)
                | DemoError::LinkLoss(..)
                | DemoError::Accounts(_)
        )
    }
}

/// The demo's signing keys (ed25519 seeds), the same as in
/// `config/vn.toml` and `config/cn.toml`: public, for the demo only.
const DEMO_SEEDS: [(Side, &str, &str); 2] = [
    (
        Side::Vn,
        "vn-demo",
        "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
    ),
    (
        Side::Cn,
        "cn-demo",
        "c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7",
    ),
];

/// A side's demo keys: its own seed and the other side's public key.
pub fn demo_keys(side: Side) -> HandoffKeys {
    let find = |s: Side| {
        DEMO_SEEDS
            .iter()
            .find(|(x, _, _)| *x == s)
            .map(|(_, id, seed)| (id.to_string(), seed.to_string()))
            .expect("both sides have demo keys")
    };
    let (key_id, key) = find(side);
    let (peer_key_id, peer_seed) = find(side.other());
    let peer_key = SigningKey::from_hex(&peer_key_id, &peer_seed)
        .expect("a valid demo seed")
        .verifying_key()
        .to_hex();
    HandoffKeys {
        key_id,
        key,
        peer_key_id,
        peer_key,
    }
}

/// A running demo.
pub struct Demo {
    broker: EmbeddedBroker,
    /// The lane's orchestrator, or VN's in a two-sided demo, with the
    /// operation center and the recording.
    orchestrator: Orchestrator,
    /// The CN orchestrator, in a two-sided demo.
    cn: Option<Orchestrator>,
    vehicles: Vec<SimVehicle>,
    feeder: Feeder,
    jobs_total: usize,
    clock: Clock,
}

impl Demo {
    /// Starts everything and waits until every part is connected.
    pub async fn start(options: &DemoOptions) -> Result<Demo, DemoError> {
        if !(options.speed.is_finite() && options.speed > 0.0 && options.speed <= 1_000.0) {
            return Err(DemoError::Speed(options.speed));
        }
        let scenario = Scenario::load(&options.scenario)?;
        let map = borderlane_sim::run::load_map(&scenario)?;
        let fleet = borderlane_sim::run::fleet(&map, scenario.fleet.vehicles)?;
        check_link_losses(&options.link_losses, &fleet)?;
        let users = users(&options.accounts)?;
        let seed = options.seed.unwrap_or(scenario.seed);
        let drawn = borderlane_sim::run::draw(&scenario, &map, seed, scenario.days)?;
        let clock = Clock::scaled(options.speed);

        let broker = EmbeddedBroker::start(&EmbeddedSettings {
            host: "127.0.0.1".to_string(),
            port: options.broker_port,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
        })
        .await?;
        let at = (broker.connect_host(), broker.port());

        let core = CoreConfig {
            profile: scenario.vehicle.profile(),
            ..CoreConfig::default()
        };
        let first = options.two_sided.then_some(Side::Vn);
        let mut config = demo_config(
            &scenario,
            &fleet,
            core.clone(),
            &options.metrics_listen,
            first,
        );
        config.ioc = Some(IocConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, options.ioc_port)),
            users,
            side: config.side.label().to_string(),
            ..IocConfig::default()
        });
        let cn_config = demo_config(
            &scenario,
            &fleet,
            core,
            &next_port(&options.metrics_listen),
            Some(Side::Cn),
        );
        let orchestrator = Orchestrator::start_recording(
            &config,
            clock,
            Some(at.clone()),
            options.record.as_deref(),
        )
        .await?;
        let cn = if options.two_sided {
            match Orchestrator::start(&cn_config, clock, Some(at.clone())).await {
                Ok(o) => Some(o),
                Err(e) => {
                    orchestrator.shutdown().await;
                    return Err(e.into());
                }
            }
        } else {
            None
        };
        let vn_up = orchestrator.wait_connected(CONNECT_TIMEOUT).await;
        let cn_up = match &cn {
            Some(cn) => cn.wait_connected(CONNECT_TIMEOUT).await,
            None => true,
        };
        if !(vn_up && cn_up) {
            let who = if vn_up {
                "the CN orchestrator"
            } else {
                "the orchestrator"
            };
            stop_all(orchestrator, cn, Vec::new()).await;
            return Err(DemoError::NotConnected(
                who.to_string(),
                CONNECT_TIMEOUT.as_secs(),
            ));
        }

        let base = MqttSettings::new(at.0.clone(), at.1, "unused");
        let mut vehicles = Vec::new();
        for v in &fleet {
            let agent = agent_config(&config.vda5050, v, &config.core);
            let losses = options
                .link_losses
                .iter()
                .filter(|l| l.vehicle == v.serial)
                .map(|l| LinkLoss {
                    at: clock.origin_ms() + l.at_ms,
                    for_ms: l.for_ms,
                })
                .collect();
            match SimVehicle::spawn_with_link_losses(Arc::clone(&map), agent, &base, clock, losses)
            {
                Ok(s) => vehicles.push(s),
                Err(e) => {
                    stop_all(orchestrator, cn, vehicles).await;
                    return Err(e.into());
                }
            }
        }
        for v in &vehicles {
            if !v.wait_connected(CONNECT_TIMEOUT).await {
                let who = format!("vehicle {}", v.serial());
                stop_all(orchestrator, cn, vehicles).await;
                return Err(DemoError::NotConnected(who, CONNECT_TIMEOUT.as_secs()));
            }
        }

        // Each container goes to the jobs topic of the side it waits on.
        let from = options.from_ms;
        let jobs: Vec<_> = drawn
            .jobs
            .into_iter()
            .filter(|(at, _)| *at >= from)
            .collect();
        let jobs_total = jobs.len();
        let jobs = jobs
            .into_iter()
            .map(|(at, job)| {
                let side = match map.node_by_id(&job.pickup).map(|n| map.side_of(n)) {
                    _ if !options.two_sided => SideSel::Both,
                    Some(Side::Cn) => SideSel::Cn,
                    _ => SideSel::Vn,
                };
                let topic = ShellTopics::new(&config.topics.prefix, side).jobs;
                (at, topic, job)
            })
            .collect();
        let feeder = match Feeder::start(&base, jobs, from, clock) {
            Ok(f) => f,
            Err(e) => {
                stop_all(orchestrator, cn, vehicles).await;
                return Err(e.into());
            }
        };
        Ok(Demo {
            broker,
            orchestrator,
            cn,
            vehicles,
            feeder,
            jobs_total,
            clock,
        })
    }

    /// The broker's address as `mqtt://host:port`.
    pub fn broker_url(&self) -> String {
        self.broker.url()
    }

    /// The URL of the (first) orchestrator's metrics.
    pub fn metrics_url(&self) -> &str {
        self.orchestrator.metrics_url()
    }

    /// Each orchestrator's name (`lane`, or `VN` and `CN`) and the URL of
    /// its metrics.
    pub fn metrics_urls(&self) -> Vec<(&'static str, &str)> {
        self.each()
            .into_iter()
            .map(|(n, o)| (n, o.metrics_url()))
            .collect()
    }

    /// The orchestrators with their names.
    fn each(&self) -> Vec<(&'static str, &Orchestrator)> {
        match &self.cn {
            Some(cn) => vec![("VN", &self.orchestrator), ("CN", cn)],
            None => vec![("lane", &self.orchestrator)],
        }
    }

    /// The operation center's address, `http://127.0.0.1:port/`.
    pub fn ioc_url(&self) -> &str {
        self.orchestrator.ioc_url().unwrap_or_default()
    }

    /// The (first) orchestrator's status.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.orchestrator.status()
    }

    /// Each orchestrator's name and status.
    pub fn statuses(&self) -> Vec<(&'static str, Status)> {
        self.each()
            .into_iter()
            .map(|(n, o)| (n, o.status().borrow().clone()))
            .collect()
    }

    /// How many containers the scenario brings, and how many the feeder
    /// has published so far.
    pub fn jobs(&self) -> (usize, u64) {
        (self.jobs_total, self.feeder.fed.load(Ordering::Relaxed))
    }

    /// The number of simulated vehicles.
    pub fn vehicles(&self) -> usize {
        self.vehicles.len()
    }

    /// The demo's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The VN orchestrator, for inspection.
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// The CN orchestrator of a two-sided demo, for inspection.
    pub fn cn(&self) -> Option<&Orchestrator> {
        self.cn.as_ref()
    }

    /// Stops the feeder, the vehicles (cleanly, connection OFFLINE) and the
    /// orchestrators. The broker runs until the process ends.
    pub async fn shutdown(self) {
        self.feeder.shutdown().await;
        stop_all(self.orchestrator, self.cn, self.vehicles).await;
    }
}

async fn stop_all(orchestrator: Orchestrator, cn: Option<Orchestrator>, vehicles: Vec<SimVehicle>) {
    let stops: Vec<_> = vehicles
        .into_iter()
        .map(|v| tokio::spawn(v.shutdown()))
        .collect();
    for s in stops {
        let _ = s.await;
    }
    if let Some(cn) = cn {
        cn.shutdown().await;
    }
    orchestrator.shutdown().await;
}

/// The address after `listen` (port + 1), or a free port when `listen`
/// asks for one: where the CN orchestrator's metrics listen.
fn next_port(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(mut a) if a.port() != 0 => {
            a.set_port(a.port().wrapping_add(1));
            a.to_string()
        }
        Ok(mut a) => {
            a.set_port(0);
            a.to_string()
        }
        Err(_) => listen.to_string(),
    }
}

/// Refuses a link loss of a vehicle that is not in the fleet.
fn check_link_losses(losses: &[DemoLinkLoss], fleet: &[VehicleSpec]) -> Result<(), DemoError> {
    for l in losses {
        if !fleet.iter().any(|v| v.serial == l.vehicle) {
            let serials: Vec<&str> = fleet.iter().map(|v| v.serial.as_str()).collect();
            return Err(DemoError::LinkLoss(
                l.vehicle.clone(),
                format!("no such vehicle; the fleet is {}", serials.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The operation center's accounts, their passwords hashed.
fn users(accounts: &[DemoAccount]) -> Result<Vec<User>, DemoError> {
    let mut users: Vec<User> = Vec::new();
    for a in accounts {
        if users.iter().any(|u| u.name == a.name) {
            return Err(DemoError::Accounts(format!(
                "{:?} is named twice; give each account its own name",
                a.name
            )));
        }
        let password_hash = borderlane_ioc::hash_password(&a.password)
            .map_err(|e| DemoError::Accounts(e.to_string()))?;
        users.push(User {
            name: a.name.clone(),
            role: a.role,
            password_hash,
        });
    }
    Ok(users)
}

/// An orchestrator of the demo, with the scenario's map and fleet: for
/// the whole lane, or for a side, with its demo keys.
fn demo_config(
    scenario: &Scenario,
    fleet: &[VehicleSpec],
    core: CoreConfig,
    metrics_listen: &str,
    side: Option<Side>,
) -> ServeConfig {
    let handoff = side.map(|side| HandoffSection::inline(demo_keys(side)));
    ServeConfig {
        name: match side {
            Some(side) => format!("borderlane-demo-{}", side.to_string().to_lowercase()),
            None => "borderlane-demo".to_string(),
        },
        side: match side {
            Some(Side::Vn) => SideSel::Vn,
            Some(Side::Cn) => SideSel::Cn,
            None => SideSel::Both,
        },
        map: scenario.map.clone(),
        broker: BrokerConfig::Embedded(EmbeddedSettings::default()),
        vda5050: MasterConfig::default(),
        metrics: MetricsConfig {
            listen: metrics_listen.to_string(),
        },
        topics: TopicsConfig::default(),
        ioc: None,
        core,
        handoff,
        state: None,
        fleet: fleet.to_vec(),
    }
}

/// A simulated vehicle that speaks to the master control `master`.
pub fn agent_config(master: &MasterConfig, v: &VehicleSpec, core: &CoreConfig) -> AgentConfig {
    AgentConfig {
        interface_name: master.interface_name.clone(),
        manufacturer: master.manufacturer.clone(),
        serial: v.serial.clone(),
        version: master.version,
        start_node: v.start.clone(),
        profile: core.profile,
        map_id: master.map_id.clone(),
        ..AgentConfig::default()
    }
}

/// Publishes jobs on the jobs topic when their times come.
struct Feeder {
    fed: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Feeder {
    /// Starts feeding `jobs` (time, topic, job), each at its time after
    /// `from` (the scenario's time the demo begins at), the first no sooner
    /// than [`FIRST_JOB_AFTER_MS`] from now.
    fn start(
        base: &MqttSettings,
        jobs: Vec<(Ms, String, JobRequest)>,
        from: Ms,
        clock: Clock,
    ) -> Result<Feeder, MqttError> {
        let mut settings = base.clone();
        settings.client_id = "borderlane-demo-feeder".to_string();
        let (client, _inbox) = MqttClient::connect(&settings, Vec::new(), clock)?;
        let fed = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&fed);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let start = clock.now();
        let task = tokio::spawn(async move {
            for (at, topic, job) in jobs {
                let due = (start + at.saturating_sub(from)).max(start + FIRST_JOB_AFTER_MS);
                // A long sleep may end early; sleep again until it is due.
                while clock.now() < due {
                    tokio::select! {
                        _ = &mut stopped => {
                            client.shutdown().await;
                            return;
                        }
                        _ = clock.sleep_until(due) => {}
                    }
                }
                match serde_json::to_vec(&job) {
                    Ok(payload) => {
                        client.publish(&topic, payload, QoS::AtLeastOnce, false);
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => tracing::error!(job = %job.id, error = %e, "job not encoded"),
                }
            }
            let _ = stopped.await;
            client.shutdown().await;
        });
        Ok(Feeder {
            fed,
            stop: Some(stop),
            task,
        })
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("-3s").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn link_losses_parse() {
        assert_eq!(
            "igv-003@4m:2m".parse(),
            Ok(DemoLinkLoss {
                vehicle: "igv-003".into(),
                at_ms: 240_000,
                for_ms: 120_000,
            })
        );
        assert_eq!(
            "igv-003@90:30s"
                .parse::<DemoLinkLoss>()
                .map(|l| (l.at_ms, l.for_ms)),
            Ok((90_000, 30_000))
        );
        for (bad, says) in [
            ("igv-003", "no '@'"),
            ("igv-003@4m", "no ':'"),
            ("@4m:2m", "vehicle is missing"),
            ("igv-003@soon:2m", "the time"),
            ("igv-003@4m:0s", "the length"),
        ] {
            let err = bad.parse::<DemoLinkLoss>().expect_err(bad);
            assert!(
                err.contains(says) && err.contains("VEHICLE@AT:FOR"),
                "{bad}: {err}"
            );
        }
        let l: DemoLinkLoss = "igv-003@4m:90s".parse().expect("valid");
        assert_eq!(l.to_string(), "igv-003 loses its link at 4m00s for 1m30s");
    }

    #[test]
    fn accounts_parse() {
        assert_eq!(
            DemoAccount::parse("olga:a:b", Role::Operator),
            Ok(DemoAccount {
                name: "olga".into(),
                password: "a:b".into(),
                role: Role::Operator,
            })
        );
        for bad in ["olga", ":pw", "olga:", ""] {
            assert!(DemoAccount::parse(bad, Role::Viewer).is_err(), "{bad}");
        }
    }

    #[test]
    fn accounts_are_named_once_and_hashed() {
        let a = |name: &str, role| DemoAccount {
            name: name.into(),
            password: "pw".into(),
            role,
        };
        let hashed = users(&[a("olga", Role::Operator), a("viktor", Role::Viewer)]).expect("valid");
        assert_eq!(hashed.len(), 2);
        assert!(borderlane_ioc::verify_password(
            "pw",
            &hashed[0].password_hash
        ));
        assert!(!borderlane_ioc::verify_password(
            "wrong",
            &hashed[0].password_hash
        ));
        assert_eq!(hashed[1].role, Role::Viewer);
        let err =
            users(&[a("olga", Role::Operator), a("olga", Role::Viewer)]).expect_err("refused");
        assert!(err.is_input());
        assert!(err.to_string().contains("\"olga\" is named twice"), "{err}");
    }

    #[test]
    fn a_link_loss_names_a_vehicle_of_the_fleet() {
        let fleet = vec![VehicleSpec {
            serial: "igv-000".into(),
            start: "VN_PARK_01".into(),
        }];
        let ok: DemoLinkLoss = "igv-000@1m:1m".parse().expect("valid");
        assert!(check_link_losses(&[ok], &fleet).is_ok());
        let bad: DemoLinkLoss = "igv-042@1m:1m".parse().expect("valid");
        let err = check_link_losses(&[bad], &fleet).expect_err("refused");
        assert!(err.is_input());
        let text = err.to_string();
        assert!(
            text.contains("igv-042") && text.contains("igv-000"),
            "{text}"
        );
    }
}
