import { test } from "uvu";
import * as assert from "uvu/assert";
import { curl, startOrigin, startProxy } from "../helpers/harness.ts";

test("--set proxyauth=user:pass: explicit HTTP, CONNECT and SOCKS5 clients must authenticate", async () => {
  const origin = await startOrigin((req, res) => res.end(`ok ${req.url}`));
  const proxy = await startProxy(["--mode", "regular@0", "--mode", "socks5@0", "--set", "proxyauth=alice:s3cret"]);
  try {
    // Both start-up lines first: the listeners may print in either order.
    await proxy.waitForOutput(/SOCKS5 proxy listening/);
    await proxy.waitForOutput(/Proxy server listening/);
    const ports = [...proxy.stdout().matchAll(/listening at [a-z0-9]+:\/\/[^\s]*:(\d+)/g)].map((m) => Number(m[1]));
    const [http, socks] = [
      ...proxy.stdout().matchAll(/(Proxy server|SOCKS5 proxy) listening at [a-z0-9]+:\/\/[^\s]*:(\d+)/g),
    ].map((m) => Number(m[2]));
    assert.ok(ports.length === 2 && http && socks);
    const url = `http://localhost:${origin.port}`;

    const none = await curl(["-x", `http://127.0.0.1:${http}`, `${url}/none`, "-D", "-"]);
    assert.match(none.stdout.toString(), /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    assert.match(none.stdout.toString(), /Proxy-Authenticate: Basic realm="interloper"/);
    const good = await curl(["-x", `http://alice:s3cret@127.0.0.1:${http}`, `${url}/good`]);
    assert.is(good.stdout.toString(), "ok /good");
    const tunnel = await curl(["-p", "-x", `http://alice:s3cret@127.0.0.1:${http}`, `${url}/tunnel`]);
    assert.is(tunnel.stdout.toString(), "ok /tunnel");
    const refusedTunnel = await curl(["-p", "-x", `http://127.0.0.1:${http}`, `${url}/refused`]);
    assert.is.not(refusedTunnel.code, 0);
    assert.match(refusedTunnel.stderr, /407/);

    const socksGood = await curl(["--socks5-hostname", `alice:s3cret@127.0.0.1:${socks}`, `${url}/socks`]);
    assert.is(socksGood.stdout.toString(), "ok /socks");
    const socksBad = await curl(["--socks5-hostname", `alice:wrong@127.0.0.1:${socks}`, `${url}/socks-bad`]);
    assert.is.not(socksBad.code, 0);
    const socksNone = await curl(["--socks5-hostname", `127.0.0.1:${socks}`, `${url}/socks-none`]);
    assert.is.not(socksNone.code, 0);
    await proxy.waitForOutput(/SOCKS5 client offers no acceptable authentication method/);
    const log = proxy.stdout();
    assert.match(log, /SOCKS5 authentication failed for user 'alice'/);
    assert.match(log, /CONNECT localhost:\d+ answered with 407 Proxy Authentication Required/);
    assert.not.match(log, /GET http:\/\/localhost:\d+\/socks-bad/);
    assert.ok(
      !origin.requests.some((r) => r.url === "/none" || r.url === "/refused" || r.url.startsWith("/socks-")),
      "refused clients never reach the origin",
    );
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test.run();
