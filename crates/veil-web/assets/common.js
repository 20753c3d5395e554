// Shared helpers for the Veil web UI: cookies, CSRF, JSON API calls, logout.

/** Returns the value of cookie `name`, or "" if it is not set. */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return "";
}

/** The CSRF token to send with every state-changing request. */
export function csrfToken() {
  return cookie("veil_csrf") || sessionStorage.getItem("veil_csrf") || "";
}

/** Error carrying the server's `{"error":{"code","message"}}` details. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Calls the JSON API. `body`, if given, is sent as JSON. Non-GET requests
 * carry the CSRF header. Resolves to the parsed JSON (or null for 204).
 */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    headers["X-CSRF-Token"] = csrfToken();
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  if (resp.status === 401 && !path.endsWith("/session")) {
    window.location.assign("/login");
  }
  if (!resp.ok) {
    let code = "http_" + resp.status;
    let message = resp.statusText || "Request failed";
    try {
      const data = await resp.json();
      if (data && data.error) {
        code = data.error.code || code;
        message = data.error.message || message;
      }
    } catch (_) {
      // Not JSON; keep the status text.
    }
    throw new ApiError(resp.status, code, message);
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

/** Wires up the header's logout button, if the page has one. */
export function setupLogout() {
  const button = document.getElementById("logout-button");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("DELETE", "/api/v1/session");
    } catch (_) {
      // Even if the server refused, leave the page.
    }
    sessionStorage.removeItem("veil_csrf");
    window.location.assign("/login");
  });
}

/** Shows `message` in element `el` (or hides it when empty); with
 * `isError`, marks it as an error or not. */
export function showMessage(el, message, isError) {
  if (!el) return;
  el.textContent = message || "";
  el.hidden = !message;
  if (isError !== undefined) el.classList.toggle("error", Boolean(isError));
}

/** A `datetime-local` value (the user's zone) as RFC 3339 UTC, or "". */
export function toRfc3339(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** A table cell holding `content`: a node, or text (empty for null). */
export function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content == null ? "" : String(content);
  return td;
}

// ---- The message catalogue -------------------------------------------------

/** The page's language (`<html lang>`), chosen by the server. */
export const lang = document.documentElement.lang || "en";

const messages = await fetch(`/static/i18n-${lang}.json`, { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : {}))
  .catch(() => ({}));

/**
 * The message `key` of the catalogue, with `{name}` placeholders replaced by
 * `vars[name]`. A missing key shows itself (and is logged as a warning).
 */
export function t(key, vars) {
  let m = messages[key];
  if (m === undefined) {
    console.warn(`message ${key} is not in the catalogue`);
    m = key;
  }
  if (vars) {
    for (const [name, value] of Object.entries(vars)) {
      m = m.split(`{${name}}`).join(String(value));
    }
  }
  return m;
}

/** A date and time in the user's locale and time zone. */
export function formatTime(date) {
  return new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "medium" }).format(date);
}

/**
 * An element showing `date` in the user's locale and time zone, with the
 * UTC time on hover.
 */
export function timeElement(date) {
  const el = document.createElement("time");
  el.dateTime = date.toISOString();
  el.textContent = formatTime(date);
  el.title = date.toISOString().replace(".000Z", "Z") + " UTC";
  return el;
}

/** The standby reasons the server sends, in the user's language. */
export function standbyReason(reason) {
  if (reason === "outside the recording schedule") return t("camera_state.outside_schedule");
  if (reason === "waiting for motion") return t("camera_state.waiting_for_motion");
  if (reason === "live only: nothing is recorded") return t("camera_state.live_only");
  return reason;
}

// ---- The shell: theme, language, menus -------------------------------------

function setupTheme() {
  const select = document.getElementById("theme-select");
  if (!select) return;
  select.addEventListener("change", () => {
    const v = select.value;
    if (v === "light" || v === "dark") {
      document.cookie = `veil_theme=${v}; Path=/; Max-Age=31536000; SameSite=Strict; Secure`;
      document.documentElement.dataset.theme = v;
    } else {
      document.cookie = "veil_theme=; Path=/; Max-Age=0; SameSite=Strict; Secure";
      delete document.documentElement.dataset.theme;
    }
  });
}

function setupLanguage() {
  const select = document.getElementById("language-select");
  if (!select) return;
  select.addEventListener("change", async () => {
    select.disabled = true;
    try {
      await api("PUT", "/api/v1/session/language", { language: select.value });
      window.location.reload();
    } catch (e) {
      select.disabled = false;
      console.warn(e.message);
    }
  });
}

/** Menus (`<details class="menu">`) close on Escape and on a click elsewhere. */
function setupMenus() {
  const menus = [...document.querySelectorAll("details.menu")];
  document.addEventListener("click", (ev) => {
    for (const m of menus) {
      if (m.open && !m.contains(ev.target)) m.open = false;
    }
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape") return;
    for (const m of menus) {
      if (m.open) {
        m.open = false;
        m.querySelector("summary").focus();
      }
    }
  });
  // Opening one closes the others.
  for (const m of menus) {
    m.addEventListener("toggle", () => {
      if (m.open) for (const o of menus) if (o !== m) o.open = false;
    });
  }
}

/** Wires up the shell of a signed-in page: menus, theme, language, logout.
 * Runs once, when the first page module imports this one. */
function setupShell() {
  setupMenus();
  setupTheme();
  setupLanguage();
  setupLogout();
}

setupShell();
