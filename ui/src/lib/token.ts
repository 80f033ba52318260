// Where the gateway token comes from: the URL fragment `#token=…` that `hearth dashboard` and
// the desktop window open (removed from the address bar at once), else this tab's session
// storage. Never the query string: a token or gateway address there could come from anyone's link.

export const TOKEN_KEY = "hearth.token";

export interface LocationLike {
  pathname: string;
  hash: string;
}
export interface HistoryLike {
  replaceState(data: unknown, unused: string, url?: string): void;
}
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Splits `#token=…` (possibly beside a route, `#/chat&token=…`) into the token and the rest. */
export function splitTokenFromHash(hash: string): { token: string | null; rest: string } {
  const body = hash.startsWith("#") ? hash.slice(1) : hash;
  if (!body) return { token: null, rest: "" };
  let token: string | null = null;
  const kept: string[] = [];
  for (const part of body.split("&")) {
    if (part.startsWith("token=")) {
      try {
        token = decodeURIComponent(part.slice("token=".length)).trim() || null;
      } catch {
        token = null;
      }
    } else if (part) {
      kept.push(part);
    }
  }
  return { token, rest: kept.join("&") };
}

/**
 * Takes the token from the fragment (storing it for this tab and rewriting the URL without it,
 * and without any query string) or from session storage.
 */
export function takeToken(loc: LocationLike, history: HistoryLike, storage: StorageLike): string | null {
  const { token, rest } = splitTokenFromHash(loc.hash);
  if (token) {
    storage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", loc.pathname + (rest ? `#${rest}` : ""));
    return token;
  }
  const stored = storage.getItem(TOKEN_KEY);
  return stored && stored.trim() ? stored : null;
}

export function storeToken(storage: StorageLike, token: string): void {
  storage.setItem(TOKEN_KEY, token.trim());
}

export function forgetToken(storage: StorageLike): void {
  storage.removeItem(TOKEN_KEY);
}
