// Live updates: one EventSource on /api/v1/events (the session cookie authenticates it).
// Browsers reconnect by themselves and send Last-Event-ID, so nothing is missed; after a full
// reload the last seen id (kept for this tab) is passed as ?after= for the same effect.
import { api, checkSession, type Schemas } from "./api.svelte";

export type TaskStatus =
  | "queued"
  | "running"
  | "success"
  | "failed"
  | "skipped"
  | "cancelled"
  | "interrupted"
  | "unchanged";

export interface LiveEvent {
  id: number;
  type: string;
  run_id: string;
  model?: string;
  [key: string]: unknown;
}

const KEY = "interlace-last-event";
const REPLAY_WITHIN = 10 * 60 * 1000; // a reload this soon after replays what it missed

export const live = $state<{
  connected: boolean;
  lastId: number;
  /** model -> its latest status (the last run's, then live) */
  models: Record<string, TaskStatus>;
  /** the run being watched on the graph (the latest that started) */
  runId: string | null;
  runStatus: string | null;
  /** bumps on every event (pages that list runs reload, throttled) */
  tick: number;
}>({ connected: false, lastId: 0, models: {}, runId: null, runStatus: null, tick: 0 });

type Listener = (event: LiveEvent) => void;
const listeners = new Set<Listener>();

/** Call `fn` on every live event until the returned function is called. */
export function onEvent(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const TASK: Record<string, TaskStatus> = {
  "task.queued": "queued",
  "task.running": "running",
  "task.completed": "success",
  "task.failed": "failed",
  "task.skipped": "skipped",
};

const owner = new Map<string, string>(); // model -> the run of its latest status

/** Apply one event to the live state (exported for tests). */
export function apply(event: LiveEvent): void {
  const kind = event.type;
  const run = event.run_id;
  if (kind === "run.running") {
    live.runId = run;
    live.runStatus = "running";
    // each model turns "queued" by its own task.queued event, spread over frames
    for (const name of (event.models as string[] | undefined) ?? []) owner.set(name, run);
  } else if (kind === "run.completed" || kind === "run.failed" || kind === "run.cancelled") {
    if (live.runId === null || run === live.runId) live.runStatus = kind.slice(4);
    if (kind !== "run.completed") {
      for (const [name, status] of Object.entries(live.models)) {
        if ((status === "queued" || status === "running") && owner.get(name) === run) {
          live.models[name] = kind === "run.cancelled" ? "cancelled" : "interrupted";
        }
      }
    }
  } else if (event.model && kind in TASK) {
    const skip = kind === "task.skipped" ? event.kind : null;
    live.models[event.model] =
      skip === "cancelled" ? "cancelled" : skip === "unchanged" ? "unchanged" : TASK[kind];
    owner.set(event.model, run);
  }
  live.tick += 1;
}

let source: EventSource | null = null;
let pending: LiveEvent[] = [];
let frame = 0;

const PER_FRAME = 40; // events applied per animation frame: a busy run never blocks the page

function flush(): void {
  frame = 0;
  const batch = pending.splice(0, PER_FRAME);
  for (const event of batch) {
    apply(event);
    for (const fn of listeners) fn(event);
  }
  if (pending.length) frame = requestAnimationFrame(flush);
}

function received(message: MessageEvent<string>): void {
  let event: LiveEvent;
  try {
    event = JSON.parse(message.data) as LiveEvent;
  } catch {
    return;
  }
  const id = Number(message.lastEventId || event.id || 0);
  if (id) {
    live.lastId = id;
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ id, at: Date.now() }));
    } catch {
      /* storage off: a reload starts from now */
    }
  }
  pending.push(event);
  // events of a busy run arrive in bursts: apply them once per frame, not one by one
  if (!frame) frame = requestAnimationFrame(flush);
}

const TYPES = [
  "run.queued",
  "run.running",
  "run.completed",
  "run.failed",
  "run.cancelled",
  "run.ended",
  "run.progress",
  "task.queued",
  "task.running",
  "task.completed",
  "task.failed",
  "task.skipped",
  "task.progress",
  "check.completed",
  "stream.committed",
];

function resumeFrom(): number {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as { id: number; at: number };
    if (saved && Date.now() - saved.at < REPLAY_WITHIN) return saved.id;
  } catch {
    /* nothing saved */
  }
  return 0;
}

/** Open the event stream (once signed in). */
export function connect(): void {
  if (source) return;
  const after = live.lastId || resumeFrom();
  source = new EventSource(`/api/v1/events${after ? `?after=${after}` : ""}`, {
    withCredentials: true,
  });
  source.onopen = () => {
    live.connected = true;
  };
  source.onerror = () => {
    live.connected = false;
    if (source && source.readyState === EventSource.CLOSED) {
      // refused (401: the session ended) or the server is gone: find out, then try again
      source = null;
      void checkSession();
      setTimeout(() => connect(), 3000);
    }
  };
  source.onmessage = received;
  for (const type of TYPES) source.addEventListener(type, received as EventListener);
}

export function disconnect(): void {
  source?.close();
  source = null;
  live.connected = false;
}

/** A recorded task's status for the graph: skips say why (cancelled, or up to date). */
export function taskStatus(task: Schemas["Task"]): TaskStatus {
  if (task.status !== "skipped") return task.status as TaskStatus;
  const reason = task.skip_reason ?? "";
  if (/cancel/i.test(reason)) return "cancelled";
  if (/^cached|unchanged|a source, filled outside runs/i.test(reason)) return "unchanged";
  return "skipped";
}

/** Seed each model's status from the latest runs that ran it (before any live event): newest
 * run first, until a run of the whole project (it covers every model) or ten runs. */
export async function seed(): Promise<void> {
  const page = await api<Schemas["RunPage"]>("/runs?limit=10");
  const known = new Set<string>();
  const seeded: Record<string, TaskStatus> = {};
  for (const run of page.items) {
    const tasks = await api<Schemas["TaskList"]>(`/runs/${encodeURIComponent(run.id)}/tasks`);
    for (const task of tasks.items) {
      if (known.has(task.model)) continue;
      known.add(task.model);
      seeded[task.model] = taskStatus(task);
    }
    if (run.selection.length === 0 && run.exclude.length === 0) break;
  }
  const latest = page.items[0];
  if (latest && live.runId === null) {
    live.runId = latest.id;
    live.runStatus = latest.status;
  }
  for (const [name, status] of Object.entries(seeded)) {
    if (!(name in live.models)) live.models[name] = status; // live events are newer
  }
}
