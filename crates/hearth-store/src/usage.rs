//! Reading runs back for the Control UI: the most recent ones, and the per-run figures that
//! usage summaries add up. Both ride the `started_at` index; the summing (by local day, agent,
//! channel, model) is the caller's, which knows the user's time zone.

use hearth_protocol::transcript::Usage;
use sqlx::AssertSqlSafe;

use crate::model::{RUN_COLUMNS, RunRow, from_db_int};
use crate::{RunRecord, Store, StoreError};

pub(crate) const RECENT_RUNS: &str = "ORDER BY started_at DESC, rowid DESC LIMIT ?";
pub(crate) const USAGE_BETWEEN: &str = "SELECT started_at, agent_id, channel, sender, model, input_tokens, \
     output_tokens, cache_read_tokens, cache_write_tokens, cost FROM runs \
     WHERE started_at >= ? AND started_at < ? ORDER BY started_at";

/// One run's figures, for usage summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct RunUsage {
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    pub agent_id: String,
    pub channel: Option<String>,
    /// The canonical identity the run answered, when it came from a person on a channel.
    pub sender: Option<String>,
    /// `provider/model`; `None` when no model was reached.
    pub model: Option<String>,
    pub usage: Usage,
}

#[derive(sqlx::FromRow)]
struct UsageRow {
    started_at: i64,
    agent_id: String,
    channel: Option<String>,
    sender: Option<String>,
    model: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost: Option<f64>,
}

impl Store {
    /// The `limit` most recently started runs, newest first.
    pub async fn recent_runs(&self, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs {RECENT_RUNS}");
        let rows = sqlx::query_as::<_, RunRow>(AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(RunRecord::try_from).collect()
    }

    /// Every run started in `[from_ms, to_ms)`, oldest first.
    pub async fn usage_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<RunUsage>, StoreError> {
        let rows = sqlx::query_as::<_, UsageRow>(USAGE_BETWEEN)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| RunUsage {
                started_at: r.started_at,
                agent_id: r.agent_id,
                channel: r.channel,
                sender: r.sender,
                model: r.model,
                usage: Usage {
                    input: from_db_int(r.input_tokens),
                    output: from_db_int(r.output_tokens),
                    cache_read: from_db_int(r.cache_read_tokens),
                    cache_write: from_db_int(r.cache_write_tokens),
                    cost: r.cost,
                },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ui_queries_use_the_started_at_index() {
        let store = Store::open_memory().await.unwrap();
        for sql in [
            format!("SELECT {RUN_COLUMNS} FROM runs {RECENT_RUNS}"),
            USAGE_BETWEEN.to_owned(),
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
            for (_, _, _, detail) in &plan {
                assert!(
                    !detail.starts_with("SCAN runs\0"),
                    "`{sql}` scans: `{detail}`"
                );
                assert!(detail.contains("runs_started_at"), "`{sql}`: `{detail}`");
                assert!(!detail.contains("TEMP B-TREE"), "`{sql}` sorts: `{detail}`");
            }
        }
    }
}
