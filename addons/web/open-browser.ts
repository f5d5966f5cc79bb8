// `web_open_browser`: the system's way to open an address (xdg-open, open, start), run
// detached; a failure is a warning, never a stop.
import { spawn } from "node:child_process";

/** The command that opens `url` in the default browser on this platform. */
export function browserCommand(url: string, platform: NodeJS.Platform = process.platform): [string, string[]] {
  if (platform === "darwin") return ["open", [url]];
  // `start` is a cmd built-in; its first quoted argument is a window title.
  if (platform === "win32") return ["cmd", ["/c", "start", '""', url.replace(/&/g, "^&")]];
  return ["xdg-open", [url]];
}

export function openBrowser(url: string, warn: (message: string) => void): void {
  const [command, args] = browserCommand(url);
  try {
    const child = spawn(command, args, { detached: true, stdio: "ignore" });
    child.on("error", (err) => warn(`cannot open a browser (${command}): ${err.message}; open ${url} yourself`));
    child.unref();
  } catch (err) {
    warn(`cannot open a browser (${command}): ${(err as Error).message}; open ${url} yourself`);
  }
}
