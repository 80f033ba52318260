//! Reading runs back for the Control UI: the most recent ones, and the per-run figures that
//! usage summaries add up; and for budgets, what an agent, a sender or everyone spent since an
//! instant. All ride the `started_at` index; the summing by local day, agent, channel and model
//! is the caller's, which knows the user's time zone.

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

/// Whose runs [`Store::spent_since`] adds up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spender<'a> {
    /// Every run.
    All,
    /// The runs of one agent.
    Agent(&'a str),
    /// The runs that answered any of these senders (one person's linked identities).
    Senders(&'a [String]),
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

    /// The cost of the runs of `who` started at or after `since_ms`; runs without a price count
    /// zero.
    pub async fn spent_since(&self, since_ms: i64, who: Spender<'_>) -> Result<f64, StoreError> {
        let sql = spent_sql(who);
        let mut query = sqlx::query_scalar::<_, f64>(AssertSqlSafe(sql)).bind(since_ms);
        match who {
            Spender::All => {}
            Spender::Agent(id) => query = query.bind(id.to_owned()),
            Spender::Senders([]) => return Ok(0.0),
            Spender::Senders(senders) => {
                for sender in senders {
                    query = query.bind(sender.clone());
                }
            }
        }
        Ok(query.fetch_one(&self.pool).await?)
    }
}

/// The query of [`Store::spent_since`]: one placeholder for the instant, then one per agent or
/// sender.
fn spent_sql(who: Spender<'_>) -> String {
    let mut sql = "SELECT COALESCE(SUM(cost), 0.0) FROM runs WHERE started_at >= ?".to_owned();
    match who {
        Spender::All => {}
        Spender::Agent(_) => sql.push_str(" AND agent_id = ?"),
        Spender::Senders(senders) => {
            let marks = vec!["?"; senders.len().max(1)].join(", ");
            sql.push_str(&format!(" AND sender IN ({marks})"));
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ui_queries_use_the_started_at_index() {
        let store = Store::open_memory().await.unwrap();
        let senders = ["telegram:1".to_owned(), "discord:2".to_owned()];
        for sql in [
            format!("SELECT {RUN_COLUMNS} FROM runs {RECENT_RUNS}"),
            USAGE_BETWEEN.to_owned(),
            spent_sql(Spender::All),
            spent_sql(Spender::Agent("main")),
            spent_sql(Spender::Senders(&senders)),
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

    fn run(id: &str, agent: &str, sender: Option<&str>, at: i64, cost: Option<f64>) -> RunRecord {
        RunRecord {
            id: id.to_owned(),
            session_id: None,
            session_key: format!("agent:{agent}:x"),
            agent_id: agent.to_owned(),
            channel: Some("telegram".to_owned()),
            model: Some("p/m".to_owned()),
            status: crate::RunStatus::Completed,
            input: "hi".to_owned(),
            error: None,
            usage: Usage {
                cost,
                ..Usage::default()
            },
            started_at: at,
            ended_at: at + 1,
            sender: sender.map(str::to_owned),
            parent_run_id: None,
        }
    }

    #[tokio::test]
    async fn spending_is_summed_since_an_instant_per_agent_sender_or_all() {
        let store = Store::open_memory().await.unwrap();
        for r in [
            run("r1", "main", Some("telegram:1"), 100, Some(0.5)),
            run("r2", "main", Some("discord:2"), 200, Some(0.25)),
            run("r3", "work", Some("telegram:9"), 300, Some(2.0)),
            run("r4", "main", None, 400, None),
            // Before the period.
            run("r0", "main", Some("telegram:1"), 50, Some(100.0)),
        ] {
            store.record_run(&r).await.unwrap();
        }
        assert_eq!(store.spent_since(100, Spender::All).await.unwrap(), 2.75);
        assert_eq!(
            store
                .spent_since(100, Spender::Agent("main"))
                .await
                .unwrap(),
            0.75
        );
        assert_eq!(
            store.spent_since(0, Spender::Agent("main")).await.unwrap(),
            100.75
        );
        assert_eq!(
            store
                .spent_since(100, Spender::Agent("nobody"))
                .await
                .unwrap(),
            0.0
        );
        let person = ["telegram:1".to_owned(), "discord:2".to_owned()];
        assert_eq!(
            store
                .spent_since(100, Spender::Senders(&person))
                .await
                .unwrap(),
            0.75
        );
        assert_eq!(
            store.spent_since(100, Spender::Senders(&[])).await.unwrap(),
            0.0
        );
        assert_eq!(store.spent_since(1_000, Spender::All).await.unwrap(), 0.0);
    }
}
