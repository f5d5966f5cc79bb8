import { useRef, useState } from "preact/hooks";
import { api, dumpUrl } from "../api.ts";
import { useDraft } from "../state/use-draft.ts";
import { useStore } from "../state/use-store.ts";
import { FilterInput } from "./FilterInput.tsx";

/** Filter, highlight and intercept boxes; resume all, clear, save and open flow files. */
export function Toolbar() {
  const store = useStore();
  const intercepted = store.flows.all().filter((r) => r.summary.intercepted).length;
  const fileInput = useRef<HTMLInputElement>(null);
  const filterGood = store.filterState.kind !== "error" ? store.filterState.source : "";
  return (
    <div class="toolbar">
      <FilterInput
        id="filter-input"
        label="Filter"
        placeholder="~d example.com & ~m POST   (press /)"
        value={store.filterText}
        state={store.filterState}
        onChange={(t) => store.setFilter(t)}
        title="Only flows matching this expression are listed (mitmproxy's filter language)"
      />
      <FilterInput
        id="highlight-input"
        label="Highlight"
        placeholder="~s & ~c 500"
        value={store.highlightText}
        state={store.highlightState}
        onChange={(t) => store.setHighlight(t)}
        title="Matching flows are highlighted"
      />
      <InterceptInput />
      <div class="toolbar-actions">
        <button
          class={intercepted > 0 ? "primary" : ""}
          disabled={intercepted === 0}
          onClick={() => void store.run("resume all", api.resumeAll)}
          title="Let every intercepted flow go on"
          data-action="resume-all"
        >
          ▶ Resume all{intercepted > 0 ? ` (${intercepted})` : ""}
        </button>
        <button
          onClick={() => void store.run("clear", api.clear)}
          title="Remove every flow (intercepted ones stay)"
          data-action="clear"
        >
          Clear
        </button>
        <a
          class="button"
          href={dumpUrl("")}
          download="flows.flow"
          title="Save every flow as a mitmproxy flow file"
          data-action="save-all"
        >
          Save all
        </a>
        <a
          class={filterGood ? "button" : "button disabled"}
          href={dumpUrl(filterGood)}
          download="filtered.flow"
          title="Save the flows the filter shows"
          data-action="save-filtered"
        >
          Save filtered
        </a>
        <button onClick={() => fileInput.current?.click()} title="Open a flow file or HAR" data-action="open">
          Open…
        </button>
        <input
          ref={fileInput}
          type="file"
          class="hidden"
          data-testid="open-file"
          onChange={(e) => {
            const input = e.currentTarget;
            const file = input.files?.[0];
            input.value = "";
            if (!file) return;
            void store.run(`open ${file.name}`, async () => {
              const { added } = await api.openFile(file);
              store.notify("info", `${file.name}: ${added} flows added`);
            });
          }}
        />
      </div>
    </div>
  );
}

/** The intercept filter: applied on Enter or when the box is left; the server checks it. */
function InterceptInput() {
  const store = useStore();
  // The server's value follows the box only while the user has not typed: a late echo of the last
  // change must not wipe what is being typed now.
  const { draft: text, setDraft: setText } = useDraft(store.interceptText);
  const [error, setError] = useState<string | null>(null);
  const apply = (text: string): void => {
    setText(text);
    if (text === store.interceptText) return;
    api
      .setIntercept(text)
      .then(() => {
        setError(null);
        store.interceptText = text;
        store.notify("info", text ? `intercepting ${text}` : "intercept off");
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };
  return (
    <label
      class={`filter intercept ${error ? "invalid" : ""} ${store.interceptText ? "active" : ""}`}
      title="Matching requests and responses pause until resumed"
    >
      <span class="filter-label">Intercept</span>
      <input
        id="intercept-input"
        type="text"
        spellcheck={false}
        autocomplete="off"
        placeholder="~q & ~d api"
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          // The box's own value: an input event just before may not have re-rendered yet.
          if (e.key === "Enter") apply(e.currentTarget.value);
          if (e.key === "Escape") e.currentTarget.blur();
        }}
        onBlur={(e) => apply(e.currentTarget.value)}
      />
      {error ? (
        <div class="filter-error" role="alert">
          <span>{error}</span>
        </div>
      ) : null}
    </label>
  );
}
