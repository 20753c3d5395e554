// Every finding of the compliance lint (GET /api/v1/compliance) in a
// table, filtered by severity in the page.

import { api, t, showMessage, cell, ApiError } from "./common.js";

const root = document.getElementById("dpo-compliance");
const rows = document.querySelector("#compliance-table tbody");
const severity = document.getElementById("compliance-severity");
const summary = document.getElementById("compliance-summary");
const message = document.getElementById("message");
const SEVERITIES = ["error", "warning", "info"];
let findings = [];

function describe(e) {
  if (e instanceof ApiError) return e.message;
  return t("common.error.network");
}

function render() {
  const wanted = severity.value;
  const shown = findings.filter((f) => !wanted || f.severity === wanted);
  rows.replaceChildren();
  if (shown.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(t("dpo.compliance.none"));
    td.colSpan = 6;
    tr.append(td);
    rows.append(tr);
    return;
  }
  for (const f of shown) {
    const tr = document.createElement("tr");
    tr.dataset.severity = f.severity;
    tr.dataset.rule = f.rule;
    const sev = cell(SEVERITIES.includes(f.severity) ? t(`dpo.severity.${f.severity}`) : f.severity);
    sev.className = `severity-${f.severity}`;
    const rule = document.createElement("code");
    rule.textContent = f.rule;
    tr.append(sev, cell(rule), cell(f.object), cell(f.message), cell(f.fix), cell(f.citation));
    rows.append(tr);
  }
}

severity.addEventListener("change", render);
document.getElementById("compliance-filter").addEventListener("submit", (ev) => ev.preventDefault());

try {
  const c = await api("GET", "/api/v1/compliance");
  findings = c.findings;
  summary.textContent = t("dpo.desk.summary", {
    errors: c.summary.errors,
    warnings: c.summary.warnings,
    infos: c.summary.infos,
  });
  render();
  root.dataset.loaded = "true";
} catch (e) {
  showMessage(message, describe(e), true);
}
