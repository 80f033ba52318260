//! Scheduled jobs as clients write and read them (issue #7, in progress): the job's definition,
//! stored as JSON by the gateway and checked there.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// When a job fires: exactly one of `cron`, `every` or `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum CronSchedule {
    /// A cron expression: 5 fields (`0 8 * * 1-5`), or 6 with seconds first; `@daily` etc.
    Cron { cron: String },
    /// An interval counted from the job's creation: `30m`, `1h30m`, `1d`.
    Every { every: String },
    /// Once: RFC 3339 (`2026-11-22T08:00:00+01:00`) or a local time in the job's zone
    /// (`2026-11-22 08:00`).
    At { at: String },
}

/// What happens to fires missed while the gateway was not running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum MissedPolicy {
    /// Record them as skipped; the job fires next at its next time.
    #[default]
    Skip,
    /// Run once at start-up for all that were missed, then carry on.
    RunOnce,
}

/// A scheduled job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronJobSpec {
    /// Unique among jobs: letters, digits, spaces, `-` and `_`.
    pub name: String,
    pub schedule: CronSchedule,
    /// IANA time zone the schedule is read in (`Europe/Berlin`); default the gateway's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// The agent that runs it; default the default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The message the agent gets at each fire.
    pub prompt: String,
    /// A session key to continue at every fire; absent: a fresh session per fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Where the answer goes: a channel peer (`telegram:123456`), or nowhere (only stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Upper bound on one fire's run; default `agents.defaults.timeoutSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// A random delay of up to this many seconds, so many jobs at one time do not start at once.
    #[serde(default)]
    pub jitter_seconds: u64,
    /// Fires missed while the gateway was down: `skip` (default) or `runOnce`.
    #[serde(default)]
    pub missed: MissedPolicy,
    /// Run a fire again when the gateway stopped in the middle of it (default: report it as
    /// interrupted and go on).
    #[serde(default)]
    pub rerun_interrupted: bool,
    /// Tell the owner after this many failed fires in a row (0: never).
    #[serde(default = "three")]
    pub alert_after: u32,
}

fn yes() -> bool {
    true
}

fn three() -> u32 {
    3
}
