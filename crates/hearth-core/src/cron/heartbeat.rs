//! The heartbeat (`agents.defaults.heartbeat`): every `every`, within `activeHours`, the default
//! agent reads `HEARTBEAT.md` and checks what it lists. An answer of `HEARTBEAT_OK` alone means
//! nothing needs the owner and is not delivered; anything else goes to `target`.
//!
//! Fires sit on the interval's multiples since the epoch (`30m`: :00 and :30), so every gateway
//! computes the same instants, and are claimed in the store like a job's (under the reserved
//! job `@heartbeat:<agent>`), so two gateways on one store never both run one. A heartbeat
//! missed while the gateway was down is not caught up: the next one checks the same things.
//! An empty checklist (only comments and blank lines) costs no model call.

use std::sync::Arc;

use hearth_config::{ActiveHours, DeliveryTarget, HeartbeatConfig};
use hearth_protocol::cron::{FireTrigger, HeartbeatInfo};
use hearth_store::{Claim, CronJobRow, StoreError};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::runner::{LATE_GRACE_MS, LEASE_MS, default_tz, fire_view};
use crate::proactive::{self, ProactiveRun, RunSession};
use crate::runtime::Runtime;
use crate::util::lock;

/// The answer that means "nothing to report".
pub const HEARTBEAT_OK: &str = "HEARTBEAT_OK";

/// The checklist file in the agent's workspace.
pub const HEARTBEAT_FILE: &str = "HEARTBEAT.md";

const DEFAULT_PROMPT: &str = "This is a heartbeat: a periodic check. Go through the checklist below (from HEARTBEAT.md in your workspace) and do only what it lists. If nothing needs the owner's attention, answer exactly HEARTBEAT_OK and nothing else. Otherwise answer with a short message for the owner.";

/// Longest checklist put into the prompt.
const MAX_CHECKLIST_BYTES: usize = 16 * 1024;

/// The interval in ms, when the heartbeat is on.
fn step_ms(config: &HeartbeatConfig) -> Option<i64> {
    let every = config.every.as_deref()?;
    hearth_config::parse_interval(every)
        .ok()
        .and_then(|s| s.checked_mul(1000))
}

/// Looks at the heartbeat at `now`: runs it when an instant came due; answers the next one.
pub(crate) async fn tick(rt: &Arc<Runtime>, now: i64) -> Option<i64> {
    let config = rt.live().config.agents.defaults.heartbeat.clone();
    let step = step_ms(&config)?;
    let due = now.div_euclid(step) * step;
    let next = due + step;
    {
        let mut seen = lock(&rt.cron.heartbeat_seen);
        if *seen == Some(due) {
            return Some(next);
        }
        *seen = Some(due);
    }
    if now - due > LATE_GRACE_MS {
        return Some(next);
    }
    if let Some(hours) = &config.active_hours
        && !within(hours, due)
    {
        tracing::debug!(scheduled_at = due, "heartbeat outside its active hours");
        return Some(next);
    }
    match start(rt, due, FireTrigger::Schedule).await {
        Ok(_) | Err(Skip::Claimed | Skip::Empty) => {}
        Err(Skip::Failed(e)) => tracing::warn!(error = %e, "the heartbeat could not start"),
    }
    Some(next)
}

/// Runs the heartbeat now, whatever the time and active hours (`POST /hooks/wake`): the fire's
/// id.
pub async fn wake(rt: &Arc<Runtime>, reason: &str) -> Result<String, String> {
    tracing::info!(%reason, "heartbeat woken");
    let now = rt.now_ms();
    for at in now..now + 16 {
        match start(rt, at, FireTrigger::Manual).await {
            Ok(id) => return Ok(id),
            Err(Skip::Claimed) => continue,
            Err(Skip::Empty) => {
                return Err(format!(
                    "{HEARTBEAT_FILE} lists nothing to check; add items such as `- check the inbox for anything urgent`"
                ));
            }
            Err(Skip::Failed(e)) => return Err(e),
        }
    }
    Err("the heartbeat was woken many times this instant; try again".to_owned())
}

/// The heartbeat as configured, for the Control UI; `None` when `every` is unset.
pub async fn info(rt: &Arc<Runtime>) -> Option<HeartbeatInfo> {
    let live = rt.live();
    let config = &live.config.agents.defaults.heartbeat;
    let every = config.every.clone()?;
    let step = step_ms(config)?;
    let agent_id = live.agents.default_agent().id.clone();
    let now = rt.now_ms();
    let next_at =
        std::iter::successors(Some(now.div_euclid(step) * step + step), |t| Some(t + step))
            .take(10_000)
            .find(|t| config.active_hours.as_ref().is_none_or(|h| within(h, *t)));
    let job = job_id(&agent_id);
    let last = match rt.store.fire_history(&job, 1).await {
        Ok(fires) => fires.first().map(|f| fire_view(f, "heartbeat")),
        Err(_) => None,
    };
    Some(HeartbeatInfo {
        every,
        agent_id,
        active_hours: config.active_hours.as_ref().map(|h| {
            format!(
                "{}-{} {}",
                h.start,
                h.end,
                h.timezone.as_deref().unwrap_or("local time")
            )
        }),
        target: config.target.clone().unwrap_or_else(|| "last".to_owned()),
        next_at,
        last,
    })
}

enum Skip {
    /// Another gateway (or an earlier look) has this instant.
    Claimed,
    /// `HEARTBEAT.md` lists nothing.
    Empty,
    Failed(String),
}

fn job_id(agent_id: &str) -> String {
    format!("{}heartbeat:{agent_id}", super::runner::RESERVED_PREFIX)
}

/// Claims the heartbeat's fire at `at` and runs it in the background.
async fn start(rt: &Arc<Runtime>, at: i64, trigger: FireTrigger) -> Result<String, Skip> {
    let live = rt.live();
    let config = live.config.agents.defaults.heartbeat.clone();
    let agent = live.agents.default_agent().clone();
    drop(live);
    let checklist = read_checklist(&agent.workspace).await.ok_or(Skip::Empty)?;
    let target = match config.target.as_deref() {
        None => DeliveryTarget::Last,
        Some(t) => DeliveryTarget::parse(t).map_err(Skip::Failed)?,
    };
    let job = job_id(&agent.id);
    ensure_row(rt, &job)
        .await
        .map_err(|e| Skip::Failed(e.to_string()))?;
    let now = rt.now_ms();
    let claim = Claim {
        job_id: &job,
        scheduled_at: at,
        instance: rt.cron.instance(),
        now,
        lease_until: now + LEASE_MS,
        trigger: if trigger == FireTrigger::Manual {
            "manual"
        } else {
            "schedule"
        },
        seen_next: None,
    };
    let fire_id = rt
        .store
        .claim_fire(&claim, None)
        .await
        .map_err(|e| Skip::Failed(e.to_string()))?
        .ok_or(Skip::Claimed)?;
    let prompt = format!(
        "{}\n\n<checklist file=\"{HEARTBEAT_FILE}\">\n{checklist}\n</checklist>",
        config.prompt.as_deref().unwrap_or(DEFAULT_PROMPT)
    );
    let run = ProactiveRun {
        agent_id: Some(agent.id.clone()),
        prompt,
        session: RunSession::Named("heartbeat".to_owned()),
        deliver: target,
        timeout: None,
        channel: "heartbeat",
        quiet_token: Some(HEARTBEAT_OK),
    };
    let task_rt = rt.clone();
    let id = fire_id.clone();
    let cancel = rt.runs_cancel.child_token();
    lock(&rt.cron.running).insert(id.clone(), cancel.clone());
    rt.tasks.spawn(async move {
        let rt = task_rt;
        let finished = proactive::run(&rt, run, cancel).await;
        lock(&rt.cron.running).remove(&id);
        if super::runner::record_end(&rt, &id, "heartbeat", &finished)
            .await
            .is_none()
        {
            return;
        }
        if let Some(error) = &finished.error {
            tracing::warn!(%error, "the heartbeat failed");
        } else if finished.quiet {
            tracing::debug!("heartbeat: nothing to report");
        } else {
            tracing::info!(to = ?finished.delivered_to, "heartbeat delivered");
        }
    });
    Ok(fire_id)
}

/// The reserved job row the heartbeat's fires hang on (never scheduled as a job).
async fn ensure_row(rt: &Runtime, id: &str) -> Result<(), StoreError> {
    let now = rt.now_ms();
    let row = CronJobRow {
        id: id.to_owned(),
        name: id.to_owned(),
        spec_json: "{}".to_owned(),
        enabled: false,
        next_at: None,
        consecutive_failures: 0,
        created_at: now,
        updated_at: now,
    };
    match rt.store.insert_cron_job(&row).await {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `HEARTBEAT.md` when it lists anything (more than comments, headings and blank lines).
async fn read_checklist(workspace: &std::path::Path) -> Option<String> {
    let text = tokio::fs::read_to_string(workspace.join(HEARTBEAT_FILE))
        .await
        .ok()?;
    has_items(&text).then(|| crate::util::truncate_chars(&text, MAX_CHECKLIST_BYTES).to_owned())
}

fn has_items(text: &str) -> bool {
    let mut in_comment = false;
    for line in text.lines() {
        let mut rest = line.trim();
        loop {
            if in_comment {
                match rest.find("-->") {
                    Some(i) => {
                        in_comment = false;
                        rest = rest[i + 3..].trim();
                    }
                    None => break,
                }
            } else if let Some(i) = rest.find("<!--") {
                if !rest[..i].trim().is_empty() {
                    return true;
                }
                in_comment = true;
                rest = &rest[i + 4..];
            } else {
                let content = rest.trim_start_matches('#').trim();
                if !content.is_empty() && !rest.starts_with('#') {
                    return true;
                }
                break;
            }
        }
    }
    false
}

/// Whether the instant `at_ms` falls inside `hours` (start inclusive, end exclusive; a window
/// across midnight when end is earlier than start).
pub fn within(hours: &ActiveHours, at_ms: i64) -> bool {
    let tz = hours
        .timezone
        .as_deref()
        .and_then(|name| TimeZone::get(name).ok())
        .unwrap_or_else(default_tz);
    let (Some(start), Some(end)) = (minutes(&hours.start), minutes(&hours.end)) else {
        return true;
    };
    let Ok(at) = Timestamp::from_millisecond(at_ms) else {
        return true;
    };
    let local = at.to_zoned(tz).datetime();
    let m = i32::from(local.hour()) * 60 + i32::from(local.minute());
    if start <= end {
        start <= m && m < end
    } else {
        m >= start || m < end
    }
}

/// `HH:MM` as minutes after midnight (`24:00` is the end of the day).
pub fn minutes(text: &str) -> Option<i32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) || (h == 24 && m == 0)).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(start: &str, end: &str) -> ActiveHours {
        ActiveHours {
            start: start.into(),
            end: end.into(),
            timezone: Some("Europe/Berlin".into()),
        }
    }

    fn berlin(text: &str) -> i64 {
        text.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(TimeZone::get("Europe/Berlin").unwrap())
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn active_hours_in_their_zone() {
        let day = hours("08:00", "22:00");
        assert!(!within(&day, berlin("2026-11-23T07:59")));
        assert!(within(&day, berlin("2026-11-23T08:00")));
        assert!(within(&day, berlin("2026-11-23T21:59")));
        assert!(!within(&day, berlin("2026-11-23T22:00")));
        let night = hours("22:00", "06:00");
        assert!(within(&night, berlin("2026-11-23T23:30")));
        assert!(within(&night, berlin("2026-11-24T05:59")));
        assert!(!within(&night, berlin("2026-11-24T12:00")));
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("7:5"), Some(425));
        assert_eq!(minutes("25:00"), None);
        assert_eq!(minutes("noon"), None);
    }

    #[test]
    fn a_checklist_of_comments_lists_nothing() {
        let seeded = include_str!("../../assets/workspace/HEARTBEAT.md");
        assert!(!has_items(seeded));
        assert!(!has_items("# Heartbeat\n\n<!-- nothing yet -->\n"));
        assert!(has_items(&format!("{seeded}\n- check the inbox\n")));
        assert!(has_items("<!-- a --> - check mail"));
        assert!(has_items("check the calendar"));
    }
}
