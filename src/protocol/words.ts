// Small wording helpers for the sentences errors carry (pure, no dependencies, safe to import from anywhere).

/** "array" → "an array", "string" → "a string": the indefinite article a type or format name needs. */
export function withArticle(noun: string): string {
  // "uuid", "url", "uri" start with a vowel letter but a consonant sound.
  return `${/^([aeio]|u(?![urs]))/i.test(noun) ? "an" : "a"} ${noun}`;
}

/** What a zod `invalid_type` issue expected, as a person would say it: "a whole number", "an object", "an array". */
export function expectedType(expected: string): string {
  if (expected === "int" || expected === "number") return expected === "int" ? "a whole number" : "a number";
  // zod calls a string-keyed map a "record"; on the wire it is a JSON object.
  if (expected === "record" || expected === "map") return "an object";
  return withArticle(expected);
}

/** "1 character", "3 characters". */
export function countOf(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}
