// Talking to the service: same-origin fetches with the session cookie (never the API key),
// the CSRF token on changes, and the two global states every page shows: signed out (a 401:
// the sign-in page, with why) and server unreachable (a banner that retries by itself).
import type { components } from "../api/schema";

export type Schemas = components["schemas"];
export type SessionInfo = Schemas["SessionInfo"];

export class ApiError extends Error {
  status: number;
  code: string;
  hint: string | null;
  constructor(status: number, code: string, message: string, hint: string | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
}

export const auth = $state<{
  state: "checking" | "signed-out" | "signed-in";
  message: string;
  info: SessionInfo | null;
}>({ state: "checking", message: "", info: null });

export const server = $state({ down: false, retryIn: 0, attempts: 0, reconnected: 0 });

function cookie(name: string): string | null {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

let csrfToken: string | null = null;

/** `GET /api/v1{path}` (or another method): the parsed JSON, or throws an ApiError. */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; quiet?: boolean } = {},
): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") {
    const token = cookie("interlace_csrf") ?? csrfToken;
    if (token) headers["X-CSRF-Token"] = token;
  }
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch {
    serverDown();
    throw new ApiError(0, "unreachable", "The Interlace server cannot be reached.");
  }
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    serverDown();
  }
  if (response.status === 204) return undefined as T;
  let data: any = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    const failure = new ApiError(
      response.status,
      error.code ?? "error",
      error.message ?? `${method} ${path} answered ${response.status}`,
      error.hint ?? error.details?.hint ?? null,
    );
    if (response.status === 401 && !init.quiet) {
      signedOut(failure.code === "session_ended" || hadSession() ? ENDED : failure.message);
    }
    throw failure;
  }
  return data as T;
}

const ENDED =
  "Your session has ended: the API key expired or was revoked, or the session timed out. " +
  "Sign in again with a valid key.";
const HAD_SESSION = "interlace-had-session";

function hadSession(): boolean {
  try {
    return localStorage.getItem(HAD_SESSION) === "1";
  } catch {
    return false;
  }
}

function rememberSession(on: boolean): void {
  try {
    if (on) localStorage.setItem(HAD_SESSION, "1");
    else localStorage.removeItem(HAD_SESSION);
  } catch {
    /* storage off: an expired session shows the plain sign-in page */
  }
}

export function signedOut(reason: string): void {
  auth.state = "signed-out";
  auth.info = null;
  auth.message = reason;
}

/** Ask the server who we are: signed in (a session, or authentication is off) or not. */
export async function checkSession(): Promise<void> {
  try {
    const info = await api<SessionInfo>("/auth/session", { quiet: true });
    if (info.via === "session") rememberSession(true);
    auth.info = info;
    auth.state = "signed-in";
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      // a first visit has no cookie: no message; an ended session says why (the browser
      // drops the cookie of a session that expired, so the page remembers it had one)
      const ended = error.code === "session_ended" || hadSession();
      signedOut(ended ? ENDED : "");
    } else if (error instanceof ApiError && error.status === 404) {
      auth.state = "signed-in"; // a server without sessions: the API is open
      auth.info = null;
    } else {
      setTimeout(checkSession, 2000);
    }
  }
}

export async function signIn(key: string): Promise<void> {
  const info = await api<SessionInfo>("/auth/session", {
    method: "POST",
    body: { key: key.trim() },
    quiet: true,
  });
  csrfToken = info.csrf_token ?? null;
  rememberSession(true);
  auth.info = info;
  auth.message = "";
  auth.state = "signed-in";
}

export async function signOut(): Promise<void> {
  try {
    await api("/auth/session", { method: "DELETE", quiet: true });
  } finally {
    rememberSession(false);
    signedOut("You signed out.");
  }
}

let retryTimer: ReturnType<typeof setInterval> | null = null;

function serverDown(): void {
  if (server.down) return;
  server.down = true;
  server.attempts = 0;
  scheduleRetry();
}

function scheduleRetry(): void {
  const wait = Math.min(2 + server.attempts * 2, 10);
  server.retryIn = wait;
  if (retryTimer) clearInterval(retryTimer);
  retryTimer = setInterval(() => {
    server.retryIn -= 1;
    if (server.retryIn <= 0) void retryNow();
  }, 1000);
}

/** Try the server again now (the banner's button; the countdown calls it too). */
export async function retryNow(): Promise<void> {
  if (retryTimer) clearInterval(retryTimer);
  retryTimer = null;
  server.attempts += 1;
  try {
    const response = await fetch("/api/v1/health", { credentials: "same-origin" });
    if (!response.ok && response.status >= 500) throw new Error(String(response.status));
    server.down = false;
    server.reconnected += 1; // pages watch this and load again
  } catch {
    scheduleRetry();
  }
}

/** A model's path segment for the API (any character is safe). */
export function modelPath(name: string): string {
  return `/models/${encodeURIComponent(name)}`;
}
