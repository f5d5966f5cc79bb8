/**
 * How far along a flow is, from its summary: live, then finished; no
 * response, then one; later ends; more messages. Used when updates held
 * while the flow list loaded meet the loaded list: an update from before the
 * list was read must not take a flow back to an earlier state.
 */
export interface ProgressFields {
  live: boolean;
  status: number | null;
  error: string | null;
  timestampEnd: number | null;
  messageCount: number;
}

function rank(s: ProgressFields): number[] {
  return [s.live ? 0 : 1, s.status !== null ? 1 : 0, s.error !== null ? 1 : 0, s.timestampEnd ?? -1, s.messageCount];
}

/** Whether `candidate` is an earlier state of the flow than `known` (equal progress is not earlier). */
export function isEarlierState(candidate: ProgressFields, known: ProgressFields): boolean {
  const a = rank(candidate);
  const b = rank(known);
  for (let i = 0; i < a.length; i++) {
    if (a[i]! !== b[i]!) return a[i]! < b[i]!;
  }
  return false;
}
