//! The `merge-admin` instance: the rule set, parcel limits and stores' pickup points
//! (validated before they are stored), and the delivered groups with their decisions and parcels.

use orderhub_core::merge::{self, handoff};
use orderhub_core::order::OrderId;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{finish, health, invalid, json, ApiError};
use spin_sdk::http::{Params, Request, Response, Router};

use crate::merge_error;

pub fn routes(router: &mut Router) {
    router.get("/admin/merge/health", |_: Request, _: Params| {
        health("merge")
    });
    router.get("/admin/merge/rules", |_: Request, _: Params| {
        finish(get_rules())
    });
    router.put("/admin/merge/rules", |req: Request, _: Params| {
        finish(put_rules(req.body()))
    });
    router.post("/admin/merge/rules/validate", |req: Request, _: Params| {
        finish(validate_rules(req.body()))
    });
    router.get("/admin/merge/parcel-limits", |_: Request, _: Params| {
        finish(get_limits())
    });
    router.put("/admin/merge/parcel-limits", |req: Request, _: Params| {
        finish(put_limits(req.body()))
    });
    router.get("/admin/merge/pickups", |_: Request, _: Params| {
        finish(get_pickups())
    });
    router.put("/admin/merge/pickups", |req: Request, _: Params| {
        finish(put_pickups(req.body()))
    });
    router.get("/admin/merge/pickups/:store", |_: Request, p: Params| {
        finish(get_pickup(p.get("store").unwrap_or_default()))
    });
    router.put("/admin/merge/pickups/:store", |req: Request, p: Params| {
        let store = p.get("store").unwrap_or_default();
        finish(put_pickup(store, req.body()))
    });
    router.delete("/admin/merge/pickups/:store", |_: Request, p: Params| {
        finish(delete_pickup(p.get("store").unwrap_or_default()))
    });
    router.get("/admin/merge/groups/:id", |_: Request, p: Params| {
        finish(get_group(p.get("id").unwrap_or_default()))
    });
    router.get("/admin/merge/orders/:id", |_: Request, p: Params| {
        finish(get_order_group(p.get("id").unwrap_or_default()))
    });
}

fn body_text(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| ApiError::bad_request("not_utf8", e.to_string()))
}

fn get_rules() -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    Ok(json(200, &merge::load_rules(&store).map_err(merge_error)?))
}

fn put_rules(body: &[u8]) -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    match merge::install_rules(&store, body_text(body)?).map_err(merge_error)? {
        Ok(rules) => Ok(json(200, &rules)),
        Err(errors) => Ok(invalid("invalid_rule_set", "rule set", &errors)),
    }
}

fn validate_rules(body: &[u8]) -> Result<Response, ApiError> {
    match merge::validate(body_text(body)?) {
        Ok(rules) => Ok(json(200, &rules)),
        Err(errors) => Ok(invalid("invalid_rule_set", "rule set", &errors)),
    }
}

fn get_limits() -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    Ok(json(200, &merge::load_limits(&store).map_err(merge_error)?))
}

fn put_limits(body: &[u8]) -> Result<Response, ApiError> {
    let limits = merge::parse_limits(body_text(body)?)
        .map_err(|e| ApiError::new(422, "invalid_parcel_limits", e.message))?;
    let store = Bucket::open("merge")?;
    merge::install_limits(&store, &limits).map_err(merge_error)?;
    Ok(json(200, &limits))
}

fn get_pickups() -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    Ok(json(
        200,
        &handoff::load_pickups(&store).map_err(merge_error)?,
    ))
}

/// The stores' pickup points; every error with its JSON path, nothing stored then.
fn put_pickups(body: &[u8]) -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    match handoff::install_pickups(&store, body_text(body)?).map_err(merge_error)? {
        Ok(points) => Ok(json(200, &points)),
        Err(errors) => Ok(invalid("invalid_pickup_points", "pickup table", &errors)),
    }
}

fn get_pickup(store_id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    match handoff::load_pickup(&store, store_id).map_err(merge_error)? {
        Some(point) => Ok(json(200, &point)),
        None => Err(ApiError::not_found(
            "no_pickup_point",
            format!("store `{store_id}` has no pickup point"),
        )),
    }
}

/// One store's pickup point, leaving every other store's as it is; every error with
/// its JSON path, nothing stored then.
fn put_pickup(store_id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    match handoff::install_pickup(&store, store_id, body_text(body)?).map_err(merge_error)? {
        Ok(point) => Ok(json(200, &point)),
        Err(errors) => Ok(invalid("invalid_pickup_point", "pickup point", &errors)),
    }
}

fn delete_pickup(store_id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    if handoff::remove_pickup(&store, store_id).map_err(merge_error)? {
        Ok(json(
            200,
            &serde_json::json!({ "store": store_id, "removed": true }),
        ))
    } else {
        Err(ApiError::not_found(
            "no_pickup_point",
            format!("store `{store_id}` has no pickup point"),
        ))
    }
}

fn get_group(group_id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    match merge::group_view(&store, group_id).map_err(merge_error)? {
        Some(view) => Ok(json(200, &view)),
        None => Err(ApiError::not_found(
            "group_not_delivered",
            format!("no delivered group `{group_id}`"),
        )),
    }
}

/// The group an order is in: its decision, and the group once delivered.
fn get_order_group(order_id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    let id = OrderId(order_id.to_string());
    let Some(decision) = merge::decision_of(&store, &id).map_err(merge_error)? else {
        return Err(ApiError::not_found(
            "order_not_offered",
            format!("order `{order_id}` was never offered"),
        ));
    };
    let group = merge::group_view(&store, decision.outcome.group_id()).map_err(merge_error)?;
    Ok(json(
        200,
        &serde_json::json!({ "decision": decision, "group": group }),
    ))
}
