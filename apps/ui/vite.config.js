import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import tailwindcss from "@tailwindcss/vite";

// `npm run dev` proxies the API to a running `interlace serve` (INTERLACE_URL, default :8484).
const api = process.env.INTERLACE_URL ?? "http://127.0.0.1:8484";

export default defineConfig({
  plugins: [
    tailwindcss(),
    svelte({
      compilerOptions: { warningFilter: (w) => !["state_referenced_locally", "a11y_autofocus"].includes(w.code) },
    }),
  ],
  base: "./",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    chunkSizeWarningLimit: 2000,
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  server: { proxy: { "/api": { target: api, changeOrigin: false } } },
  resolve: process.env.VITEST ? { conditions: ["browser"] } : undefined,
  test: { environment: "jsdom", include: ["tests/**/*.test.ts"] },
});
