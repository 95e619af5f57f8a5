// Presence shared by every node through Redis: per-user connection counts per node and in total, changed only by
// Lua scripts (atomic), so two nodes racing cannot both say "joined" or both say "left". Each node keeps a
// heartbeat key alive; any node's sweep clears the entries of a node whose heartbeat expired and reports who left.
// Keys (one Redis, not Cluster: the scripts touch keys they derive from the prefix):
//   {p}:n:{node}   hash "session\nuser" -> this node's connections     {p}:s:{session} hash user -> all connections
//   {p}:u:{user}   set of sessions where the user is present            {p}:hb:{node}   heartbeat, with a TTL
//   {p}:nodes      set of nodes that have entries or a heartbeat
import type { PresenceManager } from "../sessions/presence.ts";
import type { Redis } from "./connection.ts";
import { LuaScript, loadOnReady } from "./script.ts";

export interface RedisPresenceOptions {
  /** A command connection (may be shared with other users of Redis on this node). */
  redis: Redis;
  /** This node's id (the broker's). */
  nodeId: string;
  /** Key prefix shared by the nodes of one cluster. @default "sessiond:presence" */
  prefix?: string;
  /**
   * Within this long a dead node's users are cleared, in ms. The heartbeat key lives 2/3 of it and is refreshed
   * every 1/4 (more than twice in its life); every node sweeps every 1/4, so 2/3 + 1/4 < 1. @default 30000
   */
  ttlMs?: number;
  /** A user left because their node stopped heartbeating (emit presence "leave" to the session's subscribers). */
  onLeft?: (sessionId: string, userId: string) => void;
  /**
   * A user became present again when this node put back its own entries (Redis lost them in a restart, or this
   * node had been taken for dead).
   */
  onRejoined?: (sessionId: string, userId: string) => void;
  /** A Redis command failed; presence then answers from this node's own counts until the next heartbeat repairs it. */
  onError?: (error: Error) => void;
}

// KEYS: none. ARGV: prefix, node, session, user. Returns 1 when the user just became present on any node.
const ATTACH = new LuaScript(`
local p, node, sid, uid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('HINCRBY', p .. ':n:' .. node, sid .. '\\n' .. uid, 1)
redis.call('SADD', p .. ':nodes', node)
if redis.call('HINCRBY', p .. ':s:' .. sid, uid, 1) == 1 then
  redis.call('SADD', p .. ':u:' .. uid, sid)
  return 1
end
return 0
`);

// ARGV: prefix, node, session, user. Returns 1 when the user's last connection on any node left; 0 when they are
// still connected somewhere or had no connection on this node.
const DETACH = new LuaScript(`
local p, node, sid, uid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nkey, field = p .. ':n:' .. node, sid .. '\\n' .. uid
local mine = tonumber(redis.call('HGET', nkey, field) or '0')
if mine <= 0 then return 0 end
if mine == 1 then redis.call('HDEL', nkey, field) else redis.call('HINCRBY', nkey, field, -1) end
local skey = p .. ':s:' .. sid
if redis.call('HINCRBY', skey, uid, -1) <= 0 then
  redis.call('HDEL', skey, uid)
  redis.call('SREM', p .. ':u:' .. uid, sid)
  return 1
end
return 0
`);

// ARGV: prefix, session, user ('' for every user of the session). Drops their entries on every node; returns the
// number of users who were present.
const REMOVE = new LuaScript(`
local p, sid, only = ARGV[1], ARGV[2], ARGV[3]
local skey = p .. ':s:' .. sid
local users
if only == '' then users = redis.call('HKEYS', skey) else users = { only } end
local nodes = redis.call('SMEMBERS', p .. ':nodes')
local removed = 0
for _, uid in ipairs(users) do
  removed = removed + redis.call('HDEL', skey, uid)
  redis.call('SREM', p .. ':u:' .. uid, sid)
  for _, node in ipairs(nodes) do redis.call('HDEL', p .. ':n:' .. node, sid .. '\\n' .. uid) end
end
return removed
`);

// Subtracts a node's counts from the totals; returns the pairs (session, user) that thereby left. Shared by the
// sweep (a dead node) and a clean stop.
const FORGET_NODE = `
local function forget(p, node, left)
  local nkey = p .. ':n:' .. node
  local entries = redis.call('HGETALL', nkey)
  for i = 1, #entries, 2 do
    local field, n = entries[i], tonumber(entries[i + 1])
    local cut = string.find(field, '\\n', 1, true)
    local sid, uid = string.sub(field, 1, cut - 1), string.sub(field, cut + 1)
    local skey = p .. ':s:' .. sid
    if redis.call('HINCRBY', skey, uid, -n) <= 0 then
      redis.call('HDEL', skey, uid)
      redis.call('SREM', p .. ':u:' .. uid, sid)
      left[#left + 1] = sid
      left[#left + 1] = uid
    end
  end
  redis.call('DEL', nkey)
  redis.call('SREM', p .. ':nodes', node)
end
`;

// ARGV: prefix, node. This node's clean stop.
const STOP = new LuaScript(`${FORGET_NODE}
local left = {}
forget(ARGV[1], ARGV[2], left)
redis.call('DEL', ARGV[1] .. ':hb:' .. ARGV[2])
return left
`);

// ARGV: prefix. Forgets every node without a heartbeat; returns session, user, session, user, ...
const SWEEP = new LuaScript(`${FORGET_NODE}
local p, left = ARGV[1], {}
for _, node in ipairs(redis.call('SMEMBERS', p .. ':nodes')) do
  if redis.call('EXISTS', p .. ':hb:' .. node) == 0 then forget(p, node, left) end
end
return left
`);

// ARGV: prefix, node, heartbeat ms. Returns 1 when the heartbeat was missing (first beat, a Redis restart, or
// this node was swept as dead): its own entries must be put back.
const HEARTBEAT = new LuaScript(`
local p, node = ARGV[1], ARGV[2]
local hb = p .. ':hb:' .. node
local missing = redis.call('EXISTS', hb) == 0
redis.call('SET', hb, '1', 'PX', ARGV[3])
redis.call('SADD', p .. ':nodes', node)
if missing then return 1 end
return 0
`);

// ARGV: prefix, node, then field, count, field, count, ... (this node's own counts). Sets the node's entries to
// exactly those and moves the totals by the difference; returns the pairs that became present.
const RESTORE = new LuaScript(`
local p, node = ARGV[1], ARGV[2]
local nkey = p .. ':n:' .. node
local wanted = {}
for i = 3, #ARGV, 2 do wanted[ARGV[i]] = tonumber(ARGV[i + 1]) end
local entries = redis.call('HGETALL', nkey)
for i = 1, #entries, 2 do
  if wanted[entries[i]] == nil then wanted[entries[i]] = 0 end
end
local joined = {}
for field, n in pairs(wanted) do
  local have = tonumber(redis.call('HGET', nkey, field) or '0')
  if n ~= have then
    if n > 0 then redis.call('HSET', nkey, field, n) else redis.call('HDEL', nkey, field) end
    local cut = string.find(field, '\\n', 1, true)
    local sid, uid = string.sub(field, 1, cut - 1), string.sub(field, cut + 1)
    local skey = p .. ':s:' .. sid
    local before = tonumber(redis.call('HGET', skey, uid) or '0')
    local after = redis.call('HINCRBY', skey, uid, n - have)
    if after <= 0 then
      redis.call('HDEL', skey, uid)
      redis.call('SREM', p .. ':u:' .. uid, sid)
    elseif before <= 0 then
      redis.call('SADD', p .. ':u:' .. uid, sid)
      joined[#joined + 1] = sid
      joined[#joined + 1] = uid
    end
  end
end
redis.call('SADD', p .. ':nodes', node)
return joined
`);

const field = (sessionId: string, userId: string) => `${sessionId}\n${userId}`;

/** Pairs from a flat [session, user, session, user, ...] reply. */
function pairs(reply: unknown): Array<[string, string]> {
  const flat = Array.isArray(reply) ? (reply as string[]) : [];
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

export class RedisPresence implements PresenceManager {
  private readonly redis: Redis;
  private readonly nodeId: string;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly onLeft: (sessionId: string, userId: string) => void;
  private readonly onRejoined: (sessionId: string, userId: string) => void;
  private readonly onError: (error: Error) => void;
  /** This node's own connection counts, by "session\nuser": what a restore puts back. */
  private readonly mine = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private beating: Promise<void> | null = null;
  private unload: (() => void) | null = null;

  constructor({ redis, nodeId, prefix = "sessiond:presence", ttlMs = 30_000, onLeft = () => {}, onRejoined = () => {}, onError = () => {} }: RedisPresenceOptions) {
    this.redis = redis;
    this.nodeId = nodeId;
    this.prefix = prefix;
    this.ttlMs = ttlMs;
    this.onLeft = onLeft;
    this.onRejoined = onRejoined;
    this.onError = onError;
  }

  /** Registers this node (first heartbeat) and starts the heartbeat and the sweep. */
  async start(): Promise<void> {
    this.unload = loadOnReady(this.redis, [ATTACH, DETACH, REMOVE, STOP, SWEEP, HEARTBEAT, RESTORE], (error) => this.failed(error));
    // After a reconnect Redis may have lost everything (a restart): beat at once, which puts our entries back.
    this.redis.on("ready", this.onReady);
    await this.tick();
    this.timer = setInterval(() => void this.tick(), Math.max(10, Math.floor(this.ttlMs / 4)));
    this.timer.unref?.();
  }

  async attach(sessionId: string, userId: string): Promise<boolean> {
    const key = field(sessionId, userId);
    const before = this.mine.get(key) ?? 0;
    this.mine.set(key, before + 1);
    try {
      return (await ATTACH.run(this.redis, [], [this.prefix, this.nodeId, sessionId, userId])) === 1;
    } catch (error) {
      this.failed(error);
      return before === 0; // this node's view until the next heartbeat repairs the shared one
    }
  }

  async detach(sessionId: string, userId: string): Promise<boolean> {
    const key = field(sessionId, userId);
    const before = this.mine.get(key) ?? 0;
    if (before <= 1) this.mine.delete(key);
    else this.mine.set(key, before - 1);
    try {
      return (await DETACH.run(this.redis, [], [this.prefix, this.nodeId, sessionId, userId])) === 1;
    } catch (error) {
      this.failed(error);
      return before === 1;
    }
  }

  async remove(sessionId: string, userId: string): Promise<boolean> {
    const mine = this.mine.delete(field(sessionId, userId));
    try {
      return Number(await REMOVE.run(this.redis, [], [this.prefix, sessionId, userId])) > 0;
    } catch (error) {
      this.failed(error);
      return mine;
    }
  }

  async users(sessionId: string): Promise<string[]> {
    try {
      return await this.redis.hkeys(`${this.prefix}:s:${sessionId}`);
    } catch (error) {
      this.failed(error);
      return [...this.mine.keys()].filter((key) => key.startsWith(`${sessionId}\n`)).map((key) => key.slice(sessionId.length + 1));
    }
  }

  async sessionsOf(userId: string): Promise<string[]> {
    try {
      return await this.redis.smembers(`${this.prefix}:u:${userId}`);
    } catch (error) {
      this.failed(error);
      return [...this.mine.keys()].filter((key) => key.endsWith(`\n${userId}`)).map((key) => key.slice(0, key.length - userId.length - 1));
    }
  }

  async clear(sessionId: string): Promise<void> {
    for (const key of [...this.mine.keys()]) if (key.startsWith(`${sessionId}\n`)) this.mine.delete(key);
    try {
      await REMOVE.run(this.redis, [], [this.prefix, sessionId, ""]);
    } catch (error) {
      this.failed(error);
    }
  }

  /**
   * A clean shutdown: stops the timers and removes this node's entries; `onLeft` is told about each user whose last
   * connection was here (call it before the broker stops, so the leaves still reach the other nodes).
   */
  async stop(): Promise<void> {
    this.halt();
    await this.beating;
    this.mine.clear();
    try {
      for (const [sessionId, userId] of pairs(await STOP.run(this.redis, [], [this.prefix, this.nodeId]))) this.tell(this.onLeft, sessionId, userId);
    } catch (error) {
      this.failed(error);
    }
  }

  /** Stops the timers only, leaving the entries behind: what a crashed node looks like (tests). */
  halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unload?.();
    this.unload = null;
    this.redis.off("ready", this.onReady);
  }

  private readonly onReady = () => void this.tick();

  /** One heartbeat (putting back this node's entries when Redis lost them) and one sweep; never rejects. */
  tick(): Promise<void> {
    if (this.beating) return this.beating;
    this.beating = this.beat().finally(() => {
      this.beating = null;
    });
    return this.beating;
  }

  private async beat(): Promise<void> {
    try {
      const heartbeatMs = Math.max(30, Math.floor((this.ttlMs * 2) / 3));
      if ((await HEARTBEAT.run(this.redis, [], [this.prefix, this.nodeId, heartbeatMs])) === 1) {
        // The counts are read as the command is sent: attaches sent before it are in them, later ones follow it.
        const args = () => [this.prefix, this.nodeId, ...[...this.mine].flatMap(([key, n]) => [key, n])];
        for (const [sessionId, userId] of pairs(await RESTORE.run(this.redis, [], args))) this.tell(this.onRejoined, sessionId, userId);
      }
      for (const [sessionId, userId] of pairs(await SWEEP.run(this.redis, [], [this.prefix]))) this.tell(this.onLeft, sessionId, userId);
    } catch (error) {
      this.failed(error);
    }
  }

  private tell(listener: (sessionId: string, userId: string) => void, sessionId: string, userId: string): void {
    try {
      listener(sessionId, userId);
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    try {
      this.onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // A reporter that throws must not stop presence.
    }
  }
}
