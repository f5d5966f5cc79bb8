import { useEffect, useState } from "preact/hooks";
import { api, contentUrl, exportUrl } from "../api.ts";
import { useStore } from "../state/use-store.ts";
import type { FlowSummary } from "../types.ts";

const EXPORTS: Array<[string, string]> = [
  ["curl", "curl"],
  ["httpie", "HTTPie"],
  ["raw", "raw HTTP"],
  ["har", "HAR"],
];

/** What can be done to the flow: each button says why it is off when it is. */
export function Actions({ summary, onEdit }: { summary: FlowSummary; onEdit: (side: "request" | "response") => void }) {
  const store = useStore();
  const [exporting, setExporting] = useState<{ format: string; text: string } | null>(null);
  const [commenting, setCommenting] = useState(false);
  const id = summary.id;
  const http = summary.type !== "tcp";
  const act = (what: string, fn: () => Promise<unknown>) => () => void store.run(what, fn);
  const showExport = (format: string): void => {
    void store.run(`export ${format}`, async () => setExporting({ format, text: await api.exportText(id, format) }));
  };
  return (
    <div class="actions">
      {summary.intercepted ? (
        <button
          class="primary"
          onClick={act("resume", () => api.action(id, "resume"))}
          data-action="resume"
          title="Let it go on (a)"
        >
          ▶ Resume
        </button>
      ) : null}
      <button
        disabled={!http || summary.live}
        onClick={act("replay", () => api.action(id, "replay"))}
        data-action="replay"
        title={summary.live ? "still live" : "Send the request again (r)"}
      >
        ↻ Replay
      </button>
      <button
        disabled={!http}
        onClick={act("duplicate", () => api.action(id, "duplicate"))}
        data-action="duplicate"
        title="A copy at the end of the list"
      >
        Duplicate
      </button>
      <button
        disabled={!http}
        onClick={() => onEdit("request")}
        data-action="edit-request"
        title="Edit method, URL, headers, body"
      >
        ✎ Edit request
      </button>
      {summary.status !== null ? (
        <button onClick={() => onEdit("response")} data-action="edit-response" title="Edit status, headers, body">
          ✎ Edit response
        </button>
      ) : null}
      <button onClick={act("mark", () => api.action(id, "mark"))} data-action="mark" title="Mark or unmark (m)">
        {summary.marked ? "Unmark" : "Mark"}
      </button>
      <button onClick={() => setCommenting(!commenting)} data-action="comment">
        Comment
      </button>
      {summary.live ? (
        <button
          class="danger"
          onClick={act("kill", () => api.action(id, "kill"))}
          data-action="kill"
          title="Kill it: the client gets nothing more (x)"
        >
          Kill
        </button>
      ) : null}
      <button
        class="danger"
        onClick={act("delete", () => api.remove(id))}
        data-action="delete"
        title="Remove from the list (d)"
      >
        Delete
      </button>
      <span class="sep" />
      <span class="group-label">Export</span>
      {EXPORTS.map(([format, title]) => (
        <button key={format} disabled={!http} onClick={() => showExport(format)} data-export={format}>
          {title}
        </button>
      ))}
      <span class="sep" />
      {http && summary.bodies.request !== "none" ? (
        <a class="button" href={contentUrl(id, "request", true, true)} data-action="download-request">
          ⇩ Request body
        </a>
      ) : null}
      {http && summary.status !== null && summary.bodies.response !== "none" ? (
        <a class="button" href={contentUrl(id, "response", true, true)} data-action="download-response">
          ⇩ Response body
        </a>
      ) : null}
      {commenting ? <CommentBox summary={summary} onDone={() => setCommenting(false)} /> : null}
      {exporting ? <ExportBox id={id} {...exporting} onClose={() => setExporting(null)} /> : null}
    </div>
  );
}

function CommentBox({ summary, onDone }: { summary: FlowSummary; onDone: () => void }) {
  const store = useStore();
  const [text, setText] = useState(summary.comment);
  const save = (): void => {
    void store.run("comment", () => api.action(summary.id, "comment", { comment: text })).then(onDone);
  };
  return (
    <div class="inline-form">
      <input
        type="text"
        value={text}
        placeholder="A note on this flow"
        ref={(el) => el?.focus()}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") save();
          if (e.key === "Escape") onDone();
        }}
        data-testid="comment-input"
      />
      <button class="primary" onClick={save}>
        Save
      </button>
    </div>
  );
}

function ExportBox({ id, format, text, onClose }: { id: string; format: string; text: string; onClose: () => void }) {
  const store = useStore();
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="modal-backdrop" onClick={onClose}>
      <div class="modal" onClick={(e) => e.stopPropagation()} role="dialog" aria-label={`export as ${format}`}>
        <header>
          <span>Export as {format}</span>
          <span class="spacer" />
          <button
            onClick={() =>
              void store.run("copy", async () => {
                await navigator.clipboard.writeText(text);
                store.notify("info", "copied");
              })
            }
          >
            Copy
          </button>
          <a class="button" href={exportUrl(id, format)}>
            Download
          </a>
          <button class="icon" onClick={onClose} title="Close">
            ✕
          </button>
        </header>
        <pre class="export-text" data-testid="export-text">
          {text}
        </pre>
      </div>
    </div>
  );
}
