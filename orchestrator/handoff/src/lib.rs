//! The messages the two orchestrators exchange to hand a vehicle over at the
//! border line, and the checks every one of them passes on arrival.
//!
//! Each side signs what it sends with its own ed25519 key and verifies what
//! it receives against the other side's configured public key. A message on
//! the wire is a [`Signed`] wrapper around the exact bytes of an
//! [`Envelope`], so the signature never depends on how JSON is re-encoded.
//! The [`Gate`] turns wire bytes into envelopes, rejecting anything
//! malformed, unsigned, wrongly signed, from the wrong side, stale, or
//! replayed, and recognising an exact duplicate so it changes nothing.
//!
//! Nothing here reads a clock, opens a socket or keeps anything on disk:
//! the caller passes `now` and moves the bytes.

mod gate;
mod message;
mod sign;

pub use gate::{Admitted, Gate, GateConfig, RejectReason, Rejected};
pub use message::{
    Body, ESeal, ESealState, Envelope, OrderContinuation, RefusalReason, schemas, topic,
};
pub use sign::{KeyError, Signed, SigningKey, VerifyingKey, sign};
