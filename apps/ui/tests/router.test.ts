import { describe, expect, it } from "vitest";
import { href, parse } from "../src/lib/router.svelte";

describe("the hash router", () => {
  it("maps links to pages, with the filters in the query", () => {
    expect(parse("#/graph?focus=orders")).toMatchObject({ page: "graph" });
    expect(parse("#/graph?focus=orders").query.get("focus")).toBe("orders");
    expect(parse("")).toMatchObject({ page: "graph" });
    expect(parse("#/models")).toMatchObject({ page: "models", param: "" });
    expect(parse("#/runs/abc123")).toMatchObject({ page: "run", param: "abc123" });
    expect(parse("#/nowhere")).toMatchObject({ page: "notfound" });
    expect(parse("#/streams")).toMatchObject({ page: "streams", param: "" });
    expect(parse("#/streams/orders")).toMatchObject({ page: "stream", param: "orders" });
    expect(parse("#/lineage")).toMatchObject({ page: "lineage", param: "" });
  });

  it("keeps a lineage link's model, column and direction", () => {
    const link = href("lineage", "stg orders", { column: "amount%", direction: "upstream" });
    const route = parse(link);
    expect(route).toMatchObject({ page: "lineage", param: "stg orders" });
    expect(route.query.get("column")).toBe("amount%");
    expect(route.query.get("direction")).toBe("upstream");
  });

  it("round-trips model names with odd characters", () => {
    for (const name of ['crème<b>&"brûlée"#1?%', "a/b", "spaces in it", "100%"]) {
      const link = href("models", name, { tab: "schema" });
      expect(link).not.toContain("#1");
      const route = parse(link);
      expect(route).toMatchObject({ page: "model", param: name });
      expect(route.query.get("tab")).toBe("schema");
    }
  });

  it("leaves empty filters out of links", () => {
    expect(href("runs", undefined, { status: "", model: null, offset: 0 })).toBe("#/runs?offset=0");
    expect(href("models")).toBe("#/models");
  });
});
