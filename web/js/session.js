// Signing in under a display name: the server keeps it in a signed cookie. Needed to save or
// delete variations; solving works without it.

import { api } from "./api.js";
import { $, toast } from "./dom.js";

export function createSession({ onChange }) {
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
