// The login page: exchanges a pasted bearer token for the session cookie
// (POST /dashboard/session), then opens the dashboard. The token is sent once and
// never stored by the page.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login");
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const field = document.getElementById("token");
    const token = field.value.trim();
    field.value = "";
    const r = await fetch("/dashboard/session", {
      method: "POST",
      credentials: "same-origin",
      headers: { "authorization": "Bearer " + token },
    });
    if (r.ok) { location.assign("/dashboard/"); return; }
    let message = "login refused (" + r.status + ")";
    try { const e = await r.json(); message = e.error.code + ": " + e.error.message; } catch (_) {}
    document.getElementById("error").textContent = message;
  });
});
