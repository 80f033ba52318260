import { describe, expect, it } from "vitest";
import { bars, contextTokens, dailySeries, dayToSeconds, emptyRow, formatCost, formatPercent, formatTokens, sumRows, totalTokens } from "../src/lib/usage";

const row = (over: Partial<ReturnType<typeof emptyRow>> & { key?: string } = {}) => ({ ...emptyRow(), key: "k", ...over });

describe("aggregation", () => {
  it("sums rows; cost stays unknown only when every cost is unknown", () => {
    const s = sumRows([
      row({ runs: 1, inputTokens: 100, outputTokens: 10, cost: null }),
      row({ runs: 2, inputTokens: 50, outputTokens: 5, cacheReadTokens: 7, cacheWriteTokens: 3, cost: 0.25 }),
    ]);
    expect(s).toEqual({ runs: 3, inputTokens: 150, outputTokens: 15, cacheReadTokens: 7, cacheWriteTokens: 3, cost: 0.25 });
    expect(sumRows([row(), row()]).cost).toBeNull();
    expect(totalTokens(s)).toBe(175);
  });

  it("counts the context a call used", () => {
    expect(contextTokens({ input: 1000, output: 200, cacheRead: 500, cacheWrite: 0 })).toBe(1700);
    expect(contextTokens(null)).toBe(0);
  });

  it("makes bars, largest first, by cost when there is one", () => {
    const b = bars([row({ key: "cheap", inputTokens: 9000, cost: 0.01 }), row({ key: "dear", inputTokens: 10, cost: 1 })]);
    expect(b.map((x) => x.key)).toEqual(["dear", "cheap"]);
    expect(b[0].share).toBe(1);
    expect(b[1].share).toBeCloseTo(0.01);
    const t = bars([row({ key: "a", inputTokens: 10 }), row({ key: "b", inputTokens: 40 })]);
    expect(t.map((x) => [x.key, x.share])).toEqual([["b", 1], ["a", 0.25]]);
    expect(bars([row({ key: "zero" })])[0].share).toBe(0);
  });

  it("shapes the daily series oldest first", () => {
    const s = dailySeries([
      row({ key: "2025-01-02", inputTokens: 5, outputTokens: 1, cacheReadTokens: 2, cost: 0.5 }),
      row({ key: "2025-01-01", inputTokens: 3, cost: null }),
    ]);
    expect(s.x).toEqual([dayToSeconds("2025-01-01"), dayToSeconds("2025-01-02")]);
    expect(s.input).toEqual([3, 5]);
    expect(s.output).toEqual([0, 1]);
    expect(s.cache).toEqual([0, 2]);
    expect(s.cost).toEqual([null, 0.5]);
    expect(dayToSeconds("2025-01-02") - dayToSeconds("2025-01-01")).toBeGreaterThanOrEqual(82800);
  });
});

describe("formatting", () => {
  it("writes token counts short", () => {
    expect(formatTokens(0)).toBe("0");
    expect(formatTokens(950)).toBe("950");
    expect(formatTokens(1000)).toBe("1k");
    expect(formatTokens(1234)).toBe("1.23k");
    expect(formatTokens(12_345)).toBe("12.3k");
    expect(formatTokens(128_000)).toBe("128k");
    expect(formatTokens(4_200_000)).toBe("4.2M");
    expect(formatTokens(25_000_000)).toBe("25M");
  });

  it("writes dollars, and unknown prices as a dash", () => {
    expect(formatCost(null)).toBe("—");
    expect(formatCost(undefined)).toBe("—");
    expect(formatCost(0)).toBe("$0.00");
    expect(formatCost(0.00421)).toBe("$0.0042");
    expect(formatCost(1.234)).toBe("$1.23");
  });

  it("writes shares", () => {
    expect(formatPercent(1, 3)).toBe("33%");
    expect(formatPercent(12_300, 128_000)).toBe("9.6%");
    expect(formatPercent(1, 0)).toBe("—");
  });
});
