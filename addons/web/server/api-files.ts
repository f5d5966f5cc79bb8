// Flow files from and to the UI: `GET /api/flows/dump` writes every (or every matching)
// flow in mitmproxy's format, one flow at a time with back-pressure; `POST /api/flows/dump`
// reads an uploaded flow file or HAR as it arrives and tells each flow to the addon chain,
// as `-r` does (so the UI's store and the other addons see them).
import { encodeFlow, FlowReadError, readFlows } from "@interloper/sdk";
import { compiled } from "./api-proxy.ts";
import { drained, sendJson } from "./http-io.ts";
import type { Router } from "./router.ts";
import type { WebApi } from "./web-api.ts";

export function fileRoutes(router: Router, api: WebApi): void {
  const { store, loader } = api;
  router
    .add("GET", "/api/flows/dump", async ({ res, url }) => {
      const expr = url.searchParams.get("filter");
      const filter = expr === null || expr.trim() === "" ? undefined : compiled(expr);
      res.writeHead(200, {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": 'attachment; filename="flows.flow"',
      });
      for (const rec of [...store.values()]) {
        if (res.destroyed) return;
        const flow = await store.whole(rec);
        if (filter && !filter(flow)) continue;
        if (!res.write(encodeFlow(flow))) await drained(res);
      }
      res.end();
    })
    .add("POST", "/api/flows/dump", async ({ req, res }) => {
      let added = 0;
      try {
        for await (const flow of readFlows(req, { name: "the uploaded file" })) {
          await loader.loadFlow(flow);
          added++;
        }
      } catch (err) {
        if (!(err instanceof FlowReadError)) throw err;
        return sendJson(res, 400, { error: err.message, added });
      }
      sendJson(res, 200, { added });
    });
}
