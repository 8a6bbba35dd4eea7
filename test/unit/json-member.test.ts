// memberSourceText: the exact source text of one top-level member, so `raw` is stored as the bank sent it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { memberSourceText } from "../../src/http/json-member.js";

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
