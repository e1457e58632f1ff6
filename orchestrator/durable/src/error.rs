//! What can go wrong, each naming the database file.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: cannot open the state database: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{}: not an SQLite database (the file holds something else, or its header is damaged)",
        path.display()
    )]
    NotADatabase { path: PathBuf },
    #[error("{}: the state database is damaged: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{}: an SQLite database of another application (application_id {application_id:#010x}), \
         not a Borderlane state database",
        path.display()
    )]
    Foreign { path: PathBuf, application_id: i32 },
    #[error(
        "{}: schema version {found} is newer than this build understands (at most {supported}); \
         run a newer Borderlane",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: usize,
    },
    #[error("{}: cannot bring the schema up to version {supported}: {source}", path.display())]
    Migration {
        path: PathBuf,
        supported: usize,
        source: rusqlite_migration::Error,
    },
    #[error("{}: journal mode {mode:?} instead of WAL (is it a file on disk?)", path.display())]
    NoWal { path: PathBuf, mode: String },
    /// A statement failed; `what` says which and on what key.
    #[error("{}: {what}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        what: String,
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Whether a constraint of the schema refused a write: a second row for
    /// a key, a slot for a handoff that does not exist, an empty window, an
    /// audit row changed.
    pub fn is_constraint(&self) -> bool {
        matches!(self, StoreError::Sqlite { source, .. }
            if source.sqlite_error_code() == Some(ErrorCode::ConstraintViolation))
    }

    /// An SQLite error in `what`, classed: a file that is not a database or
    /// is damaged gets its own variant.
    pub(crate) fn sqlite(
        path: &Path,
        what: impl Into<String>,
        source: rusqlite::Error,
    ) -> StoreError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                detail: source.to_string(),
            },
            _ => StoreError::Sqlite {
                path,
                what: what.into(),
                source,
            },
        }
    }
}
