import { formatDateTime, formatSize } from "../../lib/format.ts";
import { parseUrlEncoded } from "../../lib/views/form.ts";
import type { FlowDetail, FlowSummary, Fields } from "../types.ts";
import { BodyView } from "./BodyView.tsx";

/** A request or response: its first line, header fields (and trailers), and body. */
export function MessageTab({
  side,
  detail,
  summary,
}: {
  side: "request" | "response";
  detail: FlowDetail;
  summary: FlowSummary;
}) {
  const req = detail.request;
  const res = detail.response;
  if (side === "response" && !res) {
    return (
      <div class="pad muted" data-testid="no-response">
        {summary.intercepted
          ? "The request is intercepted: no response yet."
          : summary.error
            ? `No response: ${summary.error}`
            : "No response yet."}
      </div>
    );
  }
  if (side === "request" && !req) return <div class="pad muted">No request.</div>;
  const head = side === "request" ? req! : res!;
  const firstLine =
    side === "request"
      ? `${req!.method} ${req!.path} ${req!.httpVersion}`
      : `${res!.httpVersion} ${res!.status} ${res!.reason}`;
  return (
    <div class="message" data-side={side}>
      <div class="first-line">
        <code>{firstLine}</code>
        <span class="muted" title={formatDateTime(head.timestampStart)}>
          {head.size === null ? "body not recorded" : formatSize(head.size)}
        </span>
      </div>
      <HeaderTable fields={head.headers} />
      {side === "request" ? <QueryTable path={req!.path} /> : null}
      {head.trailers && head.trailers.length > 0 ? (
        <>
          <h4>Trailers</h4>
          <HeaderTable fields={head.trailers} />
        </>
      ) : null}
      <BodyView
        id={summary.id}
        side={side}
        state={summary.bodies[side]}
        size={head.size}
        contentType={headerValue(head.headers, "content-type")}
        encoding={headerValue(head.headers, "content-encoding")}
        version={`${summary.bodies[side]}:${head.size}:${summary.timestampEnd}:${summary.intercepted}`}
      />
    </div>
  );
}

/** The query string's fields, decoded, when the request has one. */
function QueryTable({ path }: { path: string }) {
  const at = path.indexOf("?");
  if (at === -1) return null;
  const fields = parseUrlEncoded(path.slice(at + 1));
  if (fields.length === 0) return null;
  return (
    <>
      <h4 class="section">Query</h4>
      <HeaderTable fields={fields.map((f) => [f.name, f.value])} />
    </>
  );
}

export function HeaderTable({ fields }: { fields: Fields }) {
  if (fields.length === 0) return <div class="muted pad-small">no header fields</div>;
  return (
    <table class="headers">
      <tbody>
        {fields.map(([name, value], i) => (
          <tr key={i}>
            <th>{name}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function headerValue(fields: Fields, name: string): string | null {
  const lower = name.toLowerCase();
  const found = fields.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return found.length === 0 ? null : found.join(", ");
}
