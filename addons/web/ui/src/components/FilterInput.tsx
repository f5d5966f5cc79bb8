import { useRef } from "preact/hooks";
import type { ViewFilter } from "../../lib/summary-filter.ts";
import { useDraft } from "../state/use-draft.ts";

interface Props {
  id: string;
  label: string;
  placeholder: string;
  value: string;
  state: ViewFilter;
  onChange: (text: string) => void;
  title?: string;
}

/**
 * A filter expression box: applied as it is typed (briefly debounced), a
 * syntax error shown in place under it with the column marked; the last
 * good filter stays applied meanwhile.
 */
export function FilterInput({ id, label, placeholder, value, state, onChange, title }: Props) {
  const { draft: text, setDraft: setText } = useDraft(value);
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const error = state.kind === "error" && state.source === text ? state : null;
  const change = (next: string): void => {
    setText(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => onChange(next), 60);
  };
  return (
    <label
      class={`filter ${error ? "invalid" : ""} ${state.kind === "server" && !error ? "server" : ""}`}
      title={title}
    >
      <span class="filter-label">{label}</span>
      <input
        id={id}
        type="text"
        spellcheck={false}
        autocomplete="off"
        placeholder={placeholder}
        value={text}
        onInput={(e) => change(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") e.currentTarget.blur();
          if (e.key === "Enter") {
            // The box's own value: an input event just before may not have re-rendered yet.
            const now = e.currentTarget.value;
            clearTimeout(timer.current);
            setText(now);
            onChange(now);
          }
        }}
      />
      {error ? <FilterError expr={text} column={error.column} message={error.message} /> : null}
    </label>
  );
}

/** The expression with the failing column marked, and the parser's message. */
function FilterError({ expr, column, message }: { expr: string; column: number; message: string }) {
  const chars = Array.from(expr);
  const at = Math.max(0, Math.min(chars.length, column - 1));
  return (
    <div class="filter-error" role="alert">
      <code>
        {chars.slice(0, at).join("")}
        <mark>{chars[at] ?? " "}</mark>
        {chars.slice(at + 1).join("")}
      </code>
      <span>
        column {column}: {message}
      </span>
    </div>
  );
}
