// The hash router: `#/page` or `#/page/<param>`, e.g. `#/chat/work` or `#/sessions/agent%3Amain%3Amain`.

export const PAGES = ["overview", "chat", "channels", "sessions", "providers", "agents", "cron", "people", "usage", "audit", "logs", "config", "welcome"] as const;
export type Page = (typeof PAGES)[number];

export interface Route {
  page: Page;
  param: string | null;
}

export function parseHash(hash: string): Route {
  const body = hash.replace(/^#\/?/, "");
  const [first, ...rest] = body.split("/");
  const page = (PAGES as readonly string[]).includes(first) ? (first as Page) : "overview";
  let param: string | null = null;
  if (rest.length && page === first) {
    try {
      param = decodeURIComponent(rest.join("/")) || null;
    } catch {
      param = null;
    }
  }
  return { page, param };
}

export function href(page: Page, param?: string | null): string {
  return `#/${page}${param ? `/${encodeURIComponent(param)}` : ""}`;
}

class Router {
  route = $state<Route>(parseHash(typeof location === "undefined" ? "" : location.hash));

  constructor() {
    if (typeof window !== "undefined") {
      window.addEventListener("hashchange", () => {
        this.route = parseHash(location.hash);
      });
    }
  }

  go(page: Page, param?: string | null): void {
    const target = href(page, param);
    if (location.hash === target) this.route = parseHash(target);
    else location.hash = target;
  }
}

export const router = new Router();
