// mitmproxy's TLS version names mapped onto Node's minVersion/maxVersion
// (core/tls/versions.ts): every pair of names, the refusals, hostile input.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TLS_VERSION_NAMES, versionRange, VersionError } from "../../core/tls/versions.ts";

const NODE: Record<string, string> = { TLS1: "TLSv1", TLS1_1: "TLSv1.1", TLS1_2: "TLSv1.2", TLS1_3: "TLSv1.3" };
const RANK = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

test("mitmproxy's defaults (TLS1_2 to UNBOUNDED) are Node's TLSv1.2 to TLSv1.3, not legacy", () => {
  assert.equal(versionRange("client", "TLS1_2", "UNBOUNDED"), {
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.3",
    legacy: false,
  });
});

test("UNBOUNDED is the lowest Node can do below and the highest above", () => {
  assert.equal(versionRange("server", "UNBOUNDED", "UNBOUNDED"), {
    minVersion: "TLSv1",
    maxVersion: "TLSv1.3",
    legacy: true,
  });
  assert.equal(versionRange("client", "UNBOUNDED", "TLS1").maxVersion, "TLSv1");
  assert.equal(versionRange("client", "TLS1_3", "UNBOUNDED").minVersion, "TLSv1.3");
});

test("every pair of names without SSL3: a range when min <= max, else one line naming both options", () => {
  const names = TLS_VERSION_NAMES.filter((n) => n !== "SSL3");
  let ranges = 0;
  for (const min of names) {
    for (const max of names) {
      const lo = min === "UNBOUNDED" ? "TLSv1" : NODE[min]!;
      const hi = max === "UNBOUNDED" ? "TLSv1.3" : NODE[max]!;
      if (RANK.indexOf(lo) <= RANK.indexOf(hi)) {
        const range = versionRange("client", min, max);
        assert.equal(range.minVersion, lo, `${min}..${max}`);
        assert.equal(range.maxVersion, hi, `${min}..${max}`);
        assert.equal(range.legacy, RANK.indexOf(lo) < 2, `${min}..${max} legacy`);
        ranges++;
      } else {
        assert.throws(
          () => versionRange("server", min, max),
          (e: Error) =>
            e instanceof VersionError &&
            e.message ===
              `invalid TLS versions for the server side: tls_version_server_min ${min} is above tls_version_server_max ${max}`,
        );
      }
    }
  }
  assert.is(ranges, 19);
});

test("SSL3 is refused on either bound, naming the option and why", () => {
  for (const [min, max, option] of [
    ["SSL3", "UNBOUNDED", "tls_version_client_min"],
    ["UNBOUNDED", "SSL3", "tls_version_client_max"],
  ] as const) {
    assert.throws(
      () => versionRange("client", min, max),
      (e: Error) =>
        e instanceof VersionError &&
        e.message ===
          `invalid value for ${option}: 'SSL3' (SSL 3.0 is not available in Node's OpenSSL; the lowest is TLS1)`,
    );
  }
});

test("unknown and hostile names are refused in one line listing the names", () => {
  for (const bad of [
    "",
    "tls1_2",
    "TLSv1.2",
    "TLS1_4",
    " TLS1_2",
    "TLS1_2\n",
    "UNBOUNDED\r\nX: y",
    "\u0000",
    "x".repeat(10_000),
  ]) {
    assert.throws(
      () => versionRange("server", bad, "UNBOUNDED"),
      (e: Error) =>
        e instanceof VersionError &&
        e.message.startsWith("invalid value for tls_version_server_min: ") &&
        e.message.endsWith("(expected one of UNBOUNDED, SSL3, TLS1, TLS1_1, TLS1_2, TLS1_3)") &&
        !/[\r\n]/.test(e.message),
      JSON.stringify(bad.slice(0, 20)),
    );
  }
  // Names that are properties of every object are no version either.
  for (const bad of ["constructor", "__proto__", "toString"]) {
    assert.throws(() => versionRange("client", "TLS1_2", bad), /tls_version_client_max/);
  }
});

test.run();
