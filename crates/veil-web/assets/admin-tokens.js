// API token administration: every account's tokens (never their values),
// with the roles each carries, when it was created and expires, and
// revocation (GET /api/v1/tokens?all=true, DELETE /api/v1/tokens/{id}).
import { api, cell, showMessage, t, timeElement } from "./common.js";

const rows = document.getElementById("token-rows");
const empty = document.getElementById("tokens-empty");
const message = document.getElementById("tokens-message");

function stateOf(tok) {
  if (tok.revoked) return t("tokens.revoked");
  if (new Date(tok.expires) <= new Date()) return t("tokens.expired");
  return t("tokens.active");
}

async function refresh() {
  const list = await api("GET", "/api/v1/tokens?all=true");
  rows.replaceChildren();
  empty.hidden = list.tokens.length > 0;
  rows.closest(".table-scroll").hidden = list.tokens.length === 0;
  for (const tok of list.tokens) {
    const tr = document.createElement("tr");
    tr.id = `token-${tok.id}`;
    tr.append(cell(tok.owner_name || tok.owner || ""));
    tr.append(cell(tok.name));
    tr.append(cell(tok.roles.join(", ")));
    tr.append(cell(timeElement(new Date(tok.created))));
    tr.append(cell(timeElement(new Date(tok.expires))));
    tr.append(cell(stateOf(tok)));
    const actions = cell("");
    if (!tok.revoked) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.id = `revoke-${tok.id}`;
      const which = document.createElement("span");
      which.className = "visually-hidden";
      which.textContent = ` ${t("tokens.button_target", { name: tok.name, owner: tok.owner_name || tok.owner })}`;
      b.append(t("tokens.revoke"), which);
      b.addEventListener("click", () => revoke(tok));
      actions.append(b);
    }
    tr.append(actions);
    rows.append(tr);
  }
}

async function revoke(tok) {
  if (!window.confirm(t("tokens.revoke_confirm", { name: tok.name, owner: tok.owner_name || tok.owner }))) return;
  try {
    await api("DELETE", `/api/v1/tokens/${tok.id}`);
    showMessage(message, t("tokens.revoked_done", { name: tok.name }), false);
    await refresh();
  } catch (e) {
    showMessage(message, e.message, true);
  }
}

refresh().catch((e) => showMessage(message, e.message, true));
