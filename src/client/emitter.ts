// A small typed event emitter for the client and its session handles (pure).

type Listener<T> = (value: T) => void;

/** Rethrows on a fresh task, where the app's own error handling (window.onerror, process) sees it. */
const rethrowLater = (error: unknown): void => {
  setTimeout(() => {
    throw error;
  }, 0);
};

export class Emitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** `onListenerError`: a listener that throws must not break the connection's bookkeeping, so it goes here. */
  constructor(private readonly onListenerError: (error: unknown) => void = rethrowLater) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(name)?.delete(listener as Listener<never>);
  }

  protected emit<K extends keyof Events>(name: K, value: Events[K]): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(value);
      } catch (e) {
        this.onListenerError(e);
      }
    }
  }

  protected listenerCount(name: keyof Events): number {
    return this.#listeners.get(name)?.size ?? 0;
  }

  protected removeAllListeners(): void {
    this.#listeners.clear();
  }
}
