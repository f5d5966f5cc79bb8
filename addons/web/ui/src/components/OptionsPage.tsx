import { useState } from "preact/hooks";
import { valueText } from "../../lib/value-text.ts";
import { useStore } from "../state/use-store.ts";
import { OptionEditor } from "./OptionEditor.tsx";

/** Every option (core, built-in addons, scripts): value editable live, default, owner and help; a search box. */
export function OptionsPage() {
  const store = useStore();
  const [query, setQuery] = useState("");
  const q = query.trim().toLowerCase();
  const shown = store.options.filter(
    (o) =>
      q === "" || o.name.includes(q) || o.help.toLowerCase().includes(q) || (o.owner ?? "").toLowerCase().includes(q),
  );
  return (
    <div class="scroll-page">
      <div class="page-head">
        <h2>Options</h2>
        <input
          type="search"
          placeholder="search options"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <span class="muted">
          {shown.length} of {store.options.length} · changes apply at once, as <code>--set</code> would
        </span>
      </div>
      <table class="options">
        <thead>
          <tr>
            <th>name</th>
            <th>value</th>
            <th>default</th>
            <th>what</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((o) => (
            <tr key={o.name} class={JSON.stringify(o.value) !== JSON.stringify(o.default) ? "changed" : ""}>
              <td class="opt-name">
                <code>{o.name}</code>
                <div class="muted small">
                  {o.type}
                  {o.owner ? ` · ${o.owner}` : ""}
                </div>
              </td>
              <td class="opt-value">
                <OptionEditor option={o} />
              </td>
              <td class="muted small">
                <code>{defaultText(o.default)}</code>
              </td>
              <td class="help">{o.help}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function defaultText(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (Array.isArray(v) && v.length === 0) return "[]";
  return valueText(v, ", ");
}
