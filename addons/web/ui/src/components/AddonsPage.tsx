import { formatDateTime, formatTime } from "../../lib/format.ts";
import { api } from "../api.ts";
import { useStore } from "../state/use-store.ts";
import type { AddonInfo } from "../types.ts";
import { OptionEditor } from "./OptionEditor.tsx";

/** Every loaded addon: where it comes from, its hooks, its options (editable), its last error and its log. */
export function AddonsPage() {
  const store = useStore();
  // The user's addons (scripts, packages) first; each group keeps the order their hooks run in.
  const own = store.addons.filter((a) => a.kind !== "built-in");
  const builtIn = store.addons.filter((a) => a.kind === "built-in");
  return (
    <div class="scroll-page">
      <div class="page-head">
        <h2>Addons</h2>
        <span class="muted">
          {store.addons.length} loaded: {own.length} scripts and packages, {builtIn.length} built in; each group in the
          order its hooks run
        </span>
      </div>
      {own.length > 0 ? (
        <>
          <h3 class="group-title">Scripts and packages</h3>
          <div class="addons">
            {own.map((a) => (
              <AddonCard key={`${a.parent ?? ""}/${a.name}`} addon={a} />
            ))}
          </div>
        </>
      ) : (
        <p class="muted">
          No scripts loaded: start with <code>-s addon.ts</code> or set <code>scripts</code> on the Options page.
        </p>
      )}
      <h3 class="group-title">Built in</h3>
      <div class="addons">
        {builtIn.map((a) => (
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
        <div class="addon-options">
          {options.map((o) => (
            <div class="addon-option" key={o.name}>
              <div class="addon-option-line">
                <code class="opt-name">{o.name}</code>
                <OptionEditor option={o} />
              </div>
              <div class="help small">{o.help}</div>
            </div>
          ))}
        </div>
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
