// The retention page: every personal data set with its rule, how many items
// it holds, the oldest and when the next one is destroyed, from
// GET /api/v1/retention.
import { api, cell, showMessage, t, timeElement } from "./common.js";

const rows = document.getElementById("retention-rows");
const message = document.getElementById("retention-message");

// Literal keys, so the catalogue check sees every one.
const NAMES = {
  recordings: () => t("retention.set.recordings"),
  motion_events: () => t("retention.set.motion_events"),
  bookmarks: () => t("retention.set.bookmarks"),
  sessions: () => t("retention.set.sessions"),
  login_attempts: () => t("retention.set.login_attempts"),
  approvals: () => t("retention.set.approvals"),
  api_tokens: () => t("retention.set.api_tokens"),
  disabled_accounts: () => t("retention.set.disabled_accounts"),
  requests: () => t("retention.set.requests"),
  request_descriptions: () => t("retention.set.request_descriptions"),
  access_record: () => t("retention.set.access_record"),
};

const SOURCES = {
  camera: () => t("retention.source.camera"),
  area: () => t("retention.source.area"),
  installation: () => t("retention.source.installation"),
  masks: () => t("retention.source.masks"),
};

function nameOf(d) {
  const name = (NAMES[d.data_set] || (() => d.data_set))();
  if (d.data_set !== "recordings") return name;
  const camera = d.camera_name || t("retention.deleted_camera", { id: d.camera });
  return t("retention.recordings_of", { name, camera, rendition: d.rendition });
}

function ruleOf(r) {
  switch (r.kind) {
    case "after_recording": {
      const text = t("retention.rule.after_recording", { hours: r.hours });
      const source = SOURCES[r.source];
      return source ? `${text} (${source()})` : text;
    }
    case "with_recordings":
      return t("retention.rule.with_recordings");
    case "after_creation":
      return t("retention.rule.after_creation", { days: r.days });
    case "after_end":
      return t("retention.rule.after_end", { days: r.days });
    case "anonymised_after_disabling":
      return t("retention.rule.anonymised_after_disabling", { days: r.days });
    case "after_closing":
      return t("retention.rule.after_closing", { days: r.days });
    case "in_memory":
      return t("retention.rule.in_memory", { minutes: r.minutes });
    default:
      return r.kind;
  }
}

function time(s, none) {
  return s ? timeElement(new Date(s)) : none;
}

async function refresh() {
  const list = await api("GET", "/api/v1/retention");
  rows.replaceChildren();
  for (const d of list.data_sets) {
    const tr = document.createElement("tr");
    tr.id = d.data_set === "recordings" ? `retention-recordings-${d.camera}-${d.rendition}` : `retention-${d.data_set}`;
    tr.dataset.dataSet = d.data_set;
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = nameOf(d);
    tr.append(name);
    const rule = cell(ruleOf(d.rule));
    rule.title = d.description;
    tr.append(rule);
    tr.append(cell(String(d.items)));
    const notKept = d.rule.kind === "in_memory" ? t("retention.not_kept") : "—";
    tr.append(cell(time(d.oldest, notKept)));
    tr.append(cell(time(d.next_destruction, "—")));
    rows.append(tr);
  }
}

refresh().catch((e) => showMessage(message, e.message, true));
