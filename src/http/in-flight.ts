// Requests whose work is still running. Closing the server waits for open connections only: a request whose
// client went away (a load balancer's timeout, a retrying client) keeps running its handler after its socket
// closed, so the server would close the database under it. Shutdown waits for these too.
import type { FastifyInstance } from "fastify";
import { AppError } from "../errors.js";

export interface InFlight {
  /** Resolves once no request's work is running, or after `timeoutMs`; returns how many were still running. */
  drained(timeoutMs: number): Promise<number>;
}

export function trackInFlight(app: FastifyInstance): InFlight {
  let running = 0;
  const waiters = new Set<() => void>();
  app.addHook("onRequest", async (_request, reply) => {
    running++;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      running--;
      if (running === 0) for (const wake of waiters) wake();
    };
    // A request's work ends when its reply is written: res.end comes after the handler, the error handler and
    // every onSend hook (the idempotent response's store included), also when the client is gone, for which no
    // other hook fires (onResponse waits for a 'finish' that never comes).
    const res = reply.raw;
    const original = res.end.bind(res) as (...args: unknown[]) => typeof res;
    res.end = ((...args: unknown[]) => {
      end();
      return original(...args);
    }) as typeof res.end;
  });
  // A request whose client left while its onRequest hooks ran (the key lookup) goes no further. Fastify would
  // attach its body reader to the destroyed stream, which never ends nor errors, so the request would never
  // be answered and never leave this count (shutdown then waited its whole grace for it); a GET would run its
  // handler for nobody. Refused here, it ends through the error handler, whose reply (to nobody) comes down
  // the count as every reply does: any database work its hooks were doing is done by then.
  app.addHook("preParsing", async (request) => {
    if (request.raw.destroyed) throw new ClientClosedRequestError();
  });
  return {
    drained: (timeoutMs) =>
      new Promise((resolve) => {
        if (running === 0) return resolve(0);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(running);
        };
        const timer = setTimeout(done, timeoutMs);
        waiters.add(done);
      }),
  };
}

/** A client that went away before its request was read; nobody receives the reply (nginx's 499). */
class ClientClosedRequestError extends AppError {
  constructor() {
    super(499, "client closed the connection before its request was read", "client_closed_request");
  }
}
