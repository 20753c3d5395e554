// Usage policy administration: the current text and version, the enabled
// accounts that have not acknowledged it yet (they can use no video until
// they do), and publishing a new version, which everyone must acknowledge
// again.
import { api, showMessage, t, timeElement } from "./common.js";

const version = document.getElementById("policy-version");
const text = document.getElementById("policy-text");
const pending = document.getElementById("policy-pending");
const summary = document.getElementById("policy-pending-summary");
const form = document.getElementById("policy-form");
const newText = document.getElementById("policy-new-text");
const message = document.getElementById("policy-message");

async function refresh() {
  const [policy, list] = await Promise.all([api("GET", "/api/v1/policy"), api("GET", "/api/v1/users")]);
  version.replaceChildren();
  pending.replaceChildren();
  if (policy.version === 0) {
    version.textContent = t("policy.none");
    text.textContent = "";
    summary.textContent = t("policy.nobody_pending_none");
    return;
  }
  version.append(t("policy.version_published", { version: policy.version }), " ");
  if (policy.published) version.append(timeElement(new Date(policy.published)));
  text.textContent = policy.text;
  const waiting = list.users.filter(
    (u) => u.name !== null && !u.disabled && u.policy_acknowledged_version < policy.version,
  );
  summary.textContent =
    waiting.length === 0
      ? t("policy.nobody_pending", { version: policy.version })
      : t("policy.pending_count", { count: waiting.length, version: policy.version });
  for (const u of waiting) {
    const li = document.createElement("li");
    li.textContent = u.name;
    if (u.policy_acknowledged_version > 0) {
      li.append(" ", t("policy.acknowledged_older", { version: u.policy_acknowledged_version }));
    }
    pending.append(li);
  }
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = newText.value;
  if (body.trim().length < 20) {
    showMessage(message, t("policy.too_short"), true);
    newText.focus();
    return;
  }
  const button = document.getElementById("policy-publish");
  button.disabled = true;
  try {
    const r = await api("POST", "/api/v1/policy", { text: body });
    newText.value = "";
    showMessage(message, t("policy.published", { version: r.version }), false);
    await refresh();
  } catch (e) {
    showMessage(message, e.message, true);
  } finally {
    button.disabled = false;
  }
});

refresh().catch((e) => showMessage(message, e.message, true));
