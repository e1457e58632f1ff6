//! An orchestrator's durable state, in one SQLite file: the container jobs
//! it knows of, the containers in its custody, the handoffs in flight with
//! their granted crossing slots and the reservations the other side depends
//! on, and an append-only audit of crossings for the customs offices.
//!
//! The shell writes state here, in a transaction, **before** it sends any
//! message that depends on it, and loads it back on start: a crash at any
//! point loses nothing it had acknowledged. The database runs in WAL mode
//! with `synchronous = FULL`, so a commit is on disk when it returns, and
//! with foreign keys on.
//!
//! The handoff state machines are stored whole, as JSON, next to key
//! columns copied out of them (vehicle, role, phase, sequence numbers), so
//! this crate does not depend on their types: they meet through serde.
//!
//! The schema is versioned with `PRAGMA user_version` and migrated on open;
//! the crate's README has example queries for the `sqlite3` command.

mod error;
mod records;
mod schema;
mod store;

pub use error::StoreError;
pub use records::{Crossing, Custody, Handoff, Job, Outcome, Reservation, Role, Slot, Snapshot};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use store::{Store, Tx};
