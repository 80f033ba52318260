import { describe, expect, it } from "vitest";
import { applyMergePatch, deepEqual, diffToMergePatch, getAtPath, patchAt, setAtPath } from "../src/lib/mergePatch";

const base = {
  gateway: { port: 18789, bind: "loopback", auth: { mode: "token" } },
  agents: { defaults: { model: { primary: "a/x", fallbacks: ["b/y"] }, timeoutSeconds: 600 } },
  logging: { level: "info", consoleLevel: null },
};

describe("diffToMergePatch", () => {
  it("is empty when nothing changed", () => {
    expect(diffToMergePatch(base, structuredClone(base))).toBeUndefined();
  });

  it("holds only the changed leaves", () => {
    const after = setAtPath(base, ["gateway", "port"], 9000);
    expect(diffToMergePatch(base, after)).toEqual({ gateway: { port: 9000 } });
  });

  it("replaces arrays whole", () => {
    const after = setAtPath(base, ["agents", "defaults", "model", "fallbacks"], ["b/y", "c/z"]);
    expect(diffToMergePatch(base, after)).toEqual({ agents: { defaults: { model: { fallbacks: ["b/y", "c/z"] } } } });
  });

  it("deletes removed keys with null so the default applies", () => {
    const after = setAtPath(base, ["agents", "defaults", "timeoutSeconds"], undefined);
    expect(diffToMergePatch(base, after)).toEqual({ agents: { defaults: { timeoutSeconds: null } } });
  });

  it("treats null members as missing ones", () => {
    const after = setAtPath(base, ["logging", "consoleLevel"], undefined);
    expect(diffToMergePatch(base, after)).toBeUndefined();
    expect(deepEqual({ a: 1, b: null }, { a: 1 })).toBe(true);
  });

  it("adds new keys and objects", () => {
    const after = setAtPath(base, ["channels", "defaults", "dmPolicy"], "pairing");
    expect(diffToMergePatch(base, after)).toEqual({ channels: { defaults: { dmPolicy: "pairing" } } });
  });

  it("round-trips: applying the diff gives the edited document", () => {
    let after = setAtPath(base, ["gateway", "port"], 1234);
    after = setAtPath(after, ["logging", "level"], undefined);
    after = setAtPath(after, ["agents", "defaults", "model", "fallbacks"], []);
    after = setAtPath(after, ["tools", "profile"], "coding");
    const patch = diffToMergePatch(base, after);
    expect(applyMergePatch(base, patch)).toEqual(JSON.parse(JSON.stringify(after)));
  });
});

describe("applyMergePatch (RFC 7396)", () => {
  it("follows the RFC's examples", () => {
    expect(applyMergePatch({ a: "b" }, { a: "c" })).toEqual({ a: "c" });
    expect(applyMergePatch({ a: "b" }, { b: "c" })).toEqual({ a: "b", b: "c" });
    expect(applyMergePatch({ a: "b" }, { a: null })).toEqual({});
    expect(applyMergePatch({ a: "b", b: "c" }, { a: null })).toEqual({ b: "c" });
    expect(applyMergePatch({ a: ["b"] }, { a: "c" })).toEqual({ a: "c" });
    expect(applyMergePatch({ a: "c" }, { a: ["b"] })).toEqual({ a: ["b"] });
    expect(applyMergePatch({ a: { b: "c" } }, { a: { b: "d", c: null } })).toEqual({ a: { b: "d" } });
    expect(applyMergePatch({ a: [{ b: "c" }] }, { a: [1] })).toEqual({ a: [1] });
    expect(applyMergePatch(["a", "b"], ["c", "d"])).toEqual(["c", "d"]);
    expect(applyMergePatch({ a: "b" }, ["c"])).toEqual(["c"]);
    expect(applyMergePatch({ a: "foo" }, null)).toBeNull();
    expect(applyMergePatch({ e: null }, { a: 1 })).toEqual({ e: null, a: 1 });
    expect(applyMergePatch([1, 2], { a: "b", c: null })).toEqual({ a: "b" });
    expect(applyMergePatch({}, { a: { bb: { ccc: null } } })).toEqual({ a: { bb: {} } });
  });

  it("does not change its input", () => {
    const target = { a: { b: 1 } };
    applyMergePatch(target, { a: { b: 2 } });
    expect(target).toEqual({ a: { b: 1 } });
  });
});

describe("paths", () => {
  it("reads, writes and builds patches at a path", () => {
    expect(getAtPath(base, ["gateway", "auth", "mode"])).toBe("token");
    expect(getAtPath(base, ["agents", "defaults", "model", "fallbacks", "0"])).toBe("b/y");
    expect(getAtPath(base, ["nope", "x"])).toBeUndefined();
    const written = setAtPath(base, ["gateway", "auth", "mode"], "password");
    expect(getAtPath(written, ["gateway", "auth", "mode"])).toBe("password");
    expect(getAtPath(base, ["gateway", "auth", "mode"])).toBe("token");
    expect(patchAt(["models", "providers", "openai"], null)).toEqual({ models: { providers: { openai: null } } });
  });
});
