// Development only (DEV_EXAMPLES): serves examples/ and a browser build of the client SDK, so the example pages
// run against this server with no build step.
import type { Hono } from "hono";
import { statSync } from "node:fs";
import { resolve, sep } from "node:path";
import { SessiondError } from "../protocol/errors.ts";

export interface Examples {
  dir: string;
  /** The SDK bundled for browsers (ES module). */
  clientBundle: string;
}

/** Bundles the SDK from its source with `target: "browser"`; fails with a readable reason. */
export async function loadExamples(dir: string, clientEntry: string): Promise<Examples> {
  const build = await Bun.build({ entrypoints: [clientEntry], target: "browser", format: "esm" });
  const output = build.outputs[0];
  if (!build.success || !output) throw new Error(`the client SDK did not build: ${build.logs.map(String).join("; ")}`);
  return { dir: resolve(dir), clientBundle: await output.text() };
}

export function mountExamples(app: Hono, { dir, clientBundle }: Examples): void {
  const noFile = () => new SessiondError("not_found", "No such file.");
  app.get("/examples/sessiond-client.js", (c) =>
    c.body(clientBundle, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-store" }),
  );
  app.get("/examples", (c) => c.redirect("/examples/chat/"));
  app.get("/examples/*", (c) => {
    const rel = decodeURIComponent(c.req.path.slice("/examples/".length));
    const path = resolve(dir, rel);
    if (path !== dir && !path.startsWith(dir + sep)) throw noFile();
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) throw noFile();
    // Pages link their scripts relatively, so a folder is always addressed with its trailing slash.
    if (stat.isDirectory()) return rel === "" || rel.endsWith("/") ? serve(resolve(path, "index.html")) : c.redirect(`${c.req.path}/`);
    return serve(path);
  });

  function serve(path: string): Response {
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) throw noFile();
    return new Response(Bun.file(path), { headers: { "Cache-Control": "no-store" } });
  }
}
