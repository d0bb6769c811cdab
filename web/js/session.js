// Signing in under a display name: the server keeps it in a signed cookie. Needed to save or
// delete variations, write or vote on traces and merge runs; solving and reading work without it.
// Every page that has the top bar's account buttons gets the sign-in dialog from here.

import { api } from "./api.js";
import { $, el, toast } from "./dom.js";

function signInDialog() {
  return el("dialog", { id: "sign-in-dialog", "aria-labelledby": "sign-in-heading" },
    el("form", { id: "sign-in-form" },
      el("h2", { id: "sign-in-heading", text: "Sign in" }),
      el("p", { class: "note", text: "Your name is shown beside the variations and traces you save." }),
      el("label", {}, "Name ", el("input", { id: "sign-in-name", required: true, maxlength: 40, autocomplete: "nickname" })),
      el("label", {}, "Admin token (optional) ",
        el("input", { id: "sign-in-admin", type: "password", maxlength: 200, autocomplete: "off" })),
      el("p", { id: "sign-in-error", class: "error", role: "alert" }),
      el("div", { class: "row end" },
        el("button", { id: "sign-in-cancel", type: "button", text: "Cancel" }),
        el("button", { type: "submit", class: "primary", text: "Sign in" }))));
}

export function createSession({ onChange }) {
  if (!document.getElementById("sign-in-dialog")) document.body.append(signInDialog());
  const state = { name: null, admin: false };
  const label = $("#user-name");
  const signInButton = $("#sign-in");
  const signOutButton = $("#sign-out");
  const dialog = $("#sign-in-dialog");
  const form = $("#sign-in-form");
  const nameInput = $("#sign-in-name");
  const adminInput = $("#sign-in-admin");
  const error = $("#sign-in-error");

  function show(session) {
    state.name = session.name;
    state.admin = session.admin;
    label.textContent = session.name ? `${session.name}${session.admin ? " (admin)" : ""}` : "not signed in";
    signInButton.hidden = Boolean(session.name);
    signOutButton.hidden = !session.name;
    onChange(state);
  }

  function open() {
    error.textContent = "";
    nameInput.value = state.name || "";
    adminInput.value = "";
    dialog.showModal();
    nameInput.focus();
  }

  signInButton.addEventListener("click", open);
  signOutButton.addEventListener("click", async () => show(await api.signOut()));
  $("#sign-in-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      show(await api.signIn(nameInput.value.trim(), adminInput.value));
      dialog.close();
      toast(`Signed in as ${state.name}`);
    } catch (e) {
      error.textContent = e.message;
    }
  });

  return {
    state,
    open,
    async load() { show(await api.session()); },
    /** Ask for a name first when there is no session; false if the person cancels. */
    async ensure() {
      if (state.name) return true;
      open();
      return new Promise((resolve) => {
        dialog.addEventListener("close", () => resolve(Boolean(state.name)), { once: true });
      });
    },
  };
}
