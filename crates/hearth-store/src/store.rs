//! Opening the database: file permissions, connection pragmas, pool size and migrations.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;

static MIGRATOR: Migrator = sqlx::migrate!();

/// Writers wait this long for the lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// One writer at a time anyway (SQLite), a few readers beside it.
const MAX_CONNECTIONS: u32 = 4;
/// Page cache per connection, in KiB (negative = KiB for SQLite); the gateway idles under 20 MB.
const CACHE_SIZE_KIB: &str = "-2000";

/// Hearth's database. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: SqlitePool,
    path: Option<PathBuf>,
}

impl Store {
    /// Opens (creating it if needed) the database file at `path` and brings its schema up to date.
    ///
    /// On unix the file is made readable by its owner only: transcripts are private.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        create_private_file(path).map_err(|e| open_err(sqlx::Error::Io(e)))?;

        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", CACHE_SIZE_KIB);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&pool).await?;
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Store {
            pool,
            path: Some(path.to_owned()),
        })
    }

    /// A private in-memory database, for tests.
    ///
    /// Every connection to `:memory:` is a separate database, so the pool holds exactly one
    /// connection and never recycles it.
    pub async fn open_memory() -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?
            .foreign_keys(true)
            .pragma("cache_size", CACHE_SIZE_KIB);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool, path: None })
    }

    /// Closes every connection; the last one to close checkpoints the WAL into the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// Creates the file (and its directory) before SQLite does, so it never exists with a wider mode.
/// SQLite gives the `-wal` and `-shm` files the main file's mode.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        open.mode(0o600);
        open.open(path)?;
        // An existing file keeps its mode on open; tighten it.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    open.open(path)?;
    Ok(())
}
