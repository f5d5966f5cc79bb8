/** The hooks of one intercepted HTTPS request, in SEMANTICS.md §3's order. */
export const HTTPS_HOOK_ORDER = [
  "clientConnect",
  "httpConnect",
  "serverConnect",
  "serverConnected",
  "tlsClienthello",
  "tlsStartServer",
  "tlsEstablishedServer",
  "tlsStartClient",
  "tlsEstablishedClient",
  "requestheaders",
  "request",
  "responseheaders",
  "response",
  "serverDisconnect",
  "clientDisconnect",
];
