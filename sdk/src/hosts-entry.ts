/**
 * @interloper/sdk/hosts — the whole hosts engine, for interloper's own tests
 * and tools. Internal: it may change in any release. Addons use the hosts
 * rules the root export lists (`compileHostPatterns`, `decideHosts`,
 * `hostsInputFrom`, …), which stay stable.
 * @internal
 */
export * from "./hosts.ts";
