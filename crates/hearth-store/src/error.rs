//! The store's one error type.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be created or opened.
    #[error("cannot open the database at {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// What the caller asked for does not fit the stored state (a missing session, a taken key).
    #[error("{0}")]
    Conflict(String),
    /// The store was closed (the gateway is shutting down).
    #[error("the store is closed")]
    Closed,
    /// A stored JSON value no longer parses (or a value could not be encoded for storage).
    #[error("corrupt {what}: {source}")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}
