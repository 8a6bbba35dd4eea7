// pino settings shared by the server and the CLI. Request bodies are never logged; URLs are logged without
// their query string, and a path holding an API key not at all (a misplaced key would otherwise land in the
// log); secrets are redacted by path as a second line of defence.
import type { LoggerOptions } from "pino";
import { loggablePath } from "./http/url-secrets.js";

export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers['x-api-key']",
  "headers.authorization",
  "authorization",
  "body.photo",
  "body.raw",
  "photo",
  "raw",
  "key",
  "*.photo",
  "*.raw",
  "*.key",
  "sealingKeys",
  "*.sealingKeys",
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    serializers: {
      req(req: { method: string; url: string; id: string; headers: Record<string, unknown>; socket?: { remoteAddress?: string } }) {
        return {
          method: req.method,
          path: loggablePath(req.url),
          userAgent: req.headers["user-agent"],
          remoteAddress: req.socket?.remoteAddress,
        };
      },
    },
  };
}
