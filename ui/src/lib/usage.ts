// Usage figures: summing rows, formatting tokens and dollars, and shaping `usage.summary`
// for the charts and bars of the Usage page.

import type { KeyedUsageRow, Usage, UsageRow } from "./protocol";

export function emptyRow(): UsageRow {
  return { runs: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cost: null };
}

/** Sums rows; the cost stays unknown (null) only when every row's cost is unknown. */
export function sumRows(rows: UsageRow[]): UsageRow {
  const out = emptyRow();
  for (const r of rows) {
    out.runs += r.runs;
    out.inputTokens += r.inputTokens;
    out.outputTokens += r.outputTokens;
    out.cacheReadTokens += r.cacheReadTokens;
    out.cacheWriteTokens += r.cacheWriteTokens;
    if (r.cost !== null && r.cost !== undefined) out.cost = (out.cost ?? 0) + r.cost;
  }
  return out;
}

export function totalTokens(r: UsageRow): number {
  return r.inputTokens + r.outputTokens + r.cacheReadTokens + r.cacheWriteTokens;
}

/** Tokens a message's usage puts in the context window: the prompt (cache included) and the answer. */
export function contextTokens(u: Usage | null | undefined): number {
  if (!u) return 0;
  return (u.input ?? 0) + (u.cacheRead ?? 0) + (u.cacheWrite ?? 0) + (u.output ?? 0);
}

/** 950 → "950", 12_345 → "12.3k", 4_200_000 → "4.2M". */
export function formatTokens(n: number): string {
  if (!Number.isFinite(n)) return "—";
  const abs = Math.abs(n);
  if (abs < 1000) return String(Math.round(n));
  if (abs < 1_000_000) return `${(n / 1000).toFixed(abs < 10_000 ? 2 : 1).replace(/\.?0+$/, "")}k`;
  return `${(n / 1_000_000).toFixed(abs < 10_000_000 ? 2 : 1).replace(/\.?0+$/, "")}M`;
}

/** US dollars: "$0.0042", "$1.23"; unknown prices as "—". */
export function formatCost(cost: number | null | undefined): string {
  if (cost === null || cost === undefined || !Number.isFinite(cost)) return "—";
  if (cost === 0) return "$0.00";
  if (Math.abs(cost) < 0.01) return `$${cost.toFixed(4)}`;
  return `$${cost.toFixed(2)}`;
}

export function formatPercent(part: number, whole: number): string {
  if (!whole) return "—";
  const p = (part / whole) * 100;
  return `${p < 10 ? p.toFixed(1) : Math.round(p)}%`;
}

export interface Bar {
  key: string;
  tokens: number;
  cost: number | null;
  runs: number;
  /** 0..1 of the largest bar, by cost when any row has one, else by tokens. */
  share: number;
}

/** Bars for a breakdown (per agent, channel or model), largest first. */
export function bars(rows: KeyedUsageRow[]): Bar[] {
  const byCost = rows.some((r) => (r.cost ?? 0) > 0);
  const measure = (r: KeyedUsageRow) => (byCost ? r.cost ?? 0 : totalTokens(r));
  const max = Math.max(0, ...rows.map(measure));
  return [...rows]
    .sort((a, b) => measure(b) - measure(a) || totalTokens(b) - totalTokens(a))
    .map((r) => ({ key: r.key, tokens: totalTokens(r), cost: r.cost, runs: r.runs, share: max > 0 ? measure(r) / max : 0 }));
}

/** "YYYY-MM-DD" → seconds since the epoch at local midnight (uPlot's x axis). */
export function dayToSeconds(day: string): number {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, (m ?? 1) - 1, d ?? 1).getTime() / 1000;
}

export interface DailySeries {
  x: number[];
  input: number[];
  output: number[];
  cache: number[];
  cost: (number | null)[];
}

/** Columns for the per-day chart, oldest first. */
export function dailySeries(byDay: KeyedUsageRow[]): DailySeries {
  const sorted = [...byDay].sort((a, b) => a.key.localeCompare(b.key));
  return {
    x: sorted.map((r) => dayToSeconds(r.key)),
    input: sorted.map((r) => r.inputTokens),
    output: sorted.map((r) => r.outputTokens),
    cache: sorted.map((r) => r.cacheReadTokens + r.cacheWriteTokens),
    cost: sorted.map((r) => r.cost),
  };
}
