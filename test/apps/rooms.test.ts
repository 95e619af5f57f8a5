// Rooms that carry on: everyone in a room's session hears of the room's next session (`room.session`), the SDK's
// room handle moves to it by itself, a create that disagrees with the active session is a conflict, and a team
// room is set up with open access or room grants (the refusal says which is missing).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type SessionHandle } from "../../src/client/index.ts";
import { api, eventually, sdk, SseClient, startServer, token, WsClient, type Frame, type ServerProcess } from "../helpers.ts";

const isRoomSession = (room: string) => (f: Frame) => f.type === "room.session" && f.room === room;

describe("room.session: the room's next session reaches everyone who was in the ended one", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ env: { SESSION_EXPIRY_SECONDS: "2", SESSION_SWEEP_INTERVAL_SECONDS: "1" } });
  });
  afterAll(() => server.stop());

  test("the owner ends it and opens the next; a member with a room grant hears of it once and follows", async () => {
    const alice = await WsClient.connect(server.ws, { token: await token("alice") });
    const bob = await WsClient.connect(server.ws, { token: await token("bob", { sessions: ["room:practice"] }) });
    const first = await alice.request({ type: "join", room: "practice" });
    expect((await bob.request({ type: "join", room: "practice" })).session.id).toBe(first.session.id);
    expect((await bob.request({ type: "message", session: first.session.id, content: "round one" })).type).toBe("ack");

    expect((await alice.request({ type: "end", session: first.session.id })).type).toBe("ended");
    await bob.waitFor((f) => f.type === "session.status" && f.session === first.session.id);
    const second = await alice.request({ type: "join", room: "practice" });
    expect(second.session.id).not.toBe(first.session.id);

    const told = await bob.waitFor(isRoomSession("practice"));
    expect(told.session).toMatchObject({ id: second.session.id, room: "practice", status: "active" });
    // The one who opened it is not told of what it opened.
    await Bun.sleep(100);
    expect(alice.frames.filter(isRoomSession("practice"))).toHaveLength(0);

    const rejoined = await bob.request({ type: "join", session: told.session.id });
    expect(rejoined.messages).toEqual([]);
    expect((await bob.request({ type: "message", session: told.session.id, content: "round two" })).seq).toBe(1);
    await alice.waitFor((f) => f.type === "message" && f.message.content === "round two");
    await alice.close();
    await bob.close();
  });

  test("an SSE watcher of the ended session is told too: session.status, then room.session, then the stream closes", async () => {
    const alice = await WsClient.connect(server.ws, { token: await token("alice") });
    const first = await alice.request({ type: "join", room: "sse-room" });
    await alice.request({ type: "configure", session: first.session.id, access: "open" });
    const carol = await SseClient.open(`${server.http}/api/sessions/${first.session.id}/events`, await token("carol"));
    await Bun.sleep(100);
    await alice.request({ type: "end", session: first.session.id });
    await carol.waitFor("session.status", (f) => f.session === first.session.id);
    const second = await alice.request({ type: "join", room: "sse-room" });
    await alice.request({ type: "configure", session: second.session.id, access: "open" });
    const told = await carol.waitFor("room.session");
    expect(told).toMatchObject({ type: "room.session", room: "sse-room", session: { id: second.session.id, status: "active" } });
    const close = await carol.waitFor("close");
    expect(close.code).toBe(1000);
    expect(carol.events.map((e) => e.event).filter((e) => e !== "presence")).toEqual(["session.status", "room.session", "close"]);
    carol.close();
    await alice.close();
  });

  test("a private next session is announced to a follower once it may see it (the owner opens it)", async () => {
    const alice = await WsClient.connect(server.ws, { token: await token("alice") });
    const carl = await WsClient.connect(server.ws, { token: await token("carl") });
    const first = await alice.request({ type: "join", room: "desk" });
    await alice.request({ type: "configure", session: first.session.id, access: "open" });
    await carl.request({ type: "join", room: "desk" });
    await alice.request({ type: "end", session: first.session.id });
    const second = await alice.request({ type: "join", room: "desk" });
    expect(second.session.access).toBe("private");
    await Bun.sleep(150);
    expect(carl.frames.filter(isRoomSession("desk"))).toHaveLength(0);
    await alice.request({ type: "configure", session: second.session.id, access: "open" });
    const told = await carl.waitFor(isRoomSession("desk"));
    expect(told.session).toMatchObject({ id: second.session.id, access: "open" });
    await alice.close();
    await carl.close();
  });

  test("after an expiry: whoever opens the room next, the others in the expired session are told", async () => {
    const owner = await token("dora");
    const dora = await WsClient.connect(server.ws, { token: owner });
    const eli = await WsClient.connect(server.ws, { token: await token("eli", { sessions: ["room:standup"] }) });
    const first = await dora.request({ type: "join", room: "standup" });
    await eli.request({ type: "join", room: "standup" });
    await eli.waitFor((f) => f.type === "session.status" && f.session === first.session.id && f.status === "expired", 8000);
    await dora.waitFor((f) => f.type === "session.status" && f.status === "expired");
    // Dora opens the room again from another connection (a page reload): both old connections are told.
    const reload = await WsClient.connect(server.ws, { token: owner });
    const second = await reload.request({ type: "join", room: "standup" });
    expect((await eli.waitFor(isRoomSession("standup"))).session.id).toBe(second.session.id);
    expect((await dora.waitFor(isRoomSession("standup"))).session.id).toBe(second.session.id);
    for (const c of [dora, eli, reload]) await c.close();
  });

  test("joining an ended session of a room whose next session is open: room.session right after joined", async () => {
    const fay = await WsClient.connect(server.ws, { token: await token("fay") });
    const first = await fay.request({ type: "join", room: "review" });
    await fay.request({ type: "end", session: first.session.id });
    const second = await fay.request({ type: "join", room: "review" });
    // Another connection of Fay's that was offline comes back and re-joins the old session with since.
    const back = await WsClient.connect(server.ws, { token: await token("fay") });
    const joined = await back.request({ type: "join", session: first.session.id, since: 0 });
    expect(joined.session.status).toBe("completed");
    const told = await back.waitFor(isRoomSession("review"));
    expect(told.session.id).toBe(second.session.id);
    expect(back.frames.indexOf(told)).toBeGreaterThan(back.frames.indexOf(joined));
    // Leaving the ended session stops following the room.
    const leaver = await WsClient.connect(server.ws, { token: await token("fay") });
    await leaver.request({ type: "join", session: second.session.id });
    await fay.request({ type: "end", session: second.session.id });
    await leaver.waitFor((f) => f.type === "session.status" && f.session === second.session.id);
    await leaver.request({ type: "leave", session: second.session.id });
    const third = await fay.request({ type: "join", room: "review" });
    await Bun.sleep(150);
    expect(leaver.frames.filter(isRoomSession("review"))).toHaveLength(0);
    expect(third.session.id).not.toBe(second.session.id);
    for (const c of [fay, back, leaver]) await c.close();
  });
});

describe("the SDK's room handle follows the room", () => {
  let server: ServerProcess;
  let admin: string;
  beforeAll(async () => {
    server = await startServer({ env: { ROOM_ACCESS_DEFAULT: "open", RATE_LIMIT_MESSAGES_PER_MINUTE: "10000" } });
    admin = await token("ops", { admin: true });
  });
  afterAll(() => server.stop());

  test("end and start a new session: both handles move by themselves, history starts fresh, both can send", async () => {
    const gus = sdk(server, "gus");
    const hal = sdk(server, "hal");
    const mine = await gus.join({ room: "coaching" });
    const theirs = await hal.join({ room: "coaching" });
    expect(theirs.id).toBe(mine.id);
    await theirs.send("before");
    const oldId = mine.id;
    const moved: string[] = [];
    const halStatus: string[] = [];
    theirs.on("session", (info) => moved.push(info.id));
    theirs.on("status", (s) => halStatus.push(s));
    const halSaw: string[] = [];
    theirs.on("message", (m) => halSaw.push(`${m.session}:${m.content}`));

    await mine.end("completed");
    const again = await gus.join({ room: "coaching" });
    expect(again).toBe(mine);
    expect(mine.id).not.toBe(oldId);
    expect(mine.history).toEqual([]);
    await eventually(() => moved.length === 1, 10_000, "hal's handle to move");
    expect(moved[0]).toBe(mine.id);
    expect(theirs.id).toBe(mine.id);
    expect(theirs.active).toBe(true);
    expect(theirs.history).toEqual([]);
    expect(theirs.lastSeq).toBe(0);
    expect(halStatus).toEqual(["completed"]);

    expect((await theirs.send("after")).seq).toBe(1);
    await mine.send("welcome back");
    await eventually(() => halSaw.length === 3, 10_000, "hal to see the new session's messages");
    expect(halSaw).toEqual([`${oldId}:before`, `${mine.id}:after`, `${mine.id}:welcome back`]);
    await gus.close();
    await hal.close();
  });

  test("a handle whose connection was down while the room moved on follows after the reconnect", async () => {
    let hold: (() => void) | null = null;
    const ivy = sdk(server, "ivy");
    const jon = connect({
      url: server.http,
      getToken: async () => {
        if (hold === null) return token("jon");
        await new Promise<void>((resolve) => (hold = resolve));
        return token("jon");
      },
      reconnect: { baseMs: 50, capMs: 200 },
    });
    const mine = await ivy.join({ room: "night-shift" });
    const theirs: SessionHandle = await jon.join({ room: "night-shift" });
    const first = mine.id;
    const moved: string[] = [];
    theirs.on("session", (info) => moved.push(info.id));
    // Jon's next connection attempt waits on its token; then every connection is closed by an admin reset, which
    // also ends the room's session.
    hold = () => {};
    let reconnecting = false;
    jon.on("reconnecting", () => (reconnecting = true));
    expect((await api(server.http, "POST", "/api/admin/reset", { token: admin })).status).toBe(200);
    await eventually(() => reconnecting && ivy.state === "open", 10_000, "jon offline, ivy back");
    const second = await ivy.join({ room: "night-shift" });
    expect(second).toBe(mine);
    expect(mine.id).not.toBe(first);
    expect(moved).toEqual([]);
    (hold as () => void)();
    hold = null;
    await eventually(() => moved.length === 1, 10_000, "jon's handle to follow after the reconnect");
    expect(theirs.id).toBe(mine.id);
    expect((await theirs.send("I'm back")).session).toBe(mine.id);
    await ivy.close();
    await jon.close();
  });
});

describe("creating a room session", () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.stop());

  test("POST with members, access or config that differ from the active session's: 409 conflict naming it", async () => {
    const t = await token("kim");
    const created = await api(server.http, "POST", "/api/sessions", { token: t, body: { room: "team", members: ["lee"], access: "private", config: { a: 1 } } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    for (const body of [{ members: ["lee", "mo"] }, { access: "open" }, { config: { a: 2 } }]) {
      const r = await api(server.http, "POST", "/api/sessions", { token: t, body: { room: "team", ...body } });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe("conflict");
      expect(r.body.error.message).toContain(id);
      expect(r.body.error.message).toContain(Object.keys(body)[0]);
    }
    const same = await api(server.http, "POST", "/api/sessions", { token: t, body: { room: "team", members: ["lee"], access: "private", config: { a: 1 } } });
    expect([same.status, same.body.id]).toEqual([200, id]);
    const bare = await api(server.http, "POST", "/api/sessions", { token: t, body: { room: "team" } });
    expect([bare.status, bare.body.id]).toEqual([200, id]);
    // Nothing was changed by the refused requests.
    expect((await api(server.http, "GET", `/api/sessions/${id}`, { token: t })).body).toMatchObject({ members: ["lee"], access: "private", config: { a: 1 } });
  });

  test("by default a room opened by a join is private: another user is refused with what is missing", async () => {
    const owner = await WsClient.connect(server.ws, { token: await token("nia") });
    await owner.request({ type: "join", room: "huddle" });
    const other = await WsClient.connect(server.ws, { token: await token("oz") });
    const refused = await other.request({ type: "join", room: "huddle" });
    expect(refused).toMatchObject({ type: "error", code: "forbidden" });
    expect(refused.message).toContain('"room:huddle"');
    expect(refused.message).toContain("open access");
    const granted = await WsClient.connect(server.ws, { token: await token("oz", { sessions: ["room:huddle"] }) });
    expect((await granted.request({ type: "join", room: "huddle" })).type).toBe("joined");
    for (const c of [owner, other, granted]) await c.close();
  });

  test("ROOM_ACCESS_DEFAULT=open: a room opened by a join is open to everyone signed in", async () => {
    const open = await startServer({ env: { ROOM_ACCESS_DEFAULT: "open" } });
    const first = await WsClient.connect(open.ws, { token: await token("pam") });
    const joined = await first.request({ type: "join", room: "all-hands" });
    expect(joined.session.access).toBe("open");
    const second = await WsClient.connect(open.ws, { token: await token("quinn") });
    expect((await second.request({ type: "join", room: "all-hands" })).session.id).toBe(joined.session.id);
    // Created over HTTP, a session keeps the access it was given (private unless said).
    const viaApi = await api(open.http, "POST", "/api/sessions", { token: await token("pam"), body: { room: "board" } });
    expect(viaApi.body.access).toBe("private");
    await first.close();
    await second.close();
    await open.stop();
  });
});
