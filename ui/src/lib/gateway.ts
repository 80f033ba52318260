// The gateway client: one WebSocket to the page's own origin, the `connect` handshake,
// requests matched to answers by id with a timeout, event fan-out, and reconnection with
// backoff. It knows nothing of Svelte so it can be tested against a fake socket.

import type {
  ErrorShape,
  EventName,
  Events,
  Frame,
  HelloOk,
  MethodName,
  Methods,
  ResponseFrame,
} from "./protocol";

/** An error answered by the gateway (or made up here for timeouts and lost connections). */
export class GatewayError extends Error {
  readonly code: string;
  readonly details: unknown;
  readonly retryAfterMs: number | null;

  constructor(code: string, message: string, details?: unknown, retryAfterMs?: number | null) {
    super(message);
    this.name = "GatewayError";
    this.code = code;
    this.details = details;
    this.retryAfterMs = retryAfterMs ?? null;
  }

  static from(shape: ErrorShape | null | undefined): GatewayError {
    if (!shape) return new GatewayError("INTERNAL", "the gateway answered an error without detail");
    return new GatewayError(String(shape.code), shape.message, shape.details, shape.retryAfterMs);
  }
}

/** The part of the browser's WebSocket the client uses; tests pass a fake. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

export type ConnectionState =
  | { kind: "idle" }
  | { kind: "connecting"; attempt: number }
  | { kind: "connected"; hello: HelloOk }
  | { kind: "reconnecting"; attempt: number; inMs: number; reason: string }
  /** The token was refused (or auth is locked out): a person has to act, so no retry. */
  | { kind: "unauthorized"; code: string; message: string }
  /** The gateway refused the handshake for another reason (e.g. protocol version). */
  | { kind: "failed"; message: string }
  | { kind: "stopped" };

export interface ClientOptions {
  /** ws(s)://host/ of the page's own origin: see `gatewayUrl`. */
  url: string;
  token: string;
  socketFactory?: SocketFactory;
  requestTimeoutMs?: number;
  /** Time from opening the socket to `hello-ok`. */
  handshakeTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** 0..1, for jitter; tests pass a constant. */
  random?: () => number;
  clientVersion?: string;
  platform?: string;
}

export interface CallOptions {
  timeoutMs?: number;
}

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: GatewayError) => void;
  timer: ReturnType<typeof setTimeout>;
};

type Queued = Pending & { id: string; method: string; params: unknown };

const OPEN = 1;

/**
 * The gateway's WebSocket address: always the page's own host (CVE-2026-25253: a gateway URL
 * taken from the query string or fragment would let a link send the token anywhere).
 */
export function gatewayUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/`;
}

/** Backoff before reconnect attempt `attempt` (1-based): doubling, capped, with ±20 % jitter. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class GatewayClient {
  private opts: Required<Omit<ClientOptions, "socketFactory">> & { socketFactory: SocketFactory };
  private socket: SocketLike | null = null;
  private nextId = 1;
  private pending = new Map<string, Pending>();
  private queue: Queued[] = [];
  private listeners = new Map<string, Set<(payload: never) => void>>();
  private stateListeners = new Set<(s: ConnectionState) => void>();
  private connectedListeners = new Set<(hello: HelloOk, reconnect: boolean) => void>();
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private handshakeTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private everConnected = false;
  private connectId: string | null = null;
  private _state: ConnectionState = { kind: "idle" };
  /** Called when the gateway refuses the token, so the stored copy can be forgotten. */
  onUnauthorized: ((message: string) => void) | null = null;

  constructor(options: ClientOptions) {
    this.opts = {
      requestTimeoutMs: 30_000,
      handshakeTimeoutMs: 15_000,
      backoffInitialMs: 500,
      backoffMaxMs: 15_000,
      random: Math.random,
      clientVersion: "0.1.0",
      platform: "web",
      socketFactory: (url) => new WebSocket(url) as unknown as SocketLike,
      ...options,
    };
  }

  get state(): ConnectionState {
    return this._state;
  }

  get connected(): boolean {
    return this._state.kind === "connected";
  }

  /** Opens the connection; reconnects by itself until `stop`. */
  start(): void {
    if (this._state.kind === "connecting" || this._state.kind === "connected") return;
    this.open();
  }

  /** Closes the connection for good and fails every request still waiting. */
  stop(): void {
    this.clearTimers();
    this.setState({ kind: "stopped" });
    this.dropSocket();
    this.failAll(new GatewayError("DISCONNECTED", "the connection was closed"));
  }

  /** Sends a request; while (re)connecting it waits for the connection, within its timeout. */
  call<M extends MethodName>(
    method: M,
    params: Methods[M]["params"],
    options: CallOptions = {},
  ): Promise<Methods[M]["result"]> {
    const id = `r${this.nextId++}`;
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    return new Promise<Methods[M]["result"]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.queue = this.queue.filter((q) => q.id !== id);
        reject(new GatewayError("TIMEOUT", `${method} got no answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const entry: Pending = { resolve: resolve as (v: unknown) => void, reject, timer };
      const terminal = this._state.kind === "stopped" || this._state.kind === "unauthorized" || this._state.kind === "failed";
      if (terminal) {
        clearTimeout(timer);
        reject(new GatewayError("DISCONNECTED", "not connected to the gateway"));
      } else if (this._state.kind === "connected" && this.socket) {
        this.pending.set(id, entry);
        this.send({ type: "req", id, method, params: params ?? {} });
      } else {
        this.queue.push({ ...entry, id, method, params: params ?? {} });
      }
    });
  }

  /** Subscribes to one event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(handler as (payload: never) => void);
    return () => set.delete(handler as (payload: never) => void);
  }

  onState(handler: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(handler);
    return () => this.stateListeners.delete(handler);
  }

  /**
   * Runs `handler` after every successful handshake (and at once when already connected), so
   * a page reloads what it shows after a reconnect: events missed meanwhile are not replayed.
   */
  onConnected(handler: (hello: HelloOk, reconnect: boolean) => void): () => void {
    this.connectedListeners.add(handler);
    if (this._state.kind === "connected") handler(this._state.hello, false);
    return () => this.connectedListeners.delete(handler);
  }

  private open(): void {
    this.clearTimers();
    this.setState({ kind: "connecting", attempt: this.attempt });
    let socket: SocketLike;
    try {
      socket = this.opts.socketFactory(this.opts.url);
    } catch (e) {
      this.scheduleReconnect(e instanceof Error ? e.message : "could not open the connection");
      return;
    }
    this.socket = socket;
    this.handshakeTimer = setTimeout(() => {
      if (this.socket === socket) {
        this.dropSocket();
        this.scheduleReconnect("the gateway did not complete the handshake");
      }
    }, this.opts.handshakeTimeoutMs);
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.handleText(typeof ev.data === "string" ? ev.data : "");
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.failInFlight(new GatewayError("DISCONNECTED", "the connection to the gateway was lost"));
      if (this._state.kind === "unauthorized" || this._state.kind === "failed" || this._state.kind === "stopped") return;
      this.scheduleReconnect(ev.reason || "connection closed");
    };
    socket.onerror = () => {
      // A close event follows; reconnecting is decided there.
    };
  }

  private handleText(text: string): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    if (frame.type === "event") {
      if (frame.event === "connect.challenge") {
        this.sendConnect();
        return;
      }
      this.emit(frame.event, frame.payload);
    } else if (frame.type === "res") {
      if (frame.id !== null && frame.id === this.connectId) {
        this.handleHello(frame);
        return;
      }
      const p = frame.id === null ? undefined : this.pending.get(frame.id);
      if (!p || frame.id === null) return;
      this.pending.delete(frame.id);
      clearTimeout(p.timer);
      if (frame.ok) p.resolve(frame.payload);
      else p.reject(GatewayError.from(frame.error));
    }
  }

  private sendConnect(): void {
    this.connectId = `connect-${this.nextId++}`;
    this.send({
      type: "req",
      id: this.connectId,
      method: "connect",
      params: {
        minProtocol: 1,
        maxProtocol: 1,
        client: {
          id: "control-ui",
          displayName: "Hearth Control UI",
          version: this.opts.clientVersion,
          platform: this.opts.platform,
          mode: "ui",
        },
        auth: { token: this.opts.token },
      },
    });
  }

  private handleHello(frame: ResponseFrame): void {
    this.connectId = null;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    if (!frame.ok) {
      const err = GatewayError.from(frame.error);
      if (err.code === "UNAUTHORIZED" || err.code === "RATE_LIMITED") {
        this.setState({ kind: "unauthorized", code: err.code, message: err.message });
        if (err.code === "UNAUTHORIZED") this.onUnauthorized?.(err.message);
      } else {
        this.setState({ kind: "failed", message: err.message });
      }
      this.dropSocket();
      this.failAll(err);
      return;
    }
    const hello = frame.payload as HelloOk;
    const reconnect = this.everConnected;
    this.everConnected = true;
    this.attempt = 0;
    this.setState({ kind: "connected", hello });
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) {
      this.pending.set(q.id, { resolve: q.resolve, reject: q.reject, timer: q.timer });
      this.send({ type: "req", id: q.id, method: q.method, params: q.params });
    }
    for (const h of [...this.connectedListeners]) h(hello, reconnect);
  }

  private scheduleReconnect(reason: string): void {
    this.attempt += 1;
    const inMs = backoffDelay(this.attempt, this.opts.backoffInitialMs, this.opts.backoffMaxMs, this.opts.random);
    this.setState({ kind: "reconnecting", attempt: this.attempt, inMs, reason });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, inMs);
  }

  private send(frame: unknown): void {
    const s = this.socket;
    if (!s || s.readyState !== OPEN) return;
    s.send(JSON.stringify(frame));
  }

  private emit(event: string, payload: unknown): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const h of [...set]) {
      try {
        (h as (p: unknown) => void)(payload);
      } catch (e) {
        console.error(`handler of ${event} failed`, e);
      }
    }
  }

  private setState(s: ConnectionState): void {
    this._state = s;
    for (const h of [...this.stateListeners]) h(s);
  }

  private dropSocket(): void {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000, "closed by the client");
      } catch {
        // Already closed.
      }
    }
  }

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.reconnectTimer = this.handshakeTimer = null;
  }

  /** Requests already sent cannot be known to have run: they fail rather than being resent. */
  private failInFlight(err: GatewayError): void {
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private failAll(err: GatewayError): void {
    this.failInFlight(err);
    for (const q of this.queue) {
      clearTimeout(q.timer);
      q.reject(err);
    }
    this.queue = [];
  }
}
