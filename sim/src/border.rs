//! The two orchestrators' link in a two-sided run: each side's handoff
//! desk (the protocol's state machines, its gate and its signing key) and
//! the in-memory bus between them, which behaves like the MQTT bridge
//! between the two sides' brokers: latency, jitter (so reordering), loss,
//! duplication and partitions, every draw from one seeded generator.
//!
//! A desk turns its core's [`CrossingOutput`]s into protocol calls and the
//! protocol's effects into the core's [`CrossingInput`]s; it decides
//! nothing itself.

use std::collections::{BTreeMap, VecDeque};

use borderlane_core::io::{Channel, CrossingInput, CrossingOutput};
use borderlane_handoff::{
    Admitted, ESeal, ESealState, Effect, Entry, Gate, GateConfig, HandoffConfig, Handoffs,
    OrderContinuation, RefusalReason, RollBack, SigningKey, Slot, sign,
};
use borderlane_model::{Ms, Side};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How the link between the two sides behaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkModel {
    /// The time a message takes from one side to the other, ms.
    pub latency_ms: Ms,
    /// A random extra delay of up to this much, ms; messages overtake one
    /// another when it is larger than the gap between them.
    pub jitter_ms: Ms,
    /// The chance that a message is lost.
    pub loss: f64,
    /// The chance that a message arrives twice.
    pub duplicate: f64,
    /// Periods when no message crosses: (from, until), ms.
    #[serde(skip)]
    pub partitions: Vec<(Ms, Ms)>,
}

impl Default for LinkModel {
    fn default() -> LinkModel {
        LinkModel {
            latency_ms: 40,
            jitter_ms: 20,
            loss: 0.0,
            duplicate: 0.0,
            partitions: Vec::new(),
        }
    }
}

/// What crossed the link, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    pub sent: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub partitioned: u64,
    pub delivered: u64,
    /// Messages the receiving gate refused (stale, out of order, forged).
    pub rejected: u64,
    /// Protocol calls the state machines refused (a commit after the
    /// window ended, say).
    pub protocol_errors: u64,
}

/// How the job and container ids of a vehicle crossing empty begin.
pub const EMPTY: &str = "empty-";

/// One side's handoff desk.
pub struct Desk {
    pub side: Side,
    pub handoffs: Handoffs,
    gate: Gate,
    key: SigningKey,
    /// The handoff each vehicle is in on this side, near or far.
    by_vehicle: BTreeMap<String, String>,
    /// The border node's id, for order continuations.
    border: String,
    /// The last envelopes signed and their signed bytes: a re-sent copy is
    /// the same envelope, and ed25519 signs it to the same bytes.
    signed: VecDeque<(String, Vec<u8>)>,
}

/// How many signed envelopes a desk remembers.
const SIGNED: usize = 64;

/// The signing key of a side in simulation: fixed, so runs repeat.
fn sim_key(side: Side) -> SigningKey {
    let (id, byte) = match side {
        Side::Vn => ("vn-sim", "5a"),
        Side::Cn => ("cn-sim", "c3"),
    };
    SigningKey::from_hex(id, &byte.repeat(32)).expect("a valid fixed key")
}

impl Desk {
    pub fn new(side: Side, border: &str) -> Desk {
        let config = HandoffConfig::new(side);
        Desk {
            side,
            handoffs: Handoffs::new(config).expect("the default handoff timing is valid"),
            gate: Gate::new(GateConfig::new(side), sim_key(side.other()).verifying_key()),
            key: sim_key(side),
            by_vehicle: BTreeMap::new(),
            border: border.to_string(),
            signed: VecDeque::new(),
        }
    }

    /// Hands the protocol what the core asked for. An error is a call the
    /// protocol refused; it changes nothing and is counted.
    pub fn call(&mut self, now: Ms, out: CrossingOutput) -> Result<(), String> {
        let handoff = |desk: &Desk, vehicle: &str| {
            desk.by_vehicle
                .get(vehicle)
                .cloned()
                .ok_or_else(|| format!("no handoff for vehicle {vehicle:?}"))
        };
        match out {
            CrossingOutput::Request {
                vehicle,
                job,
                container,
                channel,
                earliest_border_ms,
            } => {
                // A vehicle crossing empty carries no job and no
                // container; on the wire both name the crossing.
                let (job, container) = if job.is_empty() {
                    let id = format!("{EMPTY}{vehicle}-{now}");
                    (id.clone(), id)
                } else {
                    (job, container)
                };
                let entry = Entry {
                    vehicle: vehicle.clone(),
                    job,
                    manifest: format!("MF-{container}"),
                    e_seal: ESeal {
                        id: format!("ES-{container}"),
                        state: ESealState::Intact,
                    },
                    container,
                    sending_channel: channel,
                    inspection_result: matches!(channel, Channel::RedScan | Channel::RedInspection)
                        .then(|| "no findings".to_string()),
                    earliest_border_ms,
                };
                let id = self
                    .handoffs
                    .request(now, entry)
                    .map_err(|e| e.to_string())?;
                self.by_vehicle.insert(vehicle, id);
            }
            CrossingOutput::Commit { vehicle, border_ms } => {
                let id = handoff(self, &vehicle)?;
                let order = OrderContinuation {
                    order_id: format!("{vehicle}-{border_ms}"),
                    order_update_id: 0,
                    border_node: self.border.clone(),
                    border_sequence_id: 0,
                    next_header_id: 0,
                };
                self.handoffs
                    .commit(now, &id, order)
                    .map_err(|e| e.to_string())?;
            }
            CrossingOutput::Withdraw { vehicle, reason } => {
                let id = handoff(self, &vehicle)?;
                self.handoffs
                    .withdraw(now, &id, &reason)
                    .map_err(|e| e.to_string())?;
            }
            CrossingOutput::Grant {
                vehicle,
                at_ms,
                receiving_channel,
            } => {
                let id = handoff(self, &vehicle)?;
                let slot = Slot {
                    window_start_ms: at_ms,
                    window_end_ms: at_ms,
                    receiving_channel,
                };
                self.handoffs
                    .grant(now, &id, slot)
                    .map_err(|e| e.to_string())?;
            }
            CrossingOutput::Refuse { vehicle, reason } => {
                let id = handoff(self, &vehicle)?;
                self.handoffs
                    .refuse(now, &id, RefusalReason::NoCapacity, &reason)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// The signed messages to send, in order.
    pub fn transmit(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(e) = self.handoffs.poll_transmit() {
            let text = serde_json::to_string(&e).unwrap_or_default();
            if let Some((_, bytes)) = self.signed.iter().find(|(t, _)| *t == text) {
                out.push(bytes.clone());
                continue;
            }
            let bytes = sign(&self.key, &e);
            if self.signed.len() == SIGNED {
                self.signed.pop_front();
            }
            self.signed.push_back((text, bytes.clone()));
            out.push(bytes);
        }
        out
    }

    /// What the core must be told, in order.
    pub fn effects(&mut self) -> Vec<CrossingInput> {
        let mut inputs = Vec::new();
        while let Some(effect) = self.handoffs.poll_effect() {
            // An effect of a handoff the vehicle is no longer in (one its
            // core gave up and asked again) is over for the core.
            let current = match &effect {
                Effect::DecideEntry { .. } => true,
                Effect::Granted {
                    handoff, vehicle, ..
                }
                | Effect::KeepVehicle {
                    handoff, vehicle, ..
                }
                | Effect::Transferred {
                    handoff, vehicle, ..
                }
                | Effect::HoldSlot {
                    handoff, vehicle, ..
                }
                | Effect::CancelEntry { handoff, vehicle } => {
                    self.by_vehicle.get(vehicle) == Some(handoff)
                }
                Effect::Adopt { handoff, entry, .. } => {
                    self.by_vehicle.get(&entry.vehicle) == Some(handoff)
                }
            };
            if !current {
                continue;
            }
            let input = match effect {
                Effect::Granted { vehicle, slot, .. } => CrossingInput::Granted {
                    vehicle,
                    at_ms: slot.window_start_ms,
                },
                // The core withdrew it, so it knows.
                Effect::KeepVehicle {
                    why: RollBack::Withdrawn { .. },
                    ..
                } => continue,
                Effect::KeepVehicle { vehicle, why, .. } => CrossingInput::Kept {
                    vehicle,
                    reason: format!("{why:?}"),
                },
                Effect::Transferred { vehicle, .. } => CrossingInput::Transferred { vehicle },
                Effect::DecideEntry { handoff, entry } => {
                    self.by_vehicle.insert(entry.vehicle.clone(), handoff);
                    let empty = entry.job.starts_with(EMPTY);
                    let unless_empty = |s: String| if empty { String::new() } else { s };
                    CrossingInput::Entry {
                        vehicle: entry.vehicle,
                        job: unless_empty(entry.job),
                        container: unless_empty(entry.container),
                        channel: entry.sending_channel,
                        earliest_border_ms: entry.earliest_border_ms,
                    }
                }
                // Only after a restore, which a run does not do yet: the
                // core still holds the slot it granted.
                Effect::HoldSlot { .. } => continue,
                Effect::CancelEntry { vehicle, .. } => CrossingInput::Cancelled { vehicle },
                Effect::Adopt { entry, .. } => CrossingInput::Adopted {
                    vehicle: entry.vehicle,
                },
            };
            inputs.push(input);
        }
        inputs
    }

    /// Passes bytes from the other side through the gate into the
    /// protocol. `Err` names why the gate or the protocol refused them.
    pub fn receive(&mut self, now: Ms, bytes: &[u8]) -> Result<(), String> {
        let envelope = match self.gate.admit(now, bytes).map_err(|e| e.to_string())? {
            Admitted::New(e) | Admitted::Duplicate(e) => e,
        };
        self.handoffs
            .handle(now, &envelope)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The bus between the two desks.
pub struct Bus {
    model: LinkModel,
    rng: ChaCha8Rng,
    /// Messages in flight: (arrival, sequence) → (to side index, bytes).
    in_flight: BTreeMap<(Ms, u64), (usize, Vec<u8>)>,
    seq: u64,
    pub stats: LinkStats,
}

impl Bus {
    pub fn new(model: LinkModel, seed: u64) -> Bus {
        Bus {
            model,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xb0_5d_e5),
            in_flight: BTreeMap::new(),
            seq: 0,
            stats: LinkStats::default(),
        }
    }

    /// Sends a message to side `to` at `now`, through the link's faults.
    pub fn send(&mut self, now: Ms, to: usize, bytes: Vec<u8>) {
        self.stats.sent += 1;
        if self
            .model
            .partitions
            .iter()
            .any(|&(from, until)| from <= now && now < until)
        {
            self.stats.partitioned += 1;
            return;
        }
        if self.model.loss > 0.0 && self.rng.random_bool(self.model.loss.min(1.0)) {
            self.stats.lost += 1;
            return;
        }
        let copies =
            if self.model.duplicate > 0.0 && self.rng.random_bool(self.model.duplicate.min(1.0)) {
                self.stats.duplicated += 1;
                2
            } else {
                1
            };
        for _ in 0..copies {
            let jitter = if self.model.jitter_ms > 0 {
                self.rng.random_range(0..=self.model.jitter_ms)
            } else {
                0
            };
            self.seq += 1;
            self.in_flight.insert(
                (now + self.model.latency_ms + jitter, self.seq),
                (to, bytes.clone()),
            );
        }
    }

    /// When the next message arrives.
    pub fn next_arrival(&self) -> Option<Ms> {
        self.in_flight.first_key_value().map(|(&(t, _), _)| t)
    }

    /// The next message to arrive: (to side index, bytes).
    pub fn pop(&mut self) -> Option<(usize, Vec<u8>)> {
        self.in_flight.pop_first().map(|(_, m)| m)
    }
}
