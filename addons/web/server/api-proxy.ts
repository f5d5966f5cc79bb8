// The routes about the proxy rather than one flow: options, addons, the event log, the
// intercept filter, filter checks and server-side matching, the UI's state.
import {
  compileFilter,
  FilterError,
  OptionError,
  SDK_VERSION,
  snakeOptionName,
  type AddonInfo,
  type OptionInfo,
} from "@interloper/sdk";
import type { AddonInfo as AddonJson, OptionInfo as OptionJson, ServerState } from "../api-types.ts";
import { HttpError, readJson, sendJson, stringField } from "./http-io.ts";
import type { Router } from "./router.ts";
import type { WebApi } from "./web-api.ts";

/** An option as the API shows it (API.md, OptionInfo). */
export function optionJson(o: OptionInfo): OptionJson {
  return {
    name: snakeOptionName(o.name),
    type: o.type,
    default: o.default ?? null,
    value: o.value ?? null,
    help: o.help,
    choices: o.choices ? [...o.choices] : null,
    owner: o.owner ?? null,
    // A secret's value comes masked (********, or unset): never sent, never to be sent back.
    secret: o.secret === true,
  };
}

/** An addon as the API shows it (API.md, AddonInfo). */
export function addonJson(a: AddonInfo): AddonJson {
  return {
    name: a.name,
    parent: a.parent ?? null,
    kind: a.kind,
    source: a.source ?? null,
    hooks: a.hooks,
    options: a.options.map(snakeOptionName),
    loadedAt: a.loadedAt ?? null,
    reloadable: a.reloadable,
    lastError: a.lastError
      ? {
          message: a.lastError.message,
          file: a.lastError.file ?? null,
          line: a.lastError.line ?? null,
          column: a.lastError.column ?? null,
          timestamp: a.lastError.timestamp,
        }
      : null,
    log: a.log,
  };
}

export function proxyRoutes(router: Router, api: WebApi): void {
  const { loader, store } = api;
  router
    .add("GET", "/api/options", ({ res }) => {
      const list = loader.listOptions().map(optionJson);
      list.sort((a, b) => a.name.localeCompare(b.name));
      sendJson(res, 200, list);
    })
    .add("PUT", "/api/options", async ({ req, res }) => {
      const updated = await setOptions(api, await readJson(req));
      sendJson(res, 200, { updated: [...updated].map(snakeOptionName) });
    })
    .add("PUT", "/api/intercept", async ({ req, res }) => {
      const body = await readJson(req);
      const filter = body.filter === null ? undefined : stringField(body, "filter", true);
      await setOptions(api, { intercept: filter === undefined || filter.trim() === "" ? null : filter });
      sendJson(res, 200, { intercept: loader.options.get<string | undefined>("intercept") ?? null });
    })
    .add("GET", "/api/addons", ({ res }) => sendJson(res, 200, loader.listAddons().map(addonJson)))
    .add("POST", "/api/addons/:name/reload", async ({ res, params }) => {
      const addon = loader.listAddons().find((a) => a.name === params.name);
      if (!addon) throw new HttpError(404, `no addon named ${params.name}`);
      if (!addon.reloadable) throw new HttpError(409, `${addon.name} is ${addon.kind}: it cannot be reloaded`);
      try {
        await loader.reloadAddon(addon.name);
        sendJson(res, 200, { ok: true });
      } catch (err) {
        sendJson(res, 200, { ok: false, error: (err as Error).message });
      }
    })
    .add("GET", "/api/events", ({ res }) => sendJson(res, 200, api.events.entries()))
    .add("GET", "/api/state", ({ res }) => sendJson(res, 200, serverState(api)))
    .add("POST", "/api/filter/check", async ({ req, res }) => {
      const expr = stringField(await readJson(req), "expr");
      try {
        compileFilter(expr);
        sendJson(res, 200, { ok: true });
      } catch (err) {
        if (!(err instanceof FilterError)) throw err;
        sendJson(res, 200, { ok: false, error: { message: err.message, position: err.column } });
      }
    })
    .add("POST", "/api/filter/match", async ({ req, res }) => {
      const expr = stringField(await readJson(req), "expr");
      const filter = compiled(expr);
      // Bodies on disk are read only when the expression could look at bodies.
      const readsBodies = /~b/.test(expr);
      const ids: string[] = [];
      for (const rec of [...store.values()]) {
        const flow = readsBodies ? await store.whole(rec) : store.view(rec);
        if (filter(flow)) ids.push(rec.id);
      }
      sendJson(res, 200, { ids });
    });
}

/** The UI's state (API.md, `GET /api/state`). */
function serverState({ loader, store }: WebApi): ServerState {
  return {
    version: SDK_VERSION,
    sdkVersion: SDK_VERSION,
    flowCount: store.size,
    maxFlows: loader.options.get<number>("webMaxFlows"),
    intercept: loader.options.get<string | undefined>("intercept") ?? null,
    store: store.stats(),
    memory: memoryNow(),
  };
}

/** The process's memory (bytes): what a long session's flatness is read from. */
function memoryNow(): ServerState["memory"] {
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

/** Compiles a filter expression, or 400 with the parser's line. */
export function compiled(expr: string): ReturnType<typeof compileFilter> {
  try {
    return compileFilter(expr);
  } catch (err) {
    if (err instanceof FilterError) throw new HttpError(400, err.message);
    throw err;
  }
}

async function setOptions(api: WebApi, changes: Record<string, unknown>): Promise<ReadonlySet<string>> {
  try {
    return await api.loader.setOptions(changes);
  } catch (err) {
    if (err instanceof OptionError || (err instanceof Error && err.name === "OptionError"))
      throw new HttpError(400, err.message);
    throw err;
  }
}
