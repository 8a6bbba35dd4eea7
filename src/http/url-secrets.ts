// API keys where they must not be. A URL ends up in proxy logs, browser histories and our own log lines, so a key anywhere in
// it (path or query, percent-encoded or not) is refused (plugins/auth.ts, and the router's refusals in
// plugins/error-handler.ts) and a path that holds one is never logged (logging.ts).

/** Every API key starts so (`qe_sk_<env>_…`); matched case-insensitively: refusing a look-alike costs nothing. */
const KEY_MARKER = /qe_sk_/i;
/** Percent-decoding rounds a URL may go through between a client and a log reader (proxies decode too). */
const DECODE_ROUNDS = 3;
/** A logged path is cut here: a 16 KiB path in every log line of a request helps nobody. */
const MAX_LOGGED_PATH = 512;

/** Undoes the ASCII percent-escapes (all a key is made of), leaving malformed or non-ASCII ones as they are. */
const decodeAscii = (s: string) => s.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** True when the text holds what looks like an API key (e.g. a caller's X-Request-Id: we would echo and log it). */
export const holdsApiKey = (text: string): boolean => KEY_MARKER.test(text);

/** True when the URL (path and query), as sent or after a few rounds of percent-decoding, holds an API key. */
export function urlHoldsKey(url: string): boolean {
  let text = url;
  for (let round = 0; round <= DECODE_ROUNDS; round++) {
    if (KEY_MARKER.test(text)) return true;
    const next = decodeAscii(text);
    if (next === text) return false;
    text = next;
  }
  return KEY_MARKER.test(text);
}

/** The URL's path as it may be logged: without the query string, never with a key in it, bounded in length. */
export function loggablePath(url: string): string {
  const path = url.split("?")[0]!;
  if (urlHoldsKey(path)) return "[redacted: the path held an API key]";
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
}
