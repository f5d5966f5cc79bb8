/**
 * Content types by file extension, for map_local's answers. mitmproxy asks
 * Python's `mimetypes`, which on Linux reads /etc/mime.types; this is what
 * that gives for the files a web page is made of (checked against Python
 * 3.11 on Debian), so the same file gets the same type on every platform.
 */
const TYPES: Record<string, string> = {
  html: "text/html",
  htm: "text/html",
  xhtml: "application/xhtml+xml",
  css: "text/css",
  js: "text/javascript",
  mjs: "text/javascript",
  json: "application/json",
  jsonld: "application/ld+json",
  webmanifest: "application/manifest+json",
  xml: "application/xml",
  rss: "application/x-rss+xml",
  atom: "application/atom+xml",
  txt: "text/plain",
  csv: "text/csv",
  md: "text/markdown",
  ics: "text/calendar",
  vtt: "text/vtt",
  svg: "image/svg+xml",
  png: "image/png",
  apng: "image/apng",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  jxl: "image/jxl",
  heic: "image/heic",
  ico: "image/vnd.microsoft.icon",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  eot: "application/vnd.ms-fontobject",
  wasm: "application/wasm",
  pdf: "application/pdf",
  zip: "application/zip",
  tar: "application/x-tar",
  "7z": "application/x-7z-compressed",
  bin: "application/octet-stream",
  mp4: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
  m3u8: "application/vnd.apple.mpegurl",
  mpd: "application/dash+xml",
  mp3: "audio/mpeg",
  m4a: "audio/mp4",
  aac: "audio/aac",
  flac: "audio/flac",
  ogg: "audio/ogg",
  opus: "audio/ogg",
  wav: "audio/x-wav",
};

/** The content type for a file name, or undefined when its extension is not known (no header is sent then). */
export function contentTypeOf(fileName: string): string | undefined {
  const base = fileName.slice(fileName.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const ext = base.slice(dot + 1).toLowerCase();
  return Object.hasOwn(TYPES, ext) ? TYPES[ext] : undefined;
}
