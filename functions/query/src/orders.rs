//! Orders as the API shows them: the unified model with its history and derived status,
//! with as much personal data as the caller's role may see (`access::privacy::view_for`).

use orderhub_core::access::privacy::{self, PersonalView};
use orderhub_core::order::{book, OrderId};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Request, Response};

pub fn one(id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("orders")?;
    let id = OrderId(id.to_string());
    let order = book::get_order(&store, &id)?
        .ok_or_else(|| ApiError::not_found("order_not_found", format!("no order `{id}`")))?;
    let status = order.status();
    let view = orderhub_shell::auth::caller()
        .map_or(PersonalView::None, |who| privacy::view_for(&who.role));
    let mut body = serde_json::to_value(privacy::present(&order, view))
        .map_err(|e| ApiError::new(500, "serialize_failed", e.to_string()))?;
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "status".into(),
            serde_json::to_value(status).unwrap_or_default(),
        );
    }
    Ok(json(200, &body))
}

pub fn history(id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("orders")?;
    let id = OrderId(id.to_string());
    let events = book::history(&store, &id)?;
    if events.is_empty() {
        return Err(ApiError::not_found(
            "order_not_found",
            format!("no events for `{id}`"),
        ));
    }
    Ok(json(
        200,
        &serde_json::json!({ "order_id": id, "events": events }),
    ))
}

/// `GET /orders?from=N&limit=M`: order ids in arrival order (for export and paging).
pub fn list(req: &Request) -> Result<Response, ApiError> {
    let param = |name: &str| -> Result<Option<usize>, ApiError> {
        req.query()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(
                        "bad_query",
                        format!("`{name}` must be a number, got `{v}`"),
                    )
                })
            })
            .transpose()
    };
    let from = param("from")?.unwrap_or(0);
    let limit = param("limit")?.unwrap_or(100).min(1000);
    let store = Bucket::open("orders")?;
    let ids = book::list_order_ids(&store, from, limit)?;
    Ok(json(
        200,
        &serde_json::json!({ "from": from, "orders": ids }),
    ))
}
