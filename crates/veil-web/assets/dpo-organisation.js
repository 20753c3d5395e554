// The organisation profile (GET/PUT /api/v1/organisation): controller, DPO,
// authority, sites and backups (rows added and removed), storage countries,
// the transfer basis and where the full information is. The API's error
// names the field (`sites[1].id: …`): it is shown above the form and that
// field is marked and focused.

import { api, t, showMessage, ApiError } from "./common.js";

const root = document.getElementById("dpo-organisation");
const canEdit = root.dataset.canEdit === "true";
const form = document.getElementById("org-form");
const error = document.getElementById("org-error");
const message = document.getElementById("message");
const sites = document.getElementById("org-sites");
const backups = document.getElementById("org-backups");
const PARTY = ["name", "address", "email", "phone"];
let rowCount = 0;

function input(labelText, field, value, attrs) {
  const id = `org-row-${++rowCount}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = labelText;
  const i = document.createElement("input");
  i.id = id;
  i.dataset.part = field;
  Object.assign(i, attrs || {});
  if (i.type === "checkbox") i.checked = Boolean(value);
  else i.value = value || "";
  return [label, i];
}

/** Renumbers the rows' `data-field` names after an addition or removal. */
function renumber() {
  sites.querySelectorAll("li").forEach((li, n) => {
    for (const i of li.querySelectorAll("input")) i.dataset.field = `sites[${n}].${i.dataset.part}`;
  });
  backups.querySelectorAll("li").forEach((li, n) => {
    for (const i of li.querySelectorAll("input")) i.dataset.field = `storage.backups[${n}].${i.dataset.part}`;
  });
}

function removeButton(li) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary remove";
  b.textContent = t("dpo.org.remove");
  b.disabled = !canEdit;
  b.addEventListener("click", () => {
    li.remove();
    renumber();
  });
  return b;
}

function addSite(s) {
  const li = document.createElement("li");
  li.className = "site-row";
  li.append(
    ...input(t("dpo.org.site_id"), "id", s.id, { maxLength: 40 }),
    ...input(t("dpo.org.name"), "name", s.name, { maxLength: 200 }),
    ...input(t("dpo.org.address"), "address", s.address, { maxLength: 500 }),
  );
  li.append(removeButton(li));
  sites.append(li);
  renumber();
  return li;
}

function addBackup(b) {
  const li = document.createElement("li");
  li.className = "backup-row";
  const [offLabel, off] = input(t("dpo.org.off_site"), "off_site", b.off_site, { type: "checkbox" });
  offLabel.className = "check";
  offLabel.prepend(off, " ");
  li.append(
    ...input(t("dpo.org.backup_description"), "description", b.description, { maxLength: 500 }),
    ...input(t("dpo.org.country"), "country", b.country, { maxLength: 2, size: 3 }),
    offLabel,
  );
  li.append(removeButton(li));
  backups.append(li);
  renumber();
  return li;
}

function value(field) {
  const el = form.querySelector(`[data-field="${field}"]`);
  return el ? el.value.trim() : "";
}

function country(field) {
  return value(field).toUpperCase();
}

function part(li, name) {
  const el = li.querySelector(`[data-part="${name}"]`);
  return el.type === "checkbox" ? el.checked : el.value.trim();
}

function collect() {
  const party = (who) => Object.fromEntries(PARTY.map((p) => [p, value(`${who}.${p}`)]));
  return {
    controller: party("controller"),
    dpo: party("dpo"),
    authority: { name: value("authority.name"), contact: value("authority.contact") },
    sites: [...sites.querySelectorAll("li")].map((li) => ({
      id: part(li, "id"),
      name: part(li, "name"),
      address: part(li, "address"),
    })),
    storage: {
      data_country: country("storage.data_country"),
      object_store_country: country("storage.object_store_country"),
      backups: [...backups.querySelectorAll("li")].map((li) => ({
        description: part(li, "description"),
        country: part(li, "country").toUpperCase(),
        off_site: part(li, "off_site"),
      })),
      transfer_basis: value("storage.transfer_basis"),
    },
    information_at: value("information_at"),
  };
}

function fill(org) {
  for (const who of ["controller", "dpo"]) {
    for (const p of PARTY) {
      const el = form.querySelector(`[data-field="${who}.${p}"]`);
      if (el) el.value = (org[who] && org[who][p]) || "";
    }
  }
  const set = (field, v) => {
    const el = form.querySelector(`[data-field="${field}"]`);
    if (el) el.value = v || "";
  };
  set("authority.name", org.authority && org.authority.name);
  set("authority.contact", org.authority && org.authority.contact);
  const st = org.storage || {};
  set("storage.data_country", st.data_country);
  set("storage.object_store_country", st.object_store_country);
  set("storage.transfer_basis", st.transfer_basis);
  set("information_at", org.information_at);
  sites.replaceChildren();
  for (const s of org.sites || []) addSite(s);
  backups.replaceChildren();
  for (const b of st.backups || []) addBackup(b);
}

function clearErrors() {
  showMessage(error, "", true);
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
}

/** Shows the API's refusal; marks and focuses the field it names. */
function showError(e) {
  if (!(e instanceof ApiError)) {
    showMessage(error, t("common.error.network"), true);
    return;
  }
  showMessage(error, e.message, true);
  const colon = e.message.indexOf(": ");
  if (colon < 0) return;
  const field = e.message.slice(0, colon);
  const el = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  if (el) {
    el.setAttribute("aria-invalid", "true");
    el.setAttribute("aria-describedby", "org-error");
    el.focus();
  }
}

document.getElementById("org-add-site").addEventListener("click", () => {
  addSite({}).querySelector("input").focus();
});
document.getElementById("org-add-backup").addEventListener("click", () => {
  addBackup({}).querySelector("input").focus();
});

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!canEdit) return;
  clearErrors();
  const save = document.getElementById("org-save");
  save.disabled = true;
  try {
    await api("PUT", "/api/v1/organisation", collect());
    showMessage(message, t("dpo.org.saved"), false);
  } catch (e) {
    showMessage(message, "", false);
    showError(e);
  } finally {
    save.disabled = false;
  }
});

try {
  fill(await api("GET", "/api/v1/organisation"));
  root.dataset.loaded = "true";
} catch (e) {
  showError(e);
}
