// Finds the exact source text of one member of a top-level JSON object. The ingest stores the registry's
// `raw` envelope byte-for-byte as the bank sent it (number formats, key order and spacing included), which
// re-serialising the parsed value would not preserve. The input has already been parsed successfully.

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) i++;
  return i;
}

/** Index just past the string literal that starts at i (s[i] === '"'). */
function skipString(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === '"') return i + 1;
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
 * duplicate keys the last one wins, as in JSON.parse.
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
