// Evidence locks and restriction holds: the list, with extend and release
// where allowed, and the form that creates one. The same script serves
// /locks and /holds (`data-kind` on #protections).

import { api, t, timeElement, showMessage, cell, ApiError, toRfc3339 } from "./common.js";

const kind = document.getElementById("protections").dataset.kind;
const base = `/api/v1/${kind}s`;
const rows = document.querySelector("#protection-table tbody");
const message = document.getElementById("message");
const form = document.getElementById("protection-form");

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

function button(label, secondary) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (secondary) b.className = "secondary";
  return b;
}

function interval(p) {
  const span = document.createElement("span");
  span.append(timeElement(new Date(p.start)), " – ", timeElement(new Date(p.end)));
  return span;
}

/**
 * An inline form under row `tr` asking for a reason (and, to extend, a new
 * review date); `submit(values)` runs the request.
 */
function askInline(tr, withReview, submit) {
  const old = rows.querySelector("tr.inline-form");
  if (old) old.remove();
  const row = document.createElement("tr");
  row.className = "inline-form";
  const td = document.createElement("td");
  td.colSpan = 8;
  const f = document.createElement("form");
  f.className = "stack";
  let review;
  if (withReview) {
    const label = document.createElement("label");
    label.textContent = t("protections.new_review");
    label.htmlFor = "inline-review";
    review = document.createElement("input");
    review.type = "datetime-local";
    review.step = "1";
    review.id = "inline-review";
    review.required = true;
    f.append(label, review);
  }
  const label = document.createElement("label");
  label.textContent = t(withReview ? "protections.extend_reason" : "protections.release_reason");
  label.htmlFor = "inline-reason";
  const reason = document.createElement("textarea");
  reason.id = "inline-reason";
  reason.minLength = 10;
  reason.maxLength = 500;
  reason.required = true;
  const ok = document.createElement("button");
  ok.type = "submit";
  ok.textContent = t("protections.confirm");
  const cancel = button(t("protections.cancel"), true);
  cancel.addEventListener("click", () => row.remove());
  f.append(label, reason, ok, cancel);
  f.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await submit({ reason: reason.value, review: review ? toRfc3339(review.value) : undefined });
      row.remove();
      await load();
    } catch (e) {
      showMessage(message, describe(e), true);
    }
  });
  td.append(f);
  row.append(td);
  tr.after(row);
  (review || reason).focus();
}

function render(list) {
  rows.replaceChildren();
  if (list.items.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(t("protections.none"));
    td.colSpan = 8;
    tr.append(td);
    rows.append(tr);
    return;
  }
  for (const p of list.items) {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id;
    const cameras = p.cameras.map((c) => c.name || `#${c.id}`).join(", ");
    const review = p.review ? timeElement(new Date(p.review)) : "";
    tr.append(
      cell(String(p.id)),
      cell(t(`protections.state.${p.state}`)),
      cell(cameras),
      cell(interval(p)),
      cell(p.reason),
      cell(review),
      cell(String(p.segments)),
    );
    const actions = cell("");
    {
      if (p.can_extend) {
        const extend = button(t("protections.extend"), true);
        extend.className = "secondary extend";
        extend.addEventListener("click", () =>
          askInline(tr, true, (v) =>
            api("POST", `${base}/${p.id}/extend`, { review: v.review, reason: v.reason }),
          ),
        );
        actions.append(extend, " ");
      }
      if (p.can_release) {
        const release = button(t("protections.release"), true);
        release.className = "secondary release";
        release.addEventListener("click", () =>
          askInline(tr, false, (v) => api("POST", `${base}/${p.id}/release`, { reason: v.reason })),
        );
        actions.append(release);
      }
    }
    tr.append(actions);
    rows.append(tr);
  }
}

async function load() {
  try {
    const list = await api("GET", base);
    render(list);
    return list;
  } catch (e) {
    showMessage(message, describe(e), true);
    return null;
  }
}

/** The camera choices of the form (those the user may cover). */
function setupForm(list) {
  if (!form) return;
  const box = document.getElementById("p-cameras");
  for (const c of list ? list.choices : []) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "camera";
    input.value = c.id;
    label.append(input, " ", c.name);
    box.append(label);
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {
      cameras: [...form.querySelectorAll("input[name=camera]:checked")].map((i) => Number(i.value)),
      start: toRfc3339(form.elements.start.value),
      end: toRfc3339(form.elements.end.value),
      reason: form.elements.reason.value,
    };
    if (kind === "lock") {
      body.review = toRfc3339(form.elements.review.value);
      body.on_review = form.elements.on_review.value;
    }
    try {
      const p = await api("POST", base, body);
      showMessage(message, t(`${kind}s.created`, { id: p.id, segments: p.segments }), false);
      form.reset();
      await load();
    } catch (e) {
      showMessage(message, describe(e), true);
    }
  });
}

setupForm(await load());
