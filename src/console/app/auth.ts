// Who the console acts as, and how every request carries it. A pasted token lives in sessionStorage only (gone
// when the tab closes) and travels as a Bearer header; the WebSocket, which cannot carry headers in a browser,
// gets it as `?token=`. In development mode (AUTH_MODE=none) the user id and role travel as `?user=&role=`.

export type Role = "user" | "moderator" | "admin";
export type Credentials = { mode: "jwt"; token: string } | { mode: "none"; user: string; role: Role };

export interface Me {
  userId: string;
  role: Role;
  authMode: "jwt" | "none";
}

const KEY = "sessiond.console.credentials";

export function savedCredentials(): Credentials | null {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
    if (value?.mode === "jwt" && typeof value.token === "string") return { mode: "jwt", token: value.token };
    if (value?.mode === "none" && typeof value.user === "string") return { mode: "none", user: value.user, role: value.role === "moderator" ? "moderator" : "admin" };
  } catch {
    // unreadable: sign in again
  }
  return null;
}

export function saveCredentials(c: Credentials): void {
  sessionStorage.setItem(KEY, JSON.stringify(c));
}

export function forgetCredentials(): void {
  sessionStorage.removeItem(KEY);
}

/** A failed API call: the server's code and sentence, and the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Calls the API as `credentials`; JSON in and out. Errors carry the server's sentence. */
export class Api {
  /** Told when the server refuses the credentials (401), so the console can ask for a new token. */
  onUnauthorized: (error: ApiError) => void = () => {};

  constructor(readonly credentials: Credentials) {}

  /** `path` with the development-mode identity added when there is no token. */
  url(path: string): string {
    if (this.credentials.mode === "jwt") return path;
    const u = new URL(path, location.origin);
    u.searchParams.set("user", this.credentials.user);
    u.searchParams.set("role", this.credentials.role);
    return u.pathname + u.search;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.credentials.mode === "jwt" ? { ...extra, Authorization: `Bearer ${this.credentials.token}` } : extra;
  }

  /** The WebSocket URL of this server for these credentials. */
  socketUrl(): string {
    const u = new URL("/ws", location.origin);
    u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (this.credentials.mode === "jwt") u.searchParams.set("token", this.credentials.token);
    else {
      u.searchParams.set("user", this.credentials.user);
      u.searchParams.set("role", this.credentials.role);
    }
    return u.toString();
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, body);
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }

  /** The response itself (for downloads); throws ApiError on a non-2xx status. */
  async raw(method: string, path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.url(path), {
        method,
        headers: this.headers(body === undefined ? {} : { "Content-Type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "The server cannot be reached.");
    }
    if (res.ok) return res;
    let code = "error";
    let message = `The server answered ${res.status}.`;
    try {
      const data = await res.json();
      if (typeof data?.error?.code === "string") code = data.error.code;
      if (typeof data?.error?.message === "string") message = data.error.message;
    } catch {
      // not JSON: keep the status sentence
    }
    const error = new ApiError(res.status, code, message);
    if (res.status === 401) this.onUnauthorized(error);
    throw error;
  }
}
