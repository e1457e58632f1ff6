//! One side's handoff desk: the glue between a territory core and the
//! protocol.
//!
//! A [`Desk`] holds a side's [`Handoffs`], its [`Gate`] and its signing key.
//! It turns the core's [`CrossingOutput`]s into protocol calls, the
//! protocol's effects into the core's [`CrossingInput`]s, and what arrives
//! from the other side into protocol input through the gate. It decides
//! nothing itself, reads no clock and moves no bytes: the simulator's bus
//! and the live shell's MQTT client carry what [`Desk::transmit`] returns.

use std::collections::{BTreeMap, VecDeque};

use borderlane_core::io::{Channel, CrossingInput, CrossingOutput};
use borderlane_model::{Ms, Side};

use crate::{
    Admitted, ESeal, ESealState, Effect, Entry, Gate, GateConfig, HandoffConfig, HandoffError,
    Handoffs, OrderContinuation, RefusalReason, RollBack, SigningKey, Slot, VerifyingKey, sign,
};

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
    /// The order continuations of vehicles adopted, until taken.
    adopted: BTreeMap<String, OrderContinuation>,
}

/// How many signed envelopes a desk remembers.
const SIGNED: usize = 64;

impl Desk {
    /// A desk for `config.me`, signing with `key` and admitting only what
    /// `peer` (the other side's public key) signed. `border` is the id of
    /// the border node vehicles leave this side by, for order
    /// continuations.
    pub fn new(
        config: HandoffConfig,
        key: SigningKey,
        peer: VerifyingKey,
        border: &str,
    ) -> Result<Desk, HandoffError> {
        let side = config.me;
        Ok(Desk {
            side,
            handoffs: Handoffs::new(config)?,
            gate: Gate::new(GateConfig::new(side), peer),
            key,
            by_vehicle: BTreeMap::new(),
            border: border.to_string(),
            signed: VecDeque::new(),
            adopted: BTreeMap::new(),
        })
    }

    /// A desk continuing from a stored snapshot after a restart: the
    /// protocol's records through [`Handoffs::restore`] (retries resume at
    /// their stored times), each vehicle's current handoff taken from the
    /// latest record of it. The records' standing effects stay queued in
    /// `handoffs` for the caller to take or drop.
    pub fn restore(
        config: HandoffConfig,
        key: SigningKey,
        peer: VerifyingKey,
        border: &str,
        snapshot: crate::Snapshot,
    ) -> Result<Desk, HandoffError> {
        let side = config.me;
        let handoffs = Handoffs::restore(config, snapshot)?;
        let mut records: Vec<_> = handoffs.records().collect();
        records.sort_by_key(|r| r.number);
        let by_vehicle = records
            .into_iter()
            .map(|r| (r.entry.vehicle.clone(), r.id.clone()))
            .collect();
        Ok(Desk {
            side,
            handoffs,
            gate: Gate::new(GateConfig::new(side), peer),
            key,
            by_vehicle,
            border: border.to_string(),
            signed: VecDeque::new(),
            // A continuation is taken by the station as soon as its
            // adoption comes out, so none waits across a restart.
            adopted: BTreeMap::new(),
        })
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
                // The simulator's vehicles take no VDA 5050 order: a
                // continuation that names the crossing stands in for it.
                let order = OrderContinuation {
                    order_id: format!("{vehicle}-{border_ms}"),
                    order_update_id: 0,
                    border_node: self.border.clone(),
                    border_sequence_id: 0,
                    next_header_id: 0,
                };
                self.commit(now, &vehicle, order)?;
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

    /// Commits the handover of `vehicle` with the continuation of its
    /// VDA 5050 order: what [`Desk::call`] does with a `Commit`, for a side
    /// whose vehicles execute real orders.
    pub fn commit(
        &mut self,
        now: Ms,
        vehicle: &str,
        order: OrderContinuation,
    ) -> Result<(), String> {
        let id = self
            .by_vehicle
            .get(vehicle)
            .cloned()
            .ok_or_else(|| format!("no handoff for vehicle {vehicle:?}"))?;
        self.handoffs
            .commit(now, &id, order)
            .map_err(|e| e.to_string())
    }

    /// The order continuation the other side handed `vehicle` over with,
    /// once [`Desk::effects`] has given its adoption; taken once.
    pub fn take_continuation(&mut self, vehicle: &str) -> Option<OrderContinuation> {
        self.adopted.remove(vehicle)
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
                Effect::Adopt { entry, order, .. } => {
                    self.adopted.insert(entry.vehicle.clone(), order);
                    CrossingInput::Adopted {
                        vehicle: entry.vehicle,
                    }
                }
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
