// Where the served console comes from: the files embedded in the compiled binary (scripts/build.ts), or, from a
// source checkout, a fresh build of src/console/app. Also writes a bundle out for embedding.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildConsole, CONSOLE_APP_DIR, contentTypeOf, type ConsoleBundle, type ConsoleFile } from "./build.ts";

/** The folder name the bundle is embedded under (`bun build --compile --asset <dir>/sessiond-console`). */
export const EMBED_FOLDER = "sessiond-console";

/** The console files embedded in this executable, or null when it has none (a source checkout, or an old build). */
export async function embeddedConsole(): Promise<ConsoleBundle | null> {
  const prefix = `${EMBED_FOLDER}/`;
  const files: ConsoleFile[] = [];
  for (const blob of Bun.embeddedFiles as Array<Blob & { name?: string }>) {
    const name = blob.name;
    if (!name?.startsWith(prefix)) continue;
    const rel = name.slice(prefix.length);
    files.push({ name: rel, type: contentTypeOf(rel), body: new Uint8Array(await blob.arrayBuffer()) });
  }
  return files.some((f) => f.name === "index.html") ? { files } : null;
}

/**
 * The console to serve: embedded when this is the compiled binary, otherwise built from the source folder.
 * Throws a sentence for an operator when neither exists.
 */
export async function loadConsole(appDir: string = CONSOLE_APP_DIR): Promise<{ bundle: ConsoleBundle; source: "embedded" | "built" }> {
  const embedded = await embeddedConsole();
  if (embedded) return { bundle: embedded, source: "embedded" };
  if (!existsSync(join(appDir, "main.ts"))) {
    throw new Error("this executable was built without the console (build it with `bun run build`)");
  }
  return { bundle: await buildConsole(appDir), source: "built" };
}

/** Writes the bundle to `<dir>/sessiond-console/` for `--asset`; returns that folder. */
export function writeConsoleBundle(bundle: ConsoleBundle, dir: string): string {
  const root = join(dir, EMBED_FOLDER);
  for (const f of bundle.files) {
    const path = join(root, f.name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.body);
  }
  return root;
}
