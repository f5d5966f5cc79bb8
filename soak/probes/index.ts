// The families, in the order a full run takes them.
import type { Family } from "../lib/family.ts";
import { addonFaults } from "./addon-faults.ts";
import { fuzz } from "./fuzz.ts";
import { h2Floods } from "./h2-floods.ts";
import { integrity } from "./integrity.ts";
import { manyConns } from "./many-conns.ts";
import { originFaults } from "./origin-faults.ts";
import { slowlorisFamily } from "./slowloris.ts";
import { smuggling } from "./smuggling.ts";
import { soak } from "./soak.ts";

export const FAMILIES: Family[] = [
  fuzz,
  smuggling,
  slowlorisFamily,
  manyConns,
  originFaults,
  addonFaults,
  h2Floods,
  integrity,
  soak,
];
