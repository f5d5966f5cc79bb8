import type * as net from "node:net";
import { TCPFlow, type TCPMessage } from "@interloper/sdk";
import type { ClientSession } from "../connection/client-session.ts";
import type { ServerConn } from "../connection/server-conn.ts";
import { IdleWatch } from "../connection/idle-timeout.ts";
import { describeNetError } from "../connection/net-errors.ts";
import { writeWithBackpressure } from "../connection/write.ts";

/**
 * A connection intercepted as raw TCP: every chunk becomes a `tcpMessage`
 * that addons may change or drop before it is forwarded. Each direction is
 * processed in order and paused while its hooks run (back-pressure). When
 * neither side sends a byte for idle_timeout, both connections are closed
 * (mitmproxy closes a connection without activity too).
 */
export async function runTcpFlow(
  session: ClientSession,
  client: net.Socket,
  conn: ServerConn,
  fromClient: Buffer,
  fromServer: Buffer,
): Promise<void> {
  const server = conn.socket!;
  const { host } = session.context;
  const flow = new TCPFlow(session.client, conn.data, () => {
    client.destroy();
    server.destroy();
  });
  const ms = session.context.settings.idleTimeoutMs;
  const idle = new IdleWatch(ms, () => {
    session.log("info", `raw TCP connection: nothing sent either way for idle_timeout (${ms / 1000} s): closing it`);
    client.destroy();
    server.destroy();
  });
  await host.trigger("tcpStart", flow);
  let failed = false;
  const fail = async (err: Error) => {
    if (failed || flow.killed) return;
    failed = true;
    flow.error = { msg: describeNetError(err), timestamp: Date.now() / 1000 };
    client.destroy();
    server.destroy();
    await host.trigger("tcpError", flow);
  };

  const pump = (src: net.Socket, dst: net.Socket, isClient: boolean, first: Buffer) =>
    new Promise<void>((resolve) => {
      let chain = Promise.resolve();
      const handle = (chunk: Buffer) => {
        idle.touch();
        src.pause();
        chain = chain.then(async () => {
          const message: TCPMessage = { fromClient: isClient, content: chunk, timestamp: Date.now() / 1000 };
          flow.messages.push(message);
          await host.trigger("tcpMessage", flow);
          if (flow.killed || dst.destroyed) return;
          if (message.content.length > 0) await writeWithBackpressure(dst, message.content);
          // A slow hook or reader is not silence: the clock starts again once the chunk is through.
          idle.touch();
          if (!src.destroyed) src.resume();
        });
      };
      src.on("data", handle);
      src.once("end", () => {
        chain = chain.then(() => {
          if (!dst.destroyed) dst.end();
        });
      });
      src.on("error", (err) => void fail(err));
      src.once("close", () => void chain.then(resolve));
      if (first.length > 0) handle(first);
      else src.resume();
      // Ended while its first bytes were peeked: its 'end' has passed, so end the other side after them.
      if (src.readableEnded) chain = chain.then(() => void (dst.destroyed || dst.end()));
    });

  await Promise.all([pump(client, server, true, fromClient), pump(server, client, false, fromServer)]);
  idle.stop();
  flow.detachConnection();
  if (!failed) await host.trigger("tcpEnd", flow);
}
