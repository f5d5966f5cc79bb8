// Compile-time tests of the sdk's public face, checked by `npm run typecheck`
// (never run). Each `@ts-expect-error` must meet an error: if a mistake below
// starts to compile, the directive is unused and the type check fails.
import {
  defineAddon,
  type HOOK_NAMES,
  LOG_LEVELS,
  Response,
  type HookName,
  type HTTPFlow,
  type Loader,
  type LogLevel,
  type OptionHandle,
  type OptionSpec,
} from "@interloper/sdk";
import {
  AddonHost as PublicHost,
  Options as PublicOptions,
  decideLayer as publicDecideLayer,
} from "@interloper/sdk/host";
import { compileHostPattern as internalCompile } from "@interloper/sdk/hosts";
// @ts-expect-error the addon host is internal: @interloper/sdk/host
import { AddonHost } from "@interloper/sdk";
// @ts-expect-error the option registry is internal: @interloper/sdk/host
import { Options } from "@interloper/sdk";
// @ts-expect-error the layer decision is internal: @interloper/sdk/host
import { decideLayer } from "@interloper/sdk";
// @ts-expect-error the one-pattern compiler is internal: @interloper/sdk/hosts
import { compileHostPattern } from "@interloper/sdk";

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;

export const internals = [
  AddonHost,
  Options,
  decideLayer,
  compileHostPattern,
  PublicHost,
  PublicOptions,
  publicDecideLayer,
  internalCompile,
];

// ---------------------------------------------------------------- options

export function options(loader: Loader): void {
  const list = loader.addOption({ name: "myList", type: "strings", default: [], help: "" });
  const flag = loader.addOption({ name: "myFlag", type: "bool", default: false, help: "" });
  const text = loader.addOption({ name: "myText", type: "string", default: "a", help: "" });
  const file = loader.addOption({ name: "myFile", type: "optional-string", default: undefined, help: "" });
  const count = loader.addOption({ name: "myCount", type: "number", default: 1, help: "" });
  const level = loader.addOption({ name: "myLevel", type: "string", default: "info", choices: LOG_LEVELS, help: "" });
  const named = loader.addOption<string | undefined>({
    name: "myNamed",
    type: "optional-string",
    default: undefined,
    help: "",
  });
  const handles: [
    Equal<typeof list, OptionHandle<string[]>>,
    Equal<typeof flag, OptionHandle<boolean>>,
    Equal<typeof text, OptionHandle<string>>,
    Equal<typeof file, OptionHandle<string | undefined>>,
    Equal<typeof count, OptionHandle<number>>,
    Equal<typeof level, OptionHandle<LogLevel>>,
    Equal<typeof named, OptionHandle<string | undefined>>,
  ] = [true, true, true, true, true, true, true];
  void handles;
  void [list, flag, text, file, count, level, named];
  // The untyped read still works.
  const fromView: string[] = loader.options.get<string[]>("myList");
  void fromView;

  // @ts-expect-error a bool option's default is a boolean
  loader.addOption({ name: "bad", type: "bool", default: "x", help: "" });
  // @ts-expect-error a number option's default is a number
  loader.addOption({ name: "bad", type: "number", default: "1", help: "" });
  // @ts-expect-error a list option's default is a list
  loader.addOption({ name: "bad", type: "strings", default: "a", help: "" });
  // @ts-expect-error a string option's default is not undefined (that is optional-string)
  loader.addOption({ name: "bad", type: "string", default: undefined, help: "" });
  // @ts-expect-error the value type named does not match the option type
  loader.addOption<string>({ name: "bad", type: "number", default: 1, help: "" });
  // @ts-expect-error choices are for string options
  loader.addOption({ name: "bad", type: "number", default: 1, choices: ["1"], help: "" });
}

export const coreStyle: OptionSpec[] = [
  { name: "a", type: "bool", default: true, help: "" },
  { name: "b", type: "string", default: "x", choices: ["x", "y"], help: "" },
  // @ts-expect-error a spec list is checked entry by entry
  { name: "c", type: "number", default: "8080", help: "" },
];

// ---------------------------------------------------------------- hooks

export const fine = defineAddon({
  name: "fine",
  path: "/tea",
  // State and helpers beside the hooks are welcome.
  isTea(path: string) {
    return path === this.path;
  },
  load: (l) => l.addOption({ name: "teaPath", type: "string", default: "/tea", help: "" }),
  request(flow) {
    const typed: HTTPFlow = flow;
    if (this.isTea(typed.request.path)) flow.response = Response.make(418);
  },
});

export const camel = defineAddon({
  name: "camel",
  // @ts-expect-error 'requestHeaders' is not a hook: did you mean 'requestheaders'?
  requestHeaders(flow: HTTPFlow) {
    void flow;
  },
});
// @ts-expect-error mitmproxy's spelling: 'tls_clienthello' means 'tlsClienthello'
export const snake = defineAddon({ name: "snake", tls_clienthello() {} });
// @ts-expect-error mitmproxy's name: 'clientConnected' means 'clientConnect'
export const mitm = defineAddon({ name: "mitm", clientConnected() {} });

export const hooks: Equal<(typeof HOOK_NAMES)[number], HookName> = true;

// ---------------------------------------------------------------- body

export function body(flow: HTTPFlow): void {
  flow.request.body = Buffer.from("bytes");
  flow.request.body = new Uint8Array([1, 2]);
  const bytes: Buffer = flow.request.body;
  void bytes;
  // @ts-expect-error body takes bytes; setText() takes text
  flow.request.body = "text";
}
