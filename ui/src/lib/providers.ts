// The kinds of provider a person can add, and how each becomes a provider entry in the config.

export interface ProviderKind {
  kind: string;
  label: string;
  api: string;
  baseUrl: string;
  /** The id proposed for the first provider of this kind. */
  id: string;
  keyRequired: boolean;
  /** The base URL is asked for (local servers and compatible endpoints). */
  urlEditable: boolean;
  keyHint: string;
}

export const PROVIDER_KINDS: ProviderKind[] = [
  {
    kind: "anthropic",
    label: "Anthropic",
    api: "anthropic-messages",
    baseUrl: "https://api.anthropic.com",
    id: "anthropic",
    keyRequired: true,
    urlEditable: false,
    keyHint: "From console.anthropic.com → API keys (starts with sk-ant-).",
  },
  {
    kind: "openai",
    label: "OpenAI",
    api: "openai-completions",
    baseUrl: "https://api.openai.com/v1",
    id: "openai",
    keyRequired: true,
    urlEditable: false,
    keyHint: "From platform.openai.com → API keys (starts with sk-).",
  },
  {
    kind: "gemini",
    label: "Google Gemini",
    api: "google-generative-ai",
    baseUrl: "https://generativelanguage.googleapis.com",
    id: "google",
    keyRequired: true,
    urlEditable: false,
    keyHint: "From aistudio.google.com → Get API key.",
  },
  {
    kind: "openrouter",
    label: "OpenRouter",
    api: "openai-completions",
    baseUrl: "https://openrouter.ai/api/v1",
    id: "openrouter",
    keyRequired: true,
    urlEditable: false,
    keyHint: "From openrouter.ai → Keys (starts with sk-or-).",
  },
  {
    kind: "ollama",
    label: "Ollama (local)",
    api: "ollama",
    baseUrl: "http://127.0.0.1:11434",
    id: "ollama",
    keyRequired: false,
    urlEditable: true,
    keyHint: "Ollama needs no key unless you put it behind a proxy that asks for one.",
  },
  {
    kind: "compatible",
    label: "OpenAI-compatible URL",
    api: "openai-completions",
    baseUrl: "http://127.0.0.1:8080/v1",
    id: "local",
    keyRequired: false,
    urlEditable: true,
    keyHint: "llama.cpp, vLLM, LM Studio, Groq, DeepSeek, Mistral…: the key if the server wants one.",
  },
];

export function kindByName(kind: string): ProviderKind {
  return PROVIDER_KINDS.find((k) => k.kind === kind) ?? PROVIDER_KINDS[0];
}

/** The secret-store name of a provider's key. */
export function secretName(providerId: string): string {
  return `${providerId}-api-key`;
}

/** Provider ids are the first half of `provider/model`: lowercase letters, digits, `-` and `_`. */
export function validProviderId(id: string): boolean {
  return /^[a-z0-9][a-z0-9_-]{0,63}$/.test(id);
}

/** `base`, or `base-2`, `base-3`… whichever is not taken. */
export function uniqueId(base: string, taken: Iterable<string>): string {
  const set = new Set(taken);
  if (!set.has(base)) return base;
  for (let i = 2; ; i++) if (!set.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** Moves item `from` to index `to` (both clamped); returns a new array. */
export function moveItem<T>(list: T[], from: number, to: number): T[] {
  if (from < 0 || from >= list.length) return [...list];
  const target = Math.max(0, Math.min(list.length - 1, to));
  const out = [...list];
  const [item] = out.splice(from, 1);
  out.splice(target, 0, item);
  return out;
}
