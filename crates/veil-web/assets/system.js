// System status page: every camera's state and rates, the data directory's
// space and how long it lasts, the access record's writer, the version.
// Filled from GET /api/v1/system every few seconds.
import { api, lang, t, timeElement, showMessage, standbyReason } from "./common.js";

const REFRESH_MS = 3000;
const message = document.getElementById("system-message");
const rows = document.getElementById("system-camera-rows");

const number = (digits) => new Intl.NumberFormat(lang, { maximumFractionDigits: digits });

/** `bytes` in the largest unit that keeps the figure at least 1. */
function formatBytes(bytes) {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return new Intl.NumberFormat(lang, {
    style: "unit",
    unit: units[i],
    unitDisplay: i === 0 ? "long" : "short",
    maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(v);
}

/** Bits per second in kbit/s or Mbit/s. */
function formatBitrate(bps) {
  const mega = bps >= 1_000_000;
  return new Intl.NumberFormat(lang, {
    style: "unit",
    unit: mega ? "megabit-per-second" : "kilobit-per-second",
    maximumFractionDigits: mega ? 2 : 0,
  }).format(mega ? bps / 1_000_000 : bps / 1000);
}

function cell(row, content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  row.append(td);
  return td;
}

function stateText(c) {
  const state = t(`camera_state.${c.state}`);
  return c.standby_reason ? t("system.state_reason", { state, reason: standbyReason(c.standby_reason) }) : state;
}

function cameraRow(c) {
  const tr = document.createElement("tr");
  tr.dataset.camera = String(c.id);
  const name = document.createElement("th");
  name.scope = "row";
  name.textContent = c.name;
  tr.append(name);
  const state = cell(tr, stateText(c), `system-state system-state-${c.state}`);
  state.dataset.state = c.state;
  cell(tr, number(2).format(c.fps), "num system-fps");
  cell(tr, formatBitrate(c.bitrate_bps), "num system-bitrate");
  cell(tr, number(0).format(c.reconnects_total), "num");
  if (c.last_error) {
    const wrap = document.createElement("span");
    const text = document.createElement("span");
    text.className = "system-error";
    text.textContent = c.last_error;
    wrap.append(text);
    if (c.last_error_at) {
      wrap.append(" ", timeElement(new Date(c.last_error_at)));
    }
    cell(tr, wrap);
  } else {
    cell(tr, t("system.no_error"), "muted");
  }
  return tr;
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function render(f) {
  if (f.cameras.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(tr, t("system.no_cameras"), "muted");
    td.colSpan = 6;
    rows.replaceChildren(tr);
  } else {
    rows.replaceChildren(...f.cameras.map(cameraRow));
  }
  setText("system-disk-used", formatBytes(f.disk.used_bytes));
  setText("system-disk-free", f.disk.free_bytes === null ? t("system.unknown") : formatBytes(f.disk.free_bytes));
  setText("system-disk-rate", formatBitrate(f.disk.write_bytes_per_second * 8));
  setText(
    "system-disk-days",
    f.disk.days_left === null ? t("system.days_unknown") : t("system.days_value", { days: number(1).format(f.disk.days_left) }),
  );
  const audit = f.access_record;
  const writer = document.getElementById("system-audit-state");
  writer.textContent = audit.state === "ok" ? t("system.writer_ok") : t("system.writer_failing", { message: audit.message || "" });
  writer.className = audit.state === "ok" ? "" : "error";
  setText("system-audit-queue", number(0).format(audit.queue));
  const checkpoint = document.getElementById("system-audit-checkpoint");
  if (audit.last_checkpoint_at) {
    checkpoint.replaceChildren(
      t("system.checkpoint_value", { seq: audit.last_checkpoint_seq }),
      " ",
      timeElement(new Date(audit.last_checkpoint_at)),
    );
  } else {
    checkpoint.textContent = t("system.no_checkpoint");
  }
  setText("system-version", f.version);
  document.getElementById("system-updated").replaceChildren(t("system.updated"), " ", timeElement(new Date()));
}

async function refresh() {
  try {
    render(await api("GET", "/api/v1/system"));
    showMessage(message, "");
  } catch (e) {
    showMessage(message, e.message);
  }
}

await refresh();
setInterval(refresh, REFRESH_MS);
