/**
 * @interloper/sdk/host — for programs that run addons (the proxy itself, a
 * test harness), not for addons. Internal: it may change in any release.
 * @internal
 */
export { AddonHost, type AddOptions } from "./host.ts";
export { decideLayer, type LayerVerdict, type Trigger } from "./layer-decision.ts";
