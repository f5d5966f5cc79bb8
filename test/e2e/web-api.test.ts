// The web UI's server against the real CLI (`--web`), with Node's http client and a
// WebSocket client: access rules, flows in the list and in the live updates, detail and
// bodies (decoded, raw, ranges, on disk), intercept / edit / resume, kill, replay, export
// run with curl, flow files out and back in (and read by mitmdump), options at run time,
// an addon's broken save, and the bound on kept flows with the process's memory printed.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { join } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openTunnel, requestViaProxy } from "../helpers/clients.ts";
import { startWsOrigin, WsClient } from "../helpers/ws.ts";
import {
  runCli,
  startOrigin,
  startProxy,
  tempDir,
  testConfdir,
  waitFor,
  within,
  type Origin,
  type ProxyProcess,
} from "../helpers/harness.ts";
import { runMitmdump } from "../helpers/mitmdump.ts";
import { atomicWrite, scriptDir } from "../helpers/scripts.ts";
import { api, until, UpdatesClient, webUiOf, type WebUi } from "../helpers/web-ui.ts";

interface Summary {
  id: string;
  type: string;
  port: number;
  url: string | null;
  path: string | null;
  method: string | null;
  status: number | null;
  intercepted: boolean;
  replayed: string | null;
  marked: string;
  comment: string;
  error: string | null;
  live: boolean;
  requestHeaders: [string, string][] | null;
  bodies: { request: string; response: string };
  responseSize: number | null;
}

const BIG = Buffer.alloc(300 * 1024, "0123456789abcdef");

const scripts = scriptDir("interloper-web-api-");
const TAGGER = `import { defineAddon } from "@interloper/sdk";
let tag = "one";
export default defineAddon({
  name: "tagger",
  load(loader) {
    loader.addOption({ name: "tagValue", type: "string", default: "one", help: "The X-Tag header's value." });
    loader.addOption({ name: "tagCount", type: "number", default: 1, help: "A number." });
  },
  configure(_updated, options) {
    tag = options.get<string>("tagValue");
  },
  request(flow) {
    flow.request.headers.set("X-Tag", tag);
  },
});
`;
const taggerPath = scripts.write("tagger.ts", TAGGER);

let origin: Origin;
let proxy: ProxyProcess;
let ui: WebUi;
let base: string;

test.before(async () => {
  origin = await startOrigin((req, res, body) => {
    const path = req.url ?? "/";
    if (path.startsWith("/gzip")) {
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Encoding": "gzip" });
      return void res.end(gzipSync("hello gzip world"));
    }
    if (path.startsWith("/br")) {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Encoding": "br" });
      return void res.end(brotliCompressSync('{"hello":"br"}'));
    }
    if (path.startsWith("/big")) {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      return void res.end(BIG);
    }
    if (path.startsWith("/echo")) {
      res.writeHead(200, { "Content-Type": "text/plain" });
      return void res.end(body);
    }
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(`hello ${path}`);
  });
  base = `http://127.0.0.1:${origin.port}`;
  proxy = await startProxy(["--web", "--set", "web_port=0", "-s", taggerPath]);
  ui = await webUiOf(proxy);
});

test.after(async () => {
  await proxy?.stop();
  await origin?.close();
  scripts.remove();
});

const get = (path: string) => requestViaProxy(proxy.port, `${base}${path}`);

async function flows(): Promise<Summary[]> {
  const r = await api(ui, "GET", "/api/flows");
  assert.is(r.status, 200);
  return r.json<Summary[]>();
}

/** The flow whose path is `path`, once the store has it finished (polls: the list announces nothing). */
function flowAt(path: string, done = true): Promise<Summary> {
  return until(
    async () => (await flows()).find((f) => f.path === path && (!done || (f.status !== null && !f.live))),
    `flow ${path} in /api/flows`,
  );
}

test("without the token: 403; a wrong Host: 403; the token once, then the cookie", async () => {
  const none = await api(ui, "GET", "/api/flows", { auth: "none" });
  assert.is(none.status, 403);
  assert.match(none.body.toString(), /token/);
  const wrongToken = await api(ui, "GET", "/api/flows?token=nope", { auth: "none" });
  assert.is(wrongToken.status, 403);
  for (const host of [`evil.example:${ui.port}`, `127.0.0.1:${ui.port + 1}`, "localhost"]) {
    const r = await api(ui, "GET", "/api/flows", { host });
    assert.is(r.status, 403, host);
    assert.match(r.body.toString(), /Host header/);
  }
  const first = await api(ui, "GET", `/?token=${ui.token}`, { auth: "none" });
  assert.is(first.status, 302, "the token leaves the address bar");
  assert.is(first.headers.location, "/");
  const setCookie = String(first.headers["set-cookie"]);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const cookie = setCookie.split(";")[0]!;
  const withCookie = await api(ui, "GET", "/api/flows", { auth: { cookie } });
  assert.is(withCookie.status, 200);
  assert.is(withCookie.headers["access-control-allow-origin"], undefined, "no CORS");
  const preflight = await api(ui, "OPTIONS", "/api/flows", { headers: { Origin: "http://evil.example" } });
  assert.is(preflight.status, 403, "a foreign origin may not even ask");
  const foreign = await api(ui, "POST", "/api/clear", { headers: { Origin: "http://evil.example" } });
  assert.is(foreign.status, 403);
  const page = await api(ui, "GET", "/");
  if (page.status === 200) assert.match(String(page.headers["content-security-policy"]), /default-src 'none'/);
  else assert.is(page.status, 503, "the front-end is not built: said so");
});

test("a cross-origin WebSocket is refused; the UI's own origin and a tool without Origin are let in", async () => {
  const refused = await UpdatesClient.open(ui, { origin: "http://evil.example" }).then(
    () => "opened",
    (err: Error) => err.message,
  );
  assert.is(refused, "refused: 403");
  const noToken = await UpdatesClient.open(ui, { auth: "none", origin: `http://127.0.0.1:${ui.port}` }).then(
    () => "opened",
    (err: Error) => err.message,
  );
  assert.is(noToken, "refused: 403");
  const own = await UpdatesClient.open(ui, { origin: `http://127.0.0.1:${ui.port}` });
  own.close();
});

test("traffic appears in the updates (batched) and in /api/flows", async () => {
  const updates = await UpdatesClient.open(ui);
  try {
    const res = await get("/hello");
    assert.is(res.body.toString(), "hello /hello");
    const u = await updates.waitFor(
      (x) => x.type.startsWith("flows/") && x.data.path === "/hello" && x.data.status === 200,
      "the /hello flow with its response",
    );
    assert.is(u.data.method, "GET");
    const listed = await flowAt("/hello");
    assert.is(listed.status, 200);
    assert.ok(
      listed.requestHeaders!.some(([n, v]) => n === "X-Tag" && v === "one"),
      "the request as the addons left it",
    );
    assert.ok(updates.messages <= updates.updates.length, "several updates per message");
  } finally {
    updates.close();
  }
});

test("detail and bodies: decoded gzip and br, raw bytes, ranges, a body on disk", async () => {
  await get("/gzip");
  await get("/br");
  await get("/big");
  const gz = await flowAt("/gzip");
  const detail = await api(ui, "GET", `/api/flows/${gz.id}`);
  const d = detail.json<{
    response: { headers: [string, string][] };
    timings: Record<string, number | null>;
    client: { peername: { host: string } };
  }>();
  assert.ok(d.response.headers.some(([n, v]) => n.toLowerCase() === "content-encoding" && v === "gzip"));
  assert.ok(typeof d.timings.requestStart === "number" && typeof d.timings.responseEnd === "number");
  assert.is(d.client.peername.host.replace("::ffff:", ""), "127.0.0.1");
  const decoded = await api(ui, "GET", `/api/flows/${gz.id}/response/content`);
  assert.is(decoded.body.toString(), "hello gzip world");
  assert.is(decoded.headers["content-type"], "text/plain");
  assert.match(String(decoded.headers["content-security-policy"]), /sandbox/);
  const raw = await api(ui, "GET", `/api/flows/${gz.id}/response/content?decode=false`);
  assert.equal([...raw.body.subarray(0, 2)], [0x1f, 0x8b], "the gzip bytes as sent");
  const part = await api(ui, "GET", `/api/flows/${gz.id}/response/content`, { headers: { Range: "bytes=6-9" } });
  assert.is(part.status, 206);
  assert.is(part.body.toString(), "gzip");
  assert.is(part.headers["content-range"], "bytes 6-9/16");
  const br = await flowAt("/br");
  assert.is((await api(ui, "GET", `/api/flows/${br.id}/response/content`)).body.toString(), '{"hello":"br"}');
  const big = await flowAt("/big");
  assert.is(big.bodies.response, "disk", "over the memory limit: kept on disk");
  assert.is(big.responseSize, BIG.length);
  const whole = await api(ui, "GET", `/api/flows/${big.id}/response/content?decode=false`);
  assert.ok(whole.body.equals(BIG));
  const middle = await api(ui, "GET", `/api/flows/${big.id}/response/content`, {
    headers: { Range: "bytes=100000-100015" },
  });
  assert.is(middle.status, 206);
  assert.ok(middle.body.equals(BIG.subarray(100000, 100016)));
  const beyond = await api(ui, "GET", `/api/flows/${big.id}/response/content`, { headers: { Range: "bytes=999999-" } });
  assert.is(beyond.status, 416);
  assert.is((await api(ui, "GET", `/api/flows/nope/response/content`)).status, 404);
});

test("intercept a request, edit a header, resume: the origin gets the edited request", async () => {
  const set = await api(ui, "PUT", "/api/intercept", { body: { filter: "~u /intercept-me" } });
  assert.is(set.status, 200);
  const updates = await UpdatesClient.open(ui);
  try {
    const answer = get("/intercept-me");
    const paused = await updates.waitFor(
      (u) => u.data.path === "/intercept-me" && u.data.intercepted === true,
      "paused",
    );
    const id = String(paused.data.id);
    assert.not.ok(
      origin.requests.some((r) => r.url === "/intercept-me"),
      "the origin has not seen it yet",
    );
    const headers = [...(paused.data.requestHeaders as [string, string][]), ["X-Edited", "in the UI"]];
    const edited = await api(ui, "PUT", `/api/flows/${id}`, { body: { request: { headers } } });
    assert.is(edited.status, 200);
    const since = updates.updates.length;
    assert.is((await api(ui, "POST", `/api/flows/${id}/resume`)).status, 200);
    // The response matches the filter too: it pauses again, before the client gets it.
    await updates.waitFor(
      (u) => u.data.id === id && u.data.intercepted === true && u.data.status === 200,
      "paused at the response",
      since,
    );
    assert.is((await api(ui, "POST", "/api/flows/resume")).json<{ resumed: number }>().resumed, 1);
    const res = await within(answer, "the client's answer");
    assert.is(res.body.toString(), "hello /intercept-me");
    const got = origin.requests.find((r) => r.url === "/intercept-me")!;
    const i = got.rawHeaders.findIndex((h) => h.toLowerCase() === "x-edited");
    assert.ok(i >= 0, "the edited header reached the origin");
    assert.is(got.rawHeaders[i + 1], "in the UI");
    assert.is((await api(ui, "POST", `/api/flows/${id}/resume`)).status, 409, "not paused any more");
  } finally {
    updates.close();
  }
});

test("kill a paused flow: the client gets nothing; a finished flow cannot be killed", async () => {
  await api(ui, "PUT", "/api/intercept", { body: { filter: "~u /kill-me" } });
  const answer = get("/kill-me").then(
    () => "answered",
    () => "closed",
  );
  const paused = await flowAt("/kill-me", false);
  await until(async () => (await flows()).some((f) => f.id === paused.id && f.intercepted), "paused");
  const killed = await api(ui, "POST", `/api/flows/${paused.id}/kill`);
  assert.is(killed.status, 200);
  assert.is(await within(answer, "the killed client"), "closed");
  assert.not.ok(origin.requests.some((r) => r.url === "/kill-me"));
  await api(ui, "PUT", "/api/intercept", { body: { filter: "" } });
  const done = await flowAt("/hello");
  assert.is((await api(ui, "POST", `/api/flows/${done.id}/kill`)).status, 409);
});

test("replay reaches the origin again and marks the flow", async () => {
  await get("/replay-me");
  const flow = await flowAt("/replay-me");
  const count = () => origin.requests.filter((r) => r.url === "/replay-me").length;
  assert.is(count(), 1);
  const r = await api(ui, "POST", `/api/flows/${flow.id}/replay`);
  assert.is(r.status, 202);
  await waitFor(() => count() === 2, "the replayed request at the origin");
  await until(
    async () => (await flows()).some((f) => f.id === flow.id && f.replayed === "request" && !f.live),
    "replayed",
  );
});

test("export as curl, then run it: the origin gets the same request", async () => {
  await requestViaProxy(proxy.port, `${base}/echo?from=curl`, {
    method: "POST",
    headers: { Host: `127.0.0.1:${origin.port}`, "Content-Type": "text/plain", "X-Mine": "a 'quoted' value" },
    body: "body with 'quotes' and $dollars",
  });
  const flow = await flowAt("/echo?from=curl");
  const exported = await api(ui, "GET", `/api/flows/${flow.id}/export/curl`);
  assert.is(exported.status, 200);
  const command = exported.body.toString();
  assert.match(command, /^curl /);
  const before = origin.requests.length;
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn("sh", ["-c", `${command} --noproxy '*' -s`], { env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
  assert.is(run.code, 0);
  assert.is(run.out, "body with 'quotes' and $dollars");
  const again = origin.requests.slice(before).find((r) => r.url === "/echo?from=curl")!;
  assert.is(again.method, "POST");
  assert.is(again.body.toString(), "body with 'quotes' and $dollars");
  const i = again.rawHeaders.findIndex((h) => h.toLowerCase() === "x-mine");
  assert.is(again.rawHeaders[i + 1], "a 'quoted' value");
  const har = await api(ui, "GET", `/api/flows/${flow.id}/export/har`);
  assert.is(har.json<{ log: { entries: unknown[] } }>().log.entries.length, 1);
  assert.is((await api(ui, "GET", `/api/flows/${flow.id}/export/nope`)).status, 400);
});

test("mark, comment, duplicate, delete", async () => {
  const flow = await flowAt("/hello");
  assert.is((await api(ui, "POST", `/api/flows/${flow.id}/mark`)).json<Summary>().marked, ":default:");
  assert.is(
    (await api(ui, "POST", `/api/flows/${flow.id}/mark`, { body: { marked: ":star:" } })).json<Summary>().marked,
    ":star:",
  );
  assert.is(
    (await api(ui, "POST", `/api/flows/${flow.id}/comment`, { body: { comment: "look" } })).json<Summary>().comment,
    "look",
  );
  const dup = await api(ui, "POST", `/api/flows/${flow.id}/duplicate`);
  assert.is(dup.status, 201);
  const copyId = dup.json<{ id: string }>().id;
  const copy = (await flows()).find((f) => f.id === copyId)!;
  assert.equal([copy.path, copy.marked, copy.comment], ["/hello", ":star:", "look"]);
  assert.is((await api(ui, "DELETE", `/api/flows/${copyId}`)).status, 200);
  assert.not.ok((await flows()).some((f) => f.id === copyId));
  assert.is((await api(ui, "GET", `/api/flows/${copyId}`)).status, 404);
});

test("filters: the CLI's parser checks them; the server matches bodies", async () => {
  const bad = await api(ui, "POST", "/api/filter/check", { body: { expr: "~d example &" } });
  const b = bad.json<{ ok: boolean; error: { message: string; position: number } }>();
  assert.is(b.ok, false);
  assert.is(b.error.message, "invalid filter at column 12: expected an expression after '&'");
  assert.is(b.error.position, 12, "the column of the '&', as the CLI says it");
  assert.equal((await api(ui, "POST", "/api/filter/check", { body: { expr: "~m GET" } })).json(), { ok: true });
  const big = await flowAt("/big");
  const match = await api(ui, "POST", "/api/filter/match", { body: { expr: "~bs 0123456789abcdef" } });
  const ids = match.json<{ ids: string[] }>().ids;
  assert.ok(ids.includes(big.id), "a body on disk is searched too");
  const hello = await flowAt("/hello");
  assert.not.ok(ids.includes(hello.id));
  assert.is((await api(ui, "POST", "/api/filter/match", { body: { expr: "~x" } })).status, 400);
});

test("flow files: dump, read by mitmdump, clear, open again", async () => {
  const before = await flows();
  const dump = await api(ui, "GET", "/api/flows/dump");
  assert.is(dump.status, 200);
  assert.match(String(dump.headers["content-disposition"]), /flows\.flow/);
  const file = join(tempDir(), "ui.flow");
  writeFileSync(file, dump.body);
  if (existsSync("/usr/bin/mitmdump")) {
    const read = await runMitmdump(["-nr", file]);
    assert.is(read.code, 0, read.output);
    assert.match(read.output, /\/gzip/);
  }
  const some = await api(ui, "GET", `/api/flows/dump?filter=${encodeURIComponent("~u /hello")}`);
  assert.ok(some.body.length > 0 && some.body.length < dump.body.length);
  assert.is((await api(ui, "GET", "/api/flows/dump?filter=~x")).status, 400);
  assert.is((await api(ui, "POST", "/api/clear")).status, 200);
  assert.is((await flows()).length, 0);
  const opened = await api(ui, "POST", "/api/flows/dump", { raw: readFileSync(file) });
  assert.is(opened.status, 200);
  assert.is(opened.json<{ added: number }>().added, before.length);
  const after = await flows();
  assert.equal(after.map((f) => f.id).sort(), before.map((f) => f.id).sort(), "the same flows, the same ids");
  const big = after.find((f) => f.path === "/big")!;
  const body = await api(ui, "GET", `/api/flows/${big.id}/response/content`);
  assert.ok(body.body.equals(BIG), "bodies came back too");
  const damaged = await api(ui, "POST", "/api/flows/dump", {
    raw: Buffer.concat([readFileSync(file), Buffer.from("12:xx")]),
  });
  assert.is(damaged.status, 400);
  assert.match(damaged.json<{ error: string }>().error, /byte/);
});

test("options: a change takes effect on the next request; a bad value is a 400 with one line", async () => {
  const options = (await api(ui, "GET", "/api/options")).json<
    { name: string; value: unknown; owner: string | null }[]
  >();
  const tag = options.find((o) => o.name === "tag_value")!;
  assert.equal([tag.value, tag.owner], ["one", "tagger"]);
  const put = await api(ui, "PUT", "/api/options", { body: { tag_value: "two" } });
  assert.is(put.status, 200);
  assert.equal(put.json(), { updated: ["tag_value"] });
  await get("/after-option");
  const got = origin.requests.find((r) => r.url === "/after-option")!;
  assert.is(got.rawHeaders[got.rawHeaders.findIndex((h) => h === "X-Tag") + 1], "two");
  const bad = await api(ui, "PUT", "/api/options", { body: { tag_count: "lots" } });
  assert.is(bad.status, 400);
  assert.is(bad.json<{ error: string }>().error, "invalid value for tag_count: 'lots' (expected a number)");
  const unknown = await api(ui, "PUT", "/api/options", { body: { tag_valu: "x" } });
  assert.is(unknown.status, 400);
  assert.match(unknown.json<{ error: string }>().error, /unknown option: tag_valu \(did you mean tag_value\?\)/);
  const port = await api(ui, "PUT", "/api/options", { body: { web_port: 1 } });
  assert.is(port.status, 400, "the UI's own listener is fixed while it runs");
});

test("a broken save of an addon shows in /api/addons with file:line; a fixed one reloads", async () => {
  const addons = (await api(ui, "GET", "/api/addons")).json<
    {
      name: string;
      kind: string;
      source: string | null;
      hooks: string[];
      options: string[];
      lastError: null | { file: string | null; line: number | null; message: string };
    }[]
  >();
  const tagger = addons.find((a) => a.name === "tagger")!;
  assert.is(tagger.kind, "script");
  assert.is(tagger.source, taggerPath);
  assert.ok(tagger.hooks.includes("request"));
  assert.ok(tagger.options.includes("tag_value"));
  assert.ok(addons.some((a) => a.name === "web" && a.kind === "built-in"));
  atomicWrite(taggerPath, TAGGER.replace('let tag = "one";', 'let tag = "one";\nconst broken = ;'));
  const shown = await until(async () => {
    const list = (await api(ui, "GET", "/api/addons")).json<typeof addons>();
    return list.find((a) => a.name === "tagger.ts")?.lastError ?? undefined;
  }, "the broken save's error in /api/addons");
  assert.is(shown.file, taggerPath);
  assert.is(shown.line, 3);
  atomicWrite(taggerPath, TAGGER);
  // Fixed back to the version that runs: nothing to swap on save, but a reload asked for rebuilds it.
  const reload = await api(ui, "POST", "/api/addons/tagger/reload");
  assert.equal(reload.json(), { ok: true });
  await proxy.waitForOutput(/reloaded \S*tagger\.ts/);
  const after = (await api(ui, "GET", "/api/addons")).json<typeof addons>();
  assert.is(after.find((a) => a.name === "tagger.ts")?.lastError, null, "the new version has no error");
  assert.is((await api(ui, "POST", "/api/addons/web/reload")).status, 409);
});

test("with -r the flows read are in the UI, and the proxy keeps serving (as mitmweb)", async () => {
  const dump = await api(ui, "GET", "/api/flows/dump?filter=" + encodeURIComponent("~u /hello"));
  const file = join(tempDir(), "read.flow");
  writeFileSync(file, dump.body);
  const reader = await startProxy(["--web", "--set", "web_port=0", "-r", file]);
  try {
    const rui = await webUiOf(reader);
    const read = await until(async () => {
      const list = (await api(rui, "GET", "/api/flows")).json<Summary[]>();
      return list.length > 0 && list.every((f) => !f.live) ? list : undefined;
    }, "the flows read");
    assert.ok(read.every((f) => f.path === "/hello"));
    const options = (await api(rui, "GET", "/api/options")).json<{ name: string; value: unknown }[]>();
    assert.is(options.find((o) => o.name === "keepserving")?.value, true);
  } finally {
    await reader.stop();
  }
});

test("a WebSocket flow: listed as ws, its messages in the detail once it ended", async () => {
  const wsOrigin = await startWsOrigin();
  try {
    const tunnel = await openTunnel(proxy.port, `127.0.0.1:${wsOrigin.port}`);
    const client = await WsClient.open(`ws://127.0.0.1:${wsOrigin.port}/chat`, {
      socket: tunnel.socket,
      perMessageDeflate: false,
    });
    client.send("hello ws");
    client.send(Buffer.from([0, 1, 2, 255]), true);
    await client.waitMessages(2);
    client.ws.close(1000, "bye");
    await client.waitClosed();
    const flow = await until(
      async () => (await flows()).find((f) => f.path === "/chat" && !f.live),
      "the WebSocket flow, ended",
    );
    const detail = (await api(ui, "GET", `/api/flows/${flow.id}`)).json<{
      summary: { type: string; messageCount: number };
      websocket: {
        closeCode: number;
        messages: { fromClient: boolean; type: string; text?: string; base64?: string }[];
      };
    }>();
    assert.is(detail.summary.type, "ws");
    assert.is(detail.summary.messageCount, 4);
    assert.is(detail.websocket.closeCode, 1000);
    const [first, second] = detail.websocket.messages;
    assert.equal([first!.fromClient, first!.type, first!.text], [true, "text", "hello ws"]);
    assert.equal([second!.type, second!.base64], ["binary", Buffer.from([0, 1, 2, 255]).toString("base64")]);
  } finally {
    await wsOrigin.close();
  }
});

test("a raw TCP flow (tcp_hosts set at run time): listed as tcp, its messages in the detail", async () => {
  const echo = net.createServer((socket) =>
    socket.on("data", (d) => socket.write(Buffer.concat([Buffer.from("echo:"), d]))),
  );
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  const port = (echo.address() as net.AddressInfo).port;
  try {
    assert.is((await api(ui, "PUT", "/api/options", { body: { tcp_hosts: ["^127\\.0\\.0\\.1$"] } })).status, 200);
    const tunnel = await openTunnel(proxy.port, `127.0.0.1:${port}`);
    const got = new Promise<string>((resolve) => tunnel.socket.once("data", (d: Buffer) => resolve(d.toString())));
    tunnel.socket.resume();
    tunnel.socket.write("ping\n");
    assert.is(await within(got, "the echo"), "echo:ping\n");
    tunnel.socket.end();
    const flow = await until(
      async () => (await flows()).find((f) => f.type === "tcp" && f.port === port && !f.live),
      "the TCP flow, ended",
    );
    const detail = (await api(ui, "GET", `/api/flows/${flow.id}`)).json<{
      tcpMessages: { fromClient: boolean; base64?: string }[];
    }>();
    assert.equal(
      detail.tcpMessages.map((m) => [m.fromClient, Buffer.from(m.base64 ?? "", "base64").toString()]),
      [
        [true, "ping\n"],
        [false, "echo:ping\n"],
      ],
    );
  } finally {
    await api(ui, "PUT", "/api/options", { body: { tcp_hosts: [] } });
    await new Promise<void>((r) => echo.close(() => r()));
  }
});

test("a UI reachable from the network without a password is refused at start-up, in one line", async () => {
  const r = await runCli(["--web", "--set", "web_host=0.0.0.0", "-p", "0", "--set", `confdir=${testConfdir()}`]);
  assert.is(r.code, 2);
  assert.is(
    r.stderr,
    "interloper: web_host 0.0.0.0 is reachable from the network: set web_password to protect the web UI, or listen on 127.0.0.1\n",
  );
  const bad = await runCli(["--web", "--set", "web_max_flows=-3", "-p", "0", "--set", `confdir=${testConfdir()}`]);
  assert.is(bad.code, 2);
  assert.match(
    bad.stderr,
    /^interloper: invalid value for web_max_flows: -3 \(expected a whole number from 1 to \d+\)\n$/,
  );
});

test("the bound: flows beyond web_max_flows are dropped, memory stays flat (RSS printed)", async () => {
  const small = await startProxy([
    "--web",
    "--set",
    "web_port=0",
    "--set",
    "web_max_flows=50",
    "--set",
    "web_password=hunter2",
  ]);
  try {
    const printed = await small.waitForOutput(/Web UI at http:\/\/127\.0\.0\.1:(\d+)\/\n/);
    const sui: WebUi = { port: Number(printed[1]), token: "hunter2", url: "" };
    assert.not.match(small.stdout(), /hunter2/, "the password is never printed");
    const options = await api(sui, "GET", "/api/options");
    assert.not.match(options.body.toString(), /hunter2/, "nor sent");
    const pw = options
      .json<{ name: string; value: unknown; secret: boolean }[]>()
      .find((o) => o.name === "web_password");
    assert.equal([pw?.value, pw?.secret], ["********", true]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${small.child.pid}/status`, "utf8"))![1]);
    const readings: number[] = [];
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        Array.from({ length: 150 }, (_, i) =>
          requestViaProxy(small.port, `${base}/${i % 10 === 0 ? "big" : "n"}?r=${round}&i=${i}`, { agent }),
        ),
      );
      readings.push(rss());
    }
    agent.destroy();
    const kept = (await api(sui, "GET", "/api/flows")).json<Summary[]>();
    assert.ok(kept.length <= 50, `kept ${kept.length}`);
    assert.ok(
      kept.some((f) => f.path === "/n?r=3&i=149"),
      "the newest are kept",
    );
    assert.not.ok(
      kept.some((f) => f.path?.includes("r=0&")),
      "the oldest went",
    );
    console.log(
      `web_max_flows=50, 600 requests (60 with 300 KiB bodies): RSS after each 150: ${readings.map((k) => `${Math.round(k / 1024)} MiB`).join(", ")}`,
    );
  } finally {
    await small.stop();
  }
});

test.run();
