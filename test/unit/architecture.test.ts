// DESIGN.md's dependency rules, checked on every source file's imports:
// - sdk/ imports nothing from core/ or addons/ (and no relative path leaves sdk/);
// - addons/ import the sdk only as `@interloper/sdk`, never core/ (a built-in
//   addon must be something a user could have written);
// - core/ never imports addons/, except the composition root core/cli.ts;
// - examples/ import only the published face of the sdk (`@interloper/sdk`).
// The import specifiers are found by a small tokenizer (comments, strings,
// template literals and regular expressions are skipped), not by grep.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { posix } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const ROOT = new URL("../../", import.meta.url).pathname;

// ================================================================ the tokenizer

interface Token {
  t: "id" | "str" | "num" | "punct" | "tmpl" | "re";
  v: string;
  line: number;
  /** For templates: no `${}` inside, so `v` is its whole text. */
  plain?: boolean;
}

/** Words after which a `/` starts a regular expression, not a division. */
const EXPR_KEYWORDS = new Set(["return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield", "await"]);

function tokenize(src: string): Token[] {
  const toks: Token[] = [];
  const braces: Array<"{" | "tmpl"> = [];
  let i = 0;
  let line = 1;
  const n = src.length;

  const regexAllowed = (): boolean => {
    const p = toks[toks.length - 1];
    if (!p) return true;
    if (p.t === "str" || p.t === "num" || p.t === "tmpl" || p.t === "re") return false;
    if (p.t === "id") return EXPR_KEYWORDS.has(p.v);
    return !(p.v === ")" || p.v === "]" || p.v === "}");
  };

  /** Reads template text from i (after "`" or "}") to its end or the next "${". */
  const templateChunk = (startLine: number, continued: boolean): void => {
    let text = "";
    while (i < n) {
      const c = src[i]!;
      if (c === "\\") {
        text += src.slice(i, i + 2);
        if (src[i + 1] === "\n") line++;
        i += 2;
        continue;
      }
      if (c === "`") {
        i++;
        toks.push({ t: "tmpl", v: text, line: startLine, plain: !continued });
        return;
      }
      if (c === "$" && src[i + 1] === "{") {
        i += 2;
        braces.push("tmpl");
        toks.push({ t: "tmpl", v: text, line: startLine, plain: false });
        return;
      }
      if (c === "\n") line++;
      text += c;
      i++;
    }
  };

  while (i < n) {
    const c = src[i]!;
    if (c === "\n") {
      line++;
      i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v" || c === "\ufeff" || c === "\u00a0") {
      i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "/") {
      while (i < n && src[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end === -1 ? n : end + 2;
      for (let k = i; k < stop; k++) if (src[k] === "\n") line++;
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      const startLine = line;
      let v = "";
      i++;
      while (i < n && src[i] !== c) {
        if (src[i] === "\\") {
          v += src[i + 1] ?? "";
          i += 2;
          continue;
        }
        if (src[i] === "\n") break; // unterminated: stop at the line end
        v += src[i];
        i++;
      }
      i++;
      toks.push({ t: "str", v, line: startLine });
      continue;
    }
    if (c === "`") {
      i++;
      templateChunk(line, false);
      continue;
    }
    if (c === "}" && braces[braces.length - 1] === "tmpl") {
      braces.pop();
      i++;
      templateChunk(line, true);
      continue;
    }
    if (c === "/" && regexAllowed()) {
      let inClass = false;
      const start = i;
      i++;
      while (i < n) {
        const ch = src[i]!;
        if (ch === "\\") {
          i += 2;
          continue;
        }
        if (ch === "\n") break;
        if (ch === "[") inClass = true;
        else if (ch === "]") inClass = false;
        else if (ch === "/" && !inClass) break;
        i++;
      }
      i++;
      while (i < n && /[a-z]/i.test(src[i]!)) i++;
      toks.push({ t: "re", v: src.slice(start, i), line });
      continue;
    }
    if (/[A-Za-z_$]/.test(c) || c > "\x7f") {
      const start = i;
      while (i < n && (/[\w$]/.test(src[i]!) || src[i]! > "\x7f")) i++;
      toks.push({ t: "id", v: src.slice(start, i), line });
      continue;
    }
    if (/[0-9]/.test(c)) {
      const start = i;
      while (i < n && /[\w.]/.test(src[i]!)) i++;
      toks.push({ t: "num", v: src.slice(start, i), line });
      continue;
    }
    if (c === "{") braces.push("{");
    else if (c === "}") braces.pop();
    toks.push({ t: "punct", v: c, line });
    i++;
  }
  return toks;
}

export interface ImportRef {
  specifier: string;
  kind: "import" | "export" | "dynamic" | "require";
  line: number;
}

/** The module specifiers a source file names: static imports, re-exports, `import("…")` (also in types) and `require("…")`. */
function importSpecifiers(src: string): ImportRef[] {
  const toks = tokenize(src);
  const out: ImportRef[] = [];
  const isP = (tok: Token | undefined, v: string) => tok !== undefined && tok.t === "punct" && tok.v === v;
  const isId = (tok: Token | undefined, v: string) => tok !== undefined && tok.t === "id" && tok.v === v;
  const literal = (tok: Token | undefined): string | undefined =>
    tok === undefined ? undefined : tok.t === "str" ? tok.v : tok.t === "tmpl" && tok.plain ? tok.v : undefined;
  /** From j on, the `from "x"` that ends this statement. */
  const fromClause = (j: number, limit: number): Token | undefined => {
    for (; j < toks.length && j < limit; j++) {
      const t = toks[j]!;
      if (isP(t, ";")) return undefined;
      if (t.t === "id" && (t.v === "import" || t.v === "export") && !isP(toks[j - 1], ".")) return undefined;
      if (isId(t, "from") && literal(toks[j + 1]) !== undefined) return toks[j + 1];
    }
    return undefined;
  };

  for (let k = 0; k < toks.length; k++) {
    const tok = toks[k]!;
    if (tok.t !== "id") continue;
    if (isP(toks[k - 1], ".")) continue; // obj.import(...), x.require(...)
    const next = toks[k + 1];
    if (tok.v === "import") {
      if (isP(next, "(")) {
        const spec = literal(toks[k + 2]);
        if (spec !== undefined) out.push({ specifier: spec, kind: "dynamic", line: tok.line });
        continue;
      }
      if (isP(next, ".")) continue; // import.meta
      const direct = literal(next);
      if (direct !== undefined) {
        out.push({ specifier: direct, kind: "import", line: tok.line });
        continue;
      }
      // `import x = require("y")` (TypeScript)
      let j = k + 1;
      if (isId(toks[j], "type")) j++;
      if (toks[j]?.t === "id" && isP(toks[j + 1], "=") && isId(toks[j + 2], "require") && isP(toks[j + 3], "(")) {
        const spec = literal(toks[j + 4]);
        if (spec !== undefined) out.push({ specifier: spec, kind: "import", line: tok.line });
        k = j + 4; // past the require(...) so it is not counted twice
        continue;
      }
      const from = fromClause(k + 1, k + 5000);
      if (from) out.push({ specifier: from.v, kind: "import", line: tok.line });
      continue;
    }
    if (tok.v === "export") {
      let j = k + 1;
      if (isId(toks[j], "type")) j++;
      if (isP(toks[j], "*") || isP(toks[j], "{")) {
        if (isP(toks[j], "{")) {
          while (j < toks.length && !isP(toks[j], "}")) j++;
        }
        const from = fromClause(j + 1, j + 4);
        if (from) out.push({ specifier: from.v, kind: "export", line: tok.line });
      }
      continue;
    }
    if (tok.v === "require" && isP(next, "(")) {
      const spec = literal(toks[k + 2]);
      if (spec !== undefined && isP(toks[k + 3], ")")) out.push({ specifier: spec, kind: "require", line: tok.line });
    }
  }
  return out;
}

// ================================================================ the rules

/** Top-level folders of the repository that a bare specifier may name through tsconfig's baseUrl ".". */
const REPO_AREAS = new Set(["core", "addons", "sdk", "examples", "test", "bench", "scripts"]);
const PUBLIC_SDK = new Set(["@interloper/sdk", "@interloper/sdk/testing"]);
const BUILTINS = new Set(builtinModules);

type Target =
  | { kind: "builtin" }
  | { kind: "package"; name: string }
  | { kind: "sdk-public" }
  | { kind: "sdk-deep" }
  | { kind: "repo"; path: string; area: string }
  | { kind: "outside"; path: string };

/** What a specifier in `fromFile` (repository-relative, posix) points at. */
function resolveTarget(fromFile: string, spec: string): Target {
  if (spec.startsWith("node:") || BUILTINS.has(spec) || BUILTINS.has(spec.split("/")[0]!)) return { kind: "builtin" };
  if (PUBLIC_SDK.has(spec)) return { kind: "sdk-public" };
  if (spec.startsWith("@interloper/sdk/")) return { kind: "sdk-deep" };
  let path: string | undefined;
  if (spec.startsWith("./") || spec.startsWith("../") || spec === "." || spec === "..") {
    path = posix.normalize(posix.join(posix.dirname(fromFile), spec));
  } else if (spec.startsWith("/")) {
    path = posix.relative(ROOT.replace(/\/$/, ""), spec);
  } else if (REPO_AREAS.has(spec.split("/")[0]!)) {
    path = posix.normalize(spec);
  }
  if (path === undefined) {
    const parts = spec.split("/");
    return { kind: "package", name: spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]! };
  }
  if (path === ".." || path.startsWith("../")) return { kind: "outside", path };
  return { kind: "repo", path, area: path.split("/")[0]! };
}

interface SourceFile {
  /** Repository-relative posix path, e.g. `core/cli.ts`. */
  path: string;
  source: string;
}

/** The dependency-rule violations in `files`, one line each: `file:line imports "spec": rule`. */
function checkDependencies(files: readonly SourceFile[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const area = file.path.split("/")[0];
    for (const ref of importSpecifiers(file.source)) {
      const target = resolveTarget(file.path, ref.specifier);
      const where = `${file.path}:${ref.line} imports "${ref.specifier}"`;
      const bad = (rule: string) => problems.push(`${where}: ${rule}`);
      if (area === "sdk") {
        if (target.kind === "outside" || (target.kind === "repo" && target.area !== "sdk")) {
          bad("sdk/ is the contract: it imports nothing from core/ or addons/ and no path outside sdk/");
        }
      } else if (area === "addons") {
        if (target.kind === "outside" || target.kind === "sdk-deep" || (target.kind === "repo" && target.area !== "addons")) {
          bad("addons/ use the sdk only as @interloper/sdk, never core/ or other internals (a user could have written a built-in addon)");
        }
      } else if (area === "core") {
        if (target.kind === "repo" && target.area === "addons" && file.path !== "core/cli.ts") {
          bad("core/ never imports addons/; only the composition root core/cli.ts lists the default addons");
        }
        if (target.kind === "outside") bad("core/ imports nothing outside the repository");
      } else if (area === "examples") {
        if (target.kind === "outside" || target.kind === "sdk-deep" || (target.kind === "repo" && target.area !== "examples")) {
          bad("examples/ import only the published face of the sdk (@interloper/sdk)");
        }
      }
    }
  }
  return problems;
}

const SOURCE_EXT = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
const SKIP_DIRS = new Set(["node_modules", "dist"]);

function collect(dir: string, out: SourceFile[]): SourceFile[] {
  const abs = posix.join(ROOT, dir);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return out;
  for (const name of readdirSync(abs).sort()) {
    if (name.startsWith(".") || SKIP_DIRS.has(name)) continue;
    const rel = `${dir}/${name}`;
    const s = statSync(posix.join(ROOT, rel), { throwIfNoEntry: false });
    if (!s) continue;
    if (s.isDirectory()) collect(rel, out);
    else if (SOURCE_EXT.test(name) && !name.endsWith(".d.ts")) out.push({ path: rel, source: readFileSync(posix.join(ROOT, rel), "utf8") });
  }
  return out;
}

// ================================================================ the tokenizer, tested

test("parser: finds static imports, re-exports, dynamic and type imports; skips comments, strings, templates and regexes", () => {
  const src = [
    '// import x from "../core/in-line-comment.ts";',
    '/* export * from "../core/in-block-comment.ts"',
    '   import y from "../core/still-comment.ts" */',
    'const s = "import y from \'../core/in-string.ts\'";',
    "const s2 = 'export * from \"../core/in-single-string.ts\"';",
    'const t = `import z from "../core/in-template.ts" ${"nested " + `import q from "../core/inner.ts"`} tail`;',
    'const re = /import a from "..\\/core\\/in-regex.ts"/g;',
    "const ratio = total / count / 2; // not a regex",
    'import type { A } from "./a.ts";',
    "import B, {",
    "  c,",
    "  d as e,",
    '} from "./b.ts";',
    'import "./side-effect.ts";',
    'import * as ns from "node:fs"',
    'import def from "./no-semicolon.ts"',
    'export * from "./star.ts";',
    'export * as nsx from "./star-as.ts";',
    'export { f, g as h } from "./named.ts";',
    'export type { G } from "./types.ts";',
    "export const from = 1;",
    "export { local };",
    'const lazy = await import("./dynamic.ts");',
    'type H = import("./type-import.ts").H;',
    'console.log(import.meta.url, obj.import("./not-an-import.ts"), x.require("./nor-this.ts"));',
    'const cjs = require("./required.cjs");',
    'import fs = require("node:fs");',
    "const dyn = import(`./template-import.ts`);",
    "const notLiteral = import(`./${name}.ts`);",
  ].join("\n");
  const refs = importSpecifiers(src);
  assert.equal(
    refs.map((r) => r.specifier),
    [
      "./a.ts",
      "./b.ts",
      "./side-effect.ts",
      "node:fs",
      "./no-semicolon.ts",
      "./star.ts",
      "./star-as.ts",
      "./named.ts",
      "./types.ts",
      "./dynamic.ts",
      "./type-import.ts",
      "./required.cjs",
      "node:fs",
      "./template-import.ts",
    ],
  );
  assert.equal(
    refs.map((r) => r.kind),
    ["import", "import", "import", "import", "import", "export", "export", "export", "export", "dynamic", "dynamic", "require", "import", "dynamic"],
  );
  // Line numbers are those of the statement's first token.
  assert.is(refs.find((r) => r.specifier === "./a.ts")!.line, 9);
  assert.is(refs.find((r) => r.specifier === "./b.ts")!.line, 10);
});

test("resolveTarget: builtins, packages, the sdk's faces, relative and baseUrl paths", () => {
  assert.equal(resolveTarget("core/x.ts", "node:net"), { kind: "builtin" });
  assert.equal(resolveTarget("core/x.ts", "fs/promises"), { kind: "builtin" });
  assert.equal(resolveTarget("core/x.ts", "yargs"), { kind: "package", name: "yargs" });
  assert.equal(resolveTarget("core/x.ts", "@types/node/x"), { kind: "package", name: "@types/node" });
  assert.equal(resolveTarget("addons/x.ts", "@interloper/sdk"), { kind: "sdk-public" });
  assert.equal(resolveTarget("examples/x.ts", "@interloper/sdk/testing"), { kind: "sdk-public" });
  assert.equal(resolveTarget("examples/x.ts", "@interloper/sdk/src/host.ts"), { kind: "sdk-deep" });
  assert.equal(resolveTarget("core/tls/ca.ts", "../../sdk/src/addon.ts"), { kind: "repo", path: "sdk/src/addon.ts", area: "sdk" });
  assert.equal(resolveTarget("addons/scripts/a.ts", "./b.ts"), { kind: "repo", path: "addons/scripts/b.ts", area: "addons" });
  assert.equal(resolveTarget("sdk/src/a.ts", "core/proxy.ts"), { kind: "repo", path: "core/proxy.ts", area: "core" });
  assert.equal(resolveTarget("sdk/src/a.ts", "../../../elsewhere.ts"), { kind: "outside", path: "../elsewhere.ts" });
});

// ================================================================ the checker, tested on fake trees

test("self-test: the checker catches a violation of every rule", () => {
  const fake: SourceFile[] = [
    { path: "sdk/src/flow.ts", source: 'import { Proxy } from "../../core/proxy.ts";' },
    { path: "sdk/src/host.ts", source: 'export { Dumper } from "../../addons/dumper.ts";' },
    { path: "sdk/src/escape.ts", source: 'import x from "../../test/helpers/harness.ts";' },
    { path: "sdk/src/base.ts", source: 'import type { X } from "core/layers.ts";' },
    { path: "addons/hosts.ts", source: 'import { detect } from "../core/detect.ts";' },
    { path: "addons/deep.ts", source: 'const m = await import("../sdk/src/host.ts");' },
    { path: "addons/deeppkg.ts", source: 'import { AddonHost } from "@interloper/sdk/src/host.ts";' },
    { path: "core/proxy.ts", source: 'import { Hosts } from "../addons/hosts.ts";' },
    { path: "core/http/exchange.ts", source: 'type D = import("../../addons/dumper.ts").Dumper;' },
    { path: "examples/block.ts", source: 'import { Request } from "../sdk/src/flow.ts";' },
    { path: "examples/peek.ts", source: 'export * from "../core/modes.ts";' },
  ];
  const problems = checkDependencies(fake);
  const files = problems.map((p) => p.split(":")[0]);
  assert.equal(files, fake.map((f) => f.path), problems.join("\n"));
  assert.ok(problems[0]!.startsWith('sdk/src/flow.ts:1 imports "../../core/proxy.ts": sdk/'), problems[0]);
  assert.match(problems[7]!, "core/cli.ts");
});

test("self-test: what the rules allow passes", () => {
  const fake: SourceFile[] = [
    { path: "sdk/src/index.ts", source: 'export * from "./addon.ts";\nimport { EventEmitter } from "eventemitter3";\nimport * as zlib from "node:zlib";' },
    { path: "addons/dumper.ts", source: 'import { formatSize, type Addon } from "@interloper/sdk";\nimport { bundle } from "./scripts/bundle.ts";\nimport esbuild from "esbuild";' },
    { path: "core/cli.ts", source: 'import { Dumper } from "../addons/dumper.ts";\nimport { OptionError } from "@interloper/sdk";' },
    { path: "core/tls/clienthello.ts", source: 'import type { ClientHello } from "../../sdk/src/addon.ts";\nimport forge from "node-forge";' },
    {
      path: "core/proxy.ts",
      source: '// core must not import "../addons/hosts.ts" — says a comment\nconst msg = "see ../addons/dumper.ts";\nimport { x } from "./layers.ts";',
    },
    { path: "examples/block-hosts.ts", source: 'import { defineAddon } from "@interloper/sdk";' },
    { path: "examples/block-hosts.test.ts", source: 'import { harness } from "@interloper/sdk/testing";\nimport blockHosts from "./block-hosts.ts";\nimport { test } from "uvu";' },
    { path: "test/unit/anything.test.ts", source: 'import { Proxy } from "../../core/proxy.ts";\nimport { Hosts } from "../../addons/hosts.ts";' },
  ];
  assert.equal(checkDependencies(fake), []);
});

// ================================================================ the real tree

test("the repository keeps DESIGN.md's dependency rules", () => {
  const files = ["core", "addons", "sdk", "examples"].flatMap((dir) => collect(dir, []));
  // The scan really sees the tree (a broken walker or parser must not pass silently).
  const paths = new Set(files.map((f) => f.path));
  for (const must of ["core/cli.ts", "sdk/src/index.ts", "sdk/src/host.ts", "addons/dumper.ts"]) assert.ok(paths.has(must), `scanned ${must}`);
  const sdkIndex = importSpecifiers(files.find((f) => f.path === "sdk/src/index.ts")!.source);
  assert.ok(sdkIndex.some((r) => r.kind === "export" && r.specifier === "./flow.ts"), "sdk/src/index.ts re-exports ./flow.ts");
  const dumperRefs = importSpecifiers(files.find((f) => f.path === "addons/dumper.ts")!.source);
  assert.ok(dumperRefs.some((r) => r.specifier === "@interloper/sdk"), "addons/dumper.ts imports @interloper/sdk");
  const total = files.reduce((sum, f) => sum + importSpecifiers(f.source).length, 0);
  assert.ok(total > 30, `found ${total} imports`);

  const problems = checkDependencies(files);
  assert.equal(problems, [], `dependency rules broken:\n${problems.join("\n")}`);
});

test.run();
