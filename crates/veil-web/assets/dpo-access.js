// The access review: enabled accounts with their roles, last review and
// due date (overdue first, as the API sorts them); Confirm keeps the
// roles, Revoke takes away all of them or the ones ticked. One's own
// account cannot be reviewed (the API refuses it): its buttons are
// disabled.

import { api, t, timeElement, showMessage, cell, ApiError } from "./common.js";

const root = document.getElementById("dpo-access");
const self = Number(root.dataset.self);
const rows = document.querySelector("#access-table tbody");
const months = document.getElementById("access-months");
const message = document.getElementById("message");
const COLUMNS = 6;

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

function button(text, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  if (className) b.className = className;
  return b;
}

async function review(item, outcome, roles) {
  const body = { user_id: item.user_id, outcome };
  if (roles) body.roles = roles;
  try {
    await api("POST", "/api/v1/access-reviews", body);
    const key = outcome === "confirmed" ? "dpo.access.confirmed" : "dpo.access.revoked";
    showMessage(message, t(key, { login: item.login }), false);
    await load();
  } catch (e) {
    showMessage(message, describe(e), true);
  }
}

/** The inline form of a revocation: every role ticked to start with. */
function revokeForm(tr, item) {
  const old = rows.querySelector("tr.inline-form");
  if (old) old.remove();
  const row = document.createElement("tr");
  row.className = "inline-form";
  const td = document.createElement("td");
  td.colSpan = COLUMNS;
  const form = document.createElement("form");
  form.className = "stack";
  const fs = document.createElement("fieldset");
  const legend = document.createElement("legend");
  legend.textContent = t("dpo.access.revoke_which", { login: item.login });
  fs.append(legend);
  for (const r of item.roles) {
    const label = document.createElement("label");
    label.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = r;
    box.checked = true;
    label.append(box, ` ${r}`);
    fs.append(label);
  }
  const ok = button(t("dpo.access.revoke_confirm"));
  ok.type = "submit";
  const cancel = button(t("dpo.proc.cancel"), "secondary");
  cancel.addEventListener("click", () => row.remove());
  form.append(fs, ok, cancel);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const chosen = [...fs.querySelectorAll("input:checked")].map((b) => b.value);
    if (chosen.length === 0) {
      showMessage(message, t("dpo.access.pick_roles"), true);
      return;
    }
    const all = chosen.length === item.roles.length;
    await review(item, "revoked", all ? undefined : chosen);
  });
  td.append(form);
  row.append(td);
  tr.after(row);
}

function render(list) {
  months.textContent = t("dpo.access.every", { months: list.months });
  rows.replaceChildren();
  if (list.items.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(t("dpo.access.none"));
    td.colSpan = COLUMNS;
    tr.append(td);
    rows.append(tr);
    return;
  }
  for (const item of list.items) {
    const tr = document.createElement("tr");
    tr.dataset.userId = String(item.user_id);
    tr.dataset.overdue = String(item.overdue);
    const last = item.last_review_at ? timeElement(new Date(item.last_review_at)) : t("dpo.access.never");
    const state = cell(item.overdue ? t("dpo.access.overdue") : t("dpo.access.due_later"));
    state.className = item.overdue ? "overdue" : "";
    const actions = document.createElement("td");
    actions.className = "buttons";
    const confirm = button(t("dpo.access.confirm"));
    confirm.className = "confirm";
    const revoke = button(t("dpo.access.revoke"), "secondary revoke");
    if (item.user_id === self) {
      confirm.disabled = true;
      revoke.disabled = true;
      confirm.title = t("dpo.access.own");
      revoke.title = t("dpo.access.own");
    }
    if (item.roles.length === 0) revoke.disabled = true;
    confirm.addEventListener("click", () => review(item, "confirmed"));
    revoke.addEventListener("click", () => revokeForm(tr, item));
    actions.append(confirm, revoke);
    tr.append(
      cell(item.login),
      cell(item.roles.join(", ") || "—"),
      cell(last),
      cell(timeElement(new Date(item.due_at))),
      state,
      actions,
    );
    rows.append(tr);
  }
  root.dataset.loaded = "true";
}

async function load() {
  try {
    render(await api("GET", "/api/v1/access-reviews"));
  } catch (e) {
    showMessage(message, describe(e), true);
  }
}

await load();
