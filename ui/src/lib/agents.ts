// Agents, bindings, routes and identities for people: tier labels and precedence, bindings
// written as one line, the parameters of `agents.add`, `bindings.add`, `route.explain` and
// `identity.link.start` built (and checked) from the forms, and identity links read back.
// Pure functions, so the Agents and People pages and the unit tests share them.

import type {
  AgentsAddParams,
  BindingInfo,
  BindingMatch,
  BindingsAddParams,
  IdentityListResult,
  MatchedBy,
  PeerKind,
  PeerMatchKind,
  PendingLink,
  QueueMode,
  RouteExplainParams,
} from "./protocol";

/** Channels a binding or a route names, in the order the forms offer them. */
export const ROUTE_CHANNELS: { id: string; label: string }[] = [
  { id: "telegram", label: "Telegram" },
  { id: "discord", label: "Discord" },
  { id: "slack", label: "Slack" },
  { id: "matrix", label: "Matrix" },
  { id: "webchat", label: "WebChat" },
];

export function channelName(id: string): string {
  return ROUTE_CHANNELS.find((c) => c.id === id)?.label ?? id;
}

/** The precedence of the routing contract: the first tier that matches wins. */
export const TIERS: MatchedBy[] = ["peer", "parentPeer", "guildRoles", "guild", "team", "account", "channel", "default"];

const TIER_LABELS: Record<MatchedBy, string> = {
  peer: "Peer",
  parentPeer: "Parent peer",
  guildRoles: "Guild and roles",
  guild: "Guild",
  team: "Team",
  account: "Account",
  channel: "Channel",
  default: "Default agent",
};

export function tierLabel(tier: MatchedBy | null | undefined): string {
  if (!tier) return "—";
  return TIER_LABELS[tier] ?? tier;
}

/** 1 for the most specific tier; unknown tiers sort last. */
export function tierRank(tier: MatchedBy | null | undefined): number {
  const i = tier ? TIERS.indexOf(tier) : -1;
  return i < 0 ? TIERS.length + 1 : i + 1;
}

/** Bindings in the order routing tries them: by tier, then first in the file first. */
export function sortByPrecedence(bindings: BindingInfo[]): BindingInfo[] {
  return [...bindings].sort((a, b) => tierRank(a.tier) - tierRank(b.tier) || a.index - b.index);
}

const PEER_WORDS: Record<string, string> = { direct: "person", group: "group", channel: "channel" };

/** A binding's match in one line: `Telegram · account work · person 123 · guild 9 · roles a, b`. */
export function formatMatch(m: BindingMatch): string {
  const parts = [channelName(m.channel)];
  if (m.accountId) parts.push(`account ${m.accountId}`);
  if (m.peer) parts.push(`${PEER_WORDS[m.peer.kind] ?? m.peer.kind} ${m.peer.id}`);
  if (m.guildId) parts.push(`guild ${m.guildId}`);
  if (m.teamId) parts.push(`team ${m.teamId}`);
  if (m.roles && m.roles.length) parts.push(`${m.roles.length === 1 ? "role" : "roles"} ${m.roles.join(", ")}`);
  return parts.join(" · ");
}

const QUEUE_LABELS: Record<QueueMode, string> = {
  followup: "Follow-up",
  collect: "Collect",
  steer: "Steer",
  interrupt: "Interrupt",
};
const QUEUE_HELP: Record<QueueMode, string> = {
  followup: "a message during a run is answered after it",
  collect: "messages during a run are answered together in one turn",
  steer: "a message during a run is handed to it at its next tool call",
  interrupt: "a new message stops the run and is answered instead",
};

export function queueLabel(mode: QueueMode | string | null | undefined): string {
  return (mode && QUEUE_LABELS[mode as QueueMode]) || "Follow-up";
}
export function queueHelp(mode: QueueMode | string | null | undefined): string {
  return (mode && QUEUE_HELP[mode as QueueMode]) || QUEUE_HELP.followup;
}

/** Agent ids (and identity link names): lowercase letters, digits, `-` and `_`. */
export function validAgentId(id: string): boolean {
  return /^[a-z0-9_-]{1,64}$/.test(id);
}

/** Splits `a, b c` or one per line into trimmed, distinct items. */
export function parseList(text: string): string[] {
  const out: string[] = [];
  for (const item of text.split(/[\s,]+/)) {
    const t = item.trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

export interface AgentForm {
  id: string;
  name: string;
  model: string;
  emoji: string;
  isDefault: boolean;
}

export type Checked<T> = { ok: true; params: T } | { ok: false; errors: Record<string, string> };

/** `agents.add` parameters from the form; `existing` are the ids already taken. */
export function agentAddParams(form: AgentForm, existing: string[]): Checked<AgentsAddParams> {
  const errors: Record<string, string> = {};
  const id = form.id.trim();
  if (!id) errors.id = "Give the agent an id.";
  else if (!validAgentId(id)) errors.id = "Use lowercase letters, digits, - and _ only.";
  else if (existing.includes(id)) errors.id = `There is already an agent ${id}.`;
  if (Object.keys(errors).length) return { ok: false, errors };
  const params: AgentsAddParams = { id };
  if (form.name.trim()) params.name = form.name.trim();
  if (form.model.trim()) params.model = form.model.trim();
  if (form.emoji.trim()) params.emoji = form.emoji.trim();
  if (form.isDefault) params.default = true;
  return { ok: true, params };
}

export interface BindingForm {
  channel: string;
  account: string;
  /** Empty: no peer. */
  peerKind: PeerMatchKind | "";
  peerId: string;
  guildId: string;
  teamId: string;
  /** Comma- or space-separated role ids. */
  roles: string;
  agentId: string;
  name: string;
  sharedMemory: boolean;
}

export function emptyBindingForm(agentId = ""): BindingForm {
  return { channel: "telegram", account: "", peerKind: "", peerId: "", guildId: "", teamId: "", roles: "", agentId, name: "", sharedMemory: false };
}

/** Shared memory belongs to a team or a guild: the checkbox is offered only with one. */
export function sharedMemoryAllowed(form: Pick<BindingForm, "guildId" | "teamId">): boolean {
  return form.guildId.trim() !== "" || form.teamId.trim() !== "";
}

/** `bindings.add` parameters from the form, checked the way the gateway's validation does. */
export function bindingParams(form: BindingForm): Checked<BindingsAddParams> {
  const errors: Record<string, string> = {};
  if (!form.channel) errors.channel = "Choose a channel.";
  if (!form.agentId) errors.agentId = "Choose the agent that answers.";
  if (form.peerKind && !form.peerId.trim()) errors.peerId = "Give the chat's id, or choose no peer.";
  if (!form.peerKind && form.peerId.trim()) errors.peerId = "Choose the kind of chat this id is.";
  const roles = parseList(form.roles);
  if (roles.length && !form.guildId.trim()) errors.roles = "Roles only apply with a guild id.";
  if (form.sharedMemory && !sharedMemoryAllowed(form)) errors.sharedMemory = "Shared memory needs a team or guild id.";
  if (form.name.trim() && !/^[A-Za-z0-9._-]+$/.test(form.name.trim())) errors.name = "Use letters, digits, . _ and - only.";
  if (Object.keys(errors).length) return { ok: false, errors };
  const match: BindingMatch = { channel: form.channel };
  if (form.account.trim()) match.accountId = form.account.trim();
  if (form.peerKind) match.peer = { kind: form.peerKind, id: form.peerId.trim() };
  if (form.guildId.trim()) match.guildId = form.guildId.trim();
  if (form.teamId.trim()) match.teamId = form.teamId.trim();
  if (roles.length) match.roles = roles;
  const params: BindingsAddParams = { agentId: form.agentId, match };
  if (form.name.trim()) params.name = form.name.trim();
  if (form.sharedMemory) params.sharedMemory = true;
  return { ok: true, params };
}

export interface RouteForm {
  channel: string;
  account: string;
  peerKind: PeerKind | "";
  peerId: string;
  parentPeerId: string;
  senderId: string;
  guildId: string;
  teamId: string;
  roles: string;
}

export function emptyRouteForm(): RouteForm {
  return { channel: "telegram", account: "", peerKind: "direct", peerId: "", parentPeerId: "", senderId: "", guildId: "", teamId: "", roles: "" };
}

/** `route.explain` parameters: empty fields left out. */
export function routeParams(form: RouteForm): RouteExplainParams {
  const p: RouteExplainParams = { channel: form.channel };
  const set = (k: "accountId" | "peerId" | "parentPeerId" | "senderId" | "guildId" | "teamId", v: string) => {
    if (v.trim()) p[k] = v.trim();
  };
  set("accountId", form.account);
  if (form.peerKind) p.peerKind = form.peerKind;
  set("peerId", form.peerId);
  set("parentPeerId", form.parentPeerId);
  set("senderId", form.senderId);
  set("guildId", form.guildId);
  set("teamId", form.teamId);
  const roles = parseList(form.roles);
  if (roles.length) p.roles = roles;
  return p;
}

/** Where a route's memory lives, relative to the agent's workspace. */
export function memoryDirLabel(dir: string | null | undefined): string {
  return dir ? `${dir}/` : "the workspace's own MEMORY.md and memory/ (the owner's)";
}

// --- identities ---

export const OWNER_IDENTITY = "webchat:owner";

/** `<channel>:<id>` with a known channel and a non-empty id (`matrix:@a:hs` keeps its colons). */
export function validIdentity(identity: string): boolean {
  const i = identity.indexOf(":");
  if (i <= 0) return false;
  const channel = identity.slice(0, i);
  const id = identity.slice(i + 1);
  return ROUTE_CHANNELS.some((c) => c.id === channel) && id.trim() !== "" && !/\s/.test(identity);
}

/** `telegram:123` → `Telegram 123`; the owner as `You (Control UI)`. */
export function identityLabel(identity: string): string {
  if (identity === OWNER_IDENTITY) return "You (Control UI)";
  const i = identity.indexOf(":");
  if (i <= 0) return identity;
  return `${channelName(identity.slice(0, i))} ${identity.slice(i + 1)}`;
}

export interface Person {
  name: string;
  identities: string[];
  owner: boolean;
}

/** The people of `identity.list`, the owner first, then by name. */
export function peopleOf(r: IdentityListResult): Person[] {
  const people = Object.entries(r.links).map(([name, identities]) => ({
    name,
    identities: [...identities],
    owner: name === r.owner || identities.includes(OWNER_IDENTITY),
  }));
  return people.sort((a, b) => Number(b.owner) - Number(a.owner) || a.name.localeCompare(b.name));
}

/** `identity.link.start` parameters: a valid name and two or more distinct valid identities. */
export function linkParams(name: string, identities: string[]): Checked<{ name: string; identities: string[] }> {
  const errors: Record<string, string> = {};
  const n = name.trim();
  if (!n) errors.name = "Give the person a name.";
  else if (!validAgentId(n)) errors.name = "Use lowercase letters, digits, - and _ only.";
  const ids: string[] = [];
  for (const raw of identities) {
    const id = raw.trim();
    if (!id) continue;
    if (!validIdentity(id)) {
      errors.identities = `${id} is not an identity: write <channel>:<id>, e.g. telegram:123456789.`;
      break;
    }
    if (!ids.includes(id)) ids.push(id);
  }
  if (!errors.identities && ids.length < 2) errors.identities = "Link at least two different identities.";
  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, params: { name: n, identities: ids } };
}

/** The identities of a pending link that still wait for their code. */
export function awaitingCode(link: Pick<PendingLink, "identities" | "verified">): string[] {
  return link.identities.filter((i) => i !== OWNER_IDENTITY && !link.verified.includes(i));
}

/** The codes typed in, trimmed (spaces inside removed), empty ones left out. */
export function collectCodes(codes: Record<string, string>, identities: string[]): string[] {
  return identities.map((i) => (codes[i] ?? "").replace(/\s+/g, "")).filter((c) => c !== "");
}
