// Types of the gateway's WebSocket protocol as the Control UI uses it: docs/protocol.schema.json
// plus the issue-4 contract (config writes, secrets, providers.test, usage, runs, logs, desktop),
// the channels contract (crates/hearth-protocol/src/channels.rs: channels.*, pairing.*) and the
// issue-6 contract (hearth-protocol/src/agents.rs and audit.rs: agents.*, bindings.*,
// route.explain, identity.*, sessions.fork, budgets.status, audit.*) and the issue-7 contract
// (hearth-protocol/src/cron.rs: cron.*, the `cron` and `cron.alert` events).

export type ErrorCode =
  | "INVALID_REQUEST"
  | "UNKNOWN_METHOD"
  | "UNAUTHORIZED"
  | "RATE_LIMITED"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "PROVIDER_ERROR"
  | "UNAVAILABLE"
  | "INTERNAL"
  | "TIMEOUT"
  | "DISCONNECTED";

export interface ErrorShape {
  code: ErrorCode | string;
  message: string;
  details?: unknown;
  retryable?: boolean;
  retryAfterMs?: number | null;
}

export interface RequestFrame {
  type: "req";
  id: string;
  method: string;
  params: unknown;
}
export interface ResponseFrame {
  type: "res";
  id: string | null;
  ok: boolean;
  payload?: unknown;
  error?: ErrorShape | null;
}
export interface EventFrame {
  type: "event";
  event: string;
  payload: unknown;
  seq?: number | null;
}
export type Frame = RequestFrame | ResponseFrame | EventFrame;

export interface HelloOk {
  type: "hello-ok";
  protocol: number;
  server: { version: string; connId: string };
  features: { methods: string[]; events: string[] };
  policy: { maxPayload: number; tickIntervalMs: number };
}

export interface Usage {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
  cost?: number | null;
}

export type ContentBlock =
  | { type: "text"; text: string }
  | { type: "image"; mimeType: string; data: string }
  | { type: "thinking"; thinking: string; signature?: string | null }
  | { type: "toolCall"; id: string; name: string; arguments: unknown };

export type Role = "system" | "user" | "assistant" | "tool";

export interface Message {
  role: Role;
  content: ContentBlock[];
  toolCallId?: string | null;
  toolName?: string | null;
  isError?: boolean;
  /** For tool messages: how long the tool ran. */
  durationMs?: number | null;
  model?: string | null;
  usage?: Usage | null;
  stopReason?: string | null;
  timestamp?: number;
  /** Its 1-based position in the session's whole transcript (messages read back from the store). */
  seq?: number | null;
}

export interface AgentInfo {
  id: string;
  name: string;
  model: string;
  fallbacks: string[];
  workspace: string;
}
export interface ProviderInfo {
  id: string;
  api: string;
  baseUrl: string;
  models: string[];
  available: boolean;
}
export interface StatusResult {
  version: string;
  uptimeMs: number;
  pid: number;
  listen: string;
  stateDir: string;
  configPath: string;
  secretsBackend: string;
  defaultAgent: string;
  agents: AgentInfo[];
  providers: ProviderInfo[];
  sessions: number;
  activeRuns: number;
  connections: number;
  onboarding?: { needed: boolean };
  desktop?: { available: boolean };
}

export interface SessionInfo {
  key: string;
  sessionId: string;
  agentId: string;
  channel: string;
  sender?: string | null;
  title?: string | null;
  createdAt: number;
  updatedAt: number;
  messageCount: number;
  usage: Usage;
  archived: boolean;
  /** The session id this one was forked from (or, for a sub-agent's, spawned by). */
  parentId?: string | null;
  /** The parent's messages copied into this one: the fork point, 1-based. */
  forkSeq?: number | null;
}

export interface ModelInfo {
  id: string;
  provider: string;
  name: string;
  api: string;
  contextWindow: number;
  maxTokens: number;
  input: string[];
  reasoning: boolean;
}

export interface Issue {
  severity: "error" | "warning";
  path: string;
  message: string;
  line?: number;
  column?: number;
}
export interface ConfigWrite {
  hash: string;
  restartRequired: string[];
  warnings: Issue[];
}

export interface ExecApproval {
  id: string;
  runId: string;
  sessionKey: string;
  agentId: string;
  command: string;
  cwd: string;
  createdAtMs: number;
  expiresAtMs: number;
}
export type ExecDecision = "allow-once" | "allow-always" | "deny";

export interface McpServerStatus {
  name: string;
  transport: string;
  state: "starting" | "ready" | "failed" | "disabled";
  tools: string[];
  lastError?: string | null;
  retryInMs?: number | null;
  restarts: number;
}

export interface SkillInfo {
  name: string;
  description: string;
  source: string;
  path: string;
  available: boolean;
  reason?: string | null;
}

export interface UsageRow {
  runs: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cost: number | null;
}
export type KeyedUsageRow = UsageRow & { key: string };
export interface UsageSummary {
  from: number;
  to: number;
  totals: UsageRow;
  byDay: KeyedUsageRow[];
  byAgent: KeyedUsageRow[];
  byChannel: KeyedUsageRow[];
  byModel: KeyedUsageRow[];
  /** Per canonical person; runs without a sender are left out. */
  bySender?: KeyedUsageRow[];
}

export interface RunInfo {
  id: string;
  sessionKey: string;
  agentId: string;
  model: string | null;
  status: "completed" | "failed" | "aborted" | "interrupted";
  error: string | null;
  inputTokens: number;
  outputTokens: number;
  cost: number | null;
  startedAt: number;
  endedAt: number;
}

export interface LogEntry {
  ts: string;
  level: string;
  target: string;
  message: string;
  fields: Record<string, unknown>;
}

export interface RemoteModel {
  id: string;
  name?: string;
  contextWindow?: number;
}
export interface ProviderDraft {
  api: string;
  baseUrl?: string;
  apiKey?: string;
  headers?: Record<string, string>;
}
export interface ProvidersTestResult {
  ok: boolean;
  latencyMs: number;
  models: RemoteModel[];
  error?: { kind: string; message: string };
}

export interface ImageAttachment {
  type: "image";
  mimeType: string;
  data: string;
  name?: string;
}

export type DmPolicy = "pairing" | "allowlist" | "open" | "disabled";

export interface OnboardingApplyParams {
  provider: {
    id: string;
    api: string;
    baseUrl?: string;
    apiKey?: string;
    models?: { id: string; name?: string; contextWindow?: number; maxTokens?: number }[];
  };
  model: string;
  fallbacks?: string[];
  assistantName?: string;
  soul?: string;
  user?: string;
  dmPolicy?: DmPolicy;
  baseHash: string;
}

/** Where a channel account's connection stands. */
export type ChannelState = "connecting" | "connected" | "retrying" | "failed" | "disabled" | "paused" | "unavailable";

export interface ChannelCapabilities {
  edits: boolean;
  reactions: boolean;
  typing: boolean;
  threads: boolean;
  media: boolean;
  maxTextLen: number;
  format: string;
}

/** Message counts of one account since the gateway started, plus its queues now. */
export interface ChannelCounts {
  received: number;
  allowed: number;
  denied: number;
  ignored: number;
  pairing: number;
  sent: number;
  sendFailures: number;
  inboundPending: number;
  outboundPending: number;
  outboundFailed: number;
}

export interface ChannelAccountStatus {
  /** `telegram`, `discord`, `slack`, `matrix`, `webchat`. */
  channel: string;
  account: string;
  name?: string | null;
  state: ChannelState;
  sinceMs: number;
  /** The bot as the platform knows it (`@hearth_bot`), once connected. */
  identity?: string | null;
  lastError?: string | null;
  reconnects: number;
  failures: number;
  dmPolicy: string;
  groupPolicy: string;
  capabilities?: ChannelCapabilities | null;
  counts: ChannelCounts;
  lastInboundMs?: number | null;
  lastOutboundMs?: number | null;
}

export interface ChannelsStatusResult {
  channels: ChannelAccountStatus[];
  paused: boolean;
}

/** Credentials go to the secret store; settings into `channels.<channel>[.accounts.<account>]`. */
export interface ChannelsAddParams {
  channel: string;
  account?: string;
  credentials: Record<string, string>;
  settings: Record<string, unknown>;
  baseHash?: string;
  test: boolean;
}
export interface ChannelsAddResult {
  channel: string;
  account: string;
  identity?: string | null;
  secrets: string[];
  config: ConfigWrite;
}
export interface ChannelsTestParams {
  channel: string;
  account?: string;
  credentials: Record<string, string>;
  settings: Record<string, unknown>;
}
export interface ChannelsTestResult {
  ok: boolean;
  identity?: string | null;
  error?: string | null;
  latencyMs: number;
}

/** A sender waiting for the owner's approval. */
export interface PairingRequest {
  channel: string;
  account: string;
  senderId: string;
  senderName?: string | null;
  code: string;
  createdAtMs: number;
  expiresAtMs: number;
}
export interface ApprovedSender {
  channel: string;
  account: string;
  senderId: string;
  senderName?: string | null;
  approvedAtMs: number;
}
export interface PairingDecision {
  channel: string;
  account: string;
  senderId: string;
  senderName?: string | null;
  /** `approved`, `denied` or `expired`. */
  decision: string;
}

// --- issue 6: agents, bindings, routing, identities, budgets, audit ---

/** What happens to a message that arrives while a run of the same session is going on. */
export type QueueMode = "followup" | "collect" | "steer" | "interrupt";

export interface AgentToolsPolicy {
  profile?: string | null;
  allow?: string[] | null;
  deny?: string[] | null;
}

/** One agent as `agents.list` describes it. */
export interface AgentSummary {
  id: string;
  name: string;
  default: boolean;
  workspace: string;
  /** `provider/model` of the primary model; null when none is set anywhere. */
  model: string | null;
  fallbacks: string[];
  identity?: { name?: string | null; emoji?: string | null } | null;
  /** The skills it may use; null means every available skill. */
  skills?: string[] | null;
  tools?: AgentToolsPolicy | null;
  queue: QueueMode;
  /** How many bindings route to it. */
  bindings: number;
}
export interface AgentsListResult {
  defaultId: string;
  agents: AgentSummary[];
}
export interface AgentsAddParams {
  id: string;
  name?: string;
  model?: string;
  workspace?: string;
  emoji?: string;
  default?: boolean;
}

export type PeerMatchKind = "direct" | "group" | "channel";
/** A route query's kind of chat: a thread also matches its parent chat's bindings. */
export type PeerKind = PeerMatchKind | "thread";

/** What a binding matches; `channel` is required, every other field given must match too. */
export interface BindingMatch {
  channel: string;
  accountId?: string | null;
  peer?: { kind: PeerMatchKind; id: string } | null;
  guildId?: string | null;
  teamId?: string | null;
  /** With `guildId`: the sender has at least one of these role ids. */
  roles?: string[] | null;
}

/** How a route was decided, most specific first (that order is the precedence). */
export type MatchedBy = "peer" | "parentPeer" | "guildRoles" | "guild" | "team" | "account" | "channel" | "default";

export interface BindingInfo {
  index: number;
  name: string;
  agentId: string;
  match: BindingMatch;
  sharedMemory: boolean;
  tier: MatchedBy;
}
export interface BindingsAddParams {
  agentId: string;
  match: BindingMatch;
  name?: string;
  sharedMemory?: boolean;
}

export interface RouteExplainParams {
  channel: string;
  accountId?: string;
  peerKind?: PeerKind;
  peerId?: string;
  parentPeerId?: string;
  threadId?: string;
  senderId?: string;
  guildId?: string;
  teamId?: string;
  roles?: string[];
}
export interface RouteCandidate {
  index: number;
  name: string;
  agentId: string;
  matched: boolean;
  tier?: MatchedBy | null;
  why: string;
}
export interface RouteExplainResult {
  agentId: string;
  binding?: { index: number; name: string } | null;
  matchedBy: MatchedBy;
  sessionKey: string;
  /** The canonical person: a link name, or the identity itself. */
  person: string;
  /** Relative to the agent's workspace; null for the owner (the workspace's own memory). */
  memoryDir?: string | null;
  candidates: RouteCandidate[];
}

/** A link waiting for the codes sent to its identities. */
export interface PendingLink {
  linkId: string;
  name: string;
  identities: string[];
  verified: string[];
  expiresAtMs: number;
}
export interface IdentityListResult {
  /** The person whose links include `webchat:owner` (or `webchat:owner` itself). */
  owner: string;
  links: Record<string, string[]>;
  pending: PendingLink[];
}
export interface LinkDelivery {
  identity: string;
  ok: boolean;
  error?: string | null;
}
export interface IdentityLinkStartResult {
  linkId: string;
  expiresAtMs: number;
  delivered: LinkDelivery[];
}

export interface SessionsForkResult {
  key: string;
  sessionId: string;
  parentId: string;
  forkSeq: number;
  /** How many messages were copied. */
  messages: number;
}

export type BudgetPeriod = "day" | "month";
export type BudgetActionKind = "stop" | "switch";
export interface BudgetStatus {
  index: number;
  /** `agent:<id>`, a person, or `*`. */
  scope: string;
  period: BudgetPeriod;
  limit: number;
  spent: number;
  action: BudgetActionKind;
  model?: string | null;
  exceeded: boolean;
}
export interface BudgetExceeded {
  scope: string;
  period: BudgetPeriod;
  limit: number;
  spent: number;
  action: BudgetActionKind;
  model?: string | null;
}

/** One line of an audit log: `ts` (ms) and `kind`, then the kind's own fields. */
export type AuditEntry = { ts: number; kind: string } & Record<string, unknown>;
export interface AuditTailResult {
  log: string;
  entries: AuditEntry[];
  logs: string[];
}
export interface AuditSearchParams {
  query?: string;
  kind?: string;
  log?: string;
  sinceMs?: number;
  untilMs?: number;
  limit?: number;
}

/** When a job fires: exactly one of `cron` (5 fields, or 6 with seconds first), `every` or `at`. */
export type CronSchedule = { cron: string } | { every: string } | { at: string };
/** Fires missed while the gateway was down: recorded as skipped, or run once at start-up. */
export type MissedPolicy = "skip" | "runOnce";

/** A scheduled job's definition, as written by `cron.add` and patched by `cron.edit`. */
export interface CronJobSpec {
  name: string;
  schedule: CronSchedule;
  /** IANA zone the schedule is read in; absent: the gateway's. */
  tz?: string;
  /** Absent: the default agent. */
  agentId?: string;
  prompt: string;
  /** A session key continued at every fire; absent: a fresh session per fire. */
  session?: string;
  /** `telegram:123456`, `session:<key>`; absent: only stored. */
  deliver?: string;
  enabled?: boolean;
  timeoutSeconds?: number;
  jitterSeconds?: number;
  missed?: MissedPolicy;
  rerunInterrupted?: boolean;
  /** Tell the owner after this many failed fires in a row (0: never; default 3). */
  alertAfter?: number;
}

export type FireStatus = "running" | "completed" | "failed" | "interrupted" | "skipped";
export type FireTrigger = "schedule" | "catchUp" | "manual" | "rerun";

/** One fire of a job, identified by (job, scheduled instant). */
export interface CronFire {
  id: string;
  jobId: string;
  jobName: string;
  scheduledAt: number;
  trigger: FireTrigger;
  status: FireStatus;
  startedAt: number;
  endedAt?: number | null;
  durationMs?: number | null;
  runId?: string | null;
  sessionKey?: string | null;
  inputTokens: number;
  outputTokens: number;
  cost?: number | null;
  output?: string | null;
  error?: string | null;
  deliveredTo?: string | null;
}

/** A stored job and where it stands. */
export interface CronJob {
  id: string;
  job: CronJobSpec;
  /** Absent when it will not fire again or is disabled. */
  nextAt?: number | null;
  /** The zone and agent, resolved. */
  tz: string;
  agentId: string;
  consecutiveFailures: number;
  createdAt: number;
  updatedAt: number;
  last?: CronFire | null;
  /** Why the stored job cannot run any more (its agent was removed, ...). */
  problem?: string | null;
}

export interface HeartbeatInfo {
  every: string;
  agentId: string;
  /** `08:00-22:00 Europe/Berlin`, when limited. */
  activeHours?: string | null;
  target: string;
  nextAt?: number | null;
  last?: CronFire | null;
}

export interface CronListResult {
  jobs: CronJob[];
  /** `cron.enabled`: whether the scheduler runs jobs on its own. */
  enabled: boolean;
  heartbeat?: HeartbeatInfo | null;
}

/** A job failed `failures` times in a row. */
export interface CronAlert {
  jobId: string;
  jobName: string;
  failures: number;
  error: string;
}

/** Where a webhook call stands. */
export type HookStatus = "queued" | "running" | "completed" | "failed" | "interrupted";

/** A webhook call (`POST /hooks/...`) and its run. */
export interface HookRun {
  /** The id the `202` answer gave. */
  id: string;
  /** `wake`, `agent`, or the mapping's name. */
  hook: string;
  status: HookStatus;
  receivedAt: number;
  endedAt?: number | null;
  runId?: string | null;
  sessionKey?: string | null;
  output?: string | null;
  error?: string | null;
  deliveredTo?: string | null;
}

/** A configured webhook mapping (`POST <path>/<name>`); never its secrets. */
export interface HookInfo {
  name: string;
  action: "agent" | "wake";
  /** Absent: the default agent. */
  agentId?: string | null;
  /** Absent: only the call's record. */
  deliver?: string | null;
  /** Absent: the webhook token alone. */
  signature?: "github" | "stripe" | null;
  ratePerMinute: number;
}

export interface HooksListResult {
  /** `hooks.enabled`. */
  enabled: boolean;
  /** `hooks.path`, e.g. `/hooks`. */
  path: string;
  /** Newest first. */
  calls: HookRun[];
  mappings: HookInfo[];
}

type Empty = Record<string, never>;

/** Every method the UI calls: its params and its result. */
export interface Methods {
  health: { params: Empty; result: { ok: boolean; version: string; uptimeMs: number } };
  status: { params: Empty; result: StatusResult };
  "chat.send": {
    params: {
      message: string;
      sessionKey?: string;
      agentId?: string;
      idempotencyKey?: string;
      attachments?: ImageAttachment[];
    };
    result: {
      runId: string;
      sessionKey: string;
      status: "started" | "queued" | "duplicate" | "command";
      reply?: string | null;
    };
  };
  "chat.history": {
    params: { sessionKey?: string; limit?: number };
    /** `firstSeq`: the 1-based position of the first returned message in the whole transcript. */
    result: { sessionKey: string; sessionId?: string | null; messages: Message[]; firstSeq?: number | null };
  };
  "chat.abort": {
    params: { sessionKey?: string; runId?: string };
    result: { aborted: boolean; runIds: string[] };
  };
  "sessions.list": {
    params: {
      agentId?: string;
      channel?: string;
      sender?: string;
      search?: string;
      includeArchived?: boolean;
      limit?: number;
    };
    result: { sessions: SessionInfo[] };
  };
  "sessions.reset": { params: { key: string }; result: { key: string; previousSessionId?: string | null } };
  "sessions.delete": { params: { key: string }; result: { key: string; deleted: number } };
  "sessions.compact": {
    params: { key: string };
    result: { key: string; compacted: boolean; messagesSummarised: number; tokensBefore: number; tokensAfter: number };
  };
  "models.list": { params: Empty; result: { models: ModelInfo[] } };
  "config.get": {
    params: Empty;
    result: {
      path: string;
      hash: string;
      config: Record<string, unknown>;
      restartRequired: string[];
      raw?: string;
      exists?: boolean;
    };
  };
  "config.schema": { params: Empty; result: { schema: unknown } };
  "config.validate": { params: { raw: string }; result: { ok: boolean; issues: Issue[] } };
  "config.set": { params: { raw: string; baseHash: string }; result: ConfigWrite };
  "config.patch": { params: { patch: Record<string, unknown>; baseHash: string }; result: ConfigWrite };
  "secrets.list": { params: Empty; result: { backend: string; names: string[] } };
  "secrets.set": { params: { name: string; value: string }; result: { name: string } };
  "secrets.delete": { params: { name: string }; result: { deleted: boolean } };
  "providers.test": {
    params: { provider?: string; draft?: ProviderDraft; model?: string };
    result: ProvidersTestResult;
  };
  "onboarding.apply": { params: OnboardingApplyParams; result: ConfigWrite };
  "usage.summary": { params: { days?: number }; result: UsageSummary };
  "runs.recent": { params: { limit?: number }; result: { runs: RunInfo[] } };
  "logs.tail": {
    params: { cursor?: string; limit?: number; minLevel?: string };
    result: { entries: LogEntry[]; cursor: string; reset: boolean };
  };
  "desktop.get": { params: Empty; result: { available: boolean; autostart: boolean | null } };
  "desktop.autostart.set": { params: { enabled: boolean }; result: { autostart: boolean } };
  "skills.list": {
    params: { agentId?: string };
    result: { skills: SkillInfo[]; errors: { path: string; line?: number | null; message: string }[] };
  };
  "exec.approval.list": { params: Empty; result: { approvals: ExecApproval[] } };
  "exec.approval.resolve": {
    params: { id: string; decision: ExecDecision };
    result: { id: string; decision: ExecDecision };
  };
  "mcp.status": { params: Empty; result: { servers: McpServerStatus[] } };
  "channels.status": { params: Empty; result: ChannelsStatusResult };
  "channels.add": { params: ChannelsAddParams; result: ChannelsAddResult };
  "channels.test": { params: ChannelsTestParams; result: ChannelsTestResult };
  "channels.remove": { params: { channel: string; account?: string; baseHash?: string }; result: ConfigWrite };
  "channels.pause": { params: { paused: boolean }; result: ChannelsStatusResult };
  "pairing.list": { params: Empty; result: { requests: PairingRequest[]; approved: ApprovedSender[] } };
  "pairing.approve": { params: { code: string }; result: PairingDecision };
  "pairing.deny": { params: { code: string }; result: PairingDecision };
  "pairing.revoke": { params: { channel: string; account: string; senderId: string }; result: { revoked: boolean } };
  "agents.list": { params: Empty; result: AgentsListResult };
  "agents.add": { params: AgentsAddParams; result: ConfigWrite };
  "agents.remove": { params: { id: string; force?: boolean }; result: ConfigWrite };
  "bindings.list": { params: Empty; result: { bindings: BindingInfo[] } };
  "bindings.add": { params: BindingsAddParams; result: ConfigWrite };
  "bindings.remove": { params: { index?: number; name?: string }; result: ConfigWrite };
  "route.explain": { params: RouteExplainParams; result: RouteExplainResult };
  "identity.list": { params: Empty; result: IdentityListResult };
  "identity.link.start": { params: { name: string; identities: string[] }; result: IdentityLinkStartResult };
  "identity.link.confirm": { params: { linkId: string; codes: string[] }; result: ConfigWrite };
  "identity.unlink": { params: { identity: string }; result: ConfigWrite };
  "sessions.fork": { params: { key: string; atSeq?: number; newKey?: string }; result: SessionsForkResult };
  "budgets.status": { params: Empty; result: { budgets: BudgetStatus[] } };
  "audit.tail": { params: { log?: string; limit?: number }; result: AuditTailResult };
  "audit.search": { params: AuditSearchParams; result: { entries: AuditEntry[] } };
  "cron.list": { params: Empty; result: CronListResult };
  /** `INVALID_REQUEST` with `details.problems: string[]`; `CONFLICT` when the name is taken. */
  "cron.add": { params: { job: CronJobSpec }; result: CronJob };
  /** `patch`: an RFC 7396 merge patch on the job's definition; `id`: its id or name. */
  "cron.edit": { params: { id: string; patch: Record<string, unknown> }; result: CronJob };
  "cron.remove": { params: { id: string }; result: { removed: boolean } };
  "cron.run": { params: { id: string }; result: { jobId: string; fireId: string } };
  "cron.history": { params: { id?: string; limit?: number }; result: { fires: CronFire[] } };
  /** `hook`: only the calls to `agent`, `wake` or a mapping; `limit`: default 50, at most 500. */
  "hooks.list": { params: { limit?: number; hook?: string }; result: HooksListResult };
  "hooks.get": { params: { id: string }; result: HookRun };
}
export type MethodName = keyof Methods;

export interface ChatEvent {
  runId: string;
  sessionKey: string;
  state: "delta" | "final" | "aborted" | "error";
  delta?: string | null;
  message?: Message | null;
  usage?: Usage | null;
  error?: ErrorShape | null;
}

export type AgentEvent = { runId: string; sessionKey: string } & (
  | {
      stream: "lifecycle";
      data: { phase: "start" | "end" | "error" | "aborted"; model?: string | null; durationMs?: number | null; error?: ErrorShape | null };
    }
  | { stream: "assistant"; data: { delta: string } }
  | { stream: "thinking"; data: { delta: string } }
  | { stream: "toolStart"; data: { toolCallId: string; name: string; arguments: unknown } }
  | {
      stream: "toolEnd";
      data: { toolCallId: string; name: string; isError: boolean; resultBytes: number; durationMs: number };
    }
  | { stream: "usage"; data: { model: string; usage: Usage } }
  | {
      stream: "attempt";
      data: { model: string; key: number; outcome: string; errorKind?: string | null; message?: string | null; cooldownMs?: number | null };
    }
  | { stream: "compaction"; data: { messagesSummarised: number; tokensBefore: number; tokensAfter: number } }
);

/** Every event the UI listens to, with its payload. */
export interface Events {
  "connect.challenge": { nonce: string; ts: number };
  tick: { ts: number };
  chat: ChatEvent;
  agent: AgentEvent;
  "sessions.changed": { key: string; sessionId?: string | null; reason: "created" | "updated" | "reset" | "deleted" };
  "config.changed": { hash: string; restartRequired: string[]; errors?: string[] };
  shutdown: { reason: string };
  "exec.approval.requested": ExecApproval;
  "exec.approval.resolved": { id: string; decision: ExecDecision; reason?: string | null };
  "channels.changed": ChannelsStatusResult;
  "pairing.requested": PairingRequest;
  "pairing.resolved": PairingDecision;
  "identity.changed": { name: string };
  "budget.exceeded": BudgetExceeded;
  /** A job's or the heartbeat's fire started or ended. */
  cron: CronFire;
  "cron.alert": CronAlert;
  /** A webhook call was accepted, started or ended. */
  hook: HookRun;
}
export type EventName = keyof Events;
