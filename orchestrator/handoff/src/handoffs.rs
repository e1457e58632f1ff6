//! All handoffs of one side: the protocol's two state machines, sans-IO.
//!
//! The caller (the shell) owns the clock, the gate, the keys, the store and
//! the broker. It feeds the container admitted envelopes
//! ([`Handoffs::handle`]), the local core's decisions ([`Handoffs::request`],
//! [`Handoffs::commit`], [`Handoffs::withdraw`], [`Handoffs::grant`],
//! [`Handoffs::refuse`]) and wake-ups ([`Handoffs::handle_timeout`]), each
//! with `now`. After every call it first persists what changed
//! ([`Handoffs::take_changed`] and [`Handoffs::get`], or the whole
//! [`Handoffs::snapshot`]), and only then drains [`Handoffs::poll_transmit`]
//! (envelopes to sign and publish) and [`Handoffs::poll_effect`] (what the
//! local core must do), and asks [`Handoffs::poll_timeout`] when to wake the
//! container next. A crash at any point therefore loses nothing that was
//! sent: a message leaves only after the state it depends on is stored, and
//! every message that may be lost is re-sent from the stored state.
//!
//! Who commands a vehicle, that is, who may write its VDA 5050 order topic,
//! as each side's records tell ([`Handoffs::controller`]):
//!
//! | near side | far side | commands the vehicle |
//! | --- | --- | --- |
//! | requested, granted, rolled back | (none), deciding, granted, refused, withdrawn | near |
//! | handed over (handover sent) | granted (handover not yet received) | nobody: the vehicle drives its released base to the border node and stops there |
//! | handed over | adopted (handover received) | far |
//! | transferred | adopted, closed | far |
//!
//! The near side stops commanding the instant it commits the vehicle and
//! sends the handover; the far side starts when the handover reaches it. A
//! container's custody moves the same way, so it is held by at most one
//! side at every instant and, while the handover is in flight, recorded by
//! the near side as handing over.

use std::collections::{BTreeMap, BTreeSet};

use borderlane_model::{Ms, Side};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::gate::VERSION;
use crate::message::{Body, Envelope, OrderContinuation, side_name};
use crate::record::{
    Entry, FarPhase, HandoffRecord, Holder, NearPhase, Out, Pace, Phase, RollBack, Slot,
};

/// Timing of one side's handoffs. The defaults suit a gate whose messages
/// live 120 s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffConfig {
    /// The side these handoffs belong to.
    pub me: Side,
    /// The first wait before a message is re-sent, ms.
    pub retry_initial_ms: Ms,
    /// The longest wait between re-sends (the wait doubles up to it), ms.
    pub retry_max_ms: Ms,
    /// How long the near side waits for a grant or a refusal before it
    /// gives up and keeps the vehicle, ms from the first entry request.
    pub request_deadline_ms: Ms,
    /// How long the far side's core may take to decide before the request
    /// is refused with `noCapacity`, ms.
    pub decide_deadline_ms: Ms,
    /// A copy re-sent this long after the last copy carries a fresh
    /// `sentMs`, ms. Less than the receiving gate's maximum age.
    pub refresh_after_ms: Ms,
    /// How long a finished handoff is kept to answer late copies, ms.
    pub linger_ms: Ms,
}

impl HandoffConfig {
    pub fn new(me: Side) -> HandoffConfig {
        HandoffConfig {
            me,
            retry_initial_ms: 1_000,
            retry_max_ms: 8_000,
            request_deadline_ms: 30_000,
            decide_deadline_ms: 10_000,
            refresh_after_ms: 60_000,
            linger_ms: 600_000,
        }
    }

    /// Checks that the timings can work together.
    pub fn check(&self) -> Result<(), HandoffError> {
        let bad = |detail: String| Err(HandoffError::Config(detail));
        if self.retry_initial_ms == 0 {
            return bad("retry_initial_ms must be more than 0".into());
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return bad(format!(
                "retry_max_ms ({}) must be at least retry_initial_ms ({})",
                self.retry_max_ms, self.retry_initial_ms
            ));
        }
        for (name, value) in [
            ("request_deadline_ms", self.request_deadline_ms),
            ("decide_deadline_ms", self.decide_deadline_ms),
            ("refresh_after_ms", self.refresh_after_ms),
        ] {
            if value == 0 {
                return bad(format!("{name} must be more than 0"));
            }
        }
        let least = self.request_deadline_ms + 2 * self.refresh_after_ms;
        if self.linger_ms < least {
            return bad(format!(
                "linger_ms ({}) must be at least request_deadline_ms + 2 × refresh_after_ms ({least})",
                self.linger_ms
            ));
        }
        Ok(())
    }

    fn pace(&self) -> Pace {
        Pace {
            initial_ms: self.retry_initial_ms,
            max_ms: self.retry_max_ms,
            refresh_after_ms: self.refresh_after_ms,
        }
    }
}

/// What the local core must do. Every effect names its handoff; a core
/// applies a repeated effect (after a restore) as no change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "effect", rename_all = "camelCase", deny_unknown_fields)]
pub enum Effect {
    /// Near side: the far side granted a slot. The core may release the
    /// vehicle up to the border node so that it passes it within the
    /// window, and then calls [`Handoffs::commit`]; until then the vehicle
    /// stops before the bridge.
    Granted {
        handoff: String,
        vehicle: String,
        slot: Slot,
    },
    /// Near side: the handoff is rolled back. The vehicle stays with this
    /// side and stops before the bridge.
    KeepVehicle {
        handoff: String,
        vehicle: String,
        why: RollBack,
    },
    /// Near side: the far side accepted. The vehicle, the container and the
    /// job are the far side's; drop their reservations.
    Transferred {
        handoff: String,
        vehicle: String,
        container: String,
    },
    /// Far side: decide on an entry request, answering with
    /// [`Handoffs::grant`] (after reserving the lane from the border node
    /// on) or [`Handoffs::refuse`].
    DecideEntry { handoff: String, entry: Entry },
    /// Far side, after a restore only: this side granted the slot and must
    /// keep it reserved until the handover or a withdrawal arrives.
    HoldSlot {
        handoff: String,
        vehicle: String,
        slot: Slot,
    },
    /// Far side: the request is over without a crossing (withdrawn, or not
    /// decided in time); drop its reservation or pending decision.
    CancelEntry { handoff: String, vehicle: String },
    /// Far side: the vehicle is handed over. From now on this side alone
    /// commands it: send the next order update of the same order
    /// (`orderUpdateId + 1`, headerId `nextHeaderId`), whose base starts at
    /// the border node with its `sequenceId`. Custody of the container and
    /// the job are this side's.
    Adopt {
        handoff: String,
        entry: Entry,
        slot: Slot,
        order: OrderContinuation,
    },
}

impl Effect {
    /// The handoff the effect belongs to.
    pub fn handoff(&self) -> &str {
        match self {
            Effect::Granted { handoff, .. }
            | Effect::KeepVehicle { handoff, .. }
            | Effect::Transferred { handoff, .. }
            | Effect::DecideEntry { handoff, .. }
            | Effect::HoldSlot { handoff, .. }
            | Effect::CancelEntry { handoff, .. }
            | Effect::Adopt { handoff, .. } => handoff,
        }
    }

    /// The effect a record stands for after a restore, so that a restarted
    /// core learns what it must keep doing.
    fn standing(rec: &HandoffRecord) -> Option<Effect> {
        match &rec.phase {
            Phase::Near(NearPhase::Granted) => rec.slot.map(|slot| Effect::granted(rec, slot)),
            Phase::Near(NearPhase::RolledBack(why)) => Some(Effect::keep(rec, why.clone())),
            Phase::Near(NearPhase::Transferred) => Some(Effect::transferred(rec)),
            Phase::Far(FarPhase::Deciding) => Some(Effect::decide(rec)),
            Phase::Far(FarPhase::Granted) => rec.slot.map(|slot| Effect::HoldSlot {
                handoff: rec.id.clone(),
                vehicle: rec.entry.vehicle.clone(),
                slot,
            }),
            Phase::Far(FarPhase::Adopted | FarPhase::Closed) => Effect::adopt(rec),
            Phase::Far(FarPhase::Withdrawn) => Some(Effect::cancel(rec)),
            Phase::Near(NearPhase::Requested | NearPhase::HandedOver)
            | Phase::Far(FarPhase::Refused) => None,
        }
    }

    pub(crate) fn granted(rec: &HandoffRecord, slot: Slot) -> Effect {
        Effect::Granted {
            handoff: rec.id.clone(),
            vehicle: rec.entry.vehicle.clone(),
            slot,
        }
    }

    pub(crate) fn keep(rec: &HandoffRecord, why: RollBack) -> Effect {
        Effect::KeepVehicle {
            handoff: rec.id.clone(),
            vehicle: rec.entry.vehicle.clone(),
            why,
        }
    }

    pub(crate) fn transferred(rec: &HandoffRecord) -> Effect {
        Effect::Transferred {
            handoff: rec.id.clone(),
            vehicle: rec.entry.vehicle.clone(),
            container: rec.entry.container.clone(),
        }
    }

    pub(crate) fn decide(rec: &HandoffRecord) -> Effect {
        Effect::DecideEntry {
            handoff: rec.id.clone(),
            entry: rec.entry.clone(),
        }
    }

    pub(crate) fn cancel(rec: &HandoffRecord) -> Effect {
        Effect::CancelEntry {
            handoff: rec.id.clone(),
            vehicle: rec.entry.vehicle.clone(),
        }
    }

    pub(crate) fn adopt(rec: &HandoffRecord) -> Option<Effect> {
        Some(Effect::Adopt {
            handoff: rec.id.clone(),
            entry: rec.entry.clone(),
            slot: rec.slot?,
            order: rec.order.clone()?,
        })
    }
}

/// What an admitted message did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// The next message of its handoff: the handoff moved on.
    New,
    /// A copy of the last message acted on: the answer to it, if any, is
    /// sent again, and nothing else changes.
    Repeat,
    /// An older copy, or a message about a handoff that is already over:
    /// nothing changes.
    Ignored,
    /// A message about a handoff this side has forgotten (finished long
    /// ago): answered from what the message says, nothing else changes.
    Forgotten,
}

/// Why a call was refused. It changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    #[error("handoff configuration: {0}")]
    Config(String),
    #[error("no handoff {handoff:?} in which this side {role} the vehicle")]
    Unknown { handoff: String, role: &'static str },
    #[error("handoff {handoff}: cannot {action} while {phase}")]
    WrongPhase {
        handoff: String,
        action: &'static str,
        phase: &'static str,
    },
    #[error("{action}: {detail}")]
    Invalid {
        action: &'static str,
        detail: String,
    },
    #[error("handoff {handoff}: {kind} message {seq} {detail}")]
    Unexpected {
        handoff: String,
        seq: u32,
        kind: &'static str,
        detail: String,
    },
    #[error("handoff snapshot: {0}")]
    Snapshot(String),
}

/// Everything one side keeps about its handoffs, for a store to persist
/// and [`Handoffs::restore`] to continue from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Snapshot {
    pub side: Side,
    /// The number the next handoff opened on this side gets.
    pub next_number: u64,
    pub handoffs: Vec<HandoffRecord>,
}

/// The handoffs of one side.
#[derive(Clone, Debug)]
pub struct Handoffs {
    pub(crate) config: HandoffConfig,
    pub(crate) records: BTreeMap<String, HandoffRecord>,
    pub(crate) next_number: u64,
    pub(crate) out: Out,
    pub(crate) changed: BTreeSet<String>,
}

impl Handoffs {
    pub fn new(config: HandoffConfig) -> Result<Handoffs, HandoffError> {
        config.check()?;
        Ok(Handoffs {
            config,
            records: BTreeMap::new(),
            next_number: 1,
            out: Out::default(),
            changed: BTreeSet::new(),
        })
    }

    /// The side these handoffs belong to.
    pub fn me(&self) -> Side {
        self.config.me
    }

    pub fn config(&self) -> &HandoffConfig {
        &self.config
    }

    /// Acts on an envelope the gate admitted (new or duplicate alike).
    pub fn handle(&mut self, now: Ms, envelope: &Envelope) -> Result<Handled, HandoffError> {
        let me = self.config.me;
        if envelope.to != me || envelope.from != me.other() || envelope.version != VERSION {
            return Err(unexpected(
                envelope,
                format!(
                    "is version {} from {} to {}; this side is {me} and speaks version {VERSION}",
                    envelope.version, envelope.from, envelope.to
                ),
            ));
        }
        if envelope.seq == 0 {
            return Err(unexpected(envelope, "has no sequence number".into()));
        }
        let for_far = is_for_far(envelope);
        let Some(rec) = self.records.get(&envelope.handoff) else {
            return if for_far {
                self.far_unknown(now, envelope)
            } else {
                self.near_unknown(now, envelope)
            };
        };
        if rec.is_near() == for_far {
            let role = if rec.is_near() { "sends" } else { "receives" };
            return Err(unexpected(
                envelope,
                format!("does not belong to a handoff in which this side {role} the vehicle"),
            ));
        }
        if envelope.body.vehicle() != rec.entry.vehicle {
            return Err(unexpected(
                envelope,
                format!(
                    "names vehicle {:?}, not {:?}",
                    envelope.body.vehicle(),
                    rec.entry.vehicle
                ),
            ));
        }
        // A handover that crossed a revocation is accepted all the same;
        // the acceptance may come before the revocation, or without it.
        let after_revocation = rec.phase == Phase::Near(NearPhase::HandedOver)
            && matches!(envelope.body, Body::Accepted { .. })
            && rec.peer_seq == 1
            && envelope.seq == 3;
        // A revocation of a grant that never arrived.
        let grant_unheard = matches!(
            rec.phase,
            Phase::Near(NearPhase::Requested | NearPhase::RolledBack(_))
        ) && matches!(envelope.body, Body::Refusal { .. })
            && rec.peer_seq == 0
            && envelope.seq == 2;
        match envelope.seq {
            seq if seq < rec.peer_seq => Ok(Handled::Ignored),
            seq if seq == rec.peer_seq => {
                if rec.peer_last.as_ref() != Some(&envelope.body) {
                    return Err(unexpected(
                        envelope,
                        "differs from the message already acted on with that number".into(),
                    ));
                }
                self.repeat(now, &envelope.handoff);
                Ok(Handled::Repeat)
            }
            seq if seq == rec.peer_seq + 1 || after_revocation || grant_unheard => {
                if for_far {
                    self.far_next(now, envelope)?;
                } else {
                    self.near_next(now, envelope)?;
                }
                if let Some(rec) = self.records.get_mut(&envelope.handoff) {
                    rec.peer_seq = envelope.seq;
                    rec.peer_last = Some(envelope.body.clone());
                }
                self.changed.insert(envelope.handoff.clone());
                Ok(Handled::New)
            }
            _ => Err(unexpected(
                envelope,
                format!("is ahead of the next one expected, {}", rec.peer_seq + 1),
            )),
        }
    }

    /// Answers a copy of the last message acted on: a message that asks for
    /// an answer gets this side's last message again, if that answers it.
    fn repeat(&mut self, now: Ms, id: &str) {
        let pace = self.config.pace();
        let Some(rec) = self.records.get_mut(id) else {
            return;
        };
        let asks = rec.peer_last.as_ref().is_some_and(|b| {
            matches!(
                b,
                Body::EntryRequest { .. }
                    | Body::Grant { .. }
                    | Body::Refusal { .. }
                    | Body::Handover { .. }
                    | Body::Accepted { .. }
            )
        });
        if asks && !rec.last_sent_is_request() {
            let before = rec.last_sent.clone();
            rec.resend(now, pace, &mut self.out);
            if rec.last_sent != before {
                self.changed.insert(id.to_string());
            }
        }
    }

    /// Re-sends what is due, gives up what is overdue and forgets what
    /// finished long enough ago.
    pub fn handle_timeout(&mut self, now: Ms) {
        let linger = self.config.linger_ms;
        let due: Vec<String> = self
            .records
            .iter()
            .filter(|(_, r)| r.wake(linger).is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.wake(now, &id);
        }
    }

    fn wake(&mut self, now: Ms, id: &str) {
        let pace = self.config.pace();
        let linger = self.config.linger_ms;
        let Some(rec) = self.records.get_mut(id) else {
            return;
        };
        self.changed.insert(id.to_string());
        if let Some(finished) = rec.finished_ms {
            if finished.saturating_add(linger) <= now {
                self.records.remove(id);
            }
            return;
        }
        if rec.deadline_ms.is_some_and(|t| t <= now) {
            if rec.is_near() {
                self.near_deadline(now, id);
            } else {
                self.far_deadline(now, id);
            }
        } else if rec.retry.is_some_and(|r| r.at_ms <= now) {
            rec.retry_now(now, pace, &mut self.out);
        }
    }

    /// When to call [`Handoffs::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Ms> {
        let linger = self.config.linger_ms;
        self.records.values().filter_map(|r| r.wake(linger)).min()
    }

    /// The next envelope to sign and publish, after the state is persisted.
    pub fn poll_transmit(&mut self) -> Option<Envelope> {
        self.out.transmits.pop_front()
    }

    /// The next effect for the local core, after the state is persisted.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.out.effects.pop_front()
    }

    /// The handoffs whose records changed or were forgotten since the last
    /// call: a store upserts [`Handoffs::get`] of each, or deletes it when
    /// that is `None`.
    pub fn take_changed(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.changed)
    }

    pub fn get(&self, handoff: &str) -> Option<&HandoffRecord> {
        self.records.get(handoff)
    }

    /// All records, by handoff id.
    pub fn records(&self) -> impl Iterator<Item = &HandoffRecord> {
        self.records.values()
    }

    /// Who commands the vehicle according to this side's latest record of
    /// it; `None` when no record says (a vehicle of this side's own fleet
    /// that never crossed is commanded here).
    pub fn controller(&self, vehicle: &str) -> Option<Holder> {
        self.latest(|r| r.entry.vehicle == vehicle)
    }

    /// Who holds the container's custody according to this side's latest
    /// record of it; `None` when no record says.
    pub fn custody(&self, container: &str) -> Option<Holder> {
        self.latest(|r| r.entry.container == container)
    }

    fn latest(&self, about: impl Fn(&HandoffRecord) -> bool) -> Option<Holder> {
        self.records
            .values()
            .filter(|r| about(r))
            .filter_map(|r| Some((r.number, r.holder()?)))
            .max_by_key(|(n, _)| *n)
            .map(|(_, h)| h)
    }

    /// Everything to persist.
    pub fn snapshot(&self) -> Snapshot {
        let mut handoffs: Vec<HandoffRecord> = self.records.values().cloned().collect();
        handoffs.sort_by_key(|r| r.number);
        Snapshot {
            side: self.config.me,
            next_number: self.next_number,
            handoffs,
        }
    }

    /// Continues from a snapshot. Retries and deadlines resume at their
    /// stored times (at once if those have passed), and every record's
    /// standing effect is given again so the restarted core learns what it
    /// must keep: a granted slot ([`Effect::HoldSlot`]), an adopted vehicle,
    /// a pending decision, a grant it may still use, a rollback.
    pub fn restore(config: HandoffConfig, snapshot: Snapshot) -> Result<Handoffs, HandoffError> {
        let mut handoffs = Handoffs::new(config)?;
        let me = handoffs.config.me;
        let bad = |detail: String| Err(HandoffError::Snapshot(detail));
        if snapshot.side != me {
            return bad(format!("it is {}'s, this side is {me}", snapshot.side));
        }
        for rec in snapshot.handoffs {
            let owner = if rec.is_near() { me } else { me.other() };
            if rec.peer != me.other() {
                return bad(format!("handoff {} has peer {}", rec.id, rec.peer));
            }
            if !has_prefix(&rec.id, owner) {
                return bad(format!(
                    "handoff {} does not start with {}-",
                    rec.id,
                    side_name(owner)
                ));
            }
            if rec.number >= snapshot.next_number {
                return bad(format!(
                    "handoff {} has number {}, not below nextNumber {}",
                    rec.id, rec.number, snapshot.next_number
                ));
            }
            if let Some(twin) = handoffs.records.insert(rec.id.clone(), rec) {
                return bad(format!("handoff {} appears twice", twin.id));
            }
        }
        handoffs.next_number = snapshot.next_number;
        let mut by_number: Vec<&HandoffRecord> = handoffs.records.values().collect();
        by_number.sort_by_key(|r| r.number);
        let effects: Vec<Effect> = by_number.into_iter().filter_map(Effect::standing).collect();
        handoffs.out.effects.extend(effects);
        Ok(handoffs)
    }

    /// A new record's number and, for a near handoff, its id.
    pub(crate) fn number(&mut self) -> (u64, String) {
        let n = self.next_number;
        self.next_number += 1;
        (n, format!("{}-{n}", side_name(self.config.me)))
    }

    /// The record of a handoff in which this side is near (or far), and
    /// the outbox.
    pub(crate) fn record_mut(
        &mut self,
        id: &str,
        near: bool,
    ) -> Result<(&mut HandoffRecord, &mut Out), HandoffError> {
        let rec = self
            .records
            .get_mut(id)
            .filter(|r| r.is_near() == near)
            .ok_or_else(|| HandoffError::Unknown {
                handoff: id.to_string(),
                role: if near { "sends" } else { "receives" },
            })?;
        Ok((rec, &mut self.out))
    }

    pub(crate) fn pace(&self) -> Pace {
        self.config.pace()
    }
}

/// Whether a message goes from the near side to the far side.
fn is_for_far(envelope: &Envelope) -> bool {
    matches!(
        envelope.body,
        Body::EntryRequest { .. }
            | Body::Handover { .. }
            | Body::Released { .. }
            | Body::Withdrawn { .. }
    )
}

/// Whether a handoff id was made by `side`: `vn-…` or `cn-…`.
pub(crate) fn has_prefix(id: &str, side: Side) -> bool {
    id.strip_prefix(side_name(side))
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|rest| !rest.is_empty())
}

pub(crate) fn unexpected(envelope: &Envelope, detail: String) -> HandoffError {
    HandoffError::Unexpected {
        handoff: envelope.handoff.clone(),
        seq: envelope.seq,
        kind: envelope.body.kind(),
        detail,
    }
}

pub(crate) fn wrong_phase(rec: &HandoffRecord, action: &'static str) -> HandoffError {
    HandoffError::WrongPhase {
        handoff: rec.id.clone(),
        action,
        phase: rec.phase_name(),
    }
}
