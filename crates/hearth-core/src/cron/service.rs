//! What clients call to manage scheduled jobs: the `cron.*` methods (`gateway/methods_cron`),
//! `hearth cron` through them, and the agent's `cron` tool (`agent/tools/cron`).
//!
//! A job's definition ([`CronJobSpec`]) is checked whole before anything is written
//! ([`super::check`]: every problem at once), stored as JSON beside its scheduling state, and the
//! scheduler ([`super::runner`]) is woken to look at it. Names are unique without regard to
//! case, so `hearth cron run morning-brief` finds `Morning-Brief`. Names starting with `@` belong
//! to the gateway (the heartbeat's rows, `@heartbeat:<agent>`): they are not listed and cannot
//! be added, edited, removed or run from here, only their history read.
//!
//! Job changes are not audited: no audit kind fits them (`config.change` records config-file
//! hashes), and every fire is in the job's history.

use std::collections::HashMap;
use std::sync::Arc;

use hearth_protocol::cron::{
    CronFire, CronHistoryResult, CronImportResult, CronJob, CronJobSpec, CronListResult,
    CronRemoveResult, CronRunResult, CronSchedule,
};
use hearth_store::{CronJobRow, StoreError};
use jiff::Timestamp;
use serde_json::Value;

use super::CheckedJob;
use super::runner::{self, RESERVED_PREFIX};
use crate::runtime::Runtime;

/// Fires `cron.history` answers when not told.
pub const DEFAULT_HISTORY: u32 = 50;

/// Most fires one `cron.history` answers.
pub const MAX_HISTORY: u32 = 500;

/// Why a job could not be managed as asked. Each message says what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum CronServiceError {
    #[error("{0}")]
    NotFound(String),
    /// A name taken by another job.
    #[error("{0}")]
    Conflict(String),
    /// Everything wrong with the job's definition, each as `field: what to write instead`.
    #[error("{}", summary(.0))]
    Invalid(Vec<String>),
    /// The job could not be started now.
    #[error("{0}")]
    Unavailable(String),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

fn summary(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => format!("the job has {} problems: {}", many.len(), many.join("; ")),
    }
}

/// Every job (by name, without regard to case) with its latest fire, whether the scheduler
/// runs them, and the heartbeat.
pub async fn list(rt: &Arc<Runtime>) -> Result<CronListResult, CronServiceError> {
    let rows = rt.store.cron_jobs().await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows.iter().filter(|r| !is_reserved(&r.name)) {
        jobs.push(view(rt, row).await?);
    }
    jobs.sort_by_key(|j| j.job.name.to_lowercase());
    Ok(CronListResult {
        jobs,
        enabled: rt.live().config.cron.enabled,
        heartbeat: super::heartbeat::info(rt).await,
    })
}

/// One job by id or name.
pub async fn get(rt: &Runtime, id_or_name: &str) -> Result<CronJob, CronServiceError> {
    let row = find_own(rt, id_or_name).await?;
    Ok(view(rt, &row).await?)
}

/// Adds a job: checked whole, its name not taken by another job in any case.
pub async fn add(rt: &Runtime, spec: CronJobSpec) -> Result<CronJob, CronServiceError> {
    let spec = normalized(spec);
    let now = rt.now_ms();
    let checked = check_spec(rt, &spec, now)?;
    let next_at = first_fire(&spec, &checked, now)?;
    let rows = rt.store.cron_jobs().await?;
    if let Some(taken) = rows.iter().find(|r| same_name(&r.name, &spec.name)) {
        return Err(taken_name(&taken.name));
    }
    let row = CronJobRow {
        id: crate::util::new_id(),
        name: spec.name.clone(),
        spec_json: to_json(&spec)?,
        enabled: spec.enabled,
        next_at,
        consecutive_failures: 0,
        created_at: now,
        updated_at: now,
    };
    rt.store.insert_cron_job(&row).await.map_err(|e| match e {
        StoreError::Conflict(_) => taken_name(&row.name),
        other => other.into(),
    })?;
    rt.cron.wake();
    tracing::info!(job = %row.name, id = %row.id, next_at = ?row.next_at, "scheduled job added");
    Ok(view(rt, &row).await?)
}

/// Changes a job by an RFC 7396 merge patch on its definition. A `schedule` in the patch
/// replaces the schedule (it is one of `cron`, `every` or `at`, so merging two would never be
/// meant). The job keeps its id and creation time (an `every` schedule counts from it); its
/// next fire is computed again when the schedule, zone or enabled flag changed.
pub async fn edit(
    rt: &Runtime,
    id_or_name: &str,
    patch: &Value,
) -> Result<CronJob, CronServiceError> {
    if !patch.is_object() {
        return Err(CronServiceError::Invalid(vec![
            "patch: give an object of the fields to change, e.g. {\"enabled\": false}".to_owned(),
        ]));
    }
    let row = find_own(rt, id_or_name).await?;
    let mut doc: Value =
        serde_json::from_str(&row.spec_json).unwrap_or_else(|_| Value::Object(Default::default()));
    let before: Option<CronJobSpec> = serde_json::from_value(doc.clone()).ok();
    if let (Some(Value::Object(_)), Value::Object(d)) = (patch.get("schedule"), &mut doc) {
        d.remove("schedule");
    }
    hearth_config::merge_patch(&mut doc, patch);
    let spec = normalized(spec_from_value(doc)?);
    let checked = check_spec(rt, &spec, row.created_at)?;
    if spec.name != row.name {
        let rows = rt.store.cron_jobs().await?;
        if let Some(taken) = rows
            .iter()
            .find(|r| r.id != row.id && same_name(&r.name, &spec.name))
        {
            return Err(taken_name(&taken.name));
        }
    }
    let now = rt.now_ms();
    let timing_changed = before.as_ref().is_none_or(|b| {
        b.schedule != spec.schedule || b.tz != spec.tz || b.enabled != spec.enabled
    });
    // A job that could not run (its agent was gone) kept a stale next time.
    let was_broken = runner::load(rt, &row).is_err();
    let next_at = if timing_changed || was_broken {
        first_fire(&spec, &checked, now)?
    } else {
        row.next_at
    };
    let updated = CronJobRow {
        name: spec.name.clone(),
        spec_json: to_json(&spec)?,
        enabled: spec.enabled,
        next_at,
        updated_at: now,
        ..row
    };
    if !rt.store.update_cron_job(&updated).await? {
        return Err(CronServiceError::NotFound(format!(
            "the job `{}` was removed meanwhile",
            updated.name
        )));
    }
    rt.cron.wake();
    tracing::info!(job = %updated.name, id = %updated.id, next_at = ?updated.next_at, "scheduled job changed");
    Ok(view(rt, &updated).await?)
}

/// Removes a job and its history, stopping a fire of it this gateway is running.
pub async fn remove(rt: &Runtime, id_or_name: &str) -> Result<CronRemoveResult, CronServiceError> {
    let row = find_own(rt, id_or_name).await?;
    for fire in rt.store.running_fires().await? {
        if fire.job_id == row.id && rt.cron.cancel_fire(&fire.id) {
            tracing::info!(job = %row.name, fire = %fire.id, "stopped a running fire of a removed job");
        }
    }
    let removed = rt.store.delete_cron_job(&row.id).await?;
    rt.cron.wake();
    tracing::info!(job = %row.name, id = %row.id, "scheduled job removed");
    Ok(CronRemoveResult { removed })
}

/// Runs a job now (also a disabled one) in the background; the fire's id to poll.
pub async fn run(rt: &Arc<Runtime>, id_or_name: &str) -> Result<CronRunResult, CronServiceError> {
    let row = find_own(rt, id_or_name).await?;
    if let Err(problem) = runner::load(rt, &row) {
        return Err(CronServiceError::Invalid(vec![format!(
            "`{}` cannot run until it is fixed ({problem}); change it with `hearth cron edit`",
            row.name
        )]));
    }
    let fire_id = runner::fire_now(rt, &row)
        .await
        .map_err(CronServiceError::Unavailable)?;
    tracing::info!(job = %row.name, fire = %fire_id, "scheduled job run by hand");
    Ok(CronRunResult {
        job_id: row.id,
        fire_id,
    })
}

/// Fires newest first: one job's (the heartbeat's too, by its `@heartbeat:<agent>` name), or
/// every job's.
pub async fn history(
    rt: &Runtime,
    id_or_name: Option<&str>,
    limit: Option<u32>,
) -> Result<CronHistoryResult, CronServiceError> {
    let limit = history_limit(limit);
    let fires = match id_or_name {
        Some(wanted) => {
            let row = find(rt, wanted).await?;
            let name = shown_name(&row.name);
            rt.store
                .fire_history(&row.id, limit)
                .await?
                .iter()
                .map(|f| runner::fire_view(f, name))
                .collect()
        }
        None => {
            let names: HashMap<String, String> = rt
                .store
                .cron_jobs()
                .await?
                .into_iter()
                .map(|r| (r.id, r.name))
                .collect();
            rt.store
                .recent_fires(limit)
                .await?
                .iter()
                .map(|f| {
                    let name = names.get(&f.job_id).map_or("", |n| shown_name(n));
                    runner::fire_view(f, name)
                })
                .collect()
        }
    };
    Ok(CronHistoryResult { fires })
}

/// Adds jobs and replaces stored ones of the same name (without regard to case). Every job is
/// checked first: when any is wrong nothing is written, and each problem names its job.
pub async fn import(
    rt: &Runtime,
    specs: Vec<CronJobSpec>,
) -> Result<CronImportResult, CronServiceError> {
    if specs.is_empty() {
        return Err(CronServiceError::Invalid(vec![
            "jobs: the list is empty; write {\"jobs\": [{\"name\": ..., \"schedule\": ..., \"prompt\": ...}]}"
                .to_owned(),
        ]));
    }
    let now = rt.now_ms();
    let rows = rt.store.cron_jobs().await?;
    let mut problems = Vec::new();
    let mut plan: Vec<(CronJobSpec, Option<&CronJobRow>, Option<i64>)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (index, spec) in specs.into_iter().enumerate() {
        let spec = normalized(spec);
        let label = if spec.name.is_empty() {
            format!("jobs[{index}]")
        } else {
            format!("`{}`", spec.name)
        };
        if names.iter().any(|n| same_name(n, &spec.name)) {
            problems.push(format!("{label}: listed more than once; keep one"));
            continue;
        }
        names.push(spec.name.clone());
        let existing = rows
            .iter()
            .find(|r| !is_reserved(&r.name) && same_name(&r.name, &spec.name));
        let created = existing.map_or(now, |r| r.created_at);
        let checked =
            check_spec(rt, &spec, created).and_then(|checked| first_fire(&spec, &checked, now));
        match checked {
            Ok(next_at) => plan.push((spec, existing, next_at)),
            Err(CronServiceError::Invalid(found)) => {
                problems.extend(found.into_iter().map(|p| format!("{label}: {p}")));
            }
            Err(other) => return Err(other),
        }
    }
    if !problems.is_empty() {
        return Err(CronServiceError::Invalid(problems));
    }
    let mut result = CronImportResult {
        added: Vec::new(),
        updated: Vec::new(),
    };
    for (spec, existing, next_at) in plan {
        let spec_json = to_json(&spec)?;
        match existing {
            Some(old) => {
                let row = CronJobRow {
                    name: spec.name.clone(),
                    spec_json,
                    enabled: spec.enabled,
                    next_at,
                    updated_at: now,
                    ..old.clone()
                };
                rt.store.update_cron_job(&row).await?;
                result.updated.push(spec.name);
            }
            None => {
                let row = CronJobRow {
                    id: crate::util::new_id(),
                    name: spec.name.clone(),
                    spec_json,
                    enabled: spec.enabled,
                    next_at,
                    consecutive_failures: 0,
                    created_at: now,
                    updated_at: now,
                };
                rt.store.insert_cron_job(&row).await?;
                result.added.push(spec.name);
            }
        }
    }
    rt.cron.wake();
    tracing::info!(added = ?result.added, updated = ?result.updated, "scheduled jobs imported");
    Ok(result)
}

/// `cron.history`'s limit: default [`DEFAULT_HISTORY`], between 1 and [`MAX_HISTORY`].
pub fn history_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_HISTORY).clamp(1, MAX_HISTORY)
}

fn is_reserved(name: &str) -> bool {
    name.starts_with(RESERVED_PREFIX)
}

/// Names compare without regard to case or surrounding spaces.
fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// The name a fire is shown under: the heartbeat's rows as `heartbeat`, as its own fires are.
fn shown_name(name: &str) -> &str {
    if is_reserved(name) { "heartbeat" } else { name }
}

fn taken_name(name: &str) -> CronServiceError {
    CronServiceError::Conflict(format!(
        "a job named `{name}` already exists; change it with `hearth cron edit {name}` or choose another name"
    ))
}

fn normalized(mut spec: CronJobSpec) -> CronJobSpec {
    spec.name = spec.name.trim().to_owned();
    spec
}

fn to_json(spec: &CronJobSpec) -> Result<String, CronServiceError> {
    serde_json::to_string(spec).map_err(|e| {
        CronServiceError::Store(StoreError::Conflict(format!(
            "the job could not be encoded: {e}"
        )))
    })
}

/// A job by id, else by name (exact, then without regard to case).
async fn find(rt: &Runtime, id_or_name: &str) -> Result<CronJobRow, CronServiceError> {
    let wanted = id_or_name.trim();
    if let Some(row) = rt.store.cron_job(wanted).await? {
        return Ok(row);
    }
    let rows = rt.store.cron_jobs().await?;
    if let Some(row) = rows.iter().find(|r| same_name(&r.name, wanted)) {
        return Ok(row.clone());
    }
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !is_reserved(n))
        .collect();
    Err(CronServiceError::NotFound(if names.is_empty() {
        format!("no job `{wanted}`: there are no jobs yet (add one with `hearth cron add`)")
    } else {
        format!("no job `{wanted}`; the jobs are {}", names.join(", "))
    }))
}

/// A job clients may change: not one of the gateway's own rows.
async fn find_own(rt: &Runtime, id_or_name: &str) -> Result<CronJobRow, CronServiceError> {
    let row = find(rt, id_or_name).await?;
    if is_reserved(&row.name) {
        return Err(CronServiceError::Invalid(vec![format!(
            "`{}` is the heartbeat's, not a job; set the heartbeat under agents.defaults.heartbeat",
            row.name
        )]));
    }
    Ok(row)
}

/// A definition read from JSON, with what is wrong said plainly.
pub(crate) fn spec_from_value(doc: Value) -> Result<CronJobSpec, CronServiceError> {
    if let Some(problem) = doc.get("schedule").and_then(schedule_problem) {
        return Err(CronServiceError::Invalid(vec![problem]));
    }
    serde_json::from_value(doc).map_err(|e| CronServiceError::Invalid(vec![e.to_string()]))
}

/// What is wrong with a schedule's JSON, in words (serde's for an untagged enum says nothing).
fn schedule_problem(schedule: &Value) -> Option<String> {
    let hint =
        "write {\"cron\": \"0 8 * * 1-5\"}, {\"every\": \"30m\"} or {\"at\": \"2026-11-22 08:00\"}";
    let Value::Object(fields) = schedule else {
        return Some(format!("schedule: {hint}"));
    };
    let kinds = ["cron", "every", "at"];
    let unknown: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|k| !kinds.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Some(format!(
            "schedule: unknown field(s) {}; {hint}",
            unknown.join(", ")
        ));
    }
    match fields.len() {
        1 if fields.values().all(Value::is_string) => None,
        1 => Some(format!("schedule: the value must be text; {hint}")),
        0 => Some(format!("schedule: give one of cron, every or at; {hint}")),
        _ => Some(format!(
            "schedule: give only one of cron, every or at, not {}",
            fields.keys().cloned().collect::<Vec<_>>().join(" and ")
        )),
    }
}

/// Checks a definition whole; `created_at` anchors an `every` schedule.
fn check_spec(
    rt: &Runtime,
    spec: &CronJobSpec,
    created_at: i64,
) -> Result<CheckedJob, CronServiceError> {
    let live = rt.live();
    let anchor = Timestamp::from_millisecond(created_at).unwrap_or(Timestamp::UNIX_EPOCH);
    let checked = super::check(spec, &live.agents, &runner::default_tz(), anchor);
    if is_reserved(&spec.name) {
        let mut problems = checked.err().unwrap_or_default();
        problems.retain(|p| !p.starts_with("name:"));
        problems.insert(
            0,
            format!(
                "name: names starting with `{RESERVED_PREFIX}` are reserved for the gateway's own jobs"
            ),
        );
        return Err(CronServiceError::Invalid(problems));
    }
    checked.map_err(CronServiceError::Invalid)
}

/// The job's next fire after `now`; an enabled job that never fires again is refused.
fn first_fire(
    spec: &CronJobSpec,
    checked: &CheckedJob,
    now: i64,
) -> Result<Option<i64>, CronServiceError> {
    if !spec.enabled {
        return Ok(None);
    }
    match runner::next_at(checked, now) {
        Some(at) => Ok(Some(at)),
        None => Err(CronServiceError::Invalid(vec![match &spec.schedule {
            CronSchedule::At { at } => {
                format!("schedule.at: `{at}` has passed; give a time in the future")
            }
            _ => "schedule: it never fires again".to_owned(),
        }])),
    }
}

/// A stored job as clients see it.
async fn view(rt: &Runtime, row: &CronJobRow) -> Result<CronJob, StoreError> {
    let last: Option<CronFire> = rt
        .store
        .fire_history(&row.id, 1)
        .await?
        .first()
        .map(|f| runner::fire_view(f, &row.name));
    let default_agent = rt.live().agents.default_agent().id.clone();
    let default_tz = zone_name(&runner::default_tz());
    let (job, tz, agent_id, problem) = match runner::load(rt, row) {
        Ok((spec, checked)) => {
            let tz = checked
                .tz
                .iana_name()
                .map(str::to_owned)
                .or_else(|| spec.tz.clone())
                .unwrap_or(default_tz);
            (spec, tz, checked.agent_id, None)
        }
        Err(problem) => {
            let spec = serde_json::from_str::<CronJobSpec>(&row.spec_json)
                .unwrap_or_else(|_| unreadable(row));
            let tz = spec.tz.clone().unwrap_or(default_tz);
            let agent = spec.agent_id.clone().unwrap_or(default_agent);
            (spec, tz, agent, Some(problem))
        }
    };
    Ok(CronJob {
        id: row.id.clone(),
        job,
        // A job that cannot run is not scheduled, whatever time it last had.
        next_at: row.next_at.filter(|_| row.enabled && problem.is_none()),
        tz,
        agent_id,
        consecutive_failures: row.consecutive_failures,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last,
        problem,
    })
}

fn zone_name(tz: &jiff::tz::TimeZone) -> String {
    tz.iana_name().unwrap_or("local").to_owned()
}

/// What is shown for a stored definition that no longer reads: its name, so it can be removed
/// or replaced by an import.
fn unreadable(row: &CronJobRow) -> CronJobSpec {
    CronJobSpec {
        name: row.name.clone(),
        schedule: CronSchedule::Cron {
            cron: String::new(),
        },
        tz: None,
        agent_id: None,
        prompt: String::new(),
        session: None,
        deliver: None,
        enabled: row.enabled,
        timeout_seconds: None,
        jitter_seconds: 0,
        missed: Default::default(),
        rerun_interrupted: false,
        alert_after: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_config::Config;
    use hearth_protocol::cron::MissedPolicy;
    use serde_json::json;

    fn spec(name: &str, schedule: CronSchedule) -> CronJobSpec {
        CronJobSpec {
            name: name.into(),
            schedule,
            tz: Some("Europe/Berlin".into()),
            agent_id: None,
            prompt: "Brief me on the day.".into(),
            session: None,
            deliver: None,
            enabled: true,
            timeout_seconds: None,
            jitter_seconds: 0,
            missed: MissedPolicy::Skip,
            rerun_interrupted: false,
            alert_after: 3,
        }
    }

    fn weekdays() -> CronSchedule {
        CronSchedule::Cron {
            cron: "0 8 * * 1-5".into(),
        }
    }

    async fn runtime(home: &std::path::Path) -> Arc<Runtime> {
        crate::agent::tools::testing::runtime(home, Config::default()).await
    }

    #[test]
    fn schedules_are_explained_in_words() {
        assert_eq!(schedule_problem(&json!({"every": "30m"})), None);
        let two = schedule_problem(&json!({"cron": "* * * * *", "every": "1h"})).unwrap();
        assert!(two.contains("only one of"), "{two}");
        let unknown = schedule_problem(&json!({"sometimes": "1"})).unwrap();
        assert!(unknown.contains("sometimes"), "{unknown}");
        assert!(
            schedule_problem(&json!({}))
                .unwrap()
                .contains("give one of")
        );
        assert!(
            schedule_problem(&json!({"at": 5}))
                .unwrap()
                .contains("text")
        );
        assert!(schedule_problem(&json!("0 8 * * *")).is_some());
        assert_eq!(history_limit(None), 50);
        assert_eq!(history_limit(Some(0)), 1);
        assert_eq!(history_limit(Some(10_000)), 500);
        assert!(same_name(" Morning Brief", "morning brief"));
        assert_eq!(shown_name("@heartbeat:main"), "heartbeat");
    }

    #[test]
    fn unknown_fields_are_refused_by_name() {
        let Err(CronServiceError::Invalid(problems)) = spec_from_value(json!({
            "name": "x", "schedule": {"every": "1h"}, "prompt": "p", "colour": "red"
        })) else {
            panic!("accepted an unknown field");
        };
        assert!(
            problems[0].contains("unknown field `colour`"),
            "{problems:?}"
        );
    }

    #[tokio::test]
    async fn add_edit_remove_round_trip() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path()).await;
        let added = add(&rt, spec(" Morning Brief ", weekdays())).await.unwrap();
        assert_eq!(added.job.name, "Morning Brief");
        assert_eq!(
            (added.tz.as_str(), added.agent_id.as_str()),
            ("Europe/Berlin", "main")
        );
        let first = added.next_at.unwrap();
        assert!(first > rt.now_ms());

        let taken = add(&rt, spec("morning brief", weekdays()))
            .await
            .unwrap_err();
        assert!(matches!(taken, CronServiceError::Conflict(_)), "{taken}");

        // A prompt change keeps the next time; a schedule change replaces the schedule whole.
        let edited = edit(
            &rt,
            "MORNING BRIEF",
            &json!({"prompt": "Only the calendar."}),
        )
        .await
        .unwrap();
        assert_eq!(edited.next_at, Some(first));
        assert_eq!(edited.job.prompt, "Only the calendar.");
        let every = edit(
            &rt,
            &added.id,
            &json!({"schedule": {"every": "2h"}, "tz": null}),
        )
        .await
        .unwrap();
        assert_eq!(
            every.job.schedule,
            CronSchedule::Every { every: "2h".into() }
        );
        assert_eq!(every.job.tz, None);
        assert_eq!(every.created_at, added.created_at, "the every anchor stays");
        let off = edit(&rt, &added.id, &json!({"enabled": false}))
            .await
            .unwrap();
        assert_eq!(off.next_at, None);

        let Err(CronServiceError::Invalid(problems)) = edit(
            &rt,
            &added.id,
            &json!({"tz": "Mars/Olympus", "agentId": "nobody"}),
        )
        .await
        else {
            panic!("accepted a bad edit");
        };
        assert_eq!(problems.len(), 2, "{problems:?}");

        let listed = list(&rt).await.unwrap();
        assert_eq!(listed.jobs.len(), 1);
        assert!(listed.enabled && listed.heartbeat.is_none());

        assert!(remove(&rt, "morning brief").await.unwrap().removed);
        assert!(matches!(
            get(&rt, &added.id).await,
            Err(CronServiceError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn past_times_and_reserved_names_are_refused() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path()).await;
        let past = add(
            &rt,
            spec(
                "once",
                CronSchedule::At {
                    at: "2001-01-01 08:00".into(),
                },
            ),
        )
        .await
        .unwrap_err();
        assert!(past.to_string().contains("has passed"), "{past}");
        let mut disabled = spec(
            "once",
            CronSchedule::At {
                at: "2001-01-01 08:00".into(),
            },
        );
        disabled.enabled = false;
        assert_eq!(add(&rt, disabled).await.unwrap().next_at, None);

        let Err(CronServiceError::Invalid(problems)) =
            add(&rt, spec("@heartbeat:main", weekdays())).await
        else {
            panic!("accepted a reserved name");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("reserved"), "{problems:?}");

        let now = rt.now_ms();
        rt.store
            .insert_cron_job(&CronJobRow {
                id: "@heartbeat:main".into(),
                name: "@heartbeat:main".into(),
                spec_json: "{}".into(),
                enabled: false,
                next_at: None,
                consecutive_failures: 0,
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();
        assert_eq!(
            list(&rt).await.unwrap().jobs.len(),
            1,
            "the heartbeat row is hidden"
        );
        for refused in [
            remove(&rt, "@heartbeat:main").await.err(),
            edit(&rt, "@heartbeat:main", &json!({})).await.err(),
            run(&rt, "@heartbeat:main").await.err(),
        ] {
            assert!(
                matches!(&refused, Some(CronServiceError::Invalid(p)) if p[0].contains("heartbeat")),
                "{refused:?}"
            );
        }
        assert!(
            history(&rt, Some("@heartbeat:main"), None)
                .await
                .unwrap()
                .fires
                .is_empty()
        );
    }

    #[tokio::test]
    async fn import_is_all_or_nothing() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path()).await;
        let first = add(&rt, spec("Digest", weekdays())).await.unwrap();
        let mut bad = spec(
            "Broken",
            CronSchedule::Cron {
                cron: "0 8 * *".into(),
            },
        );
        bad.agent_id = Some("nobody".into());
        let Err(CronServiceError::Invalid(problems)) = import(
            &rt,
            vec![
                spec("New one", weekdays()),
                bad,
                spec("digest", weekdays()),
                spec("DIGEST", weekdays()),
            ],
        )
        .await
        else {
            panic!("imported a broken job");
        };
        assert!(
            problems
                .iter()
                .all(|p| p.starts_with("`Broken`: ") || p.starts_with("`DIGEST`: ")),
            "{problems:?}"
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(list(&rt).await.unwrap().jobs.len(), 1, "nothing written");

        let mut replaced = spec("digest", CronSchedule::Every { every: "1h".into() });
        replaced.prompt = "The digest.".into();
        let done = import(&rt, vec![spec("New one", weekdays()), replaced])
            .await
            .unwrap();
        assert_eq!(done.added, ["New one"]);
        assert_eq!(done.updated, ["digest"]);
        let digest = get(&rt, "Digest").await.unwrap();
        assert_eq!(
            (digest.id.as_str(), digest.job.prompt.as_str()),
            (first.id.as_str(), "The digest.")
        );
        assert_eq!(digest.created_at, first.created_at);
    }

    #[tokio::test]
    async fn a_job_whose_agent_is_gone_shows_its_problem() {
        let home = tempfile::tempdir().unwrap();
        let rt = runtime(home.path()).await;
        let mut orphan = spec("Orphan", weekdays());
        orphan.agent_id = Some("ghost".into());
        let now = rt.now_ms();
        rt.store
            .insert_cron_job(&CronJobRow {
                id: "job-1".into(),
                name: "Orphan".into(),
                spec_json: serde_json::to_string(&orphan).unwrap(),
                enabled: true,
                next_at: Some(now),
                consecutive_failures: 0,
                created_at: now,
                updated_at: now,
            })
            .await
            .unwrap();
        let listed = list(&rt).await.unwrap();
        let job = &listed.jobs[0];
        assert!(job.problem.as_deref().unwrap().contains("ghost"), "{job:?}");
        assert_eq!((job.next_at, job.agent_id.as_str()), (None, "ghost"));
        let refused = run(&rt, "orphan").await.unwrap_err();
        assert!(refused.to_string().contains("cannot run"), "{refused}");
        // Fixing it schedules it again.
        let fixed = edit(&rt, "orphan", &json!({"agentId": null}))
            .await
            .unwrap();
        assert!(
            fixed.problem.is_none() && fixed.next_at.unwrap() > now,
            "{fixed:?}"
        );
    }
}
