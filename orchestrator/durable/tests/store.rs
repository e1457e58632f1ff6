//! The store against a real file: round trips, atomicity, crashes, files
//! it must refuse, and the constraints of the schema.

mod common;

use std::process::Command;

use borderlane_durable::{
    APPLICATION_ID, Outcome, Role, SCHEMA_VERSION, Snapshot, Store, StoreError,
};
use borderlane_model::Side;
use common::{crossing, custody, handoff, job, raw, reservation, scratch, slot};
use serde_json::json;

fn pragma(conn: &rusqlite::Connection, name: &str) -> String {
    conn.query_row(&format!("PRAGMA {name}"), [], |row| {
        row.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    })
    .expect("pragma")
}

fn job_ids(store: &Store) -> Vec<String> {
    let snapshot = store.load().expect("loads");
    snapshot.jobs.into_iter().map(|j| j.id).collect()
}

#[test]
fn a_new_file_gets_the_schema_in_wal_mode() {
    let (_dir, path) = scratch();
    let store = Store::open(&path).expect("creates");
    assert_eq!(store.path(), path);
    assert_eq!(store.load().expect("loads"), Snapshot::default());
    assert!(store.crossings().expect("reads").is_empty());
    let conn = raw(&path);
    assert_eq!(pragma(&conn, "journal_mode"), "wal");
    assert_eq!(pragma(&conn, "user_version"), SCHEMA_VERSION.to_string());
    assert_eq!(pragma(&conn, "application_id"), APPLICATION_ID.to_string());
}

#[test]
fn everything_written_comes_back_in_key_order_after_reopening() {
    let (_dir, path) = scratch();
    let mut expected = Snapshot::default();
    let mut far = handoff("h-b", Role::Far);
    far.state = json!("a bare string state");
    far.sent_seq = u32::MAX;
    far.updated_ms = i64::MAX as u64;
    expected.jobs = vec![job("j-a"), job("j-b"), job("j-c")];
    expected.custody = vec![
        custody("CONT-1", Side::Vn, "vn-yard-3", 5),
        custody("CONT-2", Side::Cn, "igv-7", 9),
    ];
    expected.handoffs = vec![handoff("h-a", Role::Near), far];
    expected.slots = vec![slot("h-a", 40_000, 52_000), slot("h-b", 0, 0)];
    expected.reservations = vec![reservation("h-a"), reservation("h-b")];
    let mut refused = crossing("h-z");
    refused.outcome = Outcome::Refused;
    refused.from = Side::Cn;
    refused.to = Side::Vn;
    (refused.granted_ms, refused.handover_ms, refused.accepted_ms) = (None, None, None);
    refused.receiving_decision = None;
    let audit = vec![crossing("h-y"), refused];
    {
        let mut store = Store::open(&path).expect("creates");
        store
            .transaction(|tx| {
                // Written out of key order, on purpose.
                for j in expected.jobs.iter().rev() {
                    tx.upsert_job(j)?;
                }
                for c in expected.custody.iter().rev() {
                    tx.set_custody(c)?;
                }
                for h in expected.handoffs.iter().rev() {
                    tx.upsert_handoff(h)?;
                }
                for s in &expected.slots {
                    tx.upsert_slot(s)?;
                }
                for r in &expected.reservations {
                    tx.upsert_reservation(r)?;
                }
                let numbers = audit
                    .iter()
                    .map(|c| tx.append_crossing(c))
                    .collect::<Result<Vec<_>, _>>()?;
                assert!(numbers[0] < numbers[1], "audit rows are numbered in order");
                Ok::<_, StoreError>(())
            })
            .expect("commits");
        assert_eq!(store.load().expect("loads"), expected);
    }
    let store = Store::open(&path).expect("reopens");
    assert_eq!(store.load().expect("loads"), expected);
    assert_eq!(store.crossings().expect("reads"), audit);
}

#[test]
fn updates_replace_the_row_and_deletes_say_whether_there_was_one() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    let mut moved = job("j-1");
    store
        .transaction(|tx| tx.upsert_job(&moved))
        .expect("commits");
    moved.state = "assigned".into();
    moved.detail = json!({ "vehicle": "igv-3" });
    store
        .transaction(|tx| tx.upsert_job(&moved))
        .expect("commits");
    assert_eq!(store.load().expect("loads").jobs, vec![moved]);
    let deleted = store
        .transaction(|tx| Ok::<_, StoreError>((tx.delete_job("j-1")?, tx.delete_job("j-1")?)))
        .expect("commits");
    assert_eq!(deleted, (true, false));
    assert!(job_ids(&store).is_empty());
}

#[test]
fn a_transaction_that_fails_leaves_nothing() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    store
        .transaction(|tx| tx.upsert_job(&job("kept")))
        .expect("commits");
    let before = store.load().expect("loads");

    // The closure's own error, after several writes.
    let result: Result<(), ShellError> = store.transaction(|tx| {
        tx.upsert_job(&job("lost"))?;
        tx.upsert_handoff(&handoff("h-1", Role::Near))?;
        tx.set_custody(&custody("CONT-kept", Side::Cn, "igv", 1))?;
        tx.delete_job("kept")?;
        Err(ShellError::Message("the message could not be built"))
    });
    assert_eq!(
        result,
        Err(ShellError::Message("the message could not be built"))
    );
    assert_eq!(store.load().expect("loads"), before);

    // A write the schema refuses, after one it took.
    let error = store
        .transaction(|tx| {
            tx.upsert_job(&job("lost"))?;
            tx.upsert_slot(&slot("h-missing", 1, 2))
        })
        .expect_err("refused");
    assert!(error.is_constraint(), "{error}");
    assert_eq!(store.load().expect("loads"), before);
}

/// The error of a caller that writes state and then builds a message.
#[derive(Debug, PartialEq)]
enum ShellError {
    Store(String),
    Message(&'static str),
}

impl From<StoreError> for ShellError {
    fn from(e: StoreError) -> ShellError {
        ShellError::Store(e.to_string())
    }
}

#[test]
fn a_transaction_dropped_without_commit_is_lost_and_nothing_else() {
    let (_dir, path) = scratch();
    {
        let mut store = Store::open(&path).expect("creates");
        store
            .transaction(|tx| tx.upsert_job(&job("committed")))
            .expect("commits");
        let tx = store.begin().expect("begins");
        tx.upsert_job(&job("in flight")).expect("writes");
        tx.delete_job("committed").expect("deletes");
        // The process "stops" here: the transaction and the store go away
        // without a commit.
    }
    let store = Store::open(&path).expect("reopens");
    assert_eq!(job_ids(&store), ["committed"]);
}

/// Set in the child process of the crash test: the database to write to.
const CRASH_CHILD: &str = "BORDERLANE_DURABLE_CRASH_CHILD";

#[test]
fn a_process_killed_mid_transaction_keeps_every_commit_and_nothing_else() {
    if let Some(path) = std::env::var_os(CRASH_CHILD) {
        // The child: commit, then die in the middle of a transaction large
        // enough that SQLite has already spilled part of it to the log.
        let mut store = Store::open(&path).expect("creates");
        store
            .transaction(|tx| tx.upsert_job(&job("committed")))
            .expect("commits");
        let tx = store.begin().expect("begins");
        let bulky = json!("x".repeat(4096));
        for i in 0..2_000 {
            let mut j = job(&format!("uncommitted-{i:04}"));
            j.detail = bulky.clone();
            tx.upsert_job(&j).expect("writes");
        }
        std::process::abort();
    }
    let (_dir, path) = scratch();
    let status = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "a_process_killed_mid_transaction_keeps_every_commit_and_nothing_else",
            "--nocapture",
        ])
        .env(CRASH_CHILD, &path)
        .status()
        .expect("the child runs");
    assert!(!status.success(), "the child was to abort: {status}");
    let wal = path.with_extension("db-wal");
    let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        wal_bytes > 1_000_000,
        "the uncommitted transaction reached the log ({wal_bytes} bytes)"
    );
    let store = Store::open(&path).expect("recovers");
    assert_eq!(job_ids(&store), ["committed"]);
}

/// Bytes no SQLite file starts with, the same in every run.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_file_of_random_bytes_is_refused_by_name_and_left_alone() {
    let (_dir, path) = scratch();
    let bytes = noise(64 * 1024);
    std::fs::write(&path, &bytes).expect("writes");
    let error = Store::open(&path).expect_err("refused");
    assert!(
        matches!(&error, StoreError::NotADatabase { path: p } if *p == path),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not an SQLite database"), "{message}");
    assert_eq!(std::fs::read(&path).expect("reads"), bytes);
}

#[test]
fn a_database_with_a_damaged_page_is_refused_by_name() {
    let (_dir, path) = scratch();
    {
        let mut store = Store::open(&path).expect("creates");
        store
            .transaction(|tx| tx.upsert_job(&job("j")))
            .expect("commits");
    }
    // Keep the 100-byte file header, damage the rest of the first page,
    // which holds the schema.
    let mut bytes = std::fs::read(&path).expect("reads");
    bytes[100..4096].copy_from_slice(&noise(3996));
    std::fs::write(&path, &bytes).expect("writes");
    let error = Store::open(&path).expect_err("refused");
    assert!(
        matches!(&error, StoreError::Corrupt { path: p, .. } if *p == path),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).expect("reads"), bytes);
}

#[test]
fn a_newer_schema_is_refused_by_name_and_left_alone() {
    let (_dir, path) = scratch();
    {
        let mut store = Store::open(&path).expect("creates");
        store
            .transaction(|tx| tx.upsert_job(&job("j")))
            .expect("commits");
    }
    let newer = SCHEMA_VERSION as i64 + 1;
    raw(&path)
        .pragma_update(None, "user_version", newer)
        .expect("sets");
    let error = Store::open(&path).expect_err("refused");
    match &error {
        StoreError::NewerSchema {
            path: p,
            found,
            supported,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*found, newer);
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("schema version {newer}")),
        "{message}"
    );
    assert_eq!(pragma(&raw(&path), "user_version"), newer.to_string());
}

#[test]
fn another_applications_database_is_refused_and_left_alone() {
    let (_dir, path) = scratch();
    raw(&path)
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
        .expect("creates");
    let error = Store::open(&path).expect_err("refused");
    assert!(
        matches!(&error, StoreError::Foreign { path: p, application_id: 0 } if *p == path),
        "{error:?}"
    );
    let conn = raw(&path);
    assert_eq!(pragma(&conn, "user_version"), "0");
    assert_eq!(pragma(&conn, "journal_mode"), "delete");
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .expect("counts");
    assert_eq!(tables, 1);
}

#[test]
fn a_directory_that_does_not_exist_is_named() {
    let (dir, _) = scratch();
    let path = dir.path().join("missing").join("state.db");
    let error = Store::open(&path).expect_err("refused");
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    assert!(error.to_string().contains("missing"), "{error}");
}

#[test]
fn moving_custody_updates_the_one_row() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    store
        .transaction(|tx| tx.set_custody(&custody("CONT-1", Side::Vn, "vn-yard-4", 10)))
        .expect("commits");
    let moved = custody("CONT-1", Side::Cn, "igv-2", 50);
    store
        .transaction(|tx| tx.set_custody(&moved))
        .expect("commits");
    assert_eq!(store.load().expect("loads").custody, vec![moved]);
    let conn = raw(&path);
    let rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM custody WHERE container = 'CONT-1'",
            [],
            |r| r.get(0),
        )
        .expect("counts");
    assert_eq!(rows, 1);
    // Even behind the store's back, a second row for the container is
    // impossible.
    let second = conn.execute(
        "INSERT INTO custody (container, side, holder, since_ms) \
         VALUES ('CONT-1', 'VN', 'vn-yard-4', 60)",
        [],
    );
    let error = second.expect_err("refused");
    assert!(error.to_string().contains("UNIQUE"), "{error}");
    assert!(
        store
            .transaction(|tx| tx.delete_custody("CONT-1"))
            .expect("commits")
    );
    assert!(store.load().expect("loads").custody.is_empty());
}

#[test]
fn slots_and_reservations_need_their_handoff_and_go_with_it() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    let error = store
        .transaction(|tx| tx.upsert_slot(&slot("h-9", 1, 2)))
        .expect_err("no such handoff");
    assert!(error.is_constraint(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("\"h-9\"") && message.contains("FOREIGN KEY"),
        "{message}"
    );
    let error = store
        .transaction(|tx| tx.upsert_reservation(&reservation("h-9")))
        .expect_err("no such handoff");
    assert!(error.is_constraint(), "{error}");

    store
        .transaction(|tx| {
            tx.upsert_handoff(&handoff("h-1", Role::Far))?;
            tx.upsert_slot(&slot("h-1", 10, 20))?;
            tx.upsert_reservation(&reservation("h-1"))
        })
        .expect("commits");
    // Updating the handoff keeps what belongs to it.
    let mut later = handoff("h-1", Role::Far);
    later.phase = "granted".into();
    later.sent_seq = 2;
    store
        .transaction(|tx| tx.upsert_handoff(&later))
        .expect("commits");
    let snapshot = store.load().expect("loads");
    assert_eq!(snapshot.handoffs, vec![later]);
    assert_eq!(snapshot.slots, vec![slot("h-1", 10, 20)]);
    assert_eq!(snapshot.reservations, vec![reservation("h-1")]);

    assert!(
        store
            .transaction(|tx| tx.delete_handoff("h-1"))
            .expect("commits")
    );
    assert_eq!(store.load().expect("loads"), Snapshot::default());
}

#[test]
fn bad_values_are_refused_with_the_row_named() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    store
        .transaction(|tx| tx.upsert_handoff(&handoff("h-1", Role::Near)))
        .expect("commits");
    let before = store.load().expect("loads");

    let error = store
        .transaction(|tx| tx.upsert_slot(&slot("h-1", 20, 10)))
        .expect_err("a window that ends before it starts");
    let message = error.to_string();
    assert!(message.contains("window_ends_after_start"), "{message}");
    assert!(message.contains("\"h-1\""), "{message}");

    let mut late = handoff("h-1", Role::Near);
    late.updated_ms = u64::MAX;
    let error = store
        .transaction(|tx| tx.upsert_handoff(&late))
        .expect_err("a time SQLite cannot hold");
    assert!(
        error.to_string().contains("write handoff \"h-1\""),
        "{error}"
    );
    assert_eq!(store.load().expect("loads"), before);
}

#[test]
fn the_audit_is_append_only_and_complete() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    store
        .transaction(|tx| tx.append_crossing(&crossing("h-1")))
        .expect("commits");

    let error = store
        .transaction(|tx| tx.append_crossing(&crossing("h-1")))
        .expect_err("one row per handoff");
    assert!(error.is_constraint(), "{error}");

    let mut incomplete = crossing("h-2");
    incomplete.accepted_ms = None;
    let error = store
        .transaction(|tx| tx.append_crossing(&incomplete))
        .expect_err("a crossing without its acceptance");
    assert!(
        error.to_string().contains("crossed_has_every_time"),
        "{error}"
    );

    let mut nowhere = crossing("h-3");
    nowhere.to = Side::Vn;
    let error = store
        .transaction(|tx| tx.append_crossing(&nowhere))
        .expect_err("from a side to itself");
    assert!(error.to_string().contains("crosses_the_border"), "{error}");

    let conn = raw(&path);
    for sql in [
        "UPDATE crossings SET outcome = 'refused'",
        "DELETE FROM crossings",
    ] {
        let error = conn.execute(sql, []).expect_err("append-only");
        assert!(error.to_string().contains("append-only"), "{sql}: {error}");
    }
    assert_eq!(store.crossings().expect("reads"), vec![crossing("h-1")]);
}

#[test]
fn a_file_of_schema_3_is_upgraded_and_keeps_its_audit() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    store
        .transaction(|tx| tx.append_crossing(&crossing("h-1")))
        .expect("commits");
    drop(store);
    // Take the file back to schema 3: the audit without its
    // inspection_result column.
    let conn = raw(&path);
    conn.execute_batch(
        "ALTER TABLE crossings DROP COLUMN inspection_result; PRAGMA user_version = 3;",
    )
    .expect("downgrades");
    drop(conn);

    let mut store = Store::open(&path).expect("upgrades");
    assert_eq!(
        pragma(&raw(&path), "user_version"),
        SCHEMA_VERSION.to_string()
    );
    let mut inspected = crossing("h-2");
    inspected.sending_decision = "red_scan".to_string();
    inspected.inspection_result = Some("no findings".to_string());
    store
        .transaction(|tx| tx.append_crossing(&inspected))
        .expect("commits");
    assert_eq!(
        store.crossings().expect("reads"),
        vec![crossing("h-1"), inspected]
    );
}

#[test]
fn a_handoff_recorded_again_keeps_its_first_row_and_no_second() {
    let (_dir, path) = scratch();
    let mut store = Store::open(&path).expect("creates");
    let first = crossing("h-1");
    let appended = store
        .transaction(|tx| tx.record_crossing(&first))
        .expect("commits");
    assert!(appended);

    // The same handoff again, with other values, in a transaction that
    // writes something else too: nothing of the audit changes, and the
    // rest of the transaction is stored.
    let mut again = crossing("h-1");
    again.outcome = Outcome::Refused;
    again.receiving_decision = Some("refused: noCapacity".to_string());
    let appended = store
        .transaction(|tx| {
            let appended = tx.record_crossing(&again)?;
            tx.set_counter("next_handoff", 7)?;
            Ok::<_, StoreError>(appended)
        })
        .expect("a second row is not an error");
    assert!(!appended);
    assert_eq!(store.counter("next_handoff").expect("reads"), Some(7));
    assert_eq!(store.crossings().expect("reads"), vec![first.clone()]);

    // Another handoff gets its row; a bad row is still refused.
    let second = crossing("h-2");
    assert!(
        store
            .transaction(|tx| tx.record_crossing(&second))
            .expect("commits")
    );
    let mut incomplete = crossing("h-3");
    incomplete.handover_ms = None;
    let error = store
        .transaction(|tx| tx.record_crossing(&incomplete))
        .expect_err("a crossing without its handover");
    assert!(
        error.to_string().contains("crossed_has_every_time"),
        "{error}"
    );
    drop(store);
    let store = Store::open(&path).expect("reopens");
    assert_eq!(store.crossings().expect("reads"), vec![first, second]);
}

#[test]
fn the_journal_and_the_counters_come_back_in_order_after_reopening() {
    let (_dir, path) = scratch();
    {
        let mut store = Store::open(&path).expect("creates");
        assert!(store.journal().expect("reads").is_empty());
        assert_eq!(store.counter("next_handoff").expect("reads"), None);
        store
            .transaction(|tx| {
                tx.append_journal(5, &json!({"step": "wake"}))?;
                tx.append_journal(3, &json!({"step": "input", "n": 1}))?;
                tx.set_counter("next_handoff", 4)?;
                tx.set_counter("next_handoff", 7)
            })
            .expect("commits");
        // A transaction that fails leaves no journal entry behind.
        let failed: Result<(), StoreError> = store.transaction(|tx| {
            tx.append_journal(9, &json!("lost"))?;
            tx.set_counter("next_handoff", i64::MAX as u64 + 1)
        });
        assert!(failed.is_err());
    }
    let store = Store::open(&path).expect("reopens");
    assert_eq!(
        store.journal().expect("reads"),
        vec![
            (5, json!({"step": "wake"})),
            (3, json!({"step": "input", "n": 1}))
        ]
    );
    assert_eq!(store.counter("next_handoff").expect("reads"), Some(7));
}
