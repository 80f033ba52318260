//! Webhook calls (`POST /hooks/...`) and their runs. A call is recorded `queued` before its
//! `202` answer goes out, so the id it answers can always be polled, and a call its gateway
//! stopped in the middle of is reported `interrupted` by the next start rather than lost.

use hearth_protocol::cron::{HookRun, HookStatus};
use sqlx::Row as _;

use crate::{Store, StoreError};

/// A stored webhook call.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRunRow {
    pub id: String,
    /// `wake`, `agent`, or the mapping's name.
    pub hook: String,
    pub status: HookStatus,
    /// The gateway process that accepted it (`Cron::instance`).
    pub instance: String,
    pub received_at: i64,
    pub ended_at: Option<i64>,
    pub run_id: Option<String>,
    pub session_key: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub delivered_to: Option<String>,
}

impl HookRunRow {
    /// The call as clients see it (`hooks.get`, `GET /hooks/runs/<id>`, `hook` events).
    pub fn to_run(&self) -> HookRun {
        HookRun {
            id: self.id.clone(),
            hook: self.hook.clone(),
            status: self.status,
            received_at: self.received_at,
            ended_at: self.ended_at,
            run_id: self.run_id.clone(),
            session_key: self.session_key.clone(),
            output: self.output.clone(),
            error: self.error.clone(),
            delivered_to: self.delivered_to.clone(),
        }
    }
}

/// How a webhook call's run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRunEnd<'a> {
    /// `Completed`, `Failed` or `Interrupted`.
    pub status: HookStatus,
    pub ended_at: i64,
    pub run_id: Option<&'a str>,
    pub session_key: Option<&'a str>,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub delivered_to: Option<&'a str>,
}

const COLUMNS: &str = "id, hook, status, instance, received_at, ended_at, run_id, session_key, \
                       output, error, delivered_to";

const INTERRUPTED: &str = "the gateway stopped before this call's run ended";

fn parse_status(s: &str) -> Option<HookStatus> {
    Some(match s {
        "queued" => HookStatus::Queued,
        "running" => HookStatus::Running,
        "completed" => HookStatus::Completed,
        "failed" => HookStatus::Failed,
        "interrupted" => HookStatus::Interrupted,
        _ => return None,
    })
}

fn row_from(row: &sqlx::sqlite::SqliteRow) -> Result<HookRunRow, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(HookRunRow {
        id: row.try_get("id")?,
        hook: row.try_get("hook")?,
        status: parse_status(&status).ok_or_else(|| {
            StoreError::Conflict(format!(
                "unknown hook run status `{status}` in the database"
            ))
        })?,
        instance: row.try_get("instance")?,
        received_at: row.try_get("received_at")?,
        ended_at: row.try_get("ended_at")?,
        run_id: row.try_get("run_id")?,
        session_key: row.try_get("session_key")?,
        output: row.try_get("output")?,
        error: row.try_get("error")?,
        delivered_to: row.try_get("delivered_to")?,
    })
}

impl Store {
    /// Records an accepted call as `queued`; an id already used is a [`StoreError::Conflict`].
    pub async fn insert_hook_run(
        &self,
        id: &str,
        hook: &str,
        instance: &str,
        received_at: i64,
    ) -> Result<HookRunRow, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "INSERT INTO hook_runs (id, hook, status, instance, received_at) \
             VALUES (?, ?, 'queued', ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(hook)
        .bind(instance)
        .bind(received_at)
        .execute(&self.pool)
        .await?;
        self.wrote();
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("a hook run `{id}` exists")));
        }
        Ok(HookRunRow {
            id: id.to_owned(),
            hook: hook.to_owned(),
            status: HookStatus::Queued,
            instance: instance.to_owned(),
            received_at,
            ended_at: None,
            run_id: None,
            session_key: None,
            output: None,
            error: None,
            delivered_to: None,
        })
    }

    /// Moves a `queued` call to `running` (and names its session, when known); false when it
    /// was not queued.
    pub async fn start_hook_run(
        &self,
        id: &str,
        session_key: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE hook_runs SET status = 'running', session_key = COALESCE(?, session_key) \
             WHERE id = ? AND status = 'queued'",
        )
        .bind(session_key)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// Records how a call's run ended; false when there is no such call or it had ended
    /// already. A call marked `interrupted` by another gateway's start (which cannot tell a
    /// live gateway from a dead one) may still be finished by the gateway that runs it.
    pub async fn finish_hook_run(
        &self,
        id: &str,
        end: &HookRunEnd<'_>,
    ) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE hook_runs SET status = ?, ended_at = ?, run_id = ?, \
             session_key = COALESCE(?, session_key), output = ?, error = ?, delivered_to = ? \
             WHERE id = ? AND status IN ('queued', 'running', 'interrupted')",
        )
        .bind(end.status.as_str())
        .bind(end.ended_at)
        .bind(end.run_id)
        .bind(end.session_key)
        .bind(end.output)
        .bind(end.error)
        .bind(end.delivered_to)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// One call by id.
    pub async fn hook_run(&self, id: &str) -> Result<Option<HookRunRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM hook_runs WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_from).transpose()
    }

    /// The latest calls, newest first; with `hook`, only the calls to that hook.
    pub async fn recent_hook_runs(
        &self,
        hook: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HookRunRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM hook_runs WHERE (?1 IS NULL OR hook = ?1) \
             ORDER BY received_at DESC, id DESC LIMIT ?2"
        )))
        .bind(hook)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_from).collect()
    }

    /// The gateway instances that have calls still `queued` or `running`.
    pub async fn unfinished_hook_instances(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT instance FROM hook_runs WHERE status IN ('queued', 'running')",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks the calls `dead` gateway instances left `queued` or `running` as `interrupted`, and
    /// answers them.
    pub async fn interrupt_hook_runs(
        &self,
        dead: &str,
        now: i64,
    ) -> Result<Vec<HookRunRow>, StoreError> {
        let _writer = self.write_lock.lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE hook_runs SET status = 'interrupted', ended_at = ?, error = ? \
             WHERE status IN ('queued', 'running') AND instance = ? RETURNING {COLUMNS}"
        )))
        .bind(now)
        .bind(INTERRUPTED)
        .bind(dead)
        .fetch_all(&self.pool)
        .await?;
        self.wrote();
        rows.iter().map(row_from).collect()
    }

    /// Forgets ended calls received before `before`, and ended calls beyond the newest `keep`;
    /// answers how many went. Calls still going are kept.
    pub async fn prune_hook_runs(&self, before: i64, keep: u32) -> Result<u64, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "DELETE FROM hook_runs WHERE status NOT IN ('queued', 'running') AND (received_at < ? \
             OR id NOT IN (SELECT id FROM hook_runs ORDER BY received_at DESC, id DESC LIMIT ?))",
        )
        .bind(before)
        .bind(i64::from(keep))
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected())
    }
}
