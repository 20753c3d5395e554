// Playback page: pick a time range, see the recorded periods on a timeline,
// and play the range as a progressive MP4 served by the API.
import { api, showMessage } from "./common.js";

const main = document.getElementById("playback");
const cameraId = encodeURIComponent(main.dataset.cameraId);
const form = document.getElementById("range-form");
const startInput = document.getElementById("start");
const endInput = document.getElementById("end");
const refreshButton = document.getElementById("refresh-button");
const timeline = document.getElementById("timeline");
const timelineStatus = document.getElementById("timeline-status");
const axisStart = document.getElementById("axis-start");
const axisEnd = document.getElementById("axis-end");
const video = document.getElementById("playback-video");
const errorBox = document.getElementById("playback-error");

const DEFAULT_MINUTES = 10;

function pad(n) {
  return String(n).padStart(2, "0");
}

/** Formats a Date as a `datetime-local` value in local time. */
function toLocalInput(date) {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** Parses a `datetime-local` value (local time) into a Date, or null. */
function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(value);
  if (!m) return null;
  const ms = m[7] ? Number(m[7].padEnd(3, "0")) : 0;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0, ms);
  return Number.isNaN(d.getTime()) ? null : d;
}

function formatTime(date) {
  return date.toLocaleString(undefined, {
    dateStyle: "short",
    timeStyle: "medium",
  });
}

/** Reads the chosen range; shows an error and returns null if invalid. */
function readRange() {
  const start = fromLocalInput(startInput.value);
  const end = fromLocalInput(endInput.value);
  if (!start || !end) {
    showMessage(errorBox, "Enter both a start and an end time.");
    return null;
  }
  if (end <= start) {
    showMessage(errorBox, "The end must be after the start.");
    return null;
  }
  showMessage(errorBox, "");
  return { start, end };
}

function rangeQuery(range) {
  const q = new URLSearchParams({
    start: range.start.toISOString(),
    end: range.end.toISOString(),
  });
  return q.toString();
}

let timelineRequest = 0;

async function loadTimeline(range) {
  const request = ++timelineRequest;
  timelineStatus.textContent = "Loading recorded periods…";
  axisStart.textContent = formatTime(range.start);
  axisEnd.textContent = formatTime(range.end);
  let data;
  try {
    data = await api("GET", `/api/v1/cameras/${cameraId}/recordings?${rangeQuery(range)}`);
  } catch (e) {
    if (request === timelineRequest) {
      timelineStatus.textContent = `Could not load recordings: ${e.message}`;
    }
    return;
  }
  if (request !== timelineRequest) return;
  drawTimeline(range, (data && data.recordings) || []);
}

function drawTimeline(range, recordings) {
  timeline.replaceChildren();
  const span = range.end - range.start;
  let shown = 0;
  for (const rec of recordings) {
    const recStart = new Date(rec.start);
    const recEnd = new Date(rec.end);
    if (Number.isNaN(recStart.getTime()) || Number.isNaN(recEnd.getTime())) continue;
    const from = Math.max(recStart, range.start);
    const to = Math.min(recEnd, range.end);
    if (to <= from) continue;
    const bar = document.createElement("button");
    bar.type = "button";
    bar.className = "run";
    bar.setAttribute("role", "listitem");
    bar.dataset.start = recStart.toISOString();
    bar.dataset.end = recEnd.toISOString();
    const label = `Recorded ${formatTime(recStart)} to ${formatTime(recEnd)}`;
    bar.title = label;
    bar.setAttribute("aria-label", `${label}. Select to play.`);
    // CSSOM property assignment is allowed by the page's CSP.
    bar.style.left = `${((from - range.start) / span) * 100}%`;
    bar.style.width = `${Math.max(((to - from) / span) * 100, 0.4)}%`;
    bar.addEventListener("click", () => selectRun(bar, recStart, recEnd));
    timeline.appendChild(bar);
    shown += 1;
  }
  timelineStatus.textContent =
    shown === 0
      ? "Nothing was recorded in this range."
      : `${shown} recorded period${shown === 1 ? "" : "s"} in this range.`;
}

function selectRun(bar, start, end) {
  for (const other of timeline.querySelectorAll(".run.selected")) {
    other.classList.remove("selected");
    other.removeAttribute("aria-pressed");
  }
  bar.classList.add("selected");
  bar.setAttribute("aria-pressed", "true");
  startInput.value = toLocalInput(start);
  // Round the end up so the whole run is included at one-second precision.
  endInput.value = toLocalInput(new Date(Math.ceil(end.getTime() / 1000) * 1000));
  play({ start, end });
}

function play(range) {
  showMessage(errorBox, "");
  video.src = `/api/v1/cameras/${cameraId}/video.mp4?${rangeQuery(range)}`;
  const p = video.play();
  if (p && p.catch) p.catch(() => {});
}

/** Explains a failed video load using the API's JSON error, if any. */
async function explainVideoError() {
  if (!video.src) return;
  let message = "The recording could not be played.";
  try {
    const resp = await fetch(video.src, {
      headers: { Range: "bytes=0-0" },
      credentials: "same-origin",
    });
    if (!resp.ok) {
      const data = await resp.json().catch(() => null);
      if (data && data.error && data.error.message) message = data.error.message;
    }
  } catch (_) {
    // Keep the generic message.
  }
  showMessage(errorBox, message);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const range = readRange();
  if (!range) return;
  play(range);
  loadTimeline(range);
});

refreshButton.addEventListener("click", () => {
  const range = readRange();
  if (range) loadTimeline(range);
});

video.addEventListener("error", explainVideoError);

const now = new Date();
now.setMilliseconds(0);
endInput.value = toLocalInput(now);
startInput.value = toLocalInput(new Date(now.getTime() - DEFAULT_MINUTES * 60 * 1000));
loadTimeline(readRange());
