/**
 * @interloper/sdk — the addon contract of interloper.
 *
 * ```ts
 * import { defineAddon, Response } from "@interloper/sdk";
 * export default defineAddon({
 *   name: "teapot",
 *   request(flow) {
 *     if (flow.request.path === "/tea") flow.response = Response.make(418, "I'm a teapot");
 *   },
 * });
 * ```
 */
export * from "./addon.ts";
export * from "./flow.ts";
export { Headers, type HeadersInit } from "./headers.ts";
// Project config files (interloper.config.ts): `export default defineConfig({ mode, scripts, options })`.
export {
  defineConfig,
  type ConfigOptions,
  type ConfigValue,
  type ProjectConfig,
  type ProxyMode,
  type SnakeCase,
} from "./config.ts";
export { decodeContent, encodeContent, SUPPORTED_ENCODINGS } from "./encoding.ts";
export { formatSize, parseSize } from "./size.ts";
export { logText, LOG_TEXT_MAX } from "./log-text.ts";
export { expandHome } from "./paths.ts";
// Flow files: mitmproxy's native format (read: versions 17 to 21; written: 17 by default) and HAR 1.2.
export * from "./flowfile/index.ts";
export {
  OptionError,
  SECRET_MASK,
  canonicalOptionName,
  closestName,
  shownValue,
  snakeOptionName,
  type OptionHandle,
  type OptionSpec,
  type OptionType,
  type OptionValue,
  type OptionValues,
  type OptionsView,
  type SpecValue,
} from "./options.ts";
// The hosts rules a user's addon needs to decide like the built-in one; the
// engine behind them is internal (@interloper/sdk/hosts) and free to change.
export {
  PatternError,
  compileHostPatterns,
  decideHosts,
  describeDecision,
  domainPattern,
  hostCandidates,
  hostsInputFrom,
  patternWarnings,
  type Candidate,
  type CandidateKind,
  type HostPatterns,
  type HostsDecision,
  type HostsInput,
  type HostsRule,
} from "./hosts.ts";
// mitmproxy's flow filter expressions (`~d example\.com & ~m POST`), compiled to predicates on flows.
export {
  compileFilter,
  FilterError,
  FILTER_OPERATORS,
  parseFilter,
  type CompileFilterOptions,
  type FilterArgument,
  type FilterArgumentKind,
  type FilterNode,
  type FilterOperatorHelp,
  type FlowFilter,
} from "./filter/index.ts";
// Python regexes (mitmproxy's options take them from users): search and sub with Python's meaning.
export {
  compilePythonRegex,
  PythonRegex,
  PythonRegexError,
  type PythonMatch,
  type PythonRegexFlags,
  type PythonTemplate,
} from "./filter/python-re/regex.ts";
// The addon host (AddonHost, Options) and the layer decision are for programs
// that run addons: @interloper/sdk/host.
