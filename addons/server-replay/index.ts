// -S / server_replay: requests are answered from recorded responses instead
// of the server (mitmproxy's server playback, its options and its loose
// match). A matched answer is marked `isReplay = "response"`; what to do
// with requests nothing matches is server_replay_extra's choice.
import {
  OptionError,
  Response,
  readFlowFile,
  type Addon,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
} from "@interloper/sdk";
import type { KeepServing, ServingWork } from "../keep-serving.ts";
import { pathSpec } from "../flow-files/path-spec.ts";
import type { MatchOptions } from "./request-key.ts";
import { answers, ReplayStore } from "./replay-store.ts";
import { refreshResponse } from "./refresh.ts";

const EXTRA = ["forward", "kill", "204", "400", "404", "500"] as const;
/** The options that change which recorded request matches: a change files every flow again. */
const MATCH_OPTIONS = [
  "serverReplayIgnoreContent",
  "serverReplayIgnoreHost",
  "serverReplayIgnorePort",
  "serverReplayIgnoreParams",
  "serverReplayIgnorePayloadParams",
  "serverReplayUseHeaders",
];

type Options = ReturnType<typeof addOptions>;

export class ServerReplay implements Addon, ServingWork {
  readonly name = "serverplayback";
  private o: Options | undefined;
  private loader: Loader | undefined;
  private store: ReplayStore | undefined;
  private loaded = false;

  constructor(private readonly keep?: KeepServing) {
    keep?.watch(this);
  }

  load(loader: Loader): void {
    loader.hooksWhen(() => this.store !== undefined);
    this.loader = loader;
    this.o = addOptions(loader);
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    const o = this.o!;
    if (updated.has("serverReplayKillExtra") && o.killExtra.get())
      this.loader!.log.warn("server_replay_kill_extra is deprecated: use server_replay_extra=kill");
    if (updated.has("serverReplayNopop") && o.nopop.get())
      this.loader!.log.warn("server_replay_nopop is deprecated: use server_replay_reuse");
    if (!this.loaded && o.files.get().length > 0) {
      this.loaded = true;
      this.store = new ReplayStore(this.match());
      await this.loadFiles(o.files.get());
    } else if (this.store && MATCH_OPTIONS.some((n) => updated.has(n))) {
      this.store.rematch(this.match());
    }
  }

  request(flow: HTTPFlow): void {
    if (!this.store || this.store.size === 0) return;
    const o = this.o!;
    const recorded = this.store.next(flow, o.reuse.get() || o.nopop.get());
    this.keep?.check();
    if (recorded?.response) {
      const response = recorded.response.copy();
      if (o.refresh.get()) refreshResponse(response, Date.now() / 1000 - response.timestampStart);
      flow.response = response;
      flow.isReplay = "response";
      return;
    }
    const extra = o.killExtra.get() ? "kill" : o.extra.get();
    if (extra === "forward") return;
    this.loader!.log.warn(
      `server_playback: ${extra === "kill" ? "killed" : `answered ${extra} to`} non-replay request ${flow.request.url}`,
    );
    if (extra === "kill") flow.kill();
    else {
      flow.response = Response.make(Number(extra));
      flow.isReplay = "response";
    }
  }

  wanted(): boolean {
    return (this.o?.files.get().length ?? 0) > 0;
  }
  /** mitmdump stops once every recorded response was used (unless keepserving). */
  busy(): boolean {
    return (this.store?.size ?? 0) > 0;
  }
  failed(): boolean {
    return false;
  }

  private match(): MatchOptions {
    const o = this.o!;
    return {
      ignoreContent: o.ignoreContent.get(),
      ignoreHost: o.ignoreHost.get(),
      ignorePort: o.ignorePort.get(),
      ignoreParams: o.ignoreParams.get(),
      ignorePayloadParams: o.ignorePayloadParams.get(),
      useHeaders: o.useHeaders.get(),
    };
  }

  private async loadFiles(specs: readonly string[]): Promise<void> {
    for (const spec of specs) {
      const flows: HTTPFlow[] = [];
      try {
        for await (const f of readFlowFile(pathSpec(spec).path, { onWarning: (m) => this.loader!.log.warn(m) }))
          if (f.type === "http") flows.push(f);
      } catch (err) {
        throw new OptionError(`invalid value for server_replay: ${(err as Error).message}`);
      }
      this.store!.add(flows);
      const mute = flows.filter((f) => f.response && !answers(f));
      if (mute.length > 0)
        this.loader!.log.warn(
          `server_replay: ${mute.length} recorded response(s) answer nothing: their bodies were streamed, not recorded (the first: ${mute[0]!.request.url})`,
        );
    }
    this.loader!.log.info(`server_replay: ${this.store!.size} flows to answer from`);
  }
}

function addOptions(loader: Loader) {
  const bool = (name: string, def: boolean, help: string) =>
    loader.addOption({ name, type: "bool", default: def, help });
  const strings = (name: string, help: string) => loader.addOption({ name, type: "strings", default: [], help });
  return {
    files: strings(
      "serverReplay",
      "Answer requests from the recorded responses of these flow files (mitmproxy's or HAR).",
    ),
    extra: loader.addOption({
      name: "serverReplayExtra",
      type: "string",
      default: "forward",
      choices: EXTRA,
      help: "Requests no recorded flow matches: forward them, kill them, or answer with this status code.",
    }),
    killExtra: bool(
      "serverReplayKillExtra",
      false,
      "Kill requests no recorded flow matches (deprecated: server_replay_extra=kill).",
    ),
    reuse: bool(
      "serverReplayReuse",
      false,
      "Keep each recorded response to answer again (else each answers once, in order).",
    ),
    nopop: bool("serverReplayNopop", false, "Deprecated name of server_replay_reuse."),
    refresh: bool("serverReplayRefresh", true, "Move the recorded responses' dates and cookie expiries to now."),
    useHeaders: strings("serverReplayUseHeaders", "Request headers that must match too."),
    ignoreContent: bool("serverReplayIgnoreContent", false, "Leave the request body out of the match."),
    ignoreParams: strings("serverReplayIgnoreParams", "Query parameters left out of the match."),
    ignorePayloadParams: strings(
      "serverReplayIgnorePayloadParams",
      "Form fields (urlencoded or multipart) left out of the match.",
    ),
    ignoreHost: bool("serverReplayIgnoreHost", false, "Leave the host out of the match."),
    ignorePort: bool("serverReplayIgnorePort", false, "Leave the port out of the match."),
  } satisfies Record<string, OptionHandle<unknown>>;
}
