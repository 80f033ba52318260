//! Scheduled jobs and their fires. A fire's identity is (job, scheduled instant); claiming it
//! is one `INSERT` that only the first claimant wins, which is what makes a fire run at most
//! once across restarts and across two gateways sharing the file.

use sqlx::Row as _;

use crate::model::{from_db_int, to_db_int};
use crate::{Store, StoreError};

/// A stored job: its definition (JSON owned by the caller) and scheduling state.
#[derive(Debug, Clone, PartialEq)]
pub struct CronJobRow {
    pub id: String,
    pub name: String,
    pub spec_json: String,
    pub enabled: bool,
    /// Milliseconds since the epoch; `None` when it will not fire again.
    pub next_at: Option<i64>,
    pub consecutive_failures: u32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How a fire ended (or that it is still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireStatus {
    Running,
    Completed,
    Failed,
    /// The gateway that ran it stopped (a crash, a kill) before it finished.
    Interrupted,
    /// Not run: missed while the gateway was down, with the job's policy `skip`.
    Skipped,
}

impl FireStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FireStatus::Running => "running",
            FireStatus::Completed => "completed",
            FireStatus::Failed => "failed",
            FireStatus::Interrupted => "interrupted",
            FireStatus::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Option<FireStatus> {
        Some(match s {
            "running" => FireStatus::Running,
            "completed" => FireStatus::Completed,
            "failed" => FireStatus::Failed,
            "interrupted" => FireStatus::Interrupted,
            "skipped" => FireStatus::Skipped,
            _ => return None,
        })
    }
}

/// One fire of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct FireRow {
    pub id: String,
    pub job_id: String,
    pub scheduled_at: i64,
    pub instance: String,
    pub status: FireStatus,
    pub claimed_at: i64,
    pub lease_until: i64,
    pub ended_at: Option<i64>,
    pub run_id: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: Option<f64>,
    pub output: Option<String>,
    pub error: Option<String>,
    /// `schedule`, `catchUp`, `manual` or `rerun` (the caller's names).
    pub trigger: String,
    pub session_key: Option<String>,
    pub delivered_to: Option<String>,
}

/// How a fire finished.
#[derive(Debug, Clone, PartialEq)]
pub struct FireEnd<'a> {
    pub status: FireStatus,
    pub ended_at: i64,
    pub run_id: Option<&'a str>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: Option<f64>,
    pub output: Option<&'a str>,
    pub error: Option<&'a str>,
    pub session_key: Option<&'a str>,
    pub delivered_to: Option<&'a str>,
}

/// What the scheduler needs to know to decide whether to look closer: cheap enough to ask at
/// every wake-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CronProbe {
    /// Fires some gateway has claimed and not finished.
    pub running_fires: u32,
    /// Webhook calls queued or running.
    pub unfinished_hooks: u32,
    /// The earliest `next_at` of an enabled job.
    pub next_due: Option<i64>,
}

/// A fire to claim: its identity, who claims it and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim<'a> {
    pub job_id: &'a str,
    pub scheduled_at: i64,
    pub instance: &'a str,
    pub now: i64,
    pub lease_until: i64,
    /// `schedule`, `catchUp`, `manual` or `rerun`.
    pub trigger: &'a str,
    /// The job's `next_at` as the claimant read it: the job's next time moves only if nobody
    /// changed it since (an edit of the schedule wins over a claim made from the old one).
    pub seen_next: Option<i64>,
}

const JOB_COLUMNS: &str =
    "id, name, spec_json, enabled, next_at, consecutive_failures, created_at, updated_at";
const FIRE_COLUMNS: &str = "id, job_id, scheduled_at, instance, status, claimed_at, lease_until, \
     ended_at, run_id, input_tokens, output_tokens, cost, output, error, trigger, session_key, \
     delivered_to";

fn job_from(row: &sqlx::sqlite::SqliteRow) -> Result<CronJobRow, StoreError> {
    Ok(CronJobRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        spec_json: row.try_get("spec_json")?,
        enabled: row.try_get("enabled")?,
        next_at: row.try_get("next_at")?,
        consecutive_failures: u32::try_from(row.try_get::<i64, _>("consecutive_failures")?)
            .unwrap_or(u32::MAX),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn fire_from(row: &sqlx::sqlite::SqliteRow) -> Result<FireRow, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(FireRow {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        scheduled_at: row.try_get("scheduled_at")?,
        instance: row.try_get("instance")?,
        status: FireStatus::parse(&status).ok_or_else(|| {
            StoreError::Conflict(format!("unknown fire status `{status}` in the database"))
        })?,
        claimed_at: row.try_get("claimed_at")?,
        lease_until: row.try_get("lease_until")?,
        ended_at: row.try_get("ended_at")?,
        run_id: row.try_get("run_id")?,
        input_tokens: from_db_int(row.try_get("input_tokens")?),
        output_tokens: from_db_int(row.try_get("output_tokens")?),
        cost: row.try_get("cost")?,
        output: row.try_get("output")?,
        error: row.try_get("error")?,
        trigger: row.try_get("trigger")?,
        session_key: row.try_get("session_key")?,
        delivered_to: row.try_get("delivered_to")?,
    })
}

impl Store {
    /// Adds a job; a name already taken is a [`StoreError::Conflict`].
    pub async fn insert_cron_job(&self, job: &CronJobRow) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "INSERT INTO cron_jobs (id, name, spec_json, enabled, next_at, consecutive_failures, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&job.id)
        .bind(&job.name)
        .bind(&job.spec_json)
        .bind(job.enabled)
        .bind(job.next_at)
        .bind(i64::from(job.consecutive_failures))
        .bind(job.created_at)
        .bind(job.updated_at)
        .execute(&self.pool)
        .await?;
        self.wrote();
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "a job named `{}` already exists",
                job.name
            )));
        }
        Ok(())
    }

    /// Replaces a job's definition, name, enabled flag and next fire; false when it is gone.
    pub async fn update_cron_job(&self, job: &CronJobRow) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE cron_jobs SET name = ?, spec_json = ?, enabled = ?, next_at = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(&job.name)
        .bind(&job.spec_json)
        .bind(job.enabled)
        .bind(job.next_at)
        .bind(job.updated_at)
        .bind(&job.id)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a job and its history; false when there was none.
    pub async fn delete_cron_job(&self, id: &str) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query("DELETE FROM cron_jobs WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// Every job, by name.
    pub async fn cron_jobs(&self) -> Result<Vec<CronJobRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM cron_jobs ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from).collect()
    }

    /// A job by id or name.
    pub async fn cron_job(&self, id_or_name: &str) -> Result<Option<CronJobRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM cron_jobs WHERE id = ? OR name = ?"
        )))
        .bind(id_or_name)
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// Claims the fire (`claim.job_id`, `claim.scheduled_at`) for `claim.instance` until
    /// `claim.lease_until`: `Some(fire id)` for the one claimant that wins, `None` when it was
    /// claimed before (by anyone, at any time). The job's `next_at` moves to `next_at` in the
    /// same transaction.
    pub async fn claim_fire(
        &self,
        claim: &Claim<'_>,
        next_at: Option<i64>,
    ) -> Result<Option<String>, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let job_id = claim.job_id;
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO cron_fires (id, job_id, scheduled_at, instance, status, claimed_at, \
             lease_until, trigger) VALUES (?, ?, ?, ?, 'running', ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(job_id)
        .bind(claim.scheduled_at)
        .bind(claim.instance)
        .bind(claim.now)
        .bind(claim.lease_until)
        .bind(claim.trigger)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            sqlx::query("UPDATE cron_jobs SET next_at = ? WHERE id = ? AND next_at IS ?")
                .bind(next_at)
                .bind(job_id)
                .bind(claim.seen_next)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.wrote();
        Ok(claimed.then_some(id))
    }

    /// Records a fire that was not run (`skipped`, with `note` saying why), claiming its
    /// identity so it is never run later either: its id, `None` when it was already claimed.
    pub async fn skip_fire(
        &self,
        job_id: &str,
        scheduled_at: i64,
        instance: &str,
        now: i64,
        note: &str,
    ) -> Result<Option<String>, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "INSERT INTO cron_fires (id, job_id, scheduled_at, instance, status, claimed_at, \
             lease_until, ended_at, error) VALUES (?, ?, ?, ?, 'skipped', ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(job_id)
        .bind(scheduled_at)
        .bind(instance)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(note)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok((done.rows_affected() == 1).then_some(id))
    }

    /// Extends a running fire's lease (the gateway running it is alive).
    pub async fn renew_fire_lease(&self, fire_id: &str, until: i64) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        sqlx::query("UPDATE cron_fires SET lease_until = ? WHERE id = ? AND status = 'running'")
            .bind(until)
            .bind(fire_id)
            .execute(&self.pool)
            .await?;
        self.wrote();
        Ok(())
    }

    /// Records how a fire ended, and the job's run of consecutive failures (reset by a success);
    /// answers that count.
    pub async fn finish_fire(&self, fire_id: &str, end: &FireEnd<'_>) -> Result<u32, StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let job_id: Option<String> = sqlx::query_scalar(
            "UPDATE cron_fires SET status = ?, ended_at = ?, run_id = ?, input_tokens = ?, \
             output_tokens = ?, cost = ?, output = ?, error = ?, \
             session_key = COALESCE(?, session_key), delivered_to = ? WHERE id = ? RETURNING job_id",
        )
        .bind(end.status.as_str())
        .bind(end.ended_at)
        .bind(end.run_id)
        .bind(to_db_int(end.input_tokens))
        .bind(to_db_int(end.output_tokens))
        .bind(end.cost)
        .bind(end.output)
        .bind(end.error)
        .bind(end.session_key)
        .bind(end.delivered_to)
        .bind(fire_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(job_id) = job_id else {
            return Err(StoreError::Conflict(format!("no fire `{fire_id}`")));
        };
        let failures: i64 = sqlx::query_scalar(
            "UPDATE cron_jobs SET consecutive_failures = CASE WHEN ? THEN consecutive_failures + 1 \
             ELSE 0 END WHERE id = ? RETURNING consecutive_failures",
        )
        .bind(matches!(
            end.status,
            FireStatus::Failed | FireStatus::Interrupted
        ))
        .bind(&job_id)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(0);
        tx.commit().await?;
        self.wrote();
        Ok(u32::try_from(failures).unwrap_or(u32::MAX))
    }

    /// Marks every `running` fire whose lease ran out before `now` as `interrupted` (its gateway
    /// died) and answers them. They are never run again from here: whether to re-run is the
    /// job's decision.
    pub async fn interrupt_expired_fires(&self, now: i64) -> Result<Vec<FireRow>, StoreError> {
        let _writer = self.write_lock.lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE cron_fires SET status = 'interrupted', ended_at = ?, \
             error = 'the gateway stopped while this ran' \
             WHERE status = 'running' AND lease_until < ? RETURNING {FIRE_COLUMNS}"
        )))
        .bind(now)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        self.wrote();
        rows.iter().map(fire_from).collect()
    }

    /// A job's latest fires, newest first.
    pub async fn fire_history(&self, job_id: &str, limit: u32) -> Result<Vec<FireRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FIRE_COLUMNS} FROM cron_fires WHERE job_id = ? \
             ORDER BY scheduled_at DESC LIMIT ?"
        )))
        .bind(job_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(fire_from).collect()
    }

    /// Takes an `interrupted` fire back to run it again (the job's `rerunInterrupted`): true for
    /// the one gateway that wins it.
    pub async fn reclaim_fire(
        &self,
        fire_id: &str,
        instance: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE cron_fires SET status = 'running', instance = ?, claimed_at = ?, \
             lease_until = ?, ended_at = NULL, error = NULL, trigger = 'rerun' \
             WHERE id = ? AND status = 'interrupted'",
        )
        .bind(instance)
        .bind(now)
        .bind(lease_until)
        .bind(fire_id)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// Marks one `running` fire `interrupted` (its gateway is known to be gone); false when it
    /// was not running.
    pub async fn interrupt_fire(&self, fire_id: &str, now: i64) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "UPDATE cron_fires SET status = 'interrupted', ended_at = ?, \
             error = 'the gateway stopped while this ran' WHERE id = ? AND status = 'running'",
        )
        .bind(now)
        .bind(fire_id)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// Every fire still `running`, by any gateway.
    pub async fn running_fires(&self) -> Result<Vec<FireRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FIRE_COLUMNS} FROM cron_fires WHERE status = 'running'"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(fire_from).collect()
    }

    /// One fire by id.
    pub async fn fire(&self, fire_id: &str) -> Result<Option<FireRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FIRE_COLUMNS} FROM cron_fires WHERE id = ?"
        )))
        .bind(fire_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(fire_from).transpose()
    }

    /// The latest fires of every job, newest first.
    pub async fn recent_fires(&self, limit: u32) -> Result<Vec<FireRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FIRE_COLUMNS} FROM cron_fires ORDER BY claimed_at DESC LIMIT ?"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(fire_from).collect()
    }

    /// Counts of unfinished fires and webhook calls, and the next due job, in one read.
    pub async fn cron_probe(&self) -> Result<CronProbe, StoreError> {
        let (running, hooks, next): (i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM cron_fires WHERE status = 'running'), \
             (SELECT COUNT(*) FROM hook_runs WHERE status IN ('queued', 'running')), \
             (SELECT MIN(next_at) FROM cron_jobs WHERE enabled = 1)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(CronProbe {
            running_fires: u32::try_from(running).unwrap_or(u32::MAX),
            unfinished_hooks: u32::try_from(hooks).unwrap_or(u32::MAX),
            next_due: next,
        })
    }
}
