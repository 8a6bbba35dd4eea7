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
  app.addHook("onRequest", async (request, reply) => {
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
    // A client that leaves before its body has been read, while an onRequest hook still ran (the key lookup),
    // leaves a request Fastify never finishes: the body reader it then attaches to the destroyed stream gets
    // no 'end' and no 'error', so no reply is ever written. Such a request has no more work to do: its body,
    // and so its handler, never comes. One whose body was read (preValidation reached) runs to its reply.
    let bodyRead = false;
    (request as { [BODY_READ]?: () => void })[BODY_READ] = () => (bodyRead = true);
    res.once("close", () => {
      if (!bodyRead) end();
    });
  });
  app.addHook("preValidation", async (request) => {
    (request as { [BODY_READ]?: () => void })[BODY_READ]?.();
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

const BODY_READ = Symbol("bodyRead");
