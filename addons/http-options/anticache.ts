import type { Addon, HTTPFlow, Loader, OptionHandle } from "@interloper/sdk";

/**
 * `anticache` (`--anticache`): strips the request fields that let a server
 * answer `304 Not Modified`, so every exchange is captured whole.
 */
export class AntiCache implements Addon {
  readonly name = "anticache";
  private option: OptionHandle<boolean> | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.option?.get() === true);
    this.option = loader.addOption({
      name: "anticache",
      type: "bool",
      default: false,
      help: "Strip out request headers that might cause the server to return 304 Not Modified.",
    });
  }

  request(flow: HTTPFlow): void {
    if (this.option?.get()) flow.request.anticache();
  }
}
