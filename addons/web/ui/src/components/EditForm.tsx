import { useEffect, useState } from "preact/hooks";
import { fieldsToText, textToFields } from "../../lib/fields-text.ts";
import { looksBinary } from "../../lib/views/hex.ts";
import { api, fetchBody } from "../api.ts";
import { useStore } from "../state/use-store.ts";
import type { Fields, FlowDetail, FlowSummary } from "../types.ts";

const EDIT_LIMIT = 4 * 1024 * 1024;

/**
 * Edits a request (method, URL, header fields, body) or a response (status,
 * reason, fields, body). Saving sends the change; on an intercepted flow
 * "Save and resume" lets it go on changed, on a finished one "Save and
 * replay" sends it again.
 */
export function EditForm({
  side,
  detail,
  summary,
  onDone,
}: {
  side: "request" | "response";
  detail: FlowDetail;
  summary: FlowSummary;
  onDone: () => void;
}) {
  const store = useStore();
  const req = detail.request;
  const res = detail.response;
  const [first, setFirst] = useState(side === "request" ? (req?.method ?? "GET") : String(res?.status ?? 200));
  const [second, setSecond] = useState(side === "request" ? (req?.url ?? "") : (res?.reason ?? ""));
  const [headers, setHeaders] = useState(
    fieldsToText(side === "request" ? (req?.headers ?? []) : (res?.headers ?? [])),
  );
  const [body, setBody] = useState<{ original: string; text: string; editable: boolean } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const state = summary.bodies[side];

  useEffect(() => {
    if (state !== "memory" && state !== "disk") {
      setBody({ original: "", text: "", editable: state === "none" });
      return;
    }
    fetchBody(summary.id, side, true, EDIT_LIMIT)
      .then(({ bytes, total }) => {
        const editable = !looksBinary(bytes) && (total === null || total <= bytes.length);
        const text = editable ? new TextDecoder().decode(bytes) : "";
        setBody({ original: text, text, editable });
      })
      .catch((e: unknown) => setProblem(`the body could not be loaded: ${String(e)}`));
  }, [summary.id, side]);

  const save = async (then: "none" | "resume" | "replay"): Promise<void> => {
    let fields: Fields;
    try {
      fields = textToFields(headers);
    } catch (e) {
      setProblem(e instanceof Error ? e.message : String(e));
      return;
    }
    const change: Record<string, unknown> = { headers: fields };
    if (side === "request") {
      change.method = first.trim();
      change.url = second.trim();
    } else {
      const status = Number(first);
      if (!Number.isInteger(status) || status < 100 || status > 999) {
        setProblem(`status ${first} is not a number from 100 to 999`);
        return;
      }
      change.status = status;
      change.reason = second;
    }
    if (body?.editable && body.text !== body.original) change.content = body.text;
    const ok = await store.run("save", async () => {
      await api.edit(summary.id, { [side]: change });
      if (then === "resume") await api.action(summary.id, "resume");
      if (then === "replay") await api.action(summary.id, "replay");
    });
    if (ok) onDone();
  };

  return (
    <form
      class="edit-form"
      data-testid="edit-form"
      onSubmit={(e) => {
        e.preventDefault();
        void save("none");
      }}
    >
      <div class="edit-line">
        {side === "request" ? (
          <>
            <input
              class="method-input"
              value={first}
              onInput={(e) => setFirst(e.currentTarget.value)}
              aria-label="method"
              name="method"
            />
            <input
              class="grow"
              value={second}
              onInput={(e) => setSecond(e.currentTarget.value)}
              aria-label="URL"
              name="url"
            />
          </>
        ) : (
          <>
            <input
              class="status-input"
              value={first}
              onInput={(e) => setFirst(e.currentTarget.value)}
              aria-label="status"
              name="status"
            />
            <input
              class="grow"
              value={second}
              onInput={(e) => setSecond(e.currentTarget.value)}
              aria-label="reason"
              name="reason"
            />
          </>
        )}
      </div>
      <label class="edit-label">Header fields, one “Name: value” a line</label>
      <textarea
        class="code"
        rows={Math.min(16, headers.split("\n").length + 1)}
        value={headers}
        onInput={(e) => setHeaders(e.currentTarget.value)}
        name="headers"
        spellcheck={false}
      />
      <label class="edit-label">Body</label>
      {body === null ? (
        <div class="muted">loading…</div>
      ) : body.editable ? (
        <textarea
          class="code"
          rows={10}
          value={body.text}
          onInput={(e) => setBody({ ...body, text: e.currentTarget.value })}
          name="body"
          spellcheck={false}
        />
      ) : (
        <div class="muted">The body is binary, large or not recorded: it is kept as it is.</div>
      )}
      {problem ? <div class="error-box">{problem}</div> : null}
      <div class="edit-buttons">
        <button type="submit" class="primary" data-action="save">
          Save
        </button>
        {summary.intercepted ? (
          <button type="button" class="primary" onClick={() => void save("resume")} data-action="save-resume">
            Save and resume
          </button>
        ) : null}
        {side === "request" && !summary.live ? (
          <button type="button" onClick={() => void save("replay")} data-action="save-replay">
            Save and replay
          </button>
        ) : null}
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}
