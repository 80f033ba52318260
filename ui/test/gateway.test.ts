import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GatewayClient, GatewayError, backoffDelay, gatewayUrl, type ConnectionState } from "../src/lib/gateway";
import { fakeFactory } from "./fakeSocket";

function client(extra: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {}) {
  const f = fakeFactory();
  const c = new GatewayClient({
    url: "ws://127.0.0.1:18789/",
    token: "tok-123",
    socketFactory: f.factory,
    random: () => 0.5,
    requestTimeoutMs: 1000,
    handshakeTimeoutMs: 5000,
    backoffInitialMs: 100,
    backoffMaxMs: 1000,
    ...extra,
  });
  const states: ConnectionState["kind"][] = [];
  c.onState((s) => states.push(s.kind));
  return { c, f, states };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("handshake", () => {
  it("answers the challenge with connect carrying the token and the client's identity", () => {
    const { c, f, states } = client();
    c.start();
    const s = f.last();
    expect(s.url).toBe("ws://127.0.0.1:18789/");
    s.open();
    expect(s.sent).toHaveLength(0);
    s.challenge();
    const req = s.lastRequest("connect");
    expect(req.type).toBe("req");
    expect(req.params).toMatchObject({
      minProtocol: 1,
      maxProtocol: 1,
      client: { id: "control-ui", mode: "ui" },
      auth: { token: "tok-123" },
    });
    s.hello("9.9.9");
    expect(c.state.kind).toBe("connected");
    expect(c.state.kind === "connected" && c.state.hello.server.version).toBe("9.9.9");
    expect(states).toEqual(["connecting", "connected"]);
  });

  it("reports UNAUTHORIZED, forgets the token through the callback, and does not retry", () => {
    const { c, f } = client();
    const onUnauthorized = vi.fn();
    c.onUnauthorized = onUnauthorized;
    c.start();
    const s = f.last();
    s.open();
    s.challenge();
    s.fail(s.lastRequest("connect").id, "UNAUTHORIZED", "missing or wrong gateway token");
    expect(c.state).toEqual({ kind: "unauthorized", code: "UNAUTHORIZED", message: "missing or wrong gateway token" });
    expect(onUnauthorized).toHaveBeenCalledWith("missing or wrong gateway token");
    s.drop();
    vi.advanceTimersByTime(60_000);
    expect(f.sockets).toHaveLength(1);
  });

  it("treats a lockout as a refusal without forgetting the token", () => {
    const { c, f } = client();
    const onUnauthorized = vi.fn();
    c.onUnauthorized = onUnauthorized;
    c.start();
    const s = f.last();
    s.open();
    s.challenge();
    s.fail(s.lastRequest("connect").id, "RATE_LIMITED", "too many failed attempts; try again in 30 s");
    expect(c.state.kind).toBe("unauthorized");
    expect(onUnauthorized).not.toHaveBeenCalled();
  });

  it("gives up on a gateway that never completes the handshake and tries again", () => {
    const { c, f } = client();
    c.start();
    f.last().open();
    vi.advanceTimersByTime(5000);
    expect(c.state.kind).toBe("reconnecting");
    expect(f.sockets[0].closed).not.toBeNull();
    vi.advanceTimersByTime(100);
    expect(f.sockets).toHaveLength(2);
  });
});

describe("requests", () => {
  it("matches answers to requests by id, whatever their order", async () => {
    const { c, f } = client();
    c.start();
    const s = f.last();
    s.handshake();
    const a = c.call("health", {});
    const b = c.call("sessions.list", { limit: 5 });
    const [ra, rb] = s.requests();
    expect(ra.method).toBe("health");
    expect(rb).toMatchObject({ method: "sessions.list", params: { limit: 5 } });
    expect(ra.id).not.toBe(rb.id);
    s.answer(rb.id, { sessions: [] });
    s.answer(ra.id, { ok: true, version: "1", uptimeMs: 5 });
    await expect(a).resolves.toEqual({ ok: true, version: "1", uptimeMs: 5 });
    await expect(b).resolves.toEqual({ sessions: [] });
  });

  it("turns an error answer into a GatewayError with code and details", async () => {
    const { c, f } = client();
    c.start();
    const s = f.last();
    s.handshake();
    const p = c.call("config.set", { raw: "{}", baseHash: "old" });
    s.fail(s.requests()[0].id, "CONFLICT", "the file changed", { expected: "old", actual: "new" });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: "CONFLICT", message: "the file changed", details: { expected: "old", actual: "new" } });
  });

  it("times out a request that gets no answer", async () => {
    const { c, f } = client();
    c.start();
    f.last().handshake();
    const p = c.call("status", {}, { timeoutMs: 250 });
    const caught = p.catch((e: unknown) => e);
    vi.advanceTimersByTime(249);
    let settled = false;
    void p.then(() => (settled = true), () => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    vi.advanceTimersByTime(1);
    expect(await caught).toMatchObject({ code: "TIMEOUT" });
  });

  it("ignores a late answer after the timeout and unknown ids", async () => {
    const { c, f } = client();
    c.start();
    const s = f.last();
    s.handshake();
    const p = c.call("status", {}).catch((e: unknown) => e);
    vi.advanceTimersByTime(1000);
    expect(await p).toMatchObject({ code: "TIMEOUT" });
    expect(() => s.answer(s.requests()[0].id, {})).not.toThrow();
    expect(() => s.answer("nope", {})).not.toThrow();
  });

  it("holds requests made while connecting and sends them after hello", async () => {
    const { c, f } = client();
    c.start();
    const p = c.call("status", {});
    const s = f.last();
    s.open();
    s.challenge();
    expect(s.requests()).toHaveLength(0);
    s.hello();
    const [r] = s.requests();
    expect(r.method).toBe("status");
    s.answer(r.id, { version: "x" });
    await expect(p).resolves.toEqual({ version: "x" });
  });

  it("refuses calls after stop", async () => {
    const { c, f } = client();
    c.start();
    f.last().handshake();
    c.stop();
    await expect(c.call("status", {})).rejects.toMatchObject({ code: "DISCONNECTED" });
  });
});

describe("events", () => {
  it("delivers events to subscribers until they unsubscribe", () => {
    const { c, f } = client();
    c.start();
    const s = f.last();
    s.handshake();
    const seen: string[] = [];
    const off = c.on("sessions.changed", (p) => seen.push(`${p.key}:${p.reason}`));
    const other = vi.fn();
    c.on("chat", other);
    s.event("sessions.changed", { key: "agent:main:main", reason: "created" });
    off();
    s.event("sessions.changed", { key: "agent:main:work", reason: "updated" });
    expect(seen).toEqual(["agent:main:main:created"]);
    expect(other).not.toHaveBeenCalled();
  });

  it("keeps delivering when one handler throws", () => {
    const { c, f } = client();
    c.start();
    const s = f.last();
    s.handshake();
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const good = vi.fn();
    c.on("tick", () => {
      throw new Error("boom");
    });
    c.on("tick", good);
    s.event("tick", { ts: 1 });
    expect(good).toHaveBeenCalledOnce();
    spy.mockRestore();
  });
});

describe("reconnect", () => {
  it("fails requests in flight, backs off, reconnects and tells subscribers it reconnected", async () => {
    const { c, f, states } = client();
    const connected = vi.fn();
    c.start();
    const first = f.last();
    first.handshake();
    c.onConnected(connected);
    expect(connected).toHaveBeenLastCalledWith(expect.anything(), false);
    const inFlight = c.call("status", {}).catch((e: unknown) => e);
    first.drop("server restart");
    expect(await inFlight).toMatchObject({ code: "DISCONNECTED" });
    expect(c.state).toMatchObject({ kind: "reconnecting", attempt: 1, reason: "server restart" });
    vi.advanceTimersByTime(99);
    expect(f.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(f.sockets).toHaveLength(2);
    const second = f.last();
    second.handshake();
    expect(second.lastRequest("connect").params).toMatchObject({ auth: { token: "tok-123" } });
    expect(connected).toHaveBeenLastCalledWith(expect.anything(), true);
    expect(states).toEqual(["connecting", "connected", "reconnecting", "connecting", "connected"]);
  });

  it("doubles the wait after each failed attempt, up to the cap, and resets after success", () => {
    const { c, f } = client();
    c.start();
    const waits: number[] = [];
    c.onState((s) => {
      if (s.kind === "reconnecting") waits.push(s.inMs);
    });
    for (let i = 0; i < 6; i++) {
      f.last().drop();
      vi.advanceTimersByTime(2000);
    }
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000]);
    f.last().handshake();
    f.last().drop();
    expect(waits[waits.length - 1]).toBe(100);
  });

  it("does not reconnect after stop", () => {
    const { c, f } = client();
    c.start();
    f.last().handshake();
    c.stop();
    vi.advanceTimersByTime(60_000);
    expect(f.sockets).toHaveLength(1);
    expect(c.state.kind).toBe("stopped");
  });
});

describe("addresses", () => {
  it("always uses the page's own host", () => {
    expect(gatewayUrl({ protocol: "http:", host: "127.0.0.1:18789" })).toBe("ws://127.0.0.1:18789/");
    expect(gatewayUrl({ protocol: "https:", host: "hearth.example.org" })).toBe("wss://hearth.example.org/");
  });

  it("ignores a gateway address in the query string or fragment (CVE-2026-25253)", () => {
    const loc = new URL("http://127.0.0.1:18789/?gatewayUrl=ws://evil.example:1/&token=x#token=abc&gateway=ws://evil.example/");
    expect(gatewayUrl(loc)).toBe("ws://127.0.0.1:18789/");
  });

  it("computes a capped exponential backoff with jitter", () => {
    expect(backoffDelay(1, 500, 15000, () => 0.5)).toBe(500);
    expect(backoffDelay(3, 500, 15000, () => 0.5)).toBe(2000);
    expect(backoffDelay(30, 500, 15000, () => 0.5)).toBe(15000);
    expect(backoffDelay(1, 500, 15000, () => 0)).toBe(400);
    expect(backoffDelay(1, 500, 15000, () => 1)).toBe(600);
  });
});
