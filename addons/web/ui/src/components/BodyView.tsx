import { useEffect, useState } from "preact/hooks";
import { formatSize } from "../../lib/format.ts";
import {
  charsetOf,
  chooseView,
  renderView,
  VIEW_KINDS,
  type RenderedView,
  type ViewKind,
} from "../../lib/views/index.ts";
import { contentUrl, fetchBody } from "../api.ts";
import type { BodyState } from "../types.ts";

/** What the detail pane loads of a body; the rest is a download away. */
const BODY_LIMIT = 1024 * 1024;

interface Props {
  id: string;
  side: "request" | "response";
  state: BodyState;
  size: number | null;
  contentType: string | null;
  encoding: string | null;
  /** Changes when the body may have (a response came, an edit was saved): the body is loaded again. */
  version: string;
}

/** A body in a content view chosen from its type (or by hand), decoded, with the raw bytes one click away. */
export function BodyView({ id, side, state, size, contentType, encoding, version }: Props) {
  const [decode, setDecode] = useState(true);
  const [chosen, setChosen] = useState<ViewKind | "auto">("auto");
  const [body, setBody] = useState<{ bytes: Uint8Array; total: number | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const recorded = state === "memory" || state === "disk";

  useEffect(() => {
    if (!recorded) return;
    let current = true;
    setError(null);
    fetchBody(id, side, decode, BODY_LIMIT)
      .then((b) => current && setBody(b))
      .catch((e: unknown) => {
        if (!current) return;
        setBody(null);
        setError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      current = false;
    };
  }, [id, side, decode, recorded, version]);

  if (state === "none") return <div class="body-bar muted">no body</div>;
  if (state === "streamed") return <div class="body-bar muted">The body was streamed through and not recorded.</div>;
  if (state === "dropped")
    return (
      <div class="body-bar muted">The body ({formatSize(size)}) was too large to keep; only its size is known.</div>
    );

  const auto = body ? chooseView(contentType, body.bytes) : "text";
  const view: ViewKind = chosen === "auto" ? auto : chosen;
  const rendered = body ? renderView(view, body.bytes, contentType, charsetOf(contentType)) : null;
  return (
    <div class="body">
      <div class="body-bar">
        <label>
          View{" "}
          <select
            value={chosen}
            onChange={(e) => setChosen(e.currentTarget.value as ViewKind | "auto")}
            data-testid={`${side}-view`}
          >
            <option value="auto">auto ({auto})</option>
            {VIEW_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        {encoding ? (
          <label title="Show the bytes as sent, with their Content-Encoding">
            <input type="checkbox" checked={!decode} onChange={() => setDecode(!decode)} data-testid={`${side}-raw`} />{" "}
            raw ({encoding})
          </label>
        ) : null}
        <span class="muted">
          {body?.total != null && body.total > body.bytes.length
            ? `first ${formatSize(body.bytes.length)} of ${formatSize(body.total)}`
            : formatSize(body?.bytes.length ?? size)}
        </span>
        <span class="spacer" />
        <a class="button small" href={contentUrl(id, side, decode, true)}>
          ⇩ Download
        </a>
      </div>
      {error ? <div class="error-box">{error}</div> : null}
      {rendered ? (
        <Rendered view={rendered} id={id} side={side} decode={decode} />
      ) : error ? null : (
        <div class="muted pad">loading…</div>
      )}
    </div>
  );
}

function Rendered({
  view,
  id,
  side,
  decode,
}: {
  view: RenderedView;
  id: string;
  side: "request" | "response";
  decode: boolean;
}) {
  switch (view.kind) {
    case "image":
      return (
        <div class="image-view">
          <img
            src={contentUrl(id, side, decode)}
            alt={`${side} body (${view.mimeType})`}
            data-testid={`${side}-image`}
          />
        </div>
      );
    case "hex":
      return (
        <pre class="code hex" data-view="hex">
          {view.lines.join("\n")}
          {view.more > 0 ? `\n… ${view.more} more lines (download the body for all of it)` : ""}
        </pre>
      );
    case "fields":
      return (
        <table class="headers form-fields" data-view="form">
          <tbody>
            {view.fields.map((f, i) => (
              <tr key={i}>
                <th>{f.name}</th>
                <td>{f.value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      );
    case "parts":
      return (
        <div data-view="multipart">
          {view.parts.map((p, i) => (
            <div class="part" key={i}>
              <div class="part-head">
                <b>{p.name ?? `part ${i + 1}`}</b>
                {p.filename !== undefined ? <span> file “{p.filename}”</span> : null}
                {p.contentType ? <span class="muted"> {p.contentType}</span> : null}
                <span class="muted"> {formatSize(p.body.length)}</span>
              </div>
              {p.filename === undefined && p.body.length < 64 * 1024 ? (
                <pre class="code">{new TextDecoder().decode(p.body)}</pre>
              ) : null}
            </div>
          ))}
        </div>
      );
    case "text":
      return (
        <>
          {view.note ? <div class="note">{view.note}</div> : null}
          <pre class={`code lang-${view.view}`} data-view={view.view}>
            {view.text}
          </pre>
        </>
      );
  }
}
