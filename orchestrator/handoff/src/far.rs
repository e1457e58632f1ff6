//! The far side's machine: the side the vehicle enters.
//!
//! ```text
//! deciding ──grant──> granted ──handover──> adopted ──released──> closed
//!    │                   │  ╰─revoke (stays granted)
//!    ├─refuse, no decision in time ──> refused
//!    └─withdrawn─────────┴─withdrawn ──> withdrawn
//! ```
//!
//! Sequence numbers of the far side's messages: the grant or the refusal
//! is 1, the acceptance 2; after a revocation (a refusal after the grant,
//! 2) the acceptance is 3.

use borderlane_model::Ms;

use crate::Effect;
use crate::handoffs::{Handled, HandoffError, Handoffs, has_prefix, unexpected, wrong_phase};
use crate::message::{Body, Envelope, RefusalReason, side_name};
use crate::record::{Entry, FarPhase, HandoffRecord, Holder, Out, Phase, Slot};

impl Handoffs {
    /// The local core reserved its lane from the border node on and grants
    /// the slot. The window may be later than asked, but must not end
    /// before the earliest time the vehicle can be at the border node, nor
    /// before now.
    pub fn grant(&mut self, now: Ms, handoff: &str, slot: Slot) -> Result<(), HandoffError> {
        let pace = self.pace();
        let (rec, out) = self.record_mut(handoff, false)?;
        if rec.phase != Phase::Far(FarPhase::Deciding) {
            return Err(wrong_phase(rec, "grant"));
        }
        let earliest = rec.entry.earliest_border_ms.max(now);
        if slot.window_start_ms > slot.window_end_ms || slot.window_end_ms < earliest {
            return Err(HandoffError::Invalid {
                action: "grant",
                detail: format!(
                    "window {}..{} must not be empty nor end before {earliest}",
                    slot.window_start_ms, slot.window_end_ms
                ),
            });
        }
        rec.phase = Phase::Far(FarPhase::Granted);
        rec.deadline_ms = None;
        rec.slot = Some(slot);
        rec.granted_ms = Some(now);
        let body = Body::Grant {
            vehicle: rec.entry.vehicle.clone(),
            window_start_ms: slot.window_start_ms,
            window_end_ms: slot.window_end_ms,
            receiving_channel: slot.receiving_channel,
        };
        rec.send(now, body, out);
        rec.arm_retry(now, pace);
        self.changed.insert(handoff.to_string());
        Ok(())
    }

    /// The local core can no longer keep the slot it granted (a vehicle
    /// broke down on the way the grant reserved, say): it asks the near
    /// side not to commit the vehicle. The revocation is a refusal sent
    /// after the grant. A near side that hears it before committing rolls
    /// back and withdraws; a handover that crossed it is still adopted,
    /// as the vehicle may be on the bridge. Revoking again changes
    /// nothing.
    pub fn revoke(&mut self, now: Ms, handoff: &str, detail: &str) -> Result<(), HandoffError> {
        let pace = self.pace();
        let (rec, out) = self.record_mut(handoff, false)?;
        if rec.phase != Phase::Far(FarPhase::Granted) {
            return Err(wrong_phase(rec, "revoke"));
        }
        if rec.revoked() {
            return Ok(());
        }
        let vehicle = rec.entry.vehicle.clone();
        let body = Body::Refusal {
            vehicle,
            reason: RefusalReason::NoCapacity,
            detail: detail.to_string(),
        };
        rec.send(now, body, out);
        rec.arm_retry(now, pace);
        self.changed.insert(handoff.to_string());
        Ok(())
    }

    /// The local core will not take the vehicle.
    pub fn refuse(
        &mut self,
        now: Ms,
        handoff: &str,
        reason: RefusalReason,
        detail: &str,
    ) -> Result<(), HandoffError> {
        let (rec, out) = self.record_mut(handoff, false)?;
        if rec.phase != Phase::Far(FarPhase::Deciding) {
            return Err(wrong_phase(rec, "refuse"));
        }
        refuse(rec, now, reason, detail.to_string(), out);
        self.changed.insert(handoff.to_string());
        Ok(())
    }

    /// The near side's next message in a handoff this side receives.
    pub(crate) fn far_next(&mut self, now: Ms, envelope: &Envelope) -> Result<(), HandoffError> {
        let pace = self.pace();
        let out = &mut self.out;
        let Some(rec) = self.records.get_mut(&envelope.handoff) else {
            return Ok(());
        };
        match (&rec.phase, &envelope.body) {
            (Phase::Far(FarPhase::Deciding | FarPhase::Granted), Body::Withdrawn { .. }) => {
                rec.finish(now, Phase::Far(FarPhase::Withdrawn));
                out.effects.push_back(Effect::cancel(rec));
            }
            // The near side gave up without hearing the refusal.
            (Phase::Far(FarPhase::Refused), Body::Withdrawn { .. }) => {}
            (Phase::Far(FarPhase::Granted), Body::Handover { vehicle, order }) => {
                if order.order_id.trim().is_empty() || order.border_node.trim().is_empty() {
                    return Err(unexpected(
                        envelope,
                        "has no orderId or no border node".into(),
                    ));
                }
                rec.phase = Phase::Far(FarPhase::Adopted);
                rec.order = Some(order.clone());
                rec.handover_ms = Some(now);
                rec.accepted_ms = Some(now);
                let vehicle = vehicle.clone();
                rec.send(now, Body::Accepted { vehicle }, out);
                rec.arm_retry(now, pace);
                out.effects.extend(Effect::adopt(rec));
            }
            (Phase::Far(FarPhase::Adopted), Body::Released { .. }) => {
                rec.finish(now, Phase::Far(FarPhase::Closed));
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

    /// A near side's message about a handoff this side does not keep. An
    /// entry request opens one; a withdrawal or a release of a handoff that
    /// is over changes nothing; a handover of an unknown handoff is an
    /// error, as this side never granted it.
    pub(crate) fn far_unknown(
        &mut self,
        now: Ms,
        envelope: &Envelope,
    ) -> Result<Handled, HandoffError> {
        let peer = self.me().other();
        let Some(entry) = Entry::from_body(&envelope.body) else {
            return match envelope.body {
                Body::Handover { .. } => Err(unexpected(
                    envelope,
                    "is about a handoff this side never granted".into(),
                )),
                _ => Ok(Handled::Ignored),
            };
        };
        if envelope.seq != 1 {
            return Err(unexpected(
                envelope,
                "opens a handoff but is not number 1".into(),
            ));
        }
        if !has_prefix(&envelope.handoff, peer) {
            return Err(unexpected(
                envelope,
                format!(
                    "opens a handoff whose id does not start with {}-",
                    side_name(peer)
                ),
            ));
        }
        let refusal = match entry.missing() {
            Some(field) => Some(format!("{field} is empty")),
            None if self.controller(&entry.vehicle) == Some(Holder::ThisSide) => Some(format!(
                "vehicle {} is commanded by this side",
                entry.vehicle
            )),
            None => None,
        };
        let (number, _) = self.number();
        let id = envelope.handoff.clone();
        let mut rec = HandoffRecord::open(
            id.clone(),
            peer,
            number,
            now,
            entry,
            Phase::Far(FarPhase::Deciding),
        );
        rec.peer_seq = envelope.seq;
        rec.peer_last = Some(envelope.body.clone());
        match refusal {
            Some(detail) => refuse(&mut rec, now, RefusalReason::Invalid, detail, &mut self.out),
            None => {
                rec.deadline_ms = Some(now.saturating_add(self.config.decide_deadline_ms));
                self.out.effects.push_back(Effect::decide(&rec));
            }
        }
        self.records.insert(id.clone(), rec);
        self.changed.insert(id);
        Ok(Handled::New)
    }

    /// The core did not decide in time: the request is refused.
    pub(crate) fn far_deadline(&mut self, now: Ms, id: &str) {
        let deadline = self.config.decide_deadline_ms;
        let Some(rec) = self.records.get_mut(id) else {
            return;
        };
        if rec.phase != Phase::Far(FarPhase::Deciding) {
            rec.deadline_ms = None;
            return;
        }
        let detail = format!("no decision within {deadline} ms");
        refuse(rec, now, RefusalReason::NoCapacity, detail, &mut self.out);
        self.out.effects.push_back(Effect::cancel(rec));
    }
}

fn refuse(rec: &mut HandoffRecord, now: Ms, reason: RefusalReason, detail: String, out: &mut Out) {
    rec.finish(now, Phase::Far(FarPhase::Refused));
    let vehicle = rec.entry.vehicle.clone();
    rec.send(
        now,
        Body::Refusal {
            vehicle,
            reason,
            detail,
        },
        out,
    );
}
