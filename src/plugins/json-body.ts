// The only request body format: application/json in UTF-8. Everything else is a 415. The body text is kept
// on the request because the ingest stores one member of it verbatim (see http/json-member.ts).
import fp from "fastify-plugin";
import secureJson from "secure-json-parse";
import { AppError, BadRequestError } from "../errors.js";

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

export default fp(async (app) => {
  app.removeAllContentTypeParsers();
  app.decorateRequest("rawJson", undefined);
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
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
    // A UTF-8 byte order mark is ignored (RFC 8259 allows it); the kept text must not start with it either, or
    // the members read from it (the raw envelope) would not be found.
    const text = (body as string).replace(/^\uFEFF/, "");
    if (text.trim() === "") {
      done(new BadRequestError("request body is empty; expected a JSON object", "invalid_json"), undefined);
      return;
    }
    try {
      // secure-json-parse refuses __proto__ / constructor.prototype keys (prototype poisoning).
      const parsed: unknown = secureJson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
      request.rawJson = text;
      done(null, parsed);
    } catch (e) {
      const poisoned = e instanceof SyntaxError && /prototype/i.test(e.message);
      done(
        new BadRequestError(
          poisoned ? "request body holds a forbidden key (__proto__ or constructor.prototype)" : "request body is not valid JSON",
          "invalid_json",
        ),
        undefined,
      );
    }
  });
  // Anything that is not application/json: a clear 415 instead of Fastify's default text/plain handling.
  app.addContentTypeParser("*", (_request, _payload, done) => done(new UnsupportedMediaTypeError(), undefined));
});
