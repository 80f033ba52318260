import { describe, expect, it } from "vitest";
import { fieldForIssue, formatIssue, hasErrors, issuesFromDetails, mapIssues, normalizePath } from "../src/lib/issues";
import type { Issue } from "../src/lib/protocol";

const fields = new Set(["", "gateway", "gateway.port", "models", "models.providers", "agents", "agents.list", "agents.defaults.model.primary"]);

describe("schema path ↔ issue", () => {
  it("normalises the ways a path can be written", () => {
    expect(normalizePath("agents.list[0].id")).toBe("agents.list.0.id");
    expect(normalizePath("$.gateway.port")).toBe("gateway.port");
    expect(normalizePath("/gateway/port")).toBe("gateway.port");
    expect(normalizePath("models.providers['my.p']")).toBe("models.providers.my.p");
    expect(normalizePath("")).toBe("");
  });

  it("puts an issue on its field, or the nearest field above it", () => {
    expect(fieldForIssue("gateway.port", fields)).toBe("gateway.port");
    expect(fieldForIssue("models.providers.openai.baseUrl", fields)).toBe("models.providers");
    expect(fieldForIssue("agents.list[2].model", fields)).toBe("agents.list");
    expect(fieldForIssue("unknownKey", fields)).toBe("");
    expect(fieldForIssue("", fields)).toBe("");
  });

  it("groups issues by field", () => {
    const issues: Issue[] = [
      { severity: "error", path: "gateway.port", message: "too big" },
      { severity: "warning", path: "agents.defaults.model.primary", message: "no primary model" },
      { severity: "error", path: "models.providers.x.api", message: "unknown api" },
      { severity: "error", path: "", message: "syntax", line: 3, column: 7 },
    ];
    const map = mapIssues(issues, fields);
    expect(map.get("gateway.port")?.map((i) => i.message)).toEqual(["too big"]);
    expect(map.get("models.providers")?.map((i) => i.message)).toEqual(["unknown api"]);
    expect(map.get("")?.map((i) => i.message)).toEqual(["syntax"]);
    expect(hasErrors(map.get("agents.defaults.model.primary") ?? [])).toBe(false);
    expect(hasErrors(issues)).toBe(true);
  });

  it("reads issues out of a refused write's details", () => {
    expect(issuesFromDetails({ issues: [{ severity: "error", path: "a.b", message: "bad" }, { nope: 1 }] })).toEqual([
      { severity: "error", path: "a.b", message: "bad" },
    ]);
    expect(issuesFromDetails(null)).toEqual([]);
    expect(issuesFromDetails({ expected: "x" })).toEqual([]);
  });

  it("formats an issue for people", () => {
    expect(formatIssue({ severity: "error", path: "gateway.port", message: "too big" })).toBe("gateway.port: too big");
    expect(formatIssue({ severity: "error", path: "", message: "unexpected }", line: 4, column: 2 })).toBe("unexpected } (line 4, column 2)");
  });
});
