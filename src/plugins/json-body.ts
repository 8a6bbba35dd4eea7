// The only request body format: application/json in valid UTF-8. Everything else is a 415. One JSON text has
// one meaning: no member name repeated in any object. The body text is kept on the request because the ingest
// stores one member of it verbatim (see http/json-member.ts).
import fp from "fastify-plugin";
import secureJson from "secure-json-parse";
import { AppError, BadRequestError, ValidationError, listedFieldName } from "../errors.js";
import { findDuplicateMember, MAX_JSON_DEPTH, nestsDeeperThan, type DuplicateMember } from "../http/json-member.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The request body exactly as received (JSON requests only). */
    rawJson?: string;
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message = "Content-Type must be application/json (UTF-8)") {
    super(415, message, "unsupported_media_type");
  }
}

/** Decodes UTF-8 or throws: no U+FFFD substitution, and a BOM is kept in the text so it can be counted. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const BOM = "\uFEFF";

/** The duplicate's field name as validation errors name fields: the dotted path from the top-level member. */
function duplicateFieldErrors({ name, path }: DuplicateMember): ValidationError {
  const field = listedFieldName([...path, name].join("."));
  const message = path.length === 0 ? "is given more than once; send each member once" : `repeats the member name ${JSON.stringify(listedFieldName(name))} in one object; send each member once`;
  return new ValidationError("request body repeats a member name", { [typeof path[0] === "number" ? "_body" : field]: [message] });
}

export default fp(async (app) => {
  app.removeAllContentTypeParsers();
  app.decorateRequest("rawJson", undefined);
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const charset = /;\s*charset=("?)([^";]+)\1/i.exec(request.headers["content-type"] ?? "")?.[2];
    if (charset && charset.toLowerCase() !== "utf-8" && charset.toLowerCase() !== "utf8") {
      done(new UnsupportedMediaTypeError(), undefined);
      return;
    }
    // Bodies are never decompressed (a zip bomb would bypass the body cap): gzip and friends are refused.
    const encoding = request.headers["content-encoding"]?.trim().toLowerCase();
    if (encoding && encoding !== "identity") {
      done(new UnsupportedMediaTypeError("Content-Encoding is not supported; send the JSON body uncompressed"), undefined);
      return;
    }
    // Decoded strictly: a lenient decoder would replace invalid bytes with U+FFFD, so the `raw` and `reason`
    // we store would silently differ from what the bank sent.
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new UnsupportedMediaTypeError("request body is not valid UTF-8; send application/json encoded in UTF-8"), undefined);
      return;
    }
    // One UTF-8 byte order mark is ignored (RFC 8259 allows it); the kept text must not start with it, or the
    // members read from it (the raw envelope) would not be found. A second one is refused rather than
    // stripped, so the parser and the member reader see the same text.
    if (text.startsWith(BOM)) text = text.slice(1);
    if (text.startsWith(BOM)) {
      done(new BadRequestError("request body starts with more than one byte order mark", "invalid_json"), undefined);
      return;
    }
    if (text.trim() === "") {
      done(new BadRequestError("request body is empty; expected a JSON object", "invalid_json"), undefined);
      return;
    }
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
      done(new BadRequestError(`request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep`, "invalid_json"), undefined);
      return;
    }
    let parsed: unknown;
    try {
      // secure-json-parse refuses __proto__ / constructor.prototype keys (prototype poisoning).
      parsed = secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
    } catch (e) {
      const poisoned = e instanceof SyntaxError && /prototype/i.test(e.message);
      done(
        new BadRequestError(
          poisoned ? "request body holds a forbidden key (__proto__ or constructor.prototype)" : "request body is not valid JSON",
          "invalid_json",
        ),
        undefined,
      );
      return;
    }
    // A repeated member name, at any depth: JSON.parse keeps the last one, other readers of the same text
    // (the raw envelope's, later) may keep the first.
    const duplicate = typeof parsed === "object" && parsed !== null ? findDuplicateMember(text) : undefined;
    if (duplicate) {
      done(duplicateFieldErrors(duplicate), undefined);
      return;
    }
    request.rawJson = text;
    done(null, parsed);
  });
  // Anything that is not application/json: a clear 415 instead of Fastify's default text/plain handling.
  app.addContentTypeParser("*", (_request, _payload, done) => done(new UnsupportedMediaTypeError(), undefined));
});
