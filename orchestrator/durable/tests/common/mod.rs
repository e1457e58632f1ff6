//! Sample rows and a scratch directory for the tests.

#![allow(dead_code)]

use std::path::PathBuf;

use borderlane_durable::{Crossing, Custody, Handoff, Job, Outcome, Reservation, Role, Slot};
use borderlane_model::Side;
use serde_json::json;

/// A scratch directory, removed when dropped, and the database path in it.
pub fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("state.db");
    (dir, path)
}

pub fn job(id: &str) -> Job {
    Job {
        id: id.to_string(),
        container: format!("CONT-{id}"),
        from: "vn-yard-1".to_string(),
        to: "CN".to_string(),
        state: "queued".to_string(),
        detail: json!({ "channel": "green", "priority": 2, "note": "a \"quoted\" note" }),
    }
}

pub fn custody(container: &str, side: Side, holder: &str, since_ms: u64) -> Custody {
    Custody {
        container: container.to_string(),
        side,
        holder: holder.to_string(),
        since_ms,
    }
}

pub fn handoff(id: &str, role: Role) -> Handoff {
    Handoff {
        id: id.to_string(),
        vehicle: format!("igv-{id}"),
        role,
        phase: "requested".to_string(),
        state: json!({ "Requested": { "attempt": 1, "deadline_ms": 12_000 } }),
        sent_seq: 1,
        received_seq: 0,
        updated_ms: 1_000,
    }
}

pub fn slot(handoff: &str, start: u64, end: u64) -> Slot {
    Slot {
        handoff: handoff.to_string(),
        vehicle: format!("igv-{handoff}"),
        window_start_ms: start,
        window_end_ms: end,
    }
}

pub fn reservation(handoff: &str) -> Reservation {
    Reservation {
        handoff: handoff.to_string(),
        detail: json!([{ "node": "cn-border-in", "from_ms": 40_000, "to_ms": 52_000 }]),
    }
}

pub fn crossing(handoff: &str) -> Crossing {
    Crossing {
        handoff: handoff.to_string(),
        vehicle: format!("igv-{handoff}"),
        container: format!("CONT-{handoff}"),
        manifest: format!("MAN-{handoff}"),
        e_seal: format!("ES-{handoff}"),
        e_seal_state: "intact".to_string(),
        from: Side::Vn,
        to: Side::Cn,
        outcome: Outcome::Crossed,
        requested_ms: 1_000,
        granted_ms: Some(1_400),
        handover_ms: Some(41_000),
        accepted_ms: Some(41_300),
        sending_decision: "green".to_string(),
        receiving_decision: Some("yellow".to_string()),
        inspection_result: None,
    }
}

/// A raw connection to the file, to look behind the store's back.
pub fn raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("opens")
}
