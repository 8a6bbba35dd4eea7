// The hostile-input corpora's shared harness (ingest-hostile.test.ts, face-match-hostile.test.ts): how one case
// is sent, checked and counted, and the photo cases both endpoints refuse, since they share the photo rules.
// Every case: no 5xx, a refused request writes no row, and a 4xx is in the platform's error shape.
import net from "node:net";
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { expect } from "vitest";
import { apng, jpeg, jpegInsert, markerAt, mpfSegment, png, pngChunk, pngInsert, pngInsertBeforeEnd, tinyZip } from "../helpers/images.js";

export interface Outcome {
  status: number | "no reply";
  body: string;
}
export type Send = () => Promise<Outcome>;

/**
 * A refusal Node makes itself, before Fastify sees a request: a missing Host header (HTTP/1.1) is answered
 * 400 with an empty (possibly chunked) body. Everything else, including the HTTP parser's refusals (malformed
 * framing, headers too large, timeouts), is answered in the platform's error shape (src/plugins/error-handler.ts).
 */
export function refusedByNode(out: Outcome): boolean {
  return out.status === 400 && (out.body === "" || out.body === "0\r\n\r\n");
}

/** Memory after a full garbage collection (so only what is really kept counts), in MB. */
export function settledMemory(): { rss: number; heap: number } {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  const m = process.memoryUsage();
  return { rss: m.rss / 1048576, heap: m.heapUsed / 1048576 };
}

export interface Corpus {
  readonly figures: { tried: number; fiveXx: number; rowsByRefused: number; accepted: number; byStatus: Record<string, number> };
  /** The cases after which the process's RSS had grown most (diagnostics for a memory budget). */
  readonly rssSteps: { name: string; mb: number }[];
  /**
   * Runs one case: counts rows around it, records the figures, and returns what the server answered. Throws
   * (failing the test, or letting fast-check shrink) on a 5xx, on rows written by a refused request, and on a
   * 4xx outside the platform's error shape.
   */
  attempt(name: string, send: Send): Promise<Outcome>;
  /** A hand-picked case: one status, the right one (never a set), named in the failure. */
  expectStatus(name: string, send: Send, expected: number): Promise<Outcome>;
  /** The figures line each corpus prints when it ends. */
  report(what: string): string;
}

/** A corpus counting, around every case, the rows `rowCounts` returns (one number per table). */
export function createCorpus(rowCounts: () => Promise<number[]>): Corpus {
  const figures = { tried: 0, fiveXx: 0, rowsByRefused: 0, accepted: 0, byStatus: {} as Record<string, number> };
  const rssSteps: { name: string; mb: number }[] = [];
  const attempt = async (name: string, send: Send): Promise<Outcome> => {
    const before = await rowCounts();
    const rss0 = process.memoryUsage().rss;
    const out = await send();
    rssSteps.push({ name, mb: Math.round((process.memoryUsage().rss - rss0) / 1048576) });
    const after = await rowCounts();
    figures.tried++;
    figures.byStatus[String(out.status)] = (figures.byStatus[String(out.status)] ?? 0) + 1;
    const refused = out.status === "no reply" || out.status >= 300;
    const written = after.reduce((sum, n, i) => sum + n - before[i]!, 0);
    if (typeof out.status === "number" && out.status >= 500) {
      figures.fiveXx++;
      throw new Error(`${name}: ${out.status} ${out.body.slice(0, 300)}`);
    }
    if (refused && written !== 0) {
      figures.rowsByRefused += written;
      throw new Error(`${name}: refused (${out.status}) but wrote ${written} row(s)`);
    }
    if (!refused) figures.accepted++;
    if (typeof out.status === "number" && out.status >= 400 && !refusedByNode(out)) {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(out.body) as Record<string, unknown>;
      } catch {
        throw new Error(`${name}: ${out.status} without a JSON error body: ${out.body.slice(0, 200)}`);
      }
      if (typeof body.error !== "string" || typeof body.code !== "string") throw new Error(`${name}: ${out.status} not in the error shape: ${out.body.slice(0, 200)}`);
      if (out.body.length > 16_384) throw new Error(`${name}: a ${out.body.length}-byte error body`);
    }
    return out;
  };
  return {
    figures,
    rssSteps,
    attempt,
    async expectStatus(name, send, expected) {
      const out = await attempt(name, send);
      expect(out.status, `${name}: got ${out.status} ${out.body.slice(0, 200)}`).toBe(expected);
      return out;
    },
    report: (what) =>
      `[hostile] ${what}: ${figures.tried} cases tried on ${process.env.TEST_DB ?? "pglite"}: ${figures.fiveXx} 5xx, ${figures.rowsByRefused} rows written by refused requests, ` +
      `${figures.accepted} accepted; by status ${JSON.stringify(figures.byStatus)}`,
  };
}

/** Over a real socket to `port`: exactly these bytes; the reply's status line and body (or "no reply" if cut). */
export function overSocket(port: () => number) {
  return (bytes: Buffer | string, { endAfterMs = 0 }: { endAfterMs?: number } = {}): Send =>
    () =>
      new Promise<Outcome>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port: port() });
        const chunks: Buffer[] = [];
        socket.on("data", (c: Buffer) => chunks.push(c));
        socket.on("error", () => {});
        socket.on("close", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
          resolve(m ? { status: Number(m[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) } : { status: "no reply", body: text });
        });
        socket.on("connect", () => {
          socket.write(bytes);
          if (endAfterMs) setTimeout(() => socket.end(), endAfterMs);
        });
        socket.setTimeout(15_000, () => socket.destroy());
      });
}

/** A POST to `url` over HTTP/1.1 with these header lines (Host and Connection: close added) and body. */
export function httpPost(url: string, head: string[], body: Buffer | string = ""): Buffer {
  return Buffer.concat([Buffer.from(`POST ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${head.join("\r\n")}\r\n\r\n`, "latin1"), Buffer.from(body)]);
}

// ------------------------------------------------------------------------- photos the rules refuse

/** A PNG whose IHDR claims other dimensions, with a correct CRC (so only the dimension rules can refuse it). */
export function pngWithDimensions(base: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(base);
  out.writeUInt32BE(width >>> 0, 16);
  out.writeUInt32BE(height >>> 0, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

const HTML = Buffer.from("<html><body><script>alert(document.cookie)</script></body></html>");

/** Polyglots, absurd dimensions, broken structure and other formats: each refused with a 400. */
export async function malformedPhotos(goodJpeg: Buffer, goodPng: Buffer): Promise<[string, Buffer][]> {
  const sos = markerAt(goodJpeg, 0xda);
  const sof = markerAt(goodJpeg, 0xc0);
  const sofZero = Buffer.from(goodJpeg);
  sofZero.writeUInt16BE(0, sof + 5);
  sofZero.writeUInt16BE(0, sof + 7);
  const sofHuge = Buffer.from(goodJpeg);
  sofHuge.writeUInt16BE(65_000, sof + 5);
  sofHuge.writeUInt16BE(65_000, sof + 7);
  const badLength = Buffer.from(goodJpeg);
  badLength.writeUInt16BE(0xffff, sof + 2);
  const badCrc = Buffer.from(goodPng);
  badCrc.writeUInt8(badCrc.readUInt8(29) ^ 0xff, 29);
  return [
    ["JPEG + ZIP polyglot", Buffer.concat([goodJpeg, tinyZip()])],
    ["JPEG + HTML polyglot", Buffer.concat([goodJpeg, HTML])],
    ["PNG + ZIP polyglot", Buffer.concat([goodPng, tinyZip()])],
    ["PNG + HTML polyglot", Buffer.concat([goodPng, HTML])],
    ["ZIP first, JPEG after", Buffer.concat([tinyZip(), goodJpeg])],
    ["HTML first, JPEG after", Buffer.concat([HTML, goodJpeg])],
    ["PDF header", Buffer.concat([Buffer.from("%PDF-1.7\n"), goodJpeg])],
    ["PNG dimensions 0x0", pngWithDimensions(goodPng, 0, 0)],
    ["PNG 1x1 claimed", pngWithDimensions(goodPng, 1, 1)],
    ["PNG 2^31-1 x 1", pngWithDimensions(goodPng, 2 ** 31 - 1, 1)],
    ["PNG 65535 x 65535", pngWithDimensions(goodPng, 65_535, 65_535)],
    ["PNG 4096 x 4097", pngWithDimensions(goodPng, 4096, 4097)],
    ["PNG 4096 x 4096 claimed, 96x120 of data", pngWithDimensions(goodPng, 4096, 4096)],
    ["PNG 2^32-1 x 2^32-1", pngWithDimensions(goodPng, 2 ** 32 - 1, 2 ** 32 - 1)],
    ["PNG signature only", goodPng.subarray(0, 8)],
    ["PNG without IEND", goodPng.subarray(0, goodPng.length - 12)],
    ["PNG with a bad IHDR CRC", badCrc],
    ["JPEG SOI only", goodJpeg.subarray(0, 3)],
    ["JPEG SOI + EOI", Buffer.from([0xff, 0xd8, 0xff, 0xd9])],
    ["JPEG 0x0 frame", sofZero],
    ["JPEG 65000x65000 frame", sofHuge],
    ["JPEG segment length past the end", badLength],
    ["JPEG without its scan", Buffer.concat([goodJpeg.subarray(0, sos), Buffer.from([0xff, 0xd9])])],
    ["JPEG cut mid-scan", Buffer.concat([goodJpeg.subarray(0, sos + 40), Buffer.from([0xff, 0xd9])])],
    ["JPEG with two SOF", jpegInsert(goodJpeg, goodJpeg.subarray(sof, sof + 2 + goodJpeg.readUInt16BE(sof + 2)))],
    ["JPEG header on PNG data", Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), goodPng.subarray(3)])],
    ["PNG header on JPEG data", Buffer.concat([goodPng.subarray(0, 8), goodJpeg.subarray(8)])],
    ["a GIF", Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64")],
    ["a WebP", await sharp({ create: { width: 80, height: 80, channels: 3, background: "#888" } }).webp().toBuffer()],
    ["an SVG", Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script></svg>')],
    ["a TIFF", await sharp({ create: { width: 80, height: 80, channels: 3, background: "#888" } }).tiff().toBuffer()],
  ];
}

/** Bytes after the image's end (wherever the decoder would stop) and hidden frames: each a 400 on `photo`. */
export async function photosWithHiddenData(goodJpeg: Buffer, goodPng: Buffer): Promise<[string, Buffer][]> {
  const eoi = Buffer.from([0xff, 0xd9]);
  const iend = goodPng.subarray(goodPng.length - 12);
  const php = Buffer.from("<?php system($_GET['c']); ?>");
  const sof = markerAt(goodJpeg, 0xc0);
  const sos = markerAt(goodJpeg, 0xda);
  const sofSegment = goodJpeg.subarray(sof, sof + 2 + goodJpeg.readUInt16BE(sof + 2));
  const mpf = jpegInsert(goodJpeg, mpfSegment());
  const smallJpeg = await jpeg(64, 64);
  return [
    ["JPEG + HTML + FF D9", Buffer.concat([goodJpeg, HTML, eoi])],
    ["JPEG + PHP + FF D9", Buffer.concat([goodJpeg, php, eoi])],
    ["JPEG + a second JPEG", Buffer.concat([goodJpeg, smallJpeg])],
    ["JPEG + itself", Buffer.concat([goodJpeg, goodJpeg])],
    ["JPEG + ZIP whose comment ends in FF D9", Buffer.concat([goodJpeg, tinyZip(Buffer.concat([Buffer.from("zip comment"), eoi]))])],
    ["JPEG + PDF ending in FF D9", Buffer.concat([goodJpeg, Buffer.from("%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF"), eoi])],
    ["JPEG + a second EOI", Buffer.concat([goodJpeg, eoi])],
    ["JPEG + one newline", Buffer.concat([goodJpeg, Buffer.from("\n")])],
    ["JPEG + NUL padding", Buffer.concat([goodJpeg, Buffer.alloc(16)])],
    ["JPEG + one NUL", Buffer.concat([goodJpeg, Buffer.alloc(1)])],
    ["JPEG + FF fill bytes", Buffer.concat([goodJpeg, Buffer.alloc(8, 0xff)])],
    ["PNG + HTML + another IEND chunk", Buffer.concat([goodPng, HTML, iend])],
    ["PNG + a second PNG", Buffer.concat([goodPng, goodPng])],
    ["PNG + a chunk and another IEND after IEND", Buffer.concat([goodPng, pngChunk("tEXt", Buffer.concat([Buffer.from("c\0"), HTML])), iend])],
    ["PNG + ZIP", Buffer.concat([goodPng, tinyZip(iend)])],
    ["PNG + NUL padding", Buffer.concat([goodPng, Buffer.alloc(16)])],
    ["animated PNG, second frame hidden", apng(goodPng, await png(96, 120))],
    ["PNG with only acTL", pngInsert(goodPng, pngChunk("acTL", Buffer.from([0, 0, 0, 1, 0, 0, 0, 0])))],
    ["PNG with only an fdAT before IEND", pngInsertBeforeEnd(goodPng, pngChunk("fdAT", Buffer.alloc(8)))],
    ["JPEG with two frame headers", jpegInsert(goodJpeg, sofSegment)],
    ["JPEG with an MPF segment", mpf],
    ["MPO: MPF JPEG + its second image", Buffer.concat([mpf, smallJpeg])],
    ["JPEG with a second SOI inside", Buffer.concat([goodJpeg.subarray(0, sos), smallJpeg, goodJpeg.subarray(sos)])],
    ["JPEG cut mid-scan, no EOI", goodJpeg.subarray(0, sos + 300)],
  ];
}

/** Invalid, padded and prefixed base64 of a sound photo: each a 400 on `photo`. */
export function badBase64(goodJpeg: Buffer): [string, string][] {
  const good = goodJpeg.toString("base64");
  const unpadded = goodJpeg.subarray(0, goodJpeg.length - (goodJpeg.length % 3 === 0 ? 1 : 0)).toString("base64");
  return [
    ["empty string", ""],
    ["not base64 at all", "!!!!"],
    ["padding stripped", unpadded.replace(/=+$/, "")],
    ["extra padding", `${good}====`],
    ["padding in the middle", `${good.slice(0, 8)}==${good.slice(8)}`],
    ["newline inside", `${good.slice(0, 76)}\n${good.slice(76)}`],
    ["CRLF line breaks (MIME style)", good.match(/.{1,76}/g)!.join("\r\n")],
    ["leading space", ` ${good}`],
    ["trailing space", `${good} `],
    ["URL-safe alphabet", good.replaceAll("+", "-").replaceAll("/", "_")],
    ["non-canonical final character", good.replace(/([A-Za-z0-9+/])(=+)$/, (_, c: string, pad: string) => String.fromCharCode(c.charCodeAt(0) + 1) + pad)],
    ["unicode lookalikes", good.replace("A", "\u0391")],
    ["data: URL jpeg", `data:image/jpeg;base64,${good}`],
    ["data: URL png", `data:image/png;base64,${good}`],
    ["DATA: uppercase", `DATA:image/jpeg;base64,${good}`],
    ["data: with a leading space", ` data:image/jpeg;base64,${good}`],
    ["data: without a type", `data:;base64,${good}`],
    ["base64 of nothing useful", Buffer.from("hello").toString("base64")],
    ["base64 of a zero byte", "AA=="],
  ];
}

/** Malformed UTF-8 sequences: a body holding any of them is a 415. */
export const MALFORMED_UTF8: [string, number[]][] = [
  ["lone continuation byte", [0x80]],
  ["truncated two-byte sequence", [0xc3]],
  ["overlong NUL", [0xc0, 0x80]],
  ["overlong '/'", [0xe0, 0x80, 0xaf]],
  ["overlong four-byte", [0xf0, 0x80, 0x80, 0x80]],
  ["CESU-8 surrogate", [0xed, 0xa0, 0x80]],
  ["CESU-8 surrogate pair", [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ["five-byte form", [0xf8, 0x88, 0x80, 0x80, 0x80]],
  ["FE", [0xfe]],
  ["FF", [0xff]],
  ["Latin-1 é", [0xe9]],
  ["Windows-1252 smart quotes", [0x93, 0x94]],
  ["truncated emoji", [0xf0, 0x9f, 0x98]],
];
