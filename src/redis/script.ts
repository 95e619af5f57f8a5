// Lua scripts run by their SHA (EVALSHA), sent in full (EVAL) when the server does not know them yet (a fresh or
// restarted Redis answers NOSCRIPT). `loadOnReady` loads a set of scripts each time a connection becomes ready,
// ahead of any other command, so that scripts whose order matters never fall back one behind another.
import type { Redis } from "./connection.ts";

export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = new Bun.CryptoHasher("sha1").update(source).digest("hex");
  }

  /**
   * Runs the script; EVAL on NOSCRIPT, which also loads it for the next EVALSHA. `args` may be a function, read
   * when each attempt is sent (for arguments that are a snapshot of local state).
   */
  async run(redis: Redis, keys: string[], args: Array<string | number> | (() => Array<string | number>)): Promise<unknown> {
    const argv = () => (typeof args === "function" ? args() : args);
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...argv());
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...argv());
    }
  }

  load(redis: Redis): Promise<unknown> {
    return redis.script("LOAD", this.source);
  }
}

/** Loads `scripts` now (if connected) and after every reconnect; failures go to `onError`. */
export function loadOnReady(redis: Redis, scripts: LuaScript[], onError: (error: Error) => void): () => void {
  const load = () => {
    for (const script of scripts) script.load(redis).catch(onError);
  };
  if (redis.status === "ready") load();
  redis.on("ready", load);
  return () => void redis.off("ready", load);
}
