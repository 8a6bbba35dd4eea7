// After-commit events of a service (metrics subscribe to them), so services know nothing about metrics.
export interface Observers<E> {
  /** Returns the unsubscribe function. */
  subscribe(listener: (event: E) => void): () => void;
  /** Tells every listener; a listener's bug must never turn a committed result into an error reply. */
  notify(event: E): void;
}

export function createObservers<E>(): Observers<E> {
  const listeners = new Set<(event: E) => void>();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    notify(event) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // see above
        }
      }
    },
  };
}
