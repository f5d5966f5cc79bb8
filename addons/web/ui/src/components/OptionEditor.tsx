import { useState } from "preact/hooks";
import { valueText } from "../../lib/value-text.ts";
import { api } from "../api.ts";
import { useDraft } from "../state/use-draft.ts";
import type { OptionInfo } from "../types.ts";

/**
 * One option's value, edited live: a checkbox, a choice, a number, a text, or
 * a list one item a line. The option registry checks the value; a refusal
 * shows its line here and the old value stays.
 */
export function OptionEditor({ option }: { option: OptionInfo }) {
  const { draft, setDraft, sent } = useDraft(toText(option));
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const commit = (value: unknown): void => {
    setSaving(true);
    void api
      .setOptions({ [option.name]: value })
      .then(() => setError(null))
      .catch((e: unknown) => {
        setError(e instanceof Error ? e.message : String(e));
        setDraft(toText(option));
      })
      .finally(() => setSaving(false));
  };
  const commitDraft = (): void => {
    if (draft === toText(option)) return;
    sent();
    commit(fromText(option, draft));
  };

  let input;
  if (option.type === "bool") {
    input = (
      <input
        type="checkbox"
        checked={option.value === true}
        onChange={(e) => commit(e.currentTarget.checked)}
        name={option.name}
      />
    );
  } else if (option.choices && option.choices.length > 0) {
    input = (
      <select value={valueText(option.value)} onChange={(e) => commit(e.currentTarget.value)} name={option.name}>
        {option.type === "optional-string" ? <option value="">—</option> : null}
        {option.choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  } else if (option.type === "strings") {
    input = (
      <textarea
        class="code"
        rows={Math.max(1, Math.min(6, draft.split("\n").length))}
        value={draft}
        placeholder="one a line"
        onInput={(e) => setDraft(e.currentTarget.value)}
        onBlur={commitDraft}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) commitDraft();
        }}
        name={option.name}
        spellcheck={false}
      />
    );
  } else {
    input = (
      <input
        type="text"
        class={option.type === "number" ? "num-input" : "text-input"}
        value={draft}
        placeholder={option.type === "optional-string" ? "unset" : ""}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onBlur={commitDraft}
        onKeyDown={(e) => {
          if (e.key === "Enter") commitDraft();
          if (e.key === "Escape") setDraft(toText(option));
        }}
        name={option.name}
        spellcheck={false}
      />
    );
  }
  return (
    <div class={`option-editor ${saving ? "saving" : ""}`} data-option={option.name}>
      {input}
      {error ? (
        <div class="option-error" role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}

function toText(o: OptionInfo): string {
  return valueText(o.value);
}

/** The typed JSON value for the registry (a number stays text when it is not one: the registry says why). */
function fromText(o: OptionInfo, text: string): unknown {
  switch (o.type) {
    case "number": {
      const n = Number(text.trim());
      return text.trim() !== "" && Number.isFinite(n) ? n : text;
    }
    case "strings":
      return text
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "");
    case "optional-string":
      return text === "" ? null : text;
    default:
      return text;
  }
}
