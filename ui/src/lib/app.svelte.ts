// The app's shared state: the gateway connection, the last `status`, pending exec approvals
// (shown on every page), toasts (a budget reached, a scheduled job failing again and again),
// and the login form's message.

import { untrack } from "svelte";
import { budgetExceededText } from "./audit";
import { cronAlertText } from "./cron";
import { GatewayClient, GatewayError, gatewayUrl, type ConnectionState } from "./gateway";
import type { EventName, Events, ExecApproval, HelloOk, MethodName, Methods, StatusResult } from "./protocol";
import { forgetToken, storeToken, takeToken } from "./token";

const VERSION = "0.1.0";
/** How long a toast stays before it goes by itself. */
const TOAST_MS = 12_000;

export interface Toast {
  id: number;
  tone: "warn" | "error" | "ok";
  text: string;
}

class AppState {
  conn = $state<ConnectionState>({ kind: "idle" });
  /** True once a token is in hand (from the fragment, storage or the login form). */
  hasToken = $state(false);
  loginMessage = $state("");
  status = $state<StatusResult | null>(null);
  approvals = $state<ExecApproval[]>([]);
  /** Settings changed on disk that need a restart (from config writes and `config.changed`). */
  restartRequired = $state<string[]>([]);
  toasts = $state<Toast[]>([]);
  private nextToast = 1;
  client: GatewayClient | null = null;
  private unsubs: (() => void)[] = [];

  /** Starts from the token in the URL fragment or session storage, if any. */
  init(): void {
    const token = takeToken(location, history, sessionStorage);
    if (token) this.connect(token);
    else this.hasToken = false;
  }

  login(token: string): void {
    storeToken(sessionStorage, token);
    this.loginMessage = "";
    this.connect(token.trim());
  }

  logout(message = ""): void {
    forgetToken(sessionStorage);
    this.teardown();
    this.hasToken = false;
    this.loginMessage = message;
    this.conn = { kind: "idle" };
  }

  private teardown(): void {
    for (const u of this.unsubs) u();
    this.unsubs = [];
    this.client?.stop();
    this.client = null;
  }

  private connect(token: string): void {
    this.teardown();
    this.hasToken = true;
    const client = new GatewayClient({
      url: gatewayUrl(location),
      token,
      clientVersion: VERSION,
      platform: navigator.platform || "web",
    });
    client.onUnauthorized = (message) => {
      forgetToken(sessionStorage);
      this.loginMessage = message;
    };
    this.client = client;
    this.unsubs.push(
      client.onState((s) => {
        this.conn = s;
        if (s.kind === "unauthorized") {
          this.hasToken = false;
          this.loginMessage = s.message;
        }
      }),
      client.onConnected(() => void this.refresh()),
      client.on("exec.approval.requested", (a) => {
        if (!this.approvals.some((x) => x.id === a.id)) this.approvals = [...this.approvals, a];
      }),
      client.on("exec.approval.resolved", (r) => {
        this.approvals = this.approvals.filter((x) => x.id !== r.id);
      }),
      client.on("budget.exceeded", (b) => this.toast(budgetExceededText(b), "warn")),
      client.on("cron.alert", (a) => this.toast(cronAlertText(a), "error")),
      client.on("config.changed", (c) => {
        this.restartRequired = c.restartRequired ?? [];
        void this.refreshStatus();
      }),
    );
    client.start();
  }

  async refresh(): Promise<void> {
    await Promise.all([
      this.refreshStatus(),
      this.call("exec.approval.list", {})
        .then((r) => {
          this.approvals = r.approvals;
        })
        .catch(() => undefined),
    ]);
  }

  async refreshStatus(): Promise<StatusResult | null> {
    try {
      this.status = await this.call("status", {});
    } catch {
      // Shown by the connection state; the page keeps the last status.
    }
    return this.status;
  }

  /** Shows a message in the corner of every page for a while. */
  toast(text: string, tone: Toast["tone"] = "ok"): void {
    const id = this.nextToast++;
    this.toasts = [...this.toasts, { id, tone, text }].slice(-4);
    setTimeout(() => this.dismiss(id), TOAST_MS);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  get hello(): HelloOk | null {
    return this.conn.kind === "connected" ? this.conn.hello : null;
  }

  call<M extends MethodName>(method: M, params: Methods[M]["params"], timeoutMs?: number): Promise<Methods[M]["result"]> {
    if (!this.client) return Promise.reject(new GatewayError("DISCONNECTED", "not connected to the gateway"));
    return this.client.call(method, params, { timeoutMs });
  }

  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
    return this.client?.on(event, handler) ?? (() => undefined);
  }

  /**
   * Runs `load` now (when connected) and after every reconnect; returns the unsubscribe. What
   * `load` reads is not tracked, so an effect subscribing with it runs once, not on every change.
   */
  whenConnected(load: (reconnect: boolean) => void): () => void {
    return this.client?.onConnected((_h, reconnect) => untrack(() => load(reconnect))) ?? (() => undefined);
  }
}

export const app = new AppState();

/** A message for a person out of anything thrown. */
export function errorText(e: unknown): string {
  if (e instanceof GatewayError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
