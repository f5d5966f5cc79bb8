// Compile-time tests of defineConfig (interloper.config.ts), checked by `npm run typecheck` (never
// run). Each `@ts-expect-error` must meet an error, or the type check fails.
import { defineConfig, type ConfigOptions, type ProjectConfig, type SnakeCase } from "@interloper/sdk";

export const full = defineConfig({
  mode: ["regular@8081", "socks5@127.0.0.1:1080", "reverse:https://example.com", "upstream:http://proxy:3128"],
  scripts: ["./addon.ts", "@me/redactor"],
  options: { ssl_insecure: true, flowDetail: 2, ignore_hosts: ["^example\\.com:443$"], upstream_auth: null },
});
export const one: ProjectConfig = defineConfig({ mode: "transparent" });
export const empty = defineConfig({});

// @ts-expect-error a key defineConfig does not take
defineConfig({ optoins: {} });
// @ts-expect-error not a mode
defineConfig({ mode: "regulr" });
// @ts-expect-error scripts are a list
defineConfig({ scripts: "./addon.ts" });
// @ts-expect-error an option's value is what options hold, not an object
defineConfig({ options: { map_remote: { from: "a" } } });
// @ts-expect-error nor a function
export const fn: ConfigOptions = { anticache: () => true };

export const snake: SnakeCase<"sslVerifyUpstreamTrustedCa"> = "ssl_verify_upstream_trusted_ca";
// @ts-expect-error the snake_case spelling only
export const notSnake: SnakeCase<"ignoreHosts"> = "ignoreHosts";
