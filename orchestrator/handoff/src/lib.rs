//! The messages the two orchestrators exchange to hand a vehicle over at the
//! border line, the checks every one of them passes on arrival, and the
//! protocol's state machines.
//!
//! Each side signs what it sends with its own ed25519 key and verifies what
//! it receives against the other side's configured public key. A message on
//! the wire is a [`Signed`] wrapper around the exact bytes of an
//! [`Envelope`], so the signature never depends on how JSON is re-encoded.
//! The [`Gate`] turns wire bytes into envelopes, rejecting anything
//! malformed, unsigned, wrongly signed, from the wrong side, stale, or
//! replayed, and recognising a copy so it changes nothing.
//!
//! [`Handoffs`] keeps all handoffs of one side: the near side's machine
//! (the side the vehicle leaves) and the far side's (the side it enters).
//! It takes admitted envelopes, the local core's decisions and wake-ups,
//! and gives envelopes to sign and send, effects for the local core and its
//! next timeout; its state is a serialisable [`Snapshot`] that a store
//! persists before the messages that depend on it are sent.
//!
//! Nothing here reads a clock, opens a socket or keeps anything on disk:
//! the caller passes `now` and moves the bytes. `PROTOCOL.md` at the
//! repository root describes the protocol for an implementer of the other
//! side.

mod desk;
mod far;
mod gate;
mod handoffs;
mod message;
mod near;
mod record;
mod recover;
mod sign;

pub use desk::{Desk, EMPTY};
pub use gate::{Admitted, Gate, GateConfig, RejectReason, Rejected, VERSION};
pub use handoffs::{Effect, Handled, HandoffConfig, HandoffError, Handoffs, Snapshot};
pub use message::{
    Body, ESeal, ESealState, Envelope, OrderContinuation, RefusalReason, schemas, topic,
};
pub use record::{Entry, FarPhase, HandoffRecord, Holder, NearPhase, Phase, Retry, RollBack, Slot};
pub use recover::{CoreStep, Durable, NEXT_HANDOFF, RecoverError, Recovered, crossing};
pub use sign::{KeyError, Signed, SigningKey, VerifyingKey, sign};
