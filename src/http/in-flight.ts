// Requests whose work is still running. Closing the server waits for open connections only: a request whose
// client went away (a load balancer's timeout, a retrying client) keeps running its handler after its socket
// closed, so the server would close the database under it. Shutdown waits for these too.
import type { FastifyInstance } from "fastify";

export interface InFlight {
  /** Resolves once no request's work is running, or after `timeoutMs`; returns how many were still running. */
  drained(timeoutMs: number): Promise<number>;
}

export function trackInFlight(app: FastifyInstance): InFlight {
  let running = 0;
  const waiters = new Set<() => void>();
  app.addHook("onRequest", async (_request, reply) => {
    running++;
    // A request's work ends when its reply is written: res.end comes after the handler, the error handler and
    // every onSend hook (the idempotent response's store included), also when the client is gone, for which no
    // other hook fires (onResponse waits for a 'finish' that never comes).
    const res = reply.raw;
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
    let ended = false;
    res.end = ((...args: unknown[]) => {
      if (!ended) {
        ended = true;
        running--;
        if (running === 0) for (const wake of waiters) wake();
      }
      return end(...args);
    }) as typeof res.end;
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
