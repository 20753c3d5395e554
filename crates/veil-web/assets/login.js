// Login page: posts the credentials as JSON and goes to /cameras on success.
import { api, showMessage } from "./common.js";

const form = document.getElementById("login-form");
const username = document.getElementById("username");
const password = document.getElementById("password");
const button = document.getElementById("login-button");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showMessage(error, "");
  if (!username.value || !password.value) {
    showMessage(error, "Enter your username and password.");
    return;
  }
  button.disabled = true;
  try {
    const data = await api("POST", "/api/v1/session", {
      username: username.value,
      password: password.value,
    });
    if (data && data.csrf) sessionStorage.setItem("veil_csrf", data.csrf);
    window.location.assign("/cameras");
  } catch (e) {
    const message =
      e && e.status === 401
        ? e.message || "Wrong username or password."
        : (e && e.message) || "Sign-in failed.";
    showMessage(error, message);
    password.value = "";
    password.focus();
    button.disabled = false;
  }
});
