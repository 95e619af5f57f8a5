// One load-generator process of a spread scenario (bench/load.ts runScenario): builds its share of the clients,
// says "ready", runs on "go" and sends its result back over IPC.
import { part } from "./load.ts";

const { name, urls, args, shard } = JSON.parse(process.env.BENCH_PART!);
const mine = await part(name, urls, args, shard);
process.send!({ type: "ready" });
process.on("message", async (message: any) => {
  if (message.type !== "go") return;
  const result = await mine.run();
  process.send!({ type: "result", result });
});
