import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";

/** The versions a scaffolded package's development tools start from (what interloper itself is tested with). */
const DEV_TOOLS = { "@types/node": "^20.19.0", tsx: "^4.20.0", typescript: "~5.9.0", uvu: "^0.5.6" };

/** What `interloper new-addon ARG [--name NAME]` makes: the package name and its folder. */
export interface AddonTarget {
  name: string;
  dir: string;
}

/** A valid npm package name, scoped or not (lower case, no leading dot or underscore). */
const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/**
 * `my-addon` and `@me/my-addon` are package names: the folder is `./my-addon`. Anything else is
 * a folder, and the package is named after it (or `--name`).
 */
export function addonTarget(arg: string, name: string | undefined, cwd: string): AddonTarget {
  if (name !== undefined && !PACKAGE_NAME.test(name)) throw new Error(`not a valid npm package name: ${name}`);
  if (name === undefined && PACKAGE_NAME.test(arg)) return { name: arg, dir: resolve(cwd, unscoped(arg)) };
  const dir = resolve(cwd, arg);
  return { name: name ?? packageNameFromFolder(basename(dir)), dir };
}

/** `@me/redactor` → `redactor`. */
export function unscoped(name: string): string {
  return name.replace(/^@[^/]+\//, "");
}

/** A valid npm package name from a folder name. */
function packageNameFromFolder(folder: string): string {
  const n = folder
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, "-")
    .replace(/^[._~-]+/, "")
    .slice(0, 200);
  return n || "interloper-addon";
}

/**
 * Writes an addon package that type-checks, tests and publishes as it is: a peer dependency
 * on `@interloper/sdk` at this sdk's version range, the `interloper-addon` keyword, no paths
 * of this machine. Returns the files written, relative to the folder.
 */
export function scaffoldAddon(target: AddonTarget, sdkVersion: string): string[] {
  if (existsSync(target.dir) && readdirSync(target.dir).length > 0) {
    throw new Error(`${target.dir} exists and is not empty`);
  }
  const files = addonFiles(target.name, `^${sdkVersion}`);
  for (const [rel, content] of Object.entries(files)) {
    const path = join(target.dir, rel);
    mkdirSync(resolve(path, ".."), { recursive: true });
    writeFileSync(path, content);
  }
  return Object.keys(files);
}

function addonFiles(name: string, sdkRange: string): Record<string, string> {
  const short = unscoped(name);
  return {
    "package.json": json({
      name,
      version: "0.1.0",
      description: "An interloper addon",
      type: "module",
      // interloper bundles TypeScript itself: the package ships its sources, no build step.
      exports: { ".": "./src/index.ts" },
      main: "./src/index.ts",
      types: "./src/index.ts",
      files: ["src", "README.md"],
      keywords: ["interloper", "interloper-addon"],
      scripts: { test: "tsc --noEmit && tsx test/index.test.ts" },
      peerDependencies: { "@interloper/sdk": sdkRange },
      devDependencies: { "@interloper/sdk": sdkRange, ...DEV_TOOLS },
      engines: { node: ">=20.19" },
      ...(name.startsWith("@") ? { publishConfig: { access: "public" } } : {}),
    }),
    "tsconfig.json": json({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2023"],
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        verbatimModuleSyntax: true,
        skipLibCheck: true,
        types: ["node"],
      },
      include: ["src", "test"],
    }),
    "src/index.ts": indexSource(name, short),
    "test/index.test.ts": testSource(short),
    "README.md": readme(name, short),
    ".gitignore": "node_modules/\n*.tgz\n",
  };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function indexSource(name: string, short: string): string {
  return `import { defineAddon, Response } from "@interloper/sdk";

/**
 * ${name}: answers GET /${short}/ping locally and marks every response it passes on.
 * Run it with: interloper -s ./src/index.ts   (here), or interloper -s ${name}   (once installed)
 */
export default defineAddon({
  name: "${short}",
  request(flow) {
    if (flow.request.method === "GET" && flow.request.path === "/${short}/ping") {
      flow.response = Response.make(200, "pong\\n", { "Content-Type": "text/plain" });
    }
  },
  response(flow) {
    flow.response?.headers.set("X-Addon", "${short}");
  },
});
`;
}

function testSource(short: string): string {
  return `import { test } from "uvu";
import * as assert from "uvu/assert";
import { testContext, testFlow } from "@interloper/sdk/testing";
import addon from "../src/index.ts";

test("answers the ping locally", async () => {
  const ctx = await testContext(addon);
  const flow = await ctx.http(testFlow({ url: "https://example.com/${short}/ping" }));
  assert.is(flow.response?.status, 200);
  assert.is(flow.response?.text(), "pong\\n");
});

test("marks responses from the server", async () => {
  const ctx = await testContext(addon);
  const flow = await ctx.http(testFlow({ url: "https://example.com/" }), { status: 200, body: "hi" });
  assert.is(flow.response?.headers.get("x-addon"), "${short}");
  assert.is(flow.response?.text(), "hi");
});

test.run();
`;
}

function readme(name: string, short: string): string {
  return `# ${name}

An addon for interloper, the intercepting HTTP(S) proxy scripted in TypeScript
(\`npm install -g interloper\`). It answers \`GET /${short}/ping\` locally and adds
\`X-Addon: ${short}\` to every response it passes on.

## Work on it

\`\`\`sh
npm install && npm test        # type check, then run the tests (no sockets needed)
interloper -s ./src/index.ts   # run it from here; every save reloads it, type errors are reported
\`\`\`

\`src/index.ts\` is the addon: an object whose methods are named after interloper's hooks.
\`test/index.test.ts\` drives it with \`@interloper/sdk/testing\`.

## Share it

\`\`\`sh
npm publish                    # the package ships src/ as TypeScript: interloper bundles it
\`\`\`

## Use it

\`\`\`sh
interloper install ${name}     # into the addon home (~/.interloper/addons)
interloper -s ${name}          # from any folder
\`\`\`

Or \`npm install ${name}\` in a project and \`interloper -s ${name}\` there: the project's
packages are looked up first. interloper refuses to load it when its \`@interloper/sdk\`
version is outside the peer dependency range in \`package.json\`.
`;
}
