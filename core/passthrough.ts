import type * as net from "node:net";

/**
 * Relays two connections unchanged in both directions: first the bytes that
 * were already read from each side, then everything else, with back-pressure
 * (pipe) and half-close (an end on one side ends the other's write side).
 * Resolves when both sockets are closed.
 */
export function relay(client: net.Socket, server: net.Socket, fromClient: Buffer, fromServer: Buffer): Promise<void> {
  return new Promise((resolve) => {
    let open = 2;
    const closed = () => {
      if (--open === 0) resolve();
    };
    const fail = () => {
      client.destroy();
      server.destroy();
    };
    client.on("error", fail);
    server.on("error", fail);
    client.once("close", () => {
      // A half-closed peer may still be sending; a hard close ends both.
      if (!client.readableEnded || !client.writableFinished) server.destroy();
      closed();
    });
    server.once("close", () => {
      if (!server.readableEnded || !server.writableFinished) client.destroy();
      closed();
    });
    if (fromClient.length > 0) server.write(fromClient);
    if (fromServer.length > 0) client.write(fromServer);
    if (client.readableEnded) server.end();
    else client.pipe(server);
    if (server.readableEnded) client.end();
    else server.pipe(client);
    client.resume();
    server.resume();
  });
}
