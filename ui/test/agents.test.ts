import { describe, expect, it } from "vitest";
import {
  agentAddParams,
  awaitingCode,
  bindingParams,
  collectCodes,
  emptyBindingForm,
  emptyRouteForm,
  formatMatch,
  identityLabel,
  linkParams,
  memoryDirLabel,
  parseList,
  peopleOf,
  queueLabel,
  routeParams,
  sharedMemoryAllowed,
  sortByPrecedence,
  tierLabel,
  tierRank,
  validAgentId,
  validIdentity,
} from "../src/lib/agents";
import type { BindingInfo } from "../src/lib/protocol";

const binding = (index: number, tier: BindingInfo["tier"], name = `b${index}`): BindingInfo => ({
  index,
  name,
  agentId: "ops",
  match: { channel: "telegram" },
  sharedMemory: false,
  tier,
});

describe("tiers", () => {
  it("labels every tier and ranks them in the contract's precedence", () => {
    expect(tierLabel("peer")).toBe("Peer");
    expect(tierLabel("parentPeer")).toBe("Parent peer");
    expect(tierLabel("guildRoles")).toBe("Guild and roles");
    expect(tierLabel("default")).toBe("Default agent");
    expect(tierLabel(null)).toBe("—");
    const order = ["peer", "parentPeer", "guildRoles", "guild", "team", "account", "channel", "default"] as const;
    expect(order.map(tierRank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("sorts bindings by tier, then by their place in the file", () => {
    const sorted = sortByPrecedence([binding(0, "channel"), binding(1, "peer"), binding(2, "guild"), binding(3, "peer"), binding(4, "account")]);
    expect(sorted.map((b) => b.index)).toEqual([1, 3, 2, 4, 0]);
  });
});

describe("formatMatch", () => {
  it("writes every field given, in one line", () => {
    expect(formatMatch({ channel: "telegram" })).toBe("Telegram");
    expect(formatMatch({ channel: "telegram", accountId: "work", peer: { kind: "direct", id: "123" } })).toBe("Telegram · account work · person 123");
    expect(formatMatch({ channel: "discord", guildId: "9", roles: ["mods", "admins"] })).toBe("Discord · guild 9 · roles mods, admins");
    expect(formatMatch({ channel: "discord", guildId: "9", roles: ["mods"] })).toBe("Discord · guild 9 · role mods");
    expect(formatMatch({ channel: "slack", teamId: "T1", peer: { kind: "channel", id: "C5" } })).toBe("Slack · channel C5 · team T1");
    expect(formatMatch({ channel: "irc" })).toBe("irc");
  });
});

describe("agents.add parameters", () => {
  const form = { id: "ops", name: " Operations ", model: "fake/fake-model", emoji: "🛠", isDefault: false };
  it("keeps what was filled in", () => {
    expect(agentAddParams(form, ["main"])).toEqual({ ok: true, params: { id: "ops", name: "Operations", model: "fake/fake-model", emoji: "🛠" } });
    expect(agentAddParams({ ...form, name: "", model: "", emoji: "", isDefault: true }, [])).toEqual({ ok: true, params: { id: "ops", default: true } });
  });
  it("refuses a bad, empty or taken id", () => {
    expect(agentAddParams({ ...form, id: "Ops!" }, [])).toEqual({ ok: false, errors: { id: "Use lowercase letters, digits, - and _ only." } });
    expect(agentAddParams({ ...form, id: " " }, [])).toMatchObject({ ok: false, errors: { id: "Give the agent an id." } });
    expect(agentAddParams(form, ["ops"])).toMatchObject({ ok: false, errors: { id: "There is already an agent ops." } });
    expect(validAgentId("a-b_1")).toBe(true);
    expect(validAgentId("a b")).toBe(false);
  });
});

describe("bindings.add parameters", () => {
  it("builds a match with only the fields given", () => {
    const f = { ...emptyBindingForm("ops"), peerKind: "direct" as const, peerId: " 4242 ", account: "default" };
    expect(bindingParams(f)).toEqual({ ok: true, params: { agentId: "ops", match: { channel: "telegram", accountId: "default", peer: { kind: "direct", id: "4242" } } } });
    const g = { ...emptyBindingForm("mods"), channel: "discord", guildId: "9", roles: "r1, r2 r1", name: "discord-mods", sharedMemory: true };
    expect(bindingParams(g)).toEqual({
      ok: true,
      params: { agentId: "mods", match: { channel: "discord", guildId: "9", roles: ["r1", "r2"] }, name: "discord-mods", sharedMemory: true },
    });
  });
  it("checks what the gateway's validation checks", () => {
    const bad = bindingParams({ ...emptyBindingForm(""), peerKind: "group", roles: "r1", sharedMemory: true, name: "a b" });
    expect(bad).toEqual({
      ok: false,
      errors: {
        agentId: "Choose the agent that answers.",
        peerId: "Give the chat's id, or choose no peer.",
        roles: "Roles only apply with a guild id.",
        sharedMemory: "Shared memory needs a team or guild id.",
        name: "Use letters, digits, . _ and - only.",
      },
    });
    expect(bindingParams({ ...emptyBindingForm("ops"), peerId: "5" })).toMatchObject({ ok: false, errors: { peerId: "Choose the kind of chat this id is." } });
  });
  it("offers shared memory only with a team or guild", () => {
    expect(sharedMemoryAllowed({ guildId: "", teamId: "" })).toBe(false);
    expect(sharedMemoryAllowed({ guildId: " ", teamId: "T1" })).toBe(true);
    expect(sharedMemoryAllowed({ guildId: "9", teamId: "" })).toBe(true);
  });
});

describe("route.explain parameters", () => {
  it("leaves empty fields out and splits roles", () => {
    expect(routeParams(emptyRouteForm())).toEqual({ channel: "telegram", peerKind: "direct" });
    const f = { ...emptyRouteForm(), channel: "discord", peerKind: "thread" as const, peerId: "t1", parentPeerId: "c1", senderId: "u1", guildId: "9", roles: "a,b", account: " main " };
    expect(routeParams(f)).toEqual({ channel: "discord", accountId: "main", peerKind: "thread", peerId: "t1", parentPeerId: "c1", senderId: "u1", guildId: "9", roles: ["a", "b"] });
    expect(routeParams({ ...emptyRouteForm(), peerKind: "" })).toEqual({ channel: "telegram" });
  });
  it("names where the memory lives", () => {
    expect(memoryDirLabel("people/alice")).toBe("people/alice/");
    expect(memoryDirLabel(null)).toMatch(/owner/);
  });
  it("parses lists and labels queue modes", () => {
    expect(parseList(" a,b\nc  a ")).toEqual(["a", "b", "c"]);
    expect(parseList("")).toEqual([]);
    expect(queueLabel("collect")).toBe("Collect");
    expect(queueLabel(undefined)).toBe("Follow-up");
  });
});

describe("identities", () => {
  it("knows an identity when it sees one", () => {
    expect(validIdentity("telegram:123")).toBe(true);
    expect(validIdentity("matrix:@ann:example.org")).toBe(true);
    expect(validIdentity("webchat:owner")).toBe(true);
    expect(validIdentity("telegram:")).toBe(false);
    expect(validIdentity("fax:1")).toBe(false);
    expect(validIdentity("123")).toBe(false);
    expect(validIdentity("telegram:1 2")).toBe(false);
    expect(identityLabel("discord:456")).toBe("Discord 456");
    expect(identityLabel("webchat:owner")).toBe("You (Control UI)");
    expect(identityLabel("plain")).toBe("plain");
  });

  it("lists people with the owner first", () => {
    const people = peopleOf({
      owner: "me",
      links: { zed: ["telegram:1", "discord:2"], me: ["webchat:owner", "telegram:9"], amy: ["slack:U1", "matrix:@a:hs"] },
      pending: [],
    });
    expect(people.map((p) => [p.name, p.owner])).toEqual([["me", true], ["amy", false], ["zed", false]]);
  });

  it("checks a link before codes are sent", () => {
    expect(linkParams(" me ", ["webchat:owner", " telegram:4242 ", "", "telegram:4242"])).toEqual({ ok: true, params: { name: "me", identities: ["webchat:owner", "telegram:4242"] } });
    expect(linkParams("", ["telegram:1"])).toEqual({ ok: false, errors: { name: "Give the person a name.", identities: "Link at least two different identities." } });
    expect(linkParams("Me", ["telegram:1", "tg 2"])).toEqual({
      ok: false,
      errors: { name: "Use lowercase letters, digits, - and _ only.", identities: "tg 2 is not an identity: write <channel>:<id>, e.g. telegram:123456789." },
    });
  });

  it("asks for the codes still missing", () => {
    expect(awaitingCode({ identities: ["webchat:owner", "telegram:1", "discord:2"], verified: ["discord:2"] })).toEqual(["telegram:1"]);
    expect(collectCodes({ "telegram:1": " 123 456 ", "discord:2": "" }, ["telegram:1", "discord:2"])).toEqual(["123456"]);
  });
});
