// Camera settings page: lists cameras with their area, recording mode,
// retention and ingest status (refreshed every few seconds), adds, changes
// and deletes RTSP cameras through the JSON API, and changes a camera's
// retention (for those holding retention.admin: others see no retention).
// Passwords are only ever sent, never shown: the API does not return them; a
// change that leaves the user name and password empty keeps them.
import { api, cell, formatTime, showMessage, standbyReason, t } from "./common.js";

const rows = document.getElementById("camera-rows");
const form = document.getElementById("camera-form");
const formError = document.getElementById("camera-form-error");
const formTitle = document.getElementById("camera-form-title");
const submitButton = document.getElementById("camera-add-button");
const cancelButton = document.getElementById("camera-cancel-edit");
const retentionForm = document.getElementById("retention-form");
const retentionTitle = document.getElementById("retention-form-title");
const retentionInForce = document.getElementById("retention-in-force");
const retentionError = document.getElementById("retention-form-error");

// The camera whose retention is being changed ({id, name, retention}).
let retentionOf = null;

// "72 h (this camera's rule)" for a rendition's retention.
function describeRetention(r) {
  return t("cameras_admin.retention_value", {
    hours: r.hours,
    source: t(`cameras_admin.retention_source_${r.source}`),
  });
}

function showRetention(id, name, retention) {
  retentionOf = { id, name, retention };
  const main = retention.renditions.main;
  retentionTitle.textContent = t("cameras_admin.retention_title", { name });
  retentionInForce.textContent = t("cameras_admin.retention_in_force", {
    value: describeRetention(main),
    max: retention.max_hours,
    unjustified: retention.max_unjustified_hours,
  });
  retentionForm.elements.namedItem("hours").value = main.hours;
  retentionForm.elements.namedItem("justification").value = main.justification || "";
  retentionForm.elements.namedItem("hours").max = retention.max_hours;
  retentionForm.hidden = false;
  retentionForm.scrollIntoView();
  retentionForm.elements.namedItem("hours").focus();
}

async function saveRetention(rule) {
  showMessage(retentionError, "");
  try {
    const r = await api("PUT", `/api/v1/cameras/${retentionOf.id}/retention`, {
      renditions: { main: rule },
    });
    showRetention(retentionOf.id, retentionOf.name, r);
    showMessage(retentionError, t("cameras_admin.retention_saved", { value: describeRetention(r.renditions.main) }), false);
    refresh();
  } catch (e) {
    showMessage(retentionError, e.message, true);
  }
}

retentionForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const data = new FormData(retentionForm);
  const justification = (data.get("justification") || "").trim();
  saveRetention({
    hours: Number(data.get("hours")),
    justification: justification === "" ? null : justification,
  });
});
document.getElementById("retention-default").addEventListener("click", () => saveRetention(null));
document.getElementById("retention-cancel").addEventListener("click", () => {
  retentionOf = null;
  showMessage(retentionError, "");
  retentionForm.hidden = true;
});

// The camera being changed ({id, detail}), or null while adding.
let editing = null;

function field(name) {
  return form.elements.namedItem(name);
}

// Fills the form with a camera's settings; the next submit changes it.
function startEdit(id, detail) {
  editing = { id, detail };
  form.reset();
  formError.hidden = true;
  formTitle.textContent = t("cameras_admin.change_title", { name: detail.name });
  submitButton.textContent = t("cameras_admin.save_changes");
  cancelButton.hidden = false;
  field("name").value = detail.name;
  field("url").value = detail.url || "";
  field("transport").value = detail.transport || "tcp";
  field("recording_mode").value = detail.recording_mode;
  field("area").value = detail.area || "private";
  field("group").value = detail.group || "";
  field("schedule").value = detail.schedule ? JSON.stringify(detail.schedule) : "";
  field("pre_seconds").value = detail.motion ? detail.motion.pre_seconds : "";
  field("post_seconds").value = detail.motion ? detail.motion.post_seconds : "";
  field("audio_enabled").checked = detail.audio.enabled;
  field("audio_purpose").value = detail.audio.purpose;
  field("metadata_enabled").checked = detail.metadata.enabled;
  field("metadata_purpose").value = detail.metadata.purpose;
  field("ptz_capable").checked = Boolean(detail.ptz_capable);
  field("ptz_control").checked = Boolean(detail.ptz_control);
  form.scrollIntoView();
  field("name").focus();
}

function stopEdit() {
  editing = null;
  form.reset();
  formTitle.textContent = t("cameras_admin.add_title");
  submitButton.textContent = t("cameras_admin.add");
  cancelButton.hidden = true;
}

cancelButton.addEventListener("click", () => {
  formError.hidden = true;
  stopEdit();
});

function describeStatus(s) {
  if (!s) return "";
  let text = t(`camera_state.${s.state}`);
  if (s.state === "standby" && s.standby_reason) text += ` (${standbyReason(s.standby_reason)})`;
  if ((s.state === "recording" || s.state === "standby") && s.width) {
    text += ` · ${s.width}×${s.height} · ${s.fps} fps · ${Math.round(s.bitrate_bps / 1000)} kbit/s`;
  }
  if (s.last_motion_at) text += ` · ${t("cameras_admin.last_motion", { time: formatTime(new Date(s.last_motion_at)) })}`;
  if (s.last_error) text += ` · ${t("cameras_admin.last_error", { error: s.last_error })}`;
  for (const note of s.tracks || []) text += ` · ${note}`;
  return text;
}

// "audio: purpose" lines for the enabled tracks, "off" when none is.
function describeTracks(detail) {
  if (!detail) return "";
  const lines = [];
  for (const [key, track] of [["cameras_admin.audio_track", detail.audio], ["cameras_admin.metadata_track", detail.metadata]]) {
    if (track && track.enabled) lines.push(`${t(key)}: ${track.purpose}`);
  }
  return lines.length ? lines.join(" · ") : t("cameras_admin.tracks_off");
}

async function refresh() {
  let cameras;
  try {
    cameras = await api("GET", "/api/v1/cameras");
  } catch (e) {
    formError.textContent = e.message;
    formError.hidden = false;
    return;
  }
  const fresh = [];
  for (const c of cameras) {
    const [detail, status, retention, masks] = await Promise.all([
      api("GET", `/api/v1/cameras/${c.id}`).catch(() => null),
      api("GET", `/api/v1/cameras/${c.id}/status`).catch(() => null),
      // Only for those holding retention.admin (else 403: nothing shown).
      api("GET", `/api/v1/cameras/${c.id}/retention`).catch(() => null),
      // Only for those holding masks.admin on the camera.
      api("GET", `/api/v1/cameras/${c.id}/masks`).catch(() => null),
    ]);
    const tr = document.createElement("tr");
    tr.id = `camera-row-${c.id}`;
    tr.append(
      cell(c.name),
      cell(detail ? detail.url || detail.kind : ""),
      cell(detail ? detail.group : ""),
      cell(detail ? t(`cameras_admin.area_${detail.area}`) : ""),
      cell(detail ? (detail.enabled ? t(`cameras_admin.mode_${detail.recording_mode}`) : t("cameras_admin.disabled")) : ""),
      cell(retention ? describeRetention(retention.renditions.main) : ""),
      cell(describeTracks(detail) + (detail && detail.ptz_control ? ` · ${t("cameras_admin.ptz_on")}` : "")),
      cell(describeStatus(status)),
    );
    const actions = document.createElement("td");
    if (masks) {
      const link = document.createElement("a");
      link.id = `camera-masks-${c.id}`;
      link.href = `/cameras/${c.id}/masks`;
      link.textContent = `${t("cameras_admin.masks")} (${masks.masks.length})`;
      link.setAttribute("aria-label", t("cameras_admin.masks_named", { name: c.name }));
      actions.append(link, " ");
    }
    if (retention) {
      const change = document.createElement("button");
      change.type = "button";
      change.className = "secondary";
      change.id = `camera-retention-${c.id}`;
      change.textContent = t("cameras_admin.retention_edit");
      change.setAttribute("aria-label", t("cameras_admin.retention_edit_named", { name: c.name }));
      change.addEventListener("click", () => showRetention(c.id, c.name, retention));
      actions.append(change, " ");
    }
    if (detail && detail.managed) {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.className = "secondary";
      edit.id = `camera-edit-${c.id}`;
      edit.textContent = t("common.edit");
      edit.addEventListener("click", () => startEdit(c.id, detail));
      actions.append(edit, " ");
      const del = document.createElement("button");
      del.id = `camera-delete-${c.id}`;
      del.type = "button";
      del.className = "secondary";
      del.textContent = t("common.delete");
      del.addEventListener("click", async () => {
        if (!window.confirm(t("cameras_admin.confirm_delete", { name: c.name }))) return;
        try {
          await api("DELETE", `/api/v1/cameras/${c.id}`);
        } catch (e) {
          window.alert(e.message);
        }
        refresh();
      });
      actions.append(del);
    } else {
      actions.append(t("cameras_admin.configuration_file"));
    }
    tr.append(actions);
    fresh.push(tr);
  }
  rows.replaceChildren(...fresh);
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  formError.hidden = true;
  const data = new FormData(form);
  const body = {
    name: data.get("name"),
    url: data.get("url"),
    transport: data.get("transport"),
    recording_mode: data.get("recording_mode"),
    area: data.get("area"),
    group: data.get("group"),
    audio: { enabled: data.get("audio_enabled") === "on", purpose: data.get("audio_purpose") || "" },
    metadata: {
      enabled: data.get("metadata_enabled") === "on",
      purpose: data.get("metadata_purpose") || "",
    },
    ptz_capable: data.get("ptz_capable") === "on",
    ptz_control: data.get("ptz_control") === "on",
  };
  if (data.get("username")) {
    body.username = data.get("username");
    body.password = data.get("password");
  }
  if (editing) {
    // What the form does not show is kept as it is.
    body.enabled = editing.detail.enabled;
    if (editing.detail.segment_seconds != null) body.segment_seconds = editing.detail.segment_seconds;
  }
  try {
    if (body.recording_mode === "scheduled" && data.get("schedule")) {
      body.schedule = JSON.parse(data.get("schedule"));
    }
    if (body.recording_mode === "motion") {
      body.motion = {};
      if (editing && editing.detail.motion) {
        body.motion.threshold = editing.detail.motion.threshold;
        body.motion.min_area_percent = editing.detail.motion.min_area_percent;
      }
      if (data.get("pre_seconds")) body.motion.pre_seconds = Number(data.get("pre_seconds"));
      if (data.get("post_seconds")) body.motion.post_seconds = Number(data.get("post_seconds"));
    }
    if (editing) {
      await api("PUT", `/api/v1/cameras/${editing.id}`, body);
      stopEdit();
    } else {
      await api("POST", "/api/v1/cameras", body);
      form.reset();
    }
    refresh();
  } catch (e) {
    formError.textContent = e.message;
    formError.hidden = false;
  }
});

refresh();
setInterval(refresh, 5000);
