import { canonicalOptionName } from "@interloper/sdk";
import type { AddonHost } from "@interloper/sdk/host";
import { ConfigFiles } from "./config-files.ts";
import type { ModuleRunner } from "./project-file.ts";

/**
 * The start-up change: the config files' options and the command line's (`fromCommandLine`, typed,
 * already parsed) in one `setOptions`, the command line winning; then the files' options that a
 * script added. A mistake in a file throws a ConfigError naming its file and line (an OptionError:
 * exit code 2, as for a bad `--set`). Returns the files, to be watched once the proxy runs.
 */
export async function applyConfigFiles(
  host: AddonHost,
  fromCommandLine: Record<string, unknown>,
  opts: { projectFile: string | undefined; run: ModuleRunner; cwd?: string },
): Promise<ConfigFiles> {
  // `--set` names of options no addon has added yet (a script's) are the command line's too.
  const commandLine = new Set(
    [...Object.keys(fromCommandLine), ...host.options.unknownDeferred()].map(canonicalOptionName),
  );
  const confdir = fromCommandLine.confdir;
  const files = await ConfigFiles.open({
    host,
    commandLine,
    confdir: typeof confdir === "string" ? confdir : undefined,
    projectFile: opts.projectFile,
    cwd: opts.cwd ?? process.cwd(),
    run: opts.run,
  });
  const fromFiles = files.startupChanges();
  try {
    await host.setOptions({ ...fromFiles, ...fromCommandLine });
  } catch (err) {
    throw files.explain(err, Object.keys(fromFiles));
  }
  await files.finishStartup();
  return files;
}
