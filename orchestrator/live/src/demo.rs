//! `borderlane demo`: the whole live system in one process.
//!
//! It starts the embedded broker, one orchestrator for the whole lane, one
//! simulated VDA 5050 vehicle per vehicle of the scenario's fleet (each a
//! real MQTT client with its own last will), and a job feeder that
//! publishes the scenario's containers on the orchestrator's jobs topic as
//! their arrival times come. Everything runs on one clock, which may run
//! faster than the wall clock (`speed`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use borderlane_core::io::JobRequest;
use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_model::Ms;
use borderlane_sim::scenario::{Scenario, ScenarioError};
use borderlane_vda5050::{AgentConfig, MasterConfig};
use rumqttc::QoS;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::{BrokerError, DEFAULT_MAX_PAYLOAD_BYTES, EmbeddedBroker, EmbeddedSettings};
use crate::clock::Clock;
use crate::config::{BrokerConfig, MetricsConfig, ServeConfig, TopicsConfig};
use crate::mqtt::{MqttClient, MqttError, MqttSettings};
use crate::scope::SideSel;
use crate::serve::{Orchestrator, ServeError, Status};
use crate::shell_topics::ShellTopics;
use crate::vehicle::{SimVehicle, VehicleError};

/// How long each part may take to connect to the broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The first container arrives this long (on the demo's clock) after the
/// start, however late in its day the scenario puts it.
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
}

impl DemoError {
    /// Whether the options or the scenario are at fault.
    pub fn is_input(&self) -> bool {
        matches!(self, DemoError::Scenario(_) | DemoError::Speed(_))
    }
}

/// A running demo.
pub struct Demo {
    broker: EmbeddedBroker,
    orchestrator: Orchestrator,
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
        let config = demo_config(&scenario, &fleet, core, &options.metrics_listen);
        let orchestrator = Orchestrator::start_recording(
            &config,
            clock,
            Some(at.clone()),
            options.record.as_deref(),
        )
        .await?;
        if !orchestrator.wait_connected(CONNECT_TIMEOUT).await {
            orchestrator.shutdown().await;
            return Err(DemoError::NotConnected(
                "the orchestrator".to_string(),
                CONNECT_TIMEOUT.as_secs(),
            ));
        }

        let base = MqttSettings::new(at.0.clone(), at.1, "unused");
        let mut vehicles = Vec::new();
        for v in &fleet {
            let agent = agent_config(&config.vda5050, v, &config.core);
            match SimVehicle::spawn(Arc::clone(&map), agent, &base, clock) {
                Ok(s) => vehicles.push(s),
                Err(e) => {
                    stop_all(orchestrator, vehicles).await;
                    return Err(e.into());
                }
            }
        }
        for v in &vehicles {
            if !v.wait_connected(CONNECT_TIMEOUT).await {
                let who = format!("vehicle {}", v.serial());
                stop_all(orchestrator, vehicles).await;
                return Err(DemoError::NotConnected(who, CONNECT_TIMEOUT.as_secs()));
            }
        }

        let topics = ShellTopics::new(&config.topics.prefix, config.side);
        let jobs_total = drawn.jobs.len();
        let feeder = match Feeder::start(&base, topics.jobs, drawn.jobs, clock) {
            Ok(f) => f,
            Err(e) => {
                stop_all(orchestrator, vehicles).await;
                return Err(e.into());
            }
        };
        Ok(Demo {
            broker,
            orchestrator,
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

    /// The URL of the orchestrator's metrics.
    pub fn metrics_url(&self) -> &str {
        self.orchestrator.metrics_url()
    }

    /// The orchestrator's status.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.orchestrator.status()
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

    /// The orchestrator, for inspection.
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// Stops the feeder, the vehicles (cleanly, connection OFFLINE) and the
    /// orchestrator. The broker runs until the process ends.
    pub async fn shutdown(self) {
        self.feeder.shutdown().await;
        stop_all(self.orchestrator, self.vehicles).await;
    }
}

async fn stop_all(orchestrator: Orchestrator, vehicles: Vec<SimVehicle>) {
    let stops: Vec<_> = vehicles
        .into_iter()
        .map(|v| tokio::spawn(v.shutdown()))
        .collect();
    for s in stops {
        let _ = s.await;
    }
    orchestrator.shutdown().await;
}

/// The orchestrator of the demo: the whole lane, with the scenario's map
/// and fleet.
fn demo_config(
    scenario: &Scenario,
    fleet: &[VehicleSpec],
    core: CoreConfig,
    metrics_listen: &str,
) -> ServeConfig {
    ServeConfig {
        name: "borderlane-demo".to_string(),
        side: SideSel::Both,
        map: scenario.map.clone(),
        broker: BrokerConfig::Embedded(EmbeddedSettings::default()),
        vda5050: MasterConfig::default(),
        metrics: MetricsConfig {
            listen: metrics_listen.to_string(),
        },
        topics: TopicsConfig::default(),
        core,
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
    /// Starts feeding `jobs`, each at its time after the first, the first
    /// [`FIRST_JOB_AFTER_MS`] from now.
    fn start(
        base: &MqttSettings,
        topic: String,
        jobs: Vec<(Ms, JobRequest)>,
        clock: Clock,
    ) -> Result<Feeder, MqttError> {
        let mut settings = base.clone();
        settings.client_id = "borderlane-demo-feeder".to_string();
        let (client, _inbox) = MqttClient::connect(&settings, Vec::new(), clock)?;
        let fed = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&fed);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let first = jobs.first().map_or(0, |(t, _)| *t);
        let start = clock.now() + FIRST_JOB_AFTER_MS;
        let task = tokio::spawn(async move {
            for (at, job) in jobs {
                let due = start + at.saturating_sub(first);
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
