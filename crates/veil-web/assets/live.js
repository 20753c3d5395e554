// The live grid: one low-latency live player per visible tile, fed by a
// WebSocket carrying an fMP4 init segment followed by one media fragment per
// message, appended to a Media Source Extensions SourceBuffer. Layouts of 1,
// 2×2, 3×3 and 4×4 tiles, a camera-group filter and pages, all kept in the
// URL (`?layout=3&group=…&page=2`); a double click (or the button) shows a
// tile full screen; players stop while the tab is hidden and start again
// when it is shown; each tile shows its camera's recording state.
import { api, standbyReason, t } from "./common.js";

const MAX_LAG = 1.5; // seconds behind the live edge before jumping ahead
const EDGE_OFFSET = 0.3; // where to land behind the live edge
const KEEP_BEHIND = 6; // seconds of history kept in the SourceBuffer
const TRIM_EVERY = 10; // trim once this much history has accumulated
const MAX_QUEUE = 600; // fragments waiting to be appended before resync

export class LivePlayer {
  constructor(video) {
    this.video = video;
    this.id = video.dataset.cameraId;
    this.status = document.querySelector(`[data-status-for="${CSS.escape(this.id)}"]`);
    this.retryDelay = 1000;
    this.stopped = false;
    this.video.addEventListener("waiting", () => this.keepLive());
    this.video.addEventListener("pause", () => {
      // Autoplaying muted live video: resume if the browser paused it.
      if (!this.stopped && this.sourceBuffer) this.play();
    });
  }

  /** `state` is a stable id (`connecting`, `live`, `reconnecting`,
   * `error`, `paused`), kept in `data-state`; `detail` an optional message. */
  setStatus(state, detail) {
    if (this.status) {
      const label = t(`live.state.${state}`);
      this.status.textContent = detail ? `${label}: ${detail}` : label;
    }
    this.video.dataset.state = state;
  }

  start() {
    this.reset();
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${window.location.host}/api/v1/cameras/${encodeURIComponent(this.id)}/live`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.stopped = false;
    this.setStatus("connecting");
    ws.addEventListener("message", (ev) => this.onMessage(ev));
    ws.addEventListener("close", () => this.onClose(ws));
    ws.addEventListener("error", () => this.setStatus("error", t("live.connection_error")));
  }

  reset() {
    this.queue = [];
    this.sourceBuffer = null;
    this.mediaSource = null;
    this.codec = null;
    this.appendedMedia = 0;
    this.seekedToStart = false;
    if (this.objectUrl) {
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
    }
  }

  onMessage(ev) {
    if (typeof ev.data === "string") {
      let info;
      try {
        info = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      if (info.error) {
        this.setStatus("error", info.error.message || "");
        return;
      }
      if (info.start) {
        // Wall-clock time of decode time 0: lets anyone measure the latency.
        this.video.dataset.liveStart = String(Date.parse(info.start) / 1000);
      }
      if (info.codec) this.openMediaSource(info.codec);
      return;
    }
    if (!this.codec) return; // binary before the codec message: ignore
    this.queue.push(ev.data);
    if (this.queue.length > MAX_QUEUE) {
      // Far behind (e.g. a background tab): reconnect to start fresh.
      this.ws.close();
      return;
    }
    this.pump();
  }

  openMediaSource(codec) {
    const mime = `video/mp4; codecs="${codec}"`;
    if (!window.MediaSource || !MediaSource.isTypeSupported(mime)) {
      this.setStatus("error", t("live.unsupported_codec", { codec }));
      this.stopped = true;
      this.ws.close();
      return;
    }
    this.codec = codec;
    const ms = new MediaSource();
    this.mediaSource = ms;
    ms.addEventListener(
      "sourceopen",
      () => {
        if (this.mediaSource !== ms) return;
        try {
          const sb = ms.addSourceBuffer(mime);
          sb.addEventListener("updateend", () => this.onUpdateEnd(sb));
          sb.addEventListener("error", () => this.setStatus("error", t("live.decode_error")));
          this.sourceBuffer = sb;
          this.pump();
        } catch (e) {
          this.setStatus("error", e.message);
        }
      },
      { once: true },
    );
    this.objectUrl = URL.createObjectURL(ms);
    this.video.src = this.objectUrl;
  }

  pump() {
    const sb = this.sourceBuffer;
    if (!sb || sb.updating || this.queue.length === 0) return;
    if (this.mediaSource.readyState !== "open") return;
    const chunk = this.queue.shift();
    try {
      sb.appendBuffer(chunk);
      this.appendedMedia += 1;
    } catch (e) {
      if (e.name === "QuotaExceededError") {
        this.queue.unshift(chunk);
        this.trim(true);
      } else {
        this.setStatus("error", e.message);
        this.ws.close();
      }
    }
  }

  onUpdateEnd(sb) {
    if (sb !== this.sourceBuffer) return;
    const buffered = sb.buffered;
    if (buffered.length > 0 && !this.seekedToStart) {
      // Decode times are wall-clock based: start at the first buffered frame.
      this.seekedToStart = true;
      this.video.currentTime = buffered.start(0);
      this.setStatus("live");
      this.play();
    }
    this.keepLive();
    if (!this.trim(false)) this.pump();
  }

  /** Keeps playback close to the live edge. */
  keepLive() {
    const sb = this.sourceBuffer;
    if (!sb) return;
    const buffered = sb.buffered;
    if (buffered.length === 0) return;
    const last = buffered.length - 1;
    const end = buffered.end(last);
    const now = this.video.currentTime;
    let inRange = false;
    for (let i = 0; i < buffered.length; i++) {
      if (now >= buffered.start(i) && now <= buffered.end(i)) inRange = true;
    }
    if (end - now > MAX_LAG || !inRange) {
      const target = Math.max(buffered.start(last), end - EDGE_OFFSET);
      if (Math.abs(target - now) > 0.05) this.video.currentTime = target;
    }
  }

  /** Removes old media; returns true if a removal was started. */
  trim(force) {
    const sb = this.sourceBuffer;
    if (!sb || sb.updating) return false;
    const buffered = sb.buffered;
    if (buffered.length === 0) return false;
    const start = buffered.start(0);
    const limit = this.video.currentTime - KEEP_BEHIND;
    if (limit - start > (force ? 0.5 : TRIM_EVERY)) {
      try {
        sb.remove(start, limit);
        return true;
      } catch (_) {
        return false;
      }
    }
    return false;
  }

  play() {
    const p = this.video.play();
    if (p && p.catch) p.catch(() => {});
  }

  onClose(ws) {
    if (ws !== this.ws || this.stopped) return;
    this.setStatus("reconnecting");
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, 15000);
    if (this.appendedMedia > 0) this.retryDelay = 1000;
    setTimeout(() => {
      if (!this.stopped) this.start();
    }, delay);
  }

  /** Stops the stream and releases the decoder (hidden tile or tab). */
  stop(state = "paused") {
    this.stopped = true;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
    this.video.removeAttribute("src");
    this.video.load();
    this.reset();
    this.setStatus(state);
  }

  get running() {
    return !this.stopped && this.ws != null;
  }
}

// ---- The grid ---------------------------------------------------------------

const grid = document.getElementById("camera-grid");
const tiles = grid ? [...grid.querySelectorAll("li.tile")] : [];
const players = new Map(
  tiles.map((tile) => [tile, new LivePlayer(tile.querySelector("video.live"))]),
);
const layoutButtons = [...document.querySelectorAll("button.layout[data-layout]")];
const groupFilter = document.getElementById("group-filter");
const prev = document.getElementById("page-prev");
const next = document.getElementById("page-next");
const pageLabel = document.getElementById("page-label");

const params = new URLSearchParams(window.location.search);
const view = {
  layout: clampInt(params.get("layout") ?? localStorage.getItem("veil_live_layout"), 1, 4, 2),
  group: params.get("group") ?? "",
  page: clampInt(params.get("page"), 1, 1000, 1),
};

function clampInt(v, min, max, fallback) {
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

/** The tiles of the chosen group, and those of the current page. */
function visibleTiles() {
  const inGroup = tiles.filter((tile) => !view.group || tile.dataset.group === view.group);
  const perPage = view.layout * view.layout;
  const pages = Math.max(1, Math.ceil(inGroup.length / perPage));
  view.page = Math.min(view.page, pages);
  const first = (view.page - 1) * perPage;
  return { shown: inGroup.slice(first, first + perPage), pages };
}

function render() {
  const { shown, pages } = visibleTiles();
  grid.dataset.layout = String(view.layout);
  for (const b of layoutButtons) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === view.layout));
  }
  if (groupFilter) groupFilter.value = view.group;
  const visible = new Set(shown);
  for (const tile of tiles) {
    tile.hidden = !visible.has(tile);
  }
  pageLabel.textContent = t("live.page_of", { page: view.page, pages });
  prev.disabled = view.page <= 1;
  next.disabled = view.page >= pages;
  prev.parentElement.hidden = pages <= 1;
  const q = new URLSearchParams();
  q.set("layout", String(view.layout));
  if (view.group) q.set("group", view.group);
  if (view.page > 1) q.set("page", String(view.page));
  window.history.replaceState(null, "", `${window.location.pathname}?${q}`);
  localStorage.setItem("veil_live_layout", String(view.layout));
  syncPlayers();
}

/** Runs a player for each shown tile while the tab is visible; stops the rest. */
function syncPlayers() {
  const active = document.visibilityState === "visible";
  for (const [tile, player] of players) {
    const want = active && !tile.hidden;
    if (want && !player.running) player.start();
    else if (!want && player.running) player.stop(tile.hidden ? "paused" : "hidden");
  }
}

for (const b of layoutButtons) {
  b.addEventListener("click", () => {
    view.layout = Number(b.dataset.layout);
    view.page = 1;
    render();
  });
}
groupFilter?.addEventListener("change", () => {
  view.group = groupFilter.value;
  view.page = 1;
  render();
});
prev?.addEventListener("click", () => {
  view.page -= 1;
  render();
});
next?.addEventListener("click", () => {
  view.page += 1;
  render();
});
document.addEventListener("visibilitychange", syncPlayers);
window.addEventListener("pagehide", () => players.forEach((p) => p.stop()));

// Full screen: a double click on a tile, or its button (for the keyboard).
function toggleFullscreen(tile) {
  if (document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  } else {
    tile.querySelector("figure").requestFullscreen().catch(() => {});
  }
}
for (const tile of tiles) {
  tile.querySelector("video").addEventListener("dblclick", () => toggleFullscreen(tile));
  tile.querySelector("button.fullscreen").addEventListener("click", () => toggleFullscreen(tile));
}

// "30 s ago": the playback link carries the time of the click.
for (const link of document.querySelectorAll("a.replay[data-camera-id]")) {
  const point = () => {
    const at = new Date(Date.now() - 30_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    link.href = `/playback?cameras=${encodeURIComponent(link.dataset.cameraId)}&t=${at}`;
  };
  link.addEventListener("pointerdown", point);
  link.addEventListener("focus", point);
  link.addEventListener("click", point);
}

// Recording state of each shown camera, every 5 s while the tab is visible.
async function refreshStates() {
  if (document.visibilityState !== "visible") return;
  await Promise.all(
    tiles
      .filter((tile) => !tile.hidden)
      .map(async (tile) => {
        const id = tile.dataset.cameraId;
        const el = tile.querySelector(`[data-recording-for="${CSS.escape(id)}"]`);
        try {
          const s = await api("GET", `/api/v1/cameras/${encodeURIComponent(id)}/status`);
          let text = t(`camera_state.${s.state}`);
          if (s.state === "standby" && s.standby_reason) text += ` (${standbyReason(s.standby_reason)})`;
          if (s.state === "error" && s.last_error) text += `: ${s.last_error}`;
          el.textContent = text;
          el.dataset.state = s.state;
        } catch (_) {
          el.textContent = "";
          delete el.dataset.state;
        }
      }),
  );
}

if (grid) {
  render();
  refreshStates();
  setInterval(refreshStates, 5000);
}
