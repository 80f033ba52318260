//! Transcripts and runs: the per-turn read and the per-turn write transaction.

use hearth_protocol::transcript::Message;
use sqlx::SqliteConnection;

use crate::model::{RUN_COLUMNS, RunRow, title_from, to_db_int};
use crate::{RunRecord, Store, StoreError};

const INSERT_RUN: &str = "INSERT INTO runs (id, session_id, session_key, agent_id, model, status, \
     input, error, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost, \
     started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const LAST_MESSAGES: &str =
    "SELECT content_json FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?";
const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE session_id = ?";
const INSERT_MESSAGE: &str = "INSERT INTO messages (session_id, run_id, seq, role, content_json, \
     created_at) VALUES (?, ?, ?, ?, ?, ?)";
// A NULL cost adds nothing; a known cost adds to the total, as `Usage::add` does.
const UPDATE_SESSION_TOTALS: &str = "UPDATE sessions SET updated_at = MAX(updated_at, ?), \
     message_count = message_count + ?, input_tokens = input_tokens + ?, \
     output_tokens = output_tokens + ?, cache_read_tokens = cache_read_tokens + ?, \
     cache_write_tokens = cache_write_tokens + ?, \
     cost = CASE WHEN ? IS NULL THEN cost ELSE COALESCE(cost, 0) + ? END, \
     title = COALESCE(title, ?) WHERE id = ?";

impl Store {
    /// The last `limit` messages of a session (all of them when `None`), oldest first.
    pub async fn transcript(
        &self,
        session_id: &str,
        limit: Option<u32>,
    ) -> Result<Vec<Message>, StoreError> {
        // SQLite reads a negative LIMIT as "no limit".
        let limit = limit.map_or(-1, i64::from);
        let rows: Vec<String> = sqlx::query_scalar(LAST_MESSAGES)
            .bind(session_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows
            .iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|source| StoreError::Corrupt {
                    what: format!("message in session {session_id}"),
                    source,
                })
            })
            .collect::<Result<Vec<Message>, _>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// Records a finished turn in one transaction: the run, the new messages (appended after the
    /// session's last one) and the session's totals, `updated_at` and, while it has none, title.
    ///
    /// The run is stored under `session_id` whatever `run.session_id` says.
    pub async fn commit_turn(
        &self,
        session_id: &str,
        run: &RunRecord,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        // Encode before taking the write lock, so the lock is held for SQL only.
        let encoded = messages
            .iter()
            .map(|m| {
                let json = serde_json::to_string(m).map_err(|source| StoreError::Corrupt {
                    what: format!("message of run {}", run.id),
                    source,
                })?;
                let at = if m.timestamp > 0 {
                    m.timestamp
                } else {
                    run.ended_at
                };
                Ok((m.role.as_str(), json, at))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let title = title_from(messages);

        // IMMEDIATE takes the write lock up front: a deferred transaction that reads first can
        // fail to upgrade under a concurrent writer without waiting for the busy timeout.
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_run(&mut tx, Some(session_id), run).await?;
        let last_seq: i64 = sqlx::query_scalar(LAST_SEQ)
            .bind(session_id)
            .fetch_one(&mut *tx)
            .await?;
        for (seq, (role, json, at)) in (last_seq + 1..).zip(&encoded) {
            sqlx::query(INSERT_MESSAGE)
                .bind(session_id)
                .bind(&run.id)
                .bind(seq)
                .bind(*role)
                .bind(json)
                .bind(*at)
                .execute(&mut *tx)
                .await?;
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
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            // Unreachable with foreign keys on (the run insert fails first); dropping `tx` rolls
            // back.
            return Err(StoreError::Db(sqlx::Error::RowNotFound));
        }
        tx.commit().await?;
        self.wrote();
        Ok(())
    }

    /// Records a run that changed no transcript: failed, aborted, or stateless
    /// (`session_id: None`).
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut conn = self.pool.acquire().await?;
        insert_run(&mut conn, run.session_id.as_deref(), run).await?;
        self.wrote();
        Ok(())
    }

    pub async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?");
        let row = sqlx::query_as::<_, RunRow>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(RunRecord::try_from).transpose()
    }

    /// A session's runs, oldest first.
    pub async fn runs_for_session(&self, session_id: &str) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE session_id = ? ORDER BY started_at, rowid"
        );
        let rows = sqlx::query_as::<_, RunRow>(&sql)
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(RunRecord::try_from).collect()
    }
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
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SESSION_COLUMNS;

    /// Every query on the per-turn path must be an index search, never a table scan.
    #[tokio::test]
    async fn per_turn_queries_use_indexes() {
        let store = Store::open_memory().await.unwrap();
        let queries = [
            LAST_MESSAGES.to_owned(),
            LAST_SEQ.to_owned(),
            UPDATE_SESSION_TOTALS.to_owned(),
            format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE key = ? AND archived = 0"),
            format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?"),
            "DELETE FROM sessions WHERE key = ?".to_owned(),
        ];
        for sql in queries {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
            assert!(!plan.is_empty(), "no plan for {sql}");
            for (_, _, _, detail) in &plan {
                assert!(!detail.starts_with("SCAN"), "`{sql}` scans: `{detail}`");
                assert!(!detail.contains("TEMP B-TREE"), "`{sql}` sorts: `{detail}`");
            }
        }
    }
}
