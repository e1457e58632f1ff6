//! The operation center served by an orchestrator: the `borderlane-ioc`
//! web view and console, fed by the orchestrator's loop.
//!
//! The loop publishes a view of its core a few times a second, hands every
//! event of the core to the view's history, and gives the operators'
//! actions to its station as operator inputs (recorded like every other
//! input, so that replay reproduces them). It reports what the core made of
//! each action back to the audit trail. The HTTP server runs in a task of
//! its own and stops with the loop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use borderlane_core::Core;
use borderlane_core::io::Event;
use borderlane_ioc::{Alarm, Ioc, IocConfig, OperatorAction, Severity, ViewHistory};
use borderlane_model::{LaneMap, Ms};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long the server may take to close its connections at shutdown.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// A served operation center and what the loop remembers for it.
pub(crate) struct OperationCenter {
    ioc: Ioc,
    history: ViewHistory,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<io::Result<()>>,
}

impl OperationCenter {
    /// Binds the configured address and starts serving.
    pub(crate) async fn start(map: Arc<LaneMap>, config: IocConfig) -> io::Result<OperationCenter> {
        let listen = config.listen;
        let ioc = Ioc::new(map, config);
        let server = ioc.clone().bind().await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("operation center: cannot listen on {listen}: {e}"),
            )
        })?;
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        Ok(OperationCenter {
            ioc,
            history: ViewHistory::new(),
            addr,
            stop: Some(stop),
            server,
        })
    }

    /// The operation center, shared with the HTTP server.
    pub(crate) fn ioc(&self) -> &Ioc {
        &self.ioc
    }

    /// The page's address, `http://host:port/`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Takes in one of the core's events, seen at `now`.
    pub(crate) fn observe_event(&mut self, now: Ms, event: &Event) {
        self.history.observe_event(now, event);
    }

    /// Takes in the wall time one step of the station took.
    pub(crate) fn record_plan_latency(&mut self, seconds: f64) {
        self.history.record_plan_latency(seconds);
    }

    /// Publishes a view of the core at `now`, and the alarms its history
    /// raised since the last one.
    pub(crate) fn publish(&mut self, core: &mut Core, now: Ms) {
        let view = borderlane_ioc::view_from_core_at(core, now, &mut self.history);
        self.ioc.publish(view);
        for alarm in self.history.take_alarms() {
            self.ioc.push_alarm(alarm);
        }
    }

    /// Tells the audit trail what the core made of an action.
    pub(crate) fn action_outcome(&self, action: &OperatorAction, outcome: Result<(), String>) {
        if let Err(reason) = &outcome {
            tracing::warn!(user = %action.user, command = ?action.command, reason, "the core rejected an operator's action");
        } else {
            tracing::info!(user = %action.user, command = ?action.command, "operator's action applied");
        }
        self.ioc.action_outcome(action.id, outcome);
    }

    /// Raises an alarm only the shell knows of: its own link to the broker
    /// broke or came back.
    pub(crate) fn broker_link(&self, now: Ms, connected: bool) {
        let (severity, kind, message) = if connected {
            (
                Severity::Info,
                "broker_link_back",
                "the orchestrator's link to the MQTT broker is back",
            )
        } else {
            (
                Severity::Error,
                "broker_link_lost",
                "the orchestrator lost its link to the MQTT broker: no vehicle hears from it",
            )
        };
        self.ioc.push_alarm(Alarm {
            at_ms: now,
            severity,
            kind: kind.to_string(),
            vehicle: None,
            message: message.to_string(),
        });
    }

    /// Stops the server: open event streams end and connections close.
    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut self.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "the operation center failed"),
            Ok(Err(e)) => tracing::error!(error = %e, "the operation center's task failed"),
            Err(_) => self.server.abort(),
        }
    }
}

/// Waits for the operators' next actions; never, without an operation
/// center.
pub(crate) async fn next_actions(ioc: Option<&Ioc>) -> Vec<OperatorAction> {
    match ioc {
        Some(ioc) => ioc.next_actions().await,
        None => std::future::pending().await,
    }
}
