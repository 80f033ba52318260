//! A job's definition checked as a whole: every problem reported at once, each saying what to
//! write instead, and the schedule resolved for the scheduler.

use hearth_protocol::cron::{CronJobSpec, CronSchedule};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::schedule::{CronExpr, Schedule, parse_interval};
use crate::agents::Agents;

/// Longest job name.
const MAX_NAME: usize = 64;

/// Longest random delay a job may ask for.
const MAX_JITTER_SECONDS: u64 = 3600;

/// A job ready to schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedJob {
    pub schedule: Schedule,
    pub tz: TimeZone,
    pub agent_id: String,
}

/// Checks a delivery target's syntax and that a peer's channel is one Hearth speaks.
pub fn check_target(text: &str) -> Result<hearth_config::DeliveryTarget, String> {
    let target = hearth_config::DeliveryTarget::parse(text)?;
    if let hearth_config::DeliveryTarget::Peer { channel, .. } = &target {
        let channels = ["telegram", "discord", "slack", "matrix"];
        if !channels.contains(&channel.as_str()) {
            return Err(format!(
                "`{text}`: `{channel}` is not a channel to deliver to (channels: {})",
                channels.join(", ")
            ));
        }
    }
    Ok(target)
}

/// Checks `spec`; `created_at` anchors an `every` schedule, `default_tz` is the gateway's.
pub fn check(
    spec: &CronJobSpec,
    agents: &Agents,
    default_tz: &TimeZone,
    created_at: Timestamp,
) -> Result<CheckedJob, Vec<String>> {
    let mut problems = Vec::new();
    let name = spec.name.trim();
    if name.is_empty() || name.len() > MAX_NAME {
        problems.push(format!(
            "name: give the job a name of 1 to {MAX_NAME} characters"
        ));
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
    {
        problems.push(format!(
            "name: `{name}` may only have letters, digits, spaces, `-` and `_`"
        ));
    }
    if spec.prompt.trim().is_empty() {
        problems.push("prompt: write what the agent should do at each fire".to_owned());
    }
    let tz = match spec.tz.as_deref() {
        None => default_tz.clone(),
        Some(name) => TimeZone::get(name).unwrap_or_else(|_| {
            problems.push(format!(
                "tz: `{name}` is not an IANA time zone (e.g. `Europe/Berlin`, `America/New_York`, `UTC`)"
            ));
            TimeZone::UTC
        }),
    };
    let schedule = match &spec.schedule {
        CronSchedule::Cron { cron } => cron
            .parse::<CronExpr>()
            .map(Schedule::Cron)
            .map_err(|e| format!("schedule.cron: {e}")),
        CronSchedule::Every { every } => parse_interval(every)
            .map(|seconds| Schedule::Every {
                seconds,
                anchor: created_at,
            })
            .map_err(|e| format!("schedule.every: {e}")),
        CronSchedule::At { at } => parse_at(at, &tz)
            .map(Schedule::At)
            .map_err(|e| format!("schedule.at: {e}")),
    };
    let schedule = schedule.map_err(|e| problems.push(e)).ok();
    let agent_id = match spec.agent_id.as_deref() {
        None => agents.default_agent().id.clone(),
        Some(id) => {
            if agents.get(id).is_none() {
                let known: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
                problems.push(format!(
                    "agentId: no agent `{id}` (agents: {})",
                    known.join(", ")
                ));
            }
            id.to_owned()
        }
    };
    if let Some(target) = spec.deliver.as_deref()
        && let Err(e) = check_target(target)
    {
        problems.push(format!("deliver: {e}"));
    }
    if let Some(key) = spec.session.as_deref()
        && let Err(e) = crate::sessions::resolve_key(Some(key), &agent_id, "main")
    {
        problems.push(format!("session: {e}"));
    }
    if spec.timeout_seconds == Some(0) {
        problems.push("timeoutSeconds: must be at least 1".to_owned());
    }
    if spec.jitter_seconds > MAX_JITTER_SECONDS {
        problems.push(format!(
            "jitterSeconds: at most {MAX_JITTER_SECONDS} (an hour)"
        ));
    }
    match (problems.is_empty(), schedule) {
        (true, Some(schedule)) => Ok(CheckedJob {
            schedule,
            tz,
            agent_id,
        }),
        _ => Err(problems),
    }
}

/// RFC 3339 with an offset, or a local `YYYY-MM-DD HH:MM[:SS]` (or with `T`) in `tz`.
fn parse_at(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let local = t.replacen(' ', "T", 1);
    let dt: DateTime = local.parse().map_err(|_| {
        format!("`{t}` is not a time; write `2026-11-22 08:00` (in the job's zone) or `2026-11-22T08:00:00+01:00`")
    })?;
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|e| format!("`{t}` cannot be placed in the job's zone: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_config::Config;
    use hearth_protocol::cron::MissedPolicy;

    fn agents() -> Agents {
        Agents::from_config(&Config::default(), &crate::StateDir::new("/tmp/h"))
    }

    fn spec(schedule: CronSchedule) -> CronJobSpec {
        CronJobSpec {
            name: "Morning briefing".into(),
            schedule,
            tz: Some("Europe/Berlin".into()),
            agent_id: None,
            prompt: "Brief me on today's calendar and the weather.".into(),
            session: None,
            deliver: Some("telegram:123456".into()),
            enabled: true,
            timeout_seconds: None,
            jitter_seconds: 0,
            missed: MissedPolicy::Skip,
            rerun_interrupted: false,
            alert_after: 3,
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_good_job_resolves_its_schedule_in_its_zone() {
        let job = check(
            &spec(CronSchedule::Cron {
                cron: "0 8 * * 1-5".into(),
            }),
            &agents(),
            &TimeZone::UTC,
            ts("2026-11-21T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(job.agent_id, "main");
        assert_eq!(
            job.schedule.next_after(ts("2026-11-21T00:00:00Z"), &job.tz),
            Some(ts("2026-11-23T07:00:00Z")),
            "Monday 08:00 in Berlin"
        );
        let local = check(
            &spec(CronSchedule::At {
                at: "2026-11-22 08:00".into(),
            }),
            &agents(),
            &TimeZone::UTC,
            ts("2026-11-21T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(local.schedule, Schedule::At(ts("2026-11-22T07:00:00Z")));
        let every = check(
            &spec(CronSchedule::Every {
                every: "30m".into(),
            }),
            &agents(),
            &TimeZone::UTC,
            ts("2026-11-21T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            every
                .schedule
                .next_after(ts("2026-11-21T00:10:00Z"), &every.tz),
            Some(ts("2026-11-21T00:30:00Z"))
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut bad = spec(CronSchedule::Cron {
            cron: "0 8 * *".into(),
        });
        bad.name = "brief/me".into();
        bad.prompt = "  ".into();
        bad.tz = Some("Mars/Olympus".into());
        bad.agent_id = Some("nobody".into());
        bad.deliver = Some("fax:123".into());
        bad.session = Some("a b".into());
        bad.timeout_seconds = Some(0);
        bad.jitter_seconds = 7200;
        let problems = check(&bad, &agents(), &TimeZone::UTC, Timestamp::UNIX_EPOCH).unwrap_err();
        let starts: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap())
            .collect();
        assert_eq!(
            starts,
            [
                "name",
                "prompt",
                "tz",
                "schedule.cron",
                "agentId",
                "deliver",
                "session",
                "timeoutSeconds",
                "jitterSeconds"
            ],
            "{problems:#?}"
        );
        assert!(problems[3].contains("has 4 fields"), "{}", problems[3]);
        let at = check(
            &spec(CronSchedule::At {
                at: "tomorrow".into(),
            }),
            &agents(),
            &TimeZone::UTC,
            Timestamp::UNIX_EPOCH,
        )
        .unwrap_err();
        assert!(at[0].contains("is not a time"), "{at:?}");
    }

    #[test]
    fn specs_read_from_json_with_defaults() {
        let parsed: CronJobSpec = serde_json::from_value(serde_json::json!({
            "name": "Friday digest",
            "schedule": { "cron": "0 19 * * FRI" },
            "prompt": "Digest of the week"
        }))
        .unwrap();
        assert!(parsed.enabled && parsed.alert_after == 3 && parsed.missed == MissedPolicy::Skip);
        assert!(matches!(parsed.schedule, CronSchedule::Cron { .. }));
        let every: CronJobSpec = serde_json::from_value(serde_json::json!({
            "name": "inbox", "schedule": { "every": "30m" }, "prompt": "check", "missed": "runOnce"
        }))
        .unwrap();
        assert_eq!(every.missed, MissedPolicy::RunOnce);
        for schedule in [
            serde_json::json!({ "sometimes": "1" }),
            serde_json::json!({ "cron": "0 8 * * *", "every": "30m" }),
        ] {
            assert!(
                serde_json::from_value::<CronJobSpec>(serde_json::json!({
                    "name": "x", "schedule": schedule, "prompt": "p"
                }))
                .is_err(),
                "{schedule}"
            );
        }
    }
}
