// The breach register (GET /api/v1/breach-candidates, POST …/dismiss and
// …/promote; GET/POST /api/v1/breaches, PUT /api/v1/breaches/{id}, POST
// …/decision and …/notified): candidates with their evidence (links to the
// access record), breaches with the 72-hour clock, the assessment form,
// the decisions and the notification links. The API's error names the
// field: shown in the breach's own status line.

import { api, t, timeElement, showMessage, cell, ApiError } from "./common.js";

const message = document.getElementById("message");
const candRows = document.querySelector("#cand-table tbody");
const candEmpty = document.getElementById("cand-empty");
const candStatus = document.getElementById("cand-status");
const list = document.getElementById("breach-list");
const breachEmpty = document.getElementById("breach-empty");
const TEXTS = ["description", "data_affected", "consequences", "measures_taken", "measures_proposed"];
const NUMBERS = ["hours_affected", "approx_people", "approx_records"];

function describe(e) {
  return e instanceof ApiError ? e.message : t("common.error.network");
}

function button(label, onClick, secondary) {
  const b = document.createElement("button");
  b.type = "button";
  if (secondary) b.className = "secondary";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

function evidence(c) {
  const td = document.createElement("td");
  for (const e of c.evidence) {
    const a = document.createElement("a");
    a.href = e.href;
    a.textContent = e.first === e.last ? `#${e.first}` : `#${e.first}–${e.last}`;
    td.append(a, " ");
  }
  if (!c.evidence.length) td.textContent = t("breaches.no_evidence");
  return td;
}

function candActions(c) {
  const td = document.createElement("td");
  td.className = "buttons";
  if (c.status !== "open") {
    if (c.breach_id) {
      const a = document.createElement("a");
      a.href = `#breach-${c.breach_id}`;
      a.textContent = t("breaches.breach_n", { id: c.breach_id });
      td.append(a);
    } else if (c.reason) {
      td.textContent = c.reason;
    }
    return td;
  }
  const reason = document.createElement("input");
  reason.type = "text";
  reason.maxLength = 2000;
  reason.setAttribute("aria-label", t("breaches.dismiss_reason"));
  reason.placeholder = t("breaches.dismiss_reason");
  td.append(
    reason,
    button(t("breaches.dismiss"), async () => {
      try {
        await api("POST", `/api/v1/breach-candidates/${c.id}/dismiss`, { reason: reason.value });
        showMessage(message, t("breaches.dismissed", { id: c.id }), false);
        await refresh();
      } catch (e) {
        showMessage(message, describe(e), true);
        reason.focus();
      }
    }, true),
    button(t("breaches.promote"), async () => {
      try {
        const b = await api("POST", `/api/v1/breach-candidates/${c.id}/promote`);
        showMessage(message, t("breaches.promoted", { id: b.id }), false);
        await refresh();
      } catch (e) {
        showMessage(message, describe(e), true);
      }
    }),
  );
  return td;
}

async function loadCandidates() {
  const q = candStatus.value ? `?status=${encodeURIComponent(candStatus.value)}` : "";
  const { items } = await api("GET", `/api/v1/breach-candidates${q}`);
  candRows.replaceChildren();
  for (const c of items) {
    const tr = document.createElement("tr");
    tr.append(
      cell(timeElement(new Date(c.raised_at))),
      cell(t(`breaches.signal.${c.signal}`)),
      cell(c.summary),
      evidence(c),
      cell(t(`breaches.status.${c.status}`)),
      candActions(c),
    );
    candRows.append(tr);
  }
  candEmpty.hidden = items.length > 0;
}

function labelled(id, label, control) {
  const p = document.createElement("p");
  const l = document.createElement("label");
  l.htmlFor = id;
  l.textContent = label;
  control.id = id;
  p.append(l, control);
  return p;
}

function clock(b) {
  const p = document.createElement("p");
  p.className = b.late ? "breach-late" : "";
  let text;
  if (b.authority.notified_at) text = t(b.late ? "breaches.clock.notified_late" : "breaches.clock.notified");
  else if (!b.open) text = t("breaches.clock.not_notifying");
  else if (b.hours_left < 0) text = t("breaches.clock.late", { hours: -b.hours_left });
  else text = t("breaches.clock.left", { hours: b.hours_left });
  p.append(text, " ", t("breaches.clock.deadline"), " ", timeElement(new Date(b.deadline)));
  return p;
}

function assessmentForm(b, status) {
  const form = document.createElement("form");
  form.className = "breach-form";
  const id = (f) => `b${b.id}-${f}`;
  const detected = document.createElement("input");
  detected.type = "text";
  detected.value = b.detected_at;
  form.append(labelled(id("detected_at"), t("breaches.field.detected_at"), detected));
  const inputs = {};
  for (const f of TEXTS) {
    const ta = document.createElement("textarea");
    ta.rows = 2;
    ta.value = b[f] || "";
    inputs[f] = ta;
    form.append(labelled(id(f), t(`breaches.field.${f}`), ta));
  }
  for (const f of NUMBERS) {
    const n = document.createElement("input");
    n.type = "number";
    n.min = "0";
    n.value = b[f] == null ? "" : String(b[f]);
    inputs[f] = n;
    form.append(labelled(id(f), t(`breaches.field.${f}`), n));
  }
  const cams = document.createElement("input");
  cams.type = "text";
  cams.value = (b.cameras || []).join(", ");
  form.append(labelled(id("cameras"), t("breaches.field.cameras"), cams));
  const cats = document.createElement("input");
  cats.type = "text";
  cats.value = (b.categories || []).join(", ");
  form.append(labelled(id("categories"), t("breaches.field.categories"), cats));
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = t("breaches.save");
  form.append(save);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { detected_at: detected.value.trim() };
    for (const f of TEXTS) body[f] = inputs[f].value;
    for (const f of NUMBERS) body[f] = inputs[f].value === "" ? null : Number(inputs[f].value);
    body.cameras = cams.value.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
    body.categories = cats.value.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      await api("PUT", `/api/v1/breaches/${b.id}`, body);
      showMessage(message, t("breaches.saved", { id: b.id }), false);
      await refresh();
    } catch (e) {
      showMessage(status, describe(e), true);
    }
  });
  return form;
}

function decision(b, about, status) {
  const d = b[about];
  const box = document.createElement("fieldset");
  const legend = document.createElement("legend");
  legend.textContent = t(`breaches.about.${about}`);
  box.append(legend);
  const state = document.createElement("p");
  state.textContent =
    d.notify == null ? t("breaches.undecided") : t(d.notify ? "breaches.decided_yes" : "breaches.decided_no", { reason: d.reason || "" });
  if (d.notified_at) state.append(" ", t("breaches.notified_at"), " ", timeElement(new Date(d.notified_at)));
  box.append(state);
  const notify = document.createElement("select");
  for (const [v, k] of [["true", "breaches.notify_yes"], ["false", "breaches.notify_no"]]) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = t(k);
    notify.append(o);
  }
  const reason = document.createElement("input");
  reason.type = "text";
  reason.maxLength = 2000;
  box.append(
    labelled(`b${b.id}-${about}-notify`, t("breaches.notify"), notify),
    labelled(`b${b.id}-${about}-reason`, t("breaches.reason"), reason),
    button(t("breaches.decide"), async () => {
      try {
        await api("POST", `/api/v1/breaches/${b.id}/decision`, { about, notify: notify.value === "true", reason: reason.value });
        await refresh();
      } catch (e) {
        showMessage(status, describe(e), true);
      }
    }, true),
  );
  if (d.notify && !d.notified_at) {
    const late = document.createElement("input");
    late.type = "text";
    late.maxLength = 2000;
    if (about === "authority") box.append(labelled(`b${b.id}-late`, t("breaches.late_reason"), late));
    box.append(
      button(t("breaches.mark_notified"), async () => {
        const body = { about };
        if (late.value.trim()) body.late_reason = late.value;
        try {
          await api("POST", `/api/v1/breaches/${b.id}/notified`, body);
          await refresh();
        } catch (e) {
          showMessage(status, describe(e), true);
        }
      }),
    );
  }
  return box;
}

function breachCard(b) {
  const art = document.createElement("article");
  art.className = "card breach";
  art.id = `breach-${b.id}`;
  const h = document.createElement("h3");
  h.textContent = t("breaches.breach_n", { id: b.id });
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  status.hidden = true;
  const links = document.createElement("p");
  for (const [fmt, key] of [["md", "breaches.notification_md"], ["html", "breaches.notification_html"]]) {
    const a = document.createElement("a");
    a.href = `/api/v1/breaches/${b.id}/notification?format=${fmt}`;
    a.textContent = t(key);
    links.append(a, " ");
  }
  art.append(h, clock(b), status, assessmentForm(b, status), decision(b, "authority", status), decision(b, "subjects", status), links);
  return art;
}

async function loadBreaches() {
  const { items } = await api("GET", "/api/v1/breaches");
  list.replaceChildren(...items.map(breachCard));
  breachEmpty.hidden = items.length > 0;
}

async function refresh() {
  try {
    await Promise.all([loadCandidates(), loadBreaches()]);
    document.getElementById("dpo-breaches").dataset.loaded = "true";
  } catch (e) {
    showMessage(message, describe(e), true);
  }
}

candStatus.addEventListener("change", refresh);
document.getElementById("breach-new").addEventListener("click", async () => {
  try {
    const b = await api("POST", "/api/v1/breaches", { detected_at: new Date().toISOString() });
    showMessage(message, t("breaches.created", { id: b.id }), false);
    await refresh();
  } catch (e) {
    showMessage(message, describe(e), true);
  }
});
refresh();
