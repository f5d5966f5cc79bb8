// The core's layer decision without sockets (a fake PeekSource), and the
// promise that the sdk's test harness runs the very same hook sequence.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AddonHost } from "@interloper/sdk/host";
import type { Addon, NextLayerData } from "@interloper/sdk";
import { testClient, testContext, testServer } from "@interloper/sdk/testing";
import { decide, type PeekSource } from "../../core/layers/decide.ts";
import { detect } from "../../core/layers/detect.ts";

const FIXTURES = new URL("../fixtures/clienthello/", import.meta.url).pathname;
const HELLO = readFileSync(join(FIXTURES, "curl-sni-http11.bin"));
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Bytes that arrive in steps: each `next()` delivers the next step; `end` after the last. */
function peek(steps: Buffer[], end = true): PeekSource & { reads: number } {
  const src = {
    clientData: Buffer.alloc(0),
    serverData: Buffer.alloc(0),
    clientEnded: false,
    reads: 0,
    async next() {
      const step = steps[src.reads++];
      if (step) src.clientData = Buffer.concat([src.clientData, step]);
      else if (end) src.clientEnded = true;
      else throw new Error("the decision waited for bytes that never come");
    },
  };
  return src;
}

/** An addon that records its hooks, and optionally answers nextLayer. */
function recorder(onNextLayer?: (d: NextLayerData) => void): { addon: Addon; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    addon: {
      name: "rec",
      nextLayer: (d) => {
        calls.push(`nextLayer${d.final ? "(final)" : ""}`);
        onNextLayer?.(d);
      },
      tlsClienthello: () => void calls.push("tlsClienthello"),
    },
  };
}

async function run(
  steps: Buffer[],
  opts: { onNextLayer?: (d: NextLayerData) => void; reverse?: string; http2?: boolean } = {},
) {
  const host = new AddonHost();
  const { addon, calls } = recorder(opts.onNextLayer);
  await host.add(addon);
  const ctx = {
    client: testClient(),
    server: testServer(),
    trigger: host.trigger.bind(host),
    http2: opts.http2 ?? true,
  };
  const decision = await decide(ctx, peek(steps), "outer", false, opts.reverse);
  return { decision: decision.kind, calls };
}

const split = (b: Buffer, at: number[]) => at.map((a, i) => b.subarray(a, at[i + 1] ?? b.length));

test("a ClientHello in one piece: nextLayer, tlsClienthello, tls", async () => {
  assert.equal(await run([HELLO]), { decision: "tls", calls: ["nextLayer", "tlsClienthello"] });
});

test("a ClientHello in three pieces: nextLayer each time, tlsClienthello once it is complete", async () => {
  const r = await run(split(HELLO, [0, 10, 100]));
  assert.is(r.decision, "tls");
  assert.equal(r.calls, ["nextLayer", "nextLayer", "nextLayer", "tlsClienthello"]);
});

test("an addon that ignores: no tlsClienthello", async () => {
  const r = await run([HELLO], { onNextLayer: (d) => void (d.ignoreConnection = true) });
  assert.equal(r, { decision: "ignore", calls: ["nextLayer"] });
});

test("an addon that wants more data waits; at the client's end the decision goes on, tlsClienthello included", async () => {
  const r = await run([HELLO], { onNextLayer: (d) => void (d.needMoreData = true) });
  assert.equal(r, { decision: "tls", calls: ["nextLayer", "nextLayer(final)", "tlsClienthello"] });
});

test("HTTP/1 by its Host header, h2c by its preface (also in pieces), raw TCP otherwise", async () => {
  assert.is((await run([Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n")])).decision, "http");
  assert.is((await run([H2_PREFACE])).decision, "http2");
  assert.is((await run(split(H2_PREFACE, [0, 3, 20]))).decision, "http2");
  assert.is((await run([Buffer.from("SSH-2.0-OpenSSH\r\n")])).decision, "tcp");
});

test("reverse mode: the scheme decides the outer layer", async () => {
  assert.equal(await run([HELLO], { reverse: "http" }), { decision: "http", calls: ["nextLayer"] });
  assert.is((await run([Buffer.from("hello")], { reverse: "tcp" })).decision, "tcp");
  assert.is((await run([Buffer.from("GET / HTTP/1.1\r\nHost: a\r\n\r\n")], { reverse: "https" })).decision, "close");
});

test("garbage and truncated hellos never hang the decision (it ends with the client)", async () => {
  for (let cut = 1; cut < HELLO.length; cut += 37) {
    const r = await run([HELLO.subarray(0, cut)]);
    assert.ok(["tcp", "tls"].includes(r.decision), `cut ${cut}: ${r.decision}`);
  }
});

test("the test harness's decide runs the proxy's sequence: same hooks, same order, for every case", async () => {
  const cases: Array<[string, (d: NextLayerData) => void]> = [
    ["nothing", () => {}],
    ["ignore", (d) => void (d.ignoreConnection = true)],
    ["keep", (d) => void (d.ignoreConnection = false)],
    ["more data", (d) => void (d.needMoreData = true)],
    ["tcp", (d) => void (d.tcp = true)],
  ];
  const detected = detect(HELLO);
  for (const [name, act] of cases) {
    const proxy = await run([HELLO], { onNextLayer: act });
    // The harness gets the same rounds the proxy had (the same bytes; `final` where the proxy's was).
    const { addon, calls } = recorder(act);
    const harness = await testContext(addon);
    for (const round of proxy.calls.filter((c) => c.startsWith("nextLayer"))) {
      await harness.decide({
        client: testClient(),
        server: testServer(),
        stage: "outer",
        clientData: HELLO,
        serverData: Buffer.alloc(0),
        clientHello: detected.clientHello,
        hostHeader: undefined,
        final: round.endsWith("(final)"),
      });
    }
    assert.equal(calls, proxy.calls, `case '${name}'`);
  }
});

test.run();
