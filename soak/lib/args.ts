// The command line of `npm run soak`.
export interface Options {
  ids: string[];
  quick: boolean;
  seed: number;
  minutes: number;
  replay?: string;
  targets: string[];
}

export function usage(families: Array<{ id: string; title: string }>): string {
  return `usage: npm run soak -- [FAMILY ...] [--quick] [--seed N] [--minutes N] [--targets A,B] [--replay FILE]

Families (default: all, in this order): ${families.map((f) => `\n  ${f.id.padEnd(14)} ${f.title}`).join("")}

  --quick        a ~1-minute smoke run (small counts, a 15 s mixed soak); report in bench/results/
  --seed N       the seed of every generated input (default: a random one, printed and reported)
  --minutes N    length of the mixed soak (default 10)
  --targets A,B  the fuzz targets to run (default all: http1, http1-tunnel, chunked, tls, tls-tunnel, socks5, websocket, h2c)
  --replay FILE  sends a saved fuzz case (the .json the report names) to a fresh proxy and says how it ended`;
}

export function parseArgs(
  argv: string[],
  families: Array<{ id: string; title: string }>,
  fail: (msg: string) => never,
): Options {
  const known = families.map((f) => f.id);
  const aliases: Record<string, string> = {
    many: "many-conns",
    connections: "many-conns",
    h2: "h2-floods",
    addons: "addon-faults",
    origins: "origin-faults",
    mixed: "soak",
  };
  const o: Options = { ids: [], quick: false, seed: Math.floor(Math.random() * 2 ** 31), minutes: 10, targets: [] };
  const value = (i: number, a: string): string => (a.includes("=") ? a.slice(a.indexOf("=") + 1) : (argv[i + 1] ?? ""));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      console.log(usage(families));
      process.exit(0);
    } else if (a === "--quick") o.quick = true;
    else if (a.startsWith("--seed")) {
      o.seed = Number(value(i, a));
      if (!a.includes("=")) i++;
      if (!Number.isSafeInteger(o.seed) || o.seed < 0) fail(`--seed wants a whole number, got '${argv[i]}'`);
    } else if (a.startsWith("--minutes")) {
      o.minutes = Number(value(i, a));
      if (!a.includes("=")) i++;
      if (!(o.minutes > 0 && o.minutes <= 24 * 60))
        fail(`--minutes wants a number of minutes (0 < N ≤ 1440), got '${argv[i]}'`);
    } else if (a.startsWith("--targets")) {
      o.targets = value(i, a)
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);
      if (!a.includes("=")) i++;
    } else if (a.startsWith("--replay")) {
      o.replay = value(i, a);
      if (!a.includes("=")) i++;
    } else if (a.startsWith("-")) fail(`unknown option ${a}\n\n${usage(families)}`);
    else {
      const id = aliases[a.toLowerCase()] ?? a.toLowerCase();
      if (!known.includes(id)) fail(`unknown family '${a}' (known: ${known.join(", ")})`);
      if (!o.ids.includes(id)) o.ids.push(id);
    }
  }
  o.ids = o.ids.length ? o.ids.sort((x, y) => known.indexOf(x) - known.indexOf(y)) : known;
  return o;
}
