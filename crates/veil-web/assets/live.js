// Cameras page: one low-latency live player per tile, fed by a WebSocket
// carrying an fMP4 init segment followed by one media fragment per message,
// appended to a Media Source Extensions SourceBuffer.
import "./common.js";

const MAX_LAG = 1.5; // seconds behind the live edge before jumping ahead
const EDGE_OFFSET = 0.3; // where to land behind the live edge
const KEEP_BEHIND = 6; // seconds of history kept in the SourceBuffer
const TRIM_EVERY = 10; // trim once this much history has accumulated
const MAX_QUEUE = 600; // fragments waiting to be appended before resync

class LivePlayer {
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

  setStatus(text) {
    if (this.status) this.status.textContent = text;
    this.video.dataset.state = text;
  }

  start() {
    this.reset();
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${window.location.host}/api/v1/cameras/${encodeURIComponent(this.id)}/live`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.setStatus("connecting…");
    ws.addEventListener("message", (ev) => this.onMessage(ev));
    ws.addEventListener("close", () => this.onClose(ws));
    ws.addEventListener("error", () => this.setStatus("connection error"));
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
        this.setStatus(info.error.message || "error");
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
      this.setStatus(`unsupported codec ${codec}`);
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
          sb.addEventListener("error", () => this.setStatus("decode error"));
          this.sourceBuffer = sb;
          this.pump();
        } catch (e) {
          this.setStatus(`player error: ${e.message}`);
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
        this.setStatus(`player error: ${e.message}`);
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
    this.setStatus("reconnecting…");
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, 15000);
    if (this.appendedMedia > 0) this.retryDelay = 1000;
    setTimeout(() => {
      if (!this.stopped) this.start();
    }, delay);
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }
}

const players = [];
for (const video of document.querySelectorAll("video.live[data-camera-id]")) {
  const player = new LivePlayer(video);
  players.push(player);
  player.start();
}
window.addEventListener("pagehide", () => players.forEach((p) => p.stop()));
