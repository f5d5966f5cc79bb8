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
export { decodeContent, encodeContent, SUPPORTED_ENCODINGS } from "./encoding.ts";
export { formatSize, parseSize } from "./size.ts";
export { logText, LOG_TEXT_MAX } from "./log-text.ts";
export {
  Options,
  OptionError,
  canonicalOptionName,
  snakeOptionName,
  type OptionSpec,
  type OptionType,
  type OptionValues,
  type OptionsView,
} from "./options.ts";
export { AddonHost, type AddOptions } from "./host.ts";
export * from "./hosts.ts";
