// Small formatting helpers shared by the pages.

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function ago(iso: string | null | undefined): string {
  if (!iso) return "";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function between(start: string | null | undefined, end: string | null | undefined) {
  if (!start) return null;
  const to = end ? new Date(end).getTime() : Date.now();
  return (to - new Date(start).getTime()) / 1000;
}

export function rows(count: number | null | undefined): string {
  if (count === null || count === undefined) return "–";
  return count.toLocaleString();
}

/** The CSS colour variable of a run or task status. */
export function statusColor(status: string | null | undefined): string {
  switch (status) {
    case "success":
    case "passed":
      return "var(--il-ok)";
    case "unchanged":
      return "color-mix(in srgb, var(--il-ok) 55%, var(--il-idle))";
    case "failed":
    case "error":
    case "killed":
      return "var(--il-bad)";
    case "running":
      return "var(--il-run)";
    case "skipped":
    case "warn":
    case "cancelled":
    case "interrupted":
      return "var(--il-warn)";
    default:
      return "var(--il-idle)";
  }
}
