//! `hearth cron list|add|edit|remove|run|history|import`: scheduled jobs, managed through the
//! running gateway (`cron.*`), which checks each job whole. A job with problems is refused with
//! every problem listed, one a line. Times are shown in the local time zone.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use hearth_client::{Client, ClientError};
use hearth_protocol::cron::{
    CronAddParams, CronEditParams, CronFire, CronHistoryParams, CronIdParams, CronImportParams,
    CronJob, CronJobSpec, CronListResult, CronSchedule, FireStatus, MissedPolicy,
};
use hearth_protocol::methods::{Empty, MethodSpec, spec};
use serde_json::{Map, Value, json};

use crate::cli::{CronAddArgs, CronCmd, CronEditArgs, CronMissed, CronOptions, Global};
use crate::{connect, output};

/// How often `run --wait` asks how the fire stands.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Characters of a fire's first line shown in `history`.
const LINE_CHARS: usize = 60;

pub(super) async fn run(g: &Global, cmd: CronCmd) -> anyhow::Result<ExitCode> {
    if let CronCmd::Edit(args) = &cmd
        && edit_patch(args).as_object().is_some_and(Map::is_empty)
    {
        return Err(anyhow!(
            "nothing to change: give the flags to change, e.g. `--disable` or `--every 1h` (see `hearth cron edit --help`)"
        ));
    }
    let client = connect::client(g).await?;
    let code = match cmd {
        CronCmd::List => {
            let listed = call::<spec::CronList>(&client, Empty {}).await?;
            if g.json {
                output::json(&listed)?;
            } else {
                print_list(&listed, hearth_core::util::now_ms());
            }
            ExitCode::SUCCESS
        }
        CronCmd::Add(args) => {
            let job = call::<spec::CronAdd>(
                &client,
                CronAddParams {
                    job: add_spec(args),
                },
            )
            .await?;
            done(g, &job, "added")?;
            ExitCode::SUCCESS
        }
        CronCmd::Edit(args) => {
            let params = CronEditParams {
                id: args.job.clone(),
                patch: edit_patch(&args),
            };
            let job = call::<spec::CronEdit>(&client, params).await?;
            done(g, &job, "changed")?;
            ExitCode::SUCCESS
        }
        CronCmd::Remove { job } => {
            let removed =
                call::<spec::CronRemove>(&client, CronIdParams { id: job.clone() }).await?;
            if g.json {
                output::json(&removed)?;
            } else {
                println!("job `{job}` removed with its history");
            }
            ExitCode::SUCCESS
        }
        CronCmd::Run { job, wait } => {
            let started = call::<spec::CronRun>(&client, CronIdParams { id: job.clone() }).await?;
            if !wait {
                if g.json {
                    output::json(&started)?;
                } else {
                    println!(
                        "job `{job}` started (fire {}); see `hearth cron history {job}`",
                        started.fire_id
                    );
                }
                ExitCode::SUCCESS
            } else {
                let fire = wait_for(&client, &started.job_id, &started.fire_id).await?;
                if g.json {
                    output::json(&fire)?;
                } else {
                    print_outcome(&fire);
                }
                if fire.status == FireStatus::Completed {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
        }
        CronCmd::History { job, limit } => {
            let history = call::<spec::CronHistory>(
                &client,
                CronHistoryParams {
                    id: job.clone(),
                    limit,
                },
            )
            .await?;
            if g.json {
                output::json(&history)?;
            } else if history.fires.is_empty() {
                println!("No fires yet.");
            } else {
                print_history(&history.fires, job.is_none());
            }
            ExitCode::SUCCESS
        }
        CronCmd::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let params: CronImportParams = serde_json::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}: {e}; the file is {{\"jobs\": [{{\"name\": ..., \"schedule\": {{\"cron\": ...}}, \"prompt\": ...}}, ...]}}",
                    file.display()
                )
            })?;
            let imported = call::<spec::CronImport>(&client, params).await?;
            if g.json {
                output::json(&imported)?;
            } else {
                println!(
                    "{} job(s) added, {} replaced{}",
                    imported.added.len(),
                    imported.updated.len(),
                    names(&imported.added, &imported.updated)
                );
            }
            ExitCode::SUCCESS
        }
    };
    client.close().await;
    Ok(code)
}

/// Calls a method; a refused job comes back with each of its problems on a line.
async fn call<M: MethodSpec>(client: &Client, params: M::Params) -> anyhow::Result<M::Result> {
    client.call::<M>(params).await.map_err(|e| refusal(&e))
}

fn refusal(e: &ClientError) -> anyhow::Error {
    let problems: Vec<&str> = e
        .shape()
        .and_then(|s| s.details.as_ref())
        .and_then(|d| d.get("problems"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if problems.len() < 2 {
        return anyhow!("{e}");
    }
    anyhow!(
        "the job has {} problems; fix them and try again:\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    )
}

fn names(added: &[String], updated: &[String]) -> String {
    let all: Vec<&str> = added.iter().chain(updated).map(String::as_str).collect();
    if all.is_empty() {
        String::new()
    } else {
        format!(": {}", all.join(", "))
    }
}

fn done(g: &Global, job: &CronJob, what: &str) -> anyhow::Result<()> {
    if g.json {
        return output::json(job);
    }
    let next = match job.next_at {
        Some(at) => format!(
            "next run {} ({})",
            local_time(at),
            relative(at - hearth_core::util::now_ms())
        ),
        None if !job.job.enabled => "disabled".to_owned(),
        None => "it will not fire again".to_owned(),
    };
    println!("job `{}` {what}: {next}", job.job.name);
    Ok(())
}

fn missed(m: CronMissed) -> MissedPolicy {
    match m {
        CronMissed::Skip => MissedPolicy::Skip,
        CronMissed::RunOnce => MissedPolicy::RunOnce,
    }
}

fn schedule_of(
    cron: Option<String>,
    every: Option<String>,
    at: Option<String>,
) -> Option<CronSchedule> {
    cron.map(|cron| CronSchedule::Cron { cron })
        .or_else(|| every.map(|every| CronSchedule::Every { every }))
        .or_else(|| at.map(|at| CronSchedule::At { at }))
}

/// The job `hearth cron add` describes.
fn add_spec(args: CronAddArgs) -> CronJobSpec {
    let CronOptions {
        tz,
        agent,
        session,
        deliver,
        timeout,
        jitter,
        missed: missed_policy,
        rerun_interrupted,
        alert_after,
    } = args.options;
    CronJobSpec {
        name: args.name,
        // clap requires one of the three; an empty expression is refused by the gateway.
        schedule: schedule_of(args.cron, args.every, args.at).unwrap_or(CronSchedule::Cron {
            cron: String::new(),
        }),
        tz,
        agent_id: agent,
        prompt: args.prompt,
        session,
        deliver,
        enabled: !args.disabled,
        timeout_seconds: timeout,
        jitter_seconds: jitter.unwrap_or(0),
        missed: missed_policy.map_or(MissedPolicy::Skip, missed),
        rerun_interrupted,
        alert_after: alert_after.unwrap_or(3),
    }
}

/// The merge patch `hearth cron edit` describes: only what a flag names.
fn edit_patch(args: &CronEditArgs) -> Value {
    let mut patch = Map::new();
    let mut set = |key: &str, value: Value| {
        patch.insert(key.to_owned(), value);
    };
    let o = &args.options;
    if let Some(name) = &args.name {
        set("name", json!(name));
    }
    if let Some(schedule) = schedule_of(args.cron.clone(), args.every.clone(), args.at.clone()) {
        set("schedule", json!(schedule));
    }
    if let Some(prompt) = &args.prompt {
        set("prompt", json!(prompt));
    }
    let optional = [
        ("tz", o.tz.clone(), args.no_tz),
        ("agentId", o.agent.clone(), args.no_agent),
        ("session", o.session.clone(), args.no_session),
        ("deliver", o.deliver.clone(), args.no_deliver),
    ];
    for (key, value, clear) in optional {
        if let Some(v) = value {
            set(key, json!(v));
        } else if clear {
            set(key, Value::Null);
        }
    }
    if let Some(t) = o.timeout {
        set("timeoutSeconds", json!(t));
    } else if args.no_timeout {
        set("timeoutSeconds", Value::Null);
    }
    if let Some(j) = o.jitter {
        set("jitterSeconds", json!(j));
    }
    if let Some(m) = o.missed {
        set("missed", json!(missed(m)));
    }
    if o.rerun_interrupted {
        set("rerunInterrupted", json!(true));
    } else if args.no_rerun_interrupted {
        set("rerunInterrupted", json!(false));
    }
    if let Some(n) = o.alert_after {
        set("alertAfter", json!(n));
    }
    if args.enable {
        set("enabled", json!(true));
    } else if args.disable {
        set("enabled", json!(false));
    }
    Value::Object(patch)
}

/// Polls the job's history until the fire ends.
async fn wait_for(client: &Client, job_id: &str, fire_id: &str) -> anyhow::Result<CronFire> {
    loop {
        let history = call::<spec::CronHistory>(
            client,
            CronHistoryParams {
                id: Some(job_id.to_owned()),
                limit: Some(20),
            },
        )
        .await?;
        match history.fires.into_iter().find(|f| f.id == fire_id) {
            Some(fire) if fire.status != FireStatus::Running => return Ok(fire),
            Some(_) => {}
            None => return Err(anyhow!("the fire {fire_id} is gone (was the job removed?)")),
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                return Err(anyhow!("stopped waiting; the job goes on (see `hearth cron history`)"));
            }
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

fn print_outcome(fire: &CronFire) {
    let took = fire
        .duration_ms
        .map(|ms| output::duration(u64::try_from(ms).unwrap_or(0)))
        .unwrap_or_default();
    println!(
        "{} in {took}, {} tokens{}{}",
        status_text(fire.status),
        fire.input_tokens + fire.output_tokens,
        fire.cost.map(|c| format!(", ${c:.4}")).unwrap_or_default(),
        fire.delivered_to
            .as_deref()
            .map(|t| format!(", delivered to {t}"))
            .unwrap_or_default()
    );
    if let Some(output) = fire.output.as_deref().filter(|o| !o.is_empty()) {
        println!("{output}");
    }
    if let Some(error) = &fire.error {
        println!("error: {error}");
    }
}

fn status_text(status: FireStatus) -> &'static str {
    match status {
        FireStatus::Running => "running",
        FireStatus::Completed => "completed",
        FireStatus::Failed => "failed",
        FireStatus::Interrupted => "interrupted",
        FireStatus::Skipped => "skipped",
    }
}

fn schedule_text(schedule: &CronSchedule) -> String {
    match schedule {
        CronSchedule::Cron { cron } => format!("cron {cron}"),
        CronSchedule::Every { every } => format!("every {every}"),
        CronSchedule::At { at } => format!("at {at}"),
    }
}

/// Rows as columns padded to their widest cell.
pub(super) fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[c] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn print_list(listed: &CronListResult, now: i64) {
    if !listed.enabled {
        println!(
            "The scheduler is off (cron.enabled is false): jobs run only with `hearth cron run`.\n"
        );
    }
    if listed.jobs.is_empty() {
        println!(
            "No scheduled jobs. Add one with `hearth cron add <name> --cron '0 8 * * 1-5' --prompt '...'`."
        );
    } else {
        let mut rows = vec![
            ["NAME", "SCHEDULE", "TZ", "NEXT RUN", "LAST", "ENABLED"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for job in &listed.jobs {
            let next = match job.next_at {
                Some(at) => format!("{} ({})", local_time(at), relative(at - now)),
                None => "-".to_owned(),
            };
            rows.push(vec![
                job.job.name.clone(),
                schedule_text(&job.job.schedule),
                job.tz.clone(),
                next,
                job.last
                    .as_ref()
                    .map_or("-", |f| status_text(f.status))
                    .to_owned(),
                if job.job.enabled { "yes" } else { "no" }.to_owned(),
            ]);
        }
        print!("{}", table(&rows));
        for job in listed.jobs.iter().filter(|j| j.problem.is_some()) {
            println!(
                "  `{}` cannot run: {} (fix it with `hearth cron edit`)",
                job.job.name,
                job.problem.as_deref().unwrap_or_default()
            );
        }
    }
    if let Some(h) = &listed.heartbeat {
        let mut line = format!("Heartbeat: every {} as `{}`", h.every, h.agent_id);
        if let Some(hours) = &h.active_hours {
            line.push_str(&format!(", {hours}"));
        }
        line.push_str(&format!(", to {}", h.target));
        if let Some(at) = h.next_at {
            line.push_str(&format!("; next {}", local_time(at)));
        }
        if let Some(last) = &h.last {
            line.push_str(&format!("; last {}", status_text(last.status)));
        }
        println!("\n{line}");
    }
}

fn print_history(fires: &[CronFire], with_job: bool) {
    let mut header = vec!["TIME"];
    if with_job {
        header.push("JOB");
    }
    header.extend(["STATUS", "TOOK", "TOKENS", "COST", "DELIVERED", "OUTPUT"]);
    let mut rows = vec![header.into_iter().map(str::to_owned).collect::<Vec<_>>()];
    for f in fires {
        let mut row = vec![local_time(f.started_at)];
        if with_job {
            row.push(f.job_name.clone());
        }
        let text = match (f.status, &f.error, &f.output) {
            (FireStatus::Failed | FireStatus::Interrupted | FireStatus::Skipped, Some(e), _) => {
                e.as_str()
            }
            (_, _, Some(o)) => o.as_str(),
            (_, Some(e), None) => e.as_str(),
            _ => "",
        };
        row.extend([
            status_text(f.status).to_owned(),
            f.duration_ms
                .map(|ms| output::duration(u64::try_from(ms).unwrap_or(0)))
                .unwrap_or_else(|| "-".to_owned()),
            (f.input_tokens + f.output_tokens).to_string(),
            f.cost
                .map(|c| format!("${c:.4}"))
                .unwrap_or_else(|| "-".to_owned()),
            f.delivered_to.clone().unwrap_or_else(|| "-".to_owned()),
            first_line(text),
        ]);
        rows.push(row);
    }
    print!("{}", table(&rows));
}

/// A text's first non-empty line, cut to [`LINE_CHARS`].
pub(super) fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > LINE_CHARS {
        let cut: String = line.chars().take(LINE_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

/// `YYYY-MM-DD HH:MM` in the local time zone.
pub(super) fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        },
    )
}

/// `in 5m`, `in 2h 10m`, `in 3d 4h`, `now`, `5m ago`.
fn relative(delta_ms: i64) -> String {
    let secs = delta_ms.abs() / 1000;
    let span = match secs {
        0..60 => return if delta_ms >= 0 { "now" } else { "just now" }.to_owned(),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => match (secs % 3600) / 60 {
            0 => format!("{}h", secs / 3600),
            m => format!("{}h {m}m", secs / 3600),
        },
        _ => match (secs % 86_400) / 3600 {
            0 => format!("{}d", secs / 86_400),
            h => format!("{}d {h}h", secs / 86_400),
        },
    };
    if delta_ms >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<CronCmd, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("hearth").chain(args.iter().copied()))?;
        match cli.command {
            Command::Cron(cmd) => Ok(cmd),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn add_takes_exactly_one_schedule() {
        let CronCmd::Add(args) = parse(&[
            "cron",
            "add",
            "Morning brief",
            "--cron",
            "0 8 * * 1-5",
            "--prompt",
            "Brief me",
            "--tz",
            "Europe/Berlin",
            "--deliver",
            "telegram:42",
            "--missed",
            "run-once",
            "--disabled",
        ])
        .unwrap() else {
            panic!("not add");
        };
        let spec = add_spec(args);
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({
                "name": "Morning brief", "schedule": {"cron": "0 8 * * 1-5"},
                "tz": "Europe/Berlin", "prompt": "Brief me", "deliver": "telegram:42",
                "enabled": false, "jitterSeconds": 0, "missed": "runOnce",
                "rerunInterrupted": false, "alertAfter": 3
            })
        );
        assert!(parse(&["cron", "add", "x", "--prompt", "p"]).is_err());
        assert!(
            parse(&[
                "cron",
                "add",
                "x",
                "--every",
                "1h",
                "--at",
                "2030-01-01 08:00",
                "--prompt",
                "p"
            ])
            .is_err()
        );
    }

    #[test]
    fn edit_patches_only_what_a_flag_names() {
        let CronCmd::Edit(args) = parse(&[
            "cron",
            "edit",
            "brief",
            "--every",
            "2h",
            "--no-deliver",
            "--disable",
            "--timeout",
            "60",
            "--no-rerun-interrupted",
        ])
        .unwrap() else {
            panic!("not edit");
        };
        assert_eq!(
            edit_patch(&args),
            json!({
                "schedule": {"every": "2h"}, "deliver": null, "timeoutSeconds": 60,
                "rerunInterrupted": false, "enabled": false
            })
        );
        let CronCmd::Edit(nothing) = parse(&["cron", "edit", "brief"]).unwrap() else {
            panic!("not edit");
        };
        assert_eq!(edit_patch(&nothing), json!({}));
        assert!(parse(&["cron", "edit", "brief", "--enable", "--disable"]).is_err());
        assert!(
            parse(&[
                "cron",
                "edit",
                "brief",
                "--deliver",
                "telegram:1",
                "--no-deliver"
            ])
            .is_err()
        );
    }

    #[test]
    fn relative_times_and_tables() {
        assert_eq!(relative(30_000), "now");
        assert_eq!(relative(5 * 60_000), "in 5m");
        assert_eq!(relative(2 * 3_600_000 + 10 * 60_000), "in 2h 10m");
        assert_eq!(relative(3 * 86_400_000), "in 3d");
        assert_eq!(relative(-(3 * 86_400_000 + 4 * 3_600_000)), "3d 4h ago");
        let rows = vec![
            vec!["NAME".to_owned(), "X".to_owned()],
            vec!["a longer name".to_owned(), "y".to_owned()],
        ];
        assert_eq!(table(&rows), "NAME           X\na longer name  y\n");
        assert_eq!(first_line("\n  first\nsecond"), "first");
        assert_eq!(first_line(&"x".repeat(100)).chars().count(), LINE_CHARS);
    }
}
