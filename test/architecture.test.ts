// Dependencies point one way: transports -> domain -> storage interfaces; the domain never imports a transport.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "./helpers.ts";

function importsOf(folder: string): Array<{ file: string; spec: string }> {
  const out: Array<{ file: string; spec: string }> = [];
  for (const entry of readdirSync(join(ROOT, "src", folder), { recursive: true }) as string[]) {
    if (!entry.endsWith(".ts")) continue;
    const file = join(ROOT, "src", folder, entry);
    for (const m of readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/gm)) out.push({ file: relative(ROOT, file), spec: m[1]! });
  }
  return out;
}

test("the session domain imports only itself and protocol/", () => {
  const bad = importsOf("sessions").filter(({ spec }) => spec.startsWith(".") && !spec.startsWith("./") && !spec.startsWith("../protocol/"));
  expect(bad).toEqual([]);
});

test("protocol/ imports nothing of ours", () => {
  const bad = importsOf("protocol").filter(({ spec }) => spec.startsWith(".") && !spec.startsWith("./"));
  expect(bad).toEqual([]);
});

test("storage never imports a transport", () => {
  const bad = importsOf("db").filter(({ spec }) => /\.\.\/(realtime|http)\//.test(spec));
  expect(bad).toEqual([]);
});

test("the client SDK has no dependencies: it imports only itself and protocol/'s errors and types", () => {
  const bad = importsOf("client").filter(({ spec }) => !spec.startsWith("./") && spec !== "../protocol/errors.ts" && spec !== "../protocol/types.ts");
  expect(bad).toEqual([]);
});
