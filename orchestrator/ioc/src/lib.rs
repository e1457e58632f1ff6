//! The Intelligent Operation Center (IOC): a live web view of the lane and
//! an operator console, served over HTTP by each orchestrator.
//!
//! The page (plain HTML, JavaScript and SVG, built into the binary) shows
//! the lane map with every vehicle, a time–distance diagram of the lane,
//! queues, jobs, crossings, hand-overs, alarms and the key figures, and is
//! updated over server-sent events. Operators act on the lane through a
//! JSON API under `/api/`, described by `/api/openapi.json`.
//!
//! The crate does not know the shell that runs it. The shell owns an
//! [`Ioc`] and:
//!
//! * calls [`Ioc::publish`] at least once a second with the latest
//!   [`LiveView`], built by [`view_from_core`] from the core and a
//!   [`ViewHistory`];
//! * hands alarms to [`Ioc::push_alarm`] (vehicle errors, lost links,
//!   ownership or invariant warnings, rejected hand-overs; the history
//!   raises the ones it sees itself, see [`ViewHistory::take_alarms`]);
//! * takes the operators' actions with [`Ioc::take_actions`] (or waits for
//!   them with [`Ioc::next_actions`]), gives each to the core as
//!   `Input::Operator(action.command)`, records it with its inputs so that
//!   replay reproduces it, and may report what the core made of it with
//!   [`Ioc::action_outcome`];
//! * runs [`Ioc::serve`] in a task until it shuts down.
//!
//! Access: the view is public by default (the server listens on the
//! loopback interface unless told otherwise); actions need an operator,
//! signed in with a password (argon2 hashes in [`IocConfig::users`]) or
//! named by a trusted reverse proxy, and a per-session CSRF token in the
//! `X-CSRF-Token` header. Every action, accepted or refused, goes into the
//! audit trail at `/api/audit`.

mod api;
mod assets;
mod auth;
mod config;
mod view;

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use borderlane_core::io::OperatorCommand;
use borderlane_model::{LaneMap, Ms};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use utoipa::ToSchema;

pub use api::{ApiDoc, openapi};
pub use config::{IocConfig, IocError, Role, User, hash_password, verify_password};
pub use view::{
    Alarm, CN_TO_VN, Crossings, DoneJob, HandoffView, JobLive, JobsView, Kpis, LaneAxis,
    LaneAxisView, LiveView, MapEdge, MapNode, MapView, MapZone, PlanStep, QueueView, Severity,
    TrackPoint, VEHICLE_STATES, VN_TO_CN, VehicleLive, VehiclePlan, ViewHistory, build_view,
    map_view, view_from_core, view_from_core_at,
};

/// How many alarms the page lists.
const ALARMS_KEPT: usize = 200;
/// How many audit entries are kept in memory.
const AUDIT_KEPT: usize = 10_000;
/// How many actions may wait for the shell before new ones are refused.
const ACTIONS_QUEUED: usize = 1_000;

/// An action an operator asked for, for the shell to give the core.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorAction {
    /// The action's number, as the audit trail shows it.
    pub id: u64,
    /// Who asked.
    pub user: String,
    pub command: OperatorCommand,
    /// The core's time in the last published view when the operator asked.
    pub at_ms: Ms,
}

/// One line of the audit trail: who asked for what, when, and whether it
/// was accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Increases by one per entry.
    pub seq: u64,
    /// The core's time in the last published view, ms.
    pub at_ms: Ms,
    /// Wall-clock time, ms since the Unix epoch.
    pub wall_ms: u64,
    /// The user, or `anonymous`.
    pub user: String,
    pub role: Option<Role>,
    /// `pause_lane`, `block_place`, `login`…
    pub action: String,
    /// The command as given to the core, or the request's details.
    pub detail: serde_json::Value,
    /// Whether the operation center accepted it.
    pub accepted: bool,
    /// Why it was refused.
    pub reason: Option<String>,
    /// The number of the action handed to the shell, if accepted.
    pub action_id: Option<u64>,
    /// What the core made of it, once the shell reports it: `None` while
    /// unknown.
    pub applied: Option<bool>,
    /// Why the core rejected it.
    pub core_reason: Option<String>,
}

/// The operation center. Cheap to clone: every clone shares one state.
#[derive(Clone)]
pub struct Ioc {
    inner: Arc<Inner>,
}

struct Inner {
    map: Arc<LaneMap>,
    /// `/api/map`, serialised once.
    map_json: String,
    config: IocConfig,
    auth: auth::Auth,
    /// The last published view and its JSON.
    view: Mutex<Option<(Arc<LiveView>, Arc<str>)>>,
    alarms: Mutex<VecDeque<Alarm>>,
    audit: Mutex<Audit>,
    actions: Mutex<Actions>,
    actions_ready: Notify,
    /// Bumped whenever the view or the alarms change.
    version: watch::Sender<u64>,
    /// Set when the server shuts down, to end the event streams.
    closing: watch::Sender<bool>,
    local_addr: Mutex<Option<SocketAddr>>,
}

#[derive(Default)]
struct Audit {
    entries: VecDeque<AuditEntry>,
    next_seq: u64,
}

#[derive(Default)]
struct Actions {
    queue: Vec<OperatorAction>,
    next_id: u64,
}

/// Locks a mutex, going on with the data if a thread panicked while
/// holding it (every value kept here stays consistent between statements).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Ioc {
    /// An operation center for a map. Accounts whose hash cannot be read
    /// are kept but can never sign in; call [`IocConfig::validate`] first to
    /// report them.
    pub fn new(map: Arc<LaneMap>, config: IocConfig) -> Ioc {
        if let Err(errors) = config.validate() {
            for e in errors {
                tracing::warn!("ioc configuration: {e}");
            }
        }
        let map_json = serde_json::to_string(&map_view(&map)).unwrap_or_else(|_| "{}".into());
        let auth = auth::Auth::new(&config);
        Ioc {
            inner: Arc::new(Inner {
                map,
                map_json,
                config,
                auth,
                view: Mutex::new(None),
                alarms: Mutex::new(VecDeque::new()),
                audit: Mutex::new(Audit::default()),
                actions: Mutex::new(Actions::default()),
                actions_ready: Notify::new(),
                version: watch::Sender::new(0),
                closing: watch::Sender::new(false),
                local_addr: Mutex::new(None),
            }),
        }
    }

    /// The map the operation center draws.
    pub fn map(&self) -> &Arc<LaneMap> {
        &self.inner.map
    }

    pub fn config(&self) -> &IocConfig {
        &self.inner.config
    }

    /// Makes `view` the one every page shows; the shell calls this at least
    /// once a second.
    pub fn publish(&self, view: LiveView) {
        let json: Arc<str> = serde_json::to_string(&view)
            .unwrap_or_else(|_| "null".into())
            .into();
        *lock(&self.inner.view) = Some((Arc::new(view), json));
        self.inner.version.send_modify(|v| *v += 1);
    }

    /// The last published view.
    pub fn latest(&self) -> Option<Arc<LiveView>> {
        lock(&self.inner.view).as_ref().map(|(v, _)| Arc::clone(v))
    }

    /// Adds an alarm to the list the page shows (the newest
    /// [`ALARMS_KEPT`] are kept).
    pub fn push_alarm(&self, alarm: Alarm) {
        {
            let mut a = lock(&self.inner.alarms);
            a.push_back(alarm);
            while a.len() > ALARMS_KEPT {
                a.pop_front();
            }
        }
        self.inner.version.send_modify(|v| *v += 1);
    }

    /// The alarms, oldest first.
    pub fn alarms(&self) -> Vec<Alarm> {
        lock(&self.inner.alarms).iter().cloned().collect()
    }

    /// The actions operators asked for since the last call, in order.
    pub fn take_actions(&self) -> Vec<OperatorAction> {
        std::mem::take(&mut lock(&self.inner.actions).queue)
    }

    /// Waits until at least one action is there, and takes them all.
    pub async fn next_actions(&self) -> Vec<OperatorAction> {
        loop {
            let notified = self.inner.actions_ready.notified();
            let actions = self.take_actions();
            if !actions.is_empty() {
                return actions;
            }
            notified.await;
        }
    }

    /// Records what the core made of action `id` in the audit trail: `Ok`
    /// if it applied it, `Err(reason)` if it rejected it.
    pub fn action_outcome(&self, id: u64, outcome: Result<(), String>) {
        let mut audit = lock(&self.inner.audit);
        if let Some(e) = audit
            .entries
            .iter_mut()
            .rev()
            .find(|e| e.action_id == Some(id))
        {
            e.applied = Some(outcome.is_ok());
            e.core_reason = outcome.err();
        }
    }

    /// The audit trail, oldest first (the newest [`AUDIT_KEPT`] entries).
    pub fn audit(&self) -> Vec<AuditEntry> {
        lock(&self.inner.audit).entries.iter().cloned().collect()
    }

    /// The router of the operation center, for a shell that serves it
    /// itself (next to its metrics, say). The trusted proxy header is only
    /// believed when the server is run with connection info
    /// (`into_make_service_with_connect_info::<SocketAddr>()`), as
    /// [`Ioc::serve`] does.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// Where the server listens, once [`Ioc::serve`] or [`Ioc::bind`] has
    /// bound its socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *lock(&self.inner.local_addr)
    }

    /// Binds the configured address; the returned server tells the bound
    /// address before it serves.
    pub async fn bind(self) -> io::Result<IocServer> {
        let listener = tokio::net::TcpListener::bind(self.inner.config.listen).await?;
        let addr = listener.local_addr()?;
        *lock(&self.inner.local_addr) = Some(addr);
        tracing::info!("operation center listening on http://{addr}/");
        Ok(IocServer {
            ioc: self,
            listener,
            addr,
        })
    }

    /// Binds the configured address and serves until `shutdown` completes.
    /// Open event streams are ended when it does.
    pub async fn serve<F>(self, shutdown: F) -> io::Result<()>
    where
        F: Future + Send + 'static,
    {
        self.bind().await?.serve(shutdown).await
    }

    fn now_ms(&self) -> Ms {
        lock(&self.inner.view).as_ref().map_or(0, |(v, _)| v.now_ms)
    }

    fn record(&self, mut entry: AuditEntry) -> u64 {
        let mut audit = lock(&self.inner.audit);
        entry.seq = audit.next_seq;
        audit.next_seq += 1;
        let seq = entry.seq;
        tracing::info!(
            user = %entry.user,
            action = %entry.action,
            accepted = entry.accepted,
            reason = entry.reason.as_deref().unwrap_or(""),
            "ioc audit"
        );
        audit.entries.push_back(entry);
        while audit.entries.len() > AUDIT_KEPT {
            audit.entries.pop_front();
        }
        seq
    }

    /// Queues an action for the shell; `None` if too many are waiting.
    fn queue_action(&self, user: &str, command: OperatorCommand) -> Option<OperatorAction> {
        let at_ms = self.now_ms();
        let action = {
            let mut actions = lock(&self.inner.actions);
            if actions.queue.len() >= ACTIONS_QUEUED {
                return None;
            }
            actions.next_id += 1;
            let action = OperatorAction {
                id: actions.next_id,
                user: user.to_string(),
                command,
                at_ms,
            };
            actions.queue.push(action.clone());
            action
        };
        self.inner.actions_ready.notify_waiters();
        Some(action)
    }
}

/// A bound operation center, ready to serve.
pub struct IocServer {
    ioc: Ioc,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl IocServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes.
    pub async fn serve<F>(self, shutdown: F) -> io::Result<()>
    where
        F: Future + Send + 'static,
    {
        let closing = self.ioc.inner.closing.clone();
        let app = self
            .ioc
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                closing.send_replace(true);
            })
            .await
    }
}
