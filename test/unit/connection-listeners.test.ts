// What a held connection keeps: listeners the core adds for a phase of a
// connection (peeking, connecting) are gone once that phase is over, so an
// idle connection held for hours carries none of them.
import { BufferBudget } from "../../core/http/buffer-budget.ts";
import * as net from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClientSession } from "../../core/connection/client-session.ts";
import { armIdleTimeout } from "../../core/connection/idle-timeout.ts";
import type { ModeSpec } from "../../core/engine/modes.ts";
import type { ProxyContext } from "../../core/engine/context.ts";
import { AddonHost } from "@interloper/sdk/host";

test("the idle timeout closes an idle socket, and disarming leaves neither timer nor listener", () => {
  const socket = new net.Socket();
  const before = socket.listenerCount("timeout");
  const disarm = armIdleTimeout(socket, 60_000);
  assert.is(socket.listenerCount("timeout"), before + 1);
  assert.is(socket.timeout, 60_000);
  disarm();
  assert.is(socket.listenerCount("timeout"), before);
  assert.is(socket.timeout, 0);

  const idle = new net.Socket();
  armIdleTimeout(idle, 60_000);
  idle.emit("timeout");
  assert.ok(idle.destroyed, "an idle socket is closed");

  const never = new net.Socket();
  const disarmNever = armIdleTimeout(never, 0);
  assert.is(never.listenerCount("timeout"), 0);
  disarmNever();
  assert.not.ok(never.destroyed);
});

test("a server socket tracked while connecting keeps no listener of the session once connected", () => {
  // A session needs only the narrow ProxyContext: a real addon host and plain settings, no server.
  const context: ProxyContext = {
    host: new AddonHost(),
    bufferBudget: new BufferBudget(1e9),
    settings: {
      connectionStrategy: "eager",
      sslInsecure: false,
      upstreamCert: true,
      streamLargeBodies: undefined,
      bodySizeLimit: undefined,
      idleTimeoutMs: 0,
      extraUpstreamCa: undefined,
      http2: true,
      keepHostHeader: false,
    },
    get ca(): never {
      throw new Error("this test issues no certificate");
    },
    get tls(): never {
      throw new Error("this test speaks no TLS");
    },
    upstreamTlsOptions: () => ({}),
  };
  const client = new net.Socket();
  const session = new ClientSession(context, client, { spec: "regular", name: "regular" } as ModeSpec);
  const server = new net.Socket();
  const counts = () => [server.listenerCount("connect"), server.listenerCount("close")];
  const before = counts();
  session.trackPending(server);
  assert.equal(counts(), [before[0]! + 1, before[1]! + 1]);
  server.emit("connect");
  assert.equal(counts(), before);

  // Still connecting when the client goes: the socket is closed with it.
  const pending = new net.Socket();
  session.trackPending(pending);
  client.destroy();
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      assert.ok(pending.destroyed, "destroyed with the client");
      resolve();
    }),
  );
});

test.run();
