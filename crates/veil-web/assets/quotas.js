// Storage quotas: what recordings take, the installation's quota and each
// camera's (in GiB in the form, bytes in the API), and which cameras are
// blocked because only locked or held video is left over a quota.

import { api, t, showMessage, cell, ApiError } from "./common.js";

const GIB = 1024 ** 3;
const form = document.getElementById("quota-form");
const rows = document.querySelector("#quota-table tbody");
const installation = document.getElementById("quota-installation");
const message = document.getElementById("message");

function gib(bytes) {
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

/** A GiB field's value as bytes; null when empty. */
function bytes(input) {
  const v = input.value.trim();
  return v === "" ? null : Math.round(Number(v) * GIB);
}

function render(view) {
  document.getElementById("quota-used").textContent = gib(view.used_bytes);
  document.getElementById("quota-free").textContent =
    view.free_bytes == null ? t("quotas.unknown") : gib(view.free_bytes);
  installation.value = view.installation_bytes == null ? "" : String(view.installation_bytes / GIB);
  rows.replaceChildren();
  for (const c of view.cameras) {
    const tr = document.createElement("tr");
    tr.dataset.id = c.id;
    const input = document.createElement("input");
    input.type = "number";
    input.step = "any";
    input.name = `camera-${c.id}`;
    input.setAttribute("aria-label", `${t("quotas.quota")}: ${c.name}`);
    input.value = c.quota_bytes == null ? "" : String(c.quota_bytes / GIB);
    const state =
      c.state === "blocked"
        ? t("quotas.state.blocked", { reason: c.blocked_reason })
        : t("quotas.state.ok");
    const stateCell = cell(state);
    if (c.state === "blocked") stateCell.className = "error";
    tr.append(cell(c.name), cell(gib(c.used_bytes)), cell(input), stateCell);
    rows.append(tr);
  }
}

async function load() {
  try {
    render(await api("GET", "/api/v1/quotas"));
  } catch (e) {
    showMessage(message, e instanceof ApiError ? e.message : t("common.error.network"), true);
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const cameras = {};
  for (const input of rows.querySelectorAll("input")) {
    const b = bytes(input);
    if (b != null) cameras[input.name.replace("camera-", "")] = b;
  }
  try {
    render(await api("PUT", "/api/v1/quotas", { installation_bytes: bytes(installation), cameras }));
    showMessage(message, t("quotas.saved"), false);
  } catch (e) {
    showMessage(message, e instanceof ApiError ? e.message : t("common.error.network"), true);
  }
});

await load();
