// Transcripts as people read them: tool calls paired with their results, and exports to
// Markdown and JSON for download.

import { formatCost, formatTokens } from "./usage";
import type { ContentBlock, Message, SessionInfo } from "./protocol";

export interface ToolCallView {
  id: string;
  name: string;
  arguments: unknown;
  /** The tool message answering it, once there is one. */
  result?: { text: string; isError: boolean; images: number };
  durationMs?: number;
  running?: boolean;
}

export type TurnPart =
  | { kind: "text"; text: string }
  | { kind: "thinking"; text: string }
  | { kind: "image"; mimeType: string; data: string }
  | { kind: "tool"; call: ToolCallView };

export interface TurnView {
  role: "user" | "assistant" | "system" | "tool";
  parts: TurnPart[];
  model?: string | null;
  usage?: Message["usage"];
  timestamp?: number;
  /** A tool result whose call is not in the window shown. */
  orphanTool?: { name: string; text: string; isError: boolean };
  /** The 1-based position of this turn's message in the session's whole transcript. */
  seq?: number;
  /**
   * The position of the last message the turn shows: its own, or the last tool result
   * attached to one of its calls. A fork through here keeps every call answered.
   */
  lastSeq?: number;
}

export function textOf(content: ContentBlock[]): string {
  return content
    .filter((b): b is Extract<ContentBlock, { type: "text" }> => b.type === "text")
    .map((b) => b.text)
    .join("");
}

/**
 * Messages grouped for display: each tool result attached to the call it answers. Each turn
 * knows where it stands in the whole transcript, for a fork: from the message's own `seq`, else
 * (from a gateway that does not number messages) counted from `firstSeq`, the position of
 * `messages[0]`.
 */
export function groupTranscript(messages: Message[], firstSeq = 1): TurnView[] {
  const calls = new Map<string, ToolCallView>();
  const owners = new Map<string, TurnView>();
  const turns: TurnView[] = [];
  // When the gateway numbers its messages, one without a number (a compaction summary shown
  // in its place) is no point to fork at.
  const numbered = messages.some((m) => m.seq !== undefined && m.seq !== null);
  messages.forEach((m, i) => {
    const seq = m.seq ?? (numbered ? undefined : firstSeq + i);
    if (m.role === "tool") {
      const call = m.toolCallId ? calls.get(m.toolCallId) : undefined;
      const result = {
        text: textOf(m.content),
        isError: !!m.isError,
        images: m.content.filter((b) => b.type === "image").length,
      };
      if (call) {
        call.result = result;
        if (m.durationMs !== undefined && m.durationMs !== null) call.durationMs = m.durationMs;
        const owner = owners.get(call.id);
        if (owner && seq !== undefined) owner.lastSeq = Math.max(owner.lastSeq ?? seq, seq);
      } else turns.push({ role: "tool", parts: [], timestamp: m.timestamp, orphanTool: { name: m.toolName ?? "tool", ...result }, seq, lastSeq: seq });
      return;
    }
    const parts: TurnPart[] = [];
    for (const b of m.content) {
      if (b.type === "text") {
        if (b.text) parts.push({ kind: "text", text: b.text });
      } else if (b.type === "thinking") {
        if (b.thinking) parts.push({ kind: "thinking", text: b.thinking });
      } else if (b.type === "image") {
        parts.push({ kind: "image", mimeType: b.mimeType, data: b.data });
      } else if (b.type === "toolCall") {
        const call: ToolCallView = { id: b.id, name: b.name, arguments: b.arguments };
        calls.set(b.id, call);
        parts.push({ kind: "tool", call });
      }
    }
    const turn: TurnView = { role: m.role, parts, model: m.model, usage: m.usage, timestamp: m.timestamp, seq, lastSeq: seq };
    for (const p of parts) if (p.kind === "tool") owners.set(p.call.id, turn);
    turns.push(turn);
  });
  return turns;
}

function fence(text: string, lang = ""): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}${lang}\n${text}\n${ticks}`;
}

function stringify(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v, null, 2) ?? "";
  } catch {
    return String(v);
  }
}

const ROLE_TITLE: Record<string, string> = { user: "User", assistant: "Assistant", system: "System", tool: "Tool" };

/** The transcript as a Markdown document. */
export function transcriptToMarkdown(messages: Message[], session?: Partial<SessionInfo> & { key: string }): string {
  const out: string[] = [];
  out.push(`# ${session?.title || `Session ${session?.key ?? ""}`.trim()}`);
  if (session) {
    const meta = [`- Key: \`${session.key}\``];
    if (session.agentId) meta.push(`- Agent: ${session.agentId}`);
    if (session.channel) meta.push(`- Channel: ${session.channel}`);
    if (session.sender) meta.push(`- Sender: ${session.sender}`);
    if (session.createdAt) meta.push(`- Started: ${new Date(session.createdAt).toISOString()}`);
    out.push(meta.join("\n"));
  }
  for (const turn of groupTranscript(messages)) {
    const when = turn.timestamp ? ` · ${new Date(turn.timestamp).toISOString()}` : "";
    if (turn.orphanTool) {
      out.push(`## Tool result: ${turn.orphanTool.name}${when}\n\n${fence(turn.orphanTool.text)}`);
      continue;
    }
    const body: string[] = [];
    for (const p of turn.parts) {
      if (p.kind === "text") body.push(p.text);
      else if (p.kind === "thinking") body.push(`<details><summary>Reasoning</summary>\n\n${p.text}\n\n</details>`);
      else if (p.kind === "image") body.push(`*[image: ${p.mimeType}]*`);
      else {
        body.push(`**Tool call: \`${p.call.name}\`**\n\n${fence(stringify(p.call.arguments), "json")}`);
        if (p.call.result) {
          body.push(`**Result${p.call.result.isError ? " (error)" : ""}:**\n\n${fence(p.call.result.text)}`);
        }
      }
    }
    if (turn.role === "assistant" && turn.usage) {
      const u = turn.usage;
      const bits = [`${formatTokens(u.input)} in`, `${formatTokens(u.output)} out`];
      if (u.cacheRead) bits.push(`${formatTokens(u.cacheRead)} cache read`);
      if (u.cost !== null && u.cost !== undefined) bits.push(formatCost(u.cost));
      body.push(`*${turn.model ? `${turn.model} · ` : ""}${bits.join(" · ")}*`);
    }
    out.push(`## ${ROLE_TITLE[turn.role] ?? turn.role}${when}\n\n${body.join("\n\n")}`);
  }
  return `${out.join("\n\n")}\n`;
}

/** The transcript as JSON: the session's facts and the messages exactly as the gateway gave them. */
export function transcriptToJson(messages: Message[], session?: Partial<SessionInfo> & { key: string }): string {
  return `${JSON.stringify({ session: session ?? null, exportedAt: new Date().toISOString(), messages }, null, 2)}\n`;
}

/** A file name for an export: `hearth-agent-main-main-2025-01-31.md`. */
export function exportFileName(key: string, ext: "md" | "json", now: Date = new Date()): string {
  const safe = key.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "session";
  return `hearth-${safe}-${now.toISOString().slice(0, 10)}.${ext}`;
}

export interface SessionOrigin {
  /** The parent's key, else its session id. */
  label: string;
  /** The parent's key, when it is among the sessions listed. */
  key: string | null;
  /** The fork point; null for a sub-agent's session, which was spawned, not forked. */
  atMessage: number | null;
}

/**
 * Where a forked (or spawned) session came from: the parent, found by its session id or its
 * key among `sessions`, and the fork point. Null for a session with no parent.
 */
export function forkOrigin(
  info: Pick<SessionInfo, "parentId" | "forkSeq">,
  sessions: Pick<SessionInfo, "key" | "sessionId">[],
): SessionOrigin | null {
  if (!info.parentId) return null;
  const parent = sessions.find((s) => s.sessionId === info.parentId) ?? sessions.find((s) => s.key === info.parentId);
  return {
    // The key, not the title: a fork inherits its parent's title with its first message.
    label: parent ? parent.key : info.parentId,
    key: parent ? parent.key : null,
    atMessage: info.forkSeq ?? null,
  };
}

/** "forked from X at message N", or "started by X" for a sub-agent's session. */
export function originText(o: SessionOrigin): string {
  return o.atMessage !== null ? `forked from ${o.label} at message ${o.atMessage}` : `started by ${o.label}`;
}
