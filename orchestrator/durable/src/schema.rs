//! The schema, as an ordered list of migrations. `PRAGMA user_version`
//! holds the number of migrations applied; a migration, once released, is
//! never edited: a change to the schema is a new migration at the end.

use rusqlite_migration::{M, Migrations};

/// Marks a file as a Borderlane state database (`PRAGMA application_id`,
/// the bytes "BLne").
pub const APPLICATION_ID: i32 = 0x424C_6E65;

const MIGRATIONS: &[M<'static>] = &[M::up(V1), M::up(V2), M::up(V3), M::up(V4)];

/// The schema version this build writes: the number of migrations.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub(crate) fn migrations() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS)
}

/// The first schema. Tables are not `STRICT`, so that the `sqlite3`
/// command of older distributions (before SQLite 3.37) can read them; the
/// checks below keep the types instead.
const V1: &str = "
PRAGMA application_id = 1112305253; -- APPLICATION_ID

CREATE TABLE jobs (
    id          TEXT NOT NULL PRIMARY KEY,
    container   TEXT NOT NULL,
    from_place  TEXT NOT NULL,
    to_place    TEXT NOT NULL,
    state       TEXT NOT NULL,
    detail      TEXT NOT NULL CHECK (json_valid(detail))
);

-- One row per container in this side's custody: the primary key makes a
-- second row for a container impossible, so moving custody is an update.
CREATE TABLE custody (
    container  TEXT NOT NULL PRIMARY KEY,
    side       TEXT NOT NULL CHECK (side IN ('VN', 'CN')),
    holder     TEXT NOT NULL,
    since_ms   INTEGER NOT NULL CHECK (typeof(since_ms) = 'integer' AND since_ms >= 0)
);

CREATE TABLE handoffs (
    id            TEXT NOT NULL PRIMARY KEY,
    vehicle       TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('near', 'far')),
    phase         TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (json_valid(state)),
    sent_seq      INTEGER NOT NULL CHECK (typeof(sent_seq) = 'integer' AND sent_seq >= 0),
    received_seq  INTEGER NOT NULL CHECK (typeof(received_seq) = 'integer' AND received_seq >= 0),
    updated_ms    INTEGER NOT NULL CHECK (typeof(updated_ms) = 'integer' AND updated_ms >= 0)
);
CREATE INDEX handoffs_by_vehicle ON handoffs (vehicle);

CREATE TABLE slots (
    handoff          TEXT NOT NULL PRIMARY KEY REFERENCES handoffs (id) ON DELETE CASCADE,
    vehicle          TEXT NOT NULL,
    window_start_ms  INTEGER NOT NULL
        CHECK (typeof(window_start_ms) = 'integer' AND window_start_ms >= 0),
    window_end_ms    INTEGER NOT NULL
        CONSTRAINT window_ends_after_start
        CHECK (typeof(window_end_ms) = 'integer' AND window_end_ms >= window_start_ms)
);

CREATE TABLE reservations (
    handoff  TEXT NOT NULL PRIMARY KEY REFERENCES handoffs (id) ON DELETE CASCADE,
    detail   TEXT NOT NULL CHECK (json_valid(detail))
);

-- The customs audit: one row per handoff that ended, never changed.
CREATE TABLE crossings (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    handoff             TEXT NOT NULL UNIQUE,
    vehicle             TEXT NOT NULL,
    container           TEXT NOT NULL,
    manifest            TEXT NOT NULL,
    e_seal              TEXT NOT NULL,
    e_seal_state        TEXT NOT NULL,
    from_side           TEXT NOT NULL CHECK (from_side IN ('VN', 'CN')),
    to_side             TEXT NOT NULL CHECK (to_side IN ('VN', 'CN')),
    outcome             TEXT NOT NULL CHECK (outcome IN ('crossed', 'refused', 'withdrawn')),
    requested_ms        INTEGER NOT NULL CHECK (typeof(requested_ms) = 'integer'),
    granted_ms          INTEGER CHECK (granted_ms IS NULL OR typeof(granted_ms) = 'integer'),
    handover_ms         INTEGER CHECK (handover_ms IS NULL OR typeof(handover_ms) = 'integer'),
    accepted_ms         INTEGER CHECK (accepted_ms IS NULL OR typeof(accepted_ms) = 'integer'),
    sending_decision    TEXT NOT NULL,
    receiving_decision  TEXT,
    CONSTRAINT crosses_the_border CHECK (from_side <> to_side),
    CONSTRAINT crossed_has_every_time CHECK (
        outcome <> 'crossed' OR (granted_ms IS NOT NULL AND handover_ms IS NOT NULL
            AND accepted_ms IS NOT NULL AND receiving_decision IS NOT NULL)
    )
);
CREATE INDEX crossings_by_container ON crossings (container);
CREATE INDEX crossings_by_requested ON crossings (requested_ms);
CREATE TRIGGER crossings_no_update BEFORE UPDATE ON crossings
BEGIN
    SELECT RAISE(ABORT, 'crossings is append-only');
END;
CREATE TRIGGER crossings_no_delete BEFORE DELETE ON crossings
BEGIN
    SELECT RAISE(ABORT, 'crossings is append-only');
END;
";

/// The second schema: the journal of the core's steps, replayed on start
/// to rebuild the core's memory, and named counters (the number of the
/// next handoff, which must never repeat).
const V2: &str = "
CREATE TABLE journal (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms  INTEGER NOT NULL CHECK (typeof(at_ms) = 'integer' AND at_ms >= 0),
    entry  TEXT NOT NULL CHECK (json_valid(entry))
);

CREATE TABLE counters (
    name   TEXT NOT NULL PRIMARY KEY,
    value  INTEGER NOT NULL CHECK (typeof(value) = 'integer' AND value >= 0)
);
";

/// The third schema: named JSON values a shell keeps beside the core's
/// journal (a station's VDA 5050 order state per vehicle, and which
/// vehicles it reads), written in the same transactions.
const V3: &str = "
CREATE TABLE shell_state (
    name   TEXT NOT NULL PRIMARY KEY,
    value  TEXT NOT NULL CHECK (json_valid(value))
);
";

/// The fourth schema: the sending side's inspection result in a column of
/// its own, so that `sending_decision` holds the channel alone and the two
/// sides' decisions compare with `=`. Rows appended before it have none.
const V4: &str = "
ALTER TABLE crossings ADD COLUMN inspection_result TEXT;
";
