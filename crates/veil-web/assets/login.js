// Login page: posts the credentials as JSON and goes to /cameras on success.
// Asks for the second factor when the account has one, and for a new password
// when an administrator set the current one.
import { api, showMessage, t } from "./common.js";

const form = document.getElementById("login-form");
const username = document.getElementById("username");
const password = document.getElementById("password");
const code = document.getElementById("code");
const codeStep = document.getElementById("code-step");
const newPassword = document.getElementById("new-password");
const newPasswordStep = document.getElementById("new-password-step");
const button = document.getElementById("login-button");
const error = document.getElementById("login-error");

/** A recovery code has letters and dashes; an authenticator code is 6 digits. */
function secondFactor() {
  const v = code.value.trim();
  if (!v) return {};
  return /^[0-9]{6}$/.test(v) ? { code: v } : { recovery_code: v };
}

async function changePassword() {
  await api("POST", "/api/v1/session/password", {
    current: password.value,
    new: newPassword.value,
  });
  window.location.assign("/cameras");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showMessage(error, "");
  if (!username.value || !password.value) {
    showMessage(error, t("login.missing"));
    return;
  }
  button.disabled = true;
  try {
    if (!newPasswordStep.hidden) {
      await changePassword();
      return;
    }
    const data = await api("POST", "/api/v1/session", {
      username: username.value,
      password: password.value,
      ...secondFactor(),
    });
    if (data && data.csrf) sessionStorage.setItem("veil_csrf", data.csrf);
    if (data && data.must_change_password) {
      newPasswordStep.hidden = false;
      newPassword.focus();
      button.disabled = false;
      button.textContent = t("login.change_password");
      return;
    }
    window.location.assign("/cameras");
  } catch (e) {
    if (e && e.code === "second_factor_required") {
      codeStep.hidden = false;
      code.focus();
      showMessage(error, e.message);
      button.disabled = false;
      return;
    }
    const message =
      e && e.status === 401
        ? e.message || t("login.wrong")
        : (e && e.message) || t("login.failed");
    showMessage(error, message);
    if (newPasswordStep.hidden) {
      password.value = "";
      code.value = "";
      password.focus();
    }
    button.disabled = false;
  }
});
