// Messaging channels for people: what each platform asks for (the steps on its side, the
// credentials and settings), the setup wizard's validation and the `channels.add` /
// `channels.test` parameters it builds, state labels, message counts and pairing lists.
// Pure functions, so the Channels page, the Overview and the unit tests share them.

import type {
  ApprovedSender,
  ChannelCounts,
  ChannelsAddParams,
  ChannelsTestParams,
  DmPolicy,
  PairingDecision,
  PairingRequest,
} from "./protocol";

export type PlatformId = "telegram" | "discord" | "slack" | "matrix";
export type GroupPolicy = "allowlist" | "open" | "disabled";

/** One thing to do on the platform's side; `code` spans in `text` are written in backticks. */
export interface SetupStep {
  text: string;
  link?: { href: string; label: string };
}

/** A field of the wizard's credentials step: a credential (secret) or a plain setting. */
export interface Field {
  /** The config key (`botToken`, `homeserver`, …). */
  key: string;
  label: string;
  help: string;
  placeholder?: string;
  /** Shown under "Advanced" only. */
  advanced?: boolean;
  /** Only in this connection mode (Slack). */
  mode?: string;
  /** URL fields are checked to be http(s). */
  url?: boolean;
}

export interface PlatformSpec {
  id: PlatformId;
  label: string;
  /** What to do on the platform before Hearth can connect. */
  steps: SetupStep[];
  /** Stored in the secret store: never in the config file, never shown again. */
  credentials: Field[];
  /** Written into the config as they are. */
  settings: Field[];
  /** Connection modes, the first the default (Slack: Socket Mode or the Events API). */
  modes?: { value: string; label: string; help: string }[];
  /** Where the sender ids for `allowFrom` come from on this platform. */
  idHint: string;
}

export const PLATFORMS: PlatformSpec[] = [
  {
    id: "telegram",
    label: "Telegram",
    steps: [
      { text: "In Telegram, open a chat with `@BotFather`, Telegram's bot for making bots.", link: { href: "https://t.me/BotFather", label: "Open @BotFather" } },
      { text: "Send `/newbot`, then choose the bot's display name and a username ending in `bot` (for example `my_hearth_bot`)." },
      { text: "BotFather answers with the bot's token, like `123456789:AAE…`. Copy it; whoever has it controls the bot." },
      { text: "Optional, for groups: send `/setprivacy`, choose the bot and Disable, so it sees group messages and not only commands and replies to it." },
    ],
    credentials: [{ key: "botToken", label: "Bot token", help: "The token from @BotFather.", placeholder: "123456789:AAE…" }],
    settings: [
      { key: "apiRoot", label: "API root", help: "Only for a self-hosted Bot API server or a proxy; default https://api.telegram.org.", placeholder: "https://api.telegram.org", advanced: true, url: true },
    ],
    idHint: "Telegram user ids are numbers, e.g. 123456789 (@userinfobot tells you yours).",
  },
  {
    id: "discord",
    label: "Discord",
    steps: [
      { text: "Open the Discord Developer Portal and choose New Application; give it the bot's name.", link: { href: "https://discord.com/developers/applications", label: "Open the Developer Portal" } },
      { text: "Under Bot, choose Reset Token and copy the token (Discord shows it once)." },
      { text: "On the same page, under Privileged Gateway Intents, enable MESSAGE CONTENT INTENT and save; without it the bot receives empty messages." },
      { text: "Under OAuth2 → URL Generator, tick the `bot` scope and the permissions Send Messages and Read Message History (add Attach Files and Add Reactions if you like), open the generated URL and invite the bot to your server." },
      { text: "People who share a server with the bot can send it direct messages." },
    ],
    credentials: [{ key: "token", label: "Bot token", help: "The token from Bot → Reset Token." }],
    settings: [
      { key: "apiRoot", label: "API root", help: "Only for a proxy; default https://discord.com/api/v10.", placeholder: "https://discord.com/api/v10", advanced: true, url: true },
    ],
    idHint: "Discord user ids are long numbers: enable Developer Mode, then right-click a user → Copy User ID.",
  },
  {
    id: "slack",
    label: "Slack",
    steps: [
      { text: "Create an app: Create New App → From scratch, with a name and your workspace.", link: { href: "https://api.slack.com/apps", label: "Open Slack apps" } },
      { text: "Under Socket Mode, enable it and create an app-level token with the `connections:write` scope (it starts with `xapp-`)." },
      { text: "Under OAuth & Permissions → Bot Token Scopes, add `chat:write`, `im:history`, `channels:history`, `groups:history`, `app_mentions:read`, `files:read`, `files:write`, `reactions:write`, `users:read`." },
      { text: "Under Event Subscriptions, enable events and subscribe to the bot events `message.im`, `message.channels`, `message.groups`, `app_mention`." },
      { text: "Under App Home, turn on the Messages tab and allow users to send messages from it, so people can write to the bot directly." },
      { text: "Install the app to your workspace, then copy the Bot User OAuth Token (it starts with `xoxb-`)." },
      { text: "Without Socket Mode (Events API over HTTP), copy the Signing Secret from Basic Information instead of the app-level token; Slack then needs a public URL that reaches the gateway (see the channels guide)." },
    ],
    credentials: [
      { key: "botToken", label: "Bot token", help: "The Bot User OAuth Token, xoxb-…", placeholder: "xoxb-…" },
      { key: "appToken", label: "App-level token", help: "From Socket Mode, with connections:write, xapp-…", placeholder: "xapp-…", mode: "socket" },
      { key: "signingSecret", label: "Signing secret", help: "From Basic Information → App Credentials.", mode: "http" },
    ],
    settings: [
      { key: "apiRoot", label: "API root", help: "Only for a proxy; default https://slack.com/api.", placeholder: "https://slack.com/api", advanced: true, url: true },
    ],
    modes: [
      { value: "socket", label: "Socket Mode (recommended)", help: "Hearth connects out to Slack; nothing has to reach this computer." },
      { value: "http", label: "Events API over HTTP", help: "Slack calls the gateway at /channels/slack/<account>/webhook through a tunnel or reverse proxy." },
    ],
    idHint: "Slack member ids look like U012AB3CD: a person's profile → ⋮ → Copy member ID.",
  },
  {
    id: "matrix",
    label: "Matrix",
    steps: [
      { text: "Create an account for the bot on your homeserver, for example `@hearth:example.org` (register it in Element, or with `register_new_matrix_user` on Synapse). Use a separate account, not your own." },
      { text: "Note the homeserver's URL, for example `https://matrix.example.org` (the client API's address, which can differ from the domain in the user id)." },
      { text: "Give Hearth the bot's user id and password: it logs in and keeps its device and encryption keys in its own encrypted store. An access token of an existing session works instead of the password." },
      { text: "Invite the bot to a room or start a direct chat with it; it accepts invitations from the people the access rules below allow." },
    ],
    credentials: [
      { key: "password", label: "Password", help: "The bot account's password, to log in." },
      { key: "accessToken", label: "Access token", help: "Instead of the password: the token of an existing session." },
    ],
    settings: [
      { key: "homeserver", label: "Homeserver URL", help: "The homeserver's client API, https://…", placeholder: "https://matrix.example.org", url: true },
      { key: "userId", label: "User id", help: "The bot's full user id.", placeholder: "@hearth:example.org" },
      { key: "deviceId", label: "Device id", help: "With an access token: the device id of its session.", advanced: true },
    ],
    idHint: "Matrix user ids look like @alice:example.org.",
  },
];

export function platform(id: string): PlatformSpec {
  return PLATFORMS.find((p) => p.id === id) ?? PLATFORMS[0];
}

const LABELS: Record<string, string> = { telegram: "Telegram", discord: "Discord", slack: "Slack", matrix: "Matrix", webchat: "WebChat" };

/** A channel id for people: `Telegram`, `WebChat`, or the id itself when unknown. */
export function channelLabel(id: string): string {
  return LABELS[id] ?? id;
}

/** Splits `a `code` b` into text and code parts, for the platform steps. */
export function codeSegments(text: string): { code: boolean; text: string }[] {
  return text
    .split("`")
    .map((t, i) => ({ code: i % 2 === 1, text: t }))
    .filter((s) => s.text !== "");
}

// ---------------------------------------------------------------------------------------------
// state and counts

export type Tone = "ok" | "warn" | "err" | "";

const STATES: Record<string, { label: string; tone: Tone; text: string }> = {
  connecting: { label: "Connecting", tone: "warn", text: "Connecting to the platform." },
  connected: { label: "Connected", tone: "ok", text: "Receiving messages." },
  retrying: { label: "Retrying", tone: "warn", text: "The connection failed; Hearth tries again after a pause." },
  failed: { label: "Failed", tone: "err", text: "Stopped: the platform refused the credentials or a setting is missing. Fix it and save again." },
  disabled: { label: "Disabled", tone: "", text: "Turned off in the config (enabled: false)." },
  paused: { label: "Paused", tone: "warn", text: "All channels are paused; messages wait on the platform until you resume." },
  unavailable: { label: "Unavailable", tone: "err", text: "This build of Hearth was made without this channel." },
};

/** The state's word (shown as text, never as colour alone), badge tone and explanation. */
export function stateInfo(state: string): { label: string; tone: Tone; text: string } {
  return STATES[state] ?? { label: state, tone: "", text: "" };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "12 received · 10 allowed · 2 denied · 9 sent", plus ignored, pairing and send failures when any. */
export function countsSummary(c: ChannelCounts): string {
  const parts = [`${c.received} received`, `${c.allowed} allowed`, `${c.denied} denied`, `${c.sent} sent`];
  if (c.ignored) parts.push(`${c.ignored} ignored in groups`);
  if (c.pairing) parts.push(plural(c.pairing, "pairing code"));
  if (c.sendFailures) parts.push(plural(c.sendFailures, "send failure"));
  return parts.join(" · ");
}

/** The queues now: "empty", or what waits and what failed. */
export function queueSummary(c: ChannelCounts): string {
  const parts: string[] = [];
  if (c.outboundPending) parts.push(`${c.outboundPending} waiting to be sent`);
  if (c.outboundFailed) parts.push(`${c.outboundFailed} failed for good`);
  if (c.inboundPending) parts.push(`${c.inboundPending} not answered yet`);
  return parts.length ? parts.join(" · ") : "empty";
}

/** Time left until `expiresAtMs`: "expired", "45 s", "12 min 5 s", "1 h 0 min". */
export function formatExpiresIn(expiresAtMs: number, now: number): string {
  const left = Math.floor((expiresAtMs - now) / 1000);
  if (!Number.isFinite(left) || left <= 0) return "expired";
  if (left < 60) return `${left} s`;
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min ${left % 60} s`;
}

// ---------------------------------------------------------------------------------------------
// pairing lists, kept live from events

export const senderLabel = (s: { senderId: string; senderName?: string | null }): string =>
  s.senderName ? `${s.senderName} (${s.senderId})` : s.senderId;

const sameSender = (
  a: { channel: string; account: string; senderId: string },
  b: { channel: string; account: string; senderId: string },
) => a.channel === b.channel && a.account === b.account && a.senderId === b.senderId;

/** Adds a `pairing.requested` request (replacing an older one of the same sender), oldest first. */
export function addRequest(list: PairingRequest[], r: PairingRequest): PairingRequest[] {
  return [...list.filter((x) => x.code !== r.code && !sameSender(x, r)), r].sort((a, b) => a.createdAtMs - b.createdAtMs);
}

/** Drops the request a `pairing.resolved` decision answered. */
export function resolveRequest(list: PairingRequest[], d: PairingDecision): PairingRequest[] {
  return list.filter((x) => !sameSender(x, d));
}

/** Adds an approved sender (once), newest first. */
export function addApproved(list: ApprovedSender[], s: ApprovedSender): ApprovedSender[] {
  return [s, ...list.filter((x) => !sameSender(x, s))].sort((a, b) => b.approvedAtMs - a.approvedAtMs);
}

export function removeApproved(list: ApprovedSender[], s: { channel: string; account: string; senderId: string }): ApprovedSender[] {
  return list.filter((x) => !sameSender(x, s));
}

// ---------------------------------------------------------------------------------------------
// the add-channel wizard

export const WIZARD_STEPS = ["Create the bot", "Connect", "Who may talk", "Review"] as const;

export interface WizardState {
  platform: PlatformId;
  account: string;
  /** By config key; only the platform's own keys (and the mode's) are sent. */
  credentials: Record<string, string>;
  /** Non-secret settings by config key (`apiRoot`, `mode`, `homeserver`, `userId`). */
  settings: Record<string, string>;
  dmPolicy: DmPolicy;
  /** Sender ids, separated by commas, spaces or lines. */
  allowFrom: string;
  groupPolicy: GroupPolicy;
}

export function newWizard(id: PlatformId = "telegram"): WizardState {
  const spec = platform(id);
  return {
    platform: spec.id,
    account: "default",
    credentials: {},
    settings: spec.modes ? { mode: spec.modes[0].value } : {},
    dmPolicy: "pairing",
    allowFrom: "",
    groupPolicy: "allowlist",
  };
}

/** Account ids become config keys (`channels.<id>.accounts.<account>`). */
export function validAccountId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(id);
}

/** Ids from free text (commas, spaces, new lines), trimmed, without repeats. */
export function parseIds(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean))];
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const filled = (v: string | undefined) => (v ?? "").trim() !== "";

/** The fields in use for the state's platform and mode. */
export function activeCredentials(s: WizardState): Field[] {
  const spec = platform(s.platform);
  const mode = s.settings.mode ?? spec.modes?.[0].value;
  return spec.credentials.filter((f) => !f.mode || f.mode === mode);
}

/** The config keys that must be filled before the connection can be tested. */
export function requiredKeys(s: WizardState): string[] {
  switch (s.platform) {
    case "telegram":
      return ["botToken"];
    case "discord":
      return ["token"];
    case "slack":
      return s.settings.mode === "http" ? ["botToken", "signingSecret"] : ["botToken", "appToken"];
    case "matrix":
      return ["homeserver", "userId", filled(s.credentials.accessToken) && !filled(s.credentials.password) ? "accessToken" : "password"];
  }
}

/** What is missing or wrong on the credentials step, by config key (plus `account`). */
export function credentialErrors(s: WizardState): Record<string, string> {
  const spec = platform(s.platform);
  const errors: Record<string, string> = {};
  const fields = [...spec.credentials, ...spec.settings];
  for (const key of requiredKeys(s)) {
    const secret = spec.credentials.some((f) => f.key === key);
    if (!filled(secret ? s.credentials[key] : s.settings[key])) {
      const label = fields.find((f) => f.key === key)?.label ?? key;
      errors[key] = s.platform === "matrix" && key === "password" ? "Enter the password, or an access token instead." : `Enter the ${lowerFirst(label)}.`;
    }
  }
  for (const f of spec.settings) {
    const v = (s.settings[f.key] ?? "").trim();
    if (f.url && v && !/^https?:\/\/[^\s/]+/.test(v)) errors[f.key] = `The ${lowerFirst(f.label)} must start with https:// (or http://).`;
  }
  const user = (s.settings.userId ?? "").trim();
  if (s.platform === "matrix" && user && !/^@[^:\s]+:\S+$/.test(user)) errors.userId = "A Matrix user id looks like @hearth:example.org.";
  if (!validAccountId(s.account.trim())) errors.account = "Use letters, digits, - and _ (up to 64).";
  return errors;
}

/** What keeps the "Who may talk" step from going on. */
export function accessErrors(s: WizardState): Record<string, string> {
  if (s.dmPolicy === "allowlist" && parseIds(s.allowFrom).length === 0) {
    return { allowFrom: "List at least one sender id, or choose pairing." };
  }
  return {};
}

/** Errors of one wizard step (0: platform side, 1: credentials, 2: access, 3: review). */
export function stepErrors(step: number, s: WizardState): Record<string, string> {
  if (step === 1) return credentialErrors(s);
  if (step === 2) return accessErrors(s);
  if (step === 3) return { ...credentialErrors(s), ...accessErrors(s) };
  return {};
}

/** The credentials to send: the platform's own keys for the mode, filled ones only, trimmed. */
export function draftCredentials(s: WizardState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of activeCredentials(s)) {
    const v = (s.credentials[f.key] ?? "").trim();
    if (v) out[f.key] = v;
  }
  return out;
}

/** The connection settings: only the platform's non-secret keys (and its mode), filled ones only. */
export function connectionSettings(s: WizardState): Record<string, string> {
  const spec = platform(s.platform);
  const out: Record<string, string> = {};
  if (spec.modes) out.mode = s.settings.mode ?? spec.modes[0].value;
  for (const f of spec.settings) {
    const v = (s.settings[f.key] ?? "").trim();
    if (v) out[f.key] = f.url ? v.replace(/\/+$/, "") : v;
  }
  return out;
}

function accountParam(s: WizardState): { account?: string } {
  const a = s.account.trim();
  return a && a !== "default" ? { account: a } : {};
}

/** `channels.test` parameters for the draft. */
export function buildTestParams(s: WizardState): ChannelsTestParams {
  return { channel: s.platform, ...accountParam(s), credentials: draftCredentials(s), settings: connectionSettings(s) };
}

/** What a passed test vouches for: a change to any of it needs a new test. */
export function testFingerprint(s: WizardState): string {
  return JSON.stringify(buildTestParams(s));
}

/** `channels.add` parameters: secrets only in `credentials`, tested with the platform first. */
export function buildAddParams(s: WizardState, baseHash?: string): ChannelsAddParams {
  const settings: Record<string, unknown> = { ...connectionSettings(s), dmPolicy: s.dmPolicy, groupPolicy: s.groupPolicy };
  const ids = parseIds(s.allowFrom);
  // `open` only lets strangers in together with the wildcard (the config's own rule).
  if (s.dmPolicy === "open" && !ids.includes("*")) ids.push("*");
  if (ids.length) settings.allowFrom = ids;
  return {
    channel: s.platform,
    ...accountParam(s),
    credentials: draftCredentials(s),
    settings,
    ...(baseHash ? { baseHash } : {}),
    test: true,
  };
}
