import { describe, expect, it } from "vitest";
import {
  PLATFORMS,
  accessErrors,
  addApproved,
  addRequest,
  buildAddParams,
  buildTestParams,
  channelLabel,
  codeSegments,
  countsSummary,
  credentialErrors,
  formatExpiresIn,
  newWizard,
  parseIds,
  queueSummary,
  removeApproved,
  requiredKeys,
  resolveRequest,
  senderLabel,
  stateInfo,
  stepErrors,
  testFingerprint,
  type WizardState,
} from "../src/lib/channels";
import type { ChannelCounts, PairingRequest } from "../src/lib/protocol";

const counts = (over: Partial<ChannelCounts> = {}): ChannelCounts => ({
  received: 0,
  allowed: 0,
  denied: 0,
  ignored: 0,
  pairing: 0,
  sent: 0,
  sendFailures: 0,
  inboundPending: 0,
  outboundPending: 0,
  outboundFailed: 0,
  ...over,
});

const wizard = (over: Partial<WizardState>): WizardState => ({ ...newWizard(over.platform), ...over });

describe("channel states", () => {
  it("have a word and a tone for every state", () => {
    expect(stateInfo("connected")).toMatchObject({ label: "Connected", tone: "ok" });
    expect(stateInfo("connecting")).toMatchObject({ label: "Connecting", tone: "warn" });
    expect(stateInfo("retrying")).toMatchObject({ label: "Retrying", tone: "warn" });
    expect(stateInfo("failed")).toMatchObject({ label: "Failed", tone: "err" });
    expect(stateInfo("disabled")).toMatchObject({ label: "Disabled", tone: "" });
    expect(stateInfo("paused")).toMatchObject({ label: "Paused", tone: "warn" });
    expect(stateInfo("unavailable")).toMatchObject({ label: "Unavailable", tone: "err" });
    for (const s of ["connecting", "connected", "retrying", "failed", "disabled", "paused", "unavailable"]) {
      expect(stateInfo(s).text.length).toBeGreaterThan(0);
    }
  });
  it("show an unknown state as it is", () => {
    expect(stateInfo("sleeping")).toEqual({ label: "sleeping", tone: "", text: "" });
  });
  it("name channels for people", () => {
    expect(channelLabel("telegram")).toBe("Telegram");
    expect(channelLabel("webchat")).toBe("WebChat");
    expect(channelLabel("irc")).toBe("irc");
  });
});

describe("counts", () => {
  it("summarise messages, adding the rare kinds only when there are any", () => {
    expect(countsSummary(counts({ received: 12, allowed: 10, denied: 2, sent: 9 }))).toBe("12 received · 10 allowed · 2 denied · 9 sent");
    expect(countsSummary(counts({ received: 3, ignored: 2, pairing: 1, sendFailures: 4 }))).toBe(
      "3 received · 0 allowed · 0 denied · 0 sent · 2 ignored in groups · 1 pairing code · 4 send failures",
    );
  });
  it("summarise the queues", () => {
    expect(queueSummary(counts())).toBe("empty");
    expect(queueSummary(counts({ outboundPending: 3, outboundFailed: 1, inboundPending: 2 }))).toBe(
      "3 waiting to be sent · 1 failed for good · 2 not answered yet",
    );
  });
});

describe("pairing", () => {
  const now = 1_700_000_000_000;
  it("counts down to the expiry", () => {
    expect(formatExpiresIn(now + 3_600_000, now)).toBe("1 h 0 min");
    expect(formatExpiresIn(now + 59 * 60_000 + 30_500, now)).toBe("59 min 30 s");
    expect(formatExpiresIn(now + 45_999, now)).toBe("45 s");
    expect(formatExpiresIn(now + 999, now)).toBe("expired");
    expect(formatExpiresIn(now, now)).toBe("expired");
    expect(formatExpiresIn(now - 5000, now)).toBe("expired");
    expect(formatExpiresIn(Number.NaN, now)).toBe("expired");
  });

  const req = (senderId: string, code: string, createdAtMs: number): PairingRequest => ({
    channel: "telegram",
    account: "default",
    senderId,
    senderName: senderId === "1" ? "Ada" : null,
    code,
    createdAtMs,
    expiresAtMs: createdAtMs + 3_600_000,
  });

  it("keeps requests live from events", () => {
    let list = addRequest([], req("2", "BBBB", 20));
    list = addRequest(list, req("1", "AAAA", 10));
    expect(list.map((r) => r.code)).toEqual(["AAAA", "BBBB"]);
    // A sender asking again replaces their old code.
    list = addRequest(list, req("1", "CCCC", 30));
    expect(list.map((r) => r.code)).toEqual(["BBBB", "CCCC"]);
    list = addRequest(list, req("1", "CCCC", 30));
    expect(list).toHaveLength(2);
    list = resolveRequest(list, { channel: "telegram", account: "default", senderId: "2", decision: "approved" });
    expect(list.map((r) => r.code)).toEqual(["CCCC"]);
    // Another account's sender with the same id is someone else.
    expect(resolveRequest(list, { channel: "telegram", account: "work", senderId: "1", decision: "denied" })).toHaveLength(1);
  });

  it("keeps approved senders once, newest first", () => {
    const a = { channel: "slack", account: "default", senderId: "U1", approvedAtMs: 1 };
    const b = { channel: "slack", account: "default", senderId: "U2", senderName: "Bo", approvedAtMs: 2 };
    let list = addApproved(addApproved([], a), b);
    expect(list.map((s) => s.senderId)).toEqual(["U2", "U1"]);
    list = addApproved(list, { ...a, approvedAtMs: 3 });
    expect(list.map((s) => s.senderId)).toEqual(["U1", "U2"]);
    expect(removeApproved(list, a).map((s) => s.senderId)).toEqual(["U2"]);
  });

  it("names senders", () => {
    expect(senderLabel({ senderId: "42", senderName: "Ada" })).toBe("Ada (42)");
    expect(senderLabel({ senderId: "42" })).toBe("42");
  });
});

describe("wizard validation", () => {
  it("asks each platform for its own credentials", () => {
    expect(requiredKeys(newWizard("telegram"))).toEqual(["botToken"]);
    expect(requiredKeys(newWizard("discord"))).toEqual(["token"]);
    expect(requiredKeys(newWizard("slack"))).toEqual(["botToken", "appToken"]);
    expect(requiredKeys(wizard({ platform: "slack", settings: { mode: "http" } }))).toEqual(["botToken", "signingSecret"]);
    expect(requiredKeys(newWizard("matrix"))).toEqual(["homeserver", "userId", "password"]);
    expect(requiredKeys(wizard({ platform: "matrix", credentials: { accessToken: "syt_x" } }))).toEqual(["homeserver", "userId", "accessToken"]);
  });

  it("blocks the credentials step until they are there", () => {
    expect(Object.keys(credentialErrors(newWizard("telegram")))).toEqual(["botToken"]);
    expect(credentialErrors(wizard({ platform: "telegram", credentials: { botToken: "  " } })).botToken).toBe("Enter the bot token.");
    expect(credentialErrors(wizard({ platform: "telegram", credentials: { botToken: "1:abc" } }))).toEqual({});
    expect(credentialErrors(wizard({ platform: "discord", credentials: { token: "t" } }))).toEqual({});

    const slack = wizard({ platform: "slack", credentials: { botToken: "xoxb-1" } });
    expect(Object.keys(credentialErrors(slack))).toEqual(["appToken"]);
    expect(credentialErrors({ ...slack, credentials: { botToken: "xoxb-1", appToken: "xapp-1" } })).toEqual({});
    // The Events API needs the signing secret, not the app token.
    const http = { ...slack, settings: { mode: "http" }, credentials: { botToken: "xoxb-1", appToken: "xapp-1" } };
    expect(Object.keys(credentialErrors(http))).toEqual(["signingSecret"]);

    const matrix = wizard({ platform: "matrix", settings: { homeserver: "https://m.example.org", userId: "@bot:example.org" } });
    expect(credentialErrors(matrix).password).toMatch(/access token/);
    expect(credentialErrors({ ...matrix, credentials: { password: "pw" } })).toEqual({});
    expect(credentialErrors({ ...matrix, credentials: { accessToken: "syt" } })).toEqual({});
    expect(Object.keys(credentialErrors(wizard({ platform: "matrix", credentials: { accessToken: "syt" } })))).toEqual(["homeserver", "userId"]);
  });

  it("checks URLs, Matrix user ids and account ids", () => {
    const bad = wizard({ platform: "matrix", settings: { homeserver: "matrix.example.org", userId: "hearth" }, credentials: { password: "pw" } });
    expect(Object.keys(credentialErrors(bad)).sort()).toEqual(["homeserver", "userId"]);
    const root = wizard({ platform: "telegram", credentials: { botToken: "1:a" }, settings: { apiRoot: "ftp://x" } });
    expect(Object.keys(credentialErrors(root))).toEqual(["apiRoot"]);
    expect(credentialErrors({ ...root, settings: { apiRoot: "http://127.0.0.1:9000" } })).toEqual({});
    expect(credentialErrors({ ...root, settings: {}, account: "work bot" }).account).toBeTruthy();
    expect(credentialErrors({ ...root, settings: {}, account: "work-2" })).toEqual({});
  });

  it("needs senders for an allowlist", () => {
    expect(accessErrors(wizard({ dmPolicy: "allowlist" })).allowFrom).toBeTruthy();
    expect(accessErrors(wizard({ dmPolicy: "allowlist", allowFrom: "42" }))).toEqual({});
    expect(accessErrors(wizard({ dmPolicy: "pairing" }))).toEqual({});
    expect(stepErrors(0, newWizard("slack"))).toEqual({});
    expect(Object.keys(stepErrors(3, wizard({ dmPolicy: "allowlist" }))).sort()).toEqual(["allowFrom", "botToken"]);
  });

  it("reads id lists however they are typed", () => {
    expect(parseIds(" 1, 2\n3  2,,")).toEqual(["1", "2", "3"]);
    expect(parseIds("")).toEqual([]);
  });

  it("writes every platform's steps, with code in backticks", () => {
    for (const p of PLATFORMS) expect(p.steps.length).toBeGreaterThan(2);
    expect(codeSegments("Send `/newbot` now")).toEqual([
      { code: false, text: "Send " },
      { code: true, text: "/newbot" },
      { code: false, text: " now" },
    ]);
  });
});

describe("wizard parameters", () => {
  it("keep secrets in credentials and never in settings", () => {
    const s = wizard({
      platform: "slack",
      account: "work",
      credentials: { botToken: " xoxb-secret ", appToken: "xapp-secret", signingSecret: "unused-secret", stray: "x" },
      settings: { mode: "socket", apiRoot: "http://127.0.0.1:9/api/", botToken: "xoxb-leak" },
      dmPolicy: "allowlist",
      allowFrom: "U1, U2",
      groupPolicy: "open",
    });
    const p = buildAddParams(s, "hash-1");
    expect(p).toEqual({
      channel: "slack",
      account: "work",
      credentials: { botToken: "xoxb-secret", appToken: "xapp-secret" },
      settings: { mode: "socket", apiRoot: "http://127.0.0.1:9/api", dmPolicy: "allowlist", groupPolicy: "open", allowFrom: ["U1", "U2"] },
      baseHash: "hash-1",
      test: true,
    });
    expect(JSON.stringify(p.settings)).not.toMatch(/secret|xoxb|xapp/);
  });

  it("omit the default account and empty values", () => {
    const p = buildAddParams(wizard({ platform: "telegram", credentials: { botToken: "1:a" }, settings: { apiRoot: "  " } }));
    expect(p).toEqual({
      channel: "telegram",
      credentials: { botToken: "1:a" },
      settings: { dmPolicy: "pairing", groupPolicy: "allowlist" },
      test: true,
    });
  });

  it("let strangers in with an open policy only through the wildcard", () => {
    const p = buildAddParams(wizard({ platform: "discord", credentials: { token: "t" }, dmPolicy: "open", allowFrom: "" }));
    expect(p.settings.allowFrom).toEqual(["*"]);
  });

  it("send Matrix's homeserver and user id as settings, its password as a credential", () => {
    const s = wizard({
      platform: "matrix",
      credentials: { password: "pw" },
      settings: { homeserver: "https://matrix.example.org/", userId: "@hearth:example.org" },
    });
    expect(buildTestParams(s)).toEqual({
      channel: "matrix",
      credentials: { password: "pw" },
      settings: { homeserver: "https://matrix.example.org", userId: "@hearth:example.org" },
    });
  });

  it("need a new test when what was tested changes", () => {
    const s = wizard({ platform: "telegram", credentials: { botToken: "1:a" } });
    const tested = testFingerprint(s);
    expect(testFingerprint({ ...s, dmPolicy: "open" })).toBe(tested);
    expect(testFingerprint({ ...s, credentials: { botToken: "1:b" } })).not.toBe(tested);
    expect(testFingerprint({ ...s, settings: { apiRoot: "http://127.0.0.1:1" } })).not.toBe(tested);
    expect(testFingerprint({ ...s, account: "work" })).not.toBe(tested);
  });
});
