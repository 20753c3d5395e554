// The register of transfers and disclosures: filters, the table (with a
// "destruction confirmed" button on copies), the CSV link that follows the
// filters, and the form that enters a showing or telling.

import { api, t, timeElement, showMessage, cell, ApiError, toRfc3339 } from "./common.js";

const rows = document.querySelector("#disclosure-table tbody");
const message = document.getElementById("message");
const filterForm = document.getElementById("disclosure-filter");
const csv = document.getElementById("disclosure-csv");
const form = document.getElementById("disclosure-form");
const COLUMNS = 12;

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

/** The query string of the filter form (empty fields left out). */
function query() {
  const q = new URLSearchParams();
  for (const name of ["from", "to"]) {
    const v = filterForm.elements[name].value;
    if (v) q.set(name, toRfc3339(v));
  }
  for (const name of ["camera", "kind", "country", "organisation"]) {
    const v = filterForm.elements[name].value.trim();
    if (v) q.set(name, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

function span(d) {
  const s = document.createElement("span");
  s.append(timeElement(new Date(d.start)), " – ", timeElement(new Date(d.end)));
  return s;
}

function lines(...parts) {
  const div = document.createElement("div");
  for (const p of parts) {
    if (p === null || p === undefined || p === "") continue;
    const line = document.createElement("div");
    line.append(p);
    div.append(line);
  }
  return div;
}

function labelled(key, value) {
  return `${t(key)}: ${value}`;
}

function status(d) {
  const parts = [t(`disclosures.status.${d.status}`)];
  const at = (key, time) => {
    if (!time) return;
    const s = document.createElement("span");
    s.append(`${t(key)} `, timeElement(new Date(time)));
    parts.push(s);
  };
  at("disclosures.created", d.created);
  at("disclosures.expires", d.status === "created" || d.status === "downloaded" ? d.expires : null);
  at("disclosures.downloaded", d.downloaded);
  at("disclosures.expired", d.expired);
  at("disclosures.destruction_confirmed", d.destruction_confirmed);
  return lines(...parts);
}

function confirmInline(tr, d) {
  const old = rows.querySelector("tr.inline-form");
  if (old) old.remove();
  const row = document.createElement("tr");
  row.className = "inline-form";
  const td = document.createElement("td");
  td.colSpan = COLUMNS;
  const f = document.createElement("form");
  f.className = "stack";
  const label = document.createElement("label");
  label.textContent = t("disclosures.destruction_note");
  label.htmlFor = "inline-note";
  const note = document.createElement("textarea");
  note.id = "inline-note";
  note.maxLength = 2000;
  note.required = true;
  const ok = document.createElement("button");
  ok.type = "submit";
  ok.textContent = t("disclosures.confirm");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary";
  cancel.textContent = t("disclosures.cancel");
  cancel.addEventListener("click", () => row.remove());
  f.append(label, note, ok, cancel);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", `/api/v1/disclosures/${d.id}/destruction`, { note: note.value });
      row.remove();
      showMessage(message, t("disclosures.confirmed", { id: d.id }), false);
      await load();
    } catch (e) {
      showMessage(message, describe(e), true);
    }
  });
  td.append(f);
  row.append(td);
  tr.after(row);
  note.focus();
}

function render(list) {
  rows.replaceChildren();
  if (list.items.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(t("disclosures.none"));
    td.colSpan = COLUMNS;
    tr.append(td);
    rows.append(tr);
    return;
  }
  for (const d of list.items) {
    const tr = document.createElement("tr");
    tr.dataset.id = d.id;
    const r = d.requester;
    const transfer = d.outside_eea
      ? lines(
          t("disclosures.outside_eea"),
          labelled("disclosures.legal_basis", d.legal_basis || ""),
          labelled("disclosures.safeguards", d.safeguards || ""),
        )
      : t("disclosures.inside_eea");
    const pkg = d.package_id
      ? lines(d.package_id, d.package_sha256 ? `SHA-256 ${d.package_sha256}` : "")
      : "";
    tr.append(
      cell(String(d.id)),
      cell(t(`disclosures.kind.${d.kind}`)),
      cell(status(d)),
      cell(span(d)),
      cell(d.cameras.map((c) => `#${c}`).join(", ")),
      cell(lines(r.name, r.title, `${r.organisation} (${r.country})`)),
      cell(d.authorised_by),
      cell(d.content),
      cell(
        lines(
          labelled("disclosures.reason", d.reason),
          labelled("disclosures.grant_reason", d.grant_reason),
        ),
      ),
      cell(transfer),
      cell(pkg),
    );
    const actions = cell("");
    if (d.can_confirm_destruction) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary confirm-destruction";
      b.textContent = t("disclosures.confirm_destruction");
      b.addEventListener("click", () => confirmInline(tr, d));
      actions.append(b);
    }
    tr.append(actions);
    rows.append(tr);
  }
}

async function load() {
  try {
    const q = query();
    csv.href = `/api/v1/disclosures.csv${q}`;
    render(await api("GET", `/api/v1/disclosures${q}`));
  } catch (e) {
    showMessage(message, describe(e), true);
  }
}

filterForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  await load();
});

if (form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = (name) => form.elements[name].value;
    const optional = (name) => (v(name).trim() ? v(name) : undefined);
    const body = {
      kind: v("kind"),
      cameras: [...form.querySelectorAll("input[name=cameras]:checked")].map((i) => Number(i.value)),
      start: toRfc3339(v("start")),
      end: toRfc3339(v("end")),
      requester: {
        name: v("name"),
        title: v("title"),
        organisation: v("organisation"),
        country: v("country"),
      },
      content: v("content"),
      reason: v("reason"),
      grant_reason: v("grant_reason"),
      legal_basis: optional("legal_basis"),
      safeguards: optional("safeguards"),
    };
    try {
      const created = await api("POST", "/api/v1/disclosures", body);
      showMessage(message, t("disclosures.recorded", { id: created.id }), false);
      form.reset();
      await load();
    } catch (e) {
      showMessage(message, describe(e), true);
    }
  });
}

await load();
