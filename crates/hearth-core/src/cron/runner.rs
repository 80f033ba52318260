//! The scheduler: one task that wakes at the next due fire, claims it in the store, and runs
//! it in the background.
//!
//! Exactly once: a fire's identity is (job, scheduled instant), and the store lets one
//! claimant insert it ([`hearth_store::Store::claim_fire`]); a restart or a second gateway on
//! the same file finds it claimed and moves on. The claimant holds a lease it renews while the
//! run goes; a `running` fire whose lease ran out, or whose gateway process on this machine is
//! gone, is reported `interrupted` and run again only when its job says `rerunInterrupted`.
//!
//! A fire found due more than [`LATE_GRACE_MS`] late was missed (the gateway was down or the
//! machine asleep): policy `skip` records it skipped; `runOnce` runs the latest missed instant
//! once and records the rest as one skipped fire.

use std::sync::Arc;
use std::time::Duration;

use hearth_config::DeliveryTarget;
use hearth_protocol::cron::{CronAlert, CronFire, CronJobSpec, FireStatus, FireTrigger};
use hearth_protocol::events::Event;
use hearth_store::{Claim, CronJobRow, FireEnd, FireRow};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio_util::sync::CancellationToken;

use super::CheckedJob;
use crate::proactive::{self, ProactiveRun, RunSession};
use crate::runtime::Runtime;
use crate::util::lock;

/// How long a claim holds without renewal.
pub(crate) const LEASE_MS: i64 = 60_000;

/// How often a running fire's lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(20);

/// A fire found due later than this counts as missed.
pub const LATE_GRACE_MS: i64 = 60_000;

/// The longest the scheduler sleeps without looking (a changed wall clock, a dead peer's lease).
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// Missed instants counted for one job before giving up counting (an `every: 1s` job down for
/// a month).
const MAX_MISSED_SCAN: usize = 100_000;

/// Reserved job-name prefix of the heartbeat's rows.
pub(crate) const RESERVED_PREFIX: char = '@';

/// The gateway's default time zone: the system's.
pub fn default_tz() -> TimeZone {
    TimeZone::system()
}

/// The first fire of `job` strictly after `after_ms`, in ms.
pub fn next_at(job: &CheckedJob, after_ms: i64) -> Option<i64> {
    let after = Timestamp::from_millisecond(after_ms).ok()?;
    job.schedule
        .next_after(after, &job.tz)
        .map(|t| t.as_millisecond())
}

/// A stored fire as clients see it.
pub fn fire_view(row: &FireRow, job_name: &str) -> CronFire {
    CronFire {
        id: row.id.clone(),
        job_id: row.job_id.clone(),
        job_name: job_name.to_owned(),
        scheduled_at: row.scheduled_at,
        trigger: trigger_of(&row.trigger),
        status: match row.status {
            hearth_store::FireStatus::Running => FireStatus::Running,
            hearth_store::FireStatus::Completed => FireStatus::Completed,
            hearth_store::FireStatus::Failed => FireStatus::Failed,
            hearth_store::FireStatus::Interrupted => FireStatus::Interrupted,
            hearth_store::FireStatus::Skipped => FireStatus::Skipped,
        },
        started_at: row.claimed_at,
        ended_at: row.ended_at,
        duration_ms: row.ended_at.map(|e| (e - row.claimed_at).max(0)),
        run_id: row.run_id.clone(),
        session_key: row.session_key.clone(),
        input_tokens: row.input_tokens,
        output_tokens: row.output_tokens,
        cost: row.cost,
        output: row.output.clone(),
        error: row.error.clone(),
        delivered_to: row.delivered_to.clone(),
    }
}

fn trigger_of(s: &str) -> FireTrigger {
    match s {
        "catchUp" => FireTrigger::CatchUp,
        "manual" => FireTrigger::Manual,
        "rerun" => FireTrigger::Rerun,
        _ => FireTrigger::Schedule,
    }
}

/// A stored job read back: its definition and schedule, or why it can no longer run.
pub(crate) fn load(rt: &Runtime, row: &CronJobRow) -> Result<(CronJobSpec, CheckedJob), String> {
    let spec: CronJobSpec = serde_json::from_str(&row.spec_json)
        .map_err(|e| format!("the stored definition does not read: {e}"))?;
    let created = Timestamp::from_millisecond(row.created_at).unwrap_or(Timestamp::UNIX_EPOCH);
    let live = rt.live();
    let checked = super::check(&spec, &live.agents, &default_tz(), created)
        .map_err(|problems| problems.join("; "))?;
    Ok((spec, checked))
}

/// Starts the scheduler (and the heartbeat with it).
pub(crate) fn spawn(rt: &Arc<Runtime>) {
    let rt = rt.clone();
    let tracker = rt.tasks.clone();
    tracker.spawn(async move {
        let mut clock = rt.options().and_then(|o| o.clock.as_ref()?.watch());
        let mut first = true;
        loop {
            if let Some(c) = clock.as_mut() {
                c.borrow_and_update();
            }
            let next = tick(&rt, first).await;
            first = false;
            let now = rt.now_ms();
            let sleep = next
                .map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0)))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            let clock_moved = async {
                let moved = match clock.as_mut() {
                    Some(c) => c.changed().await.is_ok(),
                    None => false,
                };
                if !moved {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = rt.shutdown.cancelled() => break,
                () = rt.cron.woken() => {}
                () = clock_moved => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    });
}

/// One look at everything due: answers when to look next. `first` is the look at start-up,
/// which also reports webhook calls a dead gateway left behind.
async fn tick(rt: &Arc<Runtime>, first: bool) -> Option<i64> {
    let now = rt.now_ms();
    // One small read decides whether anything needs a closer look (most wake-ups: no).
    let probe = match rt.store.cron_probe().await {
        Ok(probe) => probe,
        Err(e) => {
            tracing::error!(error = %e, "reading the scheduler's state failed");
            return Some(now + 5_000);
        }
    };
    if probe.running_fires > 0 {
        recover(rt, now).await;
    }
    if first && probe.unfinished_hooks > 0 {
        crate::hooks::recover(rt).await;
    }
    let mut next = super::heartbeat::tick(rt, now).await;
    if !rt.live().config.cron.enabled {
        return next;
    }
    match probe.next_due {
        None => return next,
        Some(due) if due > now => return Some(next.map_or(due, |n| n.min(due))),
        Some(_) => {}
    }
    let jobs = match rt.store.cron_jobs().await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::error!(error = %e, "reading scheduled jobs failed");
            return Some(now + 5_000);
        }
    };
    for row in jobs {
        if row.name.starts_with(RESERVED_PREFIX) || !row.enabled {
            continue;
        }
        let Some(due) = row.next_at else { continue };
        if due > now {
            next = Some(next.map_or(due, |n| n.min(due)));
            continue;
        }
        let (spec, checked) = match load(rt, &row) {
            Ok(loaded) => loaded,
            Err(problem) => {
                tracing::warn!(job = %row.name, %problem, "a scheduled job cannot run until it is fixed");
                continue;
            }
        };
        let after = next_at(&checked, now);
        if now - due > LATE_GRACE_MS {
            missed(rt, &row, &spec, &checked, due, now, after).await;
        } else {
            let claim = Claim {
                job_id: &row.id,
                scheduled_at: due,
                instance: rt.cron.instance(),
                now,
                lease_until: now + LEASE_MS,
                trigger: "schedule",
                seen_next: row.next_at,
            };
            match rt.store.claim_fire(&claim, after).await {
                Ok(Some(fire_id)) => {
                    execute(rt, &row, spec, checked, fire_id, FireTrigger::Schedule, due)
                }
                Ok(None) => set_next(rt, &row, after).await,
                Err(e) => tracing::error!(job = %row.name, error = %e, "claiming a fire failed"),
            }
        }
        if let Some(a) = after {
            next = Some(next.map_or(a, |n| n.min(a)));
        }
    }
    next
}

/// Another gateway claimed the fire (or it was handled): only our view of the next time moves.
async fn set_next(rt: &Runtime, row: &CronJobRow, next: Option<i64>) {
    if row.next_at == next {
        return;
    }
    if let Ok(Some(mut fresh)) = rt.store.cron_job(&row.id).await
        && fresh.next_at.is_some_and(|n| next.is_none_or(|x| n < x))
    {
        fresh.next_at = next;
        if let Err(e) = rt.store.update_cron_job(&fresh).await {
            tracing::error!(job = %row.name, error = %e, "moving a job's next time failed");
        }
    }
}

/// Fires from `due` up to `now` were missed.
async fn missed(
    rt: &Arc<Runtime>,
    row: &CronJobRow,
    spec: &CronJobSpec,
    checked: &CheckedJob,
    due: i64,
    now: i64,
    after: Option<i64>,
) {
    // Every missed instant from `due` on; the latest is run under `runOnce`.
    let mut latest = due;
    let mut count = 1usize;
    while count < MAX_MISSED_SCAN {
        match next_at(checked, latest) {
            Some(n) if n <= now => {
                latest = n;
                count += 1;
            }
            _ => break,
        }
    }
    let instance = rt.cron.instance();
    let run_latest = matches!(spec.missed, hearth_protocol::cron::MissedPolicy::RunOnce);
    let skipped_at = if run_latest && latest == due {
        None
    } else {
        Some(due)
    };
    if let Some(at) = skipped_at {
        let note = if run_latest {
            format!(
                "{} fire(s) missed while the gateway was down; the latest runs once",
                count - 1
            )
        } else {
            format!("{count} fire(s) missed while the gateway was down (missed: skip)")
        };
        match rt.store.skip_fire(&row.id, at, instance, now, &note).await {
            Ok(Some(fire_id)) => {
                tracing::info!(job = %row.name, scheduled_at = at, "{note}");
                let mut fire = fire_event(
                    row,
                    fire_id,
                    at,
                    FireTrigger::Schedule,
                    FireStatus::Skipped,
                    now,
                );
                fire.ended_at = Some(now);
                fire.duration_ms = Some(0);
                fire.error = Some(note);
                rt.bus.publish(Event::Cron(fire));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(job = %row.name, error = %e, "recording a missed fire failed")
            }
        }
    }
    if run_latest {
        let claim = Claim {
            job_id: &row.id,
            scheduled_at: latest,
            instance,
            now,
            lease_until: now + LEASE_MS,
            trigger: "catchUp",
            seen_next: row.next_at,
        };
        match rt.store.claim_fire(&claim, after).await {
            Ok(Some(fire_id)) => execute(
                rt,
                row,
                spec.clone(),
                checked.clone(),
                fire_id,
                FireTrigger::CatchUp,
                latest,
            ),
            Ok(None) => set_next(rt, row, after).await,
            Err(e) => tracing::error!(job = %row.name, error = %e, "claiming a missed fire failed"),
        }
    } else {
        set_next(rt, row, after).await;
    }
}

/// Fires left `running` by a gateway that is gone: lease run out, or its process on this
/// machine no longer exists.
async fn recover(rt: &Arc<Runtime>, now: i64) {
    let mut interrupted = match rt.store.interrupt_expired_fires(now).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "checking for interrupted fires failed");
            return;
        }
    };
    if let Ok(running) = rt.store.running_fires().await {
        for fire in running {
            if instance_is_dead(&fire.instance, rt.cron.instance())
                && rt
                    .store
                    .interrupt_fire(&fire.id, now)
                    .await
                    .unwrap_or(false)
            {
                interrupted.push(fire);
            }
        }
    }
    for fire in interrupted {
        let Ok(Some(row)) = rt.store.cron_job(&fire.job_id).await else {
            continue;
        };
        let fresh = rt.store.fire(&fire.id).await.ok().flatten();
        let view = fire_view(fresh.as_ref().unwrap_or(&fire), &row.name);
        tracing::warn!(job = %row.name, fire = %fire.id, "a fire was interrupted: its gateway stopped while it ran");
        rt.bus.publish(Event::Cron(view));
        if row.name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        let Ok((spec, checked)) = load(rt, &row) else {
            continue;
        };
        if spec.rerun_interrupted {
            match rt
                .store
                .reclaim_fire(&fire.id, rt.cron.instance(), now, now + LEASE_MS)
                .await
            {
                Ok(true) => execute(
                    rt,
                    &row,
                    spec,
                    checked,
                    fire.id.clone(),
                    FireTrigger::Rerun,
                    fire.scheduled_at,
                ),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(job = %row.name, error = %e, "taking back an interrupted fire failed")
                }
            }
        } else {
            count_failure(rt, &row, &spec, &fire.id).await;
        }
    }
}

/// An interrupted fire counts as a failure toward the job's alert.
async fn count_failure(rt: &Arc<Runtime>, row: &CronJobRow, spec: &CronJobSpec, fire_id: &str) {
    let end = FireEnd {
        status: hearth_store::FireStatus::Interrupted,
        ended_at: rt.now_ms(),
        run_id: None,
        input_tokens: 0,
        output_tokens: 0,
        cost: None,
        output: None,
        error: Some("the gateway stopped while this ran"),
        session_key: None,
        delivered_to: None,
    };
    if let Ok(failures) = rt.store.finish_fire(fire_id, &end).await {
        maybe_alert(rt, row, spec, failures, "the gateway stopped while it ran").await;
    }
}

/// `host:pid:random` of a process on this machine that no longer runs (or an earlier process
/// with our pid, as in a container restarted with the same pid 1).
pub(crate) fn instance_is_dead(instance: &str, mine: &str) -> bool {
    if instance == mine {
        return false;
    }
    let mut parts = instance.rsplitn(3, ':');
    let (_random, pid, host) = (parts.next(), parts.next(), parts.next());
    let mut my_parts = mine.rsplitn(3, ':');
    let (_, my_pid, my_host) = (my_parts.next(), my_parts.next(), my_parts.next());
    if host.is_none() || host != my_host {
        return false;
    }
    let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    if my_pid.and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
        return true;
    }
    let proc = std::path::Path::new("/proc");
    // Only where the process table can be read; elsewhere the lease decides.
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// Claims a fire of `job` at this instant and runs it now in the background (also a disabled
/// job): the fire's id.
pub async fn fire_now(rt: &Arc<Runtime>, job: &CronJobRow) -> Result<String, String> {
    let (spec, checked) = load(rt, job)?;
    let now = rt.now_ms();
    for at in now..now + 16 {
        let claim = Claim {
            job_id: &job.id,
            scheduled_at: at,
            instance: rt.cron.instance(),
            now,
            lease_until: now + LEASE_MS,
            trigger: "manual",
            seen_next: job.next_at,
        };
        let fire = rt
            .store
            .claim_fire(&claim, job.next_at)
            .await
            .map_err(|e| format!("the store failed: {e}"))?;
        if let Some(fire_id) = fire {
            execute(
                rt,
                job,
                spec,
                checked,
                fire_id.clone(),
                FireTrigger::Manual,
                at,
            );
            return Ok(fire_id);
        }
    }
    Err("the job was started many times this instant; try again".to_owned())
}

/// Runs a claimed fire in the background: jitter, a run slot, the lease renewed meanwhile,
/// the outcome recorded and announced.
fn execute(
    rt: &Arc<Runtime>,
    row: &CronJobRow,
    spec: CronJobSpec,
    checked: CheckedJob,
    fire_id: String,
    trigger: FireTrigger,
    scheduled_at: i64,
) {
    let rt = rt.clone();
    let row = row.clone();
    let cancel = rt.runs_cancel.child_token();
    lock(&rt.cron.running).insert(fire_id.clone(), cancel.clone());
    let tracker = rt.tasks.clone();
    tracker.spawn(async move {
        let renewal = renew_lease(rt.clone(), fire_id.clone(), cancel.clone());
        let started = fire_event(
            &row,
            fire_id.clone(),
            scheduled_at,
            trigger,
            FireStatus::Running,
            rt.now_ms(),
        );
        rt.bus.publish(Event::Cron(started));
        let run = async {
            if spec.jitter_seconds > 0 && trigger == FireTrigger::Schedule {
                let ms = rand::Rng::gen_range(
                    &mut rand::thread_rng(),
                    0..=spec.jitter_seconds.saturating_mul(1000),
                );
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let _slot = rt.cron.slots.clone().acquire_owned().await;
            let deliver = spec
                .deliver
                .as_deref()
                .and_then(|t| DeliveryTarget::parse(t).ok())
                .unwrap_or(DeliveryTarget::None);
            let short = fire_id.rsplit('-').next().unwrap_or(&fire_id).to_owned();
            let session = match &spec.session {
                Some(key) => RunSession::Named(key.clone()),
                None => RunSession::Isolated {
                    label: format!("cron:{}:{short}", slug(&row.name)),
                },
            };
            proactive::run(
                &rt,
                ProactiveRun {
                    agent_id: Some(checked.agent_id.clone()),
                    prompt: spec.prompt.clone(),
                    session,
                    deliver,
                    timeout: spec.timeout_seconds.map(Duration::from_secs),
                    channel: "cron",
                    quiet_token: None,
                },
                cancel.clone(),
            )
            .await
        };
        let finished = tokio::select! {
            finished = run => Some(finished),
            () = cancel.cancelled() => None,
        };
        renewal.abort();
        lock(&rt.cron.running).remove(&fire_id);
        let finished = finished.unwrap_or_else(|| proactive::Finished {
            error: Some("stopped".to_owned()),
            ..proactive::Finished::default()
        });
        let Some(failures) = record_end(&rt, &fire_id, &row.name, &finished).await else {
            return;
        };
        match &finished.error {
            Some(error) if !finished.ok => {
                tracing::warn!(job = %row.name, fire = %fire_id, %error, "a scheduled job failed");
                maybe_alert(&rt, &row, &spec, failures, error).await;
            }
            _ => tracing::info!(job = %row.name, fire = %fire_id, "a scheduled job ran"),
        }
    });
}

/// A fire as clients see it, before it has a run: only its identity, trigger and status.
fn fire_event(
    row: &CronJobRow,
    id: String,
    scheduled_at: i64,
    trigger: FireTrigger,
    status: FireStatus,
    now: i64,
) -> CronFire {
    CronFire {
        id,
        job_id: row.id.clone(),
        job_name: row.name.clone(),
        scheduled_at,
        trigger,
        status,
        started_at: now,
        ended_at: None,
        duration_ms: None,
        run_id: None,
        session_key: None,
        input_tokens: 0,
        output_tokens: 0,
        cost: None,
        output: None,
        error: None,
        delivered_to: None,
    }
}

/// Records how a fire's run ended and announces it (a `cron` event): the job's failures in a
/// row, or `None` when nothing more is to be done. A run cut short because the gateway is
/// stopping did not finish: it is recorded `interrupted`.
pub(crate) async fn record_end(
    rt: &Runtime,
    fire_id: &str,
    job_name: &str,
    finished: &proactive::Finished,
) -> Option<u32> {
    let now = rt.now_ms();
    let failures = if rt.shutdown.is_cancelled() && !finished.ok {
        let _ = rt.store.interrupt_fire(fire_id, now).await;
        None
    } else {
        let end = FireEnd {
            status: if finished.ok {
                hearth_store::FireStatus::Completed
            } else {
                hearth_store::FireStatus::Failed
            },
            ended_at: now,
            run_id: Some(finished.run_id.as_str()).filter(|id| !id.is_empty()),
            input_tokens: finished.input_tokens,
            output_tokens: finished.output_tokens,
            cost: finished.cost,
            output: finished.output.as_deref(),
            error: finished.error.as_deref(),
            session_key: Some(finished.session_key.as_str()).filter(|k| !k.is_empty()),
            delivered_to: finished.delivered_to.as_deref(),
        };
        match rt.store.finish_fire(fire_id, &end).await {
            Ok(n) => Some(n),
            // Removed with its job meanwhile.
            Err(hearth_store::StoreError::Conflict(_)) => return None,
            Err(e) => {
                tracing::error!(job = %job_name, error = %e, "recording a fire's end failed");
                return None;
            }
        }
    };
    if let Ok(Some(fire)) = rt.store.fire(fire_id).await {
        rt.bus.publish(Event::Cron(fire_view(&fire, job_name)));
    }
    failures
}

/// Renews a fire's lease until `cancel` or the returned handle is aborted.
fn renew_lease(
    rt: Arc<Runtime>,
    fire_id: String,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(RENEW_EVERY) => {}
            }
            let until = rt.now_ms() + LEASE_MS;
            if let Err(e) = rt.store.renew_fire_lease(&fire_id, until).await {
                tracing::warn!(fire = %fire_id, error = %e, "renewing a fire's lease failed");
            }
        }
    })
}

/// After `alertAfter` failures in a row, the owner is told: an event (the Control UI's toast,
/// the desktop notification) and, when `cron.alertTarget` is set, a channel message.
async fn maybe_alert(
    rt: &Arc<Runtime>,
    row: &CronJobRow,
    spec: &CronJobSpec,
    failures: u32,
    error: &str,
) {
    if spec.alert_after == 0 || failures != spec.alert_after {
        return;
    }
    tracing::error!(job = %row.name, failures, %error, "a scheduled job keeps failing");
    rt.bus.publish(Event::CronAlert(CronAlert {
        job_id: row.id.clone(),
        job_name: row.name.clone(),
        failures,
        error: error.to_owned(),
    }));
    let target = rt.live().config.cron.alert_target.clone();
    if let Some(target) = target
        .as_deref()
        .and_then(|t| DeliveryTarget::parse(t).ok())
    {
        let text = format!(
            "⚠️ The scheduled job **{}** failed {failures} times in a row. Latest error: {error}\nSee `hearth cron history {}`.",
            row.name, row.name
        );
        let agent = rt.live().agents.default_agent().id.clone();
        if let Err(e) = proactive::deliver(rt, &target, &text, "", &agent).await {
            tracing::warn!(job = %row.name, error = %e, "the failure alert could not be delivered");
        }
    }
}

/// A job name as a session-key part.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_instances_on_this_machine() {
        let mine = format!("box:{}:aaaa", std::process::id());
        assert!(!instance_is_dead(&mine, &mine));
        // An earlier process with this pid (a container's pid 1 after a restart).
        assert!(instance_is_dead(
            &format!("box:{}:bbbb", std::process::id()),
            &mine
        ));
        // Another machine: only its lease can tell.
        assert!(!instance_is_dead("other:1:cccc", &mine));
        if std::path::Path::new("/proc/self").exists() {
            assert!(instance_is_dead("box:4000000:dddd", &mine));
            assert!(!instance_is_dead("box:1:eeee", &mine));
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Morning Briefing"), "morning-briefing");
    }
}
