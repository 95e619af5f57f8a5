// Values that may come later: what an asynchronous store answers, handled without a promise when they do not.
export type Awaitable<T> = T | PromiseLike<T>;

export function isPending<T>(value: Awaitable<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === "function";
}

/** `f(value)` now when the value is here (no promise, no tick), else once it arrives. */
export function then<T, R>(value: Awaitable<T>, f: (v: T) => Awaitable<R>): Awaitable<R> {
  return isPending(value) ? Promise.resolve(value).then(f) : f(value);
}
