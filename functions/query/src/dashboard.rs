//! The live dashboard: per-channel volume, fulfilment rate and exception rate for a
//! business day. `GET /dashboard/` is a page that polls `GET /dashboard/api/stats`.

use orderhub_core::order::ChannelId;
use orderhub_core::stats;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Request, Response};

/// Business days are Shanghai dates unless a channel says otherwise.
const DEFAULT_OFFSET_MINUTES: i32 = 480;

pub fn stats_json(req: &Request) -> Result<Response, ApiError> {
    let day = match query_param(req.query(), "day") {
        Some(text) => chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
            ApiError::bad_request("bad_day", format!("`day` must be YYYY-MM-DD, got `{text}`"))
        })?,
        None => stats::business_day(chrono::Utc::now(), DEFAULT_OFFSET_MINUTES),
    };
    let channels = spin_sdk::variables::get("channels").unwrap_or_default();
    let store = Bucket::open("orders")?;
    let mut rows = Vec::new();
    for ch in channels.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        rows.push(stats::read(&store, day, &ChannelId::new(ch))?);
    }
    Ok(json(
        200,
        &serde_json::json!({ "day": day, "channels": rows }),
    ))
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn page() -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .body(PAGE)
        .build()
}

const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>orderhub · 实时大屏</title>
<style>
 body{font-family:system-ui,sans-serif;margin:2rem;background:#0f172a;color:#e2e8f0}
 table{border-collapse:collapse;min-width:40rem} th,td{padding:.5rem 1rem;border-bottom:1px solid #334155;text-align:right}
 th:first-child,td:first-child{text-align:left} .bad{color:#f87171} .good{color:#4ade80}
</style></head>
<body><h1>orderhub · per-channel today</h1><p id="day"></p>
<table><thead><tr><th>channel</th><th>orders</th><th>delivered</th><th>cancelled</th>
<th>fulfilment</th><th>exceptions</th><th>exception rate</th></tr></thead><tbody id="rows"></tbody></table>
<script>
const pct = p => p === null ? "–" : (p / 10).toFixed(1) + "%";
async function refresh() {
  const r = await fetch("/dashboard/api/stats"); const d = await r.json();
  document.getElementById("day").textContent = "business day " + d.day + " (Asia/Shanghai)";
  document.getElementById("rows").innerHTML = d.channels.map(c => `<tr><td>${c.channel}</td>
   <td>${c.ordered}</td><td>${c.delivered}</td><td>${c.cancelled}</td>
   <td class="${c.fulfilment_permille !== null && c.fulfilment_permille < 950 ? 'bad' : 'good'}">${pct(c.fulfilment_permille)}</td>
   <td>${c.exceptions}</td><td class="${c.exception_permille > 20 ? 'bad' : ''}">${pct(c.exception_permille)}</td></tr>`).join("");
}
refresh(); setInterval(refresh, 5000);
</script></body></html>"#;
