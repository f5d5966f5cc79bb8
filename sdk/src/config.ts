import type { OptionValues } from "./options.ts";

/**
 * `ignoreHosts` → `ignore_hosts` at the type level: a config may spell an option either way,
 * as `--set` does.
 */
export type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : S;

/** What a config file may give an option: the kinds of value the option registry holds. */
export type ConfigValue = boolean | number | string | readonly string[] | null;

/** The option names `OptionValues` declares (an addon package can add its own by declaration merging). */
type DeclaredOptionName = keyof {
  [K in keyof OptionValues as string extends K ? never : K extends string ? K : never]: true;
};

/**
 * The `options` of a project config: every option the sdk knows the type of (those declared in
 * `OptionValues`, in camelCase or snake_case), and any other option name with a config value.
 * Names no addon defines are found when the config is loaded: an error naming the file and line.
 */
export type ConfigOptions = {
  [K in DeclaredOptionName]?: OptionValues[K];
} & {
  [K in DeclaredOptionName as SnakeCase<K>]?: OptionValues[K];
} & {
  [name: string]: ConfigValue | undefined;
};

/** A proxy mode as `--mode` takes it: `regular`, `socks5@1080`, `reverse:https://example.com`, … */
export type ProxyMode =
  | "regular"
  | "transparent"
  | "socks5"
  | `${"regular" | "transparent" | "socks5"}@${string}`
  | `${"reverse" | "upstream"}:${string}`;

/** What `interloper.config.ts` exports: the same choices as the command line, below it in precedence. */
export interface ProjectConfig {
  /** The proxy mode(s) (`--mode`); several run side by side. */
  mode?: ProxyMode | readonly ProxyMode[];
  /** Addon scripts or npm packages to load (`-s`); paths are relative to the config file's folder. */
  scripts?: readonly string[];
  /** Any other option, by name (`--set name=value`). */
  options?: ConfigOptions;
}

/**
 * Types a project config without changing it:
 *
 * ```ts
 * // interloper.config.ts
 * import { defineConfig } from "@interloper/sdk";
 * export default defineConfig({ mode: "regular@8081", scripts: ["./addon.ts"], options: { ssl_insecure: true } });
 * ```
 */
export function defineConfig<T extends ProjectConfig>(
  config: T & Record<Exclude<keyof T, keyof ProjectConfig>, never>,
): T {
  return config;
}
