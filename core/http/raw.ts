// HTTP/1.1 answers the proxy writes by hand onto a socket (its own error
// pages, an addon's answer to a CONNECT, a declined or accepted upgrade):
// one place that builds a head, so none of them can be split by what an
// addon or a client put into a reason or a field.

/** A field name: an RFC 9110 §5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Bytes that would end a line or the head (a value may hold any other visible byte, SP and HTAB). */
const LINE_BREAKING = /[\0\r\n]/;

/** The status line and fields, ending with the empty line. Fields that cannot go on the wire are left out. */
export function rawHead(status: number, reason: string, fields: Iterable<readonly [string, string]>): Buffer {
  let head = `HTTP/1.1 ${status} ${safeReason(reason)}\r\n`;
  for (const [name, value] of fields) {
    if (TOKEN.test(name) && !LINE_BREAKING.test(value)) head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, "latin1");
}

/** A plain-text answer that closes the connection: `message` is the body, with a final newline. */
export function textResponse(status: number, reason: string, message: string): Buffer {
  const body = Buffer.from(`${message}\n`, "utf8");
  const head = rawHead(status, reason, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
    ["Connection", "close"],
  ]);
  return Buffer.concat([head, body]);
}

/** A reason phrase is HTAB, SP, visible ASCII and obs-text (RFC 9112 §4): anything else becomes a space. */
function safeReason(reason: string): string {
  return reason.replace(/[^\t\x20-\x7e\x80-\xff]/g, " ");
}
