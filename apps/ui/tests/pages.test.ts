// The streams and column lineage pages against canned API answers (fetch replaced): what they
// show, their empty and error states, links, and that names and payloads stay text.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flushSync } from "svelte";
import { parse, router } from "../src/lib/router.svelte";
import type { StreamSummary } from "../src/lib/streams";
import { render, unmountAll } from "./render";

// ELK runs in a Web Worker, which jsdom lacks: place the nodes in a column instead
vi.mock("../src/lib/layout", () => ({
  warm: () => {},
  layout: async (graph: { nodes: { name: string }[]; edges: { source: string; target: string }[] }) => ({
    nodes: graph.nodes.map((n, i) => ({ name: n.name, x: 0, y: i * 40, width: 200, height: 34 })),
    edges: graph.edges.map((e) => ({ ...e, path: "M0,0L1,1" })),
    width: 200,
    height: graph.nodes.length * 40,
  }),
}));

type Answer = { status?: number; body: unknown };
let answers: Record<string, Answer> = {};
const asked: string[] = [];

beforeEach(() => {
  answers = {};
  asked.length = 0;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      const path = String(url).replace(/^\/api\/v1/, "");
      asked.push(path);
      const answer = answers[path];
      if (!answer) {
        return new Response(JSON.stringify({ error: { code: "not_found", message: `no ${path}` } }), { status: 404 });
      }
      return new Response(JSON.stringify(answer.body), { status: answer.status ?? 200 });
    }),
  );
});

afterEach(() => {
  unmountAll();
  vi.unstubAllGlobals();
});

async function until(check: () => unknown): Promise<void> {
  await vi.waitFor(() => {
    flushSync();
    expect(check()).toBeTruthy();
  });
}

function stream(overrides: Partial<StreamSummary>): StreamSummary {
  return {
    name: "orders",
    mode: "validate",
    fields: { id: "int64", amount: "float64" },
    table: "main.orders",
    published: 0,
    rate: 0,
    durable_offset: 0,
    committed_offset: 0,
    lag: 0,
    quarantined: 0,
    log_bytes: 0,
    fsyncs: 0,
    fsync_ms: 0,
    error: null,
    consumers: [],
    adapters: [],
    ...overrides,
  };
}

describe("the streams page", () => {
  it("lists each stream with its rate, lag, consumers, quarantine and adapter health", async () => {
    answers["/streams"] = {
      body: {
        streams: [
          stream({
            name: "clicks<img src=x onerror=alert(1)>",
            mode: "quarantine",
            published: 1234,
            rate: 2.25,
            lag: 3,
            quarantined: 2,
            consumers: [
              { consumer: "billing", committed: 10, lag: 7, leased: false },
              { consumer: "audit", committed: 15, lag: 2, leased: true },
            ],
            adapters: [
              {
                name: "clicks_in",
                type: "pubsub",
                stream: "clicks",
                state: "down",
                last_error: "connection refused",
                last_error_at: 1,
                last_event_at: null,
                counters: {},
              },
            ],
          }),
          stream({ name: "orders" }),
        ],
      },
    };
    const { default: StreamsPage } = await import("../src/pages/StreamsPage.svelte");
    const el = render(StreamsPage);
    await until(() => el.querySelector("[data-testid=streams-table]"));

    const rows = el.querySelectorAll("tbody tr");
    expect(rows).toHaveLength(2);
    const clicks = rows[0];
    expect(clicks.querySelector("a")!.textContent).toBe("clicks<img src=x onerror=alert(1)>");
    expect(clicks.querySelector("a")!.getAttribute("href")).toBe("#/streams/clicks%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E");
    expect(el.querySelector("img")).toBeNull();
    expect(clicks.querySelector("[data-cell=published]")!.textContent).toBe((1234).toLocaleString());
    expect(clicks.querySelector("[data-cell=rate]")!.textContent).toBe("2.3/s");
    expect(clicks.querySelector("[data-cell=lag]")!.textContent).toBe("3");
    expect(clicks.querySelector("[data-cell=consumers]")!.textContent).toContain("2 · max lag 7");
    expect(clicks.querySelector("[data-cell=quarantined]")!.textContent!.trim()).toBe("2");
    expect(clicks.querySelector("[data-adapter=clicks_in]")!.getAttribute("data-state")).toBe("down");
    expect(rows[1].querySelector("[data-cell=consumers]")!.textContent).toContain("none");
    expect(el.querySelector("[data-testid=streams-count]")!.textContent).toBe("2 streams");
  });

  it("says how to declare a stream when the project has none", async () => {
    answers["/streams"] = {
      status: 503,
      body: { error: { code: "unavailable", message: "stream ingestion is not running in this server" } },
    };
    const { default: StreamsPage } = await import("../src/pages/StreamsPage.svelte");
    const el = render(StreamsPage);
    await until(() => el.querySelector("[data-testid=empty-state]"));
    const empty = el.querySelector("[data-testid=empty-state]")!;
    expect(empty.textContent).toContain("No streams in this project");
    expect(empty.textContent).toContain("stream ingestion is not running in this server");
    expect(empty.textContent).toContain('from interlace_stream import stream');
    expect(empty.textContent).toContain("streams:");
    expect(empty.textContent).toContain("docs/streams.md");
  });
});

describe("a stream's page", () => {
  it("shows its fields, consumers with lag and quarantined events with the reason, as text", async () => {
    answers["/streams/clicks"] = {
      body: stream({
        name: "clicks",
        mode: "quarantine",
        fields: { user: "string", page: "string" },
        published: 5,
        durable_offset: 5,
        committed_offset: 5,
        quarantined: 1,
        consumers: [{ consumer: "billing", committed: 2, lag: 3, leased: false }],
      }),
    };
    answers["/streams/clicks/quarantine?limit=50"] = {
      body: {
        stream: "clicks",
        events: [
          {
            offset: 4,
            event_id: null,
            received_at: "2026-01-01 10:00:00",
            payload: '{"user": 5, "page": "<script>alert(1)</script>"}',
            error: "field 'user': expected string, got integer 5",
            replayed_at: null,
          },
        ],
      },
    };
    const { default: StreamPage } = await import("../src/pages/StreamPage.svelte");
    const el = render(StreamPage, { name: "clicks" });
    await until(() => el.querySelector("[data-testid=stream-quarantine]"));

    expect(el.querySelector("[data-testid=stream-name]")!.textContent).toBe("clicks");
    const fields = [...el.querySelectorAll("[data-testid=stream-fields] tbody tr")].map((r) => r.textContent);
    expect(fields).toEqual(["userstring", "pagestring"]);
    expect(el.querySelector("[data-consumer=billing] [data-cell=lag]")!.textContent).toBe("3");
    const quarantined = el.querySelector("[data-testid=stream-quarantine] [data-offset='4']")!;
    expect(quarantined.querySelector("[data-cell=reason]")!.textContent).toBe(
      "field 'user': expected string, got integer 5",
    );
    expect(quarantined.querySelector("[data-cell=payload]")!.textContent).toContain('"page": "<script>alert(1)</script>"');
    expect(el.querySelector("script")).toBeNull();
    expect(el.textContent).toContain("1 waiting");
    expect(el.querySelector("[data-stat=quarantined]")!.textContent).toContain("1");
  });

  it("an unknown stream says so and links back to the list", async () => {
    const { default: StreamPage } = await import("../src/pages/StreamPage.svelte");
    const el = render(StreamPage, { name: "nope" });
    await until(() => el.querySelector("[data-testid=error-state]"));
    expect(el.textContent).toContain("No stream “nope”");
    expect(el.querySelector("a[href='#/streams']")).not.toBeNull();
  });
});

const GRAPH = {
  nodes: ["customers", "stg_customers", "clv"].map((name) => ({ name })),
  edges: [],
};

describe("the column lineage page", () => {
  it("shows a column's upstream as a graph and a list, each column linking to its own lineage", async () => {
    router.route = parse("#/lineage/clv?column=customer_name");
    answers["/graph"] = { body: GRAPH };
    const upstream = [
      { model: "stg_customers", column: "first_name", depth: 1 },
      { model: "raw.people", column: "first<b>name</b>", depth: 2 },
    ];
    const column = { name: "customer_name", type: null, transform: "derived", description: null, upstream, downstream: [] };
    const data = {
      model: "clv",
      status: "known",
      reason: null,
      origin: "sql",
      columns: [column],
      edges: [
        ["raw.people.first<b>name</b>", "stg_customers.first_name"],
        ["stg_customers.first_name", "clv.customer_name"],
      ],
    };
    answers["/lineage/clv"] = { body: { ...data, columns: [column, { ...column, name: "orders", upstream: [] }] } };
    answers["/lineage/clv?direction=both&column=customer_name"] = { body: data };
    const { default: LineagePage } = await import("../src/pages/LineagePage.svelte");
    const el = render(LineagePage, { name: "clv" });
    await until(() => el.querySelector("[data-testid=lineage-graph] [data-column-node]"));

    const nodes = [...el.querySelectorAll("[data-column-node]")].map((n) => [n.getAttribute("data-column-node"), n.getAttribute("data-role")]);
    expect(nodes).toEqual([
      ["clv.customer_name", "focus"],
      ["stg_customers.first_name", "upstream"],
      ["raw.people.first<b>name</b>", "upstream"],
    ]);
    // a project model's column is a link to its lineage; a table outside the project is not
    const link = el.querySelector("[data-column-node='stg_customers.first_name']")!;
    expect(link.tagName.toLowerCase()).toBe("a");
    expect(link.getAttribute("href")).toBe("#/lineage/stg_customers?column=first_name");
    expect(el.querySelector("[data-column-node='raw.people.first<b>name</b>']")!.tagName.toLowerCase()).toBe("g");
    expect(el.querySelector("b")).toBeNull();

    const rows = [...el.querySelectorAll("[data-testid=lineage-upstream] tbody tr")].map((r) => r.getAttribute("data-column"));
    expect(rows).toEqual(["stg_customers.first_name", "raw.people.first<b>name</b>"]);
    expect(el.querySelector("[data-testid=lineage-downstream-empty]")).not.toBeNull();
    const columns = [...el.querySelectorAll<HTMLOptionElement>("[data-testid=lineage-column] option")].map((o) => o.value);
    expect(columns).toEqual(["", "customer_name", "orders"]);
    expect(el.querySelector("[data-testid=lineage-status]")).toBeNull();
    expect(asked).toContain("/lineage/clv?direction=both&column=customer_name");
  });

  it("shows unknown lineage with its reason", async () => {
    router.route = parse("#/lineage/customers");
    answers["/graph"] = { body: GRAPH };
    const data = {
      model: "customers",
      status: "unknown",
      reason: "a Python model that does not return an ibis expression",
      origin: "none",
      columns: [],
      edges: [],
    };
    answers["/lineage/customers"] = { body: data };
    answers["/lineage/customers?direction=both"] = { body: data };
    const { default: LineagePage } = await import("../src/pages/LineagePage.svelte");
    const el = render(LineagePage, { name: "customers" });
    await until(() => el.querySelector("[data-testid=lineage-status]"));
    const status = el.querySelector("[data-testid=lineage-status]")!;
    expect(status.getAttribute("data-status")).toBe("unknown");
    expect(status.textContent).toContain("a Python model that does not return an ibis expression");
    await until(() => el.querySelector("[data-testid=empty-state]"));
    expect(el.textContent).toContain("No columns known for customers");
  });

  it("a column that does not exist names the model's columns", async () => {
    router.route = parse("#/lineage/clv?column=nope");
    answers["/graph"] = { body: GRAPH };
    answers["/lineage/clv?direction=both&column=nope"] = {
      status: 422,
      body: { error: { code: "validation_error", message: "model 'clv' has no column 'nope'", hint: "its columns: customer_name, orders" } },
    };
    const { default: LineagePage } = await import("../src/pages/LineagePage.svelte");
    const el = render(LineagePage, { name: "clv" });
    await until(() => el.querySelector("[data-testid=error-state]"));
    expect(el.textContent).toContain("No column “nope” in clv");
    expect(el.textContent).toContain("its columns: customer_name, orders");
    expect(el.querySelector("a[href='#/lineage/clv']")).not.toBeNull();
  });
});
