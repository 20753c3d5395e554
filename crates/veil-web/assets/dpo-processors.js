// The register of processors (GET/POST /api/v1/processors, PUT/DELETE
// /api/v1/processors/{id}): the list (removed entries on request), and for
// the DPO the form that adds or edits an entry and a two-step removal.
// The API's error names the field: shown above the form, the field marked.

import { api, t, timeElement, showMessage, cell, ApiError } from "./common.js";

const root = document.getElementById("dpo-processors");
const canEdit = root.dataset.canEdit === "true";
const rows = document.querySelector("#proc-table tbody");
const removed = document.getElementById("proc-removed");
const message = document.getElementById("message");
const form = document.getElementById("proc-form");
const error = document.getElementById("proc-error");
const KINDS = ["integrator", "maintenance", "cloud_storage", "other"];
const FIELDS = ["name", "kind", "agreement_date", "scope", "country", "transfer_basis"];
const COLUMNS = 8;
let editing = null;

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

function kindName(k) {
  return KINDS.includes(k) ? t(`dpo.proc.kind.${k}`) : k;
}

function field(name) {
  return form.querySelector(`[data-field="${name}"]`);
}

function clearErrors() {
  showMessage(error, "", true);
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function showError(e) {
  showMessage(error, describe(e), true);
  if (!(e instanceof ApiError)) return;
  const colon = e.message.indexOf(": ");
  const el = colon > 0 ? field(e.message.slice(0, colon)) : null;
  if (el) {
    el.setAttribute("aria-invalid", "true");
    el.focus();
  }
}

function edit(p) {
  editing = p ? p.id : null;
  clearErrors();
  for (const f of FIELDS) field(f).value = p ? p[f] : f === "kind" ? "maintenance" : "";
  document.getElementById("proc-form-h").textContent = p ? t("dpo.proc.edit_title", { name: p.name }) : t("dpo.proc.new");
  document.getElementById("proc-cancel").hidden = !p;
  if (p) field("name").focus();
}

function actions(p) {
  const td = document.createElement("td");
  td.className = "buttons";
  if (!canEdit || p.removed_at) return td;
  const e = document.createElement("button");
  e.type = "button";
  e.className = "secondary";
  e.textContent = t("dpo.proc.edit");
  e.addEventListener("click", () => edit(p));
  const r = document.createElement("button");
  r.type = "button";
  r.className = "secondary";
  r.textContent = t("dpo.proc.remove");
  r.addEventListener("click", async () => {
    if (r.dataset.armed !== "true") {
      r.dataset.armed = "true";
      r.textContent = t("dpo.proc.remove_confirm");
      return;
    }
    try {
      await api("DELETE", `/api/v1/processors/${p.id}`);
      showMessage(message, t("dpo.proc.removed", { name: p.name }), false);
      if (editing === p.id) edit(null);
      await load();
    } catch (err) {
      showMessage(message, describe(err), true);
    }
  });
  td.append(e, r);
  return td;
}

function render(list) {
  rows.replaceChildren();
  if (list.items.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(t("dpo.proc.none"));
    td.colSpan = COLUMNS;
    tr.append(td);
    rows.append(tr);
  }
  for (const p of list.items) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(p.id);
    const name = document.createElement("span");
    name.append(p.name);
    if (p.removed_at) {
      name.append(" (", t("dpo.proc.removed_at"), " ", timeElement(new Date(p.removed_at)), ")");
    }
    tr.append(
      cell(name),
      cell(kindName(p.kind)),
      cell(p.agreement_date),
      cell(p.scope),
      cell(p.country),
      cell(p.transfer_basis || "—"),
      cell(String(p.accounts.length)),
      actions(p),
    );
    rows.append(tr);
  }
  root.dataset.loaded = "true";
}

async function load() {
  try {
    render(await api("GET", `/api/v1/processors${removed.checked ? "?removed=true" : ""}`));
  } catch (e) {
    showMessage(message, describe(e), true);
  }
}

removed.addEventListener("change", load);

if (form) {
  document.getElementById("proc-cancel").addEventListener("click", () => edit(null));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    const body = {};
    for (const f of FIELDS) body[f] = field(f).value.trim();
    body.country = body.country.toUpperCase();
    try {
      if (editing === null) await api("POST", "/api/v1/processors", body);
      else await api("PUT", `/api/v1/processors/${editing}`, body);
      showMessage(message, t("dpo.proc.saved", { name: body.name }), false);
      edit(null);
      await load();
    } catch (e) {
      showError(e);
    }
  });
  edit(null);
}

await load();
