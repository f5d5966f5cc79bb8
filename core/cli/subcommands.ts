// interloper's commands besides running the proxy: scaffolding an addon package and the addon
// home (`install`, `uninstall`, `list`), where `-s NAME` finds packages from any folder.
import { addonHomeDir, ensureAddonHome, installedAddons, runNpm, type InstalledAddon } from "./addon-home.ts";
import { addonTarget, scaffoldAddon } from "./new-addon.ts";
import { UsageError } from "./args.ts";

export const SUBCOMMANDS = ["new-addon", "install", "uninstall", "list"] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

export function isSubcommand(word: string | undefined): word is Subcommand {
  return (SUBCOMMANDS as readonly string[]).includes(word ?? "");
}

/** What the commands need from the program around them. */
export interface SubcommandContext {
  sdkVersion: string;
  /** Why this interloper would refuse a package (its sdk range leaves this sdk out), or undefined. */
  refusal(manifest: Record<string, unknown>): string | undefined;
  out(text: string): void;
}

const USAGE: Record<Subcommand, string> = {
  "new-addon": `Usage: interloper new-addon NAME | DIR [--name PACKAGE]

Scaffolds an addon package: package.json (a peer dependency on @interloper/sdk, the
keyword interloper-addon), src/index.ts, a test and a README. NAME is a package name
(my-addon, @me/my-addon: the folder is ./my-addon); anything else is a folder.
In it, npm install && npm test pass, and npm publish shares it.`,
  install: `Usage: interloper install PACKAGE... [--confdir DIR] [npm options]

Installs npm packages into the addon home (DIR/addons, default ~/.interloper/addons),
so that interloper -s PACKAGE loads them from any folder. Other options go to npm
(--registry URL, ...).`,
  uninstall: `Usage: interloper uninstall PACKAGE... [--confdir DIR]

Removes packages from the addon home.`,
  list: `Usage: interloper list [--confdir DIR]

Lists the packages in the addon home with their versions.`,
};

/** Runs `interloper COMMAND ARGS`; resolves to the exit code. A usage mistake throws UsageError. */
export async function runSubcommand(command: Subcommand, args: string[], ctx: SubcommandContext): Promise<number> {
  const parsed = parseArgs(args, command === "new-addon" ? ["confdir", "name"] : ["confdir"]);
  if (parsed.help) {
    ctx.out(`${USAGE[command]}\n`);
    return 0;
  }
  const home = addonHomeDir(parsed.values.confdir);
  switch (command) {
    case "new-addon":
      return newAddon(parsed.rest, parsed.values.name, ctx);
    case "install":
      return install(home, parsed.rest, ctx);
    case "uninstall":
      return uninstall(home, parsed.rest);
    default:
      return list(home, parsed.rest, ctx);
  }
}

interface ParsedArgs {
  values: Record<string, string | undefined>;
  rest: string[];
  help: boolean;
}

/** Takes `--name VALUE` / `--name=VALUE` for the given names and -h/--help; leaves the rest in order. */
function parseArgs(args: string[], names: string[]): ParsedArgs {
  const values: Record<string, string | undefined> = {};
  const rest: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m && names.includes(m[1]!)) {
      const value = m[2] ?? args[++i];
      if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
      values[m[1]!] = value;
      continue;
    }
    rest.push(arg);
  }
  return { values, rest, help };
}

function newAddon(rest: string[], name: string | undefined, ctx: SubcommandContext): number {
  if (rest.length !== 1 || rest[0]!.startsWith("-")) throw new UsageError(USAGE["new-addon"].split("\n")[0]);
  let target;
  let files: string[];
  try {
    target = addonTarget(rest[0]!, name, process.cwd());
    files = scaffoldAddon(target, ctx.sdkVersion);
  } catch (err) {
    throw new UsageError(`new-addon: ${(err as Error).message}`);
  }
  ctx.out(
    `created ${target.name} in ${target.dir}: ${files.join(", ")}\n` +
      `next: cd ${target.dir} && npm install && npm test\n`,
  );
  return 0;
}

async function install(home: string, rest: string[], ctx: SubcommandContext): Promise<number> {
  if (!rest.some((a) => !a.startsWith("-"))) throw new UsageError(USAGE.install.split("\n")[0]);
  ensureAddonHome(home);
  const before = new Map(installedAddons(home).map((a) => [a.name, a.version]));
  const code = await runNpm(home, ["install", "--no-fund", "--no-audit", ...rest]);
  if (code !== 0) return code;
  const changed = installedAddons(home).filter((a) => before.get(a.name) !== a.version);
  for (const addon of changed) ctx.out(`${describeInstall(addon, ctx)}\n`);
  return 0;
}

function describeInstall(addon: InstalledAddon, ctx: SubcommandContext): string {
  const refusal = ctx.refusal(addon.manifest);
  if (refusal) return `installed ${addon.name} ${addon.version}, but interloper will not load it: ${refusal}`;
  if (!addon.isAddon)
    return `installed ${addon.name} ${addon.version}; it does not say it is an interloper addon (no keyword interloper-addon, no @interloper/sdk dependency)`;
  return `installed ${addon.name} ${addon.version}: interloper -s ${addon.name} loads it from any folder`;
}

async function uninstall(home: string, rest: string[]): Promise<number> {
  if (!rest.some((a) => !a.startsWith("-"))) throw new UsageError(USAGE.uninstall.split("\n")[0]);
  ensureAddonHome(home);
  return runNpm(home, ["uninstall", "--no-fund", "--no-audit", ...rest]);
}

function list(home: string, rest: string[], ctx: SubcommandContext): number {
  if (rest.length > 0) throw new UsageError(USAGE.list.split("\n")[0]);
  const addons = installedAddons(home);
  if (addons.length === 0) {
    ctx.out(`no addons in ${home} (interloper install PACKAGE adds one)\n`);
    return 0;
  }
  const width = Math.max(...addons.map((a) => `${a.name} ${a.version}`.length));
  for (const a of addons) {
    const refusal = ctx.refusal(a.manifest);
    const note = refusal ? `[not loadable: ${refusal}]` : a.isAddon ? "" : "[not marked as an interloper addon]";
    const parts = [`${a.name} ${a.version}`.padEnd(width), a.description, note].filter((p) => p !== "");
    ctx.out(`${parts.join("  ").trimEnd()}\n`);
  }
  ctx.out(`(${addons.length} in ${home}; interloper -s NAME loads one)\n`);
  return 0;
}
