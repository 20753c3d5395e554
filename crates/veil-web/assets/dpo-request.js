// One data-subject request (GET /api/v1/requests/{id}): its facts, the
// steps the workflow allows now (each a small form posting to its route),
// the footage in the search scope, the marked intervals with what an
// erasure removed or why it could not, the register entries whose
// recipients are told (Art. 19) and the packages made for it. The section
// `#request-footage` is where the player and the timeline go.

import { api, t, formatTime, showMessage, cell, ApiError, toRfc3339 } from "./common.js";

const root = document.getElementById("dpo-request");
const id = root.dataset.id;
const facts = document.getElementById("dsr-facts");
const steps = document.getElementById("dsr-steps");
const error = document.getElementById("dsr-error");
const footage = document.querySelector("#dsr-footage tbody");
const intervals = document.querySelector("#dsr-intervals tbody");
const recipients = document.querySelector("#dsr-recipients tbody");
const packages = document.getElementById("dsr-packages");

// Literal keys, so the catalogue check sees every one.
const LABELS = {
  kind: () => t("dsr.kind"),
  status: () => t("dsr.status"),
  received: () => t("dsr.received"),
  due: () => t("dsr.due"),
  extended_due: () => t("dsr.extended_due"),
  subject: () => t("dsr.subject"),
  contact: () => t("dsr.contact"),
  description: () => t("dsr.description"),
  verification_method: () => t("dsr.method"),
  decision: () => t("dsr.decision"),
  decision_reason: () => t("dsr.reason"),
  linked_change: () => t("dsr.linked_change"),
  refusal_reason: () => t("dsr.refusal_reason"),
};
const TIMES = new Set(["received", "due", "extended_due"]);
// Each step: its fields (name, input type) and its route.
const STEPS = {
  verify: { label: () => t("dsr.step.verify"), fields: [["method", "text"]] },
  extend: { label: () => t("dsr.step.extend"), fields: [["until", "datetime-local"], ["reason", "textarea"]] },
  search: {
    label: () => t("dsr.step.search"),
    fields: [["cameras", "text"], ["start", "datetime-local"], ["end", "datetime-local"]],
  },
  intervals: {
    label: () => t("dsr.step.mark"),
    fields: [["camera", "number"], ["start", "datetime-local"], ["end", "datetime-local"]],
  },
  decide: {
    label: () => t("dsr.step.decide"),
    fields: [["decision", "select"], ["reason", "textarea"], ["linked_change", "number"]],
  },
  restrict: { label: () => t("dsr.step.restrict"), fields: [] },
  erase: { label: () => t("dsr.step.erase"), fields: [] },
  complete: { label: () => t("dsr.step.complete"), fields: [["kept_reason", "textarea"]] },
  refuse: { label: () => t("dsr.step.refuse"), fields: [["reason", "textarea"]] },
};

function fail(e) {
  showMessage(error, e instanceof ApiError ? e.message : t("common.error.network"), true);
}

function value(el) {
  if (el.type === "datetime-local") return toRfc3339(el.value);
  if (el.dataset.field === "cameras") {
    return el.value.split(",").map((x) => Number(x.trim())).filter((x) => x > 0);
  }
  if (el.type === "number") return el.value === "" ? undefined : Number(el.value);
  return el.value;
}

function stepForm(name) {
  const step = STEPS[name];
  const form = document.createElement("form");
  form.className = "inline";
  for (const [field, type] of step.fields) {
    const fid = `dsr-${name}-${field}`;
    const label = document.createElement("label");
    label.htmlFor = fid;
    label.textContent = (LABELS[field] || (() => t(`dsr.field.${field}`)))();
    let input;
    if (type === "textarea") input = document.createElement("textarea");
    else if (type === "select") {
      input = document.createElement("select");
      for (const [v, text] of [["upheld", t("dsr.upheld")], ["rejected", t("dsr.rejected")]]) {
        const o = document.createElement("option");
        o.value = v;
        o.textContent = text;
        input.append(o);
      }
    } else {
      input = document.createElement("input");
      input.type = type;
    }
    input.id = fid;
    input.dataset.field = field;
    form.append(label, input);
  }
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = step.label();
  form.append(button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showMessage(error, "", true);
    const body = {};
    for (const el of form.querySelectorAll("[data-field]")) {
      const v = value(el);
      if (v !== undefined) body[el.dataset.field] = v;
    }
    try {
      await api("POST", `/api/v1/requests/${id}/${name}`, step.fields.length ? body : undefined);
      await refresh();
    } catch (e) {
      fail(e);
    }
  });
  return form;
}

function json(v) {
  return v == null ? "" : JSON.stringify(v);
}

async function refresh() {
  const r = await api("GET", `/api/v1/requests/${id}`);
  facts.replaceChildren();
  for (const [key, label] of Object.entries(LABELS)) {
    if (r[key] == null) continue;
    const dt = document.createElement("dt");
    dt.textContent = label();
    const dd = document.createElement("dd");
    dd.textContent = TIMES.has(key) ? formatTime(new Date(r[key])) : String(r[key]);
    facts.append(dt, dd);
  }
  steps.replaceChildren(...r.next.filter((n) => STEPS[n]).map(stepForm));
  intervals.replaceChildren();
  for (const i of r.intervals) {
    const tr = document.createElement("tr");
    const actions = document.createElement("td");
    if (r.status === "searching" && i.hold == null && i.erased_at == null) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = t("dsr.unmark");
      b.addEventListener("click", async () => {
        try {
          await api("DELETE", `/api/v1/requests/${id}/intervals/${i.id}`);
          await refresh();
        } catch (e) {
          fail(e);
        }
      });
      actions.append(b);
    }
    let result = "";
    if (i.hold != null) result = t("dsr.held", { id: i.hold });
    if (i.erased_at) result = `${t("dsr.erased")} ${json(i.erased)} ${json(i.erasure_blocked)}`;
    tr.append(
      cell(String(i.camera)),
      cell(formatTime(new Date(i.start))),
      cell(formatTime(new Date(i.end))),
      cell(result),
      actions,
    );
    intervals.append(tr);
  }
  packages.replaceChildren(
    ...r.packages.map((p) => {
      const li = document.createElement("li");
      li.textContent = `${p.package_id} (${p.state})`;
      return li;
    }),
  );
  if (r.scope) {
    const f = await api("GET", `/api/v1/requests/${id}/footage`);
    footage.replaceChildren(
      ...f.cameras.map((c) => {
        const tr = document.createElement("tr");
        const runs = c.recordings
          .map((x) => `${formatTime(new Date(x.start))} – ${formatTime(new Date(x.end))}`)
          .join("; ");
        tr.append(cell(c.name || String(c.id)), cell(runs || t("dsr.no_recordings")));
        return tr;
      }),
    );
  }
  const told = await api("GET", `/api/v1/requests/${id}/recipients`);
  recipients.replaceChildren();
  for (const x of told.items) {
    const tr = document.createElement("tr");
    const actions = document.createElement("td");
    if (!x.record && r.status !== "completed" && r.status !== "refused") {
      const note = document.createElement("input");
      note.setAttribute("aria-label", t("dsr.note"));
      for (const informed of [true, false]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary";
        b.textContent = informed ? t("dsr.informed") : t("dsr.not_informed");
        b.addEventListener("click", async () => {
          try {
            await api("POST", `/api/v1/requests/${id}/recipients`, {
              disclosure: x.disclosure,
              informed,
              note: note.value,
            });
            await refresh();
          } catch (e) {
            fail(e);
          }
        });
        actions.append(b);
      }
      actions.prepend(note);
    }
    const state = x.record
      ? `${x.record.informed ? t("dsr.informed") : t("dsr.not_informed")}: ${x.record.note}`
      : t("dsr.outstanding");
    tr.append(cell(`#${x.disclosure}`), cell(x.organisation), cell(state), actions);
    recipients.append(tr);
  }
  root.dataset.loaded = "true";
}

// The footage workspace (request-footage.js) marks intervals and exports.
document.addEventListener("dsr:changed", () => refresh().catch(fail));
refresh().catch(fail);
