import { describe, expect, it } from "vitest";
import {
  actionLabel,
  auditIso,
  auditSummary,
  auditTime,
  budgetExceededText,
  budgetPercent,
  budgetShare,
  budgetTone,
  entryKey,
  kindLabel,
  newestFirst,
  periodLabel,
  scopeLabel,
  searchParams,
} from "../src/lib/audit";

const ts = Date.UTC(2026, 10, 21, 12, 0, 0);

describe("audit rows", () => {
  it("sums up each kind in one line", () => {
    expect(auditSummary({ ts, kind: "inbound", channel: "telegram", account: "default", chatId: "42", peerKind: "direct", sender: "telegram:42", messageId: "7", chars: 12, attachments: 0 })).toBe(
      "telegram/default · from telegram:42 · in 42 · direct · 12 chars",
    );
    expect(auditSummary({ ts, kind: "inbound", channel: "slack", sender: "slack:U1", chars: 3, attachments: 2, text: "hi!" })).toBe("slack · from slack:U1 · 3 chars · 2 attachments · “hi!”");
    expect(auditSummary({ ts, kind: "route", channel: "telegram", sender: "telegram:42", person: "alice", agentId: "ops", binding: "telegram-peer-42", matchedBy: "peer", sessionKey: "agent:ops:direct:alice" })).toBe(
      "alice → ops · by peer · binding telegram-peer-42 · session agent:ops:direct:alice",
    );
    expect(
      auditSummary({ ts, kind: "model.request", runId: "r", provider: "fake", model: "fake-model", inputTokens: 1200, outputTokens: 30, cost: 0.0042, status: "ok", agentId: "main", error: null }),
    ).toBe("fake/fake-model · ok · 1.2k in / 30 out · $0.0042 · agent main");
    expect(auditSummary({ ts, kind: "model.request", provider: "fake", model: "fake/fake-model", status: "error", error: "HTTP 500" })).toBe("fake/fake-model · error · error HTTP 500");
    expect(auditSummary({ ts, kind: "tool.call", tool: "exec", argsSha256: "ab", status: "refused", approval: "deny", durationMs: 4, sessionKey: "agent:main:main" })).toBe(
      "exec · refused · approval deny · 4 ms · session agent:main:main",
    );
    expect(auditSummary({ ts, kind: "outbound", channel: "discord", account: "default", chatId: "c1", status: "gaveUp", attempts: 5, error: "HTTP 403" })).toBe(
      "discord/default · to c1 · gaveUp · 5 attempts · error HTTP 403",
    );
    expect(auditSummary({ ts, kind: "outbound", channel: "discord", chatId: "c1", status: "sent", attempts: 1 })).toBe("discord · to c1 · sent");
    expect(auditSummary({ ts, kind: "config.change", actor: "ui", paths: ["bindings", "agents.list"], oldHash: "a", newHash: "b" })).toBe("by ui · bindings, agents.list");
    expect(auditSummary({ ts, kind: "budget", scope: "*", period: "day", spent: 5.5, limit: 5, action: "stop" })).toBe("* · day · $5.50 of $5.00 · → stop");
    expect(auditSummary({ ts, kind: "identity.link", name: "alice", identities: ["telegram:1", "discord:2"], action: "confirmed" })).toBe("confirmed · alice · telegram:1, discord:2");
  });

  it("shows unknown kinds field by field", () => {
    expect(auditSummary({ ts, kind: "future.thing", a: 1, b: { c: true }, d: null })).toBe('a=1 b={"c":true} d=');
    expect(kindLabel("future.thing")).toBe("future.thing");
    expect(kindLabel("tool.call")).toBe("Tool call");
  });

  it("writes times and keys", () => {
    expect(auditTime(ts, ts + 1000)).not.toMatch(/2026/);
    expect(auditTime(ts, ts + 3 * 86_400_000)).toMatch(/2026/);
    expect(auditTime(Number.NaN)).toBe("—");
    expect(auditTime(1e20)).toBe("—");
    expect(auditIso(ts)).toBe("2026-11-21T12:00:00.000Z");
    expect(auditIso(1e20)).toBeUndefined();
    expect(entryKey({ ts, kind: "route" }, 3)).toBe(`${ts}-route-3`);
    const sorted = newestFirst([
      { ts: 1, kind: "a" },
      { ts: 3, kind: "b" },
      { ts: 1, kind: "c" },
      { ts: 2, kind: "d" },
    ]);
    expect(sorted.map((e) => e.kind)).toEqual(["b", "d", "a", "c"]);
  });

  it("builds search parameters", () => {
    expect(searchParams({ query: " ", kind: "", log: "", sinceHours: 0 }, 50, ts)).toEqual({ limit: 50 });
    expect(searchParams({ query: " agent:ops ", kind: "route", log: "support", sinceHours: 24 }, 200, ts)).toEqual({
      limit: 200,
      query: "agent:ops",
      kind: "route",
      log: "support",
      sinceMs: ts - 86_400_000,
    });
  });
});

describe("budgets", () => {
  it("turns spending into a share and a percentage", () => {
    expect(budgetShare(2.5, 10)).toBe(0.25);
    expect(budgetShare(12, 10)).toBe(1);
    expect(budgetShare(0, 0)).toBe(1);
    expect(budgetPercent(2.5, 10)).toBe("25%");
    expect(budgetPercent(13, 10)).toBe("130%");
    expect(budgetPercent(0.004, 1)).toBe("0.4%");
    expect(budgetPercent(0, 0)).toBe("—");
  });

  it("colours the bar by how close the cap is", () => {
    expect(budgetTone({ spent: 1, limit: 10, exceeded: false })).toBe("ok");
    expect(budgetTone({ spent: 8, limit: 10, exceeded: false })).toBe("warn");
    expect(budgetTone({ spent: 10, limit: 10, exceeded: false })).toBe("err");
    expect(budgetTone({ spent: 1, limit: 10, exceeded: true })).toBe("err");
  });

  it("says it in words", () => {
    expect(scopeLabel("*")).toBe("Everything");
    expect(scopeLabel("agent:ops")).toBe("Agent ops");
    expect(scopeLabel("telegram:1")).toBe("telegram:1");
    expect(periodLabel("day")).toBe("today");
    expect(periodLabel("month")).toBe("this month");
    expect(actionLabel("switch", "fake/cheap")).toBe("switch to fake/cheap");
    expect(actionLabel("stop")).toBe("stop answering");
    expect(budgetExceededText({ scope: "agent:ops", period: "day", limit: 5, spent: 5.2, action: "stop" })).toBe(
      "Budget reached: Agent ops spent $5.20 of $5.00 today; further runs are refused.",
    );
    expect(budgetExceededText({ scope: "*", period: "month", limit: 50, spent: 51, action: "switch", model: "fake/cheap" })).toBe(
      "Budget reached: Everything spent $51.00 of $50.00 this month; now using fake/cheap.",
    );
  });
});
