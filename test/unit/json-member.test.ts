// memberSourceText: the exact source text of one top-level member, so `raw` is stored as the bank sent it.
// findDuplicateMember: the first member name an object repeats, at any depth, so such a body is refused.
// nestsDeeperThan: how deep a text nests, counted before it is parsed.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findDuplicateMember, memberSourceText, nestsDeeperThan } from "../../src/http/json-member.js";

describe("memberSourceText", () => {
  it("returns the value's bytes exactly, whatever the spacing", () => {
    const raw = '{ "b" : 2,\n\t"a":[1, 2e3 , -0.50E+1 ] , "s":"x y" }';
    for (const json of [
      `{"raw":${raw}}`,
      `{ "raw" : ${raw} }`,
      `\n\t{\r\n"customerId":"c1",\n  "raw"\t:\n${raw}\n,"valid":true}\n`,
      `{"valid":true,"raw":${raw}}`,
    ]) {
      expect(memberSourceText(json, "raw")).toBe(raw);
    }
  });

  it("keeps number spelling, escapes and unicode as sent", () => {
    expect(memberSourceText('{"raw":1.0}', "raw")).toBe("1.0");
    expect(memberSourceText('{"raw":1.0 }', "raw")).toBe("1.0");
    expect(memberSourceText('{"raw":-0e-0,"x":1}', "raw")).toBe("-0e-0");
    expect(memberSourceText('{"raw":true}', "raw")).toBe("true");
    expect(memberSourceText('{"raw":null}', "raw")).toBe("null");
    const s = '"a\\"b\\\\\\u00e9é\\n\\/"';
    expect(memberSourceText(`{"raw":${s},"z":0}`, "raw")).toBe(s);
    const o = '{"k\\"}":"v\\\\","\\u0041":"\\ud83d\\ude00"}';
    expect(memberSourceText(`{"raw":${o}}`, "raw")).toBe(o);
  });

  it("is not fooled by braces, brackets, commas and quotes inside strings, nor by the name appearing elsewhere", () => {
    const raw = '{"a":"}","b":"]","c":"{[\\"","d":[",", "\\\\"], "raw":"inner"}';
    const json = `{"note":"\\"raw\\": 1 }","nested":{"raw":"not me"},"raw":${raw},"tail":"{"}`;
    expect(JSON.parse(json).raw).toEqual(JSON.parse(raw));
    expect(memberSourceText(json, "raw")).toBe(raw);
    expect(memberSourceText(json, "tail")).toBe('"{"');
    expect(memberSourceText(json, "nested")).toBe('{"raw":"not me"}');
  });

  it("matches a key spelled with escapes, as JSON.parse does", () => {
    expect(memberSourceText('{"r\\u0061w":{"x":1}}', "raw")).toBe('{"x":1}');
  });

  it("duplicate keys: the last one wins, like JSON.parse", () => {
    const json = '{"raw":{"first":1},"x":2,"raw" : [ "second" ] }';
    expect(JSON.parse(json).raw).toEqual(["second"]);
    expect(memberSourceText(json, "raw")).toBe('[ "second" ]');
  });

  it("absent member, empty object, non-object top level → undefined", () => {
    expect(memberSourceText('{"a":1}', "raw")).toBeUndefined();
    expect(memberSourceText("{}", "raw")).toBeUndefined();
    expect(memberSourceText(" { } ", "raw")).toBeUndefined();
    expect(memberSourceText('[{"raw":1}]', "raw")).toBeUndefined();
    expect(memberSourceText('"raw"', "raw")).toBeUndefined();
    expect(memberSourceText("null", "raw")).toBeUndefined();
  });

  it("handles very deep nesting without overflowing the stack", () => {
    const depth = 200_000;
    const deep = "[".repeat(depth) + "{}" + "]".repeat(depth);
    const objs = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
    expect(memberSourceText(`{"raw":${deep},"after":1}`, "raw")).toBe(deep);
    expect(memberSourceText(`{"raw":${objs} , "after":1}`, "raw")).toBe(objs);
    expect(memberSourceText(`{"raw":${deep},"after":"x"}`, "after")).toBe('"x"');
  });

  it("property: for any JSON object and any spacing, the member's text parses back to the member", () => {
    const spaced = (v: unknown, indent: number) => JSON.stringify(v, null, indent);
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.jsonValue(),
        fc.integer({ min: 0, max: 4 }),
        (others, raw, indent) => {
          const obj = { ...others, raw };
          const json = spaced(obj, indent);
          const text = memberSourceText(json, "raw");
          expect(text).toBeDefined();
          expect(JSON.parse(text!)).toEqual(JSON.parse(JSON.stringify(raw)));
          expect(json).toContain(text!);
          for (const k of Object.keys(others)) {
            if (k === "raw") continue;
            expect(JSON.parse(memberSourceText(json, k)!)).toEqual(JSON.parse(JSON.stringify(obj[k as keyof typeof obj])));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("findDuplicateMember", () => {
  it("finds a name repeated at the top level, with its path (empty)", () => {
    expect(findDuplicateMember('{"valid":true,"customerId":"c","valid":false}')).toEqual({ name: "valid", path: [] });
    expect(findDuplicateMember('{ "a" : 1 ,\n\t"a":1}')).toEqual({ name: "a", path: [] });
    expect(findDuplicateMember('{"":1,"":2}')).toEqual({ name: "", path: [] });
  });

  it("compares names as JSON.parse decodes them: escapes are the same name", () => {
    expect(findDuplicateMember('{"valid":true,"v\\u0061lid":false}')).toEqual({ name: "valid", path: [] });
    expect(findDuplicateMember('{"\\"q":1,"\\u0022q":2}')).toEqual({ name: '"q', path: [] });
    expect(findDuplicateMember('{"\\ud83d\\ude00":1,"😀":2}')).toEqual({ name: "😀", path: [] });
    // different names that look alike are not duplicates
    expect(findDuplicateMember('{"a":1,"A":2,"a ":3,"\\u00e9":4,"e\\u0301":5}')).toBeUndefined();
  });

  it("finds one at any depth, with the path of member names and array indices down to its object", () => {
    expect(findDuplicateMember('{"raw":{"result":"MATCH","nik":"1","result":"NO_MATCH"}}')).toEqual({ name: "result", path: ["raw"] });
    expect(findDuplicateMember('{"raw":{"a":[1,{"b":{}},{"x":1,"x":2}]}}')).toEqual({ name: "x", path: ["raw", "a", 2] });
    expect(findDuplicateMember('[{"k":1},{"k":1,"k":2}]')).toEqual({ name: "k", path: [1] });
  });

  it("the same name in different objects, or as a value, is no duplicate", () => {
    expect(findDuplicateMember('{"a":{"a":{"a":1}},"b":{"a":2},"c":[{"a":1},{"a":2}],"d":"a","e":["a","a"]}')).toBeUndefined();
    expect(findDuplicateMember('{"a":"\\"a\\":1,\\"a\\":2","b":"}{,\\\\","a2":1}')).toBeUndefined();
    for (const scalar of ['"x"', "1", "null", "[]", "{}", "[[],[{}]]"]) expect(findDuplicateMember(scalar)).toBeUndefined();
  });

  it("is not fooled by quotes, backslashes, braces and commas inside strings", () => {
    expect(findDuplicateMember('{"s":"\\\\","a":1,"t":"\\\\\\"","a":2}')).toEqual({ name: "a", path: [] });
    expect(findDuplicateMember('{"x":"{\\"y\\":1,\\"y\\":2}","y":1}')).toBeUndefined();
    expect(findDuplicateMember('{"x":[",",{"y":1},"}"],"y":1,"z":{"y":"]","y":0}}')).toEqual({ name: "y", path: ["z"] });
  });

  it("handles very deep nesting, many names and megabyte strings", () => {
    const depth = 200_000;
    expect(findDuplicateMember('{"a":'.repeat(depth) + "1" + "}".repeat(depth))).toBeUndefined();
    expect(findDuplicateMember("[".repeat(depth) + '{"q":1,"q":2}' + "]".repeat(depth))?.path).toHaveLength(depth);
    const many = `{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":0`).join(",")},"k99999":1}`;
    expect(findDuplicateMember(many)).toEqual({ name: "k99999", path: [] });
    const photo = "A".repeat(7 * 1024 * 1024);
    expect(findDuplicateMember(`{"photo":"${photo}","valid":true,"photo":"x"}`)).toEqual({ name: "photo", path: [] });
  });

  it("property: agrees with the parsed value — no duplicate found iff re-serialising loses no member", () => {
    // Bodies built with a possibly repeated name somewhere: JSON.parse keeps one member per name, so a
    // duplicate exists exactly when the source has more members than the parsed value.
    // names as they appear in the source: two spellings each of "valid" and "é"
    const name = fc.constantFrom("a", "b", "v\\u0061lid", "valid", "é", "\\u00e9");
    const obj: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
        fc.array(fc.tuple(name, tie("node")), { maxLength: 4 }).map((ms) => `{${ms.map(([k, v]) => `"${k}":${v}`).join(",")}}`),
        fc.array(tie("node"), { maxLength: 3 }).map((vs) => `[${vs.join(",")}]`),
      ),
    })).node;
    const members = (v: unknown): number => (Array.isArray(v) ? v.reduce((n: number, x) => n + members(x), 0) : v && typeof v === "object" ? Object.values(v).reduce((n: number, x) => n + 1 + members(x), 0) : 0);
    const sourceMembers = (text: string): number => {
      // count members in the source: a name is a string followed by ':'
      let n = 0;
      for (let i = 0; i < text.length; i++) {
        if (text[i] === '"') {
          let j = i + 1;
          while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
          if (text[j + 1] === ":") n++;
          i = j;
        }
      }
      return n;
    };
    let found = 0;
    fc.assert(
      fc.property(obj, (text) => {
        const parsed: unknown = JSON.parse(text);
        const duplicate = findDuplicateMember(text);
        if (duplicate) found++;
        expect(duplicate !== undefined, text).toBe(sourceMembers(text) !== members(parsed));
      }),
      { numRuns: 500 },
    );
    expect(found, "the generator makes bodies with and without duplicates").toBeGreaterThan(50);
    expect(found).toBeLessThan(450);
  });
});

describe("nestsDeeperThan", () => {
  it("counts objects and arrays inside one another, not side by side, not inside strings", () => {
    expect(nestsDeeperThan("{}", 0)).toBe(true);
    expect(nestsDeeperThan("{}", 1)).toBe(false);
    expect(nestsDeeperThan('{"a":[{}],"b":[[]]}', 3)).toBe(false);
    expect(nestsDeeperThan('{"a":[{}],"b":[[]]}', 2)).toBe(true);
    expect(nestsDeeperThan(`[${"[],".repeat(10_000)}[]]`, 2)).toBe(false);
    expect(nestsDeeperThan(`{"s":"[[[[{{{{","t":"\\"[[[[\\\\","u":[]}`, 2)).toBe(false);
    expect(nestsDeeperThan(`{"s":"\\\\"}`.replace("}", ",[[]]}"), 2)).toBe(true);
    expect(nestsDeeperThan("1", 0)).toBe(false);
  });

  it("leaves malformed text to the parser: an unterminated string ends the count", () => {
    expect(nestsDeeperThan('[[["', 2)).toBe(true);
    expect(nestsDeeperThan('[["[[[[', 2)).toBe(false);
  });

  it("agrees with the depth of the parsed value (property)", () => {
    const depthOf = (v: unknown): number => (typeof v === "object" && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.nat(8), (value, max) => {
        expect(nestsDeeperThan(JSON.stringify(value), max)).toBe(depthOf(value) > max);
      }),
      { numRuns: 500 },
    );
  });
});
