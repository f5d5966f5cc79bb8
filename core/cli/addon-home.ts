import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** What the addon home knows of one installed package. */
export interface InstalledAddon {
  name: string;
  version: string;
  description: string;
  /** Whether it says it is an interloper addon (keyword `interloper-addon` or an sdk dependency). */
  isAddon: boolean;
  manifest: Record<string, unknown>;
}

/** The folder `interloper install` installs into: `addons/` in the confdir (default ~/.interloper). */
export function addonHomeDir(confdir: string | undefined): string {
  const dir = confdir ?? "~/.interloper";
  return join(dir === "~" || dir.startsWith("~/") ? homedir() + dir.slice(1) : resolve(dir), "addons");
}

/** Makes the home an npm project of its own (private), so npm installs into its node_modules. */
export function ensureAddonHome(home: string): void {
  // The confdir holds the CA's key: never make it readable by others.
  mkdirSync(resolve(home, ".."), { recursive: true, mode: 0o700 });
  mkdirSync(home, { recursive: true });
  const manifest = join(home, "package.json");
  if (existsSync(manifest)) return;
  writeFileSync(
    manifest,
    `${JSON.stringify(
      {
        name: "interloper-addons",
        private: true,
        description:
          "Addons installed with `interloper install`: `interloper -s NAME` finds them here from any folder.",
        dependencies: {},
      },
      null,
      2,
    )}\n`,
  );
}

/** The packages the home's package.json lists, as installed. */
export function installedAddons(home: string): InstalledAddon[] {
  let deps: Record<string, string>;
  try {
    const manifest = JSON.parse(readFileSync(join(home, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    deps = manifest.dependencies ?? {};
  } catch {
    return [];
  }
  const out: InstalledAddon[] = [];
  for (const name of Object.keys(deps).sort()) {
    try {
      const manifest = JSON.parse(readFileSync(join(home, "node_modules", name, "package.json"), "utf8")) as Record<
        string,
        unknown
      >;
      out.push(describeInstalled(name, manifest));
    } catch {
      out.push({ name, version: "(not installed)", description: "", isAddon: false, manifest: {} });
    }
  }
  return out;
}

function describeInstalled(name: string, manifest: Record<string, unknown>): InstalledAddon {
  const keywords = Array.isArray(manifest.keywords) ? (manifest.keywords as unknown[]) : [];
  const sdkDeclared = ["peerDependencies", "dependencies", "devDependencies"].some(
    (field) => (manifest[field] as Record<string, string> | undefined)?.["@interloper/sdk"] !== undefined,
  );
  return {
    name,
    version: typeof manifest.version === "string" ? manifest.version : "?",
    description: typeof manifest.description === "string" ? manifest.description : "",
    isAddon: keywords.includes("interloper-addon") || sdkDeclared,
    manifest,
  };
}

/** Runs npm in the home with these arguments, its output shown to the user; resolves to its exit code. */
export function runNpm(home: string, args: string[]): Promise<number> {
  return new Promise((resolveCode, reject) => {
    const child = spawn("npm", args, { cwd: home, stdio: "inherit" });
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === "ENOENT" ? "npm is not on the PATH (interloper install uses it)" : err.message)),
    );
    child.on("exit", (code, signal) => resolveCode(code ?? (signal ? 1 : 0)));
  });
}
