// Account page: acknowledge the usage policy, change the password, enrol a
// TOTP second factor (QR code drawn by the server), see and end sessions.
import { api, t, timeElement } from "./common.js";

const message = document.getElementById("account-message");

function show(text, isError = true) {
  message.textContent = text;
  message.className = isError ? "error" : "notice";
  message.hidden = !text;
}

async function loadPolicy() {
  const p = await api("GET", "/api/v1/policy");
  const text = document.getElementById("policy-text");
  const state = document.getElementById("policy-state");
  const ack = document.getElementById("policy-ack");
  if (!p.text) {
    text.textContent = "";
    state.textContent = t("account.no_policy");
    ack.hidden = true;
    return;
  }
  text.textContent = p.text;
  state.textContent = p.acknowledged
    ? t("account.policy_acknowledged", { version: p.version })
    : t("account.policy_pending", { version: p.version });
  ack.hidden = p.acknowledged;
  ack.onclick = async () => {
    try {
      await api("POST", "/api/v1/policy/ack", { version: p.version });
      show(t("account.policy_ack_done"), false);
      await loadPolicy();
    } catch (e) {
      show(e.message);
    }
  };
}

document.getElementById("password-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const revokeTokens = document.getElementById("revoke-tokens").checked;
    await api("POST", "/api/v1/session/password", {
      current: document.getElementById("current-password").value,
      new: document.getElementById("new-password").value,
      revoke_tokens: revokeTokens,
    });
    event.target.reset();
    show(
      revokeTokens
        ? t("account.password_changed_tokens")
        : t("account.password_changed"),
      false,
    );
  } catch (e) {
    show(e.message);
  }
});

document.getElementById("totp-start").addEventListener("click", async () => {
  try {
    const enrolment = await api("POST", "/api/v1/session/totp");
    // The SVG comes from our own server and contains no script.
    document.getElementById("totp-qr").innerHTML = enrolment.qr_svg;
    document.getElementById("totp-secret").textContent = enrolment.secret;
    document.getElementById("totp-enrol").hidden = false;
  } catch (e) {
    show(e.message);
  }
});

document.getElementById("totp-confirm").addEventListener("click", async () => {
  try {
    const r = await api("POST", "/api/v1/session/totp/confirm", {
      code: document.getElementById("totp-code").value.trim(),
    });
    document.getElementById("totp-enrol").hidden = true;
    const list = document.getElementById("totp-codes");
    list.replaceChildren(
      ...r.recovery_codes.map((c) => {
        const li = document.createElement("li");
        li.textContent = c;
        return li;
      }),
    );
    document.getElementById("totp-recovery").hidden = false;
    show(t("account.totp_enrolled"), false);
  } catch (e) {
    show(e.message);
  }
});

async function loadSessions() {
  const r = await api("GET", "/api/v1/sessions");
  const rows = r.sessions.map((s) => {
    const tr = document.createElement("tr");
    for (const v of [s.created, s.last_seen]) {
      const td = document.createElement("td");
      td.append(timeElement(new Date(v)));
      tr.append(td);
    }
    const td = document.createElement("td");
    if (s.current) {
      td.textContent = t("account.this_session");
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = t("account.end_session");
      b.onclick = async () => {
        await api("DELETE", `/api/v1/sessions/${s.id}`);
        await loadSessions();
      };
      td.append(b);
    }
    tr.append(td);
    return tr;
  });
  document.getElementById("session-rows").replaceChildren(...rows);
}

loadPolicy().catch((e) => show(e.message));
loadSessions().catch((e) => show(e.message));

// "My sessions" in the user menu links here: bring the section into view.
if (window.location.hash === "#sessions") {
  document.getElementById("sessions").focus();
}

// ---- My API tokens --------------------------------------------------------

async function loadTokens() {
  const r = await api("GET", "/api/v1/tokens");
  const rows = r.tokens.map((tok) => {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = tok.name;
    const roles = document.createElement("td");
    roles.textContent = tok.roles.join(", ");
    const created = document.createElement("td");
    created.append(timeElement(new Date(tok.created)));
    const expires = document.createElement("td");
    expires.append(timeElement(new Date(tok.expires)));
    const action = document.createElement("td");
    if (tok.revoked) {
      action.textContent = t("account.token_revoked");
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = t("account.token_revoke");
      b.setAttribute("aria-label", t("account.token_revoke_named", { name: tok.name }));
      b.addEventListener("click", async () => {
        if (!window.confirm(t("account.token_confirm_revoke", { name: tok.name }))) return;
        try {
          await api("DELETE", `/api/v1/tokens/${tok.id}`);
        } catch (e) {
          show(e.message);
        }
        await loadTokens();
      });
      action.append(b);
    }
    tr.append(name, roles, created, expires, action);
    return tr;
  });
  document.getElementById("token-rows").replaceChildren(...rows);
}

document.getElementById("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const roles = Array.from(document.querySelectorAll("input[name=token-role]:checked")).map((b) => b.value);
  try {
    const created = await api("POST", "/api/v1/tokens", {
      name: document.getElementById("token-name").value,
      roles,
      expires_in_days: Number(document.getElementById("token-days").value),
    });
    event.target.reset();
    document.getElementById("token-value").textContent = created.token;
    document.getElementById("token-created").hidden = false;
    show("");
    await loadTokens();
  } catch (e) {
    show(e.message);
  }
});

loadTokens().catch((e) => show(e.message));
if (window.location.hash === "#tokens") {
  document.getElementById("tokens").focus();
}
