// Scheduled jobs for people: a cron expression read out in words ("weekdays at 08:00"), an
// interval ("every 30 minutes") and a one-shot time ("once at 2026-11-22 08:00"), times
// relative to now, fire statuses as badges, and the Add/Edit dialog's form turned into a
// `cron.add` job or a `cron.edit` merge patch (with the gateway's problems put back next to
// the fields they name). Pure functions, shared by the Cron page, the app's toasts and the tests.
//
// The cron syntax is the gateway's (crates/hearth-core/src/cron/schedule.rs): 5 fields, or 6
// with seconds first; `*`, `?`, values, ranges, steps, lists, month and weekday names, weekday
// 7 as Sunday, and the `@daily`-style shortcuts. When both day fields are restricted a day
// matching either fires (Vixie cron), and the reading says "or".

import { diffToMergePatch, isPlainObject } from "./mergePatch";
import { formatDuration } from "./format";
import type { CronAlert, CronFire, CronJob, CronJobSpec, CronSchedule, FireStatus, FireTrigger, HookStatus, MissedPolicy } from "./protocol";

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

const MONTH_KEYS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAY_KEYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
export const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
export const WEEKDAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const SHORTCUTS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** One field of a cron expression: its allowed values, sorted, and whether it restricts anything. */
export interface CronField {
  values: number[];
  restricted: boolean;
  /** Written as a step to the field's end (`*` is step 1, `*\/15` step 15, `5\/15` too), else null. */
  step: number | null;
}

export interface CronExpr {
  second: CronField;
  minute: CronField;
  hour: CronField;
  day: CronField;
  month: CronField;
  weekday: CronField;
}

function parseField(text: string, min: number, max: number, names: string[]): Result<CronField> {
  const value = (s: string): Result<number> => {
    const i = names.indexOf(s.toLowerCase());
    // Month names count from 1, weekday names from 0.
    if (i >= 0) return { ok: true, value: min === 1 ? i + 1 : i };
    if (!/^\d+$/.test(s)) return { ok: false, error: `has \`${s}\`, which is not a number or a name` };
    const v = Number(s);
    if (v < min || v > max) return { ok: false, error: `has ${v}, outside ${min}-${max}` };
    return { ok: true, value: v };
  };
  const parts = text.split(",");
  if (parts.some((p) => p === "")) return { ok: false, error: "is empty (or has an empty item between commas)" };
  const set = new Set<number>();
  let restricted = false;
  let step: number | null = null;
  for (const part of parts) {
    const slash = part.indexOf("/");
    const range = slash >= 0 ? part.slice(0, slash) : part;
    let n = 1;
    if (slash >= 0) {
      const s = part.slice(slash + 1);
      if (!/^\d+$/.test(s) || Number(s) === 0) return { ok: false, error: `has the step \`${s}\`; a step is a positive number` };
      n = Number(s);
    }
    let lo: number;
    let hi: number;
    if (range === "*" || range === "?") {
      [lo, hi] = [min, max];
    } else if (range.includes("-")) {
      const [a, b] = range.split("-", 2);
      const va = value(a);
      if (!va.ok) return va;
      const vb = value(b);
      if (!vb.ok) return vb;
      if (va.value > vb.value) return { ok: false, error: `has the range \`${range}\`, which runs backwards` };
      [lo, hi] = [va.value, vb.value];
    } else {
      const v = value(range);
      if (!v.ok) return v;
      // `5/15` means from 5 to the end, every 15.
      [lo, hi] = n > 1 ? [v.value, max] : [v.value, v.value];
    }
    if (!(range === "*" || range === "?") || n > 1) restricted = true;
    for (let v = lo; v <= hi; v += n) set.add(v);
    if (parts.length === 1 && hi === max && (range === "*" || range === "?" || n > 1)) step = n;
  }
  return { ok: true, value: { values: [...set].sort((a, b) => a - b), restricted, step } };
}

/** Reads a cron expression the way the gateway does; the error says which field is wrong. */
export function parseCron(text: string): Result<CronExpr> {
  const trimmed = text.trim();
  const lower = trimmed.toLowerCase();
  let expanded = trimmed;
  if (lower.startsWith("@")) {
    const s = SHORTCUTS[lower];
    if (!s) return { ok: false, error: `\`${trimmed}\` is not a cron shortcut (use @hourly, @daily, @weekly, @monthly or @yearly)` };
    expanded = s;
  }
  const fields = expanded.split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5 && fields.length !== 6) {
    return {
      ok: false,
      error: `\`${trimmed}\` has ${fields.length} field${fields.length === 1 ? "" : "s"}; a cron expression has 5 (minute hour day month weekday) or 6 (with seconds first)`,
    };
  }
  const [sec, rest] = fields.length === 6 ? [fields[0], fields.slice(1)] : ["0", fields];
  const specs: [keyof CronExpr, string, string, number, number, string[]][] = [
    ["second", "seconds", sec, 0, 59, []],
    ["minute", "minute", rest[0], 0, 59, []],
    ["hour", "hour", rest[1], 0, 23, []],
    ["day", "day-of-month", rest[2], 1, 31, []],
    ["month", "month", rest[3], 1, 12, MONTH_KEYS],
    ["weekday", "day-of-week", rest[4], 0, 7, WEEKDAY_KEYS],
  ];
  const out: Partial<CronExpr> = {};
  for (const [key, label, t, min, max, names] of specs) {
    const f = parseField(t, min, max, names);
    if (!f.ok) return { ok: false, error: `the ${label} field ${f.error}` };
    out[key] = f.value;
  }
  const wd = out.weekday as CronField;
  // 7 is Sunday too.
  out.weekday = { ...wd, values: [...new Set(wd.values.map((v) => v % 7))].sort((a, b) => a - b) };
  return { ok: true, value: out as CronExpr };
}

const pad2 = (n: number) => String(n).padStart(2, "0");

function clock(h: number, m: number, s = 0): string {
  return `${pad2(h)}:${pad2(m)}${s ? `:${pad2(s)}` : ""}`;
}

/** "a", "a and b", "a, b and c". */
export function joinAnd(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** 1 → "1st", 2 → "2nd", 11 → "11th", 23 → "23rd". */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** Sorted values as runs of consecutive values: [1,2,3,5] → [[1,3],[5,5]]. */
function runs(values: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const v of values) {
    const last = out[out.length - 1];
    if (last && last[1] === v - 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

function isEvery(f: CronField, min: number): boolean {
  return f.step !== null && f.values[0] === min;
}

/** The days of the week, as a plural noun for "at" ("weekdays at 08:00") and after a frequency. */
function weekdayPhrase(values: number[]): { lead: string; trail: string } {
  const key = values.join(",");
  if (values.length === 7) return { lead: "every day", trail: "" };
  if (key === "1,2,3,4,5") return { lead: "weekdays", trail: " on weekdays" };
  if (key === "0,6") return { lead: "weekends", trail: " at weekends" };
  // Monday first, so that `SAT-SUN` style sets and `1-5` read as people write weeks.
  const mondayFirst = values.map((v) => (v + 6) % 7).sort((a, b) => a - b);
  const name = (v: number) => WEEKDAY_NAMES[(v + 1) % 7];
  const parts = runs(mondayFirst).flatMap(([a, b]) => (b - a >= 2 ? [`${name(a)} to ${name(b)}`] : a === b ? [`${name(a)}s`] : [`${name(a)}s`, `${name(b)}s`]));
  const text = joinAnd(parts);
  const plural = parts.every((p) => !p.includes(" to "));
  return { lead: text, trail: plural ? ` on ${text}` : `, ${text}` };
}

/** Days of the month with the months they are in: "on the 1st and 15th of every month". */
function monthDayPhrase(f: CronField, months: string): string {
  if (f.step !== null && f.step > 1 && f.values[0] === 1) return `every ${ordinal(f.step)} day of ${months === "every month" ? "the month" : months}`;
  const parts = runs(f.values).flatMap(([a, b]) => (b - a >= 2 ? [`${ordinal(a)} to ${ordinal(b)}`] : a === b ? [ordinal(a)] : [ordinal(a), ordinal(b)]));
  return `on the ${joinAnd(parts)} of ${months}`;
}

function monthsPhrase(values: number[]): string {
  const parts = runs(values).flatMap(([a, b]) => (b - a >= 2 ? [`${MONTH_NAMES[a - 1]} to ${MONTH_NAMES[b - 1]}`] : a === b ? [MONTH_NAMES[a - 1]] : [MONTH_NAMES[a - 1], MONTH_NAMES[b - 1]]));
  return joinAnd(parts);
}

/** The day part of a reading: `lead` goes before "at 08:00", `trail` after "every 15 minutes". */
function daysPhrase(e: CronExpr): { lead: string; trail: string } {
  const { day, month, weekday } = e;
  const inMonths = month.restricted ? ` in ${monthsPhrase(month.values)}` : "";
  if (!day.restricted && !weekday.restricted) {
    return month.restricted ? { lead: `every day${inMonths}`, trail: inMonths } : { lead: "every day", trail: "" };
  }
  if (!day.restricted) {
    const w = weekdayPhrase(weekday.values);
    return { lead: `${w.lead}${inMonths}`, trail: `${w.trail}${inMonths}` };
  }
  let days: string;
  if (month.restricted && day.values.length === 1 && month.values.length === 1) {
    days = `on ${day.values[0]} ${MONTH_NAMES[month.values[0] - 1]}`;
  } else {
    days = monthDayPhrase(day, month.restricted ? monthsPhrase(month.values) : "every month");
  }
  if (weekday.restricted) {
    // Vixie cron: with both day fields restricted, a day matching either fires.
    const w = weekdayPhrase(weekday.values);
    days = `${days} or ${w.trail ? w.trail.replace(/^,\s*/, "").trim() : "every day"}`;
  }
  return { lead: days, trail: ` ${days}` };
}

/** The time part: a short list of clock times, or a frequency with an optional window. */
function timesPhrase(e: CronExpr): { at: string } | { every: string } {
  const { second: s, minute: m, hour: h } = e;
  const secondsAt = s.values.length === 1;
  if (secondsAt && m.restricted && h.restricted && !isEvery(m, 0) && !isEvery(h, 0) && m.values.length * h.values.length <= 6) {
    const times: string[] = [];
    for (const hh of h.values) for (const mm of m.values) times.push(clock(hh, mm, s.values[0]));
    return { at: joinAnd(times) };
  }
  let freq: string;
  let window = "";
  const hourRange = (lastMinute: number) => {
    const r = runs(h.values);
    if (r.length === 1) return ` from ${clock(r[0][0], m.values[0])} to ${clock(r[0][1], lastMinute)}`;
    return ` in the ${joinAnd(h.values.map((v) => clock(v, 0)))} hours`;
  };
  if (!secondsAt) {
    freq = isEvery(s, 0) ? (s.step === 1 ? "every second" : `every ${s.step} seconds`) : `at second${s.values.length > 1 ? "s" : ""} ${joinAnd(s.values.map(String))} of every minute`;
    if (m.restricted || h.restricted) {
      const inner = timesPhrase({ ...e, second: { values: [0], restricted: true, step: null } });
      if ("at" in inner) window = ` during ${inner.at}`;
      else window = inner.every.startsWith("every minute") ? inner.every.slice("every minute".length) : `, ${inner.every}`;
    }
    return { every: `${freq}${window}` };
  }
  const sec = s.values[0] ? ` at second ${s.values[0]}` : "";
  if (!m.restricted || isEvery(m, 0)) {
    freq = m.step === 1 || !m.restricted ? "every minute" : `every ${m.step} minutes`;
    if (h.restricted) window = isEvery(h, 0) && h.step !== 1 ? ` in every ${ordinal(h.step ?? 1)} hour` : hourRange(m.values[m.values.length - 1]);
    return { every: `${freq}${sec}${window}` };
  }
  const past = m.values.length === 1 ? (m.values[0] ? ` at :${pad2(m.values[0])}` : "") : ` at ${joinAnd(m.values.map((v) => `:${pad2(v)}`))}`;
  if (!h.restricted) return { every: `every hour${past}${sec}` };
  if (isEvery(h, 0)) return { every: `every ${h.step} hours${past}${sec}` };
  if (h.step !== null && h.step > 1 && m.values.length === 1) {
    const last = h.values[h.values.length - 1];
    return { every: `every ${h.step} hours from ${clock(h.values[0], m.values[0])} to ${clock(last, m.values[0])}${sec}` };
  }
  if (m.values.length === 1) {
    const r = runs(h.values);
    if (r.length === 1) return { every: `every hour from ${clock(r[0][0], m.values[0])} to ${clock(r[0][1], m.values[0])}${sec}` };
    return { at: joinAnd(h.values.map((v) => clock(v, m.values[0], s.values[0]))) };
  }
  return { every: `every hour${past}${sec}${hourRange(m.values[m.values.length - 1])}` };
}

/** A cron expression in words: "weekdays at 08:00", "every 15 minutes on weekdays". */
export function readCron(text: string): Result<string> {
  const parsed = parseCron(text);
  if (!parsed.ok) return parsed;
  const e = parsed.value;
  const t = timesPhrase(e);
  const d = daysPhrase(e);
  if ("at" in t) return { ok: true, value: `${d.lead} at ${t.at}` };
  return { ok: true, value: `${t.every}${d.trail}` };
}

/** The same, or null when the expression does not parse. */
export function describeCron(text: string): string | null {
  const r = readCron(text);
  return r.ok ? r.value : null;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const HINT = "write an interval like `30m`, `1h30m`, `45s` or `1d`";

/** `30m`, `1h30m`, `45s`, `2h`, `1d`, `1w` → seconds, as the gateway reads them. */
export function parseInterval(text: string): Result<number> {
  const t = text.trim().toLowerCase();
  if (!t) return { ok: false, error: `the interval is empty; ${HINT}` };
  let total = 0;
  let digits = "";
  for (const c of t) {
    if (c >= "0" && c <= "9") {
      digits += c;
      continue;
    }
    const unit = UNITS[c];
    if (!unit || !digits) return { ok: false, error: `\`${text}\` is not an interval; ${HINT}` };
    total += Number(digits) * unit;
    digits = "";
  }
  if (digits) return { ok: false, error: `\`${text}\` has a number without a unit; ${HINT}` };
  if (total < 1) return { ok: false, error: `\`${text}\` is not a positive interval; ${HINT}` };
  return { ok: true, value: total };
}

/** 1800 → "every 30 minutes", 3600 → "every hour", 5400 → "every 1 hour 30 minutes". */
export function intervalWords(seconds: number): string {
  const parts: [number, string][] = [];
  let rest = seconds;
  for (const [unit, name] of [
    [604_800, "week"],
    [86_400, "day"],
    [3600, "hour"],
    [60, "minute"],
    [1, "second"],
  ] as const) {
    const n = Math.floor(rest / unit);
    rest -= n * unit;
    if (n) parts.push([n, name]);
  }
  if (parts.length === 1 && parts[0][0] === 1) return `every ${parts[0][1]}`;
  return `every ${parts.map(([n, name]) => `${n} ${name}${n === 1 ? "" : "s"}`).join(" ")}`;
}

/** An `at` time: RFC 3339 shown in the job's zone, a local time as written. */
export function atWords(at: string, tz?: string): string {
  const t = at.trim();
  if (/[zZ]$|[+-]\d\d:?\d\d$/.test(t) && /\d{4}-\d\d-\d\dT/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return `once at ${zonedClock(ms, tz)}`;
  }
  return `once at ${t.replace("T", " ")}`;
}

/** `YYYY-MM-DD HH:MM` of an instant in a zone (the browser's when none or unknown). */
export function zonedClock(ms: number, tz?: string): string {
  let fmt: Intl.DateTimeFormat;
  const opts: Intl.DateTimeFormatOptions = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try {
    fmt = new Intl.DateTimeFormat("en-CA", tz ? { ...opts, timeZone: tz } : opts);
  } catch {
    fmt = new Intl.DateTimeFormat("en-CA", opts);
  }
  const p = Object.fromEntries(fmt.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

export type ScheduleKind = "cron" | "every" | "at";

export function scheduleKind(s: CronSchedule): ScheduleKind {
  if ("cron" in s) return "cron";
  if ("every" in s) return "every";
  return "at";
}

/** The schedule as written: `0 8 * * 1-5`, `30m`, `2026-11-22 08:00`. */
export function scheduleText(s: CronSchedule): string {
  if ("cron" in s) return s.cron;
  if ("every" in s) return s.every;
  return s.at;
}

/** The schedule in words; an unreadable one says so rather than guessing. */
export function scheduleWords(s: CronSchedule, tz?: string): string {
  if ("cron" in s) return describeCron(s.cron) ?? "not a valid cron expression";
  if ("every" in s) {
    const r = parseInterval(s.every);
    return r.ok ? intervalWords(r.value) : "not a valid interval";
  }
  return atWords(s.at, tz);
}

/** "in 5 min", "in 2 h 10 min", "in 33 h", "in 3 days", "5 min ago", "now". */
export function relativeTime(ms: number, now: number = Date.now()): string {
  const diff = ms - now;
  const abs = Math.abs(diff);
  let text: string;
  if (abs < 30_000) return "now";
  if (abs < 3_600_000) text = `${Math.max(1, Math.round(abs / 60_000))} min`;
  else if (abs < 86_400_000) {
    const h = Math.floor(abs / 3_600_000);
    const m = Math.round((abs % 3_600_000) / 60_000);
    text = m && m < 60 ? `${h} h ${m} min` : `${m === 60 ? h + 1 : h} h`;
  } else if (abs < 2 * 86_400_000) {
    text = `${Math.round(abs / 3_600_000)} h`;
  } else {
    text = `${Math.round(abs / 86_400_000)} days`;
  }
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/** A fire's or a webhook call's status for a badge. */
export function statusBadge(status: FireStatus | HookStatus): { label: string; tone: "" | "ok" | "warn" | "err" } {
  switch (status) {
    case "queued":
      return { label: "queued", tone: "" };
    case "running":
      return { label: "running", tone: "warn" };
    case "completed":
      return { label: "completed", tone: "ok" };
    case "failed":
      return { label: "failed", tone: "err" };
    case "interrupted":
      return { label: "interrupted", tone: "warn" };
    case "skipped":
      return { label: "skipped", tone: "" };
  }
}

export function triggerLabel(t: FireTrigger): string {
  return { schedule: "scheduled", catchUp: "catch-up", manual: "manual", rerun: "rerun" }[t] ?? t;
}

/** What a finished fire came to, in one sentence (the answer to "Run now"). */
export function fireOutcome(f: CronFire): string {
  const took = f.durationMs !== undefined && f.durationMs !== null ? ` in ${formatDuration(f.durationMs)}` : "";
  switch (f.status) {
    case "running":
      return `${f.jobName} is running…`;
    case "completed":
      return `${f.jobName} ran${took}${f.deliveredTo ? `; delivered to ${f.deliveredTo}` : ""}.`;
    case "failed":
      return `${f.jobName} failed${took}: ${f.error ?? "no reason given"}`;
    case "interrupted":
      return `${f.jobName} was interrupted: the gateway stopped while it ran.`;
    case "skipped":
      return `${f.jobName} was skipped${f.error ? `: ${f.error}` : "."}`;
  }
}

/** The toast for `cron.alert`. */
export function cronAlertText(a: CronAlert): string {
  return `Job ${a.jobName} failed ${a.failures} ${a.failures === 1 ? "time" : "times"} in a row: ${a.error}`;
}

/** The first line of an answer, shortened, for a collapsed history row. */
export function outputPreview(text: string, max = 100): string {
  const line = text.trim().split("\n", 1)[0] ?? "";
  const more = line.length > max || text.trim().includes("\n");
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : more ? `${line} …` : line;
}

/** A fire replacing the one with its id, or added; newest (scheduled, then started) first. */
export function mergeFire(fires: CronFire[], f: CronFire, limit = 50): CronFire[] {
  const rest = fires.filter((x) => x.id !== f.id);
  return [f, ...rest].sort((a, b) => b.scheduledAt - a.scheduledAt || b.startedAt - a.startedAt).slice(0, limit);
}

/** Common IANA zones for the dialog's suggestions, with the browser's own first. */
export const COMMON_ZONES = [
  "UTC",
  "Europe/London",
  "Europe/Dublin",
  "Europe/Lisbon",
  "Europe/Paris",
  "Europe/Berlin",
  "Europe/Amsterdam",
  "Europe/Madrid",
  "Europe/Rome",
  "Europe/Zurich",
  "Europe/Vienna",
  "Europe/Stockholm",
  "Europe/Warsaw",
  "Europe/Athens",
  "Europe/Helsinki",
  "Europe/Istanbul",
  "Europe/Kyiv",
  "Europe/Moscow",
  "Africa/Cairo",
  "Africa/Lagos",
  "Africa/Johannesburg",
  "Asia/Dubai",
  "Asia/Kolkata",
  "Asia/Bangkok",
  "Asia/Singapore",
  "Asia/Shanghai",
  "Asia/Hong_Kong",
  "Asia/Tokyo",
  "Asia/Seoul",
  "Australia/Perth",
  "Australia/Sydney",
  "Pacific/Auckland",
  "America/St_Johns",
  "America/Halifax",
  "America/New_York",
  "America/Toronto",
  "America/Chicago",
  "America/Mexico_City",
  "America/Denver",
  "America/Phoenix",
  "America/Los_Angeles",
  "America/Anchorage",
  "Pacific/Honolulu",
  "America/Bogota",
  "America/Sao_Paulo",
  "America/Argentina/Buenos_Aires",
];

export function zoneChoices(browserZone: string): string[] {
  return [...new Set([browserZone, ...COMMON_ZONES].filter((z) => z))];
}

/** The browser's own zone (`Europe/Berlin`), or UTC when it does not say. */
export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Whether the browser knows the zone; the gateway has the last word. */
export function knownZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The Add/Edit dialog's fields, as typed. */
export interface JobForm {
  name: string;
  kind: ScheduleKind;
  cron: string;
  every: string;
  at: string;
  tz: string;
  /** Empty: the default agent. */
  agentId: string;
  prompt: string;
  session: "isolated" | "named";
  sessionKey: string;
  deliver: "none" | "chat" | "session";
  deliverChat: string;
  deliverSession: string;
  timeoutSeconds: string;
  jitterSeconds: string;
  missed: MissedPolicy;
  rerunInterrupted: boolean;
  alertAfter: string;
  enabled: boolean;
}

export function emptyJobForm(tz: string): JobForm {
  return {
    name: "",
    kind: "cron",
    cron: "0 8 * * 1-5",
    every: "30m",
    at: "",
    tz,
    agentId: "",
    prompt: "",
    session: "isolated",
    sessionKey: "",
    deliver: "none",
    deliverChat: "",
    deliverSession: "",
    timeoutSeconds: "",
    jitterSeconds: "0",
    missed: "skip",
    rerunInterrupted: false,
    alertAfter: "3",
    enabled: true,
  };
}

/** A stored job in the dialog, for editing. */
export function jobForm(job: CronJob): JobForm {
  const j = job.job;
  const form = emptyJobForm(j.tz ?? "");
  const kind = scheduleKind(j.schedule);
  const deliver = j.deliver?.trim() ?? "";
  return {
    ...form,
    name: j.name,
    kind,
    [kind]: scheduleText(j.schedule),
    agentId: j.agentId ?? "",
    prompt: j.prompt,
    session: j.session ? "named" : "isolated",
    sessionKey: j.session ?? "",
    deliver: !deliver || deliver === "none" ? "none" : deliver.startsWith("session:") ? "session" : "chat",
    deliverChat: deliver && deliver !== "none" && !deliver.startsWith("session:") ? deliver : "",
    deliverSession: deliver.startsWith("session:") ? deliver.slice("session:".length) : "",
    timeoutSeconds: j.timeoutSeconds !== undefined && j.timeoutSeconds !== null ? String(j.timeoutSeconds) : "",
    jitterSeconds: String(j.jitterSeconds ?? 0),
    missed: j.missed ?? "skip",
    rerunInterrupted: j.rerunInterrupted ?? false,
    alertAfter: String(j.alertAfter ?? 3),
    enabled: j.enabled ?? true,
  };
}

/** The form's fields that problems can be shown next to. */
export type FormField = "name" | "schedule" | "tz" | "agentId" | "prompt" | "session" | "deliver" | "timeoutSeconds" | "jitterSeconds" | "alertAfter";

function wholeNumber(text: string): number | null {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** The job the form describes, or what is wrong with it (checked as far as the browser can). */
export function jobSpec(f: JobForm): { ok: true; spec: CronJobSpec } | { ok: false; errors: Partial<Record<FormField, string>> } {
  const errors: Partial<Record<FormField, string>> = {};
  const name = f.name.trim();
  if (!name) errors.name = "Give the job a name.";
  else if (name.length > 64) errors.name = "At most 64 characters.";
  else if (!/^[\p{L}\p{N} _-]+$/u.test(name)) errors.name = "Letters, digits, spaces, - and _ only.";
  let schedule: CronSchedule;
  if (f.kind === "cron") {
    const r = parseCron(f.cron);
    if (!r.ok) errors.schedule = r.error;
    schedule = { cron: f.cron.trim() };
  } else if (f.kind === "every") {
    const r = parseInterval(f.every);
    if (!r.ok) errors.schedule = r.error;
    schedule = { every: f.every.trim() };
  } else {
    if (!f.at.trim()) errors.schedule = "Give a time: 2026-11-22 08:00 (in the job's zone) or with an offset.";
    schedule = { at: f.at.trim() };
  }
  const tz = f.tz.trim();
  if (tz && !knownZone(tz)) errors.tz = `${tz} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC).`;
  if (!f.prompt.trim()) errors.prompt = "Write what the agent should do at each fire.";
  const session = f.session === "named" ? f.sessionKey.trim() : "";
  if (f.session === "named" && !session) errors.session = "Name the session to continue, or choose a fresh one per fire.";
  let deliver: string | undefined;
  if (f.deliver === "chat") {
    deliver = f.deliverChat.trim();
    if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)?:.+/.test(deliver) && deliver !== "last") errors.deliver = "Write a chat as <channel>:<chat id>, e.g. telegram:123456.";
  } else if (f.deliver === "session") {
    const key = f.deliverSession.trim();
    if (!key) errors.deliver = "Name the session to append the answer to.";
    deliver = `session:${key}`;
  }
  const timeout = f.timeoutSeconds.trim() ? wholeNumber(f.timeoutSeconds) : undefined;
  if (timeout === null || timeout === 0) errors.timeoutSeconds = "A whole number of seconds, at least 1 (or empty for the default).";
  const jitter = f.jitterSeconds.trim() ? wholeNumber(f.jitterSeconds) : 0;
  if (jitter === null || jitter > 3600) errors.jitterSeconds = "A whole number of seconds, at most 3600.";
  const alertAfter = f.alertAfter.trim() ? wholeNumber(f.alertAfter) : 0;
  if (alertAfter === null) errors.alertAfter = "A whole number of failures (0: never).";
  if (Object.keys(errors).length) return { ok: false, errors };
  const spec: CronJobSpec = {
    name,
    schedule,
    prompt: f.prompt.trim(),
    enabled: f.enabled,
    jitterSeconds: jitter ?? 0,
    missed: f.missed,
    rerunInterrupted: f.rerunInterrupted,
    alertAfter: alertAfter ?? 3,
  };
  if (tz) spec.tz = tz;
  if (f.agentId) spec.agentId = f.agentId;
  if (session) spec.session = session;
  if (deliver) spec.deliver = deliver;
  if (typeof timeout === "number") spec.timeoutSeconds = timeout;
  return { ok: true, spec };
}

/** The `cron.edit` merge patch from the job as loaded to the job as edited; null when unchanged. */
export function editPatch(before: CronJobSpec, after: CronJobSpec): Record<string, unknown> | null {
  const patch = diffToMergePatch(before, after);
  return isPlainObject(patch) ? patch : null;
}

const PROBLEM_FIELDS: [string, FormField][] = [
  ["name", "name"],
  ["schedule", "schedule"],
  ["tz", "tz"],
  ["agentId", "agentId"],
  ["prompt", "prompt"],
  ["session", "session"],
  ["deliver", "deliver"],
  ["timeoutSeconds", "timeoutSeconds"],
  ["jitterSeconds", "jitterSeconds"],
  ["alertAfter", "alertAfter"],
];

/**
 * The gateway's `details.problems` (`"tz: `Mars/Base` is not an IANA time zone …"`) by the form
 * field each names (`schedule.cron: …` → schedule), the path taken off; the rest as they are.
 */
export function problemsByField(problems: string[]): { fields: Partial<Record<FormField, string>>; other: string[] } {
  const fields: Partial<Record<FormField, string>> = {};
  const other: string[] = [];
  for (const p of problems) {
    const m = /^([A-Za-z.]+):\s*(.*)$/s.exec(p);
    const hit = m && PROBLEM_FIELDS.find(([prefix]) => m[1] === prefix || m[1].startsWith(`${prefix}.`));
    if (m && hit) {
      const [, field] = hit;
      fields[field] = fields[field] ? `${fields[field]} ${m[2]}` : m[2];
    } else {
      other.push(p);
    }
  }
  return { fields, other };
}

/** `details.problems` of a gateway error, when it has them. */
export function problemsOf(details: unknown): string[] {
  if (!isPlainObject(details)) return [];
  const p = details.problems;
  return Array.isArray(p) ? p.filter((x): x is string => typeof x === "string") : [];
}
