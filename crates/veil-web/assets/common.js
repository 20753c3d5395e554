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

/** Shows `message` in element `el` (or hides it when empty). */
export function showMessage(el, message) {
  if (!el) return;
  el.textContent = message || "";
  el.hidden = !message;
}
