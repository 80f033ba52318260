//! The command line, as clap types.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: your AI assistant's gateway, on your own machine.",
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct Global {
    /// State directory (config, database, logs, workspace).
    #[arg(long, global = true, env = "HEARTH_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Gateway WebSocket URL; default from the config (ws://127.0.0.1:<port>/).
    #[arg(long, global = true, env = "HEARTH_GATEWAY_URL", value_name = "URL")]
    pub(crate) url: Option<String>,
    /// Gateway token; default from the config or the secret store.
    #[arg(
        long,
        global = true,
        env = "HEARTH_GATEWAY_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run and manage the gateway.
    #[command(subcommand)]
    Gateway(GatewayCmd),
    /// Show the running gateway's state.
    Status,
    /// Talk to your assistant (interactive, or one message with -m).
    Chat(ChatArgs),
    /// List and read sessions.
    #[command(subcommand)]
    Sessions(SessionsCmd),
    /// Read, change and check the config.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Manage secrets in the keychain (or its encrypted fallback).
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// List and check skills (folders with a SKILL.md).
    #[command(subcommand)]
    Skills(SkillsCmd),
    /// MCP servers connected to the running gateway.
    #[command(subcommand)]
    Mcp(McpCmd),
    /// Shell commands of agents waiting for your approval.
    #[command(subcommand)]
    Approvals(ApprovalsCmd),
    /// Messaging channels (Telegram, Discord, Slack, Matrix): status, setup, pause.
    #[command(subcommand)]
    Channels(ChannelsCmd),
    /// People who asked to talk to your assistant: approve or deny their pairing codes.
    #[command(subcommand)]
    Pairing(PairingCmd),
    /// Agents and the bindings that route messages to them.
    #[command(subcommand)]
    Agents(AgentsCmd),
    /// Which agent and session a message would get, and why.
    #[command(subcommand)]
    Route(RouteCmd),
    /// One person's accounts on several channels, linked with codes.
    #[command(subcommand)]
    Identity(IdentityCmd),
    /// What the runs cost (by day, agent, channel, sender or model) and the budgets' state.
    Usage(UsageArgs),
    /// The audit trail: the latest entries of a log, or a search across logs.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Scheduled jobs: prompts the agent gets at set times, with its answers delivered.
    #[command(subcommand)]
    Cron(CronCmd),
    /// Webhook calls: whether webhooks are on, the mappings, and the latest calls' answers.
    #[command(subcommand)]
    Hooks(HooksCmd),
    /// Check the installation and say how to fix what is wrong.
    Doctor(DoctorArgs),
    /// Print the Control UI link (with the token).
    Dashboard,
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Subcommand)]
pub(crate) enum GatewayCmd {
    /// Run the gateway in the foreground.
    Run(RunArgs),
    /// Start the gateway in the background.
    Start(RunArgs),
    /// Stop the background gateway.
    Stop,
    /// Restart the background gateway.
    Restart(RunArgs),
    /// Is the gateway running?
    Status,
    /// Print the JSON Schema of the WebSocket protocol.
    ProtocolSchema,
    /// Run the gateway as a service of your session: a systemd user unit on Linux, a launchd
    /// agent on macOS. It starts at login and restarts when it fails.
    Install(ServiceArgs),
    /// Stop and remove the service `install` set up.
    Uninstall(ServiceArgs),
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ServiceArgs {
    /// Port the service's gateway listens on (default: gateway.port from the config).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// Only write (or remove) the service file; do not ask the service manager to start (or
    /// stop) it.
    #[arg(long)]
    pub(crate) no_start: bool,
    /// Service manager (default: systemd on Linux, launchd on macOS).
    #[arg(long, value_enum)]
    pub(crate) manager: Option<ServiceManager>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ServiceManager {
    Systemd,
    Launchd,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// Port (overrides gateway.port).
    #[arg(long)]
    pub(crate) port: Option<u16>,
    /// `loopback`, `lan` or an IP address (overrides gateway.bind).
    #[arg(long, value_name = "ADDR")]
    pub(crate) bind: Option<String>,
    /// Internal: started by `gateway start`.
    #[arg(long, hide = true)]
    pub(crate) detached: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    /// Send one message, print the answer and exit.
    #[arg(short, long)]
    pub(crate) message: Option<String>,
    /// Session key (default: the agent's main session).
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// Agent id (default: the default agent).
    #[arg(long)]
    pub(crate) agent: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCmd {
    /// Sessions, most recent first.
    List {
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        /// Who wrote to it (the channel's sender id).
        #[arg(long)]
        sender: Option<String>,
        /// Substring of the key or title.
        #[arg(long)]
        search: Option<String>,
        /// Include archived (reset) sessions.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// A session's transcript (each message with its number, for `fork --at`).
    Show {
        /// Session key (`main`, `agent:main:main`, ...).
        key: String,
        #[arg(long, default_value_t = 200)]
        limit: u32,
    },
    /// Branch a session at one of its messages into a new session; the original stays as it was.
    Fork {
        /// Session key to fork.
        key: String,
        /// The last message to copy (its number in `hearth sessions show`); default all.
        #[arg(long, value_name = "N")]
        at: Option<i64>,
        /// The new session's key; default `<key>:fork:<n>`.
        #[arg(long, value_name = "KEY")]
        new_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCmd {
    /// Check the config file; reports every problem with its path.
    Validate {
        /// Check this file instead of $HEARTH_HOME/hearth.json.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Print the config's JSON Schema.
    Schema,
    /// Print a setting (or the whole file). Literal secrets are hidden.
    Get {
        /// Dotted path, e.g. `gateway.port` or `models.providers.openai.baseUrl`.
        path: Option<String>,
    },
    /// Change a setting. The value is JSON5 if it parses, else a string.
    Set { path: String, value: String },
    /// Remove a setting (its default applies again).
    Unset { path: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCmd {
    /// Names of stored secrets.
    List,
    /// Store a secret; the value is read from the terminal (hidden) or stdin.
    Set { name: String },
    /// Delete a secret.
    Rm { name: String },
    /// Which backend holds the secrets.
    Backend,
}

#[derive(Debug, Subcommand)]
pub(crate) enum McpCmd {
    /// Each server's state (starting, ready, failed, disabled), its tools and last error
    /// (`--json` for scripts).
    Status,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SkillsCmd {
    /// Skills of an agent: where each comes from, available or why not (`--json` for scripts).
    List {
        /// Agent id (default: the default agent).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Check every SKILL.md; prints each error with file:line and exits 1 if there is any.
    Check {
        /// Agent id (default: the default agent).
        #[arg(long)]
        agent: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApprovalsCmd {
    /// Commands waiting for a decision.
    List,
    /// Let a waiting command run.
    Approve {
        /// The approval's id (from `hearth approvals list`).
        id: String,
        /// Also let this exact command run for this agent from now on without asking.
        #[arg(long)]
        always: bool,
    },
    /// Refuse a waiting command.
    Deny {
        /// The approval's id (from `hearth approvals list`).
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Apply the fixes that are safe to apply (move literal secrets into the secret store).
    #[arg(long)]
    pub(crate) fix: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelsCmd {
    /// Channel accounts and their state.
    List,
    /// Every account in detail: state, identity, last error, counts and queues.
    Status,
    /// Add (or update) an account: the credential is read hidden from the terminal (or stdin)
    /// and stored in the secret store; the platform is asked first whether it works.
    Add(ChannelsAddArgs),
    /// Remove an account (or the whole channel) and its stored credentials.
    Remove {
        /// `telegram`, `discord`, `slack` or `matrix`.
        channel: String,
        /// Only this account (default: the whole channel).
        #[arg(long)]
        account: Option<String>,
    },
    /// Disconnect every channel until `hearth channels resume` (messages wait on the platforms).
    Pause,
    /// Reconnect the channels after `pause`.
    Resume,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ChannelsAddArgs {
    /// `telegram`, `discord`, `slack` or `matrix`.
    pub(crate) channel: String,
    /// Account id (default: `default`, the channel's own settings).
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// Other settings as key=value (JSON values allowed), e.g. `--set apiRoot=http://127.0.0.1:8081`,
    /// `--set 'allowFrom=["123"]'`, `--set homeserver=https://matrix.example.org`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) settings: Vec<String>,
    /// Credentials to ask for, by config key (default per channel: Telegram `botToken`, Discord
    /// `token`, Slack `botToken` and `appToken`, Matrix `password`).
    #[arg(long = "credential", value_name = "KEY")]
    pub(crate) credentials: Vec<String>,
    /// Save without checking the credentials with the platform.
    #[arg(long)]
    pub(crate) no_test: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PairingCmd {
    /// Pending pairing requests and approved senders.
    List,
    /// Approve the sender who got this code.
    Approve { code: String },
    /// Refuse the pairing request with this code.
    Deny { code: String },
    /// Forget an approved sender.
    Revoke {
        channel: String,
        sender: String,
        #[arg(long, default_value = "default")]
        account: String,
    },
}

#[derive(Debug, Clone, Args)]
pub(crate) struct UsageArgs {
    /// Days to cover, today included.
    #[arg(long, default_value_t = 30)]
    pub(crate) days: u32,
    /// How to group the runs.
    #[arg(long, value_enum, default_value_t = UsageBy::Day)]
    pub(crate) by: UsageBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum UsageBy {
    Day,
    Agent,
    Channel,
    Sender,
    Model,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// The latest entries of a log (`gateway`, or a binding's name).
    Tail {
        /// The log (default `gateway`).
        #[arg(long, value_name = "NAME")]
        log: Option<String>,
        /// How many entries.
        #[arg(short = 'n', long = "lines", default_value_t = 20)]
        lines: u32,
        /// Keep printing new entries as they are written (Ctrl-C stops).
        #[arg(short, long)]
        follow: bool,
    },
    /// Entries matching a text, a kind and a time, newest first, across every log.
    Search {
        /// Text the entry contains (case-insensitive).
        query: Option<String>,
        /// Only this kind (`inbound`, `route`, `model.request`, `tool.call`, `outbound`,
        /// `config.change`, `budget`, `identity.link`).
        #[arg(long)]
        kind: Option<String>,
        /// Only this log.
        #[arg(long, value_name = "NAME")]
        log: Option<String>,
        /// Since a while ago (`30m`, `1h`, `2d`, `1w`) or a local date (`2026-11-01`).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// At most this many entries.
        #[arg(short = 'n', long = "limit", default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentsCmd {
    /// Agents with their model, workspace and number of bindings.
    List,
    /// Add an agent.
    Add {
        /// Lowercase letters, digits, `-` and `_`.
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// `provider/model` (default: agents.defaults.model).
        #[arg(long)]
        model: Option<String>,
        /// Workspace directory (default: $HEARTH_HOME/workspace-<id>).
        #[arg(long)]
        workspace: Option<String>,
        #[arg(long)]
        emoji: Option<String>,
        /// Make it the default agent.
        #[arg(long)]
        default: bool,
    },
    /// Remove an agent (refused while bindings route to it, unless --force removes them too).
    Remove {
        id: String,
        #[arg(long)]
        force: bool,
    },
    /// Route matching messages to an agent.
    Bind(BindArgs),
    /// Remove a binding by its index or name (see `hearth agents bindings`).
    Unbind {
        /// The binding's index or name.
        binding: String,
    },
    /// Every binding in precedence order of the file, with its name and tier.
    Bindings,
}

#[derive(Debug, Args)]
pub(crate) struct BindArgs {
    /// The agent that answers.
    pub(crate) agent_id: String,
    /// `telegram`, `discord`, `slack`, `matrix` or `webchat`.
    #[arg(long)]
    pub(crate) channel: String,
    /// Only this account of the channel.
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// One chat: `direct:<user id>`, `group:<chat id>` or `channel:<chat id>`.
    #[arg(long, value_name = "KIND:ID")]
    pub(crate) peer: Option<String>,
    /// A Discord server.
    #[arg(long)]
    pub(crate) guild: Option<String>,
    /// A Slack workspace.
    #[arg(long)]
    pub(crate) team: Option<String>,
    /// With --guild: the sender has one of these role ids (repeat for several).
    #[arg(long = "role", value_name = "ROLE")]
    pub(crate) roles: Vec<String>,
    /// The binding's name (default derived, e.g. `telegram-peer-123`).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// With --guild or --team: the team shares one memory.
    #[arg(long)]
    pub(crate) shared_memory: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RouteCmd {
    /// Which binding wins for a message and why; each other binding and why not.
    Explain(RouteExplainArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RouteExplainArgs {
    #[arg(long)]
    pub(crate) channel: String,
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// The chat id (for a direct message, the sender's id).
    #[arg(long)]
    pub(crate) peer: Option<String>,
    /// `direct` (default), `group`, `channel` or `thread`.
    #[arg(long, value_name = "KIND")]
    pub(crate) peer_kind: Option<String>,
    /// For a thread: the chat it belongs to.
    #[arg(long)]
    pub(crate) parent: Option<String>,
    #[arg(long)]
    pub(crate) thread: Option<String>,
    #[arg(long)]
    pub(crate) sender: Option<String>,
    #[arg(long)]
    pub(crate) guild: Option<String>,
    #[arg(long)]
    pub(crate) team: Option<String>,
    #[arg(long = "role", value_name = "ROLE")]
    pub(crate) roles: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCmd {
    /// The owner, the links, and links waiting for their codes.
    List,
    /// Link identities as one person: each gets a code in its direct chat with the bot.
    Link {
        /// The person's name.
        name: String,
        /// `<channel>:<id>` identities (two or more; `webchat:owner` is you).
        #[arg(required = true, num_args = 2..)]
        identities: Vec<String>,
    },
    /// Finish a link with the codes the identities received.
    Confirm {
        link_id: String,
        #[arg(required = true)]
        codes: Vec<String>,
    },
    /// Take an identity out of its link.
    Unlink { identity: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CronCmd {
    /// Every job: schedule, zone, next run (local time), last outcome (`--json` for scripts).
    List,
    /// Add a job.
    Add(CronAddArgs),
    /// Change a job: only the flags given change (`--no-deliver` etc. clear a setting).
    Edit(CronEditArgs),
    /// Remove a job and its history (a run of it in progress is stopped).
    Remove {
        /// The job's name or id.
        job: String,
    },
    /// Run a job now, also a disabled one.
    Run {
        /// The job's name or id.
        job: String,
        /// Wait for the run to end and print its answer; exit 1 when it fails.
        #[arg(long)]
        wait: bool,
    },
    /// Latest fires, newest first: time, status, duration, tokens, cost, delivery, output.
    History {
        /// Only this job (name or id); default every job.
        job: Option<String>,
        /// At most this many fires (default 50, at most 500).
        #[arg(short = 'n', long = "limit", value_name = "N")]
        limit: Option<u32>,
    },
    /// Add the jobs of a file `{"jobs": [...]}`, replacing stored jobs of the same name; when
    /// any job is wrong nothing is written.
    Import {
        /// The JSON file (e.g. docs/examples/cron-jobs.json).
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum HooksCmd {
    /// Whether webhooks are on and at which path, the mappings, and the latest calls, newest
    /// first: received (local time), hook, status, duration, delivery, the answer's first line.
    List {
        /// At most this many calls (default 50, at most 500).
        #[arg(short = 'n', long = "limit", value_name = "N")]
        limit: Option<u32>,
        /// Only calls to this hook: `agent`, `wake` or a mapping's name.
        #[arg(long, value_name = "NAME")]
        hook: Option<String>,
    },
    /// One call by the id its `202` answer gave, with the answer in full.
    Get {
        /// The call's id.
        id: String,
    },
}

/// What happens to fires missed while the gateway was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CronMissed {
    /// Record them as skipped.
    Skip,
    /// Run once at start-up for all that were missed.
    RunOnce,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("schedule").required(true).multiple(false)))]
pub(crate) struct CronAddArgs {
    /// Unique: letters, digits, spaces, `-` and `_`.
    pub(crate) name: String,
    /// A cron expression: `0 8 * * 1-5` (5 fields, or 6 with seconds first), `@daily`.
    #[arg(long, group = "schedule", value_name = "EXPR")]
    pub(crate) cron: Option<String>,
    /// An interval counted from the job's creation: `30m`, `1h30m`, `1d`.
    #[arg(long, group = "schedule", value_name = "INTERVAL")]
    pub(crate) every: Option<String>,
    /// Once: `2026-11-22 08:00` (in --tz) or `2026-11-22T08:00:00+01:00`.
    #[arg(long, group = "schedule", value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// What the agent is asked at each fire.
    #[arg(long)]
    pub(crate) prompt: String,
    #[command(flatten)]
    pub(crate) options: CronOptions,
    /// Add it switched off (run it by hand with `hearth cron run`).
    #[arg(long)]
    pub(crate) disabled: bool,
}

/// Settings `add` and `edit` share.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct CronOptions {
    /// IANA time zone the schedule is read in (`Europe/Berlin`); default the gateway's.
    #[arg(long)]
    pub(crate) tz: Option<String>,
    /// The agent that runs it; default the default agent.
    #[arg(long)]
    pub(crate) agent: Option<String>,
    /// A session to continue at every fire; default a fresh session per fire.
    #[arg(long, value_name = "KEY")]
    pub(crate) session: Option<String>,
    /// Where the answer goes: a channel peer such as `telegram:123456`; default only stored.
    #[arg(long, value_name = "TARGET")]
    pub(crate) deliver: Option<String>,
    /// Longest a run may take, in seconds; default agents.defaults.timeoutSeconds.
    #[arg(long, value_name = "SECS")]
    pub(crate) timeout: Option<u64>,
    /// Start up to this many seconds late, at random (spreads jobs due at one time).
    #[arg(long, value_name = "SECS")]
    pub(crate) jitter: Option<u64>,
    /// Fires missed while the gateway was down: `skip` (default) or `run-once`.
    #[arg(long, value_enum)]
    pub(crate) missed: Option<CronMissed>,
    /// Run a fire again when the gateway stopped in the middle of it.
    #[arg(long)]
    pub(crate) rerun_interrupted: bool,
    /// Tell the owner after this many failed fires in a row (0: never; default 3).
    #[arg(long, value_name = "N")]
    pub(crate) alert_after: Option<u32>,
}

#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("schedule").multiple(false)))]
pub(crate) struct CronEditArgs {
    /// The job's name or id.
    pub(crate) job: String,
    /// A new name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[arg(long, group = "schedule", value_name = "EXPR")]
    pub(crate) cron: Option<String>,
    #[arg(long, group = "schedule", value_name = "INTERVAL")]
    pub(crate) every: Option<String>,
    #[arg(long, group = "schedule", value_name = "TIME")]
    pub(crate) at: Option<String>,
    #[arg(long)]
    pub(crate) prompt: Option<String>,
    #[command(flatten)]
    pub(crate) options: CronOptions,
    #[arg(long, conflicts_with = "disable")]
    pub(crate) enable: bool,
    #[arg(long)]
    pub(crate) disable: bool,
    /// Read the schedule in the gateway's time zone again.
    #[arg(long, conflicts_with = "tz")]
    pub(crate) no_tz: bool,
    /// Run it as the default agent again.
    #[arg(long, conflicts_with = "agent")]
    pub(crate) no_agent: bool,
    /// A fresh session per fire again.
    #[arg(long, conflicts_with = "session")]
    pub(crate) no_session: bool,
    /// Only store the answer, deliver it nowhere.
    #[arg(long, conflicts_with = "deliver")]
    pub(crate) no_deliver: bool,
    /// The default timeout again.
    #[arg(long, conflicts_with = "timeout")]
    pub(crate) no_timeout: bool,
    /// Report an interrupted fire instead of running it again.
    #[arg(long, conflicts_with = "rerun_interrupted")]
    pub(crate) no_rerun_interrupted: bool,
}
