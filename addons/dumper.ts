import {
  LOG_LEVELS,
  decodeContent,
  OptionError,
  formatAddress,
  formatSize,
  logText,
  type Addon,
  type AnyFlow,
  type FlowFilter,
  type HTTPFlow,
  type Headers,
  type LogEntry,
  type Loader,
  type LogLevel,
  type OptionHandle,
  type TCPFlow,
} from "@interloper/sdk";
import { filterFrom } from "./flow-files/filter-option.ts";

/** Where the dumper writes; a test passes its own. */
export interface DumperOutput {
  write(text: string): void;
  /** Colours are used only when this is true (a terminal). */
  isTTY?: boolean;
}

const BODY_PREVIEW = 2048;

/**
 * The event log: log entries at the chosen verbosity, and one line per
 * request and per response (more with --flow-detail). mitmdump's formats.
 */
export class Dumper implements Addon {
  readonly name = "dumper";
  private verbosity: LogLevel = "info";
  private flowDetail = 1;
  private showhost = false;
  /** Flows whose lines `response` printed (an error after that adds only its own line). */
  private readonly printed = new WeakSet<HTTPFlow>();
  private colour: boolean;
  private readonly onLog = (entry: LogEntry) => this.printLog(entry);
  private events: Loader["events"] | undefined;
  private options:
    | {
        verbosity: OptionHandle<LogLevel>;
        flowDetail: OptionHandle<number>;
        viewFilter: OptionHandle<string | undefined>;
        showhost: OptionHandle<boolean>;
      }
    | undefined;
  /** view_filter: flows it does not match are not printed. */
  private filter: FlowFilter | undefined;

  constructor(private readonly out: DumperOutput = process.stdout) {
    this.colour = out.isTTY === true && !process.env.NO_COLOR;
  }

  load(loader: Loader): void {
    loader.hooksWhen(() => this.flowDetail > 0);
    const verbosity = loader.addOption({
      name: "termlogVerbosity",
      type: "string",
      default: "info",
      choices: LOG_LEVELS,
      help: "Log verbosity: error, warn, info, debug.",
    });
    const flowDetail = loader.addOption({
      name: "flowDetail",
      type: "number",
      default: 1,
      help: "Flow detail: 0 nothing, 1 request and response lines, 2 also headers, 3 also bodies (truncated), 4 full bodies.",
    });
    const viewFilter = loader.addOption<string | undefined>({
      name: "viewFilter",
      type: "optional-string",
      default: undefined,
      help: "Show only the flows matching this filter expression (the log lines stay).",
    });
    const showhost = loader.addOption({
      name: "showhost",
      type: "bool",
      default: false,
      help: "Show the URL with the Host header's name instead of the address the request is sent to.",
    });
    this.options = { verbosity, flowDetail, viewFilter, showhost };
    this.events = loader.events;
    loader.events.on("log", this.onLog);
  }

  configure(): void {
    if (!this.options) return;
    const detail = this.options.flowDetail.get();
    if (!Number.isInteger(detail) || detail < 0 || detail > 4) {
      throw new OptionError(`invalid value for flow_detail: ${detail} (expected 0 to 4)`);
    }
    this.flowDetail = detail;
    this.verbosity = this.options.verbosity.get();
    this.showhost = this.options.showhost.get();
    this.filter = filterFrom("view_filter", this.options.viewFilter.get());
  }

  private hidden(flow: AnyFlow): boolean {
    return this.filter !== undefined && !this.filter(flow);
  }

  done(): void {
    this.events?.off("log", this.onLog);
  }

  response(flow: HTTPFlow): void {
    if (this.hidden(flow)) return;
    this.printed.add(flow);
    this.echoFlow(flow);
  }

  error(flow: HTTPFlow): void {
    if (this.hidden(flow)) return;
    // A flow that `response` printed gets only the error line; any other (a stream that broke before
    // its end, say) is printed whole: every request has its URL line.
    if (this.printed.has(flow) && flow.error) {
      if (this.flowDetail > 0) this.line(` << ${oneLine(flow.error.msg)}`, "red");
      return;
    }
    this.echoFlow(flow);
  }

  websocketMessage(flow: HTTPFlow): void {
    if (this.flowDetail === 0 || !flow.websocket || this.hidden(flow)) return;
    const msg = flow.websocket.messages[flow.websocket.messages.length - 1];
    if (!msg) return;
    const arrow = msg.fromClient ? "->" : "<-";
    const client = formatAddress(flow.client.peername);
    const server = `${oneLine(formatAddress(flow.server.address))}${oneLine(flow.request.path)}`;
    this.line(`${client} ${arrow} WebSocket ${msg.type} message ${arrow} ${server}${msg.dropped ? " (dropped)" : ""}`);
    if (this.flowDetail >= 3) this.body(msg.content, undefined);
  }

  websocketEnd(flow: HTTPFlow): void {
    const ws = flow.websocket;
    if (this.flowDetail === 0 || !ws || this.hidden(flow)) return;
    if (ws.closeCode === 1000 || ws.closeCode === 1001 || ws.closeCode === 1005) {
      this.line(
        `WebSocket connection closed by ${ws.closedByClient ? "client" : "server"}: ${ws.closeCode} ${oneLine(ws.closeReason ?? "")}`.trimEnd(),
      );
    } else {
      this.line(
        `Error in WebSocket connection to ${oneLine(formatAddress(flow.server.address))}: ${ws.closeCode} ${oneLine(ws.closeReason ?? "")}`.trimEnd(),
        "red",
      );
    }
  }

  tcpMessage(flow: TCPFlow): void {
    if (this.flowDetail === 0 || this.hidden(flow)) return;
    const msg = flow.messages[flow.messages.length - 1];
    if (!msg) return;
    const client = formatAddress(flow.client.peername);
    const server = oneLine(formatAddress(flow.server.address));
    const arrow = msg.fromClient ? `${client} -> tcp -> ${server}` : `${client} <- tcp <- ${server}`;
    this.line(arrow);
    if (this.flowDetail >= 3) this.body(msg.content, undefined);
  }

  tcpError(flow: TCPFlow): void {
    if (this.flowDetail === 0 || !flow.error || this.hidden(flow)) return;
    this.line(
      `Error in TCP connection to ${oneLine(formatAddress(flow.server.address))}: ${oneLine(flow.error.msg)}`,
      "red",
    );
  }

  private echoFlow(flow: HTTPFlow): void {
    if (this.flowDetail === 0) return;
    this.requestLine(flow);
    if (this.flowDetail >= 2) this.headers(flow.request.headers);
    if (this.flowDetail >= 3) this.body(flow.request.body, flow.request.headers);
    if (flow.response) {
      this.responseLine(flow);
      if (this.flowDetail >= 2) this.headers(flow.response.headers);
      if (this.flowDetail >= 3) this.body(flow.response.body, flow.response.headers);
    }
    if (flow.error) this.line(` << ${oneLine(flow.error.msg)}`, "red");
  }

  /** A request client replay sent shows `[replay]` where the client's address would be (as mitmdump). */
  private requestLine(flow: HTTPFlow): void {
    const req = flow.request;
    const client = flow.isReplay === "request" ? this.paint("[replay]", "yellow") : formatAddress(flow.client.peername);
    const reqIsH1 = req.httpVersion === "HTTP/1.1" || req.httpVersion === "HTTP/1.0";
    const showVersion = !reqIsH1 || req.httpVersion !== (flow.response?.httpVersion ?? "HTTP/1.1");
    // mitmdump shows where the request goes; --showhost the Host header's name instead.
    const url = this.showhost ? req.prettyUrl : req.url;
    this.line(
      `${client}: ${this.paint(oneLine(req.method), "bold")} ${oneLine(url)}${showVersion ? ` ${oneLine(req.httpVersion)}` : ""}`,
    );
  }

  /** A response server replay answered starts with `[replay]`. */
  private responseLine(flow: HTTPFlow): void {
    const res = flow.response!;
    const resIsH1 = res.httpVersion === "HTTP/1.1" || res.httpVersion === "HTTP/1.0";
    const showVersion = !resIsH1 || flow.request.httpVersion !== res.httpVersion;
    const size = res.stream ? "(content missing)" : formatSize(res.body.length);
    const colour = res.status >= 400 ? "red" : res.status >= 300 ? "yellow" : "green";
    const replay = flow.isReplay === "response" ? this.paint("[replay]", "yellow") : "";
    this.line(
      `${replay}     << ${showVersion ? `${oneLine(res.httpVersion)} ` : ""}${this.paint(`${res.status} ${oneLine(res.reason)}`, colour)} ${size}`,
    );
  }

  private headers(headers: Headers): void {
    for (const [k, v] of headers.fields) this.line(`        ${this.paint(oneLine(k), "bold")}: ${oneLine(v)}`);
  }

  private body(bytes: Buffer, headers: Headers | undefined): void {
    if (bytes.length === 0) return;
    let content = bytes;
    try {
      const encoding = headers?.get("content-encoding");
      if (encoding) content = decodeContent(bytes, encoding);
    } catch {
      // Show the raw bytes when they cannot be decoded.
    }
    const limit = this.flowDetail >= 4 ? Infinity : BODY_PREVIEW;
    const shown = content.length > limit ? content.subarray(0, limit) : content;
    const text = isText(shown) ? shown.toString("utf8") : hexdump(shown);
    for (const l of text.split("\n")) this.line(`        ${escapeControl(l)}`);
    if (content.length > limit) this.line(`        (cut off: ${formatSize(content.length - limit)} more)`);
  }

  private printLog(entry: LogEntry): void {
    if (LOG_LEVELS.indexOf(entry.level) > LOG_LEVELS.indexOf(this.verbosity)) return;
    // Defence in depth: a message may span lines (a stack), but no \r, ESC or other control reaches the terminal.
    const text = escapeControl(entry.addon ? `[${entry.addon}] ${entry.message}` : entry.message);
    const colour =
      entry.level === "error" ? "red" : entry.level === "warn" ? "yellow" : entry.level === "debug" ? "dim" : undefined;
    this.line(text, colour);
  }

  private line(text: string, colour?: Colour): void {
    this.out.write(`${colour ? this.paint(text, colour) : text}\n`);
  }

  private paint(text: string, colour: Colour): string {
    if (!this.colour) return text;
    return `${ANSI[colour]}${text}\x1b[0m`;
  }
}

type Colour = "red" | "green" | "yellow" | "bold" | "dim";
const ANSI: Record<Colour, string> = {
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
};

/**
 * A flow's field (URL, method, header, reason, error) on one line: the values
 * are the client's or the server's, and a \r, \n or ESC in them must not
 * start a line of its own or drive the terminal. Not cut: the line shows the
 * whole value. (mitmdump 8.1.1 escapes header names and values fully, but
 * only turns other controls in the URL into "." and keeps \r \n \t.)
 */
function oneLine(s: string): string {
  return logText(s, Infinity);
}

/** Body lines and log messages: control characters escaped except the tab and the line break. */
function escapeControl(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function isText(b: Buffer): boolean {
  const n = Math.min(b.length, 512);
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0 || c < 0x09 || (c > 0x0d && c < 0x20 && c !== 0x1b)) return false;
  }
  return true;
}

function hexdump(b: Buffer): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = b.subarray(i, i + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : ".")).join("");
    lines.push(`${i.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}
