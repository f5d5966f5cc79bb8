import type { Addon, LogEntry, Loader } from "@interloper/sdk";

/**
 * Start-up check: errors logged before the proxy is up (a script that failed
 * to load, a listener that could not start) end the process with exit code 1
 * instead of leaving a half-working proxy running.
 */
export class ErrorCheck implements Addon {
  readonly name = "errorcheck";
  private readonly errors: LogEntry[] = [];
  private loader: Loader | undefined;
  private readonly onLog = (entry: LogEntry) => {
    if (entry.level === "error") this.errors.push(entry);
  };

  load(loader: Loader): void {
    this.loader = loader;
    loader.events.on("log", this.onLog);
  }

  running(): void {
    this.loader?.events.off("log", this.onLog);
    if (this.errors.length > 0) {
      this.loader?.log.error(`${this.errors.length} error(s) logged during start-up, exiting.`);
      this.loader?.shutdown(1);
    }
  }

  done(): void {
    this.loader?.events.off("log", this.onLog);
  }
}
