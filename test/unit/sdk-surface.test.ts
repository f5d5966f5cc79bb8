// The sdk's public face (sdk/src/index.ts) against its internal subpaths, and
// the contract pieces that keep addons honest at run time: typed option
// handles, `body` assignment keeping Content-Length true, and hostsInputFrom.
// The compile-time half is test/types/sdk-api.ts.
import { existsSync, readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as sdk from "@interloper/sdk";
import * as host from "@interloper/sdk/host";
import * as hostsEngine from "@interloper/sdk/hosts";
import { testClientHello, testContext, testNextLayer } from "@interloper/sdk/testing";

const ROOT = new URL("../../", import.meta.url).pathname;
const { compileHostPatterns, decideHosts, hostsInputFrom, Request, Response } = sdk;

test("the root export holds no addon-host internals; they are in @interloper/sdk/host", () => {
  for (const name of ["AddonHost", "Options", "decideLayer"]) {
    assert.not.ok(name in sdk, `${name} is not in the root export`);
    assert.type((host as Record<string, unknown>)[name], "function", `${name} is in @interloper/sdk/host`);
  }
});

test("the hosts rules a user's addon needs stay public; the whole engine is in @interloper/sdk/hosts", () => {
  const publicApi = [
    "compileHostPatterns",
    "decideHosts",
    "describeDecision",
    "domainPattern",
    "hostCandidates",
    "hostsInputFrom",
    "patternWarnings",
  ];
  for (const name of publicApi) assert.type((sdk as Record<string, unknown>)[name], "function", name);
  assert.not.ok("compileHostPattern" in sdk, "the one-pattern compiler is internal");
  for (const name of [...publicApi, "compileHostPattern"])
    assert.type((hostsEngine as Record<string, unknown>)[name], "function", name);
});

test("every sdk subpath is in package.json exports, the sdk build's entry points and the tsconfig paths", () => {
  const pkg = JSON.parse(readFileSync(`${ROOT}sdk/package.json`, "utf8")) as {
    exports: Record<string, { types: string; default: string }>;
  };
  const paths = (
    JSON.parse(readFileSync(`${ROOT}tsconfig.json`, "utf8")) as { compilerOptions: { paths: Record<string, string[]> } }
  ).compilerOptions.paths;
  const build = readFileSync(`${ROOT}scripts/build.mjs`, "utf8");
  const entries = /entryPoints: \[([^\]]*)\],\s*outdir: "dist"/.exec(build)?.[1] ?? "";
  assert.ok(pkg.exports["./host"] && pkg.exports["./hosts"], "both internal subpaths are exported");
  for (const [sub, target] of Object.entries(pkg.exports)) {
    const file = /^\.\/dist\/(.+)\.js$/.exec(target.default)?.[1];
    assert.ok(file, `${sub}: ${target.default}`);
    assert.is(target.types, `./dist/${file}.d.ts`, sub);
    assert.ok(existsSync(`${ROOT}sdk/src/${file}.ts`), `${sub}: sdk/src/${file}.ts exists`);
    assert.ok(entries.includes(`"src/${file}.ts"`), `${sub}: src/${file}.ts is a build entry point`);
    assert.equal(paths[`@interloper/sdk${sub.slice(1)}`], [`./sdk/src/${file}.ts`], `${sub}: tsconfig path`);
  }
});

test("loader.addOption returns a handle that reads the live value (a copy for lists)", async () => {
  const handles: { mode?: { name: string; get(): string }; list?: { get(): string[] } } = {};
  const addon = {
    name: "typed",
    load(loader: sdk.Loader) {
      handles.mode = loader.addOption({
        name: "typedMode",
        type: "string",
        default: "a",
        choices: ["a", "b"],
        help: "",
      });
      handles.list = loader.addOption({ name: "typedList", type: "strings", default: [], help: "" });
    },
  };
  const ctx = await testContext(addon);
  assert.is(handles.mode?.name, "typedMode");
  assert.is(handles.mode?.get(), "a");
  await ctx.setOptions({ typedMode: "b", typedList: ["x"] });
  assert.is(handles.mode?.get(), "b");
  handles.list!.get().push("changed in place");
  assert.equal(handles.list!.get(), ["x"]);
  assert.equal(ctx.host.options.view.get<string[]>("typedList"), ["x"], "options.get still works");
});

test("assigning body keeps a true Content-Length true", () => {
  const r = Response.make(200, "hello");
  r.body = Buffer.from("hi");
  assert.is(r.headers.get("content-length"), "2");
  assert.is(r.text(), "hi");
  const req = new Request({ host: "example.com", method: "POST", headers: { "Content-Length": "0" } });
  req.body = Buffer.from("four");
  assert.equal(req.headers.fields, [["Content-Length", "4"]], "spelling and place kept");
});

test("assigning body adds no Content-Length and leaves one that did not describe the old body (HEAD, 304, streamed)", () => {
  const none = new Request({ host: "example.com", method: "POST" });
  none.body = Buffer.from("data");
  assert.is(none.headers.has("content-length"), false, "no field is added: framing stays the core's choice");
  const chunked = new Response({ headers: { "Transfer-Encoding": "chunked", "Content-Length": "3" }, body: "abc" });
  chunked.body = Buffer.from("abcdef");
  assert.is(chunked.headers.get("content-length"), "3", "Transfer-Encoding frames it");
  // A HEAD or 304 answer: the field describes the resource, not this (empty) body.
  const head = new Response({ headers: { "Content-Length": "1234" } });
  head.body = Buffer.alloc(0);
  head.body = Buffer.from("x");
  assert.is(head.headers.get("content-length"), "1234");
});

test("assigning body from JavaScript with a string or Uint8Array stores a Buffer", () => {
  const r = Response.make(200, "");
  (r as { body: unknown }).body = "héllo";
  assert.ok(Buffer.isBuffer(r.body));
  assert.is(r.headers.get("content-length"), "6");
  r.body = new Uint8Array([104, 105]);
  assert.ok(Buffer.isBuffer(r.body));
  assert.is(r.text(), "hi");
});

test("hostsInputFrom: what nextLayer and tlsClienthello data give the hosts rules", () => {
  const hello = testClientHello({ sni: "inner.test" });
  const data = testNextLayer({
    destination: { host: "10.0.0.1", port: 443 },
    resolved: { host: "10.0.0.1", port: 443 },
    clientHello: hello,
    hostHeader: null,
    outerSni: "outer.test",
    final: true,
  });
  assert.equal(hostsInputFrom(data), {
    destination: { host: "10.0.0.1", port: 443 },
    resolved: { host: "10.0.0.1", port: 443 },
    clientHello: hello,
    hostHeader: null,
    outerSni: "outer.test",
    final: true,
  });
  const outer = testNextLayer({ clientHello: "incomplete" });
  const fromOuter = hostsInputFrom(outer);
  assert.is(fromOuter.outerSni, undefined, "no TLS with the client yet: no outer SNI");
  assert.is(fromOuter.final, false);
  const tls = hostsInputFrom({ client: data.client, server: data.server, clientHello: hello, ignoreConnection: false });
  assert.equal(tls, {
    destination: data.server.address,
    resolved: data.server.peername,
    clientHello: hello,
    hostHeader: undefined,
    outerSni: "outer.test",
    final: true,
  });
  const rules = { allow: [], ignore: compileHostPatterns(["^inner\\.test:443$"], "--ignore-hosts") };
  assert.is(decideHosts(rules, tls).action, "ignore");
  assert.is(decideHosts(rules, fromOuter).action, "wait");
});

test("HOOK_NAMES: every hook once", () => {
  assert.is(new Set(sdk.HOOK_NAMES).size, sdk.HOOK_NAMES.length);
  for (const hook of [
    "load",
    "configure",
    "nextLayer",
    "tlsClienthello",
    "requestheaders",
    "tcpError",
    "websocketEnd",
  ]) {
    assert.ok(sdk.HOOK_NAMES.includes(hook as sdk.HookName), hook);
  }
});

test.run();
