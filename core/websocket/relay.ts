import type * as net from "node:net";
import { WebSocketData, WebSocketMessage, type HTTPFlow } from "@interloper/sdk";
import type { ClientSession } from "../connection/client-session.ts";
import { IdleWatch } from "../connection/idle-timeout.ts";
import { writeWithBackpressure } from "../connection/write.ts";
import { closePayload, encodeFrame, FrameError, FrameParser, OPCODE, parseClose, type Frame } from "./frames.ts";

/** The largest message interloper reassembles (bigger ones close the connection with 1009). */
const MAX_MESSAGE = 256 * 1024 * 1024;

/**
 * Relays an upgraded connection frame by frame: data messages are
 * reassembled and pass `websocketMessage` (changed, dropped, or injected by
 * addons), control frames (ping, pong, close) are passed on at once. Each
 * direction is processed in order and paused while its hooks run. A
 * connection on which neither side sends a byte (a ping counts) for
 * idle_timeout is closed with 1001 on both sides.
 */
export async function relayWebSocket(
  session: ClientSession,
  flow: HTTPFlow,
  client: net.Socket,
  server: net.Socket,
  clientHead: Buffer,
  serverHead: Buffer,
): Promise<void> {
  const { host } = session.context;
  // Per direction, everything written goes through one chain so that order is kept.
  const chains = { toServer: Promise.resolve(), toClient: Promise.resolve() };
  const send = (toClient: boolean, bytes: Buffer): Promise<void> =>
    writeWithBackpressure(toClient ? client : server, bytes);
  const deliver = (message: WebSocketMessage): Promise<void> => {
    const key = message.fromClient ? "toServer" : "toClient";
    const step = chains[key].then(async () => {
      ws.messages.push(message);
      await host.trigger("websocketMessage", flow);
      if (message.dropped || flow.killed) return;
      const opcode = message.type === "text" ? OPCODE.text : OPCODE.binary;
      await send(!message.fromClient, encodeFrame(opcode, message.content, message.fromClient));
    });
    chains[key] = step.catch(() => {});
    return step;
  };
  const ws = new WebSocketData((message) => void deliver(message));
  flow.websocket = ws;
  const ms = session.context.settings.idleTimeoutMs;
  const idle = new IdleWatch(ms, () => {
    session.log("info", `WebSocket: nothing sent either way for idle_timeout (${ms / 1000} s): closing it with 1001`);
    closeBoth(1001, "idle timeout", false);
  });
  await host.trigger("websocketStart", flow);

  let closedFrom: { client?: boolean; server?: boolean } = {};
  const pump = (src: net.Socket, fromClient: boolean, head: Buffer) =>
    new Promise<void>((resolve) => {
      const parser = new FrameParser(fromClient, MAX_MESSAGE);
      let parts: Buffer[] = [];
      let partsSize = 0;
      let partsType: "text" | "binary" | undefined;
      const onFrame = async (frame: Frame): Promise<void> => {
        if (frame.opcode >= 0x8) {
          if (frame.opcode === OPCODE.close) {
            const { code, reason } = parseClose(frame.payload);
            if (ws.closeCode === undefined) {
              ws.closedByClient = fromClient;
              ws.closeCode = code ?? 1005;
              ws.closeReason = reason;
            }
            closedFrom = Object.assign({}, closedFrom, { [fromClient ? "client" : "server"]: true });
          }
          // Control frames keep their payload; only the masking changes with the direction.
          await chains[fromClient ? "toServer" : "toClient"];
          await send(!fromClient, encodeFrame(frame.opcode, frame.payload, fromClient));
          return;
        }
        if (frame.opcode !== OPCODE.continuation) {
          if (partsType !== undefined) throw new FrameError("new message before the previous one ended", 1002);
          partsType = frame.opcode === OPCODE.text ? "text" : "binary";
        } else if (partsType === undefined) {
          throw new FrameError("continuation frame without a message", 1002);
        }
        parts.push(frame.payload);
        partsSize += frame.payload.length;
        if (partsSize > MAX_MESSAGE) throw new FrameError("message too big", 1009);
        if (!frame.fin) return;
        const content = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partsSize);
        const type = partsType;
        parts = [];
        partsSize = 0;
        partsType = undefined;
        await deliver(new WebSocketMessage(fromClient, type, content));
      };
      let queue = Promise.resolve();
      // After a protocol error this direction's later bytes are dropped: one log line, one close.
      let failed = false;
      const onData = (chunk: Buffer) => {
        idle.touch();
        if (failed) return;
        let frames: Frame[];
        try {
          frames = parser.push(chunk);
        } catch (err) {
          failed = true;
          protocolError(err as FrameError, fromClient);
          return;
        }
        if (frames.length === 0) return;
        src.pause();
        queue = queue.then(async () => {
          if (failed) return;
          try {
            for (const f of frames) await onFrame(f);
          } catch (err) {
            failed = true;
            protocolError(err as FrameError, fromClient);
            return;
          }
          // Hooks and a slow reader are not silence: the clock starts again once the frames are through.
          idle.touch();
          if (!src.destroyed) src.resume();
        });
      };
      src.on("data", onData);
      src.once("end", () => {
        void queue.then(() => {
          const dst = fromClient ? server : client;
          if (!dst.destroyed) dst.end();
        });
      });
      src.once("close", () => void queue.then(resolve));
      if (head.length > 0) onData(head);
      src.resume();
    });

  const protocolError = (err: FrameError, fromClient: boolean) => {
    const code = err instanceof FrameError ? err.closeCode : 1011;
    session.log(
      "warn",
      `WebSocket protocol error from the ${fromClient ? "client" : "server"}: ${err.message}; closing with ${code}`,
    );
    closeBoth(code, err.message, !fromClient);
  };

  /** Tells both sides why (a close frame each), then hangs up. */
  const closeBoth = (code: number, reason: string, byClient: boolean) => {
    if (ws.closeCode === undefined) {
      ws.closedByClient = byClient;
      ws.closeCode = code;
      ws.closeReason = reason;
    }
    const frameToClient = encodeFrame(OPCODE.close, closePayload(code, reason.slice(0, 100)), false);
    const frameToServer = encodeFrame(OPCODE.close, closePayload(code, reason.slice(0, 100)), true);
    if (client.writable) client.end(frameToClient);
    if (server.writable) server.end(frameToServer);
    setTimeout(() => {
      client.destroy();
      server.destroy();
    }, 1000).unref();
  };

  client.on("error", () => server.destroy());
  server.on("error", () => client.destroy());
  await Promise.all([pump(client, true, clientHead), pump(server, false, serverHead)]);
  idle.stop();
  client.destroy();
  server.destroy();
  ws.timestampEnd = Date.now() / 1000;
  if (ws.closeCode === undefined) {
    ws.closeCode = 1006;
    ws.closeReason = "";
  }
  flow.detachConnection();
  await host.trigger("websocketEnd", flow);
}
