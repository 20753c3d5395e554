// The DPO's desk: the configuration version, each document's review state
// with the settings changed since its last review, its links (HTML opens
// the printable page in a new tab) and the "Mark reviewed" form; the
// compliance summary and its errors, overdue access reviews, the DPIA
// screening and cameras without a documented purpose. Everything from
// /api/v1/dpo; nothing from the server is inserted as HTML.

import { api, t, timeElement, showMessage, cell, ApiError } from "./common.js";

const root = document.getElementById("dpo-desk");
const canReview = root.dataset.canEdit === "true";
const message = document.getElementById("message");
const KINDS = ["ropa", "policy", "notice", "dpia"];

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function link(href, text, newTab) {
  const a = el("a", text);
  a.href = href;
  if (newTab) {
    a.target = "_blank";
    a.rel = "noopener";
  }
  return a;
}

function docTitle(kind) {
  return KINDS.includes(kind) ? t(`dpo.doc.${kind}`) : kind;
}

/** The table of settings changed since the last review. */
function changesTable(changes) {
  const wrap = el("div", null, "table-scroll");
  const table = el("table", null, "report changes");
  const caption = el("caption", t("dpo.desk.changes", { count: changes.length }));
  const head = document.createElement("thead");
  const hr = document.createElement("tr");
  for (const key of ["dpo.desk.setting", "dpo.desk.before", "dpo.desk.after"]) {
    const th = el("th", t(key));
    th.scope = "col";
    hr.append(th);
  }
  head.append(hr);
  const body = document.createElement("tbody");
  for (const c of changes) {
    const tr = document.createElement("tr");
    tr.append(cell(c.setting), cell(c.before), cell(c.after));
    body.append(tr);
  }
  table.append(caption, head, body);
  wrap.append(table);
  return wrap;
}

function reviewForm(doc, version) {
  const form = el("form", null, "stack review-form");
  const id = `review-note-${doc.kind}`;
  const label = el("label", t("dpo.desk.note"));
  label.htmlFor = id;
  const note = document.createElement("textarea");
  note.id = id;
  note.maxLength = 2000;
  const button = el("button", t("dpo.desk.mark_reviewed"));
  button.type = "submit";
  button.id = `review-${doc.kind}`;
  form.append(label, note, button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    try {
      await api("POST", `/api/v1/documents/${doc.kind}/review`, {
        version,
        note: note.value,
      });
      showMessage(message, t("dpo.desk.reviewed_now", { title: docTitle(doc.kind), version }), false);
      await load();
    } catch (e) {
      button.disabled = false;
      showMessage(message, describe(e), true);
    }
  });
  return form;
}

function documentCard(doc, version) {
  const card = el("section", null, "card doc-card");
  card.dataset.kind = doc.kind;
  card.dataset.needsReview = String(doc.needs_review);
  const h = el("h3", docTitle(doc.kind));
  h.id = `doc-${doc.kind}-h`;
  card.setAttribute("aria-labelledby", h.id);
  const state = el("p", null, "doc-state");
  const badge = el(
    "strong",
    doc.needs_review ? t("dpo.desk.needs_review") : t("dpo.desk.up_to_date"),
    doc.needs_review ? "needs-review" : "reviewed",
  );
  state.append(badge);
  if (doc.reviewed_version === null || doc.reviewed_version === undefined) {
    state.append(" ", t("dpo.desk.never_reviewed"));
  } else {
    state.append(
      " ",
      t("dpo.desk.reviewed", { version: doc.reviewed_version, by: doc.reviewed_by || "—" }),
      " ",
      timeElement(new Date(doc.reviewed_at)),
    );
  }
  card.append(h, state);
  if (doc.changes.length > 0) card.append(changesTable(doc.changes));
  // The documents are the DPO's (dpo.documents): others see their state.
  if (canReview) {
    const links = el("p", null, "report-links");
    const base = `/api/v1/documents/${doc.kind}`;
    links.append(
      link(`${base}?format=html`, t("dpo.desk.view_html"), true),
      " · ",
      link(`${base}?format=md`, t("dpo.desk.markdown"), true),
      " · ",
      link(`${base}?format=json`, t("dpo.desk.json"), true),
    );
    card.append(links, reviewForm(doc, version));
  }
  return card;
}

function list(ul, items, empty) {
  ul.replaceChildren();
  if (items.length === 0) {
    ul.append(el("li", empty, "muted"));
    return;
  }
  for (const item of items) {
    const li = document.createElement("li");
    li.append(item);
    ul.append(li);
  }
}

function finding(f) {
  const span = document.createElement("span");
  span.append(el("code", f.rule), ` ${f.object}: ${f.message} (${f.citation})`);
  return span;
}

function render(d) {
  const v = document.getElementById("dpo-version");
  v.replaceChildren(t("dpo.desk.version", { version: d.version }), " ", timeElement(new Date(d.since)));
  v.dataset.version = String(d.version);

  const docs = document.getElementById("dpo-documents");
  docs.replaceChildren(...d.documents.map((doc) => documentCard(doc, d.version)));

  const c = d.compliance;
  document.getElementById("dpo-compliance-summary").textContent = t("dpo.desk.summary", {
    errors: c.errors,
    warnings: c.warnings,
    infos: c.infos,
  });
  list(document.getElementById("dpo-errors"), d.errors.map(finding), t("dpo.desk.no_errors"));

  list(
    document.getElementById("dpo-overdue"),
    d.access_reviews_overdue.map((i) => {
      const span = document.createElement("span");
      span.append(`${i.login} (${i.roles.join(", ") || "—"}) `, t("dpo.access.due_since"), " ", timeElement(new Date(i.due_at)));
      return span;
    }),
    t("dpo.desk.none_overdue"),
  );

  const dpia = document.getElementById("dpo-dpia");
  dpia.textContent = d.dpia_required ? t("dpo.desk.dpia_required") : t("dpo.desk.dpia_not_required");
  dpia.dataset.required = String(d.dpia_required);
  list(document.getElementById("dpo-dpia-reasons"), d.dpia_reasons, t("dpo.desk.no_reasons"));

  list(
    document.getElementById("dpo-no-purpose"),
    d.cameras_without_purpose.map((c) => link("/admin/cameras", c.name)),
    t("dpo.desk.all_documented"),
  );
  root.dataset.loaded = "true";
}

async function load() {
  try {
    render(await api("GET", "/api/v1/dpo"));
  } catch (e) {
    showMessage(message, describe(e), true);
  }
}

await load();
