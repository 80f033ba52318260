import { describe, expect, it } from "vitest";
import { callDuration, hookStatusBadge, hooksPath, mappingWords, mergeCall } from "../src/lib/hooks";
import type { HookRun } from "../src/lib/protocol";

function call(id: string, receivedAt: number, extra: Partial<HookRun> = {}): HookRun {
  return { id, hook: "github", status: "completed", receivedAt, endedAt: receivedAt + 4_123, ...extra };
}

describe("webhook calls", () => {
  it("shows each status as a badge", () => {
    expect(hookStatusBadge("queued")).toEqual({ label: "queued", tone: "" });
    expect(hookStatusBadge("running").tone).toBe("warn");
    expect(hookStatusBadge("completed").tone).toBe("ok");
    expect(hookStatusBadge("failed").tone).toBe("err");
    expect(hookStatusBadge("interrupted").label).toBe("interrupted");
  });

  it("measures a call from its arrival to its end", () => {
    expect(callDuration(call("a", 1_000))).toBe(4_123);
    expect(callDuration(call("a", 1_000, { status: "running", endedAt: null }))).toBeNull();
    expect(callDuration(call("a", 1_000, { status: "running", endedAt: undefined }))).toBeNull();
    expect(callDuration(call("a", 1_000, { endedAt: 900 }))).toBe(0);
  });

  it("merges events newest first, replacing a call by its id", () => {
    const a = call("0193-a", 1_000);
    const b = call("0193-b", 2_000);
    let calls = mergeCall([b, a], call("0193-c", 3_000, { status: "queued", endedAt: null }));
    expect(calls.map((c) => c.id)).toEqual(["0193-c", "0193-b", "0193-a"]);
    calls = mergeCall(calls, call("0193-c", 3_000, { output: "done" }));
    expect(calls.map((c) => c.id)).toEqual(["0193-c", "0193-b", "0193-a"]);
    expect(calls[0].output).toBe("done");
    // Same millisecond: the later id first, as the gateway lists them.
    calls = mergeCall(calls, call("0193-d", 3_000));
    expect(calls.map((c) => c.id)).toEqual(["0193-d", "0193-c", "0193-b", "0193-a"]);
    expect(mergeCall(calls, call("0193-e", 500), 4).map((c) => c.id)).toEqual(["0193-d", "0193-c", "0193-b", "0193-a"]);
    expect(mergeCall(calls, call("0193-e", 5_000), 2).map((c) => c.id)).toEqual(["0193-e", "0193-d"]);
  });

  it("keeps a call that has ended over an older record of it", () => {
    const ended = [call("x", 1_000, { status: "completed", output: "answer" })];
    expect(mergeCall(ended, call("x", 1_000, { status: "running", endedAt: null }))).toBe(ended);
    expect(mergeCall(ended, call("x", 1_000, { status: "queued", endedAt: null }))[0].output).toBe("answer");
    const running = [call("x", 1_000, { status: "running", endedAt: null })];
    expect(mergeCall(running, call("x", 1_000, { status: "failed", error: "no" }))[0].status).toBe("failed");
  });
});

describe("webhook mappings", () => {
  it("says what an agent mapping does, and where its answer goes", () => {
    expect(mappingWords({ name: "github", action: "agent", deliver: "telegram:123456", signature: "github", ratePerMinute: 60 })).toEqual({
      action: "run the agent",
      agent: "the default agent",
      deliver: "telegram:123456",
      signature: "GitHub signature",
      rate: "60 per minute",
    });
    const stripe = mappingWords({ name: "stripe", action: "agent", agentId: "billing", signature: "stripe", ratePerMinute: 5 });
    expect(stripe.agent).toBe("billing");
    expect(stripe.deliver).toBe("only the call's record");
    expect(stripe.signature).toBe("Stripe signature");
    expect(mappingWords({ name: "n", action: "agent", deliver: "none", ratePerMinute: 1 }).deliver).toBe("only the call's record");
  });

  it("says a wake mapping runs the heartbeat with the webhook token", () => {
    const w = mappingWords({ name: "nudge", action: "wake", agentId: "ignored", deliver: "telegram:1", ratePerMinute: 60 });
    expect(w.action).toBe("wake the heartbeat");
    expect(w.agent).toBe("—");
    expect(w.deliver).toBe("the heartbeat's target");
    expect(w.signature).toBe("webhook token");
  });

  it("shows the path without a trailing slash", () => {
    expect(hooksPath("/hooks")).toBe("/hooks");
    expect(hooksPath("/in/hooks/")).toBe("/in/hooks");
    expect(hooksPath(" ")).toBe("/hooks");
  });
});
