//! The checks every inbound handoff message passes.

use std::collections::{BTreeMap, VecDeque};

use borderlane_model::{Ms, Side};

use crate::message::{Body, Envelope};
use crate::sign::{Signed, VerifyingKey};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateConfig {
    /// The side this gate guards.
    pub me: Side,
    /// Messages sent longer ago than this are stale, ms.
    pub max_age_ms: Ms,
    /// Messages sent further in the future than this are refused, ms.
    pub max_future_ms: Ms,
    /// Larger messages are refused, bytes.
    pub max_bytes: usize,
}

impl GateConfig {
    pub fn new(me: Side) -> GateConfig {
        GateConfig {
            me,
            max_age_ms: 120_000,
            max_future_ms: 5_000,
            max_bytes: 64 * 1024,
        }
    }
}

/// Why a message was refused. It changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RejectReason {
    Oversized,
    Malformed,
    Unsigned,
    UnknownKey,
    BadSignature,
    UnsupportedVersion,
    WrongSender,
    Stale,
    FromTheFuture,
    OutOfOrder,
    Replayed,
}

impl RejectReason {
    /// A short stable label, for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::Oversized => "oversized",
            RejectReason::Malformed => "malformed",
            RejectReason::Unsigned => "unsigned",
            RejectReason::UnknownKey => "unknown_key",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::UnsupportedVersion => "unsupported_version",
            RejectReason::WrongSender => "wrong_sender",
            RejectReason::Stale => "stale",
            RejectReason::FromTheFuture => "from_the_future",
            RejectReason::OutOfOrder => "out_of_order",
            RejectReason::Replayed => "replayed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("handoff message rejected ({}){}: {detail}", reason.label(), handoff.as_ref().map(|h| format!(" in handoff {h}")).unwrap_or_default())]
pub struct Rejected {
    pub reason: RejectReason,
    pub handoff: Option<String>,
    pub detail: String,
}

/// A message that passed.
#[derive(Clone, Debug, PartialEq)]
pub enum Admitted {
    /// The next message of its handoff: act on it.
    New(Envelope),
    /// A copy of a message already admitted (the same sequence number and
    /// body, its `sentMs` possibly refreshed): it changes nothing, but the
    /// sender may be waiting for the answer to it again.
    Duplicate(Envelope),
}

/// Checks inbound messages from the other side.
///
/// The gate's memory of sequence numbers is not persisted: after a restart,
/// or once [`Gate::prune`] forgot a handoff, the first message of a handoff
/// it does not remember is admitted whatever its sequence number, and the
/// handoff's persisted state ([`crate::Handoffs`]) tells a copy from a new
/// message.
#[derive(Clone, Debug)]
pub struct Gate {
    config: GateConfig,
    peer: VerifyingKey,
    /// Per handoff: the bodies admitted so far, by sequence number, and when
    /// the last one arrived.
    seen: BTreeMap<String, (BTreeMap<u32, Body>, Ms)>,
    /// The last envelopes whose signature verified, with that signature and
    /// the envelope read from them: a re-sent copy carries the same bytes,
    /// and need not be verified or read again.
    verified: VecDeque<(String, String, Envelope)>,
}

/// How many verified signatures the gate remembers.
const VERIFIED: usize = 64;

impl Gate {
    pub fn new(config: GateConfig, peer: VerifyingKey) -> Gate {
        Gate {
            config,
            peer,
            seen: BTreeMap::new(),
            verified: VecDeque::new(),
        }
    }

    /// Checks one message's bytes.
    pub fn admit(&mut self, now: Ms, bytes: &[u8]) -> Result<Admitted, Rejected> {
        let reject = |reason, handoff: Option<&str>, detail: String| Rejected {
            reason,
            handoff: handoff.map(str::to_string),
            detail,
        };
        if bytes.len() > self.config.max_bytes {
            return Err(reject(
                RejectReason::Oversized,
                None,
                format!("{} bytes, at most {}", bytes.len(), self.config.max_bytes),
            ));
        }
        // A well-formed message reads straight into its fields; anything
        // else is read again as JSON to name what is wrong with it.
        let signed: Signed = match serde_json::from_slice(bytes) {
            Ok(signed) => signed,
            Err(_) => {
                let value: serde_json::Value = serde_json::from_slice(bytes)
                    .map_err(|e| reject(RejectReason::Malformed, None, format!("not JSON: {e}")))?;
                if value.get("signature").is_none() || value.get("keyId").is_none() {
                    return Err(reject(
                        RejectReason::Unsigned,
                        None,
                        "no keyId and signature".into(),
                    ));
                }
                serde_json::from_value(value)
                    .map_err(|e| reject(RejectReason::Malformed, None, e.to_string()))?
            }
        };
        if signed.key_id != self.peer.id {
            return Err(reject(
                RejectReason::UnknownKey,
                None,
                format!(
                    "signed with key {:?}, expected {:?}",
                    signed.key_id, self.peer.id
                ),
            ));
        }
        let known = self
            .verified
            .iter()
            .find(|(sig, text, _)| *sig == signed.signature && *text == signed.envelope)
            .map(|(_, _, envelope)| envelope.clone());
        let envelope = match known {
            Some(envelope) => envelope,
            None => {
                if !self
                    .peer
                    .verifies(signed.envelope.as_bytes(), &signed.signature)
                {
                    return Err(reject(
                        RejectReason::BadSignature,
                        None,
                        format!("the signature does not match key {:?}", self.peer.id),
                    ));
                }
                let envelope: Envelope = serde_json::from_str(&signed.envelope)
                    .map_err(|e| reject(RejectReason::Malformed, None, format!("envelope: {e}")))?;
                if self.verified.len() == VERIFIED {
                    self.verified.pop_front();
                }
                self.verified.push_back((
                    signed.signature.clone(),
                    signed.envelope.clone(),
                    envelope.clone(),
                ));
                envelope
            }
        };
        let h = Some(envelope.handoff.as_str());
        if envelope.version != VERSION {
            return Err(reject(
                RejectReason::UnsupportedVersion,
                h,
                format!("version {}, this side speaks {VERSION}", envelope.version),
            ));
        }
        if envelope.to != self.config.me || envelope.from == self.config.me {
            return Err(reject(
                RejectReason::WrongSender,
                h,
                format!("from {:?} to {:?}", envelope.from, envelope.to),
            ));
        }
        if envelope.sent_ms.saturating_add(self.config.max_age_ms) < now {
            return Err(reject(
                RejectReason::Stale,
                h,
                format!("sent {} ms ago", now - envelope.sent_ms),
            ));
        }
        if envelope.sent_ms > now.saturating_add(self.config.max_future_ms) {
            return Err(reject(
                RejectReason::FromTheFuture,
                h,
                format!("sent {} ms from now", envelope.sent_ms - now),
            ));
        }
        if envelope.seq == 0 {
            return Err(reject(
                RejectReason::Malformed,
                h,
                "sequence numbers start at 1".into(),
            ));
        }
        let (bodies, last_seen) = self
            .seen
            .entry(envelope.handoff.clone())
            .or_insert_with(|| (BTreeMap::new(), now));
        let highest = bodies.keys().next_back().copied();
        let admitted = match bodies.get(&envelope.seq) {
            Some(body) if *body == envelope.body => Admitted::Duplicate(envelope),
            Some(_) => {
                return Err(reject(
                    RejectReason::Replayed,
                    h,
                    format!(
                        "sequence {} was already used for another message",
                        envelope.seq
                    ),
                ));
            }
            None if highest.is_none_or(|h| envelope.seq == h + 1) => {
                bodies.insert(envelope.seq, envelope.body.clone());
                Admitted::New(envelope)
            }
            // The far side's acceptance (3) may skip its revocation of the
            // grant (2): the handover crossed the revocation, and the
            // vehicle is adopted all the same.
            None if highest == Some(1)
                && envelope.seq == 3
                && matches!(envelope.body, Body::Accepted { .. }) =>
            {
                bodies.insert(envelope.seq, envelope.body.clone());
                Admitted::New(envelope)
            }
            None if highest.is_some_and(|h| envelope.seq <= h) => {
                return Err(reject(
                    RejectReason::Replayed,
                    h,
                    format!(
                        "sequence {} is behind {}",
                        envelope.seq,
                        highest.unwrap_or(0)
                    ),
                ));
            }
            None => {
                return Err(reject(
                    RejectReason::OutOfOrder,
                    h,
                    format!(
                        "sequence {} arrived before {}; it will be sent again",
                        envelope.seq,
                        highest.unwrap_or(0) + 1
                    ),
                ));
            }
        };
        *last_seen = now;
        Ok(admitted)
    }

    /// Forgets handoffs quiet for twice as long as a message may live. A
    /// later message of a forgotten handoff is admitted as if the gate had
    /// restarted; the handoff's own state tells a copy from a new message.
    pub fn prune(&mut self, now: Ms) {
        let age = self.config.max_age_ms;
        self.seen
            .retain(|_, (_, last)| last.saturating_add(2 * age) >= now);
    }

    /// How many handoffs the gate remembers.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}
