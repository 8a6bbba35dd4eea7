// What the templates need beyond the services' data: time formatting, the attempts filter form's values and
// links, and the face-reference table built from whatever fields kyc.detail's references carry (a field
// added there later shows up as a column without touching the template).
import type { FastifyReply } from "fastify";
import type { KycDetail } from "../kyc/kyc-schemas.js";

const ERROR_TITLES: Record<number, string> = {
  400: "Bad request",
  403: "Not allowed",
  404: "Not found",
  413: "Form too large",
  415: "Unsupported form",
  429: "Too many requests",
  503: "Temporarily unavailable",
};

/** The console's error page (HTML, never the API's JSON). */
export async function renderError(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).viewAsync("error", { title: ERROR_TITLES[status] ?? "Something went wrong", status, message, requestId: reply.request.id });
}

/** "2026-11-25 22:40:00 UTC" (ISO instants in, null for none). */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export const FILTER_FIELDS = ["method", "status", "customerId", "from", "to"] as const;
export type FilterValues = Partial<Record<(typeof FILTER_FIELDS)[number], string>>;

/** `?a=b&…` of the non-empty values (empty: ""). */
export function queryString(values: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

type Reference = KycDetail["references"][number];
export interface Column {
  label: string;
  cell(r: Record<string, unknown>): string;
  /** ids and times: set in monospace */
  mono?: boolean;
}

const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const plain = (v: unknown): string => {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string" && ISO_INSTANT.test(v)) return formatTime(v);
  return String(v);
};

/** Known fields get a label and a reading; any other field of a reference gets a column of its own. */
const KNOWN: Record<string, Column | null> = {
  id: { label: "Reference", cell: (r) => plain(r.id), mono: true },
  source: { label: "Source", cell: (r) => plain(r.source) },
  fallbackStub: { label: "Template", cell: (r) => (r.fallbackStub ? "stub (no template)" : "template") },
  fallbackCause: { label: "Stub cause", cell: (r) => (r.fallbackStub ? plain(r.fallbackCause) : "—") },
  model: { label: "Model", cell: (r) => plain(r.model) },
  createdAt: { label: "Enrolled", cell: (r) => plain(r.createdAt), mono: true },
  supersededAt: { label: "Superseded", cell: (r) => (r.supersededAt ? plain(r.supersededAt) : "current"), mono: true },
  erasedAt: { label: "Erased", cell: (r) => plain(r.erasedAt), mono: true },
};

export function referenceColumns(refs: Reference[]): Column[] {
  const keys: string[] = Object.keys(KNOWN).filter((k) => k !== "erasedAt");
  for (const r of refs) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  return keys.map((k) => KNOWN[k] ?? { label: k, cell: (r: Record<string, unknown>) => plain(r[k]) }).filter((c): c is Column => c !== null);
}
