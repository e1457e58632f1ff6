//! The master control: core commands out as orders and instant actions,
//! vehicle messages in as core inputs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc as Shared;

use borderlane_core::io::{Command, CommandStep, Input, VehicleReport};
use borderlane_model::map::Point;
use borderlane_model::{LaneMap, Ms};
use serde::{Deserialize, Serialize};

use crate::clock::{format_timestamp, parse_timestamp};
use crate::config::MasterConfig;
use crate::messages::{
    Action, ActionStatus, BlockingType, Connection, ConnectionState, ErrorLevel, Factsheet,
    InstantActions, Order, State,
};
use crate::order::{self, core_action_id, nodes_and_edges, release_time, released_count};
use crate::reject::{RejectReason, Rejected, from_json_error};
use crate::topic::{Topic, TopicKind, topic};
use crate::{ProtocolVersion, Publish, Qos};

/// Where a vehicle's order stands, as far as the master control knows: what
/// another master control needs to take the vehicle over and continue its
/// order with an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    pub order_id: String,
    /// The last orderUpdateId sent.
    pub order_update_id: u64,
    /// The last node of the base, where the next update is stitched.
    pub last_base_node: String,
    pub last_base_sequence_id: u64,
    /// The last headerId sent on the vehicle's `order` topic.
    pub order_header_id: u64,
    /// The last headerId sent on the vehicle's `instantActions` topic.
    pub instant_actions_header_id: u64,
    /// The core plan the base belongs to, if known.
    pub plan_id: Option<u64>,
    /// Whether every node of the order is in the base (no horizon left).
    pub fully_released: bool,
}

/// The speeds and size a vehicle announced in its factsheet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactsheetSummary {
    pub series_name: String,
    pub speed_min_mps: f64,
    pub speed_max_mps: f64,
    pub acceleration_max_mps2: f64,
    pub deceleration_max_mps2: f64,
    pub length_m: f64,
    pub width_m: f64,
}

/// One core plan's part of an order: the plan, and the sequence id of its
/// first node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Segment {
    plan_id: u64,
    first_seq: u64,
}

/// The order a vehicle is executing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ActiveOrder {
    order_id: String,
    update_id: u64,
    /// Every plan stitched into this order, oldest first.
    segments: Vec<Segment>,
    /// The current plan's steps; empty after `adopt` until the next plan.
    steps: Vec<CommandStep>,
    /// How many of `steps` are in the base.
    released: usize,
    /// The last base node and its sequence id.
    last_base: (String, u64),
    /// The last message sent, resent until the state confirms it.
    message: Option<Order>,
    confirmed: bool,
    next_resend: Option<Ms>,
}

impl ActiveOrder {
    fn fully_released(&self) -> bool {
        self.released >= self.steps.len()
    }
}

/// A new plan that waits for the vehicle to cancel its current order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Waiting {
    plan_id: u64,
    steps: Vec<CommandStep>,
    cancel_action: String,
    /// When the `cancelOrder` is sent again if no state has shown it yet.
    next_resend: Ms,
}

/// What the master control knows about one vehicle.
#[derive(Clone, Debug, Default)]
struct Link {
    /// The last headerId received, per topic.
    header_in: BTreeMap<TopicKind, u64>,
    /// Times of the messages accepted within the last second.
    recent: VecDeque<Ms>,
    link_lost: bool,
    /// The last report built from a state.
    last_report: Option<VehicleReport>,
    /// The last report handed to the core.
    forwarded: Option<VehicleReport>,
    last_state: Option<State>,
    factsheet: Option<Factsheet>,
    order: Option<ActiveOrder>,
    waiting: Option<Waiting>,
    /// The last headerId sent, per topic.
    header_out: BTreeMap<TopicKind, u64>,
    next_instant: u64,
    /// Handed over to another master control: nothing is published to the
    /// vehicle any more, but its states are still read.
    given_up: bool,
}

/// What a master control keeps of one vehicle over a restart: the order it
/// is executing and a new plan waiting for a cancel, the last headerIds it
/// sent, and whether it handed the vehicle over. The rest of its memory
/// (the last state, the headerIds received, the link) comes back with the
/// vehicle's next messages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptLink {
    order: Option<ActiveOrder>,
    waiting: Option<Waiting>,
    order_header: Option<u64>,
    instant_header: Option<u64>,
    next_instant: u64,
    given_up: bool,
}

/// What a master control keeps over a restart, per vehicle
/// ([`Master::kept`], [`Master::restore_kept`]).
pub type Kept = BTreeMap<String, KeptLink>;

/// The master control: sans-IO, for a known fleet of vehicles.
pub struct Master {
    map: Shared<LaneMap>,
    config: MasterConfig,
    map_id: String,
    vehicles: BTreeMap<String, Link>,
    outbox: VecDeque<Publish>,
}

impl Master {
    /// A master control for the vehicles named in `fleet` (serial numbers).
    pub fn new(map: Shared<LaneMap>, config: MasterConfig, fleet: &[String]) -> Master {
        let map_id = if config.map_id.is_empty() {
            map.name.clone()
        } else {
            config.map_id.clone()
        };
        Master {
            vehicles: fleet.iter().map(|s| (s.clone(), Link::default())).collect(),
            map,
            config,
            map_id,
            outbox: VecDeque::new(),
        }
    }

    /// What must outlive a restart of the master control, per vehicle of
    /// the fleet: store it before publishing what it sent since the last
    /// time, and give it to [`Master::restore_kept`] of a new one.
    pub fn kept(&self) -> Kept {
        self.vehicles
            .iter()
            .map(|(serial, l)| {
                let kept = KeptLink {
                    order: l.order.clone(),
                    waiting: l.waiting.clone(),
                    order_header: l.header_out.get(&TopicKind::Order).copied(),
                    instant_header: l.header_out.get(&TopicKind::InstantActions).copied(),
                    next_instant: l.next_instant,
                    given_up: l.given_up,
                };
                (serial.clone(), kept)
            })
            .collect()
    }

    /// Continues from what an earlier master control kept: each vehicle's
    /// order, headerIds and hand-over as they were. An order or a cancel
    /// not yet confirmed is resent at its stored time (at once if that has
    /// passed). Vehicles outside the fleet are ignored.
    pub fn restore_kept(&mut self, kept: Kept) {
        for (serial, k) in kept {
            let Some(link) = self.vehicles.get_mut(&serial) else {
                continue;
            };
            link.order = k.order;
            link.waiting = k.waiting;
            link.header_out.clear();
            if let Some(h) = k.order_header {
                link.header_out.insert(TopicKind::Order, h);
            }
            if let Some(h) = k.instant_header {
                link.header_out.insert(TopicKind::InstantActions, h);
            }
            link.next_instant = k.next_instant;
            link.given_up = k.given_up;
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &MasterConfig {
        &self.config
    }

    /// The topic filters to subscribe to, with their QoS: every vehicle's
    /// `state`, `connection` and `factsheet`.
    pub fn subscriptions(&self) -> Vec<(String, Qos)> {
        let base = format!(
            "{}/{}/{}/+",
            self.config.interface_name,
            self.config.version.topic_segment(),
            self.config.manufacturer
        );
        vec![
            (format!("{base}/state"), Qos::AtMostOnce),
            (format!("{base}/connection"), Qos::AtLeastOnce),
            (format!("{base}/factsheet"), Qos::AtMostOnce),
        ]
    }

    /// What a vehicle's factsheet said, once it has sent one.
    pub fn factsheet(&self, vehicle: &str) -> Option<FactsheetSummary> {
        let f = self.vehicles.get(vehicle)?.factsheet.as_ref()?;
        let p = &f.physical_parameters;
        Some(FactsheetSummary {
            series_name: f.type_specification.series_name.clone(),
            speed_min_mps: p.speed_min,
            speed_max_mps: p.speed_max,
            acceleration_max_mps2: p.acceleration_max,
            deceleration_max_mps2: p.deceleration_max,
            length_m: p.length,
            width_m: p.width,
        })
    }

    /// The whole factsheet a vehicle sent, if any.
    pub fn factsheet_message(&self, vehicle: &str) -> Option<&Factsheet> {
        self.vehicles.get(vehicle)?.factsheet.as_ref()
    }

    /// The last state a vehicle sent, if any.
    pub fn last_state(&self, vehicle: &str) -> Option<&State> {
        self.vehicles.get(vehicle)?.last_state.as_ref()
    }

    /// Reads one inbound message. Returns the core inputs it gives (none,
    /// when nothing the core cares about changed), or why it was rejected,
    /// in which case nothing changed.
    pub fn handle_message(
        &mut self,
        now: Ms,
        topic_name: &str,
        payload: &[u8],
    ) -> Result<Vec<Input>, Rejected> {
        let reject = |vehicle: Option<&str>, reason: RejectReason| Rejected {
            vehicle: vehicle.map(str::to_string),
            topic: topic_name.to_string(),
            reason,
        };
        if payload.len() > self.config.max_payload_bytes {
            return Err(reject(
                None,
                RejectReason::PayloadTooLarge {
                    size: payload.len(),
                    max: self.config.max_payload_bytes,
                },
            ));
        }
        let Some(t) = Topic::split(topic_name) else {
            return Err(reject(
                None,
                RejectReason::UnknownTopic {
                    expected: self.config.interface_name.clone(),
                },
            ));
        };
        if t.interface_name != self.config.interface_name {
            return Err(reject(
                None,
                RejectReason::UnknownTopic {
                    expected: self.config.interface_name.clone(),
                },
            ));
        }
        let kind = match TopicKind::parse(t.kind) {
            Some(k @ (TopicKind::State | TopicKind::Connection | TopicKind::Factsheet)) => k,
            _ => {
                return Err(reject(
                    None,
                    RejectReason::UnknownTopicKind(t.kind.to_string()),
                ));
            }
        };
        if t.manufacturer != self.config.manufacturer
            || !self.vehicles.contains_key(t.serial_number)
        {
            return Err(reject(
                None,
                RejectReason::UnknownVehicle {
                    manufacturer: t.manufacturer.to_string(),
                    serial: t.serial_number.to_string(),
                },
            ));
        }
        let serial = t.serial_number.to_string();
        let who = Some(serial.as_str());
        let message = Inbound::parse(kind, payload).map_err(|r| reject(who, r))?;
        let header = message.header();
        if !header.version.starts_with("2.") {
            return Err(reject(
                who,
                RejectReason::UnsupportedVersion(header.version.to_string()),
            ));
        }
        if header.manufacturer != t.manufacturer {
            return Err(reject(
                who,
                RejectReason::IdentityMismatch {
                    field: "manufacturer",
                    payload: header.manufacturer.to_string(),
                    topic: t.manufacturer.to_string(),
                },
            ));
        }
        if header.serial_number != t.serial_number {
            return Err(reject(
                who,
                RejectReason::IdentityMismatch {
                    field: "serialNumber",
                    payload: header.serial_number.to_string(),
                    topic: t.serial_number.to_string(),
                },
            ));
        }
        if let Some(ts) = header.timestamp {
            let Some(at) = parse_timestamp(ts) else {
                return Err(reject(who, RejectReason::BadTimestamp(ts.to_string())));
            };
            // A last will is published by the broker when the link breaks,
            // with the timestamp the vehicle wrote when it connected: it may
            // be old, but never from the future.
            let last_will = matches!(&message, Inbound::Connection(c) if c.connection_state == ConnectionState::Connectionbroken);
            let skew = if last_will {
                at.saturating_sub(now)
            } else {
                at.abs_diff(now)
            };
            if skew > self.config.max_clock_skew_ms {
                return Err(reject(
                    who,
                    RejectReason::ClockSkew {
                        timestamp: ts.to_string(),
                        skew_ms: skew,
                        max_ms: self.config.max_clock_skew_ms,
                    },
                ));
            }
        }
        let link = self.vehicles.get(&serial).expect("checked above");
        // A vehicle that comes online starts a new session and may count
        // its headerIds from zero again.
        let new_session = matches!(&message, Inbound::Connection(c) if c.connection_state == ConnectionState::Online);
        if let (Some(id), Some(&last)) = (header.header_id, link.header_in.get(&kind))
            && id < last
            && !new_session
        {
            return Err(reject(
                who,
                RejectReason::HeaderIdBackwards { last, got: id },
            ));
        }
        let within = link
            .recent
            .iter()
            .filter(|&&t| t.saturating_add(1000) > now && t <= now)
            .count();
        if within >= self.config.max_messages_per_second as usize {
            return Err(reject(
                who,
                RejectReason::Flood {
                    limit: self.config.max_messages_per_second,
                },
            ));
        }
        // Content checks that need the map, before anything changes.
        let located = match &message {
            Inbound::State(s) => Some(self.locate(s).map_err(|r| reject(who, r))?),
            _ => None,
        };
        let header_id = header.header_id;
        // Accepted: from here on the message changes the master's view.
        let link = self.vehicles.get_mut(&serial).expect("checked above");
        link.recent
            .retain(|&t| t.saturating_add(1000) > now && t <= now);
        link.recent.push_back(now);
        if new_session {
            link.header_in.clear();
        }
        if let Some(id) = header_id {
            link.header_in.insert(kind, id);
        }
        let inputs = match message {
            Inbound::State(state) => {
                self.on_state(now, &serial, *state, located.unwrap_or_default())
            }
            Inbound::Connection(c) => self.on_connection(&serial, c.connection_state),
            Inbound::Factsheet(f) => {
                link.factsheet = Some(*f);
                Vec::new()
            }
        };
        Ok(inputs)
    }

    /// The node a state places the vehicle at: its lastNodeId if that is a
    /// node of the map, else the node nearest its reported position.
    fn locate(&self, s: &State) -> Result<String, RejectReason> {
        if self.map.node_by_id(&s.last_node_id).is_some() {
            return Ok(s.last_node_id.clone());
        }
        let matched = s
            .agv_position
            .as_ref()
            .filter(|p| p.position_initialized)
            .and_then(|p| self.map.spatial().nearest_node(Point::new(p.x, p.y)))
            .filter(|(_, d)| *d <= self.config.map_match_max_m);
        match matched {
            Some((n, _)) => Ok(self.map.node(n).id.clone()),
            None => Err(RejectReason::UnknownNode {
                last_node_id: s.last_node_id.clone(),
                max_m: self.config.map_match_max_m,
            }),
        }
    }

    fn on_state(&mut self, now: Ms, serial: &str, state: State, node: String) -> Vec<Input> {
        let link = self.vehicles.get_mut(serial).expect("known vehicle");
        // Which core plan and step the vehicle's progress belongs to.
        let seq = state.last_node_sequence_id;
        let (plan_id, last_step) = match &link.order {
            Some(o) if o.order_id == state.order_id => {
                match o.segments.iter().rev().find(|s| s.first_seq <= seq) {
                    Some(s) => (Some(s.plan_id), Some(((seq - s.first_seq) / 2) as usize)),
                    // An order taken over: the vehicle has not reached the
                    // node this side's plan starts at.
                    None => (o.segments.first().map(|s| s.plan_id), None),
                }
            }
            _ => match order::plan_id(&state.order_id) {
                Some(p) => (Some(p), Some((seq / 2) as usize)),
                None => (None, None),
            },
        };
        let finished_actions: Vec<u64> = {
            let mut v: Vec<u64> = state
                .action_states
                .iter()
                .filter(|a| a.action_status == ActionStatus::Finished)
                .filter_map(|a| core_action_id(&a.action_id))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let report = VehicleReport {
            vehicle: serial.to_string(),
            plan_id,
            last_step,
            last_node: node,
            driving: state.driving,
            battery_pct: state.battery_state.battery_charge,
            loaded: state.loads.as_ref().is_some_and(|l| !l.is_empty()),
            broken: state
                .errors
                .iter()
                .any(|e| e.error_level == ErrorLevel::Fatal),
            link_lost: link.link_lost,
            finished_actions,
        };
        // The order is confirmed once the state carries it.
        if let Some(o) = link.order.as_mut()
            && o.order_id == state.order_id
            && state.order_update_id >= o.update_id
        {
            o.confirmed = true;
            o.next_resend = None;
        }
        let cancelled = link.waiting.as_ref().is_some_and(|w| {
            let cancel_done = state.action_states.iter().any(|a| {
                a.action_id == w.cancel_action
                    && matches!(
                        a.action_status,
                        ActionStatus::Finished | ActionStatus::Failed
                    )
            });
            cancel_done || idle(&state)
        });
        let mut report = report;
        let stands_at_start = link
            .waiting
            .as_ref()
            .and_then(|w| w.steps.first())
            .is_some_and(|first| first.node == report.last_node);
        link.last_state = Some(state);
        if cancelled && let Some(w) = link.waiting.take() {
            if stands_at_start {
                self.send_new_order(now, serial, w.plan_id, w.steps);
            } else {
                // The vehicle stopped somewhere the new plan does not start:
                // an order from there would be refused. The core is told
                // the vehicle is off that plan, and plans again from where
                // it stands.
                link.order = None;
                report.plan_id = Some(w.plan_id);
                report.last_step = Some(0);
            }
        }
        if let Some(link) = self.vehicles.get_mut(serial) {
            link.last_report = Some(report.clone());
        }
        self.forward(serial, report)
    }

    /// Hands a report to the core if something the core looks at changed
    /// since the last one: the node, the plan step, driving, load, faults,
    /// the link or finished actions. Battery changes alone ride along with
    /// the next report.
    fn forward(&mut self, serial: &str, report: VehicleReport) -> Vec<Input> {
        let link = self.vehicles.get_mut(serial).expect("known vehicle");
        let same = link.forwarded.as_ref().is_some_and(|f| {
            f.plan_id == report.plan_id
                && f.last_step == report.last_step
                && f.last_node == report.last_node
                && f.driving == report.driving
                && f.loaded == report.loaded
                && f.broken == report.broken
                && f.link_lost == report.link_lost
                && f.finished_actions == report.finished_actions
                && (f.battery_pct - report.battery_pct).abs() < 1.0
        });
        if same {
            return Vec::new();
        }
        link.forwarded = Some(report.clone());
        vec![Input::State(report)]
    }

    /// A lost link is reported at once, at the last known node; a link
    /// that is back is reported with the vehicle's next state, which says
    /// where it is now (it may have driven on along its base meanwhile).
    fn on_connection(&mut self, serial: &str, state: ConnectionState) -> Vec<Input> {
        let link = self.vehicles.get_mut(serial).expect("known vehicle");
        let lost = state != ConnectionState::Online;
        if link.link_lost == lost {
            return Vec::new();
        }
        link.link_lost = lost;
        if !lost {
            return Vec::new();
        }
        let Some(mut report) = link.last_report.clone() else {
            return Vec::new();
        };
        report.link_lost = true;
        // Treated as stopped where it was last seen.
        report.driving = false;
        link.last_report = Some(report.clone());
        self.forward(serial, report)
    }

    /// Turns one core command into orders or instant actions. A command to
    /// a vehicle handed over to another master control is dropped.
    pub fn handle_command(&mut self, now: Ms, command: &Command) {
        let vehicle = match command {
            Command::Drive { vehicle, .. }
            | Command::Pause { vehicle }
            | Command::Resume { vehicle } => vehicle,
        };
        if self.vehicles.get(vehicle).is_some_and(|l| l.given_up) {
            return;
        }
        match command {
            Command::Drive {
                vehicle,
                plan_id,
                steps,
            } => self.on_drive(now, vehicle, *plan_id, steps),
            Command::Pause { vehicle } => {
                self.send_instant(now, vehicle, "startPause");
            }
            Command::Resume { vehicle } => {
                self.send_instant(now, vehicle, "stopPause");
            }
        }
    }

    fn on_drive(&mut self, now: Ms, vehicle: &str, plan_id: u64, steps: &[CommandStep]) {
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        let Some(first) = steps.first() else {
            return;
        };
        let completed = link.order.as_ref().is_none_or(|o| {
            o.fully_released()
                && link.last_state.as_ref().is_some_and(|s| {
                    s.order_id == o.order_id
                        && s.order_update_id >= o.update_id
                        && s.last_node_sequence_id >= o.last_base.1
                        && idle(s)
                })
        });
        if link.waiting.is_some() {
            // Still cancelling: the newest plan replaces the waiting one.
            if let Some(w) = link.waiting.as_mut() {
                w.plan_id = plan_id;
                w.steps = steps.to_vec();
            }
            return;
        }
        if completed {
            self.send_new_order(now, vehicle, plan_id, steps.to_vec());
            return;
        }
        let stitches = link
            .order
            .as_ref()
            .is_some_and(|o| o.last_base.0 == first.node && first.action.is_none());
        if stitches {
            self.send_update(now, vehicle, Some((plan_id, steps.to_vec())));
            return;
        }
        // The base cannot change: cancel, and send the new order once the
        // vehicle has stopped.
        let cancel = self.send_instant(now, vehicle, "cancelOrder");
        if let Some(link) = self.vehicles.get_mut(vehicle) {
            link.waiting = Some(Waiting {
                plan_id,
                steps: steps.to_vec(),
                cancel_action: cancel,
                next_resend: now.saturating_add(self.config.resend_ms.max(1)),
            });
        }
    }

    fn next_header(link: &mut Link, kind: TopicKind) -> u64 {
        let h = link.header_out.entry(kind).or_insert(0);
        let id = *h;
        *h += 1;
        id
    }

    fn send_new_order(&mut self, now: Ms, vehicle: &str, plan_id: u64, steps: Vec<CommandStep>) {
        let lead = self.config.release_lead_ms;
        let released = released_count(&steps, now, lead);
        let last = steps.get(released.saturating_sub(1));
        let last_base = (
            last.map(|s| s.node.clone()).unwrap_or_default(),
            2 * released.saturating_sub(1) as u64,
        );
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        link.order = Some(ActiveOrder {
            order_id: order::order_id(plan_id),
            update_id: 0,
            segments: vec![Segment {
                plan_id,
                first_seq: 0,
            }],
            steps,
            released,
            last_base,
            message: None,
            confirmed: false,
            next_resend: None,
        });
        self.publish_order(now, vehicle, 0, true);
    }

    /// Sends an order update: with a new plan stitched at the last base
    /// node, or (with `None`) the current plan released further.
    fn send_update(&mut self, now: Ms, vehicle: &str, plan: Option<(u64, Vec<CommandStep>)>) {
        let lead = self.config.release_lead_ms;
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        let Some(o) = link.order.as_mut() else {
            return;
        };
        let from;
        if let Some((plan_id, steps)) = plan {
            o.segments.push(Segment {
                plan_id,
                first_seq: o.last_base.1,
            });
            o.steps = steps;
            o.released = released_count(&o.steps, now, lead);
            from = 0;
        } else {
            from = o.released.saturating_sub(1);
            o.released = released_count(&o.steps, now, lead);
        }
        let first_seq = o.segments.last().map_or(0, |s| s.first_seq);
        if let Some(s) = o.steps.get(o.released.saturating_sub(1)) {
            o.last_base = (
                s.node.clone(),
                first_seq.saturating_add(2 * (o.released.saturating_sub(1)) as u64),
            );
        }
        o.update_id += 1;
        self.publish_order(now, vehicle, from, false);
    }

    /// Builds and queues the order message of the current order, from step
    /// `from` of the current plan on.
    fn publish_order(&mut self, now: Ms, vehicle: &str, from: usize, first_actions: bool) {
        let version = self.config.version;
        let topic_name = self.topic(vehicle, TopicKind::Order);
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        let header_id = Self::next_header(link, TopicKind::Order);
        let Some(o) = link.order.as_mut() else {
            return;
        };
        let first_seq = o
            .segments
            .last()
            .map_or(0, |s| s.first_seq)
            .saturating_add(2 * from as u64);
        let steps = o.steps.get(from..).unwrap_or_default();
        let (nodes, edges) = nodes_and_edges(
            &self.map,
            &self.map_id,
            steps,
            first_seq,
            o.released.saturating_sub(from),
            first_actions,
        );
        let message = Order {
            header_id,
            timestamp: format_timestamp(now),
            version: version.as_str().to_string(),
            manufacturer: self.config.manufacturer.clone(),
            serial_number: vehicle.to_string(),
            order_id: o.order_id.clone(),
            order_update_id: o.update_id,
            nodes,
            edges,
        };
        let payload = serde_json::to_vec(&message).unwrap_or_default();
        o.message = Some(message);
        o.confirmed = false;
        o.next_resend = Some(now.saturating_add(self.config.resend_ms.max(1)));
        self.outbox.push_back(Publish {
            topic: topic_name,
            payload,
            qos: Qos::AtMostOnce,
            retain: false,
        });
    }

    /// Queues one instant action and returns its action id.
    fn send_instant(&mut self, now: Ms, vehicle: &str, action_type: &str) -> String {
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return String::new();
        };
        let action_id = format!("{action_type}-{}", link.next_instant);
        link.next_instant += 1;
        self.publish_instant(now, vehicle, action_type, &action_id);
        action_id
    }

    /// Queues an instant action with a given action id.
    fn publish_instant(&mut self, now: Ms, vehicle: &str, action_type: &str, action_id: &str) {
        let version = self.config.version;
        let topic_name = self.topic(vehicle, TopicKind::InstantActions);
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        let header_id = Self::next_header(link, TopicKind::InstantActions);
        let action_id = action_id.to_string();
        let message = InstantActions {
            header_id,
            timestamp: format_timestamp(now),
            version: version.as_str().to_string(),
            manufacturer: self.config.manufacturer.clone(),
            serial_number: vehicle.to_string(),
            actions: vec![Action {
                action_type: action_type.to_string(),
                action_name: (version == ProtocolVersion::V2_0).then(|| action_type.to_string()),
                action_id: action_id.clone(),
                action_description: None,
                blocking_type: BlockingType::Hard,
                action_parameters: Vec::new(),
            }],
        };
        self.outbox.push_back(Publish {
            topic: topic_name,
            payload: serde_json::to_vec(&message).unwrap_or_default(),
            qos: Qos::AtMostOnce,
            retain: false,
        });
    }

    fn topic(&self, vehicle: &str, kind: TopicKind) -> String {
        topic(
            &self.config.interface_name,
            self.config.version,
            &self.config.manufacturer,
            vehicle,
            kind,
        )
    }

    /// Releases what the plans allow by `now` and resends unconfirmed
    /// orders.
    pub fn handle_timeout(&mut self, now: Ms) {
        let lead = self.config.release_lead_ms;
        let serials: Vec<String> = self.vehicles.keys().cloned().collect();
        for serial in serials {
            let Some(link) = self.vehicles.get(&serial).filter(|l| !l.given_up) else {
                continue;
            };
            if let Some(w) = link.waiting.as_ref() {
                // The cancel may have been lost: send it again.
                if w.next_resend <= now {
                    let id = w.cancel_action.clone();
                    self.publish_instant(now, &serial, "cancelOrder", &id);
                    let next = now.saturating_add(self.config.resend_ms.max(1));
                    if let Some(w) = self
                        .vehicles
                        .get_mut(&serial)
                        .and_then(|l| l.waiting.as_mut())
                    {
                        w.next_resend = next;
                    }
                }
                continue;
            }
            let Some(o) = link.order.as_ref() else {
                continue;
            };
            if !o.steps.is_empty() && released_count(&o.steps, now, lead) > o.released {
                self.send_update(now, &serial, None);
                continue;
            }
            if !o.confirmed && o.next_resend.is_some_and(|t| t <= now) {
                self.resend(now, &serial);
            }
        }
    }

    fn resend(&mut self, now: Ms, vehicle: &str) {
        let topic_name = self.topic(vehicle, TopicKind::Order);
        let resend_ms = self.config.resend_ms.max(1);
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        let header_id = Self::next_header(link, TopicKind::Order);
        let Some(o) = link.order.as_mut() else {
            return;
        };
        let Some(m) = o.message.as_mut() else {
            return;
        };
        m.header_id = header_id;
        m.timestamp = format_timestamp(now);
        let payload = serde_json::to_vec(&*m).unwrap_or_default();
        o.next_resend = Some(now.saturating_add(resend_ms));
        self.outbox.push_back(Publish {
            topic: topic_name,
            payload,
            qos: Qos::AtMostOnce,
            retain: false,
        });
    }

    /// The next message to publish, in the order they were made.
    pub fn poll_publish(&mut self) -> Option<Publish> {
        self.outbox.pop_front()
    }

    /// When the master next wants `handle_timeout`: the next release of a
    /// plan step or resend of an order.
    pub fn poll_timeout(&self) -> Option<Ms> {
        let lead = self.config.release_lead_ms;
        let cancels = self
            .vehicles
            .values()
            .filter(|l| !l.given_up)
            .filter_map(|l| l.waiting.as_ref().map(|w| w.next_resend));
        self.vehicles
            .values()
            .filter(|l| l.waiting.is_none() && !l.given_up)
            .filter_map(|l| l.order.as_ref())
            .flat_map(|o| {
                let release =
                    (o.released < o.steps.len()).then(|| release_time(&o.steps, o.released, lead));
                let resend = if o.confirmed { None } else { o.next_resend };
                [release, resend]
            })
            .flatten()
            .chain(cancels)
            .min()
    }

    /// Where a vehicle's order stands, for a hand-over to another master
    /// control.
    pub fn order_state(&self, vehicle: &str) -> Option<OrderState> {
        let link = self.vehicles.get(vehicle)?;
        let o = link.order.as_ref()?;
        Some(OrderState {
            order_id: o.order_id.clone(),
            order_update_id: o.update_id,
            last_base_node: o.last_base.0.clone(),
            last_base_sequence_id: o.last_base.1,
            order_header_id: link
                .header_out
                .get(&TopicKind::Order)
                .map_or(0, |h| h.saturating_sub(1)),
            instant_actions_header_id: link
                .header_out
                .get(&TopicKind::InstantActions)
                .map_or(0, |h| h.saturating_sub(1)),
            plan_id: o.segments.last().map(|s| s.plan_id),
            fully_released: o.fully_released(),
        })
    }

    /// Takes over a vehicle's order from another master control: the next
    /// plan for it that starts at the last base node is sent as an update
    /// of that order, and headerIds continue from the ones given. Unknown
    /// vehicles are ignored.
    pub fn adopt(&mut self, vehicle: &str, state: OrderState) {
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        link.header_out
            .insert(TopicKind::Order, state.order_header_id.saturating_add(1));
        link.header_out.insert(
            TopicKind::InstantActions,
            state.instant_actions_header_id.saturating_add(1),
        );
        link.given_up = false;
        link.waiting = None;
        link.order = Some(ActiveOrder {
            order_id: state.order_id,
            update_id: state.order_update_id,
            segments: state
                .plan_id
                .map(|plan_id| Segment {
                    plan_id,
                    first_seq: 0,
                })
                .into_iter()
                .collect(),
            steps: Vec::new(),
            released: 0,
            last_base: (state.last_base_node, state.last_base_sequence_id),
            message: None,
            confirmed: true,
            next_resend: None,
        });
    }
}

impl Master {
    /// Hands a vehicle over to another master control at the end of its
    /// current plan (the border node): the rest of the plan is released at
    /// once with an order update, and from then on nothing is published to
    /// the vehicle (commands for it are dropped) while its states are still
    /// read. Returns where the order stands for the other side, `None` if
    /// the vehicle has no order (it is given up all the same).
    pub fn hand_over(&mut self, now: Ms, vehicle: &str) -> Option<OrderState> {
        let link = self.vehicles.get_mut(vehicle)?;
        link.waiting = None;
        let rest = link
            .order
            .as_ref()
            .is_some_and(|o| !o.steps.is_empty() && !o.fully_released());
        if rest {
            let o = link.order.as_mut().expect("checked above");
            let from = o.released.saturating_sub(1);
            o.released = o.steps.len();
            let first_seq = o.segments.last().map_or(0, |s| s.first_seq);
            if let Some(s) = o.steps.last() {
                o.last_base = (
                    s.node.clone(),
                    first_seq.saturating_add(2 * (o.steps.len() - 1) as u64),
                );
            }
            o.update_id += 1;
            self.publish_order(now, vehicle, from, false);
        }
        let state = self.order_state(vehicle);
        if let Some(link) = self.vehicles.get_mut(vehicle) {
            link.given_up = true;
            if let Some(o) = link.order.as_mut() {
                // Another master control confirms and resends from now on.
                o.confirmed = true;
                o.next_resend = None;
            }
        }
        state
    }

    /// Whether the vehicle has been handed over to another master control
    /// (and not taken back since).
    pub fn given_up(&self, vehicle: &str) -> bool {
        self.vehicles.get(vehicle).is_some_and(|l| l.given_up)
    }

    /// Takes a vehicle over from another master control in the middle of
    /// its order: the next plan for it, which starts at `border_node`, is
    /// sent as update `order_update_id + 1` of `order_id` with the border
    /// node's `border_sequence_id`, its headerId `next_header_id`. The
    /// vehicle's next state is handed to the core whatever it says.
    /// Unknown vehicles are ignored.
    pub fn take_over(
        &mut self,
        vehicle: &str,
        order_id: &str,
        order_update_id: u64,
        border_node: &str,
        border_sequence_id: u64,
        next_header_id: u64,
    ) {
        let Some(link) = self.vehicles.get_mut(vehicle) else {
            return;
        };
        link.given_up = false;
        link.waiting = None;
        link.forwarded = None;
        let own = link.header_out.get(&TopicKind::Order).copied().unwrap_or(0);
        link.header_out
            .insert(TopicKind::Order, next_header_id.max(own));
        link.order = Some(ActiveOrder {
            order_id: order_id.to_string(),
            update_id: order_update_id,
            segments: Vec::new(),
            steps: Vec::new(),
            released: 0,
            last_base: (border_node.to_string(), border_sequence_id),
            message: None,
            confirmed: true,
            next_resend: None,
        });
    }
}

/// Whether a state shows a vehicle with nothing left to do: no nodes to
/// go, no action waiting or running.
fn idle(s: &State) -> bool {
    s.node_states.is_empty()
        && s.action_states.iter().all(|a| {
            matches!(
                a.action_status,
                ActionStatus::Finished | ActionStatus::Failed
            )
        })
}

/// The header fields every inbound message has.
struct Header<'a> {
    header_id: Option<u64>,
    timestamp: Option<&'a str>,
    version: &'a str,
    manufacturer: &'a str,
    serial_number: &'a str,
}

/// A parsed inbound message.
enum Inbound {
    State(Box<State>),
    Connection(Connection),
    Factsheet(Box<Factsheet>),
}

impl Inbound {
    fn parse(kind: TopicKind, payload: &[u8]) -> Result<Inbound, RejectReason> {
        let r = match kind {
            TopicKind::State => {
                serde_json::from_slice(payload).map(|s| Inbound::State(Box::new(s)))
            }
            TopicKind::Connection => serde_json::from_slice(payload).map(Inbound::Connection),
            TopicKind::Factsheet => {
                serde_json::from_slice(payload).map(|f| Inbound::Factsheet(Box::new(f)))
            }
            other => return Err(RejectReason::UnknownTopicKind(other.as_str().to_string())),
        };
        r.map_err(|e| from_json_error(&e))
    }

    fn header(&self) -> Header<'_> {
        match self {
            Inbound::State(s) => Header {
                header_id: Some(s.header_id),
                timestamp: Some(&s.timestamp),
                version: &s.version,
                manufacturer: &s.manufacturer,
                serial_number: &s.serial_number,
            },
            Inbound::Connection(c) => Header {
                header_id: Some(c.header_id),
                timestamp: Some(&c.timestamp),
                version: &c.version,
                manufacturer: &c.manufacturer,
                serial_number: &c.serial_number,
            },
            Inbound::Factsheet(f) => Header {
                header_id: f.header_id,
                timestamp: f.timestamp.as_deref(),
                version: &f.version,
                manufacturer: &f.manufacturer,
                serial_number: &f.serial_number,
            },
        }
    }
}
