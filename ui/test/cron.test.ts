import { describe, expect, it } from "vitest";
import {
  atWords,
  cronAlertText,
  describeCron,
  editPatch,
  emptyJobForm,
  fireOutcome,
  intervalWords,
  jobForm,
  jobSpec,
  knownZone,
  mergeFire,
  ordinal,
  outputPreview,
  parseCron,
  parseInterval,
  problemsByField,
  problemsOf,
  readCron,
  relativeTime,
  scheduleWords,
  statusBadge,
  zoneChoices,
  zonedClock,
  type JobForm,
} from "../src/lib/cron";
import type { CronFire, CronJob } from "../src/lib/protocol";

describe("cron expressions in words", () => {
  it.each([
    ["0 8 * * 1-5", "weekdays at 08:00"],
    ["0 8 * * MON-FRI", "weekdays at 08:00"],
    ["0 19 * * 5", "Fridays at 19:00"],
    ["0 9 * * mon", "Mondays at 09:00"],
    ["0 9 * * 1,3,5", "Mondays, Wednesdays and Fridays at 09:00"],
    ["0 9 * * 1-4", "Monday to Thursday at 09:00"],
    ["0 10 * * 6,0", "weekends at 10:00"],
    ["0 10 * * FRI-SAT", "Fridays and Saturdays at 10:00"],
    ["0 10 * * 5-7", "Friday to Sunday at 10:00"],
    ["0 6 * * */2", "Tuesdays, Thursdays, Saturdays and Sundays at 06:00"],
    ["0 10 * * 6-7", "weekends at 10:00"],
    ["0 10 * * 0-6", "every day at 10:00"],
    ["0 0 * * *", "every day at 00:00"],
    ["30 7 * * *", "every day at 07:30"],
    ["0 8,12,18 * * *", "every day at 08:00, 12:00 and 18:00"],
    ["* * * * *", "every minute"],
    ["*/15 * * * *", "every 15 minutes"],
    ["0/30 * * * *", "every 30 minutes"],
    ["5/15 * * * *", "every hour at :05, :20, :35 and :50"],
    ["0 * * * *", "every hour"],
    ["30 * * * *", "every hour at :30"],
    ["0,30 * * * *", "every hour at :00 and :30"],
    ["0 */2 * * *", "every 2 hours"],
    ["0 */6 * * *", "every 6 hours"],
    ["15 */6 * * *", "every 6 hours at :15"],
    ["0 1-23/2 * * *", "every 2 hours from 01:00 to 23:00"],
    ["0 9-17 * * 1-5", "every hour from 09:00 to 17:00 on weekdays"],
    ["*/15 9-17 * * 1-5", "every 15 minutes from 09:00 to 17:45 on weekdays"],
    ["* 9 * * *", "every minute from 09:00 to 09:59"],
    ["*/30 * * * 1", "every 30 minutes on Mondays"],
    ["0 0 1 * *", "on the 1st of every month at 00:00"],
    ["0 9 1,15 * *", "on the 1st and 15th of every month at 09:00"],
    ["0 9 1,2,15 JAN,FEB,JUN * ", "on the 1st, 2nd and 15th of January, February and June at 09:00"],
    ["0 9 1-7 * *", "on the 1st to 7th of every month at 09:00"],
    ["0 0 */2 * *", "every 2nd day of the month at 00:00"],
    ["0 0 1 1 *", "on 1 January at 00:00"],
    ["0 12 25 DEC *", "on 25 December at 12:00"],
    ["0 0 1 1,7 *", "on the 1st of January and July at 00:00"],
    ["0 8 * 3-10 *", "every day in March to October at 08:00"],
    ["0 8 * 12 1-5", "weekdays in December at 08:00"],
    ["*/5 * * 1 *", "every 5 minutes in January"],
    ["0 0 13 * 5", "on the 13th of every month or on Fridays at 00:00"],
    ["@daily", "every day at 00:00"],
    ["@hourly", "every hour"],
    ["@weekly", "Sundays at 00:00"],
    ["@monthly", "on the 1st of every month at 00:00"],
    ["@yearly", "on 1 January at 00:00"],
    ["0 0 8 * * 1-5", "weekdays at 08:00"],
    ["30 0 8 * * *", "every day at 08:00:30"],
    ["*/30 * * * * *", "every 30 seconds"],
    ["* * * * * *", "every second"],
    ["*/10 * 9 * * *", "every 10 seconds from 09:00 to 09:59"],
    ["*/10 30 9 * * *", "every 10 seconds during 09:30"],
    ["  0  8 * *   1-5 ", "weekdays at 08:00"],
  ])("%s → %s", (expr, words) => {
    expect(readCron(expr)).toEqual({ ok: true, value: words });
  });

  it("says which field is wrong, as the gateway does", () => {
    const bad = (e: string) => {
      const r = readCron(e);
      return r.ok ? "" : r.error;
    };
    expect(bad("0 8 * *")).toMatch(/has 4 fields; a cron expression has 5/);
    expect(bad("60 8 * * *")).toBe("the minute field has 60, outside 0-59");
    expect(bad("0 25 * * *")).toBe("the hour field has 25, outside 0-23");
    expect(bad("0 8 * * 1-")).toMatch(/day-of-week field has ``/);
    expect(bad("0 8 * * FRI-MON")).toMatch(/runs backwards/);
    // Sunday is 0 (or 7), so a weekend written from Saturday runs backwards there too.
    expect(bad("0 10 * * SAT-SUN")).toMatch(/runs backwards/);
    expect(bad("*/0 * * * *")).toMatch(/step `0`; a step is a positive number/);
    expect(bad("0 8 1,,2 * *")).toMatch(/day-of-month field is empty/);
    expect(bad("0 8 * FOO *")).toMatch(/month field has `FOO`, which is not a number or a name/);
    expect(bad("@often")).toMatch(/not a cron shortcut/);
    expect(describeCron("nonsense")).toBeNull();
  });

  it("reads fields into value sets, 7 being Sunday", () => {
    const r = parseCron("0 8 * * 5-7");
    expect(r.ok && r.value.weekday.values).toEqual([0, 5, 6]);
    const q = parseCron("? * * * ?");
    expect(q.ok && q.value.minute.restricted).toBe(false);
    expect(q.ok && q.value.weekday.restricted).toBe(false);
  });

  it("writes ordinals", () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31].map(ordinal)).toEqual(["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]);
  });
});

describe("intervals and one-shot times", () => {
  it("reads intervals as the gateway does", () => {
    expect(parseInterval("30m")).toEqual({ ok: true, value: 1800 });
    expect(parseInterval("1h30m")).toEqual({ ok: true, value: 5400 });
    expect(parseInterval(" 1D ")).toEqual({ ok: true, value: 86400 });
    expect(parseInterval("2w")).toEqual({ ok: true, value: 1_209_600 });
    expect(parseInterval("")).toMatchObject({ ok: false, error: expect.stringMatching(/empty/) });
    expect(parseInterval("30")).toMatchObject({ ok: false, error: expect.stringMatching(/number without a unit/) });
    expect(parseInterval("30x")).toMatchObject({ ok: false, error: expect.stringMatching(/not an interval/) });
    expect(parseInterval("m")).toMatchObject({ ok: false });
    expect(parseInterval("0m")).toMatchObject({ ok: false, error: expect.stringMatching(/not a positive interval/) });
  });

  it("puts intervals in words", () => {
    expect(intervalWords(1800)).toBe("every 30 minutes");
    expect(intervalWords(3600)).toBe("every hour");
    expect(intervalWords(7200)).toBe("every 2 hours");
    expect(intervalWords(5400)).toBe("every 1 hour 30 minutes");
    expect(intervalWords(86400)).toBe("every day");
    expect(intervalWords(45)).toBe("every 45 seconds");
    expect(intervalWords(604_800)).toBe("every week");
  });

  it("shows an `at` time in the job's zone, or as written", () => {
    expect(atWords("2026-11-22T08:00:00+01:00", "Europe/Berlin")).toBe("once at 2026-11-22 08:00");
    expect(atWords("2026-11-22T07:00:00Z", "America/New_York")).toBe("once at 2026-11-22 02:00");
    expect(atWords("2026-11-22 08:00", "Europe/Berlin")).toBe("once at 2026-11-22 08:00");
    expect(atWords("2026-11-22T08:00", "Europe/Berlin")).toBe("once at 2026-11-22 08:00");
    expect(zonedClock(Date.UTC(2026, 6, 1, 6, 5), "Europe/Berlin")).toBe("2026-07-01 08:05");
    expect(zonedClock(Date.UTC(2026, 6, 1, 6, 5), "Not/AZone")).toMatch(/^2026-07-01 \d\d:05$/);
  });

  it("reads every kind of schedule", () => {
    expect(scheduleWords({ cron: "0 8 * * 1-5" })).toBe("weekdays at 08:00");
    expect(scheduleWords({ cron: "0 8 * *" })).toBe("not a valid cron expression");
    expect(scheduleWords({ every: "30m" })).toBe("every 30 minutes");
    expect(scheduleWords({ every: "soon" })).toBe("not a valid interval");
    expect(scheduleWords({ at: "2026-11-22 08:00" }, "UTC")).toBe("once at 2026-11-22 08:00");
  });
});

describe("times and fires for people", () => {
  const now = Date.UTC(2026, 10, 21, 12, 0, 0);
  it("says how far a time is", () => {
    expect(relativeTime(now + 10_000, now)).toBe("now");
    expect(relativeTime(now + 5 * 60_000, now)).toBe("in 5 min");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(relativeTime(now + 2 * 3_600_000 + 10 * 60_000, now)).toBe("in 2 h 10 min");
    expect(relativeTime(now + 3 * 3_600_000, now)).toBe("in 3 h");
    expect(relativeTime(now + 3 * 3_600_000 + 59.9 * 60_000, now)).toBe("in 4 h");
    expect(relativeTime(now + 86_400_000, now)).toBe("in 24 h");
    expect(relativeTime(now + 33.5 * 3_600_000, now)).toBe("in 34 h");
    expect(relativeTime(now - 3 * 86_400_000, now)).toBe("3 days ago");
  });

  const fire = (over: Partial<CronFire>): CronFire => ({
    id: "f1",
    jobId: "j1",
    jobName: "Morning briefing",
    scheduledAt: now,
    trigger: "manual",
    status: "completed",
    startedAt: now,
    inputTokens: 10,
    outputTokens: 5,
    ...over,
  });

  it("sums up a fire's outcome", () => {
    expect(fireOutcome(fire({ durationMs: 1200, deliveredTo: "telegram:42" }))).toBe("Morning briefing ran in 1.2 s; delivered to telegram:42.");
    expect(fireOutcome(fire({ status: "failed", error: "provider down" }))).toBe("Morning briefing failed: provider down");
    expect(fireOutcome(fire({ status: "interrupted" }))).toMatch(/interrupted/);
    expect(fireOutcome(fire({ status: "skipped" }))).toBe("Morning briefing was skipped.");
    expect(statusBadge("failed")).toEqual({ label: "failed", tone: "err" });
    expect(statusBadge("completed").tone).toBe("ok");
  });

  it("keeps history newest first, a fire replaced by its later state", () => {
    const a = fire({ id: "a", scheduledAt: now - 2000, status: "completed" });
    const b = fire({ id: "b", scheduledAt: now - 1000, status: "running" });
    const list = mergeFire([a], b);
    expect(list.map((f) => f.id)).toEqual(["b", "a"]);
    const done = mergeFire(list, { ...b, status: "completed" });
    expect(done.map((f) => `${f.id}:${f.status}`)).toEqual(["b:completed", "a:completed"]);
    expect(mergeFire(done, fire({ id: "c", scheduledAt: now }), 2).map((f) => f.id)).toEqual(["c", "b"]);
  });

  it("words alerts and previews", () => {
    expect(cronAlertText({ jobId: "j", jobName: "Digest", failures: 3, error: "timeout" })).toBe("Job Digest failed 3 times in a row: timeout");
    expect(outputPreview("Good morning!\nThree meetings.")).toBe("Good morning! …");
    expect(outputPreview("short")).toBe("short");
    expect(outputPreview("x".repeat(150), 20)).toBe(`${"x".repeat(19)}…`);
  });

  it("offers the browser's zone first and knows zones", () => {
    expect(zoneChoices("Europe/Berlin")[0]).toBe("Europe/Berlin");
    expect(zoneChoices("Europe/Berlin").filter((z) => z === "Europe/Berlin")).toHaveLength(1);
    expect(knownZone("Europe/Berlin")).toBe(true);
    expect(knownZone("Mars/Olympus")).toBe(false);
  });
});

describe("the job dialog", () => {
  const filled = (over: Partial<JobForm> = {}): JobForm => ({
    ...emptyJobForm("Europe/Berlin"),
    name: "Morning briefing",
    prompt: "  Summarise my day.  ",
    ...over,
  });

  it("turns the form into a job", () => {
    const r = jobSpec(filled());
    expect(r).toEqual({
      ok: true,
      spec: {
        name: "Morning briefing",
        schedule: { cron: "0 8 * * 1-5" },
        tz: "Europe/Berlin",
        prompt: "Summarise my day.",
        enabled: true,
        jitterSeconds: 0,
        missed: "skip",
        rerunInterrupted: false,
        alertAfter: 3,
      },
    });
    const every = jobSpec(
      filled({
        kind: "every",
        every: "30m",
        tz: "",
        agentId: "ops",
        session: "named",
        sessionKey: "inbox",
        deliver: "chat",
        deliverChat: "telegram:123456",
        timeoutSeconds: "120",
        jitterSeconds: "30",
        missed: "runOnce",
        rerunInterrupted: true,
        alertAfter: "0",
      }),
    );
    expect(every.ok && every.spec).toEqual({
      name: "Morning briefing",
      schedule: { every: "30m" },
      agentId: "ops",
      prompt: "Summarise my day.",
      session: "inbox",
      deliver: "telegram:123456",
      timeoutSeconds: 120,
      enabled: true,
      jitterSeconds: 30,
      missed: "runOnce",
      rerunInterrupted: true,
      alertAfter: 0,
    });
    const at = jobSpec(filled({ kind: "at", at: "2026-11-22 08:00", deliver: "session", deliverSession: "agent:main:main" }));
    expect(at.ok && at.spec.schedule).toEqual({ at: "2026-11-22 08:00" });
    expect(at.ok && at.spec.deliver).toBe("session:agent:main:main");
  });

  it("refuses what the gateway would, field by field", () => {
    const r = jobSpec(
      filled({
        name: "bad/name",
        cron: "0 8 * *",
        tz: "Mars/Olympus",
        prompt: " ",
        session: "named",
        deliver: "chat",
        deliverChat: "123456",
        timeoutSeconds: "0",
        jitterSeconds: "5000",
        alertAfter: "-1",
      }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).sort()).toEqual(["alertAfter", "deliver", "jitterSeconds", "name", "prompt", "schedule", "session", "timeoutSeconds", "tz"]);
    expect(r.errors.schedule).toMatch(/4 fields/);
    expect(jobSpec(filled({ kind: "every", every: "often" })).ok).toBe(false);
    expect(jobSpec(filled({ kind: "at", at: "" })).ok).toBe(false);
    expect(jobSpec(filled({ name: "" })).ok).toBe(false);
  });

  const stored: CronJob = {
    id: "j1",
    job: {
      name: "Inbox",
      schedule: { cron: "*/30 8-18 * * 1-5" },
      tz: "Europe/Berlin",
      prompt: "Check the inbox.",
      deliver: "session:agent:main:inbox",
      enabled: true,
      timeoutSeconds: 60,
      jitterSeconds: 0,
      missed: "skip",
      rerunInterrupted: false,
      alertAfter: 3,
    },
    tz: "Europe/Berlin",
    agentId: "main",
    consecutiveFailures: 0,
    createdAt: 1,
    updatedAt: 1,
  };

  it("loads a stored job and patches only what changed", () => {
    const form = jobForm(stored);
    expect(form).toMatchObject({ kind: "cron", cron: "*/30 8-18 * * 1-5", deliver: "session", deliverSession: "agent:main:inbox", timeoutSeconds: "60", session: "isolated" });
    const same = jobSpec(form);
    expect(same.ok && editPatch(stored.job, same.spec)).toBeNull();
    const changed = jobSpec({ ...form, kind: "every", every: "1h", deliver: "none", timeoutSeconds: "", enabled: false });
    expect(changed.ok && editPatch(stored.job, changed.spec)).toEqual({
      schedule: { cron: null, every: "1h" },
      deliver: null,
      timeoutSeconds: null,
      enabled: false,
    });
    const chat = jobForm({ ...stored, job: { ...stored.job, deliver: "telegram:42", session: "inbox", schedule: { at: "2026-11-22 08:00" } } });
    expect(chat).toMatchObject({ deliver: "chat", deliverChat: "telegram:42", session: "named", sessionKey: "inbox", kind: "at", at: "2026-11-22 08:00" });
  });

  it("puts the gateway's problems next to the fields they name", () => {
    const { fields, other } = problemsByField([
      "name: `x/y` may only have letters, digits, spaces, `-` and `_`",
      "schedule.cron: `0 8 * *` has 4 fields",
      "tz: `Mars/Base` is not an IANA time zone",
      "agentId: no agent `ops` (agents: main)",
      "deliver: `fax:1` is not a channel to deliver to",
      "jitterSeconds: at most 3600 (an hour)",
      "the job could not be stored",
    ]);
    expect(fields.name).toMatch(/may only have/);
    expect(fields.schedule).toBe("`0 8 * *` has 4 fields");
    expect(fields.tz).toMatch(/Mars/);
    expect(fields.agentId).toMatch(/no agent/);
    expect(fields.deliver).toMatch(/fax/);
    expect(fields.jitterSeconds).toMatch(/3600/);
    expect(other).toEqual(["the job could not be stored"]);
    expect(problemsOf({ problems: ["a", 1, "b"] })).toEqual(["a", "b"]);
    expect(problemsOf(null)).toEqual([]);
    expect(problemsOf({ problems: "x" })).toEqual([]);
  });
});
