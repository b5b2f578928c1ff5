// Data a page loads: its value, error and whether it is loading; a newer load wins.
import { ApiError } from "./api.svelte";

export class Resource<T> {
  data = $state<T | null>(null);
  error = $state<ApiError | null>(null);
  loading = $state(false);
  #seq = 0;
  #fn: () => Promise<T>;

  constructor(fn: () => Promise<T>) {
    this.#fn = fn;
  }

  /** Load (again); `quiet` keeps showing the current data meanwhile (live refreshes). */
  async load(quiet = false): Promise<void> {
    const seq = ++this.#seq;
    if (!quiet) this.loading = true;
    try {
      const data = await this.#fn();
      if (seq === this.#seq) {
        this.data = data;
        this.error = null;
      }
    } catch (error) {
      if (seq === this.#seq && !(quiet && this.data !== null)) {
        this.error =
          error instanceof ApiError ? error : new ApiError(0, "error", String(error));
      }
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }
}

/** Run `fn` at most once per `ms` (live events come in bursts). */
export function throttle(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      fn();
    }, wait);
  };
}
