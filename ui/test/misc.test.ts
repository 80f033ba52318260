import { describe, expect, it } from "vitest";
import { formatAgo, formatDuration, prettyJson } from "../src/lib/format";
import { moveItem, secretName, uniqueId, validProviderId } from "../src/lib/providers";
import { href, parseHash } from "../src/lib/router.svelte";

describe("router", () => {
  it("parses pages and parameters", () => {
    expect(parseHash("")).toEqual({ page: "overview", param: null });
    expect(parseHash("#/chat")).toEqual({ page: "chat", param: null });
    expect(parseHash("#/chat/work")).toEqual({ page: "chat", param: "work" });
    expect(parseHash("#/sessions/agent%3Amain%3Amain")).toEqual({ page: "sessions", param: "agent:main:main" });
    expect(parseHash("#/welcome")).toEqual({ page: "welcome", param: null });
    expect(parseHash("#/people")).toEqual({ page: "people", param: null });
    expect(parseHash("#/audit")).toEqual({ page: "audit", param: null });
    expect(parseHash("#/nope/x")).toEqual({ page: "overview", param: null });
    expect(parseHash("#/chat/%E0%A4%A")).toEqual({ page: "chat", param: null });
  });
  it("builds links that parse back", () => {
    expect(href("sessions", "agent:main:main")).toBe("#/sessions/agent%3Amain%3Amain");
    expect(parseHash(href("chat", "a/b c"))).toEqual({ page: "chat", param: "a/b c" });
  });
});

describe("provider helpers", () => {
  it("orders models by moving one", () => {
    expect(moveItem(["a", "b", "c"], 2, 0)).toEqual(["c", "a", "b"]);
    expect(moveItem(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
    expect(moveItem(["a", "b", "c"], 0, 99)).toEqual(["b", "c", "a"]);
    expect(moveItem(["a", "b"], 5, 0)).toEqual(["a", "b"]);
  });
  it("names ids and secrets", () => {
    expect(uniqueId("openai", ["openai", "openai-2"])).toBe("openai-3");
    expect(uniqueId("local", [])).toBe("local");
    expect(validProviderId("my-llm_2")).toBe(true);
    expect(validProviderId("My LLM")).toBe(false);
    expect(validProviderId("a/b")).toBe(false);
    expect(secretName("openrouter")).toBe("openrouter-api-key");
  });
});

describe("format", () => {
  it("writes durations", () => {
    expect(formatDuration(250)).toBe("250 ms");
    expect(formatDuration(1500)).toBe("1.5 s");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatDuration(3 * 3600_000 + 60_000)).toBe("3 h 1 min");
    expect(formatDuration(2 * 86400_000 + 3600_000)).toBe("2 d 1 h");
  });
  it("writes ages", () => {
    const now = 1_000_000_000;
    expect(formatAgo(now - 10_000, now)).toBe("just now");
    expect(formatAgo(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(formatAgo(now - 3 * 3600_000, now)).toBe("3 h ago");
  });
  it("pretty-prints JSON arguments, including JSON in strings", () => {
    expect(prettyJson({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson("plain")).toBe("plain");
  });
});
