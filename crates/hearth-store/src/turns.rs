//! Transcripts and runs: the per-turn read and the per-turn write transaction.

use hearth_protocol::transcript::Message;
use sqlx::AssertSqlSafe;

use crate::model::{RUN_COLUMNS, RunRow, title_from};
use crate::writer::Job;
use crate::{RunRecord, Store, StoreError};

const LAST_MESSAGES: &str =
    "SELECT content_json FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?";

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
        self.write(Job::Turn {
            session_id: session_id.to_owned(),
            run: run.clone(),
            messages: encoded,
            title,
        })
        .await
    }

    /// Adds `messages` of the existing run `run_id` to the session `session_id` (another
    /// session than the run's own: a scheduled job's answer delivered there).
    pub async fn append_messages(
        &self,
        session_id: &str,
        run_id: &str,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let encoded = messages
            .iter()
            .map(|m| {
                let json = serde_json::to_string(m).map_err(|source| StoreError::Corrupt {
                    what: format!("message of run {run_id}"),
                    source,
                })?;
                Ok((m.role.as_str(), json, m.timestamp))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(Job::Append {
            session_id: session_id.to_owned(),
            run_id: run_id.to_owned(),
            messages: encoded,
        })
        .await
    }

    /// Records a run that changed no transcript: failed, aborted, or stateless
    /// (`session_id: None`).
    pub async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.write(Job::Run { run: run.clone() }).await
    }

    pub async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?");
        let row = sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql))
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
        let rows = sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql))
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(RunRecord::try_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SESSION_COLUMNS;
    use crate::writer::{LAST_SEQ, UPDATE_SESSION_TOTALS};

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
            crate::compactions::LATEST_COMPACTION.to_owned(),
            crate::compactions::MESSAGES_AFTER.to_owned(),
            crate::compactions::MODEL_OVERRIDE.to_owned(),
        ];
        for sql in queries {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
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
