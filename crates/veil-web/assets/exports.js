// The export wizard: four steps on one page (recordings, requesting party,
// protection, progress), then the user's own exports below. Times are
// entered in UTC. A refusal that names a field takes the user back to the
// step holding it, with the server's message above the form.

import { api, t, timeElement, showMessage, cell, ApiError, lang } from "./common.js";

const form = document.getElementById("export-form");
const error = document.getElementById("export-error");
const steps = document.getElementById("export-steps");
const progressStep = document.getElementById("export-step-4");
const progress = document.getElementById("export-progress");
const percent = document.getElementById("export-percent");
const stateLine = document.getElementById("export-state");
const passphraseBox = document.getElementById("export-passphrase-box");
const passphraseShown = document.getElementById("export-generated-passphrase");
const download = document.getElementById("export-download");
const excludes = document.getElementById("export-excludes");
const rows = document.getElementById("export-rows");
const listError = document.getElementById("export-list-error");
const eea = new Set((form.dataset.eea || "").split(" "));
const COLUMNS = 6;
/** How often a running export is asked for its progress, in ms. */
const POLL_MS = 1000;

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

// ---- Steps -------------------------------------------------------------------

function show(n) {
  for (const el of document.querySelectorAll(".export-step")) {
    el.hidden = el.dataset.step !== String(n);
  }
  for (const li of steps.querySelectorAll("li")) {
    if (li.dataset.step === String(n)) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
  form.hidden = n === 4;
  const legend = document.querySelector(`#export-step-${n} legend, #export-step-${n} h3`);
  if (legend) legend.scrollIntoView({ block: "nearest" });
}

function clearInvalid() {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  showMessage(error, "", true);
}

/** Marks `el` invalid, shows `message` above the form and focuses it. */
function invalid(el, message) {
  const step = el.closest(".export-step");
  if (step) show(Number(step.dataset.step));
  el.setAttribute("aria-invalid", "true");
  showMessage(error, message, true);
  el.focus();
}

function labelOf(el) {
  const l = document.querySelector(`label[for="${el.id}"]`);
  return l ? l.textContent.trim() : el.name;
}

/** A `datetime-local` value read as UTC, as RFC 3339, or "". */
function utc(value) {
  if (!value) return "";
  const d = new Date(`${value.length === 16 ? `${value}:00` : value}Z`);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** `date` as a `datetime-local` value in UTC, to the second. */
function localValue(date) {
  return date.toISOString().slice(0, 19);
}

function checkStep(n) {
  clearInvalid();
  if (n === 1) {
    const boxes = [...form.querySelectorAll("input[name=cameras]")];
    if (!boxes.some((b) => b.checked)) {
      invalid(boxes[0], t("exports.error.cameras"));
      return false;
    }
    const start = form.elements.start;
    const end = form.elements.end;
    for (const el of [start, end, ...excludes.querySelectorAll("input")]) {
      if (!utc(el.value)) {
        invalid(el, t("exports.error.required", { field: labelOf(el) }));
        return false;
      }
    }
    if (utc(end.value) <= utc(start.value)) {
      invalid(end, t("exports.error.order"));
      return false;
    }
    if (wantsOriginal() && !form.elements.justification.value.trim()) {
      invalid(form.elements.justification, t("exports.error.required", { field: labelOf(form.elements.justification) }));
      return false;
    }
  } else if (n === 2) {
    for (const el of document.querySelectorAll("#export-step-2 [required]")) {
      if (!el.value.trim()) {
        invalid(el, t("exports.error.required", { field: labelOf(el) }));
        return false;
      }
    }
  } else if (n === 3) {
    const p = protection();
    if (p === "passphrase" && !form.elements.passphrase.value) {
      invalid(form.elements.passphrase, t("exports.error.required", { field: labelOf(form.elements.passphrase) }));
      return false;
    }
    const days = form.elements.expires_days;
    if (!days.value.trim()) {
      invalid(days, t("exports.error.required", { field: labelOf(days) }));
      return false;
    }
    if (p === "recipients" && recipients().length === 0) {
      invalid(form.elements.recipients, t("exports.error.required", { field: labelOf(form.elements.recipients) }));
      return false;
    }
  }
  return true;
}

for (const b of form.querySelectorAll("button[data-next]")) {
  b.addEventListener("click", () => {
    const from = Number(b.closest(".export-step").dataset.step);
    const to = Number(b.dataset.next);
    if (to > from && !checkStep(from)) return;
    clearInvalid();
    show(to);
  });
}

// ---- Step 1: excluded intervals ------------------------------------------------

let excludeCount = 0;

function addExclude() {
  excludeCount += 1;
  const n = excludeCount;
  const li = document.createElement("li");
  li.className = "range";
  const field = (key, name) => {
    const div = document.createElement("div");
    div.className = "field";
    const label = document.createElement("label");
    label.htmlFor = `export-exclude-${name}-${n}`;
    label.textContent = t(key);
    const input = document.createElement("input");
    input.type = "datetime-local";
    input.step = "1";
    input.id = label.htmlFor;
    input.className = `exclude-${name}`;
    div.append(label, input);
    return div;
  };
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "secondary";
  remove.textContent = t("exports.exclude.remove");
  remove.addEventListener("click", () => {
    li.remove();
    document.getElementById("export-add-exclude").focus();
  });
  li.append(field("exports.exclude.start", "start"), field("exports.exclude.end", "end"), remove);
  excludes.append(li);
  li.querySelector("input").focus();
}

document.getElementById("export-add-exclude").addEventListener("click", addExclude);

// ---- Step 1: the original rendition (only for masks.lift) -----------------------

const original = document.getElementById("export-original");
const justificationBox = document.getElementById("export-justification-box");

/** Whether the original (masks lifted) is asked for; the box exists only
 * for users who may lift masks. */
function wantsOriginal() {
  return !!original && original.checked;
}

function originalChanged() {
  if (!original) return;
  justificationBox.hidden = !original.checked;
  form.elements.justification.required = original.checked;
}

if (original) original.addEventListener("change", originalChanged);

// ---- Step 2: a transfer outside the EEA ----------------------------------------

const transfer = document.getElementById("export-transfer");
const country = form.elements.country;

function countryChanged() {
  const c = country.value.trim().toUpperCase();
  transfer.hidden = !(c.length === 2 && !eea.has(c));
}

country.addEventListener("input", countryChanged);

// ---- Step 3: protection ----------------------------------------------------------

function protection() {
  const r = form.querySelector("input[name=protection]:checked");
  return r ? r.value : "generated";
}

function recipients() {
  return form.elements.recipients.value
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l);
}

function protectionChanged() {
  const p = protection();
  document.getElementById("export-own-passphrase").hidden = p !== "passphrase";
  document.getElementById("export-recipient-keys").hidden = p !== "recipients";
}

for (const r of form.querySelectorAll("input[name=protection]")) {
  r.addEventListener("change", protectionChanged);
}

// ---- Submitting and the refusal's field ---------------------------------------

/** The form's element a refusal's message names (it starts with the field). */
function fieldOf(message) {
  const m = /^([a-z_]+(?:\[(\d+)\])?(?:\.[a-z_]+)?)\b/.exec(message || "");
  if (!m) return null;
  const name = m[1];
  const simple = {
    cameras: "cameras",
    start: "start",
    end: "end",
    "requester.name": "name",
    "requester.title": "title",
    "requester.organisation": "organisation",
    "requester.country": "country",
    requester: "name",
    reason: "reason",
    grant_reason: "grant_reason",
    content: "content",
    legal_basis: "legal_basis",
    safeguards: "safeguards",
    passphrase: "passphrase",
    recipients: "recipients",
    expires_days: "expires_days",
    justification: "justification",
  }[name.replace(/\[\d+\]/, "")];
  if (name.startsWith("exclude")) {
    const items = excludes.querySelectorAll("li");
    const item = items[Number(m[2] || 0)] || items[0];
    if (!item) return null;
    return item.querySelector(name.endsWith(".end") ? ".exclude-end" : ".exclude-start");
  }
  if (name.startsWith("recipients")) return form.elements.recipients;
  if (simple === "cameras") return form.querySelector("input[name=cameras]");
  if (simple === "justification" && !wantsOriginal()) return null;
  return simple ? form.elements[simple] : null;
}

function body() {
  const v = (name) => form.elements[name].value;
  const optional = (name) => (v(name).trim() ? v(name) : undefined);
  const b = {
    cameras: [...form.querySelectorAll("input[name=cameras]:checked")].map((i) => Number(i.value)),
    start: utc(v("start")),
    end: utc(v("end")),
    exclude: [...excludes.querySelectorAll("li")].map((li) => ({
      start: utc(li.querySelector(".exclude-start").value),
      end: utc(li.querySelector(".exclude-end").value),
    })),
    requester: {
      name: v("name"),
      title: v("title"),
      organisation: v("organisation"),
      country: v("country").trim().toUpperCase(),
    },
    reason: v("reason"),
    grant_reason: optional("grant_reason"),
    content: optional("content"),
  };
  if (!transfer.hidden) {
    b.legal_basis = optional("legal_basis");
    b.safeguards = optional("safeguards");
  }
  if (v("expires_days").trim()) b.expires_days = Number(v("expires_days"));
  if (wantsOriginal()) {
    b.rendition = "original";
    b.justification = v("justification");
  }
  const p = protection();
  if (p === "passphrase") b.passphrase = v("passphrase");
  if (p === "recipients") b.recipients = recipients();
  // In the clear: neither a passphrase nor recipients (none is generated).
  if (p === "none") b.encryption = "none";
  return b;
}

const submit = document.getElementById("export-submit");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  for (const n of [1, 2, 3]) {
    if (!checkStep(n)) return;
  }
  submit.disabled = true;
  try {
    const created = await api("POST", "/api/v1/exports", body());
    // The passphrase leaves the form; a generated one is shown once below.
    form.elements.passphrase.value = "";
    startProgress(created);
  } catch (e) {
    const el = e instanceof ApiError && e.status === 400 ? fieldOf(e.message) : null;
    if (el) invalid(el, describe(e));
    else showMessage(error, describe(e), true);
  } finally {
    submit.disabled = false;
  }
});

/** The package's file name: a plain tar when it is not encrypted. */
function packageName(x) {
  return x.encryption === "none" ? `${x.package_id}.tar` : `${x.package_id}.tar.age`;
}

// ---- Step 4: progress ---------------------------------------------------------------

let polling = null;

function setProgress(x) {
  const p = Math.max(0, Math.min(100, Math.round(Number(x.percent) || 0)));
  progress.value = x.state === "done" ? 100 : p;
  progress.setAttribute("value", String(progress.value));
  percent.textContent = t("exports.percent", { percent: progress.value });
  stateLine.dataset.state = x.state;
  stateLine.textContent =
    x.state === "failed"
      ? t("exports.failed", { error: x.error || "" })
      : t(`exports.state.${x.state}`);
  stateLine.classList.toggle("error", x.state === "failed");
  if (x.state === "done" && x.download) {
    download.href = x.download;
    download.setAttribute("download", packageName(x));
    download.hidden = false;
  }
}

function startProgress(created) {
  clearTimeout(polling);
  show(4);
  download.hidden = true;
  download.removeAttribute("href");
  progress.value = 0;
  progress.setAttribute("value", "0");
  stateLine.textContent = t("exports.state.queued");
  stateLine.dataset.state = "queued";
  stateLine.classList.remove("error");
  // Only a generated passphrase is answered (never for a package in the clear).
  passphraseShown.textContent = created.passphrase || "";
  passphraseBox.hidden = !created.passphrase;
  const poll = async () => {
    try {
      const x = await api("GET", `/api/v1/exports/${created.id}`);
      setProgress(x);
      if (x.state === "done" || x.state === "failed" || x.state === "expired") {
        await load();
        return;
      }
    } catch (e) {
      stateLine.textContent = describe(e);
    }
    polling = setTimeout(poll, POLL_MS);
  };
  poll();
}

document.getElementById("export-again").addEventListener("click", () => {
  clearTimeout(polling);
  passphraseShown.textContent = "";
  passphraseBox.hidden = true;
  show(1);
});

// ---- The user's exports --------------------------------------------------------------

function size(bytes) {
  if (bytes == null) return "";
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"];
  let v = Number(bytes);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return new Intl.NumberFormat(lang, {
    style: "unit",
    unit: units[i],
    unitDisplay: "short",
    maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(v);
}

function render(list) {
  rows.replaceChildren();
  if (list.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(t("exports.none"));
    td.colSpan = COLUMNS;
    tr.append(td);
    rows.append(tr);
    return;
  }
  for (const x of list) {
    const tr = document.createElement("tr");
    tr.dataset.id = x.id;
    tr.dataset.state = x.state;
    let state = t(`exports.state.${x.state}`);
    if (x.state === "running") state = `${state} (${t("exports.percent", { percent: x.percent })})`;
    if (x.state === "failed" && x.error) state = t("exports.failed", { error: x.error });
    const hash = document.createElement("code");
    hash.className = "hash";
    hash.textContent = x.package_sha256 || "";
    const link = cell("");
    if (x.download) {
      const a = document.createElement("a");
      a.href = x.download;
      a.setAttribute("download", packageName(x));
      a.textContent = t("exports.download_col");
      link.append(a);
    }
    tr.append(
      cell(x.package_id),
      cell(state),
      cell(size(x.package_bytes)),
      cell(hash),
      cell(x.expires ? timeElement(new Date(x.expires)) : ""),
      link,
    );
    rows.append(tr);
  }
}

async function load() {
  try {
    const list = await api("GET", "/api/v1/exports");
    showMessage(listError, "", true);
    render(list.exports || []);
  } catch (e) {
    showMessage(listError, describe(e), true);
  }
}

// The interval starts as the last hour, in UTC.
const now = new Date();
now.setUTCMilliseconds(0);
form.elements.end.value = localValue(now);
form.elements.start.value = localValue(new Date(now.getTime() - 3600 * 1000));
countryChanged();
originalChanged();
protectionChanged();
await load();
