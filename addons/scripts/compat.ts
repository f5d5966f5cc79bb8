import type { ScriptPackage } from "./resolve.ts";
import { minVersion, parseVersion, satisfies } from "./semver.ts";

const SDK = "@interloper/sdk";

/** Whether an addon package can run with this interloper's sdk: a refusal, or a warning, or nothing to say. */
export type Compatibility = { refused: string } | { warning: string } | undefined;

/**
 * Judges an addon package by the sdk range it declares (peer dependency, else dependency):
 * outside the range it is refused; inside, but built against an older sdk major (its dev
 * dependency, else the range's lowest version), it gets a warning. A package that declares no
 * sdk range, or one that is not a version range (`file:`, a tag), is not judged.
 */
export function checkCompatibility(pkg: ScriptPackage, sdkVersion: string): Compatibility {
  const m = pkg.manifest;
  const range = m.peerDependencies?.[SDK] ?? m.dependencies?.[SDK];
  if (range === undefined) return undefined;
  const fits = satisfies(sdkVersion, range);
  if (fits === false) {
    return {
      refused: `${pkg.name}@${pkg.version} needs ${SDK} ${range}, but this interloper has ${SDK} ${sdkVersion}`,
    };
  }
  if (fits === undefined) return undefined;
  const dev = m.devDependencies?.[SDK];
  const builtFor = (dev === undefined ? undefined : minVersion(dev)) ?? minVersion(range);
  const running = parseVersion(sdkVersion);
  if (builtFor && running && running.major > builtFor.major) {
    const shown = `${builtFor.major}.${builtFor.minor}.${builtFor.patch}`;
    return {
      warning: `${pkg.name}@${pkg.version} was built for ${SDK} ${shown}; this interloper has ${sdkVersion}, a newer major version: check that it still does what it should`,
    };
  }
  return undefined;
}
