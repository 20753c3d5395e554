// Playback page: a zoomable timeline (recorded runs, gaps, motion events,
// bookmarks) per camera, and up to four players driven by one clock.
//
// Each player plays a window of about ten minutes of one recorded run,
// fetched as a progressive MP4 (`video.mp4?start=&end=`). The server starts
// the file at the keyframe at or before `start` and ends it with the last
// frame starting before `end`, so with `end` inside the run the file's
// first frame is at `end - duration`: that is how a wall time maps to the
// video's currentTime. One master clock holds the wall time; the first
// player showing video leads it, the others follow (seek when far off,
// nudge the playback rate when slightly off).
import { api, t, formatTime, showMessage } from "./common.js";

const root = document.getElementById("playback");
const cameras = (root.dataset.cameras || "").split(",").filter(Boolean);
const MIN_SPAN = Number(root.dataset.minSpan) * 1000;
const MAX_SPAN = Number(root.dataset.maxSpan) * 1000;
const MAX_CAMERAS = Number(root.dataset.maxCameras);

// ---- The camera picker -----------------------------------------------------

const pickForm = document.getElementById("camera-form");
const pickError = document.getElementById("camera-error");

/** The page's address for these cameras, playhead and span. */
function pageUrl(ids, time, spanMs) {
  const q = new URLSearchParams();
  if (ids.length) q.set("cameras", ids.join(","));
  if (time) q.set("t", time.toISOString().replace(".000Z", "Z"));
  if (spanMs) q.set("span", String(Math.round(spanMs / 1000)));
  // Commas stay readable in shared links.
  return "/playback?" + q.toString().replace(/%2C/g, ",");
}

pickForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const ids = [...pickForm.querySelectorAll("input[name=camera]:checked")].map((i) => i.value);
  if (ids.length === 0) return showMessage(pickError, t("playback.pick_at_least_one"));
  if (ids.length > MAX_CAMERAS) {
    return showMessage(pickError, t("playback.pick_at_most", { max: MAX_CAMERAS }));
  }
  const here = cameras.length ? new Date(clock.t) : null;
  window.location.assign(pageUrl(ids, here, cameras.length ? view.span : 0));
});

// ---- State -------------------------------------------------------------------

const DEFAULT_SPAN = MIN_SPAN;
/** Seconds on each side of the point a player loads. */
const WINDOW_MS = 5 * 60 * 1000;
/** One frame, for stepping, until a player has measured its camera's
 * frame interval (25 fps: the synthetic and most IP cameras). */
const FRAME_MS = 40;
const ZOOMS = [3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400].map(
  (s) => s * 1000,
);

function initialTime() {
  const d = root.dataset.t ? new Date(root.dataset.t) : null;
  if (d && !Number.isNaN(d.getTime())) return d.getTime();
  return Date.now() - 5 * 60 * 1000;
}

const clock = { t: initialTime(), playing: false, rate: 1, last: performance.now() };
const initialSpan = Number(root.dataset.span) * 1000;
const view = {
  span: initialSpan >= MIN_SPAN && initialSpan <= MAX_SPAN ? initialSpan : DEFAULT_SPAN,
  start: 0,
};
view.start = clock.t - view.span / 2;

/** Sets up the players, the timeline and the controls. */
function start() {
  // ---- Elements ----------------------------------------------------------------

  const el = (id) => document.getElementById(id);
  const errorBox = el("playback-error");
  const playButton = el("play-pause");
  const speedSelect = el("speed");
  const timeOut = el("playhead-time");
  const spanLabel = el("span-label");
  const timelineBox = el("timeline");
  const axis = el("timeline-axis");
  const statusLine = el("timeline-status");

  /** Per camera: its lane's data and its player. */
  const lanes = new Map();

  class Player {
    constructor(id, figure) {
      this.id = id;
      this.figure = figure;
      this.video = figure.querySelector("video");
      this.gapNote = figure.querySelector(".no-recording");
      this.stateNote = figure.querySelector(".player-state");
      this.window = null; // { start, end } requested (ms)
      this.mediaStart = null; // wall time (ms) of currentTime 0
      this.loading = false;
      this.gap = false;
      this.video.addEventListener("loadedmetadata", () => this.onMetadata());
      this.video.addEventListener("error", () => this.onError());
      this.frameMs = null;
      this.measureFrames();
    }

    /** Measures the camera's frame interval from the frames presented: the
     * shortest of the last 30 media-time steps (frames skipped at high
     * speeds and jumps after seeks only make steps longer or negative). */
    measureFrames() {
      if (!this.video.requestVideoFrameCallback) return;
      let last = null;
      const steps = [];
      const onFrame = (_now, meta) => {
        if (last !== null) {
          const d = (meta.mediaTime - last) * 1000;
          if (d > 4 && d < 250) {
            steps.push(d);
            if (steps.length > 30) steps.shift();
            this.frameMs = Math.min(...steps);
          }
        }
        last = meta.mediaTime;
        this.video.requestVideoFrameCallback(onFrame);
      };
      this.video.requestVideoFrameCallback(onFrame);
    }

    /** Wall time (ms) of the picture shown, or null. */
    wallTime() {
      if (this.mediaStart === null || this.loading) return null;
      return this.mediaStart + this.video.currentTime * 1000;
    }

    /** Whether the player shows video for wall time `t`. */
    covers(t) {
      return (
        this.mediaStart !== null &&
        !this.loading &&
        t >= this.mediaStart &&
        t < this.mediaStart + this.video.duration * 1000 - 1
      );
    }

    ready() {
      return this.covers(clock.t) && this.video.readyState >= 3 && !this.video.seeking;
    }

    setState(text) {
      this.stateNote.textContent = text ? `(${text})` : "";
    }

    showGap(gap) {
      this.gap = gap;
      this.gapNote.hidden = !gap;
      this.video.classList.toggle("in-gap", gap);
      this.figure.dataset.state = gap ? "gap" : this.loading ? "loading" : "video";
      if (gap) {
        this.setState(t("playback.state_gap"));
        if (!this.video.paused) this.video.pause();
      }
    }

    load(run, at) {
      const start = Math.max(run.start, at - WINDOW_MS);
      const end = Math.min(run.end, at + WINDOW_MS);
      if (end - start < 100) return;
      this.window = { start, end, run };
      this.loading = true;
      this.mediaStart = null;
      this.pendingSeek = at;
      this.figure.dataset.state = "loading";
      this.setState(t("playback.state_loading"));
      const q = new URLSearchParams({
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
      });
      this.video.src = `/api/v1/cameras/${encodeURIComponent(this.id)}/video.mp4?${q}`;
    }

    onMetadata() {
      if (!this.window) return;
      // The file ends with the last frame starting before `end`.
      this.mediaStart = this.window.end - this.video.duration * 1000;
      this.figure.dataset.mediaStart = String(this.mediaStart);
      this.loading = false;
      this.figure.dataset.state = "video";
      this.setState("");
      this.video.currentTime = Math.max(0, (clock.t - this.mediaStart) / 1000);
    }

    async onError() {
      if (!this.window || !this.video.src) return;
      this.loading = false;
      this.mediaStart = null;
      let message = this.video.error ? this.video.error.message || String(this.video.error.code) : "";
      try {
        const resp = await fetch(this.video.src, {
          headers: { Range: "bytes=0-0" },
          credentials: "same-origin",
        });
        if (!resp.ok) {
          const data = await resp.json().catch(() => null);
          if (data && data.error && data.error.message) message = data.error.message;
        }
      } catch (_) {
        // Keep the media error.
      }
      showMessage(errorBox, t("playback.video_error", { message }));
      this.figure.dataset.state = "error";
    }

    /** Drives the player to the master clock. */
    sync(lane) {
      const now = clock.t;
      const run = lane.runAt(now);
      if (!run) {
        this.showGap(true);
        return;
      }
      if (this.gap) this.showGap(false);
      const inWindow =
        this.window && this.window.run.start === run.start && now >= this.window.start && now < this.window.end - 50;
      if (!inWindow) {
        this.load(run, now);
        return;
      }
      if (this.loading || this.mediaStart === null) return;
      const v = this.video;
      const target = (now - this.mediaStart) / 1000;
      const drift = v.currentTime - target;
      if (clock.playing) {
        if (Math.abs(drift) > 0.5) {
          if (!v.seeking) v.currentTime = Math.max(0, target);
        } else if (Math.abs(drift) > 0.04) {
          v.playbackRate = Math.max(0.0625, clock.rate * (1 - Math.max(-0.5, Math.min(0.5, drift))));
        } else if (v.playbackRate !== clock.rate) {
          v.playbackRate = clock.rate;
        }
        if (v.paused) v.play().catch(() => {});
      } else {
        if (!v.paused) v.pause();
        if (Math.abs(drift) > 0.01 && !v.seeking) v.currentTime = Math.max(0, target);
      }
    }
  }

  class Lane {
    constructor(id, el) {
      this.id = id;
      this.el = el;
      this.track = el.querySelector(".lane-track");
      this.runs = []; // { start, end } ms, oldest first
      this.events = [];
      this.bookmarks = [];
      this.loaded = null; // { start, end } ms
    }

    runAt(time) {
      return this.runs.find((r) => r.start <= time && time < r.end) || null;
    }
  }

  for (const figure of document.querySelectorAll("#players .player")) {
    const id = figure.dataset.cameraId;
    const laneEl = timelineBox.querySelector(`.lane[data-camera-id="${CSS.escape(id)}"]`);
    const lane = new Lane(id, laneEl);
    lane.player = new Player(id, figure);
    lanes.set(id, lane);
  }

  // ---- Loading the timeline ----------------------------------------------------

  let loadSeq = 0;
  let bookmarksAvailable = true;

  async function fetchLane(lane, start, end) {
    const q = new URLSearchParams({
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
    });
    const id = encodeURIComponent(lane.id);
    const [recs, evs] = await Promise.all([
      api("GET", `/api/v1/cameras/${id}/recordings?${q}`),
      api("GET", `/api/v1/cameras/${id}/events?${q}`),
    ]);
    let marks = [];
    if (bookmarksAvailable && lane.el.dataset.bookmarks === "1") {
      try {
        const b = await api("GET", `/api/v1/bookmarks?camera=${id}&${q}`);
        marks = (b && b.bookmarks) || [];
      } catch (e) {
        // Without the right to see bookmarks (403), or without bookmarks on
        // this server (404), the lane shows none.
        if (e.status === 404) bookmarksAvailable = false;
        else if (e.status !== 403) throw e;
      }
    }
    const ms = (s) => (s ? new Date(s).getTime() : null);
    return {
      runs: ((recs && recs.recordings) || []).map((r) => ({ start: ms(r.start), end: ms(r.end) })),
      events: ((evs && evs.events) || []).map((e) => ({ start: ms(e.start), end: ms(e.end) })),
      bookmarks: marks.map((b) => ({ id: b.id, start: ms(b.start), end: ms(b.end), note: b.note || "" })),
    };
  }

  /** Loads the lanes for the view (with a margin) and the playhead. */
  async function loadTimeline() {
    const seq = ++loadSeq;
    const start = Math.min(view.start - view.span / 2, clock.t - WINDOW_MS);
    const end = Math.max(view.start + view.span * 1.5, clock.t + WINDOW_MS);
    statusLine.textContent = t("playback.loading");
    try {
      const results = await Promise.all([...lanes.values()].map((l) => fetchLane(l, start, end)));
      if (seq !== loadSeq) return;
      let i = 0;
      for (const lane of lanes.values()) {
        Object.assign(lane, results[i++]);
        lane.loaded = { start, end };
      }
      showMessage(errorBox, "");
    } catch (e) {
      if (seq === loadSeq) {
        statusLine.textContent = "";
        showMessage(errorBox, t("playback.load_error", { message: e.message }));
      }
      return;
    }
    draw();
  }

  let reloadTimer = 0;
  /** Reloads soon when the view has moved beyond what was loaded. */
  function maybeReload(force) {
    const first = lanes.values().next().value;
    const loaded = first && first.loaded;
    const outside =
      !loaded ||
      view.start < loaded.start ||
      view.start + view.span > loaded.end ||
      clock.t < loaded.start ||
      clock.t > loaded.end;
    if (!force && !outside) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(loadTimeline, 150);
  }

  // ---- Drawing -------------------------------------------------------------------

  const pct = (time) => ((time - view.start) / view.span) * 100;

  function block(cls, from, to, title) {
    const a = Math.max(from, view.start);
    const b = Math.min(to, view.start + view.span);
    if (b <= a) return null;
    const d = document.createElement("span");
    d.className = cls;
    d.style.left = `${pct(a)}%`;
    d.style.width = `${Math.max(pct(b) - pct(a), 0.15)}%`;
    if (title) d.title = title;
    return d;
  }

  function drawAxis() {
    axis.replaceChildren();
    const steps = [600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400].map((s) => s * 1000);
    const step = steps.find((s) => view.span / s <= 8) || 86400000;
    const first = Math.ceil(view.start / step) * step;
    const fmt = new Intl.DateTimeFormat(document.documentElement.lang, {
      ...(step >= 86400000 ? { dateStyle: "short" } : { hour: "2-digit", minute: "2-digit" }),
    });
    for (let x = first; x < view.start + view.span; x += step) {
      const tick = document.createElement("span");
      tick.className = "tick";
      tick.style.left = `${pct(x)}%`;
      tick.textContent = fmt.format(new Date(x));
      axis.appendChild(tick);
    }
  }

  function draw() {
    drawAxis();
    let runs = 0;
    let events = 0;
    let marks = 0;
    for (const lane of lanes.values()) {
      const track = lane.track;
      track.replaceChildren();
      for (const r of lane.runs) {
        const d = block("run", r.start, r.end, t("playback.run_title", {
          start: formatTime(new Date(r.start)),
          end: formatTime(new Date(r.end)),
        }));
        if (d) {
          track.appendChild(d);
          runs += 1;
        }
      }
      for (const e of lane.events) {
        const end = e.end === null ? Math.min(Date.now(), view.start + view.span) : e.end;
        const key = e.end === null ? "playback.motion_open" : "playback.motion_title";
        const d = block("motion", e.start, end, t(key, { start: formatTime(new Date(e.start)) }));
        if (d) {
          track.appendChild(d);
          events += 1;
        }
      }
      for (const b of lane.bookmarks) {
        if (b.start < view.start || b.start > view.start + view.span) continue;
        const mark = document.createElement("button");
        mark.type = "button";
        mark.className = "bookmark-mark";
        mark.dataset.bookmarkId = String(b.id);
        mark.dataset.start = new Date(b.start).toISOString();
        mark.style.left = `${pct(b.start)}%`;
        if (b.end !== null) mark.style.width = `${Math.max(pct(Math.min(b.end, view.start + view.span)) - pct(b.start), 0.3)}%`;
        const label = t("playback.bookmark_title", { time: formatTime(new Date(b.start)), note: b.note });
        mark.title = label;
        mark.setAttribute("aria-label", label);
        mark.addEventListener("pointerdown", (ev) => ev.stopPropagation());
        mark.addEventListener("click", (ev) => {
          ev.stopPropagation();
          seek(b.start);
        });
        track.appendChild(mark);
        marks += 1;
      }
      const ph = document.createElement("span");
      ph.className = "playhead";
      ph.setAttribute("aria-hidden", "true");
      track.appendChild(ph);
      lane.playhead = ph;
    }
    statusLine.textContent = t("playback.status", { runs, events, bookmarks: marks });
    spanLabel.textContent =
      view.span >= 86400000
        ? t("playback.span_days", { n: Math.round((view.span / 86400000) * 10) / 10 })
        : t("playback.span_hours", { n: Math.round((view.span / 3600000) * 10) / 10 });
    drawPlayhead();
  }

  function drawPlayhead() {
    const p = pct(clock.t);
    const label = formatTime(new Date(clock.t));
    for (const lane of lanes.values()) {
      if (lane.playhead) {
        lane.playhead.hidden = p < 0 || p > 100;
        lane.playhead.style.left = `${p}%`;
      }
      lane.track.setAttribute("aria-valuenow", String(Math.round(Math.max(0, Math.min(100, p)))));
      lane.track.setAttribute("aria-valuetext", label);
    }
    timeOut.textContent = label;
    timeOut.dataset.time = new Date(clock.t).toISOString();
  }

  // ---- The URL -------------------------------------------------------------------

  let lastUrl = "";
  function updateUrl() {
    const url = pageUrl(cameras, new Date(Math.round(clock.t / 1000) * 1000), view.span);
    if (url !== lastUrl) {
      history.replaceState(null, "", url);
      lastUrl = url;
    }
  }

  // ---- Clock and control -----------------------------------------------------------

  function setPlaying(playing) {
    clock.playing = playing;
    clock.last = performance.now();
    playButton.textContent = playing ? t("playback.pause") : t("playback.play");
    playButton.setAttribute("aria-pressed", playing ? "true" : "false");
    for (const lane of lanes.values()) lane.player.sync(lane);
    updateUrl();
  }

  /** Moves the playhead to `time` (ms); keeps it in view. */
  function seek(time) {
    clock.t = Math.min(time, Date.now());
    clock.last = performance.now();
    if (clock.t < view.start || clock.t > view.start + view.span) {
      view.start = clock.t - view.span / 2;
      draw();
    }
    for (const lane of lanes.values()) lane.player.sync(lane);
    drawPlayhead();
    updateUrl();
    maybeReload(false);
  }

  function allRuns() {
    return [...lanes.values()].flatMap((l) => l.runs).sort((a, b) => a.start - b.start);
  }

  function nextRun(after) {
    return allRuns().find((r) => r.start > after + 1) || null;
  }

  function tick() {
    const now = performance.now();
    const dt = now - clock.last;
    clock.last = now;
    const players = [...lanes.values()].map((l) => l.player);
    if (clock.playing) {
      const leader = players.find(
        (p) => p.covers(clock.t) && !p.video.paused && !p.video.seeking && p.video.readyState >= 3,
      );
      const waiting = players.some((p) => !p.gap && !p.ready());
      if (leader) {
        clock.t = leader.wallTime();
      } else if (!waiting) {
        clock.t += dt * clock.rate;
      }
      if (players.every((p) => p.gap)) {
        // Nothing recorded here on any camera: go on at the next recording.
        const next = nextRun(clock.t);
        if (next) clock.t = next.start;
        else if (clock.t >= Date.now()) setPlaying(false);
      }
      for (const lane of lanes.values()) lane.player.sync(lane);
      drawPlayhead();
      if (clock.t > view.start + view.span) {
        view.start = clock.t - view.span * 0.1;
        draw();
        maybeReload(false);
      }
    } else {
      for (const lane of lanes.values()) lane.player.sync(lane);
    }
    if (now - (tick.urlAt || 0) > 2000) {
      tick.urlAt = now;
      updateUrl();
    }
  }

  playButton.addEventListener("click", () => setPlaying(!clock.playing));
  speedSelect.addEventListener("change", () => {
    clock.rate = Number(speedSelect.value) || 1;
    for (const lane of lanes.values()) lane.player.video.playbackRate = clock.rate;
  });

  function step(frames) {
    setPlaying(false);
    const measured = [...lanes.values()].map((l) => l.player.frameMs).find((f) => f);
    seek(clock.t + frames * (measured || FRAME_MS));
  }
  el("step-forward").addEventListener("click", () => step(1));
  el("step-back").addEventListener("click", () => step(-1));

  el("next-recording").addEventListener("click", () => {
    const next = nextRun(clock.t);
    if (next) seek(next.start);
    else showMessage(errorBox, t("playback.no_more_recordings"));
  });
  el("prev-recording").addEventListener("click", () => {
    // The start of the run we are in (if more than a second in), else the one before.
    const starts = allRuns()
      .map((r) => r.start)
      .filter((s) => s < clock.t - 1000);
    if (starts.length) seek(starts[starts.length - 1]);
    else showMessage(errorBox, t("playback.no_more_recordings"));
  });

  // ---- Zoom and pan ----------------------------------------------------------------

  function zoomTo(span, around) {
    span = Math.max(MIN_SPAN, Math.min(MAX_SPAN, span));
    const at = around === undefined ? clock.t : around;
    const frac = (at - view.start) / view.span;
    view.start = at - frac * span;
    view.span = span;
    draw();
    updateUrl();
    maybeReload(false);
  }

  function zoomStep(dir) {
    const i = ZOOMS.findIndex((z) => z >= view.span - 1);
    const cur = i < 0 ? ZOOMS.length - 1 : i;
    const next = dir < 0 ? Math.max(0, ZOOMS[cur] < view.span ? cur : cur - 1) : Math.min(ZOOMS.length - 1, cur + 1);
    zoomTo(ZOOMS[next]);
  }

  el("zoom-in").addEventListener("click", () => zoomStep(-1));
  el("zoom-out").addEventListener("click", () => zoomStep(1));

  function pan(ms) {
    view.start += ms;
    draw();
    maybeReload(false);
  }

  function timeAtX(track, clientX) {
    const r = track.getBoundingClientRect();
    return view.start + ((clientX - r.left) / r.width) * view.span;
  }

  timelineBox.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const track = timelineBox.querySelector(".lane-track");
      if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
        pan(((ev.deltaX || ev.deltaY) / 1000) * view.span * 0.5);
      } else {
        zoomTo(view.span * (ev.deltaY > 0 ? 1.25 : 0.8), timeAtX(track, ev.clientX));
      }
    },
    { passive: false },
  );

  // Dragging the time scale pans.
  axis.addEventListener("pointerdown", (ev) => {
    const x0 = ev.clientX;
    const start0 = view.start;
    const w = axis.getBoundingClientRect().width;
    axis.setPointerCapture(ev.pointerId);
    const move = (e) => {
      view.start = start0 - ((e.clientX - x0) / w) * view.span;
      draw();
    };
    const up = () => {
      axis.removeEventListener("pointermove", move);
      axis.removeEventListener("pointerup", up);
      maybeReload(false);
      updateUrl();
    };
    axis.addEventListener("pointermove", move);
    axis.addEventListener("pointerup", up);
  });

  // Clicking or dragging on a lane seeks (the players load on release).
  for (const lane of lanes.values()) {
    const track = lane.track;
    track.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      track.setPointerCapture(ev.pointerId);
      const preview = (e) => {
        clock.t = timeAtX(track, e.clientX);
        drawPlayhead();
      };
      preview(ev);
      const up = (e) => {
        track.removeEventListener("pointermove", preview);
        track.removeEventListener("pointerup", up);
        seek(timeAtX(track, e.clientX));
      };
      track.addEventListener("pointermove", preview);
      track.addEventListener("pointerup", up);
    });
    track.addEventListener("keydown", (ev) => {
      const small = view.span / 100;
      const keys = {
        ArrowLeft: () => seek(clock.t - small),
        ArrowRight: () => seek(clock.t + small),
        PageUp: () => seek(clock.t - view.span / 10),
        PageDown: () => seek(clock.t + view.span / 10),
        Home: () => seek(view.start),
        End: () => seek(view.start + view.span),
        "+": () => zoomStep(-1),
        "=": () => zoomStep(-1),
        "-": () => zoomStep(1),
        " ": () => setPlaying(!clock.playing),
      };
      const f = keys[ev.key];
      if (f) {
        ev.preventDefault();
        f();
      }
    });
  }

  // ---- Bookmarks -------------------------------------------------------------------

  const bmButton = el("bookmark-button");
  const bmForm = el("bookmark-form");
  if (bmButton) setupBookmarks();
  function setupBookmarks() {
    const bmRange = el("bookmark-range");
    const bmNote = el("bookmark-note");
    const bmCamera = el("bookmark-camera");
    let bm = null;

    function showBookmarkRange() {
      bmRange.textContent =
        bm.end === null
          ? t("playback.bookmark_at", { time: formatTime(new Date(bm.start)) })
          : t("playback.bookmark_range", {
              start: formatTime(new Date(bm.start)),
              end: formatTime(new Date(bm.end)),
            });
    }

    bmButton.addEventListener("click", () => {
      bm = { start: Math.round(clock.t), end: null };
      showBookmarkRange();
      bmForm.hidden = false;
      bmNote.focus();
    });
    el("bookmark-end").addEventListener("click", () => {
      if (clock.t <= bm.start) return showMessage(errorBox, t("playback.bookmark_end_before"));
      bm.end = Math.round(clock.t);
      showBookmarkRange();
    });
    el("bookmark-cancel").addEventListener("click", () => {
      bmForm.hidden = true;
      bm = null;
      bmButton.focus();
    });
    bmForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!bm) return;
      const save = el("bookmark-save");
      save.disabled = true;
      try {
        await api("POST", "/api/v1/bookmarks", {
          camera_id: Number(bmCamera.value),
          start: new Date(bm.start).toISOString(),
          end: bm.end === null ? null : new Date(bm.end).toISOString(),
          note: bmNote.value,
        });
        bmForm.hidden = true;
        bmNote.value = "";
        bm = null;
        showMessage(errorBox, "");
        statusLine.textContent = t("playback.bookmark_saved");
        bookmarksAvailable = true;
        await loadTimeline();
        bmButton.focus();
      } catch (e) {
        showMessage(errorBox, t("playback.bookmark_error", { message: e.message }));
      } finally {
        save.disabled = false;
      }
    });

  }

  // ---- Start -----------------------------------------------------------------------

  playButton.textContent = t("playback.play");
  updateUrl();
  draw();
  loadTimeline().then(() => {
    for (const lane of lanes.values()) lane.player.sync(lane);
  });
  setInterval(tick, 100);
}

if (cameras.length > 0) start();
