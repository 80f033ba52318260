/// <reference types="node" />
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildForm, fieldIds, humanize, parseFieldInput, resolveRef, type FormField } from "../src/lib/schemaForm";

function find(root: FormField, id: string): FormField {
  const stack = [root];
  while (stack.length) {
    const f = stack.pop() as FormField;
    if (f.id === id) return f;
    stack.push(...(f.fields ?? []));
  }
  throw new Error(`no field ${id}`);
}

const schema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    $schema: { type: ["string", "null"] },
    port: { type: "integer", format: "uint16", minimum: 0, maximum: 65535, description: "Port.", default: 18789 },
    ratio: { type: "number" },
    name: { type: ["string", "null"], description: "Display name." },
    enabled: { type: "boolean", default: true },
    mode: { $ref: "#/$defs/Mode", description: "Which mode.", default: "hot" },
    level: { type: "string", enum: ["info", "debug"] },
    tags: { type: "array", items: { type: "string" } },
    kinds: { type: "array", items: { $ref: "#/$defs/Mode" } },
    nested: { $ref: "#/$defs/Nested" },
    maybe: { anyOf: [{ $ref: "#/$defs/Nested" }, { type: "null" }], description: "Optional nested." },
    map: { type: "object", additionalProperties: { type: "string" } },
    list: { type: "array", items: { $ref: "#/$defs/Nested" } },
    secret: { anyOf: [{ type: "string" }, { type: "object", properties: { secret: { type: "string" } } }] },
    anything: true,
  },
  required: ["port"],
  $defs: {
    Mode: { oneOf: [{ type: "string", const: "hot", description: "Live." }, { type: "string", const: "off", description: "Never." }] },
    Nested: { type: "object", properties: { deep: { type: "integer" } } },
  },
};

describe("buildForm", () => {
  const form = buildForm(schema);

  it("makes an object of fields, leaving out $schema", () => {
    expect(form.kind).toBe("object");
    expect(form.fields?.map((f) => f.key)).not.toContain("$schema");
  });

  it("maps scalar types with their limits, defaults and help", () => {
    expect(find(form, "port")).toMatchObject({ kind: "integer", minimum: 0, maximum: 65535, default: 18789, description: "Port.", required: true, label: "Port" });
    expect(find(form, "ratio").kind).toBe("number");
    expect(find(form, "enabled")).toMatchObject({ kind: "boolean", default: true, required: false });
    expect(find(form, "name")).toMatchObject({ kind: "string", nullable: true });
  });

  it("turns oneOf-of-const and enum into choices, with their descriptions", () => {
    expect(find(form, "mode")).toMatchObject({
      kind: "enum",
      description: "Which mode.",
      default: "hot",
      options: [{ value: "hot", description: "Live." }, { value: "off", description: "Never." }],
    });
    expect(find(form, "level").options?.map((o) => o.value)).toEqual(["info", "debug"]);
  });

  it("edits arrays of strings (and of string enums) as lists", () => {
    expect(find(form, "tags").kind).toBe("stringArray");
    expect(find(form, "kinds").kind).toBe("stringArray");
  });

  it("follows $ref into objects and unwraps nullable anyOf", () => {
    expect(find(form, "nested.deep").kind).toBe("integer");
    expect(find(form, "maybe")).toMatchObject({ kind: "object", nullable: true, description: "Optional nested." });
    expect(find(form, "maybe.deep").path).toEqual(["maybe", "deep"]);
  });

  it("shows what it cannot edit as read-only", () => {
    expect(find(form, "map")).toMatchObject({ kind: "readonly", readonlyReason: "a map of named entries" });
    expect(find(form, "list")).toMatchObject({ kind: "readonly", readonlyReason: "a list of objects" });
    expect(find(form, "secret").kind).toBe("readonly");
    expect(find(form, "anything").kind).toBe("readonly");
  });

  it("lists every field id for issue mapping", () => {
    const ids = fieldIds(form);
    expect(ids.has("nested.deep")).toBe(true);
    expect(ids.has("")).toBe(true);
  });

  it("resolves refs with escaped names", () => {
    expect(resolveRef({ $defs: { "a/b": { type: "string" } } }, "#/$defs/a~1b")).toEqual({ type: "string" });
    expect(resolveRef({}, "https://example.org/x")).toBeUndefined();
  });
});

describe("the real config schema", () => {
  const path = fileURLToPath(new URL("../../docs/config.schema.json", import.meta.url));
  const form = buildForm(JSON.parse(readFileSync(path, "utf8")));

  it("gives the sections and fields people edit", () => {
    expect(form.fields?.map((f) => f.key)).toEqual(expect.arrayContaining(["gateway", "agents", "models", "logging", "tools"]));
    expect(find(form, "gateway.port")).toMatchObject({ kind: "integer", maximum: 65535 });
    expect(find(form, "gateway.bind").options?.map((o) => o.value)).toEqual(["loopback", "lan", "custom"]);
    expect(find(form, "gateway.customBindHost")).toMatchObject({ kind: "string", nullable: true });
    expect(find(form, "gateway.controlUi.allowedOrigins").kind).toBe("stringArray");
    expect(find(form, "agents.defaults.model.primary")).toMatchObject({ kind: "string", nullable: true });
    expect(find(form, "agents.defaults.model.fallbacks").kind).toBe("stringArray");
    expect(find(form, "agents.defaults.compaction.mode").options?.map((o) => o.value)).toEqual(["auto", "off"]);
    expect(find(form, "logging.level").kind).toBe("string");
  });

  it("leaves maps, agent lists and secrets to the raw editor", () => {
    expect(find(form, "models.providers").kind).toBe("readonly");
    expect(find(form, "agents.list").kind).toBe("readonly");
    expect(find(form, "gateway.auth.token").kind).toBe("readonly");
  });
});

describe("parseFieldInput", () => {
  const int: FormField = { key: "n", path: ["n"], id: "n", label: "N", kind: "integer", nullable: false, required: false, minimum: 1, maximum: 10 };
  it("checks numbers", () => {
    expect(parseFieldInput(int, "5")).toEqual({ value: 5 });
    expect(parseFieldInput(int, "5.5")).toEqual({ error: "Must be a whole number" });
    expect(parseFieldInput(int, "0")).toEqual({ value: 0, error: "At least 1" });
    expect(parseFieldInput(int, "11")).toEqual({ value: 11, error: "At most 10" });
    expect(parseFieldInput(int, "x")).toEqual({ error: "Not a number" });
    expect(parseFieldInput(int, "")).toEqual({ value: null });
    expect(parseFieldInput({ ...int, required: true }, "")).toEqual({ error: "Required" });
  });
  it("splits lists by line and unsets empty optional strings", () => {
    expect(parseFieldInput({ ...int, kind: "stringArray" }, "a\n\n b \n")).toEqual({ value: ["a", "b"] });
    expect(parseFieldInput({ ...int, kind: "string", nullable: true }, "  ")).toEqual({ value: null });
    expect(parseFieldInput({ ...int, kind: "string", required: true }, "")).toEqual({ value: "" });
  });
  it("writes labels for people", () => {
    expect(humanize("maxConcurrent")).toBe("Max concurrent");
    expect(humanize("baseURL")).toBe("Base url");
    expect(humanize("timeout_sec")).toBe("Timeout sec");
  });
});

describe("the file's schema version", () => {
  it("is shown but not edited", () => {
    const form = buildForm({ type: "object", properties: { version: { type: "integer" }, nested: { type: "object", properties: { version: { type: "integer" } } } } });
    expect(find(form, "version")).toMatchObject({ kind: "readonly", readonlyReason: "managed by Hearth" });
    expect(find(form, "nested.version").kind).toBe("integer");
  });
});
