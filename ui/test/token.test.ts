import { describe, expect, it, vi } from "vitest";
import { TOKEN_KEY, forgetToken, splitTokenFromHash, storeToken, takeToken, type StorageLike } from "../src/lib/token";

function memoryStorage(initial: Record<string, string> = {}): StorageLike & { data: Record<string, string> } {
  const data = { ...initial };
  return {
    data,
    getItem: (k) => (k in data ? data[k] : null),
    setItem: (k, v) => {
      data[k] = v;
    },
    removeItem: (k) => {
      delete data[k];
    },
  };
}

describe("token from the fragment", () => {
  it("takes #token=, stores it for the tab and removes it from the address bar", () => {
    const storage = memoryStorage();
    const history = { replaceState: vi.fn() };
    const token = takeToken({ pathname: "/", hash: "#token=abc%2Fdef" }, history, storage);
    expect(token).toBe("abc/def");
    expect(storage.data[TOKEN_KEY]).toBe("abc/def");
    expect(history.replaceState).toHaveBeenCalledWith(null, "", "/");
  });

  it("keeps a route that came with the token", () => {
    const history = { replaceState: vi.fn() };
    takeToken({ pathname: "/", hash: "#/chat/work&token=t1" }, history, memoryStorage());
    expect(history.replaceState).toHaveBeenCalledWith(null, "", "/#/chat/work");
    expect(splitTokenFromHash("#token=t2&/usage")).toEqual({ token: "t2", rest: "/usage" });
  });

  it("prefers a fresh fragment token over the stored one", () => {
    const storage = memoryStorage({ [TOKEN_KEY]: "old" });
    expect(takeToken({ pathname: "/", hash: "#token=new" }, { replaceState: vi.fn() }, storage)).toBe("new");
    expect(storage.data[TOKEN_KEY]).toBe("new");
  });

  it("falls back to session storage, and to nothing", () => {
    const history = { replaceState: vi.fn() };
    expect(takeToken({ pathname: "/", hash: "#/sessions" }, history, memoryStorage({ [TOKEN_KEY]: "kept" }))).toBe("kept");
    expect(takeToken({ pathname: "/", hash: "" }, history, memoryStorage())).toBeNull();
    expect(takeToken({ pathname: "/", hash: "#token=" }, history, memoryStorage())).toBeNull();
    expect(history.replaceState).not.toHaveBeenCalled();
  });

  it("never reads a token from the query string (CVE-2026-25253)", () => {
    const url = new URL("http://127.0.0.1:18789/?token=from-query&gatewayUrl=ws://evil.example/");
    const storage = memoryStorage();
    const history = { replaceState: vi.fn() };
    expect(takeToken({ pathname: url.pathname, hash: url.hash }, history, storage)).toBeNull();
    expect(storage.data).toEqual({});
    // A query string next to a fragment token is dropped from the rewritten address too.
    const both = new URL("http://127.0.0.1:18789/?gatewayUrl=ws://evil.example/#token=good");
    takeToken({ pathname: both.pathname, hash: both.hash }, history, storage);
    expect(history.replaceState).toHaveBeenCalledWith(null, "", "/");
  });

  it("stores and forgets", () => {
    const storage = memoryStorage();
    storeToken(storage, "  spaced  ");
    expect(storage.data[TOKEN_KEY]).toBe("spaced");
    forgetToken(storage);
    expect(storage.data[TOKEN_KEY]).toBeUndefined();
  });
});
