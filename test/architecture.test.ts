// Dependencies point one way: transports -> domain -> storage interfaces; the domain never imports a transport.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
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

/** Every relative import and export of src/ (`import type` and side-effect imports too), as folder -> folder. */
function folderGraph(): Map<string, Set<string>> {
  const src = join(ROOT, "src");
  const folderOf = (path: string) => (path.includes("/") ? path.split("/")[0]! : ".");
  const graph = new Map<string, Set<string>>();
  for (const entry of readdirSync(src, { recursive: true }) as string[]) {
    if (!/\.tsx?$/.test(entry)) continue;
    const text = readFileSync(join(src, entry), "utf8");
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?:[\w\s{},*$]*?\sfrom\s*)?["'](\.[^"']*)["']|\bimport\(\s*["'](\.[^"']*)["']\s*\)/gm)) {
      const target = relative(src, resolve(dirname(join(src, entry)), m[1] ?? m[2]!));
      const from = folderOf(entry), to = folderOf(target);
      if (from !== to && !target.startsWith("..")) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    }
  }
  return graph;
}

/** One cycle as a path ("a -> b -> a"), or null. */
function findCycle(graph: Map<string, Set<string>>): string | null {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (node: string): string | null => {
    const at = path.indexOf(node);
    if (at !== -1) return [...path.slice(at), node].join(" -> ");
    if (done.has(node)) return null;
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    done.add(node);
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

test("the folders of src/ depend one way: no import cycle between folders", () => {
  expect(findCycle(folderGraph())).toBeNull();
});

test("the domain (sessions/, protocol/) does no I/O: no bun:*, fs, net, child processes, drizzle or Bun globals", () => {
  const io = /^(bun:|node:(fs|net|child_process)(\/|$)|(fs|net|child_process)$|drizzle-orm)/;
  const bad = [...importsOf("sessions"), ...importsOf("protocol")].filter(({ spec }) => io.test(spec)).map(({ file, spec }) => `${file}: ${spec}`);
  for (const folder of ["sessions", "protocol"]) {
    for (const entry of readdirSync(join(ROOT, "src", folder), { recursive: true }) as string[]) {
      if (!entry.endsWith(".ts")) continue;
      const code = readFileSync(join(ROOT, "src", folder, entry), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      if (/\bBun\./.test(code)) bad.push(`src/${folder}/${entry}: Bun.`);
    }
  }
  expect(bad).toEqual([]);
});
