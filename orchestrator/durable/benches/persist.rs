//! What writing state before a message costs.
//!
//! * `persist_handoff_change`: the transaction a shell commits when one
//!   handoff moves on (its state machine rewritten, its sequence number
//!   raised, its granted slot recorded), in a database already holding 200
//!   jobs and containers and 50 handoffs. WAL mode, `synchronous = FULL`:
//!   every commit waits for one fsync of the log.
//! * `fsync_4k`: overwriting the same 4 KiB of a file in the same
//!   directory and syncing it (as SQLite overwrites its log once the log
//!   has been checkpointed), the floor under any durable commit on this
//!   disk.
//!
//! The database lives in a temporary directory; set `TMPDIR` to measure
//! another disk.

use std::hint::black_box;
use std::io::{Seek, Write};
use std::time::Duration;

use borderlane_durable::{Custody, Handoff, Job, Role, Slot, Store, StoreError};
use borderlane_model::Side;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn handoff(i: usize, seq: u32) -> Handoff {
    Handoff {
        id: format!("vn-h-{i:04}"),
        vehicle: format!("igv-{i:03}"),
        role: if i.is_multiple_of(2) {
            Role::Near
        } else {
            Role::Far
        },
        phase: "granted".to_string(),
        state: json!({
            "Granted": {
                "container": format!("CONT-{i:06}"),
                "manifest": format!("MAN-{i:06}"),
                "eSeal": { "id": format!("ES-{i:06}"), "state": "intact" },
                "window": [40_000 + i as u64, 52_000 + i as u64],
                "order": { "orderId": format!("o-{i}"), "orderUpdateId": seq, "borderNode": "border-vn-cn-1" },
                "resend": { "attempt": 1, "nextMs": 61_000 },
            }
        }),
        sent_seq: seq,
        received_seq: seq,
        updated_ms: 1_000 * u64::from(seq),
    }
}

fn filled_store(dir: &std::path::Path) -> Result<Store, StoreError> {
    let mut store = Store::open(dir.join("state.db"))?;
    store.transaction(|tx| {
        for i in 0..200 {
            tx.upsert_job(&Job {
                id: format!("job-{i:04}"),
                container: format!("CONT-{i:06}"),
                from: format!("vn-yard-{}", i % 40),
                to: "CN".to_string(),
                state: "queued".to_string(),
                detail: json!({ "channel": "green", "priority": i % 3 }),
            })?;
            tx.set_custody(&Custody {
                container: format!("CONT-{i:06}"),
                side: Side::Vn,
                holder: format!("vn-yard-{}", i % 40),
                since_ms: 0,
            })?;
        }
        (0..50).try_for_each(|i| tx.upsert_handoff(&handoff(i, 1)))
    })?;
    Ok(store)
}

fn persist(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = filled_store(dir.path()).expect("the database fills");
    let mut seq = 1;
    c.bench_function("persist_handoff_change", |b| {
        b.iter(|| {
            seq += 1;
            let h = handoff(7, seq);
            store
                .transaction(|tx| {
                    tx.upsert_handoff(&h)?;
                    tx.upsert_slot(&Slot {
                        handoff: h.id.clone(),
                        vehicle: h.vehicle.clone(),
                        window_start_ms: 40_000,
                        window_end_ms: 52_000 + u64::from(seq),
                    })
                })
                .expect("commits");
            black_box(seq)
        })
    });

    let mut file = std::fs::File::create(dir.path().join("fsync.bin")).expect("a file");
    let block = [0x5a_u8; 4096];
    c.bench_function("fsync_4k", |b| {
        b.iter(|| {
            file.rewind().expect("seeks");
            file.write_all(&block).expect("writes");
            file.sync_data().expect("syncs");
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    targets = persist
}
criterion_main!(benches);
