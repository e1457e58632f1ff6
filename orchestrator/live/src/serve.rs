//! The orchestrator's loop: one station (the core, the VDA 5050 master
//! control and the jobs and operator topics) on MQTT.
//!
//! Every received message goes to the station with the time it was
//! received. What the station publishes goes to the broker, and its events
//! go to the metrics, the log and the events topic. Between messages, the
//! loop sleeps until the station's timeout. A rejected message is logged
//! with the vehicle, the topic and the reason, counted, and changes
//! nothing. With a recording, every input the station is given and every
//! output it produces is written to an MCAP file, in the order
//! `borderlane_record::drain` takes them, so `borderlane replay` can feed
//! the same inputs to a fresh station and compare. With an operation center
//! (`[ioc]`), the loop publishes a view of the core to it a few times a
//! second and gives its operators' actions to the station, recorded as
//! operator inputs. The shell reads the clock; nothing else does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::fs::File;
use std::io::BufWriter;

use borderlane_core::io::Event;
use borderlane_core::{Core, CoreError};
use borderlane_ioc::{Ioc, OperatorAction};
use borderlane_model::{LaneMap, Ms, NEVER};
use borderlane_record::{Entry, MqttIn, OperatorIn, Payload, Recorder, Session};
use borderlane_station::{Station, StationConfig, StationError};
use borderlane_vda5050::{Master, Qos};
use rumqttc::QoS;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::broker::{BrokerError, EmbeddedBroker};
use crate::clock::Clock;
use crate::config::{BrokerConfig, ServeConfig};
use crate::metrics::{Metrics, MetricsServer};
use crate::mqtt::{LinkState, Message, MqttClient, MqttError};
use crate::operation_center::{OperationCenter, next_actions};
use crate::scope::Scope;
use crate::shell_topics::ShellTopics;

/// How often the metrics and status that come from a snapshot of the core
/// are brought up to date, wall time.
const REFRESH: Duration = Duration::from_millis(250);

/// Why an orchestrator could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("map {path:?}: cannot read it: {source}")]
    MapRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("map {path:?}: {message}")]
    MapInvalid { path: PathBuf, message: String },
    #[error("{0}")]
    Fleet(String),
    #[error("fleet: {0}")]
    Core(#[from] CoreError),
    #[error("{0}")]
    Handoff(String),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Mqtt(#[from] MqttError),
    #[error("{0}")]
    Metrics(std::io::Error),
    #[error("{0}")]
    Ioc(std::io::Error),
    #[error("{0}")]
    IocConfig(String),
    #[error("recording: {0}")]
    Record(#[from] borderlane_record::WriteError),
    /// The state database cannot be opened or recovered from.
    #[error("{0}")]
    Store(String),
}

impl ServeError {
    /// Whether the configuration (or a file it names) is at fault, rather
    /// than the machine (a port in use, say).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            ServeError::MapRead { .. }
                | ServeError::MapInvalid { .. }
                | ServeError::Fleet(_)
                | ServeError::Core(_)
                | ServeError::Handoff(_)
                | ServeError::Mqtt(_)
                | ServeError::IocConfig(_)
                | ServeError::Store(_)
        )
    }
}

/// Reads and validates a map file.
pub fn load_map(path: &std::path::Path) -> Result<Arc<LaneMap>, ServeError> {
    load_map_text(path).map(|(map, _)| map)
}

/// Reads and validates a map file, keeping its text.
fn load_map_text(path: &std::path::Path) -> Result<(Arc<LaneMap>, String), ServeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServeError::MapRead {
        path: path.to_path_buf(),
        source,
    })?;
    let map = LaneMap::from_geojson(&text)
        .map(Arc::new)
        .map_err(|e| ServeError::MapInvalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    Ok((map, text))
}

/// The station a serve configuration describes, with its handoff keys read
/// from their files. The error names the file or the field.
pub fn station_config(config: &ServeConfig) -> Result<StationConfig, String> {
    Ok(StationConfig {
        name: config.side.topic_level().to_string(),
        prefix: config.topics.prefix.clone(),
        jobs_from: config.side.side(),
        core: config.core_config(),
        vda5050: config.vda5050.clone(),
        handoff: config.handoff.as_ref().map(|h| h.keys()).transpose()?,
    })
}

/// What an orchestrator shows of itself while it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The core's time.
    pub now_ms: Ms,
    pub vehicles: usize,
    pub driving: usize,
    pub link_lost: usize,
    pub jobs_queued: usize,
    pub jobs_active: usize,
    pub jobs_done: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub rejected: u64,
    pub connected: bool,
    /// Why the loop stopped on its own: a store to the state database
    /// failed. Start the orchestrator again; it recovers from the file.
    pub failed: Option<String>,
}

type Inspection = Box<dyn FnOnce(&mut Core, &mut Master) + Send>;

/// A running orchestrator.
pub struct Orchestrator {
    broker: Option<EmbeddedBroker>,
    metrics_url: String,
    /// The operation center and its address, when it is served.
    ioc: Option<(Ioc, String)>,
    metrics: Arc<Metrics>,
    status: watch::Receiver<Status>,
    inspect: mpsc::Sender<Inspection>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Orchestrator {
    /// Starts an orchestrator: reads its map, builds the core and the
    /// master control, starts the embedded broker if the configuration
    /// asks for one (unless `broker_at` names a broker to use instead),
    /// the operation center if configured, the metrics endpoint and the
    /// MQTT client, and runs the loop.
    pub async fn start(
        config: &ServeConfig,
        clock: Clock,
        broker_at: Option<(String, u16)>,
    ) -> Result<Orchestrator, ServeError> {
        Orchestrator::start_recording(config, clock, broker_at, None).await
    }

    /// Starts an orchestrator as [`Orchestrator::start`] does, recording
    /// every input and output of its station to `record` if given.
    pub async fn start_recording(
        config: &ServeConfig,
        clock: Clock,
        broker_at: Option<(String, u16)>,
        record: Option<&std::path::Path>,
    ) -> Result<Orchestrator, ServeError> {
        let (map, map_text) = load_map_text(&config.map)?;
        let scope = Scope::new(config.side, &config.fleet);
        scope
            .check_fleet(&map, &config.fleet)
            .map_err(ServeError::Fleet)?;
        config.validate_ioc().map_err(ServeError::IocConfig)?;
        // Dropped on a later error, the operation center stops serving.
        let center = match &config.ioc {
            Some(c) => Some(
                OperationCenter::start(Arc::clone(&map), c.clone())
                    .await
                    .map_err(ServeError::Ioc)?,
            ),
            None => None,
        };
        let ioc = center.as_ref().map(|c| (c.ioc().clone(), c.url()));
        let station_config = station_config(config).map_err(ServeError::Handoff)?;
        let recorder = match record {
            Some(path) => {
                let session = Session {
                    format: borderlane_record::FORMAT_VERSION,
                    borderlane: env!("CARGO_PKG_VERSION").to_string(),
                    map_name: config
                        .map
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    map_geojson: map_text,
                    station: serde_json::to_value(&station_config).unwrap_or_default(),
                };
                Some(Recorder::create(path, clock.now(), &session)?)
            }
            None => None,
        };
        let opened = match &config.state {
            Some(state) => {
                if let Some(folder) = state.database.parent()
                    && !folder.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(folder).map_err(|e| {
                        ServeError::Store(format!(
                            "state.database {}: cannot create its folder: {e}",
                            state.database.display()
                        ))
                    })?;
                }
                Station::open(Arc::clone(&map), station_config, &state.database)
            }
            None => Station::new(Arc::clone(&map), station_config),
        };
        let station = opened.map_err(|e| match e {
            StationError::Core(e) => ServeError::Core(e),
            StationError::Handoff(e) => ServeError::Handoff(e),
            StationError::Store(e) => ServeError::Store(format!("state.database: {e}")),
        })?;
        if let Some(state) = &config.state {
            tracing::info!(
                database = %state.database.display(),
                replayed = station.replayed(),
                handoffs = station.desk().map_or(0, |d| d.handoffs.records().count()),
                "state recovered"
            );
        }
        let topics = ShellTopics::new(&config.topics.prefix, config.side);

        let mut broker = None;
        let settings = match (&config.broker, broker_at) {
            (_, Some(at)) => config.mqtt_settings(Some(at)),
            (BrokerConfig::Embedded(e), None) => {
                let b = EmbeddedBroker::start(e).await?;
                let s = config.mqtt_settings(Some((b.connect_host(), b.port())));
                broker = Some(b);
                s
            }
            (BrokerConfig::External(_), None) => config.mqtt_settings(None),
        };

        let metrics = Arc::new(Metrics::new(config.side.label()));
        let server = MetricsServer::start(Arc::clone(&metrics), &config.metrics.listen)
            .await
            .map_err(ServeError::Metrics)?;
        let metrics_url = server.url();

        let mut subscriptions: Vec<(String, QoS)> = scope
            .subscriptions(station.master().subscriptions())
            .into_iter()
            .map(|(t, q)| (t, qos(q)))
            .collect();
        subscriptions.extend(
            topics
                .inbound()
                .into_iter()
                .map(|t| (t.to_string(), QoS::AtLeastOnce)),
        );
        // A side's orchestrator reads the other side's handoff messages.
        if let Some(me) = config.side.side() {
            subscriptions.push((borderlane_handoff::topic(me.other(), me), QoS::AtLeastOnce));
        }
        let (mqtt, inbox) = match MqttClient::connect(&settings, subscriptions, clock) {
            Ok(c) => c,
            Err(e) => {
                server.shutdown().await;
                return Err(e.into());
            }
        };

        tracing::info!(
            name = %config.name,
            side = %config.side,
            vehicles = config.fleet.len(),
            broker = %format!("mqtt://{}:{}", settings.host, settings.port),
            metrics = %metrics_url,
            ioc = ioc.as_ref().map_or("-", |(_, url)| url.as_str()),
            jobs = %topics.jobs,
            operator = %topics.operator,
            "orchestrator started"
        );

        let (status_tx, status) = watch::channel(Status::default());
        let (inspect, inspect_rx) = mpsc::channel(16);
        let (stop, stopped) = oneshot::channel();
        let state = Loop {
            station,
            recorder,
            center,
            topics,
            clock,
            metrics: Arc::clone(&metrics),
            status: status_tx,
            counts: Status::default(),
            arrivals: BTreeMap::new(),
            last_now: 0,
            core_wake: None,
            link: LinkState::default(),
            dropped: 0,
            outgoing: Vec::new(),
            publishes: Vec::new(),
        };
        let task = tokio::spawn(state.run(mqtt, inbox, inspect_rx, stopped, server));
        Ok(Orchestrator {
            broker,
            metrics_url,
            ioc,
            metrics,
            status,
            inspect,
            stop: Some(stop),
            task,
        })
    }

    /// The embedded broker's address as `mqtt://host:port`, if this
    /// orchestrator started one.
    pub fn broker_url(&self) -> Option<String> {
        self.broker.as_ref().map(EmbeddedBroker::url)
    }

    /// The embedded broker, if this orchestrator started one.
    pub fn broker(&self) -> Option<&EmbeddedBroker> {
        self.broker.as_ref()
    }

    /// The URL of the metrics endpoint.
    pub fn metrics_url(&self) -> &str {
        &self.metrics_url
    }

    /// The operation center's address, `http://host:port/`, when it is
    /// served.
    pub fn ioc_url(&self) -> Option<&str> {
        self.ioc.as_ref().map(|(_, url)| url.as_str())
    }

    /// The operation center, when it is served.
    pub fn ioc(&self) -> Option<&Ioc> {
        self.ioc.as_ref().map(|(ioc, _)| ioc)
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A watch of the status, brought up to date a few times a second.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Runs `f` on the core and the master control between two steps of
    /// the loop, and returns what it returns; `None` if the loop has
    /// stopped.
    pub async fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core, &mut Master) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let job: Inspection = Box::new(move |core, master| {
            let _ = tx.send(f(core, master));
        });
        self.inspect.send(job).await.ok()?;
        rx.await.ok()
    }

    /// Waits until the loop stops on its own because a store to the state
    /// database failed, and says why; never returns while it runs well.
    pub async fn failed(&self) -> String {
        let mut rx = self.status.clone();
        match rx.wait_for(|s| s.failed.is_some()).await {
            Ok(s) => s.failed.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }

    /// Whether the loop is still running.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the loop, disconnects from the broker and stops the operation
    /// center and the metrics endpoint.
    pub async fn shutdown(mut self) {
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

    /// Waits until the orchestrator's MQTT client is connected and
    /// subscribed, or `timeout` passes; returns whether it is. The status
    /// shows the link as connected only once it is subscribed too.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.status.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| s.connected))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// The MQTT quality of service of a VDA 5050 one.
pub fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
    }
}

/// The state of the loop.
struct Loop {
    station: Station,
    recorder: Option<Recorder<BufWriter<File>>>,
    center: Option<OperationCenter>,
    topics: ShellTopics,
    clock: Clock,
    metrics: Arc<Metrics>,
    status: watch::Sender<Status>,
    counts: Status,
    /// When each open job arrived, for the crossing time.
    arrivals: BTreeMap<String, Ms>,
    /// The latest time handed to the core or the master control.
    last_now: Ms,
    /// When the core wants to be woken.
    core_wake: Option<Ms>,
    link: LinkState,
    /// Publishes the MQTT client had dropped at the last look.
    dropped: u64,
    /// Events to publish on the events topic.
    outgoing: Vec<(String, Vec<u8>)>,
    /// The station's messages to publish.
    publishes: Vec<(String, Vec<u8>, QoS, bool)>,
}

/// One input of the station.
enum Step {
    Message {
        topic: String,
        payload: Vec<u8>,
    },
    Timer,
    /// An operator's action from the operation center.
    Operator(OperatorAction),
}

impl Loop {
    async fn run(
        mut self,
        mqtt: MqttClient,
        mut inbox: mpsc::Receiver<Message>,
        mut inspections: mpsc::Receiver<Inspection>,
        mut stopped: oneshot::Receiver<()>,
        server: MetricsServer,
    ) {
        let mut link = mqtt.watch_state();
        let ioc = self.center.as_ref().map(|c| c.ioc().clone());
        let clock = self.clock;
        let mut refresh = tokio::time::interval(REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let now = self.now(self.clock.now());
        self.step(now, Step::Timer);
        self.flush(&mqtt);
        self.refresh();
        loop {
            let wake = self.core_wake.unwrap_or(NEVER);
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                actions = next_actions(ioc.as_ref()) => self.on_actions(actions),
                m = inbox.recv() => match m {
                    Some(m) => self.on_message(m),
                    None => break,
                },
                Some(f) = inspections.recv() => {
                    let (core, master) = self.station.parts_mut();
                    f(core, master);
                }
                changed = link.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let state = *link.borrow_and_update();
                    self.on_link(state);
                }
                _ = refresh.tick() => self.refresh(),
                _ = clock.sleep_until(wake) => self.on_timeout(),
            }
            self.flush(&mqtt);
            if let Some(why) = self.station.store_failed() {
                // Nothing of the step that failed to store was sent; the
                // file holds every step whose messages were.
                tracing::error!(error = %why, "the state could not be stored; stopping");
                self.counts.failed = Some(why.to_string());
                self.status.send_replace(self.counts.clone());
                break;
            }
        }
        tracing::info!("orchestrator stopping");
        if let Some(r) = self.recorder.take() {
            match r.finish() {
                Ok(_) => tracing::info!("recording finished"),
                Err(e) => tracing::error!(error = %e, "the recording could not be finished"),
            }
        }
        if let Some(center) = self.center.take() {
            center.shutdown().await;
        }
        mqtt.shutdown().await;
        server.shutdown().await;
    }

    /// `now` for the next step: the given time, never earlier than the last.
    fn now(&mut self, t: Ms) -> Ms {
        self.last_now = self.last_now.max(t);
        self.last_now
    }

    fn on_message(&mut self, m: Message) {
        let now = self.now(m.received_ms);
        self.metrics.message("in", &m.topic);
        self.counts.messages_in += 1;
        self.step(
            now,
            Step::Message {
                topic: m.topic,
                payload: m.payload,
            },
        );
    }

    /// Gives the station the operators' actions, each at the time it is
    /// taken, and tells the operation center what the core made of it.
    fn on_actions(&mut self, actions: Vec<OperatorAction>) {
        for action in actions {
            let now = self.now(self.clock.now());
            let rejected = self.step(now, Step::Operator(action.clone()));
            if let Some(center) = &self.center {
                center.action_outcome(&action, rejected.map_or(Ok(()), Err));
            }
        }
    }

    fn reject(&mut self, reason: &str) {
        self.metrics.reject(reason);
        self.counts.rejected += 1;
    }

    fn on_timeout(&mut self) {
        let now = self.now(self.clock.now());
        if self.core_wake.is_some_and(|w| w <= now) {
            self.step(now, Step::Timer);
        }
    }

    /// Gives the station one input, records it and what came out, and
    /// routes the outputs: messages to publish, events to the metrics.
    /// Returns the reason the core gave if it rejected the input.
    fn step(&mut self, now: Ms, step: Step) -> Option<String> {
        let started = std::time::Instant::now();
        let input = match &step {
            Step::Message { topic, payload } => Entry::MqttIn(MqttIn {
                topic: topic.clone(),
                payload: Payload::from_bytes(payload),
            }),
            Step::Timer => Entry::Timer,
            Step::Operator(action) => Entry::Operator(OperatorIn {
                user: action.user.clone(),
                command: action.command.clone(),
            }),
        };
        self.record(now, &input);
        match step {
            Step::Message { topic, payload } => {
                if let Err(r) = self.station.handle_message(now, &topic, &payload) {
                    tracing::warn!(
                        vehicle = r.vehicle.as_deref().unwrap_or("-"),
                        topic = %r.topic,
                        reason = r.reason,
                        detail = %r.detail,
                        "message rejected"
                    );
                    self.reject(r.reason);
                }
            }
            Step::Timer => self.station.handle_timeout(now),
            Step::Operator(action) => self.station.handle_operator(now, action.command),
        }
        let took = started.elapsed().as_secs_f64();
        self.metrics.plan_latency_seconds.observe(took);
        if let Some(center) = &mut self.center {
            center.record_plan_latency(took);
        }
        let mut rejected = None;
        for out in borderlane_record::drain(&mut self.station) {
            self.record(now, &out);
            match out {
                Entry::MqttOut(m) => {
                    if let Some(payload) = m.payload.to_bytes() {
                        let q = if m.qos == 0 {
                            QoS::AtMostOnce
                        } else {
                            QoS::AtLeastOnce
                        };
                        self.publishes.push((m.topic, payload, q, m.retain));
                    }
                }
                Entry::Event(e) => {
                    if let Event::InputRejected { reason } = &e {
                        rejected.get_or_insert_with(|| reason.clone());
                    }
                    self.on_event(now, e);
                }
                _ => {}
            }
        }
        self.core_wake = self.station.poll_timeout();
        rejected
    }

    fn record(&mut self, now: Ms, entry: &Entry) {
        if let Some(r) = &mut self.recorder
            && let Err(e) = r.record(now, entry)
        {
            tracing::error!(error = %e, "recording stopped");
            self.recorder = None;
        }
    }

    fn on_event(&mut self, now: Ms, e: Event) {
        if let Some(center) = &mut self.center {
            center.observe_event(now, &e);
        }
        match &e {
            Event::JobQueued { job } => {
                self.arrivals.insert(job.clone(), now);
                tracing::info!(job, "job queued");
            }
            Event::JobDelivered {
                job,
                vehicle,
                container,
                side,
            } => {
                self.metrics.jobs_done.inc();
                self.counts.jobs_done += 1;
                let direction = format!("{}->{}", side.other(), side);
                self.metrics
                    .crossings
                    .with_label_values(&[&direction])
                    .inc();
                if let Some(at) = self.arrivals.remove(job) {
                    self.metrics
                        .crossing_seconds
                        .observe(now.saturating_sub(at) as f64 / 1_000.0);
                }
                tracing::info!(job, vehicle, container, %direction, "job delivered");
            }
            Event::JobCancelled { job } => {
                self.arrivals.remove(job);
                tracing::info!(job, "job cancelled");
            }
            Event::InputRejected { reason } => {
                tracing::warn!(reason, "the core rejected an input");
                self.reject("core_rejected");
            }
            Event::PlanCommitted { .. } => tracing::debug!(event = ?e, "plan committed"),
            _ => tracing::info!(event = ?e, "core event"),
        }
        if let Ok(payload) = serde_json::to_vec(&e) {
            self.outgoing.push((self.topics.events.clone(), payload));
        }
    }

    fn on_link(&mut self, state: LinkState) {
        self.metrics.mqtt_connected.set(i64::from(state.connected));
        let new = state.connections.saturating_sub(self.link.connections);
        self.metrics.mqtt_connections.inc_by(new);
        if let Some(center) = &self.center {
            if self.link.connected && !state.connected {
                center.broker_link(self.last_now, false);
            } else if !self.link.connected && state.connected && self.link.connections > 0 {
                center.broker_link(self.last_now, true);
            }
        }
        self.link = state;
        self.counts.connected = state.connected && state.subscribed;
        self.status.send_replace(self.counts.clone());
    }

    /// Publishes what the station and the events queued.
    fn flush(&mut self, mqtt: &MqttClient) {
        for (topic, payload, q, retain) in std::mem::take(&mut self.publishes) {
            self.metrics.message("out", &topic);
            self.counts.messages_out += 1;
            mqtt.publish(&topic, payload, q, retain);
        }
        for (topic, payload) in std::mem::take(&mut self.outgoing) {
            self.metrics.message("out", &topic);
            self.counts.messages_out += 1;
            mqtt.publish(&topic, payload, QoS::AtMostOnce, false);
        }
        let dropped = mqtt.dropped();
        self.metrics
            .mqtt_dropped
            .inc_by(dropped.saturating_sub(self.dropped));
        self.dropped = dropped;
    }

    /// Brings the metrics and the status that come from a snapshot up to
    /// date.
    fn refresh(&mut self) {
        let snap = self.station.core_mut().snapshot();
        self.metrics
            .set_vehicle_states(snap.vehicles.iter().map(|v| v.state.as_str()));
        let queued = snap.jobs.iter().filter(|j| j.vehicle.is_none()).count();
        let active = snap.jobs.len() - queued;
        self.metrics.jobs_queued.set(queued as i64);
        self.metrics.jobs_active.set(active as i64);
        self.metrics
            .reservations
            .set(self.station.core().reservations() as i64);
        let c = &mut self.counts;
        c.now_ms = snap.now_ms;
        c.vehicles = snap.vehicles.len();
        c.driving = snap
            .vehicles
            .iter()
            .filter(|v| v.state == "driving")
            .count();
        c.link_lost = snap
            .vehicles
            .iter()
            .filter(|v| v.state == "link_lost")
            .count();
        c.jobs_queued = queued;
        c.jobs_active = active;
        self.status.send_replace(self.counts.clone());
        if let Some(center) = &mut self.center {
            let now = self.last_now.max(self.clock.now());
            center.publish(self.station.core_mut(), now);
        }
    }
}
