// Slash commands the gateway answers itself (`/new`, `/reset`, `/stop`, `/status`, `/compact`,
// `/model`): recognised as the gateway does (hearth-core commands.rs) so the composer can offer
// completions and know what a reply means.

export interface SlashCommandInfo {
  name: string;
  args?: string;
  help: string;
}

export const SLASH_COMMANDS: SlashCommandInfo[] = [
  { name: "/new", help: "Start a new session; the old one stays readable in Sessions" },
  { name: "/reset", help: "Same as /new" },
  { name: "/stop", help: "Stop the answer being written" },
  { name: "/status", help: "Model, tokens, cost and context fill of this session" },
  { name: "/compact", help: "Summarise older turns now to free context" },
  { name: "/model", args: "[provider/model | default]", help: "Show or switch this session's model" },
];

export type SlashCommand =
  | { kind: "reset" }
  | { kind: "stop" }
  | { kind: "status" }
  | { kind: "compact" }
  | { kind: "model"; choice: { kind: "show" } | { kind: "default" } | { kind: "set"; model: string } };

/**
 * Recognises a whole message as a command, the way the gateway does: the command word
 * (case-insensitive, surrounding spaces ignored), with one argument only for `/model`.
 */
export function parseSlash(text: string): SlashCommand | null {
  const t = text.trim();
  if (!t.startsWith("/")) return null;
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(t);
  if (!m) return null;
  const word = m[1].toLowerCase();
  const arg = m[2]?.trim() || undefined;
  switch (word) {
    case "/new":
    case "/reset":
      return arg === undefined ? { kind: "reset" } : null;
    case "/stop":
      return arg === undefined ? { kind: "stop" } : null;
    case "/status":
      return arg === undefined ? { kind: "status" } : null;
    case "/compact":
      return arg === undefined ? { kind: "compact" } : null;
    case "/model":
      if (arg === undefined) return { kind: "model", choice: { kind: "show" } };
      if (/\s/.test(arg)) return null;
      if (arg.toLowerCase() === "default") return { kind: "model", choice: { kind: "default" } };
      return { kind: "model", choice: { kind: "set", model: arg } };
    default:
      return null;
  }
}

export interface Completion {
  /** What the composer's text becomes when this is chosen. */
  value: string;
  label: string;
  help: string;
}

/** Completions for what is typed so far: command names, then `/model`'s argument. */
export function slashCompletions(input: string, models: string[] = []): Completion[] {
  if (!input.startsWith("/") || input.includes("\n")) return [];
  const modelArg = /^\/model\s+(\S*)$/i.exec(input);
  if (modelArg) {
    const prefix = modelArg[1].toLowerCase();
    return ["default", ...models]
      .filter((m) => m.toLowerCase().startsWith(prefix) || (prefix && m.toLowerCase().includes(prefix)))
      .slice(0, 12)
      .map((m) => ({
        value: `/model ${m}`,
        label: m,
        help: m === "default" ? "Back to the agent's model" : "Use this model for the session",
      }));
  }
  if (/\s/.test(input)) return [];
  const typed = input.toLowerCase();
  return SLASH_COMMANDS.filter((c) => c.name.startsWith(typed) && c.name !== typed).map((c) => ({
    value: c.args ? `${c.name} ` : c.name,
    label: c.args ? `${c.name} ${c.args}` : c.name,
    help: c.help,
  }));
}
