// A round-robin TCP load balancer for tests, as a cluster's clients meet one: each new client connection goes to
// the next backend that accepts it, and bytes are copied both ways untouched, so HTTP, SSE streams and WebSocket
// upgrades pass through as they are. No stickiness: two connections of one client may reach two nodes.
// Backpressure: a side whose peer cannot take more is paused until the peer drains. Half-close: a FIN from one
// side is passed on once what came before it is written, and the other direction keeps flowing.
import type { Socket, TCPSocketListener } from "bun";

export interface Balancer {
  port: number;
  /** `http://127.0.0.1:PORT`. */
  http: string;
  /** `ws://127.0.0.1:PORT/ws`. */
  ws: string;
  /** The backend ports new connections go to, in round-robin order. */
  backends(): number[];
  addBackend(port: number): void;
  /** New connections no longer go there; connections already open stay (see dropConnections). */
  removeBackend(port: number): void;
  /** Closes every open connection to that backend (or to all), both sides: clients see their connection end. */
  dropConnections(port?: number): number;
  /** Client connections handed to each backend so far (connected, not merely tried). */
  counts(): Record<number, number>;
  /** Connections open through the balancer now. */
  open(): number;
  /** Client connections closed because no backend accepted them. */
  refused(): number;
  /** Times one side was paused because the other could not take more (backpressure). */
  pauses(): number;
  /** Stops listening and closes every open connection. */
  stop(): Promise<void>;
}

export interface BalancerOptions {
  /** Backends' host. @default "127.0.0.1" */
  backendHost?: string;
}

/** Bytes one side still has to write to the other: the writer is paused while any are queued. */
interface Direction {
  queue: Uint8Array[];
  /** The sending side sent FIN: pass it on once the queue is empty. */
  finReceived: boolean;
  finSent: boolean;
}

interface Pipe {
  client: Socket<ClientData>;
  backend: Socket<Pipe> | null;
  backendPort: number;
  toBackend: Direction;
  toClient: Direction;
  /** Either socket closed (reset, killed, ended): close the other once it has what was queued for it. */
  closing: boolean;
  done: boolean;
}

interface ClientData {
  pipe: Pipe | null;
}

const direction = (): Direction => ({ queue: [], finReceived: false, finSent: false });

/** Listens on 127.0.0.1 at a free port and forwards each new connection to the next live backend. */
export async function startBalancer(ports: number[], options: BalancerOptions = {}): Promise<Balancer> {
  const host = options.backendHost ?? "127.0.0.1";
  const backends = [...ports];
  const counts: Record<number, number> = {};
  const pipes = new Set<Pipe>();
  let next = 0;
  let refused = 0;
  let pauses = 0;

  /** Writes what is queued for `to`; true once nothing is left. A closed socket leaves the rest queued. */
  const flush = (to: Socket<any>, dir: Direction): boolean => {
    while (dir.queue.length > 0) {
      const chunk = dir.queue[0]!;
      const n = to.write(chunk);
      if (n < 0) return false;
      if (n < chunk.byteLength) {
        dir.queue[0] = chunk.subarray(n);
        return false;
      }
      dir.queue.shift();
    }
    return true;
  };

  /** Copies `data` to `to`; pauses `from` when `to` could not take all of it (resumed by `to`'s drain). */
  const forward = (from: Socket<any>, to: Socket<any>, dir: Direction, data: Uint8Array) => {
    if (dir.queue.length === 0) {
      const n = to.write(data);
      if (n === data.byteLength) return;
      // The rest waits; the receive buffer may be reused, so keep a copy.
      dir.queue.push(data.slice(Math.max(0, n)));
    } else {
      dir.queue.push(data.slice());
    }
    pauses++;
    from.pause();
  };

  /** After a drain or a FIN: pass the FIN on when all before it is written, and end the pair when both are done. */
  const settle = (pipe: Pipe) => {
    if (pipe.done || !pipe.backend) return;
    const { client, backend } = pipe;
    for (const [to, dir] of [[backend, pipe.toBackend], [client, pipe.toClient]] as const) {
      if (dir.finReceived && !dir.finSent && dir.queue.length === 0) {
        dir.finSent = true;
        to.shutdown();
      }
    }
    const bothFinished = pipe.toBackend.finSent && pipe.toClient.finSent;
    const closingFlushed = pipe.closing && pipe.toBackend.queue.length === 0 && pipe.toClient.queue.length === 0;
    if (bothFinished || closingFlushed) finish(pipe);
  };

  const finish = (pipe: Pipe) => {
    if (pipe.done) return;
    pipe.done = true;
    pipes.delete(pipe);
    pipe.client.end();
    pipe.backend?.end();
  };

  /** Either socket went away: the other gets what was already queued for it, then closes. */
  const closed = (pipe: Pipe, which: "client" | "backend") => {
    if (pipe.done) return;
    pipe.closing = true;
    // Nothing more can reach the side that closed.
    if (which === "client") pipe.toClient.queue.length = 0;
    else pipe.toBackend.queue.length = 0;
    settle(pipe);
    if (!pipe.backend) finish(pipe);
  };

  const backendHandlers = {
    open(backend: Socket<Pipe>) {
      const pipe = backend.data;
      if (pipe.done || pipe.closing) {
        backend.end();
        pipe.done = true;
        pipes.delete(pipe);
        return;
      }
      pipe.backend = backend;
      counts[pipe.backendPort] = (counts[pipe.backendPort] ?? 0) + 1;
      // Bytes the client sent while the connection was being made.
      if (flush(backend, pipe.toBackend)) pipe.client.resume();
      settle(pipe);
    },
    data(backend: Socket<Pipe>, data: Uint8Array) {
      const pipe = backend.data;
      // Once either side closed, bytes still arriving can only be headed for the side that is gone.
      if (!pipe.done && !pipe.closing) forward(backend, pipe.client, pipe.toClient, data);
    },
    drain(backend: Socket<Pipe>) {
      const pipe = backend.data;
      if (pipe.done) return;
      if (flush(backend, pipe.toBackend)) pipe.client.resume();
      settle(pipe);
    },
    end(backend: Socket<Pipe>) {
      const pipe = backend.data;
      pipe.toClient.finReceived = true;
      settle(pipe);
    },
    close(backend: Socket<Pipe>) {
      // A backend that closed before `open` (refused) is handled by connectError.
      if (backend.data.backend === backend) closed(backend.data, "backend");
    },
    error() {
      // Followed by close.
    },
  };

  /** Connects the pipe to the first backend, from the round-robin position on, that accepts. */
  const route = async (pipe: Pipe) => {
    const order = backends.length === 0 ? [] : backends.map((_, i) => backends[(next + i) % backends.length]!);
    next = backends.length === 0 ? 0 : (next + 1) % backends.length;
    for (const port of order) {
      if (pipe.done || pipe.closing) return;
      pipe.backendPort = port;
      try {
        await Bun.connect<Pipe>({ hostname: host, port, data: pipe, allowHalfOpen: true, socket: { ...backendHandlers, connectError() {} } });
        return;
      } catch {
        // That backend is down: try the next one.
      }
    }
    refused++;
    pipe.done = true;
    pipes.delete(pipe);
    pipe.client.end();
  };

  const listener: TCPSocketListener<ClientData> = Bun.listen<ClientData>({
    hostname: "127.0.0.1",
    port: 0,
    allowHalfOpen: true,
    data: { pipe: null },
    socket: {
      open(client) {
        const pipe: Pipe = { client, backend: null, backendPort: 0, toBackend: direction(), toClient: direction(), closing: false, done: false };
        client.data = { pipe };
        pipes.add(pipe);
        // Nothing is read from the client until a backend is connected to take it.
        client.pause();
        void route(pipe);
      },
      data(client, data) {
        const pipe = client.data.pipe!;
        if (pipe.done || pipe.closing) return;
        if (pipe.backend) forward(client, pipe.backend, pipe.toBackend, data);
        else pipe.toBackend.queue.push(data.slice());
      },
      drain(client) {
        const pipe = client.data.pipe!;
        if (pipe.done || !pipe.backend) return;
        if (flush(client, pipe.toClient)) pipe.backend.resume();
        settle(pipe);
      },
      end(client) {
        const pipe = client.data.pipe!;
        pipe.toBackend.finReceived = true;
        settle(pipe);
      },
      close(client) {
        const pipe = client.data.pipe;
        if (pipe) closed(pipe, "client");
      },
      error() {
        // Followed by close.
      },
    },
  });

  const port = listener.port;
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/ws`,
    backends: () => [...backends],
    addBackend(p) {
      if (!backends.includes(p)) backends.push(p);
    },
    removeBackend(p) {
      const i = backends.indexOf(p);
      if (i !== -1) backends.splice(i, 1);
    },
    dropConnections(p) {
      let n = 0;
      for (const pipe of [...pipes]) {
        if (p !== undefined && pipe.backendPort !== p) continue;
        finish(pipe);
        n++;
      }
      return n;
    },
    counts: () => ({ ...counts }),
    open: () => pipes.size,
    refused: () => refused,
    pauses: () => pauses,
    async stop() {
      listener.stop(true);
      for (const pipe of [...pipes]) finish(pipe);
      await Bun.sleep(0);
    },
  };
}
