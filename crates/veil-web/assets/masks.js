// The mask editor (`/cameras/{id}/masks`): the camera's live picture (the
// live view's player, so the picture comes through the protected path) under
// an SVG overlay in normalised coordinates (0 to 1 across the picture).
// "New polygon" and clicks on the picture add points; a double click or
// "Close polygon" finishes it. A polygon is moved by dragging it, a point by
// dragging the point; with the keyboard, a focused polygon or point moves
// with the arrow keys, and the arrow buttons move the selected polygon.
// The table holds each mask's name, reason, kind, fill and scope and its
// Select and Delete buttons. The overlay previews each fill: solid opaque,
// pixelate hatched, blur semi-opaque. Save sends the whole list with PUT;
// the server's 400 (naming the field) or 409 is shown next to the form.
import { api, cell, formatTime, showMessage, t } from "./common.js";
import { LivePlayer } from "./live.js";

const SVG = "http://www.w3.org/2000/svg";
const STEP = 0.01; // a keyboard move: 1 % of the picture
const CLOSE_PX = 5; // a click this near the last point adds no point (double click)
const DRAG_PX = 3; // a pointer moving less than this did not drag

const editor = document.getElementById("mask-editor");
const cameraId = editor.dataset.cameraId;
const stage = document.getElementById("mask-stage");
const svg = document.getElementById("mask-overlay");
const video = stage.querySelector("video.live");
const rows = document.getElementById("mask-rows");
const empty = document.getElementById("mask-empty");
const form = document.getElementById("mask-form");
const errorBox = document.getElementById("mask-error");
const versionBox = document.getElementById("mask-version");
const hint = document.getElementById("mask-hint");
const selectedLabel = document.getElementById("mask-selected");
const newButton = document.getElementById("mask-new");
const closeButton = document.getElementById("mask-close");
const cancelButton = document.getElementById("mask-cancel");
const choices = document.getElementById("mask-choices");
const base = `/api/v1/cameras/${encodeURIComponent(cameraId)}`;

/** The masks as the API has them: {kind, fill, name, reason, polygon, scope}. */
let masks = [];
/** The points of the polygon being drawn, or null. */
let drawing = null;
/** The index of the selected mask, or -1. */
let selected = -1;
/** A drag in progress: {index, point (or -1 for the whole polygon), from, original, moved}. */
let drag = null;

const clamp01 = (v) => Math.min(1, Math.max(0, v));
const round = (v) => Math.round(v * 10000) / 10000;

function size() {
  const r = svg.getBoundingClientRect();
  return { w: r.width || 1, h: r.height || 1, left: r.left, top: r.top };
}

/** The normalised point under a pointer event. */
function pointOf(ev) {
  const s = size();
  return [round(clamp01((ev.clientX - s.left) / s.w)), round(clamp01((ev.clientY - s.top) / s.h))];
}

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function pixels(points) {
  const { w, h } = size();
  return points.map(([x, y]) => `${(x * w).toFixed(1)},${(y * h).toFixed(1)}`).join(" ");
}

/** Moves `polygon` by (dx, dy), kept inside the picture as a whole. */
function shifted(polygon, dx, dy) {
  const xs = polygon.map((p) => p[0]);
  const ys = polygon.map((p) => p[1]);
  const ddx = Math.min(Math.max(dx, -Math.min(...xs)), 1 - Math.max(...xs));
  const ddy = Math.min(Math.max(dy, -Math.min(...ys)), 1 - Math.max(...ys));
  return polygon.map(([x, y]) => [round(x + ddx), round(y + ddy)]);
}

function changed() {
  versionBox.textContent = t("masks_editor.unsaved");
}

// ---- The overlay ------------------------------------------------------------

function drawOverlay() {
  const { w, h } = size();
  const defs = el("defs");
  const hatch = el("pattern", {
    id: "mask-hatch",
    width: 8,
    height: 8,
    patternUnits: "userSpaceOnUse",
    patternTransform: "rotate(45)",
  });
  hatch.append(el("rect", { class: "hatch-bg", width: 8, height: 8 }), el("line", { class: "hatch-line", x1: 0, y1: 0, x2: 0, y2: 8 }));
  defs.append(hatch);
  const background = el("rect", { class: "mask-bg", x: 0, y: 0, width: w, height: h });
  const parts = [defs, background];
  masks.forEach((m, i) => {
    const shape = el("polygon", {
      class: `mask-shape fill-${m.fill}${i === selected ? " selected" : ""}`,
      points: pixels(m.polygon),
      tabindex: 0,
      role: "button",
      "aria-label": t("masks_editor.polygon_label", { n: i + 1, name: m.name || "" }),
      "data-index": i,
    });
    parts.push(shape);
  });
  if (selected >= 0 && masks[selected] && !drawing) {
    masks[selected].polygon.forEach(([x, y], p) => {
      parts.push(
        el("circle", {
          class: "mask-handle",
          cx: (x * w).toFixed(1),
          cy: (y * h).toFixed(1),
          r: 7,
          tabindex: 0,
          role: "button",
          "aria-label": t("masks_editor.point_label", { point: p + 1, n: selected + 1 }),
          "data-index": selected,
          "data-point": p,
        }),
      );
    });
  }
  if (drawing) {
    if (drawing.length > 1) parts.push(el("polyline", { class: "mask-drawing", points: pixels(drawing) }));
    for (const [x, y] of drawing) {
      parts.push(el("circle", { class: "mask-handle drawing", cx: (x * w).toFixed(1), cy: (y * h).toFixed(1), r: 5 }));
    }
  }
  svg.replaceChildren(...parts);
  svg.dataset.masks = String(masks.length);
  svg.classList.toggle("drawing", Boolean(drawing));
  selectedLabel.textContent =
    selected >= 0 && masks[selected] ? t("masks_editor.selected", { n: selected + 1, name: masks[selected].name || "" }) : t("masks_editor.none_selected");
  for (const b of document.querySelectorAll("#mask-move button")) b.disabled = selected < 0;
}

function render() {
  drawOverlay();
  drawTable();
}

// ---- The table --------------------------------------------------------------

function select(i) {
  selected = i;
  render();
}

function choice(field, i, m) {
  const s = choices.content.querySelector(`select[data-field="${field}"]`).cloneNode(true);
  s.id = `mask-${field}-${i}`;
  s.setAttribute("aria-label", t(`masks_editor.${field}_of`, { n: i + 1 }));
  s.value = m[field];
  if (field === "scope") {
    // live_only and recording_only are for liftable masks only.
    for (const o of s.options) o.disabled = o.value !== "all" && m.kind !== "liftable";
  }
  s.addEventListener("change", () => {
    m[field] = s.value;
    if (field === "kind" && m.kind !== "liftable") m.scope = "all";
    changed();
    render();
    document.getElementById(s.id)?.focus();
  });
  return s;
}

function textInput(field, i, m, max) {
  const input = document.createElement("input");
  input.id = `mask-${field}-${i}`;
  input.maxLength = max;
  input.value = m[field];
  input.setAttribute("aria-label", t(`masks_editor.${field}_of`, { n: i + 1 }));
  input.addEventListener("input", () => {
    m[field] = input.value;
    changed();
    drawOverlay();
  });
  return input;
}

function button(id, text, label, action) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary";
  b.id = id;
  b.textContent = text;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", action);
  return b;
}

function drawTable() {
  const fresh = masks.map((m, i) => {
    const tr = document.createElement("tr");
    tr.id = `mask-row-${i}`;
    if (i === selected) tr.className = "selected";
    const actions = document.createElement("td");
    actions.append(
      button(`mask-select-${i}`, t("masks_editor.select"), t("masks_editor.select_of", { n: i + 1 }), () => select(i)),
      " ",
      button(`mask-delete-${i}`, t("common.delete"), t("masks_editor.delete_of", { n: i + 1 }), () => {
        masks.splice(i, 1);
        selected = -1;
        changed();
        render();
        newButton.focus();
      }),
    );
    tr.append(
      cell(String(i + 1)),
      cell(textInput("name", i, m, 100)),
      cell(textInput("reason", i, m, 500)),
      cell(choice("kind", i, m)),
      cell(choice("fill", i, m)),
      cell(choice("scope", i, m)),
      cell(String(m.polygon.length)),
      actions,
    );
    return tr;
  });
  rows.replaceChildren(...fresh);
  empty.hidden = masks.length > 0;
}

// ---- Drawing ----------------------------------------------------------------

function setDrawing(points) {
  drawing = points;
  newButton.disabled = Boolean(drawing);
  closeButton.disabled = !drawing;
  cancelButton.disabled = !drawing;
  hint.textContent = t(drawing ? "masks_editor.hint_drawing" : "masks_editor.hint");
  drawOverlay();
}

function addMask(polygon) {
  masks.push({
    kind: "permanent",
    fill: "solid",
    name: t("masks_editor.default_name", { n: masks.length + 1 }),
    reason: "",
    polygon,
    scope: "all",
  });
  selected = masks.length - 1;
  changed();
  render();
}

function closePolygon() {
  if (!drawing) return;
  if (drawing.length < 3) {
    hint.textContent = t("masks_editor.too_few_points");
    return;
  }
  const polygon = drawing;
  setDrawing(null);
  addMask(polygon);
  document.getElementById(`mask-name-${masks.length - 1}`)?.focus();
}

newButton.addEventListener("click", () => {
  selected = -1;
  setDrawing([]);
  render();
});
closeButton.addEventListener("click", closePolygon);
cancelButton.addEventListener("click", () => setDrawing(null));
document.getElementById("mask-rectangle").addEventListener("click", () => {
  setDrawing(null);
  addMask([
    [0.4, 0.4],
    [0.6, 0.4],
    [0.6, 0.6],
    [0.4, 0.6],
  ]);
});

svg.addEventListener("click", (ev) => {
  if (!drawing) return;
  const p = pointOf(ev);
  const last = drawing[drawing.length - 1];
  const { w, h } = size();
  if (last && Math.hypot((p[0] - last[0]) * w, (p[1] - last[1]) * h) < CLOSE_PX) return;
  drawing.push(p);
  closeButton.disabled = false;
  drawOverlay();
});
svg.addEventListener("dblclick", (ev) => {
  if (!drawing) return;
  ev.preventDefault();
  closePolygon();
});

// ---- Dragging ---------------------------------------------------------------

svg.addEventListener("pointerdown", (ev) => {
  if (drawing || ev.button !== 0) return;
  const target = ev.target;
  if (!(target instanceof SVGElement) || target.dataset.index === undefined) {
    if (selected >= 0) select(-1);
    return;
  }
  const index = Number(target.dataset.index);
  const point = target.dataset.point === undefined ? -1 : Number(target.dataset.point);
  if (index !== selected) {
    selected = index;
    render();
  }
  drag = { index, point, from: pointOf(ev), original: masks[index].polygon.map((p) => [...p]), moved: false, x: ev.clientX, y: ev.clientY };
  svg.setPointerCapture(ev.pointerId);
  ev.preventDefault();
});
svg.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  if (!drag.moved && Math.hypot(ev.clientX - drag.x, ev.clientY - drag.y) < DRAG_PX) return;
  drag.moved = true;
  const [x, y] = pointOf(ev);
  const m = masks[drag.index];
  if (drag.point >= 0) {
    m.polygon = drag.original.map((p) => [...p]);
    m.polygon[drag.point] = [x, y];
  } else {
    m.polygon = shifted(drag.original, x - drag.from[0], y - drag.from[1]);
  }
  drawOverlay();
});
function endDrag(ev) {
  if (!drag) return;
  if (svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
  const moved = drag.moved;
  drag = null;
  if (moved) {
    changed();
    render();
  }
}
svg.addEventListener("pointerup", endDrag);
svg.addEventListener("pointercancel", endDrag);

// Arrow keys move a focused polygon or point; Delete removes a focused polygon.
svg.addEventListener("keydown", (ev) => {
  const target = ev.target;
  if (!(target instanceof SVGElement) || target.dataset.index === undefined) return;
  const index = Number(target.dataset.index);
  const moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
  const m = masks[index];
  if (ev.key in moves) {
    ev.preventDefault();
    const [dx, dy] = moves[ev.key];
    if (target.dataset.point !== undefined) {
      const p = Number(target.dataset.point);
      m.polygon[p] = [round(clamp01(m.polygon[p][0] + dx)), round(clamp01(m.polygon[p][1] + dy))];
    } else {
      m.polygon = shifted(m.polygon, dx, dy);
    }
    selected = index;
    changed();
    render();
    const again = target.dataset.point !== undefined
      ? svg.querySelector(`circle[data-point="${target.dataset.point}"]`)
      : svg.querySelector(`polygon[data-index="${index}"]`);
    again?.focus();
  } else if (ev.key === "Enter" || ev.key === " ") {
    ev.preventDefault();
    select(index);
    svg.querySelector(`polygon[data-index="${index}"]`)?.focus();
  } else if (ev.key === "Escape") {
    select(-1);
  }
});

for (const b of document.querySelectorAll("#mask-move button[data-move]")) {
  b.addEventListener("click", () => {
    if (selected < 0) return;
    const [dx, dy] = b.dataset.move.split(",").map(Number);
    masks[selected].polygon = shifted(masks[selected].polygon, dx * STEP, dy * STEP);
    changed();
    drawOverlay();
  });
}

// ---- Loading and saving -----------------------------------------------------

function showVersion(v) {
  if (v.version == null) {
    versionBox.textContent = t("masks_editor.no_version");
  } else {
    versionBox.textContent = t("masks_editor.version", {
      version: v.version,
      author: v.author || "—",
      time: v.created ? formatTime(new Date(v.created)) : "",
    });
  }
  versionBox.dataset.version = v.version == null ? "" : String(v.version);
}

async function load() {
  showMessage(errorBox, "");
  try {
    const v = await api("GET", `${base}/masks`);
    masks = v.masks;
    selected = -1;
    setDrawing(null);
    render();
    showVersion(v);
  } catch (e) {
    showMessage(errorBox, e.message, true);
  }
  // Whether the camera moves (only for those who may see its settings).
  try {
    const cam = await api("GET", base);
    document.getElementById("mask-ptz").hidden = !cam.ptz_control;
  } catch (_) {
    // Not a camera administrator: the save answers 409 if it moves.
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (drawing) closePolygon();
  showMessage(errorBox, "");
  const body = {
    masks: masks.map((m) => ({
      kind: m.kind,
      fill: m.fill,
      name: m.name,
      reason: m.reason,
      polygon: m.polygon,
      scope: m.scope,
    })),
  };
  try {
    const v = await api("PUT", `${base}/masks`, body);
    masks = v.masks;
    render();
    showVersion(v);
    versionBox.textContent = t("masks_editor.saved", { text: versionBox.textContent });
  } catch (e) {
    showMessage(errorBox, e.message, true);
  }
});
document.getElementById("mask-reload").addEventListener("click", load);

// ---- The picture ------------------------------------------------------------

const player = new LivePlayer(video);
video.addEventListener("loadedmetadata", () => {
  // The overlay covers exactly the picture: the stage takes its shape.
  if (video.videoWidth && video.videoHeight) {
    stage.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  }
});
new ResizeObserver(() => drawOverlay()).observe(stage);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !player.running) player.start();
  else if (document.visibilityState !== "visible" && player.running) player.stop("hidden");
});
window.addEventListener("pagehide", () => player.stop());
player.start();
load();
