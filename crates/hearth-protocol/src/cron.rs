//! Scheduled jobs as clients write and read them: the job's definition (stored as JSON by the
//! gateway and checked there), its fires, and the `cron.*` methods' parameters and answers.

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

/// How a fire ended (or that it is still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FireStatus {
    Running,
    Completed,
    Failed,
    /// The gateway stopped (a crash, a kill) while it ran.
    Interrupted,
    /// Missed while the gateway was down (policy `skip`), or disabled.
    Skipped,
}

/// What started a fire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FireTrigger {
    /// Its scheduled time.
    #[default]
    Schedule,
    /// A missed fire run at start-up (policy `runOnce`).
    CatchUp,
    /// `cron.run` / `hearth cron run`.
    Manual,
    /// An interrupted fire run again (`rerunInterrupted`).
    Rerun,
}

/// One fire of a job: identified by (job, scheduled instant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronFire {
    pub id: String,
    pub job_id: String,
    pub job_name: String,
    /// The instant it was due (ms since the epoch).
    pub scheduled_at: i64,
    pub trigger: FireTrigger,
    pub status: FireStatus,
    /// When this gateway claimed it and began (ms).
    pub started_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The session the run used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// The agent's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the answer was delivered (`telegram:123456`), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_to: Option<String>,
}

/// A stored job and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronJob {
    pub id: String,
    pub job: CronJobSpec,
    /// The next scheduled instant (ms); absent when it will not fire again or is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<i64>,
    /// The time zone the schedule is read in, resolved.
    pub tz: String,
    /// The agent that runs it, resolved.
    pub agent_id: String,
    pub consecutive_failures: u32,
    pub created_at: i64,
    pub updated_at: i64,
    /// The latest fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<CronFire>,
    /// Why the stored job cannot run any more (its agent was removed, ...); it is skipped
    /// until edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The heartbeat as configured, for the Control UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatInfo {
    pub every: String,
    pub agent_id: String,
    /// `08:00-22:00 Europe/Berlin`, when limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_hours: Option<String>,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<CronFire>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronListResult {
    pub jobs: Vec<CronJob>,
    /// `cron.enabled`: whether the scheduler runs jobs on its own.
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HeartbeatInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronAddParams {
    pub job: CronJobSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronEditParams {
    /// The job's id or name.
    pub id: String,
    /// An RFC 7396 merge patch on the job's definition (`null` removes an optional field).
    pub patch: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronIdParams {
    /// The job's id or name.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronRemoveResult {
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronRunResult {
    pub job_id: String,
    /// Poll it with `cron.history`, or watch the `cron` events.
    pub fire_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronHistoryParams {
    /// A job's id or name; absent: every job's fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Newest first, at most this many (default 50, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronHistoryResult {
    pub fires: Vec<CronFire>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronImportParams {
    /// Jobs added, or replacing the stored job of the same name.
    pub jobs: Vec<CronJobSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronImportResult {
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

/// A job failed `failures` times in a row (`alertAfter`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronAlert {
    pub job_id: String,
    pub job_name: String,
    pub failures: u32,
    pub error: String,
}

/// Where a webhook call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HookStatus {
    /// Accepted, waiting for a run slot.
    Queued,
    Running,
    Completed,
    Failed,
    /// The gateway stopped while it ran.
    Interrupted,
}

impl HookStatus {
    /// The wire name (`queued`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Queued => "queued",
            HookStatus::Running => "running",
            HookStatus::Completed => "completed",
            HookStatus::Failed => "failed",
            HookStatus::Interrupted => "interrupted",
        }
    }
}

/// A webhook call (`POST /hooks/...`) and its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookRun {
    /// The id the `202` answer gave.
    pub id: String,
    /// `wake`, `agent`, or the mapping's name.
    pub hook: String,
    pub status: HookStatus,
    pub received_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HooksGetParams {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HooksListParams {
    /// Newest first, at most this many (default 50, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only the calls to this hook: `agent`, `wake` or a mapping's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
}

/// What a mapped webhook does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HookAction {
    /// Runs the agent on the rendered message.
    Agent,
    /// Runs the heartbeat now.
    Wake,
}

/// How a mapping's sender signs its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HookSignatureStyle {
    /// `X-Hub-Signature-256: sha256=<hex>`.
    Github,
    /// `Stripe-Signature: t=<unix>,v1=<hex>`.
    Stripe,
}

/// A configured webhook mapping (`POST <path>/<name>`), as the config says; never its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookInfo {
    pub name: String,
    pub action: HookAction,
    /// The agent that answers; absent: the default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Where the answer goes (`telegram:123456`, `session:<key>`, `last`); absent: only the
    /// call's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliver: Option<String>,
    /// The signature the sender must send; absent: the webhook token alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<HookSignatureStyle>,
    pub rate_per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HooksListResult {
    /// `hooks.enabled`: whether the gateway accepts calls.
    pub enabled: bool,
    /// `hooks.path`: the prefix calls are sent to (`/hooks`).
    pub path: String,
    /// The latest calls, newest first.
    pub calls: Vec<HookRun>,
    /// The configured mappings, in the config's order.
    pub mappings: Vec<HookInfo>,
}
