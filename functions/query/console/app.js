// The dashboard: polls /dashboard/api/stats with the session cookie (same origin).
// No inline script: the page's Content-Security-Policy allows scripts from the app only.
"use strict";
const pct = p => p === null ? "–" : (p / 10).toFixed(1) + "%";

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  return td;
}

async function refresh() {
  const r = await fetch("/dashboard/api/stats", { credentials: "same-origin" });
  if (r.status === 401) { location.assign("/dashboard/login"); return; }
  if (!r.ok) { document.getElementById("day").textContent = "stats unavailable (" + r.status + ")"; return; }
  const d = await r.json();
  document.getElementById("day").textContent = "business day " + d.day + " (Asia/Shanghai)";
  const rows = d.channels.map(c => {
    const tr = document.createElement("tr");
    tr.dataset.channel = c.channel;
    tr.append(
      cell(c.channel), cell(c.ordered), cell(c.delivered), cell(c.cancelled),
      cell(pct(c.fulfilment_permille),
        c.fulfilment_permille !== null && c.fulfilment_permille < 950 ? "bad" : "good"),
      cell(c.exceptions), cell(pct(c.exception_permille), c.exception_permille > 20 ? "bad" : ""));
    return tr;
  });
  document.getElementById("rows").replaceChildren(...rows);
}

async function logout() {
  await fetch("/dashboard/session", { method: "DELETE", credentials: "same-origin" });
  location.assign("/dashboard/login");
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", logout);
  refresh();
  setInterval(refresh, 5000);
});
