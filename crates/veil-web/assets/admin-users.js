// User administration: lists accounts, creates one (its generated one-time
// password is shown once, here, and never again), changes roles and the
// training date, disables and enables, ends sessions and resets the second
// factor with a justification. Every change goes through the JSON API, which
// enforces the rules (separation of duties, the last user administrator).
import { api, cell, showMessage, t, timeElement } from "./common.js";

const rows = document.getElementById("user-rows");
const pageMessage = document.getElementById("users-message");
const createForm = document.getElementById("user-create");
const createError = document.getElementById("user-create-error");
const created = document.getElementById("user-created");
const editSection = document.getElementById("user-edit");
const editTitle = document.getElementById("user-edit-title");
const editForm = document.getElementById("user-edit-form");
const editMessage = document.getElementById("user-edit-message");
const training = document.getElementById("edit-training");
const toggleDisabled = document.getElementById("user-toggle-disabled");
const endSessions = document.getElementById("user-end-sessions");
const resetForm = document.getElementById("user-reset-form");
const justification = document.getElementById("reset-justification");

let roleNames = [];
let users = [];
// The account being managed, by id.
let editing = null;

// Checkboxes, one per role, in `fieldset`, named `prefix-<role>`.
function roleBoxes(fieldset, prefix, checked) {
  for (const el of fieldset.querySelectorAll(".choice")) el.remove();
  for (const name of roleNames) {
    const wrap = document.createElement("p");
    wrap.className = "choice check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.id = `${prefix}-${name}`;
    box.value = name;
    box.checked = checked.includes(name);
    const label = document.createElement("label");
    label.htmlFor = box.id;
    label.textContent = name;
    wrap.append(box, " ", label);
    fieldset.append(wrap);
  }
}

function chosenRoles(fieldset) {
  return [...fieldset.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
}

let policyVersion = 0;

function stateText(u) {
  if (u.name === null) return t("users.erased");
  if (u.disabled) return t("users.disabled");
  if (u.must_change_password) return t("users.must_change_password");
  return t("users.active");
}

function render() {
  rows.replaceChildren();
  for (const u of users) {
    const tr = document.createElement("tr");
    tr.id = `user-${u.id}`;
    const name = document.createElement("span");
    name.textContent = u.name === null ? u.id : u.name;
    const nameCell = cell(name);
    for (const w of u.warnings) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = w;
      nameCell.append(p);
    }
    tr.append(nameCell);
    tr.append(cell(u.roles.join(", ") || t("users.no_roles")));
    tr.append(cell(stateText(u)));
    tr.append(cell(u.second_factor_enrolled ? t("users.enrolled") : t("users.not_enrolled")));
    tr.append(cell(u.training_valid_until ? timeElement(new Date(u.training_valid_until)) : t("users.no_training")));
    const acked = policyVersion === 0 || u.policy_acknowledged_version >= policyVersion;
    tr.append(
      cell(acked ? t("users.policy_acknowledged") : t("users.policy_not_acknowledged", { version: policyVersion })),
    );
    const actions = cell("");
    if (u.name !== null) {
      const manage = document.createElement("button");
      manage.type = "button";
      manage.className = "secondary";
      manage.id = `manage-${u.id}`;
      const who = document.createElement("span");
      who.className = "visually-hidden";
      who.textContent = ` ${u.name}`;
      manage.append(t("users.manage"), who);
      manage.addEventListener("click", () => openEdit(u.id));
      actions.append(manage);
    }
    tr.append(actions);
    rows.append(tr);
  }
}

async function refresh() {
  const [list, roles, policy] = await Promise.all([
    api("GET", "/api/v1/users"),
    api("GET", "/api/v1/roles"),
    api("GET", "/api/v1/policy"),
  ]);
  users = list.users;
  policyVersion = policy.version;
  const names = roles.map((r) => r.name);
  if (names.join() !== roleNames.join()) {
    roleNames = names;
    roleBoxes(document.getElementById("new-user-roles"), "new-role", []);
  }
  render();
  if (editing) fillEdit(users.find((u) => u.id === editing));
}

// The date input's value (a day in local time) as the end of that day, in
// RFC 3339; "" clears the date.
function trainingValue() {
  if (!training.value) return null;
  return new Date(`${training.value}T23:59:59`).toISOString();
}

function dateInputValue(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function fillEdit(u) {
  if (!u) {
    closeEdit();
    return;
  }
  editTitle.textContent = t("users.manage_title", { name: u.name });
  roleBoxes(document.getElementById("edit-user-roles"), "edit-role", u.roles);
  training.value = dateInputValue(u.training_valid_until);
  toggleDisabled.textContent = u.disabled ? t("users.enable") : t("users.disable");
}

function openEdit(id) {
  editing = id;
  showMessage(editMessage, "");
  justification.value = "";
  fillEdit(users.find((u) => u.id === id));
  editSection.hidden = false;
  editTitle.focus();
}

function closeEdit() {
  const id = editing;
  editing = null;
  editSection.hidden = true;
  const back = id && document.getElementById(`manage-${id}`);
  if (back) back.focus();
}

document.getElementById("user-edit-close").addEventListener("click", closeEdit);

createForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showMessage(createError, "");
  const name = document.getElementById("new-user-name").value.trim();
  if (!name) {
    showMessage(createError, t("users.name_missing"));
    return;
  }
  const roles = chosenRoles(document.getElementById("new-user-roles"));
  const button = document.getElementById("user-create-button");
  button.disabled = true;
  try {
    const r = await api("POST", "/api/v1/users", { name, roles });
    createForm.reset();
    document.getElementById("user-created-text").textContent = t("users.created", { name: r.name });
    document.getElementById("user-created-password").textContent = r.password || "";
    created.hidden = false;
    for (const w of r.warnings) showMessage(pageMessage, w, false);
    await refresh();
  } catch (e) {
    showMessage(createError, e.message);
  } finally {
    button.disabled = false;
  }
});

// The one-time password leaves the page once the administrator is done.
document.getElementById("user-created-done").addEventListener("click", () => {
  document.getElementById("user-created-password").textContent = "";
  created.hidden = true;
  document.getElementById("new-user-name").focus();
});

async function change(body, done) {
  const u = users.find((x) => x.id === editing);
  if (!u) return;
  try {
    await api("PUT", `/api/v1/users/${encodeURIComponent(u.id)}`, body);
    showMessage(editMessage, done, false);
    await refresh();
  } catch (e) {
    showMessage(editMessage, e.message, true);
  }
}

editForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const roles = chosenRoles(document.getElementById("edit-user-roles"));
  await change({ roles, training_valid_until: trainingValue() }, t("common.saved"));
});

toggleDisabled.addEventListener("click", async () => {
  const u = users.find((x) => x.id === editing);
  if (!u) return;
  await change({ disabled: !u.disabled }, u.disabled ? t("users.enabled_done") : t("users.disabled_done"));
});

endSessions.addEventListener("click", async () => {
  const u = users.find((x) => x.id === editing);
  if (!u) return;
  try {
    const r = await api("DELETE", `/api/v1/users/${encodeURIComponent(u.id)}/sessions`);
    showMessage(editMessage, t("users.sessions_ended", { count: r.revoked }), false);
  } catch (e) {
    showMessage(editMessage, e.message, true);
  }
});

resetForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const u = users.find((x) => x.id === editing);
  if (!u) return;
  const why = justification.value.trim();
  if (!why) {
    showMessage(editMessage, t("users.reset_justification_missing"), true);
    justification.focus();
    return;
  }
  try {
    await api("POST", `/api/v1/users/${encodeURIComponent(u.id)}/second-factor/reset`, { justification: why });
    justification.value = "";
    showMessage(editMessage, t("users.reset_done"), false);
    await refresh();
  } catch (e) {
    showMessage(editMessage, e.message, true);
  }
});

refresh().catch((e) => showMessage(pageMessage, e.message, true));
