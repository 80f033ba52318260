//! `cron`: the agent managing its own scheduled jobs ("remind me every Friday at 19:00").
//!
//! It calls [`crate::cron::service`], the same checks and store as `cron.*` and `hearth cron`.
//! The agent sees and changes only jobs that run as itself: a job it adds runs as the calling
//! agent unless it names itself again, and another agent's jobs are neither listed nor
//! touched, so the tool cannot start runs with another agent's tools. The tool is in
//! `group:automation`, offered by the `full` profile or an `allow` entry, never by default.

use async_trait::async_trait;
use hearth_protocol::cron::{CronFire, CronJob, CronSchedule};
use hearth_providers::ToolSpec;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};
use crate::cron::service::{self, CronServiceError};
use crate::util::truncate_chars;

/// Characters of a fire's output or error shown in `history`.
const OUTPUT_CHARS: usize = 500;

/// Fires `history` shows when not told.
const DEFAULT_FIRES: u32 = 10;

/// `cron`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CronTool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronArgs {
    action: Action,
    id: Option<String>,
    job: Option<Map<String, Value>>,
    patch: Option<Value>,
    limit: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Action {
    List,
    Add,
    Edit,
    Remove,
    Run,
    History,
}

#[async_trait]
impl Tool for CronTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "cron".to_owned(),
            description: "Manage your scheduled jobs: a prompt you are given at set times, with your answer delivered somewhere. Actions: `list`; `add` with `job`; `edit` with `id` (job id or name) and `patch` (only the fields to change; null removes one); `remove`, `run` (now, in the background) with `id`; `history` (optionally `id`, `limit`): latest fires with status, output and cost.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "action": { "type": "string", "enum": ["list", "add", "edit", "remove", "run", "history"] },
                    "id": { "type": "string", "description": "A job's id or name." },
                    "job": {
                        "type": "object",
                        "description": "For add: the job.",
                        "properties": {
                            "name": { "type": "string", "description": "Unique; letters, digits, spaces, - and _." },
                            "schedule": {
                                "type": "object",
                                "description": "Exactly one of: {\"cron\": \"0 8 * * 1-5\"} (5 fields, or 6 with seconds first), {\"every\": \"30m\"}, {\"at\": \"2026-11-22 08:00\"} (once, in tz).",
                                "properties": {
                                    "cron": { "type": "string" },
                                    "every": { "type": "string" },
                                    "at": { "type": "string" }
                                }
                            },
                            "prompt": { "type": "string", "description": "What you are asked at each fire." },
                            "tz": { "type": "string", "description": "IANA time zone, e.g. Europe/Berlin; default the gateway's." },
                            "deliver": { "type": "string", "description": "Where your answer goes, e.g. telegram:123456; absent: only stored." },
                            "session": { "type": "string", "description": "A session to continue at every fire; absent: a fresh one each time." },
                            "enabled": { "type": "boolean" },
                            "timeoutSeconds": { "type": "integer", "minimum": 1 },
                            "jitterSeconds": { "type": "integer", "minimum": 0, "maximum": 3600 },
                            "missed": { "type": "string", "enum": ["skip", "runOnce"] },
                            "alertAfter": { "type": "integer", "minimum": 0 }
                        },
                        "required": ["name", "schedule", "prompt"]
                    },
                    "patch": { "type": "object", "description": "For edit: the fields to change, e.g. {\"enabled\": false} or {\"schedule\": {\"every\": \"1h\"}}." },
                    "limit": { "type": "integer", "minimum": 1, "maximum": 100 }
                },
                "required": ["action"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: CronArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match act(ctx, args).await {
            Ok(out) => out,
            Err(e) => e.into(),
        }
    }
}

async fn act(ctx: &ToolContext, args: CronArgs) -> Result<ToolOutput, ToolError> {
    let rt = &ctx.runtime;
    let need_id = |what: &str| {
        args.id.clone().ok_or_else(|| {
            ToolError::Arguments(format!("`{what}` needs `id`: the job's id or name"))
        })
    };
    match args.action {
        Action::List => {
            let listed = service::list(rt).await.map_err(failed)?;
            let jobs: Vec<Value> = listed
                .jobs
                .iter()
                .filter(|j| j.agent_id == ctx.agent_id)
                .map(summary)
                .collect();
            Ok(ToolOutput::json(&json!({ "jobs": jobs })))
        }
        Action::Add => {
            let Some(mut job) = args.job else {
                return Err(ToolError::Arguments(
                    "`add` needs `job` with at least name, schedule and prompt".to_owned(),
                ));
            };
            match job.get("agentId").and_then(Value::as_str) {
                None => {
                    job.insert("agentId".to_owned(), json!(ctx.agent_id));
                }
                Some(id) if id == ctx.agent_id => {}
                Some(other) => return Err(other_agent(ctx, other)),
            }
            let spec = service::spec_from_value(Value::Object(job)).map_err(failed)?;
            let added = service::add(rt, spec).await.map_err(failed)?;
            tracing::info!(run_id = %ctx.run_id, job = %added.job.name, "the agent added a scheduled job");
            Ok(ToolOutput::json(&summary(&added)))
        }
        Action::Edit => {
            let id = need_id("edit")?;
            let Some(mut patch) = args.patch else {
                return Err(ToolError::Arguments(
                    "`edit` needs `patch`: the fields to change".to_owned(),
                ));
            };
            match patch.get("agentId") {
                // Back to the default means back to the caller, never to another agent.
                Some(Value::Null) => patch["agentId"] = json!(ctx.agent_id),
                Some(Value::String(other)) if *other != ctx.agent_id => {
                    return Err(other_agent(ctx, other));
                }
                _ => {}
            }
            let job = own_job(ctx, &id).await?;
            let edited = service::edit(rt, &job.id, &patch).await.map_err(failed)?;
            Ok(ToolOutput::json(&summary(&edited)))
        }
        Action::Remove => {
            let id = need_id("remove")?;
            let job = own_job(ctx, &id).await?;
            service::remove(rt, &job.id).await.map_err(failed)?;
            Ok(ToolOutput::ok(format!(
                "removed the job `{}`",
                job.job.name
            )))
        }
        Action::Run => {
            let id = need_id("run")?;
            let job = own_job(ctx, &id).await?;
            let started = service::run(rt, &job.id).await.map_err(failed)?;
            Ok(ToolOutput::json(&json!({
                "fireId": started.fire_id,
                "job": job.job.name,
                "note": "it runs in the background; see `history` for its outcome",
            })))
        }
        Action::History => {
            let limit = Some(args.limit.unwrap_or(DEFAULT_FIRES));
            let fires = match &args.id {
                Some(id) => {
                    let job = own_job(ctx, id).await?;
                    service::history(rt, Some(&job.id), limit)
                        .await
                        .map_err(failed)?
                        .fires
                }
                None => {
                    let own: Vec<String> = service::list(rt)
                        .await
                        .map_err(failed)?
                        .jobs
                        .into_iter()
                        .filter(|j| j.agent_id == ctx.agent_id)
                        .map(|j| j.id)
                        .collect();
                    service::history(rt, None, limit)
                        .await
                        .map_err(failed)?
                        .fires
                        .into_iter()
                        .filter(|f| own.contains(&f.job_id))
                        .collect()
                }
            };
            let fires: Vec<Value> = fires.iter().map(fire_summary).collect();
            Ok(ToolOutput::json(&json!({ "fires": fires })))
        }
    }
}

/// A job of the calling agent, or why not.
async fn own_job(ctx: &ToolContext, id: &str) -> Result<CronJob, ToolError> {
    let job = service::get(&ctx.runtime, id).await.map_err(failed)?;
    if job.agent_id != ctx.agent_id {
        return Err(ToolError::Refused(format!(
            "the job `{}` runs as the agent `{}`; you can only manage your own jobs",
            job.job.name, job.agent_id
        )));
    }
    Ok(job)
}

fn other_agent(ctx: &ToolContext, other: &str) -> ToolError {
    ToolError::Refused(format!(
        "you can only schedule jobs for yourself (`{}`), not for `{other}`; leave agentId out",
        ctx.agent_id
    ))
}

fn failed(e: CronServiceError) -> ToolError {
    match e {
        CronServiceError::Invalid(problems) => ToolError::Arguments(format!(
            "the job is not valid:\n- {}\nFix these and call again.",
            problems.join("\n- ")
        )),
        CronServiceError::Store(e) => {
            tracing::error!(error = %e, "store error in the cron tool");
            ToolError::Failed("the job store failed; see the gateway log".to_owned())
        }
        other => ToolError::Failed(other.to_string()),
    }
}

/// `cron 0 8 * * 1-5`, `every 30m`, `at 2026-11-22 08:00`.
fn schedule_text(schedule: &CronSchedule) -> String {
    match schedule {
        CronSchedule::Cron { cron } => format!("cron {cron}"),
        CronSchedule::Every { every } => format!("every {every}"),
        CronSchedule::At { at } => format!("at {at}"),
    }
}

/// An instant in the job's zone, for the model to read: `2026-11-23 08:00 CET`.
fn local(ms: i64, tz: &str) -> String {
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| t.to_zoned(zone).strftime("%Y-%m-%d %H:%M %Z").to_string(),
    )
}

fn summary(job: &CronJob) -> Value {
    let mut v = json!({
        "id": job.id,
        "name": job.job.name,
        "schedule": schedule_text(&job.job.schedule),
        "tz": job.tz,
        "enabled": job.job.enabled,
        "prompt": truncate_chars(&job.job.prompt, 200),
    });
    let fields = [
        ("nextRun", job.next_at.map(|at| local(at, &job.tz))),
        ("deliver", job.job.deliver.clone()),
        ("session", job.job.session.clone()),
        (
            "lastStatus",
            job.last.as_ref().and_then(|f| {
                serde_json::to_value(f.status)
                    .ok()
                    .and_then(|s| s.as_str().map(str::to_owned))
            }),
        ),
        ("problem", job.problem.clone()),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    v
}

fn fire_summary(fire: &CronFire) -> Value {
    json!({
        "job": fire.job_name,
        "status": fire.status,
        "trigger": fire.trigger,
        "scheduledAt": format!("{} UTC", crate::util::format_utc(fire.scheduled_at)),
        "durationMs": fire.duration_ms,
        "tokens": fire.input_tokens + fire.output_tokens,
        "cost": fire.cost,
        "deliveredTo": fire.delivered_to,
        "output": fire.output.as_deref().map(|o| truncate_chars(o, OUTPUT_CHARS)),
        "error": fire.error.as_deref().map(|e| truncate_chars(e, OUTPUT_CHARS)),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[tokio::test]
    async fn adds_lists_and_removes_its_own_jobs() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let out = CronTool
            .call(
                &ctx,
                json!({"action": "add", "job": {
                    "name": "Friday digest", "schedule": {"cron": "0 19 * * FRI"},
                    "prompt": "Digest of the week", "tz": "Europe/Berlin"
                }}),
            )
            .await;
        assert!(!out.is_error, "{out:?}");
        let added: Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(added["schedule"], "cron 0 19 * * FRI");
        assert!(
            added["nextRun"].as_str().unwrap().contains("19:00"),
            "{added}"
        );
        let job = service::get(&ctx.runtime, "friday digest").await.unwrap();
        assert_eq!(job.job.agent_id.as_deref(), Some("main"));

        let out = CronTool.call(&ctx, json!({"action": "list"})).await;
        let listed: Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(listed["jobs"].as_array().unwrap().len(), 1);

        let out = CronTool
            .call(
                &ctx,
                json!({"action": "edit", "id": "Friday digest", "patch": {"enabled": false}}),
            )
            .await;
        let edited: Value = serde_json::from_str(&out.text).unwrap();
        assert_eq!(edited["enabled"], false);
        assert!(edited.get("nextRun").is_none(), "{edited}");

        let out = CronTool
            .call(&ctx, json!({"action": "remove", "id": "friday digest"}))
            .await;
        assert_eq!(out, ToolOutput::ok("removed the job `Friday digest`"));
    }

    #[tokio::test]
    async fn every_problem_and_other_agents_are_refused() {
        let home = tempfile::tempdir().unwrap();
        let config: hearth_config::Config = serde_json::from_value(json!({
            "agents": { "list": [{ "id": "main" }, { "id": "ops" }] }
        }))
        .unwrap();
        let ctx = testing::context(home.path(), config).await;
        let out = CronTool
            .call(
                &ctx,
                json!({"action": "add", "job": {
                    "name": "bad", "schedule": {"cron": "0 8 * *"}, "prompt": "x",
                    "tz": "Mars/Olympus", "deliver": "fax:1"
                }}),
            )
            .await;
        assert!(out.is_error, "{out:?}");
        for field in ["schedule.cron", "tz:", "deliver:"] {
            assert!(out.text.contains(field), "{field}: {}", out.text);
        }
        let out = CronTool
            .call(
                &ctx,
                json!({"action": "add", "job": {
                    "name": "theirs", "schedule": {"every": "1h"}, "prompt": "x", "agentId": "ops"
                }}),
            )
            .await;
        assert!(out.is_error && out.text.contains("for yourself"), "{out:?}");

        let spec: hearth_protocol::cron::CronJobSpec = serde_json::from_value(json!({
            "name": "ops job", "schedule": {"every": "1h"}, "prompt": "x", "agentId": "ops"
        }))
        .unwrap();
        service::add(&ctx.runtime, spec).await.unwrap();
        for action in ["remove", "run", "history"] {
            let out = CronTool
                .call(&ctx, json!({"action": action, "id": "ops job"}))
                .await;
            assert!(
                out.is_error && out.text.contains("your own jobs"),
                "{action}: {out:?}"
            );
        }
        let out = CronTool.call(&ctx, json!({"action": "list"})).await;
        assert_eq!(out.text.matches("ops job").count(), 0, "{}", out.text);

        // Clearing its agent keeps a job with the caller even when another agent is the default.
        let ops_first: hearth_config::Config = serde_json::from_value(json!({
            "agents": { "list": [{ "id": "ops", "default": true }, { "id": "main" }] }
        }))
        .unwrap();
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), ops_first).await;
        let ctx = ToolContext::new(
            &ctx.runtime,
            ctx.runtime.live().agents.get("main").unwrap(),
            "agent:main:main",
            "run-test",
            &ctx.cancel,
        );
        let out = CronTool
            .call(
                &ctx,
                json!({"action": "add", "job": {"name": "mine", "schedule": {"every": "1h"}, "prompt": "x"}}),
            )
            .await;
        assert!(!out.is_error, "{out:?}");
        let out = CronTool
            .call(
                &ctx,
                json!({"action": "edit", "id": "mine", "patch": {"agentId": null}}),
            )
            .await;
        assert!(!out.is_error, "{out:?}");
        let job = service::get(&ctx.runtime, "mine").await.unwrap();
        assert_eq!(job.agent_id, "main");
        let out = CronTool.call(&ctx, json!({"action": "run"})).await;
        assert!(out.is_error && out.text.contains("needs `id`"), "{out:?}");
    }
}
