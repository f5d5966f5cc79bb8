/**
 * @interloper/sdk/host — for programs that run addons (the proxy itself, a
 * test harness), not for addons: the addon host, its option registry and the
 * layer decision's hook order. Internal: it may change in any release.
 * @internal
 */
export { AddonHost, type AddOptions } from "./host.ts";
export { Options } from "./options.ts";
export { decideLayer, type LayerVerdict, type Trigger } from "./layer-decision.ts";
