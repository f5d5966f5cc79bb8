// The dependency rules of docs/ARCHITECTURE.md, checked on every source
// file. Imports are read by the TypeScript compiler itself
// (ts.preProcessFile: static, type-only, re-exports and dynamic imports), and
// Node internals are found in the syntax tree, so comments and strings never
// count.
//
// - sdk/ imports nothing from core/ or addons/ (no relative path leaves sdk/src).
// - addons/ use the sdk only as `@interloper/sdk` and never core/: a built-in
//   addon is something a user could have written.
// - core/ never imports addons/, except the composition root core/cli/main.ts.
// - examples/ import only the published faces of the sdk.
// - core/ has no import cycle, type imports included.
// - Protocol parsers import no sockets (node:net, node:tls, node:http*).
// - Node's undocumented internals are touched only in core/platform/.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { posix } from "node:path";
import ts from "typescript";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = new URL("../../", import.meta.url).pathname;
const AREAS = ["core", "addons", "sdk/src", "examples"] as const;

/** Pure protocol logic: bytes in, facts out. */
const PARSERS = [
  "core/accept/socks5-protocol.ts",
  "core/http/h1-response.ts",
  "core/http/raw.ts",
  "core/layers/detect.ts",
  "core/layers/decide.ts",
  "core/tls/clienthello.ts",
  "core/tls/der.ts",
  "core/tls/names.ts",
  "core/websocket/frames.ts",
];
const SOCKET_MODULES = new Set(["net", "tls", "http", "https", "http2", "dgram"]);
/** Property names that are Node internals (underscored, or undocumented state). */
const INTERNALS = new Set([
  "_handle",
  "_readableState",
  "_writableState",
  "_read",
  "_destroy",
  "_unrefTimer",
  "secureConnecting",
  "_consumed",
]);

interface SourceFile {
  path: string;
  text: string;
}

export interface Import {
  from: string;
  spec: string;
  line: number;
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(posix.join(ROOT, dir)).sort()) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const rel = posix.join(dir, name);
    if (statSync(posix.join(ROOT, rel)).isDirectory()) walk(rel, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

function sources(): SourceFile[] {
  return AREAS.flatMap((a) => walk(a, [])).map((path) => ({
    path,
    text: readFileSync(posix.join(ROOT, path), "utf8"),
  }));
}

export function importsOf(file: SourceFile): Import[] {
  const info = ts.preProcessFile(file.text, true, true);
  return info.importedFiles.map((f) => ({
    from: file.path,
    spec: f.fileName,
    line:
      ts.getLineAndCharacterOfPosition(ts.createSourceFile("x.ts", file.text, ts.ScriptTarget.Latest), f.pos).line + 1,
  }));
}

/** A relative specifier as a repository path; undefined for packages and builtins. */
function resolved(imp: Import): string | undefined {
  return imp.spec.startsWith(".") ? posix.normalize(posix.join(posix.dirname(imp.from), imp.spec)) : undefined;
}

function isBuiltin(spec: string): boolean {
  const bare = spec.replace(/^node:/, "");
  return spec.startsWith("node:") || builtinModules.includes(bare) || builtinModules.includes(bare.split("/")[0]!);
}

/** What one import breaks, or undefined. */
export function violation(imp: Import): string | undefined {
  const target = resolved(imp);
  const where = `${imp.from}:${imp.line} imports "${imp.spec}"`;
  if (imp.from.startsWith("sdk/src/")) {
    if (target && !target.startsWith("sdk/src/"))
      return `${where}: sdk/ is the contract; it imports nothing outside sdk/src`;
  } else if (imp.from.startsWith("addons/")) {
    if (target && !target.startsWith("addons/"))
      return `${where}: a built-in addon uses only what a user's addon can (@interloper/sdk)`;
    if (!target && imp.spec.startsWith("@interloper/sdk") && imp.spec !== "@interloper/sdk")
      return `${where}: built-in addons use the sdk's public face only`;
  } else if (imp.from.startsWith("core/")) {
    if (target?.startsWith("addons/") && imp.from !== "core/cli/main.ts")
      return `${where}: core/ never imports addons/ (only the composition root core/cli/main.ts lists them)`;
  } else if (imp.from.startsWith("examples/")) {
    if (target && !target.startsWith("examples/")) return `${where}: examples use the published sdk only`;
    if (
      !target &&
      imp.spec.startsWith("@interloper/") &&
      !["@interloper/sdk", "@interloper/sdk/testing"].includes(imp.spec)
    ) {
      return `${where}: examples use the published sdk only`;
    }
  }
  return undefined;
}

/** Address syntax is all a parser may take from node:net. */
const ADDRESS_SYNTAX = new Set(["isIP", "isIPv4", "isIPv6"]);

/** A parser's imports of socket modules (node:net only for its address-syntax functions, by name). */
export function socketImports(file: SourceFile): string[] {
  if (!PARSERS.includes(file.path)) return [];
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (!ts.isImportDeclaration(st) || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const spec = st.moduleSpecifier.text;
    const mod = spec.replace(/^node:/, "").split("/")[0]!;
    if (!isBuiltin(spec) || !SOCKET_MODULES.has(mod)) continue;
    const named = st.importClause?.namedBindings;
    const onlySyntax =
      mod === "net" &&
      !st.importClause?.name &&
      named !== undefined &&
      ts.isNamedImports(named) &&
      named.elements.every((e) => ADDRESS_SYNTAX.has((e.propertyName ?? e.name).text));
    if (!onlySyntax)
      out.push(
        `${file.path}:${sf.getLineAndCharacterOfPosition(st.getStart()).line + 1} imports "${spec}": a parser takes bytes, not sockets`,
      );
  }
  return out;
}

/** Uses of Node internals (property accesses by name) outside core/platform/. */
export function internalsUsed(file: SourceFile): string[] {
  if (file.path.startsWith("core/platform/")) return [];
  const sf = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    let name: string | undefined;
    if (ts.isPropertyAccessExpression(node)) name = node.name.text;
    else if (ts.isElementAccessExpression(node) && ts.isStringLiteral(node.argumentExpression))
      name = node.argumentExpression.text;
    else if (ts.isPropertySignature(node) && ts.isIdentifier(node.name)) name = node.name.text;
    if (name && INTERNALS.has(name)) {
      found.push(
        `${file.path}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1} uses Node's internal '${name}': that belongs in core/platform/`,
      );
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Import cycles (strongly connected groups of more than one file) among `files`. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return out;
}

function coreGraph(files: SourceFile[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files.filter((x) => x.path.startsWith("core/"))) {
    graph.set(
      f.path,
      importsOf(f)
        .map(resolved)
        .filter((t): t is string => t !== undefined && t.startsWith("core/")),
    );
  }
  return graph;
}

test("the repository keeps the dependency rules", () => {
  const files = sources();
  assert.ok(
    files.some((f) => f.path === "core/cli/main.ts"),
    "scanned core/cli/main.ts",
  );
  assert.ok(files.length > 50, `scanned ${files.length} files`);
  const problems = files.flatMap((f) =>
    importsOf(f)
      .map(violation)
      .filter((v): v is string => v !== undefined),
  );
  assert.equal(problems, []);
});

test("core/ has no import cycle, type imports included", () => {
  assert.equal(cycles(coreGraph(sources())), []);
});

test("Node internals are used only in core/platform/", () => {
  assert.equal(sources().flatMap(internalsUsed), []);
});

test("protocol parsers take bytes, not sockets", () => {
  assert.equal(sources().flatMap(socketImports), []);
});

test("every parser named in the rules exists", () => {
  const paths = new Set(sources().map((f) => f.path));
  for (const p of PARSERS) assert.ok(paths.has(p), p);
});

// ================================================================ self-tests: each rule can fail

test("self-test: the import reader sees type imports, re-exports and dynamic imports, not comments or strings", () => {
  const file = {
    path: "core/x.ts",
    text: [
      'import type { A } from "./a.ts";',
      'export { B } from "./b.ts";',
      'const c = await import("./c.ts");',
      '// import d from "./d.ts";',
      "const s = \"import e from './e.ts'\";",
    ].join("\n"),
  };
  assert.equal(
    importsOf(file).map((i) => [i.spec, i.line]),
    [
      ["./a.ts", 1],
      ["./b.ts", 2],
      ["./c.ts", 3],
    ],
  );
});

test("self-test: the checker catches a violation of every rule", () => {
  const bad: Array<[string, string]> = [
    ["sdk/src/flow.ts", "../../core/engine/proxy-server.ts"],
    ["addons/hosts.ts", "../core/layers/detect.ts"],
    ["addons/hosts.ts", "@interloper/sdk/host"],
    ["core/engine/proxy-server.ts", "../../addons/hosts.ts"],
    ["examples/peek.ts", "../core/engine/modes.ts"],
    ["examples/peek.ts", "@interloper/sdk/host"],
  ];
  for (const [from, spec] of bad) assert.ok(violation({ from, spec, line: 1 }), `${from} → ${spec}`);
  const good: Array<[string, string]> = [
    ["core/cli/main.ts", "../../addons/hosts.ts"],
    ["core/engine/proxy-server.ts", "@interloper/sdk/host"],
    ["core/http/exchange/exchange.ts", "node:http"],
    ["addons/script-loader.ts", "./scripts/bundle.ts"],
    ["examples/add-header.test.ts", "@interloper/sdk/testing"],
  ];
  for (const [from, spec] of good) assert.is(violation({ from, spec, line: 1 }), undefined, `${from} → ${spec}`);
});

test("self-test: a parser importing sockets is caught; address syntax from node:net by name is fine", () => {
  const p = "core/tls/clienthello.ts";
  assert.is(socketImports({ path: p, text: 'import * as tls from "node:tls";' }).length, 1);
  assert.is(socketImports({ path: p, text: 'import * as net from "node:net";' }).length, 1);
  assert.is(socketImports({ path: p, text: 'import { Socket } from "net";' }).length, 1);
  assert.is(socketImports({ path: p, text: 'import type { IncomingMessage } from "node:http";' }).length, 1);
  assert.equal(
    socketImports({
      path: p,
      text: 'import { isIP, isIPv6 as v6 } from "node:net";\nimport { createHash } from "node:crypto";',
    }),
    [],
  );
  assert.equal(socketImports({ path: "core/http/exchange/exchange.ts", text: 'import * as net from "node:net";' }), []);
});

test("self-test: cycles are found, type-only ones included; a tree has none", () => {
  const g = new Map([
    ["a", ["b"]],
    ["b", ["c"]],
    ["c", ["a"]],
    ["d", ["a"]],
    ["e", ["e"]],
  ]);
  assert.equal(cycles(g), [["a", "b", "c"], ["e"]]);
  assert.equal(
    cycles(
      new Map([
        ["a", ["b"]],
        ["b", []],
      ]),
    ),
    [],
  );
  const typeOnly = [
    { path: "core/p.ts", text: 'import type { Q } from "./q.ts";' },
    { path: "core/q.ts", text: 'import type { P } from "./p.ts";' },
  ];
  assert.equal(cycles(coreGraph(typeOnly)), [["core/p.ts", "core/q.ts"]]);
});

test("self-test: internals are found by property name, not in comments or strings, and allowed in core/platform/", () => {
  const text =
    'const fd = (s as any)._handle.fd;\n// s._readableState\nconst x = "_unrefTimer";\nt["secureConnecting"] = false;';
  assert.is(internalsUsed({ path: "core/http/x.ts", text }).length, 2);
  assert.equal(internalsUsed({ path: "core/platform/x.ts", text }), []);
});

test.run();
