import { formatDateTime, formatTime } from "../../lib/format.ts";
import { api } from "../api.ts";
import { useStore } from "../state/use-store.ts";
import type { AddonInfo } from "../types.ts";
import { OptionEditor } from "./OptionEditor.tsx";

/** Every loaded addon: where it comes from, its hooks, its options (editable), its last error and its log. */
export function AddonsPage() {
  const store = useStore();
  return (
    <div class="scroll-page">
      <div class="page-head">
        <h2>Addons</h2>
        <span class="muted">{store.addons.length} loaded, in the order their hooks run</span>
      </div>
      <div class="addons">
        {store.addons.map((a) => (
          <AddonCard key={`${a.parent ?? ""}/${a.name}`} addon={a} />
        ))}
      </div>
    </div>
  );
}

function AddonCard({ addon }: { addon: AddonInfo }) {
  const store = useStore();
  const options = store.options.filter((o) => addon.options.includes(o.name));
  const err = addon.lastError;
  // An error older than the last (re)load is history: the addon loaded fine since.
  const past = err !== null && addon.loadedAt !== null && err.timestamp < addon.loadedAt;
  return (
    <article class={`addon ${err && !past ? "has-error" : ""}`} data-addon={addon.name}>
      <header>
        <span class="addon-name">{addon.name}</span>
        <span class={`pill kind-${addon.kind}`}>{addon.kind}</span>
        {addon.parent ? <span class="muted small">in {addon.parent}</span> : null}
        <span class="spacer" />
        {addon.loadedAt !== null ? (
          <span class="muted small" title={formatDateTime(addon.loadedAt)}>
            loaded {formatTime(addon.loadedAt)}
          </span>
        ) : null}
        {addon.reloadable ? (
          <button
            class="small"
            data-action="reload"
            onClick={() =>
              void store.run(`reload ${addon.name}`, async () => {
                const r = await api.reloadAddon(addon.name);
                store.notify(
                  r.ok ? "info" : "error",
                  r.ok ? `${addon.name} reloaded` : `${addon.name}: ${r.error ?? "reload failed"}`,
                );
              })
            }
          >
            ↻ Reload
          </button>
        ) : null}
      </header>
      {addon.source ? (
        <div class="source">
          <code>{addon.source}</code>
        </div>
      ) : null}
      {err ? (
        <div
          class={`error-box addon-error ${past ? "past" : ""}`}
          data-testid={past ? "addon-past-error" : "addon-error"}
          title={past ? "This error came before the addon's last successful (re)load" : undefined}
        >
          {past ? <div class="muted small">before the last load:</div> : null}
          {err.file ? (
            <div class="where">
              {err.file}
              {err.line !== null ? `:${err.line}` : ""}
              {err.column !== null ? `:${err.column}` : ""}
            </div>
          ) : null}
          <div>{err.message}</div>
          <div class="muted small">{formatDateTime(err.timestamp)}</div>
        </div>
      ) : null}
      {addon.hooks.length > 0 ? (
        <div class="hooks">
          {addon.hooks.map((h) => (
            <span key={h} class="chip">
              {h}
            </span>
          ))}
        </div>
      ) : null}
      {options.length > 0 ? (
        <table class="options compact">
          <tbody>
            {options.map((o) => (
              <tr key={o.name}>
                <td class="opt-name" title={o.help}>
                  <code>{o.name}</code>
                </td>
                <td>
                  <OptionEditor option={o} />
                </td>
                <td class="help small">{o.help}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {addon.log.length > 0 ? (
        <details class="addon-log" open={addon.kind !== "built-in"}>
          <summary>log ({addon.log.length})</summary>
          <div class="log">
            {addon.log.map((l, i) => (
              <div key={i} class={`log-line lvl-${l.level}`}>
                <span class="muted">{formatTime(l.timestamp)}</span> <span class="lvl">{l.level}</span> {l.message}
              </div>
            ))}
          </div>
        </details>
      ) : null}
    </article>
  );
}
