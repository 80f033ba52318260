//! Opening the database: file permissions, connection pragmas, pool size and migrations.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
/// How often the background task folds the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// Hearth's database. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: SqlitePool,
    path: Option<PathBuf>,
    /// Set by writes, cleared by the checkpointer.
    pub(crate) dirty: Arc<AtomicBool>,
    /// Serialises our own writers. SQLite allows one writer at a time; without this, concurrent
    /// turns would collide on its lock and back off in its busy handler (sleeps of 1 to 100 ms),
    /// which is what a busy gateway's p99 would show.
    pub(crate) write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Turn and run writes, for the group-commit writer task (`writer.rs`).
    pub(crate) writer: tokio::sync::mpsc::UnboundedSender<crate::writer::Queued>,
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
            .pragma("cache_size", CACHE_SIZE_KIB)
            // Checkpoints run in the background (see `checkpointer`), never inside a turn's commit.
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&pool).await?;
        tracing::debug!(path = %path.display(), "store opened");
        let dirty = Arc::new(AtomicBool::new(false));
        tokio::spawn(checkpointer(pool.clone(), dirty.clone()));
        Ok(Store::with_writer(pool, Some(path.to_owned()), dirty))
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
        Ok(Store::with_writer(pool, None, Arc::default()))
    }

    fn with_writer(pool: SqlitePool, path: Option<PathBuf>, dirty: Arc<AtomicBool>) -> Store {
        let write_lock = Arc::<tokio::sync::Mutex<()>>::default();
        let (writer, queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(crate::writer::run_writer(
            pool.clone(),
            write_lock.clone(),
            dirty.clone(),
            queue,
        ));
        Store {
            pool,
            path,
            dirty,
            write_lock,
            writer,
        }
    }

    /// Checkpoints the WAL into the main file and closes every connection.
    pub async fn close(&self) {
        let checkpoint = match self.path {
            Some(_) => sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await
                .err(),
            None => None,
        };
        if let Some(e) = checkpoint {
            tracing::warn!(error = %e, "final checkpoint failed; SQLite will replay the WAL at next open");
        }
        self.pool.close().await;
    }

    /// Marks that a write happened, so the next checkpoint tick has work.
    pub(crate) fn wrote(&self) {
        self.dirty.store(true, Ordering::Relaxed);
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

/// Folds the WAL into the database file every [`CHECKPOINT_EVERY`] after writes, off the
/// request path: with SQLite's automatic checkpoint, the commit that crosses the threshold pays
/// for the whole checkpoint (milliseconds), which is what a turn's p99 would see. PASSIVE never
/// waits for readers or writers. Ends when the pool is closed.
async fn checkpointer(pool: SqlitePool, dirty: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if !dirty.swap(false, Ordering::Relaxed) {
            continue;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "background checkpoint failed; will retry");
            dirty.store(true, Ordering::Relaxed);
        }
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
