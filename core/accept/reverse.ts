import type * as net from "node:net";
import type { ClientSession } from "../connection/client-session.ts";
import { connectIfEager } from "../connection/server-conn.ts";
import { runLayers, type LayerRoutes } from "../layers/run-layers.ts";

/** Reverse mode: every connection goes to the fixed target; the scheme says what the client speaks. */
export async function acceptReverse(routes: LayerRoutes, session: ClientSession, socket: net.Socket): Promise<void> {
  const target = session.mode.target!;
  const conn = session.newServer({ host: target.host, port: target.port });
  if (!(await connectIfEager(socket, conn))) return;
  if (target.scheme === "https" || target.scheme === "http") {
    // The HTTP layer needs to know the scheme of the server side.
    conn.data.tls = target.scheme === "https";
  }
  await runLayers(routes, session, socket, conn, { stage: "outer", reverse: target.scheme });
}
