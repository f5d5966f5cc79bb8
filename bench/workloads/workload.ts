// The shape of a workload and small helpers shared by them.
import type { Ctx, Who } from "../lib/context.ts";
import type { Metric, WorkloadResult } from "../lib/report.ts";

export interface Workload {
  id: string;
  title: string;
  /** Hard deadline of the whole workload (all repetitions, all tools). */
  deadlineMs(ctx: Ctx): number;
  /** Fills `r` as it goes, so that a workload stopped at its deadline still reports what it measured. */
  run(ctx: Ctx, r: WorkloadResult): Promise<void>;
}

export function metric(label: string, unit: string, better: "higher" | "lower"): Metric {
  return { label, unit, better, values: {} };
}

export function add(m: Metric, who: Who, value: number): void {
  (m.values[who] ??= []).push(value);
}

/** The order in which each repetition visits the tools: interleaved, so that drift hits all alike. */
export const ORDER: Who[] = ["direct", "interloper", "mitmdump"];

export const MB = 1e6;
