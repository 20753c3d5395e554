// The footage workspace of a data-subject request (`<section
// id="request-footage">` of `/dpo/requests/{id}`): the request's own player
// (`video.mp4?start=&end=&request=ID`, so every access is recorded against
// the request), the marking of intervals, a redaction editor over the
// player and the export of the marked intervals with the boxes.
//
// The player plays a window of one recorded run of a scope camera. The
// server starts the file at the keyframe at or before `start` and ends it
// with the last frame before `end`; with `end` inside the run, currentTime 0
// is at `end - duration` (as on the playback page). Times are kept in
// milliseconds since the epoch.
//
// Redaction boxes live in an SVG overlay in picture coordinates; a box is
// keyframed: drawing one (a drag on the picture) makes its first keyframe
// at the player's time, and moving or resizing it at another time adds a
// keyframe there. Between keyframes it moves linearly, as the export
// paints it; before its first and after its last keyframe it is not
// painted and is drawn dashed. The boxes are the page's state until the
// export, which sends them as `redactions`.
import { api, t, formatTime, showMessage, cell, ApiError, toRfc3339 } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const DRAG_PX = 3; // a pointer moving less than this did not drag
const STEP = 0.01; // a keyboard move: 1 % of the picture
const MIN_SIZE = 0.02; // the smallest box side, in picture fractions
const WINDOW_MS = 5 * 60 * 1000; // the longest window loaded by default
const POLL_MS = 1000;

const section = document.getElementById("request-footage");
const id = document.getElementById("dpo-request").dataset.id;

// ---- Markup ------------------------------------------------------------------

function make(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === true) e.setAttribute(k, "");
    else if (v !== false && v != null) e.setAttribute(k, String(v));
  }
  e.append(...children);
  return e;
}

function field(label, input) {
  return make("div", { class: "field" }, make("label", { for: input.id }, label), input);
}

function btn(idName, text, cls) {
  return make("button", { type: "button", id: idName, class: cls || "secondary" }, text);
}

const errorBox = make("p", { id: "footage-error", class: "error", role: "alert", hidden: true });
const cameraSelect = make("select", { id: "footage-camera" });
const startInput = make("input", { id: "footage-start", type: "datetime-local", step: "1" });
const endInput = make("input", { id: "footage-end", type: "datetime-local", step: "1" });
const loadButton = btn("footage-load", t("request_footage.load"), "");
const video = make("video", {
  id: "footage-video",
  muted: true,
  playsinline: true,
  preload: "auto",
  "aria-label": t("request_footage.video"),
});
video.muted = true;
const svg = document.createElementNS(SVG, "svg");
svg.id = "footage-overlay";
svg.setAttribute("class", "mask-overlay");
svg.setAttribute("role", "group");
svg.setAttribute("aria-label", t("request_footage.overlay"));
const stage = make("div", { class: "mask-stage", id: "footage-stage" }, video, svg);
const playButton = btn("footage-play", t("request_footage.play"), "");
const backButton = btn("footage-back", t("request_footage.back"));
const forwardButton = btn("footage-forward", t("request_footage.forward"));
const seek = make("input", {
  id: "footage-seek",
  type: "range",
  min: "0",
  max: "0",
  step: "0.04",
  value: "0",
  "aria-label": t("request_footage.seek"),
});
const timeOut = make("output", { id: "footage-time", "aria-live": "off" });
const markStart = btn("footage-mark-start", t("request_footage.mark_start"));
const markEnd = btn("footage-mark-end", t("request_footage.mark_end"));
const fromInput = make("input", { id: "footage-from", type: "datetime-local", step: "1" });
const toInput = make("input", { id: "footage-to", type: "datetime-local", step: "1" });
const addButton = btn("footage-add", t("request_footage.add"), "");
const intervalRows = make("tbody", { id: "footage-intervals" });
const newFill = make("select", { id: "footage-fill" });
const addBox = btn("footage-add-box", t("request_footage.add_box"));
const boxRows = make("tbody", { id: "footage-boxes" });
const boxHint = make("p", { class: "muted hint", id: "footage-box-hint" }, t("request_footage.box_hint"));
for (const f of ["blur", "solid"]) {
  newFill.append(make("option", { value: f }, f === "solid" ? t("request_footage.fill_solid") : t("request_footage.fill_blur")));
}

function table(headers, body) {
  const tr = make("tr");
  for (const h of headers) tr.append(make("th", { scope: "col" }, h));
  return make("div", { class: "table-scroll" }, make("table", {}, make("thead", {}, tr), body));
}

const radio = (value, label, checked) =>
  make(
    "label",
    {},
    make("input", { type: "radio", name: "footage-protection", id: `footage-protection-${value}`, value, checked }),
    " ",
    label,
  );
const passphraseInput = make("input", { id: "footage-passphrase", type: "password", autocomplete: "new-password", "data-field": "passphrase" });
const recipientsInput = make("textarea", { id: "footage-recipients", rows: "3", "data-field": "recipients" });
const organisationInput = make("input", { id: "footage-organisation", maxlength: "200", "data-field": "requester.organisation" });
organisationInput.value = t("request_footage.private_individual");
const countryInput = make("input", { id: "footage-country", maxlength: "2", size: "3", "data-field": "requester.country" });
const reasonInput = make("textarea", { id: "footage-reason", rows: "2", maxlength: "2000", "data-field": "reason" });
reasonInput.value = t("request_footage.default_reason");
const exportError = make("p", { id: "footage-export-error", class: "error", role: "alert", hidden: true });
const exportSubmit = make("button", { type: "submit", id: "footage-export-submit" }, t("request_footage.export"));
const ownPassphrase = field(t("request_footage.passphrase"), passphraseInput);
const recipientKeys = field(t("request_footage.recipients"), recipientsInput);
const exportForm = make(
  "form",
  { id: "footage-export", class: "stack", novalidate: true },
  make(
    "fieldset",
    {},
    make("legend", {}, t("request_footage.protection")),
    radio("generated", t("request_footage.generated"), true),
    radio("passphrase", t("request_footage.own_passphrase"), false),
    radio("recipients", t("request_footage.keys"), false),
  ),
  ownPassphrase,
  recipientKeys,
  field(t("request_footage.organisation"), organisationInput),
  field(t("request_footage.country"), countryInput),
  field(t("request_footage.reason"), reasonInput),
  exportError,
  exportSubmit,
);
const progress = make("progress", { id: "footage-progress", max: "100", value: "0" });
const stateLine = make("p", { id: "footage-state", "aria-live": "polite" });
const passphraseShown = make("code", { id: "footage-generated-passphrase" });
const passphraseBox = make(
  "div",
  { id: "footage-passphrase-box", class: "notice-box", hidden: true },
  make("p", {}, t("request_footage.passphrase_once")),
  make("p", {}, passphraseShown),
);
const download = make("a", { id: "footage-download", hidden: true }, t("request_footage.download"));
const progressBox = make("div", { id: "footage-progress-box", hidden: true }, progress, stateLine, passphraseBox, download);
const exportPart = make(
  "div",
  { id: "footage-export-part" },
  make("h3", {}, t("request_footage.export_title")),
  make("p", { class: "muted" }, t("request_footage.export_hint")),
  exportForm,
  progressBox,
);
const noExport = make("p", { class: "muted", id: "footage-no-export", hidden: true }, t("request_footage.no_export"));

const workspace = make(
  "div",
  { id: "footage-workspace", hidden: true },
  make("h3", {}, t("request_footage.player")),
  errorBox,
  make(
    "div",
    { class: "toolbar", role: "group", "aria-label": t("request_footage.window") },
    field(t("request_footage.camera"), cameraSelect),
    field(t("request_footage.from"), startInput),
    field(t("request_footage.to"), endInput),
    loadButton,
  ),
  stage,
  make(
    "div",
    { class: "toolbar", role: "group", "aria-label": t("request_footage.controls") },
    playButton,
    backButton,
    forwardButton,
    seek,
    timeOut,
  ),
  make("h3", {}, t("request_footage.marking")),
  make(
    "div",
    { class: "toolbar", role: "group", "aria-label": t("request_footage.marking") },
    markStart,
    field(t("request_footage.mark_from"), fromInput),
    markEnd,
    field(t("request_footage.mark_to"), toInput),
    addButton,
  ),
  table(
    [t("dsr.camera"), t("dsr.start"), t("dsr.end"), t("dsr.actions")],
    intervalRows,
  ),
  make("h3", {}, t("request_footage.redaction")),
  boxHint,
  make(
    "div",
    { class: "toolbar", role: "group", "aria-label": t("request_footage.redaction") },
    field(t("request_footage.new_fill"), newFill),
    addBox,
  ),
  table(
    [t("request_footage.box"), t("request_footage.fill"), t("request_footage.keyframes"), t("dsr.actions")],
    boxRows,
  ),
  exportPart,
  noExport,
);
section.append(workspace);

// ---- State -------------------------------------------------------------------

/** The request as `GET /api/v1/requests/{id}` gives it. */
let request = null;
/** Per scope camera: {id, name, recordings: [{start, end}] in ms}. */
let cameras = [];
/** The search scope's window (ms). */
let scope = { start: 0, end: 0 };
/** The loaded window {camera, start, end} (ms) and the wall time of
 * currentTime 0, once the file's metadata is in. */
let win = null;
let mediaStart = null;
/** Boxes per camera: {fill, keyframes: [{at, x, y, w, h}] by time}. */
const boxes = new Map();
let selected = -1;
/** A drag in progress. */
let drag = null;
let polling = null;

const clamp01 = (v) => Math.min(1, Math.max(0, v));
const round = (v) => Math.round(v * 10000) / 10000;

function fail(box, e) {
  showMessage(box, e instanceof ApiError ? e.message : t("common.error.network"), true);
}

/** `ms` as a `datetime-local` value in the user's zone, to the second. */
function localValue(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fromLocal(value) {
  const r = toRfc3339(value);
  return r ? new Date(r).getTime() : NaN;
}

function iso(ms) {
  return new Date(ms).toISOString();
}

function showTime(ms) {
  const d = new Date(ms);
  return `${formatTime(d)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** The wall time (ms) of the picture shown, or null. */
function now() {
  if (mediaStart === null) return null;
  return Math.round(mediaStart + video.currentTime * 1000);
}

function currentBoxes() {
  if (!win) return [];
  if (!boxes.has(win.camera)) boxes.set(win.camera, []);
  return boxes.get(win.camera);
}

// ---- The player ----------------------------------------------------------------

function fillCameras() {
  cameraSelect.replaceChildren(
    ...cameras.map((c) => make("option", { value: c.id }, c.name || t("request_footage.camera_n", { id: c.id }))),
  );
  defaultWindow();
}

/** The last (up to five) minutes of the chosen camera's last run. */
function defaultWindow() {
  const c = cameras.find((x) => String(x.id) === cameraSelect.value);
  const run = c && c.recordings.filter((r) => r.start < scope.end && scope.start < r.end).pop();
  if (!run) {
    showMessage(errorBox, t("dsr.no_recordings"), true);
    return;
  }
  showMessage(errorBox, "");
  const end = Math.min(run.end, scope.end);
  startInput.value = localValue(Math.max(run.start, scope.start, end - WINDOW_MS));
  endInput.value = localValue(end);
}

cameraSelect.addEventListener("change", defaultWindow);

/** Loads the window in the fields, kept inside one recorded run (so the
 * file's start is known from its end). */
function load() {
  showMessage(errorBox, "");
  const camera = Number(cameraSelect.value);
  const c = cameras.find((x) => x.id === camera);
  let start = fromLocal(startInput.value);
  let end = fromLocal(endInput.value);
  if (!c || Number.isNaN(start) || Number.isNaN(end) || end <= start) {
    showMessage(errorBox, t("request_footage.bad_window"), true);
    return;
  }
  const run = [...c.recordings].reverse().find((r) => r.start < end && start < r.end);
  if (!run) {
    showMessage(errorBox, t("dsr.no_recordings"), true);
    return;
  }
  // Inside the run and the request's scope (the player refuses the rest).
  start = Math.max(start, run.start, scope.start);
  end = Math.min(end, run.end, scope.end);
  if (end <= start) {
    showMessage(errorBox, t("request_footage.bad_window"), true);
    return;
  }
  win = { camera, start, end };
  mediaStart = null;
  selected = -1;
  const q = new URLSearchParams({ start: iso(start), end: iso(end), request: id });
  video.src = `/api/v1/cameras/${encodeURIComponent(camera)}/video.mp4?${q}`;
  render();
}

loadButton.addEventListener("click", load);

video.addEventListener("loadedmetadata", () => {
  if (!win) return;
  mediaStart = win.end - video.duration * 1000;
  seek.max = String(video.duration);
  if (video.videoWidth && video.videoHeight) {
    stage.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
  }
  stage.dataset.mediaStart = String(mediaStart);
  tick();
});
video.addEventListener("error", () => {
  if (!win) return;
  showMessage(errorBox, t("request_footage.video_error"), true);
});

playButton.addEventListener("click", () => {
  if (video.paused) video.play().catch(() => {});
  else video.pause();
});
video.addEventListener("play", () => {
  playButton.textContent = t("request_footage.pause");
  frame();
});
video.addEventListener("pause", () => {
  playButton.textContent = t("request_footage.play");
  tick();
});
function step(seconds) {
  video.pause();
  video.currentTime = Math.min(Math.max(0, video.currentTime + seconds), video.duration || 0);
}
backButton.addEventListener("click", () => step(-1));
forwardButton.addEventListener("click", () => step(1));
seek.addEventListener("input", () => {
  video.currentTime = Number(seek.value);
});
video.addEventListener("seeked", tick);
video.addEventListener("timeupdate", tick);

/** Seeks to wall time `ms` of the loaded window. */
function goTo(ms) {
  if (mediaStart === null) return;
  video.pause();
  video.currentTime = Math.min(Math.max(0, (ms - mediaStart) / 1000), video.duration || 0);
  tick();
}

/** Shows the time and redraws the boxes at it. */
function tick() {
  const at = now();
  timeOut.textContent = at === null ? "" : showTime(at);
  timeOut.dataset.t = at === null ? "" : String(at);
  if (document.activeElement !== seek) seek.value = String(video.currentTime);
  drawOverlay();
}

function frame() {
  tick();
  if (video.paused) return;
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(frame);
  else requestAnimationFrame(frame);
}

// ---- Marking -------------------------------------------------------------------

markStart.addEventListener("click", () => {
  const at = now();
  if (at !== null) fromInput.value = localValue(Math.floor(at / 1000) * 1000);
});
markEnd.addEventListener("click", () => {
  const at = now();
  if (at !== null) toInput.value = localValue(Math.ceil(at / 1000) * 1000);
});
addButton.addEventListener("click", async () => {
  showMessage(errorBox, "");
  const start = toRfc3339(fromInput.value);
  const end = toRfc3339(toInput.value);
  if (!win || !start || !end) {
    showMessage(errorBox, t("request_footage.bad_interval"), true);
    return;
  }
  try {
    request = await api("POST", `/api/v1/requests/${id}/intervals`, { camera: win.camera, start, end });
    changed();
    renderIntervals();
  } catch (e) {
    fail(errorBox, e);
  }
});

function renderIntervals() {
  intervalRows.replaceChildren();
  for (const i of request.intervals) {
    const start = new Date(i.start).getTime();
    const end = new Date(i.end).getTime();
    const actions = make("td");
    const here = win && win.camera === i.camera;
    const go = (key, at, label) => {
      const b = btn(`footage-go-${key}-${i.id}`, t(`request_footage.go_${key}`));
      b.setAttribute("aria-label", label);
      b.disabled = !here;
      b.addEventListener("click", () => goTo(at));
      actions.append(b, " ");
    };
    go("start", start, t("request_footage.go_start_of", { n: i.id }));
    go("end", end, t("request_footage.go_end_of", { n: i.id }));
    if (request.status === "searching" && i.hold == null && i.erased_at == null) {
      const b = btn(`footage-unmark-${i.id}`, t("dsr.unmark"));
      b.addEventListener("click", async () => {
        try {
          request = await api("DELETE", `/api/v1/requests/${id}/intervals/${i.id}`);
          changed();
          renderIntervals();
        } catch (e) {
          fail(errorBox, e);
        }
      });
      actions.append(b);
    }
    const tr = make("tr", { "data-id": i.id });
    tr.append(cell(String(i.camera)), cell(showTime(start)), cell(showTime(end)), actions);
    intervalRows.append(tr);
  }
}

/** Tells the rest of the page that the request changed. */
function changed() {
  document.dispatchEvent(new CustomEvent("dsr:changed"));
}

// ---- Redaction boxes -------------------------------------------------------------

/** The box's rectangle at `at` and whether it is painted then. */
function rectAt(box, at) {
  const k = box.keyframes;
  if (at <= k[0].at) return { ...k[0], inside: at === k[0].at };
  const last = k[k.length - 1];
  if (at >= last.at) return { ...last, inside: at === last.at };
  let i = 1;
  while (k[i].at < at) i += 1;
  const a = k[i - 1];
  const b = k[i];
  const f = (at - a.at) / (b.at - a.at);
  const mix = (p) => a[p] + (b[p] - a[p]) * f;
  return { x: mix("x"), y: mix("y"), w: mix("w"), h: mix("h"), inside: true };
}

/** Puts a keyframe at `at` (replacing one at the same millisecond). */
function setKeyframe(box, at, r) {
  const kf = { at, x: round(r.x), y: round(r.y), w: round(r.w), h: round(r.h) };
  box.keyframes = box.keyframes.filter((k) => k.at !== at);
  box.keyframes.push(kf);
  box.keyframes.sort((a, b) => a.at - b.at);
}

/** A rectangle kept inside the picture, at least MIN_SIZE a side. */
function fit(r) {
  const w = Math.min(1, Math.max(MIN_SIZE, r.w));
  const h = Math.min(1, Math.max(MIN_SIZE, r.h));
  return { x: Math.min(Math.max(0, r.x), 1 - w), y: Math.min(Math.max(0, r.y), 1 - h), w, h };
}

function size() {
  const r = svg.getBoundingClientRect();
  return { w: r.width || 1, h: r.height || 1, left: r.left, top: r.top };
}

function pointOf(ev) {
  const s = size();
  return [clamp01((ev.clientX - s.left) / s.w), clamp01((ev.clientY - s.top) / s.h)];
}

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function drawOverlay() {
  const { w, h } = size();
  const parts = [el("rect", { class: "mask-bg", x: 0, y: 0, width: w, height: h })];
  const at = now();
  const list = currentBoxes();
  if (at !== null) {
    list.forEach((b, i) => {
      const r = drag && drag.index === i && drag.rect ? { ...drag.rect, inside: true } : rectAt(b, at);
      parts.push(
        el("rect", {
          class: `mask-shape redaction fill-${b.fill}${i === selected ? " selected" : ""}${r.inside ? "" : " outside"}`,
          x: (r.x * w).toFixed(1),
          y: (r.y * h).toFixed(1),
          width: (r.w * w).toFixed(1),
          height: (r.h * h).toFixed(1),
          tabindex: 0,
          role: "button",
          "aria-label": t("request_footage.box_label", { n: i + 1 }),
          "data-index": i,
        }),
      );
      if (i === selected) {
        parts.push(
          el("circle", {
            class: "mask-handle",
            cx: ((r.x + r.w) * w).toFixed(1),
            cy: ((r.y + r.h) * h).toFixed(1),
            r: 7,
            "data-index": i,
            "data-handle": "1",
          }),
        );
      }
    });
  }
  if (drag && drag.kind === "new" && drag.rect) {
    const r = drag.rect;
    parts.push(el("rect", { class: "mask-drawing", x: r.x * w, y: r.y * h, width: r.w * w, height: r.h * h }));
  }
  svg.replaceChildren(...parts);
  svg.dataset.boxes = String(list.length);
}

function render() {
  drawOverlay();
  drawBoxTable();
}

function drawBoxTable() {
  const list = currentBoxes();
  boxRows.replaceChildren(
    ...list.map((b, i) => {
      const fill = make("select", { id: `footage-fill-${i}`, "aria-label": t("request_footage.fill_of", { n: i + 1 }) });
      for (const f of ["blur", "solid"]) {
        fill.append(make("option", { value: f }, f === "solid" ? t("request_footage.fill_solid") : t("request_footage.fill_blur")));
      }
      fill.value = b.fill;
      fill.addEventListener("change", () => {
        b.fill = fill.value;
        drawOverlay();
      });
      const kfs = make("ul", { class: "keyframes" });
      b.keyframes.forEach((k, j) => {
        const go = btn(`footage-kf-${i}-${j}`, showTime(k.at));
        go.setAttribute("aria-label", t("request_footage.go_keyframe", { n: i + 1, time: showTime(k.at) }));
        go.addEventListener("click", () => goTo(k.at));
        const del = btn(`footage-kf-delete-${i}-${j}`, "×");
        del.setAttribute("aria-label", t("request_footage.delete_keyframe", { n: i + 1, time: showTime(k.at) }));
        del.addEventListener("click", () => {
          b.keyframes.splice(j, 1);
          if (b.keyframes.length === 0) {
            list.splice(i, 1);
            selected = -1;
          }
          render();
          addBox.focus();
        });
        kfs.append(make("li", {}, go, " ", del));
      });
      const remove = btn(`footage-box-delete-${i}`, t("common.delete"));
      remove.setAttribute("aria-label", t("request_footage.delete_box", { n: i + 1 }));
      remove.addEventListener("click", () => {
        list.splice(i, 1);
        selected = -1;
        render();
        addBox.focus();
      });
      const tr = make("tr", { id: `footage-box-${i}`, class: i === selected ? "selected" : "" });
      tr.append(cell(String(i + 1)), cell(fill), cell(kfs), cell(remove));
      return tr;
    }),
  );
}

/** A new box with one keyframe at the player's time. */
function newBox(r) {
  const at = now();
  if (at === null) return;
  const b = { fill: newFill.value, keyframes: [] };
  setKeyframe(b, at, fit(r));
  currentBoxes().push(b);
  selected = currentBoxes().length - 1;
  render();
}

addBox.addEventListener("click", () => {
  video.pause();
  newBox({ x: 0.4, y: 0.4, w: 0.2, h: 0.2 });
  svg.querySelector(`rect[data-index="${selected}"]`)?.focus();
});

svg.addEventListener("pointerdown", (ev) => {
  if (ev.button !== 0 || mediaStart === null) return;
  video.pause();
  const target = ev.target;
  const p = pointOf(ev);
  const base = { from: p, x: ev.clientX, y: ev.clientY, moved: false, rect: null };
  if (target instanceof SVGElement && target.dataset.index !== undefined) {
    const index = Number(target.dataset.index);
    const r = rectAt(currentBoxes()[index], now());
    drag = { ...base, kind: target.dataset.handle ? "resize" : "move", index, original: r };
    if (selected !== index) {
      selected = index;
      render();
    }
  } else {
    drag = { ...base, kind: "new", index: -1 };
  }
  svg.setPointerCapture(ev.pointerId);
  ev.preventDefault();
});
svg.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  if (!drag.moved && Math.hypot(ev.clientX - drag.x, ev.clientY - drag.y) < DRAG_PX) return;
  drag.moved = true;
  const [x, y] = pointOf(ev);
  const [fx, fy] = drag.from;
  if (drag.kind === "new") {
    drag.rect = { x: Math.min(x, fx), y: Math.min(y, fy), w: Math.abs(x - fx), h: Math.abs(y - fy) };
  } else if (drag.kind === "move") {
    const o = drag.original;
    drag.rect = fit({ x: o.x + x - fx, y: o.y + y - fy, w: o.w, h: o.h });
  } else {
    const o = drag.original;
    drag.rect = fit({ x: o.x, y: o.y, w: Math.min(x - o.x, 1 - o.x), h: Math.min(y - o.y, 1 - o.y) });
  }
  drawOverlay();
});
function endDrag(ev) {
  if (!drag) return;
  if (svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
  const d = drag;
  drag = null;
  if (!d.moved || !d.rect) {
    if (d.kind === "new" && selected >= 0) selected = -1;
    render();
    return;
  }
  if (d.kind === "new") {
    if (d.rect.w >= MIN_SIZE && d.rect.h >= MIN_SIZE) newBox(d.rect);
    else render();
    return;
  }
  setKeyframe(currentBoxes()[d.index], now(), d.rect);
  render();
}
svg.addEventListener("pointerup", endDrag);
svg.addEventListener("pointercancel", endDrag);

// Arrow keys move a focused box (a keyframe at the player's time); Delete
// removes it.
svg.addEventListener("keydown", (ev) => {
  const target = ev.target;
  if (!(target instanceof SVGElement) || target.dataset.index === undefined || mediaStart === null) return;
  const index = Number(target.dataset.index);
  const list = currentBoxes();
  const moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
  if (ev.key in moves) {
    ev.preventDefault();
    video.pause();
    const [dx, dy] = moves[ev.key];
    const r = rectAt(list[index], now());
    setKeyframe(list[index], now(), fit({ x: r.x + dx, y: r.y + dy, w: r.w, h: r.h }));
    selected = index;
  } else if (ev.key === "Delete" || ev.key === "Backspace") {
    ev.preventDefault();
    list.splice(index, 1);
    selected = -1;
    render();
    addBox.focus();
    return;
  } else if (ev.key === "Enter" || ev.key === " ") {
    ev.preventDefault();
    selected = index;
  } else {
    return;
  }
  render();
  svg.querySelector(`rect[data-index="${index}"]`)?.focus();
});

new ResizeObserver(() => drawOverlay()).observe(stage);

// ---- Export ---------------------------------------------------------------------

function protection() {
  const r = exportForm.querySelector("input[name=footage-protection]:checked");
  return r ? r.value : "generated";
}

function protectionChanged() {
  ownPassphrase.hidden = protection() !== "passphrase";
  recipientKeys.hidden = protection() !== "recipients";
}
for (const r of exportForm.querySelectorAll("input[name=footage-protection]")) {
  r.addEventListener("change", protectionChanged);
}

function body() {
  const camera = win.camera;
  const intervals = request.intervals
    .filter((i) => i.camera === camera)
    .map((i) => ({ start: i.start, end: i.end }))
    .sort((a, b) => new Date(a.start) - new Date(b.start));
  const b = {
    cameras: [camera],
    intervals,
    subject_request: Number(id),
    redactions: currentBoxes().map((x) => ({
      camera,
      fill: x.fill,
      keyframes: x.keyframes.map((k) => ({ at: iso(k.at), x: k.x, y: k.y, w: k.w, h: k.h })),
    })),
    // The server names the data subject as the requesting party.
    requester: {
      name: request.subject,
      title: "data subject",
      organisation: organisationInput.value,
      country: countryInput.value.trim().toUpperCase(),
    },
    reason: reasonInput.value,
  };
  const p = protection();
  if (p === "passphrase") b.passphrase = passphraseInput.value;
  if (p === "recipients") {
    b.recipients = recipientsInput.value
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l);
  }
  return b;
}

function clearInvalid() {
  for (const e of section.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
  showMessage(exportError, "", true);
}

/** Shows a refusal at the field it names (its message starts with it). */
function refused(e) {
  fail(exportError, e);
  if (!(e instanceof ApiError) || e.status !== 400) return;
  const m = /^([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+))?/.exec(e.message || "");
  if (!m) return;
  let target = null;
  if (m[1] === "redactions" && m[2] !== undefined) {
    selected = Number(m[2]);
    render();
    target = document.getElementById(`footage-fill-${m[2]}`);
  } else if (m[1] === "requester" && m[3]) {
    target = exportForm.querySelector(`[data-field="requester.${m[3]}"]`);
  } else {
    target = exportForm.querySelector(`[data-field="${m[1]}"]`);
  }
  if (target && !target.closest("[hidden]")) {
    target.setAttribute("aria-invalid", "true");
    target.focus();
  }
}

exportForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearInvalid();
  if (!win) {
    showMessage(exportError, t("request_footage.load_first"), true);
    return;
  }
  if (!request.intervals.some((i) => i.camera === win.camera)) {
    showMessage(exportError, t("request_footage.no_intervals"), true);
    return;
  }
  exportSubmit.disabled = true;
  try {
    const created = await api("POST", "/api/v1/exports", body());
    passphraseInput.value = "";
    startProgress(created);
  } catch (e) {
    refused(e);
  } finally {
    exportSubmit.disabled = false;
  }
});

function startProgress(created) {
  clearTimeout(polling);
  progressBox.hidden = false;
  download.hidden = true;
  download.removeAttribute("href");
  progress.value = 0;
  progress.setAttribute("value", "0");
  stateLine.dataset.state = "queued";
  stateLine.textContent = t("exports.state.queued");
  stateLine.classList.remove("error");
  // A generated passphrase is answered once: shown here, never again.
  passphraseShown.textContent = created.passphrase || "";
  passphraseBox.hidden = !created.passphrase;
  const poll = async () => {
    try {
      const x = await api("GET", `/api/v1/exports/${created.id}`);
      const p = Math.max(0, Math.min(100, Math.round(Number(x.percent) || 0)));
      progress.value = x.state === "done" ? 100 : p;
      progress.setAttribute("value", String(progress.value));
      stateLine.dataset.state = x.state;
      stateLine.textContent =
        x.state === "failed" ? t("exports.failed", { error: x.error || "" }) : t(`exports.state.${x.state}`);
      stateLine.classList.toggle("error", x.state === "failed");
      if (x.state === "done" && x.download) {
        download.href = x.download;
        download.setAttribute("download", `${x.package_id}.tar.age`);
        download.hidden = false;
      }
      if (x.state === "done" || x.state === "failed" || x.state === "expired") {
        changed();
        return;
      }
    } catch (e) {
      stateLine.textContent = e instanceof ApiError ? e.message : t("common.error.network");
    }
    polling = setTimeout(poll, POLL_MS);
  };
  poll();
}

// ---- Loading ----------------------------------------------------------------------

async function start() {
  try {
    request = await api("GET", `/api/v1/requests/${id}`);
    if (!request.scope || !["searching", "decided"].includes(request.status)) return;
    scope = { start: new Date(request.scope.start).getTime(), end: new Date(request.scope.end).getTime() };
    const f = await api("GET", `/api/v1/requests/${id}/footage`);
    cameras = f.cameras.map((c) => ({
      id: c.id,
      name: c.name,
      recordings: c.recordings.map((r) => ({ start: new Date(r.start).getTime(), end: new Date(r.end).getTime() })),
    }));
    workspace.hidden = false;
    const exports = request.kind === "access" || request.kind === "portability";
    exportPart.hidden = !exports;
    noExport.hidden = exports;
    const marking = request.status === "searching";
    for (const b of [markStart, markEnd, addButton]) b.disabled = !marking;
    fillCameras();
    renderIntervals();
    protectionChanged();
    render();
  } catch (e) {
    fail(errorBox, e);
  }
}

start();
