//! Group commit: one writer task turns many concurrent turn and run writes into one transaction.
//!
//! SQLite has one writer at a time. Committing each turn on its own makes a busy gateway pay a
//! transaction (and a WAL append of every touched page) per turn, one after another. Instead,
//! [`Store::commit_turn`] and [`Store::record_run`] queue a [`Job`]; the writer takes everything
//! queued, writes it in one `BEGIN IMMEDIATE … COMMIT`, and answers each caller. A caller still
//! returns only after its turn is committed. If the batch fails, each job is retried in a
//! transaction of its own, so one bad job (say, a session deleted meanwhile) fails alone.

use sqlx::AssertSqlSafe;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::model::to_db_int;
use crate::{RunRecord, Store};

/// Most jobs written in one transaction.
const MAX_BATCH: usize = 128;

const INSERT_RUN: &str = "INSERT INTO runs (id, session_id, session_key, agent_id, channel, model, \
     status, input, error, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, \
     cost, started_at, ended_at, sender, parent_run_id) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
pub(crate) const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?";
// A NULL cost adds nothing; a known cost adds to the total, as `Usage::add` does.
pub(crate) const UPDATE_SESSION_TOTALS: &str = "UPDATE sessions SET updated_at = MAX(updated_at, ?), \
     message_count = message_count + ?, input_tokens = input_tokens + ?, \
     output_tokens = output_tokens + ?, cache_read_tokens = cache_read_tokens + ?, \
     cache_write_tokens = cache_write_tokens + ?, \
     cost = CASE WHEN ? IS NULL THEN cost ELSE COALESCE(cost, 0) + ? END, \
     title = COALESCE(title, ?) WHERE id = ?";

/// One queued write.
#[derive(Debug)]
pub(crate) enum Job {
    /// A finished turn: its run, its messages (role, JSON, time) and the session's new title.
    Turn {
        session_id: String,
        run: RunRecord,
        messages: Vec<(&'static str, String, i64)>,
        title: Option<String>,
    },
    /// A run that changes no transcript.
    Run { run: RunRecord },
    /// Messages of an existing run added to another session (a scheduled job's answer
    /// delivered there).
    Append {
        session_id: String,
        run_id: String,
        messages: Vec<(&'static str, String, i64)>,
    },
}

pub(crate) struct Queued {
    pub(crate) job: Job,
    pub(crate) done: oneshot::Sender<Result<(), StoreError>>,
}

impl Store {
    /// Queues a write and waits until it is committed.
    pub(crate) async fn write(&self, job: Job) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        self.writer
            .send(Queued { job, done })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writer task: ends when every `Store` clone is gone.
pub(crate) async fn run_writer(
    pool: SqlitePool,
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
    mut queue: mpsc::UnboundedReceiver<Queued>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _writer = write_lock.lock().await;
        let results = match write_batch(&pool, &batch).await {
            Ok(()) => batch.iter().map(|_| Ok(())).collect(),
            // One at a time, so only the jobs that fail report failure.
            Err(_) if batch.len() > 1 => {
                let mut results = Vec::with_capacity(batch.len());
                for queued in &batch {
                    results.push(write_batch(&pool, std::slice::from_ref(queued)).await);
                }
                results
            }
            Err(e) => vec![Err(e)],
        };
        dirty.store(true, std::sync::atomic::Ordering::Relaxed);
        for (queued, result) in batch.drain(..).zip(results) {
            let _ = queued.done.send(result);
        }
    }
}

async fn write_batch(pool: &SqlitePool, batch: &[Queued]) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads first can fail
    // to upgrade under another writer without waiting for the busy timeout.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for queued in batch {
        match &queued.job {
            Job::Turn {
                session_id,
                run,
                messages,
                title,
            } => {
                write_turn(&mut tx, session_id, run, messages, title.as_deref()).await?;
            }
            Job::Run { run } => insert_run(&mut tx, run.session_id.as_deref(), run).await?,
            Job::Append {
                session_id,
                run_id,
                messages,
            } => append_messages(&mut tx, session_id, run_id, messages).await?,
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn write_turn(
    conn: &mut SqliteConnection,
    session_id: &str,
    run: &RunRecord,
    messages: &[(&'static str, String, i64)],
    title: Option<&str>,
) -> Result<(), StoreError> {
    insert_run(conn, Some(session_id), run).await?;
    if !messages.is_empty() {
        // One statement for all of the turn's messages, numbered after the session's last one:
        // every statement is a round trip to the connection's thread.
        let sql = insert_messages_sql(messages.len());
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(session_id);
        for (role, json, at) in messages {
            query = query
                .bind(session_id)
                .bind(&run.id)
                .bind(*role)
                .bind(json)
                .bind(*at);
        }
        query.execute(&mut *conn).await?;
    }
    let usage = &run.usage;
    let updated = sqlx::query(UPDATE_SESSION_TOTALS)
        .bind(run.ended_at)
        .bind(to_db_int(messages.len() as u64))
        .bind(to_db_int(usage.input))
        .bind(to_db_int(usage.output))
        .bind(to_db_int(usage.cache_read))
        .bind(to_db_int(usage.cache_write))
        .bind(usage.cost)
        .bind(usage.cost)
        .bind(title)
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
    if updated.rows_affected() == 0 {
        // Unreachable with foreign keys on (the run insert fails first).
        return Err(StoreError::Db(sqlx::Error::RowNotFound));
    }
    Ok(())
}

async fn append_messages(
    conn: &mut SqliteConnection,
    session_id: &str,
    run_id: &str,
    messages: &[(&'static str, String, i64)],
) -> Result<(), StoreError> {
    let Some(last_at) = messages.iter().map(|m| m.2).max() else {
        return Ok(());
    };
    let mut query =
        sqlx::query(AssertSqlSafe(insert_messages_sql(messages.len()))).bind(session_id);
    for (role, json, at) in messages {
        query = query
            .bind(session_id)
            .bind(run_id)
            .bind(*role)
            .bind(json)
            .bind(*at);
    }
    query.execute(&mut *conn).await?;
    sqlx::query(UPDATE_SESSION_TOTALS)
        .bind(last_at)
        .bind(to_db_int(messages.len() as u64))
        .bind(0_i64)
        .bind(0_i64)
        .bind(0_i64)
        .bind(0_i64)
        .bind(None::<f64>)
        .bind(None::<f64>)
        .bind(None::<&str>)
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `INSERT` of `n` messages with consecutive `seq` after the session's last (bind the session id
/// once for the base, then session id, run id, role, JSON and time per message). SQLite
/// evaluates the `SELECT` from `messages` in full before inserting into it.
fn insert_messages_sql(n: usize) -> String {
    let mut sql = String::from(
        "WITH base(last) AS (SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?) \
         INSERT INTO messages (session_id, run_id, seq, role, content_json, created_at) ",
    );
    for i in 1..=n {
        if i > 1 {
            sql.push_str(" UNION ALL ");
        }
        sql.push_str(&format!("SELECT ?, ?, last + {i}, ?, ?, ? FROM base"));
    }
    sql
}

async fn insert_run(
    conn: &mut SqliteConnection,
    session_id: Option<&str>,
    run: &RunRecord,
) -> Result<(), StoreError> {
    let usage = &run.usage;
    sqlx::query(INSERT_RUN)
        .bind(&run.id)
        .bind(session_id)
        .bind(&run.session_key)
        .bind(&run.agent_id)
        .bind(run.channel.as_deref())
        .bind(run.model.as_deref())
        .bind(run.status.as_str())
        .bind(&run.input)
        .bind(run.error.as_deref())
        .bind(to_db_int(usage.input))
        .bind(to_db_int(usage.output))
        .bind(to_db_int(usage.cache_read))
        .bind(to_db_int(usage.cache_write))
        .bind(usage.cost)
        .bind(run.started_at)
        .bind(run.ended_at)
        .bind(run.sender.as_deref())
        .bind(run.parent_run_id.as_deref())
        .execute(conn)
        .await?;
    Ok(())
}
