// A tiny in-process stand-in for the gateway's WebSocket: records what the client sends and lets
// a test play the gateway's side (challenge, answers, events, close).

import type { SocketLike } from "../src/lib/gateway";

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
    this.readyState = 3;
  }

  // The gateway's side.
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  push(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  challenge(): void {
    this.push({ type: "event", event: "connect.challenge", payload: { nonce: "n", ts: 1 } });
  }

  /** Answers the last `connect` request with hello-ok. */
  hello(version = "0.1.0"): void {
    const req = this.lastRequest("connect");
    this.push({
      type: "res",
      id: req.id,
      ok: true,
      payload: {
        type: "hello-ok",
        protocol: 1,
        server: { version, connId: "c1" },
        features: { methods: [], events: [] },
        policy: { maxPayload: 1024, tickIntervalMs: 30000 },
      },
    });
  }

  /** Opens, sends the challenge and completes the handshake. */
  handshake(): void {
    this.open();
    this.challenge();
    this.hello();
  }

  answer(id: unknown, payload: unknown): void {
    this.push({ type: "res", id, ok: true, payload });
  }

  fail(id: unknown, code: string, message: string, details?: unknown): void {
    this.push({ type: "res", id, ok: false, error: { code, message, details } });
  }

  event(event: string, payload: unknown, seq = 1): void {
    this.push({ type: "event", event, payload, seq });
  }

  /** The gateway closes the connection. */
  drop(reason = "gone"): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason });
  }

  lastRequest(method: string): Record<string, unknown> & { id: string; params: Record<string, unknown> } {
    const found = [...this.sent].reverse().find((f) => f.method === method);
    if (!found) throw new Error(`no ${method} request was sent`);
    return found as Record<string, unknown> & { id: string; params: Record<string, unknown> };
  }

  requests(): { id: string; method: string; params: unknown }[] {
    return this.sent.filter((f) => f.type === "req" && f.method !== "connect") as { id: string; method: string; params: unknown }[];
  }
}

/** A socket factory that keeps every socket the client opened. */
export function fakeFactory(): { sockets: FakeSocket[]; factory: (url: string) => FakeSocket; last: () => FakeSocket } {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    factory: (url: string) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    last: () => {
      const s = sockets[sockets.length - 1];
      if (!s) throw new Error("no socket was opened");
      return s;
    },
  };
}
