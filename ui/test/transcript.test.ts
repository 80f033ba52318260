import { describe, expect, it } from "vitest";
import { exportFileName, forkOrigin, groupTranscript, originText, transcriptToJson, transcriptToMarkdown } from "../src/lib/transcript";
import type { Message } from "../src/lib/protocol";

const messages: Message[] = [
  { role: "user", content: [{ type: "text", text: "What is in my notes?" }, { type: "image", mimeType: "image/png", data: "AAAA" }], timestamp: Date.UTC(2025, 0, 31, 10, 0) },
  {
    role: "assistant",
    content: [
      { type: "thinking", thinking: "I should read the file." },
      { type: "text", text: "Let me look." },
      { type: "toolCall", id: "call-1", name: "read", arguments: { path: "notes.md" } },
    ],
    model: "openai/gpt-4o",
    usage: { input: 1200, output: 40, cacheRead: 0, cacheWrite: 0, cost: 0.0031 },
    timestamp: Date.UTC(2025, 0, 31, 10, 0, 5),
  },
  { role: "tool", toolCallId: "call-1", toolName: "read", content: [{ type: "text", text: "```\nbuy milk\n```" }], isError: false, durationMs: 12 },
  { role: "assistant", content: [{ type: "text", text: "Your notes say: **buy milk**." }], model: "openai/gpt-4o", usage: { input: 1300, output: 12, cost: null } },
  { role: "tool", toolCallId: "gone", toolName: "exec", content: [{ type: "text", text: "orphan" }], isError: true },
];

describe("groupTranscript", () => {
  it("pairs tool results with their calls and keeps reasoning and images", () => {
    const turns = groupTranscript(messages);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant", "assistant", "tool"]);
    expect(turns[0].parts.map((p) => p.kind)).toEqual(["text", "image"]);
    expect(turns[1].parts.map((p) => p.kind)).toEqual(["thinking", "text", "tool"]);
    const tool = turns[1].parts[2];
    expect(tool.kind === "tool" && tool.call).toMatchObject({ name: "read", arguments: { path: "notes.md" }, result: { text: "```\nbuy milk\n```", isError: false }, durationMs: 12 });
    expect(turns[1].usage?.cost).toBe(0.0031);
    expect(turns[3].orphanTool).toEqual({ name: "exec", text: "orphan", isError: true, images: 0 });
  });

  it("numbers turns in the whole transcript; a turn's fork point keeps its tool results", () => {
    const turns = groupTranscript(messages);
    expect(turns.map((t) => [t.seq, t.lastSeq])).toEqual([[1, 1], [2, 3], [4, 4], [5, 5]]);
    // A window that starts later in the session (chat.history's firstSeq).
    const later = groupTranscript(messages, 41);
    expect(later.map((t) => [t.seq, t.lastSeq])).toEqual([[41, 41], [42, 43], [44, 44], [45, 45]]);
    // Messages that carry their own position win over the count.
    const own = groupTranscript(messages.map((m, i) => ({ ...m, seq: 100 + 2 * i })), 41);
    expect(own.map((t) => [t.seq, t.lastSeq])).toEqual([[100, 100], [102, 104], [106, 106], [108, 108]]);
    // A compaction summary among numbered messages has no number: no fork point.
    const summary: Message = { role: "user", content: [{ type: "text", text: "Summary of earlier turns" }] };
    const mixed = groupTranscript([summary, { ...messages[0], seq: 7 }, { ...messages[3], seq: 8 }]);
    expect(mixed.map((t) => [t.seq, t.lastSeq])).toEqual([[undefined, undefined], [7, 7], [8, 8]]);
  });
});

describe("forkOrigin", () => {
  const sessions = [
    { key: "agent:main:main", sessionId: "s-1", title: null },
    { key: "agent:main:ideas", sessionId: "s-2", title: "Ideas" },
  ];
  it("names the parent and the fork point", () => {
    expect(forkOrigin({ parentId: "s-1", forkSeq: 4 }, sessions)).toEqual({ label: "agent:main:main", key: "agent:main:main", atMessage: 4 });
    expect(forkOrigin({ parentId: "s-2", forkSeq: null }, sessions)).toEqual({ label: "agent:main:ideas", key: "agent:main:ideas", atMessage: null });
    expect(forkOrigin({ parentId: "agent:main:ideas", forkSeq: 2 }, sessions)).toEqual({ label: "agent:main:ideas", key: "agent:main:ideas", atMessage: 2 });
  });
  it("shows an unknown parent by its id, and nothing for a session that is no fork", () => {
    expect(forkOrigin({ parentId: "s-9", forkSeq: 1 }, sessions)).toEqual({ label: "s-9", key: null, atMessage: 1 });
    expect(forkOrigin({}, sessions)).toBeNull();
  });
  it("says whether the session was forked or spawned", () => {
    expect(originText({ label: "Ideas", key: "k", atMessage: 3 })).toBe("forked from Ideas at message 3");
    expect(originText({ label: "agent:main:main", key: null, atMessage: null })).toBe("started by agent:main:main");
  });
});

describe("exports", () => {
  const session = { key: "agent:main:main", agentId: "main", channel: "webchat", createdAt: Date.UTC(2025, 0, 31) };

  it("writes Markdown with tool calls, results, reasoning, tokens and cost", () => {
    const md = transcriptToMarkdown(messages, session);
    expect(md).toMatch(/^# Session agent:main:main\n/);
    expect(md).toContain("- Channel: webchat");
    expect(md).toContain("## User · 2025-01-31T10:00:00.000Z\n\nWhat is in my notes?");
    expect(md).toContain("*[image: image/png]*");
    expect(md).toContain("<details><summary>Reasoning</summary>\n\nI should read the file.");
    expect(md).toContain('**Tool call: `read`**\n\n```json\n{\n  "path": "notes.md"\n}\n```');
    // A result holding a fence gets a longer fence around it.
    expect(md).toContain("**Result:**\n\n````\n```\nbuy milk\n```\n````");
    expect(md).toContain("*openai/gpt-4o · 1.2k in · 40 out · $0.0031*");
    expect(md).toContain("*openai/gpt-4o · 1.3k in · 12 out*");
    expect(md).toContain("## Tool result: exec");
    expect(md.endsWith("\n")).toBe(true);
  });

  it("writes JSON with the session and the messages as given", () => {
    const parsed = JSON.parse(transcriptToJson(messages, session));
    expect(parsed.session.key).toBe("agent:main:main");
    expect(parsed.messages).toEqual(messages);
    expect(typeof parsed.exportedAt).toBe("string");
  });

  it("names files safely", () => {
    const d = new Date(Date.UTC(2025, 0, 31, 12));
    expect(exportFileName("agent:main:main", "md", d)).toBe("hearth-agent-main-main-2025-01-31.md");
    expect(exportFileName("../../etc", "json", d)).toBe("hearth-..-..-etc-2025-01-31.json");
    expect(exportFileName("///", "json", d)).toBe("hearth-session-2025-01-31.json");
  });
});
