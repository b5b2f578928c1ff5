import { describe, expect, it } from "vitest";
import { duration, rows, statusColor } from "../src/lib/format";
import { nodeWidth } from "../src/lib/layout";

describe("formatting", () => {
  it("durations read naturally", () => {
    expect(duration(0.042)).toBe("42 ms");
    expect(duration(3.25)).toBe("3.3 s");
    expect(duration(125)).toBe("2 min 5 s");
    expect(duration(null)).toBe("–");
  });

  it("row counts and status colours", () => {
    expect(rows(1234567)).toBe((1234567).toLocaleString());
    expect(statusColor("success")).toBe("var(--il-ok)");
    expect(statusColor("failed")).toBe("var(--il-bad)");
    expect(statusColor(undefined)).toBe("var(--il-idle)");
  });

  it("graph nodes are wide enough for their names, within bounds", () => {
    expect(nodeWidth("a")).toBe(90);
    expect(nodeWidth("customer_lifetime_value")).toBeGreaterThan(190);
    expect(nodeWidth("x".repeat(500))).toBeLessThanOrEqual(340);
  });
});

describe("the big-graph pre-ordering", () => {
  it("puts every node once, parents in earlier layers, and survives a cycle", async () => {
    const { presort } = await import("../src/lib/layout");
    const graph = {
      nodes: ["c", "a", "b", "d"].map((name) => ({ name })),
      edges: [
        { source: "a", target: "b" },
        { source: "b", target: "c" },
        { source: "a", target: "d" },
      ],
    };
    const order = presort(graph);
    expect([...order].sort()).toEqual(["a", "b", "c", "d"]);
    expect(order.indexOf("a")).toBeLessThan(order.indexOf("b"));
    expect(order.indexOf("b")).toBeLessThan(order.indexOf("c"));
    const cyclic = presort({ nodes: [{ name: "x" }, { name: "y" }], edges: [{ source: "x", target: "y" }, { source: "y", target: "x" }] });
    expect([...cyclic].sort()).toEqual(["x", "y"]);
  });
});
