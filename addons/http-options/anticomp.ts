import type { Addon, HTTPFlow, Loader, OptionHandle } from "@interloper/sdk";

/** `anticomp` (`--anticomp`): asks servers for uncompressed responses (`Accept-Encoding: identity`). */
export class AntiComp implements Addon {
  readonly name = "anticomp";
  private option: OptionHandle<boolean> | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.option?.get() === true);
    this.option = loader.addOption({
      name: "anticomp",
      type: "bool",
      default: false,
      help: "Try to convince servers to send uncompressed data (Accept-Encoding: identity).",
    });
  }

  request(flow: HTTPFlow): void {
    if (this.option?.get()) flow.request.anticomp();
  }
}
