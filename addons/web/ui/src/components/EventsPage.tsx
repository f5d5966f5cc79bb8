import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { formatTime } from "../../lib/format.ts";
import { useStore } from "../state/use-store.ts";
import type { LogEntry } from "../types.ts";

const LEVELS: LogEntry["level"][] = ["error", "warn", "info", "debug"];

/** The event log (what the terminal prints), newest at the bottom, by level and text. */
export function EventsPage() {
  const store = useStore();
  const [level, setLevel] = useState<LogEntry["level"]>("info");
  const [query, setQuery] = useState("");
  const end = useRef<HTMLDivElement>(null);
  const max = LEVELS.indexOf(level);
  const q = query.toLowerCase();
  const shown = store.events.filter(
    (e) => LEVELS.indexOf(e.level) <= max && (q === "" || e.message.toLowerCase().includes(q)),
  );
  useLayoutEffect(() => end.current?.scrollIntoView({ block: "end" }), [shown.length]);
  return (
    <div class="scroll-page events">
      <div class="page-head">
        <h2>Events</h2>
        <select value={level} onChange={(e) => setLevel(e.currentTarget.value as LogEntry["level"])}>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l} and above
            </option>
          ))}
        </select>
        <input type="search" placeholder="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <span class="muted">
          {shown.length} of {store.events.length}
        </span>
      </div>
      <div class="log">
        {shown.map((e, i) => (
          <div key={i} class={`log-line lvl-${e.level}`}>
            <span class="muted">{formatTime(e.timestamp)}</span> <span class="lvl">{e.level}</span>
            {e.addon ? <span class="chip">{e.addon}</span> : null} {e.message}
          </div>
        ))}
        <div ref={end} />
      </div>
    </div>
  );
}
