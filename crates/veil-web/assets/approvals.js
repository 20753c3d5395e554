// The approvals inbox. Approvers see the four-eyes requests waiting for
// their decision (requester, permission, resource, justification, when it
// was asked and when it lapses) and approve or refuse each with a note
// (POST /api/v1/approvals/{id}/decision), and the requests already decided
// or expired. Everyone sees their own requests and what became of them.
import { api, cell, showMessage, t, timeElement } from "./common.js";

const message = document.getElementById("approvals-message");
const pendingRows = document.getElementById("pending-rows");
const historyRows = document.getElementById("history-rows");
const mineRows = document.getElementById("mine-rows");

let me = "";

function permission(id) {
  const span = document.createElement("span");
  const code = document.createElement("code");
  code.textContent = id;
  span.append(code, ` ${t(`permission.${id}`)}`);
  return span;
}

function resource(r) {
  if (r === "system") return t("approvals.resource_system");
  const m = /^camera:(\d+)$/.exec(r);
  return m ? t("approvals.resource_camera", { id: m[1] }) : r;
}

function person(name, id) {
  return name || id || "";
}

function when(rfc3339) {
  return timeElement(new Date(rfc3339));
}

function stateText(s) {
  return t(`approvals.state.${s}`);
}

// The shell's badge follows the number of requests waiting.
function updateBadge(count) {
  const badge = document.getElementById("approvals-badge");
  if (!badge) return;
  if (count === 0) {
    badge.remove();
    return;
  }
  const label = t("shell.pending_approvals", { count });
  badge.title = label;
  badge.firstChild.textContent = String(count);
  const hidden = badge.querySelector(".visually-hidden");
  if (hidden) hidden.textContent = ` ${label}`;
}

function decisionCell(a) {
  const td = document.createElement("td");
  td.className = "decision";
  const label = document.createElement("label");
  label.htmlFor = `note-${a.id}`;
  label.textContent = t("approvals.note_label");
  const note = document.createElement("textarea");
  note.id = `note-${a.id}`;
  note.rows = 2;
  note.maxLength = 1000;
  note.required = true;
  const approve = document.createElement("button");
  approve.type = "button";
  approve.id = `approve-${a.id}`;
  approve.textContent = t("approvals.approve");
  const refuse = document.createElement("button");
  refuse.type = "button";
  refuse.className = "secondary";
  refuse.id = `refuse-${a.id}`;
  refuse.textContent = t("approvals.refuse");
  const error = document.createElement("p");
  error.className = "error";
  error.id = `decision-error-${a.id}`;
  error.setAttribute("role", "alert");
  error.hidden = true;
  const decide = async (yes) => {
    const text = note.value.trim();
    if (!text) {
      showMessage(error, t("approvals.note_missing"));
      note.focus();
      return;
    }
    approve.disabled = refuse.disabled = true;
    try {
      const r = await api("POST", `/api/v1/approvals/${a.id}/decision`, { approve: yes, note: text });
      showMessage(message, t(r.state === "approved" ? "approvals.approved_done" : "approvals.refused_done", { id: a.id }), false);
      await refresh();
    } catch (e) {
      showMessage(error, e.message);
      approve.disabled = refuse.disabled = false;
    }
  };
  approve.addEventListener("click", () => decide(true));
  refuse.addEventListener("click", () => decide(false));
  const buttons = document.createElement("p");
  buttons.className = "buttons";
  buttons.append(approve, " ", refuse);
  td.append(label, note, buttons, error);
  return td;
}

function fill(tbody, emptyId, items, row) {
  if (!tbody) return;
  tbody.replaceChildren(...items.map(row));
  // An empty table is replaced by a sentence saying so.
  tbody.closest(".table-scroll").hidden = items.length === 0;
  document.getElementById(emptyId).hidden = items.length > 0;
}

async function refresh() {
  const { approvals } = await api("GET", "/api/v1/approvals");
  approvals.sort((a, b) => b.id - a.id);
  const others = approvals.filter((a) => a.requester !== me);
  const pending = others.filter((a) => a.state === "pending");
  fill(pendingRows, "pending-empty", pending, (a) => {
    const tr = document.createElement("tr");
    tr.id = `request-${a.id}`;
    tr.append(
      cell(person(a.requester_name, a.requester)),
      cell(permission(a.permission)),
      cell(resource(a.resource)),
      cell(a.justification),
      cell(when(a.created)),
      cell(when(a.expires)),
      decisionCell(a),
    );
    return tr;
  });
  if (pendingRows) updateBadge(pending.length);
  fill(
    historyRows,
    "history-empty",
    others.filter((a) => a.state !== "pending"),
    (a) => {
      const tr = document.createElement("tr");
      tr.id = `history-${a.id}`;
      tr.append(
        cell(person(a.requester_name, a.requester)),
        cell(permission(a.permission)),
        cell(resource(a.resource)),
        cell(a.justification),
        cell(stateText(a.state)),
        cell(person(a.decided_by_name, a.decided_by)),
        cell(a.note),
        cell(when(a.created)),
      );
      return tr;
    },
  );
  fill(
    mineRows,
    "mine-empty",
    approvals.filter((a) => a.requester === me),
    (a) => {
      const tr = document.createElement("tr");
      tr.id = `mine-${a.id}`;
      tr.append(
        cell(permission(a.permission)),
        cell(resource(a.resource)),
        cell(a.justification),
        cell(stateText(a.state)),
        cell(when(a.created)),
        cell(when(a.expires)),
        cell(person(a.decided_by_name, a.decided_by)),
        cell(a.note),
      );
      return tr;
    },
  );
}

api("GET", "/api/v1/session")
  .then((s) => {
    me = s.id;
    return refresh();
  })
  .catch((e) => showMessage(message, e.message, true));
