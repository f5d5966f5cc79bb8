// Faulty addons through the CLI: a script whose hooks return odd thenables
// (a `then` that throws, a `then` getter that throws, a rejection with a value
// that cannot be printed, a `then` that never calls back). The proxy used to
// call such a `then` outside its try/catch: every connection was dropped as an
// internal error. Now each fault is one error line naming the addon and the
// hook, and traffic goes on.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, startOrigin, startProxy, type Origin, type ProxyProcess } from "../helpers/harness.ts";
import { connectRaw } from "../helpers/modes.ts";
import { scriptDir, type ScriptDir } from "../helpers/scripts.ts";

const SCRIPT = `import type { Addon, HTTPFlow, Logger } from "@interloper/sdk";

const throwingThen = (hook: string): any => ({
  then() {
    throw new Error(hook + " then exploded");
  },
});
let log: Logger | undefined;

const addon: Addon = {
  name: "faulty",
  load(loader) {
    log = loader.log;
  },
  clientConnect() {
    return throwingThen("clientConnect");
  },
  request(flow: HTTPFlow): any {
    const path = flow.request.path;
    if (path === "/hang") {
      log?.info("holding /hang");
      return { then() {} };
    }
    if (path === "/getter") return { get then() { throw new Error("then getter exploded"); } };
    if (path === "/unprintable") return Promise.reject({ toString() { throw new Error("no toString"); } });
    return throwingThen("request");
  },
};
export default addon;
`;

let dir: ScriptDir;
let file: string;
let origin: Origin;
let proxy: ProxyProcess;

test.before(async () => {
  dir = scriptDir("interloper-e2e-faults-");
  file = dir.write("faulty.ts", SCRIPT);
  origin = await startOrigin((req, res) => res.end(`origin ${req.url}`));
  proxy = await startProxy(["-s", file], { trustOrigin: false });
});

test.after(async () => {
  await proxy?.stop();
  await origin?.close();
  dir?.remove();
});

const get = async (path: string) => {
  const r = await curl(["-x", `http://127.0.0.1:${proxy.port}`, `http://127.0.0.1:${origin.port}${path}`]);
  return { code: r.code, body: r.stdout.toString(), stderr: r.stderr };
};

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

test("clientConnect and request return a thenable whose then() throws: curl is still served, the log names addon, hook and place", async () => {
  for (const path of ["/a", "/b", "/c"]) {
    const r = await get(path);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.body, `origin ${path}`);
  }
  const where = `\\(at ${esc(file)}:\\d+:\\d+\\)`;
  await proxy.waitForOutput(new RegExp(`addon faulty failed in clientConnect: clientConnect then exploded ${where}`));
  await proxy.waitForOutput(new RegExp(`addon faulty failed in request: request then exploded ${where}`));
  assert.not.match(proxy.stdout() + proxy.stderr(), /internal error/);
});

test("a then getter that throws, and a rejection with an unprintable value: logged, and the request goes on", async () => {
  assert.is((await get("/getter")).body, "origin /getter");
  assert.is((await get("/unprintable")).body, "origin /unprintable");
  await proxy.waitForOutput(/addon faulty failed in request: then getter exploded/);
  await proxy.waitForOutput(/addon faulty failed in request: \[object Object\]/);
  assert.not.match(proxy.stdout() + proxy.stderr(), /internal error/);
});

test("a then() that never calls back holds its own request only: the next client is served meanwhile", async () => {
  const raw = await connectRaw(proxy.port);
  try {
    raw.write(`GET http://127.0.0.1:${origin.port}/hang HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
    await proxy.waitForOutput(/\[faulty\] holding \/hang/);
    const r = await get("/after-hang");
    assert.is(r.body, "origin /after-hang");
    assert.is(raw.buf.length, 0, "the held request has no answer");
    assert.not.ok(
      origin.requests.some((q) => q.url === "/hang"),
      "nor did it reach the origin",
    );
  } finally {
    raw.destroy();
  }
});

test.run();
