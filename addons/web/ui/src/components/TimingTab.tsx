import { formatDateTime, formatDuration } from "../../lib/format.ts";
import type { FlowDetail, Timings } from "../types.ts";

const PHASES: Array<[string, keyof Timings, keyof Timings]> = [
  ["Client TLS", "clientConnect", "clientTlsSetup"],
  ["Server connect", "serverConnect", "serverTcpSetup"],
  ["Server TLS", "serverTcpSetup", "serverTlsSetup"],
  ["Request", "requestStart", "requestEnd"],
  ["Waiting", "requestEnd", "responseStart"],
  ["Response", "responseStart", "responseEnd"],
];

/** Each phase of the flow as a bar on one time axis, with its duration, and the raw timestamps. */
export function TimingTab({ detail }: { detail: FlowDetail }) {
  const t = detail.timings;
  const stamps = Object.values(t).filter((v): v is number => typeof v === "number");
  if (stamps.length === 0) return <div class="pad muted">No timestamps.</div>;
  const start = Math.min(...stamps);
  const span = Math.max(...stamps) - start || 1;
  return (
    <div class="pad">
      <table class="timing">
        <tbody>
          {PHASES.map(([name, from, to]) => {
            const a = t[from];
            const b = t[to];
            if (a === null || b === null || b < a) return null;
            return (
              <tr key={name}>
                <th>{name}</th>
                <td class="bar-cell">
                  <div
                    class="bar"
                    style={{
                      marginLeft: `${((a - start) / span) * 100}%`,
                      width: `${Math.max(0.5, ((b - a) / span) * 100)}%`,
                    }}
                  />
                </td>
                <td class="num">{formatDuration(b - a)}</td>
              </tr>
            );
          })}
          <tr class="total">
            <th>Total</th>
            <td />
            <td class="num">{formatDuration(span === 1 && stamps.length < 2 ? 0 : span)}</td>
          </tr>
        </tbody>
      </table>
      <h4>Timestamps</h4>
      <table class="kv">
        <tbody>
          {(Object.keys(t) as Array<keyof Timings>)
            .filter((k) => t[k] !== null)
            .map((k) => (
              <tr key={k}>
                <th>{k}</th>
                <td>
                  {formatDateTime(t[k])} <span class="muted">+{formatDuration(t[k]! - start)}</span>
                </td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}
