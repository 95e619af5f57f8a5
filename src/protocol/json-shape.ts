// Limits on the free-form JSON a client may store (message metadata, session config), checked before anything
// reads it (pure). Nesting is bounded because serializing a value nested tens of thousands deep overflows the
// stack; a "__proto__" key is refused because JSON.parse keeps it as a plain key, but assigning or merging it
// elsewhere (Object.assign, many libraries) replaces an object's prototype instead, and zod drops it silently.

/** How deeply objects and arrays may nest inside one stored value. */
export const MAX_JSON_DEPTH = 64;

/**
 * What is wrong with a parsed JSON value, as the end of "expected …", or null when it is fine: a `__proto__` key at
 * any depth, or nesting deeper than maxDepth. Iterative, so a hostile value cannot exhaust the stack here either.
 * @param maxDepth @default MAX_JSON_DEPTH
 */
export function jsonShapeProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): string | null {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    if (depth > maxDepth) return `at most ${maxDepth} levels of nested objects and arrays`;
    if (Array.isArray(current)) {
      for (const item of current) if (item !== null && typeof item === "object") stack.push([item, depth + 1]);
      continue;
    }
    for (const key of Object.keys(current)) {
      if (key === "__proto__") return 'no key named "__proto__"';
      const item = (current as Record<string, unknown>)[key];
      if (item !== null && typeof item === "object") stack.push([item, depth + 1]);
    }
  }
  return null;
}
