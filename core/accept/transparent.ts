import type * as net from "node:net";
import { formatAddress } from "@interloper/sdk";
import type { ClientSession } from "../connection/client-session.ts";
import { connectIfEager } from "../connection/server-conn.ts";
import { runLayers, type LayerRoutes } from "../layers/run-layers.ts";
import { originalDst } from "../platform/original-dst.ts";
import { unmapped } from "./addresses.ts";

/**
 * Transparent mode: the destination is the socket's original destination
 * (after an iptables/nftables REDIRECT). A connection that was not
 * redirected would loop back into the proxy: it is refused.
 */
export async function acceptTransparent(
  routes: LayerRoutes,
  session: ClientSession,
  socket: net.Socket,
): Promise<void> {
  const dst = originalDst(socket);
  if (!dst) {
    session.log(
      "warn",
      "transparent mode: no original destination for this connection (was it redirected with iptables/nftables?); closing it",
    );
    socket.destroy();
    return;
  }
  const local = { host: unmapped(socket.localAddress ?? ""), port: socket.localPort ?? 0 };
  if (unmapped(dst.host) === local.host && dst.port === local.port) {
    session.log(
      "warn",
      `transparent mode: connection to ${formatAddress(dst)} was not redirected (its destination is the proxy itself); refusing it to avoid a loop`,
    );
    socket.destroy();
    return;
  }
  const conn = session.newServer(dst);
  if (!(await connectIfEager(socket, conn))) return;
  await runLayers(routes, session, socket, conn, { stage: "outer" });
}
