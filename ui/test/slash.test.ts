import { describe, expect, it } from "vitest";
import { parseSlash, slashCompletions } from "../src/lib/slash";

describe("parseSlash (as the gateway recognises commands)", () => {
  it("recognises whole-message commands, case-insensitive, spaces trimmed", () => {
    expect(parseSlash("/new")).toEqual({ kind: "reset" });
    expect(parseSlash("  /RESET ")).toEqual({ kind: "reset" });
    expect(parseSlash("/stop")).toEqual({ kind: "stop" });
    expect(parseSlash("/status")).toEqual({ kind: "status" });
    expect(parseSlash("/compact")).toEqual({ kind: "compact" });
  });

  it("gives /model its one argument", () => {
    expect(parseSlash("/model")).toEqual({ kind: "model", choice: { kind: "show" } });
    expect(parseSlash("/model default")).toEqual({ kind: "model", choice: { kind: "default" } });
    expect(parseSlash("/model DEFAULT")).toEqual({ kind: "model", choice: { kind: "default" } });
    expect(parseSlash("/model openai/gpt-4o")).toEqual({ kind: "model", choice: { kind: "set", model: "openai/gpt-4o" } });
    expect(parseSlash("/model a b")).toBeNull();
  });

  it("treats anything else as an ordinary message", () => {
    expect(parseSlash("hello")).toBeNull();
    expect(parseSlash("/unknown")).toBeNull();
    expect(parseSlash("/status please")).toBeNull();
    expect(parseSlash("please /status")).toBeNull();
    expect(parseSlash("/")).toBeNull();
  });
});

describe("slashCompletions", () => {
  it("offers the commands that start with what is typed", () => {
    expect(slashCompletions("/").map((c) => c.label)).toEqual(["/new", "/reset", "/stop", "/status", "/compact", "/model [provider/model | default]"]);
    expect(slashCompletions("/st").map((c) => c.value)).toEqual(["/stop", "/status"]);
    expect(slashCompletions("/MO").map((c) => c.value)).toEqual(["/model "]);
  });

  it("offers nothing for a finished command, plain text or several lines", () => {
    expect(slashCompletions("/status")).toEqual([]);
    expect(slashCompletions("hello")).toEqual([]);
    expect(slashCompletions("/new\nmore")).toEqual([]);
    expect(slashCompletions("")).toEqual([]);
  });

  it("completes /model's argument from the configured models", () => {
    const models = ["openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"];
    expect(slashCompletions("/model ", models).map((c) => c.label)).toEqual(["default", ...models]);
    expect(slashCompletions("/model open", models).map((c) => c.value)).toEqual(["/model openai/gpt-4o", "/model openai/gpt-4o-mini"]);
    expect(slashCompletions("/model sonnet", models).map((c) => c.value)).toEqual(["/model anthropic/claude-sonnet-4-5"]);
  });
});
