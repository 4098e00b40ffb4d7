//! Whole-app health: every component answers `GET /health` on its own, and this asks each
//! of them over local service chaining, so one request proves every component loads and
//! answers. The component list is the `components` variable (spin.toml keeps it beside
//! the components it names).

use orderhub_shell::json;
use serde::Serialize;
use spin_sdk::http::{Method, Request, Response};

#[derive(Serialize)]
struct ComponentHealth {
    component: String,
    status: u16,
    ok: bool,
}

/// `GET /health`. Only the `health` instance has the `components` variable; the `query`
/// and `dashboard` instances, asked `/health` by it over chaining, answer for themselves.
pub async fn whole_app() -> Response {
    let Ok(list) = spin_sdk::variables::get("components") else {
        return orderhub_shell::health("query");
    };
    let ids: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let req = Request::builder()
            .method(Method::Get)
            .uri(format!("http://{id}.spin.internal/health"))
            .build();
        let status = match spin_sdk::http::send::<_, Response>(req).await {
            Ok(resp) => *resp.status(),
            Err(_) => 0,
        };
        results.push(ComponentHealth {
            component: id.to_string(),
            status,
            ok: status == 200,
        });
    }
    let all_ok = !results.is_empty() && results.iter().all(|r| r.ok);
    json(
        if all_ok { 200 } else { 503 },
        &serde_json::json!({ "status": if all_ok { "ok" } else { "degraded" }, "components": results }),
    )
}
