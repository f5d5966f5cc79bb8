// addon faults: addons that throw (sync) or reject (async) in every hook,
// one whose `request` hook never resolves for one path (every other flow must
// go on), and a reload storm (200 saves of a script in 10 s, some of them
// broken) under traffic: no request may be lost.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOOK_NAMES } from "../../sdk/src/addon.ts";
import { sleep } from "../../bench/lib/stats.ts";
import { addFinding, count, pool, range, repro, type Ctx, type Family, type FamilyResult } from "../lib/family.ts";
import { FLAG, H2, h2frame, h2Headers, h2Settings, H2_PREFACE, socksHello, wsFrame, WS_OP } from "../lib/frames.ts";
import { normalRequest } from "../lib/health.ts";
import { HOST, tcp, tlsOver, tunnel, Wire } from "../lib/net.ts";
import type { ProxyUnderTest } from "../lib/proxy.ts";

/**
 * Hooks whose failure the proxy must survive. Not load and configure (the addon would be kept out), nor
 * running (an error logged during start-up makes the proxy exit, by design: the errorcheck addon, as in
 * mitmproxy), nor done (only at shutdown), nor socks5Auth (an addon with that hook makes SOCKS5 require
 * credentials; a failing one refuses every client: failing closed, by design).
 */
const HOOKS = HOOK_NAMES.filter((h) => !["load", "configure", "running", "done", "socks5Auth"].includes(h));

function faultyAddon(name: string, async: boolean): string {
  const body = HOOKS.map((h) =>
    async
      ? `  async ${h}() { await new Promise((r) => setTimeout(r, 1)); throw new Error("soak: ${name} rejects in ${h}"); },`
      : `  ${h}() { throw new Error("soak: ${name} throws in ${h}"); },`,
  );
  return `// Written by soak/probes/addon-faults.ts: fails in every hook.\nexport default {\n  name: "${name}",\n${body.join("\n")}\n};\n`;
}

const NEVER = `// Written by soak/probes/addon-faults.ts: the request hook never resolves for /never.
export default {
  name: "soak-never",
  request(flow: { request: { path: string } }) {
    if (flow.request.path.startsWith("/never")) return new Promise<void>(() => {});
  },
};
`;

function stormAddon(version: number, broken: boolean): string {
  if (broken)
    return `// Written by soak/probes/addon-faults.ts: a broken save.\nexport default { name: "soak-storm", response( {{{ };\n`;
  return `// Written by soak/probes/addon-faults.ts: save ${version} of a reload storm.
const VERSION = ${version};
export default {
  name: "soak-storm",
  requestheaders(flow: { request: { headers: { set(k: string, v: string): void } } }) {
    flow.request.headers.set("x-soak-version", String(VERSION));
  },
  response(flow: { response?: { headers: { set(k: string, v: string): void } } }) {
    flow.response?.headers.set("x-soak-version", String(VERSION));
  },
};
`;
}

/** Traffic of every kind through `proxy`: each item says whether it came through. */
async function everyKind(ctx: Ctx, proxy: ProxyUnderTest): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  out["HTTP GET"] = await normalRequest(ctx, proxy.port, false, "/addon-faults");
  out["HTTPS GET"] = await normalRequest(ctx, proxy.port, true, "/addon-faults");
  out["WebSocket echo"] = await wsEcho(ctx, proxy.port).catch((e: Error) => e.message);
  out["h2c GET"] = await h2cGet(ctx, proxy.port).catch((e: Error) => e.message);
  out["SOCKS5 GET"] = await socksGet(ctx, proxy.socksPort).catch((e: Error) => e.message);
  out["request to a refused port (502 expected)"] = await refused(proxy.port).catch((e: Error) => e.message);
  return out;
}

async function wsEcho(ctx: Ctx, port: number): Promise<string> {
  const w = new Wire(await tcp(port));
  const a = `${HOST}:${ctx.ws.port}`;
  w.write(
    `GET http://${a}/ HTTP/1.1\r\nHost: ${a}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await w.until(() => w.data.includes("\r\n\r\n") || w.gone, 10_000);
  w.write(wsFrame(WS_OP.text, Buffer.from("echo-me")));
  const ok = await w.until(() => w.data.includes("echo-me") || w.gone, 10_000);
  w.destroy();
  return ok && w.data.includes("echo-me")
    ? "ok"
    : `no echo (${JSON.stringify(w.data.toString("latin1").slice(0, 60))})`;
}

async function h2cGet(ctx: Ctx, port: number): Promise<string> {
  const a = `${HOST}:${ctx.app.httpPort}`;
  const w = new Wire(await tunnel(port, a));
  w.write(Buffer.concat([H2_PREFACE, h2Settings(), h2Headers(1, a, "/h2-addon-faults")]));
  await w.until(() => w.received >= 9 || w.gone, 10_000);
  w.write(h2frame(H2.SETTINGS, FLAG.ACK, 0));
  const ok = await w.until(() => w.data.includes("ok /h2-addon-faults") || w.gone, 10_000);
  w.destroy();
  return ok && w.data.includes("ok /h2-addon-faults") ? "ok" : "no HTTP/2 answer";
}

async function socksGet(ctx: Ctx, port: number | undefined): Promise<string> {
  if (!port) return "no SOCKS5 listener";
  const w = new Wire(await tcp(port));
  w.write(
    Buffer.concat([
      socksHello(ctx.app.httpPort, false),
      Buffer.from(`GET /socks-addon-faults HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`),
    ]),
  );
  const ok = await w.until(() => w.data.includes("ok /socks-addon-faults") || w.gone, 10_000);
  w.destroy();
  return ok && w.data.includes("ok /socks-addon-faults") ? "ok" : `no answer (${w.received} bytes)`;
}

async function refused(port: number): Promise<string> {
  const w = new Wire(await tcp(port));
  w.write(`GET http://${HOST}:1/ HTTP/1.1\r\nHost: ${HOST}:1\r\n\r\n`);
  await w.until(() => w.data.includes("\r\n\r\n") || w.gone, 10_000);
  w.destroy();
  const status = w.data.toString("latin1", 9, 12);
  return status === "502" ? "ok" : `got ${JSON.stringify(w.data.toString("latin1").slice(0, 40))}`;
}

async function failingHooks(ctx: Ctx, r: FamilyResult, rows: string[]): Promise<void> {
  const dir = ctx.tmp;
  const files = [join(dir, "soak-throws.ts"), join(dir, "soak-rejects.ts")];
  writeFileSync(files[0]!, faultyAddon("soak-throws", false));
  writeFileSync(files[1]!, faultyAddon("soak-rejects", true));
  const proxy = await ctx.startProxy("throwing", { scripts: files, socks: true });
  const rounds = ctx.quick ? 2 : 10;
  const bad = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    for (const [k, v] of Object.entries(await everyKind(ctx, proxy))) {
      count(r, "requests through addons that fail in every hook");
      if (v !== "ok") bad.set(`${k}: ${v}`, (bad.get(`${k}: ${v}`) ?? 0) + 1);
    }
  }
  rows.push(
    `| addons that throw / reject in all ${HOOKS.length} hooks but load, configure, running, done, socks5Auth | ${rounds} rounds of HTTP, HTTPS, WebSocket, h2c, SOCKS5, a refused port | ${bad.size ? [...bad].map(([k, n]) => `**${k}** ×${n}`).join("; ") : "all ok"} |`,
  );
  r.notes.push(
    `The failing addons made the proxy log ${proxy.errorsSince(0).filter((e) => /soak-(throws|rejects)/.test(e.text)).length} error lines (one per failed hook call, as documented).`,
  );
  for (const [k, n] of bad) {
    r.failures += n;
    addFinding(r, {
      kind: "failure",
      title: `addon faults: with addons failing in every hook, ${k.split(":")[0]} does not come through`,
      detail: k,
      figure: `${n} of ${rounds}`,
      repro: repro(ctx, "addon-faults"),
      count: n,
    });
  }
}

async function neverResolving(ctx: Ctx, r: FamilyResult, rows: string[]): Promise<void> {
  const file = join(ctx.tmp, "soak-never.ts");
  writeFileSync(file, NEVER);
  const proxy = await ctx.startProxy("never", { scripts: [file] });
  const stuckN = ctx.quick ? 10 : 100;
  const base = proxy.sample()!;
  const stuck: Wire[] = [];
  for (let i = 0; i < stuckN; i++) {
    const w = new Wire(await tcp(proxy.port));
    w.write(`GET http://${HOST}:${ctx.app.httpPort}/never/${i} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    stuck.push(w);
  }
  // Every other flow goes on meanwhile.
  let ok = 0;
  let failed = 0;
  await pool(range(ctx.quick ? 20 : 200), 8, ctx.deadline, async (i) => {
    const v = await normalRequest(ctx, proxy.port, i % 2 === 1, `/not-never/${i}`);
    if (v === "ok") ok++;
    else failed++;
  });
  await sleep((ctx.idleTimeoutS + 2) * 1000);
  const answered = stuck.filter((w) => w.received > 0).length;
  const closed = stuck.filter((w) => w.gone).length;
  const held = proxy.sample()!;
  for (const w of stuck) w.destroy();
  await sleep(2000);
  const after = proxy.sample()!;
  count(r, "requests held by a never-resolving hook", stuckN);
  count(r, "other requests meanwhile", ok + failed);
  r.failures += failed;
  rows.push(
    `| a \`request\` hook that never resolves for /never | ${stuckN} stuck requests, ${ok + failed} others | others: ${ok} ok, ${failed} failed; stuck ones after ${ctx.idleTimeoutS + 2} s: ${answered} answered, ${closed} closed; proxy fds ${base.fds} → ${held.fds} → ${after.fds} after the stuck clients left |`,
  );
  if (failed)
    addFinding(r, {
      kind: "failure",
      title: "addon faults: a never-resolving request hook for one path holds up other flows",
      detail: `${failed} of ${ok + failed} requests to other paths failed while ${stuckN} flows were stuck.`,
      figure: `${failed} failed`,
      repro: repro(ctx, "addon-faults"),
    });
  if (after.fds > base.fds + 4) {
    addFinding(r, {
      kind: "leak",
      title: "addon faults: connections whose flow is stuck in a hook are not released when their clients leave",
      detail: `${stuckN} clients whose request hook never resolves closed their connections; 2 s later the proxy held ${after.fds - base.fds} more descriptors than before.`,
      figure: `${base.fds} → ${held.fds} → ${after.fds} fds`,
      repro: repro(ctx, "addon-faults"),
    });
  }
}

async function reloadStorm(ctx: Ctx, r: FamilyResult, rows: string[]): Promise<void> {
  const file = join(ctx.tmp, "soak-storm.ts");
  writeFileSync(file, stormAddon(0, false));
  const proxy = await ctx.startProxy("storm", { scripts: [file] });
  const saves = ctx.quick ? 40 : 200;
  const spanMs = ctx.quick ? 4000 : 10_000;
  let stop = false;
  const stats = { sent: 0, ok: 0, lost: new Map<string, number>(), versions: new Set<string>() };
  const worker = async (w: number) => {
    for (let c = 0; !stop; c++) {
      const secure = (w + c) % 2 === 1;
      let wire: Wire | undefined;
      try {
        wire = secure
          ? new Wire(
              await tlsOver(await tunnel(proxy.port, `${HOST}:${ctx.app.httpsPort}`), {
                servername: "localhost",
                caFile: ctx.proxyCaFile,
              }),
            )
          : new Wire(await tcp(proxy.port));
        for (let i = 0; i < 10 && !stop; i++) {
          const path = `/storm/${w}/${c}/${i}`;
          const before = wire.received;
          stats.sent++;
          wire.write(
            secure
              ? `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`
              : `GET http://${HOST}:${ctx.app.httpPort}${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
          );
          const wr = wire;
          const got = await wr.until(() => wr.data.subarray(before).includes(`ok ${path}`) || wr.gone, 15_000);
          const text = wr.data.subarray(before).toString("latin1");
          if (got && text.startsWith("HTTP/1.1 200")) {
            stats.ok++;
            const v = /x-soak-version: (\d+)/i.exec(text)?.[1];
            if (v) stats.versions.add(v);
          } else {
            const why = wr.gone ? "connection closed" : got ? `status ${text.slice(9, 12)}` : "no answer in 15 s";
            stats.lost.set(why, (stats.lost.get(why) ?? 0) + 1);
            break;
          }
        }
      } catch (e) {
        stats.lost.set(`setup: ${(e as Error).message}`, (stats.lost.get(`setup: ${(e as Error).message}`) ?? 0) + 1);
      } finally {
        wire?.destroy();
      }
    }
  };
  const workers = range(4).map(worker);
  const heapBefore = await proxy.heap();
  const t0 = Date.now();
  let last = 0;
  for (let i = 1; i <= saves; i++) {
    // Every 20th save does not build: the previous version must stay.
    const broken = i % 20 === 10;
    writeFileSync(file, stormAddon(i, broken));
    if (!broken) last = i;
    await sleep(Math.max(0, t0 + (spanMs * i) / saves - Date.now()));
  }
  // The last good save must be the one that answers, soon.
  const end = Date.now() + 15_000;
  let final = "";
  while (Date.now() < end) {
    const w = new Wire(await tcp(proxy.port));
    w.write(
      `GET http://${HOST}:${ctx.app.httpPort}/storm-final HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
    );
    await w.until(() => w.gone, 10_000);
    final = /x-soak-version: (\d+)/i.exec(w.data.toString("latin1"))?.[1] ?? "";
    w.destroy();
    if (final === String(last)) break;
    await sleep(200);
  }
  stop = true;
  await Promise.all(workers);
  const heapAfter = await proxy.heap();
  const lost = [...stats.lost.values()].reduce((a, b) => a + b, 0);
  count(r, "reload storm: saves", saves);
  count(r, "reload storm: requests", stats.sent);
  count(r, "reload storm: requests lost", lost);
  r.failures += lost;
  rows.push(
    `| reload storm: ${saves} saves in ${spanMs / 1000} s (every 20th broken) | ${stats.sent} requests by 4 clients (HTTP and HTTPS, keep-alive) | ${stats.ok} ok, ${lost} lost${lost ? ` (${[...stats.lost].map(([k, n]) => `${k} ×${n}`).join("; ")})` : ""}; ${stats.versions.size} versions seen; final version ${final || "none"} (last good save ${last}); JS heap after GC ${heapBefore ? (heapBefore.heapUsed / 2 ** 20).toFixed(1) : "?"} → ${heapAfter ? (heapAfter.heapUsed / 2 ** 20).toFixed(1) : "?"} MiB |`,
  );
  if (lost)
    addFinding(r, {
      kind: "failure",
      title: "reload storm: requests are lost while the addon is saved again and again",
      detail: [...stats.lost].map(([k, n]) => `${k} ×${n}`).join("; "),
      figure: `${lost} of ${stats.sent} requests lost`,
      repro: repro(ctx, "addon-faults"),
      count: lost,
    });
  if (final !== String(last))
    addFinding(r, {
      kind: "failure",
      title: "reload storm: the last good save is not the version that runs",
      detail: `After the storm, the proxy answered with version ${final || "none"}; the last good save was ${last}.`,
      figure: `${final || "none"} ≠ ${last}`,
      repro: repro(ctx, "addon-faults"),
    });
  if (heapBefore && heapAfter && heapAfter.heapUsed - heapBefore.heapUsed > 32 * 2 ** 20) {
    addFinding(r, {
      kind: "leak",
      title: "reload storm: the JS heap grows with the reloads",
      detail: `After ${saves} saves the proxy's heap after GC grew from ${(heapBefore.heapUsed / 2 ** 20).toFixed(1)} to ${(heapAfter.heapUsed / 2 ** 20).toFixed(1)} MiB.`,
      figure: `+${((heapAfter.heapUsed - heapBefore.heapUsed) / 2 ** 20).toFixed(1)} MiB`,
      repro: repro(ctx, "addon-faults"),
    });
  }
}

export const addonFaults: Family = {
  id: "addon-faults",
  title: "failing, stuck and hot-reloaded addons",
  method: (ctx) =>
    "Three more proxies with addon scripts written to a temp dir and loaded with `-s`: (1) two addons that throw (sync) and reject " +
    `(async) in every hook but load, configure, running, done and socks5Auth (see the source for why); HTTP, HTTPS, WebSocket, h2c, SOCKS5 and a refused port must all work, ${ctx.quick ? 2 : 10} rounds. ` +
    `(2) an addon whose \`request\` hook never resolves for /never: ${ctx.quick ? 10 : 100} such requests stay stuck while ${ctx.quick ? 20 : 200} others must ` +
    `succeed; then the stuck clients leave and the proxy's descriptors must come back. (3) a reload storm: ${ctx.quick ? 40 : 200} saves in ` +
    `${ctx.quick ? 4 : 10} s (every 20th one does not build) while 4 clients make requests without pause: none may be lost, and the last good save must be the one that runs.`,
  deadlineMs: (ctx) => (ctx.quick ? 90 : 300) * 1000,
  async run(ctx, r) {
    const rows = ["| probe | traffic | result |", "|---|---|---|"];
    try {
      await failingHooks(ctx, r, rows);
      await neverResolving(ctx, r, rows);
      await reloadStorm(ctx, r, rows);
    } finally {
      r.extra = rows.join("\n");
    }
  },
};
