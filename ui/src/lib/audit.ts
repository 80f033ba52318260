// The audit trail and budgets for people: each audit kind's main fields in one line, the kind
// labels and filters the Audit page offers, and budget figures (share spent, bar tone, labels)
// for the Usage page. Pure functions, shared by the pages and the unit tests.

import { formatCost, formatTokens } from "./usage";
import type { AuditEntry, AuditSearchParams, BudgetPeriod, BudgetStatus } from "./protocol";

/** Every kind the gateway records (docs/audit.md), in the order the filter offers them. */
export const AUDIT_KINDS: { kind: string; label: string }[] = [
  { kind: "inbound", label: "Message in" },
  { kind: "route", label: "Route" },
  { kind: "model.request", label: "Model request" },
  { kind: "tool.call", label: "Tool call" },
  { kind: "outbound", label: "Message out" },
  { kind: "config.change", label: "Config change" },
  { kind: "budget", label: "Budget" },
  { kind: "identity.link", label: "Identity link" },
];

export function kindLabel(kind: string): string {
  return AUDIT_KINDS.find((k) => k.kind === kind)?.label ?? kind;
}

function str(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** `provider/model`, whether the entry's model already names its provider or not. */
function modelRef(provider: unknown, model: unknown): string {
  const m = str(model);
  const p = str(provider);
  if (!m) return p;
  return m.includes("/") || !p ? m : `${p}/${m}`;
}

/** `label value` pairs with empty values left out, joined with ` · `. */
function join(parts: [string, unknown][]): string {
  return parts
    .map(([label, v]) => [label, str(v)] as const)
    .filter(([, v]) => v !== "")
    .map(([label, v]) => (label ? `${label} ${v}` : v))
    .join(" · ");
}

/** The main fields of one entry in one line; unknown kinds show their fields as `key=value`. */
export function auditSummary(e: AuditEntry): string {
  switch (e.kind) {
    case "inbound":
      return join([
        ["", `${str(e.channel)}${e.account ? `/${str(e.account)}` : ""}`],
        ["from", e.sender],
        ["in", e.chatId],
        ["", e.peerKind],
        ["", num(e.chars) !== null ? `${e.chars} chars` : ""],
        ["", num(e.attachments) ? `${e.attachments} attachment${e.attachments === 1 ? "" : "s"}` : ""],
        ["", e.text !== undefined && e.text !== null ? `“${str(e.text)}”` : ""],
      ]);
    case "route":
      return join([
        ["", [str(e.person || e.sender), str(e.agentId)].filter((x) => x).join(" → ")],
        ["by", e.matchedBy],
        ["binding", e.binding],
        ["session", e.sessionKey],
      ]);
    case "model.request": {
      const tokens = [num(e.inputTokens), num(e.outputTokens)];
      return join([
        ["", modelRef(e.provider, e.model)],
        ["", e.status],
        ["", tokens.some((t) => t !== null) ? `${formatTokens(tokens[0] ?? 0)} in / ${formatTokens(tokens[1] ?? 0)} out` : ""],
        ["", num(e.cost) !== null ? formatCost(e.cost as number) : ""],
        ["agent", e.agentId],
        ["error", e.error],
      ]);
    }
    case "tool.call":
      return join([
        ["", e.tool],
        ["", e.status],
        ["approval", e.approval],
        ["", num(e.durationMs) !== null ? `${e.durationMs} ms` : ""],
        ["session", e.sessionKey],
      ]);
    case "outbound":
      return join([
        ["", `${str(e.channel)}${e.account ? `/${str(e.account)}` : ""}`],
        ["to", e.chatId],
        ["", e.status],
        ["", num(e.attempts) !== null && (e.attempts as number) > 1 ? `${e.attempts} attempts` : ""],
        ["error", e.error],
      ]);
    case "config.change":
      return join([
        ["by", e.actor],
        ["", Array.isArray(e.paths) ? e.paths.map(str).join(", ") : e.paths],
      ]);
    case "budget":
      return join([
        ["", e.scope],
        ["", e.period],
        ["", num(e.spent) !== null && num(e.limit) !== null ? `${formatCost(e.spent as number)} of ${formatCost(e.limit as number)}` : ""],
        ["→", e.action],
      ]);
    case "identity.link":
      return join([
        ["", e.action],
        ["", e.name],
        ["", Array.isArray(e.identities) ? e.identities.map(str).join(", ") : e.identities],
      ]);
    default:
      return Object.entries(e)
        .filter(([k]) => k !== "ts" && k !== "kind")
        .map(([k, v]) => `${k}=${str(v)}`)
        .join(" ");
  }
}

/** `HH:MM:SS` today, else the date and time. */
export function auditTime(ts: number, now: number = Date.now()): string {
  const d = new Date(ts);
  if (!Number.isFinite(ts) || ts <= 0 || Number.isNaN(d.getTime())) return "—";
  const sameDay = new Date(now).toDateString() === d.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour12: false });
  return sameDay ? time : `${d.toLocaleDateString(undefined, { dateStyle: "medium" })} ${time}`;
}

/** The machine-readable time for a `<time>` element; undefined when `ts` is no date. */
export function auditIso(ts: number): string | undefined {
  const d = new Date(ts);
  return Number.isFinite(ts) && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

/** The search form's range choices, in hours back from now (0: any time). */
export const SINCE_CHOICES: { hours: number; label: string }[] = [
  { hours: 0, label: "Any time" },
  { hours: 1, label: "Last hour" },
  { hours: 24, label: "Last 24 hours" },
  { hours: 24 * 7, label: "Last 7 days" },
  { hours: 24 * 30, label: "Last 30 days" },
];

/** `audit.search` parameters; an empty log searches every log. */
export function searchParams(
  form: { query: string; kind: string; log: string; sinceHours: number },
  limit: number,
  now: number = Date.now(),
): AuditSearchParams {
  const p: AuditSearchParams = { limit };
  if (form.query.trim()) p.query = form.query.trim();
  if (form.kind) p.kind = form.kind;
  if (form.log) p.log = form.log;
  if (form.sinceHours > 0) p.sinceMs = now - form.sinceHours * 3_600_000;
  return p;
}

/** Newest first, whichever order the gateway answered in; equal times keep their order. */
export function newestFirst(entries: AuditEntry[]): AuditEntry[] {
  return entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => (b.e.ts ?? 0) - (a.e.ts ?? 0) || a.i - b.i)
    .map((x) => x.e);
}

/** A stable key for an entry in a keyed list. */
export function entryKey(e: AuditEntry, i: number): string {
  return `${e.ts}-${e.kind}-${i}`;
}

// --- budgets ---

/** Spent as a share of the limit, 0..1 for the bar (a limit of 0 counts as used up). */
export function budgetShare(spent: number, limit: number): number {
  if (!(limit > 0)) return spent > 0 || limit === 0 ? 1 : 0;
  return Math.min(1, Math.max(0, spent / limit));
}

/** `42%`; over the limit it keeps counting (`130%`). */
export function budgetPercent(spent: number, limit: number): string {
  if (!(limit > 0)) return spent > 0 ? "over" : "—";
  const p = (spent / limit) * 100;
  return `${p > 0 && p < 1 ? p.toFixed(1) : Math.round(p)}%`;
}

/** The bar's tone: ok below 80 %, warn from there, err once exceeded. */
export function budgetTone(b: Pick<BudgetStatus, "spent" | "limit" | "exceeded">): "ok" | "warn" | "err" {
  if (b.exceeded || (b.limit > 0 && b.spent >= b.limit)) return "err";
  return budgetShare(b.spent, b.limit) >= 0.8 ? "warn" : "ok";
}

export function periodLabel(p: BudgetPeriod | string): string {
  return p === "day" ? "today" : p === "month" ? "this month" : p;
}

/** `agent:ops` → `Agent ops`, `*` → `Everything`, a person or identity as is. */
export function scopeLabel(scope: string): string {
  if (scope === "*") return "Everything";
  if (scope.startsWith("agent:")) return `Agent ${scope.slice(6)}`;
  return scope;
}

/** What happens once the cap is reached, in words. */
export function actionLabel(action: string, model?: string | null): string {
  if (action === "switch") return model ? `switch to ${model}` : "switch model";
  if (action === "stop") return "stop answering";
  return action;
}

/** The toast for `budget.exceeded`. */
export function budgetExceededText(b: { scope: string; period: BudgetPeriod | string; limit: number; spent: number; action: string; model?: string | null }): string {
  const what = b.action === "switch" ? `now using ${b.model ?? "the cheaper model"}` : "further runs are refused";
  return `Budget reached: ${scopeLabel(b.scope)} spent ${formatCost(b.spent)} of ${formatCost(b.limit)} ${periodLabel(b.period)}; ${what}.`;
}
