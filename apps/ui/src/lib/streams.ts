// The stream routes (`/api/v1/streams...`) come with the interlace-stream distribution, not
// with the service, so they are not in the OpenAPI copy the other types are generated from:
// these mirror `interlace_stream.api` (StreamSummary, QuarantineList) and
// `interlace_stream.adapters.base.AdapterHealth`.

export interface StreamConsumer {
  consumer: string;
  /** the next offset it reads */
  committed: number;
  /** committed events it has not acknowledged yet */
  lag: number;
  leased?: boolean;
}

export interface AdapterHealth {
  name: string;
  type: string;
  stream: string;
  state: "healthy" | "degraded" | "down";
  last_error: string | null;
  /** Unix seconds */
  last_error_at: number | null;
  /** Unix seconds */
  last_event_at: number | null;
  counters: Record<string, number>;
}

export interface StreamSummary {
  name: string;
  mode: string;
  fields: Record<string, string>;
  table: string;
  published: number;
  /** events per second over the last 10 s (this server) */
  rate: number;
  durable_offset: number;
  committed_offset: number;
  /** durable events not yet in the table */
  lag: number;
  quarantined: number;
  log_bytes: number;
  fsyncs: number;
  fsync_ms: number;
  error: string | null;
  consumers: StreamConsumer[];
  adapters: AdapterHealth[];
}

export interface StreamList {
  streams: StreamSummary[];
}

export interface QuarantinedEvent {
  offset: number;
  event_id: string | null;
  received_at: string | null;
  payload: string;
  error: string;
  replayed_at: string | null;
}

export interface QuarantineList {
  stream: string;
  events: QuarantinedEvent[];
}

/** A stream's path segment for the API (any character is safe). */
export function streamPath(name: string): string {
  return `/streams/${encodeURIComponent(name)}`;
}

/** A byte count for people: 1.2 MB. */
export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = count / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** Events per second for people: 0, 0.4/s, 12/s, 1,200/s. */
export function rate(perSecond: number): string {
  if (!perSecond) return "0/s";
  if (perSecond < 10) return `${Number(perSecond.toFixed(1))}/s`;
  return `${Math.round(perSecond).toLocaleString()}/s`;
}

/** The status colour name (see `statusColor`) of an adapter's health. */
export function healthStatus(state: string): string {
  return state === "healthy" ? "success" : state === "degraded" ? "warn" : "failed";
}

/** The largest consumer lag of a stream (0 without consumers). */
export function maxConsumerLag(stream: StreamSummary): number {
  return stream.consumers.reduce((most, c) => Math.max(most, c.lag), 0);
}

/** The text of an event's payload: pretty JSON when it parses, else as received. */
export function payloadText(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}
