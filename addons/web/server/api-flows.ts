// The flow routes of API.md: the list, one flow, its bodies, edits and actions (resume,
// kill, replay, duplicate, mark, comment, delete), resume or kill all, clear, export.
import type { AnyFlow, HTTPFlow } from "@interloper/sdk";
import { ExportError, exportFlow } from "../export/index.ts";
import { doneAfter } from "../recorder.ts";
import type { StoredFlow } from "../store/flow-store.ts";
import { serveContent } from "./content.ts";
import { flowDetail } from "./detail.ts";
import { applyEdit, parseEdit } from "./edit.ts";
import { HttpError, readJson, sendJson, sendText, stringField } from "./http-io.ts";
import type { RouteContext, Router } from "./router.ts";
import { storedFlow, type WebApi } from "./web-api.ts";

export function flowRoutes(router: Router, api: WebApi): void {
  const { store } = api;
  const one = (c: RouteContext) => storedFlow(api, c.params.id);
  router
    .add("GET", "/api/flows", ({ res }) => {
      const list = [];
      for (const rec of store.values()) list.push(store.summary(rec));
      sendJson(res, 200, list);
    })
    .add("POST", "/api/flows/resume", ({ res }) => {
      const paused = [...store.values()].filter((rec) => rec.intercepted);
      for (const rec of paused) store.own(rec).resume();
      sendJson(res, 200, { resumed: paused.length });
    })
    .add("POST", "/api/flows/kill", ({ res }) => {
      const paused = [...store.values()].filter((rec) => rec.intercepted);
      for (const rec of paused) store.own(rec).kill();
      sendJson(res, 200, { killed: paused.length });
    })
    .add("POST", "/api/clear", ({ res }) => {
      store.clear((rec) => rec.intercepted);
      sendJson(res, 200, { flows: store.size });
    })
    .add("GET", "/api/flows/:id", (c) => {
      const rec = one(c);
      sendJson(c.res, 200, flowDetail(store.view(rec), store.summary(rec)));
    })
    .add("GET", "/api/flows/:id/:part/content", (c) => serveContent(c, store, one(c)))
    .add("PUT", "/api/flows/:id", async (c) => {
      const rec = one(c);
      const edit = parseEdit(await readJson(c.req));
      const flow = await httpFlowOf(api, rec, "edited");
      applyEdit(flow, edit);
      changed(api, rec);
      sendJson(c.res, 200, store.summary(rec));
    })
    .add("POST", "/api/flows/:id/resume", (c) => {
      const rec = one(c);
      if (!rec.intercepted) throw new HttpError(409, "the flow is not intercepted");
      store.own(rec).resume();
      sendJson(c.res, 200, store.summary(rec));
    })
    .add("POST", "/api/flows/:id/kill", (c) => {
      const rec = one(c);
      if (rec.settled || !rec.live) throw new HttpError(409, "the flow is finished: nothing to kill");
      store.own(rec).kill();
      store.touch(rec.id);
      sendJson(c.res, 200, store.summary(rec));
    })
    .add("POST", "/api/flows/:id/replay", async (c) => {
      const rec = one(c);
      const seen = store.view(rec);
      if (seen.type !== "http") throw new HttpError(409, "only HTTP flows can be replayed");
      if (seen.websocket) throw new HttpError(409, "a WebSocket flow cannot be replayed");
      if (seen.live) throw new HttpError(409, "the flow is still live: wait for it to finish");
      const flow = await httpFlowOf(api, rec, "replayed");
      api.loader.replay(flow).catch((err: unknown) => api.loader.log.warn(`replay failed: ${(err as Error).message}`));
      sendJson(c.res, 202, { id: flow.id });
    })
    .add("POST", "/api/flows/:id/duplicate", async (c) => {
      const rec = one(c);
      if (rec.live) throw new HttpError(409, "the flow is still live: wait for it to finish");
      const copy = (await store.whole(rec)).copy();
      store.insert(copy);
      sendJson(c.res, 201, { id: copy.id });
    })
    .add("POST", "/api/flows/:id/mark", async (c) => {
      const rec = one(c);
      const body = await readJson(c.req);
      const marked = stringField(body, "marked", true);
      const flow = store.own(rec);
      flow.marked = marked ?? (flow.marked === "" ? ":default:" : "");
      changed(api, rec);
      sendJson(c.res, 200, store.summary(rec));
    })
    .add("POST", "/api/flows/:id/comment", async (c) => {
      const rec = one(c);
      const comment = stringField(await readJson(c.req), "comment");
      store.own(rec).comment = comment;
      changed(api, rec);
      sendJson(c.res, 200, store.summary(rec));
    })
    .add("DELETE", "/api/flows/:id", (c) => {
      const rec = one(c);
      // mitmproxy's rule: a live flow that is removed is killed, so it does not go on unseen.
      if (!rec.settled && rec.live) store.own(rec).kill();
      store.remove(rec.id);
      sendJson(c.res, 200, { removed: rec.id });
    })
    .add("GET", "/api/flows/:id/export/:format", async (c) => {
      const rec = one(c);
      if (rec.type !== "http") throw new HttpError(400, "only HTTP flows can be exported");
      const format = c.params.format!;
      let text: string;
      try {
        text = exportFlow((await store.whole(rec)) as HTTPFlow, format);
      } catch (err) {
        if (err instanceof ExportError) throw new HttpError(400, err.message);
        throw err;
      }
      if (c.url.searchParams.get("download") === "1") {
        const ext = format === "har" ? "har" : format === "raw" ? "txt" : "sh";
        c.res.setHeader("Content-Disposition", `attachment; filename="${rec.id}.${ext}"`);
      }
      sendText(c.res, 200, text, format === "har" ? "application/json; charset=utf-8" : undefined);
    });
}

/** The stored HTTP flow with its bodies back in it, to be changed in place. */
async function httpFlowOf(api: WebApi, rec: StoredFlow, what: string): Promise<HTTPFlow> {
  if (rec.type !== "http") throw new HttpError(400, `only HTTP flows can be ${what}`);
  const flow = await api.store.takeBack(rec);
  return flow!;
}

/** The UI changed a flow: a finished one is kept again (its bodies re-placed), a live one just told. */
function changed(api: WebApi, rec: StoredFlow): void {
  const flow: AnyFlow = api.store.own(rec);
  if (rec.settled) api.store.observe(flow, true);
  else api.store.touch(flow.id);
}

/** Whether resuming a flow held after `hook` ends it. */
export function resumeEnds(api: WebApi, flow: AnyFlow): boolean {
  const hook = api.pausedAt.get(flow);
  if (hook === "response") return doneAfter("response", flow);
  return false;
}
