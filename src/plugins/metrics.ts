// Feeds the Prometheus metrics (src/metrics.ts) from the HTTP layer and from the services' events, so the
// services themselves know nothing about metrics. Scraping happens on a separate listener (server.ts).
import fp from "fastify-plugin";
import type { Metrics } from "../metrics.js";
import type { DukcapilRecorded } from "../modules/dukcapil/dukcapil-types.js";
import type { FaceMatchRecorded } from "../modules/face-match/face-match-types.js";
import { RateLimitedError } from "./rate-limit.js";

declare module "fastify" {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

export interface MetricsPluginOptions {
  metrics: Metrics;
  /** Verdicts as the ingest commits them (idempotent replays are not events). */
  dukcapil: { onRecorded(listener: (event: DukcapilRecorded) => void): () => void };
  /** Matches as the face match commits them. */
  faceMatch: { onRecorded(listener: (event: FaceMatchRecorded) => void): () => void };
}

export default fp<MetricsPluginOptions>(async (app, { metrics, dukcapil, faceMatch }) => {
  app.decorate("metrics", metrics);

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, never the raw URL: ids in paths would make one series per customer.
    const labels = { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });

  app.addHook("onError", async (_request, _reply, err) => {
    if (err instanceof RateLimitedError) metrics.rateLimited.inc({ bucket: String(err.extra.bucket) });
  });

  const unsubscribe = dukcapil.onRecorded((event) => {
    metrics.verdicts.inc({ outcome: event.status });
    if (event.enrolment) {
      metrics.enrolments.inc({
        source: event.enrolment.source,
        fallback_stub: String(event.enrolment.fallbackStub),
        cause: event.enrolment.fallbackCause ?? "none",
      });
    }
  });
  const unsubscribeMatches = faceMatch.onRecorded((event) => {
    metrics.faceMatches.inc({ outcome: event.status, reference_source: event.source, reference_retemplated: String(event.referenceRetemplated) });
  });
  app.addHook("onClose", async () => {
    unsubscribe();
    unsubscribeMatches();
  });
});
