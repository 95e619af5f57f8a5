// Sign-in: paste an admin or moderator token (kept in sessionStorage only), or in development mode (AUTH_MODE=none)
// pick a user id and role.
import type { Credentials } from "../auth.ts";
import { h, replace } from "../dom.ts";
import { heading, notice } from "../widgets.ts";

export interface SignInOptions {
  authMode: "jwt" | "none";
  message?: string;
  /** Resolves with a sentence when the server refused, null when signed in. */
  submit(credentials: Credentials): Promise<string | null>;
}

export function signInView(root: HTMLElement, { authMode, message, submit }: SignInOptions): void {
  const status = h("div", { class: "signin-status" }, message ? notice(message, "error") : null);
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  let fields: HTMLElement[];
  let read: () => Credentials | string;
  if (authMode === "jwt") {
    const token = h("textarea", { id: "token", name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false", "aria-describedby": "token-hint" });
    fields = [
      h("label", { for: "token" }, "Admin or moderator token"),
      token,
      h("p", { id: "token-hint", class: "hint" }, "Mint one on the server with ", h("code", {}, "sessiond token --admin"), " or ", h("code", {}, "sessiond token --moderator"), ". It is kept in this tab only (sessionStorage) and forgotten when the tab closes."),
    ];
    read = () => (token.value.trim() === "" ? "Paste a token first." : { mode: "jwt", token: token.value.trim() });
  } else {
    const user = h("input", { id: "user", name: "user", value: "console", required: true, autocomplete: "off" });
    const role = h("select", { id: "role", name: "role" }, h("option", { value: "admin" }, "admin"), h("option", { value: "moderator" }, "moderator"));
    fields = [
      notice("Development mode (AUTH_MODE=none): anyone can act as anyone. Never run a server like this on a network.", "info"),
      h("label", { for: "user" }, "User id"),
      user,
      h("label", { for: "role" }, "Role"),
      role,
    ];
    read = () => (user.value.trim() === "" ? "Enter a user id." : { mode: "none", user: user.value.trim(), role: role.value === "moderator" ? "moderator" : "admin" });
  }
  const form = h(
    "form",
    {
      class: "signin card",
      "aria-labelledby": "signin-title",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const c = read();
        if (typeof c === "string") return replace(status, notice(c, "error"));
        button.disabled = true;
        replace(status, notice("Signing in…"));
        const refused = await submit(c);
        button.disabled = false;
        if (refused !== null) replace(status, notice(refused, "error"));
      },
    },
    ...fields,
    button,
    status,
  );
  const title = heading("Sign in to the console");
  title.id = "signin-title";
  replace(root, title, form);
  (form.querySelector("textarea, input") as HTMLElement | null)?.focus();
}
