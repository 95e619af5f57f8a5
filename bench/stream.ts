// One session's assistant stream delivery (`bun run bench:stream`): stream.delta frames per second delivered to 200
// subscribers, sessiond (fed by bench/fake-model.ts streaming as fast as it can, pinned to the server's core so its
// cost counts against sessiond) against the bare Bun.serve baseline publishing the same frames itself, in the same
// run. Three runs; medians printed.
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { mintToken } from "../src/auth/tokens.ts";
import { hasTaskset, ROOT, SECONDS, SECRET, SERVER_ENV, start, startBare, type Target } from "./servers.ts";

const SUBSCRIBERS = 200;
/** Pieces per reply (each about 6 characters, as a token is). */
const PIECES = 1000;
const BUN = process.execPath;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function open(url: string, user: string, onFrame: (f: any) => void): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${await mintToken(SECRET, { userId: user, ttlSeconds: 3600 })}` } } as unknown as string[]);
  ws.onmessage = (e) => onFrame(JSON.parse(String(e.data)));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("connect failed"));
  });
  return ws;
}

/** Deltas/s delivered over all subscribers while the asker keeps two replies in line. */
async function measure(t: Target, bare: boolean): Promise<{ deltasPerSec: number; repliesPerSec: number }> {
  const session = "stream-bench";
  let counting = false;
  let delivered = 0;
  let ended = 0;
  const replies: Array<(f: any) => void> = [];
  const asker = await open(t.url, "asker", (f) => {
    if (f.ref !== undefined) replies.shift()?.(f);
    if (f.type === "stream.end") {
      if (counting) ended++;
      ask();
    }
  });
  const request = (frame: object) => new Promise<any>((resolve) => (replies.push(resolve), asker.send(JSON.stringify({ ...frame, id: replies.length }))));
  await request({ type: "join", session, limit: 1 });
  if (!bare) await request({ type: "configure", session, access: "open", assistant: { enabled: true, trigger: "every" } });
  let n = 0;
  const ask = () =>
    asker.send(JSON.stringify(bare ? { type: "stream", session, pieces: PIECES } : { type: "message", session, content: `question ${n++}`, id: `q${n}` }));
  const subs: WebSocket[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    let joined!: () => void;
    const ready = new Promise<void>((r) => (joined = r));
    subs.push(
      await open(t.url, `sub${i}`, (f) => {
        if (f.type === "joined") joined();
        else if (f.type === "stream.delta" && counting) delivered++;
      }),
    );
    subs[i]!.send(JSON.stringify({ type: "join", session, limit: 1, id: 1 }));
    await ready;
  }
  ask();
  ask();
  await Bun.sleep(1000);
  counting = true;
  const started = performance.now();
  await Bun.sleep(SECONDS * 1000);
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  for (const ws of [asker, ...subs]) ws.close();
  await Bun.sleep(300);
  return { deltasPerSec: delivered / elapsed, repliesPerSec: ended / elapsed };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f0 = (n: number) => Math.round(n).toLocaleString("en-US");

console.log(`bench:stream: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Bun ${Bun.version}, ${SECONDS} s windows, ${SUBSCRIBERS} subscribers, ${PIECES} pieces per reply, servers pinned: ${hasTaskset}, load average ${loadavg()[0]!.toFixed(1)}\n`);
const model = await start("model", [BUN, join(ROOT, "bench", "fake-model.ts")], { PIECES: String(PIECES) });
const modelURL = `${model.url.replace("ws://", "http://").replace(/\/ws$/, "")}/v1`;
const rows: Array<{ bare: number; sessiond: number; replies: number }> = [];
try {
  for (let run = 1; run <= RUNS; run++) {
    const bareTarget = await startBare();
    const bare = await measure(bareTarget, true).finally(() => bareTarget.stop());
    await Bun.sleep(500);
    const target = await start("sessiond", [BUN, join(ROOT, "src", "main.ts"), "serve"], {
      ...SERVER_ENV,
      AI_BASE_URL: modelURL,
      AI_MODEL: "bench",
    });
    const ours = await measure(target, false).finally(() => target.stop());
    await Bun.sleep(500);
    rows.push({ bare: bare.deltasPerSec, sessiond: ours.deltasPerSec, replies: ours.repliesPerSec });
    console.log(`run ${run}: bare ${f0(bare.deltasPerSec)} deltas/s, sessiond ${f0(ours.deltasPerSec)} deltas/s (${(ours.deltasPerSec / bare.deltasPerSec * 100).toFixed(0)}%), ${ours.repliesPerSec.toFixed(2)} replies/s`);
  }
} finally {
  model.stop();
}
console.log(`\nload average at the end: ${loadavg()[0]!.toFixed(1)}`);
console.log("\n| figure | bare Bun.serve | sessiond | sessiond / bare |");
console.log("| --- | ---: | ---: | ---: |");
const ratios = rows.map((r) => r.sessiond / r.bare);
console.log(`| stream.delta frames delivered/s (median of ${RUNS}) | ${f0(median(rows.map((r) => r.bare)))} | ${f0(median(rows.map((r) => r.sessiond)))} | ${(median(ratios) * 100).toFixed(0)}% |`);
console.log(`| per run | ${rows.map((r) => f0(r.bare)).join(" / ")} | ${rows.map((r) => f0(r.sessiond)).join(" / ")} | ${ratios.map((r) => `${(r * 100).toFixed(0)}%`).join(" / ")} |`);
