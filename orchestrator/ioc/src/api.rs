//! The HTTP routes: the page, the JSON API under `/api/`, the event stream
//! and the OpenAPI description.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use borderlane_core::io::OperatorCommand;
use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::auth::{COOKIE, CSRF_HEADER, Principal, same_secret};
use crate::config::Role;
use crate::view::{Alarm, LiveView, MapView};
use crate::{AuditEntry, Ioc, assets, lock, wall_ms};

/// The largest request body accepted, bytes.
const BODY_LIMIT: usize = 64 * 1024;

/// An error, as every route reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// What is wrong, for a person.
    pub error: String,
}

struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(ApiError { error: self.1 })).into_response()
    }
}

/// The live view with the alarms, as `/api/snapshot` returns it and the
/// event stream sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Frame {
    /// The side this orchestrator runs.
    pub side: String,
    /// The last published view; `None` before the first.
    pub view: Option<LiveView>,
    /// The latest alarms, oldest first.
    pub alarms: Vec<Alarm>,
}

/// Who is signed in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    pub user: String,
    pub role: Role,
    /// To be sent back in the `X-CSRF-Token` header with every action.
    pub csrf_token: String,
    /// Whether a trusted proxy named the user.
    pub proxied: bool,
}

/// A name and password to sign in with.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub name: String,
    pub password: String,
}

/// An action handed to the shell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionAccepted {
    /// The action's number in the audit trail.
    pub id: u64,
    /// The action, as named in its path.
    pub action: String,
    /// The core's time in the last published view, ms.
    pub at_ms: u64,
}

/// The body of an action that takes no arguments: empty, or `{}`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// A node of the map.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeArgument {
    /// The node's id, as in the map.
    pub node: String,
}

/// A job.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobArgument {
    pub job: String,
}

/// A vehicle.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleArgument {
    /// The vehicle's serial number.
    pub vehicle: String,
}

/// A job and its new priority.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityArgument {
    pub job: String,
    /// 0 to 255; higher goes first.
    pub priority: u8,
}

/// The OpenAPI description of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Borderlane operation center",
        description = "The live view of the lane and the operator actions. Actions need an operator session (cookie from /api/login, or a trusted proxy) and the session's CSRF token in the X-CSRF-Token header."
    ),
    paths(
        snapshot,
        map,
        stream,
        audit,
        session,
        login,
        logout,
        pause_lane,
        resume_lane,
        block_place,
        unblock_place,
        cancel_job,
        reprioritise,
        pause_vehicle,
        resume_vehicle,
        send_to_charger,
        send_to_parking,
    ),
    tags(
        (name = "view", description = "What the page shows."),
        (name = "session", description = "Signing in and out."),
        (name = "actions", description = "Operator actions, each recorded in the audit trail and handed to the core as an input."),
    )
)]
pub struct ApiDoc;

/// The OpenAPI description, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router(ioc: Ioc) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route("/app.js", get(script))
        .route("/style.css", get(style))
        .route("/api/snapshot", get(snapshot))
        .route("/api/map", get(map))
        .route("/api/stream", get(stream))
        .route("/api/audit", get(audit))
        .route("/api/session", get(session))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/actions/pause_lane", post(pause_lane))
        .route("/api/actions/resume_lane", post(resume_lane))
        .route("/api/actions/block_place", post(block_place))
        .route("/api/actions/unblock_place", post(unblock_place))
        .route("/api/actions/cancel_job", post(cancel_job))
        .route("/api/actions/reprioritise", post(reprioritise))
        .route("/api/actions/pause_vehicle", post(pause_vehicle))
        .route("/api/actions/resume_vehicle", post(resume_vehicle))
        .route("/api/actions/send_to_charger", post(send_to_charger))
        .route("/api/actions/send_to_parking", post(send_to_parking))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::map_response(security_headers))
        .with_state(ioc)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cache-control", "no-store");
    res
}

async fn not_found() -> Failure {
    Failure(StatusCode::NOT_FOUND, "no such page or API route".into())
}

/// The request's headers and the address it came from.
struct Caller {
    headers: HeaderMap,
    peer: Option<SocketAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Caller, Infallible> {
        // Served without connection info (inside another router, say), the
        // peer is unknown and a proxy header is not believed.
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .ok()
            .map(|c| c.0);
        Ok(Caller {
            headers: parts.headers.clone(),
            peer,
        })
    }
}

impl Caller {
    fn principal(&self, ioc: &Ioc) -> Option<Principal> {
        ioc.inner.auth.principal(&self.headers, self.peer)
    }

    /// Refuses an anonymous caller when the view is not public.
    fn may_view(&self, ioc: &Ioc) -> Result<(), Failure> {
        if ioc.inner.config.public_view || self.principal(ioc).is_some() {
            Ok(())
        } else {
            Err(Failure(
                StatusCode::UNAUTHORIZED,
                "sign in to see the operation center".into(),
            ))
        }
    }
}

async fn page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        assets::INDEX_HTML,
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        assets::APP_JS,
    )
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        assets::STYLE_CSS,
    )
}

fn json_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The frame as JSON text, from the view serialised at publication.
fn frame_json(ioc: &Ioc) -> String {
    let view = lock(&ioc.inner.view)
        .as_ref()
        .map(|(_, json)| std::sync::Arc::clone(json));
    let alarms = serde_json::to_string(&ioc.alarms()).unwrap_or_else(|_| "[]".into());
    let side = serde_json::to_string(&ioc.inner.config.side).unwrap_or_else(|_| "\"\"".into());
    format!(
        "{{\"side\":{side},\"view\":{},\"alarms\":{alarms}}}",
        view.as_deref().unwrap_or("null")
    )
}

/// The latest view and alarms.
#[utoipa::path(get, path = "/api/snapshot", tag = "view",
    responses((status = 200, body = Frame), (status = 401, body = ApiError)))]
async fn snapshot(State(ioc): State<Ioc>, caller: Caller) -> Result<Response, Failure> {
    caller.may_view(&ioc)?;
    Ok(json_text(frame_json(&ioc)))
}

/// The lane map: nodes, edges and zones in the local metric frame.
#[utoipa::path(get, path = "/api/map", tag = "view",
    responses((status = 200, body = MapView), (status = 401, body = ApiError)))]
async fn map(State(ioc): State<Ioc>, caller: Caller) -> Result<Response, Failure> {
    caller.may_view(&ioc)?;
    Ok(json_text(ioc.inner.map_json.clone()))
}

/// Server-sent events: a `frame` event (a [`Frame`]) whenever the view or
/// the alarms change, and at least once a second.
#[utoipa::path(get, path = "/api/stream", tag = "view",
    responses((status = 200, description = "text/event-stream of `frame` events, each a Frame", content_type = "text/event-stream"),
              (status = 401, body = ApiError)))]
async fn stream(State(ioc): State<Ioc>, caller: Caller) -> Result<Response, Failure> {
    caller.may_view(&ioc)?;
    Ok(Sse::new(frames(ioc))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn frames(ioc: Ioc) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let version = ioc.inner.version.subscribe();
    let closing = ioc.inner.closing.subscribe();
    futures_util::stream::unfold(
        (ioc, version, closing, true),
        |(ioc, mut version, mut closing, first)| async move {
            if *closing.borrow() {
                return None;
            }
            if !first {
                tokio::select! {
                    changed = version.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                    }
                    _ = closing.changed() => return None,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            version.mark_unchanged();
            let event = SseEvent::default().event("frame").data(frame_json(&ioc));
            Some((Ok(event), (ioc, version, closing, false)))
        },
    )
}

/// The audit trail, oldest first: every action asked for, accepted or
/// refused, and every sign-in.
#[utoipa::path(get, path = "/api/audit", tag = "view",
    responses((status = 200, body = Vec<AuditEntry>), (status = 401, body = ApiError)))]
async fn audit(State(ioc): State<Ioc>, caller: Caller) -> Result<Json<Vec<AuditEntry>>, Failure> {
    if caller.principal(&ioc).is_none() {
        return Err(Failure(
            StatusCode::UNAUTHORIZED,
            "sign in to read the audit trail".into(),
        ));
    }
    Ok(Json(ioc.audit()))
}

/// Who is signed in, with the session's CSRF token.
#[utoipa::path(get, path = "/api/session", tag = "session",
    responses((status = 200, body = SessionInfo), (status = 401, body = ApiError)))]
async fn session(State(ioc): State<Ioc>, caller: Caller) -> Result<Json<SessionInfo>, Failure> {
    match caller.principal(&ioc) {
        Some(p) => Ok(Json(SessionInfo {
            user: p.user,
            role: p.role,
            csrf_token: p.csrf,
            proxied: p.proxied,
        })),
        None => Err(Failure(StatusCode::UNAUTHORIZED, "not signed in".into())),
    }
}

fn audit_entry(ioc: &Ioc, user: &str, role: Option<Role>, action: &str) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at_ms: ioc.now_ms(),
        wall_ms: wall_ms(),
        user: user.to_string(),
        role,
        action: action.to_string(),
        detail: serde_json::Value::Null,
        accepted: false,
        reason: None,
        action_id: None,
        applied: None,
        core_reason: None,
    }
}

/// Reads a JSON body; an empty body counts as `{}`.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Failure> {
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| {
        Failure(
            StatusCode::BAD_REQUEST,
            format!("the request body is not valid: {e}"),
        )
    })
}

/// Signs in with a name and password; sets the session cookie.
#[utoipa::path(post, path = "/api/login", tag = "session", request_body = Login,
    responses((status = 200, body = SessionInfo, description = "Signed in; the session cookie is set."),
              (status = 400, body = ApiError), (status = 401, body = ApiError)))]
async fn login(State(ioc): State<Ioc>, body: Bytes) -> Result<Response, Failure> {
    let login: Login = parse(&body)?;
    let auth_ioc = ioc.clone();
    let (name, password) = (login.name.clone(), login.password);
    let role =
        tokio::task::spawn_blocking(move || auth_ioc.inner.auth.check_password(&name, &password))
            .await
            .unwrap_or(None);
    let mut entry = audit_entry(&ioc, &login.name, role, "login");
    let Some(role) = role else {
        entry.reason = Some("wrong name or password".into());
        ioc.record(entry);
        return Err(Failure(
            StatusCode::UNAUTHORIZED,
            "wrong name or password".into(),
        ));
    };
    entry.accepted = true;
    ioc.record(entry);
    let (id, p) = ioc.inner.auth.open(&login.name, role);
    let secure = if ioc.inner.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let max_age = ioc.inner.config.session_idle_s;
    let cookie =
        format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    let info = SessionInfo {
        user: p.user,
        role: p.role,
        csrf_token: p.csrf,
        proxied: false,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(info)).into_response())
}

/// Signs out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/logout", tag = "session",
    responses((status = 204, description = "Signed out.")))]
async fn logout(State(ioc): State<Ioc>, caller: Caller) -> Response {
    if let Some(p) = caller.principal(&ioc)
        && !p.proxied
    {
        let mut entry = audit_entry(&ioc, &p.user, Some(p.role), "logout");
        entry.accepted = true;
        ioc.record(entry);
    }
    ioc.inner.auth.close(&caller.headers);
    let secure = if ioc.inner.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

async fn openapi_json() -> Response {
    json_text(openapi().to_json().unwrap_or_else(|_| "{}".into()))
}

/// Checks who asks, reads the body, checks what it names, and queues the
/// command; every outcome but a malformed body goes into the audit trail.
fn act<T: DeserializeOwned>(
    ioc: &Ioc,
    caller: &Caller,
    action: &str,
    body: &Bytes,
    command: impl FnOnce(T) -> OperatorCommand,
) -> Result<(StatusCode, Json<ActionAccepted>), Failure> {
    let principal = caller.principal(ioc);
    let refuse = |user: &str, role: Option<Role>, status: StatusCode, reason: String| {
        let mut entry = audit_entry(ioc, user, role, action);
        entry.reason = Some(reason.clone());
        ioc.record(entry);
        Failure(status, reason)
    };
    let Some(p) = principal else {
        return Err(refuse(
            "anonymous",
            None,
            StatusCode::UNAUTHORIZED,
            "sign in as an operator to act on the lane".into(),
        ));
    };
    if p.role != Role::Operator {
        return Err(refuse(
            &p.user,
            Some(p.role),
            StatusCode::FORBIDDEN,
            format!("{} is a viewer: only operators may act on the lane", p.user),
        ));
    }
    let token = caller
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token.is_empty() || !same_secret(token, &p.csrf) {
        let why = if token.is_empty() {
            "the X-CSRF-Token header is missing"
        } else {
            "the X-CSRF-Token header does not match the session"
        };
        return Err(refuse(
            &p.user,
            Some(p.role),
            StatusCode::FORBIDDEN,
            why.into(),
        ));
    }
    let command = command(parse::<T>(body)?);
    if let Err(why) = check(ioc, &command) {
        let mut entry = audit_entry(ioc, &p.user, Some(p.role), action);
        entry.detail = serde_json::to_value(&command).unwrap_or_default();
        entry.reason = Some(why.clone());
        ioc.record(entry);
        return Err(Failure(StatusCode::BAD_REQUEST, why));
    }
    let detail = serde_json::to_value(&command).unwrap_or_default();
    let Some(queued) = ioc.queue_action(&p.user, command) else {
        return Err(refuse(
            &p.user,
            Some(p.role),
            StatusCode::SERVICE_UNAVAILABLE,
            "too many actions are waiting for the orchestrator; try again shortly".into(),
        ));
    };
    let mut entry = audit_entry(ioc, &p.user, Some(p.role), action);
    entry.at_ms = queued.at_ms;
    entry.detail = detail;
    entry.accepted = true;
    entry.action_id = Some(queued.id);
    ioc.record(entry);
    Ok((
        StatusCode::ACCEPTED,
        Json(ActionAccepted {
            id: queued.id,
            action: action.to_string(),
            at_ms: queued.at_ms,
        }),
    ))
}

/// Checks that a command names things that exist: nodes of the map, and
/// vehicles of the last published view (once there is one). Jobs come and
/// go faster than views, so the core checks those.
fn check(ioc: &Ioc, command: &OperatorCommand) -> Result<(), String> {
    let nonempty = |field: &str, v: &str| {
        if v.trim().is_empty() {
            Err(format!("{field} must not be empty"))
        } else {
            Ok(())
        }
    };
    match command {
        OperatorCommand::BlockPlace { node } | OperatorCommand::UnblockPlace { node } => {
            nonempty("node", node)?;
            if ioc.inner.map.node_by_id(node).is_none() {
                return Err(format!("node {node:?} is not on the map"));
            }
        }
        OperatorCommand::CancelJob { job } | OperatorCommand::Reprioritise { job, .. } => {
            nonempty("job", job)?;
        }
        OperatorCommand::PauseVehicle { vehicle }
        | OperatorCommand::ResumeVehicle { vehicle }
        | OperatorCommand::SendToCharger { vehicle }
        | OperatorCommand::SendToParking { vehicle } => {
            nonempty("vehicle", vehicle)?;
            if let Some(view) = ioc.latest()
                && !view.vehicles.iter().any(|v| &v.vehicle == vehicle)
            {
                return Err(format!(
                    "vehicle {vehicle:?} is not in this orchestrator's fleet"
                ));
            }
        }
        OperatorCommand::PauseLane | OperatorCommand::ResumeLane => {}
    }
    Ok(())
}

type ActionResult = Result<(StatusCode, Json<ActionAccepted>), Failure>;

/// Stops every vehicle where it is.
#[utoipa::path(post, path = "/api/actions/pause_lane", tag = "actions", request_body = NoArguments,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn pause_lane(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(&ioc, &caller, "pause_lane", &body, |_: NoArguments| {
        OperatorCommand::PauseLane
    })
}

/// Lets the lane run again; every vehicle is replanned.
#[utoipa::path(post, path = "/api/actions/resume_lane", tag = "actions", request_body = NoArguments,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn resume_lane(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(&ioc, &caller, "resume_lane", &body, |_: NoArguments| {
        OperatorCommand::ResumeLane
    })
}

/// Closes a node to all traffic (debris on the bridge, say).
#[utoipa::path(post, path = "/api/actions/block_place", tag = "actions", request_body = NodeArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn block_place(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(&ioc, &caller, "block_place", &body, |a: NodeArgument| {
        OperatorCommand::BlockPlace { node: a.node }
    })
}

/// Opens a blocked node again.
#[utoipa::path(post, path = "/api/actions/unblock_place", tag = "actions", request_body = NodeArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn unblock_place(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(&ioc, &caller, "unblock_place", &body, |a: NodeArgument| {
        OperatorCommand::UnblockPlace { node: a.node }
    })
}

/// Cancels a job.
#[utoipa::path(post, path = "/api/actions/cancel_job", tag = "actions", request_body = JobArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn cancel_job(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(&ioc, &caller, "cancel_job", &body, |a: JobArgument| {
        OperatorCommand::CancelJob { job: a.job }
    })
}

/// Changes a job's priority (higher goes first).
#[utoipa::path(post, path = "/api/actions/reprioritise", tag = "actions", request_body = PriorityArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn reprioritise(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(
        &ioc,
        &caller,
        "reprioritise",
        &body,
        |a: PriorityArgument| OperatorCommand::Reprioritise {
            job: a.job,
            priority: a.priority,
        },
    )
}

/// Stops one vehicle where it is until resumed.
#[utoipa::path(post, path = "/api/actions/pause_vehicle", tag = "actions", request_body = VehicleArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn pause_vehicle(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(
        &ioc,
        &caller,
        "pause_vehicle",
        &body,
        |a: VehicleArgument| OperatorCommand::PauseVehicle { vehicle: a.vehicle },
    )
}

/// Lets a paused vehicle go on.
#[utoipa::path(post, path = "/api/actions/resume_vehicle", tag = "actions", request_body = VehicleArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn resume_vehicle(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(
        &ioc,
        &caller,
        "resume_vehicle",
        &body,
        |a: VehicleArgument| OperatorCommand::ResumeVehicle { vehicle: a.vehicle },
    )
}

/// Sends an idle vehicle to a charger on its side.
#[utoipa::path(post, path = "/api/actions/send_to_charger", tag = "actions", request_body = VehicleArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn send_to_charger(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(
        &ioc,
        &caller,
        "send_to_charger",
        &body,
        |a: VehicleArgument| OperatorCommand::SendToCharger { vehicle: a.vehicle },
    )
}

/// Sends an idle vehicle to a parking place on its side.
#[utoipa::path(post, path = "/api/actions/send_to_parking", tag = "actions", request_body = VehicleArgument,
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token")),
    responses((status = 202, body = ActionAccepted), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn send_to_parking(State(ioc): State<Ioc>, caller: Caller, body: Bytes) -> ActionResult {
    act(
        &ioc,
        &caller,
        "send_to_parking",
        &body,
        |a: VehicleArgument| OperatorCommand::SendToParking { vehicle: a.vehicle },
    )
}
