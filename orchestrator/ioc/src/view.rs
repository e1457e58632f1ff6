//! What the operation center shows: the [`LiveView`] the shell publishes,
//! the static [`MapView`] of the lane, and [`view_from_core`], which builds
//! a view from a core and a small [`ViewHistory`] of what earlier views saw.
//!
//! Distances along the lane are measured on the *lane axis*: the straight
//! line from the Vietnamese yard to the Chinese yard (the centroids of their
//! yard slots). A position's distance is its projection on that axis, with 0
//! at the Vietnamese yard's gates, so the Vietnamese yard lies at small
//! negative distances and the Chinese yard beyond the bridge. On the shipped
//! maps every road runs straight along that axis, so the projection is the
//! distance driven; on a winding map it is the distance as the crow flies.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use borderlane_core::io::Event;
use borderlane_core::planner::Start;
use borderlane_core::world::position_in;
use borderlane_core::{Core, Snapshot};
use borderlane_model::map::Point;
use borderlane_model::{ArcIx, LaneMap, Ms, NEVER, NodeKind, Side, ZoneKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The states a vehicle can be in, as the core's snapshot names them.
pub const VEHICLE_STATES: [&str; 7] = [
    "driving",
    "idle",
    "charging",
    "held",
    "paused",
    "broken",
    "link_lost",
];

/// The label of the Vietnam-to-China direction, as the Prometheus metrics
/// spell it.
pub const VN_TO_CN: &str = "VN->CN";
/// The label of the China-to-Vietnam direction.
pub const CN_TO_VN: &str = "CN->VN";

/// Everything the operation center shows that changes, as the shell last
/// published it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LiveView {
    /// The core's time, ms: since the start of the run in a simulation,
    /// since the Unix epoch in a live orchestrator.
    pub now_ms: Ms,
    /// Whether the lane is paused (every vehicle the core controls stands
    /// paused, broken or with its link lost, and at least one is paused).
    pub lane_paused: bool,
    /// Every vehicle, in fleet order.
    pub vehicles: Vec<VehicleLive>,
    /// Jobs waiting for a vehicle, under way, and delivered.
    pub jobs: JobsView,
    /// Vehicles at or heading for stop lines, scan lanes and inspection
    /// bays, zone by zone.
    pub queues: Vec<QueueView>,
    /// Containers delivered in the last hour, each way.
    pub crossings_per_hour: Crossings,
    /// Vehicles being handed over between the two sides' orchestrators.
    pub handoffs: Vec<HandoffView>,
    /// Per vehicle, its committed plan and its track, for the time–distance
    /// diagram.
    pub plans: Vec<VehiclePlan>,
    /// The same figures as the Prometheus endpoint.
    pub kpis: Kpis,
}

/// One vehicle, where it is and what it does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VehicleLive {
    /// The vehicle's serial number.
    pub vehicle: String,
    /// One of driving, idle, charging, held, paused, broken, link_lost.
    pub state: String,
    /// The node it is at, or driving towards.
    pub node: String,
    /// The arc's edge it is on, if it is between nodes.
    pub edge: Option<String>,
    pub battery_pct: f64,
    pub loaded: bool,
    pub job: Option<String>,
    /// Position in the map's local metric frame, metres east of the origin.
    pub x: f64,
    /// Position in the map's local metric frame, metres north of the origin.
    pub y: f64,
    /// Distance along the lane axis from the Vietnamese yard's gates, m.
    pub distance_m: f64,
    /// When its committed plan ends, if it has one.
    pub plan_ends_ms: Option<Ms>,
}

/// The jobs of the lane.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobsView {
    pub waiting_count: u64,
    pub active_count: u64,
    pub done_count: u64,
    /// Jobs waiting for a vehicle, most urgent first as the core keeps them.
    pub waiting: Vec<JobLive>,
    /// Jobs assigned to a vehicle and not yet delivered.
    pub active: Vec<JobLive>,
    /// The most recently delivered jobs, newest first.
    pub done: Vec<DoneJob>,
}

/// An open job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobLive {
    pub job: String,
    pub container: String,
    pub pickup: String,
    pub drop: Option<String>,
    pub vehicle: Option<String>,
    pub stops_done: u64,
    pub stops: u64,
    /// `VN->CN` or `CN->VN`.
    pub direction: String,
    /// When the view first saw the job, core time, ms.
    pub since_ms: Ms,
}

/// A delivered job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DoneJob {
    pub job: String,
    pub container: String,
    /// `VN->CN` or `CN->VN`.
    pub direction: String,
    /// When it was delivered (or first seen gone), core time, ms.
    pub delivered_ms: Ms,
    /// From the job's arrival to its delivery, seconds.
    pub crossing_s: f64,
}

/// The vehicles at the member nodes of one zone, or driving to one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    pub zone: String,
    /// `stop_line_queue`, `scan_lanes` or `inspection_bays`.
    pub kind: String,
    pub side: String,
    pub capacity: u32,
    /// Serial numbers, the one furthest along its way first.
    pub vehicles: Vec<String>,
}

/// A count each way.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Crossings {
    pub vn_to_cn: u64,
    pub cn_to_vn: u64,
}

/// A vehicle being handed over at the border between the two sides'
/// control.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HandoffView {
    pub vehicle: String,
    pub from_side: String,
    pub to_side: String,
    /// The hand-over's state, as the shell names it.
    pub state: String,
    pub since_ms: Ms,
}

/// One vehicle's line in the time–distance diagram.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VehiclePlan {
    pub vehicle: String,
    /// The committed plan (or the pin that holds the vehicle).
    pub steps: Vec<PlanStep>,
    /// Where the vehicle was, sampled each time a view was built.
    pub track: Vec<TrackPoint>,
}

/// One step of a committed plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanStep {
    pub node: String,
    /// The node's distance along the lane axis, m.
    pub distance_m: f64,
    /// The distance of the node the arc to this step starts from, if the
    /// step has an arc.
    pub from_distance_m: Option<f64>,
    /// When the vehicle enters the arc leading to the node.
    pub enter_ms: Ms,
    /// When it reaches the node; `None` for a vehicle held on the arc.
    pub arrive_ms: Option<Ms>,
    /// When it leaves the node; `None` if it stays.
    pub depart_ms: Option<Ms>,
    pub stops: bool,
}

/// A sample of a vehicle's actual position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrackPoint {
    pub t_ms: Ms,
    pub distance_m: f64,
}

/// The key figures, named as the Prometheus metrics of the live shell name
/// them (without the `borderlane_` prefix).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Kpis {
    pub jobs_queued: u64,
    pub jobs_active: u64,
    pub jobs_done_total: u64,
    /// `crossings_total{direction}`.
    pub crossings_total: Crossings,
    /// The median of `crossing_seconds`, from a job's arrival to its
    /// delivery.
    pub crossing_seconds_p50: Option<f64>,
    pub crossing_seconds_p95: Option<f64>,
    /// The median of `plan_latency_seconds`, the wall time of one step of
    /// the core, as the shell measured it.
    pub plan_latency_seconds_p50: Option<f64>,
    pub plan_latency_seconds_p95: Option<f64>,
    /// Reservations in the core's table.
    pub reservations: u64,
    /// `vehicles{state}`: vehicles by state.
    pub vehicles: BTreeMap<String, u64>,
}

/// The lane as drawn: nodes, edges and zones in the local metric frame, and
/// the landmarks of the lane axis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MapView {
    pub name: String,
    pub nodes: Vec<MapNode>,
    pub edges: Vec<MapEdge>,
    pub zones: Vec<MapZone>,
    pub lane: LaneAxisView,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MapNode {
    pub id: String,
    /// The node's kind, in the map file's spelling (`yard_slot`, `border`…).
    pub kind: String,
    /// `VN`, `CN`, or `None` for a border node.
    pub side: Option<String>,
    pub x: f64,
    pub y: f64,
    pub distance_m: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MapEdge {
    pub id: String,
    /// `road`, `bridge`, `yard` or `spur`.
    pub kind: String,
    pub from: String,
    pub to: String,
    pub bidirectional: bool,
    /// The drawn line, `[x, y]` pairs in the local metric frame.
    pub points: Vec<[f64; 2]>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MapZone {
    pub id: String,
    pub kind: String,
    pub side: String,
    pub capacity: u32,
    pub members: Vec<String>,
    pub outline: Vec<[f64; 2]>,
}

/// The lane axis and its landmarks, as distances from the Vietnamese yard's
/// gates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LaneAxisView {
    /// A point of the axis in the local frame (the Vietnamese yard's
    /// centroid).
    pub origin: [f64; 2],
    /// The unit vector of the axis, from the Vietnamese yard towards the
    /// Chinese yard.
    pub direction: [f64; 2],
    /// The distance the origin's projection is from the zero of the axis.
    pub origin_distance_m: f64,
    /// The border line (the mean over the border nodes).
    pub border_m: Option<f64>,
    /// Where the bridge starts and ends (the nearest and furthest bridge
    /// ends).
    pub bridge_start_m: Option<f64>,
    pub bridge_end_m: Option<f64>,
    /// The Chinese yard's gates.
    pub cn_gate_m: Option<f64>,
    /// The smallest and largest distance of any node.
    pub min_m: f64,
    pub max_m: f64,
}

/// The lane axis, for turning positions into distances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaneAxis {
    origin: Point,
    direction: Point,
    zero: f64,
}

impl LaneAxis {
    /// The axis of a map: from the centroid of the Vietnamese yard slots to
    /// that of the Chinese ones (or of each side's nodes, for a map without
    /// yard slots), with 0 at the Vietnamese gates.
    pub fn of(map: &LaneMap) -> LaneAxis {
        let centroid = |side: Side, kinds: &[NodeKind]| -> Option<Point> {
            let pts: Vec<Point> = map
                .nodes
                .iter()
                .filter(|n| n.side == Some(side) && (kinds.is_empty() || kinds.contains(&n.kind)))
                .map(|n| n.pos)
                .collect();
            (!pts.is_empty()).then(|| pts.iter().sum::<Point>() / pts.len() as f64)
        };
        let vn = centroid(Side::Vn, &[NodeKind::YardSlot])
            .or_else(|| centroid(Side::Vn, &[]))
            .unwrap_or_else(|| Point::new(0.0, 0.0));
        let cn = centroid(Side::Cn, &[NodeKind::YardSlot])
            .or_else(|| centroid(Side::Cn, &[]))
            .unwrap_or_else(|| Point::new(0.0, 1.0));
        let d = cn - vn;
        let direction = if d.norm() > 1e-9 {
            d / d.norm()
        } else {
            Point::new(0.0, 1.0)
        };
        let mut axis = LaneAxis {
            origin: vn,
            direction,
            zero: 0.0,
        };
        axis.zero = centroid(Side::Vn, &[NodeKind::Gate])
            .map(|g| axis.distance(g))
            .unwrap_or(0.0);
        axis
    }

    /// The distance of a point along the axis, m.
    pub fn distance(&self, p: Point) -> f64 {
        (p - self.origin).dot(&self.direction) - self.zero
    }
}

/// The lane as drawn, for `/api/map`.
pub fn map_view(map: &LaneMap) -> MapView {
    let axis = LaneAxis::of(map);
    let nodes: Vec<MapNode> = map
        .nodes
        .iter()
        .map(|n| MapNode {
            id: n.id.clone(),
            kind: snake(&n.kind),
            side: n.side.map(|s| s.code().to_string()),
            x: n.pos.x,
            y: n.pos.y,
            distance_m: axis.distance(n.pos),
        })
        .collect();
    let edges = map
        .edges
        .iter()
        .map(|e| MapEdge {
            id: e.id.clone(),
            kind: snake(&e.kind),
            from: map.node(e.from).id.clone(),
            to: map.node(e.to).id.clone(),
            bidirectional: e.direction == borderlane_model::Direction::Bidirectional,
            points: e.geometry.iter().map(|p| [p.x, p.y]).collect(),
        })
        .collect();
    let zones = map
        .zones
        .iter()
        .map(|z| MapZone {
            id: z.id.clone(),
            kind: snake(&z.kind),
            side: z.side.code().to_string(),
            capacity: z.capacity,
            members: z.members.iter().map(|m| map.node(*m).id.clone()).collect(),
            outline: z.outline.iter().map(|p| [p.x, p.y]).collect(),
        })
        .collect();
    let mean_of = |pred: &dyn Fn(&borderlane_model::Node) -> bool| -> Option<f64> {
        let ds: Vec<f64> = map
            .nodes
            .iter()
            .filter(|n| pred(n))
            .map(|n| axis.distance(n.pos))
            .collect();
        (!ds.is_empty()).then(|| ds.iter().sum::<f64>() / ds.len() as f64)
    };
    let bridge: Vec<f64> = map
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::BridgeEnd)
        .map(|n| axis.distance(n.pos))
        .collect();
    let all: Vec<f64> = map.nodes.iter().map(|n| axis.distance(n.pos)).collect();
    MapView {
        name: map.name.clone(),
        nodes,
        edges,
        zones,
        lane: LaneAxisView {
            origin: [axis.origin.x, axis.origin.y],
            direction: [axis.direction.x, axis.direction.y],
            origin_distance_m: -axis.zero,
            border_m: mean_of(&|n| n.kind == NodeKind::Border),
            bridge_start_m: bridge.iter().copied().reduce(f64::min),
            bridge_end_m: bridge.iter().copied().reduce(f64::max),
            cn_gate_m: mean_of(&|n| n.kind == NodeKind::Gate && n.side == Some(Side::Cn)),
            min_m: all.iter().copied().reduce(f64::min).unwrap_or(0.0),
            max_m: all.iter().copied().reduce(f64::max).unwrap_or(0.0),
        },
    }
}

/// The snake_case spelling of one of the map's enums, as serde writes it.
fn snake<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The severity of an alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// Something an operator should see: a vehicle error, a lost link, an
/// ownership or invariant warning, a rejected hand-over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alarm {
    /// Core time, ms.
    pub at_ms: Ms,
    pub severity: Severity,
    /// A short machine-readable name: `vehicle_broken`, `link_lost`,
    /// `handoff_rejected`…
    pub kind: String,
    pub vehicle: Option<String>,
    pub message: String,
}

/// What [`view_from_core`] remembers between views: each vehicle's track,
/// the jobs it has seen and what became of them, and latency samples the
/// shell hands it.
#[derive(Clone, Debug)]
pub struct ViewHistory {
    /// How much of each vehicle's track to keep, ms.
    pub track_window_ms: Ms,
    /// How many delivered jobs to list.
    pub done_listed: usize,
    tracks: BTreeMap<String, VecDeque<TrackPoint>>,
    /// The arc each vehicle was last seen on, and how far along it (0 to 1).
    on_arc: BTreeMap<String, (ArcIx, f64)>,
    seen: BTreeMap<String, SeenJob>,
    done: VecDeque<DoneJob>,
    done_total: u64,
    crossings: Crossings,
    /// Delivery times and directions of the last hour and more.
    recent: VecDeque<(Ms, bool)>,
    crossing_s: VecDeque<f64>,
    latency_s: VecDeque<f64>,
    delivered_stat: u64,
    /// Whether the shell feeds the core's events; then deliveries are
    /// counted from them, not guessed from jobs that vanish.
    events_fed: bool,
    last_state: BTreeMap<String, String>,
    alarms: Vec<Alarm>,
    now: Ms,
}

#[derive(Clone, Debug)]
struct SeenJob {
    container: String,
    vn_to_cn: bool,
    since: Ms,
    left: usize,
}

/// How many samples of crossing times and latencies are kept for the
/// percentiles.
const SAMPLES: usize = 10_000;
const HOUR_MS: Ms = 3_600_000;

impl Default for ViewHistory {
    fn default() -> ViewHistory {
        ViewHistory::new()
    }
}

impl ViewHistory {
    pub fn new() -> ViewHistory {
        ViewHistory {
            track_window_ms: 2 * HOUR_MS,
            done_listed: 50,
            tracks: BTreeMap::new(),
            on_arc: BTreeMap::new(),
            seen: BTreeMap::new(),
            done: VecDeque::new(),
            done_total: 0,
            crossings: Crossings::default(),
            recent: VecDeque::new(),
            crossing_s: VecDeque::new(),
            latency_s: VecDeque::new(),
            delivered_stat: 0,
            events_fed: false,
            last_state: BTreeMap::new(),
            alarms: Vec::new(),
            now: 0,
        }
    }

    /// Records the wall time one step of the core took, for the plan
    /// latency figures.
    pub fn record_plan_latency(&mut self, seconds: f64) {
        if seconds.is_finite() && seconds >= 0.0 {
            push_capped(&mut self.latency_s, seconds);
        }
    }

    /// Hands the history one of the core's events, seen at core time `now`.
    /// A shell that does this for every event gets exact delivery counts and
    /// crossing times; without it they are read from the jobs that leave the
    /// core's snapshot (delivered or cancelled, told apart by the core's
    /// delivery counter).
    pub fn observe_event(&mut self, now: Ms, event: &Event) {
        self.events_fed = true;
        match event {
            Event::JobQueued { job } => {
                self.seen.entry(job.clone()).or_insert(SeenJob {
                    container: String::new(),
                    vn_to_cn: true,
                    since: now,
                    left: 1,
                });
            }
            Event::JobDelivered {
                job,
                container,
                side,
                ..
            } => {
                let since = self.seen.remove(job).map_or(now, |s| s.since);
                self.deliver(
                    job.clone(),
                    container.clone(),
                    *side == Side::Cn,
                    since,
                    now,
                );
            }
            Event::JobCancelled { job } => {
                self.seen.remove(job);
            }
            _ => {}
        }
    }

    /// Alarms the history raised from changes of vehicle state (a vehicle
    /// broke down or came back, lost or regained its link) since the last
    /// call; the shell hands them to [`crate::Ioc::push_alarm`].
    pub fn take_alarms(&mut self) -> Vec<Alarm> {
        std::mem::take(&mut self.alarms)
    }

    fn deliver(&mut self, job: String, container: String, vn_to_cn: bool, since: Ms, now: Ms) {
        let crossing_s = now.saturating_sub(since) as f64 / 1_000.0;
        self.done_total += 1;
        if vn_to_cn {
            self.crossings.vn_to_cn += 1;
        } else {
            self.crossings.cn_to_vn += 1;
        }
        self.recent.push_back((now, vn_to_cn));
        push_capped(&mut self.crossing_s, crossing_s);
        self.done.push_front(DoneJob {
            job,
            container,
            direction: direction(vn_to_cn).to_string(),
            delivered_ms: now,
            crossing_s,
        });
        self.done.truncate(self.done_listed.max(1));
    }

    /// Takes in the jobs of a snapshot: new ones are remembered, and those
    /// gone since the last snapshot are counted as delivered or cancelled.
    fn note_jobs(&mut self, snap: &Snapshot, now: Ms, map: &LaneMap, delivered_stat: u64) {
        let open: BTreeSet<&str> = snap.jobs.iter().map(|j| j.job.as_str()).collect();
        for j in &snap.jobs {
            let vn_to_cn = map
                .node_by_id(&j.pickup)
                .is_none_or(|n| map.side_of(n) == Side::Vn);
            let e = self.seen.entry(j.job.clone()).or_insert(SeenJob {
                container: j.container.clone(),
                vn_to_cn,
                since: now,
                left: j.stops.saturating_sub(j.stops_done),
            });
            e.container.clone_from(&j.container);
            e.vn_to_cn = vn_to_cn;
            e.left = j.stops.saturating_sub(j.stops_done);
        }
        if self.events_fed {
            self.delivered_stat = delivered_stat;
            return;
        }
        let mut gone: Vec<(String, SeenJob)> = Vec::new();
        self.seen.retain(|id, s| {
            if open.contains(id.as_str()) {
                true
            } else {
                gone.push((id.clone(), s.clone()));
                false
            }
        });
        // The core's counter says how many of the vanished jobs were
        // delivered; those with the fewest stops left are taken to be the
        // delivered ones.
        let mut delivered = delivered_stat.saturating_sub(self.delivered_stat) as usize;
        self.delivered_stat = delivered_stat;
        gone.sort_by(|a, b| a.1.left.cmp(&b.1.left).then_with(|| a.0.cmp(&b.0)));
        for (id, s) in gone {
            if delivered == 0 {
                break;
            }
            delivered -= 1;
            self.deliver(id, s.container, s.vn_to_cn, s.since, now);
        }
    }

    fn note_state(&mut self, v: &VehicleLive, now: Ms) {
        let before = self
            .last_state
            .insert(v.vehicle.clone(), v.state.clone())
            .unwrap_or_default();
        if before == v.state {
            return;
        }
        let alarm = |severity, kind: &str, message: String| Alarm {
            at_ms: now,
            severity,
            kind: kind.to_string(),
            vehicle: Some(v.vehicle.clone()),
            message,
        };
        if v.state == "broken" {
            self.alarms.push(alarm(
                Severity::Error,
                "vehicle_broken",
                format!("{} broke down at {}", v.vehicle, v.node),
            ));
        } else if v.state == "link_lost" {
            self.alarms.push(alarm(
                Severity::Error,
                "link_lost",
                format!("{} lost its link at {}", v.vehicle, v.node),
            ));
        } else if before == "broken" {
            self.alarms.push(alarm(
                Severity::Info,
                "vehicle_repaired",
                format!("{} is repaired", v.vehicle),
            ));
        } else if before == "link_lost" {
            self.alarms.push(alarm(
                Severity::Info,
                "link_back",
                format!("{} has its link back", v.vehicle),
            ));
        }
    }

    fn note_track(&mut self, vehicle: &str, t_ms: Ms, distance_m: f64) {
        let track = self.tracks.entry(vehicle.to_string()).or_default();
        let p = TrackPoint { t_ms, distance_m };
        let n = track.len();
        if n >= 1 && track[n - 1].t_ms >= t_ms {
            // A view for the same instant again: keep the newer position.
            track[n - 1] = p;
        } else if n >= 2
            && same(track[n - 1].distance_m, distance_m)
            && same(track[n - 2].distance_m, distance_m)
        {
            // Standing still: stretch the last sample instead of adding one.
            track[n - 1].t_ms = t_ms;
        } else {
            track.push_back(p);
        }
        let horizon = t_ms.saturating_sub(self.track_window_ms);
        while track.len() > 2 && track[1].t_ms < horizon {
            track.pop_front();
        }
    }
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.01
}

fn push_capped(q: &mut VecDeque<f64>, v: f64) {
    q.push_back(v);
    while q.len() > SAMPLES {
        q.pop_front();
    }
}

fn direction(vn_to_cn: bool) -> &'static str {
    if vn_to_cn { VN_TO_CN } else { CN_TO_VN }
}

/// Nearest-rank percentile of unsorted samples.
fn percentile(samples: &VecDeque<f64>, p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = samples.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

/// A point a fraction of the way along a polyline.
fn along(points: &[Point], fraction: f64) -> Point {
    let total: f64 = points.windows(2).map(|w| (w[1] - w[0]).norm()).sum();
    let Some(first) = points.first() else {
        return Point::new(0.0, 0.0);
    };
    let mut left = total * fraction.clamp(0.0, 1.0);
    for w in points.windows(2) {
        let len = (w[1] - w[0]).norm();
        if left <= len && len > 0.0 {
            return w[0] + (w[1] - w[0]) * (left / len);
        }
        left -= len;
    }
    points.last().copied().unwrap_or(*first)
}

/// Builds the view the operation center shows from the core and the
/// history, and adds this instant to the history (tracks, jobs, alarms).
///
/// Plan latency is measured by the shell, which times its calls into the
/// core, and handed over with [`ViewHistory::record_plan_latency`];
/// hand-overs are not known to the core and are left empty here, for the
/// shell to fill in.
///
/// The view is of the core's time, the time of the last input or timeout
/// it was handed. A shell whose clock has moved on since (the core sleeps
/// while nothing happens) should use [`view_from_core_at`] with its clock,
/// so that vehicles are drawn where their plans have taken them by now.
pub fn view_from_core(core: &mut Core, history: &mut ViewHistory) -> LiveView {
    let now = core.now();
    view_from_core_at(core, now, history)
}

/// [`view_from_core`] at the shell's time `now` (at least the core's):
/// positions, tracks and the diagram are of `now`; states, jobs and plans
/// are as the core last left them. It reads the core and changes nothing
/// in it.
pub fn view_from_core_at(core: &mut Core, now: Ms, history: &mut ViewHistory) -> LiveView {
    let map = core.map();
    let snap = core.snapshot();
    let plans = core.plans();
    let reservations = core.reservations() as u64;
    let delivered_stat = core.stats().delivered;
    build_view(
        &map,
        &snap,
        &plans,
        now,
        reservations,
        delivered_stat,
        history,
    )
}

/// [`view_from_core_at`] from the parts it reads from the core: for a
/// shell that already holds a snapshot and the plans.
pub fn build_view(
    map: &LaneMap,
    snap: &Snapshot,
    plans: &[borderlane_model::TimedPlan],
    now: Ms,
    reservations: u64,
    delivered_stat: u64,
    history: &mut ViewHistory,
) -> LiveView {
    let now = now.max(snap.now_ms);
    history.now = now;
    let axis = LaneAxis::of(map);
    let dist = |n: borderlane_model::NodeIx| axis.distance(map.node(n).pos);

    // Plans are sorted by vehicle id, and ids follow the fleet order in
    // which the snapshot lists the vehicles.
    let mut plan_of: BTreeMap<usize, &borderlane_model::TimedPlan> = BTreeMap::new();
    for p in plans {
        if let Some(id) = p.vehicle {
            plan_of.insert(id.0 as usize, p);
        }
    }

    let mut vehicles = Vec::with_capacity(snap.vehicles.len());
    let mut vplans = Vec::with_capacity(snap.vehicles.len());
    for (i, v) in snap.vehicles.iter().enumerate() {
        let plan = plan_of.get(&i).copied();
        let mut edge = None;
        let fallback = map.node_by_id(&v.node);
        let (pos, distance) = match plan.and_then(|p| position_in(p, now)) {
            Some(Start::AtNode { node, .. }) => {
                history.on_arc.remove(&v.vehicle);
                (map.node(node).pos, dist(node))
            }
            Some(Start::OnArc {
                arc,
                enter,
                earliest,
            }) => {
                let a = map.arc(arc);
                let e = map.arc_edge(arc);
                edge = Some(e.id.clone());
                // `earliest` is the planned arrival, or NEVER for a vehicle
                // held on the arc: then it stays where it was last seen.
                let fraction = if earliest == NEVER || earliest <= enter {
                    history
                        .on_arc
                        .get(&v.vehicle)
                        .filter(|(seen, _)| *seen == arc)
                        .map_or(0.5, |(_, f)| *f)
                } else {
                    (now.saturating_sub(enter) as f64 / (earliest - enter) as f64).clamp(0.0, 1.0)
                };
                history.on_arc.insert(v.vehicle.clone(), (arc, fraction));
                let geometry: Vec<Point> = if a.forward {
                    e.geometry.clone()
                } else {
                    e.geometry.iter().rev().copied().collect()
                };
                let p = along(&geometry, fraction);
                let d = dist(a.from) + (dist(a.to) - dist(a.from)) * fraction;
                (p, d)
            }
            None => match fallback {
                Some(n) => (map.node(n).pos, dist(n)),
                None => (Point::new(0.0, 0.0), 0.0),
            },
        };
        let live = VehicleLive {
            vehicle: v.vehicle.clone(),
            state: v.state.clone(),
            node: v.node.clone(),
            edge,
            battery_pct: v.battery_pct,
            loaded: v.loaded,
            job: v.job.clone(),
            x: pos.x,
            y: pos.y,
            distance_m: distance,
            plan_ends_ms: v.plan_ends_ms,
        };
        history.note_state(&live, now);
        history.note_track(&v.vehicle, now, distance);
        let steps = plan
            .map(|p| {
                p.steps
                    .iter()
                    .map(|s| PlanStep {
                        node: map.node(s.node).id.clone(),
                        distance_m: dist(s.node),
                        from_distance_m: s.arc.map(|a| dist(map.arc(a).from)),
                        enter_ms: s.enter,
                        arrive_ms: (s.arrive != NEVER).then_some(s.arrive),
                        depart_ms: (s.depart != NEVER).then_some(s.depart),
                        stops: s.stops,
                    })
                    .collect()
            })
            .unwrap_or_default();
        vplans.push(VehiclePlan {
            vehicle: v.vehicle.clone(),
            steps,
            track: history
                .tracks
                .get(&v.vehicle)
                .map(|t| t.iter().copied().collect())
                .unwrap_or_default(),
        });
        vehicles.push(live);
    }

    history.note_jobs(snap, now, map, delivered_stat);
    let horizon = now.saturating_sub(HOUR_MS);
    while history.recent.front().is_some_and(|(t, _)| *t < horizon) {
        history.recent.pop_front();
    }
    let crossings_per_hour = Crossings {
        vn_to_cn: history.recent.iter().filter(|(_, vc)| *vc).count() as u64,
        cn_to_vn: history.recent.iter().filter(|(_, vc)| !*vc).count() as u64,
    };

    let job_live = |j: &borderlane_core::JobView| JobLive {
        job: j.job.clone(),
        container: j.container.clone(),
        pickup: j.pickup.clone(),
        drop: j.drop.clone(),
        vehicle: j.vehicle.clone(),
        stops_done: j.stops_done as u64,
        stops: j.stops as u64,
        direction: direction(history.seen.get(&j.job).is_none_or(|s| s.vn_to_cn)).to_string(),
        since_ms: history.seen.get(&j.job).map_or(now, |s| s.since),
    };
    let waiting: Vec<JobLive> = snap
        .jobs
        .iter()
        .filter(|j| j.vehicle.is_none())
        .map(job_live)
        .collect();
    let active: Vec<JobLive> = snap
        .jobs
        .iter()
        .filter(|j| j.vehicle.is_some())
        .map(job_live)
        .collect();

    let mut queues = Vec::new();
    for z in &map.zones {
        if !matches!(
            z.kind,
            ZoneKind::StopLineQueue | ZoneKind::ScanLanes | ZoneKind::InspectionBays
        ) {
            continue;
        }
        let members: BTreeSet<&str> = z.members.iter().map(|m| map.node(*m).id.as_str()).collect();
        let mut here: Vec<&VehicleLive> = vehicles
            .iter()
            .filter(|v| members.contains(v.node.as_str()))
            .collect();
        // Furthest along first: northbound vehicles go up the axis,
        // southbound ones down it.
        let northbound = z.side == Side::Vn;
        here.sort_by(|a, b| {
            let o = a.distance_m.total_cmp(&b.distance_m);
            if northbound { o.reverse() } else { o }
        });
        queues.push(QueueView {
            zone: z.id.clone(),
            kind: snake(&z.kind),
            side: z.side.code().to_string(),
            capacity: z.capacity,
            vehicles: here.iter().map(|v| v.vehicle.clone()).collect(),
        });
    }

    let mut by_state: BTreeMap<String, u64> =
        VEHICLE_STATES.iter().map(|s| (s.to_string(), 0)).collect();
    for v in &vehicles {
        *by_state.entry(v.state.clone()).or_default() += 1;
    }
    let lane_paused = vehicles.iter().any(|v| v.state == "paused")
        && vehicles
            .iter()
            .all(|v| matches!(v.state.as_str(), "paused" | "broken" | "link_lost"));
    let kpis = Kpis {
        jobs_queued: waiting.len() as u64,
        jobs_active: active.len() as u64,
        jobs_done_total: history.done_total,
        crossings_total: history.crossings.clone(),
        crossing_seconds_p50: percentile(&history.crossing_s, 0.50),
        crossing_seconds_p95: percentile(&history.crossing_s, 0.95),
        plan_latency_seconds_p50: percentile(&history.latency_s, 0.50),
        plan_latency_seconds_p95: percentile(&history.latency_s, 0.95),
        reservations,
        vehicles: by_state,
    };
    LiveView {
        now_ms: now,
        lane_paused,
        jobs: JobsView {
            waiting_count: waiting.len() as u64,
            active_count: active.len() as u64,
            done_count: history.done_total,
            waiting,
            active,
            done: history.done.iter().cloned().collect(),
        },
        vehicles,
        queues,
        crossings_per_hour,
        handoffs: Vec::new(),
        plans: vplans,
        kpis,
    }
}
