//! The database: opening it, writing in transactions, loading it back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use borderlane_model::Ms;
use rusqlite::{Connection, OptionalExtension, Params, Row, TransactionBehavior, params};
use serde_json::Value;

use crate::error::StoreError;
use crate::records::{
    Code, Crossing, Custody, Handoff, Job, Reservation, Slot, Snapshot, json_text,
};
use crate::schema::{APPLICATION_ID, SCHEMA_VERSION, migrations};

/// How long a write waits for another connection's lock (the `sqlite3`
/// command reading the audit, say) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One orchestrator's durable state, in one SQLite file.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens the database at `path`, creating it if there is no file and
    /// bringing an older schema up to date. A file that is not an SQLite
    /// database, belongs to another application or has a newer schema is
    /// refused and left as it was.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        configure(&conn, &path)?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migration {
                path: path.clone(),
                supported: SCHEMA_VERSION,
                source,
            })?;
        Ok(Store { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Begins a transaction. It commits with [`Tx::commit`]; dropped without
    /// that, it leaves nothing behind.
    pub fn begin(&mut self) -> Result<Tx<'_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(&self.path, "begin a transaction", e))?;
        Ok(Tx {
            tx,
            path: &self.path,
        })
    }

    /// Runs `f` in a transaction and commits what it wrote if it returns
    /// `Ok`, atomically and durably: once this returns `Ok`, the writes
    /// survive a crash. If `f` fails, nothing it wrote remains.
    pub fn transaction<T, E>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self.begin()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Everything to recover on start, each table in key order.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let read = self
            .conn
            .unchecked_transaction()
            .map_err(|e| StoreError::sqlite(&self.path, "begin reading", e))?;
        let snapshot = Snapshot {
            jobs: self.select("jobs", Job::COLUMNS, "id", Job::from_row)?,
            custody: self.select("custody", Custody::COLUMNS, "container", Custody::from_row)?,
            handoffs: self.select("handoffs", Handoff::COLUMNS, "id", Handoff::from_row)?,
            slots: self.select("slots", Slot::COLUMNS, "handoff", Slot::from_row)?,
            reservations: self.select(
                "reservations",
                Reservation::COLUMNS,
                "handoff",
                Reservation::from_row,
            )?,
        };
        drop(read);
        Ok(snapshot)
    }

    /// The journal, in the order it was appended: (time, entry).
    pub fn journal(&self) -> Result<Vec<(Ms, Value)>, StoreError> {
        self.select("journal", "at_ms, entry", "seq", |row| {
            Ok((row.get(0)?, crate::records::json(row, 1)?))
        })
    }

    /// A named counter's value, if it was ever set.
    pub fn counter(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM counters WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| StoreError::sqlite(&self.path, format!("read counter {name:?}"), e))
    }

    /// A named value a shell stored with [`Tx::set_value`], if there is one.
    pub fn value(&self, name: &str) -> Result<Option<Value>, StoreError> {
        let fail = |e| StoreError::sqlite(&self.path, format!("read shell state {name:?}"), e);
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM shell_state WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(fail)?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("shell state {name:?} is not JSON: {e}"),
            })
        })
        .transpose()
    }

    /// The customs audit, in the order the rows were appended.
    pub fn crossings(&self) -> Result<Vec<Crossing>, StoreError> {
        self.select("crossings", Crossing::COLUMNS, "id", Crossing::from_row)
    }

    fn select<T>(
        &self,
        table: &str,
        columns: &str,
        order: &str,
        from_row: fn(&Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let fail = |e| StoreError::sqlite(&self.path, format!("read table {table}"), e);
        let sql = format!("SELECT {columns} FROM {table} ORDER BY {order}");
        let mut statement = self.conn.prepare_cached(&sql).map_err(fail)?;
        let rows = statement.query_map([], from_row).map_err(fail)?;
        rows.collect::<Result<_, _>>().map_err(fail)
    }
}

/// Sets the connection up: WAL, durable commits, foreign keys. The file is
/// checked first, so that nothing is written to a file that is refused.
fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let fail = |what: &'static str| move |e| StoreError::sqlite(path, what, e);
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(fail("set the busy timeout"))?;
    check_identity(conn, path)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .map_err(fail("switch to WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // In WAL mode, NORMAL would survive a crash of the process but not of
    // the machine: a power cut could take back the last commits after the
    // messages that depend on them went out. FULL syncs the log at every
    // commit.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(fail("set synchronous"))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(fail("turn on foreign keys"))
}

/// Refuses a file that is not a database, belongs to another application
/// or has a newer schema, before anything is written to it.
fn check_identity(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let read = |sql: &str| {
        conn.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map_err(|e| StoreError::sqlite(path, "read the database header", e))
    };
    let application_id = read("PRAGMA application_id")? as i32;
    let version = read("PRAGMA user_version")?;
    let objects = read("SELECT count(*) FROM sqlite_master")?;
    if application_id != APPLICATION_ID && (application_id != 0 || objects > 0) {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
            application_id,
        });
    }
    if version > SCHEMA_VERSION as i64 {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// A transaction on the store. Every write names the row it was for when
/// it fails; a failed write leaves the transaction as it was before it.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    path: &'a Path,
}

impl Tx<'_> {
    /// Commits: once this returns, the writes are on disk.
    pub fn commit(self) -> Result<(), StoreError> {
        self.tx
            .commit()
            .map_err(|e| StoreError::sqlite(self.path, "commit", e))
    }

    pub fn upsert_job(&self, job: &Job) -> Result<(), StoreError> {
        let sql = "INSERT INTO jobs (id, container, from_place, to_place, state, detail) \
            VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
            ON CONFLICT (id) DO UPDATE SET container = excluded.container, \
            from_place = excluded.from_place, to_place = excluded.to_place, \
            state = excluded.state, detail = excluded.detail";
        let values = params![
            job.id,
            job.container,
            job.from,
            job.to,
            job.state,
            json_text(&job.detail)
        ];
        self.write(|| format!("write job {:?}", job.id), sql, values)
    }

    /// Whether there was such a job.
    pub fn delete_job(&self, id: &str) -> Result<bool, StoreError> {
        self.delete("job", "DELETE FROM jobs WHERE id = ?1", id)
    }

    /// Records who holds a container now: its one custody row is created
    /// or updated in place.
    pub fn set_custody(&self, custody: &Custody) -> Result<(), StoreError> {
        let sql = "INSERT INTO custody (container, side, holder, since_ms) \
            VALUES (?1, ?2, ?3, ?4) \
            ON CONFLICT (container) DO UPDATE SET side = excluded.side, \
            holder = excluded.holder, since_ms = excluded.since_ms";
        let values = params![
            custody.container,
            custody.side.code(),
            custody.holder,
            custody.since_ms
        ];
        self.write(
            || format!("write custody of {:?}", custody.container),
            sql,
            values,
        )
    }

    /// Ends this side's custody of a container (it was handed to the other
    /// side, or delivered). Whether there was such a row.
    pub fn delete_custody(&self, container: &str) -> Result<bool, StoreError> {
        self.delete(
            "custody",
            "DELETE FROM custody WHERE container = ?1",
            container,
        )
    }

    pub fn upsert_handoff(&self, handoff: &Handoff) -> Result<(), StoreError> {
        let sql = "INSERT INTO handoffs \
            (id, vehicle, role, phase, state, sent_seq, received_seq, updated_ms) \
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
            ON CONFLICT (id) DO UPDATE SET vehicle = excluded.vehicle, role = excluded.role, \
            phase = excluded.phase, state = excluded.state, sent_seq = excluded.sent_seq, \
            received_seq = excluded.received_seq, updated_ms = excluded.updated_ms";
        let values = params![
            handoff.id,
            handoff.vehicle,
            handoff.role.code(),
            handoff.phase,
            json_text(&handoff.state),
            handoff.sent_seq,
            handoff.received_seq,
            handoff.updated_ms
        ];
        self.write(|| format!("write handoff {:?}", handoff.id), sql, values)
    }

    /// Deletes a handoff with its slot and reservations. Whether there was
    /// such a handoff.
    pub fn delete_handoff(&self, id: &str) -> Result<bool, StoreError> {
        self.delete("handoff", "DELETE FROM handoffs WHERE id = ?1", id)
    }

    /// Records the slot granted in a handoff, which must exist.
    pub fn upsert_slot(&self, slot: &Slot) -> Result<(), StoreError> {
        let sql = "INSERT INTO slots (handoff, vehicle, window_start_ms, window_end_ms) \
            VALUES (?1, ?2, ?3, ?4) \
            ON CONFLICT (handoff) DO UPDATE SET vehicle = excluded.vehicle, \
            window_start_ms = excluded.window_start_ms, window_end_ms = excluded.window_end_ms";
        let values = params![
            slot.handoff,
            slot.vehicle,
            slot.window_start_ms,
            slot.window_end_ms
        ];
        self.write(
            || format!("write the slot of handoff {:?}", slot.handoff),
            sql,
            values,
        )
    }

    pub fn delete_slot(&self, handoff: &str) -> Result<bool, StoreError> {
        self.delete("slot", "DELETE FROM slots WHERE handoff = ?1", handoff)
    }

    /// Records the reservations of a handoff, which must exist.
    pub fn upsert_reservation(&self, reservation: &Reservation) -> Result<(), StoreError> {
        let sql = "INSERT INTO reservations (handoff, detail) VALUES (?1, ?2) \
            ON CONFLICT (handoff) DO UPDATE SET detail = excluded.detail";
        let values = params![reservation.handoff, json_text(&reservation.detail)];
        self.write(
            || {
                format!(
                    "write the reservations of handoff {:?}",
                    reservation.handoff
                )
            },
            sql,
            values,
        )
    }

    pub fn delete_reservation(&self, handoff: &str) -> Result<bool, StoreError> {
        self.delete(
            "reservations",
            "DELETE FROM reservations WHERE handoff = ?1",
            handoff,
        )
    }

    /// Appends a row to the customs audit; a handoff has at most one, and
    /// a second row for it is an error. Returns the row's number, which
    /// grows with every row.
    pub fn append_crossing(&self, crossing: &Crossing) -> Result<i64, StoreError> {
        self.insert_crossing(crossing, "")?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Appends the row of a handoff that ended to the customs audit unless
    /// the handoff has one already, which is then kept as it is: storing
    /// an ended handoff again (a record changed after it ended, or stored
    /// again after a restart) changes nothing. Whether a row was appended.
    pub fn record_crossing(&self, crossing: &Crossing) -> Result<bool, StoreError> {
        self.insert_crossing(crossing, " ON CONFLICT (handoff) DO NOTHING")
            .map(|rows| rows > 0)
    }

    fn insert_crossing(&self, crossing: &Crossing, conflict: &str) -> Result<usize, StoreError> {
        let sql = format!(
            "INSERT INTO crossings (handoff, vehicle, container, manifest, e_seal, \
            e_seal_state, from_side, to_side, outcome, requested_ms, granted_ms, handover_ms, \
            accepted_ms, sending_decision, receiving_decision, inspection_result) \
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)\
            {conflict}"
        );
        let values = params![
            crossing.handoff,
            crossing.vehicle,
            crossing.container,
            crossing.manifest,
            crossing.e_seal,
            crossing.e_seal_state,
            crossing.from.code(),
            crossing.to.code(),
            crossing.outcome.code(),
            crossing.requested_ms,
            crossing.granted_ms,
            crossing.handover_ms,
            crossing.accepted_ms,
            crossing.sending_decision,
            crossing.receiving_decision,
            crossing.inspection_result
        ];
        self.execute(
            || format!("append the crossing of handoff {:?}", crossing.handoff),
            &sql,
            values,
        )
    }

    /// Appends an entry to the journal.
    pub fn append_journal(&self, at_ms: Ms, entry: &Value) -> Result<(), StoreError> {
        let sql = "INSERT INTO journal (at_ms, entry) VALUES (?1, ?2)";
        self.write(
            || format!("append to the journal at {at_ms} ms"),
            sql,
            params![at_ms, json_text(entry)],
        )
    }

    /// Sets a named value of the shell's (created or replaced).
    pub fn set_value(&self, name: &str, value: &Value) -> Result<(), StoreError> {
        let sql = "INSERT INTO shell_state (name, value) VALUES (?1, ?2) \
            ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        self.write(
            || format!("write shell state {name:?}"),
            sql,
            params![name, json_text(value)],
        )
    }

    /// Sets a named counter.
    pub fn set_counter(&self, name: &str, value: u64) -> Result<(), StoreError> {
        let sql = "INSERT INTO counters (name, value) VALUES (?1, ?2) \
            ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        self.write(
            || format!("write counter {name:?}"),
            sql,
            params![name, value],
        )
    }

    fn write(
        &self,
        what: impl FnOnce() -> String,
        sql: &str,
        values: impl Params,
    ) -> Result<(), StoreError> {
        self.execute(what, sql, values).map(drop)
    }

    fn delete(&self, noun: &str, sql: &str, key: &str) -> Result<bool, StoreError> {
        self.execute(|| format!("delete {noun} {key:?}"), sql, [key])
            .map(|rows| rows > 0)
    }

    fn execute(
        &self,
        what: impl FnOnce() -> String,
        sql: &str,
        values: impl Params,
    ) -> Result<usize, StoreError> {
        self.tx
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(values))
            .map_err(|e| StoreError::sqlite(self.path, what(), e))
    }
}
