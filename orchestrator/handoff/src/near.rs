//! The near side's machine: the side the vehicle leaves.
//!
//! ```text
//! requested ──grant──> granted ──commit──> handed over ──accepted──> transferred
//!     │                   │
//!     ├─refusal───────────┼─revoked (withdrawn sent)─────> rolled back
//!     ├─no answer by the deadline (withdrawn sent)         (the vehicle stays)
//!     └─withdraw──────────┴─withdraw, window missed (withdrawn sent)
//! ```
//!
//! Sequence numbers of the near side's messages: the entry request is 1,
//! the handover or the withdrawal 2, the release 3.

use borderlane_model::Ms;

use crate::Effect;
use crate::gate::VERSION;
use crate::handoffs::{Handled, HandoffError, Handoffs, has_prefix, unexpected, wrong_phase};
use crate::message::{Body, Envelope, OrderContinuation};
use crate::record::{Entry, HandoffRecord, Holder, NearPhase, Out, Phase, RollBack, Slot};

impl Handoffs {
    /// Asks the other side to take a vehicle across: sends the entry
    /// request and returns the new handoff's id. The vehicle stops before
    /// the bridge until [`Effect::Granted`] arrives.
    pub fn request(&mut self, now: Ms, entry: Entry) -> Result<String, HandoffError> {
        let invalid = |detail: String| HandoffError::Invalid {
            action: "request",
            detail,
        };
        if let Some(field) = entry.missing() {
            return Err(invalid(format!("{field} is empty")));
        }
        if let Some(open) = self
            .records
            .values()
            .find(|r| r.is_near() && !r.is_finished() && r.entry.vehicle == entry.vehicle)
        {
            return Err(invalid(format!(
                "vehicle {} is already in handoff {}",
                entry.vehicle, open.id
            )));
        }
        for (what, holder) in [
            (
                format!("vehicle {}", entry.vehicle),
                self.controller(&entry.vehicle),
            ),
            (
                format!("container {}", entry.container),
                self.custody(&entry.container),
            ),
        ] {
            if matches!(holder, Some(Holder::OtherSide | Holder::HandingOver)) {
                return Err(invalid(format!("{what} is not held by this side")));
            }
        }
        let (number, id) = self.number();
        let pace = self.pace();
        let peer = self.me().other();
        let deadline = now.saturating_add(self.config.request_deadline_ms);
        let mut rec = HandoffRecord::open(
            id.clone(),
            peer,
            number,
            now,
            entry,
            Phase::Near(NearPhase::Requested),
        );
        rec.send(now, rec.entry.body(), &mut self.out);
        rec.arm_retry(now, pace);
        rec.deadline_ms = Some(deadline);
        self.records.insert(id.clone(), rec);
        self.changed.insert(id.clone());
        Ok(id)
    }

    /// The local core released the vehicle onto the bridge up to the border
    /// node: this side stops commanding it and hands it over with the
    /// order's continuation. Allowed while granted, until the window ends.
    pub fn commit(
        &mut self,
        now: Ms,
        handoff: &str,
        order: OrderContinuation,
    ) -> Result<(), HandoffError> {
        let pace = self.pace();
        let (rec, out) = self.record_mut(handoff, true)?;
        let slot = match (&rec.phase, rec.slot) {
            (Phase::Near(NearPhase::Granted), Some(slot)) => slot,
            _ => return Err(wrong_phase(rec, "commit")),
        };
        let invalid = |detail: String| HandoffError::Invalid {
            action: "commit",
            detail,
        };
        if now > slot.window_end_ms {
            return Err(invalid(format!(
                "the granted window ended at {}, it is {now}",
                slot.window_end_ms
            )));
        }
        if order.order_id.trim().is_empty() || order.border_node.trim().is_empty() {
            return Err(invalid(
                "the order continuation needs an orderId and a border node".into(),
            ));
        }
        rec.phase = Phase::Near(NearPhase::HandedOver);
        rec.handover_ms = Some(now);
        rec.deadline_ms = None;
        rec.order = Some(order.clone());
        let vehicle = rec.entry.vehicle.clone();
        rec.send(now, Body::Handover { vehicle, order }, out);
        rec.arm_retry(now, pace);
        self.changed.insert(handoff.to_string());
        Ok(())
    }

    /// The local core gives up a request before committing the vehicle:
    /// the withdrawal is sent and the vehicle stays.
    pub fn withdraw(&mut self, now: Ms, handoff: &str, detail: &str) -> Result<(), HandoffError> {
        let (rec, out) = self.record_mut(handoff, true)?;
        if !matches!(
            rec.phase,
            Phase::Near(NearPhase::Requested | NearPhase::Granted)
        ) {
            return Err(wrong_phase(rec, "withdraw"));
        }
        let why = RollBack::Withdrawn {
            detail: detail.to_string(),
        };
        give_up(rec, now, why, out);
        self.changed.insert(handoff.to_string());
        Ok(())
    }

    /// The far side's next message in a handoff this side sends.
    pub(crate) fn near_next(&mut self, now: Ms, envelope: &Envelope) -> Result<(), HandoffError> {
        let pace = self.pace();
        let out = &mut self.out;
        let Some(rec) = self.records.get_mut(&envelope.handoff) else {
            return Ok(());
        };
        match (&rec.phase, &envelope.body) {
            (
                Phase::Near(NearPhase::Requested),
                Body::Grant {
                    window_start_ms,
                    window_end_ms,
                    receiving_channel,
                    ..
                },
            ) => {
                if window_start_ms > window_end_ms {
                    return Err(unexpected(
                        envelope,
                        "has a window that ends before it starts".into(),
                    ));
                }
                let slot = Slot {
                    window_start_ms: *window_start_ms,
                    window_end_ms: *window_end_ms,
                    receiving_channel: *receiving_channel,
                };
                rec.slot = Some(slot);
                rec.granted_ms = Some(now);
                if slot.window_end_ms < now {
                    give_up(rec, now, RollBack::WindowMissed, out);
                } else {
                    rec.phase = Phase::Near(NearPhase::Granted);
                    rec.retry = None;
                    rec.deadline_ms = Some(slot.window_end_ms.saturating_add(1));
                    out.effects.push_back(Effect::granted(rec, slot));
                }
            }
            // The far side revoked its grant before this side committed (or
            // before the grant even arrived): the vehicle stays, and the
            // withdrawal answers the revocation.
            (Phase::Near(NearPhase::Granted), Body::Refusal { reason, detail, .. })
            | (Phase::Near(NearPhase::Requested), Body::Refusal { reason, detail, .. })
                if envelope.seq == 2 =>
            {
                let why = RollBack::Refused {
                    reason: *reason,
                    detail: detail.clone(),
                };
                give_up(rec, now, why, out);
            }
            (Phase::Near(NearPhase::Requested), Body::Refusal { reason, detail, .. }) => {
                let why = RollBack::Refused {
                    reason: *reason,
                    detail: detail.clone(),
                };
                rec.finish(now, Phase::Near(NearPhase::RolledBack(why.clone())));
                out.effects.push_back(Effect::keep(rec, why));
            }
            // A grant after this side gave up: the withdrawal answers it.
            (Phase::Near(NearPhase::RolledBack(_)), Body::Grant { .. })
                if !rec.last_sent_is_request() =>
            {
                rec.resend(now, pace, out);
            }
            // A revocation after this side gave up: the withdrawal answers
            // it.
            (Phase::Near(NearPhase::RolledBack(_)), Body::Refusal { .. })
                if envelope.seq == 2 && !rec.last_sent_is_request() =>
            {
                rec.resend(now, pace, out);
            }
            (Phase::Near(NearPhase::RolledBack(_)), Body::Refusal { .. }) => {}
            // A revocation the handover crossed: the far side adopts the
            // vehicle all the same.
            (Phase::Near(NearPhase::HandedOver | NearPhase::Transferred), Body::Refusal { .. }) => {
            }
            (Phase::Near(NearPhase::HandedOver), Body::Accepted { vehicle }) => {
                let vehicle = vehicle.clone();
                rec.accepted_ms = Some(now);
                rec.finish(now, Phase::Near(NearPhase::Transferred));
                rec.send(now, Body::Released { vehicle }, out);
                out.effects.push_back(Effect::transferred(rec));
            }
            _ => {
                return Err(unexpected(
                    envelope,
                    format!("is not expected while {}", rec.phase_name()),
                ));
            }
        }
        Ok(())
    }

    /// A far side's message about a handoff this side does not keep: one
    /// it finished and forgot. A grant is answered with a withdrawal (the
    /// vehicle never left), an acceptance with a release (the vehicle was
    /// handed over, as nothing else is accepted).
    pub(crate) fn near_unknown(
        &mut self,
        now: Ms,
        envelope: &Envelope,
    ) -> Result<Handled, HandoffError> {
        if !has_prefix(&envelope.handoff, self.me()) {
            return Err(unexpected(
                envelope,
                "is about a handoff this side never started".into(),
            ));
        }
        let vehicle = envelope.body.vehicle().to_string();
        let (seq, body) = match envelope.body {
            Body::Grant { .. } => (
                2,
                Body::Withdrawn {
                    vehicle,
                    detail: "the handoff is over on this side".into(),
                },
            ),
            Body::Accepted { .. } => (3, Body::Released { vehicle }),
            _ => return Ok(Handled::Ignored),
        };
        self.out.transmits.push_back(Envelope {
            version: VERSION,
            from: self.me(),
            to: envelope.from,
            handoff: envelope.handoff.clone(),
            seq,
            sent_ms: now,
            body,
        });
        Ok(Handled::Forgotten)
    }

    /// The request deadline or the end of the granted window passed.
    pub(crate) fn near_deadline(&mut self, now: Ms, id: &str) {
        let Some(rec) = self.records.get_mut(id) else {
            return;
        };
        let why = match rec.phase {
            Phase::Near(NearPhase::Requested) => RollBack::NoAnswer,
            Phase::Near(NearPhase::Granted) => RollBack::WindowMissed,
            _ => {
                rec.deadline_ms = None;
                return;
            }
        };
        give_up(rec, now, why, &mut self.out);
    }
}

/// Rolls a handoff back before the vehicle was committed: the withdrawal is
/// sent (it answers any later grant) and the vehicle stays.
fn give_up(rec: &mut HandoffRecord, now: Ms, why: RollBack, out: &mut Out) {
    let detail = match &why {
        RollBack::NoAnswer => "no answer before the request deadline".to_string(),
        RollBack::WindowMissed => "the vehicle cannot pass within the window".to_string(),
        RollBack::Withdrawn { detail } => detail.clone(),
        RollBack::Refused { detail, .. } => detail.clone(),
    };
    rec.finish(now, Phase::Near(NearPhase::RolledBack(why.clone())));
    let vehicle = rec.entry.vehicle.clone();
    rec.send(now, Body::Withdrawn { vehicle, detail }, out);
    out.effects.push_back(Effect::keep(rec, why));
}
