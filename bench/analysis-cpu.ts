// What analysis costs the main thread: the same 20,000 user messages through sessiond with analysis off and on,
// and the CPU time of each thread read from /proc (so a busy machine changes the figure far less than it changes a
// throughput). Part of `bun run bench:analysis`; Linux only.
import { readFileSync } from "node:fs";
import { mintToken } from "../src/auth/tokens.ts";
import { SECRET, startSessiond, type Target } from "./servers.ts";

const MESSAGES = Number(process.env.BENCH_ANALYSIS_MESSAGES ?? 20_000);
const SOCKETS = 20;
const USER_HZ = 100;

/** CPU ms of one thread (tid) of the process, or of the whole process when tid is omitted. */
function cpuMs(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

const metric = async (t: Target, name: string) => {
  const text = await (await fetch(t.url.replace(/^ws/, "http").replace(/\/ws$/, "/metrics"))).text();
  return Number(text.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1] ?? 0);
};

async function run(analysis: "off" | "on"): Promise<{ mainUs: number; otherUs: number; seconds: number }> {
  const t = await startSessiond({ ANALYSIS_DEFAULT: analysis });
  try {
    const sockets = await Promise.all(
      Array.from({ length: SOCKETS }, async (_, i) => {
        const session = `cpu-${i}`;
        const ws = new WebSocket(t.url, { headers: { Authorization: `Bearer ${await mintToken(SECRET, { userId: `u${i}`, ttlSeconds: 3600, sessions: [session] })}` } } as unknown as string[]);
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error("connect failed"));
        });
        // Joining opens the session (SESSION_CREATE=join); the reply is the only frame before the messages.
        await new Promise<void>((resolve) => {
          ws.onmessage = () => resolve();
          ws.send(JSON.stringify({ type: "join", session, id: 0 }));
        });
        return { ws, session };
      }),
    );
    await Bun.sleep(500);
    const main0 = cpuMs(t.pid, t.pid);
    const all0 = cpuMs(t.pid);
    const started = performance.now();
    let sent = 0;
    // One message in flight per socket: a steady load the server keeps up with, so every message is analysed.
    await Promise.all(
      sockets.map(
        ({ ws, session }) =>
          new Promise<void>((resolve) => {
            const next = () => {
              if (sent >= MESSAGES) return resolve();
              sent++;
              ws.send(JSON.stringify({ type: "message", session, content: `status ${sent}: work was stressful today and i could not sleep well`, id: sent }));
            };
            ws.onmessage = (e) => {
              const frame = JSON.parse(String(e.data));
              if (frame.type === "ack") next();
              else if (frame.type === "error") throw new Error(`the server refused a message: ${frame.code}`);
            };
            next();
          }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    if (analysis === "on") while ((await metric(t, "sessiond_analysis_seconds_count")) < MESSAGES) await Bun.sleep(50);
    await Bun.sleep(500);
    const mainUs = ((cpuMs(t.pid, t.pid) - main0) * 1000) / MESSAGES;
    const otherUs = ((cpuMs(t.pid) - all0) * 1000) / MESSAGES - mainUs;
    for (const { ws } of sockets) ws.close();
    return { mainUs, otherUs, seconds };
  } finally {
    t.stop();
    await Bun.sleep(500);
  }
}

const f = (n: number) => n.toFixed(1);
const results = { off: [] as Array<Awaited<ReturnType<typeof run>>>, on: [] as Array<Awaited<ReturnType<typeof run>>> };
for (let round = 0; round < 3; round++) {
  for (const side of round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) results[side].push(await run(side));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`\nCPU per message, ${MESSAGES} user messages over ${SOCKETS} sockets, medians of 3 rounds (each round's in brackets)`);
console.log("| analysis | main thread µs/message | other threads µs/message (the worker, SQLite, Bun) |");
console.log("| --- | ---: | ---: |");
for (const side of ["off", "on"] as const) {
  const main = results[side].map((r) => r.mainUs);
  const other = results[side].map((r) => r.otherUs);
  console.log(`| ${side} | ${f(median(main))} (${main.map(f).join(", ")}) | ${f(median(other))} (${other.map(f).join(", ")}) |`);
}
