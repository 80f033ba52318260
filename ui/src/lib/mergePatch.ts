// JSON merge patches (RFC 7396) built from form edits: the smallest patch that turns the
// config as loaded into the config as edited, so only what a person changed is written.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    // In a config object a null member means the same as a missing one.
    const ka = Object.keys(a).filter((k) => a[k] !== undefined && a[k] !== null);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined && b[k] !== null);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The merge patch from `before` to `after`: changed leaves and arrays whole, removed keys as
 * `null` (which deletes them, so the default applies), unchanged parts left out. Returns
 * undefined when nothing changed.
 */
export function diffToMergePatch(before: unknown, after: unknown): Json | undefined {
  if (deepEqual(before, after)) return undefined;
  if (!isPlainObject(before) || !isPlainObject(after)) return (after === undefined ? null : (after as Json));
  const patch: JsonObject = {};
  for (const key of Object.keys(before)) {
    const was = before[key];
    if (was !== undefined && was !== null && (after[key] === undefined || !(key in after))) patch[key] = null;
  }
  for (const key of Object.keys(after)) {
    const v = after[key];
    // A null leaf means "unset": nothing to do when the key was not there.
    if (v === undefined || (v === null && (before[key] === undefined || before[key] === null))) continue;
    const sub = diffToMergePatch(before[key], v);
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length ? patch : undefined;
}

/** Applies a merge patch (RFC 7396) and returns a new value; the target is not changed. */
export function applyMergePatch(target: unknown, patch: unknown): Json {
  if (!isPlainObject(patch)) return patch as Json;
  const out: JsonObject = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

export function getAtPath(root: unknown, path: readonly string[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (isPlainObject(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}

/** A copy of `root` with `value` at `path` (objects created on the way; undefined deletes). */
export function setAtPath(root: unknown, path: readonly string[], value: unknown): Json {
  if (path.length === 0) return value as Json;
  const [head, ...rest] = path;
  const base: JsonObject = isPlainObject(root) ? { ...root } : {};
  const next = setAtPath(base[head], rest, value);
  if (next === undefined) delete base[head];
  else base[head] = next;
  return base;
}

/** A merge patch that sets one value deep in the document: `{a:{b:value}}` for ["a","b"]. */
export function patchAt(path: readonly string[], value: Json): JsonObject {
  return setAtPath({}, path, value) as JsonObject;
}
