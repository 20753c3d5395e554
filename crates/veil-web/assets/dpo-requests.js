// The register of data-subject requests (GET/POST /api/v1/requests): open
// requests by due date, overdue first, with the days left; closed ones
// after them; a filter by status and the form that registers a new one.
// The API's error names the field: shown above the form, the field marked.

import { api, t, formatTime, showMessage, cell, ApiError, toRfc3339 } from "./common.js";

const rows = document.querySelector("#dsr-table tbody");
const filter = document.getElementById("dsr-status");
const form = document.getElementById("dsr-form");
const error = document.getElementById("dsr-error");
const message = document.getElementById("message");
const root = document.getElementById("dpo-requests");

// Literal keys, so the catalogue check sees every one.
const KINDS = {
  access: () => t("dsr.kind.access"),
  erasure: () => t("dsr.kind.erasure"),
  restriction: () => t("dsr.kind.restriction"),
  objection: () => t("dsr.kind.objection"),
  rectification: () => t("dsr.kind.rectification"),
  portability: () => t("dsr.kind.portability"),
};
const STATUSES = {
  received: () => t("dsr.status.received"),
  verified: () => t("dsr.status.verified"),
  searching: () => t("dsr.status.searching"),
  decided: () => t("dsr.status.decided"),
  completed: () => t("dsr.status.completed"),
  refused: () => t("dsr.status.refused"),
};

function kindName(k) {
  return (KINDS[k] || (() => k))();
}

function statusName(s) {
  return (STATUSES[s] || (() => s))();
}

function daysLeft(r) {
  if (r.days_left == null) return "";
  if (r.overdue) return t("dsr.overdue", { days: -r.days_left });
  return t("dsr.days", { days: r.days_left });
}

async function refresh() {
  const q = filter.value ? `?status=${encodeURIComponent(filter.value)}` : "";
  try {
    const list = await api("GET", `/api/v1/requests${q}`);
    rows.replaceChildren();
    for (const r of list.items) {
      const tr = document.createElement("tr");
      if (r.overdue) tr.classList.add("overdue");
      const a = document.createElement("a");
      a.href = `/dpo/requests/${r.id}`;
      a.textContent = `#${r.id}`;
      const due = r.extended_due || r.due;
      tr.append(
        cell(a),
        cell(kindName(r.kind)),
        cell(statusName(r.status)),
        cell(formatTime(new Date(r.received))),
        cell(formatTime(new Date(due))),
        cell(daysLeft(r)),
      );
      rows.append(tr);
    }
    root.dataset.loaded = "true";
  } catch (e) {
    showMessage(message, e instanceof ApiError ? e.message : t("common.error.network"), true);
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  showMessage(error, "", true);
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const body = {};
  for (const el of form.querySelectorAll("[data-field]")) {
    body[el.dataset.field] = el.type === "datetime-local" ? toRfc3339(el.value) : el.value;
  }
  try {
    const r = await api("POST", "/api/v1/requests", body);
    form.reset();
    window.location.href = `/dpo/requests/${r.id}`;
  } catch (e) {
    showMessage(error, e instanceof ApiError ? e.message : t("common.error.network"), true);
    if (e instanceof ApiError) {
      const name = e.message.split(/[\s:]/)[0];
      const el = form.querySelector(`[data-field="${name}"]`);
      if (el) el.setAttribute("aria-invalid", "true");
    }
  }
});

filter.addEventListener("change", refresh);
refresh();
