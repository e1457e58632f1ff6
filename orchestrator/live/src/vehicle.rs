//! A simulated VDA 5050 vehicle on MQTT: a `borderlane_vda5050::Agent`
//! with an MQTT client of its own, registered with the agent's last will.
//!
//! The agent is sans-IO; this task hands it what the broker delivers, wakes
//! it when it asks, and publishes what it wants published. It can stop in
//! two ways: cleanly (connection OFFLINE, then an MQTT disconnect) or as if
//! its network had failed, in which case the broker publishes its last
//! will (connection CONNECTIONBROKEN).

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
        let serial = config.serial.clone();
        let agent = Agent::new(map, config, clock.now())?;
        let will = agent.last_will();
        let mut settings = mqtt.clone();
        settings.client_id = serial.clone();
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
                    serial: serial.clone(),
                    source,
                }
            })?;
        let link = client.watch_state();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(drive(agent, client, inbox, stopped, clock));
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

    /// The state of its link to the broker.
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

async fn drive(
    mut agent: Agent,
    client: MqttClient,
    mut inbox: mpsc::Receiver<Message>,
    mut stopped: oneshot::Receiver<Stop>,
    clock: Clock,
) {
    let mut last: Ms = 0;
    let mut now = |t: Ms| {
        last = last.max(t);
        last
    };
    loop {
        publish_all(&mut agent, &client);
        let wake = agent.poll_timeout().unwrap_or(NEVER);
        tokio::select! {
            biased;
            how = &mut stopped => {
                match how {
                    Ok(Stop::Disconnect) => {
                        agent.disconnect(now(clock.now()));
                        publish_all(&mut agent, &client);
                        client.shutdown().await;
                    }
                    Ok(Stop::Kill) | Err(_) => client.kill(),
                }
                return;
            }
            m = inbox.recv() => match m {
                Some(m) => agent.handle_message(now(m.received_ms), &m.topic, &m.payload),
                None => return,
            },
            _ = clock.sleep_until(wake) => agent.handle_timeout(now(clock.now())),
        }
    }
}

fn publish_all(agent: &mut Agent, client: &MqttClient) {
    while let Some(p) = agent.poll_publish() {
        client.publish(&p.topic, p.payload, qos(p.qos), p.retain);
    }
}
