import type * as net from "node:net";
import { logText, type Socks5AuthData } from "@interloper/sdk";
import type { ClientSession } from "../connection/client-session.ts";
import { ServerConnectError } from "../connection/server-conn.ts";
import { FirstBytes } from "../layers/first-bytes.ts";
import { runLayers, type LayerRoutes } from "../layers/run-layers.ts";
import {
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  METHOD_USER_PASS,
  parseGreeting,
  parseRequest,
  parseUserPass,
  reply,
  replyForError,
  REPLY,
  type Parse,
} from "./socks5-protocol.ts";

/** SOCKS5 (RFC 1928, RFC 1929): learn the target, connect, reply, then the tunnel's first bytes decide. */
export async function acceptSocks5(routes: LayerRoutes, session: ClientSession, socket: net.Socket): Promise<void> {
  const proxy = session.context;
  const first = new FirstBytes(socket, undefined);
  const read = async <T>(parse: (b: Buffer) => Parse<T>): Promise<(T & { length: number }) | undefined> => {
    for (;;) {
      const r = parse(first.clientData);
      if (r.status === "ok") {
        first.clientData = first.clientData.subarray(r.length);
        return r;
      }
      if (r.status === "error") {
        session.log("warn", `SOCKS5 error: ${r.reason}`);
        if (r.reply !== undefined && socket.writable) socket.end(reply(r.reply));
        else socket.destroy();
        first.stop();
        return undefined;
      }
      if (first.clientEnded) {
        first.stop();
        socket.destroy();
        return undefined;
      }
      await first.next();
    }
  };

  const greeting = await read(parseGreeting);
  if (!greeting) return;
  const needAuth = proxy.host.hasHandlers("socks5Auth");
  const method = needAuth ? METHOD_USER_PASS : METHOD_NO_AUTH;
  if (!greeting.methods.includes(method)) {
    session.log(
      "warn",
      `SOCKS5 client offers no acceptable authentication method (${needAuth ? "username/password required" : "no-auth required"})`,
    );
    socket.end(Buffer.from([5, METHOD_NONE_ACCEPTABLE]));
    first.stop();
    return;
  }
  socket.write(Buffer.from([5, method]));
  if (needAuth) {
    const creds = await read(parseUserPass);
    if (!creds) return;
    const data: Socks5AuthData = {
      client: session.client,
      username: creds.username,
      password: creds.password,
      valid: false,
    };
    await proxy.host.trigger("socks5Auth", data);
    if (!data.valid) {
      session.log("warn", `SOCKS5 authentication failed for user '${logText(creds.username)}'`);
      socket.end(Buffer.from([1, 1]));
      first.stop();
      return;
    }
    socket.write(Buffer.from([1, 0]));
  }
  const request = await read(parseRequest);
  if (!request) return;
  const rest = first.clientData;
  first.stop();
  const conn = session.newServer(request.target);
  try {
    // SOCKS5 replies after connecting: the client learns whether the target is reachable.
    await conn.connect();
  } catch (err) {
    const code = replyForError(err instanceof ServerConnectError ? err.cause : err);
    if (socket.writable) socket.end(reply(code));
    return;
  }
  socket.write(reply(REPLY.succeeded));
  await runLayers(routes, session, socket, conn, { stage: "outer", head: rest });
}
