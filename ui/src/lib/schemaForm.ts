// The config form's model, built from the config's JSON Schema (2020-12, as schemars writes it):
// objects with properties become sections, strings, numbers, integers, booleans and string
// enums become inputs, arrays of strings become lists, `$ref`s are followed and `anyOf`/`oneOf`
// with `null` make a field nullable. Anything else (maps, arrays of objects, unions such as a
// secret's string-or-reference) is shown read-only with a pointer to the raw editor.

export type FieldKind = "object" | "string" | "number" | "integer" | "boolean" | "enum" | "stringArray" | "readonly";

export interface EnumOption {
  value: string;
  description?: string;
}

export interface FormField {
  /** The property name ("" for the root). */
  key: string;
  /** Keys from the root. */
  path: string[];
  /** Dotted path, the form issues use: `models.providers`. */
  id: string;
  label: string;
  description?: string;
  kind: FieldKind;
  nullable: boolean;
  required: boolean;
  default?: unknown;
  options?: EnumOption[];
  minimum?: number;
  maximum?: number;
  fields?: FormField[];
  /** For read-only fields: what kind of value it is, in words. */
  readonlyReason?: string;
}

type Schema = Record<string, unknown> | boolean;
type SchemaObject = Record<string, unknown>;

function isObj(v: unknown): v is SchemaObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Follows a local `$ref` (`#/$defs/Name` or `#/definitions/Name`). */
export function resolveRef(root: SchemaObject, ref: string): SchemaObject | undefined {
  if (!ref.startsWith("#/")) return undefined;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!isObj(cur)) return undefined;
    cur = cur[key];
  }
  return isObj(cur) ? cur : undefined;
}

/** A schema with its `$ref` followed; the referring schema's own keywords (description, default) win. */
function deref(root: SchemaObject, schema: Schema, depth = 0): SchemaObject {
  if (!isObj(schema)) return {};
  if (typeof schema.$ref === "string" && depth < 32) {
    const target = resolveRef(root, schema.$ref);
    if (target) {
      const { $ref: _ignored, ...own } = schema;
      return { ...deref(root, target, depth + 1), ...own };
    }
  }
  return schema;
}

function isNullSchema(root: SchemaObject, s: Schema): boolean {
  const d = deref(root, s);
  return d.type === "null" || (Array.isArray(d.type) && d.type.length === 1 && d.type[0] === "null");
}

/** A string enum written as `enum` or as `oneOf`/`anyOf` of `const`s (schemars' style for documented variants). */
function enumOptions(root: SchemaObject, s: SchemaObject): EnumOption[] | undefined {
  if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === "string")) {
    return (s.enum as string[]).map((value) => ({ value }));
  }
  const alts = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
  if (!Array.isArray(alts) || alts.length === 0) return undefined;
  const out: EnumOption[] = [];
  for (const alt of alts) {
    const a = deref(root, alt);
    if (typeof a.const === "string") {
      out.push({ value: a.const, description: typeof a.description === "string" ? a.description : undefined });
    } else if (Array.isArray(a.enum) && a.enum.every((v) => typeof v === "string")) {
      for (const v of a.enum as string[]) out.push({ value: v, description: typeof a.description === "string" ? a.description : undefined });
    } else {
      return undefined;
    }
  }
  return out;
}

/** Splits `anyOf`/`oneOf` [X, null] and `type: [T, "null"]` into X and nullable. */
function unwrapNullable(root: SchemaObject, s: SchemaObject): { schema: SchemaObject; nullable: boolean } {
  if (Array.isArray(s.type) && s.type.includes("null")) {
    const rest = (s.type as string[]).filter((t) => t !== "null");
    return { schema: { ...s, type: rest.length === 1 ? rest[0] : rest }, nullable: true };
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    const alts = s[key];
    if (Array.isArray(alts) && alts.length === 2 && alts.some((a) => isNullSchema(root, a as Schema))) {
      const other = alts.find((a) => !isNullSchema(root, a as Schema)) as Schema;
      const { [key]: _alts, ...own } = s;
      const inner = deref(root, other);
      return { schema: { ...inner, ...own }, nullable: true };
    }
  }
  return { schema: s, nullable: false };
}

/** "maxConcurrent" → "Max concurrent". */
export function humanize(key: string): string {
  if (!key) return "";
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function describe(root: SchemaObject, s: SchemaObject): string {
  if (typeof s.type === "string") return s.type === "object" ? "a map of named entries" : `a ${s.type}`;
  if (s.anyOf || s.oneOf) return "one of several shapes";
  if (s.$ref) return `a ${String(s.$ref).split("/").pop()}`;
  void root;
  return "a value";
}

function build(
  root: SchemaObject,
  raw: Schema,
  key: string,
  path: string[],
  required: boolean,
  depth: number,
): FormField {
  const derefd = deref(root, raw);
  const { schema: s, nullable } = unwrapNullable(root, derefd);
  const base = {
    key,
    path,
    id: path.join("."),
    label: typeof s.title === "string" && path.length > 0 && key === "" ? s.title : humanize(key),
    description: typeof s.description === "string" ? s.description : undefined,
    nullable,
    required,
    default: s.default,
  };
  const readonly = (reason: string): FormField => ({ ...base, kind: "readonly", readonlyReason: reason });
  if (raw === true || (isObj(raw) && Object.keys(raw).length === 0)) return readonly("any value");

  const options = enumOptions(root, s);
  if (options && options.length > 0) return { ...base, kind: "enum", options };

  const type = s.type;
  if (type === "object" || (type === undefined && isObj(s.properties))) {
    if (isObj(s.properties) && depth < 12) {
      const req = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      const fields = Object.entries(s.properties)
        .filter(([k]) => k !== "$schema")
        .map(([k, sub]) =>
          // The file's schema version belongs to Hearth's migrations, not to people.
          depth === 0 && k === "version"
            ? { ...build(root, sub as Schema, k, [k], req.has(k), 1), kind: "readonly" as const, readonlyReason: "managed by Hearth" }
            : build(root, sub as Schema, k, [...path, k], req.has(k), depth + 1),
        );
      return { ...base, kind: "object", fields };
    }
    return readonly("a map of named entries");
  }
  if (type === "string") return { ...base, kind: "string" };
  if (type === "boolean") return { ...base, kind: "boolean" };
  if (type === "integer" || type === "number") {
    return {
      ...base,
      kind: type,
      minimum: typeof s.minimum === "number" ? s.minimum : undefined,
      maximum: typeof s.maximum === "number" ? s.maximum : undefined,
    };
  }
  if (type === "array") {
    const items = isObj(s.items) ? deref(root, s.items) : {};
    if (items.type === "string" || enumOptions(root, items)) return { ...base, kind: "stringArray" };
    return readonly("a list of objects");
  }
  return readonly(describe(root, s));
}

/** The form model of a whole schema (its root must be an object with properties). */
export function buildForm(schema: unknown): FormField {
  const root = isObj(schema) ? schema : {};
  return build(root, root, "", [], true, 0);
}

/** Every field's dotted id, for mapping issues. */
export function fieldIds(field: FormField, out: Set<string> = new Set()): Set<string> {
  out.add(field.id);
  for (const f of field.fields ?? []) fieldIds(f, out);
  return out;
}

/**
 * The value an input shows turned into the value stored, and/or an error in words (a number
 * outside the schema's limits has both: it is kept, and flagged).
 */
export function parseFieldInput(field: FormField, text: string): { value?: unknown; error?: string } {
  const t = text.trim();
  if (t === "") {
    if (field.nullable || !field.required) return { value: null };
    if (field.kind === "string") return { value: "" };
    return { error: "Required" };
  }
  if (field.kind === "integer" || field.kind === "number") {
    const n = Number(t);
    if (!Number.isFinite(n)) return { error: "Not a number" };
    if (field.kind === "integer" && !Number.isInteger(n)) return { error: "Must be a whole number" };
    if (field.minimum !== undefined && n < field.minimum) return { value: n, error: `At least ${field.minimum}` };
    if (field.maximum !== undefined && n > field.maximum) return { value: n, error: `At most ${field.maximum}` };
    return { value: n };
  }
  if (field.kind === "stringArray") {
    return { value: t.split("\n").map((l) => l.trim()).filter(Boolean) };
  }
  return { value: text };
}
