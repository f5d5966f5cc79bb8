// Routes of the UI's REST API: a method and a path pattern (`/api/flows/:id/resume`) per
// handler, tried in the order they were added (so `/api/flows/dump` goes before `/api/flows/:id`).
import type { IncomingMessage, ServerResponse } from "node:http";

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The `:name` parts of the pattern, decoded. */
  params: Record<string, string>;
}

export type Handler = (c: RouteContext) => void | Promise<void>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export type RouteMatch = { handler: Handler; params: Record<string, string> } | "wrong-method" | undefined;

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split("/"), handler });
    return this;
  }

  /** The handler for `method` and `path`; "wrong-method" when only other methods have that path. */
  match(method: string, path: string): RouteMatch {
    const parts = path.split("/");
    let pathKnown = false;
    for (const route of this.routes) {
      const params = matchParts(route.parts, parts);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params };
      pathKnown = true;
    }
    return pathKnown ? "wrong-method" : undefined;
  }
}

function matchParts(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = parts[i]!;
    if (want.startsWith(":")) {
      if (got === "") return undefined;
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        return undefined;
      }
    } else if (want !== got) return undefined;
  }
  return params;
}
