// Mounting Svelte components in tests: `render` mounts one into the document and flushes it;
// `unmountAll` (after each test) takes every mounted component down and empties the document.
import { flushSync, mount, unmount } from "svelte";

const mounted: Record<string, unknown>[] = [];

export function render(component: any, props: Record<string, unknown> = {}): HTMLElement {
  const target = document.createElement("div");
  document.body.appendChild(target);
  mounted.push(mount(component, { target, props }));
  flushSync();
  return target;
}

export function unmountAll(): void {
  for (const app of mounted.splice(0)) unmount(app);
  document.body.innerHTML = "";
}
