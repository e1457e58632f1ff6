//! A simulated VDA 5050 vehicle on MQTT: a `borderlane_vda5050::Agent`
//! with an MQTT client of its own, registered with the agent's last will.
//!
//! The agent is sans-IO; this task hands it what the broker delivers, wakes
//! it when it asks, and publishes what it wants published. It can stop in
//! two ways: cleanly (connection OFFLINE, then an MQTT disconnect) or as if
//! its network had failed, in which case the broker publishes its last
//! will (connection CONNECTIONBROKEN).
//!
//! It can also lose its link for a while ([`LinkLoss`]): its MQTT
//! connection is dropped without a disconnect, so the broker publishes the
//! last will; the vehicle hears no order and publishes nothing, and drives
//! on along the base it already has. When the link comes back it connects
//! again, with a new last will, and announces connection ONLINE and its
//! state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use borderlane_model::{LaneMap, Ms, NEVER};
use borderlane_vda5050::{Agent, AgentConfig, AgentError};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::mqtt::{LinkState, Message, MqttClient, MqttError, MqttSettings, Will};
use crate::serve::qos;

/// Why a simulated vehicle could not start.
#[derive(Debug, thiserror::Error)]
pub enum VehicleError {
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error("vehicle {serial}: {source}")]
    Mqtt { serial: String, source: MqttError },
}

enum Stop {
    Disconnect,
    Kill,
}

/// A loss of a vehicle's link to the broker: at `at` (clock time) its
/// connection drops as a network failure would, and `for_ms` later it
/// connects again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkLoss {
    pub at: Ms,
    pub for_ms: Ms,
}

/// A running simulated vehicle.
pub struct SimVehicle {
    serial: String,
    link: watch::Receiver<LinkState>,
    stop: Option<oneshot::Sender<Stop>>,
    task: JoinHandle<()>,
}

impl SimVehicle {
    /// Starts a vehicle at `config.start_node`. `mqtt` says where the
    /// broker is; the client id is the vehicle's serial number and the last
    /// will is the agent's.
    pub fn spawn(
        map: Arc<LaneMap>,
        config: AgentConfig,
        mqtt: &MqttSettings,
        clock: Clock,
    ) -> Result<SimVehicle, VehicleError> {
        SimVehicle::spawn_with_link_losses(map, config, mqtt, clock, Vec::new())
    }

    /// Starts a vehicle as [`SimVehicle::spawn`] does, which loses its link
    /// as `losses` say (in any order; one that begins while the link is
    /// still down is skipped).
    pub fn spawn_with_link_losses(
        map: Arc<LaneMap>,
        config: AgentConfig,
        mqtt: &MqttSettings,
        clock: Clock,
        mut losses: Vec<LinkLoss>,
    ) -> Result<SimVehicle, VehicleError> {
        let serial = config.serial.clone();
        let agent = Agent::new(map, config, clock.now())?;
        let mut settings = mqtt.clone();
        settings.client_id = serial.clone();
        let online = Online::connect(&agent, &settings, clock)?;
        let (link_tx, link) = watch::channel(LinkState::default());
        let (stop, stopped) = oneshot::channel();
        losses.sort_by_key(|l| l.at);
        let vehicle = Driver {
            agent,
            settings,
            clock,
            online: Some(online),
            losses: losses.into(),
            back_at: None,
            link: link_tx,
            last: 0,
        };
        let task = tokio::spawn(vehicle.drive(stopped));
        Ok(SimVehicle {
            serial,
            link,
            stop: Some(stop),
            task,
        })
    }

    /// The vehicle's serial number.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The state of its link to the broker, across its connections: a lost
    /// link counts as a drop, its return as a connection.
    pub fn link(&self) -> LinkState {
        *self.link.borrow()
    }

    /// Waits until its MQTT client is connected and subscribed, or
    /// `timeout` passes; returns whether it is.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.link.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| s.connected && s.subscribed))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Goes offline cleanly: connection OFFLINE, then an MQTT disconnect.
    pub async fn shutdown(self) {
        self.stop_with(Stop::Disconnect).await;
    }

    /// Drops the link as a network failure would: no disconnect, so the
    /// broker publishes the last will.
    pub async fn kill(self) {
        self.stop_with(Stop::Kill).await;
    }

    async fn stop_with(mut self, how: Stop) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(how);
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

/// The vehicle's MQTT client while its link is up.
struct Online {
    client: MqttClient,
    inbox: mpsc::Receiver<Message>,
    state: watch::Receiver<LinkState>,
}

impl Online {
    /// Connects with the agent's present last will.
    fn connect(
        agent: &Agent,
        settings: &MqttSettings,
        clock: Clock,
    ) -> Result<Online, VehicleError> {
        let will = agent.last_will();
        let mut settings = settings.clone();
        settings.last_will = Some(Will {
            topic: will.topic,
            payload: will.payload,
            qos: qos(will.qos),
            retain: will.retain,
        });
        let subscriptions = agent
            .subscriptions()
            .into_iter()
            .map(|(t, q)| (t, qos(q)))
            .collect();
        let (client, inbox) =
            MqttClient::connect(&settings, subscriptions, clock).map_err(|source| {
                VehicleError::Mqtt {
                    serial: agent.serial().to_string(),
                    source,
                }
            })?;
        let state = client.watch_state();
        Ok(Online {
            client,
            inbox,
            state,
        })
    }
}

/// The task of one vehicle.
struct Driver {
    agent: Agent,
    /// The MQTT settings, without the last will.
    settings: MqttSettings,
    clock: Clock,
    /// The client, while the link is up.
    online: Option<Online>,
    /// The link losses still to come, earliest first.
    losses: VecDeque<LinkLoss>,
    /// When a lost link comes back.
    back_at: Option<Ms>,
    link: watch::Sender<LinkState>,
    /// The latest time handed to the agent.
    last: Ms,
}

/// What woke the vehicle.
enum Wake {
    Stop(Option<Stop>),
    Message(Option<Message>),
    Link(LinkState),
    Fault,
    Timer,
}

impl Driver {
    async fn drive(mut self, mut stopped: oneshot::Receiver<Stop>) {
        loop {
            self.publish_all();
            let wake = self.agent.poll_timeout().unwrap_or(NEVER);
            let fault = self.next_fault();
            let woke = tokio::select! {
                biased;
                how = &mut stopped => Wake::Stop(how.ok()),
                w = from_link(&mut self.online) => w,
                _ = self.clock.sleep_until(fault) => Wake::Fault,
                _ = self.clock.sleep_until(wake) => Wake::Timer,
            };
            match woke {
                Wake::Stop(how) => return self.stop(how).await,
                Wake::Message(Some(m)) => {
                    let now = self.now(m.received_ms);
                    self.agent.handle_message(now, &m.topic, &m.payload);
                }
                Wake::Message(None) => return,
                Wake::Link(s) => self.link.send_modify(|l| {
                    if s.connected && !l.connected {
                        l.connections += 1;
                    }
                    l.connected = s.connected;
                    l.subscribed = s.subscribed;
                }),
                Wake::Fault => self.on_fault(),
                Wake::Timer => {
                    let now = self.now(self.clock.now());
                    self.agent.handle_timeout(now);
                }
            }
        }
    }

    /// `now` for the agent: the given time, never earlier than the last.
    fn now(&mut self, t: Ms) -> Ms {
        self.last = self.last.max(t);
        self.last
    }

    /// When the link is next lost or comes back.
    fn next_fault(&self) -> Ms {
        match (&self.online, self.back_at, self.losses.front()) {
            (None, Some(back), _) => back,
            (Some(_), _, Some(loss)) => loss.at,
            _ => NEVER,
        }
    }

    fn on_fault(&mut self) {
        let now = self.now(self.clock.now());
        if self.online.is_some() {
            let Some(loss) = self.losses.pop_front() else {
                return;
            };
            self.lose_link(now, loss);
        } else {
            self.restore_link(now);
        }
    }

    /// Drops the connection without a disconnect; the broker publishes the
    /// last will.
    fn lose_link(&mut self, now: Ms, loss: LinkLoss) {
        self.agent.drop_link();
        if let Some(online) = self.online.take() {
            online.client.kill();
        }
        self.back_at = Some(now.saturating_add(loss.for_ms));
        // A loss that would begin while the link is down is skipped.
        let back = self.back_at.unwrap_or(NEVER);
        while self.losses.front().is_some_and(|l| l.at < back) {
            self.losses.pop_front();
        }
        self.link.send_modify(|l| {
            if l.connected {
                l.drops += 1;
            }
            l.connected = false;
            l.subscribed = false;
        });
        tracing::info!(vehicle = %self.agent.serial(), for_ms = loss.for_ms, "link lost");
    }

    /// Connects again: connection ONLINE and a fresh state, with a new last
    /// will.
    fn restore_link(&mut self, now: Ms) {
        self.back_at = None;
        self.agent.reconnect(now);
        match Online::connect(&self.agent, &self.settings, self.clock) {
            Ok(online) => {
                self.online = Some(online);
                tracing::info!(vehicle = %self.agent.serial(), "link back");
            }
            // The settings connected before, so this does not happen; the
            // vehicle then stays offline.
            Err(e) => tracing::error!(error = %e, "the link cannot come back"),
        }
    }

    async fn stop(mut self, how: Option<Stop>) {
        let Some(online) = self.online.take() else {
            return;
        };
        match how {
            Some(Stop::Disconnect) => {
                let now = self.now(self.clock.now());
                self.agent.disconnect(now);
                publish_all(&mut self.agent, &online.client);
                online.client.shutdown().await;
            }
            Some(Stop::Kill) | None => online.client.kill(),
        }
    }

    fn publish_all(&mut self) {
        match &self.online {
            Some(online) => publish_all(&mut self.agent, &online.client),
            // Nothing gets out while the link is down.
            None => while self.agent.poll_publish().is_some() {},
        }
    }
}

/// The next message the broker delivers or change of the client's link;
/// nothing while the link is down.
async fn from_link(online: &mut Option<Online>) -> Wake {
    let Some(o) = online else {
        return std::future::pending().await;
    };
    tokio::select! {
        m = o.inbox.recv() => Wake::Message(m),
        Ok(()) = o.state.changed() => Wake::Link(*o.state.borrow_and_update()),
    }
}

fn publish_all(agent: &mut Agent, client: &MqttClient) {
    while let Some(p) = agent.poll_publish() {
        client.publish(&p.topic, p.payload, qos(p.qos), p.retain);
    }
}
