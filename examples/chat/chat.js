// The chat example: one room, live messages, presence, an outbox that shows what is not acknowledged yet, the
// assistant's streamed replies, and "end and start a new session". Served by `bun run dev` at /examples/chat/?user=alice&room=lobby.
import { connect } from "../sessiond-client.js";
import { createAssistantView } from "./assistant.js";

const params = new URLSearchParams(location.search);
const room = params.get("room") ?? "lobby";
// Development mode (AUTH_MODE=none) names the user in the URL; with JWT auth pass ?token= instead.
const token = params.get("token") ?? undefined;
const user = token ? subjectOf(token) : (params.get("user") ?? `guest-${Math.floor(Math.random() * 10_000)}`);
const url = new URL("/ws", location.href);
if (!token) url.searchParams.set("user", user);

const $ = (id) => document.getElementById(id);
$("room").textContent = room;
$("me").textContent = user;

const client = connect({ url: url.toString(), token });
let session = null;
// Assistant replies stream in as growing lines (with a stop button); the owner turns the assistant on or off.
const assistant = createAssistantView({ user, $ });

function showState(state, note = "") {
  $("state").dataset.state = state;
  $("state").textContent = note ? `${state} (${note})` : state;
}
client.on("connecting", () => showState("connecting"));
client.on("open", () => showState("open"));
client.on("reconnecting", ({ attempt, delayMs }) => showState("reconnecting", `attempt ${attempt}, next in ${(delayMs / 1000).toFixed(1)} s`));
client.on("closed", ({ error }) => showState("closed", error?.message ?? ""));
client.on("error", (error) => console.warn("sessiond:", error.code, error.message));

function line(message) {
  const li = document.createElement("li");
  li.dataset.seq = String(message.seq);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.userId;
  li.append(who, document.createTextNode(message.content));
  return li;
}

function showMessage(message) {
  $("messages").append(line(message));
  // A message of ours arriving means it is committed: it leaves the outbox.
  if (message.clientMsgId) document.querySelector(`#outbox li[data-client-msg-id="${CSS.escape(message.clientMsgId)}"]`)?.remove();
  $("log").scrollTop = $("log").scrollHeight;
}

function showParticipants() {
  $("participants").replaceChildren(
    ...session.participants.sort().map((id) => {
      const li = document.createElement("li");
      li.textContent = id;
      return li;
    }),
  );
}

// The session on screen. A handle joined with { room } follows the room: when the room's session ends and the next
// one opens (whoever opens it), the handle moves there and emits `session` with the new id.
let shown = null;

function render() {
  shown = session.id;
  $("messages").replaceChildren();
  session.history.forEach(showMessage);
  assistant.render(session);
  showParticipants();
  $("session-status").textContent = "";
  showRestart();
}

function showRestart() {
  // The owner may end the session and start over; once it has ended (expired, or ended by its owner), anyone may.
  $("restart").hidden = session.active && session.info.ownerId !== user;
  $("restart").textContent = session.active ? "End and start a new session" : "Start a new session";
}

async function openToRoom() {
  // The first person in a room owns its session; open it so everyone in the room may join (unless the server
  // already opens room sessions to everyone: ROOM_ACCESS_DEFAULT=open).
  if (session.active && session.info.ownerId === user && session.info.access === "private") await session.configure({ access: "open" });
}

async function enter() {
  session = await client.join({ room }, { limit: 50 });
  assistant.attach(session);
  session.on("message", showMessage);
  session.on("presence", showParticipants);
  session.on("status", (status) => {
    $("session-status").textContent = `session ${status}: waiting for the room's next session`;
    showRestart();
  });
  session.on("session", (info) => {
    if (info.id === shown) return showRestart();
    // Moved to the room's next session: a fresh start, nothing of the old one is kept on screen.
    render();
    openToRoom().catch((error) => ($("session-status").textContent = error.message));
  });
  session.on("error", (error) => ($("session-status").textContent = error.message));
  render();
  await openToRoom();
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const content = $("input").value.trim();
  if (!content || !session) return;
  $("input").value = "";
  // Our own id, so the pending line can be matched to the committed message.
  const clientMsgId = `${user}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const pending = document.createElement("li");
  pending.dataset.clientMsgId = clientMsgId;
  pending.textContent = `${content} `;
  const note = document.createElement("span");
  note.className = "note";
  note.textContent = "sending…";
  pending.append(note);
  $("outbox").append(pending);
  session.send(content, { clientMsgId }).catch((error) => {
    pending.classList.add("failed");
    note.textContent = `not sent: ${error.message}`;
  });
});

// "Practice again": end this session for everyone, then open the room's next one. Every page in the room follows.
$("restart").addEventListener("click", async () => {
  try {
    if (session.active) await session.end("completed");
    // The room handle moves to the session this join opens (its `session` event renders it).
    await client.join({ room }, { limit: 50 });
  } catch (error) {
    $("session-status").textContent = error.message;
  }
});

enter().catch((error) => showState("closed", error.message));

/** The user id a token names (read only for display; the server verifies the token). */
function subjectOf(jwt) {
  const payload = jwt.split(".")[1] ?? "";
  try {
    return JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))).sub ?? "?";
  } catch {
    return "?";
  }
}
