// Sign-in: the user pastes an API key. It is checked by listing the projects it can see, then
// kept in sessionStorage for this tab only.

import { h, replace, notice } from "./dom.js";
import { api, session, signOutReason } from "./api.js";

export async function render(ctx) {
  ctx.title("Sign in");
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-help",
  });
  const message = h("div", { "aria-live": "polite" });
  if (signOutReason.text) {
    replace(message, notice(signOutReason.text, "error"));
    signOutReason.text = null;
  }
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (event) => {
        event.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        button.disabled = true;
        replace(message, notice("Checking the key…"));
        try {
          await api("/api/projects", { key });
          session.signIn(key);
          signOutReason.text = null;
          if (ctx.current()) ctx.go(location.hash && location.hash !== "#" ? location.hash : "#/");
        } catch (error) {
          button.disabled = false;
          const text = error.status === 401 ? "This key was not accepted: check that it was copied whole." : error.message;
          replace(message, notice(text, "error"));
          input.focus();
        }
      },
    },
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { id: "api-key-help", class: "muted" },
      "The key an admin issued you (POST /api/users/{id}/api-keys), or the admin key the server printed when it first started. It stays in this tab only and is sent to this server's API.",
    ),
    button,
    message,
  );
  replace(ctx.main, h("h1", { tabindex: "-1" }, "Sign in"), form);
  input.focus();
}
