// The bookmark list: search by note text, camera and period; play a
// bookmark's moment; change its note or delete it where allowed.

import { api, t, timeElement, showMessage, ApiError, toRfc3339 } from "./common.js";

const form = document.getElementById("bookmark-search");
const q = document.getElementById("bookmark-q");
const camera = document.getElementById("bookmark-camera");
const from = document.getElementById("bookmark-from");
const to = document.getElementById("bookmark-to");
const rows = document.getElementById("bookmark-rows");
const error = document.getElementById("bookmark-error");
const status = document.getElementById("bookmark-status");

/** An RFC 3339 time as a `datetime-local` value in the user's zone. */
function toLocalInput(rfc) {
  const d = new Date(rfc);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

/** The search as API query parameters (only those set). */
function searchParams() {
  const p = new URLSearchParams();
  if (q.value.trim()) p.set("q", q.value.trim());
  if (camera.value) p.set("camera", camera.value);
  const start = toRfc3339(from.value);
  const end = toRfc3339(to.value);
  if (start) p.set("start", start);
  if (end) p.set("end", end);
  return p;
}

/** Fills the form from the page's address (a shared or reloaded search). */
function restore() {
  const p = new URLSearchParams(window.location.search);
  q.value = p.get("q") || "";
  if (p.get("camera")) camera.value = p.get("camera");
  if (p.get("start")) from.value = toLocalInput(p.get("start"));
  if (p.get("end")) to.value = toLocalInput(p.get("end"));
}

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}

function button(label, secondary) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (secondary) b.className = "secondary";
  return b;
}

function timeCell(b) {
  const span = document.createElement("span");
  span.append(timeElement(new Date(b.start)));
  if (b.end) {
    span.append(" – ", timeElement(new Date(b.end)));
  }
  return span;
}

function playLink(b) {
  const a = document.createElement("a");
  const p = new URLSearchParams({ cameras: String(b.camera_id), t: b.start });
  a.href = `/playback?${p}`;
  a.className = "play";
  a.textContent = t("bookmarks.play");
  a.setAttribute("aria-label", t("bookmarks.play_label", { camera: b.camera }));
  return a;
}

/** The note cell's editor: an input with save and cancel. */
function editNote(b, tr, noteCell, actions) {
  const input = document.createElement("input");
  input.type = "text";
  input.maxLength = 500;
  input.value = b.note;
  input.className = "note-input";
  input.setAttribute("aria-label", t("bookmarks.note"));
  const save = button(t("common.save"));
  const cancel = button(t("common.cancel"), true);
  const box = document.createElement("div");
  box.className = "note-edit";
  box.append(input, save, cancel);
  noteCell.replaceChildren(box);
  actions.hidden = true;
  input.focus();
  const close = (updated) => {
    tr.replaceWith(render(updated));
  };
  cancel.addEventListener("click", () => close(b));
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") close(b);
    if (ev.key === "Enter") save.click();
  });
  save.addEventListener("click", async () => {
    save.disabled = true;
    showMessage(error, "");
    try {
      const updated = await api("PUT", `/api/v1/bookmarks/${b.id}`, { note: input.value });
      close(updated);
      showMessage(status, t("bookmarks.saved"));
    } catch (e) {
      save.disabled = false;
      showMessage(error, describe(e));
      input.focus();
    }
  });
}

/** Asks again before deleting. */
function confirmDelete(b, tr, actions) {
  const box = document.createElement("div");
  box.className = "confirm";
  const yes = button(t("bookmarks.confirm_delete"));
  const no = button(t("common.cancel"), true);
  box.append(yes, no);
  actions.hidden = true;
  actions.after(box);
  yes.focus();
  no.addEventListener("click", () => {
    box.remove();
    actions.hidden = false;
    actions.querySelector(".delete")?.focus();
  });
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    showMessage(error, "");
    try {
      await api("DELETE", `/api/v1/bookmarks/${b.id}`);
      tr.remove();
      showMessage(status, t("bookmarks.deleted"));
      q.focus();
    } catch (e) {
      yes.disabled = false;
      showMessage(error, describe(e));
    }
  });
}

function render(b) {
  const tr = document.createElement("tr");
  tr.dataset.id = String(b.id);
  cell(tr, b.camera);
  cell(tr, timeCell(b));
  const noteCell = cell(tr, b.note);
  noteCell.className = "note";
  cell(tr, b.author ?? t("bookmarks.author_unknown"));
  cell(tr, timeElement(new Date(b.expires)));
  const td = cell(tr, "");
  const actions = document.createElement("div");
  actions.className = "actions";
  actions.append(playLink(b));
  if (b.can_edit) {
    const edit = button(t("common.edit"), true);
    edit.className = "secondary edit";
    edit.addEventListener("click", () => editNote(b, tr, noteCell, actions));
    actions.append(edit);
  }
  if (b.can_delete) {
    const del = button(t("common.delete"), true);
    del.className = "secondary delete";
    del.addEventListener("click", () => confirmDelete(b, tr, actions));
    actions.append(del);
  }
  td.append(actions);
  return tr;
}

async function search() {
  const params = searchParams();
  showMessage(error, "");
  status.textContent = t("common.loading");
  try {
    const data = await api("GET", `/api/v1/bookmarks?${params}`);
    rows.replaceChildren(...data.bookmarks.map(render));
    const n = data.bookmarks.length;
    status.textContent = n === 0 ? t("bookmarks.none") : t("bookmarks.count", { count: n });
    const url = params.toString() ? `?${params}` : window.location.pathname;
    window.history.replaceState(null, "", url);
  } catch (e) {
    status.textContent = "";
    showMessage(error, describe(e));
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  search();
});

restore();
search();
