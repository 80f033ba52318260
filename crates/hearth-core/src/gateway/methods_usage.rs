//! `usage.summary`, `runs.recent` and `budgets.status`: what the runs cost, summed by local day,
//! agent, channel, model and person, the latest runs, and each spending cap against what its
//! scope spent this day or month ([`crate::budgets`]). The store hands back one row per run; the
//! sums are made here, where the gateway's time zone is known (a day is a local calendar day, DST
//! included).

use std::collections::HashMap;

use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    BudgetsStatusResult, RunOutcome, RunSummary, RunsRecentParams, RunsRecentResult, UsageBucket,
    UsageRow, UsageSummaryParams, UsageSummaryResult,
};
use hearth_protocol::transcript::Usage;
use hearth_store::{RunStatus, RunUsage};
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::methods::{MethodResult, ok, store_error};
use crate::runtime::Runtime;

const DEFAULT_DAYS: u32 = 30;
const MAX_DAYS: u32 = 366;
const DEFAULT_RUNS: u32 = 20;
const MAX_RUNS: u32 = 500;

/// Adds one run to a row.
fn add(row: &mut UsageRow, usage: &Usage) {
    row.runs += 1;
    row.input_tokens += usage.input;
    row.output_tokens += usage.output;
    row.cache_read_tokens += usage.cache_read;
    row.cache_write_tokens += usage.cache_write;
    row.cost = match (row.cost, usage.cost) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    };
}

fn tokens(row: &UsageRow) -> u64 {
    row.input_tokens + row.output_tokens + row.cache_read_tokens + row.cache_write_tokens
}

/// Buckets by cost, then tokens, descending; ties by key so the order is stable.
fn ranked(map: HashMap<String, UsageRow>) -> Vec<UsageBucket> {
    let mut out: Vec<UsageBucket> = map
        .into_iter()
        .map(|(key, usage)| UsageBucket { key, usage })
        .collect();
    out.sort_by(|a, b| {
        let cost = |r: &UsageRow| r.cost.unwrap_or(0.0);
        cost(&b.usage)
            .total_cmp(&cost(&a.usage))
            .then_with(|| tokens(&b.usage).cmp(&tokens(&a.usage)))
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

fn time_error(e: jiff::Error) -> ErrorShape {
    ErrorShape::new(ErrorCode::Internal, format!("date arithmetic failed: {e}"))
}

/// The summary of `runs` over the `days` local days ending with the one holding `now_ms`;
/// `person_of` gives the canonical person of a run's sender.
pub(crate) fn summarize(
    runs: &[RunUsage],
    days: u32,
    now_ms: i64,
    tz: &TimeZone,
    person_of: &dyn Fn(&str) -> String,
) -> Result<UsageSummaryResult, jiff::Error> {
    let (first, from) = range_start(days, now_ms, tz)?;
    let mut by_day: Vec<(Date, UsageRow)> = Vec::with_capacity(days as usize);
    let mut day = first;
    for _ in 0..days {
        by_day.push((day, UsageRow::default()));
        day = day.tomorrow()?;
    }
    let index: HashMap<Date, usize> = by_day
        .iter()
        .enumerate()
        .map(|(i, (d, _))| (*d, i))
        .collect();
    let mut totals = UsageRow::default();
    let (mut agents, mut channels, mut models) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut senders = HashMap::new();
    for run in runs {
        let date = jiff::Timestamp::from_millisecond(run.started_at)?
            .to_zoned(tz.clone())
            .date();
        let Some(&i) = index.get(&date) else {
            continue;
        };
        add(&mut by_day[i].1, &run.usage);
        add(&mut totals, &run.usage);
        add(agents.entry(run.agent_id.clone()).or_default(), &run.usage);
        let channel = run.channel.clone().unwrap_or_else(|| "unknown".to_owned());
        add(channels.entry(channel).or_default(), &run.usage);
        if let Some(model) = &run.model {
            add(models.entry(model.clone()).or_default(), &run.usage);
        }
        if let Some(sender) = &run.sender {
            add(senders.entry(person_of(sender)).or_default(), &run.usage);
        }
    }
    Ok(UsageSummaryResult {
        from,
        to: now_ms,
        totals,
        by_day: by_day
            .into_iter()
            .map(|(date, usage)| UsageBucket {
                key: date.to_string(),
                usage,
            })
            .collect(),
        by_agent: ranked(agents),
        by_channel: ranked(channels),
        by_model: ranked(models),
        by_sender: ranked(senders),
    })
}

/// The first day of the range and the instant it starts (its local midnight, or the first
/// instant of the day when a DST change skips midnight).
fn range_start(days: u32, now_ms: i64, tz: &TimeZone) -> Result<(Date, i64), jiff::Error> {
    let today = jiff::Timestamp::from_millisecond(now_ms)?
        .to_zoned(tz.clone())
        .date();
    let first = today.checked_sub(jiff::Span::new().days(i64::from(days) - 1))?;
    let from = first.to_zoned(tz.clone())?.timestamp().as_millisecond();
    Ok((first, from))
}

pub(super) async fn usage_summary(rt: &Runtime, p: UsageSummaryParams) -> MethodResult {
    let days = p.days.unwrap_or(DEFAULT_DAYS).clamp(1, MAX_DAYS);
    let tz = TimeZone::system();
    let now = crate::util::now_ms();
    let (_, from) = range_start(days, now, &tz).map_err(time_error)?;
    let runs = rt
        .store
        .usage_between(from, now.saturating_add(1))
        .await
        .map_err(store_error)?;
    let live = rt.live();
    let person_of = |sender: &str| crate::budgets::person_of(&live.config, sender);
    ok(summarize(&runs, days, now, &tz, &person_of).map_err(time_error)?)
}

pub(super) async fn budgets_status(rt: &Runtime) -> MethodResult {
    let budgets = crate::budgets::status(rt, rt.now_ms())
        .await
        .map_err(|e| match e {
            crate::CoreError::Store(e) => store_error(e),
            other => ErrorShape::new(ErrorCode::Internal, other.to_string()),
        })?;
    ok(BudgetsStatusResult { budgets })
}

pub(super) async fn runs_recent(rt: &Runtime, p: RunsRecentParams) -> MethodResult {
    let limit = p.limit.unwrap_or(DEFAULT_RUNS).clamp(1, MAX_RUNS);
    let runs = rt.store.recent_runs(limit).await.map_err(store_error)?;
    ok(RunsRecentResult {
        runs: runs
            .into_iter()
            .map(|r| RunSummary {
                status: match r.status {
                    RunStatus::Completed => RunOutcome::Completed,
                    RunStatus::Failed => RunOutcome::Failed,
                    RunStatus::Aborted => RunOutcome::Aborted,
                    RunStatus::Interrupted => RunOutcome::Interrupted,
                },
                id: r.id,
                session_key: r.session_key,
                agent_id: r.agent_id,
                model: r.model,
                error: r.error,
                input_tokens: r.usage.input,
                output_tokens: r.usage.output,
                cost: r.usage.cost,
                started_at: r.started_at,
                ended_at: r.ended_at,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        at: i64,
        agent: &str,
        channel: Option<&str>,
        model: Option<&str>,
        cost: Option<f64>,
    ) -> RunUsage {
        RunUsage {
            started_at: at,
            agent_id: agent.to_owned(),
            sender: channel
                .filter(|c| *c != "webchat")
                .map(|c| format!("{c}:{agent}")),
            channel: channel.map(str::to_owned),
            model: model.map(str::to_owned),
            usage: Usage {
                input: 100,
                output: 10,
                cache_read: 1,
                cache_write: 0,
                cost,
            },
        }
    }

    #[test]
    fn days_agents_channels_and_models_add_up() {
        // Paris rules as a POSIX string: no time zone database needed.
        let tz = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2025-03-30 12:00 in Paris, the day clocks went forward.
        let now = jiff::civil::date(2025, 3, 30)
            .at(12, 0, 0, 0)
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        let hour = 3_600_000;
        let runs = [
            run(now - hour, "main", Some("webchat"), Some("a/x"), Some(0.5)),
            run(now - 2 * hour, "main", Some("webchat"), Some("a/y"), None),
            run(
                now - 30 * hour,
                "work",
                Some("telegram"),
                Some("a/x"),
                Some(1.0),
            ),
            run(now - 40 * hour, "work", None, None, None),
            // Before the range: left out.
            run(
                now - 100 * hour,
                "main",
                Some("webchat"),
                Some("a/x"),
                Some(9.0),
            ),
        ];
        // The two telegram identities are one person.
        let person_of = |s: &str| {
            if s.starts_with("telegram:") {
                "ann".to_owned()
            } else {
                s.to_owned()
            }
        };
        let s = summarize(&runs, 3, now, &tz, &person_of).unwrap();
        let keys: Vec<&str> = s.by_day.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["2025-03-28", "2025-03-29", "2025-03-30"]);
        assert_eq!(
            s.by_day.iter().map(|d| d.usage.runs).collect::<Vec<_>>(),
            [1, 1, 2]
        );
        assert_eq!(s.by_day[0].usage.cost, None);
        assert_eq!(s.totals.runs, 4);
        assert_eq!(s.totals.input_tokens, 400);
        assert_eq!(s.totals.cost, Some(1.5));
        assert_eq!(s.to, now);
        let midnight = jiff::civil::date(2025, 3, 28)
            .to_zoned(tz.clone())
            .unwrap()
            .timestamp()
            .as_millisecond();
        assert_eq!(s.from, midnight);
        let keys = |b: &[UsageBucket]| b.iter().map(|b| b.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&s.by_agent), ["work", "main"]);
        assert_eq!(keys(&s.by_channel), ["telegram", "webchat", "unknown"]);
        assert_eq!(keys(&s.by_model), ["a/x", "a/y"]);
        assert_eq!(s.by_model[0].usage.runs, 2);
        assert_eq!(s.by_model[0].usage.cost, Some(1.5));
        // Runs without a sender (the web chat, the one without a channel) are left out.
        assert_eq!(keys(&s.by_sender), ["ann"]);
        assert_eq!(s.by_sender[0].usage.runs, 1);
        assert_eq!(s.by_sender[0].usage.cost, Some(1.0));
    }
}
