import type * as net from "node:net";
import { spliceRelay } from "../platform/splice.ts";

/**
 * Relays two connections unchanged in both directions: first the bytes that
 * were already read from each side, then everything else, with back-pressure
 * and half-close (an end on one side ends the other's write side).
 * Resolves when both sockets are closed.
 *
 * Two raw TCP sockets are relayed in the kernel (splice.ts); TLS sockets, and
 * any platform where that is not available, go through JS (relayJs).
 */
export function relay(client: net.Socket, server: net.Socket, fromClient: Buffer, fromServer: Buffer): Promise<void> {
  return spliceRelay(client, server, fromClient, fromServer) ?? relayJs(client, server, fromClient, fromServer);
}

/** `relay` through JS 'data' events: works for any pair of sockets. */
export function relayJs(client: net.Socket, server: net.Socket, fromClient: Buffer, fromServer: Buffer): Promise<void> {
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
    forward(client, server);
    forward(server, client);
  });
}

/**
 * How much may wait in a socket's write buffer before its source is paused.
 * Socket streams would pause at 16 KiB, which is less than one 64 KiB read:
 * every read would stall the source until the kernel took the write. A few
 * reads of slack keep both sockets busy, and memory stays bounded.
 */
export const RELAY_BUFFER = 512 * 1024;

/** `src` → `dst` with back-pressure at RELAY_BUFFER and half-close (src's end ends dst's write side). */
export function forward(src: net.Socket, dst: net.Socket): void {
  if (src.readableEnded) {
    dst.end();
    return;
  }
  const resume = () => src.resume();
  src.on("data", (chunk: Buffer) => {
    dst.write(chunk);
    if (dst.writableLength > RELAY_BUFFER) {
      src.pause();
      dst.once("drain", resume);
    }
  });
  src.once("end", () => dst.end());
  src.resume();
}
