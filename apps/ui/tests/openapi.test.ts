// @vitest-environment node
// The TypeScript types are generated from the committed OpenAPI copy (`npm run types`); this
// fails when someone refreshed the copy but not the types (the Python suite checks the copy
// against the service).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import openapiTS, { astToString } from "openapi-typescript";

describe("API types", () => {
  it("src/api/schema.d.ts is generated from src/api/openapi.json", async () => {
    const document = JSON.parse(
      readFileSync(new URL("../src/api/openapi.json", import.meta.url), "utf8"),
    );
    const expected = astToString(await openapiTS(document));
    const committed = readFileSync(new URL("../src/api/schema.d.ts", import.meta.url), "utf8");
    const body = (text: string) => text.replace(/^\/\*\*[\s\S]*?\*\/\s*/, "").trim();
    expect(body(committed), "run: npm run types").toBe(body(expected));
  }, 30_000);
});
