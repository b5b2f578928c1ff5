// A hash router: every page and its filters live in the URL (#/runs?status=failed), so links
// can be shared and the back button works. Model names are encoded (any character is safe).

export interface Route {
  page:
    | "graph"
    | "models"
    | "model"
    | "runs"
    | "run"
    | "scheduler"
    | "streams"
    | "stream"
    | "lineage"
    | "notfound";
  param: string;
  query: URLSearchParams;
}

export function parse(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/graph";
  const [path, search = ""] = raw.split("?", 2);
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean);
  const param = parts.length > 1 ? safeDecode(parts.slice(1).join("/")) : "";
  switch (parts[0] ?? "graph") {
    case "graph":
      return { page: "graph", param: "", query };
    case "models":
      return { page: param ? "model" : "models", param, query };
    case "runs":
      return { page: param ? "run" : "runs", param, query };
    case "scheduler":
      return { page: "scheduler", param: "", query };
    case "streams":
      return { page: param ? "stream" : "streams", param, query };
    case "lineage":
      return { page: "lineage", param, query };
    default:
      return { page: "notfound", param: path, query };
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The link to a page: `href("models", "orders")` is `#/models/orders`. */
export function href(
  page: "graph" | "models" | "runs" | "scheduler" | "streams" | "lineage",
  param?: string,
  query?: Record<string, string | number | undefined | null>,
): string {
  let out = `#/${page}`;
  if (param) out += `/${encodeURIComponent(param)}`;
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${out}?${text}` : out;
}

export const router = $state({ route: parse(typeof location === "undefined" ? "" : location.hash) });

if (typeof window !== "undefined") {
  window.addEventListener("hashchange", () => {
    router.route = parse(location.hash);
  });
}

/** Go to `link` (a `#/...` href); `replace` keeps the history entry (filters as you type). */
export function go(link: string, replace = false): void {
  if (replace) {
    history.replaceState(history.state, "", link);
    router.route = parse(link);
  } else {
    location.hash = link.replace(/^#/, "");
  }
}
