// The chat example's assistant: each reply in progress as a line that grows as it streams, with a stop button for
// those who may stop it, and the room owner's switch that turns the assistant on or off for the room.

/** `$` looks up an element by id. Call `attach` once with the room's handle and `render` whenever the page redraws. */
export function createAssistantView({ user, $ }) {
  let session = null;
  /** Who wrote each message, by seq: the author of the message a reply answers may stop it. */
  const authors = new Map();

  function lineFor(stream) {
    let li = document.querySelector(`#streams li[data-stream="${CSS.escape(stream.id)}"]`);
    if (li) return li;
    li = document.createElement("li");
    li.dataset.stream = stream.id;
    li.className = "streaming";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = stream.userId;
    const text = document.createElement("span");
    text.className = "text";
    const stop = document.createElement("button");
    stop.type = "button";
    stop.className = "stop";
    stop.textContent = "Stop";
    stop.hidden = !(session.info.ownerId === user || authors.get(stream.replyTo) === user);
    stop.addEventListener("click", () => {
      stop.disabled = true;
      session.cancel(stream.id).catch((error) => {
        stop.disabled = false;
        $("session-status").textContent = error.message;
      });
    });
    li.append(who, text, stop);
    $("streams").append(li);
    return li;
  }

  function show(stream) {
    lineFor(stream).querySelector(".text").textContent = stream.text;
    $("log").scrollTop = $("log").scrollHeight;
  }

  function remove(id) {
    document.querySelector(`#streams li[data-stream="${CSS.escape(id)}"]`)?.remove();
  }

  function showToggle() {
    const setting = session.info.assistant;
    const toggle = $("assistant-toggle");
    toggle.textContent = `Assistant: ${setting?.enabled ? "on" : "off"}`;
    toggle.dataset.enabled = String(Boolean(setting?.enabled));
    // Only the owner (or an admin) may change the session; everyone sees whether the assistant is on.
    toggle.disabled = !session.active || session.info.ownerId !== user;
  }

  $("assistant-toggle").addEventListener("click", async () => {
    const toggle = $("assistant-toggle");
    toggle.disabled = true;
    try {
      await session.configure({ assistant: { enabled: !session.info.assistant?.enabled } });
    } catch (error) {
      $("session-status").textContent = error.message;
    }
    showToggle();
  });

  return {
    attach(handle) {
      session = handle;
      handle.on("message", (message) => {
        authors.set(message.seq, message.userId);
        // The committed reply is now in the log: its growing line goes (stream.end follows at once).
        if (typeof message.metadata?.stream === "string") remove(message.metadata.stream);
      });
      handle.on("stream", (event) => {
        if (event.type === "end") remove(event.stream.id);
        else show(event.stream);
      });
      handle.on("session", showToggle);
      handle.on("status", showToggle);
    },
    render(handle) {
      session = handle;
      authors.clear();
      for (const m of handle.history) authors.set(m.seq, m.userId);
      $("streams").replaceChildren();
      // A reply in progress when the page (re)joined: its text so far, then the stream events continue it.
      for (const stream of handle.streams) show(stream);
      showToggle();
    },
  };
}
