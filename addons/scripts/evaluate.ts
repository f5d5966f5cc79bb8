import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as vm from "node:vm";

/**
 * Runs a CommonJS bundle and returns its exports. The code is compiled with
 * `vm.compileFunction` (not `import()`), so once nothing refers to the addon
 * any more, the old version of a reloaded script can be garbage collected.
 * `provided` modules (the proxy's own sdk) win over the script's node_modules.
 */
export function evaluateBundle(
  code: string,
  filename: string,
  provided: Record<string, unknown>,
): Record<string, unknown> {
  const nodeRequire = createRequire(filename);
  const scriptRequire = Object.assign(
    (id: string): unknown => (Object.hasOwn(provided, id) ? provided[id] : nodeRequire(id)),
    { resolve: nodeRequire.resolve, cache: nodeRequire.cache },
  );
  const fn = vm.compileFunction(code, ["exports", "require", "module", "__filename", "__dirname"], { filename });
  const module = { exports: {} as Record<string, unknown> };
  fn.call(module.exports, module.exports, scriptRequire, module, filename, dirname(filename));
  return module.exports;
}
