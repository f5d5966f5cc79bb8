import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";

/** `interloper new-addon DIR`: scaffolds an addon package with a test that uses the sdk harness. */
export function scaffoldAddon(dir: string, sdkVersion: string, sdkDir: string | undefined): string[] {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new Error(`${dir} exists and is not empty`);
  }
  const name = packageName(basename(target));
  // In a source checkout the sdk is not on the registry: point at it on disk.
  const sdkRef = sdkDir ? `file:${sdkDir}` : `^${sdkVersion}`;
  const files: Record<string, string> = {
    "package.json": `${JSON.stringify(
      {
        name,
        version: "0.1.0",
        description: "An interloper addon",
        type: "module",
        main: "./src/index.ts",
        exports: { ".": "./src/index.ts" },
        files: ["src"],
        keywords: ["interloper", "interloper-addon"],
        scripts: { test: "tsc --noEmit && tsx test/index.test.ts" },
        peerDependencies: { "@interloper/sdk": `^${sdkVersion}` },
        devDependencies: {
          "@interloper/sdk": sdkRef,
          "@types/node": "^20.19.0",
          tsx: "^4.20.0",
          typescript: "~5.9.0",
          uvu: "^0.5.6",
        },
      },
      null,
      2,
    )}\n`,
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          types: ["node"],
        },
        include: ["src", "test"],
      },
      null,
      2,
    )}\n`,
    "src/index.ts": `import { defineAddon, Response } from "@interloper/sdk";

/**
 * ${name}: answers GET /${name}/ping locally and marks every response it passes on.
 * Run it with: interloper -s ${name}   (once installed), or interloper -s ./src/index.ts
 */
export default defineAddon({
  name: "${name}",
  request(flow) {
    if (flow.request.method === "GET" && flow.request.path === "/${name}/ping") {
      flow.response = Response.make(200, "pong\\n", { "Content-Type": "text/plain" });
    }
  },
  response(flow) {
    flow.response?.headers.set("X-Addon", "${name}");
  },
});
`,
    "test/index.test.ts": `import { test } from "uvu";
import * as assert from "uvu/assert";
import { testContext, testFlow } from "@interloper/sdk/testing";
import addon from "../src/index.ts";

test("answers the ping locally", async () => {
  const ctx = await testContext(addon);
  const flow = await ctx.http(testFlow({ url: "https://example.com/${name}/ping" }));
  assert.is(flow.response?.status, 200);
  assert.is(flow.response?.text(), "pong\\n");
});

test("marks responses from the server", async () => {
  const ctx = await testContext(addon);
  const flow = await ctx.http(testFlow({ url: "https://example.com/" }), { status: 200, body: "hi" });
  assert.is(flow.response?.headers.get("x-addon"), "${name}");
  assert.is(flow.response?.text(), "hi");
});

test.run();
`,
    "README.md": `# ${name}

An [interloper](https://www.npmjs.com/package/interloper) addon.

\`\`\`sh
npm install && npm test      # type check and run the tests (no sockets needed)
interloper -s ./src/index.ts # run it from here; edits are picked up on save
npm install ${name} && interloper -s ${name}   # or by package name, once installed
\`\`\`

\`src/index.ts\` is the addon: an object whose methods are named after interloper's hooks.
\`test/index.test.ts\` drives it with \`@interloper/sdk/testing\`.
`,
    ".gitignore": "node_modules/\n*.tgz\n",
  };
  const written: string[] = [];
  for (const [rel, content] of Object.entries(files)) {
    const path = join(target, rel);
    mkdirSync(resolve(path, ".."), { recursive: true });
    writeFileSync(path, content);
    written.push(rel);
  }
  return written;
}

/** A valid npm package name from a folder name. */
function packageName(folder: string): string {
  const n = folder
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[._-]+/, "")
    .slice(0, 200);
  return n || "interloper-addon";
}

/** The sdk folder of a source checkout (with a built dist/), if interloper runs from one. */
export function localSdkDir(from: URL): string | undefined {
  for (const rel of ["../sdk", "../../sdk"]) {
    const dir = new URL(rel, from).pathname;
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "@interloper/sdk") return dir.replace(/\/$/, "");
    } catch {
      // not here
    }
  }
  return undefined;
}
