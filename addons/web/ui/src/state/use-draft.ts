import { useEffect, useRef, useState } from "preact/hooks";

/**
 * A text box's draft of a value kept elsewhere (an option on the server, the store's filter). A new
 * outside value replaces the draft only when the user has not edited it since the last one: the
 * echo of an earlier change, or a change from another tab, must not overwrite what the user is
 * typing. `sent()` says the draft just went out, so that the server's answer (perhaps normalised)
 * replaces it.
 */
export function useDraft(value: string): { draft: string; setDraft: (text: string) => void; sent: () => void } {
  const [draft, setDraft] = useState(value);
  const seen = useRef(value);
  const current = useRef(draft);
  current.current = draft;
  useEffect(() => {
    const before = seen.current;
    seen.current = value;
    setDraft((d) => (d === before ? value : d));
  }, [value]);
  return {
    draft,
    setDraft: (text) => {
      current.current = text;
      setDraft(text);
    },
    sent: () => {
      seen.current = current.current;
    },
  };
}
