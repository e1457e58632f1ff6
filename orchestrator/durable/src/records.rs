//! The rows of each table, as Rust values.

use borderlane_model::{Ms, Side};
use rusqlite::Row;
use rusqlite::types::Type;
use serde_json::Value;

/// A container job this side knows of.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: String,
    pub container: String,
    /// Where the container is picked up, as the caller names it.
    pub from: String,
    /// Where it is bound, as the caller names it.
    pub to: String,
    /// The job's state, a short label (`queued`, `assigned`, ...).
    pub state: String,
    /// Everything else about the job.
    pub detail: Value,
}

/// Who holds a container. A container has at most one custody row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Custody {
    pub container: String,
    pub side: Side,
    /// The vehicle, yard slot or office holding it.
    pub holder: String,
    pub since_ms: Ms,
}

/// This side's part in a handoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The side the vehicle leaves.
    Near,
    /// The side the vehicle enters.
    Far,
}

/// A handoff in flight. Its state machine is kept whole in `state`; the
/// other fields are copies of what recovery and queries look up.
#[derive(Clone, Debug, PartialEq)]
pub struct Handoff {
    /// Unique across both sides (the protocol keys its messages by it).
    pub id: String,
    pub vehicle: String,
    pub role: Role,
    /// The state machine's state, a short label.
    pub phase: String,
    /// The serialised state machine.
    pub state: Value,
    /// The highest sequence number this side has sent in the handoff.
    pub sent_seq: u32,
    /// The highest sequence number admitted from the other side.
    pub received_seq: u32,
    pub updated_ms: Ms,
}

/// A crossing slot granted in a handoff: the vehicle passes the border
/// node within `[window_start_ms, window_end_ms]`. It belongs to its
/// handoff and goes when the handoff goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub handoff: String,
    pub vehicle: String,
    pub window_start_ms: Ms,
    pub window_end_ms: Ms,
}

/// Reservations the other side depends on, kept per handoff as the
/// planner serialises them. They go when the handoff goes.
#[derive(Clone, Debug, PartialEq)]
pub struct Reservation {
    pub handoff: String,
    pub detail: Value,
}

/// How a handoff ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The vehicle crossed and the far side accepted it.
    Crossed,
    /// The far side refused the vehicle.
    Refused,
    /// The near side withdrew its request.
    Withdrawn,
}

/// One row of the customs audit: a handoff that ended. A `Crossed` row has
/// every time and both decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crossing {
    pub handoff: String,
    pub vehicle: String,
    pub container: String,
    pub manifest: String,
    pub e_seal: String,
    /// The e-seal's state when the entry was requested (`intact`, `broken`).
    pub e_seal_state: String,
    pub from: Side,
    pub to: Side,
    pub outcome: Outcome,
    pub requested_ms: Ms,
    pub granted_ms: Option<Ms>,
    pub handover_ms: Option<Ms>,
    pub accepted_ms: Option<Ms>,
    /// The sending customs' decision (its channel).
    pub sending_decision: String,
    /// The receiving customs' decision, once it made one.
    pub receiving_decision: Option<String>,
    /// The sending side's inspection result, when it inspected.
    pub inspection_result: Option<String>,
}

/// Everything an orchestrator recovers on start, each list in key order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// By id.
    pub jobs: Vec<Job>,
    /// By container.
    pub custody: Vec<Custody>,
    /// By id.
    pub handoffs: Vec<Handoff>,
    /// By handoff.
    pub slots: Vec<Slot>,
    /// By handoff.
    pub reservations: Vec<Reservation>,
}

/// A value stored as a fixed text code.
pub(crate) trait Code: Copy + 'static {
    const ALL: &'static [Self];
    fn code(self) -> &'static str;
}

impl Code for Side {
    const ALL: &'static [Side] = &[Side::Vn, Side::Cn];
    fn code(self) -> &'static str {
        Side::code(self)
    }
}

impl Code for Role {
    const ALL: &'static [Role] = &[Role::Near, Role::Far];
    fn code(self) -> &'static str {
        match self {
            Role::Near => "near",
            Role::Far => "far",
        }
    }
}

impl Code for Outcome {
    const ALL: &'static [Outcome] = &[Outcome::Crossed, Outcome::Refused, Outcome::Withdrawn];
    fn code(self) -> &'static str {
        match self {
            Outcome::Crossed => "crossed",
            Outcome::Refused => "refused",
            Outcome::Withdrawn => "withdrawn",
        }
    }
}

fn conversion(idx: usize, ty: Type, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, message.into())
}

fn code<T: Code>(row: &Row, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    T::ALL
        .iter()
        .copied()
        .find(|v| v.code() == text)
        .ok_or_else(|| conversion(idx, Type::Text, format!("unknown code {text:?}")))
}

pub(crate) fn json(row: &Row, idx: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| conversion(idx, Type::Text, format!("not JSON: {e}")))
}

/// A value as JSON text.
pub(crate) fn json_text(value: &Value) -> String {
    // Serialising a `Value` cannot fail: its keys are strings.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

impl Job {
    pub(crate) const COLUMNS: &'static str = "id, container, from_place, to_place, state, detail";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<Job> {
        Ok(Job {
            id: row.get(0)?,
            container: row.get(1)?,
            from: row.get(2)?,
            to: row.get(3)?,
            state: row.get(4)?,
            detail: json(row, 5)?,
        })
    }
}

impl Custody {
    pub(crate) const COLUMNS: &'static str = "container, side, holder, since_ms";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<Custody> {
        Ok(Custody {
            container: row.get(0)?,
            side: code(row, 1)?,
            holder: row.get(2)?,
            since_ms: row.get(3)?,
        })
    }
}

impl Handoff {
    pub(crate) const COLUMNS: &'static str =
        "id, vehicle, role, phase, state, sent_seq, received_seq, updated_ms";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<Handoff> {
        Ok(Handoff {
            id: row.get(0)?,
            vehicle: row.get(1)?,
            role: code(row, 2)?,
            phase: row.get(3)?,
            state: json(row, 4)?,
            sent_seq: row.get(5)?,
            received_seq: row.get(6)?,
            updated_ms: row.get(7)?,
        })
    }
}

impl Slot {
    pub(crate) const COLUMNS: &'static str = "handoff, vehicle, window_start_ms, window_end_ms";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<Slot> {
        Ok(Slot {
            handoff: row.get(0)?,
            vehicle: row.get(1)?,
            window_start_ms: row.get(2)?,
            window_end_ms: row.get(3)?,
        })
    }
}

impl Reservation {
    pub(crate) const COLUMNS: &'static str = "handoff, detail";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<Reservation> {
        Ok(Reservation {
            handoff: row.get(0)?,
            detail: json(row, 1)?,
        })
    }
}

impl Crossing {
    pub(crate) const COLUMNS: &'static str = "handoff, vehicle, container, manifest, e_seal, \
        e_seal_state, from_side, to_side, outcome, requested_ms, granted_ms, handover_ms, \
        accepted_ms, sending_decision, receiving_decision, inspection_result";

    pub(crate) fn from_row(row: &Row) -> rusqlite::Result<Crossing> {
        Ok(Crossing {
            handoff: row.get(0)?,
            vehicle: row.get(1)?,
            container: row.get(2)?,
            manifest: row.get(3)?,
            e_seal: row.get(4)?,
            e_seal_state: row.get(5)?,
            from: code(row, 6)?,
            to: code(row, 7)?,
            outcome: code(row, 8)?,
            requested_ms: row.get(9)?,
            granted_ms: row.get(10)?,
            handover_ms: row.get(11)?,
            accepted_ms: row.get(12)?,
            sending_decision: row.get(13)?,
            receiving_decision: row.get(14)?,
            inspection_result: row.get(15)?,
        })
    }
}
