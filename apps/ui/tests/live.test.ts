import { describe, expect, it } from "vitest";
import { apply, live, type LiveEvent } from "../src/lib/live.svelte";

let id = 0;
function event(type: string, run_id: string, extra: Record<string, unknown> = {}): LiveEvent {
  id += 1;
  return { id, type, run_id, ...extra };
}

describe("live updates", () => {
  it("follow each model of a run from queued to its end", () => {
    apply(event("run.running", "r1", { models: ["a", "b", "c"] }));
    expect(live.runId).toBe("r1");
    for (const model of ["a", "b", "c"]) apply(event("task.queued", "r1", { model }));
    expect(live.models).toMatchObject({ a: "queued", b: "queued", c: "queued" });

    apply(event("task.running", "r1", { model: "a" }));
    apply(event("task.completed", "r1", { model: "a" }));
    apply(event("task.failed", "r1", { model: "b" }));
    apply(event("task.skipped", "r1", { model: "c", kind: "upstream_failed" }));
    apply(event("run.failed", "r1"));

    expect(live.models).toMatchObject({ a: "success", b: "failed", c: "skipped" });
    expect(live.runStatus).toBe("failed");
  });

  it("mark what a cancelled run left unfinished as cancelled", () => {
    apply(event("run.running", "r2", { models: ["x", "y"] }));
    apply(event("task.queued", "r2", { model: "y" }));
    apply(event("task.running", "r2", { model: "x" }));
    apply(event("task.skipped", "r2", { model: "x", kind: "cancelled" }));
    apply(event("run.cancelled", "r2"));

    expect(live.models.x).toBe("cancelled");
    expect(live.models.y).toBe("cancelled");
    expect(live.runStatus).toBe("cancelled");
  });

  it("leave models of other runs alone when a run ends", () => {
    apply(event("run.running", "r3", { models: ["p"] }));
    apply(event("task.queued", "r3", { model: "p" }));
    apply(event("run.running", "r4", { models: ["q"] }));
    apply(event("task.queued", "r4", { model: "q" }));
    apply(event("run.cancelled", "r3"));

    expect(live.models.p).toBe("cancelled");
    expect(live.models.q).toBe("queued");
    expect(live.runId).toBe("r4");
  });
});
