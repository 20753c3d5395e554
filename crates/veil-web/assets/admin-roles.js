// Role administration: lists roles and edits one over the permission
// catalogue (GET /api/v1/permissions), each granted permission with its
// scope (every camera, a camera group or listed cameras), the playback
// window, weekly hours in a time zone and whether a second factor is
// required. Saved with PUT /api/v1/roles/{name}; the server refuses what the
// rules forbid (an administrator giving themselves audit.read or masks.lift,
// no account left with users.admin) and the message is shown.
import { api, cell, showMessage, t } from "./common.js";

const rows = document.getElementById("role-rows");
const pageMessage = document.getElementById("roles-message");
const form = document.getElementById("role-form");
const formTitle = document.getElementById("role-form-title");
const formError = document.getElementById("role-error");
const nameInput = document.getElementById("role-name");
const description = document.getElementById("role-description");
const permissionRows = document.getElementById("permission-rows");
const windowInput = document.getElementById("role-window");
const secondFactor = document.getElementById("role-second-factor");
const hoursLimited = document.getElementById("role-hours-limited");
const hoursBox = document.getElementById("role-hours");
const timeZone = document.getElementById("role-time-zone");
const intervals = document.getElementById("role-intervals");

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

let catalogue = [];
let roles = [];
// The role being changed (its name), or null for a new one.
let editing = null;
// Whether the second-factor box was set by hand (then grants leave it be).
let secondFactorTouched = false;

// A button reading `visible`, named "`visible` `target`" for screen readers
// (the visible words first, so that voice control finds it).
function labelButton(button, visible, target) {
  const hidden = document.createElement("span");
  hidden.className = "visually-hidden";
  hidden.textContent = ` ${target}`;
  button.replaceChildren(visible, hidden);
}

function describeScope(scope) {
  switch (scope.kind) {
    case "group":
      return t("roles.scope_group_named", { group: scope.group });
    case "cameras":
      return t("roles.scope_cameras_listed", { ids: scope.ids.join(", ") });
    default:
      return t("roles.scope_all");
  }
}

function describeHours(p) {
  if (!p) return t("roles.always");
  const parts = p.intervals.map((i) => `${t(`day.${i.day}`)} ${i.start}–${i.end}`);
  return `${p.time_zone}: ${parts.join(", ")}`;
}

function render() {
  rows.replaceChildren();
  for (const r of roles) {
    const tr = document.createElement("tr");
    tr.id = `role-${r.name}`;
    const name = cell(r.name);
    if (r.description) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = r.description;
      name.append(p);
    }
    tr.append(name);
    const grants = document.createElement("td");
    const list = document.createElement("ul");
    list.className = "grants";
    for (const g of r.grants) {
      const li = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = g.permission;
      li.append(code);
      if (g.scope.kind !== "all") li.append(` (${describeScope(g.scope)})`);
      list.append(li);
    }
    grants.append(list);
    tr.append(grants);
    tr.append(
      cell(r.playback_window_hours ? t("roles.window_hours", { hours: r.playback_window_hours }) : t("roles.no_limit")),
    );
    tr.append(cell(describeHours(r.time_profile)));
    tr.append(cell(r.require_second_factor ? t("roles.required") : t("roles.not_required")));
    const actions = document.createElement("td");
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "secondary";
    edit.id = `role-edit-${r.name}`;
    labelButton(edit, t("common.edit"), t("roles.button_target", { name: r.name }));
    edit.addEventListener("click", () => openForm(r));
    const del = document.createElement("button");
    del.type = "button";
    del.className = "secondary";
    labelButton(del, t("common.delete"), t("roles.button_target", { name: r.name }));
    del.addEventListener("click", () => remove(r.name));
    actions.append(edit, " ", del);
    tr.append(actions);
    rows.append(tr);
  }
}

async function refresh() {
  roles = await api("GET", "/api/v1/roles");
  render();
}

async function remove(name) {
  if (!window.confirm(t("roles.delete_confirm", { name }))) return;
  try {
    await api("DELETE", `/api/v1/roles/${encodeURIComponent(name)}`);
    showMessage(pageMessage, t("roles.deleted", { name }), false);
    if (editing === name) closeForm();
    await refresh();
  } catch (e) {
    showMessage(pageMessage, e.message, true);
  }
}

// One row of the permission editor.
function permissionRow(p) {
  const tr = document.createElement("tr");
  const granted = document.createElement("td");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.id = `grant-${p.id}`;
  box.value = p.id;
  granted.append(box);
  const labelCell = document.createElement("td");
  const label = document.createElement("label");
  label.htmlFor = box.id;
  label.className = "inline";
  const code = document.createElement("code");
  code.textContent = p.id;
  label.append(code, ` ${t(`permission.${p.id}`)}`);
  labelCell.append(label);
  const scopeCell = document.createElement("td");
  const valueCell = document.createElement("td");
  if (p.camera_scoped) {
    const select = document.createElement("select");
    select.id = `scope-${p.id}`;
    select.setAttribute("aria-label", t("roles.scope_for", { permission: p.id }));
    for (const [value, key] of [
      ["all", "roles.scope_all"],
      ["group", "roles.scope_group"],
      ["cameras", "roles.scope_cameras"],
    ]) {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = t(key);
      select.append(o);
    }
    const value = document.createElement("input");
    value.id = `scope-value-${p.id}`;
    value.autocomplete = "off";
    value.hidden = true;
    const sync = () => {
      value.hidden = select.value === "all";
      value.placeholder = select.value === "cameras" ? "1, 2, 5" : t("roles.group_placeholder");
      value.setAttribute(
        "aria-label",
        select.value === "cameras"
          ? t("roles.camera_ids_for", { permission: p.id })
          : t("roles.group_for", { permission: p.id }),
      );
      select.disabled = !box.checked;
      value.disabled = !box.checked;
    };
    select.addEventListener("change", sync);
    box.addEventListener("change", sync);
    sync();
    scopeCell.append(select);
    valueCell.append(value);
  } else {
    scopeCell.textContent = t("roles.system_wide");
  }
  box.addEventListener("change", () => {
    if (box.checked && p.needs_second_factor_by_default && !secondFactorTouched) secondFactor.checked = true;
  });
  tr.append(granted, labelCell, scopeCell, valueCell);
  return tr;
}

function intervalRow(i) {
  const li = document.createElement("li");
  const n = intervals.children.length + 1;
  const day = document.createElement("select");
  day.setAttribute("aria-label", t("roles.interval_day", { n }));
  day.className = "interval-day";
  for (const d of DAYS) {
    const o = document.createElement("option");
    o.value = d;
    o.textContent = t(`day.${d}`);
    day.append(o);
  }
  day.value = i.day;
  const start = document.createElement("input");
  start.className = "interval-start";
  start.value = i.start;
  start.placeholder = "08:00";
  start.setAttribute("aria-label", t("roles.interval_start", { n }));
  const end = document.createElement("input");
  end.className = "interval-end";
  end.value = i.end;
  end.placeholder = "18:00";
  end.setAttribute("aria-label", t("roles.interval_end", { n }));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "secondary";
  remove.textContent = t("roles.remove_interval");
  remove.setAttribute("aria-label", t("roles.remove_interval_n", { n }));
  remove.addEventListener("click", () => li.remove());
  li.append(day, " ", start, " – ", end, " ", remove);
  return li;
}

document.getElementById("role-add-interval").addEventListener("click", () => {
  const li = intervalRow({ day: "mon", start: "08:00", end: "18:00" });
  intervals.append(li);
  li.querySelector("select").focus();
});

hoursLimited.addEventListener("change", () => {
  hoursBox.hidden = !hoursLimited.checked;
  if (hoursLimited.checked && intervals.children.length === 0) {
    intervals.append(intervalRow({ day: "mon", start: "08:00", end: "18:00" }));
  }
});

secondFactor.addEventListener("change", () => {
  secondFactorTouched = true;
});

function openForm(role) {
  editing = role ? role.name : null;
  showMessage(formError, "");
  formTitle.textContent = role ? t("roles.edit_title", { name: role.name }) : t("roles.new_title");
  nameInput.value = role ? role.name : "";
  nameInput.readOnly = Boolean(role);
  description.value = role ? role.description : "";
  permissionRows.replaceChildren(...catalogue.map(permissionRow));
  for (const g of role ? role.grants : []) {
    const box = document.getElementById(`grant-${g.permission}`);
    if (!box) continue;
    box.checked = true;
    const select = document.getElementById(`scope-${g.permission}`);
    if (select) {
      select.value = g.scope.kind;
      const value = document.getElementById(`scope-value-${g.permission}`);
      value.value = g.scope.kind === "group" ? g.scope.group : g.scope.kind === "cameras" ? g.scope.ids.join(", ") : "";
      select.dispatchEvent(new Event("change"));
    }
  }
  windowInput.value = role && role.playback_window_hours ? role.playback_window_hours : "";
  secondFactor.checked = role ? role.require_second_factor : false;
  secondFactorTouched = Boolean(role);
  intervals.replaceChildren();
  const p = role ? role.time_profile : null;
  hoursLimited.checked = Boolean(p);
  hoursBox.hidden = !p;
  timeZone.value = p ? p.time_zone : Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  for (const i of p ? p.intervals : []) intervals.append(intervalRow(i));
  form.hidden = false;
  formTitle.focus();
}

function closeForm() {
  const name = editing;
  editing = null;
  form.hidden = true;
  const back = (name && document.getElementById(`role-edit-${name}`)) || document.getElementById("role-new");
  back.focus();
}

document.getElementById("role-new").addEventListener("click", () => openForm(null));
document.getElementById("role-cancel").addEventListener("click", closeForm);

// The role definition the form describes, or throws an Error saying what is
// missing.
function definition() {
  const grants = [];
  for (const p of catalogue) {
    if (!document.getElementById(`grant-${p.id}`).checked) continue;
    const select = document.getElementById(`scope-${p.id}`);
    let scope = { kind: "all" };
    if (select && select.value !== "all") {
      const raw = document.getElementById(`scope-value-${p.id}`).value.trim();
      if (select.value === "group") {
        if (!raw) throw new Error(t("roles.group_missing", { permission: p.id }));
        scope = { kind: "group", group: raw };
      } else {
        const ids = raw
          .split(/[\s,]+/)
          .filter(Boolean)
          .map((x) => Number(x));
        if (ids.length === 0 || ids.some((x) => !Number.isInteger(x) || x < 0)) {
          throw new Error(t("roles.camera_ids_invalid", { permission: p.id }));
        }
        scope = { kind: "cameras", ids };
      }
    }
    grants.push({ permission: p.id, scope });
  }
  let hours = null;
  if (windowInput.value.trim() !== "") {
    hours = Number(windowInput.value);
    if (!Number.isInteger(hours) || hours < 1) throw new Error(t("roles.window_invalid"));
  }
  let profile = null;
  if (hoursLimited.checked) {
    profile = {
      time_zone: timeZone.value.trim(),
      intervals: [...intervals.children].map((li) => ({
        day: li.querySelector(".interval-day").value,
        start: li.querySelector(".interval-start").value.trim(),
        end: li.querySelector(".interval-end").value.trim(),
      })),
    };
    if (profile.intervals.length === 0) throw new Error(t("roles.intervals_missing"));
  }
  return {
    description: description.value.trim(),
    grants,
    playback_window_hours: hours,
    time_profile: profile,
    require_second_factor: secondFactor.checked,
  };
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showMessage(formError, "");
  const name = nameInput.value.trim();
  if (!name) {
    showMessage(formError, t("roles.name_missing"));
    nameInput.focus();
    return;
  }
  let body;
  try {
    body = definition();
  } catch (e) {
    showMessage(formError, e.message);
    return;
  }
  const save = document.getElementById("role-save");
  save.disabled = true;
  try {
    await api("PUT", `/api/v1/roles/${encodeURIComponent(name)}`, body);
    await refresh();
    editing = name;
    closeForm();
    showMessage(pageMessage, t("roles.saved", { name }), false);
  } catch (e) {
    showMessage(formError, e.message);
  } finally {
    save.disabled = false;
  }
});

Promise.all([api("GET", "/api/v1/permissions"), refresh()])
  .then(([perms]) => {
    catalogue = perms;
  })
  .catch((e) => showMessage(pageMessage, e.message, true));
