// Every kind of bad frame gets an error frame with a human sentence; the connection stays usable; nothing is written.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { api, startServer, token, WsClient, type ServerProcess } from "../helpers.ts";

let server: ServerProcess;
let client: WsClient;
let t: string;
beforeAll(async () => {
  server = await startServer({ env: { MAX_MESSAGE_BYTES: "1024" } });
  t = await token("bea");
  client = await WsClient.connect(server.ws, { token: t });
  await client.request({ type: "join", session: "clean" });
});
afterAll(async () => {
  await client.close();
  await server.stop();
});

async function expectRefused(raw: string | Uint8Array<ArrayBuffer>, code: string, message: string | RegExp): Promise<void> {
  const before = client.frames.length;
  client.socket.send(raw);
  const error = await client.waitFor((f) => f.type === "error", 5000, before);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  // Still usable, and nothing was written or broadcast.
  const pong = await client.request({ type: "ping" });
  expect(pong.type).toBe("pong");
  expect(client.messages("clean")).toHaveLength(0);
  const page = await api(server.http, "GET", "/api/sessions/clean/messages", { token: t });
  expect(page.body.messages).toHaveLength(0);
}

describe("bad frames", () => {
  test("malformed JSON", () => expectRefused("{not json", "bad_request", "The frame is not valid JSON."));
  test("a JSON value that is not an object", () => expectRefused("[1,2]", "bad_request", 'A frame must be a JSON object with a "type".'));
  test("an unknown type", () => expectRefused('{"type":"shout"}', "bad_request", /^Unknown frame type "shout"; expected one of: ping, join/));
  test("a missing field", () => expectRefused('{"type":"message","session":"clean"}', "bad_request", 'Field "content" is required.'));
  test("a wrongly typed field", () => expectRefused('{"type":"message","session":"clean","content":42}', "bad_request", 'Field "content" is invalid: expected a string.'));
  test("an unknown field", () => expectRefused('{"type":"message","session":"clean","content":"x","colour":"red"}', "bad_request", 'Unknown field "colour".'));
  test("a binary frame", () => expectRefused(new Uint8Array([1, 2, 3]), "bad_request", "Binary frames are not supported; send JSON in a text frame."));
  test("content over MAX_MESSAGE_BYTES", () =>
    expectRefused(JSON.stringify({ type: "message", session: "clean", content: "é".repeat(513) }), "payload_too_large", "Message content is over the limit of 1024 bytes."));
  test("metadata over 16 KiB", () =>
    expectRefused(JSON.stringify({ type: "message", session: "clean", content: "x", metadata: { blob: "a".repeat(17000) } }), "payload_too_large", /metadata is over the limit of 16384 bytes/));
  test("a negative since", () => expectRefused('{"type":"join","session":"clean","since":-1}', "bad_request", 'Field "since" is invalid: expected a number >= 0.'));
  test("a since that is not a number", () => expectRefused('{"type":"join","session":"clean","since":"5"}', "bad_request", 'Field "since" is invalid: expected a number.'));
  test("a session id outside the pattern", () => expectRefused('{"type":"join","session":"../etc"}', "bad_request", /^Field "session" is invalid: expected a session id/));
  test("a room key outside the pattern", () => expectRefused('{"type":"join","room":"a b"}', "bad_request", /^Field "room" is invalid: expected a room key/));
  test("both session and room in a join", () => expectRefused('{"type":"join","session":"clean","room":"r"}', "bad_request", 'Field "session" is invalid: expected exactly one of "session" or "room".'));
  test("neither session nor room in a join", () => expectRefused('{"type":"join"}', "bad_request", 'Field "session" is invalid: expected exactly one of "session" or "room".'));
  test("a message to a session that does not exist", () => expectRefused('{"type":"message","session":"ghost","content":"x"}', "not_found", "No such session."));

  test("the reply to a bad frame carries its id as ref", async () => {
    const reply = await client.request({ type: "join", session: "clean", since: -4 });
    expect(reply).toMatchObject({ type: "error", code: "bad_request" });
  });

  test("a frame far over the limit is closed with 1009", async () => {
    const other = await WsClient.connect(server.ws, { token: t });
    other.send("x".repeat(1024 + 33 * 1024));
    expect((await other.closed).code).toBe(1009);
  });

  test("repeated invalid frames close the connection with 1008", async () => {
    const other = await WsClient.connect(server.ws, { token: t });
    for (let i = 0; i < 25; i++) other.send("nope");
    expect((await other.closed).code).toBe(1008);
  });
});
