// Four-eyes settings page: which approvable permissions need a second
// person's approval, and whether a route enforces each today (the server
// says so in GET /api/v1/settings/four-eyes).
import { api, t } from "./common.js";

const form = document.getElementById("four-eyes-form");
const message = document.getElementById("four-eyes-message");

function show(text, isError) {
  message.textContent = text;
  message.className = isError ? "error" : "";
  message.hidden = false;
}

async function refresh() {
  const settings = await api("GET", "/api/v1/settings/four-eyes");
  const status = new Map(settings.status.map((s) => [s.permission, s]));
  for (const box of form.querySelectorAll("input[type=checkbox]")) {
    box.checked = settings.permissions.includes(box.value);
    const cell = document.getElementById(`four-eyes-enforced-${box.value}`);
    const s = status.get(box.value);
    cell.textContent = !s
      ? t("four_eyes.not_required")
      : s.enforced
        ? t("four_eyes.enforced")
        : t("four_eyes.not_enforced", { note: s.note });
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const permissions = Array.from(form.querySelectorAll("input[type=checkbox]:checked")).map((b) => b.value);
  try {
    await api("PUT", "/api/v1/settings/four-eyes", { permissions });
    await refresh();
    show(t("common.saved"), false);
  } catch (e) {
    show(e.message, true);
  }
});

refresh().catch((e) => show(e.message, true));
