// keepserving: a proxy started to read a file (-r) or to replay (-C, -S)
// stops once that work is done, unless keepserving is set (mitmdump's
// habit). The exit code is 1 when a file could not be read to its end.
import type { Addon, Loader, OptionHandle } from "@interloper/sdk";

/** Work that keeps the proxy up while it lasts. */
export interface ServingWork {
  /** Whether this work was asked for (its option is set). */
  wanted(): boolean;
  /** Whether it is still going. */
  busy(): boolean;
  /** Whether it failed (a damaged file, say): the exit code becomes 1. */
  failed(): boolean;
}

/** How long clients still connected when the work ended may keep the proxy up. */
const LINGER_MS = 2000;

export class KeepServing implements Addon {
  readonly name = "keepserving";
  private readonly works: ServingWork[] = [];
  private option: OptionHandle<boolean> | undefined;
  private loader: Loader | undefined;
  private watching = false;
  /** Set when the work is over: the proxy stops once its clients are gone (or have lingered). */
  private idleSince: number | undefined;
  private stopped = false;
  private clients = 0;
  private exitCode = 0;

  /** Registers work; it calls `check()` whenever it may have finished. */
  watch(work: ServingWork): void {
    this.works.push(work);
  }

  load(loader: Loader): void {
    this.loader = loader;
    this.option = loader.addOption({
      name: "keepserving",
      type: "bool",
      default: false,
      help: "Go on serving after a file was read (-r) or a replay ended (-C, -S).",
    });
  }

  running(): void {
    this.watching = !this.option!.get() && this.works.some((w) => w.wanted());
    // After every addon's `running`: a file read or a replay starts there.
    setImmediate(() => this.check());
  }

  clientConnect(): void {
    this.clients++;
  }

  clientDisconnect(): void {
    this.clients--;
    this.stopWhenQuiet();
  }

  /** Notes whether the work the proxy was started for is over. */
  check(): void {
    if (!this.watching || this.idleSince !== undefined) return;
    const wanted = this.works.filter((w) => w.wanted());
    if (wanted.some((w) => w.busy())) return;
    this.idleSince = Date.now();
    this.exitCode = wanted.some((w) => w.failed()) ? 1 : 0;
    // The last answers may still be on their way to their clients: let them go out, but a client
    // that keeps its connection open does not keep the proxy.
    setTimeout(() => this.stopWhenQuiet(), LINGER_MS).unref();
    this.stopWhenQuiet();
  }

  private stopWhenQuiet(): void {
    if (this.stopped || this.idleSince === undefined) return;
    if (this.clients > 0 && Date.now() - this.idleSince < LINGER_MS) return;
    this.stopped = true;
    this.loader!.shutdown(this.exitCode);
  }
}
