//! One handoff as one side keeps it: the durable record a store persists
//! before anything that depends on it is sent.

use borderlane_core::io::Channel;
use borderlane_model::{Ms, Side};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::gate::VERSION;
use crate::message::{Body, ESeal, Envelope, OrderContinuation, RefusalReason};

/// What the near side asks for: the fields of an entry request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Entry {
    pub vehicle: String,
    pub job: String,
    pub container: String,
    pub manifest: String,
    pub e_seal: ESeal,
    /// The customs channel the sending side gave the container.
    pub sending_channel: Channel,
    /// The sending side's inspection result, if it inspected.
    pub inspection_result: Option<String>,
    /// The earliest time the vehicle can pass the border node.
    pub earliest_border_ms: Ms,
}

impl Entry {
    /// The entry request carrying this entry.
    pub fn body(&self) -> Body {
        Body::EntryRequest {
            vehicle: self.vehicle.clone(),
            job: self.job.clone(),
            container: self.container.clone(),
            manifest: self.manifest.clone(),
            e_seal: self.e_seal.clone(),
            sending_channel: self.sending_channel,
            inspection_result: self.inspection_result.clone(),
            earliest_border_ms: self.earliest_border_ms,
        }
    }

    /// The entry an entry request carries; `None` for other messages.
    pub fn from_body(body: &Body) -> Option<Entry> {
        match body {
            Body::EntryRequest {
                vehicle,
                job,
                container,
                manifest,
                e_seal,
                sending_channel,
                inspection_result,
                earliest_border_ms,
            } => Some(Entry {
                vehicle: vehicle.clone(),
                job: job.clone(),
                container: container.clone(),
                manifest: manifest.clone(),
                e_seal: e_seal.clone(),
                sending_channel: *sending_channel,
                inspection_result: inspection_result.clone(),
                earliest_border_ms: *earliest_border_ms,
            }),
            _ => None,
        }
    }

    /// The first field that must not be empty and is, if any.
    pub fn missing(&self) -> Option<&'static str> {
        [
            ("vehicle", &self.vehicle),
            ("job", &self.job),
            ("container", &self.container),
            ("manifest", &self.manifest),
            ("eSeal.id", &self.e_seal.id),
        ]
        .into_iter()
        .find(|(_, v)| v.trim().is_empty())
        .map(|(name, _)| name)
    }
}

/// A granted crossing slot: the vehicle passes the border node within the
/// window, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Slot {
    pub window_start_ms: Ms,
    pub window_end_ms: Ms,
    /// The receiving customs' decision, which routes the vehicle on arrival.
    pub receiving_channel: Channel,
}

/// Why a handoff was rolled back on the near side: the vehicle stays there
/// and stops before the bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "why", rename_all = "camelCase", deny_unknown_fields)]
pub enum RollBack {
    /// The far side refused.
    Refused {
        reason: RefusalReason,
        detail: String,
    },
    /// No grant or refusal arrived before the request deadline.
    NoAnswer,
    /// The window of the grant ended before the vehicle was committed, or
    /// the grant arrived after its window.
    WindowMissed,
    /// The local core withdrew the request.
    Withdrawn { detail: String },
}

/// Where a near-side handoff stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NearPhase {
    /// The entry request is out and re-sent until an answer or the deadline.
    Requested,
    /// A slot is granted; the local core may commit the vehicle.
    Granted,
    /// The vehicle is committed and the handover is out, re-sent until the
    /// far side accepts.
    HandedOver,
    /// The far side accepted and the release is sent. Finished.
    Transferred,
    /// The vehicle stays on this side. Finished.
    RolledBack(RollBack),
}

/// Where a far-side handoff stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FarPhase {
    /// The local core is deciding on the entry request.
    Deciding,
    /// The slot is granted and reserved; the grant is re-sent until a
    /// handover or a withdrawal arrives.
    Granted,
    /// The vehicle is handed over and commanded here; the acceptance is
    /// re-sent until the release arrives.
    Adopted,
    /// The near side released the vehicle. Finished.
    Closed,
    /// The request was refused. Finished.
    Refused,
    /// The near side withdrew its request. Finished.
    Withdrawn,
}

/// A handoff's phase, which also says which side of it this one is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "role", content = "phase", rename_all = "camelCase")]
pub enum Phase {
    /// This side is sending the vehicle.
    Near(NearPhase),
    /// This side is receiving the vehicle.
    Far(FarPhase),
}

/// Who, as far as one side knows, commands a vehicle (writes its VDA 5050
/// order topic) or holds a container's custody.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Holder {
    ThisSide,
    OtherSide,
    /// This side sent the handover and no longer holds it; the other side
    /// holds it from when the handover reaches it.
    HandingOver,
}

/// When the side re-sends its last message next, and the interval that led
/// there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Retry {
    pub at_ms: Ms,
    pub interval_ms: Ms,
}

/// One handoff as this side keeps it. Everything a restarted side needs to
/// continue it is here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HandoffRecord {
    pub id: String,
    /// The other side.
    pub peer: Side,
    /// The order in which this side opened its handoffs, near and far.
    pub number: u64,
    pub opened_ms: Ms,
    pub entry: Entry,
    pub phase: Phase,
    /// The granted slot, once there is one.
    pub slot: Option<Slot>,
    /// The order continuation, once handed over.
    pub order: Option<OrderContinuation>,
    /// This side's last message, re-sent on retries and repeats.
    pub last_sent: Option<Envelope>,
    /// The sequence number of this side's next new message.
    pub next_seq: u32,
    /// The highest sequence number of the other side's messages acted on.
    pub peer_seq: u32,
    /// The other side's message with that number.
    pub peer_last: Option<Body>,
    pub retry: Option<Retry>,
    /// When the phase ends by itself: the request deadline, the end of the
    /// granted window, or the decision deadline.
    pub deadline_ms: Option<Ms>,
    /// When the handoff finished; it is forgotten a while later.
    pub finished_ms: Option<Ms>,
    /// When this side granted the slot (far) or the grant arrived (near).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_ms: Option<Ms>,
    /// When this side committed the vehicle and sent the handover (near)
    /// or the handover arrived (far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover_ms: Option<Ms>,
    /// When this side accepted the vehicle (far) or the acceptance arrived
    /// (near).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_ms: Option<Ms>,
}

/// Timing of retries, as the record needs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    pub initial_ms: Ms,
    pub max_ms: Ms,
    pub refresh_after_ms: Ms,
}

/// What a step of the machine gives out: messages to sign and publish, and
/// effects for the local core.
#[derive(Clone, Debug, Default)]
pub(crate) struct Out {
    pub transmits: std::collections::VecDeque<Envelope>,
    pub effects: std::collections::VecDeque<crate::Effect>,
}

impl HandoffRecord {
    /// A record for a handoff that has just started.
    pub(crate) fn open(
        id: String,
        peer: Side,
        number: u64,
        now: Ms,
        entry: Entry,
        phase: Phase,
    ) -> Self {
        HandoffRecord {
            id,
            peer,
            number,
            opened_ms: now,
            entry,
            phase,
            slot: None,
            order: None,
            last_sent: None,
            next_seq: 1,
            peer_seq: 0,
            peer_last: None,
            retry: None,
            deadline_ms: None,
            finished_ms: None,
            granted_ms: None,
            handover_ms: None,
            accepted_ms: None,
        }
    }

    /// Whether this side is the one sending the vehicle.
    pub fn is_near(&self) -> bool {
        matches!(self.phase, Phase::Near(_))
    }

    /// Whether the handoff is over on this side.
    pub fn is_finished(&self) -> bool {
        self.finished_ms.is_some()
    }

    /// Who commands the vehicle and holds the container as far as this
    /// record tells; `None` when the record says nothing about it (a
    /// request this side refused or that was withdrawn).
    pub fn holder(&self) -> Option<Holder> {
        match &self.phase {
            Phase::Near(NearPhase::Requested | NearPhase::Granted | NearPhase::RolledBack(_)) => {
                Some(Holder::ThisSide)
            }
            Phase::Near(NearPhase::HandedOver) => Some(Holder::HandingOver),
            Phase::Near(NearPhase::Transferred) => Some(Holder::OtherSide),
            Phase::Far(FarPhase::Deciding | FarPhase::Granted) => Some(Holder::OtherSide),
            Phase::Far(FarPhase::Adopted | FarPhase::Closed) => Some(Holder::ThisSide),
            Phase::Far(FarPhase::Refused | FarPhase::Withdrawn) => None,
        }
    }

    /// A short name of the phase, for errors and logs.
    pub fn phase_name(&self) -> &'static str {
        match &self.phase {
            Phase::Near(NearPhase::Requested) => "requested",
            Phase::Near(NearPhase::Granted) => "granted",
            Phase::Near(NearPhase::HandedOver) => "handed over",
            Phase::Near(NearPhase::Transferred) => "transferred",
            Phase::Near(NearPhase::RolledBack(_)) => "rolled back",
            Phase::Far(FarPhase::Deciding) => "deciding",
            Phase::Far(FarPhase::Granted) => "granted",
            Phase::Far(FarPhase::Adopted) => "adopted",
            Phase::Far(FarPhase::Closed) => "closed",
            Phase::Far(FarPhase::Refused) => "refused",
            Phase::Far(FarPhase::Withdrawn) => "withdrawn",
        }
    }

    /// When the record next wants the machine's attention.
    pub(crate) fn wake(&self, linger_ms: Ms) -> Option<Ms> {
        let expiry = self.finished_ms.map(|t| t.saturating_add(linger_ms));
        [self.retry.map(|r| r.at_ms), self.deadline_ms, expiry]
            .into_iter()
            .flatten()
            .min()
    }

    /// Sends a new message with the next sequence number.
    pub(crate) fn send(&mut self, now: Ms, body: Body, out: &mut Out) {
        let envelope = Envelope {
            version: VERSION,
            from: self.peer.other(),
            to: self.peer,
            handoff: self.id.clone(),
            seq: self.next_seq,
            sent_ms: now,
            body,
        };
        self.next_seq += 1;
        self.last_sent = Some(envelope.clone());
        out.transmits.push_back(envelope);
    }

    /// Sends the last message again: the same sequence number and body,
    /// with a fresh `sentMs` once the last copy is older than the refresh
    /// age.
    pub(crate) fn resend(&mut self, now: Ms, pace: Pace, out: &mut Out) {
        if let Some(envelope) = &mut self.last_sent {
            if now.saturating_sub(envelope.sent_ms) >= pace.refresh_after_ms {
                envelope.sent_ms = now;
            }
            out.transmits.push_back(envelope.clone());
        }
    }

    /// Starts re-sending the last message after the first interval.
    pub(crate) fn arm_retry(&mut self, now: Ms, pace: Pace) {
        self.retry = Some(Retry {
            at_ms: now.saturating_add(pace.initial_ms),
            interval_ms: pace.initial_ms,
        });
    }

    /// Re-sends the last message and doubles the interval, up to the most.
    pub(crate) fn retry_now(&mut self, now: Ms, pace: Pace, out: &mut Out) {
        self.resend(now, pace, out);
        let interval = self
            .retry
            .map_or(pace.initial_ms, |r| r.interval_ms.saturating_mul(2))
            .min(pace.max_ms);
        self.retry = Some(Retry {
            at_ms: now.saturating_add(interval),
            interval_ms: interval,
        });
    }

    /// Ends the handoff on this side.
    pub(crate) fn finish(&mut self, now: Ms, phase: Phase) {
        self.phase = phase;
        self.retry = None;
        self.deadline_ms = None;
        self.finished_ms = Some(now);
    }

    /// Whether the far side revoked its grant: its last message is a
    /// refusal sent after the grant.
    pub(crate) fn revoked(&self) -> bool {
        self.phase == Phase::Far(FarPhase::Granted)
            && self
                .last_sent
                .as_ref()
                .is_some_and(|e| matches!(e.body, Body::Refusal { .. }))
    }

    /// Whether the last message sent is the entry request, which is never
    /// an answer to anything.
    pub(crate) fn last_sent_is_request(&self) -> bool {
        self.last_sent
            .as_ref()
            .is_some_and(|e| matches!(e.body, Body::EntryRequest { .. }))
    }
}
