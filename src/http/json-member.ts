// Two readings of a JSON body's source text, next to the parsed value: the exact source text of one member of
// the top-level object (the ingest stores the registry's `raw` envelope byte-for-byte as the bank sent it:
// number formats, key order and spacing included, which re-serialising the parsed value would not preserve),
// and the first member name an object repeats (a body that says `"valid": true` and `"valid": false` means
// one thing to a last-wins parser and another to a first-wins one, so it is refused). The input has already
// been parsed successfully by JSON.parse. And, before any parsing, how deep the text nests.

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) i++;
  return i;
}

/**
 * Index just past the string literal that starts at i (s[i] === '"'). Jumps from quote to quote with indexOf
 * (a photo's base64 is a 7 MB string: a character loop over it costs milliseconds per request); a quote ends
 * the string unless an odd number of backslashes precedes it.
 */
function skipString(s: string, i: number): number {
  for (let q = s.indexOf('"', i + 1); q !== -1; q = s.indexOf('"', q + 1)) {
    let backslashes = 0;
    while (s.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
  }
  throw new Error("unterminated string");
}

/** Index just past the value that starts at i. Iterative, so deep nesting cannot overflow the stack. */
function skipValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return skipString(s, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    while (i < s.length) {
      const ch = s[i];
      if (ch === '"') {
        i = skipString(s, i);
        continue;
      }
      if (ch === "{" || ch === "[") depth++;
      else if (ch === "}" || ch === "]") {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new Error("unterminated value");
  }
  while (i < s.length && !",}] \t\n\r".includes(s[i]!)) i++;
  return i;
}

/**
 * The source text of member `name` of the top-level object in `json`, or undefined when absent. With
 * duplicate keys the last one wins, as in JSON.parse (the body parser refuses duplicates before this runs).
 */
export function memberSourceText(json: string, name: string): string | undefined {
  let i = skipWs(json, 0);
  if (json[i] !== "{") return undefined;
  i = skipWs(json, i + 1);
  let found: string | undefined;
  while (i < json.length && json[i] !== "}") {
    const keyEnd = skipString(json, i);
    const key = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipWs(json, keyEnd);
    i = skipWs(json, i + 1); // past ':'
    const valueEnd = skipValue(json, i);
    if (key === name) found = json.slice(i, valueEnd);
    i = skipWs(json, valueEnd);
    if (json[i] === ",") i = skipWs(json, i + 1);
  }
  return found;
}

/** Index just past the string literal that starts at i, skipping its content natively (a photo is megabytes). */
function stringEnd(s: string, i: number): number {
  for (let from = i + 1; ; ) {
    const quote = s.indexOf('"', from);
    if (quote < 0) throw new Error("unterminated string");
    let backslashes = 0;
    while (s.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/**
 * Objects and arrays inside one another, at most, in any request body (`raw` included). A registry envelope
 * nests a handful of levels; millions of levels cost the parser seconds and hundreds of megabytes.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Whether the JSON text opens more than `max` objects and arrays inside one another (strings skipped). Runs
 * before the text is parsed, in constant memory: JSON.parse of an 8 MiB body nested 4 million deep holds the
 * event loop for seconds and leaves ~250 MB of RSS behind. Malformed text is the parser's to refuse, so an
 * unterminated string ends the count.
 */
export function nestsDeeperThan(json: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < json.length; ) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const quote = stringEndOrNone(json, i);
      if (quote < 0) return false;
      i = quote;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
    i++;
  }
  return false;
}

function stringEndOrNone(s: string, i: number): number {
  try {
    return stringEnd(s, i);
  } catch {
    return -1;
  }
}

/** One open object or array while scanning: its member names so far (lazily a Set), or its element index. */
interface ObjectFrame {
  names: string | Set<string> | undefined;
  /** The member whose value is being read; undefined while a name is expected. */
  current: string | undefined;
}
type Frame = ObjectFrame | number;

export interface DuplicateMember {
  /** The repeated name. */
  name: string;
  /** Member names and array indices from the top-level value down to the object that repeats `name`. */
  path: (string | number)[];
}

/**
 * The first member name repeated within one object, at any depth, in document order; undefined when every
 * object's names are unique. Names compare as JSON.parse decodes them (`"valid"` and `"v\u0061lid"` are the
 * same name). Iterative, so nesting depth costs heap, not stack.
 */
export function findDuplicateMember(json: string): DuplicateMember | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < json.length; ) {
    const c = json.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x22 /* " */) {
      const end = stringEnd(json, i);
      if (typeof top === "object" && top.current === undefined) {
        const literal = json.slice(i, end);
        const name = literal.includes("\\") ? (JSON.parse(literal) as string) : literal.slice(1, -1);
        if (top.names === undefined) top.names = name;
        else {
          if (typeof top.names === "string") top.names = new Set([top.names]);
          if (top.names.has(name)) return { name, path: pathOf(stack) };
          top.names.add(name);
        }
        top.current = name;
      }
      i = end;
      continue;
    }
    if (c === 0x7b /* { */) stack.push({ names: undefined, current: undefined });
    else if (c === 0x5b /* [ */) stack.push(0);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x2c /* , */) {
      if (typeof top === "object") top.current = undefined;
      else if (top !== undefined) stack[stack.length - 1] = top + 1;
    }
    i++;
  }
  return undefined;
}

function pathOf(stack: Frame[]): (string | number)[] {
  return stack.slice(0, -1).map((f) => (typeof f === "object" ? f.current! : f));
}
