// Webhook calls for people: a call's status as a badge, how long it took, the `hook` events
// merged into the recent calls, and a mapping's settings in words. Pure functions, shared by
// the Cron page's Webhooks card and the tests.

import { statusBadge } from "./cron";
import type { HookInfo, HookRun, HookStatus } from "./protocol";

/** How many calls the Webhooks card shows. */
export const CALLS_LIMIT = 50;

/** A call's status for a badge, in the tones of the fires' badges. */
export const hookStatusBadge: (status: HookStatus) => ReturnType<typeof statusBadge> = statusBadge;

/** From the call's arrival to its end, in ms; null while it goes on. */
export function callDuration(c: HookRun): number | null {
  return c.endedAt === undefined || c.endedAt === null ? null : Math.max(0, c.endedAt - c.receivedAt);
}

const STAGE: Record<HookStatus, number> = { queued: 0, running: 1, completed: 2, failed: 2, interrupted: 2 };

/**
 * A call replacing the one with its id, or added; newest (received, then id) first. A record
 * further along is kept: an answer to `hooks.list` can arrive after the event of the call's end.
 */
export function mergeCall(calls: HookRun[], c: HookRun, limit = CALLS_LIMIT): HookRun[] {
  const known = calls.find((x) => x.id === c.id);
  if (known && STAGE[known.status] > STAGE[c.status]) return calls;
  const rest = calls.filter((x) => x.id !== c.id);
  // Ids are UUIDv7: later ids sort after earlier ones received in the same millisecond.
  return [c, ...rest].sort((a, b) => b.receivedAt - a.receivedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, limit);
}

/** `/hooks/` → `/hooks`: the prefix calls are sent to. */
export function hooksPath(path: string): string {
  const p = path.trim().replace(/\/+$/, "");
  return p || "/hooks";
}

/** A mapping's settings in words, for the mappings table. */
export function mappingWords(m: HookInfo): { action: string; agent: string; deliver: string; signature: string; rate: string } {
  const wake = m.action === "wake";
  return {
    action: wake ? "wake the heartbeat" : "run the agent",
    agent: wake ? "—" : m.agentId || "the default agent",
    deliver: wake ? "the heartbeat's target" : !m.deliver || m.deliver === "none" ? "only the call's record" : m.deliver,
    signature: m.signature === "github" ? "GitHub signature" : m.signature === "stripe" ? "Stripe signature" : "webhook token",
    rate: `${m.ratePerMinute} per minute`,
  };
}
