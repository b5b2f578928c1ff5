import { afterEach, describe, expect, it } from "vitest";
import Status from "../src/components/Status.svelte";
import Problem from "../src/components/Problem.svelte";
import QualityList from "../src/components/QualityList.svelte";
import { render, unmountAll } from "./render";

afterEach(unmountAll);

describe("components", () => {
  it("a status badge names the status and carries it for tests and styles", () => {
    const el = render(Status, { status: "running" });
    expect(el.textContent?.trim()).toBe("running");
    expect(el.querySelector("[data-status=running]")).not.toBeNull();
    expect(render(Status, { status: null }).textContent?.trim()).toBe("never run");
  });

  it("an error state says what to do and offers to try again", () => {
    let tried = 0;
    const el = render(Problem, {
      title: "The graph could not be loaded",
      detail: "timeout",
      hint: "Is interlace serve running?",
      retry: () => (tried += 1),
    });
    expect(el.querySelector("[role=alert]")?.textContent).toContain("Is interlace serve running?");
    el.querySelector("button")!.click();
    expect(tried).toBe(1);
  });

  it("quality results show the failing rows' sample, and values as text (no HTML)", () => {
    const el = render(QualityList, {
      items: [
        {
          run_id: "abcdef1234567890",
          model: "orders<script>",
          name: "accepted_values(status)",
          check_type: "accepted_values",
          severity: "warn",
          status: "failed",
          failing_rows: 2,
          sample: [
            { id: 1, status: "<img src=x onerror=alert(1)>" },
            { id: 2, status: null },
          ],
          sql: "select * from orders where status not in ('completed')",
          message: null,
          created_at: "2026-01-01T00:00:00Z",
        },
      ],
      showModel: true,
    });
    const sample = el.querySelector("[data-testid=check-sample]")!;
    expect([...sample.querySelectorAll("th")].map((th) => th.textContent)).toEqual(["id", "status"]);
    expect(sample.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(sample.textContent).toContain("NULL");
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("a[href='#/models/orders%3Cscript%3E']")?.textContent).toBe("orders<script>");
    expect(el.textContent).toContain("2 failing rows");
  });
});
