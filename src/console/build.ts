// Bundles the operator console (src/console/app) for browsers: one minified ES module, one stylesheet and the page
// that loads them, with content hashes in the asset names. scripts/build.ts embeds the result in the binary; from a
// source checkout the server runs it on the first request to /console, so what it serves is never a stale build.
import { join } from "node:path";

export interface ConsoleFile {
  /** Path under /console/: "index.html" or "assets/<name>-<hash>.<ext>". */
  name: string;
  /** The Content-Type to serve it with. */
  type: string;
  body: Uint8Array<ArrayBuffer>;
}

export interface ConsoleBundle {
  files: ConsoleFile[];
}

/** The console's source folder (absent inside the compiled binary). */
export const CONSOLE_APP_DIR = join(import.meta.dir, "app");
/** Where the page's template says the script and stylesheet go. */
const SCRIPT_SLOT = "%CONSOLE_SCRIPT%";
const STYLE_SLOT = "%CONSOLE_STYLE%";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
};

/** The Content-Type for a console file name, by extension. */
export function contentTypeOf(name: string): string {
  return TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
}

/** Builds the console from `appDir`; throws with the bundler's messages when the source does not build. */
export async function buildConsole(appDir: string = CONSOLE_APP_DIR): Promise<ConsoleBundle> {
  const result = await Bun.build({
    entrypoints: [join(appDir, "main.ts"), join(appDir, "style.css")],
    target: "browser",
    format: "esm",
    minify: true,
    naming: "[name]-[hash].[ext]",
  });
  if (!result.success) throw new Error(`the console did not build: ${result.logs.map(String).join("; ")}`);
  const files: ConsoleFile[] = [];
  let script: string | undefined;
  let style: string | undefined;
  for (const output of result.outputs) {
    const name = `assets/${output.path.replace(/^\.\//, "")}`;
    if (name.endsWith(".js")) script = name;
    else if (name.endsWith(".css")) style = name;
    else continue;
    files.push({ name, type: contentTypeOf(name), body: new Uint8Array(await output.arrayBuffer()) });
  }
  if (!script || !style) throw new Error("the console did not build: the bundle has no script or no stylesheet");
  const template = await Bun.file(join(appDir, "index.html")).text();
  if (!template.includes(SCRIPT_SLOT) || !template.includes(STYLE_SLOT)) throw new Error(`the console's index.html must contain ${SCRIPT_SLOT} and ${STYLE_SLOT}`);
  const html = template.replace(SCRIPT_SLOT, `/console/${script}`).replace(STYLE_SLOT, `/console/${style}`);
  files.unshift({ name: "index.html", type: TYPES.html!, body: new TextEncoder().encode(html) });
  return { files };
}

/** Gzipped bytes of every file, as a browser downloads them (the console's budget is 100 KB). */
export function gzippedSize(bundle: ConsoleBundle): number {
  return bundle.files.reduce((sum, f) => sum + Bun.gzipSync(f.body, { level: 9 }).length, 0);
}
