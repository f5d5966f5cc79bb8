import { useEffect } from "preact/hooks";

const KEYS: Array<[string, string]> = [
  ["/", "focus the filter box"],
  ["j  ↓", "next flow"],
  ["k  ↑", "previous flow"],
  ["PgDn  PgUp", "a page down or up"],
  ["g  Home", "first flow"],
  ["G  End", "last flow"],
  ["Esc", "close the detail, leave a box, close a dialog"],
  ["r", "replay the selected flow"],
  ["m", "mark or unmark it"],
  ["a", "resume it (when intercepted)"],
  ["x", "kill it (while live)"],
  ["d  Del", "delete it"],
  ["Enter", "in a filter box: apply now"],
  ["?", "this list"],
];

/** The keyboard's keys, shown by "?". */
export function KeysHelp({ onClose }: { onClose: () => void }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === "Escape" || e.key === "?") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="modal-backdrop" onClick={onClose}>
      <div class="modal keys-help" role="dialog" aria-label="keyboard keys" onClick={(e) => e.stopPropagation()}>
        <header>
          <span>Keys</span>
          <span class="spacer" />
          <button class="icon" onClick={onClose} title="Close">
            ✕
          </button>
        </header>
        <table class="kv pad">
          <tbody>
            {KEYS.map(([keys, what]) => (
              <tr key={keys}>
                <th>
                  {keys.split("  ").map((k) => (
                    <kbd key={k}>{k}</kbd>
                  ))}
                </th>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
