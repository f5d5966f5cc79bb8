/** An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, how a dual-stack socket shows IPv4 peers) as IPv4; others as they are. */
export function unmapped(host: string): string {
  return host.toLowerCase().startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}
